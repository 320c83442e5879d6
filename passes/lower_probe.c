/* Probes of a symbolic lowering below its points (passes/lower_dyn.h). The points start at
 * 23 (and move up for a kernel that changes form there), where every residue of a
 * division was seen; below them a window may stop overhanging or a dim become 1, and the
 * points' kernel is trusted at a size only where lowering the node there gives the same
 * kernel with its numbers at their expressions' values. */
#include "passes/lower_dyn.h"

#include "passes/passes.h"
#include "passes/sym_points.h"

#include <string.h>

typedef struct lower_probe {
  const kiln_node *n;
  const kiln_kernel *k0; /* lowered at point 0 */
  const dyn_nums *nums;
} lower_probe;

static const dyn_num *num_of(const dyn_nums *nums, const kiln_expr *e) {
  for (int i = 0; i < nums->n; i++)
    if (nums->v[i].e == e || nums->v[i].chk == e) return &nums->v[i];
  return NULL;
}

static int64_t eval_at(const kiln_symdim *x, const int64_t *vals) {
  int64_t v;
  return kiln_symdim_eval(x, vals, &v) ? v : INT64_MIN;
}

/* kp's tree equals k0's (the same nodes: expressions are pure, so how they share nodes
 * does not matter), each number of nums taking its dim expression's value at vals. An index
 * 0 where k0 reads an axis that runs once in kp (sp) is the same index: a lowering reads a
 * dim of size 1 as a broadcast. */
static bool probe_exprs(const dyn_nums *nums, const kiln_stage *sp, const kiln_expr *e0,
                        const kiln_expr *ep, const int64_t *vals) {
  if (!e0 || !ep) return !e0 && !ep;
  if (e0->kind == KX_VAR && ep->kind == KX_CONST && ep->dtype == e0->dtype && ep->i == 0 &&
      e0->axis < sp->naxes && sp->axes[e0->axis].extent == 1)
    return true;
  if (ep->kind != e0->kind || ep->dtype != e0->dtype || ep->op != e0->op ||
      ep->axis != e0->axis || ep->buf != e0->buf || ep->nidx != e0->nidx ||
      (e0->what && (!ep->what || strcmp(e0->what, ep->what))))
    return false;
  const dyn_num *u = num_of(nums, e0);
  if (u && !u->chk && u->fkind) {
    int64_t x = eval_at(&u->x, vals);
    if (ep->f != (u->fkind == 1 ? (double)x : (double)x / (double)eval_at(&u->y, vals)))
      return false;
  } else if (u ? ep->i != eval_at(&u->x, vals) : ep->i != e0->i) {
    return false;
  } else if (memcmp(&ep->f, &e0->f, sizeof ep->f)) {
    return false;
  }
  if (!probe_exprs(nums, sp, e0->a, ep->a, vals) || !probe_exprs(nums, sp, e0->b, ep->b, vals) ||
      !probe_exprs(nums, sp, e0->c, ep->c, vals))
    return false;
  for (int i = 0; e0->kind == KX_LOAD && i < e0->nidx; i++)
    if (!probe_exprs(nums, sp, e0->idx[i], ep->idx[i], vals)) return false;
  return true;
}

/* A buffer dim or loop extent of kp: k0's, or for a number of nums its value at vals. */
static bool probe_num(const dyn_nums *nums, int buf, int dim, int stage, int axis, int64_t n0,
                      int64_t np, const int64_t *vals) {
  for (int i = 0; i < nums->n; i++) {
    const dyn_num *u = &nums->v[i];
    if ((buf >= 0 && u->buf == buf && u->dim == dim) ||
        (stage >= 0 && u->stage == stage && u->axis == axis))
      return np == eval_at(&u->x, vals);
  }
  return np == n0;
}

static bool probe_kernel(const lower_probe *lp, const kiln_kernel *kp, const int64_t *vals) {
  const kiln_kernel *k0 = lp->k0;
  if (kp->nbufs != k0->nbufs || kp->nstages != k0->nstages || kp->row_axes != k0->row_axes ||
      kp->has_checks != k0->has_checks || kp->check_all != k0->check_all)
    return false;
  for (int b = 0; b < k0->nbufs; b++) {
    const kiln_buffer *b0 = &k0->bufs[b], *bp = &kp->bufs[b];
    if (bp->role != b0->role || bp->dtype != b0->dtype || bp->rank != b0->rank ||
        bp->value != b0->value || bp->row != b0->row || bp->pitch != b0->pitch)
      return false;
    for (int d = 0; d < b0->rank; d++)
      if (!probe_num(lp->nums, b, d, -1, -1, b0->dims[d], bp->dims[d], vals)) return false;
  }
  for (int s = 0; s < k0->nstages; s++) {
    const kiln_stage *s0 = &k0->stages[s], *sp = &kp->stages[s];
    if (sp->naxes != s0->naxes || sp->nout_idx != s0->nout_idx || sp->out_buf != s0->out_buf ||
        sp->reduce != s0->reduce || sp->ordered != s0->ordered ||
        strcmp(sp->name ? sp->name : "", s0->name ? s0->name : ""))
      return false;
    for (int a = 0; a < s0->naxes; a++)
      if (sp->axes[a].reduce != s0->axes[a].reduce ||
          !probe_num(lp->nums, -1, -1, s, a, s0->axes[a].extent, sp->axes[a].extent, vals))
        return false;
    if (!probe_exprs(lp->nums, sp, s0->value, sp->value, vals) ||
        !probe_exprs(lp->nums, sp, s0->init, sp->init, vals) ||
        !probe_exprs(lp->nums, sp, s0->post, sp->post, vals))
      return false;
    for (int r = 0; r < s0->nout_idx; r++)
      if (!probe_exprs(lp->nums, sp, s0->out_idx[r], sp->out_idx[r], vals)) return false;
  }
  return true;
}

static int lowering_holds(kiln_graph *g, void *ctx, const int64_t *vals) {
  const lower_probe *lp = ctx;
  int64_t saved[64][KILN_MAX_RANK];
  kiln_kernel *kp = NULL;
  kiln_error e = {0};
  kiln_sym_set_vals(g, lp->n, true, vals, saved);
  kiln_status st = kiln_lower_node_static(g, lp->n, &kp, &e);
  kiln_sym_restore(g, lp->n, true, saved);
  if (st) return KILN_PROBE_FAILS;
  bool holds = probe_kernel(lp, kp, vals);
  kiln_kernel_free(kp);
  return holds ? KILN_PROBE_HOLDS : KILN_PROBE_DIFFERS;
}

/* The syms a division reads that n's inputs read: their sizes below the points. (Any other
 * free dim runs the points' kernel at every size: its numbers are the dim's polynomials, and a
 * kernel lowered at size 1 would differ by taking it for a broadcast.) */
static uint32_t divided_mask(const kiln_graph *g, const kiln_node *n) {
  uint32_t m = kiln_sym_probed_mask(g, n), d = 0;
  for (int s = 0; s < g->nsyms; s++)
    if ((m >> s & 1) && kiln_sym_divided(g, s)) d |= 1u << s;
  return d;
}

void kiln_lower_probe(kiln_graph *g, const kiln_node *n, const kiln_kernel *k0,
                      const dyn_nums *nums) {
  lower_probe lp = {n, k0, nums};
  kiln_sym_probe(g, divided_mask(g, n), false, lowering_holds, &lp);
}
