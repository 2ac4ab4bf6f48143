/*
 * Tests of the asynchronous upstream client against a tiny HTTP/1.1
 * server in the same process and on the same event loop (plain sockets
 * or TLS with a certificate made here), so every run is deterministic:
 * what the server saw and how many connections it accepted are counted.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "mg_core.h"

#include <mcpgw/upstream.h>

#define BEARER "cf-test-SECRET-4f9a2c7e1b"
#define BASE_PATH "/client/v4"
#define OK_BODY "{\"success\":true,\"errors\":[],\"result\":{\"id\":\"t1\"}}"

/* ------------------------------------------------------------------ */
/* The test server.                                                    */

typedef struct conn_s conn_t;

typedef struct {
    struct evconnlistener *lev;
    SSL_CTX *ssl_ctx; /* NULL: plain HTTP */
    int port;
    int accepts;
    int requests;
    int close_left; /* /close-once drops this many connections first */
    int offered_h2; /* the client's ALPN list held "h2" */
    char method[16];
    char target[512];
    char auth[512];
    char ctype[128];
    char agent[128];
    char body[1024];
    conn_t *conns;
} server_t;

struct conn_s {
    server_t *srv;
    struct bufferevent *bev;
    struct event *later;
    conn_t *prev;
    conn_t *next;
};

typedef struct {
    X509 *cert;
    EVP_PKEY *key;
    char ca_path[64];
} tls_t;

typedef struct {
    server_t srv;
    tls_t tls;
} fixture_t;

static void
conn_free(conn_t *c)
{
    server_t *srv = c->srv;

    if (c->prev) {
        c->prev->next = c->next;
    } else {
        srv->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }

    if (c->later) {
        event_free(c->later);
    }
    bufferevent_free(c->bev);
    free(c);
}

static void
respond(conn_t *c, int status, const char *extra, const char *body, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    evbuffer_add_printf(out,
                        "HTTP/1.1 %d Test\r\n"
                        "Content-Type: application/json\r\n"
                        "Content-Length: %zu\r\n%s\r\n",
                        status, len, extra ? extra : "");
    evbuffer_add(out, body, len);
}

static void
respond_big(conn_t *c, size_t len, int chunked)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    char *body = malloc(len);
    size_t off;

    memset(body, 'a', len);

    if (!chunked) {
        respond(c, 200, NULL, body, len);
        free(body);
        return;
    }

    evbuffer_add_printf(out,
                        "HTTP/1.1 200 Test\r\n"
                        "Content-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n");
    for (off = 0; off < len; off += 512) {
        evbuffer_add_printf(out, "200\r\n");
        evbuffer_add(out, body + off, 512);
        evbuffer_add_printf(out, "\r\n");
    }
    evbuffer_add_printf(out, "0\r\n\r\n");
    free(body);
}

static void
answer_later(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;

    respond(c, 200, NULL, OK_BODY, strlen(OK_BODY));
}

/* Answer by path (below BASE_PATH); 1 when the connection was dropped. */
static int
handle(conn_t *c, const char *path)
{
    server_t *srv = c->srv;
    char extra[128];
    struct tm tm;
    time_t when;

    if (strcmp(path, "/ok") == 0) {
        respond(c, 200, NULL, OK_BODY, strlen(OK_BODY));
    } else if (strcmp(path, "/echo") == 0) {
        respond(c, 200, NULL, srv->body, strlen(srv->body));
    } else if (strcmp(path, "/hang") == 0) {
        return 0;
    } else if (strcmp(path, "/slow") == 0) {
        struct timeval tv = {0, 100 * 1000};

        c->later = evtimer_new(bufferevent_get_base(c->bev), answer_later, c);
        evtimer_add(c->later, &tv);
    } else if (strcmp(path, "/close") == 0 ||
               (strcmp(path, "/close-once") == 0 && srv->close_left > 0)) {
        srv->close_left--;
        conn_free(c);
        return 1;
    } else if (strcmp(path, "/close-once") == 0) {
        respond(c, 200, NULL, OK_BODY, strlen(OK_BODY));
    } else if (strcmp(path, "/reset") == 0 ||
               (strcmp(path, "/reset-once") == 0 && srv->close_left > 0)) {
        /* SO_LINGER 0: close sends a reset, the client reads ECONNRESET. */
        struct linger lg = {1, 0};

        srv->close_left--;
        setsockopt(bufferevent_getfd(c->bev), SOL_SOCKET, SO_LINGER, &lg,
                   sizeof(lg));
        conn_free(c);
        return 1;
    } else if (strcmp(path, "/reset-once") == 0) {
        respond(c, 200, NULL, OK_BODY, strlen(OK_BODY));
    } else if (strcmp(path, "/bad-chunked") == 0) {
        evbuffer_add_printf(bufferevent_get_output(c->bev),
                            "HTTP/1.1 200 Test\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"
                            "zzzz\r\n");
    } else if (strcmp(path, "/big") == 0) {
        respond_big(c, 4096, 0);
    } else if (strcmp(path, "/big-chunked") == 0) {
        respond_big(c, 4096, 1);
    } else if (strcmp(path, "/exact") == 0) {
        respond_big(c, 1024, 0);
    } else if (strcmp(path, "/ratelimited") == 0) {
        static const char rl[] =
            "{\"success\":false,\"errors\":[{\"code\":971,\"message\":"
            "\"Please wait and consider throttling your request speed\"}],"
            "\"messages\":[],\"result\":null}";

        respond(c, 429, "Retry-After: 30\r\n", rl, sizeof(rl) - 1);
    } else if (strcmp(path, "/ratelimited-date") == 0) {
        when = time(NULL) + 120;
        gmtime_r(&when, &tm);
        strftime(extra, sizeof(extra),
                 "retry-after: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        respond(c, 503, extra, "", 0);
    } else {
        respond(c, 404, NULL, "{}", 2);
    }

    return 0;
}

static void
header_copy(const char *head, const char *name, char *out, size_t outlen)
{
    const char *p = strcasestr(head, name);
    size_t n;

    out[0] = '\0';
    if (p == NULL) {
        return;
    }

    p += strlen(name);
    while (*p == ' ') {
        p++;
    }
    n = strcspn(p, "\r\n");
    snprintf(out, outlen, "%.*s", (int)n, p);
}

static void
server_read(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;
    server_t *srv = c->srv;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr end;
    char head[8192], cl[32], path[512];
    size_t head_len, body_len;

    end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0 || (size_t)end.pos + 4 >= sizeof(head)) {
        return;
    }

    head_len = (size_t)end.pos + 4;
    evbuffer_copyout(in, head, head_len);
    head[head_len] = '\0';

    header_copy(head, "\r\ncontent-length:", cl, sizeof(cl));
    body_len = (size_t)strtoul(cl, NULL, 10);
    if (evbuffer_get_length(in) < head_len + body_len ||
        body_len >= sizeof(srv->body)) {
        return;
    }

    evbuffer_drain(in, head_len);
    evbuffer_remove(in, srv->body, body_len);
    srv->body[body_len] = '\0';

    sscanf(head, "%15s %511s", srv->method, srv->target);
    header_copy(head, "\r\nauthorization:", srv->auth, sizeof(srv->auth));
    header_copy(head, "\r\ncontent-type:", srv->ctype, sizeof(srv->ctype));
    header_copy(head, "\r\nuser-agent:", srv->agent, sizeof(srv->agent));
    srv->requests++;

    snprintf(path, sizeof(path), "%.*s",
             (int)strcspn(srv->target + strlen(BASE_PATH), "?"),
             srv->target + strlen(BASE_PATH));
    handle(c, path);
}

static void
server_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        conn_free(arg);
    }
}

static void
server_accept(struct evconnlistener *lev, evutil_socket_t fd,
              struct sockaddr *sa, int salen, void *arg)
{
    server_t *srv = arg;
    struct event_base *base = evconnlistener_get_base(lev);
    conn_t *c = calloc(1, sizeof(conn_t));

    srv->accepts++;
    c->srv = srv;

    if (srv->ssl_ctx) {
        c->bev = bufferevent_openssl_socket_new(base, fd, SSL_new(srv->ssl_ctx),
                                                BUFFEREVENT_SSL_ACCEPTING,
                                                BEV_OPT_CLOSE_ON_FREE);
    } else {
        c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    }

    c->next = srv->conns;
    if (srv->conns) {
        srv->conns->prev = c;
    }
    srv->conns = c;

    bufferevent_setcb(c->bev, server_read, NULL, server_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
server_start(server_t *srv, SSL_CTX *ssl_ctx)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    memset(srv, 0, sizeof(*srv));
    srv->ssl_ctx = ssl_ctx;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    srv->lev =
        evconnlistener_new_bind(mg_event_base(), server_accept, srv,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                (struct sockaddr *)&sin, sizeof(sin));
    assert_non_null(srv->lev);

    getsockname(evconnlistener_get_fd(srv->lev), (struct sockaddr *)&sin, &len);
    srv->port = ntohs(sin.sin_port);
}

static void
server_stop(server_t *srv)
{
    while (srv->conns) {
        conn_free(srv->conns);
    }

    if (srv->lev) {
        evconnlistener_free(srv->lev);
        srv->lev = NULL;
    }

    SSL_CTX_free(srv->ssl_ctx);
    srv->ssl_ctx = NULL;
}

/* A new file named stem + six random characters; returns its fd. */
static int
temp_file(char *path, size_t len, const char *stem)
{
    size_t n = strlen(stem);
    int fd;

    assert_true(n + 7 <= len);
    memcpy(path, stem, n);
    memset(path + n, 'X', 6); /* what mkstemp replaces */
    path[n + 6] = '\0';

    fd = mkstemp(path);
    assert_true(fd >= 0);

    return fd;
}

/* ------------------------------------------------------------------ */
/* TLS: a self-signed certificate for 127.0.0.1, made per test.        */

static void
add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
}

static void
tls_make(tls_t *t)
{
    X509_NAME *name;
    FILE *f;
    int fd;

    t->key = EVP_EC_gen("P-256");
    assert_non_null(t->key);

    t->cert = X509_new();
    X509_set_version(t->cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(t->cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(t->cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(t->cert), 3600);
    X509_set_pubkey(t->cert, t->key);

    name = X509_get_subject_name(t->cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"127.0.0.1", -1, -1, 0);
    X509_set_issuer_name(t->cert, name);
    add_ext(t->cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(t->cert, NID_subject_alt_name, "IP:127.0.0.1");
    assert_true(X509_sign(t->cert, t->key, EVP_sha256()) > 0);

    fd = temp_file(t->ca_path, sizeof(t->ca_path), "/tmp/mg-test-ca-");
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    PEM_write_X509(f, t->cert);
    fclose(f);
}

static void
tls_free(tls_t *t)
{
    if (t->ca_path[0]) {
        unlink(t->ca_path);
    }
    X509_free(t->cert);
    EVP_PKEY_free(t->key);
}

/* Note whether h2 was offered; answer http/1.1, all this server speaks. */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
            const unsigned char *in, unsigned int inlen, void *arg)
{
    server_t *srv = arg;
    unsigned int i;
    int found = 0;

    for (i = 0; i < inlen; i += 1u + in[i]) {
        if (in[i] == 2 && i + 3 <= inlen && memcmp(in + i + 1, "h2", 2) == 0) {
            srv->offered_h2 = 1;
        }
        if (in[i] == 8 && i + 9 <= inlen &&
            memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            found = 1;
        }
    }

    return found ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK;
}

static void
tls_server_start(fixture_t *f)
{
    SSL_CTX *ctx;

    tls_make(&f->tls);

    ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_use_certificate(ctx, f->tls.cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, f->tls.key), 1);

    server_start(&f->srv, ctx);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, &f->srv);
}

/* ------------------------------------------------------------------ */
/* Running the loop and collecting results.                            */

typedef struct {
    int calls;
    mg_upstream_response_t res;
    char body[8192];
    char error_text[512];
    char ctype[128];
    /* what the callback does besides recording */
    mg_upstream_t *destroy;
    mg_upstream_req_t *cancel;
    mg_upstream_t *chain;
    void *chain_arg;
} result_t;

static void
on_done(const mg_upstream_response_t *res, void *arg)
{
    result_t *r = arg;

    r->calls++;
    r->res = *res;

    assert_non_null(res->body);
    assert_int_equal(res->body[res->body_len], '\0');
    snprintf(r->body, sizeof(r->body), "%s", res->body);
    snprintf(r->error_text, sizeof(r->error_text), "%s", res->error_text);
    snprintf(r->ctype, sizeof(r->ctype), "%s",
             res->content_type ? res->content_type : "");

    r->res.body = r->body;
    r->res.error_text = r->error_text;
    r->res.content_type = res->content_type ? r->ctype : NULL;

    if (r->chain) {
        assert_non_null(mg_upstream_request(r->chain, "GET", "/ok", BEARER,
                                            NULL, 0, on_done, r->chain_arg));
    }

    if (r->cancel) {
        mg_upstream_cancel(r->cancel);
        r->cancel = NULL;
    }

    if (r->destroy) {
        mg_upstream_destroy(r->destroy);
    }
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
    /* only wakes the loop so the deadline is checked */
}

/* Run the loop until *flag is set or ms have passed. */
static void
run_until(const int *flag, unsigned ms)
{
    struct event_base *base = mg_event_base();
    struct event *ev = evtimer_new(base, tick, NULL);
    struct timeval tv = {0, 10 * 1000};
    uint64_t deadline = mg_msec_mono() + ms;

    while (!*flag && mg_msec_mono() < deadline) {
        evtimer_add(ev, &tv);
        event_base_loop(base, EVLOOP_ONCE);
    }

    event_free(ev);
}

/* Run the loop until *counter reaches n or ms have passed. */
static void
run_until_count(const int *counter, int n, unsigned ms)
{
    uint64_t deadline = mg_msec_mono() + ms;

    while (*counter < n && mg_msec_mono() < deadline) {
        run_until(counter, 10);
    }
}

static void
run_for(unsigned ms)
{
    int never = 0;

    run_until(&never, ms);
}

static mg_upstream_t *
upstream_for(const server_t *srv, const char *scheme, mg_upstream_conf_t *c)
{
    mg_upstream_conf_t conf;
    mg_upstream_t *u;
    char url[128], err[256];

    if (c) {
        conf = *c;
    } else {
        memset(&conf, 0, sizeof(conf));
        conf.timeout_ms = 3000;
    }

    snprintf(url, sizeof(url), "%s://127.0.0.1:%d" BASE_PATH "/", scheme,
             srv->port);
    conf.base_url = url;

    u = mg_upstream_create(&conf, err, sizeof(err));
    if (u == NULL) {
        print_error("mg_upstream_create: %s\n", err);
    }
    assert_non_null(u);

    return u;
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(fixture_t));

    assert_non_null(mg_event_base_create());
    *state = f;

    return 0;
}

static int
setup_plain(void **state)
{
    fixture_t *f;

    setup(state);
    f = *state;
    server_start(&f->srv, NULL);

    return 0;
}

static int
setup_tls(void **state)
{
    setup(state);
    tls_server_start(*state);

    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;

    server_stop(&f->srv);
    tls_free(&f->tls);
    mg_event_base_destroy();
    free(f);

    return 0;
}

/* ------------------------------------------------------------------ */
/* The tests.                                                          */

static void
test_get(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    result_t r = {0};

    assert_non_null(mg_upstream_request(u, "GET", "/ok?page=2&per_page=5",
                                        BEARER, NULL, MG_UP_IDEMPOTENT, on_done,
                                        &r));
    /* Never from inside mg_upstream_request. */
    assert_int_equal(r.calls, 0);

    run_until(&r.calls, 2000);

    assert_int_equal(r.calls, 1);
    assert_int_equal(r.res.error, MG_UP_OK);
    assert_string_equal(r.res.error_text, "");
    assert_int_equal(r.res.status, 200);
    assert_string_equal(r.res.body, OK_BODY);
    assert_int_equal(r.res.body_len, strlen(OK_BODY));
    assert_string_equal(r.res.content_type, "application/json");
    assert_int_equal(r.res.retry_after, -1);
    assert_int_equal(r.res.sent, 1);
    assert_int_equal(r.res.retried, 0);
    assert_true(r.res.total_ms >= 0 && r.res.total_ms < 2000);

    assert_string_equal(f->srv.method, "GET");
    assert_string_equal(f->srv.target, BASE_PATH "/ok?page=2&per_page=5");
    assert_string_equal(f->srv.auth, "Bearer " BEARER);
    assert_string_equal(f->srv.agent, "mcpgw/" MG_VERSION);

    mg_upstream_destroy(u);
}

static void
test_methods_and_body(void **state)
{
    static const char *const methods[] = {"POST", "PUT", "PATCH", "DELETE"};
    static const char body[] = "{\"name\":\"ci\",\"policies\":[]}";
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    result_t r;
    size_t i;

    for (i = 0; i < 4; i++) {
        memset(&r, 0, sizeof(r));
        assert_non_null(mg_upstream_request(u, methods[i], "/echo", BEARER,
                                            body, 0, on_done, &r));
        run_until(&r.calls, 2000);

        assert_int_equal(r.res.status, 200);
        assert_string_equal(f->srv.method, methods[i]);
        assert_string_equal(f->srv.body, body);
        assert_string_equal(f->srv.ctype, "application/json");
        assert_string_equal(r.res.body, body);
    }

    /* Without a body no form content type sneaks in. */
    memset(&r, 0, sizeof(r));
    assert_non_null(
        mg_upstream_request(u, "DELETE", "/ok", NULL, NULL, 0, on_done, &r));
    run_until(&r.calls, 2000);
    assert_int_equal(r.res.status, 200);
    assert_string_equal(f->srv.method, "DELETE");
    assert_string_equal(f->srv.ctype, "");
    assert_string_equal(f->srv.auth, "");

    mg_upstream_destroy(u);
}

/* Two requests one after the other (the second started from the first's
 * callback) share one connection. */
static void
test_connection_reuse(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    result_t first = {0}, second = {0};

    first.chain = u;
    first.chain_arg = &second;
    assert_non_null(
        mg_upstream_request(u, "GET", "/ok", BEARER, NULL, 0, on_done, &first));
    run_until(&second.calls, 2000);

    assert_int_equal(first.res.status, 200);
    assert_int_equal(second.res.status, 200);
    assert_int_equal(f->srv.requests, 2);
    assert_int_equal(f->srv.accepts, 1);

    mg_upstream_destroy(u);
}

/* One request on the upstream's only idle handle, waited for. */
static void
request_one(mg_upstream_t *u, result_t *r, const char *method, const char *path,
            const char *bearer, const char *body)
{
    memset(r, 0, sizeof(*r));
    assert_non_null(
        mg_upstream_request(u, method, path, bearer, body, 0, on_done, r));
    run_until(&r->calls, 2000);
    assert_int_equal(r->calls, 1);
}

/*
 * Requests one after the other share one easy handle: nothing of a
 * request (its method, body, headers, FRESH_CONNECT) reaches the next.
 */
static void
test_recycled_handle(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    result_t r;

    request_one(u, &r, "GET", "/ok", BEARER, NULL);
    assert_int_equal(r.res.status, 200);
    assert_int_equal(f->srv.accepts, 1);

    /* A write: a connection of its own, its body and content type. */
    request_one(u, &r, "PUT", "/echo", BEARER, "{\"a\":1}");
    assert_int_equal(r.res.status, 200);
    assert_string_equal(f->srv.method, "PUT");
    assert_string_equal(f->srv.body, "{\"a\":1}");
    assert_string_equal(f->srv.ctype, "application/json");
    assert_int_equal(f->srv.accepts, 2);

    /* The GET after it: no method, body, type or bearer of the PUT, and
     * a kept connection (FRESH_CONNECT went with the write). */
    request_one(u, &r, "GET", "/echo", NULL, NULL);
    assert_int_equal(r.res.status, 200);
    assert_string_equal(f->srv.method, "GET");
    assert_string_equal(f->srv.body, "");
    assert_string_equal(r.res.body, "");
    assert_string_equal(f->srv.ctype, "");
    assert_string_equal(f->srv.auth, "");
    assert_int_equal(f->srv.accepts, 2);

    /* Write after write: POST is no longer the PUT of a handle before. */
    request_one(u, &r, "DELETE", "/ok", BEARER, NULL);
    assert_string_equal(f->srv.method, "DELETE");
    request_one(u, &r, "POST", "/echo", BEARER, "{\"b\":2}");
    assert_string_equal(f->srv.method, "POST");
    assert_string_equal(f->srv.body, "{\"b\":2}");
    assert_int_equal(f->srv.accepts, 4);

    /* A write that failed on its connection leaves nothing either. */
    f->srv.close_left = 1;
    request_one(u, &r, "PATCH", "/close-once", BEARER, "{\"c\":3}");
    assert_int_equal(r.res.error, MG_UP_RECV);
    assert_int_equal(f->srv.accepts, 5);

    request_one(u, &r, "GET", "/ok", BEARER, NULL);
    assert_int_equal(r.res.error, MG_UP_OK);
    assert_string_equal(f->srv.method, "GET");
    assert_string_equal(f->srv.body, "");
    assert_string_equal(f->srv.auth, "Bearer " BEARER);
    assert_int_equal(f->srv.accepts, 5);

    /* A cancelled request's handle serves the next one. */
    memset(&r, 0, sizeof(r));
    mg_upstream_cancel(
        mg_upstream_request(u, "POST", "/hang", BEARER, "{}", 0, on_done, &r));
    request_one(u, &r, "GET", "/ok", NULL, NULL);
    assert_int_equal(r.res.status, 200);
    assert_string_equal(f->srv.method, "GET");
    assert_string_equal(f->srv.auth, "");

    mg_upstream_destroy(u);
}

/*
 * Connections opened for a burst stay for the next one, however many
 * transfers are left in flight in between; more requests at once than
 * handles kept idle work too.
 */
static void
test_burst_keeps_connections(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    result_t r[20];
    int done = 0;
    int round, i;

    for (round = 0; round < 2; round++) {
        memset(r, 0, sizeof(r));
        for (i = 0; i < 20; i++) {
            assert_non_null(mg_upstream_request(u, "GET", "/ok", BEARER, NULL,
                                                0, on_done, &r[i]));
        }

        done = 0;
        while (done < 20) {
            run_for(10);
            for (done = 0, i = 0; i < 20; i++) {
                done += r[i].calls;
            }
        }

        for (i = 0; i < 20; i++) {
            assert_int_equal(r[i].res.status, 200);
        }
        assert_int_equal(f->srv.accepts, 20);
    }

    assert_int_equal(f->srv.requests, 40);

    mg_upstream_destroy(u);
}

static void
test_timeout(void **state)
{
    fixture_t *f = *state;
    mg_upstream_conf_t conf = {0};
    mg_upstream_t *u;
    result_t r = {0};

    conf.timeout_ms = 200;
    u = upstream_for(&f->srv, "http", &conf);

    assert_non_null(mg_upstream_request(u, "GET", "/hang", BEARER, NULL,
                                        MG_UP_IDEMPOTENT, on_done, &r));
    run_until(&r.calls, 2000);

    assert_int_equal(r.calls, 1);
    assert_int_equal(r.res.error, MG_UP_TIMEOUT);
    assert_int_equal(r.res.sent, 1);
    assert_int_equal(r.res.status, 0);
    assert_int_equal(r.res.body_len, 0);
    assert_int_equal(r.res.retried, 0);
    assert_true(r.res.total_ms >= 190 && r.res.total_ms < 1500);
    assert_non_null(strstr(r.res.error_text,
                           "timed out after 200 ms waiting "
                           "for http://127.0.0.1:"));

    mg_upstream_destroy(u);
}

/* A server that accepts but never speaks TLS: the connect timeout fires
 * during the handshake, and nothing was sent. */
static void
test_connect_timeout(void **state)
{
    fixture_t *f = *state;
    mg_upstream_conf_t conf = {0};
    mg_upstream_t *u;
    result_t r = {0};

    conf.connect_timeout_ms = 150;
    conf.timeout_ms = 2000;
    u = upstream_for(&f->srv, "https", &conf);

    assert_non_null(
        mg_upstream_request(u, "POST", "/ok", BEARER, "{}", 0, on_done, &r));
    run_until(&r.calls, 2000);

    assert_int_equal(r.res.error, MG_UP_TIMEOUT);
    assert_int_equal(r.res.sent, 0);
    assert_true(r.res.total_ms >= 140 && r.res.total_ms < 1000);
    assert_non_null(strstr(r.res.error_text,
                           "timed out after 150 ms "
                           "connecting to https://"));
    assert_int_equal(f->srv.accepts, 1);

    mg_upstream_destroy(u);
}

static void
test_connect_refused(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u;
    result_t r = {0};
    server_t closed = {0};
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    char want[128];
    int fd;

    /* Bound but not listening: refused, and the port stays ours. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    closed.port = ntohs(sin.sin_port);

    u = upstream_for(&closed, "http", NULL);
    assert_non_null(mg_upstream_request(u, "GET", "/ok", BEARER, NULL,
                                        MG_UP_IDEMPOTENT, on_done, &r));
    run_until(&r.calls, 2000);

    assert_int_equal(r.res.error, MG_UP_CONNECT);
    assert_int_equal(r.res.sent, 0);
    assert_int_equal(r.res.status, 0);
    assert_int_equal(r.res.retried, 0);
    snprintf(want, sizeof(want),
             "could not connect to http://127.0.0.1:%d" BASE_PATH
             ": Connection refused",
             closed.port);
    assert_string_equal(r.res.error_text, want);

    mg_upstream_destroy(u);
    close(fd);
    (void)f;
}

/* The server drops the first connection unanswered: the read is sent
 * once more, on a second connection. */
static void
test_idempotent_retried(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    result_t r = {0};

    f->srv.close_left = 1;
    assert_non_null(mg_upstream_request(u, "GET", "/close-once", BEARER, NULL,
                                        MG_UP_IDEMPOTENT, on_done, &r));
    run_until(&r.calls, 2000);

    assert_int_equal(r.res.error, MG_UP_OK);
    assert_int_equal(r.res.status, 200);
    assert_int_equal(r.res.retried, 1);
    assert_int_equal(f->srv.requests, 2);
    assert_int_equal(f->srv.accepts, 2);

    mg_upstream_destroy(u);
}

static void
test_retried_only_once(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    result_t r = {0};

    assert_non_null(mg_upstream_request(u, "GET", "/close", BEARER, NULL,
                                        MG_UP_IDEMPOTENT, on_done, &r));
    run_until(&r.calls, 2000);

    assert_int_equal(r.res.error, MG_UP_RECV);
    assert_int_equal(r.res.sent, 1);
    assert_int_equal(r.res.retried, 1);
    assert_int_equal(f->srv.requests, 2);
    assert_non_null(
        strstr(r.res.error_text, "closed the connection without answering"));

    /* Without the flag a read is not repeated either. */
    memset(&r, 0, sizeof(r));
    assert_non_null(
        mg_upstream_request(u, "GET", "/close", BEARER, NULL, 0, on_done, &r));
    run_until(&r.calls, 2000);
    assert_int_equal(r.res.error, MG_UP_RECV);
    assert_int_equal(r.res.retried, 0);
    assert_int_equal(f->srv.requests, 3);

    mg_upstream_destroy(u);
}

/* A write whose connection dies unanswered is reported, never replayed,
 * even with a pooled connection at hand and the flag set. */
static void
test_write_not_retried(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    result_t r = {0};
    mg_cf_envelope_t env;

    assert_non_null(
        mg_upstream_request(u, "GET", "/ok", BEARER, NULL, 0, on_done, &r));
    run_until(&r.calls, 2000);
    assert_int_equal(f->srv.accepts, 1);

    memset(&r, 0, sizeof(r));
    f->srv.close_left = 1;
    assert_non_null(mg_upstream_request(u, "POST", "/close-once", BEARER,
                                        "{\"name\":\"ci\"}", MG_UP_IDEMPOTENT,
                                        on_done, &r));
    run_until(&r.calls, 2000);

    assert_int_equal(r.res.error, MG_UP_RECV);
    assert_int_equal(r.res.sent, 1);
    assert_int_equal(r.res.retried, 0);
    assert_int_equal(f->srv.requests, 2);
    assert_int_equal(f->srv.accepts, 2);

    /* For the caller: the write's outcome is unknown. */
    assert_int_equal(mg_cf_envelope_parse(&r.res, &env), MG_ERROR);
    assert_int_equal(env.kind, MG_CF_TRANSPORT);
    assert_int_equal(env.ambiguous, 1);
    mg_cf_envelope_free(&env);

    mg_upstream_destroy(u);
}

/*
 * libcurl before 8.8 keeps the errno of a failed transfer on its easy
 * handle and reports it again for a later failure that sets none: a
 * recycled handle must not lend one request's cause to the next.
 */
static void
test_recycled_handle_errno(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    result_t r;

    request_one(u, &r, "GET", "/reset", BEARER, NULL);
    assert_int_equal(r.res.error, MG_UP_RECV);
    assert_non_null(strstr(r.res.error_text, "Connection reset by peer"));

    /* A broken body on a new connection: libcurl's words, no errno. */
    request_one(u, &r, "GET", "/bad-chunked", BEARER, NULL);
    assert_int_equal(r.res.error, MG_UP_RECV);
    assert_null(strstr(r.res.error_text, "Connection reset by peer"));
    assert_non_null(strstr(r.res.error_text, "chunked"));

    /* Nor from a first try that failed before a retry succeeded. */
    f->srv.close_left = 1;
    memset(&r, 0, sizeof(r));
    assert_non_null(mg_upstream_request(u, "GET", "/reset-once", BEARER, NULL,
                                        MG_UP_IDEMPOTENT, on_done, &r));
    run_until(&r.calls, 2000);
    assert_int_equal(r.res.error, MG_UP_OK);
    assert_int_equal(r.res.retried, 1);

    request_one(u, &r, "GET", "/bad-chunked", BEARER, NULL);
    assert_int_equal(r.res.error, MG_UP_RECV);
    assert_null(strstr(r.res.error_text, "Connection reset by peer"));

    mg_upstream_destroy(u);
}

static void
test_too_large(void **state)
{
    static const char *const paths[] = {"/big", "/big-chunked"};
    fixture_t *f = *state;
    mg_upstream_conf_t conf = {0};
    mg_upstream_t *u;
    result_t r;
    size_t i;

    conf.max_response_size = 1024;
    u = upstream_for(&f->srv, "http", &conf);

    for (i = 0; i < 2; i++) {
        memset(&r, 0, sizeof(r));
        assert_non_null(mg_upstream_request(u, "GET", paths[i], BEARER, NULL,
                                            MG_UP_IDEMPOTENT, on_done, &r));
        run_until(&r.calls, 2000);

        assert_int_equal(r.res.error, MG_UP_TOO_LARGE);
        assert_int_equal(r.res.body_len, 0);
        assert_string_equal(r.res.body, "");
        assert_int_equal(r.res.retried, 0);
        assert_non_null(strstr(r.res.error_text,
                               "is larger than max_response_size (1024 "
                               "bytes)"));
    }

    /* Exactly at the ceiling is fine. */
    memset(&r, 0, sizeof(r));
    assert_non_null(
        mg_upstream_request(u, "GET", "/exact", BEARER, NULL, 0, on_done, &r));
    run_until(&r.calls, 2000);
    assert_int_equal(r.res.error, MG_UP_OK);
    assert_int_equal(r.res.body_len, 1024);

    mg_upstream_destroy(u);
}

static void
test_retry_after(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    result_t r = {0};
    mg_cf_envelope_t env;

    assert_non_null(mg_upstream_request(u, "GET", "/ratelimited", BEARER, NULL,
                                        MG_UP_IDEMPOTENT, on_done, &r));
    run_until(&r.calls, 2000);

    assert_int_equal(r.res.error, MG_UP_OK);
    assert_int_equal(r.res.status, 429);
    assert_int_equal(r.res.retry_after, 30);
    assert_int_equal(r.res.retried, 0);

    assert_int_equal(mg_cf_envelope_parse(&r.res, &env), MG_ERROR);
    assert_int_equal(env.kind, MG_CF_RATE_LIMITED);
    assert_int_equal(env.cf_code, 971);
    assert_non_null(strstr(env.message, "(HTTP 429); retry after 30 s"));
    mg_cf_envelope_free(&env);

    /* An HTTP date counts from now. */
    memset(&r, 0, sizeof(r));
    assert_non_null(mg_upstream_request(u, "GET", "/ratelimited-date", BEARER,
                                        NULL, 0, on_done, &r));
    run_until(&r.calls, 2000);
    assert_int_equal(r.res.status, 503);
    assert_true(r.res.retry_after >= 110 && r.res.retry_after <= 120);

    mg_upstream_destroy(u);
}

static void
test_cancel(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    mg_upstream_req_t *req;
    result_t r = {0};

    /* Before the loop ran: nothing happens at all. */
    req = mg_upstream_request(u, "GET", "/ok", BEARER, NULL, 0, on_done, &r);
    assert_non_null(req);
    mg_upstream_cancel(req);
    run_for(50);
    assert_int_equal(r.calls, 0);

    /* Sent, and the answer is on its way. */
    req = mg_upstream_request(u, "GET", "/slow", BEARER, NULL, 0, on_done, &r);
    assert_non_null(req);
    run_until(&f->srv.requests, 2000);
    assert_int_equal(f->srv.requests, 1);
    mg_upstream_cancel(req);
    run_for(200);
    assert_int_equal(r.calls, 0);

    /* The upstream still works. */
    assert_non_null(
        mg_upstream_request(u, "GET", "/ok", BEARER, NULL, 0, on_done, &r));
    run_until(&r.calls, 2000);
    assert_int_equal(r.res.status, 200);

    mg_upstream_destroy(u);
}

/* Requests in every stage at destroy: no callback, nothing leaked. */
static void
test_destroy_in_flight(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    result_t r = {0};

    assert_non_null(
        mg_upstream_request(u, "GET", "/hang", BEARER, NULL, 0, on_done, &r));
    assert_non_null(
        mg_upstream_request(u, "POST", "/slow", BEARER, "{}", 0, on_done, &r));
    assert_non_null(mg_upstream_request(u, "GET", "/hang", BEARER, NULL,
                                        MG_UP_IDEMPOTENT, on_done, &r));
    run_until_count(&f->srv.requests, 3, 2000);
    assert_int_equal(f->srv.requests, 3);
    assert_int_equal(r.calls, 0);

    assert_non_null(
        mg_upstream_request(u, "GET", "/ok", BEARER, NULL, 0, on_done, &r));
    mg_upstream_destroy(u);
    run_for(200);
    assert_int_equal(r.calls, 0);

    /* And straight after creating one. */
    u = upstream_for(&f->srv, "http", NULL);
    assert_non_null(
        mg_upstream_request(u, "GET", "/ok", BEARER, NULL, 0, on_done, &r));
    mg_upstream_destroy(u);
    run_for(50);
    assert_int_equal(r.calls, 0);
}

/* A callback may cancel another request in flight. */
static void
test_cancel_in_callback(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    result_t fast = {0}, slow = {0};

    fast.cancel =
        mg_upstream_request(u, "GET", "/slow", BEARER, NULL, 0, on_done, &slow);
    assert_non_null(fast.cancel);
    assert_non_null(
        mg_upstream_request(u, "GET", "/ok", BEARER, NULL, 0, on_done, &fast));
    run_until(&fast.calls, 2000);
    run_for(200);

    assert_int_equal(fast.calls, 1);
    assert_null(fast.cancel);
    assert_int_equal(slow.calls, 0);

    mg_upstream_destroy(u);
}

/* A callback may destroy its upstream; others finishing with it are not
 * called afterwards. */
static void
test_destroy_in_callback(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "http", NULL);
    result_t r = {0};

    r.destroy = u;
    assert_non_null(
        mg_upstream_request(u, "GET", "/ok", BEARER, NULL, 0, on_done, &r));
    assert_non_null(
        mg_upstream_request(u, "GET", "/ok", BEARER, NULL, 0, on_done, &r));
    assert_non_null(
        mg_upstream_request(u, "GET", "/slow", BEARER, NULL, 0, on_done, &r));
    run_until(&r.calls, 2000);
    run_for(200);

    assert_int_equal(r.calls, 1);
    assert_int_equal(r.res.status, 200);
}

static void
test_bad_arguments(void **state)
{
    static const char *const bad_urls[] = {
        "ftp://127.0.0.1/",
        "http://user:pw@127.0.0.1/client/v4",
        "http://127.0.0.1/client/v4?x=1",
        "not a url",
        "",
    };
    static const char *const bad_words[] = {
        "https:// or http://",   "must not hold user:password@",
        "must not hold a query", "not a valid URL",
        "needs a base_url",
    };
    fixture_t *f = *state;
    mg_upstream_conf_t conf = {0};
    mg_upstream_t *u;
    result_t r = {0};
    char err[256];
    size_t i;

    for (i = 0; i < 5; i++) {
        conf.base_url = bad_urls[i];
        err[0] = '\0';
        assert_null(mg_upstream_create(&conf, err, sizeof(err)));
        assert_non_null(strstr(err, bad_words[i]));
        /* The password in a refused URL is not repeated. */
        assert_null(strstr(err, "pw"));
    }

    assert_null(mg_upstream_create(NULL, err, sizeof(err)));

    conf.base_url = "https://127.0.0.1/";
    conf.ca_file = "/nonexistent/ca.pem";
    assert_null(mg_upstream_create(&conf, err, sizeof(err)));
    assert_string_equal(err,
                        "ca_file \"/nonexistent/ca.pem\" cannot be "
                        "read: No such file or directory");

    u = upstream_for(&f->srv, "http", NULL);
    assert_null(
        mg_upstream_request(u, "get", "/ok", NULL, NULL, 0, on_done, &r));
    assert_null(
        mg_upstream_request(u, "TRACE", "/ok", NULL, NULL, 0, on_done, &r));
    assert_null(
        mg_upstream_request(u, "GET", "ok", NULL, NULL, 0, on_done, &r));
    assert_null(
        mg_upstream_request(u, "GET", "/a b", NULL, NULL, 0, on_done, &r));
    assert_null(mg_upstream_request(u, "GET", "/ok\r\nX-Evil: 1", NULL, NULL, 0,
                                    on_done, &r));
    assert_null(mg_upstream_request(u, "GET", "/ok", BEARER "\r\nX-Evil: 1",
                                    NULL, 0, on_done, &r));
    assert_null(
        mg_upstream_request(u, "GET", "/ok", NULL, "{}", 0, on_done, &r));
    assert_null(mg_upstream_request(u, "GET", "/ok", NULL, NULL, 0, NULL, &r));
    assert_null(
        mg_upstream_request(NULL, "GET", "/ok", NULL, NULL, 0, on_done, &r));
    mg_upstream_cancel(NULL);
    mg_upstream_destroy(NULL);

    run_for(20);
    assert_int_equal(r.calls, 0);
    assert_int_equal(f->srv.requests, 0);

    mg_upstream_destroy(u);
}

/* The bearer reaches the server and nothing else: not the error log at
 * debug level, not any error text. */
static void
test_bearer_never_logged(void **state)
{
    static const char *const paths[] = {"/ok", "/close", "/hang", "/big"};
    fixture_t *f = *state;
    mg_upstream_conf_t conf = {0};
    mg_upstream_t *u;
    result_t r;
    char path[64];
    char buf[65536];
    ssize_t n;
    size_t i;
    int fd;

    fd = temp_file(path, sizeof(path), "/tmp/mg-test-log-");
    assert_int_equal(mg_log_open(path, MG_LOG_DEBUG), MG_OK);

    conf.timeout_ms = 150;
    conf.max_response_size = 100;
    u = upstream_for(&f->srv, "http", &conf);

    for (i = 0; i < 4; i++) {
        memset(&r, 0, sizeof(r));
        assert_non_null(mg_upstream_request(u, "GET", paths[i], BEARER, NULL,
                                            MG_UP_IDEMPOTENT, on_done, &r));
        run_until(&r.calls, 2000);
        assert_int_equal(r.calls, 1);
        assert_null(strstr(r.res.error_text, BEARER));
    }
    assert_null(mg_upstream_request(u, "GET", "/ok", BEARER "\n", NULL, 0,
                                    on_done, &r));
    assert_string_equal(f->srv.auth, "Bearer " BEARER);

    mg_upstream_destroy(u);
    mg_log_close();
    mg_log_level = MG_LOG_NOTICE;

    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    buf[n] = '\0';

    assert_non_null(strstr(buf, "upstream: GET /ok: HTTP 200"));
    assert_non_null(strstr(buf, "sending it once more"));
    assert_null(strstr(buf, "SECRET"));
}

static void
test_tls_untrusted(void **state)
{
    fixture_t *f = *state;
    mg_upstream_t *u = upstream_for(&f->srv, "https", NULL);
    result_t r = {0};

    assert_non_null(
        mg_upstream_request(u, "POST", "/ok", BEARER, "{}", 0, on_done, &r));
    run_until(&r.calls, 2000);

    assert_int_equal(r.res.error, MG_UP_TLS);
    assert_int_equal(r.res.sent, 0);
    assert_non_null(strstr(r.res.error_text,
                           "TLS verification failed for "
                           "https://127.0.0.1:"));
    assert_non_null(strstr(r.res.error_text, "set ca_file"));
    assert_int_equal(f->srv.requests, 0);

    mg_upstream_destroy(u);
}

static void
test_tls_ca_file(void **state)
{
    fixture_t *f = *state;
    mg_upstream_conf_t conf = {0};
    mg_upstream_t *u;
    result_t first = {0}, second = {0};

    conf.ca_file = f->tls.ca_path;
    u = upstream_for(&f->srv, "https", &conf);

    first.chain = u;
    first.chain_arg = &second;
    assert_non_null(
        mg_upstream_request(u, "GET", "/ok", BEARER, NULL, 0, on_done, &first));
    run_until(&second.calls, 3000);

    assert_int_equal(first.res.error, MG_UP_OK);
    assert_int_equal(first.res.status, 200);
    assert_int_equal(second.res.status, 200);
    assert_string_equal(f->srv.auth, "Bearer " BEARER);
    /* HTTP/2 was asked for; this server only speaks HTTP/1.1. */
    assert_int_equal(f->srv.offered_h2, 1);
    assert_int_equal(f->srv.accepts, 1);

    mg_upstream_destroy(u);
}

/* Over TLS with an HTTP/1.1 server a slow request holds up no other. */
static void
test_tls_concurrent(void **state)
{
    fixture_t *f = *state;
    mg_upstream_conf_t conf = {0};
    mg_upstream_t *u;
    result_t slow = {0}, fast = {0};

    conf.ca_file = f->tls.ca_path;
    u = upstream_for(&f->srv, "https", &conf);

    assert_non_null(mg_upstream_request(u, "GET", "/hang", BEARER, NULL, 0,
                                        on_done, &slow));
    assert_non_null(
        mg_upstream_request(u, "GET", "/ok", BEARER, NULL, 0, on_done, &fast));
    run_until(&fast.calls, 2000);

    assert_int_equal(fast.res.status, 200);
    assert_int_equal(slow.calls, 0);
    assert_int_equal(f->srv.accepts, 2);

    mg_upstream_destroy(u);
}

static void
test_no_event_loop(void **state)
{
    mg_upstream_conf_t conf = {0};
    char err[256];

    assert_null(mg_event_base());
    conf.base_url = "https://api.cloudflare.com/client/v4";
    assert_null(mg_upstream_create(&conf, err, sizeof(err)));
    assert_non_null(strstr(err, "before the event loop exists"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_event_loop),
        cmocka_unit_test_setup_teardown(test_get, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_methods_and_body, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connection_reuse, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recycled_handle, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_burst_keeps_connections,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_connect_timeout, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_retried, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retried_only_once, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_not_retried, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recycled_handle_errno, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_in_flight, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_in_callback, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_destroy_in_callback, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bearer_never_logged, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tls_untrusted, setup_tls,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tls_ca_file, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_tls_concurrent, setup_tls,
                                        teardown),
    };

    /* Loopback must not go through a proxy from the environment. */
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    signal(SIGPIPE, SIG_IGN);

    return cmocka_run_group_tests(tests, NULL, NULL);
}
