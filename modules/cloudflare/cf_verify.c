/*
 * The start-up check of the gateway's own Cloudflare token, run once the
 * listeners are up and never blocking anything:
 *
 *   VERIFY   GET /user/tokens/verify (or the default account's verify)
 *   LOOKUP   GET .../tokens/{id}: its policies and condition
 *   NAMES    wait for the names cache: groups, accounts, zones
 *
 * It ends with one line a person can act on: a notice when the token
 * can do its job, a warning or an error naming what is wrong.  A failure
 * never stops the gateway: the tools report the same causes per call.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_module.h"

/* A token that expires sooner than this is worth a warning. */
#define CF_EXPIRY_WARN (7 * 86400)

typedef enum {
    V_VERIFY_USER = 0,
    V_VERIFY_ACCOUNT,
    V_LOOKUP,
    V_NAMES
} cf_verify_step_e;

struct cf_verify_s {
    cf_ctx_t *cf;
    cf_verify_step_e step;
    cf_fetch_t fetch;
    int account_owned; /* verified on the default account's path */
    char id[CF_ID_LEN + 1];
    char expires_on[32];
    cJSON *token;    /* its details, when it could read them */
    cf_err_t nolook; /* why it could not */
};

static void verify_done(cf_fetch_t *f);

static void
verify_free(cf_ctx_t *cf)
{
    cf_verify_t *v = cf->verify;

    if (v == NULL) {
        return;
    }

    cf_cache_forget(&cf->cache, v);
    cf_fetch_clear(&v->fetch);
    cJSON_Delete(v->token);
    cf_err_clear(&v->nolook);
    free(v);
    cf->verify = NULL;
}

static long
detail_number(const cf_err_t *err, const char *name)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(err->details, name);

    return cJSON_IsNumber(n) ? (long)n->valuedouble : 0;
}

/* Say plainly why Cloudflare did not accept the token. */
static void
report_refused(cf_verify_t *v, const cf_err_t *err)
{
    cf_ctx_t *cf = v->cf;
    long code = detail_number(err, "cloudflare_code");
    long status = detail_number(err, "status");

    if (code == 9109) {
        mg_log(MG_LOG_ERR,
               "Cloudflare token (%s) is IP-restricted and may not be used "
               "from this gateway's address (%s); the token tools fail "
               "until its IP filter allows this address",
               cf->token_source, err->message);
    } else if (code == 6003 || code == 6111) {
        mg_log(MG_LOG_ERR,
               "Cloudflare token (%s) is malformed (%s); put the token's "
               "secret alone in it",
               cf->token_source, err->message);
    } else if (code == 1000 && v->step == V_VERIFY_USER &&
               cf->default_account[0] == '\0') {
        mg_log(MG_LOG_ERR,
               "Cloudflare token (%s) is invalid: Cloudflare did not accept "
               "it as a user token (%s); if it is an account-owned token, "
               "set default_account to its account",
               cf->token_source, err->message);
    } else if (status == 401 || status == 403) {
        mg_log(MG_LOG_ERR,
               "Cloudflare token (%s) is invalid: Cloudflare answered with "
               "an authentication error (%s): the token is unknown, "
               "disabled, expired or not yet valid; put a valid token "
               "there",
               cf->token_source, err->message);
    } else {
        mg_log(MG_LOG_ERR,
               "Cloudflare token (%s) could not be verified: %s; the token "
               "tools fail until it can",
               cf->token_source, err->message);
    }
}

static void
report_failure(cf_verify_t *v, const cf_err_t *err)
{
    cf_ctx_t *cf = v->cf;

    if (cf_error_is(err, "cloudflare_error")) {
        report_refused(v, err);
    } else if (cf_error_is(err, "rate_limited")) {
        mg_log(MG_LOG_WARN,
               "Cloudflare token (%s) could not be verified yet: %s; the "
               "tools work again once the limit resets",
               cf->token_source, err->message);
    } else {
        mg_log(MG_LOG_ERR,
               "Cloudflare token (%s) could not be verified: %s; the "
               "token tools fail until Cloudflare (%s) answers",
               cf->token_source, err->message, cf->api);
    }
}

static int
verify_send(cf_verify_t *v, cf_verify_step_e step)
{
    cf_ctx_t *cf = v->cf;
    cf_fetch_t *f = &v->fetch;

    v->step = step;
    cf_fetch_clear(f);
    cf_fetch_init(f, cf, "", verify_done, v);

    switch (step) {
    case V_VERIFY_USER:
        f->what = "verifying the gateway's token";
        snprintf(f->path, sizeof(f->path), "/user/tokens/verify");
        break;
    case V_VERIFY_ACCOUNT:
        f->what = "verifying the gateway's token";
        snprintf(f->path, sizeof(f->path), "/accounts/%s/tokens/verify",
                 cf->default_account);
        break;
    default:
        f->what = "reading the gateway's own token";
        if (v->account_owned) {
            snprintf(f->path, sizeof(f->path), "/accounts/%s/tokens/%s",
                     cf->default_account, v->id);
        } else {
            snprintf(f->path, sizeof(f->path), "/user/tokens/%s", v->id);
        }
        break;
    }

    if (cf_fetch_start(f) != MG_OK) {
        if (!cf->closing) {
            report_failure(v, &f->err);
        }
        return MG_ERROR;
    }

    return MG_OK;
}

/* ------------------------------------------------------------------ */
/* What the token may do, from its policies.                           */

static int
policy_has_group(const cJSON *policy, const char *name, const char *id)
{
    const cJSON *g, *gid, *gname;

    cJSON_ArrayForEach(
        g, cJSON_GetObjectItemCaseSensitive(policy, "permission_groups"))
    {
        gid = cJSON_GetObjectItemCaseSensitive(g, "id");
        gname = cJSON_GetObjectItemCaseSensitive(g, "name");

        if ((id && cJSON_IsString(gid) && strcmp(gid->valuestring, id) == 0) ||
            (cJSON_IsString(gname) && strcmp(gname->valuestring, name) == 0)) {
            return 1;
        }
    }

    return 0;
}

static int
is_account_key(const char *key)
{
    static const char prefix[] = "com.cloudflare.api.account.";

    return strncmp(key, prefix, sizeof(prefix) - 1) == 0 &&
           strncmp(key + sizeof(prefix) - 1, "zone.", 5) != 0;
}

/*
 * Whether an allow policy grants group `name` on user resources (user
 * != 0), or on how many accounts (-1: all of them).  A deny of the
 * same group takes the grant away.
 */
static int
grant_count(const cf_ctx_t *cf, const cJSON *token, const char *name, int user)
{
    const cJSON *group = cf_cache_group_by_name(&cf->cache, name);
    const cJSON *gid = cJSON_GetObjectItemCaseSensitive(group, "id");
    const char *id = cJSON_IsString(gid) ? gid->valuestring : NULL;
    const cJSON *p, *effect, *r;
    int n = 0, denied = 0, all = 0;

    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(token, "policies"))
    {
        if (!policy_has_group(p, name, id)) {
            continue;
        }

        effect = cJSON_GetObjectItemCaseSensitive(p, "effect");
        if (cJSON_IsString(effect) &&
            strcmp(effect->valuestring, "deny") == 0) {
            denied = 1;
            continue;
        }

        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(p, "resources"))
        {
            if (user &&
                strncmp(r->string, "com.cloudflare.api.user.", 24) == 0) {
                n++;
            } else if (!user && is_account_key(r->string)) {
                if (strcmp(r->string, "com.cloudflare.api.account.*") == 0) {
                    all = 1;
                }
                n++;
            }
        }
    }

    if (denied) {
        return 0;
    }

    return all ? -1 : n;
}

static int
has_condition(const cJSON *token)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(token, "condition");

    return cJSON_IsObject(c) && c->child != NULL;
}

/* "user tokens and the account tokens of 2 accounts", or "". */
static void
describe_reach(cf_verify_t *v, char *buf, size_t size)
{
    cf_ctx_t *cf = v->cf;
    int user, accounts;
    const cJSON *all = cf_cache_items(&cf->cache, CF_CACHE_ACCOUNTS);
    char acc[64];

    user = grant_count(cf, v->token, CF_PG_TOKENS_WRITE, 1) != 0;
    accounts = grant_count(cf, v->token, CF_PG_ACCOUNT_TOKENS_WRITE, 0);
    if (accounts < 0) {
        accounts = all ? cJSON_GetArraySize(all) : 1;
    }

    snprintf(acc, sizeof(acc), "the account tokens of %d account%s", accounts,
             accounts == 1 ? "" : "s");

    snprintf(buf, size, "%s%s%s", user ? "user tokens" : "",
             user && accounts ? " and " : "", accounts ? acc : "");
}

/* "2 accounts", "more than 10000 zones" (a listing cut short), "no ..." */
static void
count_words(char *buf, size_t size, const cJSON *items, int complete,
            const char *noun)
{
    int n = cJSON_GetArraySize(items);

    if (items == NULL) {
        snprintf(buf, size, "no %ss", noun);
    } else {
        snprintf(buf, size, "%s%d %s%s", complete ? "" : "more than ", n, noun,
                 n == 1 ? "" : "s");
    }
}

/* "reads 2 accounts and 3 zones", with whatever could not be read. */
static void
describe_names(cf_ctx_t *cf, char *buf, size_t size)
{
    const cJSON *accounts = cf_cache_items(&cf->cache, CF_CACHE_ACCOUNTS);
    const cJSON *zones = cf_cache_items(&cf->cache, CF_CACHE_ZONES);
    char a[48], z[48];

    count_words(a, sizeof(a), accounts,
                cf_cache_complete(&cf->cache, CF_CACHE_ACCOUNTS), "account");
    count_words(z, sizeof(z), zones,
                cf_cache_complete(&cf->cache, CF_CACHE_ZONES), "zone");

    snprintf(buf, size, "reads %s and %s", a, z);
}

/* One warning per part of the names cache the token cannot read. */
static void
report_names(cf_ctx_t *cf)
{
    const cf_part_t *p;
    static const char *const need[CF_CACHE_NPARTS] = {
        "API Tokens Read or Write",
        "account read access (e.g. Account Settings Read)",
        "zone read access (e.g. Zone Read)",
    };
    int i;

    for (i = 0; i < CF_CACHE_NPARTS; i++) {
        p = &cf->cache.parts[i];

        if (p->items == NULL) {
            mg_log(MG_LOG_WARN,
                   "Cloudflare token (%s) cannot list %s (%s): it lacks %s",
                   cf->token_source,
                   i == 0   ? "permission groups"
                   : i == 1 ? "accounts"
                            : "zones",
                   p->failed.message, need[i]);
        } else if (i > 0 && cJSON_GetArraySize(p->items) == 0) {
            mg_log(MG_LOG_WARN,
                   "Cloudflare token (%s) reads no %s: it lacks %s",
                   cf->token_source, i == 1 ? "accounts" : "zones", need[i]);
        }
    }
}

static void
report_expiry(cf_verify_t *v)
{
    char buf[32];
    struct tm tm;
    time_t t;

    if (v->expires_on[0] == '\0' ||
        cf_time_normalize(v->expires_on, buf, sizeof(buf)) != MG_OK) {
        return;
    }

    memset(&tm, 0, sizeof(tm));
    if (strptime(buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL) {
        return;
    }

    t = timegm(&tm);
    if (t - time(NULL) < CF_EXPIRY_WARN) {
        mg_log(MG_LOG_WARN,
               "Cloudflare token (%s) expires on %s; roll or replace it "
               "before then",
               v->cf->token_source, buf);
    }
}

/* The last step: one line on what the token can do, warnings for gaps. */
static void
report(cf_verify_t *v)
{
    cf_ctx_t *cf = v->cf;
    char reach[160], names[128];

    report_names(cf);
    report_expiry(v);
    describe_names(cf, names, sizeof(names));

    if (v->token == NULL) {
        mg_log(MG_LOG_WARN,
               "Cloudflare token verified: active, but it cannot read its "
               "own policies (%s): it lacks API Tokens Read or Write, so it "
               "cannot manage user tokens; %s",
               v->nolook.message, names);
        return;
    }

    if (has_condition(v->token)) {
        mg_log(MG_LOG_WARN,
               "Cloudflare token (%s) is IP-restricted (condition "
               "request_ip): calls from addresses it does not allow are "
               "refused",
               cf->token_source);
    }

    describe_reach(v, reach, sizeof(reach));

    if (reach[0] == '\0') {
        mg_log(MG_LOG_WARN,
               "Cloudflare token verified: active, but it lacks API Tokens "
               "Write (user tokens) and Account API Tokens Write (account "
               "tokens), so it cannot manage tokens; %s",
               names);
        return;
    }

    mg_log(MG_LOG_NOTICE,
           "Cloudflare token verified: active, can manage %s, %s (token id "
           "%s)",
           reach, names, v->id);
}

static void
names_ready(void *arg, const cf_err_t *err)
{
    cf_verify_t *v = arg;
    cf_ctx_t *cf = v->cf;

    if (!cf->closing) {
        report(v);
    }

    verify_free(cf);
}

/* The first loads report on their own; a failed one is not repeated. */
static void
wait_names(cf_verify_t *v)
{
    v->step = V_NAMES;

    if (cf_cache_settle(&v->cf->cache, CF_CACHE_ALL, names_ready, v) == MG_OK) {
        names_ready(v, NULL);
    }
}

/* ------------------------------------------------------------------ */
/* The steps.                                                          */

static int
verified(cf_verify_t *v, const cJSON *res)
{
    cf_ctx_t *cf = v->cf;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(res, "id");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(res, "status");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(res, "expires_on");

    if (!cJSON_IsString(id) || !cf_is_id(id->valuestring) ||
        !cJSON_IsString(status)) {
        mg_log(MG_LOG_ERR,
               "Cloudflare answered the check of its token (%s) without a "
               "token id and status; the token tools may not work",
               cf->token_source);
        return MG_ERROR;
    }

    snprintf(v->id, sizeof(v->id), "%s", id->valuestring);
    snprintf(v->cf->own_id, sizeof(v->cf->own_id), "%s", v->id);
    if (cJSON_IsString(exp)) {
        snprintf(v->expires_on, sizeof(v->expires_on), "%s", exp->valuestring);
    }

    if (strcmp(status->valuestring, "active") != 0) {
        mg_log(MG_LOG_ERR,
               "Cloudflare token (%s, id %s) is %.20s%s%s; enable or "
               "replace it: the token tools fail until then",
               cf->token_source, v->id, status->valuestring,
               v->expires_on[0] ? ", expires_on " : "", v->expires_on);
        return MG_ERROR;
    }

    return MG_OK;
}

static void
verify_done(cf_fetch_t *f)
{
    cf_verify_t *v = f->arg;
    cf_ctx_t *cf = v->cf;

    if (cf->closing) {
        verify_free(cf);
        return;
    }

    if (v->step == V_LOOKUP) {
        if (f->ok && cJSON_IsObject(f->result)) {
            v->token = f->result;
            f->result = NULL;
        } else {
            cf_error_copy(&v->nolook, &f->err);
        }
        cf_fetch_clear(f);
        wait_names(v);
        return;
    }

    if (!f->ok) {
        /* A user token on an account's verify: try the user's. */
        if (v->step == V_VERIFY_ACCOUNT &&
            detail_number(&f->err, "cloudflare_code") == 1000) {
            cf_fetch_clear(f);
            if (verify_send(v, V_VERIFY_USER) != MG_OK) {
                verify_free(cf);
            }
            return;
        }

        report_failure(v, &f->err);
        verify_free(cf);
        return;
    }

    v->account_owned = v->step == V_VERIFY_ACCOUNT;

    if (verified(v, f->result) != MG_OK || verify_send(v, V_LOOKUP) != MG_OK) {
        verify_free(cf);
    }
}

int
cf_verify_start(cf_ctx_t *cf)
{
    cf_verify_t *v;

    v = calloc(1, sizeof(cf_verify_t));
    if (v == NULL) {
        return MG_ERROR;
    }

    v->cf = cf;
    cf->verify = v;

    if (verify_send(v, cf->default_account[0] ? V_VERIFY_ACCOUNT
                                              : V_VERIFY_USER) != MG_OK) {
        verify_free(cf);
        return MG_ERROR;
    }

    return MG_OK;
}

void
cf_verify_stop(cf_ctx_t *cf)
{
    verify_free(cf);
}
