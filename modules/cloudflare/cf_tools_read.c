/*
 * The read-only token tools: token_permission_groups_list, tokens_list,
 * tokens_get and tokens_verify.
 *
 * A call runs as an op: its arguments are checked before anything is
 * sent; then it waits, if it must, for the names cache; then it fetches
 * from Cloudflare.  Each step either finishes the call at once (the
 * handler returns MG_OK) or continues from a callback, which resumes
 * the call when the op is done.  Callbacks never run inside the step
 * that started them, so a call is resumed only after its handler
 * returned MG_AGAIN.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_module.h"

/* ------------------------------------------------------------------ */
/* token_permission_groups_list                                        */

static const cf_arg_spec_t groups_args[] = {
    {"name", CF_ARG_STRING, 0, 1, 120},
    {"scope", CF_ARG_STRING, 0, 1, 200},
    {"account_id", CF_ARG_ID, 0, 0, 0},
    {NULL, CF_ARG_STRING, 0, 0, 0},
};

/* A full scope, or its last dotted part: "zone", "account", "user". */
static int
scope_matches(const char *filter, const cJSON *scopes)
{
    const cJSON *s;
    size_t n, f;

    if (filter == NULL) {
        return 1;
    }

    f = strlen(filter);

    cJSON_ArrayForEach(s, scopes)
    {
        if (!cJSON_IsString(s)) {
            continue;
        }
        n = strlen(s->valuestring);
        if (strcmp(s->valuestring, filter) == 0 ||
            (n > f && s->valuestring[n - f - 1] == '.' &&
             strcmp(s->valuestring + n - f, filter) == 0)) {
            return 1;
        }
    }

    return 0;
}

static int
groups_answer(cf_op_t *op, const cJSON *groups)
{
    const char *name = cf_arg_string(op->args, "name");
    const char *scope = cf_arg_string(op->args, "scope");
    const cJSON *g, *gname;
    cJSON *res, *list, *o;

    res = cJSON_CreateObject();
    list = cJSON_AddArrayToObject(res, "permission_groups");

    cJSON_ArrayForEach(g, groups)
    {
        gname = cJSON_GetObjectItemCaseSensitive(g, "name");
        if (!cJSON_IsString(gname) ||
            !cf_name_matches(name, gname->valuestring) ||
            !scope_matches(scope,
                           cJSON_GetObjectItemCaseSensitive(g, "scopes"))) {
            continue;
        }

        o = cf_group_json(g);
        if (o) {
            cJSON_AddItemToArray(list, o);
        }
    }

    return cf_op_result(op, res);
}

static int
groups_fetched(cf_op_t *op)
{
    if (!op->fetch.ok) {
        return cf_op_fail(op, &op->fetch.err);
    }

    if (!cJSON_IsArray(op->fetch.result)) {
        return cf_op_fail_answer(op, "list");
    }

    return groups_answer(op, op->fetch.result);
}

static int
groups_from_cache(cf_op_t *op)
{
    return groups_answer(op, cf_cache_items(&op->cf->cache, CF_CACHE_GROUPS));
}

/*
 * The user's groups come from the names cache; an account's are asked
 * for, since each account may offer its own.
 */
static int
groups_list(mg_call_t *call, void *ctx)
{
    cf_op_t *op = cf_op_start(call, ctx, groups_args);

    if (op == NULL) {
        return MG_OK;
    }

    if (op->account[0] == '\0' ||
        (op->cf->default_account[0] &&
         strcmp(op->account, op->cf->default_account) == 0)) {
        return cf_op_begin(op, CF_CACHE_GROUPS, groups_from_cache);
    }

    snprintf(op->what, sizeof(op->what),
             "listing the permission groups of account %s", op->account);
    snprintf(op->fetch.path, sizeof(op->fetch.path),
             "/accounts/%s/tokens/permission_groups", op->account);

    return cf_op_fetch(op, groups_fetched);
}

/* ------------------------------------------------------------------ */
/* tokens_list                                                         */

static const cf_arg_spec_t list_args[] = {
    {"account_id", CF_ARG_ID, 0, 0, 0},
    {"page", CF_ARG_INT, 0, 1, 1000000},
    {"per_page", CF_ARG_INT, 0, CF_PER_PAGE_MIN, CF_PER_PAGE_MAX},
    {"name_contains", CF_ARG_STRING, 0, 1, 120},
    {NULL, CF_ARG_STRING, 0, 0, 0},
};

static void
number_or_null(cJSON *o, const char *name, const cJSON *from)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, name);

    if (cJSON_IsNumber(v)) {
        cJSON_AddNumberToObject(o, name, v->valuedouble);
    } else {
        cJSON_AddNullToObject(o, name);
    }
}

static cJSON *
list_result_info(const cf_op_t *op, int count, int filtered_out)
{
    const cf_fetch_t *f = &op->fetch;
    cJSON *ri = cJSON_CreateObject();

    cJSON_AddNumberToObject(ri, "page", f->page);
    cJSON_AddNumberToObject(ri, "per_page", f->per_page);
    cJSON_AddNumberToObject(ri, "count", count);
    cJSON_AddNumberToObject(ri, "filtered_out", filtered_out);
    number_or_null(ri, "total_count", f->result_info);
    number_or_null(ri, "total_pages", f->result_info);
    cJSON_AddNumberToObject(ri, "pages_read", f->pages);

    return ri;
}

/* complete, next_page and, when something was left out, a note. */
static void
list_completeness(const cf_op_t *op, int count, cJSON *res)
{
    const cf_fetch_t *f = &op->fetch;
    int complete;
    char note[256];

    complete = f->next_page == 0 && (!op->page_given || f->page == 1);
    cJSON_AddBoolToObject(res, "complete", complete);

    if (f->next_page > 0) {
        cJSON_AddNumberToObject(res, "next_page", f->next_page);
    } else {
        cJSON_AddNullToObject(res, "next_page");
    }

    note[0] = '\0';

    if (f->cut) {
        snprintf(note, sizeof(note),
                 "stopped after %d pages, the most one call reads; more "
                 "tokens exist: call again with page=%d to read on",
                 f->pages, f->next_page);
    } else if (f->next_page < 0) {
        snprintf(note, sizeof(note),
                 "Cloudflare's result_info did not say whether more pages "
                 "exist, so this list may be incomplete");
    } else if (op->page_given && f->next_page > 0) {
        snprintf(note, sizeof(note),
                 "this is page %d only; ask for page=%d to read on, or "
                 "leave page out to read every page",
                 f->page, f->next_page);
    } else if (op->page_given && f->page > 1 && count == 0) {
        snprintf(note, sizeof(note),
                 "page %d is past the end of the listing; start from page=1 "
                 "or leave page out",
                 f->page);
    } else if (op->page_given && f->page > 1) {
        snprintf(note, sizeof(note),
                 "this is page %d, the last; earlier pages were not read",
                 f->page);
    }

    if (note[0]) {
        cJSON_AddStringToObject(res, "note", note);
    }
}

static int
list_fetched(cf_op_t *op)
{
    const char *filter = cf_arg_string(op->args, "name_contains");
    const cJSON *groups = cf_cache_items(&op->cf->cache, CF_CACHE_GROUPS);
    const cJSON *name;
    cJSON *res, *tokens, *t;
    int count = 0, filtered_out = 0;

    if (!op->fetch.ok) {
        return cf_op_fail(op, &op->fetch.err);
    }

    res = cJSON_CreateObject();
    tokens = cJSON_AddArrayToObject(res, "tokens");

    while ((t = cJSON_DetachItemFromArray(op->fetch.result, 0)) != NULL) {
        name = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (!cJSON_IsObject(t) ||
            (filter && !(cJSON_IsString(name) &&
                         cf_name_matches(filter, name->valuestring)))) {
            filtered_out += cJSON_IsObject(t);
            cJSON_Delete(t);
            continue;
        }

        cf_token_normalize(t, groups);
        cJSON_AddItemToArray(tokens, t);
        count++;
    }

    cJSON_AddItemToObject(res, "result_info",
                          list_result_info(op, count, filtered_out));
    list_completeness(op, count, res);

    return cf_op_result(op, res);
}

static int
list_step(cf_op_t *op)
{
    return cf_op_fetch(op, list_fetched);
}

static int
tokens_list(mg_call_t *call, void *ctx)
{
    cf_op_t *op = cf_op_start(call, ctx, list_args);
    cf_str_t what;
    long page;

    if (op == NULL) {
        return MG_OK;
    }

    page = cf_arg_int(op->args, "page", 0);
    op->page_given = page > 0;

    cf_str_init(&what, op->what, sizeof(op->what));
    cf_str_add(&what, "listing ");
    cf_str_add(&what, cf_owner_words(op));
    cf_str_add(&what, " tokens");
    if (op->account[0]) {
        cf_str_add(&what, " of account ");
        cf_str_add(&what, op->account);
    }
    cf_tokens_base(op, op->fetch.path, sizeof(op->fetch.path));

    op->fetch.paged = 1;
    op->fetch.all_pages = !op->page_given;
    op->fetch.page = op->page_given ? (int)page : 1;
    op->fetch.per_page =
        (int)cf_arg_int(op->args, "per_page",
                        op->page_given ? CF_PER_PAGE_DEFAULT : CF_PER_PAGE_MAX);

    return cf_op_begin(op, CF_CACHE_GROUPS, list_step);
}

/* ------------------------------------------------------------------ */
/* tokens_get                                                          */

static const cf_arg_spec_t get_args[] = {
    {"token_id", CF_ARG_ID, 1, 0, 0},
    {"account_id", CF_ARG_ID, 0, 0, 0},
    {NULL, CF_ARG_STRING, 0, 0, 0},
};

static int
get_fetched(cf_op_t *op)
{
    cJSON *res, *token;

    if (!op->fetch.ok) {
        return cf_op_fail(op, &op->fetch.err);
    }

    if (!cJSON_IsObject(op->fetch.result)) {
        return cf_op_fail_answer(op, "token object");
    }

    token = op->fetch.result;
    op->fetch.result = NULL;
    cf_token_normalize(token, cf_cache_items(&op->cf->cache, CF_CACHE_GROUPS));

    res = cJSON_CreateObject();
    cJSON_AddItemToObject(res, "token", token);

    return cf_op_result(op, res);
}

static int
get_step(cf_op_t *op)
{
    return cf_op_fetch(op, get_fetched);
}

static int
tokens_get(mg_call_t *call, void *ctx)
{
    cf_op_t *op = cf_op_start(call, ctx, get_args);
    char base[128];

    if (op == NULL) {
        return MG_OK;
    }

    snprintf(op->what, sizeof(op->what), "reading %s token %s",
             cf_owner_words(op), cf_arg_string(op->args, "token_id"));
    cf_tokens_base(op, base, sizeof(base));
    snprintf(op->fetch.path, sizeof(op->fetch.path), "%s/%s", base,
             cf_arg_string(op->args, "token_id"));

    return cf_op_begin(op, CF_CACHE_GROUPS, get_step);
}

/* ------------------------------------------------------------------ */
/* tokens_verify                                                       */

static const cf_arg_spec_t verify_args[] = {
    {"token", CF_ARG_SECRET, 0, 1, CF_SECRET_MAX},
    {"account_id", CF_ARG_ID, 0, 0, 0},
    {NULL, CF_ARG_STRING, 0, 0, 0},
};

static void
copy_time(cJSON *to, const cJSON *from, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, name);
    char buf[32];

    if (cJSON_IsString(v)) {
        if (cf_time_normalize(v->valuestring, buf, sizeof(buf)) == MG_OK) {
            cJSON_AddStringToObject(to, name, buf);
        } else {
            cJSON_AddStringToObject(to, name, v->valuestring);
        }
    } else if (cJSON_IsNull(v)) {
        cJSON_AddNullToObject(to, name);
    }
}

static cJSON *
verify_base(const cf_op_t *op)
{
    const cJSON *v = op->verified;
    cJSON *res = cJSON_CreateObject();

    cJSON_AddStringToObject(
        res, "id", cJSON_GetObjectItemCaseSensitive(v, "id")->valuestring);
    cJSON_AddStringToObject(
        res, "status",
        cJSON_GetObjectItemCaseSensitive(v, "status")->valuestring);
    copy_time(res, v, "not_before");
    copy_time(res, v, "expires_on");

    return res;
}

static int
lookup_fetched(cf_op_t *op)
{
    cJSON *res = verify_base(op), *policies;
    const cJSON *name;

    if (!op->fetch.ok || !cJSON_IsObject(op->fetch.result)) {
        cJSON_AddBoolToObject(res, "policies_known", 0);
        cJSON_AddStringToObject(res, "policies_unknown_reason",
                                op->fetch.ok ? "Cloudflare's answer held "
                                               "no token object"
                                             : op->fetch.err.message);
        return cf_op_result(op, res);
    }

    name = cJSON_GetObjectItemCaseSensitive(op->fetch.result, "name");
    if (cJSON_IsString(name)) {
        cJSON_AddStringToObject(res, "name", name->valuestring);
    }

    policies =
        cJSON_DetachItemFromObjectCaseSensitive(op->fetch.result, "policies");
    if (!cJSON_IsArray(policies)) {
        cJSON_Delete(policies);
        policies = cJSON_CreateArray();
    }
    cf_policies_normalize(policies,
                          cf_cache_items(&op->cf->cache, CF_CACHE_GROUPS));
    cJSON_AddItemToObject(res, "policies", policies);
    cJSON_AddBoolToObject(res, "policies_known", 1);

    return cf_op_result(op, res);
}

/* The token checks out: look it up by id with the gateway's own token. */
static int
verify_fetched(cf_op_t *op)
{
    const cJSON *id, *status;
    char base[128];

    if (!op->fetch.ok) {
        return cf_op_fail(op, &op->fetch.err);
    }

    id = cJSON_GetObjectItemCaseSensitive(op->fetch.result, "id");
    status = cJSON_GetObjectItemCaseSensitive(op->fetch.result, "status");
    if (!cJSON_IsString(id) || !cJSON_IsString(status)) {
        return cf_op_fail_answer(op, "token object");
    }

    op->verified = op->fetch.result;
    op->fetch.result = NULL;

    if (!cf_is_id(id->valuestring)) {
        cJSON *res = verify_base(op);

        cJSON_AddBoolToObject(res, "policies_known", 0);
        cJSON_AddStringToObject(res, "policies_unknown_reason",
                                "Cloudflare gave an id the gateway cannot "
                                "look up");
        return cf_op_result(op, res);
    }

    cf_fetch_clear(&op->fetch);
    op->fetch.bearer = NULL;
    snprintf(op->what, sizeof(op->what), "reading %s token %s",
             cf_owner_words(op), id->valuestring);
    cf_tokens_base(op, base, sizeof(base));
    snprintf(op->fetch.path, sizeof(op->fetch.path), "%s/%s", base,
             id->valuestring);

    return cf_op_fetch(op, lookup_fetched);
}

static int
verify_step(cf_op_t *op)
{
    return cf_op_fetch(op, verify_fetched);
}

static int
tokens_verify(mg_call_t *call, void *ctx)
{
    cf_op_t *op = cf_op_start(call, ctx, verify_args);
    const char *secret;
    char base[128];

    if (op == NULL) {
        return MG_OK;
    }

    secret = cf_arg_string(op->args, "token");
    if (secret) {
        /* The caller's secret is the bearer of this one request only. */
        snprintf(op->secret, sizeof(op->secret), "%s", secret);
        op->fetch.bearer = op->secret;
    }

    snprintf(op->what, sizeof(op->what), "verifying %s %s token",
             secret ? "the given" : "the gateway's own", cf_owner_words(op));
    cf_tokens_base(op, base, sizeof(base));
    snprintf(op->fetch.path, sizeof(op->fetch.path), "%s/verify", base);

    return cf_op_begin(op, CF_CACHE_GROUPS, verify_step);
}

/* ------------------------------------------------------------------ */

/*
 * At exit, after the fetches and cache waits were failed: any call
 * still here is answered and resumed, so none is left hanging.
 */
#define CF_READ_TOOL                                                           \
    (MG_TOOL_READ_ONLY | MG_TOOL_IDEMPOTENT | MG_TOOL_OPEN_WORLD)

const mg_tool_t cf_read_tools[] = {
    {
        "token_permission_groups_list",
        "List permission groups",
        "Lists Cloudflare API token permission groups (id, name, scopes): "
        "the permissions a token policy can grant, such as \"DNS Write\" or "
        "\"Workers Scripts Read\". Use it to find the exact name or id of a "
        "group before creating or updating a token, or to see what a group "
        "in a token's policy allows. name filters by group name: an exact "
        "name, or a case-insensitive part of one (\"dns\"). scope keeps "
        "groups of one scope (com.cloudflare.api.account, "
        "com.cloudflare.api.account.zone, com.cloudflare.api.user, or just "
        "account, zone, user). account_id (32 hex) lists the groups that "
        "account's own tokens can use; without it, the groups for user "
        "tokens (or the configured default account's). Every matching "
        "group comes back in one list.",
        cf_schema_groups_in,
        cf_schema_groups_out,
        CF_READ_TOOL,
        groups_list,
    },
    {
        "tokens_list",
        "List API tokens",
        "Lists Cloudflare API tokens, never their secrets: id, name, "
        "status, dates, policies with permission group names, and IP "
        "conditions. Use it to find a token's id or to review which tokens "
        "exist. Without account_id it lists the user's own tokens (or the "
        "configured default account's); with account_id (32 hex), that "
        "account's tokens. By default it reads every page and sets "
        "complete=true when nothing was left out; give page (from 1) to "
        "read one page only, with per_page (5 to 50) tokens per page. "
        "name_contains keeps tokens whose name contains that text, "
        "ignoring case. result_info has Cloudflare's counts; note says why "
        "a listing is incomplete.",
        cf_schema_list_in,
        cf_schema_list_out,
        CF_READ_TOOL,
        tokens_list,
    },
    {
        "tokens_get",
        "Get an API token",
        "Gets one Cloudflare API token by id, never its secret: name, "
        "status, issued/modified/last-used dates, not_before and "
        "expires_on, policies with permission group names and resources, "
        "and its IP condition. Use it to inspect what a token may do. "
        "token_id is the token's 32-hex id, as tokens_list shows it; give "
        "account_id (32 hex) for an account-owned token, otherwise the "
        "user's token (or the configured default account's) is read.",
        cf_schema_get_in,
        cf_schema_get_out,
        CF_READ_TOOL,
        tokens_get,
    },
    {
        "tokens_verify",
        "Verify an API token",
        "Checks whether a Cloudflare API token works: its id, status "
        "(active, disabled, expired) and validity dates, plus its policies "
        "with permission group names whenever the gateway can look the "
        "token up (policies_known says whether it could). Without token it "
        "checks the gateway's own token. With token (a secret you hold), "
        "that secret is sent to Cloudflare only as the credential of the "
        "verify call, and is never stored, logged or returned. Give "
        "account_id (32 hex) for an account-owned token; otherwise a user "
        "token is assumed (or the configured default account's).",
        cf_schema_verify_in,
        cf_schema_verify_out,
        CF_READ_TOOL,
        tokens_verify,
    },
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
