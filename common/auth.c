/* auth: cluster token file and HMAC-SHA256 proofs; see auth.h. */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "err.h"

static const char *const role_label[] = { "floe-rpc-client-v1", "floe-rpc-server-v1" };

int auth_token_set(struct auth_token *ret, const void *data, size_t len, struct err *e)
{
    const uint8_t *p = data;
    while (len > 0 && isspace(p[0])) {
        p++;
        len--;
    }
    while (len > 0 && isspace(p[len - 1]))
        len--;
    ret->len = 0;
    if (len < AUTH_TOKEN_MIN)
        return err_set(e, FLOE_ECONFIG, "cluster token is %zu bytes, at least %d required", len,
                       AUTH_TOKEN_MIN);
    if (len > AUTH_TOKEN_MAX)
        return err_set(e, FLOE_ECONFIG, "cluster token is %zu bytes, at most %d allowed", len,
                       AUTH_TOKEN_MAX);
    memcpy(ret->key, p, len);
    ret->len = len;
    return 0;
}

int auth_token_load(const char *path, struct auth_token *ret, struct err *e)
{
    uint8_t raw[AUTH_TOKEN_MAX + 64];
    int rc = 0;
    ret->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return err_errno(e, errno, "cluster token file %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = err_errno(e, errno, "cluster token file %s", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = err_set(e, FLOE_ECONFIG, "cluster token file %s is not a regular file", path);
        goto out;
    }
    if (st.st_mode & 077) {
        rc = err_set(e, FLOE_ECONFIG,
                     "cluster token file %s has mode %04o; it must not be accessible by group or others (chmod 600 %s)",
                     path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, raw + n, sizeof(raw) - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = err_errno(e, errno, "cluster token file %s", path);
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == sizeof(raw)) {
            rc = err_set(e, FLOE_ECONFIG, "cluster token file %s is larger than %d bytes", path,
                         AUTH_TOKEN_MAX);
            goto out;
        }
    }
    rc = auth_token_set(ret, raw, n, e);
    if (rc < 0)
        err_prefix(e, "cluster token file %s", path);
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    close(fd);
    return rc;
}

void auth_token_release(struct auth_token *t)
{
    if (!t)
        return;
    OPENSSL_cleanse(t->key, sizeof(t->key));
    t->len = 0;
}

int auth_nonce(uint8_t out[AUTH_NONCE_LEN], struct err *e)
{
    if (RAND_bytes(out, AUTH_NONCE_LEN) != 1)
        return err_set(e, FLOE_EINTERNAL, "RAND_bytes failed to produce a nonce");
    return 0;
}

void auth_proof(const struct auth_token *t, enum auth_role role,
                const uint8_t client_nonce[AUTH_NONCE_LEN],
                const uint8_t server_nonce[AUTH_NONCE_LEN], uint8_t out[AUTH_MAC_LEN])
{
    const char *label = role_label[role == AUTH_SERVER];
    uint8_t msg[64 + 2 * AUTH_NONCE_LEN];
    size_t ll = strlen(label) + 1;   /* the NUL separates label and nonces */
    memcpy(msg, label, ll);
    memcpy(msg + ll, client_nonce, AUTH_NONCE_LEN);
    memcpy(msg + ll + AUTH_NONCE_LEN, server_nonce, AUTH_NONCE_LEN);
    unsigned int outlen = AUTH_MAC_LEN;
    if (!HMAC(EVP_sha256(), t->key, (int)t->len, msg, ll + 2 * AUTH_NONCE_LEN, out, &outlen))
        memset(out, 0, AUTH_MAC_LEN);   /* a zero proof never verifies (see below) */
}

bool auth_proof_ok(const struct auth_token *t, enum auth_role role,
                   const uint8_t client_nonce[AUTH_NONCE_LEN],
                   const uint8_t server_nonce[AUTH_NONCE_LEN], const uint8_t *proof, size_t len)
{
    static const uint8_t zero[AUTH_MAC_LEN];
    uint8_t want[AUTH_MAC_LEN];
    if (len != AUTH_MAC_LEN || t->len == 0)
        return false;
    auth_proof(t, role, client_nonce, server_nonce, want);
    bool ok = CRYPTO_memcmp(want, proof, AUTH_MAC_LEN) == 0 &&
              CRYPTO_memcmp(want, zero, AUTH_MAC_LEN) != 0;
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}
