/* rpc_client: one lazily (re)connected, authenticated connection; see rpc.h. */
#define LOG_MODULE "rpc"
#include "rpc_int.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define AUTH_MAX_FRAME 4096

struct rpc_client {
    pthread_mutex_t lock;
    char *host;
    int port;
    char addr[300];
    const struct auth_token *token;
    int connect_timeout_ms;
    int call_timeout_ms;
    size_t max_frame;
    int fd;
    uint32_t seq;
    struct buf io;      /* handshake frames, replies of rpc_call_msg */
    struct buf wbuf;    /* requests of rpc_call_msg */
};

/* Scratch buffers above this are freed after a call rather than kept. */
#define KEEP_BUF_MAX (8u << 20)

int rpc_client_new(const struct rpc_client_opts *o, struct rpc_client **ret, struct err *e)
{
    *ret = NULL;
    if (!o->host || !*o->host || o->port <= 0 || o->port > 65535)
        return err_set(e, FLOE_EBADINPUT, "rpc client: bad server address %s:%d",
                       o->host ? o->host : "(null)", o->port);
    if (!o->token || o->token->len == 0)
        return err_set(e, FLOE_EBADINPUT, "rpc client for %s:%d: no cluster token", o->host,
                       o->port);
    struct rpc_client *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->host = xstrdup(o->host);
    c->port = o->port;
    snprintf(c->addr, sizeof(c->addr), "%s:%d", o->host, o->port);
    c->token = o->token;
    c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
    c->call_timeout_ms = o->call_timeout_ms > 0 ? o->call_timeout_ms : 60000;
    c->max_frame = o->max_frame ? o->max_frame : RPC_DEFAULT_MAX_FRAME;
    c->fd = -1;
    buf_init(&c->io);
    buf_init(&c->wbuf);
    *ret = c;
    return 0;
}

const char *rpc_client_addr(const struct rpc_client *c)
{
    return c->addr;
}

void rpc_client_set_call_timeout(struct rpc_client *c, int ms)
{
    pthread_mutex_lock(&c->lock);
    c->call_timeout_ms = ms > 0 ? ms : 60000;
    pthread_mutex_unlock(&c->lock);
}

static void drop(struct rpc_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Non-blocking connect to the first address that answers before the deadline. */
static int tcp_connect(struct rpc_client *c, int64_t deadline, struct err *e)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", c->port);
    int g = getaddrinfo(c->host, port, &hints, &res);
    if (g != 0)
        return err_set(e, FLOE_ETRANSIENT, "%s: cannot resolve host: %s", c->addr,
                       gai_strerror(g));
    int rc = err_set(e, FLOE_ETRANSIENT, "%s: no address to connect to", c->addr);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                        ai->ai_protocol);
        if (fd < 0) {
            rc = err_errno(e, errno, "%s: socket", c->addr);
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            rc = err_errno(e, errno, "%s: connect", c->addr);
            close(fd);
            continue;
        }
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        int64_t left = deadline - rpc_now_ms();
        int pr = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (pr <= 0) {
            rc = pr == 0 ? err_set(e, FLOE_ETIMEOUT, "%s: connect timed out", c->addr)
                         : err_errno(e, errno, "%s: poll", c->addr);
            close(fd);
            continue;
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr) {
            rc = err_errno(e, soerr, "%s: connect", c->addr);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = fd;
        rc = 0;
        break;
    }
    freeaddrinfo(res);
    /* an unreachable server is a transient condition for callers */
    if (rc < 0 && rc > FLOE_ERR_MAX && rc != FLOE_ETIMEOUT)
        rc = e ? (e->code = FLOE_ETRANSIENT) : FLOE_ETRANSIENT;
    return rc;
}

static int handshake(struct rpc_client *c, int64_t deadline, struct err *e)
{
    uint8_t cn[AUTH_NONCE_LEN], proof[AUTH_MAC_LEN];
    struct rpc_header h = { .version = RPC_VERSION, .kind = RPC_AUTH };
    int rc = auth_nonce(cn, e);
    if (rc < 0)
        return rc;
    h.method = RPC_AUTH_HELLO;
    h.len = AUTH_NONCE_LEN;
    if ((rc = rpc_write_frame(c->fd, &h, cn, deadline, c->addr, e)) < 0)
        return rc;
    if ((rc = rpc_read_frame(c->fd, AUTH_MAX_FRAME, &h, &c->io, deadline, 0, c->addr, e)) < 0)
        return rc;
    if (h.kind != RPC_AUTH || h.status != 0 || h.method != RPC_AUTH_CHALLENGE ||
        h.len != AUTH_NONCE_LEN) {
        if (h.status != 0)
            return rpc_status_error(&h, &c->io, c->addr, "refused the connection", e);
        return err_set(e, FLOE_EPROTO, "%s: unexpected handshake frame (kind %u step %u)",
                       c->addr, h.kind, h.method);
    }
    uint8_t sn[AUTH_NONCE_LEN];
    memcpy(sn, c->io.data, AUTH_NONCE_LEN);
    auth_proof(c->token, AUTH_CLIENT, cn, sn, proof);
    h = (struct rpc_header){ .version = RPC_VERSION, .kind = RPC_AUTH, .method = RPC_AUTH_PROOF,
                             .len = AUTH_MAC_LEN };
    if ((rc = rpc_write_frame(c->fd, &h, proof, deadline, c->addr, e)) < 0)
        return rc;
    rc = rpc_read_frame(c->fd, AUTH_MAX_FRAME, &h, &c->io, deadline, 0, c->addr, e);
    if (rc < 0)
        return rc;
    if (h.kind != RPC_AUTH || h.method != RPC_AUTH_RESULT)
        return err_set(e, FLOE_EPROTO, "%s: unexpected handshake frame (kind %u step %u)",
                       c->addr, h.kind, h.method);
    if (h.status != 0)
        return rpc_status_error(&h, &c->io, c->addr, "refused authentication", e);
    if (!auth_proof_ok(c->token, AUTH_SERVER, cn, sn, (const uint8_t *)c->io.data, h.len))
        return err_set(e, FLOE_EAUTH,
                       "%s failed to prove the cluster token (different token or not a floe node)",
                       c->addr);
    return 0;
}

static int connect_locked(struct rpc_client *c, struct err *e)
{
    if (c->fd >= 0)
        return 0;
    int64_t deadline = rpc_now_ms() + c->connect_timeout_ms;
    int rc = tcp_connect(c, deadline, e);
    if (rc < 0)
        return rc;
    if ((rc = handshake(c, deadline, e)) < 0) {
        drop(c);
        return rc;
    }
    log_debug("connected to %s", c->addr);
    return 0;
}

int rpc_client_connect(struct rpc_client *c, struct err *e)
{
    pthread_mutex_lock(&c->lock);
    int rc = connect_locked(c, e);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void rpc_client_disconnect(struct rpc_client *c)
{
    pthread_mutex_lock(&c->lock);
    drop(c);
    pthread_mutex_unlock(&c->lock);
}

/* An idle connection that is readable was closed (or spoken to out of turn)
 * by the server: reconnect rather than send into it. */
static void check_idle(struct rpc_client *c)
{
    if (c->fd < 0)
        return;
    struct pollfd p = { .fd = c->fd, .events = POLLIN };
    if (poll(&p, 1, 0) != 0)
        drop(c);
}

/* One request/reply exchange; the caller holds the lock. */
static int call_locked(struct rpc_client *c, uint32_t method, const void *req, size_t len,
                       struct buf *ret_reply, struct err *e)
{
    int rc;
    buf_reset(ret_reply);
    if (len > c->max_frame)
        return err_set(e, FLOE_ELIMIT, "%s: request of %zu bytes exceeds frame limit %zu",
                       c->addr, len, c->max_frame);
    check_idle(c);
    if ((rc = connect_locked(c, e)) < 0)
        return rc;
    int64_t deadline = rpc_now_ms() + c->call_timeout_ms;
    uint32_t seq = ++c->seq;
    struct rpc_header h = { .version = RPC_VERSION, .kind = RPC_REQUEST, .method = method,
                            .seq = seq, .len = (uint32_t)len };
    if ((rc = rpc_write_frame(c->fd, &h, req, deadline, c->addr, e)) < 0)
        goto fail;
    if ((rc = rpc_read_frame(c->fd, c->max_frame, &h, ret_reply, deadline, 0, c->addr, e)) < 0)
        goto fail;
    if (h.kind != RPC_REPLY || h.seq != seq || h.method != method) {
        rc = err_set(e, FLOE_EPROTO, "%s: reply (kind %u, method %u, seq %u) does not match call (method %u, seq %u)",
                     c->addr, h.kind, h.method, h.seq, method, seq);
        goto fail;
    }
    if (h.status != 0) {
        rc = rpc_status_error(&h, ret_reply, c->addr, NULL, e);
        buf_reset(ret_reply);
        /* the server closes the connection after these */
        if (h.status == FLOE_ESHUTDOWN || h.status == FLOE_ELIMIT || h.status == FLOE_EAUTH)
            drop(c);
    }
    return rc;
fail:
    drop(c);
    return rc;
}

int rpc_call(struct rpc_client *c, uint32_t method, const void *req, size_t len,
             struct buf *ret_reply, struct err *e)
{
    pthread_mutex_lock(&c->lock);
    int rc = call_locked(c, method, req, len, ret_reply, e);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int rpc_call_msg(struct rpc_client *c, uint32_t method, rpc_encode_fn enc, const void *req,
                 rpc_decode_fn dec, void *ret, struct err *e)
{
    pthread_mutex_lock(&c->lock);
    buf_reset(&c->wbuf);
    enc(req, &c->wbuf);
    int rc = call_locked(c, method, c->wbuf.data, c->wbuf.len, &c->io, e);
    if (rc == 0) {
        rc = dec(buf_cstr(&c->io), c->io.len, ret, e);
    } else {
        int r2 = dec(NULL, 0, ret, NULL);   /* leaves ret initialised */
        (void)r2;
    }
    if (c->wbuf.cap > KEEP_BUF_MAX)
        buf_release(&c->wbuf);
    if (c->io.cap > KEEP_BUF_MAX)
        buf_release(&c->io);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void rpc_client_free(struct rpc_client *c)
{
    if (!c)
        return;
    drop(c);
    buf_release(&c->io);
    buf_release(&c->wbuf);
    free(c->host);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
