/*
 * meta: the FE's durable catalog — a catalog plus its journal and
 * checkpoint image in meta_dir:
 *
 *     meta_dir/LOCK          flock'ed while an FE owns the directory
 *     meta_dir/image.json    last checkpoint (JSON lines, see catalog.h)
 *     meta_dir/journal.log   records after the image (see journal.h)
 *
 * meta_open loads the image, replays the journal and takes the lock; the FE
 * is master from then on, until a journal write fails (or the owner calls
 * meta_step_down). meta_commit is the only way to change the catalog:
 * journal first (fsync), then apply. A change that cannot be journaled is
 * not made and the FE stops being master.
 *
 * A failed checkpoint leaves the previous image and the journal as they were
 * (the image is replaced atomically, the journal only after that).
 */
#ifndef FLOE_FE_META_H
#define FLOE_FE_META_H

#include "catalog.h"

#include <jansson.h>
#include <stdbool.h>

struct err;
struct journal;

struct fe_meta {
    struct catalog cat;
    struct journal *journal;
    char *dir;
    char *image_path;
    int lock_fd;
    bool master;
    int64_t checkpoint_every;   /* records between automatic checkpoints; 0 = never */
    int64_t elected, reelected, no_candidate;  /* totals of every cooldown-conf pass since open */
};

int meta_open(const char *dir, const struct fe_params *params, struct fe_meta **ret, struct err *e);
/* Closes without a checkpoint. Accepts NULL. */
void meta_close(struct fe_meta *m);

/* Journals rec (adding its seq), then applies it. Takes ownership of rec.
 * FLOE_ENOTMASTER when this FE is not master. */
int meta_commit(struct fe_meta *m, json_t *rec, struct err *e);

/* Writes a checkpoint image and empties the journal. */
int meta_checkpoint(struct fe_meta *m, struct err *e);

void meta_step_down(struct fe_meta *m);

#endif
