/*
 * Small helpers: allocation, bounded buffers, encodings, key files.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "mg_core.h"
#include "mg_swar.h"

void *
mg_alloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL) {
        mg_log(MG_LOG_EMERG, "malloc(%zu) failed", size);
        abort();
    }

    return p;
}

void *
mg_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL) {
        mg_log(MG_LOG_EMERG, "calloc(%zu, %zu) failed", n, size);
        abort();
    }

    return p;
}

void *
mg_realloc(void *p, size_t size)
{
    void *np = realloc(p, size ? size : 1);

    if (np == NULL) {
        mg_log(MG_LOG_EMERG, "realloc(%zu) failed", size);
        abort();
    }

    return np;
}

char *
mg_strdup(const char *s)
{
    return mg_strndup(s, strlen(s));
}

char *
mg_strndup(const char *s, size_t n)
{
    char *p = mg_alloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';

    return p;
}

uint64_t
mg_msec_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
mg_msec_wall(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
mg_buf_init(mg_buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

/* Make room for n more bytes plus a NUL, within the ceiling. */
static int
buf_reserve(mg_buf_t *b, size_t n)
{
    size_t need, cap;

    if (b->max && (n > b->max || b->len > b->max - n)) {
        return MG_ERROR;
    }

    need = b->len + n + 1;
    if (need <= b->cap) {
        return MG_OK;
    }

    cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }

    b->data = mg_realloc(b->data, cap);
    b->cap = cap;

    return MG_OK;
}

int
mg_buf_reserve(mg_buf_t *b, size_t n)
{
    return buf_reserve(b, n);
}

int
mg_buf_append(mg_buf_t *b, const void *p, size_t n)
{
    /* The usual case first: it fits, and there is no ceiling. */
    if (n >= b->cap - b->len || b->max) {
        if (buf_reserve(b, n) != MG_OK) {
            return MG_ERROR;
        }
    }

    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';

    return MG_OK;
}

/* Would n more bytes go over the ceiling? */
static int
buf_over(const mg_buf_t *b, size_t n)
{
    return b->max && (n > b->max || b->len > b->max - n);
}

int
mg_buf_printf(mg_buf_t *b, const char *fmt, ...)
{
    va_list ap, again;
    size_t room;
    int n;

    /*
     * Format straight into the free space and only a second time when
     * it did not fit: a sizing pass with a NULL buffer costs as much as
     * the formatting itself.
     */
    if (b->cap - b->len < 128) {
        buf_reserve(b, 127); /* at the ceiling: the slow path copes */
    }
    room = b->cap - b->len;

    va_start(ap, fmt);
    va_copy(again, ap);
    n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);

    if (n >= 0 && (size_t)n >= room && buf_reserve(b, (size_t)n) == MG_OK) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    }
    va_end(again);

    if (n < 0 || buf_over(b, (size_t)n) || (size_t)n >= b->cap - b->len) {
        if (b->data) {
            b->data[b->len] = '\0'; /* undo a partial line */
        }
        return MG_ERROR;
    }

    b->len += (size_t)n;

    return MG_OK;
}

int
mg_buf_append_str(mg_buf_t *b, const char *s)
{
    return mg_buf_append(b, s, strlen(s));
}

int
mg_buf_append_uint(mg_buf_t *b, uint64_t v)
{
    char digits[20], *p = digits + sizeof(digits);

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);

    return mg_buf_append(b, p, (size_t)(digits + sizeof(digits) - p));
}

/*
 * The second byte of the escape of each byte inside a JSON string, as
 * cJSON's printer writes it (\" \\ \b \f \n \r \t), 'u' for the other
 * control characters (\u00XX), 0 for a byte that stands for itself.
 */
static const unsigned char json_esc[256] = {
    /* 0x00 to 0x1f */
    'u', 'u', 'u', 'u', 'u', 'u',         'u',           'u', 'b',
    't', 'n', 'u', 'f', 'r', 'u',         'u',           'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u',         'u',           'u', 'u',
    'u', 'u', 'u', 'u', 'u', ['"'] = '"', ['\\'] = '\\',
};

/*
 * Copy from p to d the bytes that stand for themselves, up to the first
 * that does not or to n; return how many.  Eight at a time, the last
 * eight overlapping bytes already seen (they are plain); d has room for
 * n bytes.
 */
static size_t
json_copy_plain(char *d, const unsigned char *p, size_t n)
{
    size_t i = 0;
    uint64_t v, m;

    if (n < 8) {
        while (i < n && json_esc[p[i]] == 0) {
            d[i] = (char)p[i];
            i++;
        }

        return i;
    }

    for (;;) {
        memcpy(&v, p + i, 8);
        memcpy(d + i, &v, 8);
        m = mg_swar_json_special(v);

        if (m) {
            return i + mg_swar_first(m);
        }

        i += 8;

        if (n - i < 8) {
            break;
        }
    }

    if (i == n) {
        return n;
    }

    i = n - 8;
    memcpy(&v, p + i, 8);
    memcpy(d + i, &v, 8);
    m = mg_swar_json_special(v);

    return m ? i + mg_swar_first(m) : n;
}

/* Room at the end of b for n more bytes, a NUL and `extra` more bytes
 * (fewer if the ceiling allows fewer), as the count of the bytes beyond
 * n there is room for; (size_t)-1 when n bytes go over the ceiling. */
static size_t
json_room(mg_buf_t *b, size_t n, size_t extra)
{
    size_t lim;

    if (n + extra >= b->cap - b->len || b->max) {
        if (buf_reserve(b, n) != MG_OK) {
            return (size_t)-1;
        }

        if (n + extra >= b->cap - b->len &&
            (b->max == 0 || b->max - b->len - n >= extra)) {
            buf_reserve(b, n + extra);
        }
    }

    lim = b->cap - 1;
    if (b->max && b->max < lim) {
        lim = b->max;
    }

    return lim - b->len - n;
}

/*
 * The same escaping as cJSON's printer, so text quoted here reads byte
 * for byte as it did when cJSON quoted it; UTF-8 passes through as it
 * is.  One pass: room for the bytes as they are is made first, with some
 * slack; runs with nothing to escape are copied a word at a time, and
 * each escape takes its extra bytes from the slack, making more only
 * when it is gone.  Over the ceiling, the buffer is left as it was.
 */
static int
json_append(mg_buf_t *b, const char *s, size_t n, int quote)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, start = b->len, q = quote ? 1 : 0, slack, more;
    unsigned char e;
    char *d;

    slack = json_room(b, n + 2 * q, 16);
    if (slack == (size_t)-1) {
        return MG_ERROR;
    }

    d = b->data + b->len;
    *d = '"';
    d += q;

    for (;;) {
        i += json_copy_plain(d + i, p + i, n - i);

        if (i == n) {
            break;
        }

        e = json_esc[p[i]];
        more = e == 'u' ? 5 : 1;

        if (slack < more) {
            /* The bytes written so far, the rest at one byte each. */
            b->len = (size_t)(d + i - b->data);
            slack = json_room(b, more + 1 + (n - i - 1) + q, n - i);

            if (slack == (size_t)-1) {
                b->len = start;
                b->data[start] = '\0';
                return MG_ERROR;
            }

            slack += more;
            d = b->data + b->len - i;
        }

        slack -= more;
        d[i] = '\\';
        d[i + 1] = (char)e;

        if (e == 'u') {
            d[i + 2] = '0';
            d[i + 3] = '0';
            d[i + 4] = hex[p[i] >> 4];
            d[i + 5] = hex[p[i] & 15];
        }

        d += more;
        i++;
    }

    d += n;
    *d = '"';
    d += q;

    b->len = (size_t)(d - b->data);
    b->data[b->len] = '\0';

    return MG_OK;
}

int
mg_buf_append_json(mg_buf_t *b, const char *s, size_t n)
{
    return json_append(b, s, n, 0);
}

int
mg_buf_append_json_quoted(mg_buf_t *b, const char *s, size_t n)
{
    return json_append(b, s, n, 1);
}

void
mg_buf_free(mg_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

char *
mg_buf_steal(mg_buf_t *b)
{
    char *p = b->data;

    if (p == NULL) {
        p = mg_strdup("");
    }

    b->data = NULL;
    b->len = 0;
    b->cap = 0;

    return p;
}

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
mg_b64url_encode(char *dst, const unsigned char *src, size_t n)
{
    size_t i, o = 0;
    uint32_t v;

    for (i = 0; i + 2 < n; i += 3) {
        v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        dst[o++] = b64url[v >> 18 & 63];
        dst[o++] = b64url[v >> 12 & 63];
        dst[o++] = b64url[v >> 6 & 63];
        dst[o++] = b64url[v & 63];
    }

    if (n - i == 1) {
        v = (uint32_t)src[i] << 16;
        dst[o++] = b64url[v >> 18 & 63];
        dst[o++] = b64url[v >> 12 & 63];

    } else if (n - i == 2) {
        v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
        dst[o++] = b64url[v >> 18 & 63];
        dst[o++] = b64url[v >> 12 & 63];
        dst[o++] = b64url[v >> 6 & 63];
    }

    dst[o] = '\0';

    return o;
}

/* The inverse of b64url[], by ranges: no search per character. */
static int
b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

long
mg_b64url_decode(unsigned char *dst, const char *src, size_t n)
{
    size_t i, o = 0;
    uint32_t acc = 0;
    int bits = 0, v;

    if (n % 4 == 1) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        v = b64url_value(src[i]);
        if (v < 0) {
            return -1;
        }

        acc = acc << 6 | (uint32_t)v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            dst[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }

    /* Leftover bits must be zero, or the encoding is not canonical. */
    if (acc & ((1u << bits) - 1)) {
        return -1;
    }

    return (long)o;
}

void
mg_hex(char *dst, const unsigned char *src, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        dst[2 * i] = digits[src[i] >> 4];
        dst[2 * i + 1] = digits[src[i] & 15];
    }

    dst[2 * n] = '\0';
}

int
mg_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

static long
key_create(const char *path, unsigned char *out, size_t outlen)
{
    unsigned char key[32];
    char hex[65];
    int fd;
    ssize_t n;

    if (RAND_bytes(key, sizeof(key)) != 1) {
        mg_log(MG_LOG_EMERG, "no random bytes for key file \"%s\"", path);
        return -1;
    }

    mg_hex(hex, key, sizeof(key));
    hex[64] = '\n';

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1) {
        mg_log(MG_LOG_EMERG, "cannot create key file \"%s\": %s", path,
               strerror(errno));
        return -1;
    }

    n = write(fd, hex, sizeof(hex));
    if (n != (ssize_t)sizeof(hex) || fsync(fd) != 0) {
        mg_log(MG_LOG_EMERG, "cannot write key file \"%s\": %s", path,
               strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }

    close(fd);

    mg_log(MG_LOG_NOTICE,
           "created key file \"%s\" (mode 0600); keep it to keep sessions "
           "valid across restarts",
           path);

    outlen = outlen < sizeof(key) ? outlen : sizeof(key);
    memcpy(out, key, outlen);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(hex, sizeof(hex));

    return (long)outlen;
}

static int
hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

long
mg_key_file(const char *path, int create, unsigned char *out, size_t outlen)
{
    char buf[1024];
    struct stat st;
    size_t n, i, o;
    int fd, hi, lo;
    ssize_t r;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1 && errno == ENOENT && create) {
        return key_create(path, out, outlen);
    }

    if (fd == -1) {
        mg_log(MG_LOG_EMERG,
               "cannot open key file \"%s\": %s; create it with "
               "\"openssl rand -hex 32 > %s && chmod 600 %s\"",
               path, strerror(errno), path, path);
        return -1;
    }

    if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
        mg_log(MG_LOG_WARN,
               "key file \"%s\" is readable by others; run \"chmod 600 %s\"",
               path, path);
    }

    r = read(fd, buf, sizeof(buf) - 1);
    close(fd);

    if (r < 0) {
        mg_log(MG_LOG_EMERG, "cannot read key file \"%s\": %s", path,
               strerror(errno));
        return -1;
    }

    n = (size_t)r;
    while (n &&
           (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) {
        n--;
    }

    o = 0;
    for (i = 0; i + 1 < n && o < outlen; i += 2) {
        hi = hex_value((unsigned char)buf[i]);
        lo = hex_value((unsigned char)buf[i + 1]);
        if (hi < 0 || lo < 0) {
            break;
        }
        out[o++] = (unsigned char)(hi << 4 | lo);
    }

    OPENSSL_cleanse(buf, sizeof(buf));

    if (i < n || o < 32) {
        mg_log(MG_LOG_EMERG,
               "key file \"%s\" must hold at least 64 hex digits (32 "
               "bytes); make one with \"openssl rand -hex 32\"",
               path);
        return -1;
    }

    return (long)o;
}

char *
mg_secret_read(const char *file, const char *env, char *err, size_t errlen)
{
    char buf[4096], *nl;
    FILE *f;
    size_t n;
    const char *v;

    if (env) {
        v = getenv(env);
        if (v == NULL || *v == '\0') {
            snprintf(err, errlen, "environment variable %s is not set", env);
            return NULL;
        }
        return mg_strdup(v);
    }

    f = fopen(file, "re");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open \"%s\": %s", file, strerror(errno));
        return NULL;
    }

    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';

    nl = strpbrk(buf, "\r\n");
    if (nl) {
        *nl = '\0';
    }

    if (buf[0] == '\0') {
        snprintf(err, errlen, "\"%s\" is empty", file);
        return NULL;
    }

    v = mg_strdup(buf);
    OPENSSL_cleanse(buf, sizeof(buf));

    return (char *)v;
}
