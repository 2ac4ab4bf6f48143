/*
 * MCP session ids: signed, self-describing values.  Any process holding
 * the key accepts them, so no session lives in process memory; only the
 * ids ended by DELETE are remembered, until they would have expired.
 */

#ifndef MG_SESSION_H
#define MG_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define MG_SESSION_ID_MAX 512

typedef struct {
    int64_t issued;  /* unix seconds */
    int64_t expires; /* unix seconds */
    char protocol[16];
    char client[128];
    char nonce[17];
} mg_session_t;

typedef enum {
    MG_SESSION_VALID = 0,
    MG_SESSION_MALFORMED,
    MG_SESSION_BAD_SIGNATURE,
    MG_SESSION_EXPIRED,
    MG_SESSION_ENDED
} mg_session_status_e;

/* Use this key (at least 32 bytes) for signing and checking. */
void mg_session_set_key(const unsigned char *key, size_t len);

/* Make a signed id into out (MG_SESSION_ID_MAX bytes).  MG_OK/MG_ERROR. */
int mg_session_create(char *out, const char *protocol, const char *client,
                      int64_t now, long ttl);

/* Check an id's signature, expiry and whether it was ended. */
mg_session_status_e mg_session_check(const char *id, int64_t now,
                                     mg_session_t *s);

/* Remember that an id was ended (DELETE) until it expires. */
void mg_session_end(const char *id, int64_t expires, int64_t now);

const char *mg_session_status_text(mg_session_status_e st);

/* Forget every ended id (shutdown, tests). */
void mg_session_reset(void);

#endif /* MG_SESSION_H */
