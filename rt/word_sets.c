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
 * A set holds one entry per distinct word (case-folded where it ignores case): as the words
 * go in in order, a repeated one takes its later position, LabelEncoder's rule. Slots are
 * FNV-1a hashes of the bytes, probed linearly; m is at least twice n. */
#include "rt/strings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* FNV-1a: the same at compile time and in every kernel call */
static uint64_t hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
  return h;
}

char *kiln_rt_words_build(const char *const *words, int n, int kind) {
  bool in_set = kind != KILN_WORDS_LIST, fold = kind == KILN_WORDS_SET_FOLD;
  size_t bytes = 0, slots = 0, count = 0, most = n > 0 ? (size_t)n : 0;
  for (size_t i = 0; i < most; i++) bytes += strlen(words[i]);
  if (in_set)
    for (slots = 2; slots < 2 * most; slots *= 2) {
    }
  size_t index = in_set ? slots : most;
  size_t bound = bytes + index + 3 * most + 3; /* in numbers: at most w digits each */
  int wd = hex_digits(bound * 16);
  char *set = malloc(1 + 3 * (size_t)wd + (size_t)wd * (index + 3 * most) + bytes + 1);
  char *folded = fold ? malloc(bytes + 1) : NULL; /* one word at a time */
  if (!set || (fold && !folded)) {
    free(set);
    free(folded);
    return NULL;
  }
  char *table = set + 1 + 2 * wd, *entries = table + index * (size_t)wd, *at = entries;
  memset(table, '0', index * (size_t)wd);
  for (size_t i = 0; i < most; i++) {
    const char *w = words[i];
    size_t len = strlen(w), off = (size_t)(at - entries), s = 0;
    if (fold) w = folded, kiln_rt_fold(words[i], folded); /* folding keeps a word's length */
    if (in_set) { /* a word already there takes this, its later position */
      size_t e = 0;
      for (s = hash(w, len) & (slots - 1); (e = get_hex(table + s * (size_t)wd, wd));
           s = (s + 1) & (slots - 1))
        if (get_hex(entries + e - 1, wd) == len && !memcmp(entries + e - 1 + wd, w, len)) break;
      if (e) {
        put_hex(entries + e - 1 + wd + len, i, wd);
        continue;
      }
    }
    put_hex(table + (in_set ? s : i) * (size_t)wd, in_set ? off + 1 : off, wd);
    put_hex(at, len, wd);
    memcpy(at + wd, w, len);
    at += wd + len;
    if (in_set) put_hex(at, i, wd), at += wd;
    count++;
  }
  *at = 0;
  put_hex(set, (size_t)wd, 1);
  put_hex(set + 1, count, wd);
  put_hex(set + 1 + wd, slots, wd);
  free(folded);
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
