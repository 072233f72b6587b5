/*
 * fuzz_rpc_frame: an RPC frame as it arrives from the network: the 24-byte
 * header is parsed, then the payload is decoded as the request (REQUEST
 * frames) or reply (REPLY frames with status 0) of that method id in both
 * services. REPLY and AUTH frames are also read from a socket by the frame
 * reader the client uses (rpc_read_frame), and a non-zero status is turned
 * into the caller's error the way rpc_client.c does (the payload is the
 * server's message: text, cut to the error message size).
 *
 * Oracles besides the sanitizers: every refused input carries an error
 * message, and whatever decodes re-encodes to bytes that decode again to the
 * same bytes (encode/decode agree); the frame reader returns exactly the
 * header and payload sent, or a transient error for a cut frame; an error
 * reply gives the caller the frame's status as its code and a message that is
 * never empty, NUL-terminated, and the start of the payload text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend_idl.h"
#include "frontend_idl.h"
#include "rpc.h"
#include "rpc_int.h"

typedef int (*check_fn)(uint32_t id, const void *data, size_t len, const struct tidl_limits *lim,
                        struct buf *out, struct err *e);

static const struct tidl_limits lim = {
    .max_message = 1u << 20,
    .max_string = 1u << 16,
    .max_list = 1u << 16,
    .max_depth = 32,
    .max_alloc = 16u << 20,
};

static void check(check_fn fn, uint32_t method, const uint8_t *p, size_t n)
{
    struct buf out = BUF_INIT, again = BUF_INIT;
    struct err e = { 0 };
    int rc = fn(method, p, n, &lim, &out, &e);
    if (rc < 0) {
        if (e.msg[0] == '\0')
            abort();   /* an error without a message */
    } else {
        struct err e2 = { 0 };
        if (fn(method, out.data, out.len, NULL, &again, &e2) != 0)
            abort();   /* our own encoding does not decode */
        if (again.len != out.len || memcmp(again.data, out.data, out.len) != 0)
            abort();   /* decode(encode(x)) changed x */
    }
    buf_release(&out);
    buf_release(&again);
}

/* The frame as the client's reader sees it on a connection the peer closes
 * after these bytes. Returns 0 with the payload in body, or the reader's
 * error (a cut frame); -1 when the input does not fit a socket buffer. */
static int read_like_client(const uint8_t *data, size_t size, const struct rpc_header *want,
                            struct buf *body)
{
    int sv[2];
    if (size > (64u << 10))
        return -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    ssize_t w = send(sv[0], data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    close(sv[0]);
    if (w != (ssize_t)size) {
        close(sv[1]);
        return -1;
    }
    struct rpc_header h;
    struct err e = { 0 };
    int rc = rpc_read_frame(sv[1], lim.max_message, &h, body, rpc_now_ms() + 10000, 0, "fuzz",
                            &e);
    close(sv[1]);
    size_t whole = RPC_HEADER_LEN + (size_t)want->len;
    if (size >= whole) {
        /* a whole frame: exactly what was sent, header and payload */
        if (rc != 0)
            abort();
        if (h.kind != want->kind || h.method != want->method || h.seq != want->seq ||
            h.status != want->status || h.len != want->len || body->len != want->len)
            abort();
        if (want->len && memcmp(body->data, data + RPC_HEADER_LEN, want->len) != 0)
            abort();
        return 0;
    }
    /* cut short: the reader reports the closed connection, never a frame */
    if (rc != FLOE_ETRANSIENT || e.msg[0] == '\0')
        abort();
    return rc;
}

/* An error reply turned into the caller's struct err by rpc_status_error, as
 * the client does (call_locked for REPLY frames, handshake for AUTH refusals). */
static void check_error_reply(const struct rpc_header *h, const struct buf *body)
{
    struct err e = { 0 };
    const char *text = buf_cstr(body);
    int n = (int)(body->len < ERR_MSG_MAX ? body->len : ERR_MSG_MAX);
    int rc = rpc_status_error(h, body, "fuzz", h->kind == RPC_REPLY ? NULL : "refused the connection", &e);
    if (rc != h->status || e.code != h->status)
        abort();   /* the caller must see the server's code */
    size_t mlen = strnlen(e.msg, sizeof(e.msg));
    if (mlen >= sizeof(e.msg))
        abort();   /* not terminated */
    const char *m = err_msg(&e);
    if (!m || !m[0] || !err_str(h->status)[0] || !err_name(h->status)[0])
        abort();   /* an error the caller cannot describe */
    if (h->kind == RPC_REPLY && n > 0) {
        /* the message is the payload text up to its first NUL, cut to fit */
        size_t tlen = strnlen(text, (size_t)n);
        size_t want = tlen < sizeof(e.msg) - 1 ? tlen : sizeof(e.msg) - 1;
        if (mlen != want || memcmp(e.msg, text, mlen) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rpc_header h;
    struct err e = { 0 };
    if (size < RPC_HEADER_LEN)
        return 0;
    if (rpc_header_parse(data, lim.max_message, &h, &e) < 0) {
        if (e.msg[0] == '\0')
            abort();
        return 0;
    }
    const uint8_t *p = data + RPC_HEADER_LEN;
    size_t n = size - RPC_HEADER_LEN;
    if (h.len < n)
        n = h.len;   /* a short input stays truncated, as a cut connection would be */
    if (h.kind == RPC_REQUEST) {
        check(idl_backend_service_check_request, h.method, p, n);
        check(idl_frontend_service_check_request, h.method, p, n);
    } else if (h.kind == RPC_REPLY && h.status == 0) {
        check(idl_backend_service_check_reply, h.method, p, n);
        check(idl_frontend_service_check_reply, h.method, p, n);
    }
    if (h.kind == RPC_REPLY || h.kind == RPC_AUTH) {
        struct buf body = BUF_INIT;
        if (read_like_client(data, size, &h, &body) == 0 && h.status != 0)
            check_error_reply(&h, &body);
        buf_release(&body);
    }
    return 0;
}
