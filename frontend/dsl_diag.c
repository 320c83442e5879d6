/* Caret diagnostics: `file:line:col: error: message`, the source line, a caret under the
 * column. Several accumulate in one kiln_error; the first code is the one returned. */
#include "frontend/dsl_ast.h"

#include <stdarg.h>
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
  if (!ok) { /* drop the truncated diagnostic, keep the earlier ones whole */
    err->message[mark] = 0;
    d->full = true;
  }
}
