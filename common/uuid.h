/*
 * uuid: random (version 4) UUIDs from getrandom(2), used for rowset ids,
 * cooldown_meta_id and delete ids. Text form is the canonical lowercase
 * 8-4-4-4-12 hex, 36 characters.
 */
#ifndef FLOE_UUID_H
#define FLOE_UUID_H

#include <stdbool.h>
#include <stdint.h>

#define UUID_STR_LEN 37  /* 36 characters + NUL */

struct uuid {
    uint8_t b[16];
};

/* 0, or -errno when the kernel gives no randomness. */
int uuid_v4(struct uuid *ret);
void uuid_format(const struct uuid *u, char out[UUID_STR_LEN]);
/* 0, or FLOE_EBADINPUT when s is not a canonical UUID string. */
int uuid_parse(const char *s, struct uuid *ret);
/* Convenience: a fresh v4 UUID in text form. 0 or -errno. */
int uuid_new_str(char out[UUID_STR_LEN]);
bool uuid_is_valid_str(const char *s);

#endif
