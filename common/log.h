/*
 * log: one line per event on stderr (or a file): time, level, process role,
 * module, tablet id when there is one, message. The level is checked before
 * any argument is evaluated. A line is written with a single write(2), so
 * lines from threads never interleave. Never pass secrets to a log call.
 *
 * A file sets its module name before including this header:
 *     #define LOG_MODULE "objstore"
 */
#ifndef FLOE_LOG_H
#define FLOE_LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

extern int log_min_level;

#ifndef LOG_MODULE
#define LOG_MODULE "floe"
#endif

/* Role ("fe", "be", "ctl", "test"); a static or long-lived string. */
void log_set_role(const char *role);
void log_set_level(enum log_level level);
/* Parses "debug|info|warn|error|off"; returns 0 or FLOE_EBADINPUT. */
int log_parse_level(const char *s, enum log_level *ret_level);
/* Appends to path instead of stderr; returns 0 or -errno. NULL: back to stderr. */
int log_set_file(const char *path);

void log_write(enum log_level level, const char *module, int64_t tablet_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG_AT_(lvl, tablet, ...)                                   \
    do {                                                            \
        if ((int)(lvl) >= log_min_level)                            \
            log_write((lvl), LOG_MODULE, (tablet), __VA_ARGS__);    \
    } while (0)

#define log_debug(...) LOG_AT_(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)  LOG_AT_(LOG_INFO, 0, __VA_ARGS__)
#define log_warn(...)  LOG_AT_(LOG_WARN, 0, __VA_ARGS__)
#define log_error(...) LOG_AT_(LOG_ERROR, 0, __VA_ARGS__)
/* Same with a tablet id, printed as tablet=<id>. */
#define tlog_debug(t, ...) LOG_AT_(LOG_DEBUG, (t), __VA_ARGS__)
#define tlog_info(t, ...)  LOG_AT_(LOG_INFO, (t), __VA_ARGS__)
#define tlog_warn(t, ...)  LOG_AT_(LOG_WARN, (t), __VA_ARGS__)
#define tlog_error(t, ...) LOG_AT_(LOG_ERROR, (t), __VA_ARGS__)

#endif
