/* String tensors at run time (rt/strings.h): the run's heap and the string functions
 * kernels call. Each function takes NULL as "" and never fails: a string it cannot
 * allocate is "" and marks the heap failed, which fails the run once its kernels end. */
#include "rt/strings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The heap: chunks strings are cut from by a bump of `used`, so that a run making many
 * short strings does not call malloc for each. A string too long for a chunk gets one of its
 * own, pushed full. */
#define CHUNK 65536

typedef struct block {
  struct block *next;
  size_t cap, used; /* used: atomic, may pass cap (the chunk is then full) */
  char s[];
} block;

static const char *str(int64_t v) {
  const char *s = (const char *)(intptr_t)v;
  return s ? s : "";
}

static int64_t val(const char *s) { return (int64_t)(intptr_t)s; }

/* n bytes and a NUL in h, or NULL (h failed). Lock-free: kernels run on several threads. */
static char *alloc(kiln_rt_strings *h, size_t n) {
  if (n >= SIZE_MAX - sizeof(block) - CHUNK) {
    __atomic_store_n(&h->failed, 1, __ATOMIC_RELAXED);
    return NULL;
  }
  size_t need = n + 1;
  for (;;) {
    block *head = __atomic_load_n((block **)&h->head, __ATOMIC_ACQUIRE);
    if (head && need <= CHUNK / 4) {
      size_t at = __atomic_fetch_add(&head->used, need, __ATOMIC_RELAXED);
      if (at + need <= head->cap) {
        head->s[at + n] = 0;
        return head->s + at;
      }
    }
    size_t cap = need > CHUNK / 4 ? need : CHUNK;
    block *b = malloc(sizeof(block) + cap);
    if (!b) {
      __atomic_store_n(&h->failed, 1, __ATOMIC_RELAXED);
      return NULL;
    }
    b->cap = cap;
    b->used = need > CHUNK / 4 ? cap : need; /* a long string's block is full at once */
    b->next = head;
    if (__atomic_compare_exchange_n((block **)&h->head, &b->next, b, false, __ATOMIC_RELEASE,
                                    __ATOMIC_RELAXED)) {
      b->s[n] = 0;
      return b->s;
    }
    free(b); /* another thread pushed a chunk first: cut from it */
  }
}

void kiln_rt_strings_free(kiln_rt_strings *h) {
  block *b = h->head;
  while (b) {
    block *next = b->next;
    free(b);
    b = next;
  }
  h->head = NULL;
  h->failed = 0;
}

void kiln_rt_strings_clear(char **out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = NULL;
}

int kiln_rt_strings_end(kiln_rt_strings *h, int st, void *const *outputs, const int64_t *n,
                        int64_t noutputs, int64_t *which) {
  enum { OUT_OF_MEMORY = 7 }; /* kiln.h's KILN_ERR_OUT_OF_MEMORY (runtime/api.c asserts it) */
  *which = -1;
  if (!st && h->failed) st = OUT_OF_MEMORY;
  int64_t owned = 0; /* outputs [0, owned) hold the caller's copies */
  while (!st && owned < noutputs) {
    if (n[owned] > 0 && !kiln_rt_strings_own(outputs[owned], n[owned])) *which = owned, st = OUT_OF_MEMORY;
    else owned++;
  }
  for (int64_t i = 0; st && i < noutputs; i++) { /* failed: no element points anywhere */
    for (int64_t e = 0; i < owned && e < n[i]; e++) free(((char **)outputs[i])[e]);
    if (n[i] > 0) kiln_rt_strings_clear(outputs[i], n[i]);
  }
  kiln_rt_strings_free(h);
  return st;
}

bool kiln_rt_strings_own(char **out, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const char *s = out[i] ? out[i] : "";
    size_t len = strlen(s);
    char *c = malloc(len + 1);
    if (!c) {
      for (int64_t j = 0; j < i; j++) free(out[j]);
      kiln_rt_strings_clear(out, n);
      return false;
    }
    memcpy(c, s, len + 1);
    out[i] = c;
  }
  return true;
}

int64_t kiln_rt_str_copy(kiln_rt_strings *h, const char *s, size_t n) {
  char *r = alloc(h, n);
  if (r) memcpy(r, s, n);
  return val(r);
}

int64_t kiln_rt_str_concat(kiln_rt_strings *h, int64_t a, int64_t b) {
  const char *x = str(a), *y = str(b);
  size_t nx = strlen(x), ny = strlen(y);
  char *r = alloc(h, nx + ny);
  if (!r) return 0;
  memcpy(r, x, nx);
  memcpy(r + nx, y, ny);
  return val(r);
}

/* ---- case ---------------------------------------------------------------------------- */

uint32_t kiln_rt_utf8_next(const char **s) {
  const unsigned char *p = (const unsigned char *)*s;
  int n = p[0] < 0x80 ? 0 : (p[0] & 0xE0) == 0xC0 ? 1 : (p[0] & 0xF0) == 0xE0 ? 2
                                                          : (p[0] & 0xF8) == 0xF0 ? 3 : -1;
  if (n <= 0) {
    *s = (const char *)p + 1;
    return n == 0 ? p[0] : 0x80000000u | p[0]; /* a stray byte, kept as it is */
  }
  uint32_t c = p[0] & (0x3F >> n);
  for (int i = 1; i <= n; i++) {
    if ((p[i] & 0xC0) != 0x80) {
      *s = (const char *)p + 1;
      return 0x80000000u | p[0];
    }
    c = c << 6 | (p[i] & 0x3F);
  }
  *s = (const char *)p + n + 1;
  return c;
}

static int encode(uint32_t c, char *out) {
  if (c & 0x80000000u) return out[0] = (char)(c & 0xFF), 1;
  if (c < 0x80) return out[0] = (char)c, 1;
  if (c < 0x800) return out[0] = (char)(0xC0 | c >> 6), out[1] = (char)(0x80 | (c & 0x3F)), 2;
  if (c < 0x10000) {
    out[0] = (char)(0xE0 | c >> 12), out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[2] = (char)(0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | c >> 18), out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((c >> 6) & 0x3F)), out[3] = (char)(0x80 | (c & 0x3F));
  return 4;
}

static uint32_t to_upper(uint32_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7) ||
      (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) || (c >= 0x430 && c <= 0x44F))
    return c - 32;
  if (c == 0xFF) return 0x178;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

static uint32_t to_lower(uint32_t c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
      (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || (c >= 0x410 && c <= 0x42F))
    return c + 32;
  if (c == 0x178) return 0xFF;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

/* s with its case mapped, into out (4 bytes a code point at most); returns the length */
static size_t map_case(const char *s, bool upper, char *out) {
  size_t n = 0;
  while (*s) {
    uint32_t c = kiln_rt_utf8_next(&s);
    n += (size_t)encode(upper ? to_upper(c) : to_lower(c), out + n);
  }
  return n;
}

int64_t kiln_rt_str_case(kiln_rt_strings *h, int64_t s, int64_t upper) {
  const char *x = str(s);
  size_t len = strlen(x);
  /* a mapped code point takes as many bytes as the original (those mapped are 1 or 2) */
  char *r = alloc(h, len);
  if (!r) return 0;
  r[map_case(x, upper != 0, r)] = 0;
  return val(r);
}

size_t kiln_rt_fold(const char *s, char *out) {
  size_t n = map_case(s, false, out);
  out[n] = 0;
  return n;
}

int8_t kiln_rt_str_eq(int64_t a, int64_t b) { return strcmp(str(a), str(b)) == 0; }

int64_t kiln_rt_str_word(kiln_rt_strings *h, int64_t i, const char *set) {
  size_t n;
  const char *w = kiln_rt_words_at(set, i, &n);
  return w ? kiln_rt_str_copy(h, w, n) : 0; /* NULL reads as "" */
}

/* ---- numbers ------------------------------------------------------------------------- */

/* ONNX's names of the special values, in any case, with an optional sign for INF. */
static bool special(const char *s, double *v) {
  const char *p = s;
  while (*p == ' ' || *p == '\t') p++;
  double sign = 1;
  if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
  if (strncasecmp(p, "inf", 3) == 0 && (!p[3] || strcasecmp(p + 3, "inity") == 0)) {
    *v = sign * INFINITY;
    return true;
  }
  if (strcasecmp(p, "nan") == 0) {
    *v = NAN;
    return true;
  }
  return false;
}

double kiln_rt_str_to_f64(int64_t s) {
  const char *x = str(s);
  double v;
  if (special(x, &v)) return v;
  return strtod(x, NULL); /* no number: 0 */
}

int64_t kiln_rt_str_to_i64(int64_t s) {
  const char *x = str(s);
  char *end;
  long long i = strtoll(x, &end, 10);
  if (end != x && *end == 0) return i;
  double v = kiln_rt_str_to_f64(s); /* "100.5" -> 100, as ONNX allows */
  if (isnan(v)) return 0;
  return v >= 9.2233720368547758e18 ? INT64_MAX : v <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)v;
}

static int64_t copy_out(kiln_rt_strings *h, const char *buf) {
  size_t n = strlen(buf);
  char *r = alloc(h, n);
  if (!r) return 0;
  memcpy(r, buf, n);
  return val(r);
}

int64_t kiln_rt_str_from_f64(kiln_rt_strings *h, double v, int64_t single) {
  char buf[40];
  if (isnan(v)) return copy_out(h, "NaN");
  if (isinf(v)) return copy_out(h, v > 0 ? "INF" : "-INF");
  for (int p = 1; p <= 17; p++) { /* the fewest digits that read back as v */
    snprintf(buf, sizeof buf, "%.*g", p, v);
    double back = strtod(buf, NULL);
    if (single ? (float)back == (float)v : back == v) break;
  }
  return copy_out(h, buf);
}

int64_t kiln_rt_str_from_i64(kiln_rt_strings *h, int64_t v, int64_t is_unsigned) {
  char buf[24];
  if (is_unsigned) snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
  else snprintf(buf, sizeof buf, "%lld", (long long)v);
  return copy_out(h, buf);
}
