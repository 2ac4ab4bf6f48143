/*
 * Unit tests for mod_cloudflare's pure helpers: argument checks, the
 * mapping of Cloudflare envelopes to tool errors, page decisions, time
 * and token shaping, redaction, and the tools' schemas.  The module's
 * sources are not linked into unit tests, so the files that hold no
 * state are included here as they are.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../modules/cloudflare/cf_parse.c"
#include "../../modules/cloudflare/cf_json.c"
#include "../../modules/cloudflare/cf_schema.c"

#define ID_A "023e105f4ecef8ad9ca31a8372d0c353"

static cJSON *
parse(const char *text)
{
    cJSON *j = cJSON_Parse(text);

    assert_non_null(j);

    return j;
}

static const char *
detail_string(const cf_err_t *err, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(err->details, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
detail_number(const cf_err_t *err, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(err->details, name);

    return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

/* ------------------------------------------------------------------ */

static const cf_arg_spec_t spec[] = {
    {"account_id", CF_ARG_ID, 0, 0, 0}, {"token_id", CF_ARG_ID, 1, 0, 0},
    {"per_page", CF_ARG_INT, 0, 5, 50}, {"name", CF_ARG_STRING, 0, 1, 10},
    {"token", CF_ARG_SECRET, 0, 1, 64}, {NULL, CF_ARG_STRING, 0, 0, 0},
};

typedef struct {
    const char *args;
    const char *want; /* a substring of the message; NULL: valid */
} args_case_t;

static const args_case_t args_cases[] = {
    {"{\"token_id\":\"" ID_A "\"}", NULL},
    {"{\"token_id\":\"" ID_A "\",\"account_id\":\"" ID_A "\",\"per_page\":5,"
     "\"name\":\"abc\",\"token\":\"x_y-z.1\"}",
     NULL},
    {"{\"token_id\":\"" ID_A "\",\"per_page\":50.0}", NULL},
    {"{}", "t: \"token_id\" is required: a Cloudflare id"},
    {"{\"token_id\":\"" ID_A "\",\"bogus\":1}",
     "unknown argument \"bogus\"; it takes only: account_id, token_id, "
     "per_page, name, token"},
    {"{\"token_id\":\"abc\"}",
     "\"token_id\" must be a Cloudflare id: 32 "
     "lowercase hexadecimal characters, not "
     "\"abc\""},
    {"{\"token_id\":7}", "\"token_id\" must be a Cloudflare id"},
    {"{\"token_id\":\"" ID_A "\",\"per_page\":4}",
     "\"per_page\" must be a whole number from 5 to 50, not 4"},
    {"{\"token_id\":\"" ID_A "\",\"per_page\":51}", "from 5 to 50, not 51"},
    {"{\"token_id\":\"" ID_A "\",\"per_page\":5.5}", "not 5.5"},
    {"{\"token_id\":\"" ID_A "\",\"per_page\":\"5\"}", "not \"5\""},
    {"{\"token_id\":\"" ID_A "\",\"per_page\":true}", "not a boolean"},
    {"{\"token_id\":\"" ID_A "\",\"name\":\"\"}",
     "\"name\" must be a string of 1 to 10 characters"},
    {"{\"token_id\":\"" ID_A "\",\"name\":\"01234567890\"}",
     "1 to 10 characters"},
    {"{\"token_id\":\"" ID_A "\",\"name\":null}", "not null"},
    {"{\"token_id\":\"" ID_A "\",\"name\":[]}", "not an array"},
    {"{\"token_id\":\"" ID_A "\",\"token\":\"has space\"}",
     "\"token\" must be a token secret: 1 to 64 printable characters "
     "without spaces"},
    {"{\"token_id\":\"" ID_A "\",\"token\":\"\"}", "must be a token secret"},
    {"{\"token_id\":\"" ID_A "\",\"token\":\"tab\\there\"}",
     "must be a token secret"},
};

static void
test_args(void **state)
{
    cf_err_t err;
    cJSON *args;
    size_t i;

    for (i = 0; i < sizeof(args_cases) / sizeof(args_cases[0]); i++) {
        memset(&err, 0, sizeof(err));
        args = parse(args_cases[i].args);

        if (args_cases[i].want == NULL) {
            assert_int_equal(cf_args_check(args, spec, "t", &err), MG_OK);
        } else {
            assert_int_equal(cf_args_check(args, spec, "t", &err), MG_ERROR);
            assert_string_equal(err.code, "invalid_arguments");
            if (strstr(err.message, args_cases[i].want) == NULL) {
                fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.message,
                         args_cases[i].want);
            }
            assert_non_null(detail_string(&err, "argument"));
        }

        cf_err_clear(&err);
        cJSON_Delete(args);
    }

    /* No arguments at all is the same as {}. */
    memset(&err, 0, sizeof(err));
    assert_int_equal(cf_args_check(NULL, spec + 2, "t", &err), MG_OK);

    args = parse("[]");
    assert_int_equal(cf_args_check(args, spec, "t", &err), MG_ERROR);
    assert_non_null(strstr(err.message, "must be an object"));
    cJSON_Delete(args);
    cf_err_clear(&err);
}

static void
test_secret_not_echoed(void **state)
{
    cf_err_t err;
    cJSON *args;
    char *details;

    memset(&err, 0, sizeof(err));
    args = parse("{\"token_id\":\"" ID_A "\",\"token\":\"sekrit word\"}");

    assert_int_equal(cf_args_check(args, spec, "t", &err), MG_ERROR);
    assert_null(strstr(err.message, "sekrit"));
    details = cJSON_PrintUnformatted(err.details);
    assert_null(strstr(details, "sekrit"));

    free(details);
    cJSON_Delete(args);
    cf_err_clear(&err);
}

/* ------------------------------------------------------------------ */
/* Envelopes to tool errors.                                           */

static void
map(long status, const char *body, long retry_after, cf_err_t *err)
{
    mg_upstream_response_t res;
    mg_cf_envelope_t env;

    memset(&res, 0, sizeof(res));
    res.error = MG_UP_OK;
    res.error_text = "";
    res.sent = 1;
    res.status = status;
    res.body = body;
    res.body_len = strlen(body);
    res.content_type = "application/json";
    res.retry_after = retry_after;

    memset(err, 0, sizeof(*err));
    assert_int_equal(mg_cf_envelope_parse(&res, &env), MG_ERROR);
    cf_error_from_envelope(err, &env, "listing user tokens");
    mg_cf_envelope_free(&env);
}

#define AUTH_ERROR                                                             \
    "{\"success\":false,\"errors\":[{\"code\":10000,\"message\":"              \
    "\"Authentication error\"}],\"result\":null}"

static void
test_refusals(void **state)
{
    const cJSON *e;
    cf_err_t err;

    /* success:false is a failure whatever the status, 200 included. */
    map(200, AUTH_ERROR, -1, &err);
    assert_string_equal(err.code, "cloudflare_error");
    assert_string_equal(err.message,
                        "Cloudflare refused listing user tokens: error 10000: "
                        "Authentication error (HTTP 200): the token was "
                        "refused: it lacks a permission this needs, or it is "
                        "invalid, disabled or expired (a token an account "
                        "owns is verified with that account_id)");
    assert_true(detail_number(&err, "status") == 200);
    assert_true(detail_number(&err, "cloudflare_code") == 10000);
    e = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(err.details, "cloudflare_errors"), 0);
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(e, "message")->valuestring,
        "Authentication error");
    cf_err_clear(&err);

    map(403, AUTH_ERROR, -1, &err);
    assert_string_equal(err.code, "cloudflare_error");
    assert_non_null(strstr(err.message, "(HTTP 403)"));
    cf_err_clear(&err);

    map(404,
        "{\"success\":false,\"errors\":[{\"code\":7003,\"message\":\"No "
        "route\"}],\"result\":null}",
        -1, &err);
    assert_non_null(strstr(err.message, "nothing has that id"));
    assert_string_equal(detail_string(&err, "hint"),
                        "nothing has that id; check it (tokens_list shows "
                        "the token ids; a token an account owns is found "
                        "only with that account_id)");
    cf_err_clear(&err);

    map(503,
        "{\"success\":false,\"errors\":[{\"code\":10001,\"message\":"
        "\"Service\\nUnavailable\"}],\"result\":null}",
        -1, &err);
    assert_string_equal(err.code, "cloudflare_error");
    assert_non_null(strstr(err.message, "Service Unavailable (HTTP 503)"));
    assert_non_null(strstr(err.message, "try again later"));
    cf_err_clear(&err);

    /* Several errors: the first three are quoted. */
    map(400,
        "{\"success\":false,\"errors\":[{\"code\":1,\"message\":\"a\"},"
        "{\"code\":2,\"message\":\"b\"},{\"code\":3,\"message\":\"c\"},"
        "{\"code\":4,\"message\":\"d\"}],\"result\":null}",
        -1, &err);
    assert_non_null(
        strstr(err.message, "error 1: a; error 2: b; error 3: c (HTTP 400)"));
    assert_null(strstr(err.message, "error 4"));
    cf_err_clear(&err);

    map(403,
        "{\"success\":false,\"errors\":[{\"code\":9109,\"message\":\"Cannot "
        "use the access token from location: 10.0.0.1\"}],\"result\":null}",
        -1, &err);
    assert_non_null(strstr(err.message, "IP-restricted"));
    cf_err_clear(&err);
}

static void
test_rate_limits(void **state)
{
    cf_err_t err;

    map(429,
        "{\"success\":false,\"errors\":[{\"code\":971,\"message\":\"Please "
        "wait\"}],\"result\":null}",
        30, &err);
    assert_string_equal(err.code, "rate_limited");
    assert_string_equal(err.message,
                        "Cloudflare's rate limit was reached while listing "
                        "user tokens (HTTP 429, error 971: Please wait); "
                        "retry after 30 s");
    assert_true(detail_number(&err, "retry_after") == 30);
    cf_err_clear(&err);

    /* A 429 is a rate limit even with a body that is not an envelope. */
    map(429, "", -1, &err);
    assert_string_equal(err.code, "rate_limited");
    assert_non_null(strstr(err.message, "retry later"));
    assert_true(detail_number(&err, "retry_after") == -12345);
    cf_err_clear(&err);
}

static void
test_bad_bodies(void **state)
{
    static const char *const bodies[] = {
        "",
        "{\"success\":true,\"result\":[",
        "<html>oops</html>",
        "{\"result\":[]}",
        "{\"success\":\"yes\",\"result\":[]}",
    };
    cf_err_t err;
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        map(200, bodies[i], -1, &err);
        assert_string_equal(err.code, "bad_upstream_response");
        assert_non_null(strstr(err.message,
                               "Cloudflare's answer to listing "
                               "user tokens could not be used"));
        assert_non_null(detail_string(&err, "reason"));
        cf_err_clear(&err);
    }

    /* A success with a 5xx status is not trusted either. */
    map(502, "{\"success\":true,\"errors\":[],\"result\":[]}", -1, &err);
    assert_string_equal(err.code, "bad_upstream_response");
    cf_err_clear(&err);
}

static void
test_transport(void **state)
{
    mg_upstream_response_t res;
    mg_cf_envelope_t env;
    cf_err_t err;

    memset(&res, 0, sizeof(res));
    res.error = MG_UP_CONNECT;
    res.error_text =
        "could not connect to http://127.0.0.1:9/client/v4: "
        "Connection refused";
    res.body = "";
    res.retry_after = -1;

    memset(&err, 0, sizeof(err));
    assert_int_equal(mg_cf_envelope_parse(&res, &env), MG_ERROR);
    cf_error_from_envelope(&err, &env, "reading user token x");
    mg_cf_envelope_free(&env);

    assert_string_equal(err.code, "upstream_unavailable");
    assert_non_null(strstr(err.message,
                           "Cloudflare could not be reached "
                           "while reading user token x: could "
                           "not connect"));
    assert_non_null(strstr(detail_string(&err, "reason"), "refused"));
    cf_err_clear(&err);
}

/* ------------------------------------------------------------------ */
/* Pages.                                                              */

typedef struct {
    const char *info; /* NULL: no result_info */
    int page;
    int read;
    int max;
    cf_page_e want;
    int next;
} page_case_t;

static const page_case_t page_cases[] = {
    {"{\"page\":1,\"per_page\":20,\"count\":20,\"total_count\":26,"
     "\"total_pages\":2}",
     1, 1, 200, CF_PAGE_MORE, 2},
    {"{\"page\":2,\"per_page\":20,\"count\":6,\"total_count\":26,"
     "\"total_pages\":2}",
     2, 2, 200, CF_PAGE_DONE, 0},
    /* Without total_pages: total_count and per_page. */
    {"{\"page\":1,\"per_page\":5,\"count\":5,\"total_count\":12}", 1, 1, 200,
     CF_PAGE_MORE, 2},
    {"{\"page\":3,\"per_page\":5,\"count\":2,\"total_count\":12}", 3, 3, 200,
     CF_PAGE_DONE, 0},
    /* Only count and per_page: a full page may have a next one. */
    {"{\"page\":1,\"per_page\":5,\"count\":5}", 1, 1, 200, CF_PAGE_MORE, 2},
    {"{\"page\":2,\"per_page\":5,\"count\":4}", 2, 2, 200, CF_PAGE_DONE, 0},
    /* An empty page is the last. */
    {"{\"page\":9,\"per_page\":5,\"count\":0,\"total_pages\":12}", 9, 1, 200,
     CF_PAGE_DONE, 0},
    /* max_pages read with pages left: cut, and say where to go on. */
    {"{\"page\":5,\"per_page\":5,\"count\":5,\"total_pages\":6}", 5, 5, 5,
     CF_PAGE_CUT, 6},
    /* Nothing to go by. */
    {NULL, 1, 1, 200, CF_PAGE_UNKNOWN, -1},
    {"{}", 1, 1, 200, CF_PAGE_UNKNOWN, -1},
    {"{\"page\":\"x\",\"per_page\":5,\"count\":5}", 1, 1, 200, CF_PAGE_UNKNOWN,
     -1},
    /* An answer for another page than asked for could loop forever. */
    {"{\"page\":1,\"per_page\":5,\"count\":5,\"total_pages\":3}", 2, 2, 200,
     CF_PAGE_UNKNOWN, -1},
};

static void
test_pages(void **state)
{
    cJSON *info;
    size_t i;
    int next;

    for (i = 0; i < sizeof(page_cases) / sizeof(page_cases[0]); i++) {
        info = page_cases[i].info ? parse(page_cases[i].info) : NULL;
        next = 99;

        if (cf_page_decide(info, page_cases[i].page, page_cases[i].read,
                           page_cases[i].max, &next) != page_cases[i].want) {
            fail_msg("page case %zu: wrong decision", i);
        }
        assert_int_equal(next, page_cases[i].next);

        cJSON_Delete(info);
    }
}

/* ------------------------------------------------------------------ */
/* Names, times, tokens.                                               */

static void
test_names(void **state)
{
    assert_true(cf_name_matches(NULL, "DNS Write"));
    assert_true(cf_name_matches("", "DNS Write"));
    assert_true(cf_name_matches("DNS Write", "DNS Write"));
    assert_true(cf_name_matches("dns", "DNS Write"));
    assert_true(cf_name_matches("S WRI", "DNS Write"));
    assert_false(cf_name_matches("DNS  Write", "DNS Write"));
    assert_false(cf_name_matches("Zone", "DNS Write"));
}

typedef struct {
    const char *in;
    const char *out; /* NULL: refused */
} time_case_t;

static const time_case_t time_cases[] = {
    {"2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"},
    {"2024-01-02t03:04:05z", "2024-01-02T03:04:05Z"},
    {"2024-01-01T01:00:00+01:00", "2024-01-01T00:00:00Z"},
    {"2023-12-31T19:30:00-05:30", "2024-01-01T01:00:00Z"},
    {"2024-01-02T00:00:00.123456Z", "2024-01-02T00:00:00Z"},
    {"2024-02-29T12:00:00Z", "2024-02-29T12:00:00Z"},
    {"2023-02-29T12:00:00Z", NULL},
    {"2024-13-01T00:00:00Z", NULL},
    {"2024-04-31T00:00:00Z", NULL},
    {"2024-01-01 00:00:00Z", NULL},
    {"2024-01-01T24:00:00Z", NULL},
    {"2024-01-01T00:00:00", NULL},
    {"2024-01-01T00:00:00.Z", NULL},
    {"2024-01-01T00:00:00+0100", NULL},
    {"1704067200", NULL},
    {"tomorrow", NULL},
    {"", NULL},
};

/* cf_str_t writes what snprintf writes, cut the same way. */
static void
test_str(void **state)
{
    static const long ints[] = {
        0,        1,       -1, 9, 10, 42, -42, 2147483647, -2147483647 - 1,
        LONG_MAX, LONG_MIN};
    char got[32], want[32];
    size_t size, i;
    cf_str_t s;

    for (size = 1; size <= sizeof(got); size++) {
        memset(got, 'x', sizeof(got));
        memset(want, 'x', sizeof(want));
        cf_str_init(&s, got, size);
        cf_str_add(&s, "/accounts/");
        cf_str_add(&s, "");
        cf_str_add(&s, "0123456789abcdef");
        cf_str_int(&s, -12);
        snprintf(want, size, "/accounts/%s%s%ld", "", "0123456789abcdef", -12L);
        assert_memory_equal(got, want, sizeof(got));
        assert_int_equal(s.len, strlen(want));
    }

    for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        cf_str_init(&s, got, sizeof(got));
        cf_str_add(&s, "?page=");
        cf_str_int(&s, ints[i]);
        snprintf(want, sizeof(want), "?page=%ld", ints[i]);
        assert_string_equal(got, want);
    }
}

static void
test_times(void **state)
{
    char out[32];
    size_t i;

    for (i = 0; i < sizeof(time_cases) / sizeof(time_cases[0]); i++) {
        strcpy(out, "untouched");

        if (time_cases[i].out) {
            assert_int_equal(
                cf_time_normalize(time_cases[i].in, out, sizeof(out)), MG_OK);
            assert_string_equal(out, time_cases[i].out);
        } else {
            assert_int_equal(
                cf_time_normalize(time_cases[i].in, out, sizeof(out)),
                MG_ERROR);
            assert_string_equal(out, "untouched");
        }
    }
}

static void
test_token_normalize(void **state)
{
    cJSON *groups, *token;
    char *text;

    groups = parse("[{\"id\":\"" ID_A
                   "\",\"name\":\"Zone Read\","
                   "\"scopes\":[\"com.cloudflare.api.account.zone\"]}]");
    token = parse(
        "{\"id\":\"t\",\"name\":\"n\",\"value\":\"secret-value\","
        "\"issued_on\":\"2024-01-01T01:00:00+01:00\",\"expires_on\":null,"
        "\"policies\":[{\"effect\":\"allow\",\"permission_groups\":["
        "{\"id\":\"" ID_A
        "\"},{\"id\":\"ffffffffffffffffffffffffffffffff\"},"
        "{\"id\":\"" ID_A
        "\",\"name\":\"Kept\"}],\"resources\":{}}],"
        "\"condition\":{\"request.ip\":{\"in\":[\"10.0.0.0/8\"]}}}");

    cf_token_normalize(token, groups);
    text = cJSON_PrintUnformatted(token);

    assert_string_equal(
        text,
        "{\"id\":\"t\",\"name\":\"n\","
        "\"issued_on\":\"2024-01-01T00:00:00Z\",\"expires_on\":null,"
        "\"policies\":[{\"effect\":\"allow\",\"permission_groups\":["
        "{\"id\":\"" ID_A
        "\",\"name\":\"Zone Read\"},"
        "{\"id\":\"ffffffffffffffffffffffffffffffff\"},"
        "{\"id\":\"" ID_A
        "\",\"name\":\"Kept\"}],\"resources\":{}}],"
        "\"condition\":{\"request_ip\":{\"in\":[\"10.0.0.0/8\"]}}}");

    free(text);
    cJSON_Delete(token);
    cJSON_Delete(groups);
}

static void
test_group_json(void **state)
{
    cJSON *g = parse(
        "{\"id\":\"x\",\"name\":\"N\",\"scopes\":[\"s\",3],"
        "\"category\":\"c\"}");
    cJSON *o = cf_group_json(g);
    char *text = cJSON_PrintUnformatted(o);

    assert_string_equal(text,
                        "{\"id\":\"x\",\"name\":\"N\",\"scopes\":[\"s\"]}");
    free(text);
    cJSON_Delete(o);
    cJSON_Delete(g);

    g = parse("{\"id\":\"x\"}");
    assert_null(cf_group_json(g));
    cJSON_Delete(g);
}

static void
test_redact(void **state)
{
    cJSON *j = parse(
        "{\"a\":\"Bearer S3CRET!\",\"b\":[\"xS3CRET!S3CRET!\","
        "1,{\"c\":\"clean\"}]}");
    char text[64] = "token S3CRET! and S3CRET!";
    char *out;

    cf_redact(j, "S3CRET!");
    out = cJSON_PrintUnformatted(j);
    assert_string_equal(out,
                        "{\"a\":\"Bearer [redacted]\",\"b\":"
                        "[\"x[redacted][redacted]\",1,"
                        "{\"c\":\"clean\"}]}");
    free(out);

    /* Nothing to redact, or no secret: unchanged. */
    cf_redact(j, "");
    cf_redact(j, NULL);
    cf_redact(NULL, "x");
    cJSON_Delete(j);

    cf_redact_text(text, sizeof(text), "S3CRET!");
    assert_string_equal(text, "token [redacted] and [redacted]");
}

/* ------------------------------------------------------------------ */
/* Schemas.                                                            */

static void
check_input(const char *text)
{
    cJSON *s = parse(text);
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *acct = cJSON_GetObjectItemCaseSensitive(props, "account_id");

    assert_string_equal(cJSON_GetObjectItem(s, "type")->valuestring, "object");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(s, "additionalProperties")));
    assert_string_equal(cJSON_GetObjectItem(acct, "pattern")->valuestring,
                        "^[0-9a-f]{32}$");
    assert_non_null(cJSON_GetObjectItem(acct, "description"));

    cJSON_Delete(s);
}

static void
check_output(const char *text, const char *field)
{
    cJSON *s = parse(text);
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(props, "error");
    const cJSON *any = cJSON_GetObjectItemCaseSensitive(s, "anyOf");
    char *all = cJSON_PrintUnformatted(s);

    /* Errors validate too: no top-level required, {error} admitted. */
    assert_null(cJSON_GetObjectItem(s, "required"));
    assert_non_null(err);
    assert_int_equal(cJSON_GetArraySize(any), 2);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(props, field));

    /* A Cloudflare id is not a uuid; times are plain strings. */
    assert_null(strstr(all, "\"format\""));

    free(all);
    cJSON_Delete(s);
}

static void
test_schemas(void **state)
{
    check_input(cf_schema_groups_in);
    check_input(cf_schema_list_in);
    check_input(cf_schema_get_in);
    check_input(cf_schema_verify_in);

    check_output(cf_schema_groups_out, "permission_groups");
    check_output(cf_schema_list_out, "tokens");
    check_output(cf_schema_get_out, "token");
    check_output(cf_schema_verify_out, "policies_known");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_secret_not_echoed),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_rate_limits),
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_transport),
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_str),
        cmocka_unit_test(test_token_normalize),
        cmocka_unit_test(test_group_json),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_schemas),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
