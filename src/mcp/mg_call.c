/*
 * The phase pipeline of a tool call.
 *
 *   AUTHN -> ACCESS -> CHECK -> LOG-PRE -> TOOL -> LOG
 *
 * Within a phase every handler runs in registration order; MG_OK and
 * MG_DECLINED both go on to the next handler, except in AUTHN, where the
 * first MG_OK establishes the caller and ends the phase.  MG_DENY stops
 * the call; MG_AGAIN parks it until mg_call_resume; MG_ERROR ends it
 * with an internal error.  LOG runs for every call that entered the
 * pipeline, whatever happened before, so every outcome is recorded.
 * In LOG-PRE an error denies the call: work that cannot be recorded is
 * not done.
 */

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_mcp.h"

mg_call_t *
mg_call_create(mg_exchange_t *ex)
{
    mg_call_t *call = mg_calloc(1, sizeof(mg_call_t));

    call->ex = ex;
    call->ctx = mg_calloc(mg_nmodules + 1, sizeof(void *));
    call->started = mg_msec_mono();

    return call;
}

void
mg_call_free(mg_call_t *call)
{
    size_t i;

    for (i = 0; i < call->nallocs; i++) {
        free(call->allocs[i]);
    }

    free(call->allocs);
    free(call->ctx);
    free(call->id_raw);
    free(call->progress_token);
    free(call->client);
    free(call->role);
    cJSON_Delete(call->structured);
    cJSON_Delete(call->content);
    free(call);
}

const char *
mg_call_tool(const mg_call_t *call)
{
    return call->tool_name;
}

const cJSON *
mg_call_arguments(const mg_call_t *call)
{
    return call->arguments;
}

const cJSON *
mg_call_meta(const mg_call_t *call)
{
    return call->meta;
}

const char *
mg_call_client(const mg_call_t *call)
{
    return call->client;
}

const char *
mg_call_role(const mg_call_t *call)
{
    return call->role;
}

const char *
mg_call_peer(const mg_call_t *call)
{
    return mg_exchange_peer(call->ex);
}

const char *
mg_call_header(const mg_call_t *call, const char *name)
{
    return mg_exchange_header(call->ex, name);
}

const char *
mg_call_id(const mg_call_t *call)
{
    return call->id_raw;
}

const char *
mg_call_session(const mg_call_t *call)
{
    return mg_exchange_session(call->ex);
}

int
mg_call_cancelled(const mg_call_t *call)
{
    return call->cancelled;
}

mg_phase_e
mg_call_phase(const mg_call_t *call)
{
    return call->phase;
}

int
mg_call_has_result(const mg_call_t *call)
{
    return call->structured != NULL || call->content != NULL;
}

int
mg_call_is_error(const mg_call_t *call)
{
    return call->is_error;
}

const cJSON *
mg_call_structured(const mg_call_t *call)
{
    return call->structured;
}

void
mg_call_set_client(mg_call_t *call, const char *name, const char *role)
{
    free(call->client);
    free(call->role);
    call->client = mg_strdup(name ? name : "");
    call->role = mg_strdup(role ? role : "user");
}

void *
mg_call_alloc(mg_call_t *call, size_t size)
{
    void *p = mg_calloc(1, size);

    call->allocs =
        mg_realloc(call->allocs, (call->nallocs + 1) * sizeof(void *));
    call->allocs[call->nallocs++] = p;

    return p;
}

char *
mg_call_strdup(mg_call_t *call, const char *s)
{
    size_t n = strlen(s);
    char *p = mg_call_alloc(call, n + 1);

    memcpy(p, s, n);

    return p;
}

static size_t
module_index(const mg_module_t *m)
{
    size_t i;

    for (i = 0; i < mg_nmodules; i++) {
        if (mg_modules[i].desc == m) {
            return i;
        }
    }

    return mg_nmodules;
}

void
mg_call_set_ctx(mg_call_t *call, const mg_module_t *m, void *data)
{
    call->ctx[module_index(m)] = data;
}

void *
mg_call_get_ctx(const mg_call_t *call, const mg_module_t *m)
{
    size_t i = module_index(m);

    return i < mg_nmodules ? call->ctx[i] : NULL;
}

void
mg_call_result(mg_call_t *call, cJSON *structured, int is_error)
{
    cJSON_Delete(call->structured);
    call->structured = structured;
    call->is_error = is_error ? 1 : 0;
}

void
mg_call_text(mg_call_t *call, const char *text)
{
    cJSON *block;

    if (call->content == NULL) {
        call->content = cJSON_CreateArray();
    }

    block = cJSON_CreateObject();
    cJSON_AddStringToObject(block, "type", "text");
    cJSON_AddStringToObject(block, "text", text);
    cJSON_AddItemToArray(call->content, block);
}

static void
set_error(mg_call_t *call, const char *code, cJSON *details, const char *msg)
{
    cJSON *root, *err;

    root = cJSON_CreateObject();
    err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "code", code);
    cJSON_AddStringToObject(err, "message", msg);
    if (details) {
        cJSON_AddItemToObject(err, "details", details);
    }

    mg_call_result(call, root, 1);
}

int
mg_call_error(mg_call_t *call, const char *code, cJSON *details,
              const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    set_error(call, code, details, msg);

    return MG_OK;
}

int
mg_call_deny(mg_call_t *call, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    set_error(call, code, NULL, msg);
    call->denied = 1;

    return MG_DENY;
}

void
mg_call_progress(mg_call_t *call, double progress, double total,
                 const char *message)
{
    cJSON *n, *params;
    char *text;

    if (call->progress_token == NULL || call->done) {
        return;
    }

    n = cJSON_CreateObject();
    cJSON_AddStringToObject(n, "jsonrpc", "2.0");
    cJSON_AddStringToObject(n, "method", "notifications/progress");
    params = cJSON_AddObjectToObject(n, "params");
    cJSON_AddItemToObject(params, "progressToken",
                          cJSON_CreateRaw(call->progress_token));
    cJSON_AddNumberToObject(params, "progress", progress);
    if (total > 0) {
        cJSON_AddNumberToObject(params, "total", total);
    }
    if (message) {
        cJSON_AddStringToObject(params, "message", message);
    }

    text = cJSON_PrintUnformatted(n);
    cJSON_Delete(n);

    mg_mcp_progress(call, text);
    free(text);
}

/* Where a call goes after a phase's handler said rc. */
static void
advance(mg_call_t *call, int rc)
{
    if (call->phase == MG_PHASE_LOG) {
        /* Outcome records cannot change the answer. */
        call->handler++;
        return;
    }

    switch (rc) {
    case MG_OK:
        if (call->phase == MG_PHASE_AUTHN) {
            call->phase++;
            call->handler = 0;
            return;
        }
        /* fall through */
    case MG_DECLINED:
        call->handler++;
        return;

    case MG_DENY:
        call->denied = 1;
        if (!mg_call_is_error(call)) {
            set_error(call, "denied", NULL, "the call was denied");
        }
        break;

    default:
        if (call->phase == MG_PHASE_LOG_PRE) {
            call->denied = 1;
            set_error(call, "audit_unavailable", NULL,
                      "the call was not run because it could not be "
                      "recorded; try again later");
        } else {
            set_error(call, "internal_error", NULL,
                      "the gateway failed while handling this call; see "
                      "its error log");
        }
        break;
    }

    call->phase = MG_PHASE_LOG;
    call->handler = 0;
}

/* Run one handler, or the tool itself at the end of the TOOL phase. */
static int
run_one(mg_call_t *call, int *ran_tool)
{
    mg_phase_entry_t *h;

    *ran_tool = 0;

    if (call->handler < mg_nphase_handlers[call->phase]) {
        h = &mg_phase_handlers[call->phase][call->handler];
        mg_log(MG_LOG_DEBUG, "call %s: phase %d handler of \"%s\"",
               call->tool_name, (int)call->phase, h->module->desc->name);
        return h->handler(call, h->module->ctx);
    }

    *ran_tool = 1;

    if (call->cancelled) {
        set_error(call, "cancelled", NULL, "the call was cancelled");
        return MG_DENY;
    }

    return call->entry->tool->handler(call, call->entry->module->ctx);
}

void
mg_call_run(mg_call_t *call)
{
    int rc, ran_tool;

    call->running = 1;

    while (!call->done) {
        if (call->phase == MG_PHASE_LOG &&
            call->handler >= mg_nphase_handlers[MG_PHASE_LOG]) {
            call->done = 1;
            break;
        }

        if (call->phase != MG_PHASE_TOOL &&
            call->handler >= mg_nphase_handlers[call->phase]) {
            call->phase++;
            call->handler = 0;
            continue;
        }

        call->resumed = 0;
        rc = run_one(call, &ran_tool);

        if (rc == MG_AGAIN) {
            if (!call->resumed) {
                call->waiting = 1;
                call->running = 0;
                return;
            }
            rc = call->resume_rc;
        }

        if (ran_tool) {
            /* The tool answered: its result stands, then LOG runs. */
            if (rc == MG_OK && !mg_call_has_result(call)) {
                set_error(call, "internal_error", NULL,
                          "the tool returned no result");
            } else if (rc == MG_DENY && !mg_call_is_error(call)) {
                set_error(call, "denied", NULL, "the call was denied");
            } else if (rc != MG_OK && rc != MG_DENY) {
                set_error(call, "internal_error", NULL,
                          "the tool failed; see the gateway's error log");
            }
            call->phase = MG_PHASE_LOG;
            call->handler = 0;
            continue;
        }

        advance(call, rc);
    }

    call->running = 0;
    mg_mcp_call_done(call);
}

void
mg_call_resume(mg_call_t *call, int rc)
{
    if (call->running) {
        /* Resumed before the handler even returned MG_AGAIN. */
        call->resumed = 1;
        call->resume_rc = rc;
        return;
    }

    if (!call->waiting) {
        mg_log(MG_LOG_ALERT, "mg_call_resume on a call that is not waiting");
        return;
    }

    call->waiting = 0;

    if (call->handler < mg_nphase_handlers[call->phase] ||
        call->phase != MG_PHASE_TOOL) {
        advance(call, rc);
    } else {
        /* The tool itself finished asynchronously. */
        if (rc == MG_OK && !mg_call_has_result(call)) {
            set_error(call, "internal_error", NULL,
                      "the tool returned no result");
        } else if (rc != MG_OK && rc != MG_DENY) {
            set_error(call, "internal_error", NULL,
                      "the tool failed; see the gateway's error log");
        } else if (rc == MG_DENY && !mg_call_is_error(call)) {
            set_error(call, "denied", NULL, "the call was denied");
        }
        call->phase = MG_PHASE_LOG;
        call->handler = 0;
    }

    mg_call_run(call);
}

static int print_json(mg_buf_t *out, const cJSON *item);

/* Append one byte: in place when it fits and there is no ceiling. */
static int
put_char(mg_buf_t *out, char c)
{
    if (out->cap - out->len < 2 || out->max) {
        return mg_buf_append(out, &c, 1);
    }

    out->data[out->len++] = c;
    out->data[out->len] = '\0';

    return MG_OK;
}

/* A JSON string, as cJSON prints it: a missing one as "". */
static int
print_string(mg_buf_t *out, const char *s)
{
    if (s == NULL) {
        s = "";
    }

    return mg_buf_append_json_quoted(out, s, strlen(s));
}

/*
 * A number, as cJSON prints it ("%1.15g" and a round-trip check with
 * sscanf).  Whole numbers under 1e15 come out as their digits either
 * way and are written here; cJSON prints the rest.
 */
static int
print_number(mg_buf_t *out, const cJSON *item)
{
    double d = item->valuedouble;
    char *text;
    int rc;

    /* The range first: converting a NaN or a huge double is undefined. */
    if (d > -1e15 && d < 1e15 && d == (double)(int64_t)d &&
        (d != 0 || !signbit(d))) {
        if (d < 0 && put_char(out, '-') != MG_OK) {
            return MG_ERROR;
        }
        return mg_buf_append_uint(out, (uint64_t)(d < 0 ? -d : d));
    }

    text = cJSON_PrintUnformatted(item);
    rc = text ? mg_buf_append_str(out, text) : MG_ERROR;
    free(text);

    return rc;
}

/* The members or elements of an object or array, comma-separated. */
static int
print_children(mg_buf_t *out, const cJSON *item, int object)
{
    const cJSON *child;

    for (child = item->child; child; child = child->next) {
        if (child != item->child && put_char(out, ',') != MG_OK) {
            return MG_ERROR;
        }

        if (object && (print_string(out, child->string) != MG_OK ||
                       put_char(out, ':') != MG_OK)) {
            return MG_ERROR;
        }

        if (print_json(out, child) != MG_OK) {
            return MG_ERROR;
        }
    }

    return MG_OK;
}

/*
 * Append item as cJSON_PrintUnformatted would print it, byte for byte,
 * without its intermediate copies and its sprintf/sscanf per number.
 * MG_ERROR where cJSON would fail too (an invalid item).
 */
static int
print_json(mg_buf_t *out, const cJSON *item)
{
    switch (item->type & 0xff) {
    case cJSON_NULL:
        return mg_buf_append(out, "null", 4);
    case cJSON_False:
        return mg_buf_append(out, "false", 5);
    case cJSON_True:
        return mg_buf_append(out, "true", 4);
    case cJSON_Number:
        return print_number(out, item);
    case cJSON_Raw:
        return item->valuestring ? mg_buf_append_str(out, item->valuestring)
                                 : MG_ERROR;
    case cJSON_String:
        return print_string(out, item->valuestring);
    case cJSON_Array:
        return put_char(out, '[') == MG_OK &&
                       print_children(out, item, 0) == MG_OK
                   ? put_char(out, ']')
                   : MG_ERROR;
    case cJSON_Object:
        return put_char(out, '{') == MG_OK &&
                       print_children(out, item, 1) == MG_OK
                   ? put_char(out, '}')
                   : MG_ERROR;
    }

    return MG_ERROR;
}

/* The structured result as JSON text; "null" when it cannot print. */
static void
print_structured(mg_buf_t *text, const cJSON *structured)
{
    if (print_json(text, structured) == MG_OK) {
        return;
    }

    text->len = 0;
    mg_buf_append_str(text, "null");
}

/* One content block of type text, its text JSON-escaped. */
static void
text_block(mg_buf_t *out, const char *text, size_t len)
{
    mg_buf_append_str(out, "{\"type\":\"text\",\"text\":\"");
    mg_buf_append_json(out, text, len);
    mg_buf_append_str(out, "\"}");
}

/*
 * The same text cJSON would print for the result object, built with one
 * print of the structured result: it goes in twice, escaped as the
 * first text block and as it is as structuredContent.
 */
void
mg_call_result_append(mg_call_t *call, mg_buf_t *out)
{
    static size_t structured_hint = 256;
    const cJSON *err, *msg, *block;
    mg_buf_t structured;
    size_t nblocks = 0;

    mg_buf_init(&structured, 0);

    if (call->structured) {
        /* Room for a result as long as the last one, grown at most once
         * or twice; then room in out for it twice, escaped and not. */
        mg_buf_reserve(&structured, structured_hint);
        print_structured(&structured, call->structured);
        structured_hint = structured.len < 65536 ? structured.len : 65536;
        mg_buf_reserve(out, 2 * structured.len + structured.len / 8 + 128);
    }

    mg_buf_append_str(out, "{\"content\":[");

    if (call->structured) {
        text_block(out, structured.data, structured.len);
        nblocks++;
    }

    /* An error also reads as plain words, for a model to act on. */
    err = cJSON_GetObjectItemCaseSensitive(call->structured, "error");
    msg = cJSON_GetObjectItemCaseSensitive(err, "message");
    if (call->is_error && cJSON_IsString(msg)) {
        mg_buf_append_str(out, nblocks++ ? "," : "");
        text_block(out, msg->valuestring, strlen(msg->valuestring));
    }

    cJSON_ArrayForEach(block, call->content)
    {
        mg_buf_append_str(out, nblocks++ ? "," : "");
        print_json(out, block);
    }

    mg_buf_append_str(out, "]");

    if (call->structured) {
        mg_buf_append_str(out, ",\"structuredContent\":");
        mg_buf_append(out, structured.data, structured.len);
    }

    mg_buf_free(&structured);

    mg_buf_append_str(out, call->is_error ? ",\"isError\":true}"
                                          : ",\"isError\":false}");
}
