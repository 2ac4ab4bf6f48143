/*
 * mcpgw public module API.
 *
 * This is the only header a module needs.  A module is a shared object
 * that exports one descriptor, `mg_module`, of type mg_module_t.  The
 * loader checks the ABI version and the build signature before it reads
 * anything else in the descriptor.
 */

#ifndef MCPGW_MCPGW_H
#define MCPGW_MCPGW_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MG_VERSION "0.1.0"

/* Bumped whenever mg_module_t or any function below changes shape. */
#define MG_ABI_VERSION 1

#define MG_STR_(x) #x
#define MG_STR(x) MG_STR_(x)

#if defined(MG_DEBUG_BUILD)
#define MG_SIG_DEBUG "1"
#else
#define MG_SIG_DEBUG "0"
#endif

#if defined(MG_ASAN_BUILD)
#define MG_SIG_ASAN "1"
#else
#define MG_SIG_ASAN "0"
#endif

/*
 * The build signature: comma-separated key=value parts that must match
 * between the gateway and a module.  The loader names the part that
 * differs.
 */
#define MG_BUILD_SIGNATURE                                                     \
    "abi=" MG_STR(MG_ABI_VERSION) ",ptr=" MG_STR(__SIZEOF_POINTER__)       \
        ",long=" MG_STR(__SIZEOF_LONG__) ",cjson=" MG_STR(                 \
            CJSON_VERSION_MAJOR) "." MG_STR(CJSON_VERSION_MINOR)            \
            ",debug=" MG_SIG_DEBUG ",asan=" MG_SIG_ASAN

/* Return codes shared by every handler. */
#define MG_OK 0
#define MG_ERROR -1
#define MG_AGAIN -2
#define MG_DENY -3
#define MG_DECLINED -5

/* Error log levels, as nginx names them. */
typedef enum {
    MG_LOG_EMERG = 0,
    MG_LOG_ALERT,
    MG_LOG_CRIT,
    MG_LOG_ERR,
    MG_LOG_WARN,
    MG_LOG_NOTICE,
    MG_LOG_INFO,
    MG_LOG_DEBUG
} mg_log_level_e;

extern int mg_log_level;

void mg_log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The level is tested before anything is formatted. */
#define mg_log(level, ...)                                                     \
    do {                                                                       \
        if ((level) <= mg_log_level) {                                         \
            mg_log_write((level), __VA_ARGS__);                                \
        }                                                                      \
    } while (0)

/* ------------------------------------------------------------------ */
/* Configuration access for modules (libconfig underneath).            */

typedef struct mg_conf_s mg_conf_t;

/*
 * Each getter returns MG_OK and sets *out when the setting exists with the
 * right type, MG_DECLINED when it is absent (out untouched), MG_ERROR when
 * it has the wrong type; the error is then reported with file and line.
 */
int mg_conf_string(const mg_conf_t *c, const char *name, const char **out);
int mg_conf_int(const mg_conf_t *c, const char *name, long long *out);
int mg_conf_bool(const mg_conf_t *c, const char *name, int *out);
const mg_conf_t *mg_conf_child(const mg_conf_t *c, const char *name);
int mg_conf_length(const mg_conf_t *c);
const mg_conf_t *mg_conf_elem(const mg_conf_t *c, int i);
const char *mg_conf_name(const mg_conf_t *c);
const char *mg_conf_value_string(const mg_conf_t *c);

/* Reports "file:line: message" and marks the configuration as failed. */
void mg_conf_error(const mg_conf_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Reject every setting of c whose name is not in the NULL-terminated
 * list `known`.  Returns MG_OK or MG_ERROR (each stray setting reported).
 */
int mg_conf_only(const mg_conf_t *c, const char *const *known);

/* Resolve a path from the configuration against the prefix. */
const char *mg_conf_path(const char *path);

/* ------------------------------------------------------------------ */
/* Tool calls and the phase pipeline.                                  */

typedef enum {
    MG_PHASE_AUTHN = 0,
    MG_PHASE_ACCESS,
    MG_PHASE_CHECK,
    MG_PHASE_LOG_PRE,
    MG_PHASE_TOOL,
    MG_PHASE_LOG,
    MG_PHASE_COUNT
} mg_phase_e;

typedef struct mg_call_s mg_call_t;
typedef struct mg_module_s mg_module_t;

/*
 * A phase handler returns MG_OK (phase done, go to the next phase),
 * MG_DECLINED (let the next handler of this phase decide), MG_DENY (stop;
 * the reason was set with mg_call_deny), MG_AGAIN (it will call
 * mg_call_resume later from a callback), or MG_ERROR.
 */
typedef int (*mg_phase_handler_pt)(mg_call_t *call, void *ctx);

typedef struct {
    mg_phase_e phase;
    mg_phase_handler_pt handler;
} mg_hook_t;

#define MG_TOOL_READ_ONLY 0x01
#define MG_TOOL_DESTRUCTIVE 0x02
#define MG_TOOL_IDEMPOTENT 0x04
#define MG_TOOL_OPEN_WORLD 0x08

typedef struct {
    const char *name;
    const char *title;
    const char *description;
    const char *input_schema;  /* JSON text, an object schema */
    const char *output_schema; /* JSON text or NULL */
    unsigned annotations;      /* MG_TOOL_* flags */
    /* Runs in the TOOL phase; same return codes as a phase handler. */
    mg_phase_handler_pt handler;
} mg_tool_t;

/* The HTTP request as modules see it (opaque). */
typedef struct mg_http_request_s mg_http_request_t;

/*
 * Pre-authentication request hook at the HTTP layer.  Returns MG_OK to go
 * on, or an HTTP status (e.g. 429) to refuse the request with a JSON-RPC
 * error body carrying `message`.
 */
typedef int (*mg_request_hook_pt)(mg_http_request_t *r, void *ctx,
                                  const char **message);

struct mg_module_s {
    uint32_t abi_version;  /* MG_ABI_VERSION */
    const char *signature; /* MG_BUILD_SIGNATURE */
    const char *name;

    /*
     * Called once with the module's block of the configuration (NULL when
     * there is none).  Stores its state in *ctx.
     */
    int (*configure)(const mg_conf_t *conf, void **ctx);

    /* Called after every module is configured and the loop exists. */
    int (*init)(void *ctx);

    /* Called on shutdown, in reverse load order. */
    void (*exit)(void *ctx);

    const mg_tool_t *tools; /* terminated by an entry with name NULL */
    const mg_hook_t *hooks; /* terminated by an entry with handler NULL */
    mg_request_hook_pt request_hook;
};

#define MG_MODULE_HEAD MG_ABI_VERSION, MG_BUILD_SIGNATURE

/* The symbol every module exports. */
#define MG_MODULE_SYMBOL "mg_module"

/* Accessors for a call in flight. */
const char *mg_call_tool(const mg_call_t *call);
const cJSON *mg_call_arguments(const mg_call_t *call);
const cJSON *mg_call_meta(const mg_call_t *call);
const char *mg_call_client(const mg_call_t *call);
const char *mg_call_role(const mg_call_t *call);
const char *mg_call_peer(const mg_call_t *call);
const char *mg_call_header(const mg_call_t *call, const char *name);
const char *mg_call_id(const mg_call_t *call);
const char *mg_call_session(const mg_call_t *call);
int mg_call_cancelled(const mg_call_t *call);

/* Set by AUTHN handlers. */
void mg_call_set_client(mg_call_t *call, const char *name, const char *role);

/* Memory that lives as long as the call. */
void *mg_call_alloc(mg_call_t *call, size_t size);
char *mg_call_strdup(mg_call_t *call, const char *s);

/* Per-module state attached to a call. */
void mg_call_set_ctx(mg_call_t *call, const mg_module_t *m, void *data);
void *mg_call_get_ctx(const mg_call_t *call, const mg_module_t *m);

/*
 * Results.  mg_call_result takes ownership of `structured` (may be NULL)
 * and puts its JSON in the first text block.  mg_call_text appends a
 * further text block.
 */
void mg_call_result(mg_call_t *call, cJSON *structured, int is_error);
void mg_call_text(mg_call_t *call, const char *text);

/*
 * A tool error a model can act on: isError result with
 * structuredContent.error = {code, message, details}.  Takes ownership
 * of details (may be NULL).  Returns MG_OK so handlers can return it.
 */
int mg_call_error(mg_call_t *call, const char *code, cJSON *details,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Deny the call: the pipeline stops and the client gets an isError result
 * with the given code and message.  Returns MG_DENY.
 */
int mg_call_deny(mg_call_t *call, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The phase the call is in, and whether a result is already set. */
mg_phase_e mg_call_phase(const mg_call_t *call);
int mg_call_has_result(const mg_call_t *call);
int mg_call_is_error(const mg_call_t *call);
const cJSON *mg_call_structured(const mg_call_t *call);

/*
 * Resume a call whose handler returned MG_AGAIN, with what the handler
 * would have returned.  Safe to call from any event callback.
 */
void mg_call_resume(mg_call_t *call, int rc);

/* Progress for a call whose request carried a progressToken. */
void mg_call_progress(mg_call_t *call, double progress, double total,
                      const char *message);

/* HTTP request accessors for request hooks. */
const char *mg_http_header(const mg_http_request_t *r, const char *name);
const char *mg_http_peer(const mg_http_request_t *r);

/* ------------------------------------------------------------------ */
/* Timers on the gateway's event loop.                                 */

typedef struct mg_timer_s mg_timer_t;
typedef void (*mg_timer_pt)(void *arg);

mg_timer_t *mg_timer_add(unsigned msec, mg_timer_pt handler, void *arg);
void mg_timer_cancel(mg_timer_t *t);

/* The libevent base, for modules that need sockets of their own. */
struct event_base *mg_event_base(void);

#ifdef __cplusplus
}
#endif

#endif /* MCPGW_MCPGW_H */
