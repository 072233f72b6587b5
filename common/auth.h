/*
 * auth: the cluster token and the HMAC-SHA256 challenge-response that every
 * RPC connection runs before any method.
 *
 * All nodes and floectl share one secret token, read from a file that must
 * not be accessible to group or others (mode 0600 or 0400); any other mode is
 * refused. The token never leaves the process: a peer proves it knows the
 * token by returning HMAC-SHA256(token, label || client_nonce || server_nonce)
 * over fresh random nonces from both sides, with a different label for each
 * direction so one side's proof is never valid for the other. The token bytes
 * are never logged and are wiped by auth_token_release.
 */
#ifndef FLOE_AUTH_H
#define FLOE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define AUTH_NONCE_LEN 32
#define AUTH_MAC_LEN 32
#define AUTH_TOKEN_MIN 16
#define AUTH_TOKEN_MAX 512

struct auth_token {
    uint8_t key[AUTH_TOKEN_MAX];
    size_t len;   /* 0: no token loaded */
};

/* Reads the token file (surrounding whitespace stripped). Refuses a file
 * readable or writable by group/others, a non-regular file, and tokens shorter
 * than AUTH_TOKEN_MIN or longer than AUTH_TOKEN_MAX bytes. */
int auth_token_load(const char *path, struct auth_token *ret, struct err *e);
/* Same rules for a token given in memory (tests, tools). */
int auth_token_set(struct auth_token *ret, const void *data, size_t len, struct err *e);
/* Wipes the key. Accepts NULL. */
void auth_token_release(struct auth_token *t);

/* Fills out with random bytes (openssl RAND_bytes). */
int auth_nonce(uint8_t out[AUTH_NONCE_LEN], struct err *e);

enum auth_role { AUTH_CLIENT = 0, AUTH_SERVER = 1 };

/* The proof the given role sends for this pair of nonces. */
void auth_proof(const struct auth_token *t, enum auth_role role,
                const uint8_t client_nonce[AUTH_NONCE_LEN],
                const uint8_t server_nonce[AUTH_NONCE_LEN], uint8_t out[AUTH_MAC_LEN]);
/* Constant-time check of a received proof. */
bool auth_proof_ok(const struct auth_token *t, enum auth_role role,
                   const uint8_t client_nonce[AUTH_NONCE_LEN],
                   const uint8_t server_nonce[AUTH_NONCE_LEN], const uint8_t *proof, size_t len);

#endif
