/*
 * mcpgw public upstream API: an asynchronous HTTP client on the gateway's
 * event loop (libcurl's multi interface underneath), and the reading of
 * Cloudflare's API envelope.
 *
 * Nothing here blocks.  Every outcome arrives through a callback run from
 * the event loop, never from inside the call that started the request.
 */

#ifndef MCPGW_UPSTREAM_H
#define MCPGW_UPSTREAM_H

#include <stddef.h>

#include <mcpgw/mcpgw.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mg_upstream_s mg_upstream_t;
typedef struct mg_upstream_req_s mg_upstream_req_t;

#define MG_UPSTREAM_CONNECT_TIMEOUT 5000           /* ms */
#define MG_UPSTREAM_TIMEOUT 30000                  /* ms */
#define MG_UPSTREAM_MAX_RESPONSE (8 * 1024 * 1024) /* bytes */

typedef struct {
    /* "https://api.cloudflare.com/client/v4"; http and https only. */
    const char *base_url;
    unsigned connect_timeout_ms; /* 0: MG_UPSTREAM_CONNECT_TIMEOUT */
    unsigned timeout_ms;         /* whole request, retry included; 0: default */
    const char *ca_file;         /* CA bundle (PEM); NULL: the system's */
    size_t max_response_size;    /* body ceiling; 0: MG_UPSTREAM_MAX_RESPONSE */
    const char *user_agent;      /* NULL: "mcpgw/" MG_VERSION */
} mg_upstream_conf_t;

typedef enum {
    MG_UP_OK = 0,    /* an HTTP response arrived, whatever its status */
    MG_UP_CONNECT,   /* no connection: name resolution, refused, ... */
    MG_UP_TIMEOUT,   /* connect or total timeout */
    MG_UP_TLS,       /* handshake or certificate verification failed */
    MG_UP_SEND,      /* the connection failed while sending */
    MG_UP_RECV,      /* it failed or closed before a whole response */
    MG_UP_TOO_LARGE, /* the body would exceed max_response_size */
    MG_UP_OTHER
} mg_upstream_error_e;

typedef struct {
    mg_upstream_error_e error;
    /*
     * What went wrong, for a user: names the upstream and the cause
     * ("could not connect to https://...: Connection refused").  Empty
     * when error is MG_UP_OK, never NULL, never holds the bearer token.
     */
    const char *error_text;
    /*
     * 1 when the request may have reached the server, so a write may have
     * taken effect; 0 only when it surely did not (no connection, TLS
     * refused).  Always 1 when a response arrived.
     */
    int sent;
    long status; /* HTTP status; 0 when no response head arrived */
    /* NUL-terminated; "" (length 0) when error is not MG_UP_OK. */
    const char *body;
    size_t body_len;
    const char *content_type; /* NULL when absent or on error */
    long retry_after;         /* seconds from Retry-After, -1 if none */
    double total_ms;          /* from mg_upstream_request to now */
    int retried;              /* 1 if an idempotent read was sent twice */
} mg_upstream_response_t;

/*
 * Called once per request that is neither cancelled nor destroyed, from
 * the event loop.  res and everything it points to live until the
 * callback returns: copy what you keep.  The callback may start new
 * requests, cancel others, or destroy the upstream.
 */
typedef void (*mg_upstream_done_pt)(const mg_upstream_response_t *res,
                                    void *arg);

/*
 * A client for one base URL, with its own connection pool (HTTP/2 when
 * the server offers it over TLS, kept-alive HTTP/1.1 otherwise).  TLS
 * certificates and host names are always verified; libcurl's proxy
 * environment variables (https_proxy, no_proxy) apply.  Needs the event
 * loop, so call it from a module's init, not its configure.  Returns
 * NULL, with the reason in err (when errlen > 0), for a bad base URL, an
 * unreadable ca_file, or no event loop.
 */
mg_upstream_t *mg_upstream_create(const mg_upstream_conf_t *conf, char *err,
                                  size_t errlen);

/*
 * Cancel every request in flight (their callbacks are not called), close
 * the pooled connections and free u.  NULL is a no-op.  Allowed inside an
 * upstream callback; u must not be used afterwards.  Call it before the
 * event loop is freed.
 */
void mg_upstream_destroy(mg_upstream_t *u);

/* mg_upstream_request flags. */

/*
 * The request is a read that may be repeated: a GET that failed on its
 * connection before any byte of a response arrived (closed, reset) is
 * sent once more, within the same total timeout; a refused connection
 * is not (nothing listens).  Ignored for any method but GET.  Nothing
 * else is ever retried.
 */
#define MG_UP_IDEMPOTENT 0x01

/*
 * Start a request for base_url + path_query (path_query starts with '/').
 * method is GET, POST, PUT, PATCH or DELETE.  bearer, when neither NULL
 * nor empty, goes out as "Authorization: Bearer <bearer>" and nowhere
 * else: not in any log, not in error_text.  json_body (NULL: none; not
 * allowed with GET) is copied and sent as application/json.
 *
 * Writes (every method but GET) always go out on a connection of their
 * own, so that a pooled connection found closed is never silently
 * replayed with them.
 *
 * Returns a handle valid until done is called or the request is
 * cancelled, or NULL (logged, nothing sent, done never called) when an
 * argument is invalid.  done is never called before this returns.
 */
mg_upstream_req_t *mg_upstream_request(mg_upstream_t *u, const char *method,
                                       const char *path_query,
                                       const char *bearer,
                                       const char *json_body, unsigned flags,
                                       mg_upstream_done_pt done, void *arg);

/*
 * Abandon a request in flight: its callback will not be called.  A write
 * that was already sent may still take effect upstream, so callers that
 * must know a write's outcome wait for the callback instead.  A no-op
 * when called from the request's own callback; req must not be used
 * after its callback returned.
 */
void mg_upstream_cancel(mg_upstream_req_t *req);

/* ------------------------------------------------------------------ */
/* Cloudflare's API envelope: {success, errors, messages, result,      */
/* result_info}.                                                        */

typedef enum {
    MG_CF_OK = 0,
    MG_CF_TRANSPORT,    /* no HTTP response; see the response's sent */
    MG_CF_RATE_LIMITED, /* HTTP 429; retry_after when known */
    MG_CF_API,          /* a well-formed refusal: success is false */
    MG_CF_BAD_RESPONSE  /* no usable envelope: empty, truncated, not JSON,
                           no boolean success, or success with an error
                           status */
} mg_cf_kind_e;

typedef struct {
    int ok;            /* 1: success is true and the status is 2xx */
    mg_cf_kind_e kind; /* why not ok */
    /*
     * 1 when a write may or may not have taken effect: it may have been
     * sent and no trustworthy answer came back (transport failure after
     * sending, a bad response, an HTTP 5xx).  The caller reconciles
     * (looks the object up) instead of repeating the write blindly.
     */
    int ambiguous;
    long status;      /* HTTP status, 0 when none */
    long retry_after; /* seconds from Retry-After, -1 if none */
    int cf_code;      /* code of the first of errors[], 0 when none */
    cJSON *root;      /* the parsed body, owned; NULL when not JSON */
    /*
     * Members of root, or NULL when absent or null: the caller may detach
     * them with cJSON_DetachItemViaPointer(root, ...).
     */
    cJSON *result;
    cJSON *result_info;
    cJSON *errors;
    /*
     * Empty when ok.  Otherwise one line a user can act on, never holding
     * the bearer: "Cloudflare error 10000: Authentication error (HTTP
     * 403)", "empty response body (HTTP 200) from Cloudflare: treated as a
     * failure", or the transport's error_text.
     */
    char message[512];
} mg_cf_envelope_t;

/*
 * Read a response as a Cloudflare API envelope.  Success needs a 2xx
 * status and a body that passes the gateway's strict JSON check and holds
 * "success": true.  success:false is a failure whatever the status; an
 * empty, truncated or non-JSON body never counts as success.  A success
 * without "result" (or with null) is still ok, with result NULL: only the
 * caller knows whether it needed one.
 *
 * Always fills env; returns MG_OK when env->ok, MG_ERROR otherwise.  Call
 * mg_cf_envelope_free afterwards either way.
 */
int mg_cf_envelope_parse(const mg_upstream_response_t *res,
                         mg_cf_envelope_t *env);

/* Free what env holds; safe to call twice. */
void mg_cf_envelope_free(mg_cf_envelope_t *env);

/*
 * The page to ask for after page `page` (counted from 1), whose answer
 * carried result_info; 0 when that was the last page.  Uses total_pages
 * when present, else total_count and per_page, else whether the page
 * came back full; an empty page is always the last.  -1 when
 * result_info is missing, malformed or names another page: the caller
 * cannot tell whether the listing is complete.
 */
int mg_cf_next_page(const cJSON *result_info, int page);

#ifdef __cplusplus
}
#endif

#endif /* MCPGW_UPSTREAM_H */
