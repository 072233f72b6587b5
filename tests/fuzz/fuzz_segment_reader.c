/*
 * fuzz_segment_reader: arbitrary bytes as a segment file. The reader must
 * refuse anything malformed with FLOE_ECORRUPT and a message naming the
 * source, and everything it accepts must decode into consistent columns
 * (row counts as declared, string offsets inside their data, bools 0/1).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "io_source.h"
#include "segment_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct io_source *src;
    io_source_open_mem(data, size, "fuzz.dat", &src);
    struct segment_reader *r;
    struct err e = { 0 };
    if (segment_reader_open(src, &r, &e) < 0) {
        if (e.code != FLOE_ECORRUPT || !strstr(e.msg, "fuzz.dat"))
            abort();
        return 0;
    }
    const struct schema *s = segment_reader_schema(r);
    int cols[SCHEMA_MAX_COLS];
    for (int c = 0; c < s->ncols; c++)
        cols[c] = c;
    struct column_batch b;
    column_batch_init_schema(&b, s, NULL, 0);
    uint64_t total = 0;
    for (uint32_t k = 0; k < segment_reader_blocks(r); k++) {
        struct err be = { 0 };
        if (segment_reader_read_block(r, k, cols, s->ncols, &b, &be) < 0) {
            if (be.code != FLOE_ECORRUPT || !be.msg[0])
                abort();
            continue;
        }
        if (b.nrows != segment_reader_block_rows(r, k))
            abort();
        total += b.nrows;
        for (int c = 0; c < s->ncols; c++) {
            const struct column_vec *v = &b.cols[c];
            for (size_t i = 0; i < b.nrows; i++) {
                if (v->type == COL_STRING) {
                    if (v->offs[i + 1] < v->offs[i] || v->offs[i + 1] > v->str.len)
                        abort();
                } else if (v->type == COL_BOOL && ((const uint8_t *)v->data)[i] > 1) {
                    abort();
                }
            }
        }
        /* ranges of one column stay inside the file */
        struct io_range *rg;
        size_t n;
        segment_reader_ranges(r, cols, 1, NULL, &rg, &n);
        for (size_t i = 0; i < n; i++)
            if (rg[i].off + rg[i].len > size)
                abort();
        free(rg);
    }
    if (total > segment_reader_rows(r))
        abort();
    column_batch_release(&b);
    segment_reader_free(r);
    return 0;
}
