/* Caret diagnostics: `file:line:col: error: message`, the source line, a caret under the
 * column. Several accumulate in one kiln_error; the first code is the one returned. */
#include "frontend/dsl_ast.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Appends printf output to err->message; false when it did not fit. */
static bool put(kiln_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool put(kiln_error *err, const char *fmt, ...) {
  size_t len = strlen(err->message), room = sizeof err->message - len;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err->message + len, room, fmt, ap);
  va_end(ap);
  return n >= 0 && (size_t)n < room;
}

/* The text of line `line` of src (without its newline) and its length. */
static const char *source_line(const dsl_source *src, int line, int *len) {
  const char *p = src->text, *end = src->text + src->size;
  for (int l = 1; l < line && p < end; p++)
    if (*p == '\n') l++;
  const char *e = p;
  while (e < end && *e != '\n') e++;
  *len = (int)(e - p);
  return p;
}

/* False when this diagnostic was given before; remembers it. */
static bool first_time(dsl_diag *d, dsl_loc loc, const char *msg) {
  uint64_t h = 1469598103934665603ull;
  uintptr_t src = (uintptr_t)loc.src;
  const int64_t where[3] = {(int64_t)src, loc.line, loc.col};
  const unsigned char *b = (const unsigned char *)where;
  for (size_t i = 0; i < sizeof where; i++) h = (h ^ b[i]) * 1099511628211ull;
  for (const char *p = msg; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  for (int i = 0; i < d->nseen; i++)
    if (d->seen[i] == h) return false;
  KILN_GROW(d->seen, d->nseen, d->seen_cap);
  d->seen[d->nseen++] = h;
  return true;
}

/* `file:line:col: note: in call of 'f'`, for `times` calls from one place (a function
 * calling itself). */
static bool note(kiln_error *err, const struct dsl_call_frame *f, int times) {
  char extra[48] = "";
  if (times > 1) snprintf(extra, sizeof extra, " (%d nested calls)", times);
  return put(err, "%s:%d:%d: note: in call of '%s'%s\n", f->loc.src ? f->loc.src->path : "<buffer>",
             f->loc.line, f->loc.col, f->name, extra);
}

static bool same_call(const struct dsl_call_frame *a, const struct dsl_call_frame *b) {
  return a->loc.src == b->loc.src && a->loc.line == b->loc.line && a->loc.col == b->loc.col &&
         strcmp(a->name, b->name) == 0;
}

/* The calls that led to a diagnostic, innermost first: the three nearest places and the
 * outermost. */
static bool notes(const dsl_diag *d, kiln_error *err) {
  bool ok = true;
  int shown = 0;
  for (int i = d->ncalls - 1; ok && i >= 0;) {
    int j = i;
    while (j > 0 && same_call(&d->calls[j - 1], &d->calls[i])) j--;
    if (shown < 3 || j == 0) ok = note(err, &d->calls[i], i - j + 1), shown++;
    i = j - 1;
  }
  return ok;
}

void dsl_error(dsl_diag *d, kiln_status code, dsl_loc loc, const char *fmt, ...) {
  d->count++;
  if (!d->err || d->full) return;
  kiln_error *err = d->err;
  if (!err->code) err->code = code;
  size_t mark = strlen(err->message);
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!first_time(d, loc, msg)) return;
  bool ok = put(err, "%s:%d:%d: error: %s\n", loc.src ? loc.src->path : "<buffer>", loc.line,
                loc.col, msg);
  if (ok && loc.src && loc.line > 0) {
    int len;
    const char *text = source_line(loc.src, loc.line, &len);
    if (len > 200) len = 200; /* a minified line is not worth quoting whole */
    ok = put(err, "  %.*s\n  ", len, text);
    /* Tabs are kept so the caret lines up under tab-indented text. */
    for (int i = 0; ok && i < loc.col - 1 && i < len; i++) ok = put(err, "%c", text[i] == '\t' ? '\t' : ' ');
    if (ok) ok = put(err, "^\n");
  }
  if (ok) ok = notes(d, err);
  if (!ok) { /* drop the truncated diagnostic, keep the earlier ones whole */
    err->message[mark] = 0;
    d->full = true;
  }
}

void dsl_diag_free(dsl_diag *d) {
  free(d->seen);
  d->seen = NULL;
  d->nseen = d->seen_cap = 0;
}

int dsl_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 31 || lb > 31) return 99;
  int d[32][32];
  for (int i = 0; i <= la; i++) d[i][0] = i;
  for (int j = 0; j <= lb; j++) d[0][j] = j;
  for (int i = 1; i <= la; i++)
    for (int j = 1; j <= lb; j++) {
      int sub = d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
      int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
      d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
  return d[la][lb];
}
