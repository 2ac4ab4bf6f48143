/*
 * The MCP endpoint over Streamable HTTP.
 *
 * One POST is one exchange: a message, or on 2025-03-26 a batch of them.
 * Every message passes the same checks whether it came alone or in a
 * batch.  Requests answer when every call of the exchange is done; tool
 * calls may finish much later, from a callback, so the exchange is
 * reference-counted and survives a client that went away.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/sha.h>

#include "mg_json_check.h"
#include "mg_mcp.h"

const char *const mg_mcp_revisions[MG_MCP_NREVISIONS] = {
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
};

/* JSON-RPC error codes. */
#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INVALID_PARAMS -32602
#define RPC_INTERNAL_ERROR -32603
#define RPC_SERVER_ERROR -32000
#define RPC_CANCELLED -32800
/* 2026-07-28: a header does not mirror the body; unsupported revision. */
#define RPC_HEADER_MISMATCH -32020
#define RPC_UNSUPPORTED_VERSION -32022

static mg_config_t *mcp_conf;
static mg_call_t *active_calls;
static int access_fd = -1;

struct mg_exchange_s {
    mg_http_request_t *r; /* NULL once the client went away */
    int refs;
    size_t pending;

    int revision;
    char session_id[MG_SESSION_ID_MAX];
    mg_session_t session;
    unsigned has_session : 1;
    unsigned accept_json : 1;
    unsigned accept_sse : 1;
    unsigned batch : 1;
    unsigned streaming : 1;
    unsigned answered : 1;

    char *client;
    char *role;
    char *peer;

    cJSON *root;
    mg_buf_t out;  /* responses so far, comma-separated */
    size_t nout;   /* how many responses out holds */
    char *headers; /* extra response headers */
    int status;    /* HTTP status of a plain answer */
    uint64_t started;
};

int
mg_mcp_revision(const char *s)
{
    int i;

    for (i = 0; i < MG_MCP_NREVISIONS; i++) {
        if (strcmp(s, mg_mcp_revisions[i]) == 0) {
            return i;
        }
    }

    return -1;
}

const char *
mg_exchange_session(const mg_exchange_t *ex)
{
    return ex->has_session ? ex->session_id : NULL;
}

const char *
mg_exchange_peer(const mg_exchange_t *ex)
{
    return ex->peer;
}

const char *
mg_exchange_header(const mg_exchange_t *ex, const char *name)
{
    if (ex->r == NULL || strcasecmp(name, "authorization") == 0) {
        return NULL;
    }

    return mg_http_header(ex->r, name);
}

static void
exchange_unref(mg_exchange_t *ex)
{
    if (--ex->refs > 0) {
        return;
    }

    cJSON_Delete(ex->root);
    mg_buf_free(&ex->out);
    free(ex->headers);
    free(ex->client);
    free(ex->role);
    free(ex->peer);
    free(ex);
}

static void
exchange_abort(mg_http_request_t *r)
{
    mg_exchange_t *ex = r->data;

    mg_log(MG_LOG_INFO, "client closed the connection before the answer");
    ex->r = NULL;
    mg_http_finalize(r);
}

/* Client-supplied strings in the access log are cut to this many bytes. */
#define LOG_VALUE_MAX 128

static void
log_add_string(mg_http_request_t *r, const char *key, const char *value)
{
    if (r == NULL || value == NULL) {
        return;
    }

    mg_http_log_add_string(r, key, value, LOG_VALUE_MAX);
}

/* ------------------------------------------------------------------ */
/* Building responses.                                                 */

/*
 * Start one more response message in the exchange's output, up to the
 * member after the id.  Messages are appended in place: no copies.
 */
static void
out_begin(mg_exchange_t *ex, const char *id_raw, const char *member)
{
    mg_buf_t *b = &ex->out;

    if (ex->nout++) {
        mg_buf_append(b, ",", 1);
    }

    mg_buf_append_str(b, "{\"jsonrpc\":\"2.0\",\"id\":");
    mg_buf_append_str(b, id_raw ? id_raw : "null");
    mg_buf_append_str(b, member);
}

static void
out_result(mg_exchange_t *ex, const char *id_raw, const char *result_json)
{
    out_begin(ex, id_raw, ",\"result\":");
    mg_buf_append_str(&ex->out, result_json);
    mg_buf_append(&ex->out, "}", 1);
}

/* capabilities (tools, and logging where asked) and serverInfo. */
static void
add_server(cJSON *res, int logging)
{
    cJSON *caps, *info;

    caps = cJSON_AddObjectToObject(res, "capabilities");
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "tools"), "listChanged",
                          0);
    if (logging) {
        cJSON_AddObjectToObject(caps, "logging");
    }
    info = cJSON_AddObjectToObject(res, "serverInfo");
    cJSON_AddStringToObject(info, "name", "mcpgw");
    cJSON_AddStringToObject(info, "title", "mcpgw MCP gateway");
    cJSON_AddStringToObject(info, "version", MG_VERSION);
}

static void
out_error(mg_exchange_t *ex, const char *id_raw, int code, const char *msg)
{
    /* The access log says how the request ended (one request: a batch
     * has many answers). */
    if (!ex->batch && ex->r) {
        mg_http_log_add(ex->r, "\"rpc_error\":%d", code);
    }

    out_begin(ex, id_raw, ",\"error\":{\"code\":");
    mg_buf_printf(&ex->out, "%d,\"message\":\"", code);
    mg_buf_append_json(&ex->out, msg, strlen(msg));
    mg_buf_append(&ex->out, "\"}}", 3);
}

/* A result from a tree, which it frees. */
static void
out_result_tree(mg_exchange_t *ex, const char *id_raw, cJSON *res)
{
    char *text = cJSON_PrintUnformatted(res);

    if (text == NULL) {
        out_error(ex, id_raw, RPC_INTERNAL_ERROR, "out of memory");
    } else {
        out_result(ex, id_raw, text);
    }

    free(text);
    cJSON_Delete(res);
}

static int
stream_event(mg_exchange_t *ex, const char *json)
{
    mg_buf_t b;
    int rc;

    mg_buf_init(&b, 0);
    mg_buf_printf(&b, "event: message\ndata: %s\n\n", json);
    rc = mg_http_stream_send(ex->r, b.data, b.len);
    mg_buf_free(&b);

    return rc;
}

static void
stream_begin(mg_exchange_t *ex)
{
    if (ex->streaming || ex->r == NULL) {
        return;
    }

    mg_http_stream_start(ex->r, 200, "text/event-stream",
                         ex->headers ? ex->headers
                                     : "Cache-Control: no-cache\r\n");
    ex->streaming = 1;
}

/* Everything the exchange will say is known: answer the client. */
static void
exchange_finish(mg_exchange_t *ex)
{
    mg_buf_t b, *body;

    if (ex->answered) {
        return;
    }
    ex->answered = 1;

    if (ex->r == NULL) {
        return;
    }

    ex->r->on_abort = NULL;

    if (ex->nout == 0) {
        /* Only notifications or responses: accepted, nothing to say. */
        mg_http_respond(ex->r, 202, NULL, ex->headers, NULL, 0);
        ex->r = NULL;
        return;
    }

    mg_buf_init(&b, 0);
    body = &ex->out;
    if (ex->batch) {
        mg_buf_append(&b, "[", 1);
        mg_buf_append(&b, ex->out.data, ex->out.len);
        mg_buf_append(&b, "]", 1);
        body = &b;
    }

    if (ex->streaming || (ex->accept_sse && !ex->accept_json)) {
        stream_begin(ex);
        stream_event(ex, body->data);
        mg_http_stream_end(ex->r);
    } else {
        mg_http_respond(ex->r, ex->status, "application/json", ex->headers,
                        body->data, body->len);
    }

    ex->r = NULL;
    mg_buf_free(&b);
}

/* An answer before any message was dispatched: status + JSON-RPC error. */
static void refuse(mg_http_request_t *r, int status, const char *headers,
                   int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
refuse(mg_http_request_t *r, int status, const char *headers, int code,
       const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    mg_log(MG_LOG_INFO, "refused with %d: %s", status, msg);
    mg_http_respond_rpc_error(r, status, headers, NULL, code, msg);
}

/* ------------------------------------------------------------------ */
/* Request checks.                                                     */

/* The parameters of one Accept element say q=0. */
static int
q_zero(const char *p)
{
    const char *end = p + strcspn(p, ",");

    while (p < end) {
        p++;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            if (*p != '0') {
                return 0;
            }
            for (p++; *p == '.' || *p == '0'; p++) {
            }
            return p >= end || *p == ' ' || *p == ';';
        }
        p += strcspn(p, ";,");
        if (*p != ';') {
            break;
        }
    }

    return 0;
}

/* Accept: lenient.  Nothing listed means JSON; wildcards count. */
static void
parse_accept(mg_exchange_t *ex, const mg_http_request_t *r)
{
    const char *p;
    size_t i, n, len;

    n = mg_http_header_count(r, "accept");
    if (n == 0) {
        ex->accept_json = 1;
        return;
    }

    for (i = 0; i < n; i++) {
        p = mg_http_header_nth(r, "accept", i);

        while (*p) {
            while (*p == ' ' || *p == ',' || *p == '\t') {
                p++;
            }
            len = strcspn(p, ",;");

            /* q=0 means "not acceptable" (RFC 9110). */
            if (q_zero(p + len)) {
                p += len;
                p += strcspn(p, ",");
                continue;
            }

            if (len >= 16 && strncasecmp(p, "application/json", 16) == 0) {
                ex->accept_json = 1;
            } else if (len >= 17 &&
                       strncasecmp(p, "text/event-stream", 17) == 0) {
                ex->accept_sse = 1;
            } else if ((len >= 3 && strncmp(p, "*/*", 3) == 0) ||
                       (len >= 13 &&
                        strncasecmp(p, "application/*", 13) == 0)) {
                ex->accept_json = 1;
            }

            p += len;
            p += strcspn(p, ",");
        }
    }

    if (!ex->accept_json && !ex->accept_sse) {
        /* An Accept we do not understand: answer JSON, never SSE. */
        ex->accept_json = 1;
    }
}

/*
 * "localhost", an IPv4 literal in 127.0.0.0/8 or "[::1]": nothing that
 * merely starts like one (127.0.0.1.evil.example is a domain).
 */
static int
host_is_loopback_name(const char *host, size_t len)
{
    struct in_addr a;
    char buf[16];

    if (len == 9 && strncasecmp(host, "localhost", 9) == 0) {
        return 1;
    }

    if (len == 5 && strncmp(host, "[::1]", 5) == 0) {
        return 1;
    }

    if (len < 7 || len >= sizeof(buf)) {
        return 0;
    }

    memcpy(buf, host, len);
    buf[len] = '\0';

    return inet_pton(AF_INET, buf, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* ":digits" to the end, or nothing. */
static int
port_only(const char *p)
{
    if (*p == '\0') {
        return 1;
    }

    if (*p++ != ':' || *p == '\0') {
        return 0;
    }

    while (*p >= '0' && *p <= '9') {
        p++;
    }

    return *p == '\0';
}

/* The host part of "host[:port]" or "[v6]:port". */
static size_t
host_len(const char *h)
{
    const char *e;

    if (h[0] == '[') {
        e = strchr(h, ']');
        return e ? (size_t)(e - h) + 1 : strlen(h);
    }

    e = strchr(h, ':');

    return e ? (size_t)(e - h) : strlen(h);
}

static int
list_has(char **list, size_t n, const char *v, size_t len)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strlen(list[i]) == len && strncasecmp(list[i], v, len) == 0) {
            return 1;
        }
        if (strcmp(list[i], "*") == 0) {
            return 1;
        }
    }

    return 0;
}

/*
 * Origin: a browser page from anywhere but loopback (or the configured
 * list) must not drive the gateway (DNS rebinding).
 */
static int
origin_allowed(const char *origin)
{
    const char *host;

    if (list_has(mcp_conf->origins, mcp_conf->norigins, origin,
                 strlen(origin))) {
        return 1;
    }

    if (strncasecmp(origin, "http://", 7) == 0) {
        host = origin + 7;
    } else if (strncasecmp(origin, "https://", 8) == 0) {
        host = origin + 8;
    } else {
        return 0;
    }

    /* An origin is scheme://host[:port] and nothing more. */
    return host_is_loopback_name(host, host_len(host)) &&
           port_only(host + host_len(host));
}

static int
host_allowed(const char *host)
{
    size_t len = host_len(host);

    if (mcp_conf->nhosts) {
        return list_has(mcp_conf->hosts, mcp_conf->nhosts, host, len) ||
               list_has(mcp_conf->hosts, mcp_conf->nhosts, host, strlen(host));
    }

    return host_is_loopback_name(host, len) && port_only(host + len);
}

/* Who is calling: an API key, or anonymous where allowed. */
static int
authenticate(mg_exchange_t *ex, mg_http_request_t *r)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    const char *auth, *key;
    size_t i;
    int found = -1;

    auth = mg_http_header(r, "authorization");

    if (auth == NULL) {
        if (mcp_conf->anonymous && mg_http_peer_is_loopback(r)) {
            ex->client = mg_strdup("anonymous");
            ex->role = mg_strdup(mcp_conf->anonymous_role);
            return MG_OK;
        }

        refuse(r, 401, "WWW-Authenticate: Bearer realm=\"mcpgw\"\r\n",
               RPC_SERVER_ERROR,
               "authentication required: send \"Authorization: Bearer "
               "<API key>\"; an administrator mints keys with "
               "\"mcpgw -k NAME\"");
        return MG_ERROR;
    }

    if (strncasecmp(auth, "Bearer ", 7) != 0 || auth[7] == '\0') {
        refuse(r, 401,
               "WWW-Authenticate: Bearer realm=\"mcpgw\", "
               "error=\"invalid_request\"\r\n",
               RPC_SERVER_ERROR,
               "the Authorization header must be \"Bearer <API key>\"");
        return MG_ERROR;
    }

    key = auth + 7;
    SHA256((const unsigned char *)key, strlen(key), digest);
    mg_hex(hex, digest, sizeof(digest));

    /* Compare against every key, in constant time each. */
    for (i = 0; i < mcp_conf->nclients; i++) {
        if (mg_ct_equal(hex, mcp_conf->clients[i].key_hash, 64)) {
            found = (int)i;
        }
    }

    if (found < 0) {
        refuse(r, 401,
               "WWW-Authenticate: Bearer realm=\"mcpgw\", "
               "error=\"invalid_token\"\r\n",
               RPC_SERVER_ERROR,
               "the API key is not valid; ask an administrator for a key");
        return MG_ERROR;
    }

    ex->client = mg_strdup(mcp_conf->clients[found].name);
    ex->role = mg_strdup(mcp_conf->clients[found].role);

    return MG_OK;
}

/*
 * MCP-Protocol-Version: a supported value applies to this request; an
 * unknown one, or two different ones, is refused; none means 2025-03-26.
 */
static int
protocol_header(mg_exchange_t *ex, mg_http_request_t *r)
{
    const char *v, *first = NULL;
    size_t i, n;
    int rev;

    n = mg_http_header_count(r, "mcp-protocol-version");
    ex->revision = MG_MCP_2025_03_26;

    for (i = 0; i < n; i++) {
        v = mg_http_header_nth(r, "mcp-protocol-version", i);

        if (first && strcmp(first, v) != 0) {
            refuse(r, 400, NULL, RPC_INVALID_REQUEST,
                   "two different MCP-Protocol-Version headers; send one");
            return MG_ERROR;
        }
        first = v;

        rev = mg_mcp_revision(v);
        if (rev < 0) {
            refuse(r, 400, NULL, RPC_UNSUPPORTED_VERSION,
                   "unsupported MCP-Protocol-Version \"%.40s\"; supported: "
                   "2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28",
                   v);
            return MG_ERROR;
        }
        ex->revision = rev;
    }

    return MG_OK;
}

/* The session named by Mcp-Session-Id: valid, and this client's. */
static int
check_session(mg_exchange_t *ex, mg_http_request_t *r)
{
    const char *id = mg_http_header(r, "mcp-session-id");
    mg_session_status_e st;

    if (id == NULL) {
        refuse(r, 400, NULL, RPC_INVALID_REQUEST,
               "missing Mcp-Session-Id header; send initialize first");
        return MG_ERROR;
    }

    if (mg_http_header_count(r, "mcp-session-id") > 1) {
        refuse(r, 400, NULL, RPC_INVALID_REQUEST,
               "more than one Mcp-Session-Id header; send one");
        return MG_ERROR;
    }

    st = mg_session_check(id, (int64_t)(mg_msec_wall() / 1000), &ex->session);
    if (st == MG_SESSION_VALID && strcmp(ex->session.client, ex->client)) {
        refuse(r, 404, NULL, RPC_SERVER_ERROR,
               "session not found: it belongs to another client; send "
               "initialize to start a new session");
        return MG_ERROR;
    }

    if (st != MG_SESSION_VALID) {
        refuse(r, 404, NULL, RPC_SERVER_ERROR,
               "session not found (%s); send initialize to start a new "
               "session",
               mg_session_status_text(st));
        return MG_ERROR;
    }

    /* A valid id is shorter than MG_SESSION_ID_MAX. */
    memcpy(ex->session_id, id, strlen(id) + 1);
    ex->has_session = 1;
    mg_http_log_add_string(r, "session", ex->session.nonce, 12);
    mg_log_ctx.session = ex->session_id + 3;

    return MG_OK;
}

/* ------------------------------------------------------------------ */
/* Methods.                                                            */

static void
do_initialize(mg_exchange_t *ex, const char *id, const cJSON *params)
{
    const cJSON *pv =
        cJSON_GetObjectItemCaseSensitive(params, "protocolVersion");
    char sid[MG_SESSION_ID_MAX];
    const char *version;
    cJSON *res;
    mg_buf_t h;
    int rev;

    if (!cJSON_IsString(pv)) {
        out_error(ex, id, RPC_INVALID_PARAMS,
                  "initialize needs params.protocolVersion, a string such "
                  "as \"2025-11-25\"");
        return;
    }

    /* Echo a supported session revision, else offer the newest one. */
    rev = mg_mcp_revision(pv->valuestring);
    if (rev < 0 || rev == MG_MCP_2026_07_28) {
        rev = MG_MCP_2025_11_25;
    }
    version = mg_mcp_revisions[rev];

    if (mg_session_create(sid, version, ex->client,
                          (int64_t)(mg_msec_wall() / 1000),
                          mcp_conf->session_ttl) != MG_OK) {
        out_error(ex, id, RPC_INTERNAL_ERROR, "cannot create a session");
        return;
    }

    res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "protocolVersion", version);
    add_server(res, 1);
    cJSON_AddStringToObject(res, "instructions",
                            "Tools of this gateway manage Cloudflare API "
                            "tokens under the organisation's policy. "
                            "Refusals say what to change.");
    out_result_tree(ex, id, res);

    mg_buf_init(&h, 0);
    mg_buf_printf(&h, "%sMcp-Session-Id: %s\r\n",
                  ex->headers ? ex->headers : "", sid);
    free(ex->headers);
    ex->headers = mg_buf_steal(&h);

    mg_log(MG_LOG_INFO, "session started for client \"%s\" on %s", ex->client,
           version);
}

/* Cursors are opaque to clients: "o" and an offset, base64url. */
static long
cursor_offset(const cJSON *cursor)
{
    unsigned char buf[64];
    long n;
    char *end;

    if (cursor == NULL) {
        return 0;
    }

    if (!cJSON_IsString(cursor) || strlen(cursor->valuestring) > 40) {
        return -1;
    }

    n = mg_b64url_decode(buf, cursor->valuestring, strlen(cursor->valuestring));
    if (n < 2 || buf[0] != 'o') {
        return -1;
    }
    buf[n] = '\0';

    n = strtol((char *)buf + 1, &end, 10);
    if (*end != '\0' || n < 0 || (size_t)n > mg_ntools) {
        return -1;
    }

    return n;
}

static cJSON *
tool_json(const mg_tool_t *t)
{
    cJSON *o, *ann;

    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    if (t->title) {
        cJSON_AddStringToObject(o, "title", t->title);
    }
    cJSON_AddStringToObject(o, "description",
                            t->description ? t->description : "");
    cJSON_AddItemToObject(o, "inputSchema", cJSON_Parse(t->input_schema));
    if (t->output_schema) {
        cJSON_AddItemToObject(o, "outputSchema", cJSON_Parse(t->output_schema));
    }

    ann = cJSON_AddObjectToObject(o, "annotations");
    if (t->title) {
        cJSON_AddStringToObject(ann, "title", t->title);
    }
    cJSON_AddBoolToObject(ann, "readOnlyHint",
                          (t->annotations & MG_TOOL_READ_ONLY) != 0);
    cJSON_AddBoolToObject(ann, "destructiveHint",
                          (t->annotations & MG_TOOL_DESTRUCTIVE) != 0);
    cJSON_AddBoolToObject(ann, "idempotentHint",
                          (t->annotations & MG_TOOL_IDEMPOTENT) != 0);
    cJSON_AddBoolToObject(ann, "openWorldHint",
                          (t->annotations & MG_TOOL_OPEN_WORLD) != 0);

    return o;
}

static void
do_tools_list(mg_exchange_t *ex, const char *id, const cJSON *params)
{
    const cJSON *cursor = cJSON_GetObjectItemCaseSensitive(params, "cursor");
    unsigned char raw[32];
    char enc[64];
    cJSON *res, *tools;
    long off, i, end;
    int n;

    off = cursor_offset(cursor);
    if (off < 0) {
        out_error(ex, id, RPC_INVALID_PARAMS,
                  "invalid cursor; pass the nextCursor of the previous "
                  "page, or none for the first page");
        return;
    }

    end = off + mcp_conf->page_size;
    if ((size_t)end > mg_ntools) {
        end = (long)mg_ntools;
    }

    res = cJSON_CreateObject();
    tools = cJSON_AddArrayToObject(res, "tools");
    for (i = off; i < end; i++) {
        cJSON_AddItemToArray(tools, tool_json(mg_tools[i].tool));
    }

    if ((size_t)end < mg_ntools) {
        n = snprintf((char *)raw, sizeof(raw), "o%ld", end);
        mg_b64url_encode(enc, raw, (size_t)n);
        cJSON_AddStringToObject(res, "nextCursor", enc);
    }

    out_result_tree(ex, id, res);
}

static void
active_add(mg_call_t *call)
{
    call->next_active = active_calls;
    if (active_calls) {
        active_calls->prev_active = call;
    }
    active_calls = call;
}

static void
active_remove(mg_call_t *call)
{
    if (call->prev_active) {
        call->prev_active->next_active = call->next_active;
    } else if (active_calls == call) {
        active_calls = call->next_active;
    }

    if (call->next_active) {
        call->next_active->prev_active = call->prev_active;
    }

    call->next_active = NULL;
    call->prev_active = NULL;
}

static void
do_tools_call(mg_exchange_t *ex, const char *id, const cJSON *params)
{
    const cJSON *name, *args, *meta, *token;
    const mg_tool_entry_t *entry;
    const char *near;
    mg_call_t *call;
    char msg[512];

    name = cJSON_GetObjectItemCaseSensitive(params, "name");
    args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
    meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");

    if (!cJSON_IsString(name)) {
        out_error(ex, id, RPC_INVALID_PARAMS,
                  "tools/call needs params.name, the name of a tool from "
                  "tools/list");
        return;
    }

    if (!ex->batch) {
        log_add_string(ex->r, "tool", name->valuestring);
    }

    entry = mg_tool_find(name->valuestring);
    if (entry == NULL) {
        near = mg_tool_suggest(name->valuestring);
        snprintf(msg, sizeof(msg),
                 "unknown tool \"%.128s\"; %s%s%scall tools/list for the "
                 "tools this gateway offers",
                 name->valuestring, near ? "did you mean \"" : "",
                 near ? near : "", near ? "\"? " : "");
        out_error(ex, id, RPC_INVALID_PARAMS, msg);
        return;
    }

    if (args && !cJSON_IsObject(args)) {
        out_error(ex, id, RPC_INVALID_PARAMS,
                  "params.arguments must be an object");
        return;
    }

    call = mg_call_create(ex);
    call->id_raw = mg_strdup(id);
    call->tool_name = entry->tool->name;
    call->entry = entry;
    call->arguments = args;
    call->meta = cJSON_IsObject(meta) ? meta : NULL;
    mg_call_set_client(call, ex->client, ex->role);

    token = cJSON_GetObjectItemCaseSensitive(call->meta, "progressToken");
    if (cJSON_IsString(token) || cJSON_IsNumber(token)) {
        call->progress_token = cJSON_PrintUnformatted(token);
    }

    ex->refs++;
    ex->pending++;
    active_add(call);

    mg_call_run(call);
}

void
mg_mcp_call_done(mg_call_t *call)
{
    mg_exchange_t *ex = call->ex;
    const cJSON *code;
    const char *outcome;

    active_remove(call);

    if (call->cancelled && ex->r) {
        out_error(ex, call->id_raw, RPC_CANCELLED, "request cancelled");
    } else {
        out_begin(ex, call->id_raw, ",\"result\":");
        mg_call_result_append(call, &ex->out);
        mg_buf_append(&ex->out, "}", 1);
    }

    outcome = call->cancelled  ? "cancelled"
              : call->denied   ? "denied"
              : call->is_error ? "error"
                               : "ok";
    if (!ex->batch && ex->r) {
        log_add_string(ex->r, "outcome", outcome);
        if (call->is_error) {
            code = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(call->structured, "error"),
                "code");
            log_add_string(ex->r, "tool_error",
                           cJSON_IsString(code) ? code->valuestring : NULL);
        }
    }

    mg_log(MG_LOG_INFO, "tool \"%s\" for \"%s\": %s in %llu ms",
           call->tool_name, call->client ? call->client : "", outcome,
           (unsigned long long)(mg_msec_mono() - call->started));

    mg_call_free(call);

    if (--ex->pending == 0 && ex->refs > 0) {
        exchange_finish(ex);
    }

    exchange_unref(ex);
}

void
mg_mcp_progress(mg_call_t *call, const char *json)
{
    mg_exchange_t *ex = call->ex;

    if (ex->r == NULL || !ex->accept_sse || ex->answered) {
        return;
    }

    stream_begin(ex);
    stream_event(ex, json);
}

static void
do_cancelled(mg_exchange_t *ex, const cJSON *params)
{
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(params, "requestId");
    mg_call_t *c;
    char *raw;

    if (rid == NULL || !ex->has_session) {
        return;
    }

    raw = cJSON_PrintUnformatted(rid);

    for (c = active_calls; c; c = c->next_active) {
        if (c->ex->has_session &&
            strcmp(c->ex->session_id, ex->session_id) == 0 &&
            strcmp(c->id_raw, raw) == 0) {
            c->cancelled = 1;
            mg_log(MG_LOG_INFO, "call %s of this session cancelled", raw);
        }
    }

    free(raw);
}

static void
do_set_level(mg_exchange_t *ex, const char *id, const cJSON *params)
{
    static const char *const levels[] = {
        "debug",    "info",  "notice",    "warning", "error",
        "critical", "alert", "emergency", NULL,
    };
    const cJSON *level = cJSON_GetObjectItemCaseSensitive(params, "level");
    int i;

    for (i = 0; cJSON_IsString(level) && levels[i]; i++) {
        if (strcmp(level->valuestring, levels[i]) == 0) {
            out_result(ex, id, "{}");
            return;
        }
    }

    out_error(ex, id, RPC_INVALID_PARAMS,
              "params.level must be one of debug, info, notice, warning, "
              "error, critical, alert, emergency");
}

/* 2026-07-28 has no initialize: what a client learns comes from here. */
static void
do_discover(mg_exchange_t *ex, const char *id)
{
    cJSON *res, *versions;
    int i;

    res = cJSON_CreateObject();
    versions = cJSON_AddArrayToObject(res, "supportedVersions");
    for (i = MG_MCP_NREVISIONS - 1; i >= 0; i--) {
        cJSON_AddItemToArray(versions, cJSON_CreateString(mg_mcp_revisions[i]));
    }

    add_server(res, 0);

    out_result_tree(ex, id, res);
}

/* Methods that exist only in the session-based revisions. */
static int
session_only(const char *m)
{
    return strcmp(m, "initialize") == 0 || strcmp(m, "ping") == 0 ||
           strcmp(m, "logging/setLevel") == 0;
}

/*
 * Raw text of validated JSON.  The body passed the strict pre-pass, so
 * these scanners only skip: strings, nesting and literals.
 */
static const char *
raw_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
    }

    return p;
}

static const char *
raw_skip(const char *p, const char *end)
{
    int depth = 0;

    do {
        if (*p == '"') {
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\\') {
                    p++;
                }
            }
            p++;
        } else if (*p == '{' || *p == '[') {
            depth++;
            p++;
        } else if (*p == '}' || *p == ']') {
            depth--;
            p++;
        } else if (depth > 0) {
            p++;
        } else {
            while (p < end && !strchr(",]} \t\r\n", *p)) {
                p++;
            }
        }
    } while (depth > 0 && p < end);

    return p;
}

/* The raw text of member `key` of the object at p, or NULL. */
static const char *
raw_member(const char *p, const char *end, const char *key, size_t *len)
{
    const char *k, *v;
    size_t klen = strlen(key);

    p = raw_ws(p, end);
    if (p >= end || *p != '{') {
        return NULL;
    }
    p++;

    for (;;) {
        p = raw_ws(p, end);
        if (p >= end || *p != '"') {
            return NULL;
        }

        k = p;
        p = raw_skip(p, end);
        p = raw_ws(p, end) + 1; /* the colon */
        v = raw_ws(p, end);
        p = raw_skip(v, end);

        /* Keys with escapes are never "id"-like enough to matter here. */
        if (p > v && strncmp(k + 1, key, klen) == 0 && k[klen + 1] == '"') {
            *len = (size_t)(p - v);
            return v;
        }

        p = raw_ws(p, end);
        if (p >= end || *p != ',') {
            return NULL;
        }
        p++;
    }
}

/*
 * A JSON-RPC id: a string or an integer, echoed exactly as the client
 * wrote it, so integers beyond a double's precision survive.
 */
static char *
request_id(const cJSON *id, const char *raw, size_t len)
{
    size_t i;

    if (cJSON_IsString(id)) {
        return raw ? mg_strndup(raw, len) : cJSON_PrintUnformatted(id);
    }

    if (!cJSON_IsNumber(id) || raw == NULL || len == 0 || len > 64) {
        return NULL;
    }

    for (i = raw[0] == '-' ? 1 : 0; i < len; i++) {
        if (raw[i] < '0' || raw[i] > '9') {
            return NULL; /* a fraction or an exponent */
        }
    }

    return mg_strndup(raw, len);
}

/*
 * A message that is not valid JSON-RPC: its own error entry in a batch;
 * alone, the whole request is refused with 400.
 */
static void
refuse_message(mg_exchange_t *ex, const char *id_raw, const char *msg)
{
    if (!ex->batch) {
        ex->status = 400;
    }

    out_error(ex, id_raw, RPC_INVALID_REQUEST, msg);
}

/* One message of an exchange, through every check. */
static void
dispatch(mg_exchange_t *ex, const cJSON *msg, const char *raw, const char *end)
{
    const cJSON *jsonrpc, *method, *id, *params;
    const char *m, *raw_id;
    char *id_raw = NULL;
    size_t raw_len = 0;

    if (!cJSON_IsObject(msg)) {
        refuse_message(ex, NULL, "a JSON-RPC message must be an object");
        return;
    }

    jsonrpc = cJSON_GetObjectItemCaseSensitive(msg, "jsonrpc");
    method = cJSON_GetObjectItemCaseSensitive(msg, "method");
    id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    params = cJSON_GetObjectItemCaseSensitive(msg, "params");

    if (id) {
        raw_id = raw_member(raw, end, "id", &raw_len);
        id_raw = request_id(id, raw_id, raw_len);
    }

    if (!cJSON_IsString(jsonrpc) || strcmp(jsonrpc->valuestring, "2.0")) {
        refuse_message(ex, id_raw, "\"jsonrpc\" must be \"2.0\"");
        goto done;
    }

    if (method == NULL && id &&
        (cJSON_GetObjectItemCaseSensitive(msg, "result") ||
         cJSON_GetObjectItemCaseSensitive(msg, "error"))) {
        /* A response from the client: nothing asked for one; accept. */
        goto done;
    }

    if (!cJSON_IsString(method)) {
        refuse_message(ex, id_raw, "\"method\" must be a string");
        goto done;
    }

    if (params && !cJSON_IsObject(params)) {
        refuse_message(ex, id_raw, "\"params\" must be an object");
        goto done;
    }

    m = method->valuestring;

    if (!ex->batch) {
        log_add_string(ex->r, "rpc", m);
    }

    if (id == NULL) {
        /* Notifications get no answer, whatever they are. */
        if (strcmp(m, "notifications/cancelled") == 0) {
            do_cancelled(ex, params);
        }
        goto done;
    }

    if (id_raw == NULL) {
        refuse_message(ex, NULL, "\"id\" must be a string or an integer");
        goto done;
    }

    if (ex->revision == MG_MCP_2026_07_28 && session_only(m)) {
        char text[200];

        snprintf(text, sizeof(text),
                 "method \"%s\" does not exist in MCP 2026-07-28; use "
                 "server/discover",
                 m);
        ex->status = 404;
        out_error(ex, id_raw, RPC_METHOD_NOT_FOUND, text);

    } else if (strcmp(m, "server/discover") == 0 &&
               ex->revision == MG_MCP_2026_07_28) {
        do_discover(ex, id_raw);

    } else if (strcmp(m, "initialize") == 0) {
        if (ex->batch) {
            out_error(ex, id_raw, RPC_INVALID_REQUEST,
                      "initialize must not be part of a batch");
        } else {
            do_initialize(ex, id_raw, params);
        }

    } else if (strcmp(m, "ping") == 0) {
        out_result(ex, id_raw, "{}");

    } else if (strcmp(m, "tools/list") == 0) {
        do_tools_list(ex, id_raw, params);

    } else if (strcmp(m, "tools/call") == 0) {
        do_tools_call(ex, id_raw, params);

    } else if (strcmp(m, "logging/setLevel") == 0) {
        do_set_level(ex, id_raw, params);

    } else {
        char text[200];

        snprintf(text, sizeof(text), "method not found: \"%.100s\"", m);
        if (ex->revision == MG_MCP_2026_07_28) {
            ex->status = 404;
        }
        out_error(ex, id_raw, RPC_METHOD_NOT_FOUND, text);
    }

done:
    free(id_raw);
}

/* Is this message (or any message of this batch) an initialize? */
static int
is_initialize(const cJSON *msg)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(msg, "method");

    return cJSON_IsObject(msg) && cJSON_IsString(m) &&
           strcmp(m->valuestring, "initialize") == 0;
}

/* A header that mirrors a body field must say the same when present. */
static int
mirror_ok(mg_http_request_t *r, const char *header, const cJSON *field)
{
    const char *v = mg_http_header(r, header);

    if (v == NULL) {
        return 1;
    }

    return cJSON_IsString(field) && strcmp(v, field->valuestring) == 0 &&
           mg_http_header_count(r, header) == 1;
}

static int
check_mirrors(mg_exchange_t *ex, mg_http_request_t *r)
{
    const cJSON *method, *params, *meta, *pv;

    method = cJSON_GetObjectItemCaseSensitive(ex->root, "method");
    params = cJSON_GetObjectItemCaseSensitive(ex->root, "params");

    if (!mirror_ok(r, "mcp-method", method)) {
        refuse(r, 400, NULL, RPC_HEADER_MISMATCH,
               "the Mcp-Method header does not match the body's method");
        return MG_ERROR;
    }

    if (cJSON_IsString(method) &&
        strcmp(method->valuestring, "tools/call") == 0 &&
        !mirror_ok(r, "mcp-name",
                   cJSON_GetObjectItemCaseSensitive(params, "name"))) {
        refuse(r, 400, NULL, RPC_HEADER_MISMATCH,
               "the Mcp-Name header does not match params.name");
        return MG_ERROR;
    }

    /* The per-request _meta may name the revision; it must agree. */
    meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");
    pv = cJSON_GetObjectItemCaseSensitive(
        meta, "io.modelcontextprotocol/protocolVersion");
    if (pv == NULL) {
        pv = cJSON_GetObjectItemCaseSensitive(meta, "protocolVersion");
    }

    if (pv &&
        (!cJSON_IsString(pv) || strcmp(pv->valuestring, "2026-07-28") != 0)) {
        refuse(r, 400, NULL, RPC_UNSUPPORTED_VERSION,
               "the protocol version in params._meta does not match the "
               "MCP-Protocol-Version header (2026-07-28)");
        return MG_ERROR;
    }

    return MG_OK;
}

static void
handle_post(mg_exchange_t *ex, mg_http_request_t *r)
{
    const char *ctype, *raw, *end;
    char err[256];
    cJSON *item;

    ctype = mg_http_header(r, "content-type");
    if (ctype && (strncasecmp(ctype, "application/json", 16) != 0 ||
                  !strchr("; \t", ctype[16]))) {
        refuse(r, 415, NULL, RPC_INVALID_REQUEST,
               "Content-Type must be application/json");
        return;
    }

    if (mg_json_check(r->body, r->body_len, MG_JSON_MAX_DEPTH, err,
                      sizeof(err)) != MG_OK) {
        refuse(r, 400, NULL, RPC_PARSE_ERROR, "parse error: %s", err);
        return;
    }

    ex->root = cJSON_ParseWithLength(r->body, r->body_len);
    if (ex->root == NULL) {
        refuse(r, 400, NULL, RPC_PARSE_ERROR, "parse error");
        return;
    }

    if (!cJSON_IsArray(ex->root) && !cJSON_IsObject(ex->root)) {
        refuse(r, 400, NULL, RPC_INVALID_REQUEST,
               "the body must be a JSON-RPC message (an object)");
        return;
    }

    if (cJSON_IsArray(ex->root)) {
        if (ex->revision >= MG_MCP_2025_06_18) {
            refuse(r, 400, NULL, RPC_INVALID_REQUEST,
                   "JSON-RPC batches are not allowed in MCP %s; send one "
                   "message per request",
                   mg_mcp_revisions[ex->revision]);
            return;
        }

        if (cJSON_GetArraySize(ex->root) == 0) {
            refuse(r, 400, NULL, RPC_INVALID_REQUEST,
                   "an empty batch is not a valid JSON-RPC request");
            return;
        }

        ex->batch = 1;
    }

    if (ex->revision == MG_MCP_2026_07_28) {
        /* Stateless: no session; the headers must mirror the body. */
        if (check_mirrors(ex, r) != MG_OK) {
            return;
        }
    } else if (!ex->batch && is_initialize(ex->root)) {
        if (mg_http_header(r, "mcp-session-id")) {
            mg_log(MG_LOG_INFO,
                   "initialize with a session id; a new "
                   "session is started");
        }
    } else if (check_session(ex, r) != MG_OK) {
        return;
    }

    ex->r = r;
    r->data = ex;
    r->on_abort = exchange_abort;
    ex->pending = 1; /* held until every message is dispatched */

    end = r->body + r->body_len;

    if (ex->batch) {
        /* Walk the raw array alongside, for each item's raw id. */
        raw = raw_ws(r->body, end) + 1;
        cJSON_ArrayForEach(item, ex->root)
        {
            raw = raw_ws(raw, end);
            dispatch(ex, item, raw, end);
            raw = raw_ws(raw_skip(raw, end), end) + 1;
        }
    } else {
        dispatch(ex, ex->root, r->body, end);
    }

    if (--ex->pending == 0) {
        exchange_finish(ex);
    }
}

static void
handle_delete(mg_exchange_t *ex, mg_http_request_t *r)
{
    if (check_session(ex, r) != MG_OK) {
        return;
    }

    mg_session_end(ex->session_id, ex->session.expires,
                   (int64_t)(mg_msec_wall() / 1000));
    mg_log(MG_LOG_INFO, "session ended by the client");

    mg_http_respond(r, 204, NULL, NULL, NULL, 0);
}

void
mg_mcp_handler(mg_http_request_t *r)
{
    mg_exchange_t *ex;
    const char *origin, *host;

    if (strcmp(r->path, mcp_conf->mcp_path) != 0) {
        refuse(r, 404, NULL, RPC_INVALID_REQUEST,
               "no MCP endpoint at \"%.100s\"; use \"%s\"", r->path,
               mcp_conf->mcp_path);
        return;
    }

    origin = mg_http_header(r, "origin");
    if (origin && !origin_allowed(origin)) {
        refuse(r, 403, NULL, RPC_INVALID_REQUEST,
               "Origin \"%.100s\" is not allowed; add it to "
               "mcp.allowed_origins",
               origin);
        return;
    }

    host = mg_http_header(r, "host");
    if (host && !host_allowed(host)) {
        refuse(r, 403, NULL, RPC_INVALID_REQUEST,
               "Host \"%.100s\" is not allowed; add it to mcp.allowed_hosts",
               host);
        return;
    }

    if (r->method == MG_HTTP_GET) {
        refuse(r, 405, "Allow: POST, DELETE\r\n", RPC_INVALID_REQUEST,
               "this gateway offers no GET stream; POST JSON-RPC messages");
        return;
    }

    if (r->method != MG_HTTP_POST && r->method != MG_HTTP_DELETE) {
        refuse(r, 405, "Allow: POST, DELETE\r\n", RPC_INVALID_REQUEST,
               "method %s is not allowed here; use POST", r->method_name);
        return;
    }

    ex = mg_calloc(1, sizeof(mg_exchange_t));
    mg_buf_init(&ex->out, 0);
    ex->status = 200;
    ex->peer = mg_strdup(mg_http_peer(r));
    ex->started = mg_msec_mono();
    ex->refs = 1; /* the handler's own; calls in flight add theirs */

    if (authenticate(ex, r) == MG_OK && protocol_header(ex, r) == MG_OK) {
        log_add_string(r, "client", ex->client);
        log_add_string(r, "version", mg_mcp_revisions[ex->revision]);
        parse_accept(ex, r);

        if (r->method == MG_HTTP_DELETE) {
            handle_delete(ex, r);
        } else {
            handle_post(ex, r);
        }
    }

    exchange_unref(ex);
}

/* "2026-12-03T14:01:07": formatted once a second, not per line. */
static const char *
log_second(time_t sec)
{
    static char when[32];
    static time_t cached = -1;
    struct tm tm;

    if (sec != cached) {
        gmtime_r(&sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        cached = sec;
    }

    return when;
}

/*
 * One JSON line per request: who, what, how it ended.  No secrets.  The
 * line is built in one buffer kept from line to line; every part is
 * bounded (the path to LOG_VALUE_MAX bytes, the layers' members to 2 KiB).
 */
static mg_buf_t access_line;

static void
access_log(const mg_http_request_t *r)
{
    mg_buf_t *b = &access_line;
    const char *path = r->path ? r->path : "";
    uint64_t now = mg_msec_wall();
    char ms[4];

    ms[0] = '.';
    ms[1] = (char)('0' + now % 1000 / 100);
    ms[2] = (char)('0' + now % 100 / 10);
    ms[3] = (char)('0' + now % 10);

    b->len = 0;
    mg_buf_append_str(b, "{\"time\":\"");
    mg_buf_append_str(b, log_second((time_t)(now / 1000)));
    mg_buf_append(b, ms, sizeof(ms));
    mg_buf_append_str(b, "Z\",\"server\":\"");
    mg_buf_append_str(b, mg_http_listener_server(r->listener));
    mg_buf_append_str(b, "\",\"conn\":");
    mg_buf_append_uint(b, r->conn_id);
    mg_buf_append_str(b, ",\"req\":");
    mg_buf_append_uint(b, r->id);
    mg_buf_append_str(b, ",\"peer\":\"");
    mg_buf_append_str(b, mg_http_peer(r));
    mg_buf_append_str(b, "\",\"method\":\"");
    mg_buf_append_str(b, r->method_name);
    mg_buf_append_str(b, "\",\"path\":\"");
    mg_buf_append_json(b, path, strnlen(path, LOG_VALUE_MAX));
    mg_buf_append_str(b, "\",\"status\":");
    mg_buf_append_uint(b, (uint64_t)(r->status > 0 ? r->status : 0));
    mg_buf_append_str(b, ",\"ms\":");
    mg_buf_append_uint(b, mg_msec_mono() - r->start_ms);
    if (r->log_extra.len) {
        mg_buf_append(b, ",", 1);
        mg_buf_append(b, r->log_extra.data, r->log_extra.len);
    }
    mg_buf_append(b, "}\n", 2);

    if (write(access_fd, b->data, b->len) < 0) {
        mg_log(MG_LOG_ERR, "cannot write the access log: %s", strerror(errno));
    }
}

static int
access_log_open(mg_config_t *cf)
{
    char *path = mg_conf_resolve(cf->access_log);

    access_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (access_fd == -1) {
        mg_log(MG_LOG_EMERG, "cannot open access log \"%s\": %s", path,
               strerror(errno));
        free(path);
        return MG_ERROR;
    }

    free(path);
    mg_http_log_handler = access_log;

    return MG_OK;
}

int
mg_mcp_init(mg_config_t *cf)
{
    unsigned char key[64];
    mg_http_listener_t *l;
    char *path;
    long n;
    size_t i;

    mcp_conf = cf;

    path = mg_conf_resolve(cf->session_key_file);
    n = mg_key_file(path, cf->create_keys, key, sizeof(key));
    free(path);
    if (n < 32) {
        return MG_ERROR;
    }

    mg_session_set_key(key, (size_t)n);

    if (access_log_open(cf) != MG_OK) {
        return MG_ERROR;
    }

    for (i = 0; i < cf->nlisten; i++) {
        l = mg_http_listen(cf->listen[i], &cf->limits, mg_mcp_handler, NULL);
        if (l == NULL) {
            mg_log(MG_LOG_EMERG,
                   "cannot serve MCP on %s; change http.listen in %s, or "
                   "stop what is already listening there",
                   cf->listen[i], cf->file);
            return MG_ERROR;
        }
        mg_http_listener_set_server(l, "mcp");
        mg_log(MG_LOG_NOTICE, "MCP endpoint at http://%s%s", cf->listen[i],
               cf->mcp_path);
    }

    return MG_OK;
}

void
mg_mcp_stop_accepting(void)
{
    mg_http_stop_accepting(mg_mcp_handler);
}

size_t
mg_mcp_active_calls(void)
{
    mg_call_t *c;
    size_t n = 0;

    for (c = active_calls; c; c = c->next_active) {
        n++;
    }

    return n;
}

void
mg_mcp_shutdown(void)
{
    mg_session_reset();
    mg_http_log_handler = NULL;

    if (access_fd != -1) {
        close(access_fd);
        access_fd = -1;
    }

    mg_buf_free(&access_line);
}
