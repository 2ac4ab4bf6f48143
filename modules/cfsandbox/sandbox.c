/*
 * mod_cfsandbox: the module, its configuration, and the listener that
 * sends each request to the API, the faults or the control endpoint.
 *
 *   cfsandbox = {
 *       listen = "127.0.0.1:8788";          # serves /client/v4
 *       seed_token_file = "conf/sandbox.token";
 *       user_id = "<32 hex>";
 *       rate_limit = 1200;                  # per token per 5 min; 0 off
 *       accounts = ( { id = "..."; name = "..."; } );
 *       zones = ( { id = "..."; name = "example.com"; account = "..."; } );
 *       faults = ( { route = "GET /user/tokens"; mode = "status5xx";
 *                    status = 503; } );
 *   };
 */

#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

#define LISTEN_DEFAULT "127.0.0.1:8788"
#define RATE_LIMIT_DEFAULT 1200

static void
sandbox_free(sb_ctx_t *sb)
{
    size_t i;

    if (sb == NULL) {
        return;
    }

    sb_pending_drop_all(sb);
    sb_store_clear(sb);

    for (i = 0; i < sb->naccounts; i++) {
        free(sb->accounts[i].name);
    }

    for (i = 0; i < sb->nzones; i++) {
        free(sb->zones[i].name);
    }

    free(sb->accounts);
    free(sb->zones);
    free(sb->listen);
    free(sb);
}

static int
conf_faults(sb_ctx_t *sb, const mg_conf_t *list)
{
    int i, n = mg_conf_length(list);

    if (n > SB_FAULTS_MAX) {
        mg_conf_error(list, "\"faults\" may list at most %d faults",
                      SB_FAULTS_MAX);
        return MG_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (sb_fault_from_conf(mg_conf_elem(list, i), &sb->conf_faults[i]) !=
            MG_OK) {
            return MG_ERROR;
        }
    }

    sb->nconf_faults = (size_t)n;

    return MG_OK;
}

static int
conf_settings(sb_ctx_t *sb, const mg_conf_t *conf)
{
    static const char *const known[] = {
        "listen",   "seed_token_file", "user_id", "rate_limit",
        "accounts", "zones",           "faults",  NULL,
    };
    const char *listen = LISTEN_DEFAULT;
    long long rate = RATE_LIMIT_DEFAULT;

    if (mg_conf_only(conf, known) != MG_OK ||
        mg_conf_string(conf, "listen", &listen) == MG_ERROR ||
        mg_conf_int(conf, "rate_limit", &rate) == MG_ERROR) {
        return MG_ERROR;
    }

    if (rate < 0 || rate > 1000000) {
        mg_conf_error(mg_conf_child(conf, "rate_limit"),
                      "\"rate_limit\" must be 0 (off) to 1000000 requests "
                      "per token per 5 minutes");
        return MG_ERROR;
    }

    sb->listen = strdup(listen);
    sb->rate_limit = (long)rate;

    return sb->listen ? MG_OK : MG_ERROR;
}

static int
configure(const mg_conf_t *conf, void **ctx)
{
    const mg_conf_t *faults = mg_conf_child(conf, "faults");
    sb_ctx_t *sb;

    sb = calloc(1, sizeof(sb_ctx_t));
    if (sb == NULL) {
        return MG_ERROR;
    }

    sb->started = time(NULL);

    if (conf_settings(sb, conf) != MG_OK ||
        sb_seed_configure(sb, conf) != MG_OK ||
        (faults && conf_faults(sb, faults) != MG_OK) || sb_reset(sb) != MG_OK) {
        sandbox_free(sb);
        return MG_ERROR;
    }

    *ctx = sb;

    return MG_OK;
}

static int
is_api(const char *path)
{
    size_t n = strlen(SB_API_PREFIX);

    return strncmp(path, SB_API_PREFIX, n) == 0 &&
           (path[n] == '\0' || path[n] == '/');
}

static void
handle(mg_http_request_t *r)
{
    sb_ctx_t *sb = mg_http_request_data(r);
    const char *path = mg_http_path(r);

    if (strncmp(path, SB_CONTROL_PREFIX, strlen(SB_CONTROL_PREFIX)) == 0) {
        sb_control_handle(sb, r);
        return;
    }

    if (!is_api(path)) {
        sb_reply(r, 404, NULL, sb_error_envelope(7003, "No route for the URI"));
        return;
    }

    if (!sb_fault_intercept(sb, r)) {
        sb_api_handle(sb, r);
    }
}

static int
init(void *ctx)
{
    sb_ctx_t *sb = ctx;

    sb->listener = mg_http_listen_simple(sb->listen, handle, sb);
    if (sb->listener == NULL) {
        mg_log(MG_LOG_EMERG,
               "cfsandbox: cannot listen on %s; change \"listen\" in the "
               "cfsandbox block, and cloudflare.api to match",
               sb->listen);
        return MG_ERROR;
    }

    mg_log(MG_LOG_NOTICE,
           "cfsandbox: Cloudflare API sandbox on http://%s" SB_API_PREFIX
           ", %zu accounts, %zu zones",
           sb->listen, sb->naccounts, sb->nzones);

    return MG_OK;
}

static void
module_exit(void *ctx)
{
    sandbox_free(ctx);
}

mg_module_t mg_module = {
    MG_MODULE_HEAD, "cfsandbox", configure, init, module_exit, NULL, NULL, NULL,
};
