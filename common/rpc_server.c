/*
 * rpc_server: an accept thread plus a bounded pool of worker threads that
 * wait on one epoll set of connections; see rpc.h.
 *
 * Every connection is in the workers' epoll set with EPOLLONESHOT, so when
 * it becomes readable exactly one worker receives it and owns it (c->busy)
 * until it re-arms or closes it: a request is read, run and answered by the
 * same thread, with no hand-off. Invariants (under s->lock):
 *   - a connection is freed only by the worker that owns it, or by stop
 *     after every worker has exited;
 *   - the accept thread never closes a connection: to drop an idle one it
 *     shuts the socket down, which wakes a worker that then closes it.
 */
#define LOG_MODULE "rpc"
#include "rpc_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define AUTH_MAX_FRAME 4096
#define MAX_METHODS 65536
/* A connection keeps its buffers between calls up to this size. */
#define KEEP_BUF_MAX (4u << 20)

struct conn {
    int fd;
    bool authed;
    bool busy;                  /* a worker owns it */
    bool closing;               /* shut down by the idle sweep */
    int hs_step;                /* handshake: 0 awaiting hello, 1 awaiting proof */
    uint8_t cn[AUTH_NONCE_LEN]; /* handshake nonces: client's, server's */
    uint8_t sn[AUTH_NONCE_LEN];
    int64_t last_active;        /* accept time until authenticated, then last request */
    char peer[INET6_ADDRSTRLEN + 16];
    struct buf in;
    struct buf out;
    struct conn *prev, *next;   /* all connections */
};

struct method {
    rpc_method_fn fn;
    void *arg;
    char *name;
};

struct rpc_server {
    char *name;
    char *host;
    int port;
    const struct auth_token *token;
    int nworkers;
    int max_conns;
    size_t max_frame;
    int auth_timeout_ms;
    int io_timeout_ms;
    int idle_timeout_ms;

    struct method *methods;     /* indexed by id, nmethods entries */
    size_t nmethods;

    int lfd, epfd, evfd;        /* listening socket, accept thread's epoll, its wake-up */
    int cfd, stopfd;            /* workers' epoll of connections, stop signal (never drained) */
    pthread_t io_thread;
    pthread_t *workers;
    int nstarted;               /* workers started */
    bool io_started;

    pthread_mutex_t lock;
    struct conn *conns;
    bool stopping;              /* no new connections or requests */
    bool stopped;
    struct rpc_server_stats st;
};

/* epoll tags for the non-connection fds */
static char tag_listen, tag_event, tag_stop;

int rpc_server_new(const struct rpc_server_opts *o, struct rpc_server **ret, struct err *e)
{
    *ret = NULL;
    if (!o->token || o->token->len == 0)
        return err_set(e, FLOE_EBADINPUT, "rpc server: no cluster token");
    if (o->port < 0 || o->port > 65535)
        return err_set(e, FLOE_EBADINPUT, "rpc server: bad port %d", o->port);
    struct rpc_server *s = xcalloc(1, sizeof(*s));
    s->name = xstrdup(o->name && *o->name ? o->name : "rpc");
    s->host = o->host && *o->host ? xstrdup(o->host) : NULL;
    s->port = o->port;
    s->token = o->token;
    s->nworkers = o->workers > 0 ? o->workers : 8;
    s->max_conns = o->max_conns > 0 ? o->max_conns : 1024;
    s->max_frame = o->max_frame ? o->max_frame : RPC_DEFAULT_MAX_FRAME;
    s->auth_timeout_ms = o->auth_timeout_ms > 0 ? o->auth_timeout_ms : 5000;
    s->io_timeout_ms = o->io_timeout_ms > 0 ? o->io_timeout_ms : 30000;
    s->idle_timeout_ms = o->idle_timeout_ms > 0 ? o->idle_timeout_ms : 600000;
    s->lfd = s->epfd = s->evfd = s->cfd = s->stopfd = -1;
    pthread_mutex_init(&s->lock, NULL);
    *ret = s;
    return 0;
}

int rpc_server_add_method(struct rpc_server *s, uint32_t id, const char *name, rpc_method_fn fn,
                          void *arg, struct err *e)
{
    if (id == 0 || id >= MAX_METHODS)
        return err_set(e, FLOE_EBADINPUT, "%s: method id %u out of range 1..%d", s->name, id,
                       MAX_METHODS - 1);
    if (s->io_started)
        return err_set(e, FLOE_EBADSTATE, "%s: method %s added after start", s->name, name);
    if (id < s->nmethods && s->methods[id].fn)
        return err_set(e, FLOE_EEXIST, "%s: method id %u registered twice (%s and %s)", s->name,
                       id, s->methods[id].name, name);
    if (id >= s->nmethods) {
        size_t n = id + 1;
        s->methods = xrealloc(s->methods, n * sizeof(*s->methods));
        memset(s->methods + s->nmethods, 0, (n - s->nmethods) * sizeof(*s->methods));
        s->nmethods = n;
    }
    s->methods[id] = (struct method){ .fn = fn, .arg = arg, .name = xstrdup(name) };
    return 0;
}

int rpc_server_port(const struct rpc_server *s)
{
    return s->port;
}

void rpc_server_get_stats(struct rpc_server *s, struct rpc_server_stats *ret)
{
    pthread_mutex_lock(&s->lock);
    *ret = s->st;
    pthread_mutex_unlock(&s->lock);
}

static void peer_name(const struct sockaddr_storage *sa, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
    }
    snprintf(out, n, "%s:%d", ip, port);
}

/* Caller holds the lock and owns c (its worker, or stop). */
static void conn_close_locked(struct rpc_server *s, struct conn *c)
{
    epoll_ctl(s->cfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->st.conns--;
    buf_release(&c->in);
    buf_release(&c->out);
    free(c);
}

static void accept_all(struct rpc_server *s)
{
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa);
        int fd = accept4(s->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn("%s: accept: %s", s->name, strerror(errno));
            return;
        }
        char peer[sizeof(((struct conn *)0)->peer)];
        peer_name(&sa, peer, sizeof(peer));
        pthread_mutex_lock(&s->lock);
        if (s->st.conns >= s->max_conns) {
            s->st.refused_conns++;
            pthread_mutex_unlock(&s->lock);
            log_warn("%s: refused connection from %s: %d connections open (max_conns)", s->name,
                     peer, s->max_conns);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = xcalloc(1, sizeof(*c));
        c->fd = fd;
        memcpy(c->peer, peer, sizeof(peer));
        c->last_active = rpc_now_ms();
        buf_init(&c->in);
        buf_init(&c->out);
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->st.conns++;
        s->st.accepted++;
        /* the client speaks first: its hello wakes a worker for the handshake */
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = c };
        if (epoll_ctl(s->cfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            log_warn("%s: epoll_ctl for %s: %s", s->name, peer, strerror(errno));
            conn_close_locked(s, c);
        }
        pthread_mutex_unlock(&s->lock);
    }
}

static void *io_main(void *arg)
{
    struct rpc_server *s = arg;
    struct epoll_event evs[64];
    int64_t last_sweep = rpc_now_ms();
    for (;;) {
        int n = epoll_wait(s->epfd, evs, 64, 1000);
        if (n < 0 && errno != EINTR) {
            log_error("%s: epoll_wait: %s", s->name, strerror(errno));
            break;
        }
        pthread_mutex_lock(&s->lock);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &tag_listen) {
                accept_all(s);
            } else if (p == &tag_event) {
                uint64_t v;
                if (read(s->evfd, &v, sizeof(v)) < 0) {
                    /* nothing to do: it only wakes us */
                }
            }
        }
        int64_t now = rpc_now_ms();
        if (now - last_sweep < 1000)
            continue;
        last_sweep = now;
        pthread_mutex_lock(&s->lock);
        for (struct conn *c = s->conns; c; c = c->next) {
            int64_t limit = c->authed ? s->idle_timeout_ms : s->auth_timeout_ms;
            if (!c->busy && !c->closing && now - c->last_active > limit) {
                log_debug("%s: closing %s connection from %s", s->name,
                          c->authed ? "idle" : "silent unauthenticated", c->peer);
                shutdown(c->fd, SHUT_RDWR);
                c->closing = true;
            }
        }
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

/* Sends a frame with a message payload, for refusals and error replies. */
static void send_status(struct rpc_server *s, struct conn *c, uint8_t kind, uint32_t method,
                        uint32_t seq, int status, const char *msg)
{
    struct rpc_header h = { .version = RPC_VERSION, .kind = kind, .method = method, .seq = seq,
                            .status = status, .len = (uint32_t)strlen(msg) };
    rpc_write_frame(c->fd, &h, msg, rpc_now_ms() + s->io_timeout_ms, c->peer, NULL);
}

/* Before closing a connection that still has unread input: closing with
 * unread data sends a reset that can destroy the reply we just wrote, so
 * read (and drop) what the peer sent, briefly and boundedly. */
static void drain(struct conn *c)
{
    char tmp[16384];
    size_t total = 0;
    int64_t deadline = rpc_now_ms() + 500;
    shutdown(c->fd, SHUT_WR);
    while (total < (4u << 20)) {
        int r = rpc_read_full(c->fd, tmp, 1, deadline, 1, c->peer, NULL);
        if (r != 0)
            return;
        ssize_t n = recv(c->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
        if (n == 0)
            return;
        total += 1 + (n > 0 ? (size_t)n : 0);
    }
}

static bool refuse(struct rpc_server *s, struct conn *c, uint8_t kind, uint32_t method,
                   uint32_t seq, const char *why)
{
    pthread_mutex_lock(&s->lock);
    s->st.auth_refused++;
    pthread_mutex_unlock(&s->lock);
    log_warn("%s: refused connection from %s: %s", s->name, c->peer, why);
    send_status(s, c, kind, method, seq, FLOE_EAUTH, "authentication failed: connection refused");
    drain(c);
    return false;
}

/* Whether a whole handshake frame waits in the socket: 1 yes (or the header
 * already shows it is bad), 0 not yet, -1 closed or failed. Peeking keeps a
 * worker from blocking on a client that sends a partial frame and stalls;
 * the accept thread drops such a client after auth_timeout. */
static int frame_ready(struct conn *c)
{
    uint8_t tmp[RPC_HEADER_LEN + AUTH_MAX_FRAME];
    ssize_t n = recv(c->fd, tmp, sizeof(tmp), MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return -1;
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    if ((size_t)n < RPC_HEADER_LEN)
        return 0;
    uint32_t len = get_u32le(tmp + 20);
    if (get_u32le(tmp) != RPC_MAGIC || len > AUTH_MAX_FRAME)
        return 1;   /* the parser refuses it */
    return (size_t)n >= RPC_HEADER_LEN + len ? 1 : 0;
}

static bool auth_io_failed(struct rpc_server *s, struct conn *c, const struct err *e)
{
    pthread_mutex_lock(&s->lock);
    s->st.auth_refused++;
    pthread_mutex_unlock(&s->lock);
    log_warn("%s: refused connection from %s: handshake failed: %s", s->name, c->peer, err_msg(e));
    return false;
}

/* Runs the handshake step whose frame has arrived (hello, then proof).
 * Returns false to close the connection; true to keep it, authenticated or
 * waiting for its next handshake frame. */
static bool do_handshake(struct rpc_server *s, struct conn *c)
{
    struct err e = { 0 };
    int ready = frame_ready(c);
    if (ready < 0) {
        if (c->hs_step > 0)
            log_debug("%s: %s left during the handshake", s->name, c->peer);
        return false;   /* a port probe, or a client that gave up */
    }
    if (ready == 0)
        return true;
    int64_t deadline = rpc_now_ms() + s->auth_timeout_ms;
    struct rpc_header h;
    int rc = rpc_read_frame(c->fd, AUTH_MAX_FRAME, &h, &c->in, deadline, 1, c->peer, &e);
    if (rc == 1)
        return false;
    if (rc < 0) {
        if (rc == FLOE_EPROTO || rc == FLOE_EVERSION || rc == FLOE_ELIMIT) {
            char why[ERR_MSG_MAX + 32];
            snprintf(why, sizeof(why), "bad handshake frame: %s", err_msg(&e));
            return refuse(s, c, RPC_AUTH, RPC_AUTH_RESULT, 0, why);
        }
        return auth_io_failed(s, c, &e);
    }
    if (h.kind == RPC_REQUEST)
        return refuse(s, c, RPC_REPLY, h.method, h.seq,
                      "request before authentication (no cluster-token handshake)");
    if (c->hs_step == 0) {
        if (h.kind != RPC_AUTH || h.method != RPC_AUTH_HELLO || h.len != AUTH_NONCE_LEN)
            return refuse(s, c, RPC_AUTH, RPC_AUTH_RESULT, 0, "malformed handshake hello");
        memcpy(c->cn, c->in.data, AUTH_NONCE_LEN);
        if (auth_nonce(c->sn, &e) < 0) {
            log_error("%s: %s", s->name, err_msg(&e));
            return false;
        }
        h = (struct rpc_header){ .version = RPC_VERSION, .kind = RPC_AUTH,
                                 .method = RPC_AUTH_CHALLENGE, .len = AUTH_NONCE_LEN };
        if (rpc_write_frame(c->fd, &h, c->sn, deadline, c->peer, &e) < 0)
            return auth_io_failed(s, c, &e);
        c->hs_step = 1;
        return true;
    }
    if (h.kind != RPC_AUTH || h.method != RPC_AUTH_PROOF)
        return refuse(s, c, RPC_AUTH, RPC_AUTH_RESULT, 0, "malformed handshake proof");
    if (!auth_proof_ok(s->token, AUTH_CLIENT, c->cn, c->sn, (const uint8_t *)c->in.data, h.len))
        return refuse(s, c, RPC_AUTH, RPC_AUTH_RESULT, 0,
                      "cluster token proof does not match (wrong or missing cluster token)");
    uint8_t proof[AUTH_MAC_LEN];
    auth_proof(s->token, AUTH_SERVER, c->cn, c->sn, proof);
    h = (struct rpc_header){ .version = RPC_VERSION, .kind = RPC_AUTH, .method = RPC_AUTH_RESULT,
                             .len = AUTH_MAC_LEN };
    if (rpc_write_frame(c->fd, &h, proof, deadline, c->peer, &e) < 0)
        return auth_io_failed(s, c, &e);
    pthread_mutex_lock(&s->lock);
    s->st.auth_ok++;
    pthread_mutex_unlock(&s->lock);
    c->authed = true;
    log_debug("%s: authenticated %s", s->name, c->peer);
    return true;
}

/* Reads one request, runs it, writes the reply. false: close the connection. */
static bool serve_one(struct rpc_server *s, struct conn *c)
{
    struct err e = { 0 };
    int64_t deadline = rpc_now_ms() + s->io_timeout_ms;
    uint8_t hdr[RPC_HEADER_LEN];
    struct rpc_header h;
    int rc = rpc_read_full(c->fd, hdr, sizeof(hdr), deadline, 1, c->peer, &e);
    if (rc == 1)
        return false;   /* the client closed the connection */
    if (rc < 0) {
        log_debug("%s: dropping %s: %s", s->name, c->peer, err_msg(&e));
        return false;
    }
    rc = rpc_header_parse(hdr, s->max_frame, &h, &e);
    if (rc == FLOE_ELIMIT && h.kind == RPC_REQUEST) {
        /* answer so the caller learns why, then drop: the payload is not read */
        log_warn("%s: %s: %s", s->name, c->peer, err_msg(&e));
        send_status(s, c, RPC_REPLY, h.method, h.seq, rc, err_msg(&e));
        drain(c);
        return false;
    }
    if (rc == 0 && h.kind != RPC_REQUEST)
        rc = err_set(&e, FLOE_EPROTO, "frame of kind %u where a request was expected", h.kind);
    if (rc < 0) {
        log_warn("%s: dropping %s: %s", s->name, c->peer, err_msg(&e));
        return false;
    }
    buf_reset(&c->in);
    if (h.len) {
        buf_grow(&c->in, h.len);
        if (rpc_read_full(c->fd, c->in.data, h.len, deadline, 0, c->peer, &e) < 0) {
            log_debug("%s: dropping %s: %s", s->name, c->peer, err_msg(&e));
            return false;
        }
        buf_setlen(&c->in, h.len);
    }

    buf_reset(&c->out);
    err_clear(&e);
    struct method *m = h.method < s->nmethods && s->methods[h.method].fn ? &s->methods[h.method]
                                                                         : NULL;
    if (!m) {
        rc = err_set(&e, FLOE_EUNSUPPORTED, "%s: method %u is not implemented", s->name,
                     h.method);
    } else {
        struct rpc_request rq = { .method = h.method, .seq = h.seq, .data = c->in.data,
                                  .len = c->in.len, .peer = c->peer };
        rc = m->fn(m->arg, &rq, &c->out, &e);
        if (rc > 0)
            rc = err_set(&e, FLOE_EINTERNAL, "%s: handler returned %d", m->name, rc);
        if (rc == 0 && c->out.len > s->max_frame)
            rc = err_set(&e, FLOE_ELIMIT, "%s: reply of %zu bytes exceeds frame limit %zu",
                         m->name, c->out.len, s->max_frame);
        if (rc < 0 && rc <= -4096 && !(rc >= FLOE_ERR_MIN && rc <= FLOE_ERR_MAX))
            rc = FLOE_EINTERNAL;
    }
    struct rpc_header rh = { .version = RPC_VERSION, .kind = RPC_REPLY, .method = h.method,
                             .seq = h.seq, .status = rc };
    const void *payload;
    if (rc < 0) {
        const char *msg = err_msg(&e);
        if (e.code == 0)
            msg = err_str(rc);
        log_debug("%s: %s method %u: %s", s->name, c->peer, h.method, msg);
        buf_reset(&c->out);
        buf_puts(&c->out, msg);
    }
    payload = c->out.data;
    rh.len = (uint32_t)c->out.len;
    pthread_mutex_lock(&s->lock);
    s->st.calls++;
    if (rc < 0)
        s->st.call_errors++;
    pthread_mutex_unlock(&s->lock);
    struct err we = { 0 };
    if (rpc_write_frame(c->fd, &rh, payload, rpc_now_ms() + s->io_timeout_ms, c->peer, &we) < 0) {
        log_debug("%s: dropping %s: %s", s->name, c->peer, err_msg(&we));
        return false;
    }
    /* keep big buffers from pinning memory on idle connections */
    if (c->in.cap > KEEP_BUF_MAX)
        buf_release(&c->in);
    if (c->out.cap > KEEP_BUF_MAX)
        buf_release(&c->out);
    return true;
}

static void *worker_main(void *arg)
{
    struct rpc_server *s = arg;
    for (;;) {
        struct epoll_event ev;
        int n = epoll_wait(s->cfd, &ev, 1, 500);
        if (n < 0 && errno != EINTR) {
            log_error("%s: epoll_wait: %s", s->name, strerror(errno));
            break;
        }
        struct conn *c = NULL;
        pthread_mutex_lock(&s->lock);
        bool stop = s->stopping;
        if (n == 1 && ev.data.ptr != &tag_stop) {
            c = ev.data.ptr;
            c->busy = true;
        }
        pthread_mutex_unlock(&s->lock);
        if (!c) {
            if (stop)
                break;
            continue;
        }

        /* after stop began, requests are not started; running ones finish */
        bool keep = !stop && (c->authed ? serve_one(s, c) : do_handshake(s, c));

        pthread_mutex_lock(&s->lock);
        c->busy = false;
        if (keep && !s->stopping && !c->closing) {
            struct epoll_event ev2 = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
                                       .data.ptr = c };
            if (c->authed)   /* an unfinished handshake keeps its accept time */
                c->last_active = rpc_now_ms();
            if (epoll_ctl(s->cfd, EPOLL_CTL_MOD, c->fd, &ev2) == 0) {
                pthread_mutex_unlock(&s->lock);
                continue;
            }
            log_warn("%s: epoll_ctl for %s: %s", s->name, c->peer, strerror(errno));
        }
        conn_close_locked(s, c);
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

int rpc_server_start(struct rpc_server *s, struct err *e)
{
    int rc;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE };
    struct addrinfo *res = NULL;
    char port[16];
    if (s->io_started || s->stopped)
        return err_set(e, FLOE_EBADSTATE, "%s: server already started", s->name);
    snprintf(port, sizeof(port), "%d", s->port);
    int g = getaddrinfo(s->host, port, &hints, &res);
    if (g != 0)
        return err_set(e, FLOE_ECONFIG, "%s: cannot resolve bind address %s: %s", s->name,
                       s->host ? s->host : "*", gai_strerror(g));
    rc = err_set(e, FLOE_ECONFIG, "%s: no address to bind", s->name);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            rc = err_errno(e, errno, "%s: socket", s->name);
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 512) < 0) {
            rc = err_errno(e, errno, "%s: bind %s:%d", s->name, s->host ? s->host : "*", s->port);
            close(fd);
            continue;
        }
        s->lfd = fd;
        rc = 0;
        break;
    }
    freeaddrinfo(res);
    if (rc < 0)
        return rc;
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    if (getsockname(s->lfd, (struct sockaddr *)&sa, &sl) == 0)
        s->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                                 : ((struct sockaddr_in *)&sa)->sin_port);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->cfd = epoll_create1(EPOLL_CLOEXEC);
    s->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->epfd < 0 || s->evfd < 0 || s->cfd < 0 || s->stopfd < 0)
        return err_errno(e, errno, "%s: epoll/eventfd", s->name);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_listen };
    struct epoll_event ev2 = { .events = EPOLLIN, .data.ptr = &tag_event };
    struct epoll_event ev3 = { .events = EPOLLIN, .data.ptr = &tag_stop };
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) < 0 ||
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &ev2) < 0 ||
        epoll_ctl(s->cfd, EPOLL_CTL_ADD, s->stopfd, &ev3) < 0)
        return err_errno(e, errno, "%s: epoll_ctl", s->name);
    s->workers = xcalloc((size_t)s->nworkers, sizeof(*s->workers));
    for (int i = 0; i < s->nworkers; i++) {
        if ((rc = pthread_create(&s->workers[i], NULL, worker_main, s)) != 0) {
            err_errno(e, rc, "%s: starting worker thread", s->name);
            rpc_server_stop(s);
            return -rc;
        }
        s->nstarted++;
    }
    if ((rc = pthread_create(&s->io_thread, NULL, io_main, s)) != 0) {
        err_errno(e, rc, "%s: starting I/O thread", s->name);
        rpc_server_stop(s);
        return -rc;
    }
    s->io_started = true;
    log_info("%s: listening on %s:%d (%d workers, max %d connections)", s->name,
             s->host ? s->host : "*", s->port, s->nworkers, s->max_conns);
    return 0;
}

void rpc_server_stop(struct rpc_server *s)
{
    if (!s || s->stopped)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_mutex_unlock(&s->lock);
    uint64_t one = 1;
    /* the epoll timeouts (1 s, 0.5 s) notice stopping even if a write fails */
    if (s->evfd >= 0 && write(s->evfd, &one, sizeof(one)) < 0)
        log_debug("%s: waking the accept thread: %s", s->name, strerror(errno));
    if (s->stopfd >= 0 && write(s->stopfd, &one, sizeof(one)) < 0)
        log_debug("%s: waking the workers: %s", s->name, strerror(errno));
    if (s->io_started)
        pthread_join(s->io_thread, NULL);
    if (s->lfd >= 0)
        close(s->lfd);
    s->lfd = -1;
    /* running calls finish and reply; then workers exit */
    for (int i = 0; i < s->nstarted; i++)
        pthread_join(s->workers[i], NULL);
    pthread_mutex_lock(&s->lock);
    while (s->conns)
        conn_close_locked(s, s->conns);
    pthread_mutex_unlock(&s->lock);
    int fds[] = { s->epfd, s->evfd, s->cfd, s->stopfd };
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    s->epfd = s->evfd = s->cfd = s->stopfd = -1;
    if (s->io_started)
        log_info("%s: stopped", s->name);
    s->stopped = true;
}

void rpc_server_free(struct rpc_server *s)
{
    if (!s)
        return;
    rpc_server_stop(s);
    for (size_t i = 0; i < s->nmethods; i++)
        free(s->methods[i].name);
    free(s->methods);
    free(s->workers);
    free(s->name);
    free(s->host);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
