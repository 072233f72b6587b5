/*
 * conf: table-driven `key = value` configuration files.
 *
 * A program declares one table of struct conf_entry (name, type, range,
 * default, help, offset of the field in its config struct). The same table
 * drives parsing, validation, defaults, `--help-config` output and the docs.
 * Syntax: one `key = value` per line; blank lines are ignored; `#` starts a
 * comment at the start of a line, or after whitespace that follows a bare
 * value (so `a#b` is a value, `a # note` is `a`). Values may be "double
 * quoted" (escapes \" \\ \n \t; a quoted `#` is literal); bare values are
 * trimmed. CRLF line ends are accepted. Keys are matched exactly.
 *
 * Errors are FLOE_ECONFIG with "FILE:LINE: key 'x': what" (unknown key,
 * duplicate key, bad integer, out of range, bad boolean, missing '=',
 * unterminated quote). A failed load or set changes nothing in the target:
 * values are staged and committed only when the whole input parsed. Values of
 * string entries and unparseable lines never appear in messages (secrets).
 *
 * Numbers: CONF_INT entries with min == max == 0 are unbounded; otherwise
 * [min, max] applies. CONF_PORT uses [min, max] with max 0 meaning 65535, so
 * {min 1} is 1..65535 and {min 0} also allows 0 ("pick a free port").
 * Units, chosen by the entry name (CONF_INT only):
 *   name ends in _ms    milliseconds; accepts 250ms, 5s, 2m, 1h, 1d
 *   name ends in _s     seconds; accepts 30s, 5m, 1h, 2d, 3000ms (whole seconds only)
 *   name ends in _bytes bytes; accepts 64K, 16M, 2G, 1T (powers of 1024)
 * A bare number is always in the entry's own unit.
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

/* Sets every field to its default (strings without a default become NULL).
 * target may be uninitialised: nothing in it is freed. A default that does
 * not parse is FLOE_ECONFIG (a bug in the table). */
int conf_defaults(const struct conf_entry *table, void *target, struct err *e);
/* Parses a file over the current values (call conf_defaults first). */
int conf_load_file(const struct conf_entry *table, void *target, const char *path, struct err *e);
/* Parses text (name used in messages). */
int conf_load_string(const struct conf_entry *table, void *target, const char *name,
                     const char *text, struct err *e);
/* Sets one key from text ("key=value" overrides on a command line).
 * Errors read "key 'x': what". */
int conf_set(const struct conf_entry *table, void *target, const char *key, const char *value,
             struct err *e);
/* Frees string fields. Accepts a half-filled target. */
void conf_release(const struct conf_entry *table, void *target);
/* FLOE_ECONFIG naming the first string entry without a default that is
 * still NULL (a required key the file did not set). Call after loading. */
int conf_check_required(const struct conf_entry *table, const void *target, struct err *e);
/* Prints the table: name, type, range, default, help. Never prints current
 * values, only the table's defaults. */
void conf_print_help(const struct conf_entry *table, FILE *out);
/* The same table as a Markdown table, for docs. */
void conf_print_markdown(const struct conf_entry *table, FILE *out);

#endif
