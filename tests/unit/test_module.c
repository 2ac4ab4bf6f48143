/*
 * The module loader's compatibility checks: ABI version, build signature
 * part by part, names; and tool-name validation.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mg_module.h"

static void
test_matching_module(void **state)
{
    mg_module_t m = {MG_MODULE_HEAD, "good", NULL, NULL,
                     NULL,           NULL,   NULL, NULL};
    char err[512] = "";

    assert_int_equal(mg_module_check(&m, "mod_good.so", err, sizeof(err)),
                     MG_OK);
}

static void
test_abi_mismatch(void **state)
{
    mg_module_t m = {MG_ABI_VERSION + 1,
                     MG_BUILD_SIGNATURE,
                     "old",
                     NULL,
                     NULL,
                     NULL,
                     NULL,
                     NULL,
                     NULL};
    char err[512];

    assert_int_equal(mg_module_check(&m, "mod_old.so", err, sizeof(err)),
                     MG_ERROR);
    assert_non_null(strstr(err, "mod_old.so"));
    assert_non_null(strstr(err, "ABI version 2"));
    assert_non_null(strstr(err, "this gateway has version 1"));
}

static void
test_signature_part_named(void **state)
{
    char sig[256], err[512], *p;
    mg_module_t m = {MG_ABI_VERSION, NULL, "dbg", NULL, NULL,
                     NULL,           NULL, NULL,  NULL};

    /* The same signature, but built with the other debug setting. */
    snprintf(sig, sizeof(sig), "%s", MG_BUILD_SIGNATURE);
    p = strstr(sig, "debug=");
    assert_non_null(p);
    p[6] = p[6] == '0' ? '1' : '0';
    m.signature = sig;

    assert_int_equal(mg_module_check(&m, "mod_dbg.so", err, sizeof(err)),
                     MG_ERROR);
    assert_non_null(strstr(err, "mod_dbg.so"));
    assert_non_null(strstr(err, "debug="));
    assert_non_null(strstr(err, "rebuild the module"));
}

static void
test_signature_missing(void **state)
{
    mg_module_t m = {MG_ABI_VERSION, NULL, "nosig", NULL, NULL,
                     NULL,           NULL, NULL,    NULL};
    char err[512];

    assert_int_equal(mg_module_check(&m, "mod_nosig.so", err, sizeof(err)),
                     MG_ERROR);
    assert_non_null(strstr(err, "(missing)"));
}

static void
test_name_required(void **state)
{
    mg_module_t m = {MG_MODULE_HEAD, "", NULL, NULL, NULL, NULL, NULL, NULL};
    char err[512];

    assert_int_equal(mg_module_check(&m, "mod_x.so", err, sizeof(err)),
                     MG_ERROR);
    assert_non_null(strstr(err, "has no name"));
}

static void
test_tool_names(void **state)
{
    char long_name[130];

    assert_true(mg_tool_name_valid("tokens_list"));
    assert_true(mg_tool_name_valid("a.b-c_D9"));
    assert_false(mg_tool_name_valid(""));
    assert_false(mg_tool_name_valid("has space"));
    assert_false(mg_tool_name_valid("slash/name"));
    assert_false(mg_tool_name_valid("caf\xc3\xa9"));

    memset(long_name, 'a', 128);
    long_name[128] = '\0';
    assert_true(mg_tool_name_valid(long_name));
    long_name[128] = 'a';
    long_name[129] = '\0';
    assert_false(mg_tool_name_valid(long_name));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matching_module),
        cmocka_unit_test(test_abi_mismatch),
        cmocka_unit_test(test_signature_part_named),
        cmocka_unit_test(test_signature_missing),
        cmocka_unit_test(test_name_required),
        cmocka_unit_test(test_tool_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
