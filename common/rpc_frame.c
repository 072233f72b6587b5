/* rpc_frame: frame header encoding and deadline-bounded socket I/O; see rpc.h. */
#include "rpc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

void rpc_header_pack(const struct rpc_header *h, uint8_t out[RPC_HEADER_LEN])
{
    put_u32le(out, RPC_MAGIC);
    out[4] = h->version;
    out[5] = h->kind;
    out[6] = (uint8_t)h->flags;
    out[7] = (uint8_t)(h->flags >> 8);
    put_u32le(out + 8, h->method);
    put_u32le(out + 12, h->seq);
    put_u32le(out + 16, (uint32_t)h->status);
    put_u32le(out + 20, h->len);
}

int rpc_header_parse(const uint8_t in[RPC_HEADER_LEN], size_t max_frame, struct rpc_header *ret,
                     struct err *e)
{
    uint32_t magic = get_u32le(in);
    if (magic != RPC_MAGIC)
        return err_set(e, FLOE_EPROTO, "bad frame magic 0x%08x (expected 0x%08x)", magic,
                       RPC_MAGIC);
    ret->version = in[4];
    ret->kind = in[5];
    ret->flags = (uint16_t)(in[6] | in[7] << 8);
    ret->method = get_u32le(in + 8);
    ret->seq = get_u32le(in + 12);
    ret->status = (int32_t)get_u32le(in + 16);
    ret->len = get_u32le(in + 20);
    if (ret->version != RPC_VERSION)
        return err_set(e, FLOE_EVERSION, "frame protocol version %u, this node speaks %u",
                       ret->version, RPC_VERSION);
    if (ret->kind < RPC_REQUEST || ret->kind > RPC_AUTH)
        return err_set(e, FLOE_EPROTO, "bad frame kind %u", ret->kind);
    if (ret->flags != 0)
        return err_set(e, FLOE_EPROTO, "frame flags 0x%04x set (reserved, must be 0)", ret->flags);
    int32_t st = ret->status;
    if (st != 0 && !(st >= -10999 && st <= -10000) && !(st < 0 && st > -4096))
        return err_set(e, FLOE_EPROTO, "bad frame status %d", st);
    if (ret->len > max_frame)
        return err_set(e, FLOE_ELIMIT, "frame payload of %u bytes exceeds limit %zu", ret->len,
                       max_frame);
    return 0;
}

int64_t rpc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rpc_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/* Waits for events on fd until the deadline. 0, FLOE_ETIMEOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - rpc_now_ms();
        if (left <= 0)
            return FLOE_ETIMEOUT;
        struct pollfd p = { .fd = fd, .events = events };
        int r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r > 0)
            return 0;
    }
}

int rpc_write_frame(int fd, const struct rpc_header *h, const void *payload, int64_t deadline_ms,
                    const char *peer, struct err *e)
{
    uint8_t hdr[RPC_HEADER_LEN];
    rpc_header_pack(h, hdr);
    struct iovec iov[2] = {
        { .iov_base = hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)payload, .iov_len = h->len },
    };
    int niov = h->len ? 2 : 1;
    struct iovec *v = iov;
    while (niov > 0) {
        struct msghdr m = { .msg_iov = v, .msg_iovlen = (size_t)niov };
        ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                int r = wait_fd(fd, POLLOUT, deadline_ms);
                if (r == FLOE_ETIMEOUT)
                    return err_set(e, FLOE_ETIMEOUT, "%s: timed out sending a frame", peer);
                if (r < 0)
                    return err_errno(e, -r, "%s: poll", peer);
                continue;
            }
            return err_errno(e, errno, "%s: send", peer);
        }
        size_t done = (size_t)n;
        while (niov > 0 && done >= v->iov_len) {
            done -= v->iov_len;
            v++;
            niov--;
        }
        if (niov > 0) {
            v->iov_base = (char *)v->iov_base + done;
            v->iov_len -= done;
        }
    }
    return 0;
}

int rpc_read_full(int fd, void *p, size_t n, int64_t deadline_ms, int eof_ok, const char *peer,
                  struct err *e)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, (char *)p + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0) {
            if (got == 0 && eof_ok)
                return 1;
            return err_set(e, FLOE_ETRANSIENT, "%s: connection closed by peer", peer);
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = wait_fd(fd, POLLIN, deadline_ms);
            if (w == FLOE_ETIMEOUT)
                return err_set(e, FLOE_ETIMEOUT, "%s: timed out waiting for data", peer);
            if (w < 0)
                return err_errno(e, -w, "%s: poll", peer);
            continue;
        }
        if (errno == ECONNRESET)
            return err_set(e, FLOE_ETRANSIENT, "%s: connection reset by peer", peer);
        return err_errno(e, errno, "%s: recv", peer);
    }
    return 0;
}

int rpc_read_frame(int fd, size_t max_frame, struct rpc_header *h, struct buf *body,
                   int64_t deadline_ms, int eof_ok, const char *peer, struct err *e)
{
    uint8_t hdr[RPC_HEADER_LEN];
    int rc = rpc_read_full(fd, hdr, sizeof(hdr), deadline_ms, eof_ok, peer, e);
    if (rc != 0)
        return rc;
    if ((rc = rpc_header_parse(hdr, max_frame, h, e)) < 0) {
        err_prefix(e, "%s", peer);
        return rc;
    }
    buf_reset(body);
    if (h->len) {
        buf_grow(body, h->len);
        if ((rc = rpc_read_full(fd, body->data, h->len, deadline_ms, 0, peer, e)) < 0)
            return rc;
        buf_setlen(body, h->len);
    }
    return 0;
}

int rpc_status_error(const struct rpc_header *h, const struct buf *body, const char *peer, const char *refusal,
                     struct err *e)
{
    const char *text = buf_cstr(body);
    if (refusal) {
        int n = (int)(body->len < 400 ? body->len : 400);
        return err_set(e, h->status, "%s %s: %.*s", peer, refusal, n, text);
    }
    int n = (int)(body->len < ERR_MSG_MAX ? body->len : ERR_MSG_MAX);
    int rc = err_set(e, h->status, "%.*s", n, text);
    if (n == 0 && e)
        snprintf(e->msg, sizeof(e->msg), "%s", err_str(h->status));
    return rc;
}
