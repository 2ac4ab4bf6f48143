/*
 * Responses: complete ones, JSON-RPC errors and chunked streams.  Every
 * body the layer makes itself is JSON; nothing here ever sends HTML.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "mg_http_int.h"

/*
 * A stream whose client reads slower than the handler writes is cut off
 * once this much output waits in memory.
 */
#define STREAM_QUEUED_MAX (4 * 1024 * 1024)

static const struct {
    int status;
    const char *text;
} status_texts[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *
mg_http_status_text(int status)
{
    size_t i;

    for (i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++) {
        if (status_texts[i].status == status) {
            return status_texts[i].text;
        }
    }

    /* RFC 9110: a client that does not know a code treats it as x00. */
    if (status >= 100 && status < 600 && status % 100 != 0) {
        return mg_http_status_text(status / 100 * 100);
    }

    return "Unknown";
}

/* The Date header value, formatted at most once a second. */
static const char *
http_date(void)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
    static char buf[32];
    static time_t cached = -1;
    time_t now = time(NULL);
    struct tm tm;

    if (now == cached) {
        return buf;
    }

    gmtime_r(&now, &tm);
    snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT",
             days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached = now;

    return buf;
}

/*
 * The status line and headers.  clen < 0 leaves Content-Length out;
 * `extra` is the caller's "Name: value\r\n" lines, copied as they are.
 * The head is assembled in one buffer, kept from answer to answer, and
 * queued with one copy.
 */
void
mg_http_write_head(mg_http_conn_t *c, int status, const char *ctype,
                   const char *extra, long long clen, int flags)
{
    static mg_buf_t head;
    mg_buf_t *b = &head;
    size_t n;

    b->len = 0;
    mg_buf_append_str(b, "HTTP/1.1 ");
    mg_buf_append_uint(b, (uint64_t)(status > 0 ? status : 0));
    mg_buf_append(b, " ", 1);
    mg_buf_append_str(b, mg_http_status_text(status));
    mg_buf_append_str(b, "\r\nServer: mcpgw\r\nDate: ");
    mg_buf_append_str(b, http_date());
    mg_buf_append(b, "\r\n", 2);

    if (ctype != NULL) {
        mg_buf_append_str(b, "Content-Type: ");
        mg_buf_append_str(b, ctype);
        mg_buf_append(b, "\r\n", 2);
    }

    if (clen >= 0) {
        mg_buf_append_str(b, "Content-Length: ");
        mg_buf_append_uint(b, (uint64_t)clen);
        mg_buf_append(b, "\r\n", 2);
    }

    if (flags & MG_HTTP_HEAD_CHUNKED) {
        mg_buf_append_str(b, "Transfer-Encoding: chunked\r\n");
    }

    mg_buf_append_str(b, (flags & MG_HTTP_HEAD_CLOSE)
                             ? "Connection: close\r\n"
                             : "Connection: keep-alive\r\n");

    n = extra ? strlen(extra) : 0;
    if (n > 0) {
        mg_buf_append(b, extra, n);

        /* A missing line end would glue the blank line onto the header. */
        if (n < 2 || extra[n - 2] != '\r' || extra[n - 1] != '\n') {
            mg_buf_append(b, "\r\n", 2);
        }
    }

    mg_buf_append(b, "\r\n", 2);
    evbuffer_add(bufferevent_get_output(c->bev), b->data, b->len);
}

/* Length of the well-formed UTF-8 sequence at s, or 0. */
static size_t
utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n, i;

    if (c < 0x80) {
        return 1;
    }

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = (c == 0xe0) ? 0xa0 : 0x80; /* no overlongs */
        hi = (c == 0xed) ? 0x9f : 0xbf; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = (c == 0xf0) ? 0x90 : 0x80;
        hi = (c == 0xf4) ? 0x8f : 0xbf;
    } else {
        return 0;
    }

    if (s[1] < lo || s[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }

    return n;
}

/*
 * Escape s as the inside of a JSON string.  dst must hold 6 * strlen(s)
 * + 1 bytes.  Bytes that are not UTF-8 become U+FFFD so the body stays
 * valid JSON whatever a message quotes.
 */
static size_t
json_escape(char *dst, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    char *d = dst;
    size_t n;

    while (*p) {
        if (*p == '"' || *p == '\\') {
            *d++ = '\\';
            *d++ = (char)*p++;

        } else if (*p < 0x20 || *p == 0x7f) {
            d += sprintf(d, "\\u%04x", *p++);

        } else if ((n = utf8_len(p)) == 0) {
            d += sprintf(d, "\\ufffd");
            p++;

        } else {
            memcpy(d, p, n);
            d += n;
            p += n;
        }
    }

    *d = '\0';

    return (size_t)(d - dst);
}

char *
mg_http_rpc_error_json(const char *id_raw, int code, const char *message,
                       size_t *len)
{
    static const char fmt[] =
        "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":%d,"
        "\"message\":\"%s\"}}";
    char *esc, *body;
    size_t size;

    if (id_raw == NULL || id_raw[0] == '\0') {
        id_raw = "null";
    }

    esc = mg_alloc(6 * strlen(message) + 1);
    json_escape(esc, message);

    size = sizeof(fmt) + strlen(id_raw) + strlen(esc) + 16;
    body = mg_alloc(size);
    *len = (size_t)snprintf(body, size, fmt, id_raw, code, esc);

    free(esc);

    return body;
}

/* The connection is gone or going: answers are dropped, not written. */
static int
request_dead(const mg_http_request_t *r)
{
    return r->aborted || r->conn->want_close ||
           r->conn->state == MG_HTTP_ST_CLOSED;
}

void
mg_http_respond(mg_http_request_t *r, int status, const char *ctype,
                const char *headers, const char *body, size_t len)
{
    mg_http_conn_t *c = r->conn;
    int bodiless, flags;

    r->status = status;
    if (request_dead(r)) {
        mg_http_request_free(r);
        return;
    }

    if (r->responded) {
        mg_log(MG_LOG_ALERT,
               "a second response (%d) to one request "
               "was dropped",
               status);
        return;
    }

    /* RFC 9110: these never carry content, so no length either. */
    bodiless = status < 200 || status == 204 || status == 304;
    flags = r->keep_alive ? 0 : MG_HTTP_HEAD_CLOSE;

    mg_http_write_head(c, status, bodiless ? NULL : ctype, headers,
                       bodiless ? -1 : (long long)len, flags);

    if (!bodiless && r->method != MG_HTTP_HEAD && len > 0) {
        evbuffer_add(bufferevent_get_output(c->bev), body, len);
    }

    r->responded = 1;

    mg_log(MG_LOG_DEBUG, "http response %d, %zu bytes", status, len);

    mg_http_request_done(r);
}

void
mg_http_respond_rpc_error(mg_http_request_t *r, int status, const char *headers,
                          const char *id_raw, int code, const char *message)
{
    char *body;
    size_t len;

    body = mg_http_rpc_error_json(id_raw, code, message, &len);
    mg_http_respond(r, status, "application/json", headers, body, len);
    free(body);
}

/* HTTP/1.0 has no chunks: its stream ends when the connection does. */
static int
request_chunked(const mg_http_request_t *r)
{
    return r->http_major > 1 || (r->http_major == 1 && r->http_minor >= 1);
}

int
mg_http_stream_start(mg_http_request_t *r, int status, const char *ctype,
                     const char *headers)
{
    int flags;

    if (request_dead(r)) {
        return MG_ERROR;
    }

    r->status = status;

    if (r->responded) {
        mg_log(MG_LOG_ALERT,
               "a stream (%d) started on a request already "
               "answered",
               status);
        return MG_ERROR;
    }

    if (request_chunked(r)) {
        flags = MG_HTTP_HEAD_CHUNKED;
    } else {
        r->keep_alive = 0;
        flags = 0;
    }

    if (!r->keep_alive) {
        flags |= MG_HTTP_HEAD_CLOSE;
    }

    mg_http_write_head(r->conn, status, ctype, headers, -1, flags);
    mg_http_conn_flush(r->conn);

    r->responded = 1;
    r->streaming = 1;

    mg_log(MG_LOG_DEBUG, "http stream %d started", status);

    return MG_OK;
}

int
mg_http_stream_send(mg_http_request_t *r, const char *data, size_t len)
{
    mg_http_conn_t *c = r->conn;
    struct evbuffer *out;
    size_t queued;

    if (request_dead(r) || !r->streaming) {
        return MG_ERROR;
    }

    /* An empty chunk would end the stream; HEAD has no body at all. */
    if (len == 0 || r->method == MG_HTTP_HEAD) {
        return MG_OK;
    }

    out = bufferevent_get_output(c->bev);
    queued = evbuffer_get_length(out);

    if (queued > STREAM_QUEUED_MAX) {
        mg_log(MG_LOG_INFO,
               "client reads the stream too slowly, "
               "%zu bytes queued; closing the connection",
               queued);
        mg_http_conn_close_later(c);
        return MG_ERROR;
    }

    if (request_chunked(r)) {
        evbuffer_add_printf(out, "%zx\r\n", len);
        evbuffer_add(out, data, len);
        evbuffer_add(out, "\r\n", 2);

    } else {
        evbuffer_add(out, data, len);
    }

    mg_http_conn_flush(c);

    return MG_OK;
}

void
mg_http_stream_end(mg_http_request_t *r)
{
    if (request_dead(r)) {
        mg_http_request_free(r);
        return;
    }

    if (!r->streaming) {
        mg_log(MG_LOG_ALERT,
               "a stream ended that never started; "
               "closing the connection");
        mg_http_finalize(r);
        return;
    }

    if (request_chunked(r) && r->method != MG_HTTP_HEAD) {
        evbuffer_add(bufferevent_get_output(r->conn->bev), "0\r\n\r\n", 5);
    }

    r->streaming = 0;

    mg_log(MG_LOG_DEBUG, "http stream ended");

    mg_http_request_done(r);
}

void
mg_http_finalize(mg_http_request_t *r)
{
    if (!request_dead(r)) {
        /* The client would wait for an answer that never comes. */
        mg_log(MG_LOG_ERR,
               "request finalized without a complete "
               "response; closing the connection");
        mg_http_conn_close_later(r->conn);
    }

    mg_http_request_free(r);
}
