/*
 * Ops: a tool call in progress.  Its arguments are checked before
 * anything is sent; then it waits, if it must, for the names cache; then
 * it talks to Cloudflare.  Each step either finishes the call at once
 * (the handler returns MG_OK) or continues from a callback, which
 * resumes the call when the op is done.  Callbacks never run inside the
 * step that started them, so a call is resumed only after its handler
 * returned MG_AGAIN.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_module.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define OP_HIDE(op) ASAN_POISON_MEMORY_REGION(op, sizeof(cf_op_t))
#define OP_SHOW(op) ASAN_UNPOISON_MEMORY_REGION(op, sizeof(cf_op_t))
#else
#define OP_HIDE(op) ((void)(op))
#define OP_SHOW(op) ((void)(op))
#endif

/* ------------------------------------------------------------------ */
/* Ops.                                                                */

/*
 * An op is over a kilobyte: malloc serves that from its large bins,
 * after merging its fast bins, on every call.  A few freed ones are kept
 * (poisoned under ASan, so a use after free is still caught).
 */
cf_op_t *
cf_op_new(cf_ctx_t *cf, mg_call_t *call)
{
    cf_op_t *op = cf->spare;

    if (op != NULL) {
        OP_SHOW(op);
        cf->spare = op->next;
        cf->nspare--;
        memset(op, 0, sizeof(cf_op_t));
    } else {
        op = calloc(1, sizeof(cf_op_t));
        if (op == NULL) {
            return NULL;
        }
    }

    op->cf = cf;
    op->call = call;
    op->args = mg_call_arguments(call);

    op->next = cf->ops;
    if (cf->ops) {
        cf->ops->prev = op;
    }
    cf->ops = op;

    return op;
}

void
cf_op_free(cf_op_t *op)
{
    cf_ctx_t *cf = op->cf;

    if (op->prev) {
        op->prev->next = op->next;
    } else {
        cf->ops = op->next;
    }
    if (op->next) {
        op->next->prev = op->prev;
    }

    if (op->wreq) {
        mg_upstream_cancel(op->wreq);
    }
    cJSON_Delete(op->body);
    cJSON_Delete(op->current);

    cf_cache_forget(&cf->cache, op);
    cf_fetch_clear(&op->fetch);
    cJSON_Delete(op->verified);
    explicit_bzero(op->secret, sizeof(op->secret));

    if (cf->nspare >= CF_OPS_SPARE || cf->closing) {
        free(op);
        return;
    }

    op->next = cf->spare;
    cf->spare = op;
    cf->nspare++;
    OP_HIDE(op);
}

void
cf_ops_free_spare(cf_ctx_t *cf)
{
    cf_op_t *op;

    while ((op = cf->spare) != NULL) {
        OP_SHOW(op);
        cf->spare = op->next;
        free(op);
    }

    cf->nspare = 0;
}

/* Answer the call with a result and end the op.  Returns MG_OK. */
int
cf_op_result(cf_op_t *op, cJSON *result)
{
    cf_redact(result, op->cf->secret);
    cf_redact(result, op->secret);
    mg_call_result(op->call, result, 0);
    cf_op_free(op);

    return MG_OK;
}

/* Answer the call with an error and end the op.  Returns MG_OK. */
int
cf_op_fail(cf_op_t *op, const cf_err_t *err)
{
    char message[sizeof(err->message)];
    cJSON *details;

    details = err->details ? cJSON_Duplicate(err->details, 1) : NULL;
    cf_redact(details, op->cf->secret);
    cf_redact(details, op->secret);

    snprintf(message, sizeof(message), "%s", err->message);
    cf_redact_text(message, sizeof(message), op->cf->secret);
    cf_redact_text(message, sizeof(message), op->secret);

    mg_call_error(op->call, err->code ? err->code : "internal_error", details,
                  "%s", message);
    cf_op_free(op);

    return MG_OK;
}

/* Cloudflare said success but not with what was asked for. */
int
cf_op_fail_answer(cf_op_t *op, const char *lacking)
{
    cf_err_t err;

    memset(&err, 0, sizeof(err));
    cf_error_set(&err, "bad_upstream_response", NULL,
                 "Cloudflare's answer to %s held no %s; try again", op->what,
                 lacking);
    cf_op_fail(op, &err);
    cf_err_clear(&err);

    return MG_OK;
}

static void
op_fetch_done(cf_fetch_t *f)
{
    cf_op_t *op = f->arg;
    mg_call_t *call = op->call;

    if (op->fetched(op) == MG_OK) {
        mg_call_resume(call, MG_OK);
    }
}

/* Start op->fetch; `fetched` runs when it ends.  MG_AGAIN or MG_OK. */
int
cf_op_fetch(cf_op_t *op, int (*fetched)(cf_op_t *op))
{
    op->fetched = fetched;
    op->fetch.cf = op->cf;
    op->fetch.done = op_fetch_done;
    op->fetch.arg = op;
    op->fetch.what = op->what;

    if (cf_fetch_start(&op->fetch) != MG_OK) {
        return cf_op_fail(op, &op->fetch.err);
    }

    return MG_AGAIN;
}

static void
op_cache_ready(void *arg, const cf_err_t *err)
{
    cf_op_t *op = arg;
    mg_call_t *call = op->call;
    int rc;

    rc = err ? cf_op_fail(op, err) : op->step(op);

    if (rc == MG_OK) {
        mg_call_resume(call, MG_OK);
    }
}

/* Run step once the cache parts in `need` are loaded. */
int
cf_op_begin(cf_op_t *op, unsigned need, cf_step_pt step)
{
    cf_err_t err;
    int rc;

    memset(&err, 0, sizeof(err));
    op->step = step;

    rc = cf_cache_need(&op->cf->cache, need, op_cache_ready, op, &err);
    if (rc == MG_OK) {
        return step(op);
    }

    if (rc == MG_AGAIN) {
        return MG_AGAIN;
    }

    rc = cf_op_fail(op, &err);
    cf_err_clear(&err);

    return rc;
}

/*
 * Check the arguments and make the op.  NULL when the call is already
 * answered (bad arguments, no memory).
 */
cf_op_t *
cf_op_start(mg_call_t *call, void *ctx, const cf_arg_spec_t *spec)
{
    cf_ctx_t *cf = ctx;
    cf_err_t err;
    const char *account;
    cf_str_t acct;
    cf_op_t *op;

    memset(&err, 0, sizeof(err));

    if (cf_args_check(mg_call_arguments(call), spec, mg_call_tool(call),
                      &err) != MG_OK) {
        mg_call_error(call, err.code, err.details, "%s", err.message);
        return NULL;
    }

    op = cf_op_new(cf, call);
    if (op == NULL) {
        mg_call_error(call, "internal_error", NULL,
                      "the gateway ran out of memory");
        return NULL;
    }

    /* Without account_id: user tokens, unless a default is configured. */
    account = cf_arg_string(op->args, "account_id");
    cf_str_init(&acct, op->account, sizeof(op->account));
    cf_str_add(&acct, account ? account : cf->default_account);

    cf_fetch_init(&op->fetch, cf, op->what, op_fetch_done, op);

    return op;
}

/* "/user/tokens" or "/accounts/<id>/tokens", and what it is in words. */
void
cf_tokens_base(const cf_op_t *op, char *buf, size_t size)
{
    cf_str_t s;

    cf_str_init(&s, buf, size);

    if (op->account[0]) {
        cf_str_add(&s, "/accounts/");
        cf_str_add(&s, op->account);
        cf_str_add(&s, "/tokens");
    } else {
        cf_str_add(&s, "/user/tokens");
    }
}

const char *
cf_owner_words(const cf_op_t *op)
{
    return op->account[0] ? "account" : "user";
}

void
cf_ops_shutdown(cf_ctx_t *cf)
{
    cf_err_t err;
    mg_call_t *call;

    memset(&err, 0, sizeof(err));
    cf_error_set(&err, "shutting_down", NULL,
                 "the gateway is shutting down; try again once it is back");

    while (cf->ops) {
        call = cf->ops->call;

        /* A write already sent may have taken effect: never say retry. */
        if (cf->ops->write_sent) {
            cf_error_set(&err, "outcome_unknown", NULL,
                         "the gateway shut down before Cloudflare answered "
                         "%s; it may have taken effect: check with "
                         "tokens_list or tokens_get before trying again",
                         cf->ops->what);
        }

        cf_op_fail(cf->ops, &err);
        mg_call_resume(call, MG_OK);

        cf_error_set(&err, "shutting_down", NULL,
                     "the gateway is shutting down; try again once it is "
                     "back");
    }

    cf_err_clear(&err);
}
