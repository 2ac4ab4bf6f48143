/*
 * The token store: every token of the user and of each account, kept in
 * creation order in memory for the life of the process.  The quotas
 * bound its size.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sandbox.h"

sb_token_t *
sb_token_new(const char *owner)
{
    sb_token_t *t;

    t = calloc(1, sizeof(sb_token_t));
    if (t == NULL) {
        return NULL;
    }

    if (sb_random_hex_id(t->id) != MG_OK) {
        free(t);
        return NULL;
    }

    snprintf(t->owner, sizeof(t->owner), "%s", owner ? owner : "");

    return t;
}

void
sb_token_free(sb_token_t *t)
{
    if (t == NULL) {
        return;
    }

    /* The secret is wiped so that freed memory does not keep it. */
    OPENSSL_cleanse(t->secret, sizeof(t->secret));

    cJSON_Delete(t->policies);
    cJSON_Delete(t->condition);
    free(t->name);
    free(t);
}

int
sb_store_add(sb_ctx_t *sb, sb_token_t *t)
{
    sb_token_t **p;
    size_t cap;

    if (sb->ntokens == sb->tokens_cap) {
        cap = sb->tokens_cap ? sb->tokens_cap * 2 : 64;
        p = realloc(sb->tokens, cap * sizeof(sb_token_t *));
        if (p == NULL) {
            return MG_ERROR;
        }
        sb->tokens = p;
        sb->tokens_cap = cap;
    }

    sb->tokens[sb->ntokens++] = t;

    return MG_OK;
}

/* Take t out of the store and free it. */
void
sb_store_remove(sb_ctx_t *sb, sb_token_t *t)
{
    size_t i;

    for (i = 0; i < sb->ntokens; i++) {
        if (sb->tokens[i] == t) {
            memmove(&sb->tokens[i], &sb->tokens[i + 1],
                    (sb->ntokens - i - 1) * sizeof(sb_token_t *));
            sb->ntokens--;
            break;
        }
    }

    sb_token_free(t);
}

void
sb_store_clear(sb_ctx_t *sb)
{
    size_t i;

    for (i = 0; i < sb->ntokens; i++) {
        sb_token_free(sb->tokens[i]);
    }

    free(sb->tokens);
    sb->tokens = NULL;
    sb->ntokens = 0;
    sb->tokens_cap = 0;
}

sb_token_t *
sb_store_find(sb_ctx_t *sb, const char *owner, const char *id)
{
    size_t i;

    for (i = 0; i < sb->ntokens; i++) {
        if (strcmp(sb->tokens[i]->id, id) == 0 &&
            strcmp(sb->tokens[i]->owner, owner) == 0) {
            return sb->tokens[i];
        }
    }

    return NULL;
}

/* Secrets compare in constant time, as a real verifier's would. */
sb_token_t *
sb_store_find_secret(sb_ctx_t *sb, const char *secret)
{
    size_t i, n = strlen(secret);
    sb_token_t *t;

    for (i = 0; i < sb->ntokens; i++) {
        t = sb->tokens[i];
        if (strlen(t->secret) == n &&
            CRYPTO_memcmp(t->secret, secret, n) == 0) {
            return t;
        }
    }

    return NULL;
}

int
sb_store_secret_taken(sb_ctx_t *sb, const char *secret)
{
    return sb_store_find_secret(sb, secret) != NULL;
}

size_t
sb_store_count(sb_ctx_t *sb, const char *owner)
{
    size_t i, n = 0;

    for (i = 0; i < sb->ntokens; i++) {
        if (strcmp(sb->tokens[i]->owner, owner) == 0) {
            n++;
        }
    }

    return n;
}

int
sb_store_quota(sb_ctx_t *sb, const char *owner, sb_err_t *err)
{
    size_t n = sb_store_count(sb, owner);

    if (owner[0] == '\0' && n >= SB_USER_QUOTA) {
        return sb_fail(err, 400, 1001,
                       "User API token quota reached: a user can have at "
                       "most %d API tokens. Delete a token you no longer "
                       "need and try again.",
                       SB_USER_QUOTA);
    }

    if (owner[0] != '\0' && n >= SB_ACCOUNT_QUOTA) {
        return sb_fail(err, 400, 1001,
                       "Account API token quota reached: account %s can "
                       "have at most %d API tokens. Delete a token it no "
                       "longer needs and try again.",
                       owner, SB_ACCOUNT_QUOTA);
    }

    return MG_OK;
}

const char *
sb_token_status(const sb_token_t *t, time_t now)
{
    if (t->disabled == 1) {
        return "disabled";
    }

    if (t->disabled == 2 || (t->expires_on && now >= t->expires_on)) {
        return "expired";
    }

    return "active";
}

static void
add_time(cJSON *o, const char *name, time_t t)
{
    char buf[32];

    sb_time_format(t, buf, sizeof(buf));
    cJSON_AddStringToObject(o, name, buf);
}

/* The token as Cloudflare shows it; the secret only right after create. */
cJSON *
sb_token_json(const sb_token_t *t, time_t now, int with_value)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "id", t->id);
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "status", sb_token_status(t, now));
    add_time(o, "issued_on", t->issued_on);
    add_time(o, "modified_on", t->modified_on);

    if (t->last_used_on) {
        add_time(o, "last_used_on", t->last_used_on);
    }

    if (t->not_before) {
        add_time(o, "not_before", t->not_before);
    }

    if (t->expires_on) {
        add_time(o, "expires_on", t->expires_on);
    }

    cJSON_AddItemToObject(o, "policies", cJSON_Duplicate(t->policies, 1));
    cJSON_AddItemToObject(o, "condition",
                          t->condition ? cJSON_Duplicate(t->condition, 1)
                                       : cJSON_CreateObject());

    if (with_value) {
        cJSON_AddStringToObject(o, "value", t->secret);
    }

    return o;
}

/* A new secret in the owner's format; the old one stops working. */
int
sb_token_roll(sb_ctx_t *sb, sb_token_t *t)
{
    char secret[SB_SECRET_MAX + 1];
    int tries;

    for (tries = 0; tries < 8; tries++) {
        if (sb_random_secret(secret, t->owner[0] ? "cfat_" : "cfut_") !=
            MG_OK) {
            return MG_ERROR;
        }

        if (!sb_store_secret_taken(sb, secret)) {
            memcpy(t->secret, secret, sizeof(secret));
            OPENSSL_cleanse(secret, sizeof(secret));
            return MG_OK;
        }
    }

    OPENSSL_cleanse(secret, sizeof(secret));

    return MG_ERROR;
}

const sb_account_t *
sb_account_find(const sb_ctx_t *sb, const char *id)
{
    size_t i;

    for (i = 0; i < sb->naccounts; i++) {
        if (strcmp(sb->accounts[i].id, id) == 0) {
            return &sb->accounts[i];
        }
    }

    return NULL;
}

const sb_zone_t *
sb_zone_find(const sb_ctx_t *sb, const char *id)
{
    size_t i;

    for (i = 0; i < sb->nzones; i++) {
        if (strcmp(sb->zones[i].id, id) == 0) {
            return &sb->zones[i];
        }
    }

    return NULL;
}
