/*
 * Core internals shared by src/: the process cycle, logging context,
 * time and small helpers.  Modules use include/mcpgw/mcpgw.h instead.
 */

#ifndef MG_CORE_H
#define MG_CORE_H

#include <stddef.h>
#include <stdint.h>

#include <mcpgw/mcpgw.h>

#include "config.h"

/*
 * What the logger appends to every line: the connection, request and
 * session being worked on.  Layers set it when an event enters them and
 * clear it with mg_log_ctx_clear() when they leave.
 */
typedef struct {
    uint64_t conn;
    uint64_t req;
    const char *session;
} mg_log_ctx_t;

extern mg_log_ctx_t mg_log_ctx;

void mg_log_ctx_clear(void);

/* Open the error log file (NULL: stderr only).  Returns MG_OK/MG_ERROR. */
int mg_log_open(const char *path, int level);
void mg_log_close(void);
int mg_log_level_parse(const char *name);

/* Milliseconds: monotonic and wall clock. */
uint64_t mg_msec_mono(void);
uint64_t mg_msec_wall(void);

/* The prefix (with a trailing slash) that relative paths resolve from. */
extern const char *mg_prefix;

/* Allocation that never returns NULL: it logs and aborts instead. */
void *mg_alloc(size_t size);
void *mg_calloc(size_t n, size_t size);
void *mg_realloc(void *p, size_t size);
char *mg_strdup(const char *s);
char *mg_strndup(const char *s, size_t n);

/* A growable byte buffer with a hard ceiling. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* 0 = no ceiling */
} mg_buf_t;

void mg_buf_init(mg_buf_t *b, size_t max);
int mg_buf_append(mg_buf_t *b, const void *p, size_t n); /* MG_ERROR: over */
int mg_buf_printf(mg_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int mg_buf_append_str(mg_buf_t *b, const char *s);
int mg_buf_append_uint(mg_buf_t *b, uint64_t v); /* in decimal */
/* The n bytes of s escaped as the inside of a JSON string literal. */
int mg_buf_append_json(mg_buf_t *b, const char *s, size_t n);
/* The same between two '"': a whole JSON string literal. */
int mg_buf_append_json_quoted(mg_buf_t *b, const char *s, size_t n);
/* Room for n more bytes (and a NUL) without growing again; MG_ERROR
 * when n would go over the ceiling. */
int mg_buf_reserve(mg_buf_t *b, size_t n);
void mg_buf_free(mg_buf_t *b);
/* Detach the data (NUL-terminated); the buffer is reset. */
char *mg_buf_steal(mg_buf_t *b);

/* base64url without padding.  dst must hold 4*n/3+4 bytes. */
size_t mg_b64url_encode(char *dst, const unsigned char *src, size_t n);
/* Returns decoded length, or -1 on bad input.  dst holds 3*n/4+3 bytes. */
long mg_b64url_decode(unsigned char *dst, const char *src, size_t n);

/* Lower-case hex of n bytes into dst (2n+1 bytes). */
void mg_hex(char *dst, const unsigned char *src, size_t n);

/* Constant-time comparison of n bytes; 1 when equal. */
int mg_ct_equal(const void *a, const void *b, size_t n);

/*
 * Read a key file of at least 32 random bytes.  When it is missing and
 * `create` is set, make one (mode 0600) and log a notice saying so.
 * Returns the number of key bytes placed in out (at most outlen), or -1.
 */
long mg_key_file(const char *path, int create, unsigned char *out,
                 size_t outlen);

/* Read a secret from a file (first line) or an environment variable. */
char *mg_secret_read(const char *file, const char *env, char *err,
                     size_t errlen);

/* Create and free the process's event loop (mg_event_base() reads it). */
struct event_base *mg_event_base_create(void);
void mg_event_base_destroy(void);

#endif /* MG_CORE_H */
