/* A small strict JSON reader (ir/json.c) and writer (ir/json_write.c), for kiln's own text
 * records (tuning logs, ir/tuning_log.h; compile and bench reports, runtime/report.h).
 * Input is hostile: depth, length and every escape are checked, and a failure says what
 * is wrong at which column, never crashes. */
#ifndef KILN_IR_JSON_H
#define KILN_IR_JSON_H

#include "ir/util.h"

#include <stdio.h>

typedef enum kiln_json_kind {
  KILN_JSON_NULL, KILN_JSON_BOOL, KILN_JSON_NUMBER, KILN_JSON_STRING, KILN_JSON_ARRAY,
  KILN_JSON_OBJECT
} kiln_json_kind;

typedef struct kiln_json kiln_json;
struct kiln_json {
  kiln_json_kind kind;
  double number;    /* NUMBER; BOOL: 0 or 1 */
  char *string;     /* STRING (UTF-8, no NUL inside) */
  int n;            /* ARRAY, OBJECT: items */
  kiln_json *items;
  char **keys;      /* OBJECT: one per item */
};

/* Parses exactly one JSON value (blanks around it allowed) from text[0..len). NULL when
 * it is not one, with why filled ("column 12: expected ','"). */
kiln_json *kiln_json_parse(const char *text, size_t len, char *why, size_t nwhy);
void kiln_json_free(kiln_json *v);
/* The value of key in obj (the first), or NULL when obj is no object or has no such key. */
const kiln_json *kiln_json_get(const kiln_json *obj, const char *key);
/* s as a JSON string literal, quotes included. */
void kiln_json_write_string(const char *s, FILE *out);

/* A JSON document written as it goes: containers opened and closed in order, the commas
 * and indentation done here. Containers opened at depth `flat_from` or deeper are written
 * on one line (depth 0 is the document's outermost value). */
#define KILN_JSON_WRITE_DEPTH 16
typedef struct kiln_json_writer {
  FILE *out;
  int depth, flat_from;
  bool items[KILN_JSON_WRITE_DEPTH];  /* per open container: has an item been written */
  char close[KILN_JSON_WRITE_DEPTH];  /* per open container: '}' or ']' */
} kiln_json_writer;

void kiln_json_writer_init(kiln_json_writer *w, FILE *out, int flat_from);
/* Each item takes a key inside an object and NULL elsewhere. open: '{' or '['. */
void kiln_json_open(kiln_json_writer *w, const char *key, char open);
void kiln_json_close(kiln_json_writer *w); /* the last container opened */
void kiln_json_put_string(kiln_json_writer *w, const char *key, const char *s); /* NULL: null */
/* Integral values below 2^53 as integers, others with 15 significant digits; NaN and the
 * infinities, which JSON lacks, as null. */
void kiln_json_put_number(kiln_json_writer *w, const char *key, double v);
void kiln_json_put_bool(kiln_json_writer *w, const char *key, bool v);

#endif
