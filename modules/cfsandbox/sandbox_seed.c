/*
 * What the sandbox starts with: one user, accounts and zones (defaults
 * here, or the configuration's), and the user's seed token whose secret
 * is read from seed_token_file.  A zone name is in two accounts on
 * purpose, for clients that must not pick an account silently.
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sandbox.h"

#define SEED_USER_ID "7c5dae5552338874e5053f2534d2767a"
#define SEED_TOKEN_ID "5eed5a4db0c5e0000000000000000001"
#define SEED_TOKEN_FILE "conf/sandbox.token"

static const struct {
    const char *id;
    const char *name;
} default_accounts[] = {
    {"023e105f4ecef8ad9ca31a8372d0c353", "Sandbox Account"},
    {"01a7362d577a6c3019a474fd6f485823", "Sandbox Second Account"},
};

static const struct {
    const char *id;
    const char *name;
    size_t account;
} default_zones[] = {
    {"9a7806061c88ada191ed06f989cc3dac", "example.com", 0},
    {"eb78d65290b24279ba6f44721b3ea3c4", "example.org", 0},
    {"22b1de5f1c0e4b3ea97bb1e963b06a43", "shared.example", 0},
    {"372e67954025e0ba6aaa6d586b9e0b59", "shared.example", 1},
    {"d56084adb405e0b7e32c52321bf07be6", "second.example", 1},
};

#define NDEFAULT_ACCOUNTS (sizeof(default_accounts) / sizeof(*default_accounts))
#define NDEFAULT_ZONES (sizeof(default_zones) / sizeof(*default_zones))

static int
use_defaults(sb_ctx_t *sb, int zones_too)
{
    size_t i;

    sb->accounts = calloc(NDEFAULT_ACCOUNTS, sizeof(sb_account_t));
    if (sb->accounts == NULL) {
        return MG_ERROR;
    }

    if (zones_too) {
        sb->zones = calloc(NDEFAULT_ZONES, sizeof(sb_zone_t));
        if (sb->zones == NULL) {
            return MG_ERROR;
        }
    }

    for (i = 0; i < NDEFAULT_ACCOUNTS; i++) {
        memcpy(sb->accounts[i].id, default_accounts[i].id, SB_ID_LEN + 1);
        sb->accounts[i].name = strdup(default_accounts[i].name);
    }
    sb->naccounts = NDEFAULT_ACCOUNTS;

    for (i = 0; zones_too && i < NDEFAULT_ZONES; i++) {
        memcpy(sb->zones[i].id, default_zones[i].id, SB_ID_LEN + 1);
        sb->zones[i].name = strdup(default_zones[i].name);
        sb->zones[i].account = default_zones[i].account;
    }
    sb->nzones = zones_too ? NDEFAULT_ZONES : 0;

    return MG_OK;
}

/* An "id" of 32 lower-case hex digits and a non-empty "name". */
static int
conf_id_name(const mg_conf_t *e, const char *what, const char *const *known,
             const char **id, const char **name)
{
    if (mg_conf_only(e, known) != MG_OK) {
        return MG_ERROR;
    }

    if (mg_conf_string(e, "id", id) != MG_OK || !sb_is_hex_id(*id)) {
        mg_conf_error(e, "%s needs an \"id\" of 32 lower-case hex digits",
                      what);
        return MG_ERROR;
    }

    if (mg_conf_string(e, "name", name) != MG_OK || (*name)[0] == '\0') {
        mg_conf_error(e, "%s %s needs a \"name\"", what, *id);
        return MG_ERROR;
    }

    return MG_OK;
}

static int
conf_accounts(sb_ctx_t *sb, const mg_conf_t *list)
{
    static const char *const known[] = {"id", "name", NULL};
    const mg_conf_t *e;
    const char *id, *name;
    int i, n = mg_conf_length(list);

    if (n < 1 || n > SB_ACCOUNTS_MAX) {
        mg_conf_error(list,
                      "\"accounts\" must be a list of 1 to %d groups "
                      "( { id = \"...\"; name = \"...\"; } )",
                      SB_ACCOUNTS_MAX);
        return MG_ERROR;
    }

    sb->accounts = calloc((size_t)n, sizeof(sb_account_t));
    if (sb->accounts == NULL) {
        return MG_ERROR;
    }

    for (i = 0; i < n; i++) {
        e = mg_conf_elem(list, i);
        if (conf_id_name(e, "an account", known, &id, &name) != MG_OK) {
            return MG_ERROR;
        }

        if (sb_account_find(sb, id) != NULL) {
            mg_conf_error(e, "account %s is listed twice", id);
            return MG_ERROR;
        }

        memcpy(sb->accounts[i].id, id, SB_ID_LEN + 1);
        sb->accounts[i].name = strdup(name);
        sb->naccounts++;
    }

    return MG_OK;
}

static int
conf_zone(sb_ctx_t *sb, const mg_conf_t *e, sb_zone_t *z)
{
    static const char *const known[] = {"id", "name", "account", NULL};
    const sb_account_t *a;
    const char *id, *name, *account;
    size_t i;

    if (conf_id_name(e, "a zone", known, &id, &name) != MG_OK) {
        return MG_ERROR;
    }

    if (mg_conf_string(e, "account", &account) != MG_OK ||
        (a = sb_account_find(sb, account)) == NULL) {
        mg_conf_error(e,
                      "zone %s needs an \"account\": the id of one of the "
                      "accounts listed in \"accounts\"",
                      name);
        return MG_ERROR;
    }

    for (i = 0; i < sb->nzones; i++) {
        if (strcmp(sb->zones[i].id, id) == 0 ||
            (strcmp(sb->zones[i].name, name) == 0 &&
             sb->zones[i].account == (size_t)(a - sb->accounts))) {
            mg_conf_error(e, "zone %s (%s) is listed twice", name, id);
            return MG_ERROR;
        }
    }

    memcpy(z->id, id, SB_ID_LEN + 1);
    z->name = strdup(name);
    z->account = (size_t)(a - sb->accounts);

    return MG_OK;
}

static int
conf_zones(sb_ctx_t *sb, const mg_conf_t *list)
{
    int i, n = mg_conf_length(list);

    if (n > SB_ZONES_MAX) {
        mg_conf_error(list, "\"zones\" may list at most %d zones",
                      SB_ZONES_MAX);
        return MG_ERROR;
    }

    sb->zones = calloc((size_t)n + 1, sizeof(sb_zone_t));
    if (sb->zones == NULL) {
        return MG_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (conf_zone(sb, mg_conf_elem(list, i), &sb->zones[i]) != MG_OK) {
            return MG_ERROR;
        }
        sb->nzones++;
    }

    return MG_OK;
}

/* The first line of the file: one secret of 40 to 80 [A-Za-z0-9_-]. */
static int
read_secret(const mg_conf_t *where, const char *path, char *out)
{
    char line[256];
    size_t n;
    FILE *f;

    f = fopen(path, "r");
    if (f == NULL) {
        mg_conf_error(where,
                      "cannot read seed_token_file \"%s\": %s; it must "
                      "hold the seed token's secret on one line",
                      path, strerror(errno));
        return MG_ERROR;
    }

    if (fgets(line, sizeof(line), f) == NULL) {
        line[0] = '\0';
    }
    fclose(f);

    n = strlen(line);
    while (n > 0 && isspace((unsigned char)line[n - 1])) {
        line[--n] = '\0';
    }

    if (!sb_secret_valid(line)) {
        OPENSSL_cleanse(line, sizeof(line));
        mg_conf_error(where,
                      "seed_token_file \"%s\" must hold one secret of %d "
                      "to %d letters, digits, '_' or '-'",
                      path, SB_SECRET_MIN, SB_SECRET_MAX);
        return MG_ERROR;
    }

    memcpy(out, line, n + 1);
    OPENSSL_cleanse(line, sizeof(line));

    return MG_OK;
}

int
sb_seed_configure(sb_ctx_t *sb, const mg_conf_t *conf)
{
    const mg_conf_t *accounts = mg_conf_child(conf, "accounts");
    const mg_conf_t *zones = mg_conf_child(conf, "zones");
    const char *user = SEED_USER_ID, *file = SEED_TOKEN_FILE;

    if (mg_conf_string(conf, "user_id", &user) == MG_ERROR ||
        mg_conf_string(conf, "seed_token_file", &file) == MG_ERROR) {
        return MG_ERROR;
    }

    if (!sb_is_hex_id(user)) {
        mg_conf_error(mg_conf_child(conf, "user_id"),
                      "\"user_id\" must be 32 lower-case hex digits");
        return MG_ERROR;
    }
    memcpy(sb->user_id, user, SB_ID_LEN + 1);

    /* Default zones belong to the default accounts, so they go together. */
    if (accounts == NULL) {
        if (use_defaults(sb, zones == NULL) != MG_OK) {
            return MG_ERROR;
        }
    } else if (conf_accounts(sb, accounts) != MG_OK) {
        return MG_ERROR;
    }

    if (zones != NULL && conf_zones(sb, zones) != MG_OK) {
        return MG_ERROR;
    }

    return read_secret(mg_conf_child(conf, "seed_token_file"),
                       mg_conf_path(file), sb->seed_secret);
}

static cJSON *
policy(const char *const *groups, cJSON *resources)
{
    cJSON *p = cJSON_CreateObject(), *list, *g;
    size_t i;

    cJSON_AddStringToObject(p, "effect", "allow");
    list = cJSON_AddArrayToObject(p, "permission_groups");

    for (i = 0; groups[i]; i++) {
        g = cJSON_CreateObject();
        cJSON_AddStringToObject(g, "id", groups[i]);
        cJSON_AddItemToArray(list, g);
    }

    cJSON_AddItemToObject(p, "resources", resources);

    return p;
}

/*
 * The seed token's payload: API Tokens Write on the user, Account API
 * Tokens Write and Account Settings Read on every account, Zone Read on
 * all zones of every account.
 */
static cJSON *
seed_payload(const sb_ctx_t *sb)
{
    static const char *const user[] = {SB_PG_API_TOKENS_WRITE, NULL};
    static const char *const account[] = {SB_PG_ACCOUNT_TOKENS_WRITE,
                                          SB_PG_ACCOUNT_SETTINGS_READ, NULL};
    static const char *const zone[] = {SB_PG_ZONE_READ, NULL};
    cJSON *body = cJSON_CreateObject(), *pols, *ures, *ares, *zres, *all;
    char key[128];
    size_t i;

    cJSON_AddStringToObject(body, "name", "Sandbox seed token");
    pols = cJSON_AddArrayToObject(body, "policies");

    ures = cJSON_CreateObject();
    snprintf(key, sizeof(key), SB_RES_USER "%s", sb->user_id);
    cJSON_AddStringToObject(ures, key, "*");
    cJSON_AddItemToArray(pols, policy(user, ures));

    ares = cJSON_CreateObject();
    zres = cJSON_CreateObject();
    for (i = 0; i < sb->naccounts; i++) {
        snprintf(key, sizeof(key), SB_RES_ACCOUNT "%s", sb->accounts[i].id);
        cJSON_AddStringToObject(ares, key, "*");

        all = cJSON_CreateObject();
        cJSON_AddStringToObject(all, SB_RES_ZONE "*", "*");
        cJSON_AddItemToObject(zres, key, all);
    }

    cJSON_AddItemToArray(pols, policy(account, ares));
    cJSON_AddItemToArray(pols, policy(zone, zres));

    return body;
}

/* Empty the store and put the seed token back. */
int
sb_seed_tokens(sb_ctx_t *sb)
{
    sb_token_t *t;
    sb_err_t err;
    cJSON *body;

    sb_store_clear(sb);

    t = sb_token_new("");
    body = seed_payload(sb);
    if (t == NULL || sb_payload_apply(sb, t, body, 0, &err) != MG_OK) {
        mg_log(MG_LOG_ALERT, "cfsandbox: cannot build the seed token: %s",
               t ? err.message : "out of memory");
        cJSON_Delete(body);
        sb_token_free(t);
        return MG_ERROR;
    }
    cJSON_Delete(body);

    memcpy(t->id, SEED_TOKEN_ID, SB_ID_LEN + 1);
    memcpy(t->secret, sb->seed_secret, sizeof(t->secret));
    t->issued_on = sb->started;
    t->modified_on = sb->started;

    if (sb_store_add(sb, t) != MG_OK) {
        sb_token_free(t);
        return MG_ERROR;
    }

    return MG_OK;
}
