/*
 * The API below /client/v4: routing, paging, and the accounts and zones
 * the sandbox was seeded with.  A caller sees an account when it holds
 * any permission on it or on one of its zones, and a zone when it holds
 * a zone permission on it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

static int
is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static int
parse_count(const char *s, long max, long *out)
{
    char *end;
    long v;

    if (s[0] < '0' || s[0] > '9') {
        return MG_ERROR;
    }

    v = strtol(s, &end, 10);
    if (*end != '\0' || v > max) {
        return MG_ERROR;
    }

    *out = v;

    return MG_OK;
}

/* page (1 or more), per_page (5 to 50, default 20) and direction. */
int
sb_paging(sb_req_t *q, long *page, long *per_page, int *desc)
{
    const char *query = mg_http_query(q->r);
    char buf[32];
    int rc;

    *page = 1;
    *per_page = 20;
    *desc = 0;

    rc = sb_query_get(query, "page", buf, sizeof(buf));
    if (rc < 0 || (rc && parse_count(buf, 1000000, page) != MG_OK) ||
        *page < 1) {
        sb_reply_fail(q, 400, 1001, "page must be a whole number, 1 or more");
        return MG_ERROR;
    }

    rc = sb_query_get(query, "per_page", buf, sizeof(buf));
    if (rc < 0 || (rc && parse_count(buf, 1000, per_page) != MG_OK) ||
        *per_page < 5 || *per_page > 50) {
        sb_reply_fail(q, 400, 1001,
                      "per_page must be a whole number from 5 to 50");
        return MG_ERROR;
    }

    rc = sb_query_get(query, "direction", buf, sizeof(buf));
    if (rc < 0 || (rc && !is(buf, "asc") && !is(buf, "desc"))) {
        sb_reply_fail(q, 400, 1001, "direction must be \"asc\" or \"desc\"");
        return MG_ERROR;
    }

    *desc = rc && is(buf, "desc");

    return MG_OK;
}

cJSON *
sb_result_info(long page, long per_page, size_t count, size_t total)
{
    cJSON *info = cJSON_CreateObject();

    cJSON_AddNumberToObject(info, "page", (double)page);
    cJSON_AddNumberToObject(info, "per_page", (double)per_page);
    cJSON_AddNumberToObject(info, "count", (double)count);
    cJSON_AddNumberToObject(info, "total_count", (double)total);
    cJSON_AddNumberToObject(
        info, "total_pages",
        (double)((total + (size_t)per_page - 1) / (size_t)per_page));

    return info;
}

static int
zone_visible(const sb_req_t *q, const sb_zone_t *z)
{
    sb_target_t tg = {SB_SCOPE_ZONE, NULL, z->id};

    tg.account_id = q->sb->accounts[z->account].id;

    return sb_allowed_any(q->sb, q->caller, SB_SCOPE_ZONE, &tg);
}

static int
account_visible(const sb_req_t *q, size_t a)
{
    sb_target_t tg = {SB_SCOPE_ACCOUNT, q->sb->accounts[a].id, NULL};
    size_t i;

    if (sb_allowed_any(q->sb, q->caller, SB_SCOPE_ACCOUNT, &tg)) {
        return 1;
    }

    for (i = 0; i < q->sb->nzones; i++) {
        if (q->sb->zones[i].account == a && zone_visible(q, &q->sb->zones[i])) {
            return 1;
        }
    }

    return 0;
}

/* Listing accounts or zones needs a grant on at least one of them. */
static int
require_reach(sb_req_t *q)
{
    size_t i;

    for (i = 0; i < q->sb->naccounts; i++) {
        if (account_visible(q, i)) {
            return MG_OK;
        }
    }

    sb_reply_fail(q, 403, 10000, "Authentication error");

    return MG_ERROR;
}

static int
name_filter(sb_req_t *q, const char *key, char *buf, size_t size)
{
    int rc = sb_query_get(mg_http_query(q->r), key, buf, size);

    if (rc < 0) {
        sb_reply_fail(q, 400, 1001,
                      "%s must be URL-encoded and at most %zu bytes long", key,
                      size - 1);
    }

    return rc;
}

static cJSON *
account_json(const sb_ctx_t *sb, const sb_account_t *a)
{
    cJSON *o = cJSON_CreateObject(), *settings;
    char buf[32];

    cJSON_AddStringToObject(o, "id", a->id);
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddStringToObject(o, "type", "standard");

    settings = cJSON_AddObjectToObject(o, "settings");
    cJSON_AddBoolToObject(settings, "enforce_twofactor", 0);
    cJSON_AddNullToObject(settings, "api_access_enabled");
    cJSON_AddNullToObject(settings, "abuse_contact_email");

    sb_time_format(sb->started, buf, sizeof(buf));
    cJSON_AddStringToObject(o, "created_on", buf);

    return o;
}

static void
list_accounts(sb_req_t *q)
{
    char name[256];
    size_t i, k, n = 0, count = 0;
    long page, per_page;
    int desc, has_name;
    cJSON *list;

    if (sb_authenticate(q) != MG_OK) {
        return;
    }

    if (q->caller->owner[0]) {
        sb_reply_fail(q, 400, 1001,
                      "List accounts endpoint does not support account "
                      "owned tokens.");
        return;
    }

    if (require_reach(q) != MG_OK ||
        sb_paging(q, &page, &per_page, &desc) != MG_OK ||
        (has_name = name_filter(q, "name", name, sizeof(name))) < 0) {
        return;
    }

    list = cJSON_CreateArray();

    for (k = 0; k < q->sb->naccounts; k++) {
        i = desc ? q->sb->naccounts - 1 - k : k;

        if (!account_visible(q, i) ||
            (has_name && !sb_name_match(name, q->sb->accounts[i].name))) {
            continue;
        }

        if (n++ >= (size_t)(page - 1) * (size_t)per_page &&
            count < (size_t)per_page) {
            cJSON_AddItemToArray(list,
                                 account_json(q->sb, &q->sb->accounts[i]));
            count++;
        }
    }

    sb_reply_result(q, list, sb_result_info(page, per_page, count, n), NULL);
}

static void
get_account(sb_req_t *q, const char *id)
{
    const sb_account_t *a;

    if (sb_authenticate(q) != MG_OK) {
        return;
    }

    a = sb_account_find(q->sb, id);
    if (a == NULL) {
        sb_reply_fail(q, 404, 7003,
                      "Could not route to %s/accounts/%.40s, perhaps your "
                      "object identifier is invalid?",
                      SB_API_PREFIX, id);
        return;
    }

    if (!account_visible(q, (size_t)(a - q->sb->accounts))) {
        sb_reply_fail(q, 403, 10000, "Authentication error");
        return;
    }

    sb_reply_result(q, account_json(q->sb, a), NULL, NULL);
}

static cJSON *
zone_json(const sb_ctx_t *sb, const sb_zone_t *z)
{
    const sb_account_t *a = &sb->accounts[z->account];
    cJSON *o = cJSON_CreateObject(), *ns, *owner, *acct;
    char buf[32];

    sb_time_format(sb->started, buf, sizeof(buf));

    cJSON_AddStringToObject(o, "id", z->id);
    cJSON_AddStringToObject(o, "name", z->name);
    cJSON_AddStringToObject(o, "status", "active");
    cJSON_AddBoolToObject(o, "paused", 0);
    cJSON_AddStringToObject(o, "type", "full");
    cJSON_AddNumberToObject(o, "development_mode", 0);

    ns = cJSON_AddArrayToObject(o, "name_servers");
    cJSON_AddItemToArray(ns, cJSON_CreateString("ada.ns.cloudflare.com"));
    cJSON_AddItemToArray(ns, cJSON_CreateString("bob.ns.cloudflare.com"));
    cJSON_AddNullToObject(o, "original_name_servers");
    cJSON_AddNullToObject(o, "original_registrar");
    cJSON_AddNullToObject(o, "original_dnshost");

    cJSON_AddStringToObject(o, "created_on", buf);
    cJSON_AddStringToObject(o, "modified_on", buf);
    cJSON_AddStringToObject(o, "activated_on", buf);

    owner = cJSON_AddObjectToObject(o, "owner");
    cJSON_AddNullToObject(owner, "id");
    cJSON_AddStringToObject(owner, "type", "user");
    cJSON_AddNullToObject(owner, "email");

    acct = cJSON_AddObjectToObject(o, "account");
    cJSON_AddStringToObject(acct, "id", a->id);
    cJSON_AddStringToObject(acct, "name", a->name);

    return o;
}

/* The filters of GET /zones that the sandbox knows. */
typedef struct {
    char name[256];
    char account_id[64];
    char account_name[256];
    char status[32];
    int has_name, has_account_id, has_account_name, has_status;
} zone_filter_t;

static int
zone_filters(sb_req_t *q, zone_filter_t *f)
{
    f->has_name = name_filter(q, "name", f->name, sizeof(f->name));
    if (f->has_name < 0) {
        return MG_ERROR;
    }

    f->has_account_id =
        name_filter(q, "account.id", f->account_id, sizeof(f->account_id));
    if (f->has_account_id < 0) {
        return MG_ERROR;
    }

    f->has_account_name = name_filter(q, "account.name", f->account_name,
                                      sizeof(f->account_name));
    if (f->has_account_name < 0) {
        return MG_ERROR;
    }

    f->has_status = name_filter(q, "status", f->status, sizeof(f->status));

    return f->has_status < 0 ? MG_ERROR : MG_OK;
}

static int
zone_matches(const sb_ctx_t *sb, const zone_filter_t *f, const sb_zone_t *z)
{
    const sb_account_t *a = &sb->accounts[z->account];

    return (!f->has_name || sb_name_match(f->name, z->name)) &&
           (!f->has_account_id || is(f->account_id, a->id)) &&
           (!f->has_account_name || sb_name_match(f->account_name, a->name)) &&
           (!f->has_status || is(f->status, "active"));
}

static void
list_zones(sb_req_t *q)
{
    zone_filter_t f;
    const sb_zone_t *z;
    size_t i, k, n = 0, count = 0;
    long page, per_page;
    int desc;
    cJSON *list;

    if (sb_authenticate(q) != MG_OK || require_reach(q) != MG_OK ||
        sb_paging(q, &page, &per_page, &desc) != MG_OK ||
        zone_filters(q, &f) != MG_OK) {
        return;
    }

    list = cJSON_CreateArray();

    for (k = 0; k < q->sb->nzones; k++) {
        i = desc ? q->sb->nzones - 1 - k : k;
        z = &q->sb->zones[i];

        if (!zone_visible(q, z) || !zone_matches(q->sb, &f, z)) {
            continue;
        }

        if (n++ >= (size_t)(page - 1) * (size_t)per_page &&
            count < (size_t)per_page) {
            cJSON_AddItemToArray(list, zone_json(q->sb, z));
            count++;
        }
    }

    sb_reply_result(q, list, sb_result_info(page, per_page, count, n), NULL);
}

static void
get_zone(sb_req_t *q, const char *id)
{
    const sb_zone_t *z;

    if (sb_authenticate(q) != MG_OK) {
        return;
    }

    z = sb_zone_find(q->sb, id);
    if (z == NULL) {
        sb_reply_fail(q, 404, 7003,
                      "Could not route to %s/zones/%.40s, perhaps your "
                      "object identifier is invalid?",
                      SB_API_PREFIX, id);
        return;
    }

    if (!zone_visible(q, z)) {
        sb_reply_fail(q, 403, 10000, "Authentication error");
        return;
    }

    sb_reply_result(q, zone_json(q->sb, z), NULL, NULL);
}

static void
route_accounts(sb_req_t *q)
{
    if (q->nseg <= 2 && !is(q->method, "GET")) {
        sb_reply_fail(q, 405, 7001, "Method %s not allowed for %s%s", q->method,
                      SB_API_PREFIX, q->path);
        return;
    }

    if (q->nseg == 1) {
        list_accounts(q);
        return;
    }

    if (q->nseg == 2) {
        get_account(q, q->seg[1]);
        return;
    }

    if (!is(q->seg[2], "tokens")) {
        sb_reply_fail(q, 404, 7003, "No route for the URI");
        return;
    }

    if (sb_account_find(q->sb, q->seg[1]) == NULL) {
        sb_reply_fail(q, 404, 7003,
                      "Could not route to %s/accounts/%.40s, perhaps your "
                      "object identifier is invalid?",
                      SB_API_PREFIX, q->seg[1]);
        return;
    }

    sb_tokens_route(q, q->seg[1], 3);
}

static void
route_zones(sb_req_t *q)
{
    if (q->nseg > 2) {
        sb_reply_fail(q, 404, 7003, "No route for the URI");
        return;
    }

    if (!is(q->method, "GET")) {
        sb_reply_fail(q, 405, 7001, "Method %s not allowed for %s%s", q->method,
                      SB_API_PREFIX, q->path);
        return;
    }

    if (q->nseg == 1) {
        list_zones(q);
    } else {
        get_zone(q, q->seg[1]);
    }
}

/* Split the path below /client/v4 into at most 8 segments. */
static int
split_path(sb_req_t *q, const char *path)
{
    size_t n = strlen(path);
    char *p, *save = NULL;

    if (n >= sizeof(q->path)) {
        return MG_ERROR;
    }

    memcpy(q->path, path, n + 1);
    if (n > 1 && q->path[n - 1] == '/') {
        q->path[n - 1] = '\0';
    }

    memcpy(q->segbuf, q->path, strlen(q->path) + 1);

    for (p = strtok_r(q->segbuf, "/", &save); p != NULL;
         p = strtok_r(NULL, "/", &save)) {
        if (q->nseg == sizeof(q->seg) / sizeof(q->seg[0])) {
            return MG_ERROR;
        }
        q->seg[q->nseg++] = p;
    }

    return MG_OK;
}

/* One request below /client/v4; it is answered before this returns. */
void
sb_api_handle(sb_ctx_t *sb, mg_http_request_t *r)
{
    sb_req_t q;

    memset(&q, 0, sizeof(q));
    q.sb = sb;
    q.r = r;
    q.method = mg_http_method_name(r);

    if (split_path(&q, mg_http_path(r) + strlen(SB_API_PREFIX)) != MG_OK ||
        q.nseg == 0) {
        sb_reply_fail(&q, 404, 7003, "No route for the URI");
        return;
    }

    if (q.nseg >= 2 && is(q.seg[0], "user") && is(q.seg[1], "tokens")) {
        sb_tokens_route(&q, "", 2);
    } else if (is(q.seg[0], "accounts")) {
        route_accounts(&q);
    } else if (is(q.seg[0], "zones")) {
        route_zones(&q);
    } else {
        sb_reply_fail(&q, 404, 7003, "No route for the URI");
    }
}
