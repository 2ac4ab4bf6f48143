/*
 * mod_cfsandbox: a stateful stand-in for Cloudflare's API token
 * endpoints, served on the gateway's own event loop.  Shared types of
 * the module's files; nothing here is visible outside the module.
 */

#ifndef SANDBOX_H
#define SANDBOX_H

#include <stddef.h>
#include <time.h>

#include <mcpgw/mcpgw.h>
#include <mcpgw/http.h>

#define SB_ID_LEN 32
#define SB_SECRET_MIN 40
#define SB_SECRET_MAX 80
#define SB_NAME_MAX 120

/* Cloudflare's published quotas. */
#define SB_USER_QUOTA 50
#define SB_ACCOUNT_QUOTA 500

/* Ceilings on what the configuration may seed. */
#define SB_ACCOUNTS_MAX 64
#define SB_ZONES_MAX 1024
#define SB_FAULTS_MAX 64

/* Requests a latency fault may hold at once; more are not delayed. */
#define SB_PENDING_MAX 256

/* Ceilings on one token's payload, so a request cannot grow the store. */
#define SB_POLICIES_MAX 50
#define SB_GROUPS_MAX 100
#define SB_RESOURCES_MAX 500
#define SB_CIDRS_MAX 100

/* Cloudflare's rate-limit window. */
#define SB_RATE_WINDOW 300

#define SB_API_PREFIX "/client/v4"
#define SB_CONTROL_PREFIX "/__sandbox/"

#define SB_RES_USER "com.cloudflare.api.user."
#define SB_RES_ACCOUNT "com.cloudflare.api.account."
#define SB_RES_ZONE "com.cloudflare.api.account.zone."
#define SB_RES_R2 "com.cloudflare.edge.r2.bucket."

typedef enum {
    SB_SCOPE_NONE = 0,
    SB_SCOPE_USER,
    SB_SCOPE_ACCOUNT,
    SB_SCOPE_ZONE,
    SB_SCOPE_R2
} sb_scope_e;

typedef struct {
    const char *id;
    const char *name;
    sb_scope_e scope;
} sb_group_t;

typedef struct {
    char id[SB_ID_LEN + 1];
    char *name;
} sb_account_t;

typedef struct {
    char id[SB_ID_LEN + 1];
    char *name;
    size_t account; /* index into the accounts */
} sb_zone_t;

typedef struct sb_token_s {
    char id[SB_ID_LEN + 1];
    char owner[SB_ID_LEN + 1]; /* the account; "" for a user token */
    char secret[SB_SECRET_MAX + 1];
    char *name;
    int disabled; /* the status stored: 0 active, 1 disabled, 2 expired */
    time_t issued_on;
    time_t modified_on;
    time_t last_used_on; /* 0: never */
    time_t not_before;   /* 0: none */
    time_t expires_on;   /* 0: none */
    cJSON *policies;     /* as answered, with ids and group names */
    cJSON *condition;    /* {"request_ip": {...}} or NULL */

    time_t rl_window; /* start of the current rate-limit window */
    long rl_count;
} sb_token_t;

typedef enum {
    SB_FAULT_NONE = 0,
    SB_FAULT_LATENCY,
    SB_FAULT_STATUS,
    SB_FAULT_RATELIMIT,
    SB_FAULT_MALFORMED,
    SB_FAULT_EMPTY,
    SB_FAULT_RESET
} sb_fault_mode_e;

typedef struct {
    char route[160]; /* "METHOD /path/pattern" or "*" */
    sb_fault_mode_e mode;
    unsigned latency_ms;
    int status;
    int retry_after;
    long count; /* requests left; -1: unlimited */
} sb_fault_t;

typedef struct sb_pending_s sb_pending_t;

typedef struct {
    char *listen;
    char user_id[SB_ID_LEN + 1];
    char seed_secret[SB_SECRET_MAX + 1];
    long rate_limit; /* per token per window; 0: off */
    time_t started;

    sb_account_t *accounts;
    size_t naccounts;
    sb_zone_t *zones;
    size_t nzones;

    sb_fault_t conf_faults[SB_FAULTS_MAX];
    size_t nconf_faults;
    sb_fault_t faults[SB_FAULTS_MAX];
    size_t nfaults;

    sb_token_t **tokens; /* in creation order */
    size_t ntokens;
    size_t tokens_cap;

    sb_pending_t *pending; /* requests held back by a latency fault */
    size_t npending;
    mg_http_listener_t *listener;
} sb_ctx_t;

/* A failure to answer with: HTTP status, Cloudflare code, message. */
typedef struct {
    int status;
    int code;
    char message[512];
} sb_err_t;

/* One API request while it is handled. */
typedef struct {
    sb_ctx_t *sb;
    mg_http_request_t *r;
    const char *method;
    char path[512]; /* below /client/v4, without a trailing slash */
    char *seg[8];
    size_t nseg;
    char segbuf[512];
    sb_token_t *caller;
    char headers[512]; /* extra response header lines */
} sb_req_t;

/* Everything a permission check may be about. */
typedef struct {
    sb_scope_e scope;
    const char *account_id; /* account scope, or the zone's account */
    const char *zone_id;    /* zone scope */
} sb_target_t;

/* sandbox_groups.c */
extern const sb_group_t sb_groups[];
extern const size_t sb_ngroups;
const sb_group_t *sb_group_find(const char *id);
const char *sb_scope_name(sb_scope_e scope);

#define SB_PG_API_TOKENS_READ "0cc3a61731504c89b99ec1be78b77aa0"
#define SB_PG_API_TOKENS_WRITE "686d18d5ac6c441c867cbf6771e58a0a"
#define SB_PG_ACCOUNT_TOKENS_READ "eb56a6953c034b9d97dd838155666f06"
#define SB_PG_ACCOUNT_TOKENS_WRITE "5bc3f8b21c554832afc660159ab75fa4"
#define SB_PG_ACCOUNT_SETTINGS_READ "c1fde68c7bcc44588cbb6ddbc16d6480"
#define SB_PG_ZONE_READ "c8fed203ed3043cba015a93ad1616f1f"

/* sandbox_util.c */
int sb_fail(sb_err_t *err, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int sb_is_hex_id(const char *s);
int sb_secret_valid(const char *s);
int sb_random_hex_id(char *dst);
int sb_random_secret(char *dst, const char *prefix);
void sb_time_format(time_t t, char *buf, size_t size);
int sb_time_parse(const char *s, time_t *out);
int sb_cidr_valid(const char *s);
int sb_cidr_match(const char *cidr, const char *addr);
size_t sb_utf8_length(const char *s);
int sb_query_get(const char *query, const char *key, char *buf, size_t size);
int sb_name_match(const char *filter, const char *name);

/* sandbox_store.c */
sb_token_t *sb_token_new(const char *owner);
void sb_token_free(sb_token_t *t);
int sb_store_add(sb_ctx_t *sb, sb_token_t *t);
void sb_store_remove(sb_ctx_t *sb, sb_token_t *t);
void sb_store_clear(sb_ctx_t *sb);
sb_token_t *sb_store_find(sb_ctx_t *sb, const char *owner, const char *id);
sb_token_t *sb_store_find_secret(sb_ctx_t *sb, const char *secret);
int sb_store_secret_taken(sb_ctx_t *sb, const char *secret);
size_t sb_store_count(sb_ctx_t *sb, const char *owner);
int sb_store_quota(sb_ctx_t *sb, const char *owner, sb_err_t *err);
const char *sb_token_status(const sb_token_t *t, time_t now);
cJSON *sb_token_json(const sb_token_t *t, time_t now, int with_value);
int sb_token_roll(sb_ctx_t *sb, sb_token_t *t);
const sb_account_t *sb_account_find(const sb_ctx_t *sb, const char *id);
const sb_zone_t *sb_zone_find(const sb_ctx_t *sb, const char *id);

/* sandbox_policy.c */
int sb_payload_apply(sb_ctx_t *sb, sb_token_t *t, const cJSON *body,
                     int with_status, sb_err_t *err);
int sb_allowed(const sb_ctx_t *sb, const sb_token_t *t,
               const char *const *groups, const sb_target_t *target);
int sb_allowed_any(const sb_ctx_t *sb, const sb_token_t *t, sb_scope_e scope,
                   const sb_target_t *target);
int sb_condition_allows(const sb_token_t *t, const char *peer);

/* sandbox_seed.c */
int sb_seed_configure(sb_ctx_t *sb, const mg_conf_t *conf);
int sb_seed_tokens(sb_ctx_t *sb);

/* sandbox_http.c */
void sb_reply(mg_http_request_t *r, int status, const char *headers,
              cJSON *envelope);
void sb_reply_result(sb_req_t *q, cJSON *result, cJSON *result_info,
                     cJSON *messages);
void sb_reply_error(sb_req_t *q, const sb_err_t *err);
void sb_reply_fail(sb_req_t *q, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
cJSON *sb_envelope(int success, cJSON *result);
cJSON *sb_error_envelope(int code, const char *message);
int sb_read_json(sb_req_t *q, int required, cJSON **out);

/* sandbox_auth.c */
int sb_authenticate(sb_req_t *q);
int sb_require_tokens(sb_req_t *q, const char *owner, int write);

/* sandbox_api.c */
void sb_api_handle(sb_ctx_t *sb, mg_http_request_t *r);
int sb_paging(sb_req_t *q, long *page, long *per_page, int *desc);
cJSON *sb_result_info(long page, long per_page, size_t count, size_t total);

/* sandbox_tokens.c */
void sb_tokens_route(sb_req_t *q, const char *owner, size_t first);

/* sandbox_faults.c */
int sb_fault_from_conf(const mg_conf_t *c, sb_fault_t *f);
int sb_fault_from_json(const cJSON *j, sb_fault_t *f, sb_err_t *err);
cJSON *sb_fault_json(const sb_fault_t *f);
int sb_fault_set(sb_ctx_t *sb, const sb_fault_t *f, sb_err_t *err);
size_t sb_fault_clear(sb_ctx_t *sb, const char *route);
int sb_fault_intercept(sb_ctx_t *sb, mg_http_request_t *r);
void sb_pending_drop_all(sb_ctx_t *sb);

/* sandbox_control.c */
void sb_control_handle(sb_ctx_t *sb, mg_http_request_t *r);
int sb_reset(sb_ctx_t *sb);

#endif /* SANDBOX_H */
