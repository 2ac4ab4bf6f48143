/*
 * The token endpoints, for user tokens (owner "") and account tokens
 * (owner = the account id) alike: list, details, create, update, delete,
 * verify, roll and permission groups.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

static void
not_found(sb_req_t *q)
{
    sb_reply_fail(q, 404, 7003,
                  "Could not route to %s%s, perhaps your object identifier "
                  "is invalid?",
                  SB_API_PREFIX, q->path);
}

/*
 * The caller authenticated, allowed to read (or write) the owner's
 * tokens, and the token found; NULL when the request is already
 * answered with the reason.
 */
static sb_token_t *
find_token(sb_req_t *q, const char *owner, const char *id, int write)
{
    sb_token_t *t;

    if (sb_authenticate(q) != MG_OK ||
        sb_require_tokens(q, owner, write) != MG_OK) {
        return NULL;
    }

    t = sb_store_find(q->sb, owner, id);
    if (t == NULL) {
        not_found(q);
    }

    return t;
}

static void
list_tokens(sb_req_t *q, const char *owner)
{
    char flag[8] = "";
    sb_token_t **sel;
    size_t i, n = 0, from, count;
    long page, per_page;
    int desc, expired;
    time_t now = time(NULL);
    cJSON *list;

    if (sb_authenticate(q) != MG_OK ||
        sb_require_tokens(q, owner, 0) != MG_OK ||
        sb_paging(q, &page, &per_page, &desc) != MG_OK) {
        return;
    }

    /* Expired tokens are listed only when asked for, as Cloudflare does. */
    sb_query_get(mg_http_query(q->r), "include_expired", flag, sizeof(flag));
    expired = strcmp(flag, "true") == 0;

    sel = malloc((q->sb->ntokens + 1) * sizeof(sb_token_t *));
    if (sel == NULL) {
        sb_reply_fail(q, 500, 1000, "out of memory");
        return;
    }

    for (i = 0; i < q->sb->ntokens; i++) {
        sb_token_t *t = q->sb->tokens[desc ? q->sb->ntokens - 1 - i : i];

        if (strcmp(t->owner, owner) == 0 &&
            (expired || strcmp(sb_token_status(t, now), "expired") != 0)) {
            sel[n++] = t;
        }
    }

    list = cJSON_CreateArray();
    from = (size_t)(page - 1) * (size_t)per_page;
    count = 0;

    for (i = from; i < n && count < (size_t)per_page; i++, count++) {
        cJSON_AddItemToArray(list, sb_token_json(sel[i], now, 0));
    }

    free(sel);

    sb_reply_result(q, list, sb_result_info(page, per_page, count, n), NULL);
}

static void
get_token(sb_req_t *q, const char *owner, const char *id)
{
    sb_token_t *t;

    t = find_token(q, owner, id, 0);
    if (t == NULL) {
        return;
    }

    sb_reply_result(q, sb_token_json(t, time(NULL), 0), NULL, NULL);
}

static void
create_token(sb_req_t *q, const char *owner)
{
    sb_token_t *t;
    cJSON *body;
    sb_err_t err;

    if (sb_authenticate(q) != MG_OK ||
        sb_require_tokens(q, owner, 1) != MG_OK ||
        sb_read_json(q, 1, &body) != MG_OK) {
        return;
    }

    t = sb_token_new(owner);
    if (t == NULL) {
        cJSON_Delete(body);
        sb_reply_fail(q, 500, 1000, "out of memory");
        return;
    }

    if (sb_payload_apply(q->sb, t, body, 0, &err) != MG_OK ||
        sb_store_quota(q->sb, owner, &err) != MG_OK) {
        goto failed;
    }

    if (sb_token_roll(q->sb, t) != MG_OK) {
        sb_fail(&err, 500, 1000, "no randomness for a secret");
        goto failed;
    }

    if (sb_store_add(q->sb, t) != MG_OK) {
        sb_fail(&err, 500, 1000, "out of memory");
        goto failed;
    }

    cJSON_Delete(body);
    t->issued_on = time(NULL);
    t->modified_on = t->issued_on;

    mg_log(MG_LOG_INFO, "cfsandbox: token %s created%s%s", t->id,
           owner[0] ? " for account " : "", owner);

    sb_reply_result(q, sb_token_json(t, t->issued_on, 1), NULL, NULL);
    return;

failed:
    cJSON_Delete(body);
    sb_token_free(t);
    sb_reply_error(q, &err);
}

static void
update_token(sb_req_t *q, const char *owner, const char *id)
{
    sb_token_t *t;
    cJSON *body;
    sb_err_t err;

    t = find_token(q, owner, id, 1);
    if (t == NULL) {
        return;
    }

    if (sb_read_json(q, 1, &body) != MG_OK) {
        return;
    }

    if (sb_payload_apply(q->sb, t, body, 1, &err) != MG_OK) {
        cJSON_Delete(body);
        sb_reply_error(q, &err);
        return;
    }

    cJSON_Delete(body);
    t->modified_on = time(NULL);

    mg_log(MG_LOG_INFO, "cfsandbox: token %s updated", t->id);

    sb_reply_result(q, sb_token_json(t, t->modified_on, 0), NULL, NULL);
}

static void
delete_token(sb_req_t *q, const char *owner, const char *id)
{
    sb_token_t *t;
    cJSON *res;

    t = find_token(q, owner, id, 1);
    if (t == NULL) {
        return;
    }

    res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "id", t->id);

    mg_log(MG_LOG_INFO, "cfsandbox: token %s deleted", t->id);

    /* A token may delete itself; it is not looked at afterwards. */
    if (q->caller == t) {
        q->caller = NULL;
    }
    sb_store_remove(q->sb, t);

    sb_reply_result(q, res, NULL, NULL);
}

static void
roll_token(sb_req_t *q, const char *owner, const char *id)
{
    sb_token_t *t;
    cJSON *body;

    t = find_token(q, owner, id, 1);
    if (t == NULL) {
        return;
    }

    /* SDKs send {} or nothing at all; anything else that parses is fine. */
    if (sb_read_json(q, 0, &body) != MG_OK) {
        return;
    }
    cJSON_Delete(body);

    if (sb_token_roll(q->sb, t) != MG_OK) {
        sb_reply_fail(q, 500, 1000, "no randomness for a secret");
        return;
    }

    t->modified_on = time(NULL);

    mg_log(MG_LOG_INFO, "cfsandbox: token %s rolled", t->id);

    sb_reply_result(q, cJSON_CreateString(t->secret), NULL, NULL);
}

/*
 * A user token verifies on /user/tokens/verify, an account token on its
 * account's verify; the other way round is refused with 403.
 */
static void
verify_token(sb_req_t *q, const char *owner)
{
    sb_token_t *t;
    cJSON *res, *msgs, *m;
    char buf[32];

    if (sb_authenticate(q) != MG_OK) {
        return;
    }

    t = q->caller;
    if (strcmp(t->owner, owner) != 0) {
        sb_reply_fail(q, 403, 1000, "Invalid API Token");
        return;
    }

    res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "id", t->id);
    cJSON_AddStringToObject(res, "status", sb_token_status(t, time(NULL)));

    if (t->not_before) {
        sb_time_format(t->not_before, buf, sizeof(buf));
        cJSON_AddStringToObject(res, "not_before", buf);
    }

    if (t->expires_on) {
        sb_time_format(t->expires_on, buf, sizeof(buf));
        cJSON_AddStringToObject(res, "expires_on", buf);
    }

    m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "code", 10000);
    cJSON_AddStringToObject(m, "message", "This API Token is valid and active");
    cJSON_AddNullToObject(m, "type");
    msgs = cJSON_CreateArray();
    cJSON_AddItemToArray(msgs, m);

    sb_reply_result(q, res, NULL, msgs);
}

/* One page, filtered by name and scope; no user groups for accounts. */
static void
permission_groups(sb_req_t *q, const char *owner)
{
    char name[256], scope[256];
    const sb_group_t *g;
    cJSON *list, *item, *scopes;
    int has_name, has_scope;
    size_t i;

    if (sb_authenticate(q) != MG_OK ||
        sb_require_tokens(q, owner, 0) != MG_OK) {
        return;
    }

    has_name = sb_query_get(mg_http_query(q->r), "name", name, sizeof(name));
    has_scope =
        sb_query_get(mg_http_query(q->r), "scope", scope, sizeof(scope));
    if (has_name < 0 || has_scope < 0) {
        sb_reply_fail(q, 400, 1001,
                      "name and scope must be URL-encoded and at most %zu "
                      "bytes long",
                      sizeof(name) - 1);
        return;
    }

    list = cJSON_CreateArray();

    for (i = 0; i < sb_ngroups; i++) {
        g = &sb_groups[i];

        if ((owner[0] && g->scope == SB_SCOPE_USER) ||
            (has_name && strcmp(name, g->name) != 0) ||
            (has_scope && strcmp(scope, sb_scope_name(g->scope)) != 0)) {
            continue;
        }

        item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "id", g->id);
        cJSON_AddStringToObject(item, "name", g->name);
        scopes = cJSON_CreateArray();
        cJSON_AddItemToArray(scopes,
                             cJSON_CreateString(sb_scope_name(g->scope)));
        cJSON_AddItemToObject(item, "scopes", scopes);
        cJSON_AddItemToArray(list, item);
    }

    sb_reply_result(q, list, NULL, NULL);
}

static void
method_not_allowed(sb_req_t *q)
{
    sb_reply_fail(q, 405, 7001, "Method %s not allowed for %s%s", q->method,
                  SB_API_PREFIX, q->path);
}

static int
is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* Routes below ".../tokens"; q->seg[first] is the first segment after. */
void
sb_tokens_route(sb_req_t *q, const char *owner, size_t first)
{
    size_t rest = q->nseg - first;
    const char *m = q->method, *id = rest ? q->seg[first] : NULL;

    if (rest == 0) {
        if (is(m, "GET")) {
            list_tokens(q, owner);
        } else if (is(m, "POST")) {
            create_token(q, owner);
        } else {
            method_not_allowed(q);
        }
        return;
    }

    if (rest == 1 && (is(id, "verify") || is(id, "permission_groups"))) {
        if (!is(m, "GET")) {
            method_not_allowed(q);
        } else if (is(id, "verify")) {
            verify_token(q, owner);
        } else {
            permission_groups(q, owner);
        }
        return;
    }

    if (rest == 1) {
        if (is(m, "GET")) {
            get_token(q, owner, id);
        } else if (is(m, "PUT")) {
            update_token(q, owner, id);
        } else if (is(m, "DELETE")) {
            delete_token(q, owner, id);
        } else {
            method_not_allowed(q);
        }
        return;
    }

    if (rest == 2 && is(q->seg[first + 1], "value")) {
        if (is(m, "PUT")) {
            roll_token(q, owner, id);
        } else {
            method_not_allowed(q);
        }
        return;
    }

    sb_reply_fail(q, 404, 7003, "No route for the URI");
}
