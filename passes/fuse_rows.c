/* Row fusion: a row reduction (Softmax's max and sum of exp, LayerNorm's mean and variance)
 * and its elementwise neighbours become one kernel whose stages run one row at a time, so
 * each row is read while it is still in L1 instead of once per kernel.
 *
 * A row kernel's stages all span the same axes with the same extents; the row axes are
 * those spatial in every stage, and every reduction stage reduces all the others (the
 * row). Each stage reads what earlier stages of the kernel wrote only at its own point:
 * the load's flat offset is, as an affine form of the axes, the latest writer's store
 * offset (a per-row value at its row, a full-size value at the same element; a buffer
 * written again, as Softmax scales its exponentials in place, at the same elements). Stage
 * order within a row is then the kernel's order, and codegen may run all stages inside
 * one loop over the rows (kiln_kernel.row_axes).
 *
 * Fusion merges a kernel into the earlier kernel producing one of its inputs when the
 * merged kernel is such a row kernel with a reduction in it: the consumer's loads of the
 * producer's outputs read the producer's buffer at the writer's own index. An output no
 * other step reads (and no graph output) becomes a temporary; a temporary written by an
 * elementwise stage is inlined into the stages reading it (each reads it at the element
 * the writer stored, so it is computed again there instead of stored and loaded: LayerNorm
 * exported as ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add ends as the three
 * stages of LayerNormalization). Per-row temporaries stay (codegen keeps them in
 * registers); one read only as a divisor is stored as its reciprocal, and the divisions
 * become products (a division per row instead of per element). Kernels whose passes fit
 * in L1 are merged but not marked: row by row gains nothing there. Kernels lowered with several stages (Softmax, LayerNormalization) are marked
 * when they qualify. Decisions look only at kernel IR. */
#include "passes/passes.h"

#include "ir/dtype.h"

#include <stdlib.h>
#include <string.h>

/* A row longer than this (floats: 256 KB) leaves L2 between two passes: no gain. */
#define ROW_MAX_ELEMS (INT64_C(1) << 16)
/* Row kernels whose stages pass over at most this (as f32) run stage after stage. */
#define ROW_MIN_BYTES (INT64_C(32) << 10)

/* ---- affine forms of index expressions ------------------------------------------------- */

typedef struct affine {
  bool ok;
  int64_t c[KILN_MAX_AXES + 1]; /* per axis, then the constant */
} affine;

/* x as an affine form of s's axes (an axis of extent 1 is 0). */
static affine aff_of(const kiln_stage *s, const kiln_expr *x) {
  affine f = {.ok = true};
  if (x->kind == KX_VAR && x->axis >= 0 && x->axis < s->naxes) {
    f.c[x->axis] = s->axes[x->axis].extent != 1;
  } else if (x->kind == KX_CONST && (x->dtype == KILN_I64 || x->dtype == KILN_I32)) {
    f.c[KILN_MAX_AXES] = x->i;
  } else if (x->kind == KX_BINARY && (x->op == KB_ADD || x->op == KB_MUL)) {
    affine a = aff_of(s, x->a), b = aff_of(s, x->b);
    bool ca = true, cb = true; /* which side is a constant (for a product) */
    for (int i = 0; i < KILN_MAX_AXES; i++) ca &= !a.c[i], cb &= !b.c[i];
    if (!a.ok || !b.ok || (x->op == KB_MUL && !ca && !cb)) return (affine){0};
    for (int i = 0; i <= KILN_MAX_AXES; i++)
      f.c[i] = x->op == KB_ADD ? a.c[i] + b.c[i]
                               : ca ? a.c[KILN_MAX_AXES] * b.c[i] : b.c[KILN_MAX_AXES] * a.c[i];
  } else {
    f.ok = false;
  }
  return f;
}

/* The flat element offset of buffer b at idx (row-major over the view's dims). */
static affine flat_of(const kiln_stage *s, const kiln_buffer *b, kiln_expr *const *idx,
                      int nidx) {
  affine f = {.ok = nidx == b->rank};
  int64_t stride = 1;
  for (int d = nidx - 1; d >= 0 && f.ok; d--) {
    affine a = aff_of(s, idx[d]);
    if (!a.ok) return (affine){0};
    for (int i = 0; i <= KILN_MAX_AXES; i++) f.c[i] += a.c[i] * stride;
    stride *= b->dims[d];
  }
  return f;
}

static bool aff_eq(const affine *a, const affine *b) {
  return a->ok && b->ok && !memcmp(a->c, b->c, sizeof a->c);
}

/* Does store offset o give every point of s's spatial axes its own element? (positive
 * coefficients, each past the reach of the smaller ones) */
static bool injective(const kiln_stage *s, const affine *o) {
  bool done[KILN_MAX_AXES] = {0};
  int64_t reach = 0;
  for (;;) {
    int best = -1;
    for (int a = 0; a < s->naxes; a++)
      if (!done[a] && !s->axes[a].reduce && s->axes[a].extent > 1 &&
          (best < 0 || o->c[a] < o->c[best]))
        best = a;
    if (best < 0) return true;
    if (o->c[best] <= reach) return false;
    done[best] = true;
    reach += o->c[best] * (s->axes[best].extent - 1);
  }
}

/* ---- is a kernel a row kernel? ----------------------------------------------------------- */

typedef struct row_check {
  const kiln_kernel *k;
  int last[KILN_MAX_BUFS];      /* the latest stage so far that wrote each buffer, -1 */
  bool written[KILN_MAX_BUFS];  /* by some stage */
  bool ok;
} row_check;

static bool same_store(const kiln_kernel *k, const kiln_stage *a, const kiln_stage *b) {
  affine x = flat_of(a, &k->bufs[a->out_buf], a->out_idx, a->nout_idx);
  affine y = flat_of(b, &k->bufs[b->out_buf], b->out_idx, b->nout_idx);
  return aff_eq(&x, &y);
}

/* Loads in x (of stage `stage`) of buffers the kernel writes: at the latest writer's store. */
static void check_loads(row_check *c, const kiln_expr *x, int stage) {
  if (!x || !c->ok) return;
  if (x->kind == KX_LOAD) {
    if (c->written[x->buf]) {
      int w = c->last[x->buf];
      const kiln_buffer *b = &c->k->bufs[x->buf];
      affine l = flat_of(&c->k->stages[stage], b, x->idx, x->nidx);
      affine s = w >= 0 ? flat_of(&c->k->stages[w], b, c->k->stages[w].out_idx,
                                  c->k->stages[w].nout_idx)
                        : (affine){0};
      if (!aff_eq(&l, &s)) c->ok = false;
    }
    for (int d = 0; d < x->nidx; d++) check_loads(c, x->idx[d], stage);
  }
  check_loads(c, x->a, stage);
  check_loads(c, x->b, stage);
  check_loads(c, x->c, stage);
}

/* The row axes of k as a mask, or 0 when k is no row kernel (see the top). */
static uint32_t row_axes_of(const kiln_kernel *k) {
  if (k->nstages < 2) return 0;
  const kiln_stage *s0 = &k->stages[0];
  uint32_t rows = 0;
  for (int a = 0; a < s0->naxes; a++) rows |= 1u << a;
  row_check c = {.k = k, .ok = true};
  bool reduces = false;
  for (int i = 0; i < k->nstages; i++) {
    const kiln_stage *s = &k->stages[i];
    if (s->naxes != s0->naxes || s->out_buf < 0 || s->out_buf >= k->nbufs ||
        k->bufs[s->out_buf].role == KILN_BUF_INPUT)
      return 0;
    c.written[s->out_buf] = true;
    for (int a = 0; a < s->naxes; a++) {
      if (s->axes[a].extent != s0->axes[a].extent) return 0;
      if (s->axes[a].reduce) rows &= ~(1u << a);
    }
    reduces |= s->reduce != KR_NONE;
    affine o = flat_of(s, &k->bufs[s->out_buf], s->out_idx, s->nout_idx);
    if (!o.ok || !injective(s, &o)) return 0;
  }
  int64_t nrows = 1, len = 1;
  for (int a = 0; a < s0->naxes; a++) *(rows >> a & 1 ? &nrows : &len) *= s0->axes[a].extent;
  if (!reduces || nrows < 2 || len > ROW_MAX_ELEMS) return 0;
  /* some stage runs over the row's elements (Softmax's exp, LayerNorm's normalize); without
   * one every "row" is one output point of reductions alone (two stacked 1x1 Convs), which
   * register tiles compute far better as kernels of their own */
  bool over_row = false;
  for (int i = 0; i < k->nstages; i++)
    for (int a = 0; a < s0->naxes; a++)
      over_row |= !(rows >> a & 1) && !k->stages[i].axes[a].reduce;
  if (!over_row) return 0;
  for (int b = 0; b < k->nbufs; b++) c.last[b] = -1;
  for (int i = 0; i < k->nstages; i++) {
    const kiln_stage *s = &k->stages[i];
    for (int a = 0; a < s->naxes && s->reduce != KR_NONE; a++) /* it reduces the whole row */
      if (!(rows >> a & 1) && !s->axes[a].reduce) return 0;
    check_loads(&c, s->value, i);
    check_loads(&c, s->init, i);
    check_loads(&c, s->post, i);
    for (int d = 0; d < s->nout_idx; d++) check_loads(&c, s->out_idx[d], i);
    int w = c.last[s->out_buf]; /* a buffer written again: the same elements */
    if (w >= 0 && !same_store(k, &k->stages[w], s)) return 0;
    c.last[s->out_buf] = i;
  }
  return c.ok ? rows : 0;
}

/* ---- rebuilding kernels ------------------------------------------------------------------- */

typedef struct rebuild {
  kiln_kernel *k; /* the kernel being built */
  const kiln_kernel *src;
  const kiln_stage *stage;         /* src's stage being copied */
  int map[KILN_MAX_BUFS];          /* src buffer -> k's */
  kiln_expr *inl[KILN_MAX_BUFS];   /* src buffer whose loads are this value of k's */
  int via[KILN_MAX_BUFS];          /* src buffer read at the store index of k's stage
                                      via - 1 (0: none; an index, since k's stages move as
                                      it grows) */
  bool recip[KILN_MAX_BUFS];       /* src buffer written as its reciprocal, divisions by it
                                      become products */
  const kiln_expr **from;          /* memo: src node -> k's */
  kiln_expr **to;
  int nmemo, cap, cap2;
  bool failed;
} rebuild;

static kiln_expr *copy(rebuild *r, const kiln_expr *x);

static kiln_expr *copy_node(rebuild *r, const kiln_expr *x) {
  if (x->kind == KX_CALL) { /* string kernels gain nothing from rows */
    r->failed = true;
    return NULL;
  }
  const kiln_stage *w = x->kind == KX_LOAD && r->via[x->buf] ? &r->k->stages[r->via[x->buf] - 1]
                                                               : NULL;
  if (x->kind == KX_LOAD && r->inl[x->buf]) return r->inl[x->buf];
  kiln_expr *n = kiln_arena_alloc(&r->k->arena, sizeof *n);
  *n = *x;
  if (x->kind == KX_LOAD) {
    if (w) { /* the same element as the writer's store: its index, already in k */
      affine l = flat_of(r->stage, &r->src->bufs[x->buf], x->idx, x->nidx);
      affine s = flat_of(w, &r->k->bufs[w->out_buf], w->out_idx, w->nout_idx);
      if (!aff_eq(&l, &s)) r->failed = true;
      return kx_load(r->k, w->out_buf, w->out_idx);
    }
    n->buf = r->map[x->buf];
    n->idx = kiln_arena_alloc(&r->k->arena, sizeof *n->idx * (size_t)(x->nidx ? x->nidx : 1));
    for (int d = 0; d < x->nidx; d++) n->idx[d] = copy(r, x->idx[d]);
  }
  if (x->kind == KX_BINARY && x->op == KB_DIV && x->b->kind == KX_LOAD && r->recip[x->b->buf])
    n->op = KB_MUL;
  if (x->kind == KX_CHECK && x->what) n->what = kiln_arena_strdup(&r->k->arena, x->what);
  n->a = copy(r, x->a);
  n->b = copy(r, x->b);
  n->c = copy(r, x->c);
  return n;
}

/* x rebuilt in r->k (shared nodes stay shared). */
static kiln_expr *copy(rebuild *r, const kiln_expr *x) {
  if (!x || r->failed) return NULL;
  for (int i = r->nmemo - 1; i >= 0; i--)
    if (r->from[i] == x) return r->to[i];
  kiln_expr *n = copy_node(r, x);
  KILN_GROW(r->from, r->nmemo, r->cap);
  KILN_GROW(r->to, r->nmemo, r->cap2);
  r->from[r->nmemo] = x;
  r->to[r->nmemo++] = n;
  return n;
}

static void copy_stage(rebuild *r, const kiln_stage *s) {
  r->stage = s;
  kiln_stage *t = kiln_kernel_add_stage(r->k, s->name, r->map[s->out_buf]);
  t->naxes = s->naxes;
  memcpy(t->axes, s->axes, sizeof s->axes);
  t->reduce = s->reduce;
  t->init = copy(r, s->init);
  t->post = copy(r, s->post);
  if (r->recip[s->out_buf])
    t->post = kx_unary(r->k, KU_RECIP, t->post ? t->post : kx_acc(r->k, s->value->dtype));
  kiln_expr *idx[KILN_MAX_RANK];
  for (int d = 0; d < s->nout_idx; d++) idx[d] = copy(r, s->out_idx[d]);
  kiln_stage_store(r->k, t, idx, copy(r, s->value));
}

static int copy_buffer(kiln_kernel *k, const kiln_buffer *b, kiln_buf_role role) {
  int i = kiln_kernel_add_buffer(k, b->name, role, role == KILN_BUF_TEMP ? -1 : b->value,
                                 b->dtype, b->rank, b->dims);
  k->bufs[i].storage = b->storage;
  if (b->layout) k->bufs[i].layout = kiln_arena_strdup(&k->arena, b->layout);
  return i;
}

static void rebuild_done(rebuild *r) {
  free(r->from);
  free(r->to);
  r->from = NULL;
  r->to = NULL;
  r->nmemo = r->cap = r->cap2 = 0;
}

static void copy_header(kiln_kernel *k, const kiln_kernel *a, const kiln_kernel *b) {
  k->op = kiln_arena_strdup(&k->arena, a->op ? a->op : "?");
  if (b) {
    char *op = kiln_fmt("%s+%s", k->op, b->op ? b->op : "?");
    k->op = kiln_arena_strdup(&k->arena, op);
    free(op);
  }
  k->nnodes = a->nnodes + (b ? b->nnodes : 0);
  k->nodes = kiln_arena_alloc(&k->arena, sizeof *k->nodes * (size_t)(k->nnodes ? k->nnodes : 1));
  for (int i = 0; i < a->nnodes; i++) k->nodes[i] = kiln_arena_strdup(&k->arena, a->nodes[i]);
  for (int i = 0; b && i < b->nnodes; i++)
    k->nodes[a->nnodes + i] = kiln_arena_strdup(&k->arena, b->nodes[i]);
  k->has_checks = a->has_checks || (b && b->has_checks);
  k->check_all = a->check_all || (b && b->check_all);
}

/* K1's stages, then K2's, whose loads of K1's outputs read K1's buffers; NULL where a load
 * of them is not at the writer's element. */
static kiln_kernel *concat(const kiln_kernel *k1, const kiln_kernel *k2) {
  kiln_kernel *k = kiln_kernel_new(k1->name);
  copy_header(k, k1, k2);
  rebuild r = {.k = k, .src = k1};
  for (int b = 0; b < k1->nbufs; b++) r.map[b] = copy_buffer(k, &k1->bufs[b], k1->bufs[b].role);
  for (int s = 0; s < k1->nstages; s++) copy_stage(&r, &k1->stages[s]);
  rebuild_done(&r);
  r.src = k2;
  for (int b = 0; b < k2->nbufs && !r.failed; b++) {
    const kiln_buffer *o = &k2->bufs[b];
    r.map[b] = -1;
    for (int s = 0; o->role == KILN_BUF_INPUT && s < k->nstages; s++)
      if (k->bufs[k->stages[s].out_buf].value == o->value) r.via[b] = s + 1;
    for (int i = 0; o->role == KILN_BUF_INPUT && !r.via[b] && i < k1->nbufs; i++) {
      const kiln_buffer *m = &k->bufs[i];
      if (m->role == KILN_BUF_INPUT && m->value == o->value && m->dtype == o->dtype &&
          m->rank == o->rank && !memcmp(m->dims, o->dims, sizeof(int64_t) * (size_t)o->rank))
        r.map[b] = i;
    }
    if (r.via[b] || r.map[b] >= 0) continue;
    if (k->nbufs == KILN_MAX_BUFS) r.failed = true;
    else r.map[b] = copy_buffer(k, o, o->role);
  }
  for (int s = 0; s < k2->nstages && !r.failed; s++) copy_stage(&r, &k2->stages[s]);
  bool failed = r.failed;
  rebuild_done(&r);
  if (failed) kiln_kernel_free(k);
  return failed ? NULL : k;
}

/* Counts the loads of buffer b in x (walked as a tree) and those that divide a float. */
static void count_divisor(const kiln_expr *x, int b, int *loads, int *divisors) {
  if (!x) return;
  if (x->kind == KX_BINARY && x->op == KB_DIV && kiln_dtype_is_float(x->dtype) &&
      x->b->kind == KX_LOAD && x->b->buf == b)
    ++*divisors;
  if (x->kind == KX_LOAD) *loads += x->buf == b;
  for (int d = 0; x->kind == KX_LOAD && d < x->nidx; d++) count_divisor(x->idx[d], b, loads, divisors);
  count_divisor(x->a, b, loads, divisors);
  count_divisor(x->b, b, loads, divisors);
  count_divisor(x->c, b, loads, divisors);
}

/* Is temporary b, written by reduction stage w, read only as a divisor? (LayerNorm's
 * standard deviation: one reciprocal per row, then products instead of divisions) */
static bool divisor_only(const kiln_kernel *k, int b, const kiln_stage *w) {
  if (w->reduce == KR_NONE || !kiln_dtype_is_float(k->bufs[b].dtype)) return false;
  int loads = 0, divisors = 0;
  for (int s = 0; s < k->nstages; s++) {
    const kiln_stage *st = &k->stages[s];
    count_divisor(st->value, b, &loads, &divisors);
    count_divisor(st->init, b, &loads, &divisors);
    count_divisor(st->post, b, &loads, &divisors);
    for (int d = 0; d < st->nout_idx; d++) count_divisor(st->out_idx[d], b, &loads, &divisors);
  }
  return loads > 0 && loads == divisors;
}

/* An inlined value is computed again in each stage reading it (Softmax's max and its
 * exponentials): its float sums and products are exact, so no stage contracts them into an
 * FMA that another does not, and each sees the same x (x - max(x) stays <= 0 however large x
 * is). The tree is small (KILN_MAX_TREE_NODES bounds it with its repeats). */
static void mark_exact(kiln_expr *x) {
  if (!x) return;
  if (x->kind == KX_BINARY && kiln_dtype_is_float(x->dtype) && x->op <= KB_MUL) x->i = 1;
  if (x->kind == KX_LOAD) return;
  mark_exact(x->a);
  mark_exact(x->b);
  mark_exact(x->c);
}

/* k with the outputs in `temp` made temporaries, those written by elementwise stages
 * inlined into their readers (with `inline_ok`), per-row divisors made reciprocals. */
static kiln_kernel *compact(const kiln_kernel *src, const bool *temp, bool inline_ok) {
  kiln_kernel *k = kiln_kernel_new(src->name);
  copy_header(k, src, NULL);
  rebuild r = {.k = k, .src = src};
  bool drop[KILN_MAX_BUFS] = {0};
  int writers[KILN_MAX_BUFS] = {0};
  for (int s = 0; s < src->nstages; s++) writers[src->stages[s].out_buf]++;
  for (int s = 0; s < src->nstages; s++) {
    const kiln_stage *st = &src->stages[s];
    int b = st->out_buf;
    bool t = src->bufs[b].role == KILN_BUF_TEMP || temp[b];
    drop[b] = inline_ok && st->reduce == KR_NONE && writers[b] == 1 && t;
    r.recip[b] = t && writers[b] == 1 && divisor_only(src, b, st);
  }
  for (int b = 0; b < src->nbufs; b++)
    if (!drop[b])
      r.map[b] = copy_buffer(k, &src->bufs[b], temp[b] ? KILN_BUF_TEMP : src->bufs[b].role);
  for (int s = 0; s < src->nstages; s++) {
    const kiln_stage *st = &src->stages[s];
    if (drop[st->out_buf]) mark_exact(r.inl[st->out_buf] = copy(&r, st->value));
    else copy_stage(&r, st);
  }
  rebuild_done(&r);
  for (int s = 0; s < k->nstages; s++)
    if (kiln_expr_tree_size(k->stages[s].value, KILN_MAX_TREE_NODES) > KILN_MAX_TREE_NODES ||
        kiln_expr_tree_size(k->stages[s].post, KILN_MAX_TREE_NODES) > KILN_MAX_TREE_NODES) {
      kiln_kernel_free(k);
      return inline_ok ? compact(src, temp, false) : NULL;
    }
  return k;
}

/* ---- the pass ------------------------------------------------------------------------------ */

/* K1 (step i) and K2 (step j, reading an output of K1) as one row kernel, or NULL. */
static kiln_kernel *merge(const kiln_graph *g, const kiln_steps *all, const kiln_kernel *k1,
                          const kiln_kernel *k2) {
  kiln_kernel *c = concat(k1, k2);
  if (!c) return NULL;
  bool temp[KILN_MAX_BUFS] = {0};
  for (int b = 0; b < c->nbufs; b++) {
    const kiln_buffer *o = &c->bufs[b];
    temp[b] = o->role == KILN_BUF_OUTPUT && !kiln_value_kept(g, o->value) &&
              !kiln_steps_read(all, 0, all->n, k1, k2, o->value);
  }
  kiln_kernel *k = row_axes_of(c) ? compact(c, temp, true) : NULL;
  kiln_kernel_free(c);
  if (k && !row_axes_of(k)) {
    kiln_kernel_free(k);
    k = NULL;
  }
  return k;
}

/* Merges step j into the step producing one of its inputs; true if it did. The merged
 * kernel takes step j's place (nothing between reads K1's outputs). */
static bool merge_step(const kiln_graph *g, kiln_program *p, kiln_steps *steps, int j) {
  const kiln_kernel *k2 = steps->steps[j].kernel;
  if (k2->nsyms) return false; /* run-time extents: not merged yet */
  for (int i = j - 1; i >= 0; i--) {
    const kiln_step *st = &steps->steps[i];
    if (st->kind != KILN_STEP_KERNEL) return false; /* no merging across an If or a loop */
    const kiln_kernel *k1 = st->kernel;
    if (k1->nsyms) return false;
    bool feeds = false, between = false;
    for (int b = 0; b < k1->nbufs; b++) {
      if (k1->bufs[b].role != KILN_BUF_OUTPUT) continue;
      feeds |= kiln_kernel_reads(k2, k1->bufs[b].value);
      for (int s = i + 1; s < j; s++)
        between |= kiln_kernel_reads(steps->steps[s].kernel, k1->bufs[b].value);
    }
    if (!feeds || between) continue;
    kiln_kernel *k = merge(g, &p->main, k1, k2);
    if (!k) continue;
    kiln_kernel_free(steps->steps[i].kernel);
    kiln_kernel_free(steps->steps[j].kernel);
    steps->steps[j].kernel = k;
    memmove(&steps->steps[i], &steps->steps[i + 1], sizeof(kiln_step) * (size_t)(steps->n - i - 1));
    steps->n--;
    return true;
  }
  return false;
}

bool kiln_pass_fuse_rows(const kiln_graph *g, kiln_program *p) {
  bool any = false;
  for (bool changed = true; changed;) {
    changed = false;
    for (int j = 0; j < p->main.n; j++)
      while (p->main.steps[j].kind == KILN_STEP_KERNEL && merge_step(g, p, &p->main, j)) {
        changed = any = true;
        j--; /* the merged kernel, now step j - 1: its other inputs next */
      }
  }
  return any;
}

/* Does a pass of k's first stage cover more than L1 holds? (below that, stage after stage
 * finds the data in L1 as well, without a loop over rows around every stage) */
static bool past_l1(const kiln_kernel *k) {
  const kiln_stage *s = &k->stages[0];
  int64_t n = 4;
  for (int a = 0; a < s->naxes; a++)
    if (kiln_mul_overflows(n, s->axes[a].extent, &n)) return true;
  return n > ROW_MIN_BYTES;
}

static void mark(kiln_steps *steps) {
  for (int s = 0; s < steps->n; s++) {
    kiln_step *st = &steps->steps[s];
    kiln_steps *sub[2];
    int nl = kiln_step_lists(st, sub);
    for (int j = 0; j < nl; j++) mark(sub[j]);
    if (st->kind == KILN_STEP_KERNEL && st->kernel) {
      uint32_t rows = row_axes_of(st->kernel);
      st->kernel->row_axes = rows && past_l1(st->kernel) ? rows : 0;
    }
  }
}

void kiln_pass_mark_rows(kiln_program *p) { mark(&p->main); }
