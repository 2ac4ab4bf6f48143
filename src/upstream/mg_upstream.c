/*
 * The upstream HTTP client: libcurl's multi interface driven by the
 * gateway's libevent loop.
 *
 * libcurl says which sockets to watch (socket_cb) and when to wake it
 * (timer_cb); libevent calls back into curl_multi_socket_action when a
 * socket is ready or the timer fires; collect_done then hands finished
 * transfers to their callbacks.  One multi handle per upstream keeps the
 * connection pool, so consecutive requests reuse connections (and share
 * one HTTP/2 connection when the server offers h2).
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "mg_core.h"
#include "mg_curl.h"

#include <mcpgw/upstream.h>

#define MAX_PATH_QUERY 8192
#define MAX_BEARER 4096
#define MAX_LOG_PATH 200

/*
 * A retry with less time left than this would only turn a clear failure
 * into a timeout.
 */
#define MIN_RETRY_BUDGET 50

/*
 * Easy handles an upstream keeps for its next requests.  Creating and
 * freeing one per request cost libcurl more than the request's own
 * options; more than this many idle ones are freed.
 */
#define MAX_IDLE_HANDLES 16

/*
 * Connections, busy or idle, libcurl keeps per upstream.  Its default,
 * four per transfer in flight, shrinks as soon as a burst is over and
 * closes kept-alive connections the next burst opens again.
 */
#define MAX_CONNECTS 64

/* Accept, Expect, Content-Type, Authorization: the most a request sends. */
#define MAX_HEADERS 4

/* Set one option unless an earlier one failed; the first failure stays. */
#define SETOPT(rc, e, opt, val)                                                \
    do {                                                                       \
        if ((rc) == CURLE_OK) {                                                \
            (rc) = mg_curl.easy_setopt((e), (opt), (val));                     \
        }                                                                      \
    } while (0)

typedef struct up_sock_s up_sock_t;

/* A socket libcurl asked us to watch. */
struct up_sock_s {
    mg_upstream_t *u;
    struct event *ev;
    up_sock_t *prev;
    up_sock_t *next;
};

struct mg_upstream_s {
    CURLM *multi;
    struct event_base *base;
    struct event *timer;
    char *base_url; /* without trailing slashes; holds no credentials */
    char *ca_file;
    char *user_agent;
    unsigned connect_timeout_ms;
    unsigned timeout_ms;
    size_t max_response;
    mg_upstream_req_t *reqs; /* in flight */
    up_sock_t *socks;        /* watched */
    CURL *idle[MAX_IDLE_HANDLES];
    unsigned nidle;
    unsigned dispatching : 1;
    unsigned closing : 1;
};

struct mg_upstream_req_s {
    mg_upstream_t *u;
    CURL *easy;
    /*
     * The header list libcurl reads, in the request itself: no
     * allocation per line, and nothing for libcurl to free.
     */
    struct curl_slist headers[MAX_HEADERS];
    char *auth; /* "Authorization: Bearer ...", wiped before it is freed */
    mg_upstream_done_pt done;
    void *arg;
    char method[8];
    char *log_path; /* the path without its query, for the log */
    unsigned idempotent : 1;
    unsigned retried : 1;
    unsigned too_large : 1;
    unsigned finished : 1; /* out of the list, its callback runs */
    unsigned dirty : 1;    /* easy holds options of a write */
    unsigned failed : 1;   /* a transfer on easy failed: it is not kept */
    long retry_after;
    uint64_t start;
    uint64_t log_conn; /* the log context of whoever started it */
    uint64_t log_req;
    mg_buf_t body;
    char curl_err[CURL_ERROR_SIZE];
    char err_text[512];
    mg_upstream_req_t *prev;
    mg_upstream_req_t *next;
};

static unsigned curl_users;

static const char *const methods[] = {
    "GET", "POST", "PUT", "PATCH", "DELETE", NULL,
};

static void collect_done(mg_upstream_t *u);
static size_t header_cb(char *p, size_t size, size_t n, void *arg);
static size_t write_cb(char *p, size_t size, size_t n, void *arg);

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* libcurl's global state is shared by every upstream in the process. */
static int
curl_acquire(char *err, size_t errlen)
{
    CURLcode rc;

    if (curl_users == 0) {
        if (mg_curl_load(err, errlen) != MG_OK) {
            return MG_ERROR;
        }

        rc = mg_curl.global_init(CURL_GLOBAL_DEFAULT);
        if (rc != CURLE_OK) {
            set_err(err, errlen, "libcurl initialisation failed: %s",
                    mg_curl.easy_strerror(rc));
            return MG_ERROR;
        }
    }

    curl_users++;

    return MG_OK;
}

static void
curl_release(void)
{
    curl_users--;

    if (curl_users == 0) {
        mg_curl.global_cleanup();
    }
}

/* ------------------------------------------------------------------ */
/* The event loop glue.                                                */

static void
sock_free(mg_upstream_t *u, up_sock_t *s)
{
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        u->socks = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }

    if (s->ev) {
        event_free(s->ev);
    }
    free(s);
}

static void
socket_fire(evutil_socket_t fd, short what, void *arg)
{
    up_sock_t *s = arg;
    mg_upstream_t *u = s->u;
    int flags = 0;
    int running;

    if (what & EV_READ) {
        flags |= CURL_CSELECT_IN;
    }
    if (what & EV_WRITE) {
        flags |= CURL_CSELECT_OUT;
    }

    /* s may be freed inside: only u is used afterwards. */
    mg_curl.multi_socket_action(u->multi, fd, flags, &running);

    collect_done(u);
}

static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
    mg_upstream_t *u = arg;
    up_sock_t *s = sockp;
    short kind = EV_PERSIST;

    if (what == CURL_POLL_REMOVE) {
        if (s) {
            sock_free(u, s);
        }
        return 0;
    }

    if (s == NULL) {
        s = mg_calloc(1, sizeof(up_sock_t));
        s->u = u;
        s->next = u->socks;
        if (u->socks) {
            u->socks->prev = s;
        }
        u->socks = s;
        mg_curl.multi_assign(u->multi, fd, s);
    }

    if (s->ev) {
        event_free(s->ev);
    }

    if (what & CURL_POLL_IN) {
        kind |= EV_READ;
    }
    if (what & CURL_POLL_OUT) {
        kind |= EV_WRITE;
    }

    s->ev = event_new(u->base, fd, kind, socket_fire, s);
    if (s->ev == NULL || event_add(s->ev, NULL) != 0) {
        mg_log(MG_LOG_ALERT, "upstream: cannot watch a socket of %s",
               u->base_url);
        return -1;
    }

    return 0;
}

static void
timer_fire(evutil_socket_t fd, short what, void *arg)
{
    mg_upstream_t *u = arg;
    int running;

    mg_curl.multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);

    collect_done(u);
}

/*
 * libcurl must not be re-entered from here, so even "now" (0) goes
 * through the loop.
 */
static int
timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
    mg_upstream_t *u = arg;
    struct timeval tv;

    if (timeout_ms < 0) {
        evtimer_del(u->timer);
        return 0;
    }

    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;

    return evtimer_add(u->timer, &tv) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Creating and destroying an upstream.                                */

/*
 * The base URL ends up in error messages and logs, so it may not carry
 * credentials; the API is authenticated by the bearer token instead.
 */
static int
check_base_url(const char *url, char *err, size_t errlen)
{
    CURLU *h;
    CURLUcode rc;
    char *scheme = NULL;
    char *user = NULL;
    char *query = NULL;
    char *fragment = NULL;
    int result = MG_ERROR;

    h = mg_curl.url();
    if (h == NULL) {
        set_err(err, errlen, "out of memory parsing base_url");
        return MG_ERROR;
    }

    rc = mg_curl.url_set(h, CURLUPART_URL, url, 0);
    if (rc != CURLUE_OK) {
        set_err(err, errlen, "base_url is not a valid URL: %s",
                mg_curl.url_strerror(rc));
        goto out;
    }

    mg_curl.url_get(h, CURLUPART_SCHEME, &scheme, 0);
    mg_curl.url_get(h, CURLUPART_USER, &user, 0);
    mg_curl.url_get(h, CURLUPART_QUERY, &query, 0);
    mg_curl.url_get(h, CURLUPART_FRAGMENT, &fragment, 0);

    if (scheme == NULL ||
        (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)) {
        set_err(err, errlen, "base_url must start with https:// or http://");
    } else if (user) {
        set_err(err, errlen,
                "base_url must not hold user:password@: the upstream is "
                "authenticated with the bearer token");
    } else if (query || fragment) {
        set_err(err, errlen, "base_url must not hold a query or fragment");
    } else {
        result = MG_OK;
    }

out:

    mg_curl.free(scheme);
    mg_curl.free(user);
    mg_curl.free(query);
    mg_curl.free(fragment);
    mg_curl.url_cleanup(h);

    return result;
}

static int
check_conf(const mg_upstream_conf_t *conf, char *err, size_t errlen)
{
    if (mg_event_base() == NULL) {
        set_err(err, errlen,
                "upstream created before the event loop exists: create it "
                "in a module's init, not its configure");
        return MG_ERROR;
    }

    if (conf == NULL || conf->base_url == NULL || conf->base_url[0] == '\0') {
        set_err(err, errlen, "upstream needs a base_url");
        return MG_ERROR;
    }

    if (check_base_url(conf->base_url, err, errlen) != MG_OK) {
        return MG_ERROR;
    }

    if (conf->ca_file && access(conf->ca_file, R_OK) != 0) {
        set_err(err, errlen, "ca_file \"%s\" cannot be read: %s", conf->ca_file,
                strerror(errno));
        return MG_ERROR;
    }

    return MG_OK;
}

static void
upstream_free(mg_upstream_t *u)
{
    while (u->nidle > 0) {
        mg_curl.easy_cleanup(u->idle[--u->nidle]);
    }

    /* Closes the pooled connections; their sockets are let go below. */
    if (u->multi) {
        mg_curl.multi_cleanup(u->multi);
    }

    while (u->socks) {
        sock_free(u, u->socks);
    }

    if (u->timer) {
        event_free(u->timer);
    }

    free(u->base_url);
    free(u->ca_file);
    free(u->user_agent);
    free(u);

    curl_release();
}

static void
upstream_conf_copy(mg_upstream_t *u, const mg_upstream_conf_t *conf)
{
    size_t len = strlen(conf->base_url);

    while (len > 0 && conf->base_url[len - 1] == '/') {
        len--;
    }
    u->base_url = mg_strndup(conf->base_url, len);

    u->ca_file = conf->ca_file ? mg_strdup(conf->ca_file) : NULL;
    u->user_agent =
        mg_strdup(conf->user_agent ? conf->user_agent : "mcpgw/" MG_VERSION);

    u->connect_timeout_ms = conf->connect_timeout_ms
                                ? conf->connect_timeout_ms
                                : MG_UPSTREAM_CONNECT_TIMEOUT;
    u->timeout_ms = conf->timeout_ms ? conf->timeout_ms : MG_UPSTREAM_TIMEOUT;
    u->max_response = conf->max_response_size ? conf->max_response_size
                                              : MG_UPSTREAM_MAX_RESPONSE;
}

mg_upstream_t *
mg_upstream_create(const mg_upstream_conf_t *conf, char *err, size_t errlen)
{
    mg_upstream_t *u;
    CURLMcode rc = CURLM_OK;

    if (curl_acquire(err, errlen) != MG_OK) {
        return NULL;
    }

    if (check_conf(conf, err, errlen) != MG_OK) {
        curl_release();
        return NULL;
    }

    u = mg_calloc(1, sizeof(mg_upstream_t));
    u->base = mg_event_base();
    upstream_conf_copy(u, conf);

    u->timer = evtimer_new(u->base, timer_fire, u);
    u->multi = mg_curl.multi_init();
    if (u->timer == NULL || u->multi == NULL) {
        set_err(err, errlen, "out of memory creating upstream %s", u->base_url);
        upstream_free(u);
        return NULL;
    }

    rc = mg_curl.multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    if (rc == CURLM_OK) {
        rc = mg_curl.multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    }
    if (rc == CURLM_OK) {
        rc = mg_curl.multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    }
    if (rc == CURLM_OK) {
        rc = mg_curl.multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    }
    if (rc == CURLM_OK) {
        rc = mg_curl.multi_setopt(u->multi, CURLMOPT_PIPELINING,
                                  CURLPIPE_MULTIPLEX);
    }
    if (rc == CURLM_OK) {
        rc = mg_curl.multi_setopt(u->multi, CURLMOPT_MAXCONNECTS,
                                  (long)MAX_CONNECTS);
    }
    if (rc != CURLM_OK) {
        set_err(err, errlen, "libcurl refused the upstream settings: %s",
                mg_curl.multi_strerror(rc));
        upstream_free(u);
        return NULL;
    }

    mg_log(MG_LOG_INFO,
           "upstream: %s (connect timeout %u ms, timeout %u ms, "
           "max response %zu bytes, CA bundle %s)",
           u->base_url, u->connect_timeout_ms, u->timeout_ms, u->max_response,
           u->ca_file ? u->ca_file : "of the system");

    return u;
}

/* ------------------------------------------------------------------ */
/* Easy handles, kept from one request to the next.                    */

/* What every request of u asks for: set once per handle. */
static CURLcode
set_constant(const mg_upstream_t *u, CURL *e)
{
    CURLcode rc = CURLE_OK;

    SETOPT(rc, e, CURLOPT_NOSIGNAL, 1L);
    SETOPT(rc, e, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(rc, e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /*
     * Over TLS, wait for a connection that may turn out to multiplex
     * (h2) instead of opening more.  Plain http is HTTP/1.1 here, where
     * waiting would only queue a request behind a slow one.
     */
    if (strncmp(u->base_url, "https:", 6) == 0) {
        SETOPT(rc, e, CURLOPT_PIPEWAIT, 1L);
    }
    SETOPT(rc, e, CURLOPT_CONNECTTIMEOUT_MS, (long)u->connect_timeout_ms);
    SETOPT(rc, e, CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(rc, e, CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(rc, e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (u->ca_file) {
        SETOPT(rc, e, CURLOPT_CAINFO, u->ca_file);
    }
    SETOPT(rc, e, CURLOPT_USERAGENT, u->user_agent);
    /* A declared length over the ceiling fails before any byte is read. */
    SETOPT(rc, e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)u->max_response);
    SETOPT(rc, e, CURLOPT_WRITEFUNCTION, write_cb);
    SETOPT(rc, e, CURLOPT_HEADERFUNCTION, header_cb);

    return rc;
}

/* An idle handle of u, or a new one with the constant options. */
static CURLcode
easy_get(mg_upstream_t *u, CURL **easy)
{
    CURL *e;
    CURLcode rc;

    if (u->nidle > 0) {
        *easy = u->idle[--u->nidle];
        return CURLE_OK;
    }

    e = mg_curl.easy_init();
    if (e == NULL) {
        return CURLE_OUT_OF_MEMORY;
    }

    rc = set_constant(u, e);
    if (rc != CURLE_OK) {
        mg_curl.easy_cleanup(e);
        return rc;
    }

    *easy = e;

    return CURLE_OK;
}

/*
 * Keep a handle, out of the multi handle, for the next request of u.
 * Nothing of the last request may stay: a write's method, body and
 * FRESH_CONNECT go with a reset; after a GET, which set nothing but
 * what every request sets again, only the pointers into the request
 * about to be freed are cleared.  A handle whose transfer failed is
 * freed: libcurl before 8.8 keeps the errno of that failure, which a
 * later failure that sets none would report as its own (not even
 * curl_easy_reset clears it).
 */
static void
easy_put(mg_upstream_t *u, CURL *e, int dirty, int failed)
{
    CURLcode rc = CURLE_OK;

    if (u->closing || failed || u->nidle == MAX_IDLE_HANDLES) {
        mg_curl.easy_cleanup(e);
        return;
    }

    if (dirty) {
        mg_curl.easy_reset(e);
        rc = set_constant(u, e);
    } else {
        SETOPT(rc, e, CURLOPT_PRIVATE, NULL);
        SETOPT(rc, e, CURLOPT_ERRORBUFFER, NULL);
        SETOPT(rc, e, CURLOPT_HTTPHEADER, NULL);
        SETOPT(rc, e, CURLOPT_WRITEDATA, NULL);
        SETOPT(rc, e, CURLOPT_HEADERDATA, NULL);
    }

    if (rc != CURLE_OK) {
        mg_curl.easy_cleanup(e);
        return;
    }

    u->idle[u->nidle++] = e;
}

static void
req_unlink(mg_upstream_req_t *r)
{
    mg_upstream_t *u = r->u;

    if (r->prev) {
        r->prev->next = r->next;
    } else {
        u->reqs = r->next;
    }
    if (r->next) {
        r->next->prev = r->prev;
    }

    r->prev = NULL;
    r->next = NULL;
}

static void
req_free(mg_upstream_req_t *r)
{
    if (r->easy) {
        easy_put(r->u, r->easy, r->dirty, r->failed);
    }

    /* The bearer token lives in this line only: wipe it there too. */
    if (r->auth) {
        OPENSSL_cleanse(r->auth, strlen(r->auth));
        free(r->auth);
    }
    mg_buf_free(&r->body);
    free(r->log_path);
    free(r);
}

/* Take a request out of the upstream without calling its callback. */
static void
req_abandon(mg_upstream_req_t *r)
{
    req_unlink(r);
    mg_curl.multi_remove_handle(r->u->multi, r->easy);
    req_free(r);
}

void
mg_upstream_destroy(mg_upstream_t *u)
{
    if (u == NULL || u->closing) {
        return;
    }

    u->closing = 1;

    while (u->reqs) {
        req_abandon(u->reqs);
    }

    /* Inside a callback collect_done still reads the multi handle. */
    if (u->dispatching) {
        return;
    }

    upstream_free(u);
}

void
mg_upstream_cancel(mg_upstream_req_t *req)
{
    if (req == NULL || req->finished) {
        return;
    }

    mg_log(MG_LOG_DEBUG, "upstream: %s %.*s cancelled", req->method,
           MAX_LOG_PATH, req->log_path);

    req_abandon(req);
}

/* ------------------------------------------------------------------ */
/* Starting a request.                                                 */

/* Printable ASCII without space: what may go into a URL or header. */
static int
is_token_text(const char *s, size_t max)
{
    size_t i;

    for (i = 0; s[i]; i++) {
        if (i >= max || (unsigned char)s[i] <= 0x20 ||
            (unsigned char)s[i] >= 0x7f) {
            return 0;
        }
    }

    return 1;
}

static int
check_request(const mg_upstream_t *u, const char *method,
              const char *path_query, const char *bearer, const char *json_body,
              mg_upstream_done_pt done)
{
    size_t i;

    if (u == NULL || u->closing || done == NULL || method == NULL) {
        mg_log(MG_LOG_ERR,
               "upstream: request without a method or a callback, or on "
               "an upstream that is missing or being destroyed: refused");
        return MG_ERROR;
    }

    for (i = 0; methods[i]; i++) {
        if (strcmp(method, methods[i]) == 0) {
            break;
        }
    }
    if (methods[i] == NULL) {
        mg_log(MG_LOG_ERR,
               "upstream: method \"%.16s\" is not one of GET, "
               "POST, PUT, PATCH, DELETE: refused",
               method);
        return MG_ERROR;
    }

    if (path_query == NULL || path_query[0] != '/' ||
        !is_token_text(path_query, MAX_PATH_QUERY)) {
        mg_log(MG_LOG_ERR,
               "upstream: %s request path must start with '/' "
               "and be printable ASCII without spaces, at most "
               "%d bytes: refused",
               method, MAX_PATH_QUERY);
        return MG_ERROR;
    }

    /* A line break in the token would let it add headers of its own. */
    if (bearer && !is_token_text(bearer, MAX_BEARER)) {
        mg_log(MG_LOG_ERR,
               "upstream: %s %.*s: the bearer token holds a "
               "space, a control or non-ASCII byte, or is too "
               "long: refused",
               method, MAX_LOG_PATH, path_query);
        return MG_ERROR;
    }

    if (json_body && strcmp(method, "GET") == 0) {
        mg_log(MG_LOG_ERR, "upstream: GET %.*s with a body: refused",
               MAX_LOG_PATH, path_query);
        return MG_ERROR;
    }

    return MG_OK;
}

/* The header lines every request shares; libcurl only reads them. */
static char accept_json[] = "Accept: application/json";
/* 100-continue costs a round trip, or a second if unanswered. */
static char no_expect[] = "Expect:";
static char type_json[] = "Content-Type: application/json";
/* Without a body, "Content-Type:" drops libcurl's form default. */
static char type_none[] = "Content-Type:";

static void
add_header(mg_upstream_req_t *r, size_t *n, char *line)
{
    r->headers[*n].data = line;
    r->headers[*n].next = NULL;
    if (*n > 0) {
        r->headers[*n - 1].next = &r->headers[*n];
    }

    (*n)++;
}

static void
build_headers(mg_upstream_req_t *r, const char *bearer, int has_body)
{
    static const char prefix[] = "Authorization: Bearer ";
    size_t n = 0;
    size_t len;

    add_header(r, &n, accept_json);
    add_header(r, &n, no_expect);

    if (strcmp(r->method, "GET") != 0) {
        add_header(r, &n, has_body ? type_json : type_none);
    }

    if (bearer == NULL || bearer[0] == '\0') {
        return;
    }

    len = strlen(bearer);
    r->auth = mg_alloc(sizeof(prefix) + len);
    memcpy(r->auth, prefix, sizeof(prefix) - 1);
    memcpy(r->auth + sizeof(prefix) - 1, bearer, len + 1);

    add_header(r, &n, r->auth);
}

/* What is this request's own; easy_put clears or resets it afterwards. */
static CURLcode
set_exchange(mg_upstream_req_t *r, const char *path_query,
             const char *json_body)
{
    mg_upstream_t *u = r->u;
    CURL *e = r->easy;
    CURLcode rc = CURLE_OK;
    const char *body = json_body ? json_body : "";
    char *url;
    size_t blen = strlen(u->base_url);
    size_t plen = strlen(path_query);

    SETOPT(rc, e, CURLOPT_PRIVATE, r);
    SETOPT(rc, e, CURLOPT_ERRORBUFFER, r->curl_err);
    SETOPT(rc, e, CURLOPT_TIMEOUT_MS, (long)u->timeout_ms);

    url = mg_alloc(blen + plen + 1);
    memcpy(url, u->base_url, blen);
    memcpy(url + blen, path_query, plen + 1);
    SETOPT(rc, e, CURLOPT_URL, url);
    free(url);

    SETOPT(rc, e, CURLOPT_HTTPHEADER, r->headers);
    SETOPT(rc, e, CURLOPT_WRITEDATA, r);
    SETOPT(rc, e, CURLOPT_HEADERDATA, r);

    if (strcmp(r->method, "GET") == 0) {
        SETOPT(rc, e, CURLOPT_HTTPGET, 1L);
        return rc;
    }

    /* From here on the handle needs a reset before it serves again. */
    r->dirty = 1;

    SETOPT(rc, e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    SETOPT(rc, e, CURLOPT_COPYPOSTFIELDS, body);
    if (strcmp(r->method, "POST") != 0) {
        SETOPT(rc, e, CURLOPT_CUSTOMREQUEST, r->method);
    }

    /*
     * libcurl silently sends a request again when the pooled connection
     * it used turns out closed.  A write may have been read by then, so
     * it gets a new connection, whose failure is reported, not replayed.
     */
    SETOPT(rc, e, CURLOPT_FRESH_CONNECT, 1L);

    return rc;
}

mg_upstream_req_t *
mg_upstream_request(mg_upstream_t *u, const char *method,
                    const char *path_query, const char *bearer,
                    const char *json_body, unsigned flags,
                    mg_upstream_done_pt done, void *arg)
{
    mg_upstream_req_t *r;
    CURLcode rc;

    if (check_request(u, method, path_query, bearer, json_body, done) !=
        MG_OK) {
        return NULL;
    }

    r = mg_calloc(1, sizeof(mg_upstream_req_t));
    r->u = u;
    r->done = done;
    r->arg = arg;
    /* One of the five check_request let through: it fits. */
    memcpy(r->method, method, strlen(method) + 1);
    r->log_path = mg_strndup(path_query, strcspn(path_query, "?"));
    r->idempotent = (flags & MG_UP_IDEMPOTENT) && strcmp(method, "GET") == 0;
    r->retry_after = -1;
    r->start = mg_msec_mono();
    r->log_conn = mg_log_ctx.conn;
    r->log_req = mg_log_ctx.req;
    mg_buf_init(&r->body, u->max_response);

    build_headers(r, bearer, json_body != NULL);

    rc = easy_get(u, &r->easy);
    if (rc == CURLE_OK) {
        rc = set_exchange(r, path_query, json_body);
    }
    if (rc != CURLE_OK) {
        mg_log(MG_LOG_ALERT, "upstream: %s %.*s: libcurl refused an option: %s",
               method, MAX_LOG_PATH, r->log_path, mg_curl.easy_strerror(rc));
        req_free(r);
        return NULL;
    }

    /* This only arms the timer: the transfer starts from the loop. */
    if (mg_curl.multi_add_handle(u->multi, r->easy) != CURLM_OK) {
        mg_log(MG_LOG_ALERT, "upstream: %s %.*s: libcurl refused the request",
               method, MAX_LOG_PATH, r->log_path);
        req_free(r);
        return NULL;
    }

    r->next = u->reqs;
    if (u->reqs) {
        u->reqs->prev = r;
    }
    u->reqs = r;

    return r;
}

/* ------------------------------------------------------------------ */
/* Receiving.                                                          */

/*
 * Copy the value of header `name` from one header line into out, trimmed.
 * MG_DECLINED when the line is another header, MG_ERROR when the value
 * does not fit.
 */
static int
header_value(const char *p, size_t len, const char *name, char *out,
             size_t outlen)
{
    size_t nlen = strlen(name);
    size_t i, end;

    if (len <= nlen || strncasecmp(p, name, nlen) != 0 || p[nlen] != ':') {
        return MG_DECLINED;
    }

    for (i = nlen + 1; i < len && (p[i] == ' ' || p[i] == '\t'); i++) {
        /* skip the blanks before the value */
    }

    end = len;
    while (end > i && (p[end - 1] == '\r' || p[end - 1] == '\n' ||
                       p[end - 1] == ' ' || p[end - 1] == '\t')) {
        end--;
    }

    if (end - i >= outlen) {
        return MG_ERROR;
    }

    memcpy(out, p + i, end - i);
    out[end - i] = '\0';

    return MG_OK;
}

/* Retry-After holds seconds or an HTTP date; -1 when it holds neither. */
static long
parse_retry_after(const char *value)
{
    size_t i;
    time_t when, now;

    for (i = 0; value[i] >= '0' && value[i] <= '9'; i++) {
        /* count the digits */
    }

    if (i > 0 && value[i] == '\0') {
        return i > 9 ? -1 : strtol(value, NULL, 10);
    }

    when = mg_curl.getdate(value, NULL);
    if (when < 0) {
        return -1;
    }

    now = time(NULL);

    return when > now ? (long)(when - now) : 0;
}

static size_t
header_cb(char *p, size_t size, size_t n, void *arg)
{
    mg_upstream_req_t *r = arg;
    size_t len = size * n;
    char value[64];

    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new response head (after a 1xx): the last one's is void. */
        r->retry_after = -1;
        return len;
    }

    if (header_value(p, len, "retry-after", value, sizeof(value)) == MG_OK) {
        r->retry_after = parse_retry_after(value);
    }

    return len;
}

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
    mg_upstream_req_t *r = arg;
    size_t len = size * n;

    if (mg_buf_append(&r->body, p, len) != MG_OK) {
        /* libcurl ends the transfer with CURLE_WRITE_ERROR. */
        r->too_large = 1;
        return 0;
    }

    return len;
}

/* ------------------------------------------------------------------ */
/* Finishing a request.                                                */

static mg_upstream_error_e
classify(const mg_upstream_req_t *r, CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return MG_UP_OK;

    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return MG_UP_CONNECT;

    case CURLE_OPERATION_TIMEDOUT:
        return MG_UP_TIMEOUT;

    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
        return MG_UP_TLS;

    case CURLE_SEND_ERROR:
        return MG_UP_SEND;

    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
        return MG_UP_RECV;

    case CURLE_FILESIZE_EXCEEDED:
        return MG_UP_TOO_LARGE;

    case CURLE_WRITE_ERROR:
        return r->too_large ? MG_UP_TOO_LARGE : MG_UP_OTHER;

    default:
        return MG_UP_OTHER;
    }
}

/*
 * 0 only when the request surely never left: no connection, or TLS never
 * completed.  A timeout before the transfer phase began (pretransfer
 * time still 0) sent nothing either.
 */
static int
may_have_sent(const mg_upstream_req_t *r, CURLcode rc, long status)
{
    curl_off_t pretransfer = 0;

    if (rc == CURLE_OK || status > 0) {
        return 1;
    }

    /* No connection, or a TLS handshake that never completed. */
    switch (classify(r, rc)) {
    case MG_UP_CONNECT:
    case MG_UP_TLS:
        return 0;
    default:
        break;
    }

    switch (rc) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return 0;

    case CURLE_OPERATION_TIMEDOUT:
        mg_curl.easy_getinfo(r->easy, CURLINFO_PRETRANSFER_TIME_T,
                             &pretransfer);
        return pretransfer > 0;

    default:
        return 1;
    }
}

/* libcurl's own words, or the system's for a failed connect or send. */
static const char *
cause(const mg_upstream_req_t *r, CURLcode rc)
{
    long os_errno = 0;

    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR ||
        rc == CURLE_RECV_ERROR) {
        mg_curl.easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
        if (os_errno > 0) {
            return strerror((int)os_errno);
        }
    }

    return r->curl_err[0] ? r->curl_err : mg_curl.easy_strerror(rc);
}

static void
describe_timeout(mg_upstream_req_t *r, int sent)
{
    mg_upstream_t *u = r->u;
    unsigned ms;

    if (sent) {
        snprintf(r->err_text, sizeof(r->err_text),
                 "timed out after %u ms waiting for %s to answer (timeout)",
                 u->timeout_ms, u->base_url);
        return;
    }

    ms = u->connect_timeout_ms < u->timeout_ms ? u->connect_timeout_ms
                                               : u->timeout_ms;
    snprintf(r->err_text, sizeof(r->err_text),
             "timed out after %u ms connecting to %s (connect timeout)", ms,
             u->base_url);
}

static void
describe_tls(mg_upstream_req_t *r, CURLcode rc, const char *why)
{
    mg_upstream_t *u = r->u;
    char *t = r->err_text;
    size_t n = sizeof(r->err_text);

    if (rc != CURLE_PEER_FAILED_VERIFICATION) {
        snprintf(t, n, "TLS with %s failed: %s", u->base_url, why);
        return;
    }

    if (u->ca_file) {
        snprintf(t, n, "TLS verification failed for %s: %s (CA bundle %s)",
                 u->base_url, why, u->ca_file);
        return;
    }

    snprintf(t, n,
             "TLS verification failed for %s: %s (system CA bundle; set "
             "ca_file for a private CA)",
             u->base_url, why);
}

static void
describe(mg_upstream_req_t *r, CURLcode rc, mg_upstream_error_e error, int sent)
{
    mg_upstream_t *u = r->u;
    const char *url = u->base_url;
    const char *why = cause(r, rc);
    char *t = r->err_text;
    size_t n = sizeof(r->err_text);

    switch (error) {
    case MG_UP_OK:
        t[0] = '\0';
        break;

    case MG_UP_CONNECT:
        snprintf(t, n, "could not %s %s: %s",
                 rc == CURLE_COULDNT_CONNECT         ? "connect to"
                 : rc == CURLE_COULDNT_RESOLVE_PROXY ? "resolve the proxy for"
                                                     : "resolve the host of",
                 url, why);
        break;

    case MG_UP_TIMEOUT:
        describe_timeout(r, sent);
        break;

    case MG_UP_TLS:
        describe_tls(r, rc, why);
        break;

    case MG_UP_SEND:
        snprintf(t, n, "sending the request to %s failed: %s", url, why);
        break;

    case MG_UP_RECV:
        if (rc == CURLE_GOT_NOTHING) {
            snprintf(t, n, "%s closed the connection without answering", url);
        } else {
            snprintf(t, n, "receiving the response from %s failed: %s", url,
                     why);
        }
        break;

    case MG_UP_TOO_LARGE:
        snprintf(t, n,
                 "the response from %s is larger than max_response_size "
                 "(%zu bytes)",
                 url, u->max_response);
        break;

    default:
        snprintf(t, n, "request to %s failed: %s", url, why);
        break;
    }
}

static void
build_response(mg_upstream_req_t *r, CURLcode rc, mg_upstream_response_t *res)
{
    char *ctype = NULL;

    memset(res, 0, sizeof(mg_upstream_response_t));

    mg_curl.easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res->status);
    res->error = classify(r, rc);
    res->sent = may_have_sent(r, rc, res->status);
    res->retry_after = r->retry_after;
    res->total_ms = (double)(mg_msec_mono() - r->start);
    res->retried = r->retried;

    describe(r, rc, res->error, res->sent);
    res->error_text = r->err_text;

    /* A body cut short by a failure must not pass for a whole one. */
    if (res->error != MG_UP_OK) {
        res->body = "";
        return;
    }

    res->body = r->body.data ? r->body.data : "";
    res->body_len = r->body.len;

    mg_curl.easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ctype);
    res->content_type = ctype;
}

/*
 * Only an idempotent read, and only when the connection failed before
 * any byte of a response came back: anything later may be an answer.  A
 * refused connection is not retried: nothing listens, and an immediate
 * second try would find the same.
 */
static int
should_retry(const mg_upstream_req_t *r, CURLcode rc)
{
    long header_bytes = 0;
    uint64_t elapsed;

    if (!r->idempotent || r->retried) {
        return 0;
    }

    if (rc != CURLE_GOT_NOTHING && rc != CURLE_SEND_ERROR &&
        rc != CURLE_RECV_ERROR) {
        return 0;
    }

    mg_curl.easy_getinfo(r->easy, CURLINFO_HEADER_SIZE, &header_bytes);
    if (header_bytes > 0 || r->body.len > 0) {
        return 0;
    }

    elapsed = mg_msec_mono() - r->start;

    return elapsed + MIN_RETRY_BUDGET < r->u->timeout_ms;
}

/* Send the same request again within what is left of the timeout. */
static int
req_restart(mg_upstream_req_t *r, CURLcode rc)
{
    mg_upstream_t *u = r->u;
    uint64_t elapsed = mg_msec_mono() - r->start;

    describe(r, rc, classify(r, rc), 1);

    mg_curl.multi_remove_handle(u->multi, r->easy);
    mg_curl.easy_setopt(r->easy, CURLOPT_TIMEOUT_MS,
                        (long)(u->timeout_ms - elapsed));

    if (mg_curl.multi_add_handle(u->multi, r->easy) != CURLM_OK) {
        return MG_ERROR;
    }

    mg_log(MG_LOG_INFO, "upstream: GET %.*s: %s; sending it once more",
           MAX_LOG_PATH, r->log_path, r->err_text);

    r->retried = 1;
    r->failed = 1;
    r->retry_after = -1;
    r->curl_err[0] = '\0';
    mg_buf_free(&r->body);

    return MG_OK;
}

static void
log_outcome(const mg_upstream_req_t *r, const mg_upstream_response_t *res)
{
    if (res->error != MG_UP_OK) {
        mg_log(MG_LOG_WARN, "upstream: %s %.*s failed after %.0f ms%s: %s",
               r->method, MAX_LOG_PATH, r->log_path, res->total_ms,
               res->retried ? " and one retry" : "", res->error_text);
        return;
    }

    mg_log(MG_LOG_DEBUG, "upstream: %s %.*s: HTTP %ld, %zu bytes in %.0f ms%s",
           r->method, MAX_LOG_PATH, r->log_path, res->status, res->body_len,
           res->total_ms, res->retried ? " after one retry" : "");
}

static void
req_finish(mg_upstream_req_t *r, CURLcode rc)
{
    mg_upstream_t *u = r->u;
    mg_upstream_response_t res;

    if (should_retry(r, rc) && req_restart(r, rc) == MG_OK) {
        return;
    }

    /* Out of the pool's way first: its connection can serve others. */
    req_unlink(r);
    mg_curl.multi_remove_handle(u->multi, r->easy);
    r->finished = 1;
    if (rc != CURLE_OK) {
        r->failed = 1;
    }

    build_response(r, rc, &res);
    log_outcome(r, &res);

    /* Lines the callback logs belong to whoever started the request. */
    mg_log_ctx_clear();
    mg_log_ctx.conn = r->log_conn;
    mg_log_ctx.req = r->log_req;

    r->done(&res, r->arg);

    mg_log_ctx_clear();

    req_free(r);
}

static void
collect_done(mg_upstream_t *u)
{
    CURLMsg *msg;
    CURL *easy;
    CURLcode rc;
    char *priv;
    int left;

    u->dispatching = 1;

    while (!u->closing) {
        msg = mg_curl.multi_info_read(u->multi, &left);
        if (msg == NULL) {
            break;
        }

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        /* msg dies with the handle's removal: read it first. */
        easy = msg->easy_handle;
        rc = msg->data.result;

        priv = NULL;
        mg_curl.easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        req_finish((mg_upstream_req_t *)(void *)priv, rc);
    }

    u->dispatching = 0;

    if (u->closing) {
        upstream_free(u);
    }
}
