/* Coalescing: a stage's adjacent axes merged into one where every access walks them as
 * one contiguous run (PyTorch's TensorIterator does the same).
 *
 * Relu over [2, 8, 12, 12] is 2304 contiguous floats, but as four loops its innermost is
 * 12 long: LLVM then vectorizes the loop around it with masked gathers and scatters, 20x
 * slower than one loop of 2304 (Zen 5: 2.7 -> 0.12 us). Axes a, b (b inside a) merge when
 * the output stores them as [.., a, b, ..] and every load that reads either reads them as
 * plain [.., a, b, ..] over a dim of b's extent: the merged axis c = a * |b| + b is then
 * one index of each of those buffers, whose views (per kernel, ir/kernel.h) merge the two
 * dims. Loads that read neither (a broadcast operand) are left alone; a load of a merged
 * buffer at other indices gets i * |b| + j. Any other use of a or b (a select's bounds, an
 * offset, one of them alone) keeps the pair apart. Reduction axes merge the same way in a
 * reduction of one tensor (a plain global pool: H x W as one run of the dot-product kind
 * LLVM vectorizes; Zen 5, 4 x 8 x 12 x 12: 1.3 -> 0.13 us). Only static kernels of one
 * stage, or row kernels (their stages share their axes: a pair merges in all of them),
 * whose views stay addressable by strides (an in-place Concat's slot), and no reduction
 * over several operands (GEMMs and convolutions keep the axes their schedules tile). */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

/* Expressions already visited or rebuilt: a kernel's expressions form a DAG. */
typedef struct memo {
  int n, cap;
  const kiln_expr **from;
  kiln_expr **to;
} memo;

static kiln_expr **memo_slot(memo *m, const kiln_expr *e) {
  if (2 * (m->n + 1) > m->cap) {
    memo old = *m;
    m->cap = m->cap ? 2 * m->cap : 64;
    m->from = kiln_xcalloc((size_t)m->cap, sizeof *m->from);
    m->to = kiln_xcalloc((size_t)m->cap, sizeof *m->to);
    m->n = 0;
    for (int i = 0; i < old.cap; i++)
      if (old.from[i]) *memo_slot(m, old.from[i]) = old.to[i];
    free(old.from);
    free(old.to);
  }
  size_t h = ((uintptr_t)e >> 4) * 0x9E3779B97F4A7C15u;
  for (size_t i = h & (size_t)(m->cap - 1);; i = (i + 1) & (size_t)(m->cap - 1)) {
    if (m->from[i] == e) return &m->to[i];
    if (!m->from[i]) {
      m->from[i] = e;
      m->n++;
      return &m->to[i];
    }
  }
}

static void memo_free(memo *m) {
  free(m->from);
  free(m->to);
  memset(m, 0, sizeof *m);
}

typedef struct pair {
  kiln_kernel *k;
  int a, b;   /* the axes: b inside a */
  int64_t eb; /* b's extent */
  int pos[KILN_MAX_BUFS]; /* per buffer: the dim a's index is at, -1 where it is not read */
  memo seen;
} pair;

static bool is_var(const kiln_expr *e, int axis) { return e->kind == KX_VAR && e->axis == axis; }

/* Is every use of a and b in e a load's [.., a, b, ..] over a dim of b's extent, at one
 * position per buffer? Records the positions. */
static bool uses_ok(pair *p, const kiln_expr *e) {
  if (!e) return true;
  kiln_expr **done = memo_slot(&p->seen, e);
  if (*done) return true;
  *done = (kiln_expr *)e;
  if (e->kind == KX_VAR) return e->axis != p->a && e->axis != p->b;
  if (e->kind == KX_LOAD) {
    int at = -1;
    for (int d = 0; d + 1 < e->nidx && at < 0; d++)
      if (is_var(e->idx[d], p->a) && is_var(e->idx[d + 1], p->b)) at = d;
    if (at >= 0) {
      const kiln_buffer *B = &p->k->bufs[e->buf];
      if (B->dims[at + 1] != p->eb || B->dyn_dims[at] || B->dyn_dims[at + 1] ||
          (p->pos[e->buf] >= 0 && p->pos[e->buf] != at))
        return false;
      p->pos[e->buf] = at;
    }
    for (int d = 0; d < e->nidx; d++)
      if ((d != at && d != at + 1) || at < 0)
        if (!uses_ok(p, e->idx[d])) return false;
    return true;
  }
  return uses_ok(p, e->a) && uses_ok(p, e->b) && uses_ok(p, e->c);
}

static int axis_after(const pair *p, int axis) { return axis > p->b ? axis - 1 : axis; }

/* e with c = a * |b| + b in place of the pair: a's id for c, the axes after b one lower. */
static kiln_expr *rebuild(pair *p, const kiln_expr *e) {
  if (!e) return NULL;
  kiln_expr *done = *memo_slot(&p->seen, e);
  if (done) return done;
  kiln_kernel *k = p->k;
  kiln_expr *x = kiln_arena_alloc(&k->arena, sizeof *x);
  *x = *e;
  if (e->kind == KX_VAR) x->axis = axis_after(p, e->axis);
  if (e->kind == KX_LOAD) {
    int at = p->pos[e->buf];
    x->nidx = at >= 0 ? e->nidx - 1 : e->nidx;
    x->idx = kiln_arena_alloc(&k->arena, sizeof(kiln_expr *) * (size_t)(x->nidx ? x->nidx : 1));
    for (int d = 0, o = 0; d < e->nidx; d++, o++) {
      if (d != at) {
        x->idx[o] = rebuild(p, e->idx[d]);
        continue;
      }
      const kiln_buffer *B = &k->bufs[e->buf];
      x->idx[o] = is_var(e->idx[d], p->a) && is_var(e->idx[d + 1], p->b)
                      ? kx_var(k, axis_after(p, p->a))
                      : kx_add(k, kx_muli(k, rebuild(p, e->idx[d]), B->dims[d + 1]),
                               rebuild(p, e->idx[d + 1]));
      d++;
    }
  }
  x->a = rebuild(p, e->a);
  x->b = rebuild(p, e->b);
  x->c = rebuild(p, e->c);
  *memo_slot(&p->seen, e) = x; /* looked up again: the table may have grown meanwhile */
  return x;
}

static void merge_view(kiln_buffer *B, int at) {
  B->dims[at] *= B->dims[at + 1];
  for (int d = at + 1; d + 1 < B->rank; d++) {
    B->dims[d] = B->dims[d + 1];
    B->dyn_dims[d] = B->dyn_dims[d + 1];
  }
  B->rank--;
  B->dyn_dims[B->rank] = NULL;
}

/* Merges axes a and b (b inside a) in the n stages st[0..n) if every access allows it: in
 * stage i, spatial ones stored as its output's dims d[i], d[i] + 1, or reductions (d[i]
 * < 0). Several stages are a row kernel's, which share their axes; a buffer's view is
 * merged once, at one position for all of them. */
static bool try_merge(kiln_kernel *k, kiln_stage *st, int n, int a, int b, const int *d) {
  pair p = {.k = k, .a = a, .b = b, .eb = st[0].axes[b].extent};
  for (int i = 0; i < KILN_MAX_BUFS; i++) p.pos[i] = -1;
  bool ok = true;
  for (int i = 0; i < n && ok; i++) {
    const kiln_stage *s = &st[i];
    if (d[i] >= 0) {
      const kiln_buffer *O = &k->bufs[s->out_buf];
      int *at = &p.pos[s->out_buf];
      ok = O->dims[d[i] + 1] == p.eb && !O->dyn_dims[d[i]] && !O->dyn_dims[d[i] + 1] &&
           (*at < 0 || *at == d[i]);
      *at = d[i];
    }
    for (int j = 0; j < s->nout_idx && ok; j++)
      if (d[i] < 0 || (j != d[i] && j != d[i] + 1)) ok = uses_ok(&p, s->out_idx[j]);
    ok = ok && uses_ok(&p, s->value) && uses_ok(&p, s->init) && uses_ok(&p, s->post);
  }
  for (int i = 0; i < k->nbufs && ok; i++) { /* the merged views keep per-dim strides */
    if (p.pos[i] < 0) continue;
    kiln_buffer B = k->bufs[i];
    int64_t strides[KILN_MAX_RANK];
    merge_view(&B, p.pos[i]);
    ok = kiln_buffer_strides(&B, strides);
  }
  memo_free(&p.seen);
  if (!ok) return false;

  for (int i = 0; i < n; i++) { /* one memo for all: the stages may share expressions */
    kiln_stage *s = &st[i];
    kiln_expr *value = rebuild(&p, s->value), *init = rebuild(&p, s->init);
    kiln_expr *post = rebuild(&p, s->post);
    int nout = d[i] >= 0 ? s->nout_idx - 1 : s->nout_idx;
    kiln_expr **out = kiln_arena_alloc(&k->arena, sizeof(kiln_expr *) * (size_t)(nout ? nout : 1));
    for (int j = 0, o = 0; j < s->nout_idx; j++)
      if (d[i] < 0 || j != d[i] + 1)
        out[o++] = j == d[i] ? kx_var(k, axis_after(&p, a)) : rebuild(&p, s->out_idx[j]);
    s->value = value;
    s->init = init;
    s->post = post;
    s->out_idx = out;
    s->nout_idx = nout;
    s->axes[a].extent *= p.eb;
    memmove(&s->axes[b], &s->axes[b + 1], sizeof(kiln_axis) * (size_t)(s->naxes - b - 1));
    s->naxes--;
  }
  memo_free(&p.seen);
  for (int i = 0; i < k->nbufs; i++)
    if (p.pos[i] >= 0) merge_view(&k->bufs[i], p.pos[i]);
  return true;
}

/* The loads in e, counted up to 2 (a load shared in the DAG counts once per path: enough
 * to tell one load from several); *load gets one of them. */
static int loads(const kiln_expr *e, const kiln_expr **load) {
  if (!e) return 0;
  if (e->kind == KX_LOAD) {
    *load = e;
    int n = 1;
    for (int d = 0; d < e->nidx && n < 2; d++) n += loads(e->idx[d], load);
    return n;
  }
  int n = loads(e->a, load);
  if (n < 2) n += loads(e->b, load);
  if (n < 2) n += loads(e->c, load);
  return n;
}

/* e's only load; NULL when it has none or several. */
static const kiln_expr *sole_load(const kiln_expr *e) {
  const kiln_expr *x = NULL;
  return loads(e, &x) == 1 ? x : NULL;
}

/* A pair of reduction axes the stage's one load reads as adjacent dims; false if none. */
static bool reduction_pair(const kiln_stage *s, int *a, int *b) {
  const kiln_expr *x = s->reduce != KR_NONE ? sole_load(s->value) : NULL;
  if (!x) return false;
  for (int d = x->nidx - 2; d >= 0; d--) {
    const kiln_expr *i = x->idx[d], *j = x->idx[d + 1];
    if (i->kind == KX_VAR && j->kind == KX_VAR && i->axis != j->axis &&
        s->axes[i->axis].reduce && s->axes[j->axis].reduce) {
      *a = i->axis, *b = j->axis;
      return true;
    }
  }
  return false;
}

/* Stage s's output dim holding a, with b's next (-1 when a and b reduce); -2 when s uses
 * them otherwise (not the same kind, or not stored as adjacent dims). */
static int stored_at(const kiln_stage *s, int a, int b) {
  if (s->axes[a].reduce != s->axes[b].reduce || s->axes[a].dyn || s->axes[b].dyn) return -2;
  if (s->axes[a].reduce) return -1;
  for (int d = 0; d + 1 < s->nout_idx; d++)
    if (is_var(s->out_idx[d], a) && is_var(s->out_idx[d + 1], b)) return d;
  return -2;
}

/* A row kernel (kiln_kernel.row_axes): its stages share their axes, and a row's axes (the
 * others: reduced by the reductions, spatial in the stages around them) merge in every
 * stage at once, so an InstanceNormalization's row of H x W is one run LLVM vectorizes,
 * as a LayerNorm's is (Zen 5, 16 channels of 32 x 32: 7.3 -> 1.4 us, the UNet test
 * model 1.1x). */
static void coalesce_rows(kiln_kernel *k) {
  if (k->nstages > 64 || k->nsyms) return;
  int d[64], naxes = k->stages[0].naxes;
  for (int i = 0; i < k->nstages; i++)
    if (k->stages[i].naxes != naxes || k->stages[i].ordered || !k->stages[i].value) return;
  bool merged = false;
  for (int a = 0; a < naxes; a++)
    for (int b = 0; b < naxes; b++) {
      if (a == b || (k->row_axes >> a & 1) || (k->row_axes >> b & 1)) continue;
      bool fits = true;
      for (int i = 0; i < k->nstages && fits; i++) {
        d[i] = stored_at(&k->stages[i], a, b);
        fits = d[i] > -2 && k->stages[i].axes[a].extent == k->stages[0].axes[a].extent &&
               k->stages[i].axes[b].extent == k->stages[0].axes[b].extent;
      }
      if (!fits || !try_merge(k, k->stages, k->nstages, a, b, d)) continue;
      /* the row axes after b move down one */
      uint32_t low = k->row_axes & ((1u << b) - 1);
      k->row_axes = low | (k->row_axes >> (b + 1) << b);
      naxes--;
      merged = true;
      a = 0, b = -1; /* the axes shifted: all pairs again */
    }
  for (int i = 0; merged && i < k->nstages; i++) {
    k->stages[i].recipe.nsteps = 0;
    kiln_schedule_default(&k->stages[i]);
  }
}

static void coalesce_kernel(kiln_kernel *k) {
  if (k->row_axes && k->nstages > 1) {
    coalesce_rows(k);
    return;
  }
  if (k->nstages != 1 || k->row_axes || k->nsyms) return;
  kiln_stage *s = &k->stages[0];
  if (s->ordered || !s->value) return;
  for (int a = 0; a < s->naxes; a++)
    if (s->axes[a].dyn) return;
  /* a reduction over several operands (a GEMM, a convolution) keeps its axes: its default
   * schedules, CPU and GPU, are tiled for those */
  if (s->reduce != KR_NONE && !sole_load(s->value)) return;
  bool merged = false;
  for (int d = s->nout_idx - 2; d >= 0; d--) {
    const kiln_expr *oa = s->out_idx[d], *ob = s->out_idx[d + 1];
    if (oa->kind == KX_VAR && ob->kind == KX_VAR && oa->axis != ob->axis &&
        try_merge(k, s, 1, oa->axis, ob->axis, &d)) {
      merged = true;
      d = s->nout_idx - 1; /* the dims shifted: from the innermost again */
    }
  }
  /* a reduction of one tensor (a plain global pool: H and W as one run) */
  for (int a, b, none = -1; reduction_pair(s, &a, &b) && try_merge(k, s, 1, a, b, &none);)
    merged = true;
  if (merged) {
    s->recipe.nsteps = 0;
    kiln_schedule_default(s);
  }
}

void kiln_pass_coalesce(kiln_steps *steps) {
  for (int i = 0; i < steps->n; i++) {
    kiln_step *st = &steps->steps[i];
    kiln_steps *sub[2];
    int nl = kiln_step_lists(st, sub);
    for (int j = 0; j < nl; j++) kiln_pass_coalesce(sub[j]);
    if (st->kind == KILN_STEP_KERNEL) coalesce_kernel(st->kernel);
  }
}
