/*
 * Unit tests for reading Cloudflare's API envelope: a table of answers,
 * each with the verdict and the words its message must hold; then the
 * pagination arithmetic.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcpgw/mcpgw.h>
#include <mcpgw/upstream.h>

#define AUTH_ERROR                                                             \
    "{\"success\":false,\"errors\":[{\"code\":10000,\"message\":"              \
    "\"Authentication error\"}],\"messages\":[],\"result\":null}"

#define LIST_OK                                                                \
    "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":"              \
    "[{\"id\":\"a\"},{\"id\":\"b\"}],\"result_info\":{\"page\":1,"             \
    "\"per_page\":20,\"count\":2,\"total_count\":2,\"total_pages\":1}}"

typedef struct {
    const char *name;
    long status;
    const char *body; /* NULL: "" */
    const char *ctype;
    long retry_after;

    int want_ok;
    mg_cf_kind_e want_kind;
    int want_ambiguous;
    int want_code;
    const char *want_msg; /* a substring of the message; NULL: empty */
    int want_result;      /* cJSON type of result, 0: NULL */
    int want_info;        /* 1: result_info is an object */
} env_case_t;

static const env_case_t cases[] = {
    {"list with result_info", 200, LIST_OK, "application/json", -1, 1, MG_CF_OK,
     0, 0, NULL, cJSON_Array, 1},

    {"object result", 200,
     "{\"success\":true,\"errors\":[],\"result\":{\"id\""
     ":\"t1\",\"status\":\"active\"}}",
     "application/json", -1, 1, MG_CF_OK, 0, 0, NULL, cJSON_Object, 0},

    /* Only the caller knows whether it needed a result. */
    {"success without result", 200, "{\"success\":true,\"errors\":[]}", NULL,
     -1, 1, MG_CF_OK, 0, 0, NULL, 0, 0},

    {"success with result null", 200,
     "{\"success\":true,\"errors\":[],\"result\":null}", NULL, -1, 1, MG_CF_OK,
     0, 0, NULL, 0, 0},

    /* Field report 8: HTTP 200 does not make success:false a success. */
    {"success false with HTTP 200", 200, AUTH_ERROR, "application/json", -1, 0,
     MG_CF_API, 0, 10000,
     "Cloudflare error 10000: Authentication error (HTTP 200)", 0, 0},

    {"403 authentication error", 403, AUTH_ERROR, "application/json", -1, 0,
     MG_CF_API, 0, 10000,
     "Cloudflare error 10000: Authentication error (HTTP 403)", 0, 0},

    {"error chain", 400,
     "{\"success\":false,\"errors\":[{\"code\":6003,\"message\":\"Invalid "
     "request headers\",\"error_chain\":[{\"code\":6111,\"message\":"
     "\"Invalid format for Authorization header\"}]}],\"result\":null}",
     "application/json", -1, 0, MG_CF_API, 0, 6003,
     "Cloudflare error 6003: Invalid request headers (caused by 6111: "
     "Invalid format for Authorization header) (HTTP 400)",
     0, 0},

    {"several errors joined", 400,
     "{\"success\":false,\"errors\":[{\"code\":1001,\"message\":\"first\"},"
     "{\"code\":7003,\"message\":\"No route for the URI\"}],\"result\":null}",
     NULL, -1, 0, MG_CF_API, 0, 1001,
     "Cloudflare error 1001: first; Cloudflare error 7003: No route for the "
     "URI (HTTP 400)",
     0, 0},

    {"failure without errors", 400, "{\"success\":false,\"errors\":[]}", NULL,
     -1, 0, MG_CF_API, 0, 0,
     "Cloudflare reported a failure without an error message (HTTP 400)", 0, 0},

    {"error items without code or message", 400,
     "{\"success\":false,\"errors\":[{\"code\":1.5},{}],\"result\":null}", NULL,
     -1, 0, MG_CF_API, 0, 0,
     "Cloudflare error (no code): (no message); Cloudflare error (no code)", 0,
     0},

    /* Decoded line breaks must not split the log line. */
    {"control characters in a message", 400,
     "{\"success\":false,\"errors\":[{\"code\":1000,\"message\":\"one\\ntwo"
     "\\tthree\"}]}",
     NULL, -1, 0, MG_CF_API, 0, 1000, "1000: one two three (HTTP 400)", 0, 0},

    {"5xx envelope", 500,
     "{\"success\":false,\"errors\":[{\"code\":10001,\"message\":\"Internal "
     "error\"}],\"result\":null}",
     "application/json", -1, 0, MG_CF_API, 1, 10001,
     "Cloudflare error 10001: Internal error (HTTP 500)", 0, 0},

    {"429 envelope with retry-after", 429,
     "{\"success\":false,\"errors\":[{\"code\":971,\"message\":\"Please wait "
     "and consider throttling your request speed\"}],\"result\":null}",
     "application/json", 30, 0, MG_CF_RATE_LIMITED, 0, 971,
     "Cloudflare error 971: Please wait and consider throttling your request "
     "speed (HTTP 429); retry after 30 s",
     0, 0},

    {"429 plain text with retry-after", 429,
     "More than 1200 requests per 300 seconds reached.", "text/plain", 30, 0,
     MG_CF_RATE_LIMITED, 0, 0,
     "rate limited by Cloudflare (HTTP 429); retry after 30 s", 0, 0},

    {"429 without retry-after", 429, "", NULL, -1, 0, MG_CF_RATE_LIMITED, 0, 0,
     "rate limited by Cloudflare (HTTP 429); retry later (no retry-after "
     "header)",
     0, 0},

    /* Field report 7: an empty body is never a success. */
    {"empty body", 200, "", NULL, -1, 0, MG_CF_BAD_RESPONSE, 1, 0,
     "empty response body (HTTP 200) from Cloudflare: treated as a failure", 0,
     0},

    {"blank body", 200, " \r\n\t", "application/json", -1, 0,
     MG_CF_BAD_RESPONSE, 1, 0,
     "empty response body (HTTP 200) from Cloudflare: treated as a failure", 0,
     0},

    {"truncated JSON", 200, "{\"success\":true,\"result\":{\"id\":\"a\"",
     "application/json", -1, 0, MG_CF_BAD_RESPONSE, 1, 0,
     "malformed JSON in Cloudflare's response (HTTP 200, 34 bytes): "
     "unexpected end of input at byte 34: treated as a failure",
     0, 0},

    {"HTML 502", 502,
     "<html><head><title>502 Bad Gateway</title></head></html>", "text/html",
     -1, 0, MG_CF_BAD_RESPONSE, 1, 0,
     "Cloudflare answered HTTP 502 with a non-JSON body (text/html, 56 "
     "bytes)",
     0, 0},

    {"empty 503", 503, "", NULL, -1, 0, MG_CF_BAD_RESPONSE, 1, 0,
     "Cloudflare answered HTTP 503 with an empty body", 0, 0},

    /* A 4xx from whoever answered is a refusal, not an open outcome. */
    {"HTML 404", 404, "<h1>Not Found</h1>", "text/html", -1, 0,
     MG_CF_BAD_RESPONSE, 0, 0,
     "Cloudflare answered HTTP 404 with a non-JSON body (text/html, 18 bytes)",
     0, 0},

    {"missing success", 200, "{\"result\":{\"id\":\"a\"}}", NULL, -1, 0,
     MG_CF_BAD_RESPONSE, 1, 0,
     "Cloudflare's response (HTTP 200) is not an API envelope: no boolean "
     "\"success\": treated as a failure",
     0, 0},

    {"success as a string", 200, "{\"success\":\"true\",\"result\":{}}", NULL,
     -1, 0, MG_CF_BAD_RESPONSE, 1, 0, "no boolean \"success\"", 0, 0},

    {"not an object", 200, "[{\"success\":true}]", NULL, -1, 0,
     MG_CF_BAD_RESPONSE, 1, 0, "not an API envelope", 0, 0},

    {"JSON that is not an envelope on 400", 400, "{\"error\":\"bad\"}",
     "application/json", -1, 0, MG_CF_BAD_RESPONSE, 0, 0,
     "Cloudflare answered HTTP 400 with a JSON body that is not an API "
     "envelope (application/json, 15 bytes)",
     0, 0},

    /* cJSON alone would take the first of two keys. */
    {"duplicate success", 200, "{\"success\":false,\"success\":true}", NULL, -1,
     0, MG_CF_BAD_RESPONSE, 1, 0,
     "malformed JSON in Cloudflare's response (HTTP 200, 32 bytes): duplicate "
     "key \"success\"",
     0, 0},

    {"success with an error status", 500, "{\"success\":true,\"result\":{}}",
     NULL, -1, 0, MG_CF_BAD_RESPONSE, 1, 0,
     "Cloudflare answered HTTP 500 with \"success\": true: treated as a "
     "failure",
     cJSON_Object, 0},

    {"cJSON's case-blind lookup is not used", 200,
     "{\"Success\":true,\"result\":{}}", NULL, -1, 0, MG_CF_BAD_RESPONSE, 1, 0,
     "no boolean \"success\"", 0, 0},
};

static void
response_for(const env_case_t *c, mg_upstream_response_t *res)
{
    memset(res, 0, sizeof(*res));
    res->error = MG_UP_OK;
    res->error_text = "";
    res->sent = 1;
    res->status = c->status;
    res->body = c->body ? c->body : "";
    res->body_len = strlen(res->body);
    res->content_type = c->ctype;
    res->retry_after = c->retry_after;
}

static void
test_envelope_table(void **state)
{
    mg_upstream_response_t res;
    mg_cf_envelope_t env;
    size_t i;
    int rc;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const env_case_t *c = &cases[i];

        response_for(c, &res);
        rc = mg_cf_envelope_parse(&res, &env);

        if (env.ok != c->want_ok || (int)env.kind != (int)c->want_kind ||
            env.ambiguous != c->want_ambiguous || env.cf_code != c->want_code ||
            (c->want_msg == NULL && env.message[0] != '\0') ||
            (c->want_msg && strstr(env.message, c->want_msg) == NULL)) {
            print_error(
                "case \"%s\": ok %d kind %d ambiguous %d code %d "
                "message \"%s\"\n",
                c->name, env.ok, (int)env.kind, env.ambiguous, env.cf_code,
                env.message);
            fail();
        }

        assert_int_equal(rc, c->want_ok ? MG_OK : MG_ERROR);
        assert_int_equal(env.status, c->status);
        assert_int_equal(env.retry_after, c->retry_after);

        if ((c->want_result == 0) != (env.result == NULL) ||
            (env.result && (env.result->type & 0xff) != c->want_result) ||
            c->want_info != (env.result_info != NULL)) {
            print_error("case \"%s\": result or result_info\n", c->name);
            fail();
        }

        mg_cf_envelope_free(&env);
        mg_cf_envelope_free(&env);
    }
}

static void
test_envelope_result_fields(void **state)
{
    mg_upstream_response_t res;
    mg_cf_envelope_t env;
    cJSON *result;

    response_for(&cases[0], &res);
    assert_int_equal(mg_cf_envelope_parse(&res, &env), MG_OK);

    assert_int_equal(cJSON_GetArraySize(env.result), 2);
    assert_int_equal(mg_cf_next_page(env.result_info, 1), 0);
    assert_non_null(env.errors);
    assert_int_equal(cJSON_GetArraySize(env.errors), 0);

    /* A caller may keep the result beyond the envelope. */
    result = cJSON_DetachItemViaPointer(env.root, env.result);
    mg_cf_envelope_free(&env);
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(result, 1), "id")
            ->valuestring,
        "b");
    cJSON_Delete(result);
}

static void
test_envelope_transport(void **state)
{
    mg_upstream_response_t res;
    mg_cf_envelope_t env;

    memset(&res, 0, sizeof(res));
    res.error = MG_UP_CONNECT;
    res.error_text =
        "could not connect to https://api.cloudflare.com/client/"
        "v4: Connection refused";
    res.sent = 0;
    res.body = "";
    res.retry_after = -1;

    assert_int_equal(mg_cf_envelope_parse(&res, &env), MG_ERROR);
    assert_int_equal(env.kind, MG_CF_TRANSPORT);
    assert_int_equal(env.ambiguous, 0);
    assert_string_equal(env.message, res.error_text);
    mg_cf_envelope_free(&env);

    /* Sent, then no answer: a write may have happened. */
    res.error = MG_UP_TIMEOUT;
    res.error_text =
        "timed out after 30000 ms waiting for https://api."
        "cloudflare.com/client/v4 to answer (timeout)";
    res.sent = 1;
    assert_int_equal(mg_cf_envelope_parse(&res, &env), MG_ERROR);
    assert_int_equal(env.kind, MG_CF_TRANSPORT);
    assert_int_equal(env.ambiguous, 1);
    assert_string_equal(env.message, res.error_text);
    mg_cf_envelope_free(&env);

    /* A body over the ceiling after a 200 is not a success either. */
    res.error = MG_UP_TOO_LARGE;
    res.error_text =
        "the response from https://x is larger than "
        "max_response_size (1024 bytes)";
    res.status = 200;
    assert_int_equal(mg_cf_envelope_parse(&res, &env), MG_ERROR);
    assert_int_equal(env.kind, MG_CF_TRANSPORT);
    assert_int_equal(env.ambiguous, 1);
    assert_int_equal(env.status, 200);
    mg_cf_envelope_free(&env);
}

/* Long Cloudflare messages are cut within the buffer, on a character. */
static void
test_envelope_long_message(void **state)
{
    mg_upstream_response_t res;
    mg_cf_envelope_t env;
    char body[4096];
    size_t n, i, len;

    n = (size_t)snprintf(body, sizeof(body), "{\"success\":false,\"errors\":[");
    for (i = 0; i < 12; i++) {
        n += (size_t)snprintf(body + n, sizeof(body) - n,
                              "%s{\"code\":%zu,\"message\":\"\xc3\xa9t\xc3\xa9 "
                              "trop long, beaucoup trop long\"}",
                              i ? "," : "", 1000 + i);
    }
    snprintf(body + n, sizeof(body) - n, "]}");

    memset(&res, 0, sizeof(res));
    res.status = 400;
    res.body = body;
    res.body_len = strlen(body);
    res.retry_after = -1;

    assert_int_equal(mg_cf_envelope_parse(&res, &env), MG_ERROR);
    len = strlen(env.message);
    assert_true(len < sizeof(env.message));
    assert_true(len > 400);
    assert_memory_equal(env.message + len - 3, "...", 3);
    /* No lead byte of a UTF-8 sequence without its continuation. */
    assert_false((unsigned char)env.message[len - 4] == 0xc3);
    assert_int_equal(env.cf_code, 1000);
    mg_cf_envelope_free(&env);
}

static void
test_envelope_deep_nesting(void **state)
{
    mg_upstream_response_t res;
    mg_cf_envelope_t env;
    char body[400];
    size_t i, n = 0;

    n += (size_t)snprintf(body, sizeof(body), "{\"success\":true,\"result\":");
    for (i = 0; i < 100; i++) {
        body[n++] = '[';
    }
    for (i = 0; i < 100; i++) {
        body[n++] = ']';
    }
    body[n++] = '}';
    body[n] = '\0';

    memset(&res, 0, sizeof(res));
    res.status = 200;
    res.body = body;
    res.body_len = n;
    res.retry_after = -1;

    assert_int_equal(mg_cf_envelope_parse(&res, &env), MG_ERROR);
    assert_non_null(strstr(env.message, "malformed JSON"));
    assert_null(env.root);
    mg_cf_envelope_free(&env);
}

static int
next_page(const char *info, int page)
{
    cJSON *j = cJSON_Parse(info);
    int next;

    next = mg_cf_next_page(j, page);
    cJSON_Delete(j);

    return next;
}

static void
test_next_page(void **state)
{
    /* total_pages decides when present. */
    assert_int_equal(next_page("{\"page\":1,\"per_page\":20,\"count\":20,"
                               "\"total_count\":45,\"total_pages\":3}",
                               1),
                     2);
    assert_int_equal(next_page("{\"page\":3,\"per_page\":20,\"count\":5,"
                               "\"total_count\":45,\"total_pages\":3}",
                               3),
                     0);

    /* Without it (optional in the API), total_count and per_page. */
    assert_int_equal(next_page("{\"page\":2,\"per_page\":20,\"count\":20,"
                               "\"total_count\":45}",
                               2),
                     3);
    assert_int_equal(next_page("{\"page\":2,\"per_page\":20,\"count\":20,"
                               "\"total_count\":40}",
                               2),
                     0);
    assert_int_equal(
        next_page("{\"page\":1,\"per_page\":50,\"total_count\":50}", 1), 0);

    /* Without totals: a full page may have a successor. */
    assert_int_equal(next_page("{\"page\":4,\"per_page\":20,\"count\":20}", 4),
                     5);
    assert_int_equal(next_page("{\"page\":4,\"per_page\":20,\"count\":19}", 4),
                     0);

    /* An empty page ends the listing whatever the totals say. */
    assert_int_equal(next_page("{\"page\":2,\"per_page\":20,\"count\":0,"
                               "\"total_pages\":9}",
                               2),
                     0);

    /* "page" is optional, but must match when given. */
    assert_int_equal(next_page("{\"total_pages\":3}", 2), 3);
    assert_int_equal(next_page("{\"page\":1,\"total_pages\":3}", 2), -1);
}

static void
test_next_page_malformed(void **state)
{
    assert_int_equal(mg_cf_next_page(NULL, 1), -1);
    assert_int_equal(next_page("[]", 1), -1);
    assert_int_equal(next_page("{}", 1), -1);
    assert_int_equal(next_page("{\"page\":1,\"per_page\":20}", 1), -1);
    assert_int_equal(next_page("{\"total_pages\":-1}", 1), -1);
    assert_int_equal(next_page("{\"total_pages\":2.5}", 1), -1);
    assert_int_equal(next_page("{\"total_pages\":\"3\"}", 1), -1);
    assert_int_equal(next_page("{\"total_pages\":1e300}", 1), -1);
    assert_int_equal(next_page("{\"total_count\":40,\"per_page\":0}", 1), -1);
    assert_int_equal(next_page("{\"total_pages\":3}", 0), -1);
    assert_int_equal(next_page("{\"total_pages\":null,\"count\":1,"
                               "\"per_page\":1}",
                               1),
                     2);
}

/* Walking a 45-item listing at 20 a page reads pages 1, 2, 3 and stops. */
static void
test_next_page_walk(void **state)
{
    char info[200];
    int page = 1, pages = 0, count;

    while (page > 0 && pages < 10) {
        count = page < 3 ? 20 : 5;
        snprintf(info, sizeof(info),
                 "{\"page\":%d,\"per_page\":20,\"count\":%d,"
                 "\"total_count\":45}",
                 page, count);
        pages++;
        page = next_page(info, page);
    }

    assert_int_equal(page, 0);
    assert_int_equal(pages, 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_table),
        cmocka_unit_test(test_envelope_result_fields),
        cmocka_unit_test(test_envelope_transport),
        cmocka_unit_test(test_envelope_long_message),
        cmocka_unit_test(test_envelope_deep_nesting),
        cmocka_unit_test(test_next_page),
        cmocka_unit_test(test_next_page_malformed),
        cmocka_unit_test(test_next_page_walk),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
