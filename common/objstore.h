/*
 * objstore: the object-store client cold data goes through. One interface,
 * two drivers: "local" (a directory, the embedded default, also for shared
 * NFS-style mounts) and "s3" (any S3-compatible server, over libcurl with
 * AWS Signature V4).
 *
 * Guarantees, the same for both drivers:
 * - A put is atomic: readers see the old object, the new one, or nothing,
 *   never a partial object. Large S3 puts go multipart (parts in parallel)
 *   and a failed multipart upload is aborted.
 * - A ranged get returns exactly the bytes asked for; receiving fewer (or
 *   more) is an error, never a silently short buffer.
 * - Keys are relative to the resource prefix and are any non-empty byte
 *   string up to OBJSTORE_KEY_MAX bytes (with the prefix) without control
 *   characters (0x01-0x1f, 0x7f: XML 1.0 cannot carry them in listings);
 *   spaces, '+', '%', unicode, "./" all work. Listings are sorted by key
 *   (bytewise).
 * - Errors are classified by code so callers can react:
 *     FLOE_ENOTFOUND    the object (or bucket) does not exist
 *     FLOE_EACCESS      access denied, bad credentials or signature
 *     FLOE_EBADREQ      the request is wrong (bad key, bad range, 4xx)
 *     FLOE_ETRANSIENT   5xx, 429/SlowDown, timeouts, resets; retried
 *                       internally up to the retry bounds before surfacing
 *     FLOE_ECONFIG      bad resource description (at open)
 *     FLOE_EPROTO       the server answered something unparseable
 *     -errno            local file system errors
 *   The struct err message names the key and the operation; it never
 *   contains credentials.
 * - A handle is thread-safe: any number of threads may call into one
 *   struct objstore at once (the S3 driver keeps a pool of connections).
 *
 * Fault points (builds with -Dfaults=true), hit once per public call before
 * any I/O: "objstore.put", "objstore.get", "objstore.head", "objstore.list",
 * "objstore.delete"; and "objstore.put.after" after a put completed (the
 * object exists but the caller sees FLOE_EFAULT, as after a lost reply).
 * The S3 driver also has "objstore.s3.part", hit once per multipart part
 * before it is sent (a part that failed: the put fails and is aborted).
 */
#ifndef FLOE_OBJSTORE_H
#define FLOE_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct err;
struct objstore;

#define OBJSTORE_KEY_MAX 1024
#define OBJSTORE_ETAG_MAX 128
/* Returned (positive) by objstore_get_cond when the etag still matches. */
#define OBJSTORE_NOT_MODIFIED 1
/* len argument of the get functions: up to the end of the object. */
#define OBJSTORE_TO_END UINT64_MAX

enum objstore_type { OBJSTORE_LOCAL = 0, OBJSTORE_S3 = 1 };

enum objstore_cred_source {
    OBJSTORE_CRED_AUTO = 0, /* explicit keys if set, else env, else file */
    OBJSTORE_CRED_EXPLICIT, /* access_key / secret_key below */
    OBJSTORE_CRED_ENV,      /* AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN */
    OBJSTORE_CRED_FILE,     /* shared credentials file + profile */
};

/*
 * A resource description. The struct owns its strings (heap, freed by
 * objstore_conf_release); set them with objstore_conf_set() or assign
 * xstrdup()ed strings. objstore_open copies what it needs, so the conf may
 * be released right after.
 */
struct objstore_conf {
    enum objstore_type type;
    char *root;          /* local: the directory (created if missing) */
    char *prefix;        /* both: key prefix inside the root/bucket, "" for none;
                            a trailing '/' is added when missing */
    /* s3 */
    char *endpoint;      /* "http://127.0.0.1:9000" or "https://s3.amazonaws.com" */
    char *region;        /* default "us-east-1" */
    char *bucket;
    bool path_style;     /* true: endpoint/bucket/key; false: bucket.host/key */
    enum objstore_cred_source cred_source;
    char *access_key;    /* secrets: never logged, never in messages */
    char *secret_key;
    char *session_token; /* optional */
    char *cred_file;     /* default $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials */
    char *cred_profile;  /* default $AWS_PROFILE or "default" */
    /* timeouts (per HTTP attempt) */
    int connect_timeout_ms;   /* default 5000 */
    int request_timeout_ms;   /* whole attempt; default 0 = none (stall bound applies) */
    int stall_timeout_ms;     /* abort an attempt that moves no byte for this long; default 30000 */
    /* retries of transient errors: exponential backoff with full jitter */
    int retry_max_attempts;   /* total attempts per request, >= 1; default 6 */
    int retry_base_ms;        /* first backoff ceiling; default 50 */
    int retry_max_backoff_ms; /* cap on one backoff; default 5000 */
    int retry_total_ms;       /* give up after this long in total; default 120000 */
    /* multipart */
    uint64_t multipart_threshold; /* puts of at least this many bytes go multipart; default 64 MiB */
    uint64_t part_size;           /* default 16 MiB; >= 5 MiB for S3 (except the last part) */
    int parallelism;              /* parts in flight per put; default 4 */
    int max_connections;          /* idle connections kept in the pool; default 16 */
};

/* Defaults for every field, strings NULL (= their default). */
void objstore_conf_init(struct objstore_conf *conf);
/* Frees the strings; conf is re-initialised. Accepts NULL. */
void objstore_conf_release(struct objstore_conf *conf);
/*
 * Sets one field from its textual name and value, as found in a resource
 * description or config file: type (local|s3), root, prefix, endpoint,
 * region, bucket, path_style (true|false), credentials (auto|explicit|env|file),
 * access_key, secret_key, session_token, credentials_file, profile,
 * connect_timeout_ms, request_timeout_ms, stall_timeout_ms,
 * retry_max_attempts, retry_base_ms, retry_max_backoff_ms, retry_total_ms,
 * multipart_threshold, part_size, parallelism, max_connections.
 * Unknown names and bad values: FLOE_ECONFIG naming the key (the value of a
 * secret is never echoed).
 */
int objstore_conf_set(struct objstore_conf *conf, const char *name, const char *value,
                      struct err *e);

/*
 * Opens a handle. Checks the description (FLOE_ECONFIG naming the field)
 * and resolves credentials; it does not contact the server. Close with
 * objstore_close.
 */
int objstore_open(const struct objstore_conf *conf, struct objstore **ret_os, struct err *e);
/* Accepts NULL. No call may be in flight. */
void objstore_close(struct objstore *os);

/* Metadata of one object. */
struct objstore_info {
    uint64_t size;
    int64_t mtime_ms;                 /* last modified, ms since the epoch */
    char etag[OBJSTORE_ETAG_MAX];     /* opaque, without quotes; changes with every put */
};

/* Stores len bytes under key, replacing any previous object. */
int objstore_put(struct objstore *os, const char *key, const void *data, size_t len,
                 struct err *e);
/* Stores the whole content of the file at path (multipart when large). */
int objstore_put_file(struct objstore *os, const char *key, const char *path, struct err *e);

/*
 * Reads bytes [off, off+len) into dst (which has room for len bytes).
 * len == 0 checks that the object exists and off <= size. A range past the
 * end of the object is FLOE_EBADREQ; fewer bytes received is FLOE_ETRANSIENT
 * after the retries (a short read never succeeds).
 */
int objstore_get(struct objstore *os, const char *key, uint64_t off, uint64_t len, void *dst,
                 struct err *e);
/* Same, appending to out; len may be OBJSTORE_TO_END (from off to the end). */
int objstore_get_buf(struct objstore *os, const char *key, uint64_t off, uint64_t len,
                     struct buf *out, struct err *e);
/*
 * The last n bytes (all of them when the object is smaller), appended to
 * out; ret_size (may be NULL) receives the object size.
 */
int objstore_get_tail(struct objstore *os, const char *key, uint64_t n, struct buf *out,
                      uint64_t *ret_size, struct err *e);
/*
 * Writes bytes [off, off+len) (len may be OBJSTORE_TO_END) to the file at
 * path, replacing it atomically (temp + fsync + rename); on error the file
 * is left as it was.
 */
int objstore_get_file(struct objstore *os, const char *key, uint64_t off, uint64_t len,
                      const char *path, struct err *e);
/*
 * Conditional whole-object get. When etag is non-NULL and the object's etag
 * still equals it, returns OBJSTORE_NOT_MODIFIED (1) and leaves out alone;
 * otherwise returns 0, appends the object to out and fills ret_info (may be
 * NULL) with its size/etag/mtime. A follower polling a remote meta costs one
 * cheap request per round this way.
 */
int objstore_get_cond(struct objstore *os, const char *key, const char *etag, struct buf *out,
                      struct objstore_info *ret_info, struct err *e);

/* Size, etag and last-modified of key; FLOE_ENOTFOUND when missing. */
int objstore_head(struct objstore *os, const char *key, struct objstore_info *ret_info,
                  struct err *e);

struct objstore_entry {
    char *key;          /* relative to the resource prefix */
    uint64_t size;
    int64_t mtime_ms;
};

struct objstore_list {
    struct objstore_entry *entries;  /* sorted by key */
    size_t n;
};

/*
 * Every object whose key starts with prefix ("" = all), all pages, sorted.
 * ret_list is filled (previous content is not freed); release it with
 * objstore_list_release. On error ret_list is empty.
 */
int objstore_list(struct objstore *os, const char *prefix, struct objstore_list *ret_list,
                  struct err *e);
/* Frees the entries; the list is empty afterwards. Accepts NULL. */
void objstore_list_release(struct objstore_list *list);

/* Deletes one object; a missing object is success. */
int objstore_delete(struct objstore *os, const char *key, struct err *e);
/*
 * Deletes n objects, batched (S3 DeleteObjects, at most 1000 keys per
 * request). ret_results (may be NULL) gets one code per key: 0 deleted (a
 * missing key counts as deleted), negative on failure. Returns 0 when all
 * keys were deleted, otherwise the first failure's code with a message that
 * counts the failures and names the first failed key.
 */
int objstore_delete_many(struct objstore *os, const char *const *keys, size_t n,
                         int *ret_results, struct err *e);

/* Request kinds for the counters. */
enum objstore_op {
    OBJSTORE_OP_GET = 0,
    OBJSTORE_OP_PUT,      /* simple puts and multipart parts/initiate/complete/abort */
    OBJSTORE_OP_LIST,     /* one per page */
    OBJSTORE_OP_DELETE,   /* one per batch */
    OBJSTORE_OP_HEAD,
    OBJSTORE_OP_N
};

/* Counters since open, updated atomically; HTTP requests for s3, calls for local. */
struct objstore_stats {
    uint64_t requests[OBJSTORE_OP_N];   /* attempts, including retries */
    uint64_t errors[OBJSTORE_OP_N];     /* failed attempts (any class) */
    uint64_t retries[OBJSTORE_OP_N];    /* attempts that were retries */
    uint64_t bytes_up;                  /* body bytes sent */
    uint64_t bytes_down;                /* body bytes received */
    uint64_t deleted_keys;              /* keys confirmed deleted */
};

/* A snapshot of the counters. */
void objstore_stats_get(struct objstore *os, struct objstore_stats *ret_stats);
/* "get", "put", ... for a kind. */
const char *objstore_op_name(enum objstore_op op);
/* "local" or "s3". */
const char *objstore_type_name(const struct objstore *os);

#endif
