/*
 * Internals shared by the files of src/http/: the listener and connection
 * structures, and the steps one file asks of another.
 */

#ifndef MG_HTTP_INT_H
#define MG_HTTP_INT_H

#include <netinet/in.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <http_parser.h>

#include "mg_core.h"
#include "mg_http.h"

/* Room for "[v6 address]:port" and the NUL. */
#define MG_HTTP_ADDR_LEN (INET6_ADDRSTRLEN + 9)
#define MG_HTTP_SERVER_LEN 32

/* The error code of every JSON-RPC body the HTTP layer makes itself. */
#define MG_HTTP_RPC_INVALID -32600

/* Flags of mg_http_write_head. */
#define MG_HTTP_HEAD_CHUNKED 0x01
#define MG_HTTP_HEAD_CLOSE 0x02

/*
 * Where a connection is in its life.  The order matters: every state up
 * to BODY feeds input to the parser.
 */
typedef enum {
    MG_HTTP_ST_IDLE = 0, /* nothing of the next request read yet */
    MG_HTTP_ST_HEADERS,  /* request line and headers arriving */
    MG_HTTP_ST_BODY,     /* body arriving */
    MG_HTTP_ST_HANDLER,  /* the handler owns the request */
    MG_HTTP_ST_CLOSING,  /* the last response is flushing */
    MG_HTTP_ST_LINGER,   /* write side shut, input read and dropped */
    MG_HTTP_ST_CLOSED    /* socket gone; kept while a request is owned */
} mg_http_state_e;

/*
 * A listener lives while its socket is open or a connection (even a
 * closed one whose request an owner still holds) points at it.
 */
struct mg_http_listener_s {
    mg_http_listener_t *next;
    struct evconnlistener *evl;
    struct event *accept_resume;
    mg_http_limits_t limits;
    mg_http_handler_pt handler;
    void *data;
    unsigned refs;
    unsigned closed : 1;
    char addr[MG_HTTP_ADDR_LEN];
    char server[MG_HTTP_SERVER_LEN];
};

/*
 * A connection holds one reference for its open socket, one for a
 * request in flight and one for each callback running on it, and is
 * freed when the last one goes: so neither an owner answering from
 * on_abort nor a handler calling mg_http_shutdown pulls it away from
 * under a caller.
 */
struct mg_http_conn_s {
    uint64_t id;
    mg_http_listener_t *listener;
    mg_http_conn_t *prev;
    mg_http_conn_t *next;
    unsigned refs;
    mg_http_state_e state;

    struct bufferevent *bev; /* its output; input is read by conn_recv_cb */
    struct event *rev;
    struct event *timer;
    struct event *resume;

    http_parser parser;
    mg_http_request_t *req;
    size_t hdr_alloc; /* slots in req->headers */
    size_t hdr_bytes; /* request line and headers fed to the parser */
    mg_buf_t url;
    mg_buf_t field;
    mg_buf_t value;
    mg_buf_t body;
    unsigned nrequests;
    size_t discarded;

    unsigned in_value : 1;     /* the last header callback was a value */
    unsigned headers_done : 1; /* of the request being parsed */
    unsigned handed : 1;       /* req belongs to the handler */
    unsigned in_process : 1;   /* the parse loop is on the stack */
    unsigned want_close : 1;   /* close from the resume event */
    unsigned linger : 1;       /* drain input before closing */
    unsigned eof : 1;          /* the client shut its side */
    unsigned loopback : 1;

    int fail_status; /* set by a parser callback that refuses */
    char fail_msg[200];

    char peer[INET6_ADDRSTRLEN]; /* the address alone */
    char addr[MG_HTTP_ADDR_LEN]; /* with the port, for logs */
};

/* mg_http.c */
void mg_http_listener_unref(mg_http_listener_t *l);

/* mg_http_parse.c */
extern const http_parser_settings mg_http_parser_settings;
int mg_http_refuse_header_size(mg_http_conn_t *c);
void mg_http_parse_error(mg_http_conn_t *c, enum http_errno err);

/* mg_http_conn.c */
void mg_http_conn_timer(mg_http_conn_t *c, unsigned msec);
void mg_http_conn_accept(mg_http_listener_t *l, evutil_socket_t fd,
                         const struct sockaddr *sa);
void mg_http_conn_close_all(void);
void mg_http_conn_close_later(mg_http_conn_t *c);
void mg_http_conn_flush(mg_http_conn_t *c);
void mg_http_request_done(mg_http_request_t *r);
void mg_http_request_free(mg_http_request_t *r);

/* mg_http_response.c */
void mg_http_write_head(mg_http_conn_t *c, int status, const char *ctype,
                        const char *extra, long long clen, int flags);
char *mg_http_rpc_error_json(const char *id_raw, int code, const char *message,
                             size_t *len);

#endif /* MG_HTTP_INT_H */
