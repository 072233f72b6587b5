/*
 * rpc: length-framed, authenticated request/reply messaging over TCP.
 *
 * Every message is one frame: a 24-byte header (magic "FLRP", protocol
 * version, kind, flags, method id, sequence id, status, payload length; all
 * little-endian) and the payload. A connection starts with the cluster-token
 * handshake of auth.h (three AUTH frames); no method runs before it succeeds.
 * A reply with status 0 carries the encoded result; a non-zero status is a
 * floe error code (or -errno) and the payload is the error message, so the
 * caller sees the server's code and message in its struct err.
 *
 * Client: one connection, opened lazily and reopened after a failure; calls on
 * one client are serialised by a mutex (use one client per thread for
 * parallel calls). A timed-out or failed call drops the connection, so a late
 * reply is never taken for the next call's.
 *
 * Server: one thread accepts connections; a bounded pool of worker threads
 * waits on all connections (epoll, one-shot) and runs the handshake and the
 * calls, one request at a time per connection, each request read, run and
 * answered by one worker. Limits: max connections, max frame size,
 * handshake/frame/idle timeouts. rpc_server_stop stops accepting and
 * starting requests, lets running calls finish and reply, then closes every
 * connection. Handlers run concurrently on worker threads and must be
 * thread-safe.
 */
#ifndef FLOE_RPC_H
#define FLOE_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "buf.h"
#include "err.h"

#define RPC_MAGIC 0x50524c46u   /* "FLRP" as little-endian bytes */
#define RPC_VERSION 1
#define RPC_HEADER_LEN 24
#define RPC_DEFAULT_MAX_FRAME (64u << 20)

enum rpc_kind { RPC_REQUEST = 1, RPC_REPLY = 2, RPC_AUTH = 3 };

struct rpc_header {
    uint8_t version;
    uint8_t kind;       /* enum rpc_kind */
    uint16_t flags;     /* reserved, 0 */
    uint32_t method;
    uint32_t seq;
    int32_t status;     /* 0 or an error code (replies, auth) */
    uint32_t len;       /* payload bytes that follow */
};

void rpc_header_pack(const struct rpc_header *h, uint8_t out[RPC_HEADER_LEN]);
/* Validates magic, version, kind, flags, status range and len <= max_frame. */
int rpc_header_parse(const uint8_t in[RPC_HEADER_LEN], size_t max_frame, struct rpc_header *ret,
                     struct err *e);

/* ---- server ---- */

struct rpc_request {
    uint32_t method;
    uint32_t seq;
    const void *data;     /* payload, valid during the handler call */
    size_t len;
    const char *peer;     /* "ip:port" */
};

/* A method: decode req, fill reply (the server sends reply->data on 0), or
 * return a negative code with e filled (sent to the caller as code + message). */
typedef int (*rpc_method_fn)(void *arg, const struct rpc_request *req, struct buf *reply,
                             struct err *e);

struct rpc_server_opts {
    const char *name;          /* for log lines, e.g. "be"; default "rpc" */
    const char *host;          /* bind address; NULL or "" = all interfaces */
    int port;                  /* 0 = ephemeral, see rpc_server_port */
    const struct auth_token *token;  /* required; borrowed, must outlive the server */
    int workers;               /* default 8 */
    int max_conns;             /* default 1024 */
    size_t max_frame;          /* default RPC_DEFAULT_MAX_FRAME */
    int auth_timeout_ms;       /* handshake, default 5000 */
    int io_timeout_ms;         /* reading one frame once it started, writing a reply; default 30000 */
    int idle_timeout_ms;       /* idle connections are closed; default 600000 */
};

struct rpc_server_stats {
    uint64_t accepted;
    uint64_t refused_conns;    /* over max_conns */
    uint64_t auth_ok;
    uint64_t auth_refused;
    uint64_t calls;
    uint64_t call_errors;      /* error replies sent */
    int conns;                 /* open now */
};

struct rpc_server;

int rpc_server_new(const struct rpc_server_opts *o, struct rpc_server **ret, struct err *e);
/* Registers a method before rpc_server_start. id >= 1 and < 65536; arg is
 * passed to fn and borrowed (must outlive the server). */
int rpc_server_add_method(struct rpc_server *s, uint32_t id, const char *name, rpc_method_fn fn,
                          void *arg, struct err *e);
/* Binds, listens and starts the threads. */
int rpc_server_start(struct rpc_server *s, struct err *e);
/* The bound port (after start). */
int rpc_server_port(const struct rpc_server *s);
void rpc_server_get_stats(struct rpc_server *s, struct rpc_server_stats *ret);
/* Graceful stop: no new connections or requests, running calls reply, then
 * everything is closed and joined (a request not yet started when the stop
 * begins is not run: its caller sees the connection close). Idempotent. */
void rpc_server_stop(struct rpc_server *s);
/* Stops if needed and frees. Accepts NULL. */
void rpc_server_free(struct rpc_server *s);

/* ---- client ---- */

struct rpc_client_opts {
    const char *host;
    int port;
    const struct auth_token *token;  /* required; borrowed, must outlive the client */
    int connect_timeout_ms;    /* connect + handshake, default 5000 */
    int call_timeout_ms;       /* whole call (send + wait + receive), default 60000 */
    size_t max_frame;          /* default RPC_DEFAULT_MAX_FRAME */
};

struct rpc_client;

/* Does not connect; the first call does. */
int rpc_client_new(const struct rpc_client_opts *o, struct rpc_client **ret, struct err *e);
/* Sends one request and waits for its reply; ret_reply gets the payload
 * (reset first). A server error reply returns its code with its message. */
int rpc_call(struct rpc_client *c, uint32_t method, const void *req, size_t len,
             struct buf *ret_reply, struct err *e);
/* Encodes a message into out (appending). */
typedef void (*rpc_encode_fn)(const void *msg, struct buf *out);
/* Decodes a reply payload into ret (which it initialises). */
typedef int (*rpc_decode_fn)(const void *data, size_t len, void *ret, struct err *e);
/* rpc_call for typed messages, as generated stubs use it: encodes req with
 * enc into the client's own buffer and decodes the reply with dec into ret,
 * so a call allocates nothing beyond the decoded reply. On failure ret is
 * left initialised (dec is called with an empty payload if needed). */
int rpc_call_msg(struct rpc_client *c, uint32_t method, rpc_encode_fn enc, const void *req,
                 rpc_decode_fn dec, void *ret, struct err *e);
void rpc_client_set_call_timeout(struct rpc_client *c, int ms);
/* Connects and authenticates now (a no-op when connected). */
int rpc_client_connect(struct rpc_client *c, struct err *e);
/* Drops the connection; the next call reconnects. */
void rpc_client_disconnect(struct rpc_client *c);
/* "host:port" of the server, for messages. */
const char *rpc_client_addr(const struct rpc_client *c);
void rpc_client_free(struct rpc_client *c);

#endif
