/*
 * Configuration: libconfig underneath, strict checks on top.  Every
 * setting is known, typed and ranged; a stray or misspelt one is an
 * error with its file and line, never silently ignored.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_conf.h"

mg_config_t *mg_config;
int mg_conf_errors;

const char *mg_prefix = "./";

/* The public mg_conf_t is a libconfig setting underneath. */
#define LC(c) ((config_setting_t *)(c))

static const char *
setting_file(const config_setting_t *s)
{
    const char *f = config_setting_source_file(s);

    if (f == NULL && mg_config) {
        f = mg_config->file;
    }

    return f ? f : "configuration";
}

void
mg_conf_error(const mg_conf_t *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (c) {
        fprintf(stderr, "%s:%u: %s\n", setting_file(LC(c)),
                config_setting_source_line(LC(c)), msg);
    } else {
        fprintf(stderr, "%s: %s\n",
                mg_config && mg_config->file ? mg_config->file
                                             : "configuration",
                msg);
    }

    mg_conf_errors++;
}

static const char *
type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP:
        return "a group { ... }";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a number";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "true or false";
    case CONFIG_TYPE_ARRAY:
        return "an array [ ... ]";
    case CONFIG_TYPE_LIST:
        return "a list ( ... )";
    default:
        return "a value";
    }
}

/* Look up a member and check its type; errors are reported here. */
static config_setting_t *
member(const mg_conf_t *c, const char *name, int type, int *rc)
{
    config_setting_t *s;
    int t;

    *rc = MG_DECLINED;
    if (c == NULL) {
        return NULL;
    }

    s = config_setting_get_member(LC(c), name);
    if (s == NULL) {
        return NULL;
    }

    t = config_setting_type(s);
    if (t == CONFIG_TYPE_INT64) {
        t = CONFIG_TYPE_INT;
    }

    if (t != type) {
        mg_conf_error((mg_conf_t *)s, "\"%s\" must be %s, not %s", name,
                      type_name(type), type_name(config_setting_type(s)));
        *rc = MG_ERROR;
        return NULL;
    }

    *rc = MG_OK;

    return s;
}

int
mg_conf_string(const mg_conf_t *c, const char *name, const char **out)
{
    config_setting_t *s;
    int rc;

    s = member(c, name, CONFIG_TYPE_STRING, &rc);
    if (s) {
        *out = config_setting_get_string(s);
    }

    return rc;
}

int
mg_conf_int(const mg_conf_t *c, const char *name, long long *out)
{
    config_setting_t *s;
    int rc;

    s = member(c, name, CONFIG_TYPE_INT, &rc);
    if (s) {
        *out = config_setting_get_int64(s);
    }

    return rc;
}

int
mg_conf_bool(const mg_conf_t *c, const char *name, int *out)
{
    config_setting_t *s;
    int rc;

    s = member(c, name, CONFIG_TYPE_BOOL, &rc);
    if (s) {
        *out = config_setting_get_bool(s);
    }

    return rc;
}

const mg_conf_t *
mg_conf_child(const mg_conf_t *c, const char *name)
{
    if (c == NULL) {
        return NULL;
    }

    return (const mg_conf_t *)config_setting_get_member(LC(c), name);
}

int
mg_conf_length(const mg_conf_t *c)
{
    return c ? config_setting_length(LC(c)) : 0;
}

const mg_conf_t *
mg_conf_elem(const mg_conf_t *c, int i)
{
    return c ? (const mg_conf_t *)config_setting_get_elem(LC(c), (unsigned)i)
             : NULL;
}

const char *
mg_conf_name(const mg_conf_t *c)
{
    return c ? config_setting_name(LC(c)) : NULL;
}

const char *
mg_conf_value_string(const mg_conf_t *c)
{
    if (c == NULL || config_setting_type(LC(c)) != CONFIG_TYPE_STRING) {
        return NULL;
    }

    return config_setting_get_string(LC(c));
}

int
mg_conf_only(const mg_conf_t *c, const char *const *known)
{
    config_setting_t *s;
    const char *name;
    int i, n, k, rc = MG_OK;

    if (c == NULL) {
        return MG_OK;
    }

    n = config_setting_length(LC(c));
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(LC(c), (unsigned)i);
        name = config_setting_name(s);

        for (k = 0; known[k]; k++) {
            if (name && strcmp(name, known[k]) == 0) {
                break;
            }
        }

        if (known[k] == NULL) {
            mg_conf_error((mg_conf_t *)s, "unknown setting \"%s\"",
                          name ? name : "(unnamed)");
            rc = MG_ERROR;
        }
    }

    return rc;
}

char *
mg_conf_resolve(const char *path)
{
    size_t n;
    char *p;

    if (path[0] == '/') {
        return mg_strdup(path);
    }

    n = strlen(mg_prefix) + strlen(path) + 1;
    p = mg_alloc(n);
    snprintf(p, n, "%s%s", mg_prefix, path);

    return p;
}

/* Paths handed to modules stay valid until the configuration is freed. */
static char **resolved;
static size_t nresolved;

const char *
mg_conf_path(const char *path)
{
    char *p = mg_conf_resolve(path);

    resolved = mg_realloc(resolved, (nresolved + 1) * sizeof(char *));
    resolved[nresolved++] = p;

    return p;
}

/* A string setting copied out, with a default. */
static char *
get_string(const mg_conf_t *c, const char *name, const char *dflt)
{
    const char *v = NULL;

    if (mg_conf_string(c, name, &v) == MG_OK) {
        if (v[0] == '\0') {
            mg_conf_error(mg_conf_child(c, name), "\"%s\" must not be empty",
                          name);
        }
        return mg_strdup(v);
    }

    return dflt ? mg_strdup(dflt) : NULL;
}

/* An integer setting within [min, max], with a default. */
static long long
get_int(const mg_conf_t *c, const char *name, long long dflt, long long min,
        long long max)
{
    long long v = 0;

    if (mg_conf_int(c, name, &v) != MG_OK) {
        return dflt;
    }

    if (v < min || v > max) {
        mg_conf_error(mg_conf_child(c, name),
                      "\"%s\" is %lld; it must be between %lld and %lld", name,
                      v, min, max);
        return dflt;
    }

    return v;
}

static int
get_bool(const mg_conf_t *c, const char *name, int dflt)
{
    int v = 0;

    if (mg_conf_bool(c, name, &v) != MG_OK) {
        return dflt;
    }

    return v;
}

/* An array of strings; a single string is taken as a one-element array. */
static char **
get_strings(const mg_conf_t *c, const char *name, size_t *count)
{
    const mg_conf_t *s;
    const char *v;
    char **list;
    int i, n, t;

    *count = 0;
    s = mg_conf_child(c, name);
    if (s == NULL) {
        return NULL;
    }

    t = config_setting_type(LC(s));
    if (t == CONFIG_TYPE_STRING) {
        list = mg_calloc(1, sizeof(char *));
        list[0] = mg_strdup(config_setting_get_string(LC(s)));
        *count = 1;
        return list;
    }

    if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
        mg_conf_error(s, "\"%s\" must be an array of strings [ \"...\" ]",
                      name);
        return NULL;
    }

    n = mg_conf_length(s);
    list = mg_calloc((size_t)n + 1, sizeof(char *));
    for (i = 0; i < n; i++) {
        v = mg_conf_value_string(mg_conf_elem(s, i));
        if (v == NULL) {
            mg_conf_error(mg_conf_elem(s, i),
                          "every element of \"%s\" must be a string", name);
            continue;
        }
        list[(*count)++] = mg_strdup(v);
    }

    return list;
}

static void
free_strings(char **list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(list[i]);
    }
    free(list);
}

static const mg_conf_t *
group(const mg_conf_t *root, const char *name)
{
    const mg_conf_t *s = mg_conf_child(root, name);

    if (s && config_setting_type(LC(s)) != CONFIG_TYPE_GROUP) {
        mg_conf_error(s, "\"%s\" must be a group { ... }", name);
        return NULL;
    }

    return s;
}

static void
load_error_log(mg_config_t *cf, const mg_conf_t *root)
{
    static const char *const known[] = {"path", "level", NULL};
    const mg_conf_t *g = group(root, "error_log");
    const char *level = NULL;

    mg_conf_only(g, known);
    cf->error_log = get_string(g, "path", "logs/error.log");
    cf->log_level = MG_LOG_NOTICE;

    if (mg_conf_string(g, "level", &level) == MG_OK) {
        cf->log_level = mg_log_level_parse(level);
        if (cf->log_level < 0) {
            mg_conf_error(mg_conf_child(g, "level"),
                          "unknown log level \"%s\"; use one of emerg, "
                          "alert, crit, error, warn, notice, info, debug",
                          level);
            cf->log_level = MG_LOG_NOTICE;
        }
    }
}

static void
load_modules(mg_config_t *cf, const mg_conf_t *root)
{
    static const char *const known[] = {"path", "load", NULL};
    const mg_conf_t *g = group(root, "modules");
    size_t i, j;

    mg_conf_only(g, known);
    cf->modules_path = get_string(g, "path", "objs/modules");
    cf->modules = get_strings(g, "load", &cf->nmodules);

    for (i = 0; i < cf->nmodules; i++) {
        for (j = 0; j < i; j++) {
            if (strcmp(cf->modules[i], cf->modules[j]) == 0) {
                mg_conf_error(mg_conf_child(g, "load"),
                              "module \"%s\" is listed twice", cf->modules[i]);
            }
        }
    }
}

static void
load_http(mg_config_t *cf, const mg_conf_t *root)
{
    static const char *const known[] = {
        "listen",         "max_header_size",  "max_body_size",
        "header_timeout", "body_timeout",     "keepalive_timeout",
        "max_requests",   "shutdown_timeout", NULL,
    };
    const mg_conf_t *g = group(root, "http");
    mg_http_limits_t *l = &cf->limits;

    mg_conf_only(g, known);
    cf->listen = get_strings(g, "listen", &cf->nlisten);
    if (cf->nlisten == 0) {
        free(cf->listen);
        cf->listen = mg_calloc(1, sizeof(char *));
        cf->listen[0] = mg_strdup("127.0.0.1:8787");
        cf->nlisten = 1;
    }

    l->max_header_size =
        (size_t)get_int(g, "max_header_size", 16384, 1024, 1048576);
    l->max_body_size =
        (size_t)get_int(g, "max_body_size", 1048576, 1024, 67108864);
    l->header_timeout_ms =
        (unsigned)get_int(g, "header_timeout", 10000, 100, 600000);
    l->body_timeout_ms =
        (unsigned)get_int(g, "body_timeout", 30000, 100, 600000);
    l->keepalive_timeout_ms =
        (unsigned)get_int(g, "keepalive_timeout", 75000, 100, 3600000);
    l->max_requests = (unsigned)get_int(g, "max_requests", 10000, 0, 100000000);
    cf->shutdown_timeout =
        (unsigned)get_int(g, "shutdown_timeout", 10000, 0, 600000);
}

static void
load_mcp(mg_config_t *cf, const mg_conf_t *root)
{
    static const char *const known[] = {
        "path",      "session_key_file", "create_keys",   "session_ttl",
        "page_size", "allowed_origins",  "allowed_hosts", NULL,
    };
    const mg_conf_t *g = group(root, "mcp");

    mg_conf_only(g, known);
    cf->mcp_path = get_string(g, "path", "/mcp");
    if (cf->mcp_path[0] != '/') {
        mg_conf_error(mg_conf_child(g, "path"),
                      "\"path\" must start with \"/\", as in \"/mcp\"");
    }

    cf->session_key_file =
        get_string(g, "session_key_file", "keys/session.key");
    cf->create_keys = get_bool(g, "create_keys", 0);
    cf->session_ttl = (long)get_int(g, "session_ttl", 86400, 60, 2592000);
    cf->page_size = (long)get_int(g, "page_size", 100, 1, 1000);
    cf->origins = get_strings(g, "allowed_origins", &cf->norigins);
    cf->hosts = get_strings(g, "allowed_hosts", &cf->nhosts);
}

static int
is_hex64(const char *s)
{
    size_t i;

    for (i = 0; i < 64; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }

    return s[64] == '\0';
}

static void
load_clients(mg_config_t *cf, const mg_conf_t *root)
{
    static const char *const known[] = {"anonymous", "keys", NULL};
    static const char *const anon_known[] = {"enabled", "role", NULL};
    static const char *const key_known[] = {"name", "sha256", "role", NULL};
    const mg_conf_t *g, *a, *keys, *k;
    mg_client_conf_t *c;
    int i, n;

    g = group(root, "clients");
    mg_conf_only(g, known);

    a = group(g, "anonymous");
    mg_conf_only(a, anon_known);
    cf->anonymous = get_bool(a, "enabled", 0);
    cf->anonymous_role = get_string(a, "role", "user");

    keys = mg_conf_child(g, "keys");
    if (keys == NULL) {
        return;
    }

    if (config_setting_type(LC(keys)) != CONFIG_TYPE_LIST) {
        mg_conf_error(keys,
                      "\"keys\" must be a list ( { name = ...; "
                      "sha256 = ...; role = ...; }, ... )");
        return;
    }

    n = mg_conf_length(keys);
    cf->clients = mg_calloc((size_t)n + 1, sizeof(mg_client_conf_t));

    for (i = 0; i < n; i++) {
        k = mg_conf_elem(keys, i);
        if (config_setting_type(LC(k)) != CONFIG_TYPE_GROUP) {
            mg_conf_error(k, "each client key must be a group { ... }");
            continue;
        }

        mg_conf_only(k, key_known);
        c = &cf->clients[cf->nclients++];
        c->name = get_string(k, "name", NULL);
        c->key_hash = get_string(k, "sha256", NULL);
        c->role = get_string(k, "role", "user");

        if (c->name == NULL) {
            mg_conf_error(k, "client key needs a \"name\"");
        }

        if (c->key_hash == NULL || !is_hex64(c->key_hash)) {
            mg_conf_error(k,
                          "client key needs \"sha256\": 64 lower-case hex "
                          "digits, as printed by \"mcpgw -k NAME\"");
        }
    }
}

static int
module_listed(const mg_config_t *cf, const char *name)
{
    size_t i;

    for (i = 0; i < cf->nmodules; i++) {
        if (strcmp(cf->modules[i], name) == 0) {
            return 1;
        }
    }

    return 0;
}

/* Top-level settings: the core's own, plus one block per loaded module. */
static void
check_top_level(mg_config_t *cf, const mg_conf_t *root)
{
    static const char *const known[] = {
        "error_log", "access_log", "pid",     "modules",
        "http",      "mcp",        "clients", NULL,
    };
    config_setting_t *s;
    const char *name;
    int i, n, k;

    n = config_setting_length(LC(root));
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(LC(root), (unsigned)i);
        name = config_setting_name(s);

        for (k = 0; known[k]; k++) {
            if (strcmp(name, known[k]) == 0) {
                break;
            }
        }

        if (known[k] || module_listed(cf, name)) {
            continue;
        }

        mg_conf_error((mg_conf_t *)s, "unknown setting \"%s\"%s", name,
                      config_setting_type(s) == CONFIG_TYPE_GROUP
                          ? "; if it configures a module, add the module "
                            "to modules.load"
                          : "");
    }
}

mg_config_t *
mg_conf_load(const char *file)
{
    mg_config_t *cf;
    const mg_conf_t *root;

    cf = mg_calloc(1, sizeof(mg_config_t));
    cf->file = mg_strdup(file);
    mg_config = cf;

    config_init(&cf->lc);
    config_set_include_dir(&cf->lc, mg_prefix);

    if (config_read_file(&cf->lc, file) != CONFIG_TRUE) {
        if (config_error_type(&cf->lc) == CONFIG_ERR_FILE_IO) {
            fprintf(stderr, "%s: cannot read the configuration file: %s\n",
                    file, strerror(errno));
        } else {
            fprintf(stderr, "%s:%d: %s\n",
                    config_error_file(&cf->lc) ? config_error_file(&cf->lc)
                                               : file,
                    config_error_line(&cf->lc), config_error_text(&cf->lc));
        }
        mg_conf_errors++;
        mg_conf_free(cf);
        return NULL;
    }

    root = (const mg_conf_t *)config_root_setting(&cf->lc);

    load_error_log(cf, root);
    load_modules(cf, root);
    load_http(cf, root);
    load_mcp(cf, root);
    load_clients(cf, root);
    check_top_level(cf, root);

    cf->pid_file = get_string(root, "pid", "logs/mcpgw.pid");
    cf->access_log = get_string(root, "access_log", "logs/access.log");

    return cf;
}

const mg_conf_t *
mg_conf_module_block(mg_config_t *cf, const char *name)
{
    const mg_conf_t *root = (const mg_conf_t *)config_root_setting(&cf->lc);

    return group(root, name);
}

void
mg_conf_free(mg_config_t *cf)
{
    size_t i;

    if (cf == NULL) {
        return;
    }

    config_destroy(&cf->lc);
    free(cf->file);
    free(cf->error_log);
    free(cf->pid_file);
    free(cf->modules_path);
    free_strings(cf->modules, cf->nmodules);
    free_strings(cf->listen, cf->nlisten);
    free(cf->mcp_path);
    free(cf->session_key_file);
    free_strings(cf->origins, cf->norigins);
    free_strings(cf->hosts, cf->nhosts);
    free(cf->anonymous_role);

    for (i = 0; i < cf->nclients; i++) {
        free(cf->clients[i].name);
        free(cf->clients[i].key_hash);
        free(cf->clients[i].role);
    }
    free(cf->clients);
    free(cf->access_log);
    free_strings(resolved, nresolved);
    resolved = NULL;
    nresolved = 0;

    if (mg_config == cf) {
        mg_config = NULL;
    }
    free(cf);
}
