/*
 * Who is calling: the bearer secret picks the token, which must be
 * active, inside its validity window, used from an allowed address and
 * within its rate limit.  Failures answer as Cloudflare does.  Neither
 * the secret nor the Authorization header is ever logged.
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sandbox.h"

static const char *const user_read[] = {
    SB_PG_API_TOKENS_READ,
    SB_PG_API_TOKENS_WRITE,
    NULL,
};

static const char *const user_write[] = {
    SB_PG_API_TOKENS_WRITE,
    NULL,
};

static const char *const account_read[] = {
    SB_PG_ACCOUNT_TOKENS_READ,
    SB_PG_ACCOUNT_TOKENS_WRITE,
    NULL,
};

static const char *const account_write[] = {
    SB_PG_ACCOUNT_TOKENS_WRITE,
    NULL,
};

/* 400 "Invalid request headers" with the header at fault in a chain. */
static int
header_error(sb_req_t *q, int code, const char *message)
{
    cJSON *env, *e, *chain, *c;

    env = sb_error_envelope(6003, "Invalid request headers");
    e = cJSON_GetArrayItem(cJSON_GetObjectItem(env, "errors"), 0);

    c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "code", code);
    cJSON_AddStringToObject(c, "message", message);
    chain = cJSON_CreateArray();
    cJSON_AddItemToArray(chain, c);
    cJSON_AddItemToObject(e, "error_chain", chain);

    mg_log(MG_LOG_INFO, "cfsandbox: %s %s: 400, code 6003/%d", q->method,
           q->path, code);

    sb_reply(q->r, 400, NULL, env);

    return MG_ERROR;
}

static int
auth_error(sb_req_t *q)
{
    sb_reply_fail(q, 403, 10000, "Authentication error");

    return MG_ERROR;
}

/* The secret of "Bearer <secret>", or NULL when the value is malformed. */
static const char *
bearer(const char *value)
{
    const char *s;

    if (strncasecmp(value, "Bearer ", 7) != 0) {
        return NULL;
    }

    s = value + 7;
    while (*s == ' ') {
        s++;
    }

    return sb_secret_valid(s) ? s : NULL;
}

static void
http_date(time_t t, char *buf, size_t size)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/*
 * Cloudflare's limit per token and window, with both the older
 * x-ratelimit-* headers and the current Ratelimit ones.
 */
static int
rate_limit(sb_req_t *q, sb_token_t *t, time_t now)
{
    long limit = q->sb->rate_limit, left;
    time_t reset;
    char date[40];
    size_t n;

    if (limit <= 0) {
        return MG_OK;
    }

    if (now - t->rl_window >= SB_RATE_WINDOW) {
        t->rl_window = now;
        t->rl_count = 0;
    }

    t->rl_count++;
    reset = t->rl_window + SB_RATE_WINDOW;
    left = t->rl_count > limit ? 0 : limit - t->rl_count;
    http_date(reset, date, sizeof(date));

    n = (size_t)snprintf(q->headers, sizeof(q->headers),
                         "x-ratelimit-limit: %ld\r\n"
                         "x-ratelimit-remaining: %ld\r\n"
                         "x-ratelimit-reset: %s\r\n"
                         "Ratelimit: \"default\";r=%ld;t=%ld\r\n"
                         "Ratelimit-Policy: \"default\";q=%ld;w=%d\r\n",
                         limit, left, date, left, (long)(reset - now), limit,
                         SB_RATE_WINDOW);

    if (t->rl_count <= limit) {
        return MG_OK;
    }

    if (n < sizeof(q->headers)) {
        snprintf(q->headers + n, sizeof(q->headers) - n, "retry-after: %ld\r\n",
                 (long)(reset - now));
    }

    sb_reply_fail(q, 429, 971,
                  "More than %ld requests per %d seconds reached. Please "
                  "wait and consider throttling your request speed",
                  limit, SB_RATE_WINDOW);

    return MG_ERROR;
}

/* Sets q->caller, or answers and returns MG_ERROR. */
int
sb_authenticate(sb_req_t *q)
{
    mg_http_request_t *r = q->r;
    const char *secret;
    sb_token_t *t;
    time_t now;
    size_t n;

    n = mg_http_header_count(r, "authorization");
    if (n == 0) {
        if (mg_http_header(r, "x-auth-key") ||
            mg_http_header(r, "x-auth-email")) {
            return header_error(q, 6103,
                                "Invalid format for X-Auth-Key header");
        }
        return auth_error(q);
    }

    secret = n == 1 ? bearer(mg_http_header(r, "authorization")) : NULL;
    if (secret == NULL) {
        return header_error(q, 6111, "Invalid format for Authorization header");
    }

    now = time(NULL);
    t = sb_store_find_secret(q->sb, secret);
    if (t == NULL || strcmp(sb_token_status(t, now), "active") != 0 ||
        (t->not_before && now < t->not_before)) {
        return auth_error(q);
    }

    if (!sb_condition_allows(t, mg_http_peer(r))) {
        sb_reply_fail(q, 403, 9109,
                      "Cannot use the access token from location: %s",
                      mg_http_peer(r));
        return MG_ERROR;
    }

    t->last_used_on = now;

    if (rate_limit(q, t, now) != MG_OK) {
        return MG_ERROR;
    }

    q->caller = t;

    return MG_OK;
}

/* Managing the tokens of the user (owner "") or of an account. */
int
sb_require_tokens(sb_req_t *q, const char *owner, int write)
{
    sb_target_t tg = {SB_SCOPE_USER, NULL, NULL};
    const char *const *groups = write ? user_write : user_read;

    if (owner[0]) {
        tg.scope = SB_SCOPE_ACCOUNT;
        tg.account_id = owner;
        groups = write ? account_write : account_read;
    }

    if (sb_allowed(q->sb, q->caller, groups, &tg)) {
        return MG_OK;
    }

    return auth_error(q);
}
