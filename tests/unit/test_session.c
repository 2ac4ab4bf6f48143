/*
 * Signed session ids: round trip, tampering, expiry, ending, foreign keys.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mg_core.h"
#include "mg_session.h"

static const unsigned char key_a[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char key_b[32] = "fedcba9876543210fedcba9876543210";

static int
setup(void **state)
{
    mg_session_set_key(key_a, sizeof(key_a));
    mg_session_reset();
    return 0;
}

static void
test_round_trip(void **state)
{
    char id[MG_SESSION_ID_MAX];
    mg_session_t s;

    assert_int_equal(mg_session_create(id, "2025-11-25", "ci|bot", 1000, 60),
                     MG_OK);
    assert_true(strncmp(id, "s1.", 3) == 0);
    assert_int_equal(mg_session_check(id, 1001, &s), MG_SESSION_VALID);
    assert_string_equal(s.protocol, "2025-11-25");
    assert_string_equal(s.client, "ci|bot");
    assert_int_equal(s.issued, 1000);
    assert_int_equal(s.expires, 1060);
}

static void
test_every_id_differs(void **state)
{
    char a[MG_SESSION_ID_MAX], b[MG_SESSION_ID_MAX];

    mg_session_create(a, "2025-11-25", "x", 1000, 60);
    mg_session_create(b, "2025-11-25", "x", 1000, 60);
    assert_string_not_equal(a, b);
}

static void
test_tampering(void **state)
{
    char id[MG_SESSION_ID_MAX], copy[MG_SESSION_ID_MAX];
    mg_session_t s;
    size_t i, n;

    mg_session_create(id, "2025-11-25", "alice", 1000, 60);
    n = strlen(id);

    /* Flip each character of the payload and of the MAC in turn. */
    for (i = 3; i < n; i++) {
        if (id[i] == '.') {
            continue;
        }
        memcpy(copy, id, n + 1);
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        assert_int_not_equal(mg_session_check(copy, 1001, &s),
                             MG_SESSION_VALID);
    }

    assert_int_equal(mg_session_check("", 1001, &s), MG_SESSION_MALFORMED);
    assert_int_equal(mg_session_check("s1.", 1001, &s), MG_SESSION_MALFORMED);
    assert_int_equal(mg_session_check("s1.a.b", 1001, &s),
                     MG_SESSION_MALFORMED);
    assert_int_equal(mg_session_check("x1.abc.def", 1001, &s),
                     MG_SESSION_MALFORMED);
}

static void
test_expiry(void **state)
{
    char id[MG_SESSION_ID_MAX];
    mg_session_t s;

    mg_session_create(id, "2025-06-18", "bob", 1000, 60);
    assert_int_equal(mg_session_check(id, 1059, &s), MG_SESSION_VALID);
    assert_int_equal(mg_session_check(id, 1060, &s), MG_SESSION_EXPIRED);
}

static void
test_ended(void **state)
{
    char id[MG_SESSION_ID_MAX], other[MG_SESSION_ID_MAX];
    mg_session_t s;
    int i;

    mg_session_create(id, "2025-11-25", "carol", 1000, 60);
    mg_session_create(other, "2025-11-25", "carol", 1000, 60);

    mg_session_end(id, 1060, 1001);
    assert_int_equal(mg_session_check(id, 1002, &s), MG_SESSION_ENDED);
    assert_int_equal(mg_session_check(other, 1002, &s), MG_SESSION_VALID);

    /* Many more ended ids: the table grows, the first stays ended. */
    for (i = 0; i < 500; i++) {
        char more[MG_SESSION_ID_MAX];

        mg_session_create(more, "2025-11-25", "carol", 1000, 60);
        mg_session_end(more, 1060, 1001);
        assert_int_equal(mg_session_check(more, 1002, &s), MG_SESSION_ENDED);
    }
    assert_int_equal(mg_session_check(id, 1002, &s), MG_SESSION_ENDED);
    assert_int_equal(mg_session_check(other, 1002, &s), MG_SESSION_VALID);
}

static void
test_other_key(void **state)
{
    char id[MG_SESSION_ID_MAX];
    mg_session_t s;

    mg_session_create(id, "2025-11-25", "dave", 1000, 60);

    mg_session_set_key(key_b, sizeof(key_b));
    assert_int_equal(mg_session_check(id, 1001, &s), MG_SESSION_BAD_SIGNATURE);

    /* Another process with the same key accepts it. */
    mg_session_set_key(key_a, sizeof(key_a));
    assert_int_equal(mg_session_check(id, 1001, &s), MG_SESSION_VALID);
}

static void
test_long_client_refused(void **state)
{
    char id[MG_SESSION_ID_MAX], name[200];

    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(mg_session_create(id, "2025-11-25", name, 1000, 60),
                     MG_ERROR);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_round_trip, setup),
        cmocka_unit_test_setup(test_every_id_differs, setup),
        cmocka_unit_test_setup(test_tampering, setup),
        cmocka_unit_test_setup(test_expiry, setup),
        cmocka_unit_test_setup(test_ended, setup),
        cmocka_unit_test_setup(test_other_key, setup),
        cmocka_unit_test_setup(test_long_client_refused, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
