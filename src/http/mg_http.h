/*
 * The HTTP layer: listeners, connections and the one request model that
 * every protocol version shares.  HTTP/1.1 is parsed with Debian's
 * http-parser under our own connection handling; libevent drives I/O.
 */

#ifndef MG_HTTP_H
#define MG_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <mcpgw/http.h>
#include <mcpgw/mcpgw.h>

typedef struct mg_http_conn_s mg_http_conn_t;

typedef struct {
    char *name; /* lower-cased */
    char *value;
} mg_http_header_t;

typedef enum {
    MG_HTTP_OTHER = 0,
    MG_HTTP_GET,
    MG_HTTP_POST,
    MG_HTTP_DELETE,
    MG_HTTP_OPTIONS,
    MG_HTTP_HEAD,
    MG_HTTP_PUT,
    MG_HTTP_PATCH
} mg_http_method_e;

/* mg_http_listener_t, mg_http_handler_pt: <mcpgw/http.h>. */

struct mg_http_request_s {
    mg_http_conn_t *conn;
    mg_http_listener_t *listener;
    uint64_t id; /* unique per process, for logs */
    uint64_t conn_id;

    mg_http_method_e method;
    const char *method_name;
    char *target; /* as sent */
    char *path;   /* target without the query */
    char *query;  /* after '?', or NULL */
    int http_major;
    int http_minor;

    mg_http_header_t *headers;
    size_t nheaders;

    char *body; /* NUL-terminated copy; body_len excludes the NUL */
    size_t body_len;

    unsigned keep_alive : 1;
    unsigned responded : 1; /* a status line has gone out */
    unsigned streaming : 1; /* chunked response in progress */
    unsigned aborted : 1;   /* the connection went away */

    /* For the layer above (the MCP endpoint or a module). */
    void *data;

    /* For the access log: status sent, start time, the layer's fields. */
    int status;
    uint64_t start_ms;
    mg_buf_t log_extra; /* JSON members, "\"k\":v,...", maybe empty */

    /*
     * Called once if the connection closes before the response is
     * finished.  The request stays valid until the owner calls
     * mg_http_finalize() (or respond/stream_end, which are then no-ops
     * apart from freeing).
     */
    void (*on_abort)(mg_http_request_t *r);
};

/*
 * Limits and timeouts of one listener.  A zero takes the default shown,
 * except max_requests, where zero means unlimited.
 */
typedef struct {
    size_t max_header_size;        /* request line plus headers, 16 KiB */
    size_t max_body_size;          /* 1 MiB */
    unsigned header_timeout_ms;    /* from a request's first byte, 10 s */
    unsigned body_timeout_ms;      /* from the end of headers, 30 s */
    unsigned keepalive_timeout_ms; /* idle between requests, 75 s */
    unsigned max_requests;         /* per connection, 0 = unlimited */
    unsigned send_timeout_ms;      /* a stalled write closes, 60 s */
} mg_http_limits_t;

/*
 * Open a listener on "host:port" ("127.0.0.1:8787", "[::1]:8787").  The
 * handler is called once for every complete request; it must eventually
 * answer with mg_http_respond or the stream calls, possibly later from a
 * callback.  Requests on one connection are handled one at a time.
 */
mg_http_listener_t *mg_http_listen(const char *addr,
                                   const mg_http_limits_t *limits,
                                   mg_http_handler_pt handler, void *data);

/*
 * What the access log calls the listener's server: "mcp" for the MCP
 * endpoint, a module's name for the listeners it opens.
 */
void mg_http_listener_set_server(mg_http_listener_t *l, const char *name);
const char *mg_http_listener_server(const mg_http_listener_t *l);

void *mg_http_listener_data(const mg_http_listener_t *l);
const char *mg_http_listener_addr(const mg_http_listener_t *l);

/*
 * Stop accepting connections on the listeners of this handler; their
 * open connections go on.  For a graceful stop.
 */
void mg_http_stop_accepting(mg_http_handler_pt handler);

/* Close every listener and connection. */
void mg_http_shutdown(void);

/*
 * Header lookups (mg_http_header, _count, _nth), the peer, and
 * mg_http_respond are in the public API, <mcpgw/http.h>.
 */

/*
 * A JSON-RPC error response: {"jsonrpc":"2.0","id":<id_raw or null>,
 * "error":{"code":code,"message":message}} with the given HTTP status.
 */
void mg_http_respond_rpc_error(mg_http_request_t *r, int status,
                               const char *headers, const char *id_raw,
                               int code, const char *message);

/*
 * A streamed response (SSE): chunked on HTTP/1.1.  stream_send may be
 * called any number of times; stream_end finishes and frees the request.
 * Each returns MG_OK, or MG_ERROR if the connection is gone.
 */
int mg_http_stream_start(mg_http_request_t *r, int status, const char *ctype,
                         const char *headers);
int mg_http_stream_send(mg_http_request_t *r, const char *data, size_t len);
void mg_http_stream_end(mg_http_request_t *r);

/* Free a request whose connection was aborted, without answering. */
void mg_http_finalize(mg_http_request_t *r);

/*
 * Called once for every request when it is freed, answered or not (an
 * unanswered one has status 0): the access log.
 */
typedef void (*mg_http_log_pt)(const mg_http_request_t *r);
extern mg_http_log_pt mg_http_log_handler;

/* Add members to the request's access-log line (printf-style). */
void mg_http_log_add(mg_http_request_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Add "key":"value", the value's first max bytes JSON-escaped. */
void mg_http_log_add_string(mg_http_request_t *r, const char *key,
                            const char *value, size_t max);

/* Standard reason phrase for a status. */
const char *mg_http_status_text(int status);

#endif /* MG_HTTP_H */
