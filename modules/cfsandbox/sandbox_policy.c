/*
 * Token payloads and permissions.  A create or update payload is checked
 * in full before anything in the store changes, with the errors
 * Cloudflare gives (HTTP 400, code 1001) naming the field and the fix.
 * A permission check follows Cloudflare's evaluation order: an explicit
 * deny wins, then an explicit allow, else the request is denied.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

/* A payload's parts, built aside and moved into the token on success. */
typedef struct {
    char *name;
    cJSON *policies;
    cJSON *condition;
    time_t not_before;
    time_t expires_on;
    int status;
} payload_t;

/* What one top-level resource key grants on, for the scope check. */
typedef struct {
    const char *key;
    sb_scope_e scope;
} res_scope_t;

static void
payload_free(payload_t *p)
{
    free(p->name);
    cJSON_Delete(p->policies);
    cJSON_Delete(p->condition);
}

static int
check_name(const cJSON *body, payload_t *p, sb_err_t *err)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "name");
    size_t n;

    if (name == NULL || cJSON_IsNull(name)) {
        return sb_fail(err, 400, 1001,
                       "name is required: give the token a name of 1 to "
                       "%d characters",
                       SB_NAME_MAX);
    }

    if (!cJSON_IsString(name)) {
        return sb_fail(err, 400, 1001, "name must be a string");
    }

    n = sb_utf8_length(name->valuestring);
    if (n == 0) {
        return sb_fail(err, 400, 1001,
                       "name must not be empty: give the token a name of "
                       "1 to %d characters",
                       SB_NAME_MAX);
    }

    if (n > SB_NAME_MAX) {
        return sb_fail(err, 400, 1001,
                       "name is %zu characters long; the most allowed is "
                       "%d",
                       n, SB_NAME_MAX);
    }

    p->name = strdup(name->valuestring);

    return p->name ? MG_OK : sb_fail(err, 500, 1000, "out of memory");
}

static int
check_time(const cJSON *body, const char *field, time_t *out, sb_err_t *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, field);

    *out = 0;

    if (v == NULL || cJSON_IsNull(v)) {
        return MG_OK;
    }

    if (!cJSON_IsString(v) || sb_time_parse(v->valuestring, out) != MG_OK) {
        return sb_fail(err, 400, 1001,
                       "%s must be an RFC 3339 UTC time such as "
                       "2030-01-01T00:00:00Z",
                       field);
    }

    return MG_OK;
}

/* Group k of policy i as answered: {id, name} and any meta given. */
static cJSON *
group_item(const cJSON *g, const char *owner, int i, int k, sb_err_t *err)
{
    const cJSON *id, *meta;
    const sb_group_t *pg;
    cJSON *item;

    id = cJSON_GetObjectItemCaseSensitive(g, "id");
    if (!cJSON_IsString(id)) {
        sb_fail(err, 400, 1001,
                "policies[%d].permission_groups[%d] needs an \"id\" string", i,
                k);
        return NULL;
    }

    pg = sb_group_find(id->valuestring);
    if (pg == NULL) {
        sb_fail(err, 400, 1001,
                "policies[%d].permission_groups[%d]: unknown permission "
                "group id \"%.64s\"; list the valid ones with GET "
                "/user/tokens/permission_groups",
                i, k, id->valuestring);
        return NULL;
    }

    if (owner[0] && pg->scope == SB_SCOPE_USER) {
        sb_fail(err, 400, 1001,
                "policies[%d]: permission group \"%s\" is for users (%s); "
                "account-owned tokens cannot hold it",
                i, pg->name, sb_scope_name(pg->scope));
        return NULL;
    }

    item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "id", pg->id);
    cJSON_AddStringToObject(item, "name", pg->name);

    meta = cJSON_GetObjectItemCaseSensitive(g, "meta");
    if (cJSON_IsObject(meta)) {
        cJSON_AddItemToObject(item, "meta", cJSON_Duplicate(meta, 1));
    }

    return item;
}

/* The permission groups of policy i, with their names filled in. */
static int
check_groups(const cJSON *groups, const char *owner, int i, cJSON **out,
             sb_err_t *err)
{
    const cJSON *g;
    cJSON *list, *item;
    int k = 0, n;

    if (!cJSON_IsArray(groups) || (n = cJSON_GetArraySize(groups)) == 0) {
        return sb_fail(err, 400, 1001,
                       "policies[%d].permission_groups must be a non-empty "
                       "list of {\"id\": \"...\"}",
                       i);
    }

    if (n > SB_GROUPS_MAX) {
        return sb_fail(err, 400, 1001,
                       "policies[%d] has %d permission groups; the most "
                       "allowed is %d",
                       i, n, SB_GROUPS_MAX);
    }

    list = cJSON_CreateArray();

    cJSON_ArrayForEach(g, groups)
    {
        item = group_item(g, owner, i, k++, err);
        if (item == NULL) {
            cJSON_Delete(list);
            return MG_ERROR;
        }

        cJSON_AddItemToArray(list, item);
    }

    *out = list;

    return MG_OK;
}

static int
has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * The key_* helpers each check one kind of resource key and return its
 * scope, or SB_SCOPE_NONE with err set.  rest is the key after its
 * prefix.
 */
static sb_scope_e
key_zone(const sb_ctx_t *sb, const char *owner, const char *rest, int i,
         sb_err_t *err)
{
    const sb_zone_t *z;

    if (strcmp(rest, "*") == 0) {
        return SB_SCOPE_ZONE;
    }

    z = sb_is_hex_id(rest) ? sb_zone_find(sb, rest) : NULL;
    if (z == NULL) {
        sb_fail(err, 400, 1001,
                "policies[%d].resources: unknown zone \"%.40s\"; list "
                "zones with GET /zones",
                i, rest);
        return SB_SCOPE_NONE;
    }

    if (owner[0] && strcmp(sb->accounts[z->account].id, owner) != 0) {
        sb_fail(err, 400, 1001,
                "policies[%d].resources: zone %s is not in account %s "
                "that owns this token",
                i, rest, owner);
        return SB_SCOPE_NONE;
    }

    return SB_SCOPE_ZONE;
}

static sb_scope_e
key_account(const sb_ctx_t *sb, const char *owner, const char *rest, int i,
            sb_err_t *err)
{
    const sb_account_t *a;

    if (strcmp(rest, "*") == 0) {
        return SB_SCOPE_ACCOUNT;
    }

    a = sb_is_hex_id(rest) ? sb_account_find(sb, rest) : NULL;
    if (a == NULL) {
        sb_fail(err, 400, 1001,
                "policies[%d].resources: unknown account \"%.40s\"; list "
                "accounts with GET /accounts",
                i, rest);
        return SB_SCOPE_NONE;
    }

    if (owner[0] && strcmp(a->id, owner) != 0) {
        sb_fail(err, 400, 1001,
                "policies[%d].resources: account %s is not the account %s "
                "that owns this token",
                i, rest, owner);
        return SB_SCOPE_NONE;
    }

    return SB_SCOPE_ACCOUNT;
}

/* Only the token's own user may be named, and only by user tokens. */
static sb_scope_e
key_user(const sb_ctx_t *sb, const char *owner, const char *rest, int i,
         sb_err_t *err)
{
    if (owner[0]) {
        sb_fail(err, 400, 1001,
                "policies[%d].resources: account-owned tokens cannot name "
                "a user",
                i);
        return SB_SCOPE_NONE;
    }

    if (strcmp(rest, sb->user_id) != 0) {
        sb_fail(err, 400, 1001,
                "policies[%d].resources: user \"%.40s\" is not allowed; a "
                "token may only name its own user, " SB_RES_USER "%s",
                i, rest, sb->user_id);
        return SB_SCOPE_NONE;
    }

    return SB_SCOPE_USER;
}

/* "*", or <ACCOUNT_ID>_<jurisdiction>_<bucket>. */
static sb_scope_e
key_r2(const sb_ctx_t *sb, const char *owner, const char *rest, int i,
       sb_err_t *err)
{
    const sb_account_t *a = NULL;
    char acct[SB_ID_LEN + 1];

    if (strcmp(rest, "*") == 0) {
        return SB_SCOPE_R2;
    }

    if (strlen(rest) > SB_ID_LEN + 3 && rest[SB_ID_LEN] == '_') {
        memcpy(acct, rest, SB_ID_LEN);
        acct[SB_ID_LEN] = '\0';
        a = sb_is_hex_id(acct) ? sb_account_find(sb, acct) : NULL;
    }

    if (a == NULL || (owner[0] && strcmp(a->id, owner) != 0)) {
        sb_fail(err, 400, 1001,
                "policies[%d].resources: R2 bucket \"%.80s\" must be "
                "<ACCOUNT_ID>_<jurisdiction>_<bucket> of an account that "
                "may be named here",
                i, rest);
        return SB_SCOPE_NONE;
    }

    return SB_SCOPE_R2;
}

/* The scope a resource key names; err is set when the key is invalid. */
static sb_scope_e
key_scope(const sb_ctx_t *sb, const char *owner, const char *key, int i,
          sb_err_t *err)
{
    /* The zone prefix extends the account one, so it is tried first. */
    if (has_prefix(key, SB_RES_ZONE)) {
        return key_zone(sb, owner, key + strlen(SB_RES_ZONE), i, err);
    }

    if (has_prefix(key, SB_RES_ACCOUNT)) {
        return key_account(sb, owner, key + strlen(SB_RES_ACCOUNT), i, err);
    }

    if (has_prefix(key, SB_RES_USER)) {
        return key_user(sb, owner, key + strlen(SB_RES_USER), i, err);
    }

    if (has_prefix(key, SB_RES_R2)) {
        return key_r2(sb, owner, key + strlen(SB_RES_R2), i, err);
    }

    sb_fail(err, 400, 1001,
            "policies[%d].resources: invalid resource key \"%.120s\"; "
            "use %s<ACCOUNT_ID>, %s<ZONE_ID>, their \"*\" forms, or "
            "%s<USER_ID>",
            i, key, SB_RES_ACCOUNT, SB_RES_ZONE, SB_RES_USER);

    return SB_SCOPE_NONE;
}

/* The nested form: all zones, or some zones, of one account. */
static int
check_nested(const sb_ctx_t *sb, const char *key, const cJSON *nested, int i,
             size_t *count, sb_err_t *err)
{
    const char *acct = key + strlen(SB_RES_ACCOUNT);
    const cJSON *v;
    const sb_zone_t *z;
    const char *zone;

    if (strcmp(acct, "*") == 0 || cJSON_GetArraySize(nested) == 0) {
        return sb_fail(err, 400, 1001,
                       "policies[%d].resources: \"%.80s\" must map to \"*\" "
                       "or to the zones of that one account, e.g. "
                       "{\"" SB_RES_ZONE "*\": \"*\"}",
                       i, key);
    }

    cJSON_ArrayForEach(v, nested)
    {
        if (++*count > SB_RESOURCES_MAX) {
            return sb_fail(err, 400, 1001,
                           "policies[%d] names more than %d resources", i,
                           SB_RESOURCES_MAX);
        }

        if (!cJSON_IsString(v) || strcmp(v->valuestring, "*") != 0 ||
            !has_prefix(v->string, SB_RES_ZONE)) {
            return sb_fail(err, 400, 1001,
                           "policies[%d].resources: under \"%.80s\" only "
                           "zone keys mapped to \"*\" are allowed, not "
                           "\"%.80s\"",
                           i, key, v->string);
        }

        zone = v->string + strlen(SB_RES_ZONE);
        if (strcmp(zone, "*") == 0) {
            continue;
        }

        z = sb_is_hex_id(zone) ? sb_zone_find(sb, zone) : NULL;
        if (z == NULL || strcmp(sb->accounts[z->account].id, acct) != 0) {
            return sb_fail(err, 400, 1001,
                           "policies[%d].resources: zone \"%.40s\" is not a "
                           "zone of account %s",
                           i, zone, acct);
        }
    }

    return MG_OK;
}

static int
check_resources(const sb_ctx_t *sb, const char *owner, const cJSON *res, int i,
                res_scope_t *scopes, size_t *nscopes, sb_err_t *err)
{
    const cJSON *v;
    size_t count = 0;
    sb_scope_e scope;

    if (!cJSON_IsObject(res) || cJSON_GetArraySize(res) == 0) {
        return sb_fail(err, 400, 1001,
                       "policies[%d].resources must be a non-empty object "
                       "such as {\"" SB_RES_ACCOUNT "<ACCOUNT_ID>\": \"*\"}",
                       i);
    }

    *nscopes = 0;

    cJSON_ArrayForEach(v, res)
    {
        if (++count > SB_RESOURCES_MAX) {
            return sb_fail(err, 400, 1001,
                           "policies[%d] names more than %d resources", i,
                           SB_RESOURCES_MAX);
        }

        scope = key_scope(sb, owner, v->string, i, err);
        if (scope == SB_SCOPE_NONE) {
            return MG_ERROR;
        }

        if (cJSON_IsObject(v) && scope == SB_SCOPE_ACCOUNT) {
            if (check_nested(sb, v->string, v, i, &count, err) != MG_OK) {
                return MG_ERROR;
            }
            scope = SB_SCOPE_ZONE;

        } else if (!cJSON_IsString(v) || strcmp(v->valuestring, "*") != 0) {
            return sb_fail(err, 400, 1001,
                           "policies[%d].resources: \"%.80s\" must map to "
                           "\"*\"",
                           i, v->string);
        }

        scopes[*nscopes].key = v->string;
        scopes[*nscopes].scope = scope;
        (*nscopes)++;
    }

    return MG_OK;
}

/* A group only acts on resources of the scope it is declared for. */
static int
check_scopes(const cJSON *groups, const res_scope_t *scopes, size_t n, int i,
             sb_err_t *err)
{
    const sb_group_t *pg;
    const cJSON *g;
    size_t k;

    cJSON_ArrayForEach(g, groups)
    {
        pg = sb_group_find(cJSON_GetObjectItem(g, "id")->valuestring);

        for (k = 0; k < n; k++) {
            if (scopes[k].scope == pg->scope) {
                continue;
            }

            return sb_fail(err, 400, 1001,
                           "policies[%d]: permission group \"%s\" applies to "
                           "%s resources and cannot be used on \"%.80s\" "
                           "(%s); put it in a policy of its own scope",
                           i, pg->name, sb_scope_name(pg->scope), scopes[k].key,
                           sb_scope_name(scopes[k].scope));
        }
    }

    return MG_OK;
}

static int
has_policy_id(const cJSON *policies, const char *id)
{
    const cJSON *p;

    cJSON_ArrayForEach(p, policies)
    {
        if (strcmp(cJSON_GetObjectItem(p, "id")->valuestring, id) == 0) {
            return 1;
        }
    }

    return 0;
}

/*
 * Keep a policy's id across an update when the client sends it back (once:
 * ids stay unique within the token).
 */
static int
policy_id(const cJSON *given, const cJSON *old, const cJSON *out, char *id,
          int i, sb_err_t *err)
{
    if (cJSON_IsString(given) && sb_is_hex_id(given->valuestring) &&
        has_policy_id(old, given->valuestring) &&
        !has_policy_id(out, given->valuestring)) {
        memcpy(id, given->valuestring, SB_ID_LEN + 1);
        return MG_OK;
    }

    if (sb_random_hex_id(id) != MG_OK) {
        return sb_fail(err, 500, 1000,
                       "policies[%d]: no randomness for a policy id", i);
    }

    return MG_OK;
}

static int
check_policy(const sb_ctx_t *sb, const char *owner, const cJSON *pol,
             const cJSON *old, int i, cJSON *out, sb_err_t *err)
{
    res_scope_t scopes[SB_RESOURCES_MAX];
    const cJSON *effect, *res;
    cJSON *groups = NULL, *p;
    char id[SB_ID_LEN + 1];
    size_t nscopes = 0;

    if (!cJSON_IsObject(pol)) {
        return sb_fail(err, 400, 1001, "policies[%d] must be an object", i);
    }

    effect = cJSON_GetObjectItemCaseSensitive(pol, "effect");
    if (!cJSON_IsString(effect) || (strcmp(effect->valuestring, "allow") &&
                                    strcmp(effect->valuestring, "deny"))) {
        return sb_fail(err, 400, 1001,
                       "policies[%d].effect must be \"allow\" or \"deny\"", i);
    }

    if (check_groups(cJSON_GetObjectItemCaseSensitive(pol, "permission_groups"),
                     owner, i, &groups, err) != MG_OK) {
        return MG_ERROR;
    }

    res = cJSON_GetObjectItemCaseSensitive(pol, "resources");
    if (check_resources(sb, owner, res, i, scopes, &nscopes, err) != MG_OK ||
        check_scopes(groups, scopes, nscopes, i, err) != MG_OK ||
        policy_id(cJSON_GetObjectItemCaseSensitive(pol, "id"), old, out, id, i,
                  err) != MG_OK) {
        cJSON_Delete(groups);
        return MG_ERROR;
    }

    p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "id", id);
    cJSON_AddStringToObject(p, "effect", effect->valuestring);
    cJSON_AddItemToObject(p, "permission_groups", groups);
    cJSON_AddItemToObject(p, "resources", cJSON_Duplicate(res, 1));
    cJSON_AddItemToArray(out, p);

    return MG_OK;
}

static int
check_policies(const sb_ctx_t *sb, const sb_token_t *t, const cJSON *body,
               payload_t *p, sb_err_t *err)
{
    const cJSON *pols = cJSON_GetObjectItemCaseSensitive(body, "policies");
    const cJSON *pol;
    int i = 0, n;

    if (pols == NULL || cJSON_IsNull(pols)) {
        return sb_fail(err, 400, 1001,
                       "policies is required: a list of at least one "
                       "policy {effect, permission_groups, resources}");
    }

    if (!cJSON_IsArray(pols)) {
        return sb_fail(err, 400, 1001, "policies must be a list");
    }

    n = cJSON_GetArraySize(pols);
    if (n == 0) {
        return sb_fail(err, 400, 1001,
                       "policies must not be empty: a token needs at least "
                       "one policy");
    }

    if (n > SB_POLICIES_MAX) {
        return sb_fail(err, 400, 1001,
                       "%d policies given; the most allowed is %d", n,
                       SB_POLICIES_MAX);
    }

    p->policies = cJSON_CreateArray();

    cJSON_ArrayForEach(pol, pols)
    {
        if (check_policy(sb, t->owner, pol, t->policies, i, p->policies, err) !=
            MG_OK) {
            return MG_ERROR;
        }
        i++;
    }

    return MG_OK;
}

static int
check_cidrs(const cJSON *list, const char *field, cJSON *out, sb_err_t *err)
{
    const cJSON *c;
    cJSON *copy;
    int k = 0;

    if (list == NULL) {
        return MG_OK;
    }

    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > SB_CIDRS_MAX) {
        return sb_fail(err, 400, 1001,
                       "condition.request_ip.%s must be a list of at most "
                       "%d CIDR blocks",
                       field, SB_CIDRS_MAX);
    }

    copy = cJSON_CreateArray();

    cJSON_ArrayForEach(c, list)
    {
        if (!cJSON_IsString(c) || !sb_cidr_valid(c->valuestring)) {
            cJSON_Delete(copy);
            return sb_fail(err, 400, 1001,
                           "condition.request_ip.%s[%d] is not a CIDR block "
                           "such as 192.0.2.0/24 (write a single address as "
                           "192.0.2.1/32)",
                           field, k);
        }
        cJSON_AddItemToArray(copy, cJSON_CreateString(c->valuestring));
        k++;
    }

    cJSON_AddItemToObject(out, field, copy);

    return MG_OK;
}

/* Every key of o must be a or b; hint says what to use instead. */
static int
only_keys(const cJSON *o, const char *a, const char *b, const char *where,
          const char *hint, sb_err_t *err)
{
    const cJSON *v;

    cJSON_ArrayForEach(v, o)
    {
        if (strcmp(v->string, a) != 0 && strcmp(v->string, b) != 0) {
            return sb_fail(err, 400, 1001, "%s.%.40s is not supported; %s",
                           where, v->string, hint);
        }
    }

    return MG_OK;
}

/* Both "request_ip" and the older "request.ip" are read; one is written. */
static int
check_condition(const cJSON *body, payload_t *p, sb_err_t *err)
{
    const cJSON *cond = cJSON_GetObjectItemCaseSensitive(body, "condition");
    const cJSON *ip, *old;
    cJSON *req;

    if (cond == NULL || cJSON_IsNull(cond)) {
        return MG_OK;
    }

    if (!cJSON_IsObject(cond)) {
        return sb_fail(err, 400, 1001, "condition must be an object");
    }

    if (only_keys(cond, "request_ip", "request.ip", "condition",
                  "use condition.request_ip", err) != MG_OK) {
        return MG_ERROR;
    }

    ip = cJSON_GetObjectItemCaseSensitive(cond, "request_ip");
    old = cJSON_GetObjectItemCaseSensitive(cond, "request.ip");
    if (ip && old) {
        return sb_fail(err, 400, 1001,
                       "condition has both request_ip and request.ip; send "
                       "only request_ip");
    }

    ip = ip ? ip : old;
    if (ip == NULL || cJSON_IsNull(ip)) {
        return MG_OK;
    }

    if (!cJSON_IsObject(ip)) {
        return sb_fail(err, 400, 1001,
                       "condition.request_ip must be an object with \"in\" "
                       "and/or \"not_in\" lists");
    }

    if (only_keys(ip, "in", "not_in", "condition.request_ip",
                  "use \"in\" and \"not_in\"", err) != MG_OK) {
        return MG_ERROR;
    }

    req = cJSON_CreateObject();
    if (check_cidrs(cJSON_GetObjectItemCaseSensitive(ip, "in"), "in", req,
                    err) != MG_OK ||
        check_cidrs(cJSON_GetObjectItemCaseSensitive(ip, "not_in"), "not_in",
                    req, err) != MG_OK) {
        cJSON_Delete(req);
        return MG_ERROR;
    }

    p->condition = cJSON_CreateObject();
    cJSON_AddItemToObject(p->condition, "request_ip", req);

    return MG_OK;
}

static int
check_status(const cJSON *body, payload_t *p, sb_err_t *err)
{
    static const char *const names[] = {"active", "disabled", "expired"};
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(body, "status");
    int i;

    if (s == NULL || cJSON_IsNull(s)) {
        return MG_OK;
    }

    for (i = 0; i < 3; i++) {
        if (cJSON_IsString(s) && strcmp(s->valuestring, names[i]) == 0) {
            p->status = i;
            return MG_OK;
        }
    }

    return sb_fail(err, 400, 1001,
                   "status must be \"active\", \"disabled\" or \"expired\"");
}

/*
 * Check a create or update payload and, when all of it is valid, make
 * it the token's (a full replacement).  with_status: the payload may
 * carry a status, as an update does.
 */
int
sb_payload_apply(sb_ctx_t *sb, sb_token_t *t, const cJSON *body,
                 int with_status, sb_err_t *err)
{
    payload_t p = {NULL, NULL, NULL, 0, 0, -1};

    if (!cJSON_IsObject(body)) {
        return sb_fail(err, 400, 1001,
                       "the request body must be a JSON object with name "
                       "and policies");
    }

    if (check_name(body, &p, err) != MG_OK ||
        check_policies(sb, t, body, &p, err) != MG_OK ||
        check_time(body, "not_before", &p.not_before, err) != MG_OK ||
        check_time(body, "expires_on", &p.expires_on, err) != MG_OK ||
        check_condition(body, &p, err) != MG_OK ||
        (with_status && check_status(body, &p, err) != MG_OK)) {
        payload_free(&p);
        return MG_ERROR;
    }

    if (p.not_before && p.expires_on && p.expires_on <= p.not_before) {
        payload_free(&p);
        return sb_fail(err, 400, 1001,
                       "expires_on must be later than not_before");
    }

    free(t->name);
    cJSON_Delete(t->policies);
    cJSON_Delete(t->condition);

    t->name = p.name;
    t->policies = p.policies;
    t->condition = p.condition;
    t->not_before = p.not_before;
    t->expires_on = p.expires_on;

    if (p.status >= 0) {
        t->disabled = p.status;
    }

    return MG_OK;
}

static int
has_group(const cJSON *policy, const char *const *groups)
{
    const cJSON *g;
    size_t i;

    cJSON_ArrayForEach(g, cJSON_GetObjectItem(policy, "permission_groups"))
    {
        for (i = 0; groups[i]; i++) {
            if (strcmp(cJSON_GetObjectItem(g, "id")->valuestring, groups[i]) ==
                0) {
                return 1;
            }
        }
    }

    return 0;
}

static int
key_is(const char *key, const char *prefix, const char *id)
{
    size_t n = strlen(prefix);

    return strncmp(key, prefix, n) == 0 && strcmp(key + n, id) == 0;
}

/* Whether one resource entry (key, value) reaches the target. */
static int
entry_covers(const sb_ctx_t *sb, const cJSON *v, const sb_target_t *tg)
{
    const cJSON *z;

    switch (tg->scope) {
    case SB_SCOPE_USER:
        return key_is(v->string, SB_RES_USER, sb->user_id);

    case SB_SCOPE_ACCOUNT:
        return cJSON_IsString(v) &&
               (key_is(v->string, SB_RES_ACCOUNT, "*") ||
                key_is(v->string, SB_RES_ACCOUNT, tg->account_id));

    case SB_SCOPE_ZONE:
        if (cJSON_IsString(v)) {
            return key_is(v->string, SB_RES_ZONE, "*") ||
                   key_is(v->string, SB_RES_ZONE, tg->zone_id);
        }

        if (!key_is(v->string, SB_RES_ACCOUNT, tg->account_id)) {
            return 0;
        }

        cJSON_ArrayForEach(z, v)
        {
            if (key_is(z->string, SB_RES_ZONE, "*") ||
                key_is(z->string, SB_RES_ZONE, tg->zone_id)) {
                return 1;
            }
        }
        return 0;

    default:
        return 0;
    }
}

static int
covers(const sb_ctx_t *sb, const cJSON *policy, const sb_target_t *tg)
{
    const cJSON *v;

    cJSON_ArrayForEach(v, cJSON_GetObjectItem(policy, "resources"))
    {
        if (entry_covers(sb, v, tg)) {
            return 1;
        }
    }

    return 0;
}

/*
 * Whether t holds one of groups (NULL-terminated) on the target.  An
 * account-owned token reaches nothing outside its account.
 */
int
sb_allowed(const sb_ctx_t *sb, const sb_token_t *t, const char *const *groups,
           const sb_target_t *target)
{
    const cJSON *p, *effect;
    int allow = 0;

    if (t->owner[0]) {
        if (target->scope == SB_SCOPE_USER || target->account_id == NULL ||
            strcmp(target->account_id, t->owner) != 0) {
            return 0;
        }
    }

    cJSON_ArrayForEach(p, t->policies)
    {
        if (!has_group(p, groups) || !covers(sb, p, target)) {
            continue;
        }

        effect = cJSON_GetObjectItem(p, "effect");
        if (strcmp(effect->valuestring, "deny") == 0) {
            return 0;
        }

        allow = 1;
    }

    return allow;
}

/* Whether t holds any group of the given scope on the target. */
int
sb_allowed_any(const sb_ctx_t *sb, const sb_token_t *t, sb_scope_e scope,
               const sb_target_t *target)
{
    const char *one[2] = {NULL, NULL};
    size_t i;

    for (i = 0; i < sb_ngroups; i++) {
        if (sb_groups[i].scope != scope) {
            continue;
        }

        one[0] = sb_groups[i].id;
        if (sb_allowed(sb, t, one, target)) {
            return 1;
        }
    }

    return 0;
}

/* condition.request_ip: the peer must be in "in" and not in "not_in". */
int
sb_condition_allows(const sb_token_t *t, const char *peer)
{
    const cJSON *ip, *in, *not_in, *c;
    int found = 0;

    ip = cJSON_GetObjectItem(t->condition, "request_ip");
    if (ip == NULL) {
        return 1;
    }

    not_in = cJSON_GetObjectItem(ip, "not_in");
    cJSON_ArrayForEach(c, not_in)
    {
        if (sb_cidr_match(c->valuestring, peer)) {
            return 0;
        }
    }

    in = cJSON_GetObjectItem(ip, "in");
    if (cJSON_GetArraySize(in) == 0) {
        return 1;
    }

    cJSON_ArrayForEach(c, in)
    {
        found |= sb_cidr_match(c->valuestring, peer);
    }

    return found;
}
