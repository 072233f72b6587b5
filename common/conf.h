/*
 * conf: table-driven `key = value` configuration files.
 *
 * A program declares one table of struct conf_entry (name, type, range,
 * default, help, offset of the field in its config struct). The same table
 * drives parsing, validation, defaults, `--help-config` output and the docs.
 * Syntax: one `key = value` per line, `#` starts a comment, blank lines are
 * ignored, values may be "double quoted". Unknown keys, duplicate keys, bad
 * values and out-of-range numbers are errors naming file:line:key. Durations
 * accept a unit suffix (ms, s, m, h, d; bare numbers are the entry's unit)
 * and sizes accept K, M, G (bare numbers are bytes... or the entry's unit).
 */
#ifndef FLOE_CONF_H
#define FLOE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct err;

enum conf_type {
    CONF_INT,      /* int64_t field; min/max apply */
    CONF_BOOL,     /* bool field; true/false/yes/no/on/off/1/0 */
    CONF_STRING,   /* char * field, heap-owned; conf_release frees it */
    CONF_PORT,     /* int64_t field, 1..65535 (0 allowed when min is 0) */
};

struct conf_entry {
    const char *name;
    enum conf_type type;
    int64_t min, max;     /* CONF_INT / CONF_PORT range, inclusive */
    const char *def;      /* default as text; NULL = no default (required for strings) */
    const char *help;
    size_t offset;        /* offsetof(struct your_conf, field) */
};

#define CONF_END { NULL, 0, 0, 0, NULL, NULL, 0 }

/* Sets every field to its default. */
int conf_defaults(const struct conf_entry *table, void *target, struct err *e);
/* Parses a file over the current values (call conf_defaults first). */
int conf_load_file(const struct conf_entry *table, void *target, const char *path, struct err *e);
/* Parses text (name used in messages). */
int conf_load_string(const struct conf_entry *table, void *target, const char *name,
                     const char *text, struct err *e);
/* Sets one key from text ("key=value" overrides on a command line). */
int conf_set(const struct conf_entry *table, void *target, const char *key, const char *value,
             struct err *e);
/* Frees string fields. Accepts a half-filled target. */
void conf_release(const struct conf_entry *table, void *target);
/* Prints the table: name, type, range, default, help. */
void conf_print_help(const struct conf_entry *table, FILE *out);

#endif
