/* What fusion (passes/fuse.c) and row fusion (passes/fuse_rows.c) both ask: who reads a
 * value (before a kernel's output may become a temporary of a merged kernel), and how big
 * a fused expression has grown. */
#include "passes/passes.h"

bool kiln_kernel_reads(const kiln_kernel *k, int v) {
  for (int b = 0; b < k->nbufs; b++)
    if (k->bufs[b].role == KILN_BUF_INPUT && k->bufs[b].value == v) return true;
  return false;
}

int kiln_loop_read(const kiln_loop_step *l, int i) {
  const kiln_storage *one[3] = {&l->trip, &l->cond0, &l->cond_out};
  if (i < 3) return one[i]->kind != KILN_STORE_NONE && one[i]->index >= 0 ? one[i]->index : -1;
  return i - 3 < l->nmoves && l->moves[i - 3].src.index >= 0 ? l->moves[i - 3].src.index : -1;
}

bool kiln_steps_read(const kiln_steps *steps, int from, int to, const kiln_kernel *skip_a,
                     const kiln_kernel *skip_b, int v) {
  for (int s = from; s < to; s++) {
    const kiln_step *st = &steps->steps[s];
    if (st->kind == KILN_STEP_LOOP) {
      bool hit = false;
      for (int i = 0; i < st->loop->nmoves + 3; i++) hit |= kiln_loop_read(st->loop, i) == v;
      if (hit || kiln_steps_read(st->loop->body, 0, st->loop->body->n, skip_a, skip_b, v)) return true;
    } else if (st->kind == KILN_STEP_IF) {
      if (st->cond.index == v ||
          kiln_steps_read(st->then_steps, 0, st->then_steps->n, skip_a, skip_b, v) ||
          kiln_steps_read(st->else_steps, 0, st->else_steps->n, skip_a, skip_b, v))
        return true;
    } else if (st->kernel && st->kernel != skip_a && st->kernel != skip_b &&
               kiln_kernel_reads(st->kernel, v)) {
      return true;
    }
  }
  return false;
}

bool kiln_value_kept(const kiln_graph *g, int v) {
  if (v >= 0 && g->values[v].placed_in) return true;
  for (int j = 0; j < g->main.noutputs; j++)
    if (g->main.outputs[j] == v) return true;
  return false;
}

/* A transcendental function costs LLVM's polynomial of a dozen or more instructions. */
static int node_cost(const kiln_expr *x) {
  if (x->kind == KX_UNARY)
    switch (x->op) {
    case KU_EXP: case KU_LOG: case KU_TANH: case KU_ERF: case KU_SIN: case KU_COS:
    case KU_SIGMOID: case KU_TAN: case KU_ASIN: case KU_ACOS: case KU_ATAN: case KU_SINH:
    case KU_COSH: case KU_ASINH: case KU_ACOSH: case KU_ATANH:
      return 16;
    default:
      return 1;
    }
  return x->kind == KX_BINARY && x->op == KB_POW ? 16 : 1;
}

/* x walked as a tree, each node counted 1 or (weighted) its cost, up to just past budget. */
static int tree_walk(const kiln_expr *x, int budget, bool weighted) {
  if (!x || budget < 0) return 0;
  int n = weighted ? node_cost(x) : 1;
  for (int d = 0; x->kind == KX_LOAD && d < x->nidx && n <= budget; d++)
    n += tree_walk(x->idx[d], budget - n, weighted);
  if (n <= budget) n += tree_walk(x->a, budget - n, weighted);
  if (n <= budget) n += tree_walk(x->b, budget - n, weighted);
  if (n <= budget) n += tree_walk(x->c, budget - n, weighted);
  return n;
}

int kiln_expr_tree_size(const kiln_expr *x, int budget) { return tree_walk(x, budget, false); }

int kiln_expr_tree_cost(const kiln_expr *x, int budget) { return tree_walk(x, budget, true); }
