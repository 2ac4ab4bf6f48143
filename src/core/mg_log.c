/*
 * The error log: one line per event, nginx-like levels, and the ids of
 * the connection, request and session appended by the logger itself so
 * callers never format them.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mg_core.h"

int mg_log_level = MG_LOG_NOTICE;
mg_log_ctx_t mg_log_ctx;

static int log_fd = -1;

static const char *const level_names[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
};

void
mg_log_ctx_clear(void)
{
    mg_log_ctx.conn = 0;
    mg_log_ctx.req = 0;
    mg_log_ctx.session = NULL;
}

int
mg_log_level_parse(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            return (int)i;
        }
    }

    return -1;
}

int
mg_log_open(const char *path, int level)
{
    int fd;

    if (level >= 0) {
        mg_log_level = level;
    }

    if (path == NULL) {
        return MG_OK;
    }

    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd == -1) {
        mg_log(MG_LOG_EMERG, "cannot open error log \"%s\": %s", path,
               strerror(errno));
        return MG_ERROR;
    }

    if (log_fd != -1) {
        close(log_fd);
    }
    log_fd = fd;

    return MG_OK;
}

void
mg_log_close(void)
{
    if (log_fd != -1) {
        close(log_fd);
        log_fd = -1;
    }
}

void
mg_log_write(int level, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    size_t n, i;
    int r;

    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);

    n = strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S", &tm);
    r = snprintf(line + n, sizeof(line) - n, " [%s] %d: ",
                 level_names[level < 0   ? 0
                             : level > 7 ? 7
                                         : level],
                 (int)getpid());
    n += (size_t)r;

    va_start(ap, fmt);
    r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    n = r < 0 ? n : n + (size_t)r;
    if (n >= sizeof(line) - 64) {
        n = sizeof(line) - 64;
    }

    if (mg_log_ctx.conn) {
        n += (size_t)snprintf(line + n, sizeof(line) - n, ", conn: %llu",
                              (unsigned long long)mg_log_ctx.conn);
    }
    if (mg_log_ctx.req) {
        n += (size_t)snprintf(line + n, sizeof(line) - n, ", req: %llu",
                              (unsigned long long)mg_log_ctx.req);
    }
    if (mg_log_ctx.session) {
        n += (size_t)snprintf(line + n, sizeof(line) - n, ", session: %.12s",
                              mg_log_ctx.session);
    }
    if (n > sizeof(line) - 2) {
        n = sizeof(line) - 2;
    }

    /* One event, one line: a message never spans lines. */
    for (i = 0; i < n; i++) {
        if (line[i] == '\n' || line[i] == '\r') {
            line[i] = ' ';
        }
    }
    line[n++] = '\n';

    if (log_fd != -1) {
        if (write(log_fd, line, n) < 0) {
            /* Nowhere better to report it; stderr below still gets it. */
        }
    }

    if (log_fd == -1 || level <= MG_LOG_WARN) {
        if (write(STDERR_FILENO, line, n) < 0) {
            return;
        }
    }
}
