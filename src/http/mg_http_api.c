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

mg_http_listener_t *
mg_http_listen_simple(const char *addr, mg_http_handler_pt handler, void *data)
{
    mg_http_limits_t limits = {0};

    if (mg_config) {
        limits = mg_config->limits;
    }

    return mg_http_listen(addr, &limits, handler, data);
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

void
mg_http_log_add(mg_http_request_t *r, const char *fmt, ...)
{
    char add[512];
    size_t old, n;
    va_list ap;
    int k;

    va_start(ap, fmt);
    k = vsnprintf(add, sizeof(add), fmt, ap);
    va_end(ap);

    if (k < 0 || (size_t)k >= sizeof(add)) {
        return;
    }

    /* A line stays small whatever the layers add. */
    old = r->log_extra ? strlen(r->log_extra) : 0;
    n = (size_t)k;
    if (old + n + 2 > 2048) {
        return;
    }

    r->log_extra = mg_realloc(r->log_extra, old + n + 2);
    if (old) {
        r->log_extra[old++] = ',';
    }
    memcpy(r->log_extra + old, add, n + 1);
}
