/* Word lists and word sets: the constant strings through which string ops hand their
 * attributes' words to kernels (rt/strings.h). Built once at compile time, read by every
 * kernel call, so both are indexed: a list finds word i, a set finds a word's position
 * through a hash table, where a scan of a 100 000-word vocabulary took milliseconds a
 * string. Being one C string (printable, no NUL inside), either is a plain constant of
 * the generated code. Numbers are w hex digits:
 *
 *   w (one hex digit), n, m   n words; m hash slots (a power of two, 0 in a list)
 *   a list: n offsets         where entry i starts, from the first entry
 *   a set: m slots            1 + where the entry hashed there starts, 0 for none
 *   entries                   the word's length and bytes; in a set, then its position
 *
 * A set holds one entry per distinct word (case-folded where it ignores case): the last
 * position of a repeated one, LabelEncoder's rule. Slots are FNV-1a hashes of the bytes,
 * probed linearly; m is at least twice n. */
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

static const uint8_t HEX[256] = {['1'] = 1, ['2'] = 2, ['3'] = 3, ['4'] = 4, ['5'] = 5, ['6'] = 6,
                                  ['7'] = 7, ['8'] = 8, ['9'] = 9, ['a'] = 10, ['b'] = 11,
                                  ['c'] = 12, ['d'] = 13, ['e'] = 14, ['f'] = 15};

static size_t get_hex(const char *at, int w) {
  size_t v = 0;
  for (int i = 0; i < w; i++) v = v << 4 | HEX[(unsigned char)at[i]];
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

/* FNV-1a: the same at compile time and in every kernel call */
static uint64_t hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
  return h;
}

char *kiln_rt_words_build(const char *const *words, int n, int kind) {
  word *w = malloc(sizeof(word) * (size_t)(n > 0 ? n : 1));
  char **folded = calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
  char *set = NULL;
  if (!w || !folded) goto done;
  size_t bytes = 0;
  for (int i = 0; i < n; i++) {
    w[i] = (word){words[i], strlen(words[i]), i};
    if (kind == KILN_WORDS_SET_FOLD) { /* folding keeps a word's length */
      if (!(folded[i] = malloc(w[i].len + 1))) goto done;
      kiln_rt_fold(words[i], folded[i]);
      w[i].s = folded[i];
    }
    bytes += w[i].len;
  }
  int count = n;
  size_t slots = 0;
  if (kind != KILN_WORDS_LIST) {
    if (n > 0) qsort(w, (size_t)n, sizeof *w, cmp_words);
    count = 0; /* of equal words the last in order, the highest position */
    for (int i = 0; i < n; i++)
      if (i + 1 == n || cmp_bytes(w[i].s, w[i].len, w[i + 1].s, w[i + 1].len)) w[count++] = w[i];
    for (slots = 2; slots < 2 * (size_t)count; slots *= 2) {
    }
  }
  size_t index = kind == KILN_WORDS_LIST ? (size_t)count : slots;
  size_t bound = bytes + index + 3 * (size_t)count + 3; /* in numbers: at most w digits each */
  int wd = hex_digits(bound * 16);
  if (!(set = malloc(1 + 3 * (size_t)wd + (size_t)wd * (index + 3 * (size_t)count) + bytes + 1)))
    goto done;
  put_hex(set, (size_t)wd, 1);
  put_hex(set + 1, (size_t)count, wd);
  put_hex(set + 1 + wd, slots, wd);
  char *table = set + 1 + 2 * wd, *entries = table + index * (size_t)wd, *at = entries;
  memset(table, '0', index * (size_t)wd);
  for (int i = 0; i < count; i++) {
    size_t off = (size_t)(at - entries);
    if (kind == KILN_WORDS_LIST) {
      put_hex(table + (size_t)i * (size_t)wd, off, wd);
    } else {
      size_t s = hash(w[i].s, w[i].len) & (slots - 1);
      while (get_hex(table + s * (size_t)wd, wd)) s = (s + 1) & (slots - 1);
      put_hex(table + s * (size_t)wd, off + 1, wd);
    }
    put_hex(at, w[i].len, wd);
    memcpy(at + wd, w[i].s, w[i].len);
    at += wd + w[i].len;
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
  int w;
  size_t n, slots;
  const char *table, *entries;
} header;

static bool read_header(const char *set, header *h) {
  if (!set || !*set) return false;
  h->w = (int)get_hex(set, 1);
  h->n = get_hex(set + 1, h->w);
  h->slots = get_hex(set + 1 + h->w, h->w);
  h->table = set + 1 + 2 * h->w;
  h->entries = h->table + (h->slots ? h->slots : h->n) * (size_t)h->w;
  return true;
}

/* The entry at off: its word, the length in *len. */
static const char *entry(const header *h, size_t off, size_t *len) {
  const char *e = h->entries + off;
  *len = get_hex(e, h->w);
  return e + h->w;
}

const char *kiln_rt_words_at(const char *set, int64_t i, size_t *len) {
  header h;
  if (!read_header(set, &h) || h.slots || i < 0 || (uint64_t)i >= h.n) return NULL;
  return entry(&h, get_hex(h.table + (size_t)i * (size_t)h.w, h.w), len);
}

int64_t kiln_rt_str_index(int64_t s, const char *set, int64_t fold) {
  const char *x = (const char *)(intptr_t)s;
  if (!x) x = "";
  size_t len = strlen(x);
  char small[256], *lx = NULL;
  header h;
  if (!read_header(set, &h) || !h.slots) return -1;
  if (fold) {
    lx = len < sizeof small ? small : malloc(len + 1);
    if (!lx) return -1;
    kiln_rt_fold(x, lx);
    x = lx;
  }
  int64_t found = -1;
  for (size_t at = hash(x, len) & (h.slots - 1);; at = (at + 1) & (h.slots - 1)) {
    size_t off = get_hex(h.table + at * (size_t)h.w, h.w), n;
    if (!off) break; /* an empty slot: not in the set (m > n, so one exists) */
    const char *w = entry(&h, off - 1, &n);
    if (n == len && !memcmp(w, x, len)) {
      found = (int64_t)get_hex(w + n, h.w);
      break;
    }
  }
  if (lx && lx != small) free(lx);
  return found;
}
