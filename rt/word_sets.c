/* Word lists and word sets: the constant strings through which string ops hand their
 * attributes' words to kernels (rt/strings.h). Built once at compile time, read by every
 * kernel call, so both are indexed: a list finds word i, a set finds a word's position,
 * in O(log n) compares where a scan of a 100 000-word vocabulary took milliseconds a
 * string. Being one C string (printable, no NUL inside), either is a plain constant of
 * the generated code:
 *
 *   "<n>:<w>:"  n words, w hex digits a number
 *   n offsets   w hex digits each: where entry i starts, from the first entry
 *   entries     "<bytes>:<word>", and in a set its position (w hex digits) after the word
 *
 * A set's entries are sorted by their bytes (case-folded ones when the set ignores
 * case), one per distinct word: the last position of a repeated one, LabelEncoder's rule. */
#include "rt/strings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct word {
  const char *s;
  size_t len;
  int64_t pos;
} word;

static int hex_digits(size_t v) {
  int w = 1;
  while (v >>= 4) w++;
  return w;
}

static void put_hex(char *at, size_t v, int w) {
  for (int i = w - 1; i >= 0; i--, v >>= 4) at[i] = "0123456789abcdef"[v & 15];
}

static size_t get_hex(const char *at, int w) {
  size_t v = 0;
  for (int i = 0; i < w; i++) v = v * 16 + (size_t)(at[i] <= '9' ? at[i] - '0' : at[i] - 'a' + 10);
  return v;
}

/* By bytes, then length: the order lookups search in. */
static int cmp_bytes(const char *a, size_t na, const char *b, size_t nb) {
  int c = memcmp(a, b, na < nb ? na : nb);
  return c ? c : (na > nb) - (na < nb);
}

static int cmp_words(const void *pa, const void *pb) {
  const word *a = pa, *b = pb;
  int c = cmp_bytes(a->s, a->len, b->s, b->len);
  return c ? c : (a->pos > b->pos) - (a->pos < b->pos);
}

char *kiln_rt_words_build(const char *const *words, int n, int kind) {
  word *w = malloc(sizeof(word) * (size_t)(n > 0 ? n : 1));
  char **folded = calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
  char *set = NULL;
  if (!w || !folded) goto done;
  size_t bound = (size_t)n + 1; /* what the entries take, at most */
  for (int i = 0; i < n; i++) {
    w[i] = (word){words[i], strlen(words[i]), i};
    if (kind == KILN_WORDS_SET_FOLD) { /* folding keeps a word's length */
      if (!(folded[i] = malloc(w[i].len + 1))) goto done;
      kiln_rt_fold(words[i], folded[i]);
      w[i].s = folded[i];
    }
    bound += w[i].len + 24 + 16;
  }
  int m = n;
  if (kind != KILN_WORDS_LIST && n > 0) {
    qsort(w, (size_t)n, sizeof *w, cmp_words);
    m = 0; /* of equal words the last in order, the highest position */
    for (int i = 0; i < n; i++)
      if (i + 1 == n || cmp_bytes(w[i].s, w[i].len, w[i + 1].s, w[i + 1].len)) w[m++] = w[i];
  }
  int wd = hex_digits(bound);
  if (!(set = malloc(48 + (size_t)m * (size_t)wd + bound))) goto done;
  char *at = set + sprintf(set, "%d:%d:", m, wd), *offs = at, *entries = at + (size_t)m * (size_t)wd;
  at = entries;
  for (int i = 0; i < m; i++) {
    put_hex(offs + (size_t)i * (size_t)wd, (size_t)(at - entries), wd);
    at += sprintf(at, "%zu:", w[i].len);
    memcpy(at, w[i].s, w[i].len);
    at += w[i].len;
    if (kind != KILN_WORDS_LIST) put_hex(at, (size_t)w[i].pos, wd), at += wd;
  }
  *at = 0;
done:
  for (int i = 0; folded && i < n; i++) free(folded[i]);
  free(folded);
  free(w);
  return set;
}

typedef struct header {
  size_t n;
  int w;
  const char *offs, *entries;
} header;

static void read_header(const char *set, header *h) {
  char *e;
  memset(h, 0, sizeof *h);
  if (!set || !*set) return;
  h->n = strtoull(set, &e, 10);
  h->w = (int)strtol(e + 1, &e, 10);
  h->offs = e + 1;
  h->entries = h->offs + h->n * (size_t)h->w;
}

/* Entry i's word, its length in *len. */
static const char *entry(const header *h, size_t i, size_t *len) {
  char *colon;
  *len = strtoull(h->entries + get_hex(h->offs + i * (size_t)h->w, h->w), &colon, 10);
  return colon + 1;
}

const char *kiln_rt_words_at(const char *set, int64_t i, size_t *len) {
  header h;
  read_header(set, &h);
  if (i < 0 || (uint64_t)i >= h.n) return NULL;
  return entry(&h, (size_t)i, len);
}

int64_t kiln_rt_str_index(int64_t s, const char *set, int64_t fold) {
  const char *x = (const char *)(intptr_t)s;
  if (!x) x = "";
  size_t len = strlen(x);
  char small[256], *lx = NULL;
  if (fold) {
    lx = len < sizeof small ? small : malloc(len + 1);
    if (!lx) return -1;
    kiln_rt_fold(x, lx);
    x = lx;
  }
  header h;
  read_header(set, &h);
  int64_t found = -1;
  size_t lo = 0, hi = h.n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2, n;
    const char *w = entry(&h, mid, &n);
    int c = cmp_bytes(x, len, w, n);
    if (!c) {
      found = (int64_t)get_hex(w + n, h.w);
      break;
    }
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  if (lx && lx != small) free(lx);
  return found;
}
