/*
 * err: floe's error codes and the error struct that carries a message.
 *
 * A fallible function returns int: 0 on success, negative on failure. OS
 * errors are -errno; floe's own codes sit in the reserved range
 * [-10999, -10000] and are declared once, in FLOE_ERRORS below, which also
 * generates err_name() and err_str(). An optional struct err * (always the
 * last parameter) receives a human message and the file:line where the error
 * was detected. Every function taking a struct err * accepts NULL.
 */
#ifndef FLOE_ERR_H
#define FLOE_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* X(name, value, description) */
#define FLOE_ERRORS(X)                                                            \
    X(FLOE_EINTERNAL,    -10000, "internal error")                               \
    X(FLOE_ECORRUPT,     -10001, "data is corrupt")                              \
    X(FLOE_EBADINPUT,    -10002, "bad input")                                    \
    X(FLOE_ECONFIG,      -10003, "bad configuration")                            \
    X(FLOE_ESTALE_TERM,  -10004, "stale cooldown term")                          \
    X(FLOE_ENOTFOUND,    -10005, "not found")                                    \
    X(FLOE_EEXIST,       -10006, "already exists")                               \
    X(FLOE_EACCESS,      -10007, "access denied")                                \
    X(FLOE_EBADREQ,      -10008, "bad request")                                  \
    X(FLOE_ETRANSIENT,   -10009, "transient failure, retry may succeed")         \
    X(FLOE_ETIMEOUT,     -10010, "timed out")                                    \
    X(FLOE_EPROTO,       -10011, "protocol error")                               \
    X(FLOE_EAUTH,        -10012, "authentication failed")                        \
    X(FLOE_ELIMIT,       -10013, "limit exceeded")                               \
    X(FLOE_ENOTMASTER,   -10014, "not the master")                               \
    X(FLOE_EVERSION,     -10015, "version mismatch")                             \
    X(FLOE_ETXN,         -10016, "transaction error")                            \
    X(FLOE_EBUSY,        -10017, "busy")                                         \
    X(FLOE_EFAULT,       -10018, "injected fault")                               \
    X(FLOE_ESHUTDOWN,    -10019, "shutting down")                                \
    X(FLOE_EUNSUPPORTED, -10020, "not supported")                                \
    X(FLOE_ENOTALIGNED,  -10021, "remote meta does not line up with local rowsets") \
    X(FLOE_EBADSTATE,    -10022, "object is in a bad state")                     \
    X(FLOE_EUNAVAILABLE, -10023, "not enough replicas available")

enum floe_err {
#define FLOE_ERR_ENUM_(name, value, desc) name = (value),
    FLOE_ERRORS(FLOE_ERR_ENUM_)
#undef FLOE_ERR_ENUM_
};

#define FLOE_ERR_MIN (-10999)
#define FLOE_ERR_MAX (-10000)
#define ERR_MSG_MAX 512

struct err {
    int code;               /* 0 when no error was recorded */
    const char *file;       /* static string, where the error was detected */
    int line;
    char msg[ERR_MSG_MAX];  /* human message, never contains secrets */
};

/* Name of a code: "FLOE_ECORRUPT", "ENOENT", or "E?<n>". Static string. */
const char *err_name(int code);
/* Description of a code: for floe codes the table text, for -errno strerror. */
const char *err_str(int code);

/*
 * Record code and a formatted message in e (if e is non-NULL) and return
 * code, so callers can write `return err_set(e, FLOE_ECORRUPT, "...", ...)`.
 * An error already recorded in e is replaced.
 */
#define err_set(e, code, ...) err_set_at((e), __FILE__, __LINE__, (code), __VA_ARGS__)
int err_set_at(struct err *e, const char *file, int line, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int err_vset_at(struct err *e, const char *file, int line, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* Like err_set with code -errno, appending ": strerror(errno)". errnum > 0. */
#define err_errno(e, errnum, ...) err_errno_at((e), __FILE__, __LINE__, (errnum), __VA_ARGS__)
int err_errno_at(struct err *e, const char *file, int line, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Prefix the message already in e with "prefix: " (context from a caller). */
void err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void err_clear(struct err *e);

/* Message of e, or err_str(code) when e has no message. Never NULL. */
const char *err_msg(const struct err *e);

#endif
