/*
 * Unit tests for the RPC transport and cluster-token auth, through the
 * generated TestService stubs of test.tidl: real sockets on loopback.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "rpc.h"
#include "test_idl.h"
#include "testutil.h"

#define TOKEN "s3cret-cluster-token-0123456789"
#define WRONG "another-cluster-token-987654321"

static struct auth_token token, wrong;

struct svc {
    pthread_mutex_t lock;
    int64_t calls;
};

static int echo(void *ctx, const struct tt_echo_req *req, struct tt_echo_reply *reply, struct err *e)
{
    struct svc *sv = ctx;
    if (req->sleep_ms > 0) {
        struct timespec ts = { req->sleep_ms / 1000, (long)(req->sleep_ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&sv->lock);
    int64_t n = ++sv->calls;
    pthread_mutex_unlock(&sv->lock);
    if (req->fail_code)
        return err_set(e, req->fail_code, "%s", req->fail_msg);
    reply->payload.data = xmalloc(req->payload.len + 1);
    if (req->payload.len)
        memcpy(reply->payload.data, req->payload.data, req->payload.len);
    reply->payload.len = req->payload.len;
    reply->calls = n;
    return 0;
}

static struct svc sv = { PTHREAD_MUTEX_INITIALIZER, 0 };
static const struct tt_test_service_handlers handlers = { .ctx = &sv, .echo = echo };

/* A started server with the echo service, made from o. */
static struct rpc_server *serve(const struct rpc_server_opts *o)
{
    struct rpc_server *s;
    struct err e = { 0 };
    ck_assert_int_eq(rpc_server_new(o, &s, &e), 0);
    ck_assert_msg(tt_test_service_register(s, &handlers, &e) == 0, "%s", err_msg(&e));
    ck_assert_msg(rpc_server_start(s, &e) == 0, "%s", err_msg(&e));
    return s;
}

static struct rpc_server *start_server(int port, int max_conns, size_t max_frame)
{
    struct rpc_server_opts o = { .name = "test", .host = "127.0.0.1", .port = port,
                                 .token = &token, .workers = 4, .max_conns = max_conns,
                                 .max_frame = max_frame };
    return serve(&o);
}

/* Polls until the server holds want connections; fails the test after 10 s. */
static void wait_conns(struct rpc_server *s, int want, const char *what)
{
    struct rpc_server_stats st;
    int64_t deadline = time(NULL) + 10;
    for (;;) {
        rpc_server_get_stats(s, &st);
        if (st.conns == want)
            break;
        ck_assert_msg(time(NULL) < deadline, "%s: server has %d connections", what, st.conns);
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
}

static struct rpc_client *client(int port, const struct auth_token *t)
{
    struct rpc_client *c;
    struct err e = { 0 };
    struct rpc_client_opts o = { .host = "127.0.0.1", .port = port, .token = t,
                                 .connect_timeout_ms = 3000, .call_timeout_ms = 10000 };
    ck_assert_int_eq(rpc_client_new(&o, &c, &e), 0);
    return c;
}

static int call_echo(struct rpc_client *c, const char *payload, int sleep_ms, int fail_code,
                     struct tt_echo_reply *ret, struct err *e)
{
    struct tt_echo_req req;
    tt_echo_req_init(&req);
    req.payload.data = (uint8_t *)payload;
    req.payload.len = strlen(payload);
    req.sleep_ms = sleep_ms;
    req.fail_code = fail_code;
    req.fail_msg = (char *)"tablet 42 not found";
    int rc = tt_test_service_echo(c, &req, ret, e);
    return rc;
}

static void setup(void)
{
    struct err e = { 0 };
    ck_assert_int_eq(auth_token_set(&token, TOKEN, strlen(TOKEN), &e), 0);
    ck_assert_int_eq(auth_token_set(&wrong, WRONG, strlen(WRONG), &e), 0);
    log_set_level(LOG_WARN);
}

START_TEST(token_file_modes)
{
    char *dir = test_tmpdir();
    char *path = xasprintf("%s/token", dir);
    struct auth_token t;
    struct err e = { 0 };
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, TOKEN "\n", strlen(TOKEN) + 1), (ssize_t)strlen(TOKEN) + 1);
    close(fd);
    chmod(path, 0644);
    ck_assert_int_eq(auth_token_load(path, &t, &e), FLOE_ECONFIG);
    ck_assert_msg(strstr(e.msg, "mode 0644") && strstr(e.msg, path), "%s", e.msg);
    ck_assert_msg(!strstr(e.msg, TOKEN), "token leaked into the message");
    chmod(path, 0600);
    ck_assert_msg(auth_token_load(path, &t, &e) == 0, "%s", err_msg(&e));
    ck_assert_uint_eq(t.len, strlen(TOKEN));   /* newline stripped */
    ck_assert_int_eq(memcmp(t.key, TOKEN, t.len), 0);
    auth_token_release(&t);
    ck_assert_uint_eq(t.len, 0);
    /* too short */
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, "short", 5), 5);
    close(fd);
    ck_assert_int_eq(auth_token_load(path, &t, &e), FLOE_ECONFIG);
    ck_assert_msg(strstr(e.msg, "at least 16"), "%s", e.msg);
    /* missing */
    char *missing = xasprintf("%s/none", dir);
    ck_assert_int_eq(auth_token_load(missing, &t, &e), -ENOENT);
    ck_assert_msg(strstr(e.msg, missing), "%s", e.msg);
    unlink(path);
    rmdir(dir);
    free(missing);
    free(path);
    free(dir);
}
END_TEST

START_TEST(call_round_trip_and_error_reply)
{
    struct rpc_server *s = start_server(0, 0, 0);
    struct rpc_client *c = client(rpc_server_port(s), &token);
    struct tt_echo_reply rep;
    struct err e = { 0 };
    ck_assert_msg(call_echo(c, "hello", 0, 0, &rep, &e) == 0, "%s", err_msg(&e));
    ck_assert_uint_eq(rep.payload.len, 5);
    ck_assert_int_eq(memcmp(rep.payload.data, "hello", 5), 0);
    tt_echo_reply_release(&rep);

    /* a handler error travels as code + message */
    ck_assert_int_eq(call_echo(c, "x", 0, FLOE_ENOTFOUND, &rep, &e), FLOE_ENOTFOUND);
    ck_assert_msg(strstr(e.msg, "tablet 42 not found") && strstr(e.msg, "TestService.echo"), "%s",
                  e.msg);
    ck_assert_uint_eq(rep.payload.len, 0);
    tt_echo_reply_release(&rep);
    /* the connection is still usable after an error reply */
    ck_assert_int_eq(call_echo(c, "again", 0, 0, &rep, &e), 0);
    tt_echo_reply_release(&rep);

    /* a method without a handler */
    struct tt_echo_req req;
    tt_echo_req_init(&req);
    ck_assert_int_eq(tt_test_service_unimplemented(c, &req, &rep, &e), FLOE_EUNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "not implemented"), "%s", e.msg);
    tt_echo_reply_release(&rep);
    /* a request the server cannot decode */
    struct buf out = BUF_INIT;
    ck_assert_int_eq(rpc_call(c, TT_TEST_SERVICE_ECHO, "\x15\x7f", 2, &out, &e), FLOE_EPROTO);
    ck_assert_msg(strstr(e.msg, "TestService.echo request"), "%s", e.msg);
    buf_release(&out);

    struct rpc_server_stats st;
    rpc_server_get_stats(s, &st);
    ck_assert_uint_eq(st.auth_ok, 1);
    ck_assert_uint_eq(st.calls, 5);
    ck_assert_uint_eq(st.call_errors, 3);
    rpc_client_free(c);
    rpc_server_free(s);
}
END_TEST

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    struct buf b = BUF_INIT;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_append(&b, tmp, n);
    fclose(f);
    return buf_detach(&b, NULL);
}

START_TEST(wrong_token_refused_and_logged_without_token)
{
    char *dir = test_tmpdir();
    char *logp = xasprintf("%s/log", dir);
    ck_assert_int_eq(log_set_file(logp), 0);
    struct rpc_server *s = start_server(0, 0, 0);
    struct rpc_client *c = client(rpc_server_port(s), &wrong);
    struct tt_echo_reply rep;
    struct err e = { 0 };
    ck_assert_int_eq(call_echo(c, "x", 0, 0, &rep, &e), FLOE_EAUTH);
    ck_assert_msg(strstr(e.msg, "refused authentication"), "%s", e.msg);
    tt_echo_reply_release(&rep);
    struct rpc_server_stats st;
    rpc_server_get_stats(s, &st);
    ck_assert_uint_eq(st.auth_refused, 1);
    ck_assert_uint_eq(st.calls, 0);
    ck_assert_int_eq(sv.calls, 0);
    rpc_client_free(c);
    rpc_server_free(s);
    log_set_file(NULL);
    char *log = read_all(logp);
    ck_assert_msg(strstr(log, "refused connection from 127.0.0.1"), "%s", log);
    ck_assert_msg(strstr(log, "cluster token proof does not match"), "%s", log);
    ck_assert_msg(!strstr(log, TOKEN) && !strstr(log, WRONG), "token in log: %s", log);
    free(log);
    unlink(logp);
    rmdir(dir);
    free(logp);
    free(dir);
}
END_TEST

START_TEST(server_impostor_refused_by_client)
{
    /* the server has a different token: the client refuses it too, since the
     * server's refusal or proof never matches */
    struct err e = { 0 };
    struct rpc_server_opts o = { .host = "127.0.0.1", .token = &wrong };
    struct rpc_server *s = serve(&o);
    struct rpc_client *c = client(rpc_server_port(s), &token);
    ck_assert_int_eq(rpc_client_connect(c, &e), FLOE_EAUTH);
    rpc_client_free(c);
    rpc_server_free(s);
    ck_assert_int_eq(sv.calls, 0);
}
END_TEST

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

START_TEST(no_handshake_refused)
{
    struct rpc_server *s = start_server(0, 0, 0);
    int fd = raw_connect(rpc_server_port(s));
    /* a request frame straight away, as a client without the token would */
    struct buf req = BUF_INIT;
    struct tt_echo_req r;
    tt_echo_req_init(&r);
    tt_echo_req_encode(&r, &req);
    struct rpc_header h = { .version = RPC_VERSION, .kind = RPC_REQUEST,
                            .method = TT_TEST_SERVICE_ECHO, .seq = 7, .len = (uint32_t)req.len };
    uint8_t hdr[RPC_HEADER_LEN];
    rpc_header_pack(&h, hdr);
    ck_assert_int_eq(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
    ck_assert_int_eq(write(fd, req.data, req.len), (ssize_t)req.len);
    uint8_t in[RPC_HEADER_LEN];
    ck_assert_int_eq(recv(fd, in, sizeof(in), MSG_WAITALL), (ssize_t)sizeof(in));
    struct rpc_header rh;
    struct err e = { 0 };
    ck_assert_int_eq(rpc_header_parse(in, 4096, &rh, &e), 0);
    ck_assert_int_eq(rh.kind, RPC_REPLY);
    ck_assert_int_eq(rh.status, FLOE_EAUTH);
    ck_assert_uint_eq(rh.seq, 7);
    char msg[256];
    ck_assert_int_eq(recv(fd, msg, rh.len, MSG_WAITALL), (ssize_t)rh.len);
    /* then the server closes */
    char c;
    ck_assert_int_eq(recv(fd, &c, 1, 0), 0);
    close(fd);
    struct rpc_server_stats st;
    rpc_server_get_stats(s, &st);
    ck_assert_uint_eq(st.auth_refused, 1);
    ck_assert_uint_eq(st.calls, 0);
    ck_assert_int_eq(sv.calls, 0);
    /* garbage instead of a frame: closed as well */
    fd = raw_connect(rpc_server_port(s));
    ck_assert_int_eq(write(fd, "GET / HTTP/1.0\r\n\r\n0123456", 25), 25);
    while (recv(fd, msg, sizeof(msg), 0) > 0) {
    }
    close(fd);
    rpc_server_get_stats(s, &st);
    ck_assert_uint_eq(st.auth_refused, 2);
    buf_release(&req);
    rpc_server_free(s);
}
END_TEST

struct worker_arg {
    int port;
    int ok;
};

static void *conc_worker(void *p)
{
    struct worker_arg *a = p;
    struct rpc_client *c = client(a->port, &token);
    for (int i = 0; i < 20; i++) {
        struct tt_echo_reply rep;
        struct err e = { 0 };
        char msg[64];
        snprintf(msg, sizeof(msg), "msg-%p-%d", (void *)a, i);
        if (call_echo(c, msg, i == 0 ? 20 : 0, 0, &rep, &e) == 0 && rep.payload.len == strlen(msg) &&
            memcmp(rep.payload.data, msg, rep.payload.len) == 0)
            a->ok++;
        tt_echo_reply_release(&rep);
    }
    rpc_client_free(c);
    return NULL;
}

START_TEST(fifty_concurrent_connections)
{
    struct rpc_server *s = start_server(0, 0, 0);
    pthread_t th[50];
    struct worker_arg args[50];
    for (int i = 0; i < 50; i++) {
        args[i] = (struct worker_arg){ .port = rpc_server_port(s) };
        ck_assert_int_eq(pthread_create(&th[i], NULL, conc_worker, &args[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < 50; i++) {
        pthread_join(th[i], NULL);
        ok += args[i].ok;
    }
    ck_assert_int_eq(ok, 1000);
    struct rpc_server_stats st;
    rpc_server_get_stats(s, &st);
    ck_assert_uint_eq(st.auth_ok, 50);
    ck_assert_uint_eq(st.calls, 1000);
    ck_assert_int_eq(sv.calls, 1000);
    rpc_server_free(s);
}
END_TEST

START_TEST(timeout_then_reconnect)
{
    struct rpc_server *s = start_server(0, 0, 0);
    struct rpc_client *c = client(rpc_server_port(s), &token);
    struct tt_echo_reply rep;
    struct err e = { 0 };
    rpc_client_set_call_timeout(c, 100);
    ck_assert_int_eq(call_echo(c, "slow", 600, 0, &rep, &e), FLOE_ETIMEOUT);
    ck_assert_msg(strstr(e.msg, "timed out"), "%s", e.msg);
    tt_echo_reply_release(&rep);
    rpc_client_set_call_timeout(c, 5000);
    /* the late reply of the slow call must not be taken for this one */
    ck_assert_int_eq(call_echo(c, "fast", 0, 0, &rep, &e), 0);
    ck_assert_int_eq(memcmp(rep.payload.data, "fast", 4), 0);
    tt_echo_reply_release(&rep);

    /* server restart on the same port: the client reconnects by itself */
    int port = rpc_server_port(s);
    rpc_server_free(s);
    ck_assert_int_lt(call_echo(c, "down", 0, 0, &rep, &e), 0);
    tt_echo_reply_release(&rep);
    s = start_server(port, 0, 0);
    ck_assert_msg(call_echo(c, "back", 0, 0, &rep, &e) == 0, "%s", err_msg(&e));
    ck_assert_int_eq(memcmp(rep.payload.data, "back", 4), 0);
    tt_echo_reply_release(&rep);
    rpc_client_free(c);
    rpc_server_free(s);
}
END_TEST

struct slow_arg {
    int port;
    int rc;
};

static void *slow_call(void *p)
{
    struct slow_arg *a = p;
    struct rpc_client *c = client(a->port, &token);
    struct tt_echo_reply rep;
    struct err e = { 0 };
    ck_assert_int_eq(rpc_client_connect(c, &e), 0);
    a->rc = call_echo(c, "inflight", 400, 0, &rep, &e);
    tt_echo_reply_release(&rep);
    rpc_client_free(c);
    return NULL;
}

START_TEST(graceful_shutdown)
{
    struct rpc_server *s = start_server(0, 0, 0);
    struct slow_arg a = { .port = rpc_server_port(s), .rc = 1 };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, slow_call, &a), 0);
    /* wait until the call runs in the handler */
    int64_t deadline = time(NULL) + 10;
    for (;;) {
        pthread_mutex_lock(&sv.lock);
        int64_t n = sv.calls;
        pthread_mutex_unlock(&sv.lock);
        if (n > 0)
            break;
        ck_assert_msg(time(NULL) < deadline, "call never started");
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
    rpc_server_stop(s);   /* returns after the running call replied */
    pthread_join(th, NULL);
    ck_assert_int_eq(a.rc, 0);
    /* stopped: new connections fail */
    struct rpc_client *c = client(a.port, &token);
    struct err e = { 0 };
    ck_assert_int_lt(rpc_client_connect(c, &e), 0);
    rpc_client_free(c);
    rpc_server_stop(s);   /* idempotent */
    rpc_server_free(s);
}
END_TEST

START_TEST(frame_and_connection_limits)
{
    struct rpc_server *s = start_server(0, 2, 1024);
    struct rpc_client *c = client(rpc_server_port(s), &token);
    struct tt_echo_reply rep;
    struct err e = { 0 };
    char big[2000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(call_echo(c, big, 0, 0, &rep, &e), FLOE_ELIMIT);
    ck_assert_msg(strstr(e.msg, "exceeds limit 1024"), "%s", e.msg);
    tt_echo_reply_release(&rep);
    ck_assert_int_eq(call_echo(c, "small", 0, 0, &rep, &e), 0);
    tt_echo_reply_release(&rep);

    /* two connections allowed, the third is refused; first wait until the
     * server closed the connection it dropped after the oversized frame */
    wait_conns(s, 1, "connection dropped after the oversized frame");
    struct rpc_server_stats st;
    struct rpc_client *c2 = client(rpc_server_port(s), &token);
    struct rpc_client *c3 = client(rpc_server_port(s), &token);
    ck_assert_int_eq(rpc_client_connect(c2, &e), 0);
    ck_assert_int_lt(rpc_client_connect(c3, &e), 0);
    rpc_server_get_stats(s, &st);
    ck_assert_uint_eq(st.refused_conns, 1);
    rpc_client_free(c3);
    rpc_client_free(c2);
    rpc_client_free(c);
    rpc_server_free(s);
}
END_TEST

START_TEST(idle_connections_closed_and_client_reconnects)
{
    struct err e = { 0 };
    struct rpc_server_opts o = { .host = "127.0.0.1", .token = &token, .idle_timeout_ms = 200 };
    struct rpc_server *s = serve(&o);
    struct rpc_client *c = client(rpc_server_port(s), &token);
    struct tt_echo_reply rep;
    ck_assert_int_eq(call_echo(c, "one", 0, 0, &rep, &e), 0);
    tt_echo_reply_release(&rep);
    wait_conns(s, 0, "idle connection never closed");
    struct rpc_server_stats st;
    ck_assert_msg(call_echo(c, "two", 0, 0, &rep, &e) == 0, "%s", err_msg(&e));
    ck_assert_int_eq(memcmp(rep.payload.data, "two", 3), 0);
    tt_echo_reply_release(&rep);
    rpc_server_get_stats(s, &st);
    ck_assert_uint_eq(st.auth_ok, 2);
    rpc_client_free(c);
    rpc_server_free(s);
}
END_TEST

START_TEST(silent_connection_dropped_after_auth_timeout)
{
    struct rpc_server *s;
    struct err e = { 0 };
    struct rpc_server_opts o = { .host = "127.0.0.1", .token = &token, .auth_timeout_ms = 200 };
    ck_assert_int_eq(rpc_server_new(&o, &s, &e), 0);
    ck_assert_int_eq(rpc_server_start(s, &e), 0);
    int fd = raw_connect(rpc_server_port(s));
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    time_t t0 = time(NULL);
    char c;
    ck_assert_int_eq(recv(fd, &c, 1, 0), 0);   /* closed by the server, not by the 10 s timeout */
    ck_assert_int_lt(time(NULL) - t0, 8);
    close(fd);
    rpc_server_free(s);
}
END_TEST

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(partial_handshake_does_not_hold_a_worker)
{
    /* one worker; a client sends half a hello and stalls: honest clients are
     * still served at once, and the staller is dropped after auth_timeout */
    struct err e = { 0 };
    struct rpc_server_opts o = { .host = "127.0.0.1", .token = &token, .workers = 1,
                                 .auth_timeout_ms = 4000 };
    struct rpc_server *s = serve(&o);
    int fd = raw_connect(rpc_server_port(s));
    struct rpc_header h = { .version = RPC_VERSION, .kind = RPC_AUTH, .method = 1, .len = 32 };
    uint8_t hdr[RPC_HEADER_LEN + 8] = { 0 };
    rpc_header_pack(&h, hdr);
    ck_assert_int_eq(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
    struct rpc_client *c = client(rpc_server_port(s), &token);
    struct tt_echo_reply rep;
    /* a held worker would make this call wait for the staller's 4 s auth
     * timeout; elapsed milliseconds, not a difference of whole seconds (which
     * is 1 for a 2 ms call across a second boundary) */
    int64_t t0 = now_ms();
    ck_assert_msg(call_echo(c, "honest", 0, 0, &rep, &e) == 0, "%s", err_msg(&e));
    int64_t took = now_ms() - t0;
    ck_assert_msg(took < 3000, "honest call took %lld ms behind a stalled handshake",
                  (long long)took);
    tt_echo_reply_release(&rep);
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char b;
    ck_assert_int_eq(recv(fd, &b, 1, 0), 0);   /* dropped by the server */
    close(fd);
    rpc_client_free(c);
    rpc_server_free(s);
}
END_TEST

/* A loopback socket listening on an ephemeral port that nobody accepts from. */
static int listen_unaccepted(int backlog, int *ret_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, backlog), 0);
    socklen_t al = sizeof(a);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *ret_port = ntohs(a.sin_port);
    return fd;
}

/* Non-blocking connect; 1 when it completed within ms, 0 when it is still
 * pending. The socket is returned either way. */
static int connect_within(int port, int ms, int *ret_fd)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
    ck_assert(r == 0 || errno == EINPROGRESS);
    *ret_fd = fd;
    if (r == 0)
        return 1;
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    if (poll(&p, 1, ms) <= 0)
        return 0;
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl), 0);
    ck_assert_msg(soerr == 0, "filler connect failed: %s", strerror(soerr));
    return 1;
}

/* Connect + handshake time out against a peer that never answers the TCP
 * handshake: a listening socket whose accept queue is full and never drained
 * drops further SYNs, so the client's connect stays pending. */
START_TEST(connect_timeout_against_full_backlog)
{
    int port;
    int lfd = listen_unaccepted(0, &port);
    int fill[32], nfill = 0;
    int stuck = 0;
    while (nfill < 32 && !stuck) {
        stuck = !connect_within(port, 300, &fill[nfill]);
        nfill++;
    }
    ck_assert_msg(stuck, "the accept queue never filled up (%d connections)", nfill);
    struct rpc_client *c;
    struct err e = { 0 };
    struct rpc_client_opts o = { .host = "127.0.0.1", .port = port, .token = &token,
                                 .connect_timeout_ms = 200, .call_timeout_ms = 60000 };
    ck_assert_int_eq(rpc_client_new(&o, &c, &e), 0);
    int64_t t0 = now_ms();
    int rc = rpc_client_connect(c, &e);
    int64_t took = now_ms() - t0;
    ck_assert_msg(rc == FLOE_ETIMEOUT, "connect gave %d: %s", rc, err_msg(&e));
    /* the TCP connect itself timed out (not the handshake after it) */
    ck_assert_msg(strstr(e.msg, "connect timed out") && strstr(e.msg, rpc_client_addr(c)), "%s",
                  e.msg);
    ck_assert_msg(took >= 190 && took < 5000, "connect timeout of 200 ms took %lld ms",
                  (long long)took);
    /* a call connects first and fails the same way, within the connect timeout
     * rather than the 60 s call timeout */
    struct tt_echo_reply rep;
    t0 = now_ms();
    rc = call_echo(c, "x", 0, 0, &rep, &e);
    took = now_ms() - t0;
    tt_echo_reply_release(&rep);
    ck_assert_msg(rc == FLOE_ETIMEOUT, "call gave %d: %s", rc, err_msg(&e));
    ck_assert_msg(took >= 190 && took < 5000, "call against a dead peer took %lld ms",
                  (long long)took);
    rpc_client_free(c);
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    close(lfd);
}
END_TEST

/* The TCP connection completes (the kernel queues it) but nobody ever speaks:
 * the cluster-token handshake is bounded by the connect timeout as well. */
START_TEST(connect_timeout_against_silent_listener)
{
    int port;
    int lfd = listen_unaccepted(8, &port);
    struct rpc_client *c;
    struct err e = { 0 };
    struct rpc_client_opts o = { .host = "127.0.0.1", .port = port, .token = &token,
                                 .connect_timeout_ms = 200 };
    ck_assert_int_eq(rpc_client_new(&o, &c, &e), 0);
    int64_t t0 = now_ms();
    int rc = rpc_client_connect(c, &e);
    int64_t took = now_ms() - t0;
    ck_assert_msg(rc == FLOE_ETIMEOUT, "connect gave %d: %s", rc, err_msg(&e));
    /* connected, then waited for the server's challenge */
    ck_assert_msg(strstr(e.msg, "timed out waiting for data"), "%s", e.msg);
    ck_assert_msg(took >= 190 && took < 5000, "handshake timeout of 200 ms took %lld ms",
                  (long long)took);
    rpc_client_free(c);
    close(lfd);
}
END_TEST

/* A fake server: runs the server side of the handshake, reads one request
 * and never replies; then waits for the client to close the connection. */
struct mute_peer {
    int lfd;
    int handshake_ok;
    uint32_t method;     /* of the request read */
    int saw_close;       /* the client dropped the connection */
};

static int recv_frame(int fd, struct rpc_header *h, uint8_t *payload, size_t max)
{
    uint8_t hdr[RPC_HEADER_LEN];
    struct err e = { 0 };
    if (recv(fd, hdr, sizeof(hdr), MSG_WAITALL) != (ssize_t)sizeof(hdr))
        return -1;
    if (rpc_header_parse(hdr, max, h, &e) < 0)
        return -1;
    if (h->len && recv(fd, payload, h->len, MSG_WAITALL) != (ssize_t)h->len)
        return -1;
    return 0;
}

static int send_frame(int fd, const struct rpc_header *h, const void *payload)
{
    uint8_t hdr[RPC_HEADER_LEN];
    rpc_header_pack(h, hdr);
    if (send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL) != (ssize_t)sizeof(hdr))
        return -1;
    if (h->len && send(fd, payload, h->len, MSG_NOSIGNAL) != (ssize_t)h->len)
        return -1;
    return 0;
}

static void *mute_peer_run(void *arg)
{
    struct mute_peer *m = arg;
    struct pollfd p = { .fd = m->lfd, .events = POLLIN };
    if (poll(&p, 1, 10000) != 1)
        return NULL;
    int fd = accept(m->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct rpc_header h;
    uint8_t buf[4096], cn[AUTH_NONCE_LEN], sn[AUTH_NONCE_LEN], proof[AUTH_MAC_LEN];
    struct err e = { 0 };
    if (recv_frame(fd, &h, buf, sizeof(buf)) < 0 || h.kind != RPC_AUTH || h.method != 1 ||
        h.len != AUTH_NONCE_LEN)
        goto out;
    memcpy(cn, buf, AUTH_NONCE_LEN);
    if (auth_nonce(sn, &e) < 0)
        goto out;
    h = (struct rpc_header){ .version = RPC_VERSION, .kind = RPC_AUTH, .method = 2,
                             .len = AUTH_NONCE_LEN };
    if (send_frame(fd, &h, sn) < 0)
        goto out;
    if (recv_frame(fd, &h, buf, sizeof(buf)) < 0 || h.kind != RPC_AUTH || h.method != 3 ||
        !auth_proof_ok(&token, AUTH_CLIENT, cn, sn, buf, h.len))
        goto out;
    auth_proof(&token, AUTH_SERVER, cn, sn, proof);
    h = (struct rpc_header){ .version = RPC_VERSION, .kind = RPC_AUTH, .method = 4,
                             .len = AUTH_MAC_LEN };
    if (send_frame(fd, &h, proof) < 0)
        goto out;
    m->handshake_ok = 1;
    if (recv_frame(fd, &h, buf, sizeof(buf)) < 0 || h.kind != RPC_REQUEST)
        goto out;
    m->method = h.method;
    /* no reply; the next thing from the client must be the end of the stream */
    ssize_t r = recv(fd, buf, 1, 0);
    m->saw_close = r == 0;
out:
    close(fd);
    return NULL;
}

START_TEST(call_deadline_against_mute_peer)
{
    int port;
    struct mute_peer m = { .lfd = listen_unaccepted(8, &port) };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, mute_peer_run, &m), 0);
    struct rpc_client *c;
    struct err e = { 0 };
    struct rpc_client_opts o = { .host = "127.0.0.1", .port = port, .token = &token,
                                 .connect_timeout_ms = 5000, .call_timeout_ms = 200 };
    ck_assert_int_eq(rpc_client_new(&o, &c, &e), 0);
    ck_assert_msg(rpc_client_connect(c, &e) == 0, "%s", err_msg(&e));
    struct tt_echo_reply rep;
    int64_t t0 = now_ms();
    int rc = call_echo(c, "anyone?", 0, 0, &rep, &e);
    int64_t took = now_ms() - t0;
    ck_assert_msg(rc == FLOE_ETIMEOUT, "call gave %d: %s", rc, err_msg(&e));
    ck_assert_msg(strstr(e.msg, "timed out"), "%s", e.msg);
    ck_assert_uint_eq(rep.payload.len, 0);   /* initialised on failure */
    tt_echo_reply_release(&rep);
    ck_assert_msg(took >= 190 && took < 5000, "call timeout of 200 ms took %lld ms",
                  (long long)took);
    /* the timed-out call dropped the connection, so no late reply can be read
     * as the next call's: the peer sees the stream end */
    pthread_join(th, NULL);
    ck_assert(m.handshake_ok);
    ck_assert_uint_eq(m.method, TT_TEST_SERVICE_ECHO);
    ck_assert_msg(m.saw_close, "the client kept the timed-out connection open");
    /* with the peer gone the next call fails fast rather than hanging */
    close(m.lfd);
    t0 = now_ms();
    ck_assert_int_lt(call_echo(c, "again", 0, 0, &rep, &e), 0);
    ck_assert_int_lt(now_ms() - t0, 5000);
    tt_echo_reply_release(&rep);
    rpc_client_free(c);
}
END_TEST

START_TEST(header_parse_rejects_bad_frames)
{
    struct rpc_header h = { .version = RPC_VERSION, .kind = RPC_REQUEST, .method = 3, .seq = 9,
                            .status = 0, .len = 100 };
    uint8_t b[RPC_HEADER_LEN];
    struct rpc_header out;
    struct err e = { 0 };
    rpc_header_pack(&h, b);
    ck_assert_int_eq(rpc_header_parse(b, 100, &out, &e), 0);
    ck_assert_uint_eq(out.method, 3);
    ck_assert_uint_eq(out.seq, 9);
    ck_assert_int_eq(rpc_header_parse(b, 99, &out, &e), FLOE_ELIMIT);
    b[0] ^= 1;
    ck_assert_int_eq(rpc_header_parse(b, 100, &out, &e), FLOE_EPROTO);
    ck_assert_msg(strstr(e.msg, "magic"), "%s", e.msg);
    rpc_header_pack(&h, b);
    b[4] = 2;
    ck_assert_int_eq(rpc_header_parse(b, 100, &out, &e), FLOE_EVERSION);
    rpc_header_pack(&h, b);
    b[5] = 9;
    ck_assert_int_eq(rpc_header_parse(b, 100, &out, &e), FLOE_EPROTO);
    h.status = 12345;
    rpc_header_pack(&h, b);
    ck_assert_int_eq(rpc_header_parse(b, 100, &out, &e), FLOE_EPROTO);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("idl_rpc");
    TCase *tc = tcase_create("rpc");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, token_file_modes);
    tcase_add_test(tc, call_round_trip_and_error_reply);
    tcase_add_test(tc, wrong_token_refused_and_logged_without_token);
    tcase_add_test(tc, server_impostor_refused_by_client);
    tcase_add_test(tc, no_handshake_refused);
    tcase_add_test(tc, fifty_concurrent_connections);
    tcase_add_test(tc, timeout_then_reconnect);
    tcase_add_test(tc, graceful_shutdown);
    tcase_add_test(tc, frame_and_connection_limits);
    tcase_add_test(tc, idle_connections_closed_and_client_reconnects);
    tcase_add_test(tc, silent_connection_dropped_after_auth_timeout);
    tcase_add_test(tc, partial_handshake_does_not_hold_a_worker);
    tcase_add_test(tc, header_parse_rejects_bad_frames);
    tcase_add_test(tc, connect_timeout_against_full_backlog);
    tcase_add_test(tc, connect_timeout_against_silent_listener);
    tcase_add_test(tc, call_deadline_against_mute_peer);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
