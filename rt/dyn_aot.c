/* Runs of an AOT library with free dims (rt/dyn_aot.h): the shapes a caller gives checked
 * against the library's table, the syms bound from them, output shapes, and the arena
 * planned for them with the compiler's own placement (rt/arena_place.c). No thread-local
 * or global state: each call plans anew (a few allocations' worth of work). */
#include "rt/dyn_aot.h"

#include "rt/arena_place.h"
#include "rt/strings.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIM (INT64_C(1) << 31)
#define MAX_BYTES (INT64_C(1) << 40)

typedef struct table {
  int64_t nsyms, ninputs, noutputs, ndyn, arena_bytes, dims_offset, strings_offset;
  const int64_t *defs, *inputs, *outputs, *slots, *buckets; /* each one's first word */
} table;

static int fail(char *msg, size_t size, int code, const char *fmt, ...) {
  if (msg && size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
  }
  return code;
}

static const int64_t *skip_poly(const int64_t *w) { return w + 1 + w[0] * (1 + KILN_RT_MAX_SYMS); }
static const int64_t *skip_expr(const int64_t *w) { return w + 1 + 2 * w[0]; }
/* a sym's entry: least, most, step, den, then num unless den is 0 */
static const int64_t *next_def(const int64_t *d) { return d[3] ? skip_poly(d + 4) : d + 4; }

static void read_table(const int64_t *d, table *t) {
  t->nsyms = d[0], t->ninputs = d[1], t->noutputs = d[2], t->ndyn = d[3];
  t->arena_bytes = d[4], t->dims_offset = d[5], t->strings_offset = d[6];
  const int64_t *w = d + 7;
  t->defs = w;
  for (int64_t s = 0; s < t->nsyms; s++) w = next_def(w);
  t->inputs = w;
  for (int64_t i = 0; i < t->ninputs; i++) w += 3 + w[2];
  t->outputs = w;
  for (int64_t i = 0; i < t->noutputs; i++) {
    int64_t rank = w[2];
    w += 3;
    for (int64_t k = 0; k < rank; k++) w = skip_poly(w);
  }
  t->slots = w;
  for (int64_t i = 0; i < t->ndyn; i++) {
    int64_t rank = w[3];
    w += 4;
    for (int64_t d = 0; d < rank; d++) w = skip_expr(w);
  }
  t->buckets = w;
}

/* the bucket in's shapes match, or -1 (in already checked: dtypes and ranks agree) */
static int variant(const table *t, const kiln_rt_tensor *in) {
  const int64_t *w = t->buckets + 1;
  for (int64_t b = 0; b < t->buckets[0]; b++) {
    bool same = true;
    w += 2; /* its arena bytes, string heap */
    for (int64_t i = 0; i < t->ninputs; i++)
      for (int d = 0; d < in[i].rank; d++) same = same && *w++ == in[i].dims[d];
    if (same) return (int)b;
  }
  return -1;
}

/* bucket b's entry: its arena bytes, its string heap's offset */
static const int64_t *bucket_at(const table *t, int b) {
  const int64_t *w = t->buckets + 1;
  for (int i = 0; i < b; i++) {
    w += 2;
    const int64_t *in = t->inputs;
    for (int64_t k = 0; k < t->ninputs; k++, in += 3 + in[2]) w += in[2];
  }
  return w;
}

static int64_t bucket_bytes(const table *t, int b) { return (bucket_at(t, b)[0] + 63) / 64 * 64; }

/* the polynomial at w at the syms' values; false on overflow */
static bool eval_poly(const int64_t *w, const int64_t *syms, int64_t *out) {
  int64_t sum = 0;
  for (int64_t i = 0; i < w[0]; i++) {
    const int64_t *term = w + 1 + i * (1 + KILN_RT_MAX_SYMS);
    int64_t t = term[0];
    for (int s = 0; s < KILN_RT_MAX_SYMS; s++)
      for (int64_t p = 0; p < term[1 + s]; p++)
        if (__builtin_mul_overflow(t, syms[s], &t)) return false;
    if (__builtin_add_overflow(sum, t, &sum)) return false;
  }
  *out = sum;
  return true;
}

/* the postfix expression at w, wrapping as generated code computes (kiln_dim_eval) */
static int64_t eval_expr(const int64_t *w, const int64_t *syms) {
  int64_t st[KILN_RT_EXPR_STACK];
  int n = 0;
  for (int64_t i = 0; i < w[0]; i++) {
    int64_t kind = w[1 + 2 * i], v = w[2 + 2 * i];
    if (kind == KILN_RT_TOK_CONST) st[n++] = v;
    else if (kind == KILN_RT_TOK_SYM) st[n++] = syms[v];
    else {
      uint64_t a = (uint64_t)st[n - 2], b = (uint64_t)st[n - 1];
      int64_t sa = (int64_t)a, sb = (int64_t)b, r = 0;
      switch (v) {
      case KILN_RT_OP_ADD: r = (int64_t)(a + b); break;
      case KILN_RT_OP_SUB: r = (int64_t)(a - b); break;
      case KILN_RT_OP_MUL: r = (int64_t)(a * b); break;
      case KILN_RT_OP_DIV: r = sb == 0 ? 0 : sb == -1 ? (int64_t)(0 - a) : sa / sb; break;
      case KILN_RT_OP_MOD: r = sb == 0 || sb == -1 ? 0 : sa % sb; break;
      case KILN_RT_OP_MIN: r = sa < sb ? sa : sb; break;
      default: r = sa > sb ? sa : sb; break;
      }
      st[(n--) - 2] = r;
    }
  }
  return n ? st[n - 1] : 0;
}

/* sym s's least value (its table entry's first word) */
static const int64_t *sym_def(const table *t, int s) {
  const int64_t *d = t->defs;
  for (int i = 0; i < s; i++) d = next_def(d);
  return d;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* binds syms from the inputs' shapes, checking them, then derives the others
 * (runtime/dyn_run.c's kiln_dyn_bind) */
static int bind(const table *t, const char *const *names, const kiln_rt_tensor *in,
                int64_t *syms, char *msg, size_t size) {
  const char *from[KILN_RT_MAX_SYMS] = {0};
  const char *const *sym_names = names + t->ninputs;
  for (int s = 0; s < KILN_RT_MAX_SYMS; s++) syms[s] = 0;
  if (!in && t->ninputs) return fail(msg, size, KILN_RT_ERR_INVALID_ARGUMENT, "inputs is NULL");
  const int64_t *w = t->inputs;
  for (int64_t i = 0; i < t->ninputs; i++, w += 3 + w[2]) {
    const kiln_rt_tensor *a = &in[i];
    const char *name = names[i];
    if (a->dtype != w[0])
      return fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "input '%s' has dtype %d, the "
                  "model's is %d", name, (int)a->dtype, (int)w[0]);
    if (a->rank != w[2])
      return fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "input '%s' has rank %d, the "
                  "model's is %d", name, (int)a->rank, (int)w[2]);
    int64_t bytes = w[1];
    for (int d = 0; d < a->rank; d++) {
      int64_t x = a->dims[d], want = w[3 + d];
      if (want >= 0 && x != want)
        return fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "input '%s' dim %d is %lld, the "
                    "model's is %lld", name, d, (long long)x, (long long)want);
      if (want < 0) {
        int s = (int)(-1 - want);
        int64_t least = sym_def(t, s)[0], most = sym_def(t, s)[1], step = sym_def(t, s)[2];
        int64_t low = least ? 1 : 0;
        if (x < low || x > MAX_DIM)
          return fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "input '%s' dim %d ('%s') is "
                      "%lld, outside %lld .. %lld", name, d, sym_names[s], (long long)x,
                      (long long)low, (long long)MAX_DIM);
        if (x < least)
          return fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "input '%s' dim %d ('%s') is %lld: "
                      "this model's shapes follow another rule below (a window wider than the "
                      "input, an index or a Slice's end past it): compiled for sizes from "
                      "%lld up (bind it at compile time for smaller ones)", name, d, sym_names[s],
                      (long long)x, (long long)least);
        if (most && x > most)
          return fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "input '%s' dim %d ('%s') is %lld: "
                      "this model's shapes follow another rule above (a Slice's end, a Min "
                      "with a constant): compiled for sizes up to %lld (bind it at compile "
                      "time for larger ones)", name, d, sym_names[s], (long long)x, (long long)most);
        if (step > 1 && x % step)
          return fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "input '%s' dim %d ('%s') is %lld: "
                      "this model cuts it into blocks of %lld (SpaceToDepth's blocksize), so it "
                      "must be a multiple of %lld", name, d, sym_names[s], (long long)x,
                      (long long)step, (long long)step);
        if (from[s] && syms[s] != x)
          return fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "input '%s' dim %d ('%s') is "
                      "%lld, but input '%s' gave '%s' = %lld", name, d, sym_names[s],
                      (long long)x, from[s], sym_names[s], (long long)syms[s]);
        syms[s] = x;
        from[s] = name;
      }
      if (__builtin_mul_overflow(bytes, x, &bytes) || bytes > MAX_BYTES)
        return fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "input '%s': its shape is over the "
                    "limit of %lld bytes", name, (long long)MAX_BYTES);
    }
  }
  const int64_t *d = t->defs;
  for (int64_t s = 0; s < t->nsyms; s++, d = next_def(d)) {
    if (!d[3]) continue;
    int64_t x;
    if (!eval_poly(d + 4, syms, &x))
      return fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "the input shapes overflow a dim of "
                  "the model");
    syms[s] = d[3] < 0 ? x : floor_div(x, d[3]); /* a count the run computes: its bound */
  }
  return KILN_RT_OK;
}

/* bit s: sym s is a count the run computes */
static uint32_t data_syms(const table *t) {
  uint32_t m = 0;
  const int64_t *d = t->defs;
  for (int64_t s = 0; s < t->nsyms; s++, d = next_def(d))
    if (d[3] < 0) m |= 1u << s;
  return m;
}

/* bit s: sym s is a free input dim of size 0 in this run (one the model allows at 0) */
static uint32_t zero_syms(const table *t, const int64_t *syms) {
  uint32_t m = 0;
  const int64_t *d = t->defs;
  for (int64_t s = 0; s < t->nsyms; s++, d = next_def(d))
    if (d[3] == 0 && syms[s] == 0) m |= 1u << s;
  return m;
}

/* polynomial w mentions a sym of mask m */
static bool poly_uses(const int64_t *w, uint32_t m) {
  for (int64_t i = 0; i < w[0]; i++)
    for (int s = 0; s < KILN_RT_MAX_SYMS; s++)
      if ((m >> s & 1) && w[2 + i * (1 + KILN_RT_MAX_SYMS) + s]) return true;
  return false;
}

/* With counts the run computed, or a free dim of size 0, a dim that follows one may be 0. */
static int output_shapes(const table *t, const char *const *names, const int64_t *syms,
                         kiln_rt_tensor *out, char *msg, size_t size) {
  const int64_t *w = t->outputs;
  uint32_t counts = data_syms(t) | zero_syms(t, syms);
  for (int64_t i = 0; i < t->noutputs; i++) {
    int64_t rank = w[2], bytes = w[1], x = 0;
    if (out) out[i].dtype = (int32_t)w[0], out[i].rank = (int32_t)rank;
    w += 3;
    for (int64_t d = 0; d < rank; d++, w = skip_poly(w)) {
      if (eval_poly(w, syms, &x) && x < 1 &&
          !(x == 0 && (poly_uses(w, counts) || !poly_uses(w, UINT32_MAX)))) /* or fixed at 0 */
        return fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "output %lld dim %lld would be %lld "
                    "at these input shapes: the inputs are too small for this model",
                    (long long)i, (long long)d, (long long)x);
      if (!eval_poly(w, syms, &x) || __builtin_mul_overflow(bytes, x, &bytes) ||
          bytes > MAX_BYTES)
        return fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "output %lld would be over the "
                    "limit of %lld bytes at these input shapes (inputs: '%s'...)",
                    (long long)i, (long long)MAX_BYTES, t->ninputs ? names[0] : "");
      if (out) out[i].dims[d] = x;
    }
  }
  return KILN_RT_OK;
}

/* the slots' absolute offsets and the arena's bytes at syms */
static int plan(const table *t, const int64_t *syms, int64_t *offsets, int64_t *bytes,
                char *msg, size_t size) {
  size_t n = (size_t)(t->ndyn ? t->ndyn : 1);
  kiln_rt_alloc *allocs = calloc(n, sizeof *allocs);
  kiln_rt_alloc **all = calloc(2 * n, sizeof *all);
  if (!allocs || !all) {
    free(allocs);
    free(all);
    return fail(msg, size, KILN_RT_ERR_OUT_OF_MEMORY, "out of memory planning the arena");
  }
  int st = KILN_RT_OK;
  int64_t least = zero_syms(t, syms) ? 0 : 1; /* a buffer along a free dim of size 0 */
  const int64_t *w = t->slots;
  for (int64_t i = 0; i < t->ndyn; i++) {
    int64_t rank = w[3], b = w[2];
    allocs[i] = (kiln_rt_alloc){w[0], w[1], 0, 0, true};
    w += 4;
    for (int64_t d = 0; d < rank; d++, w = skip_expr(w)) {
      int64_t x = eval_expr(w, syms);
      bool fixed = w[0] == 1 && w[1] == KILN_RT_TOK_CONST; /* a static empty input's 0 stays */
      if (x < least && !(fixed && x == 0) && !st)
        st = fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "buffer %lld dim %lld would be %lld at "
                  "these input shapes: the inputs are too small for this model", (long long)i,
                  (long long)d, (long long)x);
      if (b >= 0 && ((x < least && !(fixed && x == 0)) || __builtin_mul_overflow(b, x, &b) ||
                     b > MAX_BYTES))
        b = -1;
    }
    if (b < 0 && !st)
      st = fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "a buffer would be over the limit of "
                "%lld bytes at these input shapes", (long long)MAX_BYTES);
    allocs[i].size = b < 0 ? 0 : b;
    all[i] = &allocs[i];
  }
  int64_t high = 0;
  if (!st) kiln_rt_arena_place(all, (int)t->ndyn, all + n, &high);
  if (!st && high > MAX_BYTES)
    st = fail(msg, size, KILN_RT_ERR_INVALID_INPUT, "the run would need %lld bytes of "
              "scratch, over the limit of %lld", (long long)high, (long long)MAX_BYTES);
  for (int64_t i = 0; i < t->ndyn && !st && offsets; i++)
    offsets[i] = t->arena_bytes + allocs[i].offset;
  *bytes = (t->arena_bytes + high + 63) / 64 * 64;
  free(all);
  free(allocs);
  return st;
}

int kiln_rt_dyn_shapes(const int64_t *desc, const char *const *names, const kiln_rt_tensor *in,
                       kiln_rt_tensor *out, int64_t *workspace, char *msg, size_t size) {
  table t;
  read_table(desc, &t);
  int64_t syms[KILN_RT_MAX_SYMS];
  if (msg && size) msg[0] = 0;
  int st = bind(&t, names, in, syms, msg, size);
  if (!st) st = output_shapes(&t, names, syms, out, msg, size);
  int b = st ? -1 : variant(&t, in);
  if (!st && workspace && b >= 0) *workspace = bucket_bytes(&t, b);
  else if (!st && workspace) st = plan(&t, syms, NULL, workspace, msg, size);
  return st;
}

int kiln_rt_dyn_variant(const int64_t *desc, const char *const *names, const kiln_rt_tensor *in) {
  table t;
  read_table(desc, &t);
  int64_t syms[KILN_RT_MAX_SYMS];
  return bind(&t, names, in, syms, NULL, 0) ? -1 : variant(&t, in);
}

int kiln_rt_dyn_run(const int64_t *desc, const char *const *names, const kiln_rt_entry *entries,
                    const void *const *const *consts, const kiln_rt_tensor *in,
                    kiln_rt_tensor *out, void *workspace) {
  table t;
  read_table(desc, &t);
  int64_t syms[KILN_RT_MAX_SYMS], bytes = 0;
  if (!out && t.noutputs) return KILN_RT_ERR_INVALID_ARGUMENT;
  int st = bind(&t, names, in, syms, NULL, 0);
  if (!st) st = output_shapes(&t, names, syms, out, NULL, 0);
  if (st) return st;
  void **ins = calloc((size_t)t.ninputs + (size_t)t.noutputs + 1, sizeof *ins);
  int64_t *offsets = calloc((size_t)t.ndyn + 1, sizeof *offsets);
  if (!ins || !offsets) st = KILN_RT_ERR_OUT_OF_MEMORY;
  for (int64_t i = 0; i < t.ninputs && !st; i++) {
    int64_t n = 1;
    for (int d = 0; d < in[i].rank; d++) n *= in[i].dims[d];
    if (n && !in[i].data) st = KILN_RT_ERR_INVALID_ARGUMENT;
    ins[i] = in[i].data;
  }
  for (int64_t i = 0; i < t.noutputs && !st; i++) {
    int64_t n = 1;
    for (int d = 0; d < out[i].rank; d++) n *= out[i].dims[d];
    if (n && !out[i].data) st = KILN_RT_ERR_INVALID_ARGUMENT;
    ins[t.ninputs + i] = out[i].data;
  }
  int b = st ? -1 : variant(&t, in);
  if (b >= 0) bytes = bucket_bytes(&t, b);
  else if (!st) st = plan(&t, syms, offsets, &bytes, NULL, 0);
  uint8_t *arena = workspace;
  if (!st && !arena && bytes > 0 && !(arena = aligned_alloc(64, (size_t)bytes)))
    st = KILN_RT_ERR_OUT_OF_MEMORY;
  if (!st && b < 0) {
    int64_t *dims = (int64_t *)(void *)(arena + t.dims_offset);
    memcpy(dims, syms, sizeof(int64_t) * (size_t)t.nsyms);
    memcpy(dims + t.nsyms, offsets, sizeof(int64_t) * (size_t)t.ndyn);
  }
  bool ran = !st;
  if (ran) st = entries[b + 1](ins, ins + t.ninputs, arena, consts[b + 1]);
  uint32_t counts = data_syms(&t);
  if (!st && b < 0 && counts) { /* the sizes the run computed: the outputs' actual shapes */
    const int64_t *dims = (const int64_t *)(const void *)(arena + t.dims_offset);
    for (int64_t s = 0; s < t.nsyms && !st; s++)
      if (counts >> s & 1) {
        if (dims[s] < 0 || dims[s] > syms[s]) st = KILN_RT_ERR_INTERNAL;
        syms[s] = dims[s];
      }
    if (!st) st = output_shapes(&t, names, syms, out, NULL, 0);
  }
  int64_t heap = b < 0 ? t.strings_offset : bucket_at(&t, b)[1];
  if (ran && heap >= 0) { /* string outputs copied for the caller (NULL after a failure) */
    kiln_rt_strings *h = (kiln_rt_strings *)(void *)(arena + heap);
    int64_t *n = calloc((size_t)t.noutputs + 1, sizeof *n), which;
    for (int64_t i = 0; i < t.noutputs; i++) {
      int64_t e = out[i].dtype == KILN_RT_STRING;
      for (int d = 0; d < out[i].rank; d++) e *= out[i].dims[d];
      if (n) n[i] = e;
      else if (e) kiln_rt_strings_clear(out[i].data, e); /* no memory: none of them, then */
    }
    if (n) st = kiln_rt_strings_end(h, st, ins + t.ninputs, n, t.noutputs, &which);
    else kiln_rt_strings_free(h), st = KILN_RT_ERR_OUT_OF_MEMORY;
    free(n);
  }
  if (arena != workspace) free(arena);
  free(ins);
  free(offsets);
  return st;
}
