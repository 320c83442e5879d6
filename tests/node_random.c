/* What an ONNX node test of a random op can check: its expected outputs come from numpy's
 * generator, whose bits kiln does not reproduce, so only what the spec fixes is compared:
 * output count, dtypes and shapes, and each output's range by the op that writes it
 * (uniform in [low, high), Bernoulli in {0, 1}, Multinomial a class index, Dropout 0 or
 * x / (1 - ratio) and consistent with its mask). */
#include "node_test.h"

#include "ir/dtype.h"
#include "ir/op.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static bool block_random(const kiln_graph *g, const kiln_block *b) {
  for (int i = 0; i < b->nnodes; i++) {
    const kiln_node *n = &g->nodes[b->nodes[i]];
    if (n->op && (n->op->flags & KILN_OP_RANDOM)) return true;
    for (int a = 0; a < n->nattrs; a++) {
      const kiln_attr *at = &n->attrs[a];
      int nb = at->type == KILN_ATTR_GRAPH ? 1 : at->type == KILN_ATTR_GRAPHS ? at->count : 0;
      for (int j = 0; j < nb && at->graphs; j++)
        if (block_random(g, at->graphs[j])) return true;
    }
  }
  return false;
}

int node_test_is_random(const node_test *t) {
  kiln_graph *g = NULL;
  kiln_error err = {0};
  int r = kiln_onnx_import(t->model, t->model_size, t->dir, &g, &err) == KILN_OK &&
          block_random(g, &g->main);
  kiln_graph_free(g);
  return r;
}

/* The first element of value id as a double: a test input of that name or a constant;
 * dflt when id is -1 or neither. */
static double scalar(const node_test *t, const kiln_graph *g, int id, double dflt) {
  if (id < 0) return dflt;
  const kiln_value *v = &g->values[id];
  if (v->data) return kiln_load_f64(v->dtype, v->data, 0);
  for (int i = 0; i < t->ninputs; i++)
    if (t->input_names[i] && !strcmp(t->input_names[i], v->name) && t->inputs[i].data)
      return kiln_load_f64(t->inputs[i].dtype, t->inputs[i].data, 0);
  return dflt;
}

static const kiln_tensor *test_input(const node_test *t, const char *name) {
  for (int i = 0; i < t->ninputs; i++)
    if (t->input_names[i] && !strcmp(t->input_names[i], name)) return &t->inputs[i];
  return NULL;
}

static int graph_output(const kiln_graph *g, int id) {
  for (int i = 0; i < g->main.noutputs; i++)
    if (g->main.outputs[i] == id) return i;
  return -1;
}

static bool is_bool_op(const char *op) {
  static const char *const ops[] = {"Less", "Greater", "LessOrEqual", "GreaterOrEqual",
                                    "Equal", "Not", "And", "Or", "Xor"};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(op, ops[i])) return true;
  return false;
}

/* Dropout's output y (and mask m, NULL if not an output): each element 0 or x * scale, and
 * kept exactly where the mask is set. */
static int check_dropout(const node_test *t, const kiln_graph *g, const kiln_node *n,
                         const kiln_tensor *y, const kiln_tensor *m, char *why, size_t len) {
  const kiln_tensor *x = test_input(t, g->values[n->inputs[0]].name);
  bool training = scalar(t, g, n->ninputs > 2 ? n->inputs[2] : -1, 0) != 0;
  double ratio = scalar(t, g, n->ninputs > 1 ? n->inputs[1] : -1, 0.5);
  double scale = training ? 1 / (1 - ratio) : 1;
  for (int64_t i = 0, numel = kiln_shape_numel(y->rank, y->dims); x && i < numel; i++) {
    double v = kiln_load_f64(y->dtype, y->data, i);
    double kept = kiln_load_f64(x->dtype, x->data, i) * scale;
    bool is_kept = fabs(v - kept) <= 1e-7 + 1e-3 * fabs(kept), is_zero = v == 0;
    bool mask = m ? kiln_load_i64(m->dtype, m->data, i) != 0 : is_kept;
    if (!(is_kept || is_zero) || (mask ? !is_kept : !is_zero)) {
      snprintf(why, len, "Dropout element %lld: %.9g, mask %d, x * scale %.9g", (long long)i, v,
               mask, kept);
      return 0;
    }
  }
  return 1;
}

/* The range of output o by the op writing it (Dropout's output: check_dropout). */
static int check_range(const node_test *t, const kiln_graph *g, int o, const kiln_tensor *got,
                       char *why, size_t len) {
  int id = g->main.outputs[o], p = g->values[id].producer;
  if (p < 0) return 1;
  const kiln_node *n = &g->nodes[p];
  const char *op = n->op_type;
  double lo = -INFINITY, hi = INFINITY; /* [lo, hi) */
  bool integral = false;
  if (!strcmp(op, "RandomUniform") || !strcmp(op, "RandomUniformLike")) {
    lo = kiln_attr_float(n, "low", 0), hi = kiln_attr_float(n, "high", 1);
  } else if (!strcmp(op, "Bernoulli") ||
             (!strcmp(op, "Cast") && n->ninputs > 0 && g->values[n->inputs[0]].producer >= 0 &&
              is_bool_op(g->nodes[g->values[n->inputs[0]].producer].op_type))) {
    lo = 0, hi = 2, integral = true;
  } else if (!strcmp(op, "Multinomial")) {
    const kiln_tensor *x = test_input(t, g->values[n->inputs[0]].name);
    lo = 0, hi = x && x->rank == 2 ? (double)x->dims[1] : INFINITY, integral = true;
  }
  for (int64_t i = 0, numel = kiln_shape_numel(got->rank, got->dims); i < numel; i++) {
    double v = kiln_load_f64(got->dtype, got->data, i);
    if (!(v >= lo && v < hi) || isnan(v) || (integral && v != floor(v))) {
      snprintf(why, len, "output %d element %lld: %.9g outside [%g, %g)%s", o, (long long)i, v, lo,
               hi, integral ? " or not whole" : "");
      return 0;
    }
  }
  return 1;
}

int node_test_check_random(const node_test *t, const kiln_tensor *got, int ngot, char *why,
                           size_t len) {
  kiln_graph *g = NULL;
  kiln_error err = {0};
  int ok = 0;
  if (kiln_onnx_import(t->model, t->model_size, t->dir, &g, &err)) {
    snprintf(why, len, "%s", err.message);
    goto done;
  }
  if (ngot != t->noutputs || g->main.noutputs != t->noutputs) {
    snprintf(why, len, "%d outputs, expected %d", ngot, t->noutputs);
    goto done;
  }
  for (int o = 0; o < ngot; o++) {
    const kiln_tensor *w = &t->outputs[o], *y = &got[o];
    bool same = y->dtype == w->dtype && y->rank == w->rank;
    for (int d = 0; same && d < w->rank; d++) same = y->dims[d] == w->dims[d];
    if (!same) {
      snprintf(why, len, "output %d: %s of rank %d, expected %s of rank %d (or other dims)", o,
               kiln_dtype_name(y->dtype), y->rank, kiln_dtype_name(w->dtype), w->rank);
      goto done;
    }
    if (!check_range(t, g, o, y, why, len)) goto done;
    int p = g->values[g->main.outputs[o]].producer;
    const kiln_node *n = p >= 0 ? &g->nodes[p] : NULL;
    if (n && !strcmp(n->op_type, "Dropout") && n->outputs[0] == g->main.outputs[o]) {
      int mo = n->noutputs > 1 && n->outputs[1] >= 0 ? graph_output(g, n->outputs[1]) : -1;
      if (!check_dropout(t, g, n, y, mo >= 0 ? &got[mo] : NULL, why, len)) goto done;
    }
  }
  ok = 1;
done:
  kiln_graph_free(g);
  return ok;
}
