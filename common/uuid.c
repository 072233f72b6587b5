/*
 * uuid: version 4 UUIDs. The 122 random bits come from getrandom(2) (the
 * kernel's CSPRNG, blocking only before the pool is first seeded). Parsing
 * accepts exactly the canonical 36-character form, either case; formatting
 * always writes lowercase.
 */
#include "uuid.h"

#include "err.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

int uuid_v4(struct uuid *ret)
{
    size_t got = 0;
    while (got < sizeof(ret->b)) {
        ssize_t n = getrandom(ret->b + got, sizeof(ret->b) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    ret->b[6] = (uint8_t)((ret->b[6] & 0x0f) | 0x40); /* version 4 */
    ret->b[8] = (uint8_t)((ret->b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    return 0;
}

void uuid_format(const struct uuid *u, char out[UUID_STR_LEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u->b[i] >> 4];
        out[o++] = hex[u->b[i] & 0xf];
    }
    out[o] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int uuid_parse(const char *s, struct uuid *ret)
{
    struct uuid u;
    if (!s)
        return FLOE_EBADINPUT;
    size_t pos = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            if (s[pos] != '-')
                return FLOE_EBADINPUT;
            pos++;
        }
        /* a NUL shows up here as a non-hex digit, so we never read past it */
        int hi = hexval(s[pos]);
        if (hi < 0)
            return FLOE_EBADINPUT;
        int lo = hexval(s[pos + 1]);
        if (lo < 0)
            return FLOE_EBADINPUT;
        u.b[i] = (uint8_t)(hi << 4 | lo);
        pos += 2;
    }
    if (s[pos] != '\0')
        return FLOE_EBADINPUT;
    if (ret)
        *ret = u;
    return 0;
}

int uuid_new_str(char out[UUID_STR_LEN])
{
    struct uuid u;
    int r = uuid_v4(&u);
    if (r < 0)
        return r;
    uuid_format(&u, out);
    return 0;
}

bool uuid_is_valid_str(const char *s)
{
    return uuid_parse(s, NULL) == 0;
}
