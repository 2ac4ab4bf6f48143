/*
 * Argument parsing for the token tools.  Every function here either
 * produces exactly what goes upstream or says, in words a model can act
 * on, what to change: nothing half-parsed is ever sent.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cf_parse.h"

#define RES_ACCOUNT "com.cloudflare.api.account."
#define RES_ZONE "com.cloudflare.api.account.zone."
#define RES_ALL_ZONES "com.cloudflare.api.account.zone.*"

void
cf_err_clear(cf_err_t *e)
{
    cJSON_Delete(e->details);
    e->details = NULL;
    e->code = NULL;
    e->message[0] = '\0';
}

static int cf_fail(cf_err_t *e, const char *code, cJSON *details,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
cf_fail(cf_err_t *e, const char *code, cJSON *details, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);

    cJSON_Delete(e->details);
    e->details = details;
    e->code = code;

    return MG_ERROR;
}

int
cf_is_id(const char *s)
{
    size_t i;

    for (i = 0; i < 32; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }

    return s[32] == '\0';
}

/* ------------------------------------------------------------------ */
/* Time.                                                               */

static int
digits(const char *s, int n, int *out)
{
    int i, v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }

    *out = v;

    return 1;
}

static int
days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (exact). */
static long
days_from_civil(int y, int m, int d)
{
    long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

static void
put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void
cf_time_format(time_t t, char *norm)
{
    long days, secs, era, doe, yoe, doy, mp, y, m, d;
    struct tm tm;

    days = (long)(t / 86400);
    secs = (long)(t % 86400);
    if (secs < 0) {
        secs += 86400;
        days--;
    }

    days += 719468;
    era = (days >= 0 ? days : days - 146096) / 146097;
    doe = days - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = yoe + era * 400 + (m <= 2);

    /*
     * Four digits by hand; any other year as strftime writes it, and
     * nothing when that does not fit (cf_time_scan refuses such years).
     */
    if (y < 1000 || y > 9999) {
        if (gmtime_r(&t, &tm) == NULL ||
            strftime(norm, CF_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
            norm[0] = '\0';
        }
        return;
    }

    put2(norm, (int)(y / 100));
    put2(norm + 2, (int)(y % 100));
    norm[4] = '-';
    put2(norm + 5, (int)m);
    norm[7] = '-';
    put2(norm + 8, (int)d);
    norm[10] = 'T';
    put2(norm + 11, (int)(secs / 3600));
    norm[13] = ':';
    put2(norm + 14, (int)(secs / 60 % 60));
    norm[16] = ':';
    put2(norm + 17, (int)(secs % 60));
    norm[19] = 'Z';
    norm[20] = '\0';
}

int
cf_time_scan(const char *s, time_t *t, char *norm)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    const char *p;
    time_t v;

    /* Positions 0-18 end at a NUL that fails a check: s[19] is there. */
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec) || s[19] == '\0') {
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

    v = (time_t)days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    v -= (time_t)sign * (oh * 3600 + om * 60);

    /* "9999-12-31T23:00:00-02:00" is in year 10000, which has no YYYY. */
    if (v >= CF_TIME_END) {
        return CF_TIME_RANGE;
    }

    *t = v;
    cf_time_format(v, norm);

    return CF_TIME_OK;
}

int
cf_time_parse(const char *s, time_t *t, char *norm, cf_err_t *e)
{
    switch (cf_time_scan(s, t, norm)) {
    case CF_TIME_OK:
        return MG_OK;

    case CF_TIME_SYNTAX:
        return cf_fail(e, "invalid_arguments", NULL,
                       "\"%.40s\" is not an RFC 3339 timestamp; write it as "
                       "\"2026-12-31T23:59:59Z\" (or with an offset such as "
                       "\"+02:00\"), or use ttl such as \"7d\"",
                       s);

    case CF_TIME_RANGE:
        return cf_fail(e, "invalid_arguments", NULL,
                       "\"%.40s\" is not a real date and time (month 01-12, "
                       "day within the month, hour 00-23, minute and second "
                       "00-59, year 1970 to 9999, in UTC too)",
                       s);

    case CF_TIME_FRACTION:
        return cf_fail(e, "invalid_arguments", NULL,
                       "\"%.40s\": a fraction of a second needs digits "
                       "after the dot",
                       s);

    default:
        return cf_fail(e, "invalid_arguments", NULL,
                       "\"%.40s\" needs a time zone: \"Z\" for UTC or an "
                       "offset such as \"+02:00\"",
                       s);
    }
}

int
cf_ttl_parse(const char *s, long *seconds, cf_err_t *e)
{
    unsigned long n = 0;
    size_t i, len = strlen(s);
    long unit;

    for (i = 0; i + 1 < len && isdigit((unsigned char)s[i]); i++) {
        n = n * 10 + (unsigned long)(s[i] - '0');
        if (n > 100000000) {
            n = 100000000; /* far past the ceiling; keep reading digits */
        }
    }

    unit = len ? (s[len - 1] == 'm'   ? 60
                  : s[len - 1] == 'h' ? 3600
                  : s[len - 1] == 'd' ? 86400
                                      : 0)
               : 0;

    if (len >= 2 && i == len - 1 && unit && n == 0) {
        return cf_fail(e, "invalid_arguments", NULL,
                       "ttl \"%.40s\" is zero; give at least 1m", s);
    }

    if (len < 2 || i != len - 1 || s[0] == '0' || unit == 0) {
        return cf_fail(e, "invalid_arguments", NULL,
                       "ttl \"%.40s\" is not a duration; write a whole number "
                       "with m, h or d, such as \"90m\", \"12h\" or \"7d\"",
                       s);
    }

    if (n * (unsigned long)unit > 10UL * 366 * 86400) {
        return cf_fail(e, "invalid_arguments", NULL,
                       "ttl \"%.40s\" is longer than 10 years; use a shorter "
                       "one or an explicit expires_on",
                       s);
    }

    *seconds = (long)(n * (unsigned long)unit);

    return MG_OK;
}

/* ------------------------------------------------------------------ */
/* Addresses.                                                          */

int
cf_cidr_normalize(const char *s, char *out, cf_err_t *e)
{
    char addr[64], text[INET6_ADDRSTRLEN], *slash, *end;
    unsigned char buf[16];
    int v6, max;
    long bits;

    if (strlen(s) >= sizeof(addr)) {
        goto bad;
    }

    snprintf(addr, sizeof(addr), "%s", s);
    slash = strchr(addr, '/');
    if (slash) {
        *slash = '\0';
    }

    v6 = strchr(addr, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, buf) != 1) {
        goto bad;
    }

    max = v6 ? 128 : 32;
    bits = max;

    if (slash) {
        errno = 0;
        bits = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || errno || bits < 0 ||
            bits > max || !isdigit((unsigned char)slash[1])) {
            return cf_fail(e, "invalid_arguments", NULL,
                           "\"%.60s\" has a bad prefix length; use 0 to %d "
                           "for an IPv%d address",
                           s, max, v6 ? 6 : 4);
        }
    }

    inet_ntop(v6 ? AF_INET6 : AF_INET, buf, text, sizeof(text));
    snprintf(out, 64, "%s/%ld", text, bits);

    return MG_OK;

bad:
    return cf_fail(e, "invalid_arguments", NULL,
                   "\"%.60s\" is not an IP address or CIDR; write it as "
                   "\"203.0.113.7\", \"203.0.113.0/24\" or \"2001:db8::/32\"",
                   s);
}

cJSON *
cf_condition_build(const cJSON *cond, cf_err_t *e)
{
    static const char *const lists[] = {"in", "not_in"};
    const cJSON *ip, *list, *item;
    cJSON *out, *outip, *arr, *member;
    char cidr[64];
    int i;

    if (!cJSON_IsObject(cond)) {
        cf_fail(e, "invalid_arguments", NULL,
                "condition must be an object: {\"request_ip\": {\"in\": "
                "[\"203.0.113.0/24\"]}}");
        return NULL;
    }

    ip = cJSON_GetObjectItemCaseSensitive(cond, "request_ip");
    if (ip == NULL) {
        ip = cJSON_GetObjectItemCaseSensitive(cond, "request.ip");
    }

    cJSON_ArrayForEach(member, (cJSON *)cond)
    {
        if (strcmp(member->string, "request_ip") &&
            strcmp(member->string, "request.ip")) {
            cf_fail(e, "invalid_arguments", NULL,
                    "condition has an unknown key \"%.40s\"; only request_ip "
                    "is supported",
                    member->string);
            return NULL;
        }
    }

    out = cJSON_CreateObject();
    if (ip == NULL) {
        return out;
    }

    if (!cJSON_IsObject(ip)) {
        cJSON_Delete(out);
        cf_fail(e, "invalid_arguments", NULL,
                "condition.request_ip must be an object with \"in\" and/or "
                "\"not_in\" lists of addresses or CIDRs");
        return NULL;
    }

    outip = cJSON_AddObjectToObject(out, "request_ip");

    for (i = 0; i < 2; i++) {
        list = cJSON_GetObjectItemCaseSensitive(ip, lists[i]);
        if (list == NULL) {
            continue;
        }

        if (!cJSON_IsArray(list)) {
            cJSON_Delete(out);
            cf_fail(e, "invalid_arguments", NULL,
                    "condition.request_ip.%s must be a list of addresses or "
                    "CIDRs",
                    lists[i]);
            return NULL;
        }

        arr = cJSON_AddArrayToObject(outip, lists[i]);
        cJSON_ArrayForEach(item, list)
        {
            if (!cJSON_IsString(item) ||
                cf_cidr_normalize(item->valuestring, cidr, e) != MG_OK) {
                if (!cJSON_IsString(item)) {
                    cf_fail(e, "invalid_arguments", NULL,
                            "condition.request_ip.%s holds a non-string",
                            lists[i]);
                }
                cJSON_Delete(out);
                return NULL;
            }
            cJSON_AddItemToArray(arr, cJSON_CreateString(cidr));
        }
    }

    return out;
}

/* ------------------------------------------------------------------ */
/* Permission groups.                                                  */

static const char *
scope_short(const char *scope)
{
    const char *dot = strrchr(scope, '.');

    return dot ? dot + 1 : scope;
}

static int
group_has_scope(const cf_group_ref_t *g, const char *scope)
{
    size_t i;

    for (i = 0; i < g->nscopes; i++) {
        if (strcmp(g->scopes[i], scope) == 0 ||
            strcmp(scope_short(g->scopes[i]), scope) == 0) {
            return 1;
        }
    }

    return 0;
}

static cJSON *
group_json(const cf_group_ref_t *g)
{
    cJSON *o = cJSON_CreateObject(), *scopes;
    size_t i;

    cJSON_AddStringToObject(o, "id", g->id);
    cJSON_AddStringToObject(o, "name", g->name);
    scopes = cJSON_AddArrayToObject(o, "scopes");
    for (i = 0; i < g->nscopes; i++) {
        cJSON_AddItemToArray(scopes, cJSON_CreateString(g->scopes[i]));
    }

    return o;
}

/* Edit distance, bounded: names further than a few edits do not matter. */
static size_t
distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j, prev, cur, tmp;
    size_t row[129];

    if (la > 128 || lb > 128) {
        return SIZE_MAX;
    }

    for (j = 0; j <= lb; j++) {
        row[j] = j;
    }

    for (i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = i;
        for (j = 1; j <= lb; j++) {
            cur = row[j];
            tmp = prev + (tolower((unsigned char)a[i - 1]) !=
                          tolower((unsigned char)b[j - 1]));
            if (row[j] + 1 < tmp) {
                tmp = row[j] + 1;
            }
            if (row[j - 1] + 1 < tmp) {
                tmp = row[j - 1] + 1;
            }
            row[j] = tmp;
            prev = cur;
        }
    }

    return row[lb];
}

/* "unknown permission group": with the nearest names, if any are near. */
static int
unknown_group(const char *name, const cf_names_t *n, cf_err_t *e)
{
    char near[300] = "";
    cJSON *details, *sugg;
    size_t i, d, best = 4, len = 0;

    details = cJSON_CreateObject();
    cJSON_AddStringToObject(details, "name", name);
    sugg = cJSON_AddArrayToObject(details, "suggestions");

    for (d = 1; d < best && len == 0; d++) {
        for (i = 0; i < n->ngroups; i++) {
            if (distance(name, n->groups[i].name) == d &&
                len + strlen(n->groups[i].name) + 4 < sizeof(near)) {
                len +=
                    (size_t)snprintf(near + len, sizeof(near) - len, "%s\"%s\"",
                                     len ? ", " : "", n->groups[i].name);
                cJSON_AddItemToArray(sugg,
                                     cJSON_CreateString(n->groups[i].name));
            }
        }
    }

    return cf_fail(e, "unknown_group", details,
                   "unknown permission group \"%.80s\"%s%s%s; "
                   "token_permission_groups_list shows every group",
                   name, len ? " (did you mean " : "", near, len ? "?)" : "");
}

int
cf_group_resolve(const cJSON *spec, const cf_names_t *n,
                 const cf_group_ref_t **out, cf_err_t *e)
{
    const cJSON *jid = NULL, *jname = NULL, *jscope = NULL;
    const cf_group_ref_t *found = NULL;
    const char *name, *scope = NULL;
    cJSON *details, *cands;
    size_t i, count = 0, len = 0;
    char list[400] = "";
    int pass;

    if (cJSON_IsString(spec)) {
        jname = spec;
    } else if (cJSON_IsObject(spec)) {
        jid = cJSON_GetObjectItemCaseSensitive(spec, "id");
        jname = cJSON_GetObjectItemCaseSensitive(spec, "name");
        jscope = cJSON_GetObjectItemCaseSensitive(spec, "scope");
    }

    if (jid && cJSON_IsString(jid)) {
        for (i = 0; i < n->ngroups; i++) {
            if (strcmp(n->groups[i].id, jid->valuestring) == 0) {
                *out = &n->groups[i];
                return MG_OK;
            }
        }
        return cf_fail(e, "unknown_group", NULL,
                       "unknown permission group id \"%.40s\"; "
                       "token_permission_groups_list shows every group",
                       jid->valuestring);
    }

    if (!cJSON_IsString(jname) || (jscope && !cJSON_IsString(jscope))) {
        return cf_fail(e, "invalid_arguments", NULL,
                       "each permission group is a name (\"D1 Write\"), "
                       "{\"id\": \"...\"} or {\"name\": \"...\", \"scope\": "
                       "\"account\"}");
    }

    name = jname->valuestring;
    scope = jscope ? jscope->valuestring : NULL;

    /* Exact names first; only without one, any case. */
    for (pass = 0; pass < 2 && count == 0; pass++) {
        for (i = 0; i < n->ngroups; i++) {
            if ((pass == 0 ? strcmp(n->groups[i].name, name)
                           : strcasecmp(n->groups[i].name, name)) != 0) {
                continue;
            }
            if (scope && !group_has_scope(&n->groups[i], scope)) {
                continue;
            }
            found = &n->groups[i];
            count++;
        }
    }

    if (count == 1) {
        *out = found;
        return MG_OK;
    }

    if (count == 0) {
        if (scope) {
            return cf_fail(e, "unknown_group", NULL,
                           "no permission group \"%.80s\" has scope "
                           "\"%.80s\"; token_permission_groups_list shows "
                           "each group's scopes",
                           name, scope);
        }
        return unknown_group(name, n, e);
    }

    details = cJSON_CreateObject();
    cands = cJSON_AddArrayToObject(details, "candidates");
    for (i = 0; i < n->ngroups; i++) {
        if (strcasecmp(n->groups[i].name, name) == 0 &&
            (!scope || group_has_scope(&n->groups[i], scope))) {
            cJSON_AddItemToArray(cands, group_json(&n->groups[i]));
            if (len + 80 < sizeof(list)) {
                len += (size_t)snprintf(
                    list + len, sizeof(list) - len, "%sscope %s (id %s)",
                    len ? ", " : "",
                    n->groups[i].nscopes ? scope_short(n->groups[i].scopes[0])
                                         : "none",
                    n->groups[i].id);
            }
        }
    }

    return cf_fail(e, "ambiguous_group", details,
                   "permission group name \"%.80s\" matches %zu groups: "
                   "%s; pick one with {\"name\": \"%.80s\", \"scope\": "
                   "\"%s\"} (or \"account\", \"zone\", \"user\"), or by "
                   "{\"id\": \"...\"}",
                   name, count, list, name,
                   found && found->nscopes ? scope_short(found->scopes[0])
                                           : "zone");
}

/* ------------------------------------------------------------------ */
/* Resources.                                                          */

/*
 * "no account": with the accounts the gateway can see, names and ids,
 * when they are few (all of them in details), and the one whose name
 * differs only in case.
 */
static void
unknown_account(const char *v, const cf_names_t *n, cf_err_t *e)
{
    const cf_account_ref_t *near = NULL;
    cJSON *details, *vis, *c;
    char seen[480] = "";
    size_t i, len = 0;

    details = cJSON_CreateObject();
    vis = cJSON_AddArrayToObject(details, "visible");

    for (i = 0; i < n->naccounts; i++) {
        if (strcasecmp(n->accounts[i].name, v) == 0) {
            near = &n->accounts[i];
        }
        if (i < 50) {
            c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "id", n->accounts[i].id);
            cJSON_AddStringToObject(c, "name", n->accounts[i].name);
            cJSON_AddItemToArray(vis, c);
        }
        if (i < 5 && len + strlen(n->accounts[i].name) + 45 < sizeof(seen)) {
            len += (size_t)snprintf(seen + len, sizeof(seen) - len,
                                    "%s\"%s\" = %s", len ? ", " : "",
                                    n->accounts[i].name, n->accounts[i].id);
        }
    }

    if (near != NULL) {
        cf_fail(e, "unknown_account", details,
                "no account \"%.80s\" is visible to the gateway's Cloudflare "
                "token; did you mean \"%.80s\" (id %s)? Names are matched "
                "exactly",
                v, near->name, near->id);
        return;
    }

    cf_fail(e, "unknown_account", details,
            "no account \"%.80s\" is visible to the gateway's Cloudflare "
            "token; give an account id or an exact account name%s%s%s",
            v, len ? " (visible: " : "", len ? seen : "",
            len ? (n->naccounts > 5 ? ", ... all in details)" : ")") : "");
}

static const cf_account_ref_t *
find_account(const char *v, const cf_names_t *n, cf_err_t *e)
{
    const cf_account_ref_t *found = NULL;
    cJSON *details, *cands, *c;
    size_t i, count = 0;

    for (i = 0; i < n->naccounts; i++) {
        if (strcmp(n->accounts[i].id, v) == 0) {
            return &n->accounts[i];
        }
    }

    for (i = 0; i < n->naccounts; i++) {
        if (strcmp(n->accounts[i].name, v) == 0) {
            found = &n->accounts[i];
            count++;
        }
    }

    if (count == 1) {
        return found;
    }

    if (count == 0) {
        unknown_account(v, n, e);
        return NULL;
    }

    details = cJSON_CreateObject();
    cands = cJSON_AddArrayToObject(details, "candidates");
    for (i = 0; i < n->naccounts; i++) {
        if (strcmp(n->accounts[i].name, v) == 0) {
            c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "id", n->accounts[i].id);
            cJSON_AddStringToObject(c, "name", n->accounts[i].name);
            cJSON_AddItemToArray(cands, c);
        }
    }

    cf_fail(e, "ambiguous_account", details,
            "%zu accounts are named \"%.80s\"; give the account id instead "
            "(candidates in details)",
            count, v);

    return NULL;
}

static const cf_zone_ref_t *
find_zone(const char *v, const cf_names_t *n, const char *account_hint,
          cf_err_t *e)
{
    const cf_zone_ref_t *found = NULL;
    cJSON *details, *cands, *c;
    char list[400] = "";
    size_t i, count = 0, len = 0;

    for (i = 0; i < n->nzones; i++) {
        if (strcmp(n->zones[i].id, v) == 0) {
            return &n->zones[i];
        }
    }

    for (i = 0; i < n->nzones; i++) {
        if (strcasecmp(n->zones[i].name, v) == 0 &&
            (account_hint == NULL ||
             strcmp(n->zones[i].account_id, account_hint) == 0)) {
            found = &n->zones[i];
            count++;
        }
    }

    if (count == 1) {
        return found;
    }

    if (count == 0) {
        cf_fail(e, "unknown_zone", NULL,
                "no zone \"%.80s\" is visible to the gateway's Cloudflare "
                "token%s; give a zone id or an exact zone name",
                v, account_hint ? " in that account" : "");
        return NULL;
    }

    /* The same zone name in several accounts: never pick one silently. */
    details = cJSON_CreateObject();
    cands = cJSON_AddArrayToObject(details, "candidates");
    for (i = 0; i < n->nzones; i++) {
        if (strcasecmp(n->zones[i].name, v) != 0) {
            continue;
        }

        c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "zone_id", n->zones[i].id);
        cJSON_AddStringToObject(c, "account_id", n->zones[i].account_id);
        cJSON_AddStringToObject(
            c, "account_name",
            n->zones[i].account_name ? n->zones[i].account_name : "");
        cJSON_AddItemToArray(cands, c);

        if (len + 80 < sizeof(list)) {
            len += (size_t)snprintf(list + len, sizeof(list) - len,
                                    "%s%s (account %s)", len ? ", " : "",
                                    n->zones[i].id, n->zones[i].account_id);
        }
    }

    cf_fail(e, "ambiguous_zone", details,
            "zone \"%.80s\" exists in %zu accounts: %s; give account_id or "
            "the zone id",
            v, count, list);

    return NULL;
}

/* Every element of a friendly list, resolved and added as raw keys. */
static int
add_friendly(cJSON *out, const cJSON *list, const char *what,
             const cf_names_t *n, const char *account_hint, cf_err_t *e)
{
    const cf_account_ref_t *a;
    const cf_zone_ref_t *z;
    const cJSON *item;
    cJSON *nested;
    char key[128];

    if (!cJSON_IsArray(list)) {
        return cf_fail(e, "invalid_arguments", NULL,
                       "resources.%s must be a list of ids or names", what);
    }

    cJSON_ArrayForEach(item, list)
    {
        if (!cJSON_IsString(item)) {
            return cf_fail(e, "invalid_arguments", NULL,
                           "resources.%s must hold strings (ids or names)",
                           what);
        }

        if (strcmp(what, "zones") == 0) {
            z = find_zone(item->valuestring, n, account_hint, e);
            if (z == NULL) {
                return MG_ERROR;
            }
            snprintf(key, sizeof(key), RES_ZONE "%s", z->id);
            cJSON_DeleteItemFromObjectCaseSensitive(out, key);
            cJSON_AddStringToObject(out, key, "*");
            continue;
        }

        a = find_account(item->valuestring, n, e);
        if (a == NULL) {
            return MG_ERROR;
        }

        snprintf(key, sizeof(key), RES_ACCOUNT "%s", a->id);
        cJSON_DeleteItemFromObjectCaseSensitive(out, key);

        if (strcmp(what, "accounts") == 0) {
            cJSON_AddStringToObject(out, key, "*");
        } else {
            nested = cJSON_AddObjectToObject(out, key);
            cJSON_AddStringToObject(nested, RES_ALL_ZONES, "*");
        }
    }

    return MG_OK;
}

static int
raw_key_valid(const char *k)
{
    return strncmp(k, "com.cloudflare.", 15) == 0 && strlen(k) <= 200;
}

/* Raw resources: keys Cloudflare knows, values "*" or one nested map. */
static cJSON *
raw_resources(const cJSON *res, cf_err_t *e)
{
    const cJSON *m, *inner;

    cJSON_ArrayForEach(m, (cJSON *)res)
    {
        if (!raw_key_valid(m->string)) {
            cf_fail(e, "invalid_arguments", NULL,
                    "resource key \"%.60s\" is not a Cloudflare resource; use "
                    "keys like \"com.cloudflare.api.account.<id>\", or the "
                    "friendly form {accounts, zones, all_zones_of}",
                    m->string);
            return NULL;
        }

        if (cJSON_IsString(m) && strcmp(m->valuestring, "*") == 0) {
            continue;
        }

        if (!cJSON_IsObject(m) || cJSON_GetArraySize(m) == 0) {
            cf_fail(e, "invalid_arguments", NULL,
                    "resource \"%.60s\" must map to \"*\" or to a nested map "
                    "such as {\"" RES_ALL_ZONES "\": \"*\"}",
                    m->string);
            return NULL;
        }

        cJSON_ArrayForEach(inner, (cJSON *)m)
        {
            if (!raw_key_valid(inner->string) || !cJSON_IsString(inner) ||
                strcmp(inner->valuestring, "*") != 0) {
                cf_fail(e, "invalid_arguments", NULL,
                        "nested resource under \"%.60s\" must map "
                        "Cloudflare keys to \"*\"",
                        m->string);
                return NULL;
            }
        }
    }

    return cJSON_Duplicate(res, 1);
}

cJSON *
cf_resources_build(const cJSON *res, const cf_names_t *n,
                   const char *account_hint, cf_err_t *e)
{
    static const char *const friendly[] = {"accounts", "zones", "all_zones_of",
                                           NULL};
    const cJSON *m;
    cJSON *out;
    int nfriendly = 0, nraw = 0, i;

    if (!cJSON_IsObject(res) || cJSON_GetArraySize(res) == 0) {
        cf_fail(e, "invalid_arguments", NULL,
                "each policy needs resources: {\"accounts\": [\"<id or "
                "name>\"]}, {\"zones\": [...]}, {\"all_zones_of\": [...]}, "
                "or Cloudflare's raw keys");
        return NULL;
    }

    cJSON_ArrayForEach(m, (cJSON *)res)
    {
        for (i = 0; friendly[i]; i++) {
            if (strcmp(m->string, friendly[i]) == 0) {
                break;
            }
        }
        if (friendly[i]) {
            nfriendly++;
        } else {
            nraw++;
        }
    }

    if (nraw && nfriendly) {
        cf_fail(e, "invalid_arguments", NULL,
                "resources mixes the friendly form (accounts, zones, "
                "all_zones_of) with other keys; use one form per policy");
        return NULL;
    }

    if (nraw) {
        return raw_resources(res, e);
    }

    out = cJSON_CreateObject();
    for (i = 0; friendly[i]; i++) {
        m = cJSON_GetObjectItemCaseSensitive(res, friendly[i]);
        if (m &&
            add_friendly(out, m, friendly[i], n, account_hint, e) != MG_OK) {
            cJSON_Delete(out);
            return NULL;
        }
    }

    if (cJSON_GetArraySize(out) == 0) {
        cJSON_Delete(out);
        cf_fail(e, "invalid_arguments", NULL,
                "resources names no account or zone; list at least one");
        return NULL;
    }

    return out;
}

/* ------------------------------------------------------------------ */
/* Policies as sets.                                                   */

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A canonical text for one policy: effect, sorted group ids, resources. */
static char *
policy_key(const cJSON *p)
{
    const cJSON *effect, *groups, *res, *g, *id, *r, *inner;
    char **parts;
    size_t n = 0, cap, i, len = 0;
    char *out, buf[300];

    effect = cJSON_GetObjectItemCaseSensitive(p, "effect");
    groups = cJSON_GetObjectItemCaseSensitive(p, "permission_groups");
    res = cJSON_GetObjectItemCaseSensitive(p, "resources");

    cap = (size_t)cJSON_GetArraySize(groups) + 1;
    cJSON_ArrayForEach(r, (cJSON *)res)
    {
        cap += 1 + (size_t)cJSON_GetArraySize(r);
    }
    parts = calloc(cap, sizeof(char *));

    cJSON_ArrayForEach(g, (cJSON *)groups)
    {
        id = cJSON_GetObjectItemCaseSensitive(g, "id");
        snprintf(buf, sizeof(buf), "g:%s",
                 cJSON_IsString(id) ? id->valuestring : "?");
        parts[n++] = strdup(buf);
    }

    cJSON_ArrayForEach(r, (cJSON *)res)
    {
        if (cJSON_IsObject(r)) {
            cJSON_ArrayForEach(inner, (cJSON *)r)
            {
                snprintf(buf, sizeof(buf), "r:%s>%s", r->string, inner->string);
                parts[n++] = strdup(buf);
            }
        } else {
            snprintf(buf, sizeof(buf), "r:%s", r->string);
            parts[n++] = strdup(buf);
        }
    }

    qsort(parts, n, sizeof(char *), cmp_str);

    for (i = 0; i < n; i++) {
        len += strlen(parts[i]) + 1;
    }

    out = calloc(1, len + 16);
    snprintf(out, 16, "%s|",
             cJSON_IsString(effect) ? effect->valuestring : "allow");
    for (i = 0; i < n; i++) {
        strcat(out, parts[i]);
        strcat(out, ";");
        free(parts[i]);
    }
    free(parts);

    return out;
}

static char **
policy_keys(const cJSON *list, size_t *n)
{
    const cJSON *p;
    char **keys;

    *n = 0;
    keys = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(char *));

    cJSON_ArrayForEach(p, (cJSON *)list)
    {
        keys[(*n)++] = policy_key(p);
    }

    qsort(keys, *n, sizeof(char *), cmp_str);

    return keys;
}

int
cf_policies_equal(const cJSON *a, const cJSON *b)
{
    char **ka, **kb;
    size_t na, nb, i;
    int equal;

    ka = policy_keys(a, &na);
    kb = policy_keys(b, &nb);

    equal = na == nb;
    for (i = 0; equal && i < na; i++) {
        equal = strcmp(ka[i], kb[i]) == 0;
    }

    for (i = 0; i < na; i++) {
        free(ka[i]);
    }
    for (i = 0; i < nb; i++) {
        free(kb[i]);
    }
    free(ka);
    free(kb);

    return equal;
}

/* ------------------------------------------------------------------ */
/* Scopes: a group only acts on resources of the scope it is for.      */

#define SCOPE_ACCOUNT "com.cloudflare.api.account"
#define SCOPE_ZONE "com.cloudflare.api.account.zone"
#define SCOPE_USER "com.cloudflare.api.user"

const char *
cf_resource_scope(const char *key, const cJSON *value)
{
    if (strncmp(key, RES_ZONE, strlen(RES_ZONE)) == 0) {
        return SCOPE_ZONE;
    }

    if (strncmp(key, SCOPE_USER ".", strlen(SCOPE_USER) + 1) == 0) {
        return SCOPE_USER;
    }

    if (strncmp(key, RES_ACCOUNT, strlen(RES_ACCOUNT)) == 0) {
        /* An account mapped to its zones means those zones. */
        return cJSON_IsObject(value) ? SCOPE_ZONE : SCOPE_ACCOUNT;
    }

    return NULL;
}

const char *
cf_resources_scope(const cJSON *res)
{
    const char *one = NULL, *s;
    const cJSON *m;

    cJSON_ArrayForEach(m, (cJSON *)res)
    {
        s = cf_resource_scope(m->string, m);
        if (s == NULL || (one && strcmp(one, s) != 0)) {
            return NULL;
        }
        one = s;
    }

    return one;
}

int
cf_group_fits(const cf_group_ref_t *g, const cJSON *res, cf_err_t *e)
{
    const char *s;
    const cJSON *m;

    cJSON_ArrayForEach(m, (cJSON *)res)
    {
        s = cf_resource_scope(m->string, m);
        if (s == NULL || g->nscopes == 0 || group_has_scope(g, s)) {
            continue;
        }

        return cf_fail(e, "scope_mismatch", NULL,
                       "permission group \"%.60s\" applies to %s resources, "
                       "not to \"%.80s\" (%s); put it in a policy of its own "
                       "with %s",
                       g->name, scope_short(g->scopes[0]), m->string,
                       scope_short(s),
                       strcmp(scope_short(g->scopes[0]), "zone") == 0
                           ? "zones or all_zones_of"
                       : strcmp(scope_short(g->scopes[0]), "account") == 0
                           ? "accounts"
                           : "resources of that scope");
    }

    return MG_OK;
}
