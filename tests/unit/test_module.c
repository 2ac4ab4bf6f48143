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

/* The registry as mod_cloudflare fills it. */
static void
use_cloudflare_tools(void)
{
    static const char *const names[] = {
        "token_permission_groups_list",
        "tokens_list",
        "tokens_get",
        "tokens_verify",
        "tokens_create",
        "tokens_update",
        "tokens_delete",
        "tokens_roll",
    };
    static mg_tool_t tools[8];
    static mg_tool_entry_t entries[8];
    size_t i;

    for (i = 0; i < 8; i++) {
        tools[i].name = names[i];
        entries[i].tool = &tools[i];
    }
    mg_tools = entries;
    mg_ntools = 8;
}

static void
assert_suggests(const char *name, const char *want)
{
    const char *got = mg_tool_suggest(name);

    if (want == NULL) {
        if (got != NULL) {
            fail_msg("\"%s\": suggested \"%s\", wanted none", name, got);
        }
        return;
    }
    if (got == NULL || strcmp(got, want) != 0) {
        fail_msg("\"%s\": suggested \"%s\", wanted \"%s\"", name,
                 got ? got : "(none)", want);
    }
}

static void
test_tool_suggest(void **state)
{
    char name[300];

    use_cloudflare_tools();

    /* the same words, another order or case */
    assert_suggests("list_tokens", "tokens_list");
    assert_suggests("Tokens_List", "tokens_list");
    assert_suggests("tokens-list", "tokens_list");
    assert_suggests("permission_groups_list.token",
                    "token_permission_groups_list");

    /* a few edits: missing, extra, wrong and swapped letters */
    assert_suggests("tokens_lst", "tokens_list");
    assert_suggests("token_list", "tokens_list");
    assert_suggests("tokens_creat", "tokens_create");
    assert_suggests("tokens_deletee", "tokens_delete");
    assert_suggests("tokesn_roll", "tokens_roll");
    assert_suggests("TOKENS_VERIFI", "tokens_verify");

    /* nothing near: no suggestion */
    assert_suggests("nope", NULL);
    assert_suggests("tokens", NULL);
    assert_suggests("zones_list", NULL);
    assert_suggests("a_b_c_d_e_f_g_h_i_tokens_list", NULL);
    assert_suggests("", NULL);

    /* long names: no suggestion, no overrun */
    memset(name, 'x', 128);
    name[128] = '\0';
    assert_suggests(name, NULL);
    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_suggests(name, NULL);

    mg_tools = NULL;
    mg_ntools = 0;
    assert_suggests("tokens_list", NULL);
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
        cmocka_unit_test(test_tool_suggest),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
