/*
 * The MCP endpoint: Streamable HTTP, JSON-RPC 2.0, version negotiation,
 * sessions, and the phase pipeline every tool call runs through.
 */

#ifndef MG_MCP_H
#define MG_MCP_H

#include "mg_conf.h"
#include "mg_http.h"
#include "mg_module.h"
#include "mg_session.h"

/* Protocol revisions, oldest first. */
typedef enum {
    MG_MCP_2025_03_26 = 0,
    MG_MCP_2025_06_18,
    MG_MCP_2025_11_25,
    MG_MCP_2026_07_28,
    MG_MCP_NREVISIONS
} mg_mcp_revision_e;

extern const char *const mg_mcp_revisions[MG_MCP_NREVISIONS];

/* The revision named by s, or -1. */
int mg_mcp_revision(const char *s);

typedef struct mg_exchange_s mg_exchange_t;

struct mg_call_s {
    mg_exchange_t *ex;
    mg_call_t *next_active; /* calls in flight, for cancellation */
    mg_call_t *prev_active;

    char *id_raw; /* the JSON-RPC id as the client wrote it */
    const char *tool_name;
    const mg_tool_entry_t *entry;
    const cJSON *arguments;
    const cJSON *meta;
    char *progress_token; /* raw JSON, or NULL */

    mg_phase_e phase;
    size_t handler;
    int resume_rc;
    unsigned running : 1; /* inside the pipeline loop */
    unsigned waiting : 1; /* a handler returned MG_AGAIN */
    unsigned resumed : 1; /* mg_call_resume came while running */
    unsigned cancelled : 1;
    unsigned denied : 1;
    unsigned done : 1;
    unsigned is_error : 1;
    unsigned logged : 1;

    char *client;
    char *role;
    cJSON *structured;
    cJSON *content; /* array of extra text blocks */

    void **ctx; /* one slot per module */

    void **allocs; /* freed with the call */
    size_t nallocs;

    uint64_t started; /* monotonic ms */
};

/* Start serving MCP on every listener of the configuration. */
int mg_mcp_init(mg_config_t *cf);
void mg_mcp_shutdown(void);

/* Stop taking new MCP connections; return how many calls are running. */
void mg_mcp_stop_accepting(void);
size_t mg_mcp_active_calls(void);

/* The endpoint handler (exposed for tests). */
void mg_mcp_handler(mg_http_request_t *r);

/* Run the pipeline of a call from its current phase (internal). */
void mg_call_run(mg_call_t *call);

/* Create and free calls (internal to src/mcp). */
mg_call_t *mg_call_create(mg_exchange_t *ex);
void mg_call_free(mg_call_t *call);

/* Called by the pipeline when a call has its final result. */
void mg_mcp_call_done(mg_call_t *call);

/* Send a progress notification for a call (internal). */
void mg_mcp_progress(mg_call_t *call, const char *json);

/* Request-level accessors the call uses. */
const char *mg_exchange_session(const mg_exchange_t *ex);
const char *mg_exchange_peer(const mg_exchange_t *ex);
const char *mg_exchange_header(const mg_exchange_t *ex, const char *name);

/* Append the result object of a finished call, as JSON text, to out. */
void mg_call_result_append(mg_call_t *call, mg_buf_t *out);

#endif /* MG_MCP_H */
