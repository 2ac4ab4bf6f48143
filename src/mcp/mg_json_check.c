/*
 * The validating pass over JSON bodies from the network: one walk over
 * the raw bytes that refuses everything cJSON would let through but a
 * gateway must not (see mg_json_check.h for the list).
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcpgw/mcpgw.h>

#include "mg_json_check.h"
#include "mg_swar.h"

/* Keys longer than this are never quoted in a message: they may be
 * secrets, and they make poor log lines. */
#define KEY_QUOTE_MAX 32

typedef enum {
    ST_VALUE,      /* a value must come */
    ST_FIRST_ITEM, /* just after '[': a value or ']' */
    ST_NEXT_ITEM,  /* just after ',' in an array: a value */
    ST_FIRST_KEY,  /* just after '{': a key or '}' */
    ST_NEXT_KEY,   /* just after ',' in an object: a key */
    ST_COLON,      /* just after a key: ':' */
    ST_AFTER       /* after a value: ',', a closing bracket or the end */
} jc_state_e;

/* A key of an open object, decoded, kept until the object closes. */
typedef struct {
    size_t pos;                /* its opening quote in the input */
    size_t off;                /* the decoded key in input or scratch */
    size_t len;                /* decoded length */
    const unsigned char *data; /* set from off when the object closes */
    uint32_t hash;             /* set then too, for large objects only */
    unsigned char in_scratch;
} jc_key_t;

typedef struct {
    unsigned char is_object;
    size_t first_key; /* index of the object's first key in keys */
    size_t scratch_mark;
} jc_frame_t;

typedef struct {
    const unsigned char *in;
    size_t len;
    size_t pos;
    unsigned max_depth;

    char *err;
    size_t errlen;

    jc_frame_t *frames; /* frames0 until it outgrows it */
    size_t depth;
    size_t frames_cap;
    jc_frame_t *frames0;

    jc_key_t *keys; /* keys0 until it outgrows it */
    size_t nkeys;
    size_t keys_cap;
    jc_key_t *keys0;

    /* Keys that hold escapes, decoded. */
    unsigned char *scratch;
    size_t scratch_len;
    size_t scratch_cap;
} jc_t;

/* Room on the stack for the usual bodies: no allocation for them. */
#define JC_FRAMES0 16
#define JC_KEYS0 32

static int jc_run(jc_t *jc);

int
mg_json_check(const char *buf, size_t len, unsigned max_depth, char *err,
              size_t errlen)
{
    jc_frame_t frames0[JC_FRAMES0];
    jc_key_t keys0[JC_KEYS0];
    jc_t jc;
    int rc;

    memset(&jc, 0, sizeof(jc));
    jc.frames = jc.frames0 = frames0;
    jc.frames_cap = JC_FRAMES0;
    jc.keys = jc.keys0 = keys0;
    jc.keys_cap = JC_KEYS0;
    jc.in = (const unsigned char *)buf;
    jc.len = buf != NULL ? len : 0;
    jc.max_depth = max_depth;
    jc.err = err;
    jc.errlen = errlen;

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }

    rc = jc_run(&jc);

    if (jc.frames != frames0) {
        free(jc.frames);
    }

    if (jc.keys != keys0) {
        free(jc.keys);
    }

    free(jc.scratch);

    return rc;
}

/* Write the message into the caller's buffer; always returns MG_ERROR. */
static int __attribute__((format(printf, 2, 3)))
jc_fail(jc_t *jc, const char *fmt, ...)
{
    va_list ap;

    if (jc->err != NULL && jc->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(jc->err, jc->errlen, fmt, ap);
        va_end(ap);
    }

    return MG_ERROR;
}

/* The message for a byte outside strings that fits nowhere: NUL and
 * non-ASCII get their own words, anything else gets `what`. */
static int
jc_unexpected(jc_t *jc, const char *what)
{
    unsigned char c = jc->in[jc->pos];

    if (c == '\0') {
        return jc_fail(jc, "NUL byte at byte %zu", jc->pos);
    }

    if (c >= 0x80) {
        return jc_fail(jc, "non-ASCII byte outside a string at byte %zu",
                       jc->pos);
    }

    return jc_fail(jc, "%s at byte %zu", what, jc->pos);
}

/* Room for `need` elements of `size` bytes at p, whose capacity *cap
 * doubles as needed; p may be the block `fixed` (on the stack, or
 * NULL), which is copied to the heap, never freed.  Returns the (maybe
 * moved) block, or NULL with p still valid and *cap unchanged when
 * memory runs out. */
static void *
jc_grow(void *p, size_t *cap, size_t need, size_t size, const void *fixed)
{
    size_t n;
    void *q;

    if (need <= *cap) {
        return p;
    }

    n = *cap > 0 ? *cap : 16;

    while (n < need) {
        if (n > SIZE_MAX / 2 / size) {
            return NULL;
        }

        n *= 2;
    }

    if (p != NULL && p == fixed) {
        q = malloc(n * size);

        if (q != NULL) {
            memcpy(q, p, *cap * size);
        }
    } else {
        q = realloc(p, n * size);
    }

    if (q != NULL) {
        *cap = n;
    }

    return q;
}

static int
jc_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* A byte that may not follow a number or a literal directly. */
static int
jc_is_word(unsigned char c)
{
    return jc_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_' || c == '.' || c == '+' || c == '-';
}

static void
jc_skip_ws(jc_t *jc)
{
    while (jc->pos < jc->len) {
        switch (jc->in[jc->pos]) {
        case ' ':
        case '\t':
        case '\n':
        case '\r':
            jc->pos++;
            break;
        default:
            return;
        }
    }
}

/* The value of the four hex digits at `at`, or -1 when there are not
 * four of them before the end of the input. */
static long
jc_hex4(const jc_t *jc, size_t at)
{
    long v = 0;
    size_t i;
    unsigned char c;

    if (at > jc->len || jc->len - at < 4) {
        return -1;
    }

    for (i = 0; i < 4; i++) {
        c = jc->in[at + i];

        if (jc_is_digit(c)) {
            v = v * 16 + (c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v = v * 16 + (c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v = v * 16 + (c - 'A' + 10);
        } else {
            return -1;
        }
    }

    return v;
}

/*
 * Check the UTF-8 sequence at *pos, whose first byte is 0x80 or above,
 * and step over it.  Returns MG_OK, or MG_ERROR naming the first thing
 * wrong with it, at the offset of its first byte.
 */
static int
jc_utf8(jc_t *jc, size_t *pos)
{
    const unsigned char *s = jc->in + *pos;
    size_t avail = jc->len - *pos;
    size_t n = 0, i;
    unsigned char lo = 0x80, hi = 0xbf;
    const char *why = NULL;

    if (s[0] < 0xc0) {
        why = "invalid UTF-8 (a continuation byte with no lead byte)";
    } else if (s[0] < 0xc2) {
        why = "overlong UTF-8 encoding";
    } else if (s[0] < 0xe0) {
        n = 2;
    } else if (s[0] < 0xf0) {
        n = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80;
        hi = s[0] == 0xed ? 0x9f : 0xbf;
    } else if (s[0] < 0xf5) {
        n = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80;
        hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    } else if (s[0] < 0xf8) {
        why = "UTF-8 encoding above U+10FFFF";
    } else {
        why = "invalid UTF-8";
    }

    if (why != NULL) {
        return jc_fail(jc, "%s at byte %zu", why, *pos);
    }

    for (i = 1; i < n; i++) {
        if (i >= avail) {
            return jc_fail(jc, "truncated UTF-8 sequence at byte %zu", *pos);
        }

        if (s[i] < 0x80 || s[i] > 0xbf) {
            return jc_fail(
                jc, "invalid UTF-8 (incomplete sequence) at byte %zu", *pos);
        }

        if (i == 1 && s[i] < lo) {
            return jc_fail(jc, "overlong UTF-8 encoding at byte %zu", *pos);
        }

        if (i == 1 && s[i] > hi) {
            return jc_fail(jc, "%s at byte %zu",
                           s[0] == 0xed ? "UTF-16 surrogate encoded in UTF-8"
                                        : "UTF-8 encoding above U+10FFFF",
                           *pos);
        }
    }

    *pos += n;

    return MG_OK;
}

/*
 * Check the escape at *pos (a backslash with at least one byte after it)
 * and step over it; a high surrogate escape takes its low half along.
 */
static int
jc_escape(jc_t *jc, size_t *pos)
{
    size_t at = *pos;
    long cp, low;

    switch (jc->in[at + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        *pos = at + 2;
        return MG_OK;
    case 'u':
        break;
    default:
        return jc_fail(jc,
                       "invalid escape in a string at byte %zu (allowed: \\\" "
                       "\\\\ \\/ \\b \\f \\n \\r \\t, \\u and four hex digits)",
                       at);
    }

    cp = jc_hex4(jc, at + 2);

    if (cp < 0) {
        return jc_fail(
            jc, "invalid \\u escape (four hex digits needed) at byte %zu", at);
    }

    if (cp == 0) {
        return jc_fail(jc, "\\u0000 is not allowed in strings (byte %zu)", at);
    }

    if (cp < 0xd800 || cp > 0xdfff) {
        *pos = at + 6;
        return MG_OK;
    }

    low = -1;

    if (cp <= 0xdbff && jc->len - at > 7 && jc->in[at + 6] == '\\' &&
        jc->in[at + 7] == 'u') {
        low = jc_hex4(jc, at + 8);
    }

    if (low < 0xdc00 || low > 0xdfff) {
        return jc_fail(jc, "unpaired surrogate \\u%04lx at byte %zu", cp, at);
    }

    *pos = at + 12;

    return MG_OK;
}

/* 1 for a byte that stands for itself inside a string: printable ASCII
 * and DEL, but '"' and '\\'. */
static const unsigned char jc_plain[256] = {
    [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/*
 * The bytes of v that are not plain inside a string: what an escaper
 * marks (below 0x20, '"', '\\'), and every byte from 0x80 up, which
 * the UTF-8 check looks at alone.
 */
static uint64_t
jc_special(uint64_t v)
{
    return mg_swar_json_special(v) | (v & MG_SWAR_HIGH);
}

/*
 * Check the string whose opening quote is at the current position and
 * step past its closing quote.  *escaped (when not NULL) tells whether
 * it holds any escape.  Plain bytes go by eight at a time while eight
 * are left, then one at a time; every other byte is looked at alone.
 */
static int
jc_string(jc_t *jc, int *escaped)
{
    const unsigned char *in = jc->in;
    size_t start = jc->pos;
    size_t pos = start + 1;
    int esc = 0;
    unsigned char c;
    uint64_t v, m;

    for (;;) {
        while (jc->len - pos >= 8) {
            memcpy(&v, in + pos, 8);
            m = jc_special(v);

            if (m) {
                pos += mg_swar_first(m);
                goto special;
            }

            pos += 8;
        }

        while (pos < jc->len && jc_plain[in[pos]]) {
            pos++;
        }

        if (pos >= jc->len) {
            return jc_fail(jc, "unterminated string at byte %zu", start);
        }

special:
        c = in[pos];

        if (c == '"') {
            break;
        }

        if (c == '\\') {
            if (pos + 1 >= jc->len) {
                return jc_fail(jc, "unterminated string at byte %zu", start);
            }

            esc = 1;

            if (jc_escape(jc, &pos) != MG_OK) {
                return MG_ERROR;
            }

            continue;
        }

        if (c == '\0') {
            return jc_fail(jc, "NUL byte in a string at byte %zu", pos);
        }

        if (c < 0x20) {
            return jc_fail(
                jc,
                "unescaped control character 0x%02x in a string at byte %zu", c,
                pos);
        }

        if (jc_utf8(jc, &pos) != MG_OK) {
            return MG_ERROR;
        }
    }

    jc->pos = pos + 1;

    if (escaped != NULL) {
        *escaped = esc;
    }

    return MG_OK;
}

/* Write code point cp as UTF-8 at out; returns the number of bytes. */
static size_t
jc_put_utf8(unsigned char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }

    if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }

    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }

    out[0] = (unsigned char)(0xf0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));

    return 4;
}

/*
 * Decode the string body in[from..to), already checked by jc_string, to
 * the end of scratch, which has room for to - from more bytes: no escape
 * decodes to more bytes than it takes.
 */
static void
jc_decode(jc_t *jc, size_t from, size_t to)
{
    const unsigned char *in = jc->in;
    unsigned char *out = jc->scratch + jc->scratch_len;
    size_t i = from;
    unsigned long cp;

    while (i < to) {
        if (in[i] != '\\') {
            *out++ = in[i++];
            continue;
        }

        switch (in[i + 1]) {
        case 'b':
            *out++ = '\b';
            break;
        case 'f':
            *out++ = '\f';
            break;
        case 'n':
            *out++ = '\n';
            break;
        case 'r':
            *out++ = '\r';
            break;
        case 't':
            *out++ = '\t';
            break;
        case 'u':
            cp = (unsigned long)jc_hex4(jc, i + 2);

            if (cp >= 0xd800 && cp <= 0xdbff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) +
                     ((unsigned long)jc_hex4(jc, i + 8) - 0xdc00);
                i += 6;
            }

            out += jc_put_utf8(out, cp);
            i += 4;
            break;
        default: /* '"', '\\' and '/' stand for themselves */
            *out++ = in[i + 1];
            break;
        }

        i += 2;
    }

    jc->scratch_len = (size_t)(out - jc->scratch);
}

/* FNV-1a: only a quick first comparison, so collisions cost time only. */
static uint32_t
jc_hash(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;

    while (n-- > 0) {
        h ^= *p++;
        h *= 16777619u;
    }

    return h;
}

/*
 * Check the key at the current position and remember it, decoded, for
 * the duplicate check when its object closes.
 */
static int
jc_key(jc_t *jc)
{
    size_t start = jc->pos;
    size_t body, n;
    int escaped;
    jc_key_t *k;
    void *p;

    if (jc_string(jc, &escaped) != MG_OK) {
        return MG_ERROR;
    }

    body = start + 1;
    n = jc->pos - 1 - body;

    if (jc->nkeys == jc->keys_cap) {
        p = jc_grow(jc->keys, &jc->keys_cap, jc->nkeys + 1, sizeof(jc_key_t),
                    jc->keys0);

        if (p == NULL) {
            return jc_fail(jc, "out of memory");
        }

        jc->keys = p;
    }

    k = &jc->keys[jc->nkeys++];
    k->pos = start;

    if (!escaped) {
        k->in_scratch = 0;
        k->off = body;
        k->len = n;
        return MG_OK;
    }

    p = jc_grow(jc->scratch, &jc->scratch_cap, jc->scratch_len + n, 1, NULL);

    if (p == NULL) {
        return jc_fail(jc, "out of memory");
    }

    jc->scratch = p;
    k->in_scratch = 1;
    k->off = jc->scratch_len;
    jc_decode(jc, body, body + n);
    k->len = jc->scratch_len - k->off;

    return MG_OK;
}

/* Order keys by hash, then decoded bytes, then position in the input. */
static int
jc_key_cmp(const jc_key_t *a, const jc_key_t *b)
{
    int r;

    if (a->hash != b->hash) {
        return a->hash < b->hash ? -1 : 1;
    }

    if (a->len != b->len) {
        return a->len < b->len ? -1 : 1;
    }

    r = memcmp(a->data, b->data, a->len);

    if (r != 0) {
        return r;
    }

    return (a->pos > b->pos) - (a->pos < b->pos);
}

static void
jc_sift_down(jc_key_t *k, size_t root, size_t n)
{
    size_t child;
    jc_key_t t;

    for (;;) {
        child = 2 * root + 1;

        if (child >= n) {
            return;
        }

        if (child + 1 < n && jc_key_cmp(&k[child], &k[child + 1]) < 0) {
            child++;
        }

        if (jc_key_cmp(&k[root], &k[child]) >= 0) {
            return;
        }

        t = k[root];
        k[root] = k[child];
        k[child] = t;
        root = child;
    }
}

/* Heapsort: n log n whatever keys an attacker picks, no recursion and no
 * allocation; qsort promises none of these. */
static void
jc_sort_keys(jc_key_t *k, size_t n)
{
    size_t i;
    jc_key_t t;

    for (i = n / 2; i > 0; i--) {
        jc_sift_down(k, i - 1, n);
    }

    for (i = n - 1; i > 0; i--) {
        t = k[0];
        k[0] = k[i];
        k[i] = t;
        jc_sift_down(k, 0, i);
    }
}

/* Printable ASCII that reads unambiguously between quotes. */
static int
jc_quotable(const unsigned char *p, size_t n)
{
    size_t i;

    if (n > KEY_QUOTE_MAX) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\') {
            return 0;
        }
    }

    return 1;
}

/*
 * The index of the first key in k[0..n) (in input order) that repeats
 * an earlier one, or n: each key against those before it.  For small
 * objects only, where this costs less than hashing and sorting.
 */
static size_t
jc_dup_pairwise(const jc_key_t *k, size_t n)
{
    size_t i, j;

    for (i = 1; i < n; i++) {
        for (j = 0; j < i; j++) {
            if (k[i].len == k[j].len &&
                (k[i].len == 0 ||
                 (k[i].data[0] == k[j].data[0] &&
                  memcmp(k[i].data, k[j].data, k[i].len) == 0))) {
                return i;
            }
        }
    }

    return n;
}

/*
 * The same for any number of keys, in n log n: sort by hash, bytes and
 * input position; equal keys then sit next to each other, the earlier
 * one first.  The order of k changes; the index returned is into it.
 */
static size_t
jc_dup_sorted(jc_key_t *k, size_t n)
{
    size_t i, dup = n;

    for (i = 0; i < n; i++) {
        k[i].hash = jc_hash(k[i].data, k[i].len);
    }

    jc_sort_keys(k, n);

    for (i = 1; i < n; i++) {
        if (k[i].hash == k[i - 1].hash && k[i].len == k[i - 1].len &&
            memcmp(k[i].data, k[i - 1].data, k[i].len) == 0 &&
            (dup == n || k[i].pos < k[dup].pos)) {
            dup = i;
        }
    }

    return dup;
}

/*
 * Refuse the object of frame f when two of its keys decode to the same
 * bytes, naming the first repetition in input order.  Up to
 * MG_JSON_PAIRWISE_KEYS keys are compared pairwise; more are sorted,
 * which keeps an object with many keys n log n.
 */
static int
jc_check_keys(jc_t *jc, const jc_frame_t *f)
{
    jc_key_t *k = jc->keys + f->first_key;
    size_t n = jc->nkeys - f->first_key;
    size_t i, dup;

    if (n < 2) {
        return MG_OK;
    }

    for (i = 0; i < n; i++) {
        k[i].data = (k[i].in_scratch ? jc->scratch : jc->in) + k[i].off;
    }

    dup = n <= MG_JSON_PAIRWISE_KEYS ? jc_dup_pairwise(k, n)
                                     : jc_dup_sorted(k, n);

    if (dup == n) {
        return MG_OK;
    }

    if (jc_quotable(k[dup].data, k[dup].len)) {
        return jc_fail(jc, "duplicate key \"%.*s\" in an object at byte %zu",
                       (int)k[dup].len, (const char *)k[dup].data, k[dup].pos);
    }

    return jc_fail(jc, "duplicate key in an object at byte %zu", k[dup].pos);
}

/* Enter the array or object whose bracket is at the current position. */
static int
jc_open(jc_t *jc, int is_object)
{
    jc_frame_t *f;
    void *p;

    if (jc->depth >= jc->max_depth) {
        return jc_fail(jc, "nesting deeper than %u levels at byte %zu",
                       jc->max_depth, jc->pos);
    }

    p = jc_grow(jc->frames, &jc->frames_cap, jc->depth + 1, sizeof(jc_frame_t),
                jc->frames0);

    if (p == NULL) {
        return jc_fail(jc, "out of memory");
    }

    jc->frames = p;
    f = &jc->frames[jc->depth++];
    f->is_object = (unsigned char)is_object;
    f->first_key = jc->nkeys;
    f->scratch_mark = jc->scratch_len;
    jc->pos++;

    return MG_OK;
}

/* Leave the innermost array or object at its closing bracket. */
static int
jc_close(jc_t *jc)
{
    jc_frame_t *f = &jc->frames[jc->depth - 1];

    if (f->is_object && jc_check_keys(jc, f) != MG_OK) {
        return MG_ERROR;
    }

    jc->nkeys = f->first_key;
    jc->scratch_len = f->scratch_mark;
    jc->depth--;
    jc->pos++;

    return MG_OK;
}

static int
jc_bad_number(jc_t *jc, size_t start)
{
    return jc_fail(jc, "invalid number at byte %zu", start);
}

static size_t
jc_skip_digits(const jc_t *jc, size_t pos)
{
    while (pos < jc->len && jc_is_digit(jc->in[pos])) {
        pos++;
    }

    return pos;
}

/* Check a number by the RFC 8259 grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?
 * ([eE][+-]?[0-9]+)?, and not run into letters or digits after it. */
static int
jc_number(jc_t *jc)
{
    const unsigned char *in = jc->in;
    size_t start = jc->pos, pos = start, end = jc->len;

    if (in[pos] == '-') {
        pos++;
    }

    if (pos < end && in[pos] == '0') {
        pos++;

        if (pos < end && jc_is_digit(in[pos])) {
            return jc_fail(jc, "invalid number (leading zero) at byte %zu",
                           start);
        }

    } else if (pos < end && in[pos] >= '1' && in[pos] <= '9') {
        pos = jc_skip_digits(jc, pos);

    } else {
        return jc_bad_number(jc, start);
    }

    if (pos < end && in[pos] == '.') {
        pos++;

        if (pos >= end || !jc_is_digit(in[pos])) {
            return jc_bad_number(jc, start);
        }

        pos = jc_skip_digits(jc, pos);
    }

    if (pos < end && (in[pos] == 'e' || in[pos] == 'E')) {
        pos++;

        if (pos < end && (in[pos] == '+' || in[pos] == '-')) {
            pos++;
        }

        if (pos >= end || !jc_is_digit(in[pos])) {
            return jc_bad_number(jc, start);
        }

        pos = jc_skip_digits(jc, pos);
    }

    if (pos < end && jc_is_word(in[pos])) {
        return jc_bad_number(jc, start);
    }

    jc->pos = pos;

    return MG_OK;
}

static int
jc_bad_literal(jc_t *jc)
{
    return jc_fail(jc,
                   "invalid literal at byte %zu (expected true, false or null)",
                   jc->pos);
}

/* Check that `word` (true, false or null) stands at the current
 * position, whole. */
static int
jc_literal(jc_t *jc, const char *word)
{
    size_t n = strlen(word);
    size_t pos = jc->pos;

    if (jc->len - pos < n || memcmp(jc->in + pos, word, n) != 0 ||
        (jc->len - pos > n && jc_is_word(jc->in[pos + n]))) {
        return jc_bad_literal(jc);
    }

    jc->pos = pos + n;

    return MG_OK;
}

/* Check or enter the value that starts at the current position, and
 * set the state that follows it. */
static int
jc_value(jc_t *jc, jc_state_e *st)
{
    unsigned char c = jc->in[jc->pos];

    *st = ST_AFTER;

    switch (c) {
    case '{':
        *st = ST_FIRST_KEY;
        return jc_open(jc, 1);
    case '[':
        *st = ST_FIRST_ITEM;
        return jc_open(jc, 0);
    case '"':
        return jc_string(jc, NULL);
    case 't':
        return jc_literal(jc, "true");
    case 'f':
        return jc_literal(jc, "false");
    case 'n':
        return jc_literal(jc, "null");
    case '-':
    case '+':
    case '.':
        return jc_number(jc);
    default:
        break;
    }

    if (jc_is_digit(c)) {
        return jc_number(jc);
    }

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return jc_bad_literal(jc);
    }

    return jc_unexpected(jc, "expected a value");
}

/*
 * The parser proper: a state machine over the input with an explicit
 * stack of open arrays and objects instead of recursion.  Each turn skips
 * whitespace and consumes one token or one value.
 */
static int
jc_run(jc_t *jc)
{
    jc_state_e st = ST_VALUE;
    const jc_frame_t *top;
    unsigned char c;
    int rc;

    for (;;) {
        jc_skip_ws(jc);

        if (jc->pos == jc->len) {
            if (jc->depth == 0 && st == ST_AFTER) {
                return MG_OK;
            }

            if (jc->depth == 0) {
                return jc_fail(jc, "empty body");
            }

            return jc_fail(jc, "unexpected end of input at byte %zu", jc->pos);
        }

        c = jc->in[jc->pos];

        switch (st) {
        case ST_FIRST_ITEM:
        case ST_NEXT_ITEM:
            if (c == ']' && st == ST_NEXT_ITEM) {
                return jc_fail(jc, "trailing comma before ']' at byte %zu",
                               jc->pos);
            }

            if (c == ']') {
                st = ST_AFTER;
                rc = jc_close(jc);
                break;
            }

            rc = jc_value(jc, &st);
            break;

        case ST_VALUE:
            rc = jc_value(jc, &st);
            break;

        case ST_FIRST_KEY:
        case ST_NEXT_KEY:
            if (c == '}' && st == ST_NEXT_KEY) {
                return jc_fail(jc, "trailing comma before '}' at byte %zu",
                               jc->pos);
            }

            if (c == '}') {
                st = ST_AFTER;
                rc = jc_close(jc);
                break;
            }

            if (c != '"') {
                return jc_unexpected(jc, "expected a string key");
            }

            st = ST_COLON;
            rc = jc_key(jc);
            break;

        case ST_COLON:
            if (c != ':') {
                return jc_unexpected(jc, "expected ':' after a key");
            }

            st = ST_VALUE;
            jc->pos++;
            rc = MG_OK;
            break;

        default: /* ST_AFTER */
            if (jc->depth == 0) {
                return jc_unexpected(jc,
                                     "unexpected bytes after the JSON value");
            }

            top = &jc->frames[jc->depth - 1];

            if (c == ',') {
                st = top->is_object ? ST_NEXT_KEY : ST_NEXT_ITEM;
                jc->pos++;
                rc = MG_OK;

            } else if (c == (top->is_object ? '}' : ']')) {
                rc = jc_close(jc);

            } else {
                return jc_unexpected(jc, top->is_object
                                             ? "expected ',' or '}'"
                                             : "expected ',' or ']'");
            }

            break;
        }

        if (rc != MG_OK) {
            return MG_ERROR;
        }
    }
}
