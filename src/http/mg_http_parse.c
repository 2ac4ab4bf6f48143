/*
 * Parsing one request with http-parser: the callbacks that collect the
 * request line, headers and body into a request, and the checks the
 * parser leaves to us.  A callback that refuses records the status and
 * message in the connection and stops the parser.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "mg_http_int.h"

static int on_message_begin(http_parser *p);
static int on_url(http_parser *p, const char *at, size_t len);
static int on_header_field(http_parser *p, const char *at, size_t len);
static int on_header_value(http_parser *p, const char *at, size_t len);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t len);
static int on_message_complete(http_parser *p);

const http_parser_settings mg_http_parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static uint64_t req_ids;

static mg_http_method_e
method_from_parser(unsigned m)
{
    switch (m) {
    case HTTP_GET:
        return MG_HTTP_GET;
    case HTTP_POST:
        return MG_HTTP_POST;
    case HTTP_DELETE:
        return MG_HTTP_DELETE;
    case HTTP_OPTIONS:
        return MG_HTTP_OPTIONS;
    case HTTP_HEAD:
        return MG_HTTP_HEAD;
    case HTTP_PUT:
        return MG_HTTP_PUT;
    case HTTP_PATCH:
        return MG_HTTP_PATCH;
    default:
        return MG_HTTP_OTHER;
    }
}

static int refuse(mg_http_conn_t *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Remember why a callback stops the parser; returns the failing value. */
static int
refuse(mg_http_conn_t *c, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->fail_msg, sizeof(c->fail_msg), fmt, ap);
    va_end(ap);

    c->fail_status = status;

    return -1;
}

int
mg_http_refuse_header_size(mg_http_conn_t *c)
{
    return refuse(c, 431,
                  "request header is larger than the limit of %zu bytes; "
                  "send fewer or smaller headers or raise "
                  "http.max_header_size",
                  c->listener->limits.max_header_size);
}

static int
on_message_begin(http_parser *p)
{
    mg_http_conn_t *c = p->data;
    mg_http_limits_t *lim = &c->listener->limits;
    mg_http_request_t *r;

    r = mg_calloc(1, sizeof(*r));
    r->conn = c;
    r->listener = c->listener;
    r->id = ++req_ids;
    r->start_ms = mg_msec_mono();
    r->conn_id = c->id;
    c->req = r;
    c->refs++;
    c->nrequests++;

    mg_buf_init(&c->url, lim->max_header_size);
    mg_buf_init(&c->field, lim->max_header_size);
    mg_buf_init(&c->value, lim->max_header_size);
    mg_buf_init(&c->body, lim->max_body_size);

    c->state = MG_HTTP_ST_HEADERS;
    mg_http_conn_timer(c, lim->header_timeout_ms);
    mg_log_ctx.req = r->id;

    return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
    mg_http_conn_t *c = p->data;

    if (mg_buf_append(&c->url, at, len) != MG_OK) {
        return mg_http_refuse_header_size(c);
    }

    return 0;
}

/*
 * Debian builds http-parser without strict mode, which lets a space
 * into a header name ("Content Length").  Such a name is read one way
 * here and another way by a proxy in front: refuse it (RFC 9112, 5.1).
 */
static int
header_name_valid(const char *name, size_t len)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    size_t i;
    char ch;

    for (i = 0; i < len; i++) {
        ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || strchr(tchar, ch) != NULL) ||
            ch == '\0') {
            return 0;
        }
    }

    return len > 0;
}

/*
 * Move the header collected so far into the request.  Returns 0, or -1
 * with the refusal recorded.
 */
static int
header_commit(mg_http_conn_t *c)
{
    mg_http_request_t *r = c->req;
    mg_http_header_t *h;
    size_t i, nlen, vlen;

    c->in_value = 0;

    if (!header_name_valid(c->field.data, c->field.len)) {
        return refuse(c, 400,
                      "malformed HTTP request: a header name "
                      "holds a character that is not allowed");
    }

    if (r->nheaders == c->hdr_alloc) {
        c->hdr_alloc = c->hdr_alloc ? 2 * c->hdr_alloc : 16;
        r->headers =
            mg_realloc(r->headers, c->hdr_alloc * sizeof(mg_http_header_t));
    }

    /* The parser skips leading blanks of a value, not trailing ones. */
    vlen = c->value.len ? strnlen(c->value.data, c->value.len) : 0;
    while (vlen > 0 && (c->value.data[vlen - 1] == ' ' ||
                        c->value.data[vlen - 1] == '\t')) {
        vlen--;
    }

    /* Name and value share one allocation; name is the one to free. */
    nlen = c->field.len;
    h = &r->headers[r->nheaders++];
    h->name = mg_alloc(nlen + 1 + vlen + 1);
    h->value = h->name + nlen + 1;

    for (i = 0; i < nlen; i++) {
        h->name[i] = (char)(c->field.data[i] >= 'A' && c->field.data[i] <= 'Z'
                                ? c->field.data[i] - 'A' + 'a'
                                : c->field.data[i]);
    }
    h->name[nlen] = '\0';

    if (vlen) {
        memcpy(h->value, c->value.data, vlen);
    }
    h->value[vlen] = '\0';

    /* The buffers keep their memory for the next header. */
    c->field.len = 0;
    c->value.len = 0;

    return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
    mg_http_conn_t *c = p->data;

    /* Trailers of a chunked body are read and dropped. */
    if (c->headers_done) {
        return 0;
    }

    if (c->in_value && header_commit(c) != 0) {
        return -1;
    }

    if (mg_buf_append(&c->field, at, len) != MG_OK) {
        return mg_http_refuse_header_size(c);
    }

    return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
    mg_http_conn_t *c = p->data;

    if (c->headers_done) {
        return 0;
    }

    c->in_value = 1;

    if (mg_buf_append(&c->value, at, len) != MG_OK) {
        return mg_http_refuse_header_size(c);
    }

    return 0;
}

/* Split the target into path and query; absolute-form is taken apart. */
static void
request_target(mg_http_request_t *r, int is_connect)
{
    struct http_parser_url u;
    const char *t = r->target;
    size_t n;

    if (t[0] != '/') {
        http_parser_url_init(&u);

        if (http_parser_parse_url(t, strlen(t), is_connect, &u) != 0 ||
            !(u.field_set & (1 << UF_PATH))) {
            r->path = mg_strdup(t);
            return;
        }

        r->path = mg_strndup(t + u.field_data[UF_PATH].off,
                             u.field_data[UF_PATH].len);

        if (u.field_set & (1 << UF_QUERY)) {
            r->query = mg_strndup(t + u.field_data[UF_QUERY].off,
                                  u.field_data[UF_QUERY].len);
        }

        return;
    }

    n = strcspn(t, "?#");
    r->path = mg_strndup(t, n);

    if (t[n] == '?') {
        r->query = mg_strndup(t + n + 1, strcspn(t + n + 1, "#"));
    }
}

/*
 * What the parser leaves to us: versions, Host, the transfer codings we
 * take, Expect, and a declared length over the limit.  Returns 0, or -1
 * with the refusal recorded.
 */
static int
headers_check(mg_http_conn_t *c)
{
    mg_http_request_t *r = c->req;
    mg_http_limits_t *lim = &c->listener->limits;
    const char *te, *expect;
    size_t nte;

    if (r->http_major != 1) {
        return refuse(c, 505, "HTTP/%d.%d is not supported; use HTTP/1.1",
                      r->http_major, r->http_minor);
    }

    if (r->http_minor >= 1 && mg_http_header_count(r, "host") != 1) {
        return refuse(c, 400,
                      "an HTTP/1.1 request needs exactly one Host "
                      "header");
    }

    nte = mg_http_header_count(r, "transfer-encoding");
    te = mg_http_header(r, "transfer-encoding");
    if (nte > 1 || (nte == 1 && strcasecmp(te, "chunked") != 0)) {
        return refuse(c, 501,
                      "Transfer-Encoding \"%.60s\" is not "
                      "supported; send the body with Content-Length or "
                      "Transfer-Encoding: chunked",
                      te);
    }

    if ((c->parser.flags & F_CONTENTLENGTH) &&
        c->parser.content_length > lim->max_body_size) {
        return refuse(c, 413,
                      "request body is larger than the limit of "
                      "%zu bytes; send a smaller request or raise "
                      "http.max_body_size",
                      lim->max_body_size);
    }

    expect = mg_http_header(r, "expect");
    if (expect != NULL && r->http_minor >= 1) {
        if (strcasecmp(expect, "100-continue") != 0) {
            return refuse(c, 417,
                          "Expect: \"%.60s\" is not supported; "
                          "only 100-continue is",
                          expect);
        }
    }

    return 0;
}

static int
on_headers_complete(http_parser *p)
{
    mg_http_conn_t *c = p->data;
    mg_http_request_t *r = c->req;
    mg_http_limits_t *lim = &c->listener->limits;
    int has_body;

    if (c->in_value && header_commit(c) != 0) {
        return -1;
    }

    c->headers_done = 1;

    r->method = method_from_parser(p->method);
    r->method_name = http_method_str(p->method);
    r->http_major = p->http_major;
    r->http_minor = p->http_minor;
    r->target = mg_buf_steal(&c->url);
    request_target(r, p->method == HTTP_CONNECT);

    r->keep_alive = http_should_keep_alive(p) && p->method != HTTP_CONNECT &&
                    !(lim->max_requests && c->nrequests >= lim->max_requests);

    mg_log(MG_LOG_DEBUG, "http request \"%s %s HTTP/%d.%d\", %zu headers",
           r->method_name, r->path, r->http_major, r->http_minor, r->nheaders);

    if (headers_check(c) != 0) {
        return -1;
    }

    has_body = (p->flags & F_CHUNKED) ||
               ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);

    if (!has_body) {
        return 0;
    }

    if (mg_http_header(r, "expect") != NULL && r->http_minor >= 1) {
        evbuffer_add_printf(bufferevent_get_output(c->bev),
                            "HTTP/1.1 100 Continue\r\n\r\n");
        mg_http_conn_flush(c);
    }

    c->state = MG_HTTP_ST_BODY;
    mg_http_conn_timer(c, lim->body_timeout_ms);

    return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
    mg_http_conn_t *c = p->data;

    /* The ceiling of c->body is the limit, so memory stays bounded. */
    if (mg_buf_append(&c->body, at, len) != MG_OK) {
        return refuse(c, 413,
                      "request body is larger than the limit of "
                      "%zu bytes; send a smaller request or raise "
                      "http.max_body_size",
                      c->listener->limits.max_body_size);
    }

    return 0;
}

static int
on_message_complete(http_parser *p)
{
    /* One request at a time: the rest waits until this one is answered. */
    http_parser_pause(p, 1);

    return 0;
}

void
mg_http_parse_error(mg_http_conn_t *c, enum http_errno err)
{
    const char *what;

    switch (err) {
    case HPE_HEADER_OVERFLOW:
        mg_http_refuse_header_size(c);
        break;

    case HPE_CB_url:
    case HPE_CB_header_field:
    case HPE_CB_header_value:
    case HPE_CB_headers_complete:
    case HPE_CB_body:
        break;

    case HPE_UNEXPECTED_CONTENT_LENGTH:
        refuse(c, 400,
               "malformed HTTP request: Content-Length given twice "
               "or together with Transfer-Encoding");
        break;

    case HPE_INVALID_CONTENT_LENGTH:
        refuse(c, 400,
               "malformed HTTP request: Content-Length is not a "
               "number");
        break;

    case HPE_INVALID_CHUNK_SIZE:
        refuse(c, 400, "malformed chunked body: a chunk size is not hex");
        break;

    default:
        what = http_errno_description(err);
        refuse(c, 400, "malformed HTTP request: %s", what);
        break;
    }
}
