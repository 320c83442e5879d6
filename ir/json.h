/* A small strict JSON reader and string writer (ir/json.c), for kiln's own text records
 * (tuning logs, ir/tuning_log.h). Input is hostile: depth, length and every escape are
 * checked, and a failure says what is wrong at which column, never crashes. */
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

#endif
