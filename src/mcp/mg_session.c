/*
 * Signed session ids.
 *
 *   id      = "s1." base64url(payload) "." base64url(HMAC-SHA256(key, head))
 *   head    = "s1." base64url(payload)
 *   payload = issued "|" expires "|" protocol "|" nonce "|" client
 *
 * The client name comes last so it may contain any byte but NUL.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "mg_core.h"
#include "mg_session.h"

#define SESSION_PREFIX "s1."
#define MAC_LEN 32
#define MAC_B64_LEN 43 /* 32 bytes in unpadded base64url */

static unsigned char session_key[64];
static size_t session_key_len;

/* HMAC-SHA256 keyed once; re-initialised per id, never set up again. */
static EVP_MAC_CTX *mac_ctx;

/*
 * Ids verified lately, with what they said: a client sends its id with
 * every request, and checking the signature each time was a fifth of
 * the work of a call.  Direct-mapped on the id's MAC; a hit still
 * checks expiry and the ended set.
 */
#define VERIFIED_SLOTS 16

typedef struct {
    char id[MG_SESSION_ID_MAX];
    size_t len; /* 0: empty slot */
    unsigned char mac[MAC_LEN];
    mg_session_t session;
} verified_t;

static verified_t verified[VERIFIED_SLOTS];

/* Ended ids, by their MAC; a small open-addressing table. */
typedef struct {
    unsigned char mac[MAC_LEN];
    int64_t expires;
    unsigned used : 1;
} ended_t;

static ended_t *ended;
static size_t ended_cap;
static size_t ended_count;

static void
verified_clear(void)
{
    OPENSSL_cleanse(verified, sizeof(verified));
}

/* A keyed MAC context, or NULL: then sign() falls back to one-shot HMAC. */
static EVP_MAC_CTX *
mac_ctx_new(const unsigned char *key, size_t len)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;

    EVP_MAC_free(mac); /* the context holds its own reference */

    if (ctx && EVP_MAC_init(ctx, key, len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }

    return ctx;
}

void
mg_session_set_key(const unsigned char *key, size_t len)
{
    if (len > sizeof(session_key)) {
        len = sizeof(session_key);
    }

    memcpy(session_key, key, len);
    session_key_len = len;

    EVP_MAC_CTX_free(mac_ctx);
    mac_ctx = mac_ctx_new(session_key, session_key_len);
    verified_clear();
}

static void
sign(const char *head, size_t len, unsigned char *mac)
{
    size_t maclen;

    /* A NULL key restarts the context with the key it already has. */
    if (mac_ctx && EVP_MAC_init(mac_ctx, NULL, 0, NULL) == 1 &&
        EVP_MAC_update(mac_ctx, (const unsigned char *)head, len) == 1 &&
        EVP_MAC_final(mac_ctx, mac, &maclen, MAC_LEN) == 1) {
        return;
    }

    EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, session_key, session_key_len,
              (const unsigned char *)head, len, mac, MAC_LEN, &maclen);
}

int
mg_session_create(char *out, const char *protocol, const char *client,
                  int64_t now, long ttl)
{
    char payload[400], nonce[17];
    unsigned char raw[8], mac[MAC_LEN];
    size_t plen, n;
    int r;

    if (session_key_len < 32 || RAND_bytes(raw, sizeof(raw)) != 1) {
        return MG_ERROR;
    }
    mg_hex(nonce, raw, sizeof(raw));

    r = snprintf(payload, sizeof(payload), "%" PRId64 "|%" PRId64 "|%s|%s|%s",
                 now, now + ttl, protocol, nonce, client);
    if (r < 0 || (size_t)r >= sizeof(payload) || strlen(client) > 127) {
        return MG_ERROR;
    }
    plen = (size_t)r;

    /* prefix, encoded payload, dot, encoded MAC and the NUL must fit */
    if (3 + (plen + 2) / 3 * 4 + 1 + 44 >= MG_SESSION_ID_MAX) {
        return MG_ERROR;
    }

    memcpy(out, SESSION_PREFIX, 3);
    n = 3 + mg_b64url_encode(out + 3, (const unsigned char *)payload, plen);

    sign(out, n, mac);
    out[n++] = '.';
    mg_b64url_encode(out + n, mac, MAC_LEN);

    return MG_OK;
}

static size_t
ended_slot(const unsigned char *mac)
{
    size_t h;

    memcpy(&h, mac, sizeof(h));

    return h & (ended_cap - 1);
}

static int
ended_has(const unsigned char *mac)
{
    size_t i, k;

    if (ended_cap == 0) {
        return 0;
    }

    for (k = 0, i = ended_slot(mac); k < ended_cap;
         k++, i = (i + 1) & (ended_cap - 1)) {
        if (!ended[i].used) {
            return 0;
        }
        if (memcmp(ended[i].mac, mac, MAC_LEN) == 0) {
            return 1;
        }
    }

    return 0;
}

static void ended_insert(const unsigned char *mac, int64_t expires);

/* Rebuild the table without expired ids, at the given capacity. */
static void
ended_rehash(size_t cap, int64_t now)
{
    ended_t *old = ended;
    size_t i, oldcap = ended_cap;

    ended = mg_calloc(cap, sizeof(ended_t));
    ended_cap = cap;
    ended_count = 0;

    for (i = 0; i < oldcap; i++) {
        if (old[i].used && old[i].expires > now) {
            ended_insert(old[i].mac, old[i].expires);
        }
    }

    free(old);
}

static void
ended_insert(const unsigned char *mac, int64_t expires)
{
    size_t i;

    for (i = ended_slot(mac); ended[i].used; i = (i + 1) & (ended_cap - 1)) {
        if (memcmp(ended[i].mac, mac, MAC_LEN) == 0) {
            return;
        }
    }

    memcpy(ended[i].mac, mac, MAC_LEN);
    ended[i].expires = expires;
    ended[i].used = 1;
    ended_count++;
}

void
mg_session_end(const char *id, int64_t expires, int64_t now)
{
    unsigned char mac[MAC_LEN + 3];
    const char *dot = strrchr(id, '.');

    if (dot == NULL || strlen(dot + 1) != MAC_B64_LEN ||
        mg_b64url_decode(mac, dot + 1, MAC_B64_LEN) != MAC_LEN) {
        return;
    }

    if (ended_cap == 0 || (ended_count + 1) * 2 > ended_cap) {
        ended_rehash(ended_cap ? ended_cap * 2 : 64, now);
    }

    ended_insert(mac, expires);
}

void
mg_session_reset(void)
{
    free(ended);
    ended = NULL;
    ended_cap = 0;
    ended_count = 0;

    verified_clear();
    EVP_MAC_CTX_free(mac_ctx);
    mac_ctx = NULL;
}

/* Split the payload into its fields. */
static int
parse_payload(char *p, mg_session_t *s)
{
    char *f[5];
    size_t n;
    int i;

    for (i = 0; i < 4; i++) {
        f[i] = p;
        p = strchr(p, '|');
        if (p == NULL) {
            return MG_ERROR;
        }
        *p++ = '\0';
    }
    f[4] = p;

    s->issued = strtoll(f[0], NULL, 10);
    s->expires = strtoll(f[1], NULL, 10);

    n = strlen(f[2]);
    if (n >= sizeof(s->protocol) || strlen(f[3]) >= sizeof(s->nonce) ||
        strlen(f[4]) >= sizeof(s->client)) {
        return MG_ERROR;
    }

    memcpy(s->protocol, f[2], n + 1);
    memcpy(s->nonce, f[3], strlen(f[3]) + 1);
    memcpy(s->client, f[4], strlen(f[4]) + 1);

    return MG_OK;
}

/* The slot an id is remembered in, chosen by the end of its MAC. */
static verified_t *
verified_slot(const char *id, size_t len)
{
    unsigned h = 0;
    size_t i;

    for (i = len - 8; i < len; i++) {
        h = h * 31 + (unsigned char)id[i];
    }

    return &verified[h % VERIFIED_SLOTS];
}

/*
 * A remembered id, compared in constant time over its whole length, so
 * the time taken does not tell how much of a guess matched a real id.
 */
static int
verified_find(const char *id, size_t len, mg_session_t *s, unsigned char *mac)
{
    const verified_t *v = verified_slot(id, len);

    if (v->len != len || !mg_ct_equal(v->id, id, len)) {
        return 0;
    }

    *s = v->session;
    memcpy(mac, v->mac, MAC_LEN);

    return 1;
}

static void
verified_store(const char *id, size_t len, const unsigned char *mac,
               const mg_session_t *s)
{
    verified_t *v = verified_slot(id, len);

    memcpy(v->id, id, len);
    v->len = len;
    memcpy(v->mac, mac, MAC_LEN);
    v->session = *s;
}

/* The signature and the payload of a well-formed id; mac gets its MAC. */
static mg_session_status_e
verify(const char *id, const char *dot, mg_session_t *s, unsigned char *mac)
{
    unsigned char want[MAC_LEN], payload[MG_SESSION_ID_MAX];
    long n;

    if (mg_b64url_decode(mac, dot + 1, MAC_B64_LEN) != MAC_LEN) {
        return MG_SESSION_MALFORMED;
    }

    sign(id, (size_t)(dot - id), want);
    if (!mg_ct_equal(mac, want, MAC_LEN)) {
        return MG_SESSION_BAD_SIGNATURE;
    }

    n = mg_b64url_decode(payload, id + 3, (size_t)(dot - id - 3));
    if (n < 0) {
        return MG_SESSION_MALFORMED;
    }
    payload[n] = '\0';

    if (memchr(payload, '\0', (size_t)n) ||
        parse_payload((char *)payload, s) != MG_OK) {
        return MG_SESSION_MALFORMED;
    }

    return MG_SESSION_VALID;
}

mg_session_status_e
mg_session_check(const char *id, int64_t now, mg_session_t *s)
{
    unsigned char mac[MAC_LEN + 3];
    mg_session_status_e st;
    const char *dot;
    size_t len;

    len = strlen(id);
    if (len >= MG_SESSION_ID_MAX || strncmp(id, SESSION_PREFIX, 3) != 0) {
        return MG_SESSION_MALFORMED;
    }

    dot = strrchr(id, '.');
    /* The length first: the decoder writes as much as it is given. */
    if (dot == NULL || dot < id + 3 ||
        len - (size_t)(dot + 1 - id) != MAC_B64_LEN) {
        return MG_SESSION_MALFORMED;
    }

    if (!verified_find(id, len, s, mac)) {
        st = verify(id, dot, s, mac);
        if (st != MG_SESSION_VALID) {
            return st;
        }
        verified_store(id, len, mac, s);
    }

    if (s->expires <= now) {
        return MG_SESSION_EXPIRED;
    }

    if (ended_has(mac)) {
        return MG_SESSION_ENDED;
    }

    return MG_SESSION_VALID;
}

const char *
mg_session_status_text(mg_session_status_e st)
{
    switch (st) {
    case MG_SESSION_VALID:
        return "valid";
    case MG_SESSION_MALFORMED:
        return "malformed";
    case MG_SESSION_BAD_SIGNATURE:
        return "not signed by this gateway's key";
    case MG_SESSION_EXPIRED:
        return "expired";
    case MG_SESSION_ENDED:
        return "ended";
    }

    return "unknown";
}
