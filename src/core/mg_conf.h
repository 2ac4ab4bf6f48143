/*
 * The main configuration: read with libconfig, checked setting by
 * setting, every error reported as "file:line: what is wrong".
 */

#ifndef MG_CONF_H
#define MG_CONF_H

#include <libconfig.h>

#include "mg_core.h"
#include "mg_http.h"

typedef struct {
    char *name;
    char *key_hash; /* hex SHA-256 of the API key */
    char *role;
} mg_client_conf_t;

typedef struct {
    config_t lc;
    char *file;

    char *error_log;
    int log_level;
    char *pid_file;

    char *modules_path;
    char **modules;
    size_t nmodules;

    char **listen;
    size_t nlisten;
    mg_http_limits_t limits;
    unsigned shutdown_timeout; /* ms a graceful stop waits for calls */

    char *mcp_path;
    char *session_key_file;
    int create_keys;
    long session_ttl; /* seconds */
    long page_size;
    char **origins;
    size_t norigins;
    char **hosts;
    size_t nhosts;

    int anonymous;
    char *anonymous_role;
    mg_client_conf_t *clients;
    size_t nclients;

    char *access_log;
} mg_config_t;

extern mg_config_t *mg_config;

/* Number of errors reported so far by mg_conf_error and friends. */
extern int mg_conf_errors;

/*
 * Read and check the file.  Errors go to stderr as "file:line: text".
 * Returns the configuration or NULL.
 */
mg_config_t *mg_conf_load(const char *file);
void mg_conf_free(mg_config_t *cf);

/* The module's block, a top-level group named after the module. */
const mg_conf_t *mg_conf_module_block(mg_config_t *cf, const char *name);

/* Resolve a path against the prefix; the result lives until exit. */
char *mg_conf_resolve(const char *path);

#endif /* MG_CONF_H */
