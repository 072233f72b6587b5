/* err: code table and message helpers; see err.h. */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *err_name(int code)
{
    switch (code) {
#define FLOE_ERR_NAME_(name, value, desc) case value: return #name;
    FLOE_ERRORS(FLOE_ERR_NAME_)
#undef FLOE_ERR_NAME_
    case 0: return "OK";
    default: break;
    }
    if (code < 0 && code > FLOE_ERR_MAX) {
        const char *n = strerrorname_np(-code);
        if (n)
            return n;
    }
    return "E?";
}

const char *err_str(int code)
{
    switch (code) {
#define FLOE_ERR_STR_(name, value, desc) case value: return desc;
    FLOE_ERRORS(FLOE_ERR_STR_)
#undef FLOE_ERR_STR_
    case 0: return "success";
    default: break;
    }
    if (code < 0 && code > FLOE_ERR_MAX) {
        const char *d = strerrordesc_np(-code);
        if (d)
            return d;
    }
    return "unknown error";
}

int err_vset_at(struct err *e, const char *file, int line, int code, const char *fmt, va_list ap)
{
    if (!e)
        return code;
    e->code = code;
    e->file = file;
    e->line = line;
    int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    if (n < 0)
        snprintf(e->msg, sizeof(e->msg), "%s", err_str(code));
    return code;
}

int err_set_at(struct err *e, const char *file, int line, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset_at(e, file, line, code, fmt, ap);
    va_end(ap);
    return code;
}

int err_errno_at(struct err *e, const char *file, int line, int errnum, const char *fmt, ...)
{
    int code = errnum > 0 ? -errnum : (errnum < 0 ? errnum : -EIO);
    if (!e)
        return code;
    va_list ap;
    va_start(ap, fmt);
    err_vset_at(e, file, line, code, fmt, ap);
    va_end(ap);
    size_t len = strlen(e->msg);
    if (len < sizeof(e->msg) - 1)
        snprintf(e->msg + len, sizeof(e->msg) - len, ": %s", err_str(code));
    return code;
}

void err_prefix(struct err *e, const char *fmt, ...)
{
    if (!e)
        return;
    char old[ERR_MSG_MAX];
    snprintf(old, sizeof(old), "%s", e->msg[0] ? e->msg : err_str(e->code));
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    size_t len = (size_t)n < sizeof(e->msg) ? (size_t)n : sizeof(e->msg) - 1;
    size_t room = sizeof(e->msg) - 1 - len;
    size_t olen = strlen(old);
    if (room >= 2) {
        memcpy(e->msg + len, ": ", 2);
        len += 2;
        room -= 2;
        if (olen > room)
            olen = room;
        memcpy(e->msg + len, old, olen);
        len += olen;
    }
    e->msg[len] = '\0';
}

void err_clear(struct err *e)
{
    if (!e)
        return;
    e->code = 0;
    e->file = NULL;
    e->line = 0;
    e->msg[0] = '\0';
}

const char *err_msg(const struct err *e)
{
    if (!e)
        return "unknown error";
    if (e->msg[0])
        return e->msg;
    return err_str(e->code);
}
