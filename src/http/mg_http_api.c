/*
 * The public face of the HTTP layer (include/mcpgw/http.h): accessors
 * over the request model, and listening with the configured limits.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>

#include <mcpgw/http.h>

#include "mg_conf.h"
#include "mg_http.h"
#include "mg_http_int.h"
#include "mg_module.h"

mg_http_listener_t *
mg_http_listen_simple(const char *addr, mg_http_handler_pt handler, void *data)
{
    mg_http_limits_t limits = {0};
    mg_http_listener_t *l;

    if (mg_config) {
        limits = mg_config->limits;
    }

    l = mg_http_listen(addr, &limits, handler, data);
    if (l != NULL && mg_module_initialising != NULL) {
        mg_http_listener_set_server(l, mg_module_initialising->desc->name);
    }

    return l;
}

void
mg_http_listener_set_server(mg_http_listener_t *l, const char *name)
{
    snprintf(l->server, sizeof(l->server), "%s", name);
}

const char *
mg_http_listener_server(const mg_http_listener_t *l)
{
    return l->server;
}

void *
mg_http_request_data(const mg_http_request_t *r)
{
    return mg_http_listener_data(r->listener);
}

const char *
mg_http_method_name(const mg_http_request_t *r)
{
    return r->method_name;
}

const char *
mg_http_path(const mg_http_request_t *r)
{
    return r->path;
}

const char *
mg_http_query(const mg_http_request_t *r)
{
    return r->query;
}

const char *
mg_http_body(const mg_http_request_t *r, size_t *len)
{
    *len = r->body_len;

    return r->body ? r->body : "";
}

void
mg_http_reset(mg_http_request_t *r)
{
    struct linger lg = {1, 0};
    evutil_socket_t fd;

    /* SO_LINGER of zero turns the close into a reset the client sees. */
    if (!r->aborted && r->conn->bev) {
        fd = bufferevent_getfd(r->conn->bev);
        if (fd >= 0) {
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        mg_http_conn_close_later(r->conn);
    }

    mg_http_request_free(r);
}

/* A line stays small whatever the layers add. */
#define LOG_EXTRA_MAX 2047
#define LOG_MEMBER_MAX 511

/* Start a member: the separator, and where to roll back to. */
static size_t
log_member_begin(mg_http_request_t *r)
{
    mg_buf_t *b = &r->log_extra;
    size_t old = b->len;

    b->max = LOG_EXTRA_MAX;
    if (old && mg_buf_append(b, ",", 1) != MG_OK) {
        return SIZE_MAX;
    }

    return old;
}

/* Keep the member, or drop it whole when it did not fit. */
static void
log_member_end(mg_http_request_t *r, size_t old, int rc)
{
    mg_buf_t *b = &r->log_extra;
    size_t start = old ? old + 1 : 0;

    if (rc != MG_OK || b->len - start > LOG_MEMBER_MAX) {
        b->len = old;
        if (b->data) {
            b->data[old] = '\0';
        }
    }
}

void
mg_http_log_add(mg_http_request_t *r, const char *fmt, ...)
{
    char add[LOG_MEMBER_MAX + 1];
    size_t old;
    va_list ap;
    int k;

    va_start(ap, fmt);
    k = vsnprintf(add, sizeof(add), fmt, ap);
    va_end(ap);

    if (k < 0 || (size_t)k >= sizeof(add)) {
        return;
    }

    old = log_member_begin(r);
    if (old != SIZE_MAX) {
        log_member_end(r, old, mg_buf_append(&r->log_extra, add, (size_t)k));
    }
}

void
mg_http_log_add_string(mg_http_request_t *r, const char *key, const char *value,
                       size_t max)
{
    mg_buf_t *b = &r->log_extra;
    size_t old = log_member_begin(r);
    int ok;

    if (old == SIZE_MAX) {
        return;
    }

    ok = mg_buf_append(b, "\"", 1) == MG_OK &&
         mg_buf_append_str(b, key) == MG_OK &&
         mg_buf_append(b, "\":\"", 3) == MG_OK &&
         mg_buf_append_json(b, value, strnlen(value, max)) == MG_OK &&
         mg_buf_append(b, "\"", 1) == MG_OK;

    log_member_end(r, old, ok ? MG_OK : MG_ERROR);
}
