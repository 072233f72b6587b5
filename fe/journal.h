/*
 * journal: the FE's write-ahead log of catalog changes. One record per line:
 *
 *     {"c":"<crc32c of R, 8 hex>","r":R}\n
 *
 * where R is the record (a JSON object with "seq" and "op"). journal_append
 * assigns the next seq, writes the line and fsyncs before returning, so a
 * change is applied only after it is durable. A failed write or fsync makes
 * the journal fail every later append (the FE must not act as master on a
 * log whose state it no longer knows); the partial line is cut off when
 * possible.
 *
 * Replay: records are checked (crc, JSON, seq = previous + 1). A bad last
 * line — a write torn by a crash — is dropped with a log line and cut from
 * the file. Any other bad line stops the replay with FLOE_ECORRUPT naming
 * the file and line number.
 *
 * Fault points: "journal.write", "journal.fsync".
 */
#ifndef FLOE_FE_JOURNAL_H
#define FLOE_FE_JOURNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct err;
struct journal;

typedef int (*journal_apply_cb)(void *ctx, const json_t *rec, struct err *e);

/* Opens (creating if missing) the journal file at path. */
int journal_open(const char *path, struct journal **ret, struct err *e);
/* Closes. Accepts NULL. */
void journal_close(struct journal *j);

/*
 * Replays the file: records with seq <= after_seq are skipped (already in the
 * checkpoint image); the first applied record must have seq after_seq + 1.
 * Afterwards appends continue from the last seq seen.
 */
int journal_replay(struct journal *j, int64_t after_seq, journal_apply_cb cb, void *ctx, struct err *e);

/* Sets rec.seq to the next number, appends and fsyncs. Does not take rec. */
int journal_append(struct journal *j, json_t *rec, struct err *e);

/* After a checkpoint image covering every record: replaces the file with an
 * empty one atomically. Later records continue the seq numbering. */
int journal_reset(struct journal *j, struct err *e);

int64_t journal_last_seq(const struct journal *j);
/* Records in the file (since open or the last reset). */
int64_t journal_count(const struct journal *j);
bool journal_failed(const struct journal *j);

#endif
