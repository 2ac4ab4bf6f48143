/*
 * Helpers that hold no state: checking tool arguments, turning a
 * Cloudflare envelope into a tool error, deciding whether to read one
 * more page, and shaping token objects for results.  They only use the
 * public API and cf_parse.c, so tests/unit/test_cf_json.c includes both
 * files as they are.
 */

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_module.h"

/* How many of Cloudflare's errors[] a message quotes. */
#define CF_ERRORS_QUOTED 3

static const char *const time_fields[] = {
    "issued_on",  "modified_on", "last_used_on",
    "not_before", "expires_on",  NULL,
};

/* Whether err is a failure with that code. */
int
cf_error_is(const cf_err_t *err, const char *code)
{
    return err->code != NULL && strcmp(err->code, code) == 0;
}

void
cf_error_set(cf_err_t *err, const char *code, cJSON *details, const char *fmt,
             ...)
{
    va_list ap;

    cf_err_clear(err);
    err->code = code;
    err->details = details;

    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

void
cf_error_copy(cf_err_t *dst, const cf_err_t *src)
{
    cf_err_clear(dst);
    dst->code = src->code;
    memcpy(dst->message, src->message, sizeof(dst->message));
    dst->details = src->details ? cJSON_Duplicate(src->details, 1) : NULL;
}

/* ------------------------------------------------------------------ */
/* Tool arguments.                                                     */

static const cf_arg_spec_t *
arg_spec(const cf_arg_spec_t *spec, const char *name)
{
    for (; spec->name; spec++) {
        if (strcmp(spec->name, name) == 0) {
            return spec;
        }
    }

    return NULL;
}

/* What a valid value looks like, in words a model can act on. */
static void
arg_expected(const cf_arg_spec_t *s, char *buf, size_t size)
{
    switch (s->type) {
    case CF_ARG_ID:
        snprintf(buf, size,
                 "a Cloudflare id: 32 lowercase hexadecimal "
                 "characters");
        break;
    case CF_ARG_INT:
        snprintf(buf, size, "a whole number from %ld to %ld", s->min, s->max);
        break;
    case CF_ARG_SECRET:
        snprintf(buf, size,
                 "a token secret: %ld to %ld printable characters without "
                 "spaces",
                 s->min, s->max);
        break;
    case CF_ARG_BOOL:
        snprintf(buf, size, "true or false");
        break;
    case CF_ARG_ARRAY:
        snprintf(buf, size, "a list of %ld to %ld elements", s->min, s->max);
        break;
    case CF_ARG_OBJECT:
        snprintf(buf, size, "an object");
        break;
    case CF_ARG_STATUS:
        snprintf(buf, size, "\"active\" or \"disabled\"");
        break;
    default:
        snprintf(buf, size, "a string of %ld to %ld characters", s->min,
                 s->max);
        break;
    }
}

static int
secret_valid(const char *s, const cf_arg_spec_t *spec)
{
    size_t i, n = strlen(s);

    if ((long)n < spec->min || (long)n > spec->max) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (!isgraph((unsigned char)s[i])) {
            return 0;
        }
    }

    return 1;
}

static int
arg_valid(const cJSON *v, const cf_arg_spec_t *s)
{
    double d;
    size_t n;

    switch (s->type) {
    case CF_ARG_ID:
        return cJSON_IsString(v) && cf_is_id(v->valuestring);

    case CF_ARG_INT:
        if (!cJSON_IsNumber(v)) {
            return 0;
        }
        d = v->valuedouble;
        return d == floor(d) && d >= (double)s->min && d <= (double)s->max;

    case CF_ARG_SECRET:
        return cJSON_IsString(v) && secret_valid(v->valuestring, s);

    case CF_ARG_BOOL:
        return cJSON_IsBool(v);

    case CF_ARG_ARRAY:
        return cJSON_IsArray(v) && cJSON_GetArraySize(v) >= s->min &&
               cJSON_GetArraySize(v) <= s->max;

    case CF_ARG_OBJECT:
        return cJSON_IsObject(v);

    case CF_ARG_STATUS:
        return cJSON_IsString(v) && (strcmp(v->valuestring, "active") == 0 ||
                                     strcmp(v->valuestring, "disabled") == 0);

    default:
        if (!cJSON_IsString(v)) {
            return 0;
        }
        n = strlen(v->valuestring);
        return (long)n >= s->min && (long)n <= s->max;
    }
}

static cJSON *
arg_details(const char *name, const char *problem, const char *expected)
{
    cJSON *d = cJSON_CreateObject();

    cJSON_AddStringToObject(d, "argument", name);
    cJSON_AddStringToObject(d, "problem", problem);
    if (expected) {
        cJSON_AddStringToObject(d, "expected", expected);
    }

    return d;
}

static void
arg_names(const cf_arg_spec_t *spec, char *buf, size_t size)
{
    size_t n = 0;

    buf[0] = '\0';

    for (; spec->name && n < size; spec++) {
        n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "",
                              spec->name);
    }
}

/* Describe a wrong value; a secret is never repeated, even in part. */
static void
arg_wrong(const cJSON *v, const cf_arg_spec_t *s, const char *tool,
          cf_err_t *err)
{
    char expected[128], got[80];

    arg_expected(s, expected, sizeof(expected));

    if (s->type == CF_ARG_SECRET) {
        got[0] = '\0';
    } else if (cJSON_IsString(v)) {
        snprintf(got, sizeof(got), ", not \"%.40s\"", v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        snprintf(got, sizeof(got), ", not %g", v->valuedouble);
    } else {
        snprintf(got, sizeof(got), ", not %s",
                 cJSON_IsBool(v)     ? "a boolean"
                 : cJSON_IsNull(v)   ? "null"
                 : cJSON_IsArray(v)  ? "an array"
                 : cJSON_IsObject(v) ? "an object"
                                     : "that");
    }

    cf_error_set(err, "invalid_arguments",
                 arg_details(s->name, "invalid", expected),
                 "%s: \"%s\" must be %s%s", tool, s->name, expected, got);
}

/*
 * Check every argument against spec before anything is sent: unknown
 * names, types, ranges, ids.  Returns MG_OK, or MG_ERROR with err set to
 * an "invalid_arguments" error that says what to change.
 */
int
cf_args_check(const cJSON *args, const cf_arg_spec_t *spec, const char *tool,
              cf_err_t *err)
{
    const cf_arg_spec_t *s;
    const cJSON *v;
    char names[256];

    if (args != NULL && !cJSON_IsObject(args)) {
        cf_error_set(err, "invalid_arguments", NULL,
                     "%s: the arguments must be an object", tool);
        return MG_ERROR;
    }

    cJSON_ArrayForEach(v, args)
    {
        s = arg_spec(spec, v->string);

        if (s == NULL) {
            arg_names(spec, names, sizeof(names));
            cf_error_set(err, "invalid_arguments",
                         arg_details(v->string, "unknown", NULL),
                         "%s: unknown argument \"%.64s\"; it takes only: %s",
                         tool, v->string, names);
            return MG_ERROR;
        }

        if (!arg_valid(v, s)) {
            arg_wrong(v, s, tool, err);
            return MG_ERROR;
        }
    }

    for (s = spec; s->name; s++) {
        if (s->required &&
            cJSON_GetObjectItemCaseSensitive(args, s->name) == NULL) {
            arg_expected(s, names, sizeof(names));
            cf_error_set(err, "invalid_arguments",
                         arg_details(s->name, "missing", names),
                         "%s: \"%s\" is required: %s", tool, s->name, names);
            return MG_ERROR;
        }
    }

    return MG_OK;
}

const char *
cf_arg_string(const cJSON *args, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

long
cf_arg_int(const cJSON *args, const char *name, long dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);

    return cJSON_IsNumber(v) ? (long)v->valuedouble : dflt;
}

/* ------------------------------------------------------------------ */
/* Upstream failures as tool errors.                                   */

/* Cloudflare's errors[], reduced to what a caller needs. */
static cJSON *
errors_copy(const cJSON *errors)
{
    const cJSON *e, *code, *msg, *chain;
    cJSON *out = cJSON_CreateArray(), *o;

    cJSON_ArrayForEach(e, errors)
    {
        code = cJSON_GetObjectItemCaseSensitive(e, "code");
        msg = cJSON_GetObjectItemCaseSensitive(e, "message");
        chain = cJSON_GetObjectItemCaseSensitive(e, "error_chain");

        o = cJSON_CreateObject();
        if (cJSON_IsNumber(code)) {
            cJSON_AddNumberToObject(o, "code", code->valuedouble);
        }
        if (cJSON_IsString(msg)) {
            cJSON_AddStringToObject(o, "message", msg->valuestring);
        }
        if (cJSON_IsArray(chain)) {
            cJSON_AddItemToObject(o, "error_chain", errors_copy(chain));
        }
        cJSON_AddItemToArray(out, o);
    }

    return out;
}

/* "error 10000: Authentication error; error 1001: ..." */
static void
errors_text(const cJSON *errors, char *buf, size_t size)
{
    const cJSON *e, *code, *msg;
    size_t n = 0;
    int i = 0;

    buf[0] = '\0';

    cJSON_ArrayForEach(e, errors)
    {
        if (i++ == CF_ERRORS_QUOTED || n >= size) {
            break;
        }

        code = cJSON_GetObjectItemCaseSensitive(e, "code");
        msg = cJSON_GetObjectItemCaseSensitive(e, "message");

        n += (size_t)snprintf(
            buf + n, size - n, "%serror %d: %.200s", n ? "; " : "",
            cJSON_IsNumber(code) ? code->valueint : 0,
            cJSON_IsString(msg) ? msg->valuestring : "(no message)");
    }

    /* A message is one line, in results and in the log alike. */
    for (n = 0; buf[n]; n++) {
        if ((unsigned char)buf[n] < 0x20 || buf[n] == 0x7f) {
            buf[n] = ' ';
        }
    }
}

/* What a model can do about a Cloudflare refusal, or NULL. */
static const char *
refusal_hint(long status, int code)
{
    if (code == 9109) {
        return "the token is IP-restricted and may not be used from this "
               "gateway's address";
    }

    if (code == 6003 || code == 6111) {
        return "the token is malformed";
    }

    if (status == 404 || code == 7003) {
        return "nothing has that id; check it (tokens_list shows the "
               "token ids; a token an account owns is found only with "
               "that account_id)";
    }

    if (status == 401 || status == 403 || code == 10000 || code == 1000) {
        return "the token was refused: it lacks a permission this needs, "
               "or it is invalid, disabled or expired (a token an account "
               "owns is verified with that account_id)";
    }

    if (status >= 500) {
        return "Cloudflare failed on its side; try again later";
    }

    return NULL;
}

static void
error_from_refusal(cf_err_t *err, const mg_cf_envelope_t *env, const char *what)
{
    const char *hint = refusal_hint(env->status, env->cf_code);
    char quoted[512];
    cJSON *d;

    errors_text(env->errors, quoted, sizeof(quoted));

    d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "status", (double)env->status);
    if (env->cf_code) {
        cJSON_AddNumberToObject(d, "cloudflare_code", env->cf_code);
    }
    cJSON_AddItemToObject(d, "cloudflare_errors", errors_copy(env->errors));
    if (hint) {
        cJSON_AddStringToObject(d, "hint", hint);
    }

    cf_error_set(err, "cloudflare_error", d,
                 "Cloudflare refused %s: %s (HTTP %ld)%s%s", what,
                 quoted[0] ? quoted : env->message, env->status,
                 hint ? ": " : "", hint ? hint : "");
}

static void
error_from_rate_limit(cf_err_t *err, const mg_cf_envelope_t *env,
                      const char *what)
{
    char quoted[512];
    cJSON *d;

    errors_text(env->errors, quoted, sizeof(quoted));

    d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "status", (double)env->status);
    if (env->retry_after >= 0) {
        cJSON_AddNumberToObject(d, "retry_after", (double)env->retry_after);
    }
    cJSON_AddItemToObject(d, "cloudflare_errors", errors_copy(env->errors));

    if (env->retry_after >= 0) {
        cf_error_set(err, "rate_limited", d,
                     "Cloudflare's rate limit was reached while %s (HTTP "
                     "429%s%s); retry after %ld s",
                     what, quoted[0] ? ", " : "", quoted, env->retry_after);
    } else {
        cf_error_set(err, "rate_limited", d,
                     "Cloudflare's rate limit was reached while %s (HTTP "
                     "429%s%s); retry later: Cloudflare did not say when",
                     what, quoted[0] ? ", " : "", quoted);
    }
}

/*
 * Map a failed envelope to the tool error a caller sees.  `what` names
 * the request in words ("listing user tokens").
 */
void
cf_error_from_envelope(cf_err_t *err, const mg_cf_envelope_t *env,
                       const char *what)
{
    cJSON *d;

    switch (env->kind) {
    case MG_CF_RATE_LIMITED:
        error_from_rate_limit(err, env, what);
        break;

    case MG_CF_API:
        error_from_refusal(err, env, what);
        break;

    case MG_CF_TRANSPORT:
        d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "reason", env->message);
        cf_error_set(err, "upstream_unavailable", d,
                     "Cloudflare could not be reached while %s: %s; try "
                     "again later",
                     what, env->message);
        break;

    default:
        d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "status", (double)env->status);
        cJSON_AddStringToObject(d, "reason", env->message);
        cf_error_set(err, "bad_upstream_response", d,
                     "Cloudflare's answer to %s could not be used: %s; "
                     "try again",
                     what, env->message);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Pages.                                                              */

/*
 * After reading page `page` (the pages_read-th page of this listing),
 * whether to ask for another.  *next is the page after, as
 * mg_cf_next_page says: 0 none, -1 unknown.
 */
cf_page_e
cf_page_decide(const cJSON *result_info, int page, int pages_read,
               int max_pages, int *next)
{
    int n = mg_cf_next_page(result_info, page);

    *next = n;

    if (n == 0) {
        return CF_PAGE_DONE;
    }

    /* A next page that does not move forward would never end. */
    if (n < 0 || n <= page) {
        *next = -1;
        return CF_PAGE_UNKNOWN;
    }

    return pages_read >= max_pages ? CF_PAGE_CUT : CF_PAGE_MORE;
}

/* ------------------------------------------------------------------ */
/* Names, times and token objects.                                     */

void
cf_str_init(cf_str_t *s, char *buf, size_t size)
{
    s->p = buf;
    s->size = size;
    s->len = 0;
    buf[0] = '\0';
}

static void
str_put(cf_str_t *s, const char *t, size_t n)
{
    size_t room = s->size - 1 - s->len;

    if (n > room) {
        n = room;
    }

    memcpy(s->p + s->len, t, n);
    s->len += n;
    s->p[s->len] = '\0';
}

void
cf_str_add(cf_str_t *s, const char *t)
{
    str_put(s, t, strlen(t));
}

void
cf_str_int(cf_str_t *s, long v)
{
    char buf[24], *p = buf + sizeof(buf);
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);

    if (v < 0) {
        *--p = '-';
    }

    str_put(s, p, (size_t)(buf + sizeof(buf) - p));
}

/* An exact name, or a case-insensitive part of it. */
int
cf_name_matches(const char *filter, const char *name)
{
    if (filter == NULL || filter[0] == '\0') {
        return 1;
    }

    return strcmp(filter, name) == 0 || strcasestr(name, filter) != NULL;
}

/*
 * An RFC 3339 timestamp as "YYYY-MM-DDTHH:MM:SSZ" in UTC, as every
 * result shows times.  MG_ERROR (out untouched) when it is not one.
 */
int
cf_time_normalize(const char *in, char *out, size_t size)
{
    char norm[CF_TIME_LEN];
    time_t t;

    if (size < sizeof(norm) || cf_time_scan(in, &t, norm) != CF_TIME_OK) {
        return MG_ERROR;
    }

    memcpy(out, norm, sizeof(norm));

    return MG_OK;
}

static const cJSON *
group_by_id(const cJSON *groups, const char *id)
{
    const cJSON *g, *gid;

    cJSON_ArrayForEach(g, groups)
    {
        gid = cJSON_GetObjectItemCaseSensitive(g, "id");
        if (cJSON_IsString(gid) && strcmp(gid->valuestring, id) == 0) {
            return g;
        }
    }

    return NULL;
}

/* Fill in the name of every group that came without one. */
void
cf_policies_normalize(cJSON *policies, const cJSON *groups)
{
    const cJSON *id, *name, *known;
    cJSON *p, *g;

    cJSON_ArrayForEach(p, policies)
    {
        cJSON_ArrayForEach(
            g, cJSON_GetObjectItemCaseSensitive(p, "permission_groups"))
        {
            id = cJSON_GetObjectItemCaseSensitive(g, "id");
            name = cJSON_GetObjectItemCaseSensitive(g, "name");
            if (!cJSON_IsObject(g) || !cJSON_IsString(id) ||
                cJSON_IsString(name)) {
                continue;
            }

            known = group_by_id(groups, id->valuestring);
            name = cJSON_GetObjectItemCaseSensitive(known, "name");
            if (cJSON_IsString(name)) {
                cJSON_DeleteItemFromObjectCaseSensitive(g, "name");
                cJSON_AddStringToObject(g, "name", name->valuestring);
            }
        }
    }
}

/*
 * Shape a token object from Cloudflare for a result: timestamps in UTC,
 * group names filled in from `groups`, the condition under the
 * request_ip key, and never a secret.
 */
void
cf_token_normalize(cJSON *token, const cJSON *groups)
{
    char buf[32];
    cJSON *v, *cond, *ip;
    int i;

    if (!cJSON_IsObject(token)) {
        return;
    }

    cJSON_DeleteItemFromObjectCaseSensitive(token, "value");

    for (i = 0; time_fields[i]; i++) {
        v = cJSON_GetObjectItemCaseSensitive(token, time_fields[i]);
        if (cJSON_IsString(v) &&
            cf_time_normalize(v->valuestring, buf, sizeof(buf)) == MG_OK) {
            cJSON_SetValuestring(v, buf);
        }
    }

    cf_policies_normalize(cJSON_GetObjectItemCaseSensitive(token, "policies"),
                          groups);

    /* Older answers spell it "request.ip"; results say request_ip. */
    cond = cJSON_GetObjectItemCaseSensitive(token, "condition");
    if (cJSON_IsObject(cond) && !cJSON_HasObjectItem(cond, "request_ip")) {
        ip = cJSON_DetachItemFromObjectCaseSensitive(cond, "request.ip");
        if (ip) {
            cJSON_AddItemToObject(cond, "request_ip", ip);
        }
    }
}

/* {id, name, scopes} of a permission group as Cloudflare lists it. */
cJSON *
cf_group_json(const cJSON *group)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(group, "id");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(group, "name");
    const cJSON *scopes = cJSON_GetObjectItemCaseSensitive(group, "scopes");
    const cJSON *s;
    cJSON *o, *list;

    if (!cJSON_IsString(id) || !cJSON_IsString(name)) {
        return NULL;
    }

    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id->valuestring);
    cJSON_AddStringToObject(o, "name", name->valuestring);
    list = cJSON_AddArrayToObject(o, "scopes");

    cJSON_ArrayForEach(s, scopes)
    {
        if (cJSON_IsString(s)) {
            cJSON_AddItemToArray(list, cJSON_CreateString(s->valuestring));
        }
    }

    return o;
}

/* ------------------------------------------------------------------ */
/* Secrets never leave the gateway.                                    */

#define CF_REDACTED "[redacted]"

/* A copy of s with every occurrence of secret replaced, or NULL. */
static char *
redacted_copy(const char *s, const char *secret)
{
    size_t n = 0, slen = strlen(secret), rlen = strlen(CF_REDACTED);
    const char *p, *hit;
    char *out, *o;

    for (p = s; (hit = strstr(p, secret)) != NULL; p = hit + slen) {
        n++;
    }

    if (n == 0) {
        return NULL;
    }

    out = malloc(strlen(s) - n * slen + n * rlen + 1);
    if (out == NULL) {
        return NULL;
    }

    for (o = out, p = s; (hit = strstr(p, secret)) != NULL; p = hit + slen) {
        memcpy(o, p, (size_t)(hit - p));
        o += hit - p;
        memcpy(o, CF_REDACTED, rlen);
        o += rlen;
    }
    strcpy(o, p);

    return out;
}

/*
 * Replace a secret wherever it appears in the strings of item.  Whatever
 * an upstream echoes, a result never carries a token's secret.
 */
void
cf_redact(cJSON *item, const char *secret)
{
    cJSON *c;
    char *clean;

    if (item == NULL || secret == NULL || secret[0] == '\0') {
        return;
    }

    if (cJSON_IsString(item)) {
        clean = redacted_copy(item->valuestring, secret);
        if (clean) {
            cJSON_SetValuestring(item, clean);
            free(clean);
        }
        return;
    }

    cJSON_ArrayForEach(c, item)
    {
        cf_redact(c, secret);
    }
}

void
cf_redact_text(char *text, size_t size, const char *secret)
{
    char *clean;

    if (secret == NULL || secret[0] == '\0') {
        return;
    }

    clean = redacted_copy(text, secret);
    if (clean) {
        snprintf(text, size, "%s", clean);
        free(clean);
    }
}
