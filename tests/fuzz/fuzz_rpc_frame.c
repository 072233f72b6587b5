/*
 * fuzz_rpc_frame: an RPC frame as it arrives from the network: the 24-byte
 * header is parsed, then the payload is decoded as the request (REQUEST
 * frames) or reply (REPLY frames) of that method id in both services.
 *
 * Oracles besides the sanitizers: every refused input carries an error
 * message, and whatever decodes re-encodes to bytes that decode again to the
 * same bytes (encode/decode agree).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend_idl.h"
#include "frontend_idl.h"
#include "rpc.h"

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
    return 0;
}
