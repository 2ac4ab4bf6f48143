/*
 * Unit tests for mg_json_check: tables of hostile bodies, each with the
 * words its refusal must hold, and of bodies that must pass.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mcpgw/mcpgw.h>

#include "mg_json_check.h"

typedef struct {
    const char *in;
    size_t len;
    const char *want; /* a substring of the message */
} bad_case_t;

typedef struct {
    const char *in;
    size_t len;
} good_case_t;

/* Literals may hold NUL bytes, so the length comes from sizeof. */
/* clang-format off */
#define BAD(s, want) { s, sizeof(s) - 1, want }
#define GOOD(s) { s, sizeof(s) - 1 }
/* clang-format on */

static const bad_case_t bad_cases[] = {
    /* Nothing there. */
    BAD("", "empty body"),
    BAD(" \t\r\n ", "empty body"),

    /* UTF-8: overlong forms, surrogates, out of range, truncated. */
    BAD("\"\xc0\x80\"", "overlong UTF-8 encoding at byte 1"),
    BAD("\"\xc1\xbf\"", "overlong UTF-8 encoding at byte 1"),
    BAD("\"\xe0\x80\x80\"", "overlong UTF-8 encoding at byte 1"),
    BAD("\"\xe0\x9f\xbf\"", "overlong UTF-8 encoding at byte 1"),
    BAD("\"\xf0\x80\x80\x80\"", "overlong UTF-8 encoding at byte 1"),
    BAD("\"\xf0\x8f\xbf\xbf\"", "overlong UTF-8 encoding at byte 1"),
    BAD("\"\xed\xa0\x80\"", "UTF-16 surrogate encoded in UTF-8 at byte 1"),
    BAD("\"ab\xed\xbf\xbf\"", "UTF-16 surrogate encoded in UTF-8 at byte 3"),
    BAD("\"\xf4\x90\x80\x80\"", "above U+10FFFF at byte 1"),
    BAD("\"\xf5\x80\x80\x80\"", "above U+10FFFF at byte 1"),
    BAD("\"\xf8\x88\x80\x80\x80\"", "invalid UTF-8 at byte 1"),
    BAD("\"\xff\"", "invalid UTF-8 at byte 1"),
    BAD("\"\x80\"", "invalid UTF-8"),
    BAD("\"\xbf\"", "invalid UTF-8"),
    BAD("\"\xc3\"", "invalid UTF-8 (incomplete sequence) at byte 1"),
    BAD("\"\xe2\x82\"", "invalid UTF-8 (incomplete sequence) at byte 1"),
    BAD("\"\xf0\x9f\x98x\"", "invalid UTF-8 (incomplete sequence) at byte 1"),
    BAD("\"\xe2\x82", "truncated UTF-8 sequence at byte 1"),
    BAD("\"abc\xf0\x9f\x98", "truncated UTF-8 sequence at byte 4"),
    BAD("\"\xc3", "truncated UTF-8 sequence at byte 1"),

    /* Nothing but ASCII outside strings (a BOM too). */
    BAD("\xc3\xa9", "non-ASCII byte outside a string at byte 0"),
    BAD("[1,\xc2\xa0 2]", "non-ASCII byte outside a string at byte 3"),
    BAD("\xef\xbb\xbf{}", "non-ASCII byte outside a string at byte 0"),
    BAD("{}\xc2\xa0", "non-ASCII byte outside a string at byte 2"),

    /* Raw control characters and bad escapes in strings. */
    BAD("\"a\tb\"", "unescaped control character 0x09 in a string at byte 2"),
    BAD("\"a\nb\"", "unescaped control character 0x0a in a string at byte 2"),
    BAD("\"\r\"", "unescaped control character 0x0d"),
    BAD("\"\x1f\"", "unescaped control character 0x1f"),
    BAD("{\"k\x01\":1}", "unescaped control character 0x01 in a string"),
    BAD("\"\\u0000\"", "\\u0000 is not allowed in strings (byte 1)"),
    BAD("{\"a\\u0000b\":1}", "\\u0000 is not allowed in strings (byte 3)"),
    BAD("\"\\udc00\"", "unpaired surrogate \\udc00 at byte 1"),
    BAD("\"\\uDFFF\"", "unpaired surrogate \\udfff at byte 1"),
    BAD("\"\\ud800\\u0041\"", "unpaired surrogate \\ud800 at byte 1"),
    BAD("\"\\ud800\"", "unpaired surrogate \\ud800 at byte 1"),
    BAD("\"\\ud800x\"", "unpaired surrogate \\ud800"),
    BAD("\"\\ud800\\ud800\"", "unpaired surrogate \\ud800 at byte 1"),
    BAD("\"\\udbff\\n\"", "unpaired surrogate \\udbff"),
    BAD("\"\\ud800\\", "unpaired surrogate \\ud800"),
    BAD("\"\\x41\"", "invalid escape in a string at byte 1"),
    BAD("\"\\U0041\"", "invalid escape in a string at byte 1"),
    BAD("\"\\'\"", "invalid escape"),
    BAD("\"\\a\"", "invalid escape"),
    BAD("\"\\u12G4\"", "invalid \\u escape (four hex digits needed) at byte 1"),
    BAD("\"\\u12\"", "invalid \\u escape"),
    BAD("\"\\u", "invalid \\u escape"),

    /* Unterminated strings. */
    BAD("\"abc", "unterminated string at byte 0"),
    BAD("[\"abc", "unterminated string at byte 1"),
    BAD("\"abc\\", "unterminated string at byte 0"),
    BAD("{\"a", "unterminated string at byte 1"),
    BAD("{\"a\":\"b}", "unterminated string at byte 5"),

    /* NUL bytes, inside strings and out. */
    BAD("\"a\0b\"", "NUL byte in a string at byte 2"),
    BAD("{\"\0\":1}", "NUL byte in a string at byte 2"),
    BAD("\0", "NUL byte at byte 0"),
    BAD("\0{}", "NUL byte at byte 0"),
    BAD("{}\0", "NUL byte at byte 2"),
    BAD("[1,\0]", "NUL byte at byte 3"),
    BAD("1\0", "NUL byte at byte 1"),
    BAD("{\"a\"\0:1}", "NUL byte at byte 4"),

    /* Duplicate keys, compared after decoding. */
    BAD("{\"id\":1,\"id\":2}", "duplicate key \"id\" in an object at byte 8"),
    BAD("{\"a\":1,\"\\u0061\":2}",
        "duplicate key \"a\" in an object at byte 7"),
    BAD("{\"\\u0061\":1,\"a\":2}",
        "duplicate key \"a\" in an object at byte 12"),
    BAD("{\"\\/\":1,\"/\":2}", "duplicate key \"/\""),
    BAD("{\"\\n\":1,\"\\u000a\":2}", "duplicate key in an object at byte 8"),
    BAD("{\"\xc3\xa9\":1,\"\\u00e9\":2}",
        "duplicate key in an object at byte 8"),
    BAD("{\"\xf0\x9f\x98\x80\":1,\"\\ud83d\\ude00\":2}", "duplicate key in"),
    BAD("{\"\":1,\"\":2}", "duplicate key \"\" in an object at byte 6"),
    BAD("{\"x\":{\"b\":1,\"b\":2}}",
        "duplicate key \"b\" in an object at byte 12"),
    BAD("[{\"a\":1},{\"b\":{\"c\":1,\"c\":2}}]", "duplicate key \"c\""),
    BAD("{\"a\":{\"a\":1},\"a\":2}",
        "duplicate key \"a\" in an object at byte 13"),
    BAD("{\"a\":1,\"b\":2,\"b\":3,\"a\":4}",
        "duplicate key \"b\" in an object at byte 13"),
    BAD("{\"a\":1,\"a\":2,\"a\":3}",
        "duplicate key \"a\" in an object at byte 7"),
    BAD("{\"Authorization: Bearer abcdefghijklmnop\":1,"
        "\"Authorization: Bearer abcdefghijklmnop\":2}",
        "duplicate key in an object at byte 44"),
    BAD("{\"a\\\"b\":1,\"a\\\"b\":2}", "duplicate key in an object at byte 10"),

    /* Nothing after the value. */
    BAD("{}x", "unexpected bytes after the JSON value at byte 2"),
    BAD("{} {}", "unexpected bytes after the JSON value at byte 3"),
    BAD("1 2", "unexpected bytes after the JSON value at byte 2"),
    BAD("\"a\"\"b\"", "unexpected bytes after the JSON value at byte 3"),
    BAD("[],", "unexpected bytes after the JSON value at byte 2"),
    BAD("null\f", "unexpected bytes after the JSON value at byte 4"),

    /* Structure. */
    BAD("[1,]", "trailing comma before ']' at byte 3"),
    BAD("{\"a\":1,}", "trailing comma before '}' at byte 7"),
    BAD("[1 2]", "expected ',' or ']' at byte 3"),
    BAD("{\"a\":1 \"b\":2}", "expected ',' or '}' at byte 7"),
    BAD("{\"a\":1]", "expected ',' or '}' at byte 6"),
    BAD("[1}", "expected ',' or ']' at byte 2"),
    BAD("{\"a\" 1}", "expected ':' after a key at byte 5"),
    BAD("{1:2}", "expected a string key at byte 1"),
    BAD("{'a':1}", "expected a string key at byte 1"),
    BAD("{,}", "expected a string key at byte 1"),
    BAD("{\"a\":}", "expected a value at byte 5"),
    BAD("[,1]", "expected a value at byte 1"),
    BAD("]", "expected a value at byte 0"),
    BAD("\f{}", "expected a value at byte 0"),
    BAD("\v1", "expected a value at byte 0"),
    BAD("[", "unexpected end of input at byte 1"),
    BAD("[1,", "unexpected end of input at byte 3"),
    BAD("{\"a\":1", "unexpected end of input at byte 6"),
    BAD("{\"a\"", "unexpected end of input at byte 4"),
    BAD("{\"a\":", "unexpected end of input at byte 5"),

    /* Numbers. */
    BAD("01", "invalid number (leading zero) at byte 0"),
    BAD("-01", "invalid number (leading zero) at byte 0"),
    BAD("[00]", "invalid number (leading zero) at byte 1"),
    BAD("-", "invalid number at byte 0"),
    BAD("[-]", "invalid number at byte 1"),
    BAD("- 1", "invalid number at byte 0"),
    BAD("1e", "invalid number at byte 0"),
    BAD("1e+", "invalid number at byte 0"),
    BAD("1E-x", "invalid number at byte 0"),
    BAD("1.", "invalid number at byte 0"),
    BAD("1.e5", "invalid number at byte 0"),
    BAD(".5", "invalid number at byte 0"),
    BAD("-.5", "invalid number at byte 0"),
    BAD("+1", "invalid number at byte 0"),
    BAD("0x10", "invalid number at byte 0"),
    BAD("1.5.3", "invalid number at byte 0"),
    BAD("12abc", "invalid number at byte 0"),
    BAD("1-2", "invalid number at byte 0"),
    BAD("-Infinity", "invalid number at byte 0"),

    /* Literals. */
    BAD("NaN", "invalid literal at byte 0"),
    BAD("Infinity", "invalid literal at byte 0"),
    BAD("tru", "invalid literal at byte 0"),
    BAD("nul", "invalid literal at byte 0"),
    BAD("[fals]", "invalid literal at byte 1"),
    BAD("True", "invalid literal at byte 0"),
    BAD("truex", "invalid literal at byte 0"),
    BAD("nulll", "invalid literal at byte 0"),
    BAD("[null1]", "invalid literal at byte 1"),
    BAD("undefined", "invalid literal at byte 0"),
};

static const good_case_t good_cases[] = {
    GOOD("{}"),
    GOOD("[]"),
    GOOD(" \t\r\n{ } \n\t\r "),
    GOOD("[ ]"),
    GOOD("0"),
    GOOD("-0"),
    GOOD("0.0"),
    GOOD("-0.5e-10"),
    GOOD("1E+2"),
    GOOD("1e2"),
    GOOD("10"),
    GOOD("123456789012345678901234567890"),
    GOOD("-123456789012345678901234567890.123456789e-300"),
    GOOD("true"),
    GOOD("false"),
    GOOD("null"),
    GOOD("[true,false,null,0,\"\"]"),
    GOOD("\"\""),
    GOOD("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
    GOOD("\"\\u0041\\u00e9\\u20AC\\u0001\\u001f\\uffff\""),
    GOOD("\"\\ud83d\\ude00\""),
    GOOD("\"\\uD800\\uDC00\\uDBFF\\uDFFF\""),
    GOOD("\"\xf0\x9f\x98\x80\""),
    GOOD(
        "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\""),
    GOOD("\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\""),
    GOOD("\"\x7f\""),
    GOOD("\"caf\xc3\xa9 \xe2\x82\xac\""),
    GOOD("{\"a\":1,\"A\":2,\"a \":3,\" a\":4,\"b\":5,\"ab\":6,\"ba\":7}"),
    GOOD("[{\"a\":1},{\"a\":2}]"),
    GOOD("{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2}}"),
    GOOD("{\"x\":{\"id\":1},\"y\":{\"id\":2},\"id\":3}"),
    GOOD("{\"\\u0061\":1,\"\\u0062\":2}"),
    GOOD("{\"\\ud83d\\ude00\":1,\"\\ud83d\\ude01\":2}"),
    GOOD("{\"\":1}"),
    GOOD("{\"jsonrpc\":\"2.0\",\"id\":123456789012345678901234567890,"
         "\"method\":\"tools/"
         "call\",\"params\":{\"name\":\"dns_list\",\"arguments\":{\"zone\":"
         "\"example.com\",\"limit\":10}}}"),
    GOOD("[[[]],[{}],{\"a\":[]}]"),
};

/* A copy of exactly len bytes, so ASan sees any read past the end. */
static char *
exact_copy(const char *s, size_t len)
{
    char *p = malloc(len > 0 ? len : 1);

    assert_non_null(p);
    memcpy(p, s, len);

    return p;
}

static void
test_bad_table(void **state)
{
    char err[256];
    char *copy;
    size_t i;
    int rc;

    (void)state;

    for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        copy = exact_copy(bad_cases[i].in, bad_cases[i].len);
        rc = mg_json_check(copy, bad_cases[i].len, MG_JSON_MAX_DEPTH, err,
                           sizeof(err));
        free(copy);

        if (rc != MG_ERROR || strstr(err, bad_cases[i].want) == NULL) {
            print_error("case %zu: rc %d, message \"%s\", wanted \"%s\"\n", i,
                        rc, err, bad_cases[i].want);
            fail();
        }
    }
}

static void
test_good_table(void **state)
{
    char err[256];
    char *copy;
    size_t i;
    int rc;

    (void)state;

    for (i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
        copy = exact_copy(good_cases[i].in, good_cases[i].len);
        strcpy(err, "untouched");
        rc = mg_json_check(copy, good_cases[i].len, MG_JSON_MAX_DEPTH, err,
                           sizeof(err));
        free(copy);

        if (rc != MG_OK) {
            print_error("case %zu: refused: %s\n", i, err);
            fail();
        }

        assert_string_equal(err, "");
    }
}

/* Nesting `depth` levels deep, opening with opens[i % n], each level
 * closed in turn; objects hold their child under key "k". */
static char *
nested(unsigned depth, const char *opens, size_t *len)
{
    size_t n = strlen(opens);
    char *p = malloc((size_t)depth * 6 + 2);
    size_t o = 0;
    unsigned i;

    assert_non_null(p);

    for (i = 0; i < depth; i++) {
        if (opens[i % n] == '{') {
            memcpy(p + o, "{\"k\":", 5);
            o += 5;
        } else {
            p[o++] = '[';
        }
    }

    p[o++] = '1';

    for (i = depth; i > 0; i--) {
        p[o++] = opens[(i - 1) % n] == '{' ? '}' : ']';
    }

    *len = o;

    return p;
}

static void
test_depth(void **state)
{
    char err[256];
    char *p;
    size_t len;

    (void)state;

    p = nested(64, "[", &len);
    assert_int_equal(mg_json_check(p, len, MG_JSON_MAX_DEPTH, err, sizeof(err)),
                     MG_OK);
    free(p);

    p = nested(64, "[{", &len);
    assert_int_equal(mg_json_check(p, len, MG_JSON_MAX_DEPTH, err, sizeof(err)),
                     MG_OK);
    free(p);

    p = nested(65, "[", &len);
    assert_int_equal(mg_json_check(p, len, MG_JSON_MAX_DEPTH, err, sizeof(err)),
                     MG_ERROR);
    assert_string_equal(err, "nesting deeper than 64 levels at byte 64");
    free(p);

    p = nested(65, "{", &len);
    assert_int_equal(mg_json_check(p, len, MG_JSON_MAX_DEPTH, err, sizeof(err)),
                     MG_ERROR);
    assert_string_equal(err, "nesting deeper than 64 levels at byte 320");
    free(p);

    p = nested(65, "[{{[", &len);
    assert_int_equal(mg_json_check(p, len, MG_JSON_MAX_DEPTH, err, sizeof(err)),
                     MG_ERROR);
    assert_non_null(strstr(err, "nesting deeper than 64 levels"));
    free(p);

    p = nested(100000, "{[", &len);
    assert_int_equal(mg_json_check(p, len, MG_JSON_MAX_DEPTH, err, sizeof(err)),
                     MG_ERROR);
    assert_non_null(strstr(err, "nesting deeper than 64 levels"));
    free(p);

    /* The limit is the caller's; 0 leaves scalars only. */
    assert_int_equal(mg_json_check("[[1]]", 5, 2, err, sizeof(err)), MG_OK);
    assert_int_equal(mg_json_check("[[[1]]]", 7, 2, err, sizeof(err)),
                     MG_ERROR);
    assert_string_equal(err, "nesting deeper than 2 levels at byte 2");
    assert_int_equal(mg_json_check("1", 1, 0, err, sizeof(err)), MG_OK);
    assert_int_equal(mg_json_check("[]", 2, 0, err, sizeof(err)), MG_ERROR);

    /* Deep but allowed, many times over, with keys at every level. */
    p = nested(100000, "{[", &len);
    assert_int_equal(mg_json_check(p, len, 100000, err, sizeof(err)), MG_OK);
    free(p);
}

/* {"<prefix>0":0,"<prefix>1":1,...} with n keys, then `tail` before the
 * closing brace. */
static char *
many_keys(size_t n, const char *prefix, const char *tail, size_t *len)
{
    size_t cap = n * (strlen(prefix) + 32) + strlen(tail) + 16;
    char *p = malloc(cap);
    size_t o = 0, i;

    assert_non_null(p);
    p[o++] = '{';

    for (i = 0; i < n; i++) {
        o += (size_t)snprintf(p + o, cap - o, "%s\"%s%zu\":%zu",
                              i > 0 ? "," : "", prefix, i, i);
    }

    o += (size_t)snprintf(p + o, cap - o, "%s}", tail);
    *len = o;

    return p;
}

static double
seconds_since(clock_t start)
{
    return (double)(clock() - start) / CLOCKS_PER_SEC;
}

static void
test_many_keys(void **state)
{
    char err[256];
    char *p;
    size_t len;
    clock_t start;

    (void)state;

    start = clock();

    p = many_keys(100000, "key", "", &len);
    assert_int_equal(mg_json_check(p, len, MG_JSON_MAX_DEPTH, err, sizeof(err)),
                     MG_OK);
    free(p);

    p = many_keys(100000, "key", ",\"key0\":1", &len);
    assert_int_equal(mg_json_check(p, len, MG_JSON_MAX_DEPTH, err, sizeof(err)),
                     MG_ERROR);
    assert_non_null(strstr(err, "duplicate key \"key0\" in an object"));
    free(p);

    /* The same through escapes: every key is decoded. */
    p = many_keys(100000, "\\u006bey", "", &len);
    assert_int_equal(mg_json_check(p, len, MG_JSON_MAX_DEPTH, err, sizeof(err)),
                     MG_OK);
    free(p);

    p = many_keys(100000, "\\u006bey", ",\"key99999\":1", &len);
    assert_int_equal(mg_json_check(p, len, MG_JSON_MAX_DEPTH, err, sizeof(err)),
                     MG_ERROR);
    assert_non_null(strstr(err, "duplicate key \"key99999\" in an object"));
    free(p);

    /* A pairwise check would take minutes here. */
    assert_true(seconds_since(start) < 5.0);
}

static void
test_many_objects(void **state)
{
    char err[256];
    char *p;
    size_t i, o = 0, n = 100000;

    (void)state;

    /* Many sibling objects with the same key: keys of closed objects are
     * forgotten. */
    p = malloc(n * 16 + 2);
    assert_non_null(p);
    p[o++] = '[';

    for (i = 0; i < n; i++) {
        memcpy(p + o, i > 0 ? ",{\"\\u0061\":[]}" : "{\"\\u0061\":[]}",
               i > 0 ? 14 : 13);
        o += i > 0 ? 14 : 13;
    }

    p[o++] = ']';
    assert_int_equal(mg_json_check(p, o, MG_JSON_MAX_DEPTH, err, sizeof(err)),
                     MG_OK);
    free(p);
}

static void
test_messages(void **state)
{
    char err[256];
    char small[8];
    const char secret[] = "{\"token\":\"sk-live-abcdef\x01\"}";
    const char long_key[] =
        "{\"sk-0123456789abcdef0123456789abcdef\":1,"
        "\"sk-0123456789abcdef0123456789abcdef\":2}";

    (void)state;

    /* No message buffer at all. */
    assert_int_equal(mg_json_check("{}x", 3, 64, NULL, 0), MG_ERROR);
    assert_int_equal(mg_json_check("{}x", 3, 64, err, 0), MG_ERROR);
    assert_int_equal(mg_json_check("{}", 2, 64, NULL, 0), MG_OK);
    assert_int_equal(mg_json_check(NULL, 0, 64, err, sizeof(err)), MG_ERROR);
    assert_string_equal(err, "empty body");

    /* A short buffer gets a truncated, terminated message. */
    assert_int_equal(mg_json_check("{}x", 3, 64, small, sizeof(small)),
                     MG_ERROR);
    assert_string_equal(small, "unexpec");

    /* String contents never show up in a message. */
    assert_int_equal(
        mg_json_check(secret, sizeof(secret) - 1, 64, err, sizeof(err)),
        MG_ERROR);
    assert_string_equal(
        err, "unescaped control character 0x01 in a string at byte 24");
    assert_null(strstr(err, "sk-"));

    assert_int_equal(
        mg_json_check(long_key, sizeof(long_key) - 1, 64, err, sizeof(err)),
        MG_ERROR);
    assert_string_equal(err, "duplicate key in an object at byte 41");
}

/* The refusal of s, which must be refused; its message in err. */
static void
check_bad(const char *s, size_t len, const char *want)
{
    char err[256];

    assert_int_equal(mg_json_check(s, len, MG_JSON_MAX_DEPTH, err, sizeof(err)),
                     MG_ERROR);
    if (strstr(err, want) == NULL) {
        fail_msg("\"%s\" not in \"%s\"", want, err);
    }
}

/*
 * Strings are checked a word at a time while eight bytes are left: every
 * byte value at every offset of a word, near the start, in the middle
 * and at the end of a long string, must get the answer and the offset
 * a byte-by-byte walk gives.
 */
static void
test_string_bytes(void **state)
{
    char s[64], want[96], err[256];
    size_t k, len, tail;
    int c;

    (void)state;

    for (tail = 0; tail < 12; tail++) {
        for (k = 0; k < 24; k++) {
            for (c = 0; c < 256; c++) {
                /* '"', k plain bytes, c, tail plain bytes, '"' */
                len = 0;
                s[len++] = '"';
                memset(s + len, 'a', k);
                len += k;
                s[len++] = (char)c;
                memset(s + len, 'z', tail);
                len += tail;
                s[len++] = '"';

                if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                    assert_int_equal(mg_json_check(s, len, MG_JSON_MAX_DEPTH,
                                                   err, sizeof(err)),
                                     MG_OK);
                    continue;
                }

                if (c == '"') {
                    snprintf(want, sizeof(want),
                             "unexpected bytes after the JSON value at byte "
                             "%zu",
                             k + 2);
                } else if (c == '\\' && tail == 0) {
                    /* The closing quote, escaped. */
                    snprintf(want, sizeof(want),
                             "unterminated string at byte 0");
                } else if (c == '\\') {
                    snprintf(want, sizeof(want),
                             "invalid escape in a string at byte %zu", k + 1);
                } else if (c == 0) {
                    snprintf(want, sizeof(want),
                             "NUL byte in a string at byte %zu", k + 1);
                } else if (c < 0x20) {
                    snprintf(want, sizeof(want),
                             "unescaped control character 0x%02x in a "
                             "string at byte %zu",
                             c, k + 1);
                } else {
                    /* A lone byte of 0x80 and above: never valid UTF-8
                     * before an ASCII byte. */
                    snprintf(want, sizeof(want), "at byte %zu", k + 1);
                    check_bad(s, len, want);
                    check_bad(s, len, "UTF-8");
                    continue;
                }

                check_bad(s, len, want);
            }
        }
    }
}

/* Valid UTF-8 of every length, escapes and surrogate pairs at every
 * offset, and strings cut short at every length. */
static void
test_string_offsets(void **state)
{
    static const char *const pieces[] = {
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\xf4\x8f\xbf\xbf",
        "\\n",
        "\\\"",
        "\\\\",
        "\\u00e9",
        "\\ud83d\\ude00",
        "\xed\x9f\xbf",
        "\xee\x80\x80",
        "\x7f",
    };
    char s[96], want[64];
    size_t i, k, t, len, n;

    (void)state;

    for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        n = strlen(pieces[i]);

        for (k = 0; k < 20; k++) {
            for (t = 0; t < 20; t++) {
                len = 0;
                s[len++] = '"';
                memset(s + len, 'x', k);
                len += k;
                memcpy(s + len, pieces[i], n);
                len += n;
                memset(s + len, 'y', t);
                len += t;
                s[len++] = '"';
                assert_int_equal(
                    mg_json_check(s, len, MG_JSON_MAX_DEPTH, NULL, 0), MG_OK);

                /* Without its closing quote, and then cut shorter. */
                while (--len > 0) {
                    if (len > k + 1 && len < k + 1 + n) {
                        continue; /* inside the piece: other messages */
                    }
                    check_bad(s, len, "unterminated string at byte 0");
                }

                /* A bad byte right after the piece. */
                len = 1 + k + n;
                s[len] = '\x01';
                s[len + 1] = '"';
                snprintf(want, sizeof(want),
                         "unescaped control character 0x01 in a string at "
                         "byte %zu",
                         len);
                check_bad(s, len + 2, want);
            }
        }
    }
}

/* An object of n keys "k0".."k<n-1>", with key number `at` replaced by
 * a repeat of key number `of` (when at != of); its length in *len. */
static char *
object_with_dup(size_t n, size_t at, size_t of, int escaped, size_t *len)
{
    char *p = malloc(n * 24 + 8);
    size_t i, o = 0;

    assert_non_null(p);
    p[o++] = '{';

    for (i = 0; i < n; i++) {
        o += (size_t)sprintf(p + o, "%s\"%s%zu\":%zu", i ? "," : "",
                             escaped && i % 2 ? "\\u006b" : "k",
                             i == at ? of : i, i);
    }

    p[o++] = '}';
    p[o] = '\0';
    *len = o;

    return p;
}

/*
 * Duplicate keys in objects just below, at and above the size where the
 * pairwise comparison gives way to sorting: a repeat in every position,
 * of every earlier key, with and without escapes, is found and named at
 * its own offset; the same keys without a repeat pass.
 */
static void
test_dup_threshold(void **state)
{
    char err[256], want[96], key[16];
    char *p, *at_p;
    size_t n, at, of, len;
    int escaped;

    (void)state;

    for (n = 1; n <= MG_JSON_PAIRWISE_KEYS + 3; n++) {
        for (escaped = 0; escaped < 2; escaped++) {
            p = object_with_dup(n, n, 0, escaped, &len);
            assert_int_equal(
                mg_json_check(p, len, MG_JSON_MAX_DEPTH, err, sizeof(err)),
                MG_OK);
            free(p);

            for (at = 1; at < n; at++) {
                for (of = 0; of < at; of++) {
                    p = object_with_dup(n, at, of, escaped, &len);

                    /* The offset of key number `at`: after its comma. */
                    snprintf(key, sizeof(key), ",\"%s%zu\":%zu",
                             escaped && at % 2 ? "\\u006b" : "k", of, at);
                    at_p = strstr(p, key);
                    assert_non_null(at_p);

                    snprintf(want, sizeof(want),
                             "duplicate key \"k%zu\" in an object at byte "
                             "%zu",
                             of, (size_t)(at_p - p) + 1);
                    assert_int_equal(mg_json_check(p, len, MG_JSON_MAX_DEPTH,
                                                   err, sizeof(err)),
                                     MG_ERROR);
                    assert_string_equal(err, want);
                    free(p);
                }
            }
        }
    }
}

/* Two repeats in one object: the first in input order is named, below
 * and above the threshold alike, whatever the order of the keys. */
static void
test_dup_first(void **state)
{
    char err[256], want[64];
    char buf[1024];
    size_t n, i, o, first;

    (void)state;

    for (n = 4; n <= MG_JSON_PAIRWISE_KEYS + 4; n++) {
        /* "z0".."z<n-3>", then "z1" again and "z0" again. */
        o = 0;
        buf[o++] = '{';
        for (i = 0; i < n - 2; i++) {
            o += (size_t)sprintf(buf + o, "\"z%zu\":0,", n - 3 - i);
        }
        first = o;
        o += (size_t)sprintf(buf + o, "\"z1\":0,\"z0\":0}");

        snprintf(want, sizeof(want),
                 "duplicate key \"z1\" in an object at byte %zu", first);
        assert_int_equal(
            mg_json_check(buf, o, MG_JSON_MAX_DEPTH, err, sizeof(err)),
            MG_ERROR);
        assert_string_equal(err, want);
    }
}

/* More open objects and keys than fit on the checker's stack: they go
 * to the heap, and the duplicate check still sees every object. */
static void
test_deep_and_wide(void **state)
{
    char err[256];
    char buf[8192];
    size_t depth, i, o;

    (void)state;

    for (depth = 1; depth <= MG_JSON_MAX_DEPTH; depth++) {
        o = 0;
        for (i = 0; i < depth; i++) {
            o += (size_t)sprintf(buf + o, "{\"a\":1,\"b\":2,\"c\":");
        }
        buf[o++] = '0';
        for (i = 0; i < depth; i++) {
            buf[o++] = '}';
        }
        assert_int_equal(
            mg_json_check(buf, o, MG_JSON_MAX_DEPTH, err, sizeof(err)), MG_OK);

        /* A repeat in the outermost object, seen when it closes last. */
        o--;
        o += (size_t)sprintf(buf + o, ",\"a\":3}");
        assert_int_equal(
            mg_json_check(buf, o, MG_JSON_MAX_DEPTH, err, sizeof(err)),
            MG_ERROR);
        assert_non_null(strstr(err, "duplicate key \"a\" in an object"));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_table),
        cmocka_unit_test(test_good_table),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_many_objects),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_string_bytes),
        cmocka_unit_test(test_string_offsets),
        cmocka_unit_test(test_dup_threshold),
        cmocka_unit_test(test_dup_first),
        cmocka_unit_test(test_deep_and_wide),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
