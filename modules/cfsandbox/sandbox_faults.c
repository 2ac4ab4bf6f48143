/*
 * Faults a test can switch on per route: latency, 5xx, 429 with
 * retry-after, a malformed body, an empty body, a dropped connection.
 * A route is "METHOD /path" below /client/v4, where a "*" segment
 * matches any one segment and "*" as method any method; "*" alone is
 * every API request.  A route of its own wins over "*".
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

#define LATENCY_MAX 120000
#define LATENCY_DEFAULT 1000
#define RETRY_AFTER_DEFAULT 30

struct sb_pending_s {
    sb_ctx_t *sb;
    mg_http_request_t *r;
    mg_timer_t *timer;
    sb_fault_t fault;
    sb_pending_t *next;
};

static const char *const mode_names[] = {
    "none", "latency", "status5xx", "ratelimit", "malformed", "empty", "reset",
};

#define NMODES (sizeof(mode_names) / sizeof(mode_names[0]))

/* "*" or "METHOD /path", stored without the /client/v4 prefix. */
static int
check_route(sb_fault_t *f, const char *route, sb_err_t *err)
{
    static const char *const methods[] = {"GET",    "POST", "PUT", "PATCH",
                                          "DELETE", "HEAD", "*",   NULL};
    const char *sp = strchr(route, ' '), *path;
    size_t i, n;

    if (strcmp(route, "*") == 0) {
        snprintf(f->route, sizeof(f->route), "*");
        return MG_OK;
    }

    n = sp ? (size_t)(sp - route) : 0;
    for (i = 0; sp && methods[i]; i++) {
        if (strlen(methods[i]) == n && strncmp(route, methods[i], n) == 0) {
            break;
        }
    }

    path = sp ? sp + 1 : "";
    if (strncmp(path, SB_API_PREFIX "/", strlen(SB_API_PREFIX) + 1) == 0) {
        path += strlen(SB_API_PREFIX);
    }

    if (sp == NULL || methods[i] == NULL || path[0] != '/' ||
        strchr(path, ' ') || n + 1 + strlen(path) >= sizeof(f->route)) {
        return sb_fail(err, 400, 1001,
                       "route must be \"*\" or \"METHOD /path\" such as "
                       "\"GET /user/tokens\" (a \"*\" segment matches any "
                       "one segment), shorter than %zu bytes",
                       sizeof(f->route));
    }

    snprintf(f->route, sizeof(f->route), "%.*s %s", (int)n, route, path);

    return MG_OK;
}

static int
check_mode(sb_fault_t *f, const char *mode, sb_err_t *err)
{
    size_t i;

    for (i = 0; i < NMODES; i++) {
        if (strcmp(mode, mode_names[i]) == 0) {
            f->mode = (sb_fault_mode_e)i;
            return MG_OK;
        }
    }

    return sb_fail(err, 400, 1001,
                   "mode must be one of latency, status5xx, ratelimit, "
                   "malformed, empty, reset, none");
}

/* Fill in defaults and check the numbers; -2 means "not given". */
static int
check_numbers(sb_fault_t *f, long long latency, long long status,
              long long retry, long long count, sb_err_t *err)
{
    if (latency == -2) {
        latency = f->mode == SB_FAULT_LATENCY ? LATENCY_DEFAULT : 0;
    }
    if (latency < 0 || latency > LATENCY_MAX) {
        return sb_fail(err, 400, 1001, "latency_ms must be 0 to %d",
                       LATENCY_MAX);
    }

    if (status == -2) {
        status = 500;
    }
    if (status < 500 || status > 599) {
        return sb_fail(err, 400, 1001, "status must be 500 to 599");
    }

    if (retry == -2) {
        retry = RETRY_AFTER_DEFAULT;
    }
    if (retry < 0 || retry > 86400) {
        return sb_fail(err, 400, 1001, "retry_after must be 0 to 86400");
    }

    if (count != -2 && (count < 1 || count > 1000000000)) {
        return sb_fail(err, 400, 1001,
                       "count must be 1 or more; leave it out for every "
                       "request");
    }

    f->latency_ms = (unsigned)latency;
    f->status = (int)status;
    f->retry_after = (int)retry;
    f->count = count == -2 ? -1 : (long)count;

    return MG_OK;
}

int
sb_fault_from_conf(const mg_conf_t *c, sb_fault_t *f)
{
    static const char *const known[] = {
        "route", "mode", "latency_ms", "status", "count", "retry_after", NULL};
    long long latency = -2, status = -2, retry = -2, count = -2;
    const char *route = NULL, *mode = NULL;
    sb_err_t err;

    memset(f, 0, sizeof(*f));

    if (mg_conf_only(c, known) != MG_OK ||
        mg_conf_string(c, "route", &route) == MG_ERROR ||
        mg_conf_string(c, "mode", &mode) == MG_ERROR ||
        mg_conf_int(c, "latency_ms", &latency) == MG_ERROR ||
        mg_conf_int(c, "status", &status) == MG_ERROR ||
        mg_conf_int(c, "retry_after", &retry) == MG_ERROR ||
        mg_conf_int(c, "count", &count) == MG_ERROR) {
        return MG_ERROR;
    }

    if (route == NULL || mode == NULL) {
        mg_conf_error(c,
                      "a fault needs a \"route\" (\"GET /user/tokens\" "
                      "or \"*\") and a \"mode\"");
        return MG_ERROR;
    }

    if (check_route(f, route, &err) != MG_OK ||
        check_mode(f, mode, &err) != MG_OK ||
        check_numbers(f, latency, status, retry, count, &err) != MG_OK) {
        mg_conf_error(c, "%s", err.message);
        return MG_ERROR;
    }

    return MG_OK;
}

static int
json_number(const cJSON *j, const char *name, long long *out, sb_err_t *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

    if (v == NULL || cJSON_IsNull(v)) {
        return MG_OK;
    }

    if (!cJSON_IsNumber(v) ||
        v->valuedouble != (double)(long long)v->valuedouble) {
        return sb_fail(err, 400, 1001, "%s must be a whole number", name);
    }

    *out = (long long)v->valuedouble;

    return MG_OK;
}

int
sb_fault_from_json(const cJSON *j, sb_fault_t *f, sb_err_t *err)
{
    long long latency = -2, status = -2, retry = -2, count = -2;
    const cJSON *route, *mode;

    memset(f, 0, sizeof(*f));

    route = cJSON_GetObjectItemCaseSensitive(j, "route");
    mode = cJSON_GetObjectItemCaseSensitive(j, "mode");
    if (!cJSON_IsString(route) || !cJSON_IsString(mode)) {
        return sb_fail(err, 400, 1001,
                       "a fault is {\"route\": \"GET /user/tokens\" or "
                       "\"*\", \"mode\": \"...\"} with optional latency_ms, "
                       "status, retry_after and count");
    }

    if (check_route(f, route->valuestring, err) != MG_OK ||
        check_mode(f, mode->valuestring, err) != MG_OK ||
        json_number(j, "latency_ms", &latency, err) != MG_OK ||
        json_number(j, "status", &status, err) != MG_OK ||
        json_number(j, "retry_after", &retry, err) != MG_OK ||
        json_number(j, "count", &count, err) != MG_OK) {
        return MG_ERROR;
    }

    return check_numbers(f, latency, status, retry, count, err);
}

cJSON *
sb_fault_json(const sb_fault_t *f)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "route", f->route);
    cJSON_AddStringToObject(o, "mode", mode_names[f->mode]);
    cJSON_AddNumberToObject(o, "latency_ms", f->latency_ms);
    cJSON_AddNumberToObject(o, "status", f->status);
    cJSON_AddNumberToObject(o, "retry_after", f->retry_after);

    if (f->count < 0) {
        cJSON_AddNullToObject(o, "count");
    } else {
        cJSON_AddNumberToObject(o, "count", (double)f->count);
    }

    return o;
}

/* Add a fault, or replace the one with the same route. */
int
sb_fault_set(sb_ctx_t *sb, const sb_fault_t *f, sb_err_t *err)
{
    size_t i;

    for (i = 0; i < sb->nfaults; i++) {
        if (strcmp(sb->faults[i].route, f->route) == 0) {
            sb->faults[i] = *f;
            return MG_OK;
        }
    }

    if (sb->nfaults == SB_FAULTS_MAX) {
        return sb_fail(err, 400, 1001,
                       "at most %d faults can be set; DELETE "
                       "/__sandbox/faults first",
                       SB_FAULTS_MAX);
    }

    sb->faults[sb->nfaults++] = *f;

    return MG_OK;
}

static void
fault_remove(sb_ctx_t *sb, size_t i)
{
    memmove(&sb->faults[i], &sb->faults[i + 1],
            (sb->nfaults - i - 1) * sizeof(sb_fault_t));
    sb->nfaults--;
}

/* Remove the fault of one route, or all of them (route NULL). */
size_t
sb_fault_clear(sb_ctx_t *sb, const char *route)
{
    sb_fault_t key;
    sb_err_t err;
    size_t i, n;

    if (route == NULL) {
        n = sb->nfaults;
        sb->nfaults = 0;
        return n;
    }

    if (check_route(&key, route, &err) != MG_OK) {
        return 0;
    }

    for (i = 0; i < sb->nfaults; i++) {
        if (strcmp(sb->faults[i].route, key.route) == 0) {
            fault_remove(sb, i);
            return 1;
        }
    }

    return 0;
}

/* Segment by segment; "*" matches any one segment. */
static int
path_matches(const char *pattern, const char *path)
{
    size_t np, ns;

    for (;;) {
        while (*pattern == '/') {
            pattern++;
        }
        while (*path == '/') {
            path++;
        }

        if (*pattern == '\0' || *path == '\0') {
            return *pattern == '\0' && *path == '\0';
        }

        np = strcspn(pattern, "/");
        ns = strcspn(path, "/");

        if (!(np == 1 && pattern[0] == '*') &&
            (np != ns || strncmp(pattern, path, np) != 0)) {
            return 0;
        }

        pattern += np;
        path += ns;
    }
}

static int
route_matches(const char *route, const char *method, const char *path)
{
    const char *sp = strchr(route, ' ');
    size_t n = (size_t)(sp - route);

    if (!(n == 1 && route[0] == '*') &&
        (strlen(method) != n || strncmp(route, method, n) != 0)) {
        return 0;
    }

    return path_matches(sp + 1, path);
}

static sb_fault_t *
fault_find(sb_ctx_t *sb, const char *method, const char *path)
{
    size_t i;

    for (i = 0; i < sb->nfaults; i++) {
        if (strcmp(sb->faults[i].route, "*") != 0 &&
            route_matches(sb->faults[i].route, method, path)) {
            return &sb->faults[i];
        }
    }

    for (i = 0; i < sb->nfaults; i++) {
        if (strcmp(sb->faults[i].route, "*") == 0) {
            return &sb->faults[i];
        }
    }

    return NULL;
}

static const char *
status_text(int status)
{
    switch (status) {
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Internal Server Error";
    }
}

/* The connection drops with a TCP reset and no answer at all. */
static void
answer_reset(mg_http_request_t *r)
{
    mg_http_reset(r);
}

static void
answer(mg_http_request_t *r, const sb_fault_t *f)
{
    static const char partial[] =
        "{\"success\":true,\"errors\":[],"
        "\"messages\":[],\"result\":{\"id\":";
    char headers[128];

    switch (f->mode) {
    case SB_FAULT_STATUS:
        sb_reply(r, f->status, "x-sandbox-fault: status5xx\r\n",
                 sb_error_envelope(10001, status_text(f->status)));
        break;

    case SB_FAULT_RATELIMIT:
        snprintf(headers, sizeof(headers),
                 "retry-after: %d\r\nx-sandbox-fault: ratelimit\r\n",
                 f->retry_after);
        sb_reply(r, 429, headers,
                 sb_error_envelope(971,
                                   "Please wait and consider "
                                   "throttling your request speed"));
        break;

    case SB_FAULT_MALFORMED:
        mg_http_respond(r, 200, "application/json",
                        "x-sandbox-fault: malformed\r\n", partial,
                        sizeof(partial) - 1);
        break;

    case SB_FAULT_EMPTY:
        mg_http_respond(r, 200, "application/json",
                        "x-sandbox-fault: empty\r\n", "", 0);
        break;

    case SB_FAULT_RESET:
        answer_reset(r);
        break;

    default:
        break;
    }
}

static void
pending_fire(void *arg)
{
    sb_pending_t *p = arg, **pp;
    sb_ctx_t *sb = p->sb;

    for (pp = &sb->pending; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            sb->npending--;
            break;
        }
    }

    if (p->fault.mode == SB_FAULT_LATENCY) {
        sb_api_handle(sb, p->r);
    } else {
        answer(p->r, &p->fault);
    }

    free(p);
}

/* Answer after the fault's latency; the request waits on a timer. */
static int
defer(sb_ctx_t *sb, mg_http_request_t *r, const sb_fault_t *f)
{
    sb_pending_t *p;

    if (sb->npending >= SB_PENDING_MAX) {
        mg_log(MG_LOG_WARN,
               "cfsandbox: %d requests already held by latency faults; "
               "this one is not delayed",
               SB_PENDING_MAX);
        return MG_ERROR;
    }

    p = calloc(1, sizeof(sb_pending_t));
    if (p == NULL) {
        return MG_ERROR;
    }

    p->sb = sb;
    p->r = r;
    p->fault = *f;
    p->timer = mg_timer_add(f->latency_ms, pending_fire, p);
    p->next = sb->pending;
    sb->pending = p;
    sb->npending++;

    return MG_OK;
}

/* On shutdown: the held requests are let go without an answer. */
void
sb_pending_drop_all(sb_ctx_t *sb)
{
    sb_pending_t *p;

    while (sb->pending != NULL) {
        p = sb->pending;
        sb->pending = p->next;
        sb->npending--;

        mg_timer_cancel(p->timer);
        sb_reply(p->r, 503, NULL,
                 sb_error_envelope(10001, "Service Unavailable"));
        free(p);
    }
}

/*
 * Apply the fault of the request's route, if any.  Returns 1 when the
 * fault took the request (answered now or later), 0 when it goes on.
 */
int
sb_fault_intercept(sb_ctx_t *sb, mg_http_request_t *r)
{
    const char *method = mg_http_method_name(r);
    const char *path = mg_http_path(r) + strlen(SB_API_PREFIX);
    sb_fault_t *found, f;

    found = fault_find(sb, method, path);
    if (found == NULL) {
        return 0;
    }

    f = *found;
    if (found->count > 0 && --found->count == 0) {
        fault_remove(sb, (size_t)(found - sb->faults));
    }

    if (f.mode == SB_FAULT_NONE) {
        return 0;
    }

    mg_log(MG_LOG_INFO, "cfsandbox: fault %s on %s %s", mode_names[f.mode],
           method, path);

    if (f.latency_ms > 0 && defer(sb, r, &f) == MG_OK) {
        return 1;
    }

    if (f.mode == SB_FAULT_LATENCY) {
        return 0;
    }

    answer(r, &f);

    return 1;
}
