/*
 * The names cache: permission groups, accounts and zones, so that tool
 * calls turn ids into names (and, later, names into ids) without asking
 * Cloudflare each time.  Every list is read to its last page.
 *
 * Each part loads on its own, at start, every cache_ttl seconds, and on
 * demand when a call needs a part that has never loaded.  A call that
 * arrives while its part is loading waits in a queue; when the load
 * ends, every waiter whose parts are all settled is told, with the
 * failure if one of them could not be loaded.  A failed refresh keeps
 * the names loaded before.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_module.h"

struct cf_waiter_s {
    unsigned need;
    cf_cache_ready_pt ready;
    void *arg;
    cf_waiter_t *next;
};

static void part_done(cf_fetch_t *f);

static const char *const part_what[CF_CACHE_NPARTS] = {
    "listing permission groups",
    "listing accounts",
    "listing zones",
};

static const char *const part_noun[CF_CACHE_NPARTS] = {
    "permission groups",
    "accounts",
    "zones",
};

void
cf_cache_init(cf_cache_t *c, cf_ctx_t *cf)
{
    cf_part_t *p;
    int i;

    memset(c, 0, sizeof(*c));
    c->cf = cf;

    for (i = 0; i < CF_CACHE_NPARTS; i++) {
        p = &c->parts[i];
        p->bit = 1u << i;
        p->what = part_what[i];
        cf_fetch_init(&p->fetch, cf, p->what, part_done, p);
    }
}

static int
part_index(const cf_part_t *p)
{
    return p->bit == CF_CACHE_GROUPS ? 0 : p->bit == CF_CACHE_ACCOUNTS ? 1 : 2;
}

/* Where each part is read from. */
static void
part_request(cf_ctx_t *cf, cf_part_t *p)
{
    cf_fetch_t *f = &p->fetch;

    f->paged = 0;
    f->all_pages = 0;

    if (p->bit == CF_CACHE_GROUPS) {
        /*
         * An account's list lacks the user-scoped groups, but it is the
         * one an account-owned token may read.
         */
        if (cf->default_account[0]) {
            snprintf(f->path, sizeof(f->path),
                     "/accounts/%s/tokens/permission_groups",
                     cf->default_account);
        } else {
            snprintf(f->path, sizeof(f->path),
                     "/user/tokens/permission_groups");
        }
        return;
    }

    if (p->fallback) {
        /* Account-owned tokens may not list accounts, only read theirs. */
        snprintf(f->path, sizeof(f->path), "/accounts/%s", cf->default_account);
        return;
    }

    snprintf(f->path, sizeof(f->path), "%s",
             p->bit == CF_CACHE_ACCOUNTS ? "/accounts" : "/zones");
    f->paged = 1;
    f->all_pages = 1;
    f->per_page = CF_PER_PAGE_MAX;
}

static int
part_load(cf_cache_t *c, cf_part_t *p)
{
    if (p->loading) {
        return MG_OK;
    }

    part_request(c->cf, p);

    if (cf_fetch_start(&p->fetch) != MG_OK) {
        cf_error_copy(&p->failed, &p->fetch.err);
        cf_fetch_clear(&p->fetch);
        return MG_ERROR;
    }

    p->loading = 1;

    return MG_OK;
}

/* {id, name} of an account, or of the account a zone belongs to. */
static cJSON *
id_name(const cJSON *o)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    cJSON *out;

    if (!cJSON_IsString(id) || !cJSON_IsString(name)) {
        return NULL;
    }

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "id", id->valuestring);
    cJSON_AddStringToObject(out, "name", name->valuestring);

    return out;
}

/* Only what names need is kept, not Cloudflare's whole objects. */
static cJSON *
part_items(const cf_part_t *p, const cJSON *result)
{
    cJSON *items = cJSON_CreateArray(), *o, *acct;
    const cJSON *r;

    if (cJSON_IsObject(result)) {
        o = id_name(result);
        if (o) {
            cJSON_AddItemToArray(items, o);
        }
        return items;
    }

    cJSON_ArrayForEach(r, result)
    {
        if (p->bit == CF_CACHE_GROUPS) {
            o = cf_group_json(r);
        } else {
            o = id_name(r);
        }

        if (o && p->bit == CF_CACHE_ZONES) {
            acct = id_name(cJSON_GetObjectItemCaseSensitive(r, "account"));
            if (acct) {
                cJSON_AddItemToObject(o, "account", acct);
            }
        }

        if (o) {
            cJSON_AddItemToArray(items, o);
        }
    }

    return items;
}

static int
part_loaded(cf_cache_t *c, cf_part_t *p)
{
    cf_fetch_t *f = &p->fetch;

    if (!cJSON_IsArray(f->result) && !cJSON_IsObject(f->result)) {
        cf_error_set(&p->failed, "bad_upstream_response", NULL,
                     "Cloudflare's answer to %s held no list", p->what);
        return MG_ERROR;
    }

    cJSON_Delete(p->items);
    p->items = part_items(p, f->result);
    p->complete = !f->cut && f->next_page == 0;
    p->loaded = time(NULL);
    cf_err_clear(&p->failed);

    mg_log(MG_LOG_INFO, "cloudflare: names cache: %d %s loaded",
           cJSON_GetArraySize(p->items), part_noun[part_index(p)]);

    if (f->cut) {
        mg_log(MG_LOG_WARN,
               "cloudflare: names cache: Cloudflare lists more %s than "
               "%d pages; only those are known by name (raise max_pages "
               "to read more)",
               part_noun[part_index(p)], f->pages);
    }

    return MG_OK;
}

/* The error a waiter gets when part p has nothing to offer. */
static void
part_error(const cf_part_t *p, cf_err_t *err)
{
    const cf_err_t *why = &p->failed;

    if (why->code == NULL) {
        cf_error_set(err, "upstream_unavailable", NULL,
                     "Cloudflare's %s could not be loaded; try again",
                     part_noun[part_index(p)]);
        return;
    }

    if (cf_error_is(why, "shutting_down")) {
        cf_error_copy(err, why);
        return;
    }

    cf_error_set(err, why->code,
                 why->details ? cJSON_Duplicate(why->details, 1) : NULL,
                 "the gateway could not load Cloudflare's %s, which it "
                 "needs for this call: %s",
                 part_noun[part_index(p)], why->message);
}

/* Tell every waiter whose parts have all settled. */
static void
notify(cf_cache_t *c)
{
    cf_waiter_t **wp = &c->waiters, *w, *ready = NULL, **tail = &ready;
    cf_err_t err;
    unsigned loading = 0;
    const cf_part_t *bad;
    int i;

    for (i = 0; i < CF_CACHE_NPARTS; i++) {
        if (c->parts[i].loading) {
            loading |= c->parts[i].bit;
        }
    }

    /* Detach first: a callback may queue new waiters. */
    while ((w = *wp) != NULL) {
        if (w->need & loading) {
            wp = &w->next;
            continue;
        }
        *wp = w->next;
        w->next = NULL;
        *tail = w;
        tail = &w->next;
    }

    while ((w = ready) != NULL) {
        ready = w->next;

        memset(&err, 0, sizeof(err));
        bad = NULL;
        for (i = 0; i < CF_CACHE_NPARTS && bad == NULL; i++) {
            if ((w->need & c->parts[i].bit) && c->parts[i].items == NULL) {
                bad = &c->parts[i];
            }
        }

        if (bad) {
            part_error(bad, &err);
        }

        w->ready(w->arg, bad ? &err : NULL);
        cf_err_clear(&err);
        free(w);
    }
}

static void
part_done(cf_fetch_t *f)
{
    cf_part_t *p = f->arg;
    cf_cache_t *c = &f->cf->cache;
    cf_ctx_t *cf = f->cf;
    int ok = 0;

    p->loading = 0;

    if (f->ok) {
        ok = part_loaded(c, p) == MG_OK;
    } else if (p->bit == CF_CACHE_ACCOUNTS && !p->fallback &&
               cf->default_account[0] && !cf->closing &&
               cf_error_is(&f->err, "cloudflare_error")) {
        /* An account-owned token: read the one account it names. */
        p->fallback = 1;
        cf_fetch_clear(f);
        if (part_load(c, p) == MG_OK) {
            return;
        }
    } else {
        cf_error_copy(&p->failed, &f->err);
    }

    if (!ok && !cf->closing) {
        mg_log(MG_LOG_WARN, "cloudflare: names cache: %s failed: %s%s", p->what,
               p->failed.message,
               p->items ? "; the names loaded before stay in use" : "");
    }

    p->fallback = 0;
    cf_fetch_clear(f);
    notify(c);
}

static int
queue(cf_cache_t *c, unsigned need, cf_cache_ready_pt ready, void *arg)
{
    cf_waiter_t *w = calloc(1, sizeof(cf_waiter_t));

    if (w == NULL) {
        return MG_ERROR;
    }

    w->need = need;
    w->ready = ready;
    w->arg = arg;
    w->next = c->waiters;
    c->waiters = w;

    return MG_OK;
}

/*
 * Make sure the parts in `need` are loaded.  MG_OK: they are, now.
 * MG_AGAIN: ready(arg, err) will be called once they are, or with err
 * set when one could not be loaded; never from inside this call.
 * MG_ERROR: err says why, and ready is never called.
 */
int
cf_cache_need(cf_cache_t *c, unsigned need, cf_cache_ready_pt ready, void *arg,
              cf_err_t *err)
{
    cf_part_t *p;
    int i, waiting = 0;

    for (i = 0; i < CF_CACHE_NPARTS; i++) {
        p = &c->parts[i];

        if (!(need & p->bit) || p->items) {
            continue;
        }

        if (!p->loading && part_load(c, p) != MG_OK) {
            part_error(p, err);
            return MG_ERROR;
        }

        waiting = 1;
    }

    if (!waiting) {
        return MG_OK;
    }

    if (queue(c, need, ready, arg) != MG_OK) {
        cf_error_set(err, "internal_error", NULL,
                     "the gateway ran out of memory");
        return MG_ERROR;
    }

    return MG_AGAIN;
}

/*
 * Wait for the loads of `need` in flight, starting none: MG_OK when none
 * is in flight, else MG_AGAIN and ready is called as for cf_cache_need.
 */
int
cf_cache_settle(cf_cache_t *c, unsigned need, cf_cache_ready_pt ready,
                void *arg)
{
    int i;

    for (i = 0; i < CF_CACHE_NPARTS; i++) {
        if ((need & c->parts[i].bit) && c->parts[i].loading) {
            return queue(c, need, ready, arg) == MG_OK ? MG_AGAIN : MG_OK;
        }
    }

    return MG_OK;
}

/* Drop the waiters for arg: it no longer wants to be told. */
void
cf_cache_forget(cf_cache_t *c, void *arg)
{
    cf_waiter_t **wp = &c->waiters, *w;

    while ((w = *wp) != NULL) {
        if (w->arg == arg) {
            *wp = w->next;
            free(w);
        } else {
            wp = &w->next;
        }
    }
}

static void
refresh_fire(void *arg)
{
    cf_cache_t *c = arg;
    cf_part_t *p;
    int i;

    c->refresh = NULL;

    if (c->cf->closing) {
        return;
    }

    for (i = 0; i < CF_CACHE_NPARTS; i++) {
        p = &c->parts[i];

        if (part_load(c, p) != MG_OK) {
            mg_log(MG_LOG_WARN, "cloudflare: names cache: %s failed: %s",
                   p->what, p->failed.message);
        }
    }

    c->refresh =
        mg_timer_add((unsigned)c->cf->cache_ttl * 1000, refresh_fire, c);
}

/* The first load, and the refresh every cache_ttl seconds after it. */
void
cf_cache_start(cf_cache_t *c)
{
    refresh_fire(c);
}

const cJSON *
cf_cache_items(const cf_cache_t *c, unsigned part)
{
    int i;

    for (i = 0; i < CF_CACHE_NPARTS; i++) {
        if (c->parts[i].bit == part) {
            return c->parts[i].items;
        }
    }

    return NULL;
}

int
cf_cache_complete(const cf_cache_t *c, unsigned part)
{
    int i;

    for (i = 0; i < CF_CACHE_NPARTS; i++) {
        if (c->parts[i].bit == part) {
            return c->parts[i].items != NULL && c->parts[i].complete;
        }
    }

    return 0;
}

const cJSON *
cf_cache_group_by_name(const cf_cache_t *c, const char *name)
{
    const cJSON *g, *n;

    cJSON_ArrayForEach(g, c->parts[0].items)
    {
        n = cJSON_GetObjectItemCaseSensitive(g, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) {
            return g;
        }
    }

    return NULL;
}

/*
 * At exit, after cf_fetch_abort_all failed the loads in flight: tell any
 * waiter left, cancel the refresh and free the names.
 */
void
cf_cache_stop(cf_cache_t *c)
{
    cf_part_t *p;
    int i;

    mg_timer_cancel(c->refresh);
    c->refresh = NULL;

    for (i = 0; i < CF_CACHE_NPARTS; i++) {
        p = &c->parts[i];
        p->loading = 0;
        if (p->items == NULL) {
            cf_error_set(&p->failed, "shutting_down", NULL,
                         "the gateway is shutting down; try again once it "
                         "is back");
        }
    }

    notify(c);

    for (i = 0; i < CF_CACHE_NPARTS; i++) {
        p = &c->parts[i];
        cJSON_Delete(p->items);
        p->items = NULL;
        cf_err_clear(&p->failed);
        cf_fetch_clear(&p->fetch);
    }
}
