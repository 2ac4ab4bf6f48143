/*
 * The tools that change tokens: tokens_create, tokens_update,
 * tokens_delete and tokens_roll.
 *
 * Every argument is resolved (group and resource names, times, CIDRs)
 * before anything is sent.  A write goes out once and is never repeated:
 * when its answer is lost, the op looks at what Cloudflare holds and says
 * what it found, so no token exists that nobody was told about.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_module.h"

/* A not_before this close to now is sent this far in the past. */
#define CF_SKEW 60

#define CF_NAME_MAX 120

/* ------------------------------------------------------------------ */
/* Building the request body.                                          */

static int
fail_at(cf_err_t *e, const char *where)
{
    char msg[sizeof(e->message)];

    snprintf(msg, sizeof(msg), "%.40s: %.700s", where, e->message);
    snprintf(e->message, sizeof(e->message), "%s", msg);

    return MG_ERROR;
}

/* One policy of the arguments in Cloudflare's request form. */
static cJSON *
policy_build(const cJSON *p, const cf_names_t *n, const char *hint, cf_err_t *e)
{
    const cJSON *effect, *groups, *res, *g, *m;
    const cf_group_ref_t *ref;
    cJSON *out, *list, *o, *resources;
    cf_err_t rerr;

    memset(&rerr, 0, sizeof(rerr));

    if (!cJSON_IsObject(p)) {
        cf_error_set(e, "invalid_arguments", NULL,
                     "each policy is an object {effect, permission_groups, "
                     "resources}");
        return NULL;
    }

    cJSON_ArrayForEach(m, (cJSON *)p)
    {
        if (strcmp(m->string, "effect") &&
            strcmp(m->string, "permission_groups") &&
            strcmp(m->string, "resources") && strcmp(m->string, "id")) {
            cf_error_set(e, "invalid_arguments", NULL,
                         "unknown key \"%.40s\"; a policy has effect, "
                         "permission_groups and resources",
                         m->string);
            return NULL;
        }
    }

    effect = cJSON_GetObjectItemCaseSensitive(p, "effect");
    if (effect &&
        (!cJSON_IsString(effect) || (strcmp(effect->valuestring, "allow") &&
                                     strcmp(effect->valuestring, "deny")))) {
        cf_error_set(e, "invalid_arguments", NULL,
                     "effect must be \"allow\" or \"deny\"");
        return NULL;
    }

    groups = cJSON_GetObjectItemCaseSensitive(p, "permission_groups");
    if (!cJSON_IsArray(groups) || cJSON_GetArraySize(groups) == 0) {
        cf_error_set(e, "invalid_arguments", NULL,
                     "permission_groups must list at least one group, by "
                     "name (\"D1 Write\"), {\"id\"} or {\"name\", "
                     "\"scope\"}");
        return NULL;
    }

    /* Resources first, quietly, so each group can be checked on them. */
    res = cJSON_GetObjectItemCaseSensitive(p, "resources");
    resources = cf_resources_build(res, n, hint, &rerr);

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "effect",
                            effect ? effect->valuestring : "allow");
    list = cJSON_AddArrayToObject(out, "permission_groups");

    cJSON_ArrayForEach(g, (cJSON *)groups)
    {
        if (cf_group_resolve(g, n, &ref, e) != MG_OK ||
            (resources && cf_group_fits(ref, resources, e) != MG_OK)) {
            goto failed;
        }

        /* The same group twice is one grant: send it once. */
        cJSON_ArrayForEach(o, list)
        {
            if (strcmp(cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring,
                       ref->id) == 0) {
                break;
            }
        }
        if (o == NULL) {
            o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", ref->id);
            cJSON_AddItemToArray(list, o);
        }
    }

    /* Groups first in what is reported: the likelier mistake. */
    if (resources == NULL) {
        cf_error_set(e, rerr.code, rerr.details, "%s", rerr.message);
        rerr.details = NULL;
        goto failed;
    }

    cJSON_AddItemToObject(out, "resources", resources);
    cf_err_clear(&rerr);

    return out;

failed:
    cJSON_Delete(out);
    cJSON_Delete(resources);
    cf_err_clear(&rerr);

    return NULL;
}

static cJSON *
policies_build(const cJSON *policies, const cf_names_t *n, const char *hint,
               cf_err_t *e)
{
    const cJSON *p;
    cJSON *out, *one;
    char where[32];
    int i = 0;

    if (!cJSON_IsArray(policies) || cJSON_GetArraySize(policies) == 0) {
        cf_error_set(e, "invalid_arguments", NULL,
                     "policies must list at least one policy");
        return NULL;
    }

    out = cJSON_CreateArray();

    cJSON_ArrayForEach(p, (cJSON *)policies)
    {
        one = policy_build(p, n, hint, e);
        if (one == NULL) {
            snprintf(where, sizeof(where), "policies[%d]", i);
            fail_at(e, where);
            cJSON_Delete(out);
            return NULL;
        }
        cJSON_AddItemToArray(out, one);
        i++;
    }

    return out;
}

/* A time already in the body (an update's current token), or 0. */
static time_t
body_time(const cJSON *body, const char *name)
{
    const char *v;
    char norm[CF_TIME_LEN];
    cf_err_t e;
    time_t t;

    memset(&e, 0, sizeof(e));
    v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, name));
    if (v == NULL || cf_time_parse(v, &t, norm, &e) != MG_OK) {
        cf_err_clear(&e);
        return 0;
    }

    return t;
}

/*
 * expires_on or ttl, and not_before, into body.  A not_before of about
 * now goes out a little in the past, so a clock behind Cloudflare's
 * does not make a fresh token unusable; a later one schedules it.
 */
static int
times_build(const cJSON *args, cJSON *body, time_t now, cf_err_t *e)
{
    const char *expires = cf_arg_string(args, "expires_on");
    const char *ttl = cf_arg_string(args, "ttl");
    const char *nb = cf_arg_string(args, "not_before");
    char norm[CF_TIME_LEN];
    time_t t_exp = 0, t_nb = 0;
    long secs;

    if (expires && ttl) {
        cf_error_set(e, "invalid_arguments", NULL,
                     "give expires_on or ttl, not both");
        return MG_ERROR;
    }

    if (nb) {
        if (cf_time_parse(nb, &t_nb, norm, e) != MG_OK) {
            return fail_at(e, "not_before");
        }
        if (t_nb <= now + CF_SKEW) {
            t_nb = now - CF_SKEW;
            cf_time_format(t_nb, norm);
        }
        cJSON_DeleteItemFromObjectCaseSensitive(body, "not_before");
        cJSON_AddStringToObject(body, "not_before", norm);
    }

    /* Kept from the token being updated: a later start moves the end. */
    if (nb == NULL) {
        t_nb = body_time(body, "not_before");
    }

    if (ttl) {
        if (cf_ttl_parse(ttl, &secs, e) != MG_OK) {
            return MG_ERROR;
        }
        t_exp = (t_nb > now ? t_nb : now) + secs;
        cf_time_format(t_exp, norm);
    } else if (expires) {
        if (cf_time_parse(expires, &t_exp, norm, e) != MG_OK) {
            return fail_at(e, "expires_on");
        }
        if (t_exp <= now) {
            cf_error_set(e, "invalid_arguments", NULL,
                         "expires_on %s is in the past; give a later time "
                         "or a ttl such as \"7d\"",
                         norm);
            return MG_ERROR;
        }
    }

    if (ttl || expires) {
        if (t_nb && t_exp <= t_nb) {
            cf_error_set(e, "invalid_arguments", NULL,
                         "expires_on must be after not_before");
            return MG_ERROR;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(body, "expires_on");
        cJSON_AddStringToObject(body, "expires_on", norm);
    }

    return MG_OK;
}

/* name, policies, times and condition of the arguments into body. */
static int
body_build(cf_op_t *op, cJSON *body, cf_err_t *e)
{
    const cJSON *args = op->args, *v;
    cf_names_snapshot_t snap;
    const char *name;
    cJSON *built;
    int rc = MG_OK;

    name = cf_arg_string(args, "name");
    if (name) {
        cJSON_DeleteItemFromObjectCaseSensitive(body, "name");
        cJSON_AddStringToObject(body, "name", name);
    }

    v = cJSON_GetObjectItemCaseSensitive(args, "status");
    if (cJSON_IsString(v)) {
        cJSON_DeleteItemFromObjectCaseSensitive(body, "status");
        cJSON_AddStringToObject(body, "status", v->valuestring);
    }

    v = cJSON_GetObjectItemCaseSensitive(args, "policies");
    if (v) {
        cf_names_snapshot(&snap, &op->cf->cache);
        built = policies_build(v, &snap.names,
                               op->account[0] ? op->account : NULL, e);
        cf_names_snapshot_free(&snap);

        if (built == NULL) {
            return MG_ERROR;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(body, "policies");
        cJSON_AddItemToObject(body, "policies", built);
    }

    if (times_build(args, body, time(NULL), e) != MG_OK) {
        return MG_ERROR;
    }

    v = cJSON_GetObjectItemCaseSensitive(args, "condition");
    if (v) {
        built = cf_condition_build(v, e);
        if (built == NULL) {
            return MG_ERROR;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(body, "condition");
        cJSON_AddItemToObject(body, "condition", built);
    }

    return rc;
}

/* With dry_run: what would be sent, and nothing sent. */
static int
dry_run_answer(cf_op_t *op)
{
    cJSON *res, *req;

    res = cJSON_CreateObject();
    cJSON_AddBoolToObject(res, "dry_run", 1);
    req = cJSON_AddObjectToObject(res, "request");
    cJSON_AddStringToObject(req, "method", op->method);
    cJSON_AddStringToObject(req, "path", op->path);
    cJSON_AddItemToObject(req, "body",
                          op->body ? op->body : cJSON_CreateObject());
    op->body = NULL;

    return cf_op_result(op, res);
}

static int
dry_run(const cf_op_t *op)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(op->args, "dry_run"));
}

/*
 * The request body, built from the arguments onto base.  1 when the call
 * has been answered here: a refusal of the arguments, or with dry_run
 * the request it would send; 0 to go on and send it.
 */
static int
body_or_answer(cf_op_t *op, cJSON *base)
{
    cf_err_t err;

    memset(&err, 0, sizeof(err));

    op->body = base;
    if (body_build(op, op->body, &err) != MG_OK) {
        cf_op_fail(op, &err);
        cf_err_clear(&err);
        return 1;
    }

    if (dry_run(op)) {
        dry_run_answer(op);
        return 1;
    }

    return 0;
}

/* ------------------------------------------------------------------ */
/* Sending a write, once.                                              */

/* The write's answer: the op goes on or ends; an ended op resumes. */
static void
write_done(const mg_upstream_response_t *res, void *arg)
{
    cf_op_t *op = arg;
    mg_call_t *call = op->call;
    mg_cf_envelope_t env;
    int rc;

    op->wreq = NULL;
    op->write_sent = 0;

    /*
     * Without any answer the request may still be on its way to, or in,
     * Cloudflare: not finding its effect now proves nothing.
     */
    op->answered = res->status != 0;

    mg_cf_envelope_parse(res, &env);
    rc = op->written(op, &env);
    mg_cf_envelope_free(&env);

    if (rc == MG_OK) {
        mg_call_resume(call, MG_OK);
    }
}

/*
 * Send op->method op->path with op->body; `written` runs with the answer.
 * A cancel that came before this point stops the call: nothing is sent.
 */
static int
write_send(cf_op_t *op, int (*written)(cf_op_t *op, mg_cf_envelope_t *env))
{
    char *body = NULL;
    cf_err_t err;

    memset(&err, 0, sizeof(err));

    if (mg_call_cancelled(op->call)) {
        cf_error_set(&err, "cancelled", NULL,
                     "the call was cancelled before anything was sent");
        cf_op_fail(op, &err);
        cf_err_clear(&err);
        return MG_OK;
    }

    if (op->body) {
        body = cJSON_PrintUnformatted(op->body);
    }

    op->written = written;
    op->wreq = mg_upstream_request(op->cf->up, op->method, op->path,
                                   op->cf->secret, body, 0, write_done, op);
    free(body);

    if (op->wreq == NULL) {
        cf_error_set(&err, "internal_error", NULL,
                     "the gateway could not start the request for %s",
                     op->what);
        cf_op_fail(op, &err);
        cf_err_clear(&err);
        return MG_OK;
    }

    op->write_sent = 1;

    return MG_AGAIN;
}

static int fail_with(cf_op_t *op, const char *code, cJSON *details,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail_with(cf_op_t *op, const char *code, cJSON *details, const char *fmt, ...)
{
    cf_err_t err;
    va_list ap;

    memset(&err, 0, sizeof(err));
    cf_error_set(&err, code, details, "%s", "");

    va_start(ap, fmt);
    vsnprintf(err.message, sizeof(err.message), fmt, ap);
    va_end(ap);

    cf_op_fail(op, &err);
    cf_err_clear(&err);

    return MG_OK;
}

static int
fail_envelope(cf_op_t *op, const mg_cf_envelope_t *env)
{
    cf_err_t err;

    memset(&err, 0, sizeof(err));
    cf_error_from_envelope(&err, env, op->what);
    cf_op_fail(op, &err);
    cf_err_clear(&err);

    return MG_OK;
}

/* A token as the tools return it: names filled in, no secret. */
static cJSON *
token_out(cf_op_t *op, const cJSON *token)
{
    cJSON *t = cJSON_Duplicate(token, 1);

    cf_token_normalize(t, cf_cache_items(&op->cf->cache, CF_CACHE_GROUPS));

    return t;
}

/* The token with this exact name in a listing, or NULL. */
static const cJSON *
find_by_name(const cJSON *tokens, const char *name, int *count)
{
    const cJSON *t, *found = NULL;
    const char *n;

    *count = 0;

    cJSON_ArrayForEach(t, tokens)
    {
        n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
        if (n && strcmp(n, name) == 0) {
            found = t;
            (*count)++;
        }
    }

    return found;
}

/* Ask for every page of the owner's tokens; `fetched` runs after. */
static int
list_all(cf_op_t *op, int (*fetched)(cf_op_t *op))
{
    cf_fetch_clear(&op->fetch);
    cf_fetch_init(&op->fetch, op->cf, op->what, NULL, op);
    cf_tokens_base(op, op->fetch.path, sizeof(op->fetch.path));
    op->fetch.paged = 1;
    op->fetch.all_pages = 1;
    op->fetch.page = 1;
    op->fetch.per_page = CF_PER_PAGE_MAX;

    return cf_op_fetch(op, fetched);
}

/*
 * The gateway's own token is off limits: changing, rolling or deleting
 * it through the gateway would cut every client off at once.
 */
static int
own_token(cf_op_t *op)
{
    if (op->cf->own_id[0] == '\0' || strcmp(op->cf->own_id, op->token_id)) {
        return 0;
    }

    fail_with(op, "own_token", NULL,
              "token %s is the gateway's own Cloudflare token; changing, "
              "rolling or deleting it here would cut every client off. An "
              "administrator does that in the Cloudflare dashboard",
              op->token_id);

    return 1;
}

/* ------------------------------------------------------------------ */
/* tokens_create                                                       */

static const cf_arg_spec_t create_args[] = {
    {"name", CF_ARG_STRING, 1, 1, CF_NAME_MAX},
    {"policies", CF_ARG_ARRAY, 1, 1, 50},
    {"expires_on", CF_ARG_STRING, 0, 1, 64},
    {"ttl", CF_ARG_STRING, 0, 1, 32},
    {"not_before", CF_ARG_STRING, 0, 1, 64},
    {"condition", CF_ARG_OBJECT, 0, 0, 0},
    {"account_id", CF_ARG_ID, 0, 0, 0},
    {"dry_run", CF_ARG_BOOL, 0, 0, 0},
    {NULL, CF_ARG_STRING, 0, 0, 0},
};

/* After an ambiguous create: does a token of that name exist now? */
static int
create_reconciled(cf_op_t *op)
{
    const cJSON *t;
    cJSON *details;
    int count;

    if (!op->fetch.ok || op->fetch.cut) {
        return fail_with(op, "outcome_unknown", NULL,
                         "Cloudflare's answer to creating token \"%s\" was "
                         "lost, and looking it up failed too: it may exist. "
                         "Call tokens_list with name_contains \"%s\" before "
                         "trying again",
                         op->name, op->name);
    }

    t = find_by_name(op->fetch.result, op->name, &count);
    if (t == NULL && !op->answered) {
        return fail_with(op, "outcome_unknown", NULL,
                         "Cloudflare did not answer creating token \"%s\", "
                         "and no token of that name exists yet; the request "
                         "may still arrive. Call tokens_list with "
                         "name_contains \"%s\" in a minute before trying "
                         "again",
                         op->name, op->name);
    }

    if (t == NULL) {
        return fail_with(op, "create_not_applied", NULL,
                         "Cloudflare's answer to creating token \"%s\" was "
                         "lost; no token of that name exists, so the create "
                         "did not take effect and it is safe to try again",
                         op->name);
    }

    details = cJSON_CreateObject();
    cJSON_AddItemToObject(details, "token", token_out(op, t));

    return fail_with(
        op, "created_secret_lost", details,
        "Cloudflare's answer to creating token \"%s\" was "
        "lost, but the token exists (id %s): it was created. "
        "Its secret was not received and cannot be shown; get "
        "a new one with tokens_roll, or remove it with "
        "tokens_delete",
        op->name,
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "id")));
}

/* Created, but the answer held no secret: name the token at least. */
static int
created_no_value(cf_op_t *op, const cJSON *result)
{
    const char *id;
    cJSON *details = NULL;

    id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(result, "id"));
    if (cJSON_IsObject(result)) {
        details = cJSON_CreateObject();
        cJSON_AddItemToObject(details, "token", token_out(op, result));
    }

    if (id == NULL) {
        return fail_with(op, "created_secret_lost", details,
                         "Cloudflare created token \"%s\" but its answer "
                         "held neither its id nor its secret; find it with "
                         "tokens_list (name_contains \"%s\") and roll it "
                         "with tokens_roll",
                         op->name, op->name);
    }

    return fail_with(op, "created_secret_lost", details,
                     "Cloudflare created token \"%s\" (id %s) but its "
                     "answer held no secret; get one with tokens_roll, or "
                     "remove it with tokens_delete",
                     op->name, id);
}

/*
 * A result holding a new secret: marked as shown once, with a note
 * saying where it is.  cf_op_result redacts the gateway's own secret,
 * not this one.
 */
static int
secret_result(cf_op_t *op, cJSON *res, const char *note)
{
    cJSON_AddBoolToObject(res, "value_shown_once", 1);
    cJSON_AddStringToObject(res, "note", note);

    return cf_op_result(op, res);
}

static int
create_written(cf_op_t *op, mg_cf_envelope_t *env)
{
    const cJSON *value;
    cJSON *res, *token;

    if (!env->ok) {
        if (env->ambiguous) {
            snprintf(op->what, sizeof(op->what),
                     "looking up token \"%.60s\" after a lost answer",
                     op->name);
            return list_all(op, create_reconciled);
        }
        return fail_envelope(op, env);
    }

    value = cJSON_GetObjectItemCaseSensitive(env->result, "value");
    if (!cJSON_IsObject(env->result) || !cJSON_IsString(value)) {
        return created_no_value(op, env->result);
    }

    token = token_out(op, env->result);
    cJSON_AddStringToObject(token, "value", value->valuestring);

    res = cJSON_CreateObject();
    cJSON_AddItemToObject(res, "token", token);

    return secret_result(op, res,
                         "token.value is the secret. It is shown this once "
                         "and never again: store it now.");
}

/* Names are unique: refuse a create or rename onto an existing name. */
static int
create_listed(cf_op_t *op)
{
    const char *id;
    const cJSON *t;
    cJSON *details;
    int count;

    if (!op->fetch.ok) {
        return cf_op_fail(op, &op->fetch.err);
    }

    if (op->fetch.cut) {
        return fail_with(op, "cannot_check_name", NULL,
                         "the gateway could not read every token to check "
                         "that the name \"%s\" is unused; raise max_pages "
                         "or delete unused tokens",
                         op->name);
    }

    t = find_by_name(op->fetch.result, op->name, &count);
    id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "id"));
    if (t && (id == NULL || strcmp(id, op->token_id) != 0)) {
        details = cJSON_CreateObject();
        cJSON_AddItemToObject(details, "existing", token_out(op, t));
        return fail_with(op, "duplicate_name", details,
                         "a token named \"%s\" already exists (id %s); "
                         "choose another name, or update that token",
                         op->name, id ? id : "unknown");
    }

    snprintf(op->what, sizeof(op->what), "%s token \"%.60s\"",
             op->token_id[0] ? "updating" : "creating", op->name);

    return write_send(op, op->written);
}

static int
create_step(cf_op_t *op)
{
    if (body_or_answer(op, cJSON_CreateObject())) {
        return MG_OK;
    }

    op->written = create_written;
    snprintf(op->what, sizeof(op->what), "listing tokens to check the name");

    return list_all(op, create_listed);
}

static int
tokens_create(mg_call_t *call, void *ctx)
{
    cf_op_t *op = cf_op_start(call, ctx, create_args);

    if (op == NULL) {
        return MG_OK;
    }

    op->method = "POST";
    cf_tokens_base(op, op->path, sizeof(op->path));
    snprintf(op->name, sizeof(op->name), "%s", cf_arg_string(op->args, "name"));

    return cf_op_begin(op, CF_CACHE_ALL, create_step);
}

/* ------------------------------------------------------------------ */
/* tokens_update                                                       */

static const cf_arg_spec_t update_args[] = {
    {"token_id", CF_ARG_ID, 1, 0, 0},
    {"name", CF_ARG_STRING, 0, 1, CF_NAME_MAX},
    {"status", CF_ARG_STATUS, 0, 0, 0},
    {"policies", CF_ARG_ARRAY, 0, 1, 50},
    {"expires_on", CF_ARG_STRING, 0, 1, 64},
    {"ttl", CF_ARG_STRING, 0, 1, 32},
    {"not_before", CF_ARG_STRING, 0, 1, 64},
    {"condition", CF_ARG_OBJECT, 0, 0, 0},
    {"account_id", CF_ARG_ID, 0, 0, 0},
    {"dry_run", CF_ARG_BOOL, 0, 0, 0},
    {NULL, CF_ARG_STRING, 0, 0, 0},
};

/* The current token in the form a PUT takes: a full replacement. */
static cJSON *
update_base(const cJSON *cur)
{
    static const char *const keep[] = {"name",       "status",    "not_before",
                                       "expires_on", "condition", NULL};
    const cJSON *p, *g, *v;
    cJSON *body, *pols, *np, *groups, *o;
    int i;

    body = cJSON_CreateObject();

    for (i = 0; keep[i]; i++) {
        v = cJSON_GetObjectItemCaseSensitive(cur, keep[i]);
        if (v && !cJSON_IsNull(v)) {
            cJSON_AddItemToObject(body, keep[i], cJSON_Duplicate(v, 1));
        }
    }

    /* Policies without server-assigned ids or echoed group names. */
    pols = cJSON_AddArrayToObject(body, "policies");
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(cur, "policies"))
    {
        np = cJSON_CreateObject();
        v = cJSON_GetObjectItemCaseSensitive(p, "effect");
        cJSON_AddStringToObject(np, "effect",
                                cJSON_IsString(v) ? v->valuestring : "allow");
        groups = cJSON_AddArrayToObject(np, "permission_groups");
        cJSON_ArrayForEach(
            g, cJSON_GetObjectItemCaseSensitive(p, "permission_groups"))
        {
            v = cJSON_GetObjectItemCaseSensitive(g, "id");
            if (cJSON_IsString(v)) {
                o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "id", v->valuestring);
                cJSON_AddItemToArray(groups, o);
            }
        }
        v = cJSON_GetObjectItemCaseSensitive(p, "resources");
        cJSON_AddItemToObject(np, "resources",
                              v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject());
        cJSON_AddItemToArray(pols, np);
    }

    return body;
}

static int
same_string(const cJSON *a, const cJSON *b, const char *name)
{
    const char *x, *y;

    x = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, name));
    y = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, name));

    return (x == NULL && y == NULL) || (x && y && strcmp(x, y) == 0);
}

/* Address lists as sets; no condition and an empty one are the same. */
static int
same_list(const cJSON *a, const cJSON *b)
{
    const cJSON *x, *y;

    if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) {
        return 0;
    }

    cJSON_ArrayForEach(x, a)
    {
        cJSON_ArrayForEach(y, b)
        {
            if (cJSON_IsString(x) && cJSON_IsString(y) &&
                strcmp(x->valuestring, y->valuestring) == 0) {
                break;
            }
        }
        if (y == NULL) {
            return 0;
        }
    }

    return 1;
}

static const cJSON *
request_ip(const cJSON *cond)
{
    const cJSON *ip = cJSON_GetObjectItemCaseSensitive(cond, "request_ip");

    return ip ? ip : cJSON_GetObjectItemCaseSensitive(cond, "request.ip");
}

static int
same_condition(const cJSON *a, const cJSON *b)
{
    const cJSON *ia = request_ip(a), *ib = request_ip(b);

    return same_list(cJSON_GetObjectItemCaseSensitive(ia, "in"),
                     cJSON_GetObjectItemCaseSensitive(ib, "in")) &&
           same_list(cJSON_GetObjectItemCaseSensitive(ia, "not_in"),
                     cJSON_GetObjectItemCaseSensitive(ib, "not_in"));
}

/* Does the token now hold what the update sent? */
static int
update_applied(const cJSON *token, const cJSON *body)
{
    return same_string(token, body, "name") &&
           same_string(token, body, "status") &&
           same_string(token, body, "expires_on") &&
           same_string(token, body, "not_before") &&
           same_condition(
               cJSON_GetObjectItemCaseSensitive(token, "condition"),
               cJSON_GetObjectItemCaseSensitive(body, "condition")) &&
           cf_policies_equal(
               cJSON_GetObjectItemCaseSensitive(token, "policies"),
               cJSON_GetObjectItemCaseSensitive(body, "policies"));
}

static int
update_reconciled(cf_op_t *op)
{
    cJSON *res;

    if (!op->fetch.ok || !cJSON_IsObject(op->fetch.result)) {
        return fail_with(op, "outcome_unknown", NULL,
                         "Cloudflare's answer to updating token %s was "
                         "lost, and reading it back failed too; check it "
                         "with tokens_get before trying again",
                         op->token_id);
    }

    if (!update_applied(op->fetch.result, op->body) && !op->answered) {
        return fail_with(op, "outcome_unknown", NULL,
                         "Cloudflare did not answer updating token %s, and "
                         "the token does not hold the change yet; the "
                         "request may still arrive. Check it with tokens_get "
                         "in a minute before trying again",
                         op->token_id);
    }

    if (!update_applied(op->fetch.result, op->body)) {
        return fail_with(op, "update_not_applied", NULL,
                         "Cloudflare's answer to updating token %s was "
                         "lost; the token does not hold the change, so the "
                         "update did not take effect and it is safe to try "
                         "again",
                         op->token_id);
    }

    res = cJSON_CreateObject();
    cJSON_AddItemToObject(res, "token", token_out(op, op->fetch.result));
    cJSON_AddStringToObject(res, "note",
                            "Cloudflare's answer was lost; reading the "
                            "token back shows the update took effect.");

    return cf_op_result(op, res);
}

static int
get_token(cf_op_t *op, int (*fetched)(cf_op_t *op))
{
    cf_fetch_clear(&op->fetch);
    cf_fetch_init(&op->fetch, op->cf, op->what, NULL, op);
    cf_tokens_base(op, op->fetch.path, sizeof(op->fetch.path));
    snprintf(op->fetch.path + strlen(op->fetch.path),
             sizeof(op->fetch.path) - strlen(op->fetch.path), "/%s",
             op->token_id);

    return cf_op_fetch(op, fetched);
}

static int
update_written(cf_op_t *op, mg_cf_envelope_t *env)
{
    cJSON *res;

    if (!env->ok) {
        if (env->ambiguous) {
            snprintf(op->what, sizeof(op->what),
                     "reading token %s back after a lost answer", op->token_id);
            return get_token(op, update_reconciled);
        }
        return fail_envelope(op, env);
    }

    if (!cJSON_IsObject(env->result)) {
        return cf_op_fail_answer(op, "token");
    }

    res = cJSON_CreateObject();
    cJSON_AddItemToObject(res, "token", token_out(op, env->result));
    return cf_op_result(op, res);
}

static int
update_fetched(cf_op_t *op)
{
    const char *name;

    if (!op->fetch.ok) {
        return cf_op_fail(op, &op->fetch.err);
    }

    if (!cJSON_IsObject(op->fetch.result)) {
        return cf_op_fail_answer(op, "token");
    }

    /* Read, merge, then send Cloudflare's full replacement. */
    if (body_or_answer(op, update_base(op->fetch.result))) {
        return MG_OK;
    }

    op->written = update_written;
    name = cf_arg_string(op->args, "name");
    if (name && !same_string(op->fetch.result, op->body, "name")) {
        snprintf(op->name, sizeof(op->name), "%s", name);
        snprintf(op->what, sizeof(op->what),
                 "listing tokens to check the name");
        return list_all(op, create_listed);
    }

    snprintf(op->what, sizeof(op->what), "updating token %s", op->token_id);

    return write_send(op, update_written);
}

static int
update_step(cf_op_t *op)
{
    snprintf(op->what, sizeof(op->what), "reading token %s", op->token_id);

    return get_token(op, update_fetched);
}

static const char *const update_fields[] = {
    "name", "status",     "policies",  "expires_on",
    "ttl",  "not_before", "condition", NULL,
};

static int
tokens_update(mg_call_t *call, void *ctx)
{
    cf_op_t *op;
    int i, any = 0;

    for (i = 0; update_fields[i]; i++) {
        any |= cJSON_GetObjectItemCaseSensitive(mg_call_arguments(call),
                                                update_fields[i]) != NULL;
    }

    op = cf_op_start(call, ctx, update_args);
    if (op == NULL) {
        return MG_OK;
    }

    snprintf(op->token_id, sizeof(op->token_id), "%s",
             cf_arg_string(op->args, "token_id"));

    if (!any) {
        return fail_with(op, "invalid_arguments", NULL,
                         "tokens_update: nothing to change; give at least "
                         "one of name, status, policies, expires_on, ttl, "
                         "not_before, condition");
    }

    if (own_token(op)) {
        return MG_OK;
    }

    op->method = "PUT";
    cf_tokens_base(op, op->path, sizeof(op->path));
    snprintf(op->path + strlen(op->path), sizeof(op->path) - strlen(op->path),
             "/%s", op->token_id);

    return cf_op_begin(op, CF_CACHE_ALL, update_step);
}

/* ------------------------------------------------------------------ */
/* tokens_delete                                                       */

static const cf_arg_spec_t id_args[] = {
    {"token_id", CF_ARG_ID, 1, 0, 0},
    {"account_id", CF_ARG_ID, 0, 0, 0},
    {NULL, CF_ARG_STRING, 0, 0, 0},
};

static int
deleted_answer(cf_op_t *op, const char *note)
{
    cJSON *res = cJSON_CreateObject();

    cJSON_AddStringToObject(res, "token_id", op->token_id);
    cJSON_AddBoolToObject(res, "deleted", 1);
    if (note) {
        cJSON_AddStringToObject(res, "note", note);
    }

    return cf_op_result(op, res);
}

static int
delete_reconciled(cf_op_t *op)
{
    const cJSON *d = op->fetch.err.details;
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(d, "status");

    if (op->fetch.ok && !op->answered) {
        return fail_with(op, "outcome_unknown", NULL,
                         "Cloudflare did not answer deleting token %s, and "
                         "the token still exists; the request may still "
                         "arrive. Check with tokens_get in a minute before "
                         "trying again",
                         op->token_id);
    }

    if (op->fetch.ok) {
        return fail_with(op, "delete_not_applied", NULL,
                         "Cloudflare's answer to deleting token %s was "
                         "lost; the token still exists, so the delete did "
                         "not take effect and it is safe to try again",
                         op->token_id);
    }

    if (cJSON_IsNumber(status) && status->valueint == 404) {
        return deleted_answer(op,
                              "Cloudflare's answer was lost; the token "
                              "no longer exists, so it was deleted.");
    }

    return fail_with(op, "outcome_unknown", NULL,
                     "Cloudflare's answer to deleting token %s was lost, and "
                     "looking it up failed too; check with tokens_get",
                     op->token_id);
}

static int
delete_written(cf_op_t *op, mg_cf_envelope_t *env)
{
    if (env->ok) {
        return deleted_answer(op, NULL);
    }

    if (env->ambiguous) {
        snprintf(op->what, sizeof(op->what),
                 "looking up token %s after a lost answer", op->token_id);
        return get_token(op, delete_reconciled);
    }

    return fail_envelope(op, env);
}

/*
 * Start a write addressed by token id: the op with method and path set
 * ("<tokens>/<id><suffix>"), or NULL when the call is already answered.
 */
static cf_op_t *
by_id_start(mg_call_t *call, void *ctx, const char *method, const char *suffix,
            const char *verb)
{
    cf_op_t *op = cf_op_start(call, ctx, id_args);

    if (op == NULL) {
        return NULL;
    }

    snprintf(op->token_id, sizeof(op->token_id), "%s",
             cf_arg_string(op->args, "token_id"));
    if (own_token(op)) {
        return NULL;
    }

    op->method = method;
    cf_tokens_base(op, op->path, sizeof(op->path));
    snprintf(op->path + strlen(op->path), sizeof(op->path) - strlen(op->path),
             "/%s%s", op->token_id, suffix);
    snprintf(op->what, sizeof(op->what), "%s token %s", verb, op->token_id);

    return op;
}

static int
tokens_delete(mg_call_t *call, void *ctx)
{
    cf_op_t *op = by_id_start(call, ctx, "DELETE", "", "deleting");

    return op ? write_send(op, delete_written) : MG_OK;
}

/* ------------------------------------------------------------------ */
/* tokens_roll                                                         */

static int
roll_written(cf_op_t *op, mg_cf_envelope_t *env)
{
    cJSON *res;

    if (!env->ok && env->ambiguous) {
        /* The old secret may be gone and the new one was never seen. */
        return fail_with(op, "roll_outcome_lost", NULL,
                         "Cloudflare's answer to rolling token %s was "
                         "lost: the secret may have changed, and the new "
                         "one cannot be recovered. Roll again with "
                         "tokens_roll to get a working secret",
                         op->token_id);
    }

    if (!env->ok) {
        return fail_envelope(op, env);
    }

    if (!cJSON_IsString(env->result)) {
        return fail_with(op, "roll_outcome_lost", NULL,
                         "Cloudflare rolled token %s but its answer held no "
                         "secret; roll again with tokens_roll",
                         op->token_id);
    }

    res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "token_id", op->token_id);
    cJSON_AddStringToObject(res, "value", env->result->valuestring);

    return secret_result(op, res,
                         "value is the new secret; the old one no longer "
                         "works. It is shown this once: store it now.");
}

static int
tokens_roll(mg_call_t *call, void *ctx)
{
    cf_op_t *op = by_id_start(call, ctx, "PUT", "/value", "rolling");

    if (op == NULL) {
        return MG_OK;
    }

    op->body = cJSON_CreateObject(); /* Cloudflare expects {} */

    return write_send(op, roll_written);
}

/* ------------------------------------------------------------------ */

const mg_tool_t cf_write_tools[] = {
    {
        "tokens_create",
        "Create a token",
        "Creates a Cloudflare API token and returns its secret (token.value) "
        "once. Name the permissions by group name (\"Workers Scripts "
        "Write\", \"D1 Write\"), by {id}, or by {name, scope} when a name "
        "exists at two scopes; name the resources as {accounts: [id or "
        "name], zones: [id or name], all_zones_of: [account]} or with "
        "Cloudflare's raw keys. Limit it in time with ttl (\"7d\", \"12h\") "
        "or expires_on (RFC 3339), delay it with not_before, and restrict "
        "client addresses with condition.request_ip {in, not_in}. Names are "
        "unique: an existing name is refused. dry_run shows the request "
        "without sending it. With account_id the token is owned by that "
        "account (recommended for CI and automation).",
        cf_schema_create_in,
        cf_schema_create_out,
        MG_TOOL_OPEN_WORLD,
        tokens_create,
    },
    {
        "tokens_update",
        "Update a token",
        "Changes a token: give token_id and only what changes (name, status "
        "active or disabled, policies, expires_on or ttl, not_before, "
        "condition); the rest is kept. Policies, when given, replace the "
        "token's policies and take the same forms as in tokens_create. "
        "dry_run shows the full request without sending it. Two updates of "
        "one token at once: the last one wins.",
        cf_schema_update_in,
        cf_schema_token_out,
        MG_TOOL_OPEN_WORLD | MG_TOOL_IDEMPOTENT,
        tokens_update,
    },
    {
        "tokens_delete",
        "Delete a token",
        "Deletes a token for good: anything using it stops working at once. "
        "Give token_id (and account_id for an account-owned token).",
        cf_schema_id_in,
        cf_schema_delete_out,
        MG_TOOL_OPEN_WORLD | MG_TOOL_DESTRUCTIVE | MG_TOOL_IDEMPOTENT,
        tokens_delete,
    },
    {
        "tokens_roll",
        "Roll a token's secret",
        "Replaces a token's secret with a new one and returns it once; the "
        "old secret stops working, the permissions stay. Give token_id (and "
        "account_id for an account-owned token).",
        cf_schema_id_in,
        cf_schema_roll_out,
        MG_TOOL_OPEN_WORLD | MG_TOOL_DESTRUCTIVE,
        tokens_roll,
    },
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
