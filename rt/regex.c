/* RegexFullMatch's matcher (rt/strings.h): RE2's syntax, the parts of it a full match
 * needs, compiled to a program for a Pike VM (Thompson's simulation: every thread advances
 * one code point at a time), so a match takes time linear in the string whatever the
 * pattern, as RE2 promises; no backtracking. Parsed, the pattern is a tree (so counted
 * repeats can be emitted again), then instructions. The pattern is compiled at each call:
 * patterns are short, and the compiler checks one with the same code (kiln_rt_regex_check)
 * before any kernel runs.
 *
 * Taken: literals (UTF-8), `.`, classes `[...]` (ranges, negation, escapes, [:alpha:] and
 * kin), \d \w \s \D \W \S, \b \B, ^ $ \A \z, groups `(...)` `(?:...)` `(?P<name>...)`,
 * `|`, `* + ? {n} {n,} {n,m}` (lazy forms too), flags `(?i)` `(?s)` and `(?i:...)`;
 * escapes \n \t \r \f \v \a \xHH \x{H...} and escaped punctuation. Refused: \p classes,
 * backreferences, multi-line mode. Case folding (i) is ASCII's. */
#include "rt/strings.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PROG 20000  /* instructions: counted repeats multiply a pattern */
#define MAX_DEPTH 200   /* nested groups and repeats */
#define NONE 0xFFFFFFFFu
#define TOP 0xFFFFFFFEu /* the last code point a complement covers: stray bytes too */

typedef struct range {
  uint32_t lo, hi;
} range;

enum { N_EMPTY, N_CHAR, N_ANY, N_CLASS, N_ASSERT, N_CAT, N_ALT, N_REP };
enum { A_BEGIN, A_END, A_WORD, A_NOT_WORD };

typedef struct node {
  int kind;
  uint32_t c;     /* N_CHAR: the code point; N_ASSERT: A_*; N_ANY: dot matches \n */
  bool fold;      /* N_CHAR, N_CLASS: ASCII case folded */
  int a, b;       /* N_CAT, N_ALT: the parts; N_REP: a the part; N_CLASS: a its first range */
  int min, max;   /* N_REP: max -1 is unbounded; N_CLASS: min its range count */
} node;

enum { I_CHAR, I_ANY, I_CLASS, I_ASSERT, I_SPLIT, I_JMP, I_MATCH };

typedef struct inst {
  int op;
  uint32_t c;
  bool fold;
  int x, y; /* I_SPLIT, I_JMP: targets; I_CLASS: first range, count */
} inst;

typedef struct re {
  const char *p;    /* the rest of the pattern */
  const char *err;
  node *nodes;
  int nnodes, cap;
  range *ranges;
  int nranges, rcap;
  inst *prog;
  int nprog, pcap;
  bool fold, dotall;
  int depth;
} re;

static node mk(int kind, uint32_t c, bool fold, int a, int b, int min, int max) {
  return (node){kind, c, fold, a, b, min, max};
}

/* Room for one more of n elements of size bytes in the array whose pointer is at arrp (cap
 * allocated); false, with r->err, when memory runs out or an error came before. The pointer
 * is read and written as bytes, whatever its type. */
static bool room(re *r, void *arrp, int n, int *cap, size_t size) {
  if (r->err) return false;
  if (n < *cap) return true;
  int c = *cap ? 2 * *cap : 32;
  void *old, *m;
  memcpy(&old, arrp, sizeof old);
  if (!(m = realloc(old, size * (size_t)c))) return r->err = "out of memory", false;
  memcpy(arrp, &m, sizeof m);
  *cap = c;
  return true;
}
#define ROOM(r, arr, n, cap) room(r, &(arr), n, &(cap), sizeof *(arr))

static int add_node(re *r, node n) {
  if (!ROOM(r, r->nodes, r->nnodes, r->cap)) return 0;
  r->nodes[r->nnodes] = n;
  return r->nnodes++;
}

static void add_range(re *r, uint32_t lo, uint32_t hi) {
  if (ROOM(r, r->ranges, r->nranges, r->rcap)) r->ranges[r->nranges++] = (range){lo, hi};
}

/* the next code point of the pattern, decoded as strings are (rt/strings.c) */
static uint32_t next_cp(re *r) { return kiln_rt_utf8_next(&r->p); }

/* the ranges of \d \w \s (or their complements when neg) */
static void perl_class(re *r, char k, bool neg) {
  static const range d[] = {{'0', '9'}}, w[] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}},
                     s[] = {{'\t', '\n'}, {'\f', '\r'}, {' ', ' '}};
  const range *t = k == 'd' ? d : k == 'w' ? w : s;
  int n = k == 'd' ? 1 : k == 'w' ? 4 : 3;
  if (!neg) {
    for (int i = 0; i < n; i++) add_range(r, t[i].lo, t[i].hi);
    return;
  }
  uint32_t lo = 0;
  for (int i = 0; i < n; i++) {
    if (t[i].lo > lo) add_range(r, lo, t[i].lo - 1);
    lo = t[i].hi + 1;
  }
  add_range(r, lo, TOP);
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* After a backslash: a code point in *c, or a class (its ranges added, *cls true), or an
 * assertion (*as >= 0, outside classes). */
static void escape(re *r, bool in_class, uint32_t *c, bool *cls, int *as) {
  *cls = false, *as = -1;
  char e = *r->p;
  if (!e) {
    r->err = "a trailing backslash";
    return;
  }
  r->p++;
  switch (e) {
  case 'd': case 'w': case 's': perl_class(r, e, false), *cls = true; return;
  case 'D': case 'W': case 'S': perl_class(r, (char)(e + 32), true), *cls = true; return;
  case 'n': *c = '\n'; return;
  case 't': *c = '\t'; return;
  case 'r': *c = '\r'; return;
  case 'f': *c = '\f'; return;
  case 'v': *c = '\v'; return;
  case 'a': *c = 7; return;
  case 'x': {
    uint32_t v = 0;
    if (*r->p == '{') {
      int n = 0;
      for (r->p++; hexval(*r->p) >= 0 && n < 7; r->p++, n++) v = v << 4 | (uint32_t)hexval(*r->p);
      if (*r->p != '}' || !n || v > 0x10FFFF) {
        r->err = "a bad \\x{...} escape";
        return;
      }
      r->p++;
    } else {
      if (hexval(r->p[0]) < 0 || hexval(r->p[1]) < 0) {
        r->err = "a bad \\x escape";
        return;
      }
      v = (uint32_t)(hexval(r->p[0]) << 4 | hexval(r->p[1]));
      r->p += 2;
    }
    *c = v;
    return;
  }
  default: break;
  }
  if (!in_class && (e == 'b' || e == 'B' || e == 'A' || e == 'z')) {
    *as = e == 'b' ? A_WORD : e == 'B' ? A_NOT_WORD : e == 'A' ? A_BEGIN : A_END;
    return;
  }
  if ((unsigned char)e < 0x80 && !((e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'))) {
    *c = (uint32_t)e; /* escaped punctuation */
    return;
  }
  r->err = "an escape kiln does not know (\\p classes and backreferences are not supported)";
}

static int parse_alt(re *r);

static int parse_class(re *r) {
  int first = r->nranges;
  bool neg = *r->p == '^';
  if (neg) r->p++;
  bool start = true;
  while (!r->err && (*r->p != ']' || start)) {
    start = false;
    if (!*r->p) return r->err = "an unclosed [", 0;
    if (r->p[0] == '[' && r->p[1] == ':') {
      static const struct { const char *name; const char *ranges; } posix[] = {
          {"alpha:]", "AZaz"}, {"digit:]", "09"}, {"alnum:]", "09AZaz"}, {"upper:]", "AZ"},
          {"lower:]", "az"}, {"space:]", "\t\r  "}, {"xdigit:]", "09AFaf"}, {"word:]", "09AZ__az"},
          {"punct:]", "!/:@[`{~"}, {"blank:]", "\t\t  "}, {"cntrl:]", "\x01\x1f\x7f\x7f"},
          {"print:]", " ~"}, {"graph:]", "!~"}};
      size_t i = 0;
      for (; i < sizeof posix / sizeof posix[0]; i++)
        if (!strncmp(r->p + 2, posix[i].name, strlen(posix[i].name))) break;
      if (i == sizeof posix / sizeof posix[0]) return r->err = "an unknown [:class:]", 0;
      for (const char *q = posix[i].ranges; *q; q += 2) add_range(r, (unsigned char)q[0], (unsigned char)q[1]);
      if (!strcmp(posix[i].name, "space:]")) add_range(r, '\v', '\f');
      r->p += 2 + strlen(posix[i].name);
      continue;
    }
    uint32_t lo;
    bool cls = false;
    int as;
    if (*r->p == '\\') {
      r->p++;
      escape(r, true, &lo, &cls, &as);
      if (cls || r->err) continue;
    } else {
      lo = next_cp(r);
    }
    uint32_t hi = lo;
    if (r->p[0] == '-' && r->p[1] && r->p[1] != ']') {
      r->p++;
      if (*r->p == '\\') {
        r->p++;
        escape(r, true, &hi, &cls, &as);
        if (cls) return r->err = "a class as a range's end", 0;
      } else {
        hi = next_cp(r);
      }
      if (hi < lo) return r->err = "a range whose end is before its start", 0;
    }
    add_range(r, lo, hi);
  }
  if (r->err) return 0;
  r->p++;
  if (neg) { /* the complement of the ranges added, sorted first */
    int n = r->nranges - first;
    for (int i = first + 1; i < r->nranges; i++)
      for (int j = i; j > first && r->ranges[j].lo < r->ranges[j - 1].lo; j--) {
        range t = r->ranges[j];
        r->ranges[j] = r->ranges[j - 1], r->ranges[j - 1] = t;
      }
    uint32_t lo = 0;
    int end = r->nranges;
    for (int i = first; i < end; i++) {
      if (r->ranges[i].lo > lo) add_range(r, lo, r->ranges[i].lo - 1);
      if (r->ranges[i].hi + 1 > lo) lo = r->ranges[i].hi + 1;
    }
    if (lo <= TOP) add_range(r, lo, TOP);
    if (r->err) return 0;
    memmove(&r->ranges[first], &r->ranges[end], sizeof(range) * (size_t)(r->nranges - end));
    r->nranges -= n;
  }
  return add_node(r, mk(N_CLASS, 0, r->fold, first, 0, r->nranges - first, 0));
}

static int parse_atom(re *r) {
  char ch = *r->p;
  if (ch == '(') {
    r->p++;
    bool fold = r->fold, dotall = r->dotall, scoped = false;
    if (*r->p == '?') {
      r->p++;
      if (*r->p == 'P' && r->p[1] == '<') { /* a named group: the name is skipped */
        const char *end = strchr(r->p, '>');
        if (!end) return r->err = "an unclosed group name", 0;
        r->p = end + 1;
      } else {
        bool on = true;
        for (; *r->p && *r->p != ')' && *r->p != ':'; r->p++) {
          if (*r->p == '-') on = false;
          else if (*r->p == 'i') r->fold = on;
          else if (*r->p == 's') r->dotall = on;
          else return r->err = "a flag kiln does not know (i and s are supported)", 0;
        }
        if (*r->p == ')') { /* (?i): for the rest of the enclosing group */
          r->p++;
          return add_node(r, mk(N_EMPTY, 0, false, 0, 0, 0, 0));
        }
        if (*r->p != ':') return r->err = "an unclosed group", 0;
        r->p++;
        scoped = true;
      }
    }
    int n = parse_alt(r);
    if (r->err) return 0;
    if (*r->p != ')') return r->err = "an unclosed (", 0;
    r->p++;
    if (scoped) r->fold = fold, r->dotall = dotall;
    return n;
  }
  if (ch == '[') {
    r->p++;
    return parse_class(r);
  }
  if (ch == '.') {
    r->p++;
    return add_node(r, mk(N_ANY, r->dotall, false, 0, 0, 0, 0));
  }
  if (ch == '^' || ch == '$') {
    r->p++;
    return add_node(r, mk(N_ASSERT, ch == '^' ? A_BEGIN : A_END, false, 0, 0, 0, 0));
  }
  if (ch == '\\') {
    r->p++;
    uint32_t c = 0;
    bool cls;
    int as, first = r->nranges;
    escape(r, false, &c, &cls, &as);
    if (r->err) return 0;
    if (cls) return add_node(r, mk(N_CLASS, 0, false, first, 0, r->nranges - first, 0));
    if (as >= 0) return add_node(r, mk(N_ASSERT, (uint32_t)as, false, 0, 0, 0, 0));
    return add_node(r, mk(N_CHAR, c, r->fold, 0, 0, 0, 0));
  }
  if (ch == '*' || ch == '+' || ch == '?') return r->err = "a repeat with nothing before it", 0;
  return add_node(r, mk(N_CHAR, next_cp(r), r->fold, 0, 0, 0, 0));
}

/* {n}, {n,}, {n,m}: false when the brace starts no repeat (it is then a literal, as RE2) */
static bool counts(re *r, int *min, int *max) {
  const char *p = r->p + 1;
  long lo = 0, hi;
  if (*p < '0' || *p > '9') return false;
  for (; *p >= '0' && *p <= '9'; p++) lo = lo * 10 + (*p - '0') > 100000 ? 100001 : lo * 10 + (*p - '0');
  hi = lo;
  if (*p == ',') {
    p++;
    hi = -1;
    if (*p >= '0' && *p <= '9')
      for (hi = 0; *p >= '0' && *p <= '9'; p++) hi = hi * 10 + (*p - '0') > 100000 ? 100001 : hi * 10 + (*p - '0');
  }
  if (*p != '}') return false;
  r->p = p + 1;
  *min = (int)lo, *max = (int)hi;
  return true;
}

static int parse_repeat(re *r) {
  bool group = *r->p == '('; /* (a*)* repeats a group, a** is an error */
  int a = parse_atom(r);
  while (!r->err) {
    int min, max;
    char ch = *r->p;
    if (ch == '*') min = 0, max = -1, r->p++;
    else if (ch == '+') min = 1, max = -1, r->p++;
    else if (ch == '?') min = 0, max = 1, r->p++;
    else if (ch != '{' || !counts(r, &min, &max)) break;
    if (min > 1000 || max > 1000 || (max >= 0 && max < min))
      return r->err = "a bad repeat count (at most 1000)", 0;
    if (*r->p == '?') r->p++; /* lazy: the same matches in a full match */
    if (r->nodes[a].kind == N_REP && !group) return r->err = "a repeat of a repeat (such as a**)", 0;
    a = add_node(r, mk(N_REP, 0, false, a, 0, min, max));
    group = false;
  }
  return a;
}

static int parse_cat(re *r) {
  int a = -1;
  while (!r->err && *r->p && *r->p != '|' && *r->p != ')') {
    int b = parse_repeat(r);
    a = a < 0 ? b : add_node(r, mk(N_CAT, 0, false, a, b, 0, 0));
  }
  return a < 0 ? add_node(r, mk(N_EMPTY, 0, false, 0, 0, 0, 0)) : a;
}

static int parse_alt(re *r) {
  if (++r->depth > MAX_DEPTH) return r->err = "groups nested too deeply", 0;
  bool fold = r->fold, dotall = r->dotall; /* (?i) lasts to the group's end */
  int a = parse_cat(r);
  while (!r->err && *r->p == '|') {
    r->p++;
    int b = parse_cat(r);
    a = add_node(r, mk(N_ALT, 0, false, a, b, 0, 0));
  }
  r->fold = fold, r->dotall = dotall;
  r->depth--;
  return a;
}

static int emit(re *r, inst i) {
  if (r->err) return 0;
  if (r->nprog >= MAX_PROG) return r->err = "the pattern is too large (its counted repeats)", 0;
  if (!ROOM(r, r->prog, r->nprog, r->pcap)) return 0;
  r->prog[r->nprog] = i;
  return r->nprog++;
}

static void gen(re *r, int id, int depth) {
  if (r->err) return;
  if (depth > 4 * MAX_DEPTH + 64) { /* groups, repeats and alternatives nest this deep */
    r->err = "the pattern nests too deeply";
    return;
  }
  node n = r->nodes[id];
  switch (n.kind) {
  case N_EMPTY: return;
  case N_CHAR: emit(r, (inst){I_CHAR, n.c, n.fold, 0, 0}); return;
  case N_ANY: emit(r, (inst){I_ANY, n.c, false, 0, 0}); return;
  case N_CLASS: emit(r, (inst){I_CLASS, 0, n.fold, n.a, n.min}); return;
  case N_ASSERT: emit(r, (inst){I_ASSERT, n.c, false, 0, 0}); return;
  case N_CAT: { /* a left-deep chain as long as the pattern: walked, not recursed */
    int len = 0, *rights = NULL, cap = 0;
    for (; r->nodes[id].kind == N_CAT; id = r->nodes[id].a) {
      if (!ROOM(r, rights, len, cap)) break;
      rights[len++] = r->nodes[id].b;
    }
    gen(r, id, depth + 1);
    while (len > 0 && !r->err) gen(r, rights[--len], depth + 1);
    free(rights);
    return;
  }
  case N_ALT: { /* a|b|c, a left-deep chain: split a, rest; a; jmp end; rest: ... */
    int len = 0, *alts = NULL, cap = 0, *jmps = NULL, jcap = 0, njmps = 0;
    for (; r->nodes[id].kind == N_ALT; id = r->nodes[id].a) {
      if (!ROOM(r, alts, len, cap)) break;
      alts[len++] = r->nodes[id].b;
    }
    if (ROOM(r, alts, len, cap)) alts[len++] = id; /* the first */
    for (int i = len - 1; i > 0 && !r->err; i--) {
      int split = emit(r, (inst){I_SPLIT, 0, false, 0, 0});
      if (r->err) break;
      r->prog[split].x = r->nprog;
      gen(r, alts[i], depth + 1);
      int jmp = emit(r, (inst){I_JMP, 0, false, 0, 0});
      if (!ROOM(r, jmps, njmps, jcap)) break;
      jmps[njmps++] = jmp;
      r->prog[split].y = r->nprog;
    }
    if (!r->err) gen(r, alts[0], depth + 1);
    for (int i = 0; i < njmps && !r->err; i++) r->prog[jmps[i]].x = r->nprog;
    free(alts);
    free(jmps);
    return;
  }
  case N_REP: {
    for (int i = 0; i < n.min && !r->err; i++) gen(r, n.a, depth + 1);
    if (n.max < 0) { /* L: split body, out; body; jmp L */
      int split = emit(r, (inst){I_SPLIT, 0, false, 0, 0});
      if (r->err) return;
      r->prog[split].x = r->nprog;
      gen(r, n.a, depth + 1);
      emit(r, (inst){I_JMP, 0, false, split, 0});
      if (!r->err) r->prog[split].y = r->nprog;
      return;
    }
    int first = r->nprog, nopt = n.max - n.min;
    for (int i = 0; i < nopt && !r->err; i++) { /* split body, end; body; ... */
      int split = emit(r, (inst){I_SPLIT, 0, false, 0, -1});
      if (r->err) return;
      r->prog[split].x = r->nprog;
      gen(r, n.a, depth + 1);
    }
    for (int i = first; i < r->nprog && !r->err; i++)
      if (r->prog[i].op == I_SPLIT && r->prog[i].y == -1) r->prog[i].y = r->nprog;
    return;
  }
  }
}

static void re_free(re *r) {
  free(r->nodes);
  free(r->ranges);
  free(r->prog);
}

static const char *compile(const char *pattern, re *r) {
  memset(r, 0, sizeof *r);
  r->p = pattern;
  int root = parse_alt(r);
  if (!r->err && *r->p) r->err = *r->p == ')' ? "an unmatched )" : "a character out of place";
  if (!r->err) gen(r, root, 0);
  emit(r, (inst){I_MATCH, 0, false, 0, 0});
  return r->err;
}

const char *kiln_rt_regex_check(const char *pattern) {
  re r;
  const char *err = compile(pattern, &r);
  re_free(&r);
  return err;
}

/* ---- the Pike VM ------------------------------------------------------------------------ */

static bool is_word(uint32_t c) {
  return c != NONE && ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_');
}

static uint32_t lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static bool in_class(const re *r, const inst *i, uint32_t c) {
  for (int k = 0; k < i->y; k++) {
    const range *g = &r->ranges[i->x + k];
    if (c >= g->lo && c <= g->hi) return true;
    if (i->fold) {
      uint32_t l = lower(c), u = c >= 'a' && c <= 'z' ? c - 32 : c;
      if ((l >= g->lo && l <= g->hi) || (u >= g->lo && u <= g->hi)) return true;
    }
  }
  return false;
}

typedef struct vm {
  const re *r;
  int *list[2], n[2];
  unsigned *mark;  /* the step at which each pc was last added */
  int *stack;
} vm;

/* pc and what it reaches without consuming, at the point between prev and next */
static void add(vm *v, int which, int pc, unsigned step, uint32_t prev, uint32_t next) {
  int sp = 0;
  v->stack[sp++] = pc;
  while (sp) {
    pc = v->stack[--sp];
    if (v->mark[pc] == step) continue;
    v->mark[pc] = step;
    const inst *i = &v->r->prog[pc];
    switch (i->op) {
    case I_JMP: v->stack[sp++] = i->x; break;
    case I_SPLIT: v->stack[sp++] = i->y, v->stack[sp++] = i->x; break;
    case I_ASSERT: {
      bool ok = i->c == A_BEGIN ? prev == NONE : i->c == A_END ? next == NONE
                : (is_word(prev) != is_word(next)) == (i->c == A_WORD);
      if (ok) v->stack[sp++] = pc + 1;
      break;
    }
    default: v->list[which][v->n[which]++] = pc;
    }
  }
}

int8_t kiln_rt_str_match(kiln_rt_strings *h, int64_t sv, const char *pattern) {
  const char *s = (const char *)(intptr_t)sv;
  if (!s) s = "";
  re r;
  if (compile(pattern, &r)) { /* the compiler checked it: only memory can fail here */
    if (!kiln_rt_regex_check(pattern) || !strcmp(r.err, "out of memory"))
      __atomic_store_n(&h->failed, 1, __ATOMIC_RELAXED);
    re_free(&r);
    return 0;
  }
  size_t len = strlen(s);
  uint32_t *cp = malloc(sizeof *cp * (len + 1));
  vm v = {&r, {malloc(sizeof(int) * (size_t)r.nprog), malloc(sizeof(int) * (size_t)r.nprog)}, {0, 0},
          calloc((size_t)r.nprog, sizeof(unsigned)), malloc(sizeof(int) * 2 * (size_t)r.nprog + 2)};
  int8_t matched = 0;
  if (!(cp && v.list[0] && v.list[1] && v.mark && v.stack))
    __atomic_store_n(&h->failed, 1, __ATOMIC_RELAXED);
  else {
    size_t n = 0;
    re dec = {.p = s};
    while (*dec.p) cp[n++] = next_cp(&dec);
    unsigned step = 1;
    int cur = 0;
    add(&v, cur, 0, step, NONE, n ? cp[0] : NONE);
    for (size_t i = 0;; i++) {
      if (i == n) {
        for (int t = 0; t < v.n[cur]; t++) matched |= r.prog[v.list[cur][t]].op == I_MATCH;
        break;
      }
      int nxt = 1 - cur;
      v.n[nxt] = 0;
      step++;
      uint32_t c = cp[i], after = i + 1 < n ? cp[i + 1] : NONE;
      for (int t = 0; t < v.n[cur]; t++) {
        int pc = v.list[cur][t];
        const inst *in = &r.prog[pc];
        bool ok = in->op == I_CHAR ? (in->c == c || (in->fold && lower(in->c) == lower(c)))
                  : in->op == I_ANY ? (in->c || c != '\n')
                  : in->op == I_CLASS ? in_class(&r, in, c) : false;
        if (ok) add(&v, nxt, pc + 1, step, c, after);
      }
      cur = nxt;
      if (!v.n[cur]) break;
    }
  }
  free(cp);
  free(v.list[0]);
  free(v.list[1]);
  free(v.mark);
  free(v.stack);
  re_free(&r);
  return matched;
}
