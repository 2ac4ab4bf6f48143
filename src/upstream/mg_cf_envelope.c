/*
 * Reading Cloudflare's API envelope, and following its pagination.
 *
 * The envelope is trusted only when the whole body passes the gateway's
 * strict JSON check and holds a boolean "success": an empty, truncated
 * or foreign body is a failure with a message that says which, so a
 * write is never reported done on a body that does not say so.
 */

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mg_core.h"
#include "mg_json_check.h"

#include <mcpgw/upstream.h>

/* A message being composed into a fixed buffer, cut at a UTF-8 boundary. */
typedef struct {
    char *p;
    size_t len;
    size_t cap;
    int full;
} msg_t;

static void
msg_init(msg_t *m, char *buf, size_t cap)
{
    m->p = buf;
    m->len = 0;
    m->cap = cap;
    m->full = 0;
    buf[0] = '\0';
}

/*
 * Append n bytes of s; control characters (from decoded escapes in a
 * Cloudflare message) become spaces so the message stays one line.
 */
static void
msg_add(msg_t *m, const char *s, size_t n)
{
    static const char more[] = "...";
    size_t room, i;

    if (m->full) {
        return;
    }

    room = m->cap - 1 - m->len;
    if (n > room) {
        n = room >= sizeof(more) - 1 ? room - (sizeof(more) - 1) : 0;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) {
            n--;
        }
        m->full = 1;
    }

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        m->p[m->len++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }

    if (m->full) {
        room = m->cap - 1 - m->len;
        n = room < sizeof(more) - 1 ? room : sizeof(more) - 1;
        memcpy(m->p + m->len, more, n);
        m->len += n;
    }

    m->p[m->len] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
msg_printf(msg_t *m, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);

    if (n < 0) {
        return;
    }

    msg_add(m, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void
msg_str(msg_t *m, const char *s)
{
    msg_add(m, s, strlen(s));
}

/* An integer-valued JSON number within int range, or MG_DECLINED. */
static int
json_int(const cJSON *item, int *out)
{
    double v;

    if (!cJSON_IsNumber(item)) {
        return MG_DECLINED;
    }

    v = item->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < INT_MIN || v > INT_MAX) {
        return MG_DECLINED;
    }

    *out = (int)v;

    return MG_OK;
}

/* "<code>: <message>", for an item of errors[] or of an error_chain. */
static void
add_error_item(msg_t *m, const cJSON *item)
{
    const cJSON *message;
    int code;

    if (json_int(cJSON_GetObjectItemCaseSensitive(item, "code"), &code) ==
        MG_OK) {
        msg_printf(m, "%d: ", code);
    } else {
        msg_str(m, "(no code): ");
    }

    message = cJSON_GetObjectItemCaseSensitive(item, "message");
    if (cJSON_IsString(message) && message->valuestring[0] != '\0') {
        msg_str(m, message->valuestring);
    } else {
        msg_str(m, "(no message)");
    }
}

/*
 * "Cloudflare error 6003: Invalid request headers (caused by 6111:
 * Invalid format for Authorization header); Cloudflare error ...".
 */
static void
add_errors(msg_t *m, const cJSON *errors)
{
    const cJSON *item, *chain, *link;
    int first = 1;

    cJSON_ArrayForEach(item, errors)
    {
        if (!cJSON_IsObject(item)) {
            continue;
        }

        msg_str(m, first ? "Cloudflare error " : "; Cloudflare error ");
        first = 0;
        add_error_item(m, item);

        chain = cJSON_GetObjectItemCaseSensitive(item, "error_chain");
        if (!cJSON_IsArray(chain) || cJSON_GetArraySize(chain) == 0) {
            continue;
        }

        msg_str(m, " (caused by ");
        cJSON_ArrayForEach(link, chain)
        {
            if (link != chain->child) {
                msg_str(m, "; ");
            }
            add_error_item(m, link);
        }
        msg_str(m, ")");
    }

    if (first) {
        msg_str(m, "Cloudflare reported a failure without an error message");
    }
}

static int
is_blank(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            return 0;
        }
    }

    return 1;
}

/* "; retry after 30 s" for a rate limit, or what to do without a hint. */
static void
add_retry_hint(msg_t *m, const mg_cf_envelope_t *env)
{
    if (env->retry_after >= 0) {
        msg_printf(m, "; retry after %ld s", env->retry_after);
    } else {
        msg_str(m, "; retry later (no retry-after header)");
    }
}

static mg_cf_kind_e
kind_for(long status, mg_cf_kind_e otherwise)
{
    return status == 429 ? MG_CF_RATE_LIMITED : otherwise;
}

typedef enum {
    BODY_EMPTY,
    BODY_NOT_JSON,
    BODY_NOT_ENVELOPE
} body_problem_e;

/*
 * The body is not an envelope.  For a 2xx answer `detail` says why; for
 * an error status, the status comes first and then what the body was.
 */
static int
bad_body(const mg_upstream_response_t *res, mg_cf_envelope_t *env,
         body_problem_e problem, const char *detail)
{
    static const char *const what[] = {
        "an empty body",
        "a non-JSON body",
        "a JSON body that is not an API envelope",
    };
    msg_t m;
    long s = res->status;

    env->kind = kind_for(s, MG_CF_BAD_RESPONSE);
    msg_init(&m, env->message, sizeof(env->message));

    if (s == 429) {
        msg_str(&m, "rate limited by Cloudflare (HTTP 429)");
        add_retry_hint(&m, env);
    } else if (s >= 200 && s < 300) {
        msg_str(&m, detail);
        msg_str(&m, ": treated as a failure");
    } else if (problem == BODY_EMPTY) {
        msg_printf(&m, "Cloudflare answered HTTP %ld with an empty body", s);
    } else {
        msg_printf(&m, "Cloudflare answered HTTP %ld with %s (%s, %zu bytes)",
                   s, what[problem],
                   res->content_type ? res->content_type : "no content type",
                   res->body_len);
    }

    return MG_ERROR;
}

static int
transport_failure(const mg_upstream_response_t *res, mg_cf_envelope_t *env)
{
    msg_t m;

    env->kind = MG_CF_TRANSPORT;

    msg_init(&m, env->message, sizeof(env->message));
    msg_str(&m, res->error_text && res->error_text[0]
                    ? res->error_text
                    : "the request to Cloudflare failed");

    return MG_ERROR;
}

/* Parse the body into env->root after the strict check. */
static int
parse_body(const mg_upstream_response_t *res, mg_cf_envelope_t *env)
{
    char why[200], detail[300];

    if (res->body == NULL || is_blank(res->body, res->body_len)) {
        snprintf(detail, sizeof(detail),
                 "empty response body (HTTP %ld) from Cloudflare", res->status);
        return bad_body(res, env, BODY_EMPTY, detail);
    }

    if (mg_json_check(res->body, res->body_len, MG_JSON_MAX_DEPTH, why,
                      sizeof(why)) != MG_OK) {
        snprintf(detail, sizeof(detail),
                 "malformed JSON in Cloudflare's response (HTTP %ld, %zu "
                 "bytes): %s",
                 res->status, res->body_len, why);
        return bad_body(res, env, BODY_NOT_JSON, detail);
    }

    env->root = cJSON_ParseWithLength(res->body, res->body_len);
    if (env->root == NULL) {
        snprintf(detail, sizeof(detail),
                 "Cloudflare's response (HTTP %ld) could not be parsed",
                 res->status);
        return bad_body(res, env, BODY_NOT_JSON, detail);
    }

    return MG_OK;
}

static cJSON *
member(const cJSON *root, const char *name, int want_object)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);

    if (item == NULL || cJSON_IsNull(item)) {
        return NULL;
    }

    if (want_object && !cJSON_IsObject(item)) {
        return NULL;
    }

    return item;
}

/* A well-formed envelope: success false, or true with an error status. */
static int
refusal(mg_cf_envelope_t *env, const cJSON *success)
{
    msg_t m;
    long s = env->status;

    msg_init(&m, env->message, sizeof(env->message));

    if (cJSON_IsTrue(success)) {
        env->kind = kind_for(s, MG_CF_BAD_RESPONSE);
        msg_printf(&m, "Cloudflare answered HTTP %ld with \"success\": true",
                   s);
        if (s == 429) {
            add_retry_hint(&m, env);
        } else {
            msg_str(&m, ": treated as a failure");
        }
        return MG_ERROR;
    }

    env->kind = kind_for(s, MG_CF_API);
    add_errors(&m, env->errors);
    msg_printf(&m, " (HTTP %ld)", s);
    if (s == 429) {
        add_retry_hint(&m, env);
    }

    return MG_ERROR;
}

static int
envelope_read(const mg_upstream_response_t *res, mg_cf_envelope_t *env)
{
    const cJSON *success;
    char detail[300];

    if (res->error != MG_UP_OK || res->status == 0) {
        return transport_failure(res, env);
    }

    if (parse_body(res, env) != MG_OK) {
        return MG_ERROR;
    }

    success = cJSON_GetObjectItemCaseSensitive(env->root, "success");
    if (!cJSON_IsObject(env->root) || !cJSON_IsBool(success)) {
        snprintf(detail, sizeof(detail),
                 "Cloudflare's response (HTTP %ld) is not an API envelope: "
                 "no boolean \"success\"",
                 res->status);
        return bad_body(res, env, BODY_NOT_ENVELOPE, detail);
    }

    env->result = member(env->root, "result", 0);
    env->result_info = member(env->root, "result_info", 1);
    env->errors = member(env->root, "errors", 0);
    if (env->errors && !cJSON_IsArray(env->errors)) {
        env->errors = NULL;
    }
    if (env->errors && env->errors->child) {
        json_int(cJSON_GetObjectItemCaseSensitive(env->errors->child, "code"),
                 &env->cf_code);
    }

    if (cJSON_IsFalse(success) || res->status < 200 || res->status >= 300) {
        return refusal(env, success);
    }

    env->ok = 1;
    env->kind = MG_CF_OK;

    return MG_OK;
}

/*
 * Whether a write may have taken effect although no success came back.
 * A 429 and a 4xx are refusals; a 2xx without a readable envelope and
 * any 5xx leave it open.
 */
static int
is_ambiguous(const mg_upstream_response_t *res, const mg_cf_envelope_t *env)
{
    long s = res->status;

    switch (env->kind) {
    case MG_CF_OK:
    case MG_CF_RATE_LIMITED:
        return 0;

    case MG_CF_TRANSPORT:
        return res->sent != 0;

    case MG_CF_API:
        return s >= 500;

    default:
        return s < 300 || s >= 500;
    }
}

int
mg_cf_envelope_parse(const mg_upstream_response_t *res, mg_cf_envelope_t *env)
{
    int rc;

    memset(env, 0, sizeof(mg_cf_envelope_t));
    env->status = res->status;
    env->retry_after = res->retry_after;

    rc = envelope_read(res, env);
    env->ambiguous = is_ambiguous(res, env);

    return rc;
}

void
mg_cf_envelope_free(mg_cf_envelope_t *env)
{
    if (env == NULL) {
        return;
    }

    cJSON_Delete(env->root);
    env->root = NULL;
    env->result = NULL;
    env->result_info = NULL;
    env->errors = NULL;
}

/* A non-negative integer member: MG_OK, MG_DECLINED absent, MG_ERROR bad. */
static int
info_int(const cJSON *info, const char *name, int *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(info, name);

    if (item == NULL || cJSON_IsNull(item)) {
        return MG_DECLINED;
    }

    if (json_int(item, out) != MG_OK || *out < 0) {
        return MG_ERROR;
    }

    return MG_OK;
}

int
mg_cf_next_page(const cJSON *result_info, int page)
{
    int got_page, count, per_page, total_count, total_pages;
    int has_page, has_count, has_per_page, has_total_count, has_total_pages;
    long pages;

    if (!cJSON_IsObject(result_info) || page < 1 || page == INT_MAX) {
        return -1;
    }

    has_page = info_int(result_info, "page", &got_page);
    has_count = info_int(result_info, "count", &count);
    has_per_page = info_int(result_info, "per_page", &per_page);
    has_total_count = info_int(result_info, "total_count", &total_count);
    has_total_pages = info_int(result_info, "total_pages", &total_pages);

    if (has_page == MG_ERROR || has_count == MG_ERROR ||
        has_per_page == MG_ERROR || has_total_count == MG_ERROR ||
        has_total_pages == MG_ERROR) {
        return -1;
    }

    /* Another page than asked for: following it could loop forever. */
    if (has_page == MG_OK && got_page != page) {
        return -1;
    }

    if (has_count == MG_OK && count == 0) {
        return 0;
    }

    if (has_total_pages == MG_OK) {
        return page < total_pages ? page + 1 : 0;
    }

    if (has_total_count == MG_OK && has_per_page == MG_OK && per_page > 0) {
        pages = ((long)total_count + per_page - 1) / per_page;
        return page < pages ? page + 1 : 0;
    }

    if (has_count == MG_OK && has_per_page == MG_OK && per_page > 0) {
        return count < per_page ? 0 : page + 1;
    }

    return -1;
}
