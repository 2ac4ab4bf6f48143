/*
 * Configuration errors: every wrong setting is reported with its file
 * and line and a message naming the fix; nothing wrong passes silently.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mg_conf.h"

static char conf_path[64];
static char err_path[64];

/* A mkstemp template: the prefix and six placeholder characters. */
static void
make_template(char *buf, const char *prefix)
{
    snprintf(buf, 64, "%s%c%c%c%c%c%c", prefix, 'X', 'X', 'X', 'X', 'X', 'X');
}

/*
 * Load `text` as a configuration; return what it printed on stderr and
 * the error count.  The caller frees the returned text.
 */
static char *
load(const char *text, int *errors, mg_config_t **out)
{
    int cfd, efd, saved;
    char *buf;
    FILE *f;
    long n;
    mg_config_t *cf;

    make_template(conf_path, "/tmp/mcpgw-test-conf-");
    make_template(err_path, "/tmp/mcpgw-test-err-");
    cfd = mkstemp(conf_path);
    efd = mkstemp(err_path);
    assert_true(cfd >= 0 && efd >= 0);
    assert_int_equal(write(cfd, text, strlen(text)), (long)strlen(text));
    close(cfd);

    fflush(stderr);
    saved = dup(2);
    dup2(efd, 2);

    mg_conf_errors = 0;
    cf = mg_conf_load(conf_path);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(efd);

    f = fopen(err_path, "r");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);

    unlink(conf_path);
    unlink(err_path);

    *errors = mg_conf_errors;
    if (out) {
        *out = cf;
    } else {
        mg_conf_free(cf);
    }

    return buf;
}

/* The output holds "<file>:<line>: <text>". */
static void
expect_error(const char *conf, int line, const char *text)
{
    char want[512];
    char *out;
    int errors;

    out = load(conf, &errors, NULL);
    snprintf(want, sizeof(want), "%s:%d: %s", conf_path, line, text);

    if (strstr(out, want) == NULL) {
        fail_msg("expected \"%s\" in:\n%s", want, out);
    }
    assert_true(errors >= 1);
    free(out);
}

static void
test_valid_defaults(void **state)
{
    mg_config_t *cf;
    char *out;
    int errors;

    out = load("http = { listen = [\"127.0.0.1:9000\"]; };\n", &errors, &cf);
    assert_int_equal(errors, 0);
    assert_string_equal(out, "");
    assert_non_null(cf);
    assert_string_equal(cf->listen[0], "127.0.0.1:9000");
    assert_int_equal(cf->limits.max_body_size, 1048576);
    assert_string_equal(cf->mcp_path, "/mcp");
    assert_int_equal(cf->anonymous, 0);
    assert_int_equal(cf->create_keys, 0);
    mg_conf_free(cf);
    free(out);
}

static void
test_unknown_top_level(void **state)
{
    expect_error("http = { };\n\nlisten = \"x\";\n", 3,
                 "unknown setting \"listen\"");
}

static void
test_unknown_module_block(void **state)
{
    expect_error("modules = { load = [ ]; };\ncloudflare = { };\n", 2,
                 "unknown setting \"cloudflare\"; if it configures a "
                 "module, add the module to modules.load");
}

static void
test_unknown_nested(void **state)
{
    expect_error("http = {\n  max_body = 10;\n};\n", 2,
                 "unknown setting \"max_body\"");
}

static void
test_wrong_type(void **state)
{
    expect_error("http = {\n  max_body_size = \"big\";\n};\n", 2,
                 "\"max_body_size\" must be an integer, not a string");
}

static void
test_out_of_range(void **state)
{
    expect_error("http = { max_body_size = 10; };\n", 1,
                 "\"max_body_size\" is 10; it must be between 1024 and");
}

static void
test_bad_level(void **state)
{
    expect_error("error_log = {\n level = \"loud\"; };\n", 2,
                 "unknown log level \"loud\"");
}

static void
test_syntax_error(void **state)
{
    expect_error("http = { listen = [ \"a\" ; };\n", 1, "syntax error");
}

static void
test_bad_client_key(void **state)
{
    expect_error(
        "clients = {\n keys = (\n { name = \"ci\"; sha256 = "
        "\"abc\"; }\n );\n};\n",
        3, "client key needs \"sha256\": 64 lower-case hex");
}

static void
test_bad_mcp_path(void **state)
{
    expect_error("mcp = {\n\n path = \"mcp\"; };\n", 3,
                 "\"path\" must start with \"/\"");
}

static void
test_every_error_reported(void **state)
{
    char *out;
    int errors;

    out = load("http = { max_body_size = 1; bogus = 1; };\nfoo = 1;\n", &errors,
               NULL);
    assert_int_equal(errors, 3);
    assert_non_null(strstr(out, "max_body_size"));
    assert_non_null(strstr(out, "\"bogus\""));
    assert_non_null(strstr(out, "\"foo\""));
    free(out);
}

static void
test_missing_file(void **state)
{
    mg_conf_errors = 0;
    assert_null(mg_conf_load("/nonexistent/mcpgw.conf"));
    assert_int_equal(mg_conf_errors, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_defaults),
        cmocka_unit_test(test_unknown_top_level),
        cmocka_unit_test(test_unknown_module_block),
        cmocka_unit_test(test_unknown_nested),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_bad_level),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_bad_client_key),
        cmocka_unit_test(test_bad_mcp_path),
        cmocka_unit_test(test_every_error_reported),
        cmocka_unit_test(test_missing_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
