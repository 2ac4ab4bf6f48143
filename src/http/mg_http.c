/*
 * Listeners, shutdown, and the small accessors of a request.
 */

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "mg_http_int.h"

#define LISTEN_BACKLOG 511

/* After accept() ran out of descriptors, wait this long before retrying. */
#define ACCEPT_PAUSE_MSEC 1000

/* What http-parser itself allows in headers unless told otherwise. */
#define PARSER_HEADER_DEFAULT (80 * 1024)

static mg_http_listener_t *listeners;
static size_t parser_header_max = PARSER_HEADER_DEFAULT;

/*
 * Split "host:port", "[v6]:port" or "*:port" into its parts.  Returns
 * MG_OK, or MG_ERROR with *why saying what is wrong.
 */
static int
addr_split(const char *addr, char *host, size_t hostlen, char *port,
           size_t portlen, const char **why)
{
    const char *colon, *end;
    size_t n;

    if (addr[0] == '[') {
        end = strchr(addr, ']');
        if (end == NULL || end[1] != ':') {
            *why = "expected [address]:port";
            return MG_ERROR;
        }

        n = (size_t)(end - addr - 1);
        addr++;
        colon = end + 1;

    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr))) {
            *why = "expected address:port, or [address]:port for IPv6";
            return MG_ERROR;
        }

        n = (size_t)(colon - addr);
    }

    if (n == 0 || n >= hostlen) {
        *why = n ? "the address is too long" : "the address is empty";
        return MG_ERROR;
    }

    memcpy(host, addr, n);
    host[n] = '\0';

    if (strcmp(host, "*") == 0) {
        snprintf(host, hostlen, "0.0.0.0");
    }

    n = strlen(colon + 1);
    if (n == 0 || n > 5 || n >= portlen ||
        strspn(colon + 1, "0123456789") != n || atoi(colon + 1) > 65535) {
        *why = "the port must be a number from 0 to 65535";
        return MG_ERROR;
    }

    memcpy(port, colon + 1, n + 1);

    return MG_OK;
}

static int
addr_resolve(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256], port[8];
    struct addrinfo hints, *res;
    const char *why;
    int rc;

    if (addr_split(addr, host, sizeof(host), port, sizeof(port), &why) !=
        MG_OK) {
        mg_log(MG_LOG_EMERG, "invalid listen address \"%s\": %s", addr, why);
        return MG_ERROR;
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;

    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        mg_log(MG_LOG_EMERG, "invalid listen address \"%s\": %s", addr,
               gai_strerror(rc));
        return MG_ERROR;
    }

    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);

    return MG_OK;
}

/* The bound address as text, so a port of 0 shows the one chosen. */
static void
addr_format(evutil_socket_t fd, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(out, outlen, "?");
        return;
    }

    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(out, outlen, "[%s]:%u", ip, ntohs(s6->sin6_port));
        return;
    }

    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
    snprintf(out, outlen, "%s:%u", ip, ntohs(s4->sin_port));
}

/* A bound, listening, non-blocking socket, or -1 (logged). */
static evutil_socket_t
listen_socket(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    evutil_socket_t fd;
    int on = 1;

    if (addr_resolve(addr, &ss, &len) != MG_OK) {
        return -1;
    }

    fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd == -1) {
        mg_log(MG_LOG_EMERG, "socket() for %s failed: %s", addr,
               strerror(errno));
        return -1;
    }

    /* A restart must not wait for old connections in TIME_WAIT. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));

    /* "[::]:port" means IPv6 only; IPv4 gets its own listener. */
    if (ss.ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    }

    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        mg_log(MG_LOG_EMERG, "bind() to %s failed: %s", addr, strerror(errno));
        goto failed;
    }

    if (listen(fd, LISTEN_BACKLOG) != 0) {
        mg_log(MG_LOG_EMERG, "listen() on %s failed: %s", addr,
               strerror(errno));
        goto failed;
    }

    if (evutil_make_socket_nonblocking(fd) != 0 ||
        evutil_make_socket_closeonexec(fd) != 0) {
        mg_log(MG_LOG_EMERG, "fcntl() on %s failed: %s", addr, strerror(errno));
        goto failed;
    }

    return fd;

failed:

    close(fd);

    return -1;
}

static void
limits_default(mg_http_limits_t *lim)
{
    if (lim->max_header_size == 0) {
        lim->max_header_size = 16 * 1024;
    }

    if (lim->max_body_size == 0) {
        lim->max_body_size = 1024 * 1024;
    }

    if (lim->header_timeout_ms == 0) {
        lim->header_timeout_ms = 10000;
    }

    if (lim->body_timeout_ms == 0) {
        lim->body_timeout_ms = 30000;
    }

    if (lim->keepalive_timeout_ms == 0) {
        lim->keepalive_timeout_ms = 75000;
    }

    if (lim->send_timeout_ms == 0) {
        lim->send_timeout_ms = 60000;
    }

    /*
     * http-parser has one process-wide header ceiling of its own; keep it
     * at least as high as ours so ours is the one that answers.
     */
    if (lim->max_header_size > parser_header_max) {
        parser_header_max = lim->max_header_size;
        http_parser_set_max_header_size((uint32_t)parser_header_max);
    }
}

static void
accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
          int socklen, void *arg)
{
    (void)evl;
    (void)socklen;

    mg_http_conn_accept(arg, fd, sa);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    mg_http_listener_t *l = arg;

    (void)fd;
    (void)what;

    if (!l->closed) {
        evconnlistener_enable(l->evl);
    }
}

/*
 * Out of descriptors, the listening socket stays readable and libevent
 * would spin on it; pause accepting for a moment instead.
 */
static void
accept_error_cb(struct evconnlistener *evl, void *arg)
{
    mg_http_listener_t *l = arg;
    struct timeval tv = {ACCEPT_PAUSE_MSEC / 1000,
                         (ACCEPT_PAUSE_MSEC % 1000) * 1000};
    int err = EVUTIL_SOCKET_ERROR();

    mg_log(MG_LOG_CRIT, "accept() on %s failed: %s", l->addr,
           evutil_socket_error_to_string(err));

    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        evconnlistener_disable(evl);
        evtimer_add(l->accept_resume, &tv);
    }
}

mg_http_listener_t *
mg_http_listen(const char *addr, const mg_http_limits_t *limits,
               mg_http_handler_pt handler, void *data)
{
    mg_http_listener_t *l;
    evutil_socket_t fd;

    fd = listen_socket(addr);
    if (fd == -1) {
        return NULL;
    }

    l = mg_calloc(1, sizeof(*l));
    l->limits = *limits;
    limits_default(&l->limits);
    l->handler = handler;
    l->data = data;
    l->refs = 1;
    addr_format(fd, l->addr, sizeof(l->addr));
    snprintf(l->server, sizeof(l->server), "module");

    l->accept_resume = evtimer_new(mg_event_base(), accept_resume_cb, l);
    l->evl = evconnlistener_new(mg_event_base(), accept_cb, l,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                -1, fd);
    if (l->evl == NULL || l->accept_resume == NULL) {
        mg_log(MG_LOG_EMERG, "cannot listen on %s: libevent failed", addr);
        if (l->evl == NULL) {
            close(fd);
        } else {
            evconnlistener_free(l->evl);
        }
        if (l->accept_resume != NULL) {
            event_free(l->accept_resume);
        }
        free(l);
        return NULL;
    }

    evconnlistener_set_error_cb(l->evl, accept_error_cb);

    l->next = listeners;
    listeners = l;

    mg_log(MG_LOG_INFO, "listening on %s", l->addr);

    return l;
}

void
mg_http_listener_unref(mg_http_listener_t *l)
{
    if (--l->refs == 0) {
        free(l);
    }
}

void *
mg_http_listener_data(const mg_http_listener_t *l)
{
    return l->data;
}

const char *
mg_http_listener_addr(const mg_http_listener_t *l)
{
    return l->addr;
}

void
mg_http_stop_accepting(mg_http_handler_pt handler)
{
    mg_http_listener_t *l;

    /*
     * Close the socket itself, so new clients are refused rather than
     * queued; answers on open connections then say Connection: close.
     */
    for (l = listeners; l; l = l->next) {
        if (l->handler == handler && l->evl) {
            evconnlistener_free(l->evl);
            event_free(l->accept_resume);
            l->evl = NULL;
            l->accept_resume = NULL;
            l->closed = 1;
        }
    }
}

void
mg_http_shutdown(void)
{
    mg_http_listener_t *l;

    while (listeners != NULL) {
        l = listeners;
        listeners = l->next;

        if (l->evl) {
            evconnlistener_free(l->evl);
            event_free(l->accept_resume);
        }
        l->evl = NULL;
        l->accept_resume = NULL;
        l->closed = 1;

        mg_http_listener_unref(l);
    }

    mg_http_conn_close_all();
}

const char *
mg_http_header(const mg_http_request_t *r, const char *name)
{
    return mg_http_header_nth(r, name, 0);
}

/*
 * Stored names are lower case; most differ from the one asked for in
 * their first letter, which is compared before calling strcasecmp.
 */
static int
name_is(const char *lower, const char *name)
{
    char first = name[0];

    if (first >= 'A' && first <= 'Z') {
        first = (char)(first - 'A' + 'a');
    }

    return lower[0] == first && strcasecmp(lower, name) == 0;
}

size_t
mg_http_header_count(const mg_http_request_t *r, const char *name)
{
    size_t i, n = 0;

    for (i = 0; i < r->nheaders; i++) {
        if (name_is(r->headers[i].name, name)) {
            n++;
        }
    }

    return n;
}

const char *
mg_http_header_nth(const mg_http_request_t *r, const char *name, size_t n)
{
    size_t i;

    for (i = 0; i < r->nheaders; i++) {
        if (!name_is(r->headers[i].name, name)) {
            continue;
        }

        if (n-- == 0) {
            return r->headers[i].value;
        }
    }

    return NULL;
}

const char *
mg_http_peer(const mg_http_request_t *r)
{
    return r->conn->peer;
}

int
mg_http_peer_is_loopback(const mg_http_request_t *r)
{
    return r->conn->loopback;
}
