/* Lowering a node with free dims (kiln_options.symbolic_dims). Op lowerings build kernels
 * from numbers; the node is lowered at the points of the syms (passes/sym_points.h) and
 * every buffer dim, loop extent and i64 constant of an expression (a window's bound) that
 * changes becomes the dim expression of the node's values (or one plus a constant) that
 * agrees at each point: a run-time extent (ir/kernel_dyn.c). The kernels must
 * otherwise be the same (their content hashes, with those numbers made equal, match), so a
 * lowering that folds a dim into anything else (a constant, a choice of stages) is refused
 * rather than run at the wrong size. Below the points, sizes of a sym a division reads are
 * probed the same way (lowering_holds). The kernel's extents and dims then hold their
 * hints, which schedules are sized by. */
#include "passes/passes.h"

#include "ir/dtype.h"
#include "ir/kernel_sig.h"
#include "ir/op.h"
#include "ir/schedule.h"
#include "passes/lower_dyn.h"
#include "passes/sym_points.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


static kiln_expr *dim_expr(kiln_kernel *k, const kiln_symdim *x) {
  kiln_expr *sum = NULL;
  for (int t = 0; t < x->nterms; t++) {
    kiln_expr *term = NULL;
    for (int s = 0; s < KILN_MAX_SYMS; s++)
      for (int p = 0; p < x->pow[t][s]; p++)
        term = term ? kx_mul(k, term, kx_dim(k, s)) : kx_dim(k, s);
    term = !term ? kx_idx(k, x->coef[t]) : x->coef[t] == 1 ? term : kx_muli(k, term, x->coef[t]);
    sum = sum ? kx_add(k, sum, term) : term;
  }
  return sum ? sum : kx_idx(k, 0);
}

static bool same_form(kiln_kernel *const *k) {
  for (int p = 1; p < KILN_SYM_NPOINTS; p++) {
    if (k[p]->nbufs != k[0]->nbufs || k[p]->nstages != k[0]->nstages) return false;
    for (int b = 0; b < k[0]->nbufs; b++)
      if (k[p]->bufs[b].rank != k[0]->bufs[b].rank) return false;
    for (int s = 0; s < k[0]->nstages; s++)
      if (k[p]->stages[s].naxes != k[0]->stages[s].naxes) return false;
  }
  return true;
}

static kiln_status refuse(const kiln_node *n, const char *why, kiln_error *err) {
  return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): its kernel %s; bind the free "
                   "dims (kiln_options.shapes, --shape)", n->name, n->op_type, why);
}

/* The number that takes at[p] at point p as a dim expression into nums; false if none. */
static bool add_num(const kiln_graph *g, const kiln_symdim *c, int nc, const int64_t *at,
                    dyn_num u, dyn_nums *nums) {
  if (!kiln_sym_match(g, c, nc, -1, at, true, &u.x)) return false;
  KILN_GROW(nums->v, nums->n, nums->cap);
  nums->v[nums->n++] = u;
  return true;
}

/* Walks the expressions e[p] of the points' kernels in step: an i64 constant that differs
 * becomes a number (its node in k[0]) and is made equal in k[1..]. 0, or 1 when the trees
 * differ in shape, 2 when a constant is no dim expression. */
static int find_exprs(const kiln_graph *g, const kiln_symdim *c, int nc, kiln_expr **e,
                       dyn_nums *nums) {
  if (!e[0]) {
    for (int p = 1; p < KILN_SYM_NPOINTS; p++)
      if (e[p]) return 1;
    return 0;
  }
  for (int p = 1; p < KILN_SYM_NPOINTS; p++)
    if (!e[p] || e[p]->kind != e[0]->kind || e[p]->nidx != e[0]->nidx) return 1;
  if (e[0]->kind == KX_CONST && e[0]->dtype == KILN_I64) {
    int64_t at[KILN_SYM_NPOINTS];
    bool same = true;
    for (int p = 0; p < KILN_SYM_NPOINTS; p++) same &= (at[p] = e[p]->i) == at[0];
    if (same) return 0;
    if (!add_num(g, c, nc, at, (dyn_num){-1, -1, -1, -1, e[0], {0}, NULL, 0, {0}}, nums)) return 2;
    for (int p = 1; p < KILN_SYM_NPOINTS; p++) e[p]->i = at[0];
    return 0;
  }
  if (e[0]->kind == KX_CONST && kiln_dtype_is_float(e[0]->dtype)) {
    double at[KILN_SYM_NPOINTS];
    bool same = true, whole = true;
    for (int p = 0; p < KILN_SYM_NPOINTS; p++) {
      same &= (at[p] = e[p]->f) == e[0]->f;
      whole &= at[p] == floor(at[p]) && fabs(at[p]) < 0x1p53;
    }
    if (same) return 0;
    dyn_num u = {-1, -1, -1, -1, e[0], {0}, NULL, 1, {0}};
    int64_t iat[KILN_SYM_NPOINTS];
    for (int p = 0; whole && p < KILN_SYM_NPOINTS; p++) iat[p] = (int64_t)at[p];
    if (whole && add_num(g, c, nc, iat, u, nums)) {
      /* a dim as a float (a count to divide by) */
    } else if (kiln_sym_match_ratio(g, c, nc, at, &u.x, &u.y)) {
      u.fkind = 2;
      KILN_GROW(nums->v, nums->n, nums->cap);
      nums->v[nums->n++] = u;
    } else {
      return 2;
    }
    for (int p = 1; p < KILN_SYM_NPOINTS; p++) e[p]->f = at[0];
    return 0;
  }
  if (e[0]->kind == KX_CHECK) {
    int64_t at[KILN_SYM_NPOINTS];
    bool same = true;
    for (int p = 0; p < KILN_SYM_NPOINTS; p++) same &= (at[p] = e[p]->i) == at[0];
    if (!same && !add_num(g, c, nc, at, (dyn_num){-1, -1, -1, -1, NULL, {0}, e[0], 0, {0}}, nums))
      return 2;
    for (int p = 1; p < KILN_SYM_NPOINTS; p++) e[p]->i = at[0];
  }
  kiln_expr *sub[KILN_SYM_NPOINTS];
  for (int i = -3; i < (e[0]->kind == KX_LOAD ? e[0]->nidx : 0); i++) {
    for (int p = 0; p < KILN_SYM_NPOINTS; p++)
      sub[p] = i == -3 ? e[p]->a : i == -2 ? e[p]->b : i == -1 ? e[p]->c : e[p]->idx[i];
    int r = find_exprs(g, c, nc, sub, nums);
    if (r) return r;
  }
  return 0;
}

/* Finds the numbers that change (as candidates c, or a candidate plus a constant), lists
 * them in nums and makes them equal in k[1..]. */
static kiln_status find_dyn(const kiln_graph *g, const kiln_node *n, kiln_kernel *const *k,
                            const kiln_symdim *c, int nc, dyn_nums *nums, kiln_error *err) {
  for (int b = 0; b < k[0]->nbufs; b++)
    for (int d = 0; d < k[0]->bufs[b].rank; d++) {
      int64_t at[KILN_SYM_NPOINTS];
      bool same = true;
      for (int p = 0; p < KILN_SYM_NPOINTS; p++)
        same &= (at[p] = k[p]->bufs[b].dims[d]) == at[0];
      if (same) continue;
      if (!add_num(g, c, nc, at, (dyn_num){b, d, -1, -1, NULL, {0}, NULL, 0, {0}}, nums))
        return refuse(n, "has a buffer dim that is no dim expression of its values", err);
      for (int p = 1; p < KILN_SYM_NPOINTS; p++) k[p]->bufs[b].dims[d] = at[0];
    }
  for (int s = 0; s < k[0]->nstages; s++) {
    for (int a = 0; a < k[0]->stages[s].naxes; a++) {
      int64_t at[KILN_SYM_NPOINTS];
      bool same = true;
      for (int p = 0; p < KILN_SYM_NPOINTS; p++)
        same &= (at[p] = k[p]->stages[s].axes[a].extent) == at[0];
      if (same) continue;
      if (!add_num(g, c, nc, at, (dyn_num){-1, -1, s, a, NULL, {0}, NULL, 0, {0}}, nums))
        return refuse(n, "has a loop extent that is no dim expression of its values", err);
      for (int p = 1; p < KILN_SYM_NPOINTS; p++) k[p]->stages[s].axes[a].extent = at[0];
    }
    kiln_expr *e[KILN_SYM_NPOINTS];
    int bad = 0;
    for (int r = -3; !bad && r < k[0]->stages[s].nout_idx; r++) {
      for (int p = 0; p < KILN_SYM_NPOINTS; p++) {
        const kiln_stage *st = &k[p]->stages[s];
        e[p] = r == -3 ? st->value : r == -2 ? st->init : r == -1 ? st->post
             : r < st->nout_idx ? st->out_idx[r] : NULL;
      }
      bad = find_exprs(g, c, nc, e, nums);
    }
    if (bad)
      return refuse(n, bad == 1 ? "changes form with the free dims' values"
                                : "has a number in its expressions that is no dim expression "
                                  "of its values", err);
  }
  return KILN_OK;
}

static bool same_content(kiln_kernel *const *k) {
  char h0[KILN_KERNEL_HASH_LEN + 1], h[KILN_KERNEL_HASH_LEN + 1];
  if (!kiln_kernel_hash(k[0], h0)) return false;
  for (int p = 1; p < KILN_SYM_NPOINTS; p++)
    if (!kiln_kernel_hash(k[p], h) || strcmp(h, h0)) return false;
  return true;
}

/* k reads g's syms from the run's dims (declared first unless k has them: NonZeroList's
 * lowering declares them itself). */
static void use_syms(const kiln_graph *g, kiln_kernel *k) {
  bool declared = k->nsyms;
  for (int s = 0; !declared && s < g->nsyms; s++) kiln_kernel_sym(k, g->sym_names[s], g->sym_hint[s]);
  k->bufs[k->dims_buf].storage = (kiln_storage){KILN_STORE_DIMS, 0, 0};
}

/* Axis ax runs x times at run time; its extent holds x at the hints (at least 1). */
static void dyn_extent(kiln_kernel *k, kiln_axis *ax, const kiln_symdim *x) {
  ax->dyn = dim_expr(k, x);
  ax->extent = kiln_dim_eval(ax->dyn, k->sym_hint);
  if (ax->extent < 1) ax->extent = 1;
}

/* Every stage's default nest, at the hints. */
static void reschedule(kiln_kernel *k) {
  for (int s = 0; s < k->nstages; s++) {
    k->stages[s].recipe.nsteps = 0;
    kiln_schedule_default(&k->stages[s]);
  }
}

/* k's numbers in nums become run-time extents holding their hints. */
static void make_dyn(const kiln_graph *g, kiln_kernel *k, const dyn_nums *nums) {
  use_syms(g, k);
  for (int i = 0; i < nums->n; i++) {
    const dyn_num *u = &nums->v[i];
    if (u->chk) {
      u->chk->b = dim_expr(k, &u->x);
      continue;
    }
    if (u->e && u->fkind) { /* a float: the dim, or the ratio of two, computed at run time */
      kiln_expr *v = kx_cast(k, dim_expr(k, &u->x), KILN_F64);
      if (u->fkind == 2) v = kx_binary(k, KB_DIV, v, kx_cast(k, dim_expr(k, &u->y), KILN_F64));
      *u->e = *(u->e->dtype == KILN_F64 ? v : kx_cast(k, v, u->e->dtype));
      continue;
    }
    if (u->e) { /* the constant's node becomes the expression's root */
      *u->e = *dim_expr(k, &u->x);
      continue;
    }
    if (u->buf >= 0) {
      kiln_buffer_dyn_dim(k, u->buf, u->dim, dim_expr(k, &u->x));
      continue;
    }
    dyn_extent(k, &k->stages[u->stage].axes[u->axis], &u->x);
  }
  reschedule(k);
}

/* A load of a shape computation's elements (kiln_value.sym_data), whose constant holds
 * their values at the hints, becomes their polynomials of the kernel's run-time dims: a
 * select over the element's flat index (a shape has a few elements). */
static void read_sym_data(const kiln_graph *g, kiln_kernel *k, kiln_expr *e) {
  if (!e) return;
  if (e->kind == KX_LOAD) {
    for (int d = 0; d < e->nidx; d++) read_sym_data(g, k, e->idx[d]);
    const kiln_buffer *b = &k->bufs[e->buf];
    if (b->role != KILN_BUF_INPUT || b->value < 0 || !kiln_value_has_sym_data(&g->values[b->value]))
      return;
    const kiln_value *v = &g->values[b->value];
    kiln_expr *flat = kx_idx(k, 0);
    for (int d = 0; d < e->nidx; d++) flat = kx_add(k, kx_muli(k, flat, b->dims[d]), e->idx[d]);
    int64_t m = kiln_value_numel(v);
    kiln_expr *r = NULL;
    for (int64_t i = m - 1; i >= 0; i--) {
      kiln_symdim x = kiln_value_sym_elem(g, v, i);
      kiln_expr *val = dim_expr(k, &x);
      if (v->dtype != KILN_I64) val = kx_cast(k, val, v->dtype);
      r = !r ? val : kx_select(k, kx_binary(k, KB_EQ, flat, kx_idx(k, i)), val, r);
    }
    if (r) *e = *r;
    return;
  }
  read_sym_data(g, k, e->a);
  read_sym_data(g, k, e->b);
  read_sym_data(g, k, e->c);
}

static bool loads_sym_data(const kiln_graph *g, const kiln_kernel *k) {
  for (int b = 0; b < k->nbufs; b++)
    if (k->bufs[b].role == KILN_BUF_INPUT && k->bufs[b].value >= 0 &&
        kiln_value_has_sym_data(&g->values[k->bufs[b].value]))
      return true;
  return false;
}

void kiln_kernel_read_sym_data(const kiln_graph *g, kiln_kernel *k) {
  if (!loads_sym_data(g, k)) return;
  kiln_lower_dims_buf(k, g);
  for (int s = 0; s < k->nstages; s++) {
    kiln_stage *st = &k->stages[s];
    read_sym_data(g, k, st->value);
    read_sym_data(g, k, st->init);
    read_sym_data(g, k, st->post);
    for (int d = 0; d < st->nout_idx; d++) read_sym_data(g, k, st->out_idx[d]);
  }
}

void kiln_kernel_dyn_copy(const kiln_graph *g, kiln_kernel *k, int in, int src, int out, int dst) {
  const kiln_value *s = &g->values[src], *d = &g->values[dst];
  if (!kiln_value_is_symbolic(s) && !kiln_value_is_symbolic(d)) return;
  use_syms(g, k);
  const kiln_value *v[2] = {s, d};
  int b[2] = {in, out};
  for (int j = 0; j < 2; j++) /* each buffer has its value's rank */
    for (int i = 0; i < v[j]->rank; i++) {
      kiln_symdim x = kiln_value_symdim(g, v[j], i);
      int64_t c;
      if (kiln_symdim_is_const(&x, &c)) continue;
      kiln_buffer_dyn_dim(k, b[j], i, dim_expr(k, &x));
      if (j == 1) dyn_extent(k, &k->stages[0].axes[i], &x); /* stage 0's axis i: dst's dim i */
    }
  reschedule(k);
}

kiln_kernel *kiln_kernel_set_dims(const kiln_graph *g, const char *name, const int *syms,
                                  const kiln_symdim *vals, const int64_t *caps, int n) {
  kiln_kernel *k = kiln_kernel_new(name);
  k->op = "SetDims";
  use_syms(g, k);
  for (int i = 0; i < n; i++) {
    kiln_stage *s = kiln_kernel_add_stage(k, "set_dim", k->dims_buf);
    s->ordered = true;
    kiln_stage_axis(s, 1, false);
    kiln_expr *slot = kx_idx(k, syms[i]), *x = dim_expr(k, &vals[i]);
    if (caps && caps[i] >= 0)
      x = kx_select(k, kx_binary(k, KB_LT, x, kx_idx(k, caps[i])), x, kx_idx(k, caps[i]));
    kiln_stage_store(k, s, &slot, x);
  }
  return k;
}

/* The node lowered at the points (moved up by g->sym_shift) into *out; *form when it was
 * refused for a kernel whose form or content changes between points. */
static kiln_status lower_at_points(const kiln_graph *g, const kiln_node *n, kiln_kernel **out,
                                   bool *form, kiln_error *err) {
  /* the node's values take each point's dims while it is lowered there, then their own */
  kiln_graph *mg = (kiln_graph *)g;
  kiln_kernel *k[KILN_SYM_NPOINTS] = {0};
  int64_t saved[64][KILN_MAX_RANK];
  *form = false;
  kiln_status st = KILN_OK;
  for (int p = 0; p < KILN_SYM_NPOINTS && !st; p++) {
    kiln_sym_set_point(mg, n, true, p, saved);
    st = kiln_lower_node_static(g, n, &k[p], err);
    kiln_sym_restore(mg, n, true, saved);
  }
  kiln_symdim *c = NULL;
  dyn_nums nums = {0};
  if (!st && !same_form(k)) {
    *form = true;
    st = refuse(n, "changes form with the free dims' values", err);
  }
  if (!st) {
    c = kiln_xmalloc(sizeof *c * KILN_SYM_MAX_CANDS);
    int nc = kiln_sym_candidates(g, n, true, c, KILN_SYM_MAX_CANDS);
    st = find_dyn(g, n, k, c, nc, &nums, err);
    *form = st != KILN_OK;
  }
  if (!st && !same_content(k)) {
    *form = true;
    st = refuse(n, "depends on the free dims' values beyond its loop extents and buffer dims", err);
  }
  if (!st) { /* sizes below the points where the kernel differs are refused at run time */
    kiln_lower_probe(mg, n, k[0], &nums);
  }
  if (!st) make_dyn(g, k[0], &nums);
  if (!st) kiln_kernel_read_sym_data(g, k[0]);
  for (int p = st ? 0 : 1; p < KILN_SYM_NPOINTS; p++) kiln_kernel_free(k[p]);
  free(c);
  free(nums.v);
  if (!st) *out = k[0];
  return st;
}

kiln_status kiln_lower_symbolic(const kiln_graph *g, const kiln_node *n, kiln_kernel **out,
                                kiln_error *err) {
  *out = NULL;
  if (g->nsyms > KILN_MAX_SYMS) return kiln_fail(err, KILN_ERR_INTERNAL, "too many syms");
  if (n->ninputs + n->noutputs > 64) return refuse(n, "has too many operands", err);
  bool divided = kiln_sym_any_divided(g), form;
  /* from where inference left the points (shapes that fail below it); moved up further
   * for a kernel that changes form at the least ones (ResNet-18's last stage is 1 x 1
   * pixels at 23 x 29 and 2 x 2 at 55 x 61) */
  kiln_graph *mg = (kiln_graph *)g;
  mg->sym_shift = g->sym_shift_infer;
  kiln_status st = lower_at_points(g, n, out, &form, err);
  mg->sym_shift = 0;
  for (int64_t shift = g->sym_shift_infer + 32;
       st && form && divided && shift <= KILN_SYM_MAX_SHIFT; shift += 32) {
    kiln_error e = {0};
    mg->sym_shift = shift;
    kiln_status s2 = lower_at_points(g, n, out, &form, &e);
    mg->sym_shift = 0;
    if (!s2) {
      if (err) memset(err, 0, sizeof *err);
      return KILN_OK;
    }
  }
  return st;
}
