/*
 * mod_cloudflare: the module descriptor, its configuration block, and
 * starting and stopping.
 *
 *   cloudflare = {
 *       api = "https://api.cloudflare.com/client/v4";
 *       token_file = "conf/cloudflare.token";  # or token_env = "NAME"
 *       connect_timeout = 5000;                # ms
 *       timeout = 30000;                       # ms, per request
 *       ca_file = "...";                       # optional CA bundle
 *       default_account = "<32 hex>";          # optional
 *       cache_ttl = 300;                       # seconds
 *       max_pages = 200;                       # per listing
 *   };
 *
 * The token is read while the configuration is checked, so "mcpgw -t"
 * reports a missing or malformed one; it is never logged, nor put in an
 * error message.  Whether Cloudflare accepts it is checked after start,
 * from the event loop, and logged; start-up never waits for Cloudflare.
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf_module.h"

/*
 * Long enough for the in-process sandbox to listen; the check runs on
 * the loop either way.
 */
#define CF_START_DELAY 10 /* ms */

static const char *const known_settings[] = {
    "api",     "token_file",      "token_env", "connect_timeout", "timeout",
    "ca_file", "default_account", "cache_ttl", "max_pages",       NULL,
};

static void
ctx_free(cf_ctx_t *cf)
{
    if (cf->secret) {
        explicit_bzero(cf->secret, strlen(cf->secret));
    }

    cf_ops_free_spare(cf);
    free(cf->secret);
    free(cf->api);
    free(cf->token_source);
    free(cf->ca_file);
    free(cf);
}

/* A token is printable ASCII without spaces: it goes in a header. */
static int
secret_valid(const char *s)
{
    size_t i;

    for (i = 0; s[i]; i++) {
        if (!isgraph((unsigned char)s[i])) {
            return 0;
        }
    }

    return i > 0 && i <= CF_SECRET_MAX;
}

/* The secret without the blanks and line ends around it, or NULL. */
static char *
secret_trim(const char *raw, size_t len)
{
    char *s;

    while (len && isspace((unsigned char)raw[len - 1])) {
        len--;
    }
    while (len && isspace((unsigned char)*raw)) {
        raw++;
        len--;
    }

    s = malloc(len + 1);
    if (s == NULL) {
        return NULL;
    }

    memcpy(s, raw, len);
    s[len] = '\0';

    return s;
}

static int
read_token_file(cf_ctx_t *cf, const mg_conf_t *at, const char *value)
{
    const char *path = mg_conf_path(value);
    char buf[CF_SECRET_MAX + 64];
    struct stat st;
    size_t n;
    FILE *fp;

    fp = fopen(path, "r");
    if (fp == NULL) {
        mg_conf_error(at, "cannot read token_file \"%s\": %s", path,
                      strerror(errno));
        return MG_ERROR;
    }

    n = fread(buf, 1, sizeof(buf), fp);
    if (fstat(fileno(fp), &st) == 0 && (st.st_mode & 077)) {
        cf->secret_shared = 1;
    }
    fclose(fp);

    cf->secret = secret_trim(buf, n);
    explicit_bzero(buf, sizeof(buf));

    if (n == sizeof(buf) || cf->secret == NULL || !secret_valid(cf->secret)) {
        mg_conf_error(at,
                      "token_file \"%s\" must hold one Cloudflare API token: "
                      "1 to %d printable characters without spaces, on one "
                      "line",
                      path, CF_SECRET_MAX);
        return MG_ERROR;
    }

    cf->token_source = malloc(strlen(value) + 16);
    if (cf->token_source) {
        sprintf(cf->token_source, "token_file \"%s\"", value);
    }

    return MG_OK;
}

static int
read_token_env(cf_ctx_t *cf, const mg_conf_t *at, const char *name)
{
    const char *v = getenv(name);

    if (v == NULL || v[0] == '\0') {
        mg_conf_error(at,
                      "token_env: the environment variable \"%s\" is not "
                      "set or empty; export the Cloudflare API token in it",
                      name);
        return MG_ERROR;
    }

    cf->secret = secret_trim(v, strlen(v));
    if (cf->secret == NULL || !secret_valid(cf->secret)) {
        mg_conf_error(at,
                      "token_env: the environment variable \"%s\" must hold "
                      "one Cloudflare API token: 1 to %d printable "
                      "characters without spaces",
                      name, CF_SECRET_MAX);
        return MG_ERROR;
    }

    cf->token_source = malloc(strlen(name) + 16);
    if (cf->token_source) {
        sprintf(cf->token_source, "token_env %s", name);
    }

    return MG_OK;
}

/* Exactly one of token_file and token_env. */
static int
conf_token(cf_ctx_t *cf, const mg_conf_t *conf)
{
    const char *file = NULL, *env = NULL;

    if (mg_conf_string(conf, "token_file", &file) == MG_ERROR ||
        mg_conf_string(conf, "token_env", &env) == MG_ERROR) {
        return MG_ERROR;
    }

    if (file && env) {
        mg_conf_error(mg_conf_child(conf, "token_env"),
                      "give token_file or token_env, not both");
        return MG_ERROR;
    }

    if (file == NULL && env == NULL) {
        mg_conf_error(conf,
                      "cloudflare needs the gateway's API token: set "
                      "token_file (a file holding it) or token_env (the "
                      "environment variable holding it)");
        return MG_ERROR;
    }

    if (file) {
        return read_token_file(cf, mg_conf_child(conf, "token_file"), file);
    }

    return read_token_env(cf, mg_conf_child(conf, "token_env"), env);
}

static int
conf_number(const mg_conf_t *conf, const char *name, long min, long max,
            const char *unit, long *out)
{
    long long v;
    int rc = mg_conf_int(conf, name, &v);

    if (rc == MG_ERROR) {
        return MG_ERROR;
    }

    if (rc == MG_DECLINED) {
        return MG_OK;
    }

    if (v < min || v > max) {
        mg_conf_error(mg_conf_child(conf, name),
                      "%s must be from %ld to %ld %s, not %lld", name, min, max,
                      unit, v);
        return MG_ERROR;
    }

    *out = (long)v;

    return MG_OK;
}

static int
conf_api(cf_ctx_t *cf, const mg_conf_t *conf)
{
    const char *api = CF_DEFAULT_API;
    size_t n;

    if (mg_conf_string(conf, "api", &api) == MG_ERROR) {
        return MG_ERROR;
    }

    if (strncmp(api, "https://", 8) != 0 && strncmp(api, "http://", 7) != 0) {
        mg_conf_error(mg_conf_child(conf, "api"),
                      "api must be an http:// or https:// URL such as \"%s\"",
                      CF_DEFAULT_API);
        return MG_ERROR;
    }

    cf->api = strdup(api);
    if (cf->api == NULL) {
        return MG_ERROR;
    }

    /* Request paths start with '/'. */
    n = strlen(cf->api);
    while (n > 8 && cf->api[n - 1] == '/') {
        cf->api[--n] = '\0';
    }

    return MG_OK;
}

static int
conf_optional(cf_ctx_t *cf, const mg_conf_t *conf)
{
    const char *ca = NULL, *account = NULL, *path;

    if (mg_conf_string(conf, "ca_file", &ca) == MG_ERROR ||
        mg_conf_string(conf, "default_account", &account) == MG_ERROR) {
        return MG_ERROR;
    }

    if (ca) {
        path = mg_conf_path(ca);
        if (access(path, R_OK) != 0) {
            mg_conf_error(mg_conf_child(conf, "ca_file"),
                          "cannot read ca_file \"%s\": %s", path,
                          strerror(errno));
            return MG_ERROR;
        }
        cf->ca_file = strdup(path);
    }

    if (account) {
        if (!cf_is_id(account)) {
            mg_conf_error(mg_conf_child(conf, "default_account"),
                          "default_account must be an account id: 32 "
                          "lowercase hexadecimal characters");
            return MG_ERROR;
        }
        snprintf(cf->default_account, sizeof(cf->default_account), "%s",
                 account);
    }

    return MG_OK;
}

static int
configure(const mg_conf_t *conf, void **ctx)
{
    long max_pages = CF_DEFAULT_MAX_PAGES;
    cf_ctx_t *cf;
    int bad;

    if (conf == NULL) {
        mg_conf_error(NULL,
                      "module \"cloudflare\" needs a block: cloudflare = { "
                      "api = \"%s\"; token_file = \"...\"; };",
                      CF_DEFAULT_API);
        return MG_ERROR;
    }

    cf = calloc(1, sizeof(cf_ctx_t));
    if (cf == NULL) {
        return MG_ERROR;
    }

    cf->connect_timeout = MG_UPSTREAM_CONNECT_TIMEOUT;
    cf->timeout = MG_UPSTREAM_TIMEOUT;
    cf->cache_ttl = CF_DEFAULT_CACHE_TTL;

    /* Every setting is checked, so that "mcpgw -t" lists all errors. */
    bad = mg_conf_only(conf, known_settings) != MG_OK;
    bad += conf_api(cf, conf) != MG_OK;
    bad += conf_token(cf, conf) != MG_OK;
    bad += conf_optional(cf, conf) != MG_OK;
    bad += conf_number(conf, "connect_timeout", 1, 600000, "ms",
                       &cf->connect_timeout) != MG_OK;
    bad +=
        conf_number(conf, "timeout", 1, 3600000, "ms", &cf->timeout) != MG_OK;
    bad += conf_number(conf, "cache_ttl", 1, 86400, "seconds",
                       &cf->cache_ttl) != MG_OK;
    bad +=
        conf_number(conf, "max_pages", 1, 10000, "pages", &max_pages) != MG_OK;

    if (bad) {
        ctx_free(cf);
        return MG_ERROR;
    }

    cf->max_pages = (int)max_pages;
    cf_cache_init(&cf->cache, cf);
    *ctx = cf;

    return MG_OK;
}

static void
start_fire(void *arg)
{
    cf_ctx_t *cf = arg;

    cf->start_timer = NULL;

    cf_cache_start(&cf->cache);
    cf_verify_start(cf);
}

static int
api_is_loopback(const char *api)
{
    return strncmp(api, "http://127.", 11) == 0 ||
           strncmp(api, "http://localhost", 16) == 0 ||
           strncmp(api, "http://[::1]", 12) == 0;
}

static int
init(void *ctx)
{
    cf_ctx_t *cf = ctx;
    mg_upstream_conf_t uc;
    char err[512];

    memset(&uc, 0, sizeof(uc));
    uc.base_url = cf->api;
    uc.connect_timeout_ms = (unsigned)cf->connect_timeout;
    uc.timeout_ms = (unsigned)cf->timeout;
    uc.ca_file = cf->ca_file;

    cf->up = mg_upstream_create(&uc, err, sizeof(err));
    if (cf->up == NULL) {
        mg_log(MG_LOG_ERR, "cloudflare: cannot use api \"%s\": %s", cf->api,
               err);
        return MG_ERROR;
    }

    /* The sandbox's seed token is no secret; a real one is. */
    if (cf->secret_shared && !api_is_loopback(cf->api)) {
        mg_log(MG_LOG_NOTICE,
               "cloudflare: %s can be read by other users of this machine; "
               "make it readable by the gateway only (chmod 600)",
               cf->token_source);
    }

    /* After the listeners are up, so an in-process sandbox answers. */
    cf->start_timer = mg_timer_add(CF_START_DELAY, start_fire, cf);

    mg_log(MG_LOG_INFO, "cloudflare: API %s, token from %s", cf->api,
           cf->token_source);

    return MG_OK;
}

/*
 * Every call still waiting on Cloudflare is answered ("the gateway is
 * shutting down") and resumed before the upstream goes, and every timer
 * is cancelled, so nothing is left behind.
 */
static void
module_exit(void *ctx)
{
    cf_ctx_t *cf = ctx;

    if (cf == NULL) {
        return;
    }

    cf->closing = 1;

    mg_timer_cancel(cf->start_timer);
    cf->start_timer = NULL;

    cf_fetch_abort_all(cf);
    cf_cache_stop(&cf->cache);
    cf_verify_stop(cf);
    cf_ops_shutdown(cf);

    mg_upstream_destroy(cf->up);
    cf->up = NULL;

    ctx_free(cf);
}

/* The read and the write tools, as one table for the descriptor. */
static mg_tool_t cf_tools[16];

__attribute__((constructor)) static void
tools_table(void)
{
    const mg_tool_t *t;
    size_t n = 0;

    for (t = cf_read_tools; t->name; t++) {
        cf_tools[n++] = *t;
    }
    for (t = cf_write_tools; t->name && n + 1 < 16; t++) {
        cf_tools[n++] = *t;
    }
}

mg_module_t mg_module = {
    MG_MODULE_HEAD, "cloudflare", configure, init,
    module_exit,    cf_tools,     NULL,      NULL,
};
