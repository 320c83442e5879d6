/* A strict JSON reader (RFC 8259) into a small tree (ir/json.h; the writer is ir/json_write.c).
 * Recursive descent with a depth bound; numbers are checked against the grammar before
 * strtod reads them; \u escapes become UTF-8 (surrogate pairs joined, \u0000 refused so
 * strings stay C strings). */
#include "ir/json.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

typedef struct reader {
  const char *s;
  size_t len, pos;
  char *why;
  size_t nwhy;
} reader;

static bool fail(reader *r, const char *fmt, ...) {
  if (r->why[0]) return false;
  int n = snprintf(r->why, r->nwhy, "column %zu: ", r->pos + 1);
  va_list ap;
  va_start(ap, fmt);
  if (n >= 0 && (size_t)n < r->nwhy) vsnprintf(r->why + n, r->nwhy - (size_t)n, fmt, ap);
  va_end(ap);
  return false;
}

static int peek(const reader *r) { return r->pos < r->len ? (unsigned char)r->s[r->pos] : -1; }

static void blanks(reader *r) {
  while (r->pos < r->len && strchr(" \t\r\n", r->s[r->pos]) && r->s[r->pos]) r->pos++;
}

static bool literal(reader *r, const char *word) {
  size_t n = strlen(word);
  if (r->len - r->pos < n || memcmp(r->s + r->pos, word, n)) return fail(r, "unknown value");
  r->pos += n;
  return true;
}

static int hex4(reader *r) {
  if (r->len - r->pos < 4) return -1;
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = r->s[r->pos + (size_t)i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  r->pos += 4;
  return v;
}

static void put_utf8(char *out, size_t *n, unsigned cp) {
  if (cp < 0x80) {
    out[(*n)++] = (char)cp;
  } else if (cp < 0x800) {
    out[(*n)++] = (char)(0xC0 | (cp >> 6));
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out[(*n)++] = (char)(0xE0 | (cp >> 12));
    out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    out[(*n)++] = (char)(0xF0 | (cp >> 18));
    out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  }
}

/* At the opening quote; a malloc'd string, or NULL. Escapes only shrink text (a \uXXXX of
 * 6 bytes gives at most 4), so len - pos + 1 bytes are enough. */
static char *string(reader *r) {
  r->pos++;
  char *out = kiln_xmalloc(r->len - r->pos + 1);
  size_t n = 0;
  for (;;) {
    int c = peek(r);
    if (c < 0) {
      free(out);
      return fail(r, "unterminated string"), NULL;
    }
    r->pos++;
    if (c == '"') break;
    if (c < 0x20) {
      free(out);
      r->pos--;
      return fail(r, "control character in a string"), NULL;
    }
    if (c != '\\') {
      out[n++] = (char)c;
      continue;
    }
    int e = peek(r);
    r->pos++;
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *at = e > 0 ? strchr(from, e) : NULL;
    if (at) {
      out[n++] = to[at - from];
      continue;
    }
    int cp = e == 'u' ? hex4(r) : -1;
    if (cp >= 0xD800 && cp < 0xDC00) { /* a high surrogate: its low half must follow */
      int lo = -1;
      if (r->len - r->pos >= 2 && r->s[r->pos] == '\\' && r->s[r->pos + 1] == 'u') {
        r->pos += 2;
        lo = hex4(r);
      }
      cp = lo >= 0xDC00 && lo < 0xE000 ? 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00) : -1;
    } else if (cp >= 0xDC00 && cp < 0xE000) {
      cp = -1;
    }
    if (cp <= 0) {
      free(out);
      return fail(r, "bad escape in a string"), NULL;
    }
    put_utf8(out, &n, (unsigned)cp);
  }
  out[n] = 0;
  return out;
}

static bool digits(reader *r) {
  size_t start = r->pos;
  while (peek(r) >= '0' && peek(r) <= '9') r->pos++;
  return r->pos > start;
}

static bool number(reader *r, double *out) {
  size_t start = r->pos;
  if (peek(r) == '-') r->pos++;
  if (peek(r) == '0') r->pos++;
  else if (!digits(r)) return fail(r, "bad number");
  if (peek(r) == '.' && (r->pos++, !digits(r))) return fail(r, "bad number");
  if (peek(r) == 'e' || peek(r) == 'E') {
    r->pos++;
    if (peek(r) == '+' || peek(r) == '-') r->pos++;
    if (!digits(r)) return fail(r, "bad number");
  }
  char buf[64];
  size_t n = r->pos - start;
  if (n >= sizeof buf) return r->pos = start, fail(r, "number too long");
  memcpy(buf, r->s + start, n);
  buf[n] = 0;
  *out = strtod(buf, NULL);
  return true;
}

static bool value(reader *r, kiln_json *v, int depth);

static void add_item(kiln_json *v, int *cap) {
  if (v->n == *cap) {
    *cap = *cap ? 2 * *cap : 4;
    v->items = kiln_xrealloc(v->items, sizeof *v->items * (size_t)*cap);
    if (v->kind == KILN_JSON_OBJECT) v->keys = kiln_xrealloc(v->keys, sizeof *v->keys * (size_t)*cap);
  }
  memset(&v->items[v->n], 0, sizeof v->items[0]);
  if (v->kind == KILN_JSON_OBJECT) v->keys[v->n] = NULL;
  v->n++;
}

static bool container(reader *r, kiln_json *v, int depth) {
  bool obj = peek(r) == '{';
  char close = obj ? '}' : ']';
  v->kind = obj ? KILN_JSON_OBJECT : KILN_JSON_ARRAY;
  if (depth >= MAX_DEPTH) return fail(r, "nested deeper than %d", MAX_DEPTH);
  r->pos++;
  blanks(r);
  if (peek(r) == close) return r->pos++, true;
  int cap = 0;
  for (;;) {
    add_item(v, &cap);
    if (obj) {
      blanks(r);
      if (peek(r) != '"') return fail(r, "expected a key string");
      if (!(v->keys[v->n - 1] = string(r))) return false;
      blanks(r);
      if (peek(r) != ':') return fail(r, "expected ':'");
      r->pos++;
    }
    if (!value(r, &v->items[v->n - 1], depth + 1)) return false;
    blanks(r);
    if (peek(r) == close) return r->pos++, true;
    if (peek(r) != ',') return fail(r, "expected ',' or '%c'", close);
    r->pos++;
  }
}

static bool value(reader *r, kiln_json *v, int depth) {
  blanks(r);
  int c = peek(r);
  switch (c) {
  case '{':
  case '[': return container(r, v, depth);
  case '"': v->kind = KILN_JSON_STRING; return (v->string = string(r)) != NULL;
  case 't': v->kind = KILN_JSON_BOOL; v->number = 1; return literal(r, "true");
  case 'f': v->kind = KILN_JSON_BOOL; return literal(r, "false");
  case 'n': v->kind = KILN_JSON_NULL; return literal(r, "null");
  default:
    if (c == '-' || (c >= '0' && c <= '9')) {
      v->kind = KILN_JSON_NUMBER;
      return number(r, &v->number);
    }
    return fail(r, c < 0 ? "unexpected end" : "unexpected character");
  }
}

static void clear(kiln_json *v) {
  free(v->string);
  for (int i = 0; i < v->n; i++) {
    clear(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
}

void kiln_json_free(kiln_json *v) {
  if (!v) return;
  clear(v);
  free(v);
}

kiln_json *kiln_json_parse(const char *text, size_t len, char *why, size_t nwhy) {
  char scratch[8];
  reader r = {text, len, 0, why && nwhy ? why : scratch, why && nwhy ? nwhy : sizeof scratch};
  r.why[0] = 0;
  kiln_json *v = kiln_xcalloc(1, sizeof *v);
  bool ok = value(&r, v, 0);
  if (ok) {
    blanks(&r);
    if (r.pos < r.len) ok = fail(&r, "text after the value");
  }
  if (!ok) {
    kiln_json_free(v);
    return NULL;
  }
  return v;
}

const kiln_json *kiln_json_get(const kiln_json *obj, const char *key) {
  if (!obj || obj->kind != KILN_JSON_OBJECT) return NULL;
  for (int i = 0; i < obj->n; i++)
    if (!strcmp(obj->keys[i], key)) return &obj->items[i];
  return NULL;
}
