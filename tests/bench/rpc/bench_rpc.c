/*
 * bench_rpc: the RPC layer over loopback against a raw TCP echo measured in
 * the same run, plus the codec on a typed column batch.
 *
 * Each case runs for --seconds split over 3 alternating rounds; the best
 * round counts.
 *
 *   - round trips/s with a small payload on one connection, sequential calls:
 *     authenticated rpc (generated stub, encode, frame, server worker pool,
 *     decode, handler, reply) vs a raw echo of length-prefixed messages on a
 *     blocking socket (one thread, no framing beyond the length);
 *   - MB/s with a large payload the same way (payload bytes per second, one
 *     direction);
 *   - encode/decode of a 4096-row, 6-column RowBatch (rows/s, MB/s).
 *
 * Prints one JSON object; the *_ratio fields are rpc / raw.
 *
 *   bench_rpc [--seconds S] [--small BYTES] [--large BYTES]
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "bench_idl.h"
#include "log.h"
#include "rpc.h"
#include "types_idl.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct err *e)
{
    fprintf(stderr, "bench_rpc: %s: %s\n", what, e ? err_msg(e) : "failed");
    exit(1);
}

/* ---- raw TCP echo baseline ---- */

static int full_io(int fd, void *p, size_t n, int wr)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = wr ? send(fd, (char *)p + done, n - done, MSG_NOSIGNAL)
                       : recv(fd, (char *)p + done, n - done, 0);
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

struct raw_server {
    int lfd;
    int port;
    pthread_t th;
};

/* Serves one connection at a time until the listening socket is shut down. */
static void *raw_main(void *arg)
{
    struct raw_server *rs = arg;
    int fd;
    while ((fd = accept(rs->lfd, NULL, NULL)) >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char *buf = NULL;
        size_t cap = 0;
        for (;;) {
            uint8_t hdr[4];
            if (full_io(fd, hdr, 4, 0) < 0)
                break;
            uint32_t n = get_u32le(hdr);
            if (n > cap) {
                cap = n;
                buf = xrealloc(buf, cap);
            }
            if (full_io(fd, buf, n, 0) < 0 || full_io(fd, hdr, 4, 1) < 0 || full_io(fd, buf, n, 1) < 0)
                break;
        }
        free(buf);
        close(fd);
    }
    return NULL;
}

static void raw_start(struct raw_server *rs)
{
    rs->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof(a);
    if (bind(rs->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(rs->lfd, 4) < 0 ||
        getsockname(rs->lfd, (struct sockaddr *)&a, &sl) < 0)
        die("raw server bind", NULL);
    rs->port = ntohs(a.sin_port);
    pthread_create(&rs->th, NULL, raw_main, rs);
}

/* Round trips of size-byte messages for about secs seconds; returns calls/s. */
static double raw_run(int port, size_t size, double secs, long *ret_calls)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        die("raw connect", NULL);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char *out = xmalloc(size + 1), *in = xmalloc(size + 1);
    memset(out, 'r', size);
    uint8_t hdr[4];
    long calls = 0;
    double t0 = now_s(), t;
    do {
        for (int k = 0; k < 16; k++) {
            put_u32le(hdr, (uint32_t)size);
            if (full_io(fd, hdr, 4, 1) < 0 || full_io(fd, out, size, 1) < 0 ||
                full_io(fd, hdr, 4, 0) < 0 || full_io(fd, in, get_u32le(hdr), 0) < 0)
                die("raw echo", NULL);
            calls++;
        }
        t = now_s() - t0;
    } while (t < secs);
    if (memcmp(in, out, size) != 0)
        die("raw echo returned other bytes", NULL);
    close(fd);
    free(out);
    free(in);
    *ret_calls = calls;
    return (double)calls / t;
}

/* ---- rpc ---- */

static int echo(void *ctx, const struct bn_echo_req *req, struct bn_echo_reply *reply,
                struct err *e)
{
    (void)ctx;
    (void)e;
    reply->payload.data = xmalloc(req->payload.len + 1);
    memcpy(reply->payload.data, req->payload.data, req->payload.len);
    reply->payload.len = req->payload.len;
    return 0;
}

static double rpc_run(struct rpc_client *c, size_t size, double secs, long *ret_calls)
{
    struct bn_echo_req req;
    struct bn_echo_reply rep;
    struct err e = { 0 };
    bn_echo_req_init(&req);
    req.payload.data = xmalloc(size + 1);
    memset(req.payload.data, 'p', size);
    req.payload.len = size;
    long calls = 0;
    double t0 = now_s(), t;
    do {
        for (int k = 0; k < 16; k++) {
            if (bn_bench_echo(c, &req, &rep, &e) < 0)
                die("rpc echo", &e);
            if (rep.payload.len != size)
                die("rpc echo returned another size", NULL);
            bn_echo_reply_release(&rep);
            calls++;
        }
        t = now_s() - t0;
    } while (t < secs);
    bn_echo_req_release(&req);
    *ret_calls = calls;
    return (double)calls / t;
}

/* ---- codec ---- */

static void make_batch(struct idl_row_batch *b, int rows)
{
    idl_row_batch_init(b);
    b->num_rows = rows;
    for (int t = IDL_COLUMN_TYPE_INT32; t <= IDL_COLUMN_TYPE_TIMESTAMP; t++) {
        struct idl_column_data *c = idl_row_batch_add_columns(b);
        c->type = t;
        struct buf s = BUF_INIT;
        for (int r = 0; r < rows; r++) {
            switch (t) {
            case IDL_COLUMN_TYPE_INT32: idl_column_data_add_i32s(c, r * 31 - 7); break;
            case IDL_COLUMN_TYPE_INT64: idl_column_data_add_i64s(c, (int64_t)r * 1000003); break;
            case IDL_COLUMN_TYPE_DOUBLE: idl_column_data_add_f64s(c, r * 0.25); break;
            case IDL_COLUMN_TYPE_BOOL: idl_column_data_add_bools(c, r % 3 == 0); break;
            case IDL_COLUMN_TYPE_STRING: {
                size_t before = s.len;
                buf_printf(&s, "value-%d", r);
                idl_column_data_add_str_lens(c, (int32_t)(s.len - before));
                break;
            }
            case IDL_COLUMN_TYPE_TIMESTAMP:
                idl_column_data_add_i64s(c, INT64_C(1763769600000000) + r * INT64_C(1000000));
                break;
            }
        }
        if (t == IDL_COLUMN_TYPE_STRING) {
            size_t n;
            c->str_data.data = (uint8_t *)buf_detach(&s, &n);
            c->str_data.len = n;
        }
        buf_release(&s);
    }
}

int main(int argc, char **argv)
{
    double secs = 1.0;
    size_t small = 64, large = 1 << 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "--small") && i + 1 < argc)
            small = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--large") && i + 1 < argc)
            large = (size_t)atol(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_rpc [--seconds S] [--small BYTES] [--large BYTES]\n");
            return 2;
        }
    }
    if (secs <= 0 || secs > 600 || small > (16u << 20) || large > (32u << 20)) {
        fprintf(stderr, "bench_rpc: need 0 < --seconds <= 600, --small <= 16 MiB, --large <= 32 MiB\n");
        return 2;
    }
    log_set_level(LOG_WARN);

    struct raw_server rs;
    raw_start(&rs);

    struct auth_token tok;
    struct err e = { 0 };
    const char *t = "bench-cluster-token-0123456789";
    if (auth_token_set(&tok, t, strlen(t), &e) < 0)
        die("token", &e);
    struct rpc_server *s;
    struct rpc_server_opts so = { .name = "bench", .host = "127.0.0.1", .token = &tok, .workers = 4 };
    static const struct bn_bench_handlers h = { .echo = echo };
    if (rpc_server_new(&so, &s, &e) < 0 || bn_bench_register(s, &h, &e) < 0 ||
        rpc_server_start(s, &e) < 0)
        die("rpc server", &e);
    struct rpc_client *c;
    struct rpc_client_opts co = { .host = "127.0.0.1", .port = rpc_server_port(s), .token = &tok };
    if (rpc_client_new(&co, &c, &e) < 0 || rpc_client_connect(c, &e) < 0)
        die("rpc client", &e);

    double t0 = now_s();
    struct rpc_client *c2;
    if (rpc_client_new(&co, &c2, &e) < 0 || rpc_client_connect(c2, &e) < 0)
        die("rpc connect", &e);
    double connect_ms = (now_s() - t0) * 1000;
    rpc_client_free(c2);

    /* Rounds alternate raw and rpc so both see the same machine load; the
     * best round of each counts (the machine may be shared). */
    const int rounds = 3;
    double raw_small = 0, rpc_small = 0, raw_large = 0, rpc_large = 0, r;
    long n;
    for (int round = 0; round < rounds; round++) {
        if ((r = raw_run(rs.port, small, secs / rounds, &n)) > raw_small)
            raw_small = r;
        if ((r = rpc_run(c, small, secs / rounds, &n)) > rpc_small)
            rpc_small = r;
        if ((r = raw_run(rs.port, large, secs / rounds, &n)) > raw_large)
            raw_large = r;
        if ((r = rpc_run(c, large, secs / rounds, &n)) > rpc_large)
            rpc_large = r;
    }
    shutdown(rs.lfd, SHUT_RDWR);
    pthread_join(rs.th, NULL);
    close(rs.lfd);

    /* codec */
    struct idl_row_batch b, back;
    make_batch(&b, 4096);
    struct buf enc = BUF_INIT;
    int iters = 0;
    t0 = now_s();
    do {
        buf_reset(&enc);
        idl_row_batch_encode(&b, &enc);
        iters++;
    } while (now_s() - t0 < secs / 2);
    double enc_s = (now_s() - t0) / iters;
    int diters = 0;
    t0 = now_s();
    do {
        if (idl_row_batch_decode(enc.data, enc.len, NULL, &back, &e) < 0)
            die("batch decode", &e);
        idl_row_batch_release(&back);
        diters++;
    } while (now_s() - t0 < secs / 2);
    double dec_s = (now_s() - t0) / diters;

    double mb = 1024.0 * 1024.0;
    printf("{\"bench\":\"rpc\",\"seconds_per_case\":%.2f,\"rounds\":%d,"
           "\"connect_handshake_ms\":%.3f,"
           "\"small_bytes\":%zu,\"rpc_round_trips_per_s\":%.0f,\"raw_round_trips_per_s\":%.0f,"
           "\"round_trip_ratio\":%.3f,"
           "\"large_bytes\":%zu,\"rpc_mb_per_s\":%.1f,\"raw_mb_per_s\":%.1f,\"mb_ratio\":%.3f,"
           "\"batch_rows\":4096,\"batch_columns\":6,\"batch_encoded_bytes\":%zu,"
           "\"batch_encode_rows_per_s\":%.0f,\"batch_decode_rows_per_s\":%.0f,"
           "\"batch_encode_mb_per_s\":%.1f,\"batch_decode_mb_per_s\":%.1f}\n",
           secs, rounds, connect_ms, small, rpc_small, raw_small, rpc_small / raw_small, large,
           rpc_large * (double)large / mb, raw_large * (double)large / mb, rpc_large / raw_large,
           enc.len, 4096 / enc_s, 4096 / dec_s, (double)enc.len / enc_s / mb,
           (double)enc.len / dec_s / mb);
    buf_release(&enc);
    idl_row_batch_release(&b);
    rpc_client_free(c);
    rpc_server_free(s);
    auth_token_release(&tok);
    return 0;
}
