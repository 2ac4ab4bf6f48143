/*
 * HTTP/1.1 connections: reading and parsing requests one at a time,
 * limits and timeouts, and closing without losing the last answer.
 *
 * A connection is a small state machine (mg_http_state_e).  Input is fed
 * to http-parser only while no request is with the handler; the parser
 * pauses at the end of each request, so pipelined bytes wait in the
 * input buffer until the response is done.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>

#include "mg_http_int.h"

mg_http_log_pt mg_http_log_handler;

/*
 * While a request is with the handler, reading goes on only so that a
 * client that goes away is noticed; this caps what waits unparsed.
 */
#define READ_QUEUED_MAX (64 * 1024)

/* Bytes asked of the kernel per read. */
#define READ_CHUNK 16384

/* How long, and how much, a closing connection keeps reading. */
#define LINGER_MSEC 2000
#define LINGER_BYTES_MAX (16 * 1024 * 1024)

static mg_http_conn_t *conns;
static uint64_t conn_ids;

static void conn_close(mg_http_conn_t *c);

/* ---------------------------------------------------------------- */
/* Lifetime                                                          */

static void
conn_enter(mg_http_conn_t *c)
{
    c->refs++;
    mg_log_ctx.conn = c->id;
    mg_log_ctx.req = c->req ? c->req->id : 0;
}

static void
conn_unref(mg_http_conn_t *c)
{
    if (--c->refs > 0) {
        return;
    }

    mg_buf_free(&c->url);
    mg_buf_free(&c->field);
    mg_buf_free(&c->value);
    mg_buf_free(&c->body);
    mg_http_listener_unref(c->listener);
    free(c);
}

/*
 * Read while there is room for more unparsed input, and stop while
 * there is not; run after every event, so the parser catching up turns
 * reading back on.
 */
static void
conn_read_watch(mg_http_conn_t *c)
{
    if (c->state == MG_HTTP_ST_CLOSED || c->eof) {
        return;
    }

    if (evbuffer_get_length(bufferevent_get_input(c->bev)) >= READ_QUEUED_MAX) {
        event_del(c->rev);

    } else if (!event_pending(c->rev, EV_READ, NULL)) {
        event_add(c->rev, NULL);
    }
}

static void
conn_leave(mg_http_conn_t *c)
{
    conn_read_watch(c);
    mg_log_ctx_clear();
    conn_unref(c);
}

void
mg_http_conn_timer(mg_http_conn_t *c, unsigned msec)
{
    struct timeval tv = {msec / 1000, (msec % 1000) * 1000};

    evtimer_add(c->timer, &tv);
}

void
mg_http_request_free(mg_http_request_t *r)
{
    mg_http_conn_t *c = r->conn;
    size_t i;

    if (mg_http_log_handler && r->method_name) {
        mg_http_log_handler(r);
    }
    mg_buf_free(&r->log_extra);

    for (i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name); /* the value shares its allocation */
    }

    free(r->headers);
    free(r->target);
    free(r->path);
    free(r->query);
    free(r->body);

    if (c->req == r) {
        c->req = NULL;
        c->handed = 0;
    }

    free(r);
    conn_unref(c);
}

/* Drop what the parser collected for a request not handed out. */
static void
conn_reset_parse(mg_http_conn_t *c)
{
    if (c->req != NULL && !c->handed) {
        mg_http_request_free(c->req);
    }

    mg_buf_free(&c->url);
    mg_buf_free(&c->field);
    mg_buf_free(&c->value);
    mg_buf_free(&c->body);

    c->hdr_alloc = 0;
    c->hdr_bytes = 0;
    c->in_value = 0;
    c->headers_done = 0;
}

/*
 * Close the socket now.  A request with the handler is marked aborted
 * and stays until its owner lets go of it; the owner hears of it last,
 * once nothing here needs the connection any more.
 */
static void
conn_close(mg_http_conn_t *c)
{
    mg_http_request_t *r;

    if (c->state == MG_HTTP_ST_CLOSED) {
        return;
    }

    mg_log(MG_LOG_DEBUG, "closing connection of %s", c->addr);

    c->state = MG_HTTP_ST_CLOSED;

    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = NULL;
    c->next = NULL;

    event_free(c->rev); /* before the bufferevent closes the socket */
    bufferevent_free(c->bev);
    event_free(c->timer);
    event_free(c->resume);
    c->rev = NULL;
    c->bev = NULL;
    c->timer = NULL;
    c->resume = NULL;

    conn_reset_parse(c);

    r = c->req;
    if (r != NULL) {
        r->aborted = 1;

        if (r->on_abort != NULL) {
            mg_log_ctx.req = r->id;
            r->on_abort(r);
        }
    }

    /* The reference the open socket held. */
    conn_unref(c);
}

void
mg_http_conn_close_later(mg_http_conn_t *c)
{
    if (c->state == MG_HTTP_ST_CLOSED || c->want_close) {
        return;
    }

    c->want_close = 1;
    event_active(c->resume, EV_TIMEOUT, 1);
}

void
mg_http_conn_close_all(void)
{
    while (conns != NULL) {
        mg_http_conn_t *c = conns;

        conn_enter(c);
        conn_close(c);
        conn_leave(c);
    }
}

/* ---------------------------------------------------------------- */
/* Writing                                                           */

/*
 * Write what is queued now instead of from the next loop turn.  Most
 * answers fit the socket buffer at once; having the bufferevent write
 * them cost two epoll_ctl calls per answer, to arm EV_WRITE and to
 * disarm it.  What does not fit is left to the bufferevent, which then
 * writes the rest, enforces the send timeout and reports errors: so
 * EV_WRITE is enabled exactly while output waits.
 */
void
mg_http_conn_flush(mg_http_conn_t *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    if (bufferevent_get_enabled(c->bev) & EV_WRITE) {
        return; /* the socket was full a moment ago: let libevent wait */
    }

    /*
     * A bufferevent keeps the front of its output frozen so nothing
     * else drains it; nothing of its own is under way while EV_WRITE is
     * off, so it is thawed for this one write.
     */
    if (evbuffer_get_length(out) > 0) {
        evbuffer_unfreeze(out, 1);
        evbuffer_write(out, bufferevent_getfd(c->bev));
        evbuffer_freeze(out, 1);
    }

    if (evbuffer_get_length(out) > 0) {
        bufferevent_enable(c->bev, EV_WRITE);

    } else if (c->state == MG_HTTP_ST_CLOSING) {
        /* No write callback will say the last answer is out. */
        event_active(c->resume, EV_TIMEOUT, 1);
    }
}

/* ---------------------------------------------------------------- */
/* Answers of the layer itself, and the end of a connection          */

/* Read and drop input of a connection that is closing. */
static void
conn_discard(mg_http_conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t n = evbuffer_get_length(in);

    evbuffer_drain(in, n);
    c->discarded += n;

    if (c->discarded > LINGER_BYTES_MAX) {
        mg_log(MG_LOG_DEBUG, "closing after dropping %zu bytes", c->discarded);
        conn_close(c);
    }
}

/*
 * Refuse what was read so far with a JSON-RPC error and close.  The
 * client may still be sending, so the close lingers: otherwise its
 * unread bytes would make our kernel send a reset that can destroy the
 * answer before the client reads it.
 */
static void
conn_fail(mg_http_conn_t *c, int status, const char *message)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct evbuffer *in;
    char *body;
    size_t len;

    mg_log(MG_LOG_INFO, "client %s: %d, %s", c->addr, status, message);

    conn_reset_parse(c);

    /* Unread input could hold reading stopped at the watermark. */
    in = bufferevent_get_input(c->bev);
    evbuffer_drain(in, evbuffer_get_length(in));

    body = mg_http_rpc_error_json(NULL, MG_HTTP_RPC_INVALID, message, &len);
    mg_http_write_head(c, status, "application/json", NULL, (long long)len,
                       MG_HTTP_HEAD_CLOSE);
    evbuffer_add(out, body, len);
    free(body);

    c->state = MG_HTTP_ST_CLOSING;
    c->linger = 1;
    evtimer_del(c->timer);
    mg_http_conn_flush(c);
}

/* The last response is out: close, or shut writing and drain a while. */
static void
conn_finish(mg_http_conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    if (c->eof || (!c->linger && evbuffer_get_length(in) == 0)) {
        conn_close(c);
        return;
    }

    bufferevent_disable(c->bev, EV_WRITE);

    if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) != 0) {
        conn_close(c);
        return;
    }

    c->state = MG_HTTP_ST_LINGER;
    evbuffer_drain(in, evbuffer_get_length(in));
    mg_http_conn_timer(c, LINGER_MSEC);
}

/*
 * A response is queued in full.  Keep the connection for the next
 * request, or let it close once the output is flushed.  The access log
 * line is written (freeing the request) before the answer goes out, so
 * a client that has its answer finds the line in the log.
 */
void
mg_http_request_done(mg_http_request_t *r)
{
    mg_http_conn_t *c = r->conn;
    int keep = r->keep_alive && !c->listener->closed;

    mg_http_request_free(r);
    conn_reset_parse(c);
    mg_http_conn_flush(c);

    if (!keep) {
        c->state = MG_HTTP_ST_CLOSING;

        /* All of it may be out already: no write callback follows. */
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
            event_active(c->resume, EV_TIMEOUT, 1);
        }

        return;
    }

    c->state = MG_HTTP_ST_IDLE;
    mg_http_conn_timer(c, c->listener->limits.keepalive_timeout_ms);

    /*
     * Pipelined input is parsed from the event loop, not from inside the
     * owner's call, so a handler is never entered from within another.
     */
    if (!c->in_process) {
        event_active(c->resume, EV_TIMEOUT, 1);
    }
}

/* ---------------------------------------------------------------- */
/* Reading                                                           */

/* Hand a complete request to the listener's handler. */
static void
conn_dispatch(mg_http_conn_t *c)
{
    mg_http_request_t *r = c->req;

    r->body_len = c->body.len;
    r->body = mg_buf_steal(&c->body);

    c->state = MG_HTTP_ST_HANDLER;
    c->handed = 1;
    evtimer_del(c->timer);

    mg_log_ctx.req = r->id;
    c->listener->handler(r);
    mg_log_ctx.req = c->req ? c->req->id : 0;
}

static void
conn_parse_error(mg_http_conn_t *c, enum http_errno err)
{
    mg_http_parse_error(c, err);
    conn_fail(c, c->fail_status, c->fail_msg);
}

/*
 * Feed input to the parser until it runs out, a request is with the
 * handler, or the connection is refused.  Before the headers are
 * complete no more than the header limit is offered, so their size is
 * known exactly.
 */
static void
conn_process(mg_http_conn_t *c)
{
    size_t max_header = c->listener->limits.max_header_size;
    struct evbuffer_iovec v;
    struct evbuffer *in;
    enum http_errno err;
    size_t n, parsed;

    c->in_process = 1;

    while (c->state <= MG_HTTP_ST_BODY) {
        in = bufferevent_get_input(c->bev);
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0) {
            break;
        }

        n = v.iov_len;
        if (!c->headers_done && n > max_header - c->hdr_bytes) {
            n = max_header - c->hdr_bytes;
        }

        c->fail_status = 0;
        parsed = http_parser_execute(&c->parser, &mg_http_parser_settings,
                                     v.iov_base, n);
        evbuffer_drain(in, parsed);

        if (!c->headers_done) {
            c->hdr_bytes += parsed;
        }

        err = HTTP_PARSER_ERRNO(&c->parser);

        if (err == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            conn_dispatch(c);
            continue;
        }

        if (err != HPE_OK) {
            conn_parse_error(c, err);
            break;
        }

        if (!c->headers_done && c->hdr_bytes >= max_header) {
            mg_http_refuse_header_size(c);
            conn_fail(c, c->fail_status, c->fail_msg);
            break;
        }
    }

    c->in_process = 0;
}

/* ---------------------------------------------------------------- */
/* Events                                                            */

/* New input is in the buffer. */
static void
conn_input(mg_http_conn_t *c)
{
    switch (c->state) {
    case MG_HTTP_ST_IDLE:
    case MG_HTTP_ST_HEADERS:
    case MG_HTTP_ST_BODY:
        conn_process(c);
        break;

    case MG_HTTP_ST_CLOSING:
    case MG_HTTP_ST_LINGER:
        conn_discard(c);
        break;

    default:
        /* With the handler: the bytes wait for the next request. */
        break;
    }
}

static void conn_eof(mg_http_conn_t *c);

/*
 * The socket is readable.  The connection reads for itself instead of
 * letting the bufferevent do it: libevent 2.1 asks the kernel how much
 * is waiting (ioctl FIONREAD) before each of its reads, one syscall
 * more per request.  The bufferevent still writes.
 */
static void
conn_recv_cb(evutil_socket_t fd, short what, void *arg)
{
    /*
     * One buffer for every connection: what arrives is copied into the
     * connection's input at its size, as small as a request, instead of
     * reserving a whole chunk per connection and read.
     */
    static char buf[READ_CHUNK];
    mg_http_conn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    ssize_t n;
    int rc = 0;

    (void)what;

    conn_enter(c);

    n = recv(fd, buf, sizeof(buf), 0);

    if (n > 0) {
        /* The bufferevent keeps the end of its input frozen: thaw to add. */
        evbuffer_unfreeze(in, 0);
        rc = evbuffer_add(in, buf, (size_t)n);
        evbuffer_freeze(in, 0);
    }

    if (rc != 0) {
        mg_log(MG_LOG_ALERT, "client %s: no memory for its input", c->addr);
        conn_close(c);

    } else if (n > 0) {
        conn_input(c);

    } else if (n == 0) {
        /* Readable for good now: stop watching before anything else. */
        event_del(c->rev);
        conn_eof(c);

    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        mg_log(MG_LOG_INFO, "client %s: recv() failed: %s", c->addr,
               strerror(errno));
        conn_close(c);
    }

    conn_leave(c);
}

/* The output drained: writing goes back to mg_http_conn_flush. */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
    mg_http_conn_t *c = arg;

    bufferevent_disable(bev, EV_WRITE);

    if (c->state != MG_HTTP_ST_CLOSING) {
        return;
    }

    conn_enter(c);
    conn_finish(c);
    conn_leave(c);
}

static void
conn_eof(mg_http_conn_t *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    c->eof = 1;

    switch (c->state) {
    case MG_HTTP_ST_IDLE:
        if (evbuffer_get_length(out) > 0) {
            c->state = MG_HTTP_ST_CLOSING;
            evtimer_del(c->timer);
            break;
        }

        mg_log(MG_LOG_DEBUG, "client closed the connection");
        conn_close(c);
        break;

    case MG_HTTP_ST_HEADERS:
    case MG_HTTP_ST_BODY:
        mg_log(MG_LOG_INFO,
               "client %s closed the connection while sending a request",
               c->addr);
        conn_close(c);
        break;

    case MG_HTTP_ST_HANDLER:
        mg_log(MG_LOG_INFO,
               "client %s closed the connection before the response was "
               "complete",
               c->addr);
        conn_close(c);
        break;

    case MG_HTTP_ST_CLOSING:
        /* The write callback closes once the answer is out. */
        break;

    default:
        conn_close(c);
        break;
    }
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    mg_http_conn_t *c = arg;
    int err = EVUTIL_SOCKET_ERROR();

    (void)bev;

    conn_enter(c);

    if (what & BEV_EVENT_EOF) {
        conn_eof(c);

    } else if (what & BEV_EVENT_ERROR) {
        mg_log(MG_LOG_INFO, "client %s: %s() failed: %s", c->addr,
               (what & BEV_EVENT_READING) ? "recv" : "send",
               evutil_socket_error_to_string(err));
        conn_close(c);

    } else if (what & BEV_EVENT_TIMEOUT) {
        mg_log(MG_LOG_INFO, "client %s did not read the response for %u ms",
               c->addr, c->listener->limits.send_timeout_ms);
        conn_close(c);
    }

    conn_leave(c);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    mg_http_conn_t *c = arg;
    mg_http_limits_t *lim = &c->listener->limits;
    char msg[200];

    (void)fd;
    (void)what;

    conn_enter(c);

    switch (c->state) {
    case MG_HTTP_ST_IDLE:
        /* The answer to the last request may still be on its way. */
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
            mg_http_conn_timer(c, lim->keepalive_timeout_ms);
            break;
        }

        mg_log(MG_LOG_DEBUG, "idle connection timed out");
        conn_close(c);
        break;

    case MG_HTTP_ST_HEADERS:
        snprintf(msg, sizeof(msg),
                 "request headers were not complete within %u ms; send "
                 "the request promptly or raise http.header_timeout",
                 lim->header_timeout_ms);
        conn_fail(c, 408, msg);
        break;

    case MG_HTTP_ST_BODY:
        snprintf(msg, sizeof(msg),
                 "request body was not complete within %u ms; send the "
                 "body promptly or raise http.body_timeout",
                 lim->body_timeout_ms);
        conn_fail(c, 408, msg);
        break;

    default:
        conn_close(c);
        break;
    }

    conn_leave(c);
}

static void
conn_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    mg_http_conn_t *c = arg;

    (void)fd;
    (void)what;

    conn_enter(c);

    if (c->want_close) {
        conn_close(c);

    } else if (c->state == MG_HTTP_ST_IDLE) {
        conn_process(c);

    } else if (c->state == MG_HTTP_ST_CLOSING &&
               evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        conn_finish(c);
    }

    conn_leave(c);
}

/* ---------------------------------------------------------------- */
/* Accepting                                                         */

static void
peer_store(mg_http_conn_t *c, const struct sockaddr *sa)
{
    const struct sockaddr_in6 *s6;
    const struct sockaddr_in *s4;
    const unsigned char *b;
    unsigned port;

    if (sa->sa_family == AF_INET6) {
        s6 = (const struct sockaddr_in6 *)sa;
        b = s6->sin6_addr.s6_addr;
        port = ntohs(s6->sin6_port);

        /* An IPv4 client on a dual-stack socket is shown as IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            inet_ntop(AF_INET, b + 12, c->peer, sizeof(c->peer));
            c->loopback = (b[12] == 127);
            snprintf(c->addr, sizeof(c->addr), "%s:%u", c->peer, port);
            return;
        }

        inet_ntop(AF_INET6, b, c->peer, sizeof(c->peer));
        c->loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) != 0;
        snprintf(c->addr, sizeof(c->addr), "[%s]:%u", c->peer, port);
        return;
    }

    s4 = (const struct sockaddr_in *)sa;
    b = (const unsigned char *)&s4->sin_addr;
    inet_ntop(AF_INET, b, c->peer, sizeof(c->peer));
    c->loopback = (b[0] == 127);
    snprintf(c->addr, sizeof(c->addr), "%s:%u", c->peer, ntohs(s4->sin_port));
}

void
mg_http_conn_accept(mg_http_listener_t *l, evutil_socket_t fd,
                    const struct sockaddr *sa)
{
    struct event_base *base = mg_event_base();
    struct timeval send_tv;
    mg_http_conn_t *c;
    int on = 1;

    c = mg_calloc(1, sizeof(*c));
    c->id = ++conn_ids;
    c->listener = l;
    c->refs = 1;
    l->refs++;
    peer_store(c, sa);

    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;

    c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->rev = event_new(base, fd, EV_READ | EV_PERSIST, conn_recv_cb, c);
    c->timer = evtimer_new(base, conn_timer_cb, c);
    c->resume = event_new(base, -1, 0, conn_resume_cb, c);

    if (c->bev == NULL || c->rev == NULL || c->timer == NULL ||
        c->resume == NULL) {
        mg_log(MG_LOG_ALERT,
               "cannot set up a connection from %s: libevent "
               "failed",
               c->addr);
        if (c->bev != NULL) {
            bufferevent_free(c->bev);
        } else {
            evutil_closesocket(fd);
        }
        if (c->rev != NULL) {
            event_free(c->rev);
        }
        if (c->timer != NULL) {
            event_free(c->timer);
        }
        if (c->resume != NULL) {
            event_free(c->resume);
        }
        conn_unref(c);
        return;
    }

    /* Stream events must not wait for Nagle. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));

    send_tv.tv_sec = l->limits.send_timeout_ms / 1000;
    send_tv.tv_usec = (l->limits.send_timeout_ms % 1000) * 1000;

    bufferevent_setcb(c->bev, NULL, conn_write_cb, conn_event_cb, c);
    bufferevent_set_timeouts(c->bev, NULL, &send_tv);
    /* A new bufferevent writes by default; here mg_http_conn_flush does. */
    bufferevent_disable(c->bev, EV_WRITE);
    event_add(c->rev, NULL);

    c->next = conns;
    if (conns != NULL) {
        conns->prev = c;
    }
    conns = c;

    /* A new connection that never sends is dropped like an idle one. */
    c->state = MG_HTTP_ST_IDLE;
    mg_http_conn_timer(c, l->limits.header_timeout_ms);

    mg_log_ctx.conn = c->id;
    mg_log(MG_LOG_DEBUG, "client %s connected to %s", c->addr, l->addr);
    mg_log_ctx_clear();
}
