/*
 * Argument parsing of the token tools: timestamps, TTLs, CIDRs, group
 * names, resources by name, conditions and policy comparison as sets.
 */

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../modules/cloudflare/cf_parse.c"

static const char *const account_scope[] = {"com.cloudflare.api.account"};
static const char *const zone_scope[] = {"com.cloudflare.api.account.zone"};

static const cf_group_ref_t groups[] = {
    {"09b2857d1c31407795e75e3fed8617a1", "D1 Write", account_scope, 1},
    {"4755a26eedb94da69e1066d98aa820be", "DNS Write", zone_scope, 1},
    {"82e64a83756745bbbb1c9c2701bf816b", "DNS Read", zone_scope, 1},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1", "Logs Write", account_scope, 1},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2", "Logs Write", zone_scope, 1},
};

static const cf_account_ref_t accounts[] = {
    {"11111111111111111111111111111111", "Acme"},
    {"22222222222222222222222222222222", "Beta"},
    {"33333333333333333333333333333333", "Twin"},
    {"44444444444444444444444444444444", "Twin"},
};

static const cf_zone_ref_t zones[] = {
    {"a1111111111111111111111111111111", "acme.example",
     "11111111111111111111111111111111", "Acme"},
    {"b1111111111111111111111111111111", "shared.example",
     "11111111111111111111111111111111", "Acme"},
    {"b2222222222222222222222222222222", "shared.example",
     "22222222222222222222222222222222", "Beta"},
};

static const cf_names_t names = {
    groups, 5, accounts, 4, zones, 3,
};

static void
test_time(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } good[] = {
        {"2026-12-03T10:00:00Z", "2026-12-03T10:00:00Z"},
        {"2026-12-03t10:00:00z", "2026-12-03T10:00:00Z"},
        {"2026-12-03T10:00:00.123456Z", "2026-12-03T10:00:00Z"},
        {"2026-12-03T10:00:00+02:00", "2026-12-03T08:00:00Z"},
        {"2026-12-03T23:30:00-01:30", "2026-12-04T01:00:00Z"},
        {"2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"},
        {"9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"},
        {"9999-12-31T20:00:00-03:59", "9999-12-31T23:59:00Z"},
    };
    static const char *const bad[] = {
        "2026-12-03",
        "2026-12-03 10:00:00Z",
        "1733220000",
        "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-12-03T24:00:00Z",
        "2026-12-03T10:00:00",
        "next tuesday",
        "2026-12-03T10:00:00+2",
        "2026-12-03T10:00:00.Z",
        "",
        /* in UTC these are in year 10000, which YYYY cannot write */
        "9999-12-31T23:59:59-23:59",
        "9999-12-31T22:00:00-02:00",
    };
    char norm[CF_TIME_LEN];
    cf_err_t e = {0};
    time_t t;
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(cf_time_parse(good[i].in, &t, norm, &e), MG_OK);
        assert_string_equal(norm, good[i].out);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cf_time_parse(bad[i], &t, norm, &e) != MG_ERROR) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
        assert_string_equal(e.code, "invalid_arguments");
        assert_true(strlen(e.message) > 20);
    }

    cf_time_parse("2026-12-03T10:00:00Z", &t, norm, &e);
    assert_int_equal((long long)t, 1796292000LL);
    cf_err_clear(&e);
}

/*
 * The parser before it was written by hand (sscanf-free but with timegm,
 * gmtime_r and strftime): every answer of cf_time_parse must be the same.
 */
static int
ref_time_parse(const char *s, time_t *t, char *norm)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    const char *p;
    struct tm tm;
    time_t v;

    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' ||
        !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec)) {
        return CF_TIME_SYNTAX;
    }

    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
        mi > 59 || sec > 59 || y < 1970) {
        return CF_TIME_RANGE;
    }

    p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) {
            return CF_TIME_FRACTION;
        }
        while (isdigit((unsigned char)*p)) {
            p++;
        }
    }

    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        sign = 0;
    } else if ((*p == '+' || *p == '-') && digits(p + 1, 2, &oh) &&
               p[3] == ':' && digits(p + 4, 2, &om) && p[6] == '\0' &&
               oh <= 23 && om <= 59) {
        sign = *p == '+' ? 1 : -1;
    } else {
        return CF_TIME_ZONE;
    }

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;

    v = timegm(&tm);
    v -= (time_t)sign * (oh * 3600 + om * 60);

    /*
     * The one change from the libc version: a time in year 10000 is
     * refused.  That version gave it a 5-digit year and, strftime having
     * no room, no terminating NUL.
     */
    if (v >= CF_TIME_END) {
        return CF_TIME_RANGE;
    }

    *t = v;
    gmtime_r(&v, &tm);
    strftime(norm, CF_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);

    return CF_TIME_OK;
}

/* The message says which problem it is, as before. */
static const char *const time_words[] = {
    NULL,
    "is not an RFC 3339 timestamp",
    "is not a real date and time",
    "a fraction of a second needs digits",
    "needs a time zone",
};

static void
time_same(const char *s)
{
    char a[CF_TIME_LEN], b[CF_TIME_LEN];
    time_t ta = -1, tb = -1;
    cf_err_t e = {0};
    int ra, rb, rc;

    memset(a, '#', sizeof(a));
    memset(b, '#', sizeof(b));

    ra = cf_time_scan(s, &ta, a);
    rb = ref_time_parse(s, &tb, b);
    if (ra != rb || ta != tb || (ra == CF_TIME_OK && memcmp(a, b, 21) != 0)) {
        fail_msg("\"%s\": %d %lld \"%.21s\" but before %d %lld \"%.21s\"", s,
                 ra, (long long)ta, a, rb, (long long)tb, b);
    }

    memset(a, '#', sizeof(a));
    rc = cf_time_parse(s, &ta, a, &e);
    assert_int_equal(rc, ra == CF_TIME_OK ? MG_OK : MG_ERROR);
    if (ra == CF_TIME_OK) {
        assert_memory_equal(a, b, 21);
    } else {
        assert_string_equal(e.code, "invalid_arguments");
        assert_non_null(strstr(e.message, time_words[ra]));
    }
    cf_err_clear(&e);
}

static void
test_time_by_hand(void **state)
{
    static const char *const ends[] = {
        "Z",       "z",        "+00:00",     "-00:00",      "+23:59",
        "-23:59",  "+05:30",   "-01:30",     "+24:00",      "+01:60",
        ".5Z",     ".000001Z", ".123+02:00", ".9999-12:00", ".Z",
        ".",       "",         "Zx",         "+0100",       "+01:0",
        "+01:00x", "x",        " Z",         ".1.2Z",       "+1:00",
    };
    static const char *const odd[] = {
        "",
        "2024",
        "2024-01-01T00:00:0",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00Z",
        "2024-01-01t00:00:00Z",
        "2024-01-01 00:00:00Z",
        "2024/01/01T00:00:00Z",
        "2024-1-01T00:00:00Z0",
        "+024-01-01T00:00:00Z",
        "2024-01-01T00:00:60Z",
        "2024-01-01T00:60:00Z",
        "2024-01-01T24:00:00Z",
        "2024-00-01T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "2024-01-32T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z",
        "2000-02-29T00:00:00Z",
        "2400-02-29T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00Z",
        "1970-01-01T00:00:00+00:01",
        "1970-01-01T00:00:00+23:59",
        "2038-01-19T03:14:08Z",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-23:59",
        "0000-01-01T00:00:00Z",
        "2024-01-01T00:00:00\xc3\xa9",
        "2024-01-01T00:00:00.\xc3\xa9Z",
    };
    static const int years[] = {1970, 1971, 1972, 1999, 2000, 2001,
                                2024, 2100, 2399, 2400, 9998, 9999};
    static const char *const times[] = {"00:00:00", "23:59:59", "12:34:56"};
    static const int mdays[] = {1, 28, 29, 30, 31};
    char buf[64], a[CF_TIME_LEN], b[CF_TIME_LEN];
    size_t yi, m, di, ti, zi, i;
    struct tm tm;
    time_t t;

    for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        time_same(odd[i]);
    }

    for (yi = 0; yi < sizeof(years) / sizeof(years[0]); yi++) {
        for (m = 0; m <= 13; m++) {
            for (di = 0; di < sizeof(mdays) / sizeof(mdays[0]); di++) {
                for (ti = 0; ti < 3; ti++) {
                    for (zi = 0; zi < sizeof(ends) / sizeof(ends[0]); zi++) {
                        snprintf(buf, sizeof(buf), "%04d-%02zu-%02dT%s%s",
                                 years[yi], m, mdays[di], times[ti], ends[zi]);
                        time_same(buf);
                    }
                }
            }
        }
    }

    /* Every day from 1970 to 2110, at a time and an offset. */
    for (t = 0; t < 4418000000; t += 86400) {
        gmtime_r(&t, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S-07:45", &tm);
        time_same(buf);
    }

    /*
     * Formatting alone, around and far from the epoch, both signs.  A
     * year of five digits does not fit: strftime leaves its buffer
     * unterminated, cf_time_format an empty string.
     */
    for (t = -4000000000LL; t < 300000000000LL; t += 7777777) {
        memset(a, '#', sizeof(a));
        memset(b, '#', sizeof(b));
        cf_time_format(t, a);
        gmtime_r(&t, &tm);
        if (strftime(b, CF_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
            assert_true(t >= CF_TIME_END);
            assert_int_equal(a[0], '\0');
            continue;
        }
        if (memcmp(a, b, sizeof(a)) != 0) {
            fail_msg("%lld: \"%.21s\" but before \"%.21s\"", (long long)t, a,
                     b);
        }
    }
}

static void
test_ttl(void **state)
{
    cf_err_t e = {0};
    long s;

    assert_int_equal(cf_ttl_parse("90m", &s, &e), MG_OK);
    assert_int_equal(s, 5400);
    assert_int_equal(cf_ttl_parse("12h", &s, &e), MG_OK);
    assert_int_equal(s, 43200);
    assert_int_equal(cf_ttl_parse("7d", &s, &e), MG_OK);
    assert_int_equal(s, 604800);

    assert_int_equal(cf_ttl_parse("7", &s, &e), MG_ERROR);
    assert_int_equal(cf_ttl_parse("d", &s, &e), MG_ERROR);
    assert_int_equal(cf_ttl_parse("0d", &s, &e), MG_ERROR);
    assert_int_equal(cf_ttl_parse("-1d", &s, &e), MG_ERROR);
    assert_int_equal(cf_ttl_parse("7w", &s, &e), MG_ERROR);
    assert_int_equal(cf_ttl_parse("1.5h", &s, &e), MG_ERROR);
    assert_int_equal(cf_ttl_parse("99999999999d", &s, &e), MG_ERROR);
    assert_non_null(strstr(e.message, "10 years"));
    cf_err_clear(&e);
}

static void
test_cidr(void **state)
{
    char out[64];
    cf_err_t e = {0};

    assert_int_equal(cf_cidr_normalize("203.0.113.7", out, &e), MG_OK);
    assert_string_equal(out, "203.0.113.7/32");
    assert_int_equal(cf_cidr_normalize("203.0.113.0/24", out, &e), MG_OK);
    assert_string_equal(out, "203.0.113.0/24");
    assert_int_equal(cf_cidr_normalize("2001:DB8::1", out, &e), MG_OK);
    assert_string_equal(out, "2001:db8::1/128");
    assert_int_equal(cf_cidr_normalize("2606:4700::/32", out, &e), MG_OK);
    assert_string_equal(out, "2606:4700::/32");

    assert_int_equal(cf_cidr_normalize("203.0.113.0/33", out, &e), MG_ERROR);
    assert_non_null(strstr(e.message, "0 to 32"));
    assert_int_equal(cf_cidr_normalize("::/129", out, &e), MG_ERROR);
    assert_int_equal(cf_cidr_normalize("1.2.3/24", out, &e), MG_ERROR);
    assert_int_equal(cf_cidr_normalize("1.2.3.4/", out, &e), MG_ERROR);
    assert_int_equal(cf_cidr_normalize("1.2.3.4/+8", out, &e), MG_ERROR);
    assert_int_equal(cf_cidr_normalize("example.com", out, &e), MG_ERROR);
    assert_int_equal(cf_cidr_normalize("256.1.1.1", out, &e), MG_ERROR);
    cf_err_clear(&e);
}

static void
test_condition(void **state)
{
    cJSON *in, *out;
    cf_err_t e = {0};
    char *text;

    in = cJSON_Parse(
        "{\"request.ip\":{\"in\":[\"10.0.0.1\"],"
        "\"not_in\":[\"10.0.0.0/8\"]}}");
    out = cf_condition_build(in, &e);
    assert_non_null(out);
    text = cJSON_PrintUnformatted(out);
    assert_string_equal(text,
                        "{\"request_ip\":{\"in\":[\"10.0.0.1/32\"],"
                        "\"not_in\":[\"10.0.0.0/8\"]}}");
    free(text);
    cJSON_Delete(out);
    cJSON_Delete(in);

    in = cJSON_Parse("{\"request_ip\":{\"in\":[\"nope\"]}}");
    assert_null(cf_condition_build(in, &e));
    assert_non_null(strstr(e.message, "not an IP address"));
    cJSON_Delete(in);

    in = cJSON_Parse("{\"time\":{}}");
    assert_null(cf_condition_build(in, &e));
    assert_non_null(strstr(e.message, "unknown key \"time\""));
    cJSON_Delete(in);
    cf_err_clear(&e);
}

static const cf_group_ref_t *
resolve(const char *json, cf_err_t *e)
{
    const cf_group_ref_t *g = NULL;
    cJSON *spec = cJSON_Parse(json);
    int rc;

    rc = cf_group_resolve(spec, &names, &g, e);
    cJSON_Delete(spec);

    return rc == MG_OK ? g : NULL;
}

static void
test_groups(void **state)
{
    const cf_group_ref_t *g;
    cf_err_t e = {0};
    char *text;

    g = resolve("\"D1 Write\"", &e);
    assert_non_null(g);
    assert_string_equal(g->id, "09b2857d1c31407795e75e3fed8617a1");

    g = resolve("\"d1 write\"", &e);
    assert_non_null(g);

    g = resolve("{\"id\":\"4755a26eedb94da69e1066d98aa820be\"}", &e);
    assert_non_null(g);
    assert_string_equal(g->name, "DNS Write");

    /* One name at two scopes: an error listing both, unless scoped. */
    assert_null(resolve("\"Logs Write\"", &e));
    assert_string_equal(e.code, "ambiguous_group");
    text = cJSON_PrintUnformatted(e.details);
    assert_non_null(strstr(text, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"));
    assert_non_null(strstr(text, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2"));
    free(text);

    g = resolve("{\"name\":\"Logs Write\",\"scope\":\"zone\"}", &e);
    assert_non_null(g);
    assert_string_equal(g->id, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2");
    g = resolve(
        "{\"name\":\"Logs Write\",\"scope\":"
        "\"com.cloudflare.api.account\"}",
        &e);
    assert_non_null(g);
    assert_string_equal(g->id, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1");

    assert_null(resolve("\"DNS Wirte\"", &e));
    assert_string_equal(e.code, "unknown_group");
    assert_non_null(strstr(e.message, "did you mean \"DNS Write\"?"));

    assert_null(resolve("{\"id\":\"ffffffffffffffffffffffffffffffff\"}", &e));
    assert_string_equal(e.code, "unknown_group");

    assert_null(resolve("42", &e));
    assert_string_equal(e.code, "invalid_arguments");
    cf_err_clear(&e);
}

static char *
build(const char *json, const char *hint, cf_err_t *e)
{
    cJSON *in = cJSON_Parse(json), *out;
    char *text = NULL;

    out = cf_resources_build(in, &names, hint, e);
    if (out) {
        text = cJSON_PrintUnformatted(out);
    }

    cJSON_Delete(out);
    cJSON_Delete(in);

    return text;
}

static void
test_resources(void **state)
{
    cf_err_t e = {0};
    char *t;

    t = build("{\"accounts\":[\"Acme\"]}", NULL, &e);
    assert_string_equal(t,
                        "{\"com.cloudflare.api.account."
                        "11111111111111111111111111111111\":\"*\"}");
    free(t);

    t = build("{\"zones\":[\"acme.example\"]}", NULL, &e);
    assert_string_equal(t,
                        "{\"com.cloudflare.api.account.zone."
                        "a1111111111111111111111111111111\":\"*\"}");
    free(t);

    t = build("{\"all_zones_of\":[\"22222222222222222222222222222222\"]}", NULL,
              &e);
    assert_string_equal(t,
                        "{\"com.cloudflare.api.account."
                        "22222222222222222222222222222222\":{"
                        "\"com.cloudflare.api.account.zone.*\":\"*\"}}");
    free(t);

    /* A zone name in two accounts: the candidates, or the hint picks. */
    assert_null(build("{\"zones\":[\"shared.example\"]}", NULL, &e));
    assert_string_equal(e.code, "ambiguous_zone");
    assert_non_null(strstr(e.message, "b1111111111111111111111111111111"));
    assert_non_null(strstr(e.message, "b2222222222222222222222222222222"));

    t = build("{\"zones\":[\"shared.example\"]}",
              "22222222222222222222222222222222", &e);
    assert_non_null(strstr(t, "b2222222222222222222222222222222"));
    free(t);

    assert_null(build("{\"accounts\":[\"Twin\"]}", NULL, &e));
    assert_string_equal(e.code, "ambiguous_account");

    assert_null(build("{\"accounts\":[\"Nobody\"]}", NULL, &e));
    assert_string_equal(e.code, "unknown_account");

    assert_null(build("{\"zones\":[\"nope.example\"]}", NULL, &e));
    assert_string_equal(e.code, "unknown_zone");

    /* Raw keys pass through, flat or nested. */
    t = build(
        "{\"com.cloudflare.api.account.1\":{"
        "\"com.cloudflare.api.account.zone.*\":\"*\"}}",
        NULL, &e);
    assert_non_null(t);
    free(t);

    assert_null(build("{\"accounts\":[\"Acme\"],\"com.cloudflare.x\":\"*\"}",
                      NULL, &e));
    assert_non_null(strstr(e.message, "mixes"));
    assert_null(build("{\"com.cloudflare.api.account.1\":\"read\"}", NULL, &e));
    assert_null(build("{\"evil\":\"*\"}", NULL, &e));
    assert_null(build("{}", NULL, &e));
    cf_err_clear(&e);
}

static void
test_policies_as_sets(void **state)
{
    cJSON *a, *b, *c;

    a = cJSON_Parse(
        "[{\"effect\":\"allow\",\"permission_groups\":[{\"id\":\"g1\"},"
        "{\"id\":\"g2\"}],\"resources\":{\"r1\":\"*\",\"r2\":\"*\"}},"
        "{\"effect\":\"deny\",\"permission_groups\":[{\"id\":\"g3\"}],"
        "\"resources\":{\"r3\":{\"z\":\"*\"}}}]");
    b = cJSON_Parse(
        "[{\"id\":\"p9\",\"effect\":\"deny\",\"permission_groups\":[{\"id\":"
        "\"g3\",\"name\":\"G3\"}],\"resources\":{\"r3\":{\"z\":\"*\"}}},"
        "{\"effect\":\"allow\",\"permission_groups\":[{\"id\":\"g2\"},"
        "{\"id\":\"g1\"}],\"resources\":{\"r2\":\"*\",\"r1\":\"*\"}}]");
    c = cJSON_Parse(
        "[{\"effect\":\"allow\",\"permission_groups\":[{\"id\":\"g1\"}],"
        "\"resources\":{\"r1\":\"*\",\"r2\":\"*\"}},"
        "{\"effect\":\"deny\",\"permission_groups\":[{\"id\":\"g3\"}],"
        "\"resources\":{\"r3\":{\"z\":\"*\"}}}]");

    assert_true(cf_policies_equal(a, b));
    assert_false(cf_policies_equal(a, c));

    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

static void
test_scopes(void **state)
{
    cJSON *acct, *zres, *nested, *mixed;
    cf_err_t e = {0};

    acct = cJSON_Parse("{\"com.cloudflare.api.account.1\":\"*\"}");
    zres = cJSON_Parse("{\"com.cloudflare.api.account.zone.1\":\"*\"}");
    nested = cJSON_Parse(
        "{\"com.cloudflare.api.account.1\":{"
        "\"com.cloudflare.api.account.zone.*\":\"*\"}}");
    mixed = cJSON_Parse(
        "{\"com.cloudflare.api.account.1\":\"*\","
        "\"com.cloudflare.api.account.zone.1\":\"*\"}");

    assert_string_equal(cf_resources_scope(acct), "com.cloudflare.api.account");
    assert_string_equal(cf_resources_scope(zres),
                        "com.cloudflare.api.account.zone");
    assert_string_equal(cf_resources_scope(nested),
                        "com.cloudflare.api.account.zone");
    assert_null(cf_resources_scope(mixed));

    /* D1 Write is an account group; DNS Write a zone group. */
    assert_int_equal(cf_group_fits(&groups[0], acct, &e), MG_OK);
    assert_int_equal(cf_group_fits(&groups[1], nested, &e), MG_OK);
    assert_int_equal(cf_group_fits(&groups[1], acct, &e), MG_ERROR);
    assert_string_equal(e.code, "scope_mismatch");
    assert_non_null(strstr(e.message, "zones or all_zones_of"));
    assert_int_equal(cf_group_fits(&groups[0], zres, &e), MG_ERROR);
    assert_non_null(strstr(e.message, "with accounts"));

    cJSON_Delete(acct);
    cJSON_Delete(zres);
    cJSON_Delete(nested);
    cJSON_Delete(mixed);
    cf_err_clear(&e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_time_by_hand),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_condition),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_policies_as_sets),
        cmocka_unit_test(test_scopes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
