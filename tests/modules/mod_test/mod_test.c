/*
 * A test-only module: an "echo" tool and a hook in every phase.
 *
 * Arguments of echo steer the hooks, so tests can prove the order of
 * the phases, a deny from any phase, and an asynchronous resume:
 *   text      echoed back
 *   deny_in   the phase whose hook denies ("authn", "access", ...)
 *   async_in  the phase whose hook finishes later from a timer
 *   delay_ms  the tool itself answers after this many milliseconds
 *   progress  the tool sends this many progress notifications first
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcpgw/mcpgw.h>

extern mg_module_t mg_module;

static const char *const phase_names[] = {
    "authn", "access", "check", "log_pre", "tool", "log",
};

typedef struct {
    char trail[128];
    const char *greeting;
    long calls;
} test_ctx_t;

typedef struct {
    mg_call_t *call;
    int rc;
    int left; /* progress notifications still to send */
    int delay;
} pending_t;

static const char *
arg_string(mg_call_t *call, const char *name)
{
    const cJSON *v;

    v = cJSON_GetObjectItemCaseSensitive(mg_call_arguments(call), name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int
arg_int(mg_call_t *call, const char *name)
{
    const cJSON *v;

    v = cJSON_GetObjectItemCaseSensitive(mg_call_arguments(call), name);

    return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* The order the phases ran in, kept with the call. */
static char *
trail(mg_call_t *call)
{
    char *t = mg_call_get_ctx(call, &mg_module);

    if (t == NULL) {
        t = mg_call_alloc(call, 128);
        mg_call_set_ctx(call, &mg_module, t);
    }

    return t;
}

static void
resume_later(void *arg)
{
    pending_t *p = arg;
    mg_call_t *call = p->call;
    int rc = p->rc;

    free(p);
    mg_call_resume(call, rc);
}

static int
hook(mg_call_t *call, mg_phase_e phase)
{
    const char *deny = arg_string(call, "deny_in");
    const char *async = arg_string(call, "async_in");
    const char *name = phase_names[phase];
    char *t = trail(call);
    pending_t *p;
    int rc;

    if (strlen(t) + strlen(name) + 2 < 128) {
        if (t[0]) {
            strcat(t, ",");
        }
        strcat(t, name);
    }

    rc = phase == MG_PHASE_AUTHN ? MG_DECLINED : MG_OK;

    if (deny && strcmp(deny, name) == 0) {
        rc =
            mg_call_deny(call, "test_denied", "denied by mod_test in %s", name);
    }

    if (async && strcmp(async, name) == 0) {
        p = calloc(1, sizeof(pending_t));
        p->call = call;
        p->rc = rc;
        mg_timer_add(50, resume_later, p);
        return MG_AGAIN;
    }

    return rc;
}

static int
hook_authn(mg_call_t *call, void *ctx)
{
    return hook(call, MG_PHASE_AUTHN);
}

static int
hook_access(mg_call_t *call, void *ctx)
{
    return hook(call, MG_PHASE_ACCESS);
}

static int
hook_check(mg_call_t *call, void *ctx)
{
    return hook(call, MG_PHASE_CHECK);
}

static int
hook_log_pre(mg_call_t *call, void *ctx)
{
    return hook(call, MG_PHASE_LOG_PRE);
}

static int
hook_tool(mg_call_t *call, void *ctx)
{
    return hook(call, MG_PHASE_TOOL);
}

static int
hook_log(mg_call_t *call, void *ctx)
{
    test_ctx_t *tc = ctx;
    int rc;

    rc = hook(call, MG_PHASE_LOG);
    snprintf(tc->trail, sizeof(tc->trail), "%s", trail(call));
    mg_log(MG_LOG_INFO, "mod_test: phases %s", tc->trail);

    return rc;
}

static void
echo_answer(mg_call_t *call, void *ctx)
{
    test_ctx_t *tc = ctx;
    const char *text = arg_string(call, "text");
    cJSON *res;

    tc->calls++;

    res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "text", text ? text : "");
    cJSON_AddStringToObject(res, "phases", trail(call));
    cJSON_AddStringToObject(res, "client", mg_call_client(call));
    cJSON_AddStringToObject(res, "greeting", tc->greeting);
    cJSON_AddNumberToObject(res, "calls", (double)tc->calls);

    mg_call_result(call, res, 0);
}

static test_ctx_t *module_ctx;

static void
echo_finish(void *arg)
{
    pending_t *p = arg;

    if (p->left > 0) {
        p->left--;
        mg_call_progress(p->call, 3 - p->left, 3, "working");
        mg_timer_add((unsigned)p->delay, echo_finish, p);
        return;
    }

    echo_answer(p->call, module_ctx);
    mg_call_resume(p->call, MG_OK);
    free(p);
}

static int
echo(mg_call_t *call, void *ctx)
{
    int delay = arg_int(call, "delay_ms");
    int progress = arg_int(call, "progress");
    pending_t *p;

    trail(call);
    if (arg_string(call, "text") == NULL) {
        return mg_call_error(call, "invalid_arguments", NULL,
                             "\"text\" is required: the string to echo");
    }

    if (delay <= 0 && progress <= 0) {
        echo_answer(call, ctx);
        return MG_OK;
    }

    p = calloc(1, sizeof(pending_t));
    p->call = call;
    p->left = progress > 3 ? 3 : progress;
    p->delay = delay > 0 ? delay : 10;
    mg_timer_add((unsigned)p->delay, echo_finish, p);

    return MG_AGAIN;
}

static int
configure(const mg_conf_t *conf, void **ctx)
{
    static const char *const known[] = {"greeting", NULL};
    test_ctx_t *tc;
    const char *greeting = "hello";

    if (mg_conf_only(conf, known) != MG_OK ||
        mg_conf_string(conf, "greeting", &greeting) == MG_ERROR) {
        return MG_ERROR;
    }

    tc = calloc(1, sizeof(test_ctx_t));
    tc->greeting = greeting;
    *ctx = tc;
    module_ctx = tc;

    return MG_OK;
}

static int
init(void *ctx)
{
    mg_log(MG_LOG_NOTICE, "mod_test: started");
    return MG_OK;
}

static void
module_exit(void *ctx)
{
    test_ctx_t *tc = ctx;

    mg_log(MG_LOG_NOTICE, "mod_test: unloaded after %ld calls",
           tc ? tc->calls : 0);
    free(tc);
    module_ctx = NULL;
}

static const mg_tool_t tools[] = {
    {
        "echo",
        "Echo",
        "Returns the text it is given, with the order in which the "
        "gateway's phases ran. For tests only.",
        "{\"type\":\"object\",\"properties\":{"
        "\"text\":{\"type\":\"string\"},"
        "\"deny_in\":{\"type\":\"string\"},"
        "\"async_in\":{\"type\":\"string\"},"
        "\"delay_ms\":{\"type\":\"integer\"},"
        "\"progress\":{\"type\":\"integer\"}},"
        "\"required\":[\"text\"]}",
        "{\"type\":\"object\",\"properties\":{"
        "\"text\":{\"type\":\"string\"},"
        "\"phases\":{\"type\":\"string\"},"
        "\"client\":{\"type\":\"string\"},"
        "\"greeting\":{\"type\":\"string\"},"
        "\"calls\":{\"type\":\"number\"},"
        "\"error\":{\"type\":\"object\"}}}",
        MG_TOOL_READ_ONLY | MG_TOOL_IDEMPOTENT,
        echo,
    },
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const mg_hook_t hooks[] = {
    {MG_PHASE_AUTHN, hook_authn}, {MG_PHASE_ACCESS, hook_access},
    {MG_PHASE_CHECK, hook_check}, {MG_PHASE_LOG_PRE, hook_log_pre},
    {MG_PHASE_TOOL, hook_tool},   {MG_PHASE_LOG, hook_log},
    {MG_PHASE_COUNT, NULL},
};

mg_module_t mg_module = {
    MG_MODULE_HEAD, "test", configure, init, module_exit, tools, hooks, NULL,
};
