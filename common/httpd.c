/*
 * httpd: libmicrohttpd behind a handler table. We bind the listening socket
 * ourselves so bind errors are exact (-errno naming the address) and port 0
 * resolves through getsockname; the socket is then handed to MHD, which
 * serves it from one internal thread and closes it on stop.
 *
 * The handler table is guarded by a mutex; a request copies (fn, arg) out
 * under the lock and runs the handler without it.
 */
#define LOG_MODULE "httpd"
#include "httpd.h"

#include "buf.h"
#include "err.h"
#include "log.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct httpd_route {
    char *path;
    bool prefix;
    httpd_get_cb fn;
    void *arg;
};

struct httpd {
    struct MHD_Daemon *daemon;
    int port;
    pthread_mutex_t lock;
    struct httpd_route *routes;
    size_t nroutes, cap;
};

struct httpd_req {
    struct MHD_Connection *conn;
    const char *path;
};

const char *httpd_req_path(const struct httpd_req *req)
{
    return req->path;
}

const char *httpd_req_arg(const struct httpd_req *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *ctype,
                             struct buf *body)
{
    size_t len;
    char *data = buf_detach(body, &len);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned int status, const char *msg)
{
    json_t *j = json_pack("{s:s}", "error", msg);
    struct buf body = BUF_INIT;
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    buf_puts(&body, s ? s : "{\"error\":\"internal error\"}");
    buf_putc(&body, '\n');
    free(s);
    json_decref(j);
    return reply(c, status, "application/json", &body);
}

static unsigned int status_of(int code)
{
    switch (code) {
    case FLOE_ENOTFOUND: return MHD_HTTP_NOT_FOUND;
    case FLOE_EBADINPUT:
    case FLOE_EBADREQ: return MHD_HTTP_BAD_REQUEST;
    case FLOE_EUNAVAILABLE:
    case FLOE_ESHUTDOWN:
    case FLOE_EBUSY: return MHD_HTTP_SERVICE_UNAVAILABLE;
    default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

static bool route_lookup(struct httpd *h, const char *url, httpd_get_cb *ret_fn, void **ret_arg)
{
    bool found = false;
    size_t best = 0;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->nroutes; i++) {
        struct httpd_route *rt = &h->routes[i];
        size_t n = strlen(rt->path);
        bool match = rt->prefix ? strncmp(url, rt->path, n) == 0 : strcmp(url, rt->path) == 0;
        /* exact routes beat prefixes; longer prefixes beat shorter ones */
        size_t score = rt->prefix ? n + 1 : SIZE_MAX;
        if (match && (!found || score > best)) {
            found = true;
            best = score;
            *ret_fn = rt->fn;
            *ret_arg = rt->arg;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return found;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    static int marker;
    struct httpd *h = cls;
    (void)version;
    (void)upload_data;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD are served");
    /* first call: headers only; answer once any (ignored) body has been read */
    if (*con_cls == NULL) {
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct buf body = BUF_INIT;
    if (strcmp(url, "/health") == 0) {
        buf_puts(&body, "ok\n");
        return reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8", &body);
    }
    if (strcmp(url, "/metrics") == 0) {
        metrics_render(&body);
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &body);
    }
    httpd_get_cb fn;
    void *arg;
    if (!route_lookup(h, url, &fn, &arg)) {
        char msg[256];
        snprintf(msg, sizeof(msg), "no handler for %.200s", url);
        return reply_error(c, MHD_HTTP_NOT_FOUND, msg);
    }
    struct err e = { 0 };
    struct httpd_req req = { c, url };
    int r = fn(arg, &req, &body, &e);
    if (r < 0) {
        buf_release(&body);
        return reply_error(c, status_of(r), err_msg(&e));
    }
    return reply(c, MHD_HTTP_OK, "application/json", &body);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("%s", msg);
}

int httpd_start(int port, const char *bind_addr, struct httpd **ret, struct err *e)
{
    const char *addr = bind_addr && *bind_addr ? bind_addr : "127.0.0.1";
    /* IPv6 literals print as [addr]:port */
    const char *lb = strchr(addr, ':') ? "[" : "", *rb = *lb ? "]" : "";
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof(ss));
    if (port < 0 || port > 65535)
        return err_set(e, FLOE_EBADINPUT, "http listen port %d: out of range 0..65535", port);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        sslen = sizeof(*sin);
    } else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        sslen = sizeof(*sin6);
    } else {
        return err_set(e, FLOE_EBADINPUT, "http bind address '%s': not an IPv4 or IPv6 address", addr);
    }

    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return err_errno(e, errno, "http listen %s%s%s:%d: socket", lb, addr, rb, port);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 64) != 0) {
        int r = err_errno(e, errno, "http listen %s%s%s:%d", lb, addr, rb, port);
        close(fd);
        return r;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        int r = err_errno(e, errno, "http listen %s%s%s:%d: getsockname", lb, addr, rb, port);
        close(fd);
        return r;
    }

    struct httpd *h = xcalloc(1, sizeof(*h));
    pthread_mutex_init(&h->lock, NULL);
    h->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                               : ((struct sockaddr_in6 *)&bound)->sin6_port);
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                 MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
                                 MHD_OPTION_END);
    if (!h->daemon) {
        close(fd);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return err_set(e, FLOE_EINTERNAL, "http listen %s%s%s:%d: cannot start the HTTP server", lb, addr, rb,
                       port);
    }
    log_info("http server listening on %s%s%s:%d", lb, addr, rb, h->port);
    *ret = h;
    return 0;
}

int httpd_port(const struct httpd *h)
{
    return h->port;
}

int httpd_add_get(struct httpd *h, const char *path, httpd_get_cb fn, void *arg, struct err *e)
{
    if (!path || path[0] != '/')
        return err_set(e, FLOE_EBADINPUT, "http route '%s': must start with '/'", path ? path : "");
    size_t n = strlen(path);
    bool prefix = path[n - 1] == '*';
    if (prefix)
        n--;
    if (!prefix && (strcmp(path, "/metrics") == 0 || strcmp(path, "/health") == 0))
        return err_set(e, FLOE_EEXIST, "http route %s: built in", path);
    int r = 0;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->nroutes; i++) {
        if (h->routes[i].prefix == prefix && strlen(h->routes[i].path) == n &&
            strncmp(h->routes[i].path, path, n) == 0) {
            r = err_set(e, FLOE_EEXIST, "http route %s: already registered", path);
            goto out;
        }
    }
    if (h->nroutes == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 8;
        h->routes = xrealloc(h->routes, h->cap * sizeof(*h->routes));
    }
    h->routes[h->nroutes++] = (struct httpd_route){ xstrndup(path, n), prefix, fn, arg };
out:
    pthread_mutex_unlock(&h->lock);
    return r;
}

void httpd_stop(struct httpd *h)
{
    if (!h)
        return;
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    for (size_t i = 0; i < h->nroutes; i++)
        free(h->routes[i].path);
    free(h->routes);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
