/*
 * mod_cloudflare: the API-token tools on Cloudflare's API.  Types and
 * functions shared by the module's files; nothing here is visible
 * outside the module.
 *
 *   cf_module.c      descriptor, configuration, start and stop
 *   cf_verify.c      the start-up check of the gateway's own token
 *   cf_fetch.c       GET requests to Cloudflare, page by page
 *   cf_cache.c       permission groups, accounts and zones by name
 *   cf_tools_read.c  the read-only tools
 *   cf_schema.c      the tools' JSON schemas
 *   cf_json.c        pure helpers: arguments, errors, paging, tokens
 *   cf_parse.c       pure helpers: times, groups, resources (write tools)
 */

#ifndef CF_MODULE_H
#define CF_MODULE_H

#include <stddef.h>
#include <time.h>

#include <mcpgw/mcpgw.h>
#include <mcpgw/upstream.h>

#include "cf_parse.h"

#define CF_ID_LEN 32

/* Defaults of the configuration block. */
#define CF_DEFAULT_API "https://api.cloudflare.com/client/v4"
#define CF_DEFAULT_CACHE_TTL 300 /* seconds */
#define CF_DEFAULT_MAX_PAGES 200

/* A token secret longer than this is refused before anything is sent. */
#define CF_SECRET_MAX 256

/* Cloudflare's page size limits for token, account and zone lists. */
/* Freed ops kept for reuse: an op is too big for malloc's fast paths. */
#define CF_OPS_SPARE 4

#define CF_PER_PAGE_MIN 5
#define CF_PER_PAGE_MAX 50
#define CF_PER_PAGE_DEFAULT 20

/* Well-known permission group names the start-up check looks for. */
#define CF_PG_TOKENS_WRITE "API Tokens Write"
#define CF_PG_ACCOUNT_TOKENS_WRITE "Account API Tokens Write"

typedef struct cf_ctx_s cf_ctx_t;
typedef struct cf_fetch_s cf_fetch_t;

typedef void (*cf_fetch_done_pt)(cf_fetch_t *f);

/*
 * One GET to Cloudflare, or a walk through the pages of a collection.
 * The owner fills in the request part, calls cf_fetch_start, and reads
 * the outcome in its done callback; cf_fetch_clear frees the outcome.
 */
struct cf_fetch_s {
    cf_ctx_t *cf;

    /* The request. */
    char path[512];     /* below the API base, no page parameters */
    const char *bearer; /* NULL: the gateway's own token */
    const char *what;   /* "listing user tokens": for messages */
    int paged;          /* a collection: ask with page and per_page */
    int all_pages;      /* follow result_info to the last page */
    int page;           /* the first page to ask for */
    int per_page;
    int max_pages; /* 0: the configured max_pages */
    cf_fetch_done_pt done;
    void *arg;

    /* The outcome. */
    int ok;
    cJSON *result;      /* the result; for paged fetches every item */
    cJSON *result_info; /* that of the last page read */
    int pages;          /* pages read */
    int next_page;      /* 0: none left, -1: unknown, else the next one */
    int cut;            /* stopped at max_pages with pages left */
    cf_err_t err;

    /* While in flight. */
    int page_now;
    mg_upstream_req_t *req;
    cf_fetch_t *prev;
    cf_fetch_t *next;
};

/* Parts of the names cache. */
#define CF_CACHE_GROUPS 0x01
#define CF_CACHE_ACCOUNTS 0x02
#define CF_CACHE_ZONES 0x04
#define CF_CACHE_ALL 0x07
#define CF_CACHE_NPARTS 3

typedef void (*cf_cache_ready_pt)(void *arg, const cf_err_t *err);

typedef struct cf_waiter_s cf_waiter_t;

typedef struct {
    unsigned bit;
    const char *what;
    cJSON *items;    /* what the last good load found; NULL before */
    int complete;    /* every page was read */
    time_t loaded;   /* when items were loaded */
    int loading;     /* a load is in flight */
    int fallback;    /* the load is the default account's fallback */
    cf_err_t failed; /* the last load's failure; code NULL when none */
    cf_fetch_t fetch;
} cf_part_t;

typedef struct {
    cf_ctx_t *cf;
    cf_part_t parts[CF_CACHE_NPARTS];
    cf_waiter_t *waiters;
    mg_timer_t *refresh;
} cf_cache_t;

typedef struct cf_verify_s cf_verify_t;

struct cf_ctx_s {
    /* Configuration. */
    char *api;
    char *token_source; /* "token_file \"...\"" or "token_env ...": logs */
    char *secret;
    char *ca_file;
    char default_account[CF_ID_LEN + 1];
    long connect_timeout;
    long timeout;
    long cache_ttl;
    int max_pages;
    int secret_shared;          /* token_file readable by group or others */
    char own_id[CF_ID_LEN + 1]; /* the gateway token's id, once verified */

    /* Running state. */
    mg_upstream_t *up;
    mg_timer_t *start_timer;
    cf_fetch_t *fetches; /* in flight */
    cf_cache_t cache;
    cf_verify_t *verify;
    struct cf_op_s *ops;   /* tool calls in progress */
    struct cf_op_s *spare; /* freed ops kept for the next calls */
    int nspare;
    int closing;
};

/* cf_module.c */
extern mg_module_t mg_module;

/* cf_json.c: helpers that hold no state (unit-tested on their own). */
typedef enum {
    CF_ARG_STRING = 0,
    CF_ARG_ID,     /* 32 lowercase hex characters */
    CF_ARG_INT,    /* a whole number from min to max */
    CF_ARG_SECRET, /* a token secret: never repeated in a message */
    CF_ARG_BOOL,
    CF_ARG_ARRAY,  /* with min to max elements */
    CF_ARG_OBJECT, /* checked further by the tool */
    CF_ARG_STATUS, /* "active" or "disabled" */
} cf_arg_type_e;

typedef struct {
    const char *name;
    cf_arg_type_e type;
    int required;
    long min; /* length for strings, value for integers */
    long max;
} cf_arg_spec_t;

int cf_args_check(const cJSON *args, const cf_arg_spec_t *spec,
                  const char *tool, cf_err_t *err);
const char *cf_arg_string(const cJSON *args, const char *name);
long cf_arg_int(const cJSON *args, const char *name, long dflt);
void cf_error_set(cf_err_t *err, const char *code, cJSON *details,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int cf_error_is(const cf_err_t *err, const char *code);
void cf_error_copy(cf_err_t *dst, const cf_err_t *src);
void cf_error_from_envelope(cf_err_t *err, const mg_cf_envelope_t *env,
                            const char *what);

typedef enum {
    CF_PAGE_MORE = 0, /* ask for the next page */
    CF_PAGE_DONE,     /* that was the last page */
    CF_PAGE_CUT,      /* pages are left, but max_pages were read */
    CF_PAGE_UNKNOWN   /* result_info does not say */
} cf_page_e;

cf_page_e cf_page_decide(const cJSON *result_info, int page, int pages_read,
                         int max_pages, int *next);
/* Text built into a fixed buffer, cut as snprintf would cut it. */
typedef struct {
    char *p;
    size_t size; /* at least 1 */
    size_t len;
} cf_str_t;

void cf_str_init(cf_str_t *s, char *buf, size_t size);
void cf_str_add(cf_str_t *s, const char *t);
void cf_str_int(cf_str_t *s, long v);

int cf_name_matches(const char *filter, const char *name);
int cf_time_normalize(const char *in, char *out, size_t size);
void cf_token_normalize(cJSON *token, const cJSON *groups);
void cf_policies_normalize(cJSON *policies, const cJSON *groups);
cJSON *cf_group_json(const cJSON *group);
void cf_redact(cJSON *item, const char *secret);
void cf_redact_text(char *text, size_t size, const char *secret);

/* cf_fetch.c */
void cf_fetch_init(cf_fetch_t *f, cf_ctx_t *cf, const char *what,
                   cf_fetch_done_pt done, void *arg);
int cf_fetch_start(cf_fetch_t *f);
void cf_fetch_clear(cf_fetch_t *f);
void cf_fetch_abort_all(cf_ctx_t *cf);

/* cf_cache.c */
void cf_cache_init(cf_cache_t *c, cf_ctx_t *cf);
void cf_cache_start(cf_cache_t *c);
int cf_cache_need(cf_cache_t *c, unsigned parts, cf_cache_ready_pt ready,
                  void *arg, cf_err_t *err);
int cf_cache_settle(cf_cache_t *c, unsigned parts, cf_cache_ready_pt ready,
                    void *arg);
void cf_cache_forget(cf_cache_t *c, void *arg);
const cJSON *cf_cache_items(const cf_cache_t *c, unsigned part);
int cf_cache_complete(const cf_cache_t *c, unsigned part);
const cJSON *cf_cache_group_by_name(const cf_cache_t *c, const char *name);
void cf_cache_stop(cf_cache_t *c);

/* cf_names.c: the cache as cf_parse.h resolves names against it. */
typedef struct {
    cf_names_t names;
    cf_group_ref_t *groups;
    const char ***scopes;
    cf_account_ref_t *accounts;
    cf_zone_ref_t *zones;
} cf_names_snapshot_t;

void cf_names_snapshot(cf_names_snapshot_t *s, const cf_cache_t *c);
void cf_names_snapshot_free(cf_names_snapshot_t *s);

/* cf_verify.c */
int cf_verify_start(cf_ctx_t *cf);
void cf_verify_stop(cf_ctx_t *cf);

/* cf_op.c: a tool call in progress. */
typedef struct cf_op_s cf_op_t;

typedef int (*cf_step_pt)(cf_op_t *op);

struct cf_op_s {
    cf_ctx_t *cf;
    mg_call_t *call;
    const cJSON *args;
    cf_step_pt step;             /* runs once the cache is ready */
    int (*fetched)(cf_op_t *op); /* runs when a fetch ends */
    char account[CF_ID_LEN + 1]; /* "": user tokens */
    char secret[CF_SECRET_MAX + 1];
    char what[128];
    int page_given;
    cf_fetch_t fetch;
    cJSON *verified; /* tokens_verify: the verify result */

    /* Writes: create, update, delete, roll. */
    const char *method;
    char path[256];
    cJSON *body;    /* what is sent, owned */
    cJSON *current; /* update: the token before, owned */
    char token_id[CF_ID_LEN + 1];
    char name[128];
    mg_upstream_req_t *wreq; /* the write in flight */
    int write_sent;          /* its outcome may be unknown until answered */
    int answered;            /* Cloudflare answered the lost write at all */
    int (*written)(cf_op_t *op, mg_cf_envelope_t *env);

    cf_op_t *prev;
    cf_op_t *next;
};

cf_op_t *cf_op_new(cf_ctx_t *cf, mg_call_t *call);
void cf_op_free(cf_op_t *op);
int cf_op_result(cf_op_t *op, cJSON *result);
int cf_op_fail(cf_op_t *op, const cf_err_t *err);
int cf_op_fail_answer(cf_op_t *op, const char *lacking);
int cf_op_fetch(cf_op_t *op, int (*fetched)(cf_op_t *op));
int cf_op_begin(cf_op_t *op, unsigned need, cf_step_pt step);
cf_op_t *cf_op_start(mg_call_t *call, void *ctx, const cf_arg_spec_t *spec);
void cf_tokens_base(const cf_op_t *op, char *buf, size_t size);
const char *cf_owner_words(const cf_op_t *op);
void cf_ops_shutdown(cf_ctx_t *cf);
void cf_ops_free_spare(cf_ctx_t *cf);

/* cf_tools_read.c, cf_tools_write.c */
extern const mg_tool_t cf_read_tools[];
extern const mg_tool_t cf_write_tools[];

/* cf_schema.c */
extern const char cf_schema_groups_in[];
extern const char cf_schema_groups_out[];
extern const char cf_schema_list_in[];
extern const char cf_schema_list_out[];
extern const char cf_schema_get_in[];
extern const char cf_schema_get_out[];
extern const char cf_schema_verify_in[];
extern const char cf_schema_verify_out[];
extern const char cf_schema_create_in[];
extern const char cf_schema_create_out[];
extern const char cf_schema_update_in[];
extern const char cf_schema_token_out[];
extern const char cf_schema_id_in[];
extern const char cf_schema_delete_out[];
extern const char cf_schema_roll_out[];

#endif /* CF_MODULE_H */
