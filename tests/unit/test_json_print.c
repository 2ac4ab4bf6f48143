/*
 * The JSON the gateway prints itself: mg_buf_append_json and its quoted
 * form against cJSON's own string printer, the ceiling of a buffer, and
 * mg_call_result_append against the result object printed by cJSON,
 * for random trees.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mg_core.h"
#include "mg_mcp.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* xorshift64*: the same sequence on every run. */
static uint32_t
rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;

    return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

/* A NUL-terminated string of n random bytes from 1 to 255, mostly plain
 * ASCII, sometimes bytes that need escaping, sometimes UTF-8 bytes. */
static char *
random_string(size_t n)
{
    char *s = malloc(n + 1);
    size_t i;
    uint32_t r;

    assert_non_null(s);

    for (i = 0; i < n; i++) {
        r = rnd() % 16;

        if (r < 10) {
            s[i] = (char)(' ' + rnd() % 95);
        } else if (r < 12) {
            s[i] = (char)(1 + rnd() % 31);
        } else if (r < 13) {
            s[i] = '"';
        } else if (r < 14) {
            s[i] = '\\';
        } else {
            s[i] = (char)(0x7f + rnd() % 129);
        }
    }

    s[n] = '\0';

    return s;
}

/* cJSON's printing of s as a JSON string, quotes included. */
static char *
cjson_quoted(const char *s)
{
    cJSON *str = cJSON_CreateString(s);
    char *text = cJSON_PrintUnformatted(str);

    cJSON_Delete(str);
    assert_non_null(text);

    return text;
}

/* Append s both ways after a prefix of `pre` bytes, and compare. */
static void
check_escape(const char *s, size_t pre)
{
    char *want = cjson_quoted(s);
    size_t wlen = strlen(want), n = strlen(s);
    mg_buf_t b;
    size_t i;

    mg_buf_init(&b, 0);
    for (i = 0; i < pre; i++) {
        assert_int_equal(mg_buf_append(&b, "x", 1), MG_OK);
    }

    assert_int_equal(mg_buf_append_json_quoted(&b, s, n), MG_OK);
    assert_int_equal(b.len, pre + wlen);
    assert_memory_equal(b.data + pre, want, wlen);
    assert_int_equal(b.data[b.len], '\0');

    b.len = pre;
    assert_int_equal(mg_buf_append_json(&b, s, n), MG_OK);
    assert_int_equal(b.len, pre + wlen - 2);
    assert_memory_equal(b.data + pre, want + 1, wlen - 2);
    assert_int_equal(b.data[b.len], '\0');

    mg_buf_free(&b);
    free(want);
}

/* Every byte alone and among others, at every offset of a word. */
static void
test_every_byte(void **state)
{
    char s[24];
    int c;
    size_t at;

    (void)state;

    for (c = 1; c < 256; c++) {
        for (at = 0; at < 20; at++) {
            memset(s, 'a', sizeof(s));
            s[at] = (char)c;
            s[at + 1] = '\0';
            check_escape(s, 0);
            s[at + 1] = 'z';
            s[sizeof(s) - 1] = '\0';
            check_escape(s, at);
        }
    }
}

/* Random strings into buffers filled to random points, so escapes fall
 * on and around the end of the room. */
static void
test_random_strings(void **state)
{
    char *s;
    int i;

    (void)state;

    for (i = 0; i < 20000; i++) {
        s = random_string(rnd() % (i % 50 == 0 ? 2000 : 60));
        check_escape(s, rnd() % 600);
        free(s);
    }

    check_escape("", 0);
    check_escape("", 255);
}

/* A string that fits the ceiling exactly goes in; one byte less of
 * ceiling and it is refused, the buffer left as it was. */
static void
test_ceiling(void **state)
{
    mg_buf_t b;
    char *s, *want;
    size_t pre, wlen, n;
    int i, quoted;

    (void)state;

    for (i = 0; i < 5000; i++) {
        s = random_string(rnd() % 80);
        n = strlen(s);
        want = cjson_quoted(s);
        quoted = (int)(rnd() % 2);
        wlen = strlen(want) - (quoted ? 0 : 2);
        pre = rnd() % 300;

        mg_buf_init(&b, 0);
        while (b.len < pre) {
            assert_int_equal(mg_buf_append(&b, "y", 1), MG_OK);
        }

        if (wlen > 0 && pre + wlen > 1) {
            b.max = pre + wlen - 1;
            assert_int_equal(quoted ? mg_buf_append_json_quoted(&b, s, n)
                                    : mg_buf_append_json(&b, s, n),
                             MG_ERROR);
            assert_int_equal(b.len, pre);
            assert_true(b.data == NULL || b.data[pre] == '\0');
        }

        b.max = pre + wlen;
        assert_int_equal(quoted ? mg_buf_append_json_quoted(&b, s, n)
                                : mg_buf_append_json(&b, s, n),
                         MG_OK);
        assert_int_equal(b.len, pre + wlen);
        assert_memory_equal(b.data + pre, want + (quoted ? 0 : 1), wlen);

        mg_buf_free(&b);
        free(want);
        free(s);
    }
}

static cJSON *
random_tree(int depth)
{
    static const double numbers[] = {
        0,    -0.0,         1,     -1,
        42,   1e15,         -1e15, 999999999999999,
        0.5,  -2.25,        1e300, 3.14159265358979,
        1e-7, 123456789.125};
    cJSON *item;
    char *s;
    int i, n;
    uint32_t r = rnd() % (depth > 4 ? 6 : 9);

    switch (r) {
    case 0:
        return cJSON_CreateNull();
    case 1:
        return cJSON_CreateBool(rnd() % 2);
    case 2:
        return cJSON_CreateNumber(
            numbers[rnd() % (sizeof(numbers) / sizeof(numbers[0]))]);
    case 3:
        return cJSON_CreateNumber((double)rnd() - (double)rnd());
    case 4:
    case 5:
        s = random_string(rnd() % 40);
        item = cJSON_CreateString(s);
        free(s);
        return item;
    case 6:
        item = cJSON_CreateArray();
        n = (int)(rnd() % 6);
        for (i = 0; i < n; i++) {
            cJSON_AddItemToArray(item, random_tree(depth + 1));
        }
        return item;
    default:
        item = cJSON_CreateObject();
        n = (int)(rnd() % 8);
        for (i = 0; i < n; i++) {
            s = random_string(rnd() % 12);
            cJSON_AddItemToObject(item, s, random_tree(depth + 1));
            free(s);
        }
        return item;
    }
}

/* The result object as cJSON prints it, built the long way. */
static char *
cjson_result(const mg_call_t *call)
{
    cJSON *root = cJSON_CreateObject(), *content, *block, *err, *msg;
    char *text;

    content = cJSON_AddArrayToObject(root, "content");

    if (call->structured) {
        text = cJSON_PrintUnformatted(call->structured);
        block = cJSON_CreateObject();
        cJSON_AddStringToObject(block, "type", "text");
        cJSON_AddStringToObject(block, "text", text ? text : "null");
        cJSON_AddItemToArray(content, block);
        free(text);
    }

    err = cJSON_GetObjectItemCaseSensitive(call->structured, "error");
    msg = cJSON_GetObjectItemCaseSensitive(err, "message");
    if (call->is_error && cJSON_IsString(msg)) {
        block = cJSON_CreateObject();
        cJSON_AddStringToObject(block, "type", "text");
        cJSON_AddStringToObject(block, "text", msg->valuestring);
        cJSON_AddItemToArray(content, block);
    }

    if (call->content) {
        cJSON_ArrayForEach(block, call->content)
        {
            cJSON_AddItemToArray(content, cJSON_Duplicate(block, 1));
        }
    }

    if (call->structured) {
        cJSON_AddItemToObject(root, "structuredContent",
                              cJSON_Duplicate(call->structured, 1));
    }

    cJSON_AddBoolToObject(root, "isError", call->is_error);

    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    assert_non_null(text);

    return text;
}

static void
check_result(mg_call_t *call, size_t pre)
{
    char *want = cjson_result(call);
    mg_buf_t out;

    mg_buf_init(&out, 0);
    while (out.len < pre) {
        assert_int_equal(mg_buf_append(&out, "p", 1), MG_OK);
    }

    mg_call_result_append(call, &out);

    assert_int_equal(out.len, pre + strlen(want));
    assert_string_equal(out.data + pre, want);

    mg_buf_free(&out);
    free(want);
}

/* Random structured results, errors and extra text blocks. */
static void
test_random_results(void **state)
{
    mg_call_t *call;
    char *s;
    int i, j, nblocks;

    (void)state;

    for (i = 0; i < 3000; i++) {
        call = mg_calloc(1, sizeof(mg_call_t));

        if (rnd() % 8 != 0) {
            call->structured = random_tree(0);
        }

        if (rnd() % 4 == 0) {
            call->is_error = 1;
            if (rnd() % 2) {
                s = random_string(rnd() % 50);
                cJSON_Delete(call->structured);
                call->structured = cJSON_CreateObject();
                cJSON_AddItemToObject(
                    cJSON_AddObjectToObject(call->structured, "error"),
                    "message", cJSON_CreateString(s));
                free(s);
            }
        }

        nblocks = (int)(rnd() % 3);
        for (j = 0; j < nblocks; j++) {
            s = random_string(rnd() % 70);
            mg_call_text(call, s);
            free(s);
        }

        check_result(call, rnd() % 300);
        mg_call_free(call);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_random_strings),
        cmocka_unit_test(test_ceiling),
        cmocka_unit_test(test_random_results),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
