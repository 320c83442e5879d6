/* The JSON writer of ir/json.h: string literals, and documents written item by item with
 * the separators and indentation tracked per open container, so writers of reports need no
 * comma bookkeeping of their own. Output is always valid JSON: every string escaped and
 * made UTF-8 (a stray byte of a name from a model becomes U+FFFD), numbers JSON has no
 * spelling for written as null. */
#include "ir/json.h"

#include <math.h>

void kiln_json_write_string(const char *s, FILE *out) {
  fputc('"', out);
  while (s && *s) {
    unsigned char c = (unsigned char)*s;
    int n = kiln_utf8_len(s);
    if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
    else if (c < 0x20) fprintf(out, "\\u%04x", c);
    else if (!n) fputs("\\ufffd", out); /* JSON text is UTF-8: a stray byte is replaced */
    else fwrite(s, 1, (size_t)n, out);
    s += n ? n : 1;
  }
  fputc('"', out);
}

void kiln_json_writer_init(kiln_json_writer *w, FILE *out, int flat_from) {
  w->out = out;
  w->depth = 0;
  w->flat_from = flat_from;
}

/* The bookkeeping slot of container depth d (kiln's documents nest far less than the
 * slots; deeper ones share the last rather than overrun it). */
static int slot(int d) { return d < KILN_JSON_WRITE_DEPTH ? d : KILN_JSON_WRITE_DEPTH - 1; }

/* The separator and key before an item of the innermost open container. */
static void item(kiln_json_writer *w, const char *key) {
  if (w->depth > 0) {
    int d = slot(w->depth - 1);
    if (w->items[d]) fputc(',', w->out);
    if (w->depth <= w->flat_from) fprintf(w->out, "\n%*s", 2 * w->depth, "");
    else if (w->items[d]) fputc(' ', w->out);
    w->items[d] = true;
  }
  if (key) {
    kiln_json_write_string(key, w->out);
    fputs(": ", w->out);
  }
}

void kiln_json_open(kiln_json_writer *w, const char *key, char open) {
  item(w, key);
  fputc(open, w->out);
  w->items[slot(w->depth)] = false;
  w->close[slot(w->depth)] = open == '[' ? ']' : '}';
  w->depth++;
}

void kiln_json_close(kiln_json_writer *w) {
  if (w->depth <= 0) return;
  w->depth--;
  int d = slot(w->depth);
  if (w->items[d] && w->depth < w->flat_from) fprintf(w->out, "\n%*s", 2 * w->depth, "");
  fputc(w->close[d], w->out);
  if (w->depth == 0) fputc('\n', w->out);
}

void kiln_json_put_string(kiln_json_writer *w, const char *key, const char *s) {
  item(w, key);
  if (s) kiln_json_write_string(s, w->out);
  else fputs("null", w->out);
}

void kiln_json_put_number(kiln_json_writer *w, const char *key, double v) {
  item(w, key);
  if (!isfinite(v)) fputs("null", w->out);
  else if (v == floor(v) && fabs(v) < 9007199254740992.0) fprintf(w->out, "%.0f", v);
  else fprintf(w->out, "%.15g", v);
}

void kiln_json_put_bool(kiln_json_writer *w, const char *key, bool v) {
  item(w, key);
  fputs(v ? "true" : "false", w->out);
}
