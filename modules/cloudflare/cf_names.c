/*
 * A snapshot of the names cache in the shape cf_parse.h resolves names
 * against.  It points into the cache's JSON, so it is made and used
 * within one step of an op: the cache is only replaced between events.
 */

#include <stdlib.h>
#include <string.h>

#include "cf_module.h"

static const char *
str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
snapshot_groups(cf_names_snapshot_t *s, const cJSON *items)
{
    const cJSON *g, *scopes, *sc;
    cf_group_ref_t *ref;
    size_t n = 0, k;

    s->groups =
        calloc((size_t)cJSON_GetArraySize(items) + 1, sizeof(cf_group_ref_t));
    s->scopes =
        calloc((size_t)cJSON_GetArraySize(items) + 1, sizeof(const char **));

    cJSON_ArrayForEach(g, items)
    {
        if (str(g, "id") == NULL || str(g, "name") == NULL) {
            continue;
        }

        ref = &s->groups[n];
        ref->id = str(g, "id");
        ref->name = str(g, "name");

        scopes = cJSON_GetObjectItemCaseSensitive(g, "scopes");
        s->scopes[n] = calloc((size_t)cJSON_GetArraySize(scopes) + 1,
                              sizeof(const char *));
        k = 0;
        cJSON_ArrayForEach(sc, scopes)
        {
            if (cJSON_IsString(sc)) {
                s->scopes[n][k++] = sc->valuestring;
            }
        }
        ref->scopes = s->scopes[n];
        ref->nscopes = k;
        n++;
    }

    s->names.groups = s->groups;
    s->names.ngroups = n;
}

static void
snapshot_accounts(cf_names_snapshot_t *s, const cJSON *items)
{
    const cJSON *a;
    size_t n = 0;

    s->accounts =
        calloc((size_t)cJSON_GetArraySize(items) + 1, sizeof(cf_account_ref_t));

    cJSON_ArrayForEach(a, items)
    {
        if (str(a, "id") && str(a, "name")) {
            s->accounts[n].id = str(a, "id");
            s->accounts[n].name = str(a, "name");
            n++;
        }
    }

    s->names.accounts = s->accounts;
    s->names.naccounts = n;
}

static void
snapshot_zones(cf_names_snapshot_t *s, const cJSON *items)
{
    const cJSON *z, *account;
    size_t n = 0;

    s->zones =
        calloc((size_t)cJSON_GetArraySize(items) + 1, sizeof(cf_zone_ref_t));

    cJSON_ArrayForEach(z, items)
    {
        account = cJSON_GetObjectItemCaseSensitive(z, "account");
        if (str(z, "id") == NULL || str(z, "name") == NULL ||
            str(account, "id") == NULL) {
            continue;
        }

        s->zones[n].id = str(z, "id");
        s->zones[n].name = str(z, "name");
        s->zones[n].account_id = str(account, "id");
        s->zones[n].account_name = str(account, "name");
        n++;
    }

    s->names.zones = s->zones;
    s->names.nzones = n;
}

void
cf_names_snapshot(cf_names_snapshot_t *s, const cf_cache_t *c)
{
    memset(s, 0, sizeof(*s));

    snapshot_groups(s, cf_cache_items(c, CF_CACHE_GROUPS));
    snapshot_accounts(s, cf_cache_items(c, CF_CACHE_ACCOUNTS));
    snapshot_zones(s, cf_cache_items(c, CF_CACHE_ZONES));
}

void
cf_names_snapshot_free(cf_names_snapshot_t *s)
{
    size_t i;

    for (i = 0; s->scopes && i < s->names.ngroups; i++) {
        free(s->scopes[i]);
    }

    free(s->scopes);
    free(s->groups);
    free(s->accounts);
    free(s->zones);
    memset(s, 0, sizeof(*s));
}
