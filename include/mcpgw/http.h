/*
 * mcpgw public HTTP server API, for modules that serve HTTP of their own
 * (the Cloudflare sandbox, say) on the gateway's event loop and through
 * its connection layer, limits and logging.
 */

#ifndef MCPGW_HTTP_H
#define MCPGW_HTTP_H

#include <stddef.h>

#include <mcpgw/mcpgw.h>

typedef struct mg_http_listener_s mg_http_listener_t;
typedef void (*mg_http_handler_pt)(mg_http_request_t *r);

/*
 * Listen on "host:port" with the limits of the configuration's http
 * block.  The handler gets every complete request and must answer each,
 * now or later from a callback, with mg_http_respond.  Returns NULL (and
 * logs why) when the address cannot be bound.
 */
mg_http_listener_t *
mg_http_listen_simple(const char *addr, mg_http_handler_pt handler, void *data);

/* The data given to mg_http_listen_simple, for a request's listener. */
void *mg_http_request_data(const mg_http_request_t *r);

/* "GET", "POST", ... as the client sent it. */
const char *mg_http_method_name(const mg_http_request_t *r);

/* The path without the query, and the query after '?' (or NULL). */
const char *mg_http_path(const mg_http_request_t *r);
const char *mg_http_query(const mg_http_request_t *r);

/* The body, NUL-terminated; *len excludes the NUL.  Never NULL. */
const char *mg_http_body(const mg_http_request_t *r, size_t *len);

/* Headers by name, case-insensitive: count, and the n-th value. */
size_t mg_http_header_count(const mg_http_request_t *r, const char *name);
const char *mg_http_header_nth(const mg_http_request_t *r, const char *name,
                               size_t n);

/* 1 when the peer is a loopback address. */
int mg_http_peer_is_loopback(const mg_http_request_t *r);

/*
 * Answer.  `headers` holds extra lines "Name: value\r\n" or is NULL;
 * Content-Length, Date, Server and Connection are added.  The request
 * is gone afterwards.
 */
void mg_http_respond(mg_http_request_t *r, int status, const char *ctype,
                     const char *headers, const char *body, size_t len);

/*
 * Drop the connection without an answer (to simulate a reset).  The
 * request is gone afterwards.
 */
void mg_http_reset(mg_http_request_t *r);

#endif /* MCPGW_HTTP_H */
