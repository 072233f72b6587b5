/*
 * objstore_s3: the S3 driver, on libcurl with its built-in AWS Signature V4
 * (CURLOPT_AWS_SIGV4), openssl for SHA-256/MD5 and libxml2 for responses.
 *
 * Signing rules this file keeps (each one answers 400/403 on a strict
 * server when broken): x-amz-content-sha256 is always set (the SHA-256 of
 * XML bodies, the empty-body hash for body-less requests, UNSIGNED-PAYLOAD
 * for object data, which carries Content-MD5 instead so the server checks
 * it); query strings are built sorted by name with percent-encoded values
 * and "=" after valueless names; no empty "Header:" removal entries are
 * added (they would be signed); CURLOPT_PATH_AS_IS keeps "./" in keys; the
 * key id and secret go through CURLOPT_USERNAME/PASSWORD, never joined
 * (Swift key ids contain ':').
 *
 * Every request goes through s3_perform: it takes a curl easy handle from
 * the pool (connections are reused), runs one attempt, classifies the
 * outcome (FLOE_ENOTFOUND, FLOE_EACCESS, FLOE_EBADREQ, FLOE_ETRANSIENT,
 * FLOE_EPROTO) and retries transient failures with exponential backoff and
 * jitter, bounded by attempts and total time. Secrets never reach a log
 * line or an error message: messages carry method, key and the server's
 * error code only.
 */
#define LOG_MODULE "objstore"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

#include "buf.h"
#include "err.h"
#include "fault.h"
#include "log.h"
#include "objstore_int.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define RESP_MAX (1u << 20)
#define MAX_PARTS 10000
#define MIN_PART (5ull << 20)

struct s3 {
    char *base;            /* scheme://host[:port] (with the bucket for virtual-host style) */
    char *path_base;       /* "/bucket" (path style) or "" */
    char *bucket;
    char *sigv4;           /* "aws:amz:<region>:s3" */
    char *access_key;      /* secret material: never logged */
    char *secret_key;
    char *token_header;    /* "x-amz-security-token: ..." or NULL */
    long connect_timeout_ms, request_timeout_ms, stall_timeout_s;
    int max_attempts, base_ms, max_backoff_ms, total_ms;
    uint64_t threshold, part_size;
    int parallelism;
    pthread_mutex_t mu;
    CURL **pool;
    int npool, maxpool;
};

static struct s3 *S(struct objstore *os) { return os->impl; }

/* ---- small helpers ---- */

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[d[i] >> 4];
        out[2 * i + 1] = h[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL);
    hex(d, 32, out);
}

static void b64(const unsigned char *d, size_t n, char *out /* 4*ceil(n/3)+1 */)
{
    EVP_EncodeBlock((unsigned char *)out, d, (int)n);
}

/* Content-MD5 (base64) of memory. */
static void md5_b64(const void *p, size_t n, char out[32])
{
    unsigned char d[16];
    unsigned int dl = 0;
    EVP_Digest(p, n, d, &dl, EVP_md5(), NULL);
    b64(d, 16, out);
}

/* Percent-encodes s (RFC 3986 unreserved kept); '/' kept when keep_slash. */
static void uri_encode(struct buf *out, const char *s, bool keep_slash)
{
    static const char h[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
            (keep_slash && *p == '/')) {
            buf_putc(out, (char)*p);
        } else {
            buf_putc(out, '%');
            buf_putc(out, h[*p >> 4]);
            buf_putc(out, h[*p & 15]);
        }
    }
}

static void xml_escape(struct buf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': buf_puts(out, "&amp;"); break;
        case '<': buf_puts(out, "&lt;"); break;
        case '>': buf_puts(out, "&gt;"); break;
        case '"': buf_puts(out, "&quot;"); break;
        case '\'': buf_puts(out, "&apos;"); break;
        default: buf_putc(out, *s);
        }
    }
}

static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int64_t civil_ms(int y, int mo, int d, int h, int mi, int s, int ms)
{
    return ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) * 60000 +
           (int64_t)s * 1000 + ms;
}

/* "Sun, 22 Nov 2026 02:10:38 GMT" -> ms; 0 when unparseable. */
static int64_t parse_http_date(const char *s)
{
    static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char m[4] = {0};
    int d, y, h, mi, sec;
    const char *comma = strchr(s, ',');
    if (!comma || sscanf(comma + 1, " %d %3s %d %d:%d:%d", &d, m, &y, &h, &mi, &sec) != 6)
        return 0;
    for (int i = 0; i < 12; i++)
        if (!strcmp(m, mon[i]))
            return civil_ms(y, i + 1, d, h, mi, sec, 0);
    return 0;
}

/* "2026-11-22T02:10:38.123Z" -> ms; 0 when unparseable. */
static int64_t parse_iso_date(const char *s)
{
    int y, mo, d, h, mi, sec, ms = 0;
    if (sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6)
        return 0;
    const char *dot = strchr(s, '.');
    if (dot) {
        int digits = 0;
        for (const char *p = dot + 1; isdigit((unsigned char)*p) && digits < 3; p++, digits++)
            ms = ms * 10 + (*p - '0');
        while (digits++ < 3)
            ms *= 10;
    }
    return civil_ms(y, mo, d, h, mi, sec, ms);
}

/* Copies an etag without its quotes. */
static void etag_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= 2 && src[0] == '"' && src[n - 1] == '"') {
        src++;
        n -= 2;
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- XML ---- */

static xmlNode *xml_child(xmlNode *n, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
            return c;
    return NULL;
}

/* Text of child `name` of n, copied into a malloc'd string (or NULL). */
static char *xml_text(xmlNode *n, const char *name)
{
    xmlNode *c = xml_child(n, name);
    if (!c)
        return NULL;
    xmlChar *t = xmlNodeGetContent(c);
    char *s = xstrdup(t ? (const char *)t : "");
    xmlFree(t);
    return s;
}

static xmlDoc *xml_parse(const struct buf *b)
{
    if (b->len == 0 || b->len > INT32_MAX)
        return NULL;
    return xmlReadMemory(b->data, (int)b->len, "s3.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* ---- requests ---- */

struct s3_req {
    enum objstore_op op;
    const char *method;      /* GET HEAD PUT POST DELETE */
    const char *key;         /* full key, NULL for the bucket */
    const char *query;       /* canonical query or NULL */
    const char *what;        /* for messages: the caller's key */
    /* body */
    const char *body;        /* PUT from memory, or POST body */
    int body_fd;             /* PUT from a file when body == NULL */
    uint64_t body_off, body_len;
    bool has_body;
    const char *content_md5;
    const char *content_type;
    const char *payload_hash;
    const char *range;
    const char *if_none_match;
    struct objstore_sink *sink;   /* 2xx GET body goes here */
    bool windowed;                /* keep only [want_off, want_off+want_len) of the object */
    uint64_t want_off, want_len;
    bool no_retry;
    /* response of the last attempt */
    long status;
    struct buf resp;              /* non-sink body, capped at RESP_MAX */
    char etag[OBJSTORE_ETAG_MAX];
    char last_modified[64];
    char content_range[128];
    int64_t content_length;
    char err_code[64];
    /* per attempt */
    struct objstore *os;
    CURL *h;
    uint64_t sent;
    uint64_t body_pos;            /* 2xx body bytes received */
    int64_t body_start;           /* object offset of the first body byte, -1 before known */
    bool bogus_range;             /* the server sent an impossible Content-Range */
    int sink_err;
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
    struct s3_req *q = arg;
    size_t want = size * nmemb;
    uint64_t left = q->body_len - q->sent;
    if (want > left)
        want = (size_t)left;
    if (want == 0)
        return 0;
    if (q->body) {
        memcpy(dst, q->body + q->sent, want);
    } else {
        ssize_t n;
        do
            n = pread(q->body_fd, dst, want, (off_t)(q->body_off + q->sent));
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            return CURL_READFUNC_ABORT;
        want = (size_t)n;
    }
    q->sent += want;
    return want;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
    struct s3_req *q = arg;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(q->h, CURLINFO_RESPONSE_CODE, &status);
    objstore_count_bytes(q->os, 0, n);
    if (status >= 200 && status < 300 && q->sink) {
        const char *keep = p;
        size_t nkeep = n;
        if (q->windowed) {
            /*
             * Some servers answer a range with more than was asked (the whole
             * object, or a wider range): keep only the asked window.
             */
            if (q->body_start < 0) {
                unsigned long long a = 0, b, t;
                q->body_start = 0;
                if (status == 206 && sscanf(q->content_range, "bytes %llu-%llu/%llu", &a, &b, &t) == 3)
                    q->body_start = (int64_t)a;
            }
            uint64_t at = (uint64_t)q->body_start + q->body_pos;
            uint64_t end = q->want_len == OBJSTORE_TO_END ? UINT64_MAX : q->want_off + q->want_len;
            uint64_t lo = at > q->want_off ? at : q->want_off;
            uint64_t hi = at + n < end ? at + n : end;
            nkeep = hi > lo ? (size_t)(hi - lo) : 0;
            keep = p + (hi > lo ? lo - at : 0);
        }
        q->body_pos += n;
        if (nkeep) {
            int r = objstore_sink_write(q->sink, keep, nkeep);
            if (r < 0) {
                q->sink_err = r;
                return 0;
            }
        }
        return n;
    }
    if (q->resp.len + n <= RESP_MAX)
        buf_append(&q->resp, p, n);
    return n;
}

static void header_value(const char *line, size_t n, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t len = (size_t)(end - v);
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

/* True when a 206 answer says the object ends before the asked window. */
static bool range_past_end(const struct s3_req *q, uint64_t *ret_total)
{
    unsigned long long a, b, t;
    if (!q->windowed || q->want_len == OBJSTORE_TO_END || q->status != 206 ||
        sscanf(q->content_range, "bytes %llu-%llu/%llu", &a, &b, &t) != 3)
        return false;
    *ret_total = t;
    return q->want_off + q->want_len > t;
}

static size_t header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
    struct s3_req *q = arg;
    size_t n = size * nmemb;
    if (n <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        /* end of the headers: refuse a body we already know is wrong */
        uint64_t total;
        curl_easy_getinfo(q->h, CURLINFO_RESPONSE_CODE, &q->status);
        if (range_past_end(q, &total))
            return 0;
        unsigned long long a, b, t;
        if (q->status == 206 && sscanf(q->content_range, "bytes %llu-%llu/%llu", &a, &b, &t) == 3 &&
            (a > b || b >= t)) {
            q->bogus_range = true;
            return 0;
        }
        return n;
    }
    if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
        /* a new response (after 100 Continue): forget earlier headers */
        q->etag[0] = q->last_modified[0] = q->content_range[0] = '\0';
        q->content_length = -1;
        return n;
    }
    char tmp[OBJSTORE_ETAG_MAX + 2] = "";
    header_value(p, n, "ETag", tmp, sizeof(tmp));
    if (tmp[0])
        etag_copy(q->etag, sizeof(q->etag), tmp);
    header_value(p, n, "Last-Modified", q->last_modified, sizeof(q->last_modified));
    header_value(p, n, "Content-Range", q->content_range, sizeof(q->content_range));
    char cl[32] = "";
    header_value(p, n, "Content-Length", cl, sizeof(cl));
    if (cl[0])
        q->content_length = strtoll(cl, NULL, 10);
    return n;
}

static CURL *pool_get(struct s3 *s)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->npool > 0)
        h = s->pool[--s->npool];
    pthread_mutex_unlock(&s->mu);
    if (h)
        curl_easy_reset(h);
    else
        h = curl_easy_init();
    return h;
}

static void pool_put(struct s3 *s, CURL *h)
{
    pthread_mutex_lock(&s->mu);
    if (s->npool < s->maxpool) {
        s->pool[s->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (h)
        curl_easy_cleanup(h);
}

static bool code_in(const char *code, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(code, *list))
            return true;
    return false;
}

/* Class of a server error code (from an <Error> or a DeleteObjects entry). */
static int class_of_code(const char *code, long status)
{
    static const char *const access[] = {"AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId",
                                         "AuthorizationHeaderMalformed", "InvalidToken", "ExpiredToken",
                                         "AccountProblem", "AllAccessDisabled", NULL};
    static const char *const transient[] = {"RequestTimeout", "SlowDown", "InternalError",
                                            "ServiceUnavailable", "Throttling", "ThrottlingException",
                                            "RequestTimeTooSkewed", "BadDigest", "IncompleteBody",
                                            "OperationAborted", NULL};
    static const char *const notfound[] = {"NoSuchKey", "NoSuchBucket", "NoSuchUpload", NULL};
    if (code && *code) {
        if (code_in(code, access))
            return FLOE_EACCESS;
        if (code_in(code, transient))
            return FLOE_ETRANSIENT;
        if (code_in(code, notfound))
            return FLOE_ENOTFOUND;
    }
    if (status == 404)
        return FLOE_ENOTFOUND;
    if (status == 401 || status == 403)
        return FLOE_EACCESS;
    if (status == 408 || status == 429 || (status >= 500 && status != 501))
        return FLOE_ETRANSIENT;
    if (status == 0)
        return FLOE_ETRANSIENT;
    return FLOE_EBADREQ;
}

static bool curl_transient(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_READ_ERROR:
        return true;
    default:
        return false;
    }
}

static __thread uint64_t rng_state;

static uint64_t rng_next(void)
{
    if (rng_state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng_state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)pthread_self() ^
                    0x9e3779b97f4a7c15ull;
    }
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void build_url(struct s3 *s, const struct s3_req *q, struct buf *url)
{
    buf_puts(url, s->base);
    buf_puts(url, s->path_base);
    buf_putc(url, '/');
    if (q->key)
        uri_encode(url, q->key, true);
    if (q->query && *q->query) {
        buf_putc(url, '?');
        buf_puts(url, q->query);
    }
}

/*
 * One attempt. Returns 0 on a 2xx (or 304 when asked), else a classified
 * error with its message in e; *ret_transient says whether to retry.
 */
static int attempt(struct s3 *s, struct s3_req *q, const char *url, bool *ret_transient,
                   struct err *e)
{
    struct curl_slist *hdrs = NULL;
    char line[512];
    int r = 0;
    *ret_transient = false;
    q->status = 0;
    q->sent = 0;
    q->body_pos = 0;
    q->body_start = -1;
    q->bogus_range = false;
    q->sink_err = 0;
    q->content_length = -1;
    q->etag[0] = q->last_modified[0] = q->content_range[0] = q->err_code[0] = '\0';
    buf_reset(&q->resp);
    if (q->sink) {
        int sr = objstore_sink_reset(q->sink);
        if (sr < 0)
            return err_errno(e, -sr, "s3 %s '%s': reset destination", q->method, q->what);
    }

    CURL *h = pool_get(s);
    if (!h)
        return err_set(e, FLOE_EINTERNAL, "s3 %s '%s': curl_easy_init failed", q->method, q->what);
    q->h = h;

    snprintf(line, sizeof(line), "x-amz-content-sha256: %s",
             q->payload_hash ? q->payload_hash : EMPTY_SHA256);
    hdrs = curl_slist_append(hdrs, line);
    if (q->range) {
        snprintf(line, sizeof(line), "Range: %s", q->range);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (q->content_md5) {
        snprintf(line, sizeof(line), "Content-MD5: %s", q->content_md5);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (q->content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s", q->content_type);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (q->if_none_match) {
        snprintf(line, sizeof(line), "If-None-Match: \"%s\"", q->if_none_match);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (s->token_header)
        hdrs = curl_slist_append(hdrs, s->token_header);

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, s->access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret_key);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
    if (s->request_timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, s->request_timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->stall_timeout_s);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);

    if (!strcmp(q->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(q->method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->body_len);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, q);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    } else if (!strcmp(q->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? q->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
    } else if (strcmp(q->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    }

    CURLcode c = curl_easy_perform(h);
    curl_off_t up = 0;
    curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up);
    objstore_count_bytes(q->os, (uint64_t)up, 0);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &q->status);
    q->h = NULL;
    pool_put(s, h);
    curl_slist_free_all(hdrs);

    if (q->sink_err) {
        r = err_errno(e, -q->sink_err, "s3 %s '%s': write destination", q->method, q->what);
        goto out;
    }
    uint64_t total;
    if (range_past_end(q, &total)) {
        r = err_set(e, FLOE_EBADREQ, "s3 %s '%s': range %s past the end (size %" PRIu64 ")",
                    q->method, q->what, q->range, total);
        goto out;
    }
    if (q->bogus_range) {
        r = err_set(e, FLOE_EPROTO, "s3 %s '%s': asked %s, got impossible Content-Range '%s'",
                    q->method, q->what, q->range ? q->range : "", q->content_range);
        goto out;
    }
    if (c != CURLE_OK) {
        *ret_transient = curl_transient(c);
        r = err_set(e, *ret_transient ? FLOE_ETRANSIENT : FLOE_EPROTO, "s3 %s '%s': %s",
                    q->method, q->what, curl_easy_strerror(c));
        goto out;
    }
    if (q->status == 304 && q->if_none_match)
        goto out;
    if (q->status >= 200 && q->status < 300) {
        if (q->sink && q->content_length >= 0 && q->body_pos != (uint64_t)q->content_length) {
            *ret_transient = true;
            r = err_set(e, FLOE_ETRANSIENT, "s3 %s '%s': short body, %" PRIu64 " of %" PRId64 " bytes",
                        q->method, q->what, q->body_pos, q->content_length);
        } else if (q->sink && q->windowed && q->want_len != OBJSTORE_TO_END &&
                   q->sink->n != q->want_len) {
            *ret_transient = true;
            r = err_set(e, FLOE_ETRANSIENT, "s3 %s '%s': asked %" PRIu64 " bytes at %" PRIu64
                        ", got %" PRIu64 " (Content-Range '%s')", q->method, q->what, q->want_len,
                        q->want_off, q->sink->n, q->content_range);
        }
        goto out;
    }
    /* an error answer: take the code from the XML body when there is one */
    char *msg = NULL;
    xmlDoc *doc = xml_parse(&q->resp);
    if (doc) {
        xmlNode *root = xmlDocGetRootElement(doc);
        if (root && !strcmp((const char *)root->name, "Error")) {
            char *code = xml_text(root, "Code");
            if (code)
                snprintf(q->err_code, sizeof(q->err_code), "%s", code);
            free(code);
            msg = xml_text(root, "Message");
        }
        xmlFreeDoc(doc);
    }
    r = class_of_code(q->err_code, q->status);
    *ret_transient = r == FLOE_ETRANSIENT;
    err_set(e, r, "s3 %s '%s': HTTP %ld%s%s%s%.200s", q->method, q->what, q->status,
            q->err_code[0] ? " " : "", q->err_code, msg ? ": " : "", msg ? msg : "");
    free(msg);
out:
    return r;
}

static int s3_perform(struct objstore *os, struct s3_req *q, struct err *e)
{
    struct s3 *s = S(os);
    struct buf url = BUF_INIT;
    int64_t start = now_ms();
    int r = 0;
    q->os = os;
    build_url(s, q, &url);
    for (int n = 1;; n++) {
        bool transient = false;
        r = attempt(s, q, url.data, &transient, e);
        objstore_count_request(os, q->op, n > 1, r < 0);
        if (r == 0 || !transient || q->no_retry)
            break;
        if (n >= s->max_attempts) {
            err_prefix(e, "after %d attempts", n);
            break;
        }
        int64_t ceil = s->base_ms;
        for (int i = 1; i < n && ceil < s->max_backoff_ms; i++)
            ceil *= 2;
        if (ceil > s->max_backoff_ms)
            ceil = s->max_backoff_ms;
        /* equal jitter: half fixed, half random, so retries never stampede */
        int64_t wait = ceil / 2 + (ceil > 1 ? (int64_t)(rng_next() % (uint64_t)(ceil - ceil / 2 + 1)) : 0);
        if (now_ms() - start + wait > s->total_ms) {
            err_prefix(e, "after %d attempts in %" PRId64 " ms", n, now_ms() - start);
            break;
        }
        log_debug("s3 %s '%s': attempt %d failed (%s), retry in %" PRId64 " ms", q->method, q->what,
                  n, err_msg(e), wait);
        sleep_ms(wait);
    }
    buf_release(&url);
    return r;
}

static void req_init(struct s3_req *q, enum objstore_op op, const char *method, const char *key,
                     const char *what)
{
    memset(q, 0, sizeof(*q));
    q->op = op;
    q->method = method;
    q->key = key;
    q->what = what;
    q->body_fd = -1;
    q->content_length = -1;
    buf_init(&q->resp);
}

static void req_release(struct s3_req *q)
{
    buf_release(&q->resp);
}

/* ---- put ---- */

static int md5_of_src(const struct objstore_src *src, uint64_t off, uint64_t len, char out[32],
                      char *scratch, size_t scratch_len)
{
    if (src->mem) {
        md5_b64(src->mem + off, (size_t)len, out);
        return 0;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    uint64_t done = 0;
    int r = 0;
    while (done < len) {
        size_t want = len - done < scratch_len ? (size_t)(len - done) : scratch_len;
        ssize_t n = pread(src->fd, scratch, want, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : -EIO;
            break;
        }
        EVP_DigestUpdate(ctx, scratch, (size_t)n);
        done += (uint64_t)n;
    }
    unsigned char d[16];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(ctx, d, &dl);
    EVP_MD_CTX_free(ctx);
    b64(d, 16, out);
    return r;
}

static int put_simple(struct objstore *os, const char *key, const char *what,
                      const struct objstore_src *src, struct err *e)
{
    char md5[32];
    if (src->mem) {
        md5_b64(src->mem, (size_t)src->len, md5);
    } else {
        char *scratch = xmalloc(1u << 20);
        int r = md5_of_src(src, 0, src->len, md5, scratch, 1u << 20);
        free(scratch);
        if (r < 0)
            return err_errno(e, -r, "s3 PUT '%s': read source", what);
    }
    struct s3_req q;
    req_init(&q, OBJSTORE_OP_PUT, "PUT", key, what);
    q.body = src->mem;
    q.body_fd = src->fd;
    q.body_len = src->len;
    q.has_body = true;
    q.content_md5 = md5;
    q.payload_hash = "UNSIGNED-PAYLOAD";
    int r = s3_perform(os, &q, e);
    req_release(&q);
    return r;
}

struct mp {
    struct objstore *os;
    const char *key, *what, *upload_id;
    const struct objstore_src *src;
    uint64_t part_size;
    int nparts;
    char (*etags)[OBJSTORE_ETAG_MAX];
    int next;            /* atomic: next part index to claim */
    int failed;          /* atomic */
    pthread_mutex_t mu;
    struct err err;      /* first failure */
    int code;
};

static void *mp_worker(void *arg)
{
    struct mp *m = arg;
    char *chunk = xmalloc(m->part_size);
    for (;;) {
        if (__atomic_load_n(&m->failed, __ATOMIC_ACQUIRE))
            break;
        int i = __atomic_fetch_add(&m->next, 1, __ATOMIC_ACQ_REL);
        if (i >= m->nparts)
            break;
        uint64_t off = (uint64_t)i * m->part_size;
        uint64_t len = m->src->len - off < m->part_size ? m->src->len - off : m->part_size;
        struct err e;
        err_clear(&e);
        int r = 0;
        const char *body = NULL;
        if (m->src->mem) {
            body = m->src->mem + off;
        } else {
            uint64_t done = 0;
            while (done < len) {
                ssize_t n = pread(m->src->fd, chunk + done, (size_t)(len - done), (off_t)(off + done));
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0) {
                    r = err_errno(&e, n < 0 ? errno : EIO, "s3 PUT '%s': read source part %d",
                                  m->what, i + 1);
                    break;
                }
                done += (uint64_t)n;
            }
            body = chunk;
        }
        if (r == 0) {
            /* test hook: one part fails after its retries (the upload must be aborted) */
            r = FAULT_POINT("objstore.s3.part");
            if (r < 0)
                err_set(&e, r, "s3 PUT '%s': part %d: injected fault", m->what, i + 1);
        }
        if (r == 0) {
            char md5[32], query[512];
            md5_b64(body, (size_t)len, md5);
            struct buf qs = BUF_INIT;
            buf_printf(&qs, "partNumber=%d&uploadId=", i + 1);
            uri_encode(&qs, m->upload_id, false);
            snprintf(query, sizeof(query), "%s", buf_cstr(&qs));
            buf_release(&qs);
            struct s3_req q;
            req_init(&q, OBJSTORE_OP_PUT, "PUT", m->key, m->what);
            q.query = query;
            q.body = body;
            q.body_len = len;
            q.has_body = true;
            q.content_md5 = md5;
            q.payload_hash = "UNSIGNED-PAYLOAD";
            r = s3_perform(m->os, &q, &e);
            if (r == 0 && !q.etag[0])
                r = err_set(&e, FLOE_EPROTO, "s3 PUT '%s': part %d answered without an ETag", m->what, i + 1);
            if (r == 0)
                snprintf(m->etags[i], OBJSTORE_ETAG_MAX, "%s", q.etag);
            req_release(&q);
        }
        if (r < 0) {
            pthread_mutex_lock(&m->mu);
            if (!m->failed) {
                m->err = e;
                m->code = r;
            }
            __atomic_store_n(&m->failed, 1, __ATOMIC_RELEASE);
            pthread_mutex_unlock(&m->mu);
            break;
        }
    }
    free(chunk);
    return NULL;
}

static int s3_head(struct objstore *os, const char *key, struct objstore_info *info, struct err *e);

/* True when key now holds the multipart object made of parts with these etags. */
static bool multipart_landed(struct objstore *os, const char *key, char (*etags)[OBJSTORE_ETAG_MAX],
                             int nparts)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    for (int i = 0; i < nparts; i++) {
        unsigned char d[16];
        if (strlen(etags[i]) != 32) {
            EVP_MD_CTX_free(ctx);
            return false;
        }
        for (int k = 0; k < 16; k++) {
            unsigned int v;
            if (sscanf(etags[i] + 2 * k, "%2x", &v) != 1) {
                EVP_MD_CTX_free(ctx);
                return false;
            }
            d[k] = (unsigned char)v;
        }
        EVP_DigestUpdate(ctx, d, 16);
    }
    unsigned char d[16];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(ctx, d, &dl);
    EVP_MD_CTX_free(ctx);
    char want[OBJSTORE_ETAG_MAX];
    hex(d, 16, want);
    snprintf(want + 32, sizeof(want) - 32, "-%d", nparts);
    struct objstore_info info;
    struct err he;
    return s3_head(os, key, &info, &he) == 0 && !strcmp(info.etag, want);
}

static int put_multipart(struct objstore *os, const char *key, const char *what,
                         const struct objstore_src *src, struct err *e)
{
    struct s3 *s = S(os);
    uint64_t part = s->part_size;
    if ((src->len + part - 1) / part > MAX_PARTS) {
        part = (src->len + MAX_PARTS - 1) / MAX_PARTS;
        part = (part + (1u << 20) - 1) & ~((uint64_t)(1u << 20) - 1);
    }
    int nparts = (int)((src->len + part - 1) / part);
    char *upload_id = NULL;
    int r;
    struct buf xml = BUF_INIT;

    /* initiate */
    struct s3_req q;
    req_init(&q, OBJSTORE_OP_PUT, "POST", key, what);
    q.query = "uploads=";
    q.content_type = "application/octet-stream";
    r = s3_perform(os, &q, e);
    if (r == 0) {
        xmlDoc *doc = xml_parse(&q.resp);
        xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
        upload_id = root ? xml_text(root, "UploadId") : NULL;
        if (doc)
            xmlFreeDoc(doc);
        if (!upload_id || !*upload_id)
            r = err_set(e, FLOE_EPROTO, "s3 POST '%s': initiate multipart answered without an UploadId", what);
    }
    req_release(&q);
    if (r < 0)
        goto out;

    /* parts, in parallel */
    struct mp m = {.os = os, .key = key, .what = what, .upload_id = upload_id, .src = src,
                   .part_size = part, .nparts = nparts};
    m.etags = xcalloc((size_t)nparts, sizeof(*m.etags));
    pthread_mutex_init(&m.mu, NULL);
    err_clear(&m.err);
    int nthreads = s->parallelism < nparts ? s->parallelism : nparts;
    pthread_t th[64];
    int started = 0;
    for (int i = 1; i < nthreads; i++) {
        if (pthread_create(&th[started], NULL, mp_worker, &m) != 0)
            break;
        started++;
    }
    mp_worker(&m);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&m.mu);
    if (m.failed) {
        r = m.code;
        if (e)
            *e = m.err;
    } else {
        /* complete */
        buf_puts(&xml, "<CompleteMultipartUpload>");
        for (int i = 0; i < nparts; i++) {
            buf_printf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>\"", i + 1);
            xml_escape(&xml, m.etags[i]);
            buf_puts(&xml, "\"</ETag></Part>");
        }
        buf_puts(&xml, "</CompleteMultipartUpload>");
        char sha[65], query[512];
        sha256_hex(xml.data, xml.len, sha);
        struct buf qs = BUF_INIT;
        buf_puts(&qs, "uploadId=");
        uri_encode(&qs, upload_id, false);
        snprintf(query, sizeof(query), "%s", buf_cstr(&qs));
        buf_release(&qs);
        req_init(&q, OBJSTORE_OP_PUT, "POST", key, what);
        q.query = query;
        q.body = xml.data;
        q.body_len = xml.len;
        q.has_body = true;
        q.content_type = "application/xml";
        q.payload_hash = sha;
        r = s3_perform(os, &q, e);
        if (r == FLOE_ENOTFOUND && multipart_landed(os, key, m.etags, nparts)) {
            /*
             * NoSuchUpload after a lost answer: an earlier attempt completed
             * the upload. The object's etag proves it is this upload.
             */
            err_clear(e);
            r = 0;
        } else if (r == 0) {
            /* a 200 can still carry an <Error> (the server failed while streaming) */
            xmlDoc *doc = xml_parse(&q.resp);
            xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
            if (root && !strcmp((const char *)root->name, "Error")) {
                char *code = xml_text(root, "Code");
                r = err_set(e, class_of_code(code, 500), "s3 POST '%s': complete multipart failed: %s",
                            what, code ? code : "?");
                free(code);
            }
            if (doc)
                xmlFreeDoc(doc);
        }
        req_release(&q);
    }
    free(m.etags);
    if (r < 0) {
        /* abort so the parts do not linger; failure here is only logged */
        char query[512];
        struct buf qs = BUF_INIT;
        buf_puts(&qs, "uploadId=");
        uri_encode(&qs, upload_id, false);
        snprintf(query, sizeof(query), "%s", buf_cstr(&qs));
        buf_release(&qs);
        struct err ae;
        err_clear(&ae);
        req_init(&q, OBJSTORE_OP_PUT, "DELETE", key, what);
        q.query = query;
        if (s3_perform(os, &q, &ae) < 0)
            log_warn("s3 abort multipart upload of '%s' failed: %s", what, err_msg(&ae));
        req_release(&q);
    }
out:
    free(upload_id);
    buf_release(&xml);
    return r;
}

static const char *strip_prefix(struct objstore *os, const char *key)
{
    size_t pl = strlen(os->prefix);
    return strncmp(key, os->prefix, pl) == 0 ? key + pl : key;
}

static int s3_put(struct objstore *os, const char *key, const struct objstore_src *src,
                  struct err *e)
{
    struct s3 *s = S(os);
    const char *what = strip_prefix(os, key);
    if (src->len >= s->threshold && src->len > s->part_size)
        return put_multipart(os, key, what, src, e);
    return put_simple(os, key, what, src, e);
}

/* ---- get / head ---- */

static void info_from(const struct s3_req *q, struct objstore_info *info)
{
    info->size = q->content_length >= 0 ? (uint64_t)q->content_length : 0;
    info->mtime_ms = q->last_modified[0] ? parse_http_date(q->last_modified) : 0;
    snprintf(info->etag, sizeof(info->etag), "%s", q->etag);
}

/* "bytes a-b/total" or "bytes * /total" */
static bool parse_content_range(const char *s, uint64_t *a, uint64_t *b, uint64_t *total)
{
    unsigned long long x, y, t;
    if (sscanf(s, "bytes %llu-%llu/%llu", &x, &y, &t) == 3) {
        *a = x;
        *b = y;
        *total = t;
        return true;
    }
    if (sscanf(s, "bytes */%llu", &t) == 1) {
        *a = 1;
        *b = 0;
        *total = t;
        return true;
    }
    return false;
}

static int s3_get(struct objstore *os, const char *key, uint64_t off, uint64_t len,
                  struct objstore_sink *sink, struct err *e)
{
    const char *what = strip_prefix(os, key);
    char range[96];
    struct s3_req q;
    req_init(&q, OBJSTORE_OP_GET, "GET", key, what);
    q.sink = sink;
    range[0] = '\0';
    if (len == OBJSTORE_TO_END && off > 0) {
        snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", off);
        q.range = range;
    } else if (len != OBJSTORE_TO_END) {
        snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
        q.range = range;
    }
    q.windowed = q.range != NULL;
    q.want_off = off;
    q.want_len = len;
    int r = s3_perform(os, &q, e);
    uint64_t a, b, total;
    if (r == FLOE_EBADREQ && q.status == 416) {
        struct objstore_info info;
        struct err he;
        if (len == OBJSTORE_TO_END && s3_head(os, key, &info, &he) == 0 && info.size == off) {
            /* from the very end: nothing to read */
            objstore_sink_reset(sink);
            err_clear(e);
            r = 0;
        } else {
            r = err_set(e, FLOE_EBADREQ, "s3 GET '%s': range %s is not satisfiable%s%s", what,
                        range, q.content_range[0] ? ", object " : "", q.content_range);
        }
    } else if (r == 0 && q.range && q.status == 206 &&
               (!parse_content_range(q.content_range, &a, &b, &total) || a > off)) {
        r = err_set(e, FLOE_EPROTO, "s3 GET '%s': asked %s, got Content-Range '%s'", what, range,
                    q.content_range);
    }
    req_release(&q);
    return r;
}

static int s3_head(struct objstore *os, const char *key, struct objstore_info *info, struct err *e)
{
    struct s3_req q;
    req_init(&q, OBJSTORE_OP_HEAD, "HEAD", key, strip_prefix(os, key));
    int r = s3_perform(os, &q, e);
    if (r == 0)
        info_from(&q, info);
    req_release(&q);
    return r;
}

static int s3_get_tail(struct objstore *os, const char *key, uint64_t n,
                       struct objstore_sink *sink, uint64_t *ret_size, struct err *e)
{
    const char *what = strip_prefix(os, key);
    char range[64];
    snprintf(range, sizeof(range), "bytes=-%" PRIu64, n);
    struct s3_req q;
    req_init(&q, OBJSTORE_OP_GET, "GET", key, what);
    q.sink = sink;
    q.range = range;
    q.no_retry = true; /* a failure falls back to HEAD + range below */
    int r = s3_perform(os, &q, e);
    uint64_t a, b, total;
    bool ok = false;
    if (r == 0 && q.status == 206 && parse_content_range(q.content_range, &a, &b, &total) &&
        total > 0 && b == total - 1 && b - a + 1 == (n < total ? n : total) && sink->n == b - a + 1) {
        *ret_size = total;
        ok = true;
    } else if (r == 0 && q.status == 200 && q.content_length >= 0 &&
               (uint64_t)q.content_length <= n && sink->n == (uint64_t)q.content_length) {
        *ret_size = sink->n;
        ok = true;
    }
    req_release(&q);
    if (ok)
        return 0;
    if (r == FLOE_ENOTFOUND || r == FLOE_EACCESS)
        return r;
    /*
     * Some servers answer suffix ranges wrongly (or refuse them on empty
     * objects): fall back to the size from a HEAD and an explicit range.
     */
    err_clear(e);
    objstore_sink_reset(sink);
    struct objstore_info info;
    r = s3_head(os, key, &info, e);
    if (r < 0)
        return r;
    *ret_size = info.size;
    uint64_t take = n < info.size ? n : info.size;
    if (take == 0)
        return 0;
    return s3_get(os, key, info.size - take, take, sink, e);
}

static int s3_get_cond(struct objstore *os, const char *key, const char *etag,
                       struct objstore_sink *sink, struct objstore_info *info, struct err *e)
{
    struct s3_req q;
    req_init(&q, OBJSTORE_OP_GET, "GET", key, strip_prefix(os, key));
    q.sink = sink;
    q.if_none_match = etag;
    int r = s3_perform(os, &q, e);
    if (r == 0) {
        info_from(&q, info);
        if (q.status == 304) {
            r = OBJSTORE_NOT_MODIFIED;
            if (!info->etag[0])
                snprintf(info->etag, sizeof(info->etag), "%s", etag);
        } else {
            info->size = sink->n;
        }
    }
    req_release(&q);
    return r;
}

/* ---- list ---- */

static int s3_list(struct objstore *os, const char *prefix, struct objstore_list *list,
                   struct err *e)
{
    char *token = NULL;
    int r = 0;
    for (int page = 0;; page++) {
        struct buf qs = BUF_INIT;
        if (token) {
            buf_puts(&qs, "continuation-token=");
            uri_encode(&qs, token, false);
            buf_putc(&qs, '&');
        }
        buf_puts(&qs, "list-type=2&prefix=");
        uri_encode(&qs, prefix, false);
        struct s3_req q;
        req_init(&q, OBJSTORE_OP_LIST, "GET", NULL, strip_prefix(os, prefix));
        q.query = qs.data;
        r = s3_perform(os, &q, e);
        buf_release(&qs);
        free(token);
        token = NULL;
        bool more = false;
        if (r == 0) {
            xmlDoc *doc = xml_parse(&q.resp);
            xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
            if (!root || strcmp((const char *)root->name, "ListBucketResult") != 0) {
                r = err_set(e, FLOE_EPROTO, "s3 list '%s': answer is not a ListBucketResult",
                            strip_prefix(os, prefix));
            } else {
                for (xmlNode *c = root->children; c; c = c->next) {
                    if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "Contents"))
                        continue;
                    char *k = xml_text(c, "Key");
                    char *sz = xml_text(c, "Size");
                    char *lm = xml_text(c, "LastModified");
                    if (k)
                        objstore_list_push(list, k, sz ? strtoull(sz, NULL, 10) : 0,
                                           lm ? parse_iso_date(lm) : 0);
                    free(sz);
                    free(lm);
                }
                char *tr = xml_text(root, "IsTruncated");
                more = tr && !strcmp(tr, "true");
                free(tr);
                if (more) {
                    token = xml_text(root, "NextContinuationToken");
                    if (!token || !*token)
                        r = err_set(e, FLOE_EPROTO, "s3 list '%s': truncated page without a continuation token",
                                    strip_prefix(os, prefix));
                }
            }
            if (doc)
                xmlFreeDoc(doc);
        }
        req_release(&q);
        if (r < 0 || !more)
            break;
    }
    free(token);
    return r;
}

/* ---- delete ---- */

struct key_idx {
    const char *key;
    size_t i;
};

static int key_idx_cmp(const void *a, const void *b)
{
    return strcmp(((const struct key_idx *)a)->key, ((const struct key_idx *)b)->key);
}

static int s3_delete_batch(struct objstore *os, const char *const *keys, size_t n, int *results,
                           struct err *e)
{
    struct buf xml = BUF_INIT;
    buf_puts(&xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>");
    for (size_t i = 0; i < n; i++) {
        buf_puts(&xml, "<Object><Key>");
        xml_escape(&xml, keys[i]);
        buf_puts(&xml, "</Key></Object>");
        results[i] = 0;
    }
    buf_puts(&xml, "</Delete>");
    char sha[65], md5[32];
    sha256_hex(xml.data, xml.len, sha);
    md5_b64(xml.data, xml.len, md5);
    struct s3_req q;
    req_init(&q, OBJSTORE_OP_DELETE, "POST", NULL, n == 1 ? strip_prefix(os, keys[0]) : "(batch)");
    q.query = "delete=";
    q.body = xml.data;
    q.body_len = xml.len;
    q.has_body = true;
    q.content_md5 = md5;
    q.content_type = "application/xml";
    q.payload_hash = sha;
    int r = s3_perform(os, &q, e);
    if (r < 0) {
        for (size_t i = 0; i < n; i++)
            results[i] = r;
        goto out;
    }
    xmlDoc *doc = xml_parse(&q.resp);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || strcmp((const char *)root->name, "DeleteResult") != 0) {
        r = err_set(e, FLOE_EPROTO, "s3 delete: answer is not a DeleteResult");
        for (size_t i = 0; i < n; i++)
            results[i] = r;
    } else {
        struct key_idx *idx = xmalloc(n * sizeof(*idx));
        for (size_t i = 0; i < n; i++)
            idx[i] = (struct key_idx){keys[i], i};
        qsort(idx, n, sizeof(*idx), key_idx_cmp);
        for (xmlNode *c = root->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "Error"))
                continue;
            char *k = xml_text(c, "Key");
            char *code = xml_text(c, "Code");
            char *msg = xml_text(c, "Message");
            if (k) {
                struct key_idx probe = {k, 0};
                struct key_idx *hit = bsearch(&probe, idx, n, sizeof(*idx), key_idx_cmp);
                int cls = class_of_code(code, 500);
                if (hit) {
                    /* equal keys sit next to each other after the sort */
                    while (hit > idx && !strcmp(hit[-1].key, k))
                        hit--;
                    for (; hit < idx + n && !strcmp(hit->key, k); hit++)
                        results[hit->i] = cls;
                    if (r == 0)
                        r = err_set(e, cls, "s3 delete '%s': %s%s%.200s", strip_prefix(os, k),
                                    code ? code : "error", msg ? ": " : "", msg ? msg : "");
                }
            }
            free(k);
            free(code);
            free(msg);
        }
        free(idx);
    }
    if (doc)
        xmlFreeDoc(doc);
out:
    req_release(&q);
    buf_release(&xml);
    return r;
}

/* ---- open / close ---- */

static void s3_close(struct objstore *os)
{
    struct s3 *s = S(os);
    if (!s)
        return;
    for (int i = 0; i < s->npool; i++)
        curl_easy_cleanup(s->pool[i]);
    free(s->pool);
    pthread_mutex_destroy(&s->mu);
    free(s->base);
    free(s->path_base);
    free(s->bucket);
    free(s->sigv4);
    free(s->access_key);
    if (s->secret_key) {
        memset(s->secret_key, 0, strlen(s->secret_key));
        free(s->secret_key);
    }
    if (s->token_header) {
        memset(s->token_header, 0, strlen(s->token_header));
        free(s->token_header);
    }
    free(s);
    os->impl = NULL;
}

static const struct objstore_driver s3_driver = {
    .name = "s3",
    .put = s3_put,
    .get = s3_get,
    .get_tail = s3_get_tail,
    .get_cond = s3_get_cond,
    .head = s3_head,
    .list = s3_list,
    .delete_batch = s3_delete_batch,
    .close = s3_close,
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
    xmlInitParser();
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Reads key id / secret / token of profile from an AWS shared credentials file. */
static int read_cred_file(const char *path, const char *profile, char **ak, char **sk, char **tok,
                          struct err *e)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return err_errno(e, errno, "objstore config credentials_file: open %s", path);
    char line[4096];
    bool in = false, found = false;
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *t = trim(line);
        if (!*t || *t == '#' || *t == ';')
            continue;
        if (*t == '[') {
            char *end = strchr(t, ']');
            if (!end) {
                fclose(f);
                return err_set(e, FLOE_ECONFIG, "objstore config credentials_file %s line %d: bad section header",
                               path, lineno);
            }
            *end = '\0';
            char *name = trim(t + 1);
            if (!strncmp(name, "profile ", 8))
                name = trim(name + 8);
            in = !strcmp(name, profile);
            found |= in;
            continue;
        }
        if (!in)
            continue;
        char *eq = strchr(t, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *k = trim(t), *v = trim(eq + 1);
        char **dst = !strcmp(k, "aws_access_key_id") ? ak
                   : !strcmp(k, "aws_secret_access_key") ? sk
                   : !strcmp(k, "aws_session_token") ? tok : NULL;
        if (dst) {
            free(*dst);
            *dst = xstrdup(v);
        }
    }
    fclose(f);
    memset(line, 0, sizeof(line));
    if (!found)
        return err_set(e, FLOE_ECONFIG, "objstore config credentials_file %s: no profile [%s]", path, profile);
    if (!*ak || !*sk)
        return err_set(e, FLOE_ECONFIG, "objstore config credentials_file %s profile [%s]: "
                       "aws_access_key_id and aws_secret_access_key are required", path, profile);
    return 0;
}

static int resolve_creds(const struct objstore_conf *c, char **ak, char **sk, char **tok,
                         struct err *e)
{
    enum objstore_cred_source src = c->cred_source;
    if (src == OBJSTORE_CRED_AUTO) {
        if (c->access_key || c->secret_key)
            src = OBJSTORE_CRED_EXPLICIT;
        else if (getenv("AWS_ACCESS_KEY_ID"))
            src = OBJSTORE_CRED_ENV;
        else
            src = OBJSTORE_CRED_FILE;
    }
    switch (src) {
    case OBJSTORE_CRED_EXPLICIT:
        if (!c->access_key || !*c->access_key || !c->secret_key || !*c->secret_key)
            return err_set(e, FLOE_ECONFIG, "objstore config: access_key and secret_key are required "
                           "with credentials=explicit");
        *ak = xstrdup(c->access_key);
        *sk = xstrdup(c->secret_key);
        if (c->session_token && *c->session_token)
            *tok = xstrdup(c->session_token);
        return 0;
    case OBJSTORE_CRED_ENV: {
        const char *a = getenv("AWS_ACCESS_KEY_ID"), *s = getenv("AWS_SECRET_ACCESS_KEY");
        const char *t = getenv("AWS_SESSION_TOKEN");
        if (!a || !*a || !s || !*s)
            return err_set(e, FLOE_ECONFIG, "objstore config credentials=env: AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY must both be set");
        *ak = xstrdup(a);
        *sk = xstrdup(s);
        if (t && *t)
            *tok = xstrdup(t);
        return 0;
    }
    default: {
        char *path = NULL;
        const char *profile = c->cred_profile ? c->cred_profile
                            : getenv("AWS_PROFILE") ? getenv("AWS_PROFILE") : "default";
        if (c->cred_file)
            path = xstrdup(c->cred_file);
        else if (getenv("AWS_SHARED_CREDENTIALS_FILE"))
            path = xstrdup(getenv("AWS_SHARED_CREDENTIALS_FILE"));
        else if (getenv("HOME"))
            path = xasprintf("%s/.aws/credentials", getenv("HOME"));
        else
            return err_set(e, FLOE_ECONFIG, "objstore config: no credentials (no keys, no "
                           "AWS_ACCESS_KEY_ID, no credentials file)");
        int r = read_cred_file(path, profile, ak, sk, tok, e);
        free(path);
        return r;
    }
    }
}

int objstore_s3_open(struct objstore *os, const struct objstore_conf *c, struct err *e)
{
    pthread_once(&global_once, global_init);
    if (global_rc < 0)
        return err_set(e, FLOE_EINTERNAL, "objstore s3: curl_global_init failed");
    if (!c->endpoint || !*c->endpoint)
        return err_set(e, FLOE_ECONFIG, "objstore config endpoint: required for type s3");
    if (!c->bucket || !*c->bucket)
        return err_set(e, FLOE_ECONFIG, "objstore config bucket: required for type s3");
    for (const char *p = c->bucket; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.' ||
              (c->path_style && (*p == '_' || isupper((unsigned char)*p)))))
            return err_set(e, FLOE_ECONFIG, "objstore config bucket '%s': not a valid bucket name", c->bucket);
    const char *ep = c->endpoint;
    const char *scheme;
    if (!strncmp(ep, "http://", 7))
        scheme = "http://", ep += 7;
    else if (!strncmp(ep, "https://", 8))
        scheme = "https://", ep += 8;
    else
        return err_set(e, FLOE_ECONFIG, "objstore config endpoint '%s': must start with http:// or https://",
                       c->endpoint);
    size_t hl = strcspn(ep, "/?#");
    if (hl == 0 || strspn(ep + hl, "/") != strlen(ep + hl) || memchr(ep, '@', hl))
        return err_set(e, FLOE_ECONFIG, "objstore config endpoint '%s': expected scheme://host[:port]",
                       c->endpoint);
    const char *region = c->region && *c->region ? c->region : "us-east-1";
    for (const char *p = region; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            return err_set(e, FLOE_ECONFIG, "objstore config region '%s': not a region name", region);

    char *ak = NULL, *sk = NULL, *tok = NULL;
    int r = resolve_creds(c, &ak, &sk, &tok, e);
    if (r < 0) {
        free(ak);
        if (sk) {
            memset(sk, 0, strlen(sk));
            free(sk);
        }
        if (tok) {
            memset(tok, 0, strlen(tok));
            free(tok);
        }
        return r;
    }
    struct s3 *s = xcalloc(1, sizeof(*s));
    if (c->path_style) {
        s->base = xasprintf("%s%.*s", scheme, (int)hl, ep);
        s->path_base = xasprintf("/%s", c->bucket);
    } else {
        s->base = xasprintf("%s%s.%.*s", scheme, c->bucket, (int)hl, ep);
        s->path_base = xstrdup("");
    }
    s->bucket = xstrdup(c->bucket);
    s->sigv4 = xasprintf("aws:amz:%s:s3", region);
    s->access_key = ak;
    s->secret_key = sk;
    if (tok) {
        s->token_header = xasprintf("x-amz-security-token: %s", tok);
        memset(tok, 0, strlen(tok));
        free(tok);
    }
    s->connect_timeout_ms = c->connect_timeout_ms;
    s->request_timeout_ms = c->request_timeout_ms;
    s->stall_timeout_s = (c->stall_timeout_ms + 999) / 1000;
    s->max_attempts = c->retry_max_attempts;
    s->base_ms = c->retry_base_ms;
    s->max_backoff_ms = c->retry_max_backoff_ms;
    s->total_ms = c->retry_total_ms;
    s->threshold = c->multipart_threshold;
    s->part_size = c->part_size < MIN_PART ? MIN_PART : c->part_size;
    s->parallelism = c->parallelism;
    s->maxpool = c->max_connections;
    s->pool = xcalloc((size_t)s->maxpool, sizeof(CURL *));
    pthread_mutex_init(&s->mu, NULL);
    os->impl = s;
    os->drv = &s3_driver;
    return 0;
}
