/*
 * Small helpers of the sandbox: errors, identifiers and secrets, RFC 3339
 * times, CIDR blocks, and query strings.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "sandbox.h"

int
sb_fail(sb_err_t *err, int status, int code, const char *fmt, ...)
{
    va_list ap;

    err->status = status;
    err->code = code;

    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);

    return MG_ERROR;
}

/* Cloudflare identifiers: exactly 32 lower-case hex digits. */
int
sb_is_hex_id(const char *s)
{
    size_t i;

    for (i = 0; i < SB_ID_LEN; i++) {
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) {
            return 0;
        }
    }

    return s[i] == '\0';
}

/* 40 to 80 letters, digits, '_' or '-': any secret Cloudflare issues. */
int
sb_secret_valid(const char *s)
{
    size_t i, n = strlen(s);

    if (n < SB_SECRET_MIN || n > SB_SECRET_MAX) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') {
            return 0;
        }
    }

    return 1;
}

int
sb_random_hex_id(char *dst)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[SB_ID_LEN / 2];
    size_t i;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return MG_ERROR;
    }

    for (i = 0; i < sizeof(raw); i++) {
        dst[2 * i] = hex[raw[i] >> 4];
        dst[2 * i + 1] = hex[raw[i] & 0x0f];
    }
    dst[SB_ID_LEN] = '\0';

    return MG_OK;
}

/*
 * prefix + 40 alphanumerics.  Bytes of 248 and above are drawn again so
 * that every character is equally likely (248 = 4 * 62).
 */
int
sb_random_secret(char *dst, const char *prefix)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        "abcdefghijklmnopqrstuvwxyz"
        "0123456789";
    unsigned char raw[64];
    size_t n, i, len = strlen(prefix);

    memcpy(dst, prefix, len);
    n = 0;

    while (n < SB_SECRET_MIN) {
        if (RAND_bytes(raw, sizeof(raw)) != 1) {
            return MG_ERROR;
        }

        for (i = 0; i < sizeof(raw) && n < SB_SECRET_MIN; i++) {
            if (raw[i] < 248) {
                dst[len + n++] = alphabet[raw[i] % 62];
            }
        }
    }

    dst[len + n] = '\0';

    return MG_OK;
}

void
sb_time_format(time_t t, char *buf, size_t size)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
digits(const char *s, size_t n, int *out)
{
    size_t i;
    int v = 0;

    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return MG_ERROR;
        }
        v = v * 10 + (s[i] - '0');
    }

    *out = v;

    return MG_OK;
}

static int
days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

/* Exactly "YYYY-MM-DDTHH:MM:SSZ", the form Cloudflare answers with. */
int
sb_time_parse(const char *s, time_t *out)
{
    struct tm tm;
    int y, mo, d, h, mi, se;

    if (strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
        s[13] != ':' || s[16] != ':' || s[19] != 'Z') {
        return MG_ERROR;
    }

    if (digits(s, 4, &y) != MG_OK || digits(s + 5, 2, &mo) != MG_OK ||
        digits(s + 8, 2, &d) != MG_OK || digits(s + 11, 2, &h) != MG_OK ||
        digits(s + 14, 2, &mi) != MG_OK || digits(s + 17, 2, &se) != MG_OK) {
        return MG_ERROR;
    }

    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
        h > 23 || mi > 59 || se > 59) {
        return MG_ERROR;
    }

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;

    *out = timegm(&tm);

    return MG_OK;
}

/* Parse "address/bits" into family, 16 address bytes and a length. */
static int
cidr_parse(const char *s, int *family, unsigned char *addr, int *bits)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n;
    int max;

    if (slash == NULL || (size_t)(slash - s) >= sizeof(buf)) {
        return MG_ERROR;
    }

    n = (size_t)(slash - s);
    memcpy(buf, s, n);
    buf[n] = '\0';

    if (inet_pton(AF_INET, buf, addr) == 1) {
        *family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, addr) == 1) {
        *family = AF_INET6;
        max = 128;
    } else {
        return MG_ERROR;
    }

    n = strlen(slash + 1);
    if (n == 0 || n > 3 || digits(slash + 1, n, bits) != MG_OK || *bits > max) {
        return MG_ERROR;
    }

    return MG_OK;
}

int
sb_cidr_valid(const char *s)
{
    unsigned char addr[16];
    int family, bits;

    return cidr_parse(s, &family, addr, &bits) == MG_OK;
}

/* 1 when addr ("127.0.0.1", "::1") lies in cidr. */
int
sb_cidr_match(const char *cidr, const char *addr)
{
    unsigned char net[16], a[16];
    int family, bits, i, mask;

    if (cidr_parse(cidr, &family, net, &bits) != MG_OK) {
        return 0;
    }

    if (inet_pton(family, addr, a) != 1) {
        return 0;
    }

    for (i = 0; bits > 0; i++, bits -= 8) {
        mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
        if ((net[i] & mask) != (a[i] & mask)) {
            return 0;
        }
    }

    return 1;
}

/* Characters, not bytes, as Cloudflare counts a name's length. */
size_t
sb_utf8_length(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80) {
            n++;
        }
    }

    return n;
}

static int
hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);

    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode n bytes of s; MG_ERROR when it does not fit or is malformed. */
static int
url_decode(const char *s, size_t n, char *buf, size_t size)
{
    size_t i, o = 0;
    int hi, lo;

    for (i = 0; i < n; i++) {
        if (o + 1 >= size) {
            return MG_ERROR;
        }

        if (s[i] == '+') {
            buf[o++] = ' ';
            continue;
        }

        if (s[i] != '%') {
            buf[o++] = s[i];
            continue;
        }

        if (i + 2 >= n) {
            return MG_ERROR;
        }
        hi = hex_value((unsigned char)s[i + 1]);
        lo = hex_value((unsigned char)s[i + 2]);
        if (hi < 0 || lo < 0) {
            return MG_ERROR;
        }
        buf[o++] = (char)(hi * 16 + lo);
        i += 2;
    }

    buf[o] = '\0';

    return MG_OK;
}

/*
 * The first value of key in a query string, decoded into buf.  Returns 1
 * when found, 0 when absent, -1 when it is too long or badly encoded.
 */
int
sb_query_get(const char *query, const char *key, char *buf, size_t size)
{
    char name[128];
    const char *p = query, *amp, *eq;
    size_t n;

    while (p != NULL && *p) {
        amp = strchr(p, '&');
        n = amp ? (size_t)(amp - p) : strlen(p);
        eq = memchr(p, '=', n);

        if (url_decode(p, eq ? (size_t)(eq - p) : n, name, sizeof(name)) ==
                MG_OK &&
            strcmp(name, key) == 0) {
            if (eq == NULL) {
                buf[0] = '\0';
                return 1;
            }

            if (url_decode(eq + 1, n - (size_t)(eq + 1 - p), buf, size) !=
                MG_OK) {
                return -1;
            }

            return 1;
        }

        p = amp ? amp + 1 : NULL;
    }

    return 0;
}

/*
 * Cloudflare's name filters: an exact name, or "contains:", "starts_with:"
 * or "ends_with:" before a part of one.  Names compare without case, as
 * DNS names do.
 */
int
sb_name_match(const char *filter, const char *name)
{
    size_t nf, nn;

    if (strncmp(filter, "contains:", 9) == 0) {
        return strcasestr(name, filter + 9) != NULL;
    }

    if (strncmp(filter, "starts_with:", 12) == 0) {
        return strncasecmp(name, filter + 12, strlen(filter + 12)) == 0;
    }

    if (strncmp(filter, "ends_with:", 10) == 0) {
        nf = strlen(filter + 10);
        nn = strlen(name);
        return nn >= nf && strcasecmp(name + nn - nf, filter + 10) == 0;
    }

    return strcasecmp(filter, name) == 0;
}
