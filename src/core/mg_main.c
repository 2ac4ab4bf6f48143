/*
 * The process: command line, start-up in order, the event loop, and an
 * orderly stop on SIGTERM or SIGINT.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "mg_conf.h"
#include "mg_http.h"
#include "mg_mcp.h"
#include "mg_module.h"

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: mcpgw [-c FILE] [-p PREFIX] [-t] [-v] [-k NAME]\n"
            "  -c FILE    configuration file (default %s)\n"
            "  -p PREFIX  directory relative paths resolve against\n"
            "             (default: the current directory)\n"
            "  -t         check the configuration and exit\n"
            "  -v         print the version and build signature\n"
            "  -k NAME    mint an API key for client NAME and print the\n"
            "             line to add to clients.keys\n",
            MG_CONF_PATH);
}

static void
version(void)
{
    printf(
        "mcpgw %s\nmodule ABI %d, build signature %s\n"
        "configured with: %s\n",
        MG_VERSION, MG_ABI_VERSION, MG_BUILD_SIGNATURE, MG_CONFIGURE_ARGS);
}

/* Print a new API key once, and what the configuration stores of it. */
static int
mint_key(const char *name)
{
    unsigned char raw[32], digest[SHA256_DIGEST_LENGTH];
    char key[64], b64[48], hex[65];
    size_t i;

    for (i = 0; name[i]; i++) {
        if (name[i] == '"' || name[i] == '\\' ||
            (unsigned char)name[i] < 0x20) {
            fprintf(stderr,
                    "mcpgw: client name must not contain quotes, "
                    "backslashes or control characters\n");
            return 1;
        }
    }

    if (i == 0 || i > 100) {
        fprintf(stderr, "mcpgw: client name must be 1 to 100 characters\n");
        return 1;
    }

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        fprintf(stderr, "mcpgw: no random bytes available\n");
        return 1;
    }

    mg_b64url_encode(b64, raw, sizeof(raw));
    snprintf(key, sizeof(key), "mgk_%s", b64);

    SHA256((const unsigned char *)key, strlen(key), digest);
    mg_hex(hex, digest, sizeof(digest));

    printf(
        "API key for \"%s\" (shown once; give it to the client as\n"
        "\"Authorization: Bearer <key>\"):\n\n    %s\n\n"
        "Add this entry to clients.keys in the configuration:\n\n"
        "    { name = \"%s\"; sha256 = \"%s\"; role = \"user\"; }\n",
        name, key, name, hex);

    return 0;
}

/* The prefix, with a trailing slash, made absolute. */
static int
set_prefix(const char *p)
{
    char buf[PATH_MAX], *abs;
    size_t n;

    if (p == NULL) {
        if (getcwd(buf, sizeof(buf)) == NULL) {
            fprintf(stderr, "mcpgw: getcwd: %s\n", strerror(errno));
            return MG_ERROR;
        }
        p = buf;
    }

    abs = realpath(p, NULL);
    if (abs == NULL) {
        fprintf(stderr, "mcpgw: prefix \"%s\": %s\n", p, strerror(errno));
        return MG_ERROR;
    }

    n = strlen(abs);
    mg_prefix = mg_alloc(n + 2);
    memcpy((char *)mg_prefix, abs, n);
    ((char *)mg_prefix)[n] = '/';
    ((char *)mg_prefix)[n + 1] = '\0';
    free(abs);

    return MG_OK;
}

static struct event_base *base;
static struct event *drain_timer;
static uint64_t drain_deadline;

/* Wait for calls in flight to finish, up to the deadline. */
static void
drain(evutil_socket_t fd, short what, void *arg)
{
    struct timeval tv = {0, 20000};
    size_t n = mg_mcp_active_calls();

    if (n == 0 || mg_msec_mono() >= drain_deadline) {
        if (n) {
            mg_log(MG_LOG_WARN,
                   "%zu calls still running at the end of the graceful "
                   "stop; they are answered with an error",
                   n);
        }
        event_base_loopbreak(base);
        return;
    }

    evtimer_add(drain_timer, &tv);
}

/*
 * The first SIGTERM or SIGINT stops taking connections and lets calls in
 * flight finish (http.shutdown_timeout at most); a second one stops now.
 */
static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    if (drain_timer) {
        mg_log(MG_LOG_NOTICE, "signal %d received again, exiting now",
               (int)sig);
        event_base_loopbreak(base);
        return;
    }

    mg_log(MG_LOG_NOTICE,
           "signal %d received, exiting after %zu calls in flight", (int)sig,
           mg_mcp_active_calls());

    mg_mcp_stop_accepting();
    drain_deadline = mg_msec_mono() + mg_config->shutdown_timeout;
    drain_timer = evtimer_new(base, drain, NULL);
    drain(-1, 0, NULL);
}

/*
 * Another gateway with the same prefix would share logs, keys and the
 * pid file: refuse to start next to a live one.
 */
static int
check_pid(const char *path)
{
    char buf[32];
    long pid;
    FILE *f;

    f = fopen(path, "re");
    if (f == NULL) {
        return MG_OK;
    }

    pid = fgets(buf, sizeof(buf), f) ? strtol(buf, NULL, 10) : 0;
    fclose(f);

    if (pid > 0 && pid != (long)getpid() &&
        (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
        mg_log(MG_LOG_EMERG,
               "another mcpgw (pid %ld) is running with this prefix (%s); "
               "stop it, or start this one with another -p",
               pid, path);
        return MG_ERROR;
    }

    return MG_OK;
}

static int
write_pid(const char *path)
{
    char buf[32];
    int fd, n;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        mg_log(MG_LOG_EMERG, "cannot write pid file \"%s\": %s", path,
               strerror(errno));
        return MG_ERROR;
    }

    n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (write(fd, buf, (size_t)n) != n) {
        mg_log(MG_LOG_WARN, "cannot write pid file \"%s\"", path);
    }
    close(fd);

    return MG_OK;
}

/* Make the directory of a file under the prefix, if it is missing. */
static void
ensure_dir(const char *file, mode_t mode)
{
    char *dir = mg_strdup(file), *slash = strrchr(dir, '/');

    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, mode) == 0) {
            mg_log(MG_LOG_NOTICE, "created directory \"%s\"", dir);
        }
    }

    free(dir);
}

static int
run(mg_config_t *cf)
{
    struct event *sigs[2];
    char *log_path, *pid_path, *key_path;
    int rc = 1;

    log_path = mg_conf_resolve(cf->error_log);
    pid_path = mg_conf_resolve(cf->pid_file);
    key_path = mg_conf_resolve(cf->session_key_file);

    ensure_dir(log_path, 0755);
    ensure_dir(pid_path, 0755);
    if (cf->create_keys) {
        ensure_dir(key_path, 0700);
    }

    if (mg_log_open(log_path, cf->log_level) != MG_OK ||
        check_pid(pid_path) != MG_OK) {
        goto out;
    }

    base = mg_event_base_create();
    if (base == NULL) {
        mg_log(MG_LOG_EMERG, "cannot create the event loop");
        goto out;
    }

    sigs[0] = evsignal_new(base, SIGTERM, on_signal, NULL);
    sigs[1] = evsignal_new(base, SIGINT, on_signal, NULL);
    evsignal_add(sigs[0], NULL);
    evsignal_add(sigs[1], NULL);
    signal(SIGPIPE, SIG_IGN);

    if (mg_mcp_init(cf) != MG_OK || mg_modules_init() != MG_OK) {
        goto stop;
    }

    write_pid(pid_path);
    mg_log(MG_LOG_NOTICE, "mcpgw %s started, pid %d, prefix %s", MG_VERSION,
           (int)getpid(), mg_prefix);

    /* In the foreground, say once where it serves and where it logs. */
    fprintf(stderr, "mcpgw %s: MCP endpoint http://%s%s; log %s\n", MG_VERSION,
            cf->listen[0], cf->mcp_path, log_path);

    event_base_dispatch(base);
    rc = 0;
    unlink(pid_path);

stop:
    /*
     * Modules first: they answer what is still running while the client
     * connections are open; one loop turn writes those answers out.
     */
    mg_modules_unload();
    event_base_loop(base, EVLOOP_NONBLOCK);
    mg_http_shutdown();
    mg_mcp_shutdown();

    /* Let closing connections and module timers release their events. */
    event_base_loop(base, EVLOOP_NONBLOCK);

    if (drain_timer) {
        event_free(drain_timer);
        drain_timer = NULL;
    }

    event_free(sigs[0]);
    event_free(sigs[1]);

    /* A late signal must not kill a process that is tidying up. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    mg_event_base_destroy();

    mg_log(MG_LOG_NOTICE, "mcpgw stopped");

out:
    free(log_path);
    free(pid_path);
    free(key_path);

    return rc;
}

int
main(int argc, char **argv)
{
    const char *conf_file = MG_CONF_PATH, *prefix = NULL;
    mg_config_t *cf;
    char *conf_path;
    int opt, test = 0, rc;

    while ((opt = getopt(argc, argv, "c:p:tvk:h")) != -1) {
        switch (opt) {
        case 'c':
            conf_file = optarg;
            break;
        case 'p':
            prefix = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 'v':
            version();
            return 0;
        case 'k':
            return mint_key(optarg);
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }

    if (optind < argc) {
        fprintf(stderr, "mcpgw: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    if (set_prefix(prefix) != MG_OK) {
        return 1;
    }

    conf_path = mg_conf_resolve(conf_file);
    cf = mg_conf_load(conf_path);
    free(conf_path);

    /* Modules load even after other errors, so -t reports them all. */
    if (cf) {
        mg_modules_load(cf);
    }

    if (cf == NULL || mg_conf_errors) {
        fprintf(stderr, "mcpgw: configuration has %d error%s\n", mg_conf_errors,
                mg_conf_errors == 1 ? "" : "s");
        mg_modules_unload();
        mg_conf_free(cf);
        free((char *)mg_prefix);
        return 1;
    }

    if (test) {
        printf("mcpgw: configuration %s is ok\n", cf->file);
        mg_modules_unload();
        mg_conf_free(cf);
        free((char *)mg_prefix);
        return 0;
    }

    rc = run(cf);

    mg_conf_free(cf);
    mg_log_close();
    free((char *)mg_prefix);

    return rc;
}
