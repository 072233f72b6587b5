/*
 * rpc_int: helpers shared by rpc_frame.c, rpc_client.c and rpc_server.c only:
 * deadline-bounded blocking I/O on non-blocking sockets, and the handshake
 * message layout.
 */
#ifndef FLOE_RPC_INT_H
#define FLOE_RPC_INT_H

#include <stdint.h>

#include "rpc.h"

/* Handshake frames (kind RPC_AUTH, method = step):
 *   1 client -> server: client nonce
 *   2 server -> client: server nonce
 *   3 client -> server: client proof
 *   4 server -> client: server proof (status 0) or refusal (status FLOE_EAUTH, message) */
enum { RPC_AUTH_HELLO = 1, RPC_AUTH_CHALLENGE = 2, RPC_AUTH_PROOF = 3, RPC_AUTH_RESULT = 4 };

int64_t rpc_now_ms(void);

/* Write all bytes of header+payload before deadline_ms (absolute, rpc_now_ms
 * clock). Returns 0, FLOE_ETIMEOUT, or -errno. */
int rpc_write_frame(int fd, const struct rpc_header *h, const void *payload, int64_t deadline_ms,
                    const char *peer, struct err *e);
/* Read exactly n bytes. EOF before any byte with eof_ok returns 1. */
int rpc_read_full(int fd, void *p, size_t n, int64_t deadline_ms, int eof_ok, const char *peer,
                  struct err *e);
/* Read one frame: header into *h, payload into body (reset first). Returns 1
 * on a clean EOF before the header when eof_ok. */
int rpc_read_frame(int fd, size_t max_frame, struct rpc_header *h, struct buf *body,
                   int64_t deadline_ms, int eof_ok, const char *peer, struct err *e);

/*
 * The caller's error for a frame with a non-zero status (h->status is the
 * code, body its payload). refusal == NULL (a REPLY): the message is the
 * payload text, cut to fit, or err_str(status) when empty. Otherwise (an
 * AUTH refusal): "PEER REFUSAL: text". Returns h->status.
 */
int rpc_status_error(const struct rpc_header *h, const struct buf *body, const char *peer, const char *refusal,
                     struct err *e);

int rpc_set_nonblock(int fd);

#endif
