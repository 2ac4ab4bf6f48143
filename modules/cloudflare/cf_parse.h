/*
 * Argument parsing for the token tools: timestamps, TTLs, CIDRs,
 * permission groups by name, and resources by name.  Pure functions over
 * a snapshot of the names cache, so every refusal happens before
 * anything is sent upstream, and each can be unit-tested alone.
 */

#ifndef CF_PARSE_H
#define CF_PARSE_H

#include <stddef.h>
#include <time.h>

#include <mcpgw/mcpgw.h>

/* What a refusal says: a code, words a model can act on, and details. */
typedef struct {
    const char *code; /* "invalid_arguments", "unknown_group", ... */
    char message[768];
    cJSON *details; /* owned; NULL when none */
} cf_err_t;

void cf_err_clear(cf_err_t *e);

typedef struct {
    const char *id;
    const char *name;
    const char *const *scopes;
    size_t nscopes;
} cf_group_ref_t;

typedef struct {
    const char *id;
    const char *name;
} cf_account_ref_t;

typedef struct {
    const char *id;
    const char *name;
    const char *account_id;
    const char *account_name;
} cf_zone_ref_t;

typedef struct {
    const cf_group_ref_t *groups;
    size_t ngroups;
    const cf_account_ref_t *accounts;
    size_t naccounts;
    const cf_zone_ref_t *zones;
    size_t nzones;
} cf_names_t;

#define CF_TIME_LEN 21 /* "YYYY-MM-DDTHH:MM:SSZ" and the NUL */
/* 10000-01-01T00:00:00Z: the first time RFC 3339 cannot write. */
#define CF_TIME_END ((time_t)253402300800LL)

/* 1 when s is 32 lower-case hex digits, as Cloudflare ids are. */
int cf_is_id(const char *s);

/*
 * RFC 3339 ("2026-12-03T10:00:00Z", "...+02:00", fractions dropped) to a
 * time and its UTC form "YYYY-MM-DDTHH:MM:SSZ" in norm.  MG_OK/MG_ERROR.
 */
int cf_time_parse(const char *s, time_t *t, char *norm, cf_err_t *e);

/* cf_time_parse without the message: CF_TIME_OK or what is wrong. */
enum {
    CF_TIME_OK = 0,
    CF_TIME_SYNTAX,   /* not "YYYY-MM-DDTHH:MM:SS..." */
    CF_TIME_RANGE,    /* no such date or time, or before 1970 */
    CF_TIME_FRACTION, /* a dot without digits */
    CF_TIME_ZONE      /* no "Z" nor "+HH:MM" at the end */
};

int cf_time_scan(const char *s, time_t *t, char *norm);

/* Format t as "YYYY-MM-DDTHH:MM:SSZ". */
void cf_time_format(time_t t, char *norm);

/* "90m", "12h", "7d" to seconds (at most 10 years).  MG_OK/MG_ERROR. */
int cf_ttl_parse(const char *s, long *seconds, cf_err_t *e);

/*
 * An address or CIDR to CIDR form: a single address becomes /32 or
 * /128.  out holds at least 64 bytes.  MG_OK/MG_ERROR.
 */
int cf_cidr_normalize(const char *s, char *out, cf_err_t *e);

/*
 * One element of permission_groups: "D1 Write", {"id": ...} or
 * {"name": ..., "scope": ...}.  A name matching groups at two scopes is
 * an error listing each candidate unless scope picks one; an unknown id
 * or name is an error (with the nearest names).  MG_OK/MG_ERROR.
 */
int cf_group_resolve(const cJSON *spec, const cf_names_t *n,
                     const cf_group_ref_t **out, cf_err_t *e);

/*
 * A policy's resources, raw (flat or nested Cloudflare keys) or friendly
 * ({accounts, zones, all_zones_of} by id or name), to Cloudflare's raw
 * form.  account_hint (may be NULL) picks among accounts when a zone
 * name exists in several.  Returns a new object, or NULL with e set.
 */
cJSON *cf_resources_build(const cJSON *res, const cf_names_t *n,
                          const char *account_hint, cf_err_t *e);

/*
 * condition: {request_ip: {in, not_in}} (the older "request.ip" is read
 * too) to the form sent upstream, addresses normalised.  NULL with e set
 * on error.
 */
cJSON *cf_condition_build(const cJSON *cond, cf_err_t *e);

/*
 * The scope a raw resource entry grants on (an account mapped to its
 * zones grants on zones), or NULL when it is of no scope known here.
 * cf_resources_scope: the one scope of every entry, or NULL when mixed.
 */
const char *cf_resource_scope(const char *key, const cJSON *value);
const char *cf_resources_scope(const cJSON *res);

/* A group fits every resource of res by scope; else e says why. */
int cf_group_fits(const cf_group_ref_t *g, const cJSON *res, cf_err_t *e);

/*
 * Two policy lists compared as sets: order of policies, of groups and of
 * resource keys does not matter; server-assigned ids and echoed group
 * names are ignored.  1 when equal.
 */
int cf_policies_equal(const cJSON *a, const cJSON *b);

#endif /* CF_PARSE_H */
