/*
 * GET requests to Cloudflare on behalf of the cache, the start-up check
 * and the tools.  A paged fetch asks for page after page, following
 * result_info, until the last page, an error, or max_pages; the items
 * of every page end up in one array.  Every fetch in flight is on a
 * list, so that module exit can fail them all and their owners can
 * answer the calls waiting on them.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_module.h"

static void on_response(const mg_upstream_response_t *res, void *arg);

void
cf_fetch_init(cf_fetch_t *f, cf_ctx_t *cf, const char *what,
              cf_fetch_done_pt done, void *arg)
{
    memset(f, 0, sizeof(*f));
    f->cf = cf;
    f->what = what;
    f->done = done;
    f->arg = arg;
    f->page = 1;
}

/* Free the outcome; the request part stays for another start. */
void
cf_fetch_clear(cf_fetch_t *f)
{
    cJSON_Delete(f->result);
    cJSON_Delete(f->result_info);
    f->result = NULL;
    f->result_info = NULL;
    cf_err_clear(&f->err);
    f->ok = 0;
}

static void
fetch_link(cf_fetch_t *f)
{
    cf_ctx_t *cf = f->cf;

    f->prev = NULL;
    f->next = cf->fetches;
    if (cf->fetches) {
        cf->fetches->prev = f;
    }
    cf->fetches = f;
}

static void
fetch_unlink(cf_fetch_t *f)
{
    cf_ctx_t *cf = f->cf;

    if (f->prev) {
        f->prev->next = f->next;
    } else if (cf->fetches == f) {
        cf->fetches = f->next;
    }
    if (f->next) {
        f->next->prev = f->prev;
    }

    f->prev = NULL;
    f->next = NULL;
}

static int
send_page(cf_fetch_t *f)
{
    cf_ctx_t *cf = f->cf;
    char pq[640];
    cf_str_t q;

    cf_str_init(&q, pq, sizeof(pq));
    cf_str_add(&q, f->path);

    if (f->paged) {
        cf_str_add(&q, strchr(f->path, '?') ? "&page=" : "?page=");
        cf_str_int(&q, f->page_now);
        if (f->per_page > 0) {
            cf_str_add(&q, "&per_page=");
            cf_str_int(&q, f->per_page);
        }
    }

    /* Reads may be repeated: the upstream retries one lost connection. */
    f->req = mg_upstream_request(cf->up, "GET", pq,
                                 f->bearer ? f->bearer : cf->secret, NULL,
                                 MG_UP_IDEMPOTENT, on_response, f);
    if (f->req == NULL) {
        cf_error_set(&f->err, "internal_error", NULL,
                     "the gateway could not send the request for %s; see "
                     "its error log",
                     f->what);
        return MG_ERROR;
    }

    return MG_OK;
}

/*
 * Start the fetch.  MG_OK: done will be called later, never from
 * inside this call.  MG_ERROR: f->err says why, done is not called.
 */
int
cf_fetch_start(cf_fetch_t *f)
{
    cf_ctx_t *cf = f->cf;

    cf_fetch_clear(f);
    f->pages = 0;
    f->next_page = 0;
    f->cut = 0;
    f->page_now = f->page > 0 ? f->page : 1;
    if (f->max_pages <= 0) {
        f->max_pages = cf->max_pages;
    }

    if (cf->closing) {
        cf_error_set(&f->err, "shutting_down", NULL,
                     "the gateway is shutting down; try again once it is "
                     "back");
        return MG_ERROR;
    }

    if (cf->up == NULL) {
        cf_error_set(&f->err, "upstream_unavailable", NULL,
                     "the gateway has no Cloudflare client; see its error "
                     "log");
        return MG_ERROR;
    }

    if (f->paged) {
        f->result = cJSON_CreateArray();
    }

    if (send_page(f) != MG_OK) {
        return MG_ERROR;
    }

    fetch_link(f);

    return MG_OK;
}

static void
finish(cf_fetch_t *f, int ok)
{
    fetch_unlink(f);
    f->ok = ok;

    /* The owner may free f in its callback. */
    f->done(f);
}

/* Move the items of one page into f->result. */
static int
take_items(cf_fetch_t *f, mg_cf_envelope_t *env)
{
    cJSON *item;

    if (!cJSON_IsArray(env->result)) {
        cf_error_set(&f->err, "bad_upstream_response", NULL,
                     "Cloudflare's answer to %s held no list of results; "
                     "try again",
                     f->what);
        return MG_ERROR;
    }

    while ((item = cJSON_DetachItemFromArray(env->result, 0)) != NULL) {
        cJSON_AddItemToArray(f->result, item);
    }

    /* Taken out of the envelope's tree, which is freed next. */
    cJSON_Delete(f->result_info);
    f->result_info =
        env->result_info
            ? cJSON_DetachItemViaPointer(env->root, env->result_info)
            : NULL;
    env->result_info = NULL;
    f->pages++;

    return MG_OK;
}

/* MG_AGAIN: ask for the next page; MG_OK: done; MG_ERROR: f->err set. */
static int
take_page(cf_fetch_t *f, mg_cf_envelope_t *env)
{
    int next;

    if (!f->paged) {
        if (env->result == NULL) {
            cf_error_set(&f->err, "bad_upstream_response", NULL,
                         "Cloudflare's answer to %s held no result; try "
                         "again",
                         f->what);
            return MG_ERROR;
        }
        f->result = cJSON_DetachItemViaPointer(env->root, env->result);
        env->result = NULL;
        f->pages = 1;
        return MG_OK;
    }

    if (take_items(f, env) != MG_OK) {
        return MG_ERROR;
    }

    if (!f->all_pages) {
        f->next_page = mg_cf_next_page(f->result_info, f->page_now);
        return MG_OK;
    }

    switch (cf_page_decide(f->result_info, f->page_now, f->pages, f->max_pages,
                           &next)) {
    case CF_PAGE_MORE:
        f->page_now = next;
        return MG_AGAIN;
    case CF_PAGE_CUT:
        f->cut = 1;
        break;
    default:
        break;
    }

    f->next_page = next;

    return MG_OK;
}

/*
 * Whatever an upstream echoes back, no secret goes on into a result or
 * the log: the failure is scrubbed where it is made.
 */
static void
scrub(cf_fetch_t *f)
{
    const char *secrets[2] = {f->cf->secret, f->bearer};
    int i;

    for (i = 0; i < 2; i++) {
        cf_redact_text(f->err.message, sizeof(f->err.message), secrets[i]);
        cf_redact(f->err.details, secrets[i]);
    }
}

static void
on_response(const mg_upstream_response_t *res, void *arg)
{
    cf_fetch_t *f = arg;
    mg_cf_envelope_t env;
    int rc;

    f->req = NULL;

    if (mg_cf_envelope_parse(res, &env) != MG_OK) {
        cf_error_from_envelope(&f->err, &env, f->what);
        mg_cf_envelope_free(&env);
        scrub(f);
        finish(f, 0);
        return;
    }

    rc = take_page(f, &env);
    mg_cf_envelope_free(&env);

    if (rc == MG_AGAIN) {
        rc = send_page(f);
        if (rc == MG_OK) {
            return;
        }
    }

    finish(f, rc == MG_OK);
}

/*
 * At module exit: every fetch in flight fails with "shutting_down", so
 * that its owner answers whatever waits on it.  Fetches the owners
 * start from their callbacks fail at once (closing is set).
 */
void
cf_fetch_abort_all(cf_ctx_t *cf)
{
    cf_fetch_t *f;

    while ((f = cf->fetches) != NULL) {
        if (f->req) {
            mg_upstream_cancel(f->req);
            f->req = NULL;
        }

        cf_fetch_clear(f);
        cf_error_set(&f->err, "shutting_down", NULL,
                     "the gateway is shutting down; try again once it is "
                     "back");
        finish(f, 0);
    }
}
