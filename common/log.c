/* log: line-at-a-time logging; see log.h. */
#include "log.h"

#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int log_min_level = LOG_INFO;
static const char *log_role = "floe";
static int log_fd = 2;

static const char *const level_names[] = { "DEBUG", "INFO", "WARN", "ERROR", "OFF" };

void log_set_role(const char *role)
{
    log_role = role ? role : "floe";
}

void log_set_level(enum log_level level)
{
    log_min_level = level;
}

int log_parse_level(const char *s, enum log_level *ret_level)
{
    for (int i = 0; i <= LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *ret_level = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *ret_level = LOG_WARN;
        return 0;
    }
    return FLOE_EBADINPUT;
}

int log_set_file(const char *path)
{
    if (!path) {
        if (log_fd != 2)
            close(log_fd);
        log_fd = 2;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    if (log_fd != 2)
        close(log_fd);
    log_fd = fd;
    return 0;
}

void log_write(enum log_level level, const char *module, int64_t tablet_id, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level < 0 || level > LOG_OFF ? 0 : level],
                     log_role, module);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (tablet_id) {
        n = snprintf(line + len, sizeof(line) - len, "tablet=%lld ", (long long)tablet_id);
        if (n > 0)
            len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
    }
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (n > 0)
        len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
    /* one line per event: fold embedded line breaks (LF and CR) into spaces */
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    if (len >= sizeof(line) - 1)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(log_fd, line, len);
    (void)w;
}
