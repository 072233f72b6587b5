/*
 * fsutil: file helpers with the durability rules floe relies on.
 *
 * fs_write_atomic replaces a file so that after a crash either the old or the
 * new content is there, never a mix: write a temp file in the same directory,
 * fsync it, rename over the target, fsync the directory. Fault points:
 * "fs.atomic.write", "fs.atomic.fsync", "fs.atomic.rename", "fs.atomic.dirsync".
 *
 * The temp file is "<path>.tmp.<pid>.<n>" (a crash can leave one behind; it
 * is safe to delete) and the new file gets mode 0644 minus the umask.
 * When a fault or error hits before the rename, the old file is untouched
 * and the temp file is removed. When only the final directory fsync fails,
 * the new content is already in place (but may not survive a power loss)
 * and the error is still returned.
 *
 * fs_path_join refuses relative parts that could escape the base: absolute
 * paths, ".." components, empty components and NUL bytes. "." components are
 * refused too (they never name anything new). Errors are FLOE_EBADINPUT.
 */
#ifndef FLOE_FSUTIL_H
#define FLOE_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;
struct err;

int fs_write_atomic(const char *path, const void *data, size_t len, struct err *e);
/* Reads a whole file into out (appending). Refuses files larger than max
 * (FLOE_ELIMIT); on any error out keeps its previous length. */
int fs_read_file(const char *path, struct buf *out, size_t max, struct err *e);
/* base + "/" + rel into out (replacing its content), refusing escapes. */
int fs_path_join(struct buf *out, const char *base, const char *rel, struct err *e);
/* Same with an explicit length, for untrusted names that may hold NUL bytes.
 * On error out is left unchanged. */
int fs_path_join_n(struct buf *out, const char *base, const char *rel, size_t rel_len,
                   struct err *e);
/* mkdir -p with mode; existing directories are fine. */
int fs_mkdir_p(const char *path, mode_t mode, struct err *e);
int fs_fsync_dir(const char *dir, struct err *e);
/* Removes a file or a directory tree; a missing path is success. */
int fs_remove_all(const char *path, struct err *e);
/* write/pwrite/read/pread that loop over short transfers and EINTR. A short
 * read (EOF before len bytes) is FLOE_ECORRUPT for fs_pread_full. */
int fs_write_full(int fd, const void *data, size_t len);
int fs_pwrite_full(int fd, const void *data, size_t len, off_t off);
int fs_pread_full(int fd, void *data, size_t len, off_t off);
/* Size of a file, or -errno. */
int fs_file_size(const char *path, uint64_t *ret_size);
/* Milliseconds since the epoch (wall clock) and a monotonic clock. */
int64_t fs_now_ms(void);
int64_t mono_now_ms(void);

#endif
