/* Control flow. If is neither lowered nor expanded here: lowering turns it into a
 * KILN_STEP_IF holding both branches, and folding inlines the taken branch when the
 * condition is constant; only its shape inference lives in the op table (a dim its
 * branches give differently: a size the run computes). A Loop whose
 * carried values are tensors is compiled once and run as a loop (a CompiledLoop, ir/ops/
 * loop.c), and so is a Scan stacking along axis 0, as the equivalent Loop; other Loops and
 * Scans, and Loops computing constants only, are unrolled at compile time
 * (KILN_OP_RESOLVE): one copy of the body per iteration, so their trip counts (and a
 * Loop's condition) must be known when compiling. */
#include "ir/op.h"

#include "ir/dtype.h"
#include "ir/ops/loop.h"
#include "ir/ops/select.h"
#include "ir/ops/subgraph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const kiln_block *branch(const kiln_node *n, const char *name) {
  const kiln_attr *a = kiln_node_attr(n, name);
  return a && a->type == KILN_ATTR_GRAPH && a->graphs ? a->graphs[0] : NULL;
}

/* Dim d of If n's output i when its branches give it as tb and eb: that dim where they
 * agree, else a data sym (ir/symdim.h) that the taken branch writes into the run's dims
 * (passes/lower.c), planned at tb + eb, a bound of either (they never fall). */
static kiln_status branch_dim(kiln_graph *g, const kiln_node *n, int i, int d,
                              const kiln_symdim *tb, const kiln_symdim *eb, kiln_symdim *out,
                              kiln_error *err) {
  if (kiln_symdim_equal(tb, eb)) {
    *out = *tb;
    return KILN_OK;
  }
  kiln_symdim bound;
  if (kiln_graph_symdim_falls(g, tb) || kiln_graph_symdim_falls(g, eb) ||
      !kiln_symdim_add(tb, eb, &bound))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (If): output %d's dim %d differs "
                     "between its branches in a form kiln cannot bound", n->name, i, d);
  char *what = kiln_fmt("out%d_dim%d", i, d);
  int sym = kiln_select_data_sym(g, n, what, &bound, err);
  free(what);
  if (sym < 0) return err->code;
  *out = kiln_symdim_sym(sym);
  return KILN_OK;
}

/* Outputs take their types from their branches, which must agree on dtype and rank. A dim
 * they give differently (an empty result in one branch) becomes a size the run computes;
 * with a condition known when compiling, the taken branch's (folding then inlines it). */
static kiln_status infer_if(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_block *then_b = branch(n, "then_branch"), *else_b = branch(n, "else_branch");
  if (!then_b || !else_b)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): a branch is missing", n->name,
                     n->op_type);
  const kiln_value *cond = kiln_node_in(g, n, 0);
  if (kiln_value_numel(cond) != 1)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): condition '%s' must hold one element", n->name, n->op_type,
                     cond->name);
  if (then_b->noutputs != n->noutputs || else_b->noutputs != n->noutputs)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): branches yield %d and %d values, the node has %d outputs",
                     n->name, n->op_type, then_b->noutputs, else_b->noutputs, n->noutputs);
  int taken = -1; /* 1: then, 0: else, -1: known at run time only */
  if (cond->data) taken = kiln_load_f64(cond->dtype, cond->data, 0) != 0;
  for (int i = 0; i < n->noutputs; i++) {
    const kiln_value *t = &g->values[then_b->outputs[i]], *e = &g->values[else_b->outputs[i]];
    if (t->kind != KILN_KIND_TENSOR || e->kind != KILN_KIND_TENSOR) /* lists exist only at compile time */
      return kiln_need_value(g, n, cond, "a value (its branches yield sequences or optionals)", err);
    if (t->rank < 0 || e->rank < 0)
      return kiln_fail(err, KILN_ERR_INTERNAL,
                       "node '%s' (%s): branch output %d is not inferred", n->name, n->op_type, i);
    if (taken >= 0) {
      const kiln_value *v = taken ? t : e;
      kiln_symdim dims[KILN_MAX_RANK];
      for (int d = 0; d < v->rank; d++) dims[d] = kiln_value_symdim(g, v, d);
      if (kiln_set_out_sym(g, n, i, v->dtype, v->rank, dims, err)) return err->code;
      continue;
    }
    if (t->dtype != e->dtype || t->rank != e->rank) {
      char tb[128], eb[128];
      return kiln_fail(err, KILN_ERR_SHAPE,
                       "node '%s' (%s): output %d is %s in the then-branch but %s in the "
                       "else-branch (kiln needs one dtype and rank)",
                       n->name, n->op_type, i, kiln_value_type_str(t, tb, sizeof tb),
                       kiln_value_type_str(e, eb, sizeof eb));
    }
    kiln_symdim dims[KILN_MAX_RANK];
    for (int d = 0; d < t->rank; d++) {
      kiln_symdim td = kiln_value_symdim(g, t, d), ed = kiln_value_symdim(g, e, d);
      if (branch_dim(g, n, i, d, &td, &ed, &dims[d], err)) return err->code;
    }
    if (kiln_set_out_sym(g, n, i, t->dtype, t->rank, dims, err)) return err->code;
  }
  return KILN_OK;
}

/* ---- Loop: one iteration at a time ------------------------------------------------------
 * Each step inlines one copy of the body, then a Loop node for the rest, whose inputs are
 * the trip count, the copy's condition and carried values, and the scan outputs of every
 * iteration so far (attribute _iteration counts them). The rest's inputs are inferred and
 * folded before it is reached again, so a condition computed from constants is known. */

static kiln_status loop_finish(kiln_graph *g, kiln_block *b, int pos, int ncarried, int nscan,
                               int iters, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  for (int k = 0; k < nscan && !iters; k++)
    if (n->outputs[ncarried + k] >= 0)
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (Loop): it runs no iteration, so its "
                       "scan output '%s' has no known shape", n->name,
                       g->values[n->outputs[ncarried + k]].name);
  int nin = n->ninputs, nout = n->noutputs;
  int *ins = kiln_xmalloc(sizeof(int) * (size_t)nin), *outs = kiln_xmalloc(sizeof(int) * (size_t)nout);
  int *parts = kiln_xmalloc(sizeof(int) * (size_t)(iters + 1));
  memcpy(ins, n->inputs, sizeof(int) * (size_t)nin);
  memcpy(outs, n->outputs, sizeof(int) * (size_t)nout);
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, KILN_I64);
  for (int j = 0; j < ncarried; j++)
    if (outs[j] >= 0) kiln_ex_node1(&x, "Identity", &ins[2 + j], 1, outs[j], "final");
  for (int k = 0; k < nscan; k++) {
    if (outs[ncarried + k] < 0) continue;
    for (int i = 0; i < iters; i++)
      parts[i] = kiln_ex_binary(&x, "Unsqueeze", ins[2 + ncarried + i * nscan + k],
                                kiln_ex_int1(&x, 0), "scan");
    kiln_ex_node1(&x, "Concat", parts, iters, outs[ncarried + k], "stacked");
    kiln_ex_attr_i(&x, "axis", 0);
  }
  kiln_ex_end(&x);
  free(ins);
  free(outs);
  free(parts);
  return KILN_OK;
}

static kiln_status loop_step(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_block *body = kiln_subgraph(n, "body");
  int64_t done = kiln_attr_int(n, "_iteration", 0);
  if (kiln_loop_check(n, body, done, err)) return err->code;
  int ncarried = body->ninputs - 2, nscan = n->noutputs - ncarried;
  const kiln_value *cond = kiln_node_in(g, n, 1);
  if (done == 0 && !kiln_attr_int(n, "_unroll", 0) && !kiln_loop_folds(g, n, body, ncarried)) {
    bool tensors = true;
    for (int j = 0; j < ncarried; j++) {
      const kiln_value *v = kiln_node_in(g, n, 2 + j);
      tensors &= v && v->kind == KILN_KIND_TENSOR;
    }
    if (tensors) return kiln_loop_compile(g, b, pos);
  }
  int64_t trip = -1;
  if (kiln_need_fixed(g, n, 0, err) || kiln_need_fixed(g, n, 1, err)) return err->code;
  if (kiln_node_in(g, n, 0)) {
    int count = 0;
    if (kiln_const_ints(g, n, 0, &trip, 1, &count, err)) return err->code;
    if (count != 1)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (Loop): the trip count must "
                       "hold one value", n->name);
    if (done == 0 && trip > 0 && kiln_unroll_check(g, n, trip, body->nnodes, err)) return err->code;
  } else if (!cond) {
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (Loop): with neither a trip count "
                     "nor a condition it never ends", n->name);
  }
  if (cond && kiln_value_numel(cond) != 1)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (Loop): the condition '%s' must "
                     "hold one element", n->name, cond->name);
  if (cond && !cond->data && (trip < 0 || done < trip))
    return kiln_need_value(g, n, cond, "a value (the loop's condition)", err);
  bool go = (!cond || kiln_load_f64(cond->dtype, cond->data, 0) != 0) && (trip < 0 || done < trip);
  if (!go) return loop_finish(g, b, pos, ncarried, nscan, (int)done, err);
  if (kiln_unroll_check(g, n, done + 1, body->nnodes, err)) return err->code;

  int nin = n->ninputs, nout = n->noutputs;
  int *ins = kiln_xmalloc(sizeof(int) * (size_t)(nin + nscan));
  int *outs = kiln_xmalloc(sizeof(int) * (size_t)nout);
  int *args = kiln_xmalloc(sizeof(int) * (size_t)(ncarried + 2));
  int *res = kiln_xmalloc(sizeof(int) * (size_t)(nout + 1));
  memcpy(ins, n->inputs, sizeof(int) * (size_t)nin);
  memcpy(outs, n->outputs, sizeof(int) * (size_t)nout);
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, KILN_I64);
  snprintf(x.tag, sizeof x.tag, "%lld", (long long)done);
  double yes = 1;
  args[0] = kiln_ex_i64(&x, done, "iteration");
  args[1] = cond ? ins[1] : kiln_ex_const(&x, "cond", KILN_BOOL, 0, NULL, &yes);
  memcpy(args + 2, ins + 2, sizeof(int) * (size_t)ncarried);
  kiln_ex_inline(&x, body, args, res);
  /* the rest: trip count, this copy's condition and carried values, then every scan
   * output so far */
  ins[1] = res[0];
  memcpy(ins + 2, res + 1, sizeof(int) * (size_t)ncarried);
  memcpy(ins + nin, res + 1 + ncarried, sizeof(int) * (size_t)nscan);
  kiln_ex_node(&x, "Loop", ins, nin + nscan, outs, nout, "rest");
  kiln_ex_take_attrs(&x);
  kiln_node *rest = &g->nodes[x.last];
  free(rest->name);
  rest->name = kiln_xstrdup(x.name); /* not a longer name per iteration */
  kiln_attr *a = (kiln_attr *)kiln_node_attr(rest, "_iteration");
  if (!a) a = kiln_node_add_attr(rest, "_iteration", KILN_ATTR_INT);
  a->i = done + 1;
  kiln_ex_end(&x);
  free(ins);
  free(outs);
  free(args);
  free(res);
  return KILN_OK;
}

/* ---- Scan: the length is static (the scan inputs' dims) --------------------------------- */

typedef struct scan_info {
  const kiln_block *body;
  int nstate, nin, nout;       /* states, scan inputs, scan outputs */
  int64_t len;                 /* iterations (a free dim's hint when free) */
  bool free_len;               /* the length is a free dim: Shape of scan input 0 gives it */
  int64_t in_axis[32], in_rev[32], out_axis[32], out_rev[32];
} scan_info;

static kiln_status attr_list(const kiln_node *n, const char *name, int count, int64_t *out,
                             kiln_error *err) {
  const int64_t *v;
  int nv = kiln_attr_ints(n, name, &v);
  for (int i = 0; i < count; i++) out[i] = nv < 0 ? 0 : i < nv ? v[i] : -1;
  if (nv >= 0 && nv != count)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (Scan): '%s' has %d values, "
                     "expected %d", n->name, name, nv, count);
  return KILN_OK;
}

/* Emits one scan over states[] and scans[] (values); finals[] and stacked[] receive the
 * final states and the stacked scan outputs (given ids are written, -1 gets new ones). */
static void scan_emit(kiln_ex *x, const scan_info *s, const int *states, const int *scans,
                      int *finals, int *stacked) {
  int *args = kiln_xmalloc(sizeof(int) * (size_t)(s->nstate + s->nin + 1));
  int *res = kiln_xmalloc(sizeof(int) * (size_t)(s->nstate + s->nout + 1));
  int *parts = kiln_xmalloc(sizeof(int) * (size_t)(s->nout * s->len + 1));
  char tag[sizeof x->tag];
  memcpy(tag, x->tag, sizeof tag);
  memcpy(args, states, sizeof(int) * (size_t)s->nstate);
  for (int64_t t = 0; t < s->len; t++) {
    snprintf(x->tag, sizeof x->tag, "%.20s%s%lld", tag, tag[0] ? "/" : "", (long long)t);
    for (int i = 0; i < s->nin; i++) {
      int in[2] = {scans[i], kiln_ex_i64(x, s->in_rev[i] ? s->len - 1 - t : t, "at")};
      args[s->nstate + i] = kiln_ex_node1(x, "Gather", in, 2, -1, "slice");
      kiln_ex_attr_i(x, "axis", s->in_axis[i]);
    }
    kiln_ex_inline(x, s->body, args, res);
    memcpy(args, res, sizeof(int) * (size_t)s->nstate);
    for (int k = 0; k < s->nout; k++) parts[k * s->len + t] = res[s->nstate + k];
  }
  memcpy(x->tag, tag, sizeof tag);
  for (int j = 0; j < s->nstate; j++) finals[j] = kiln_ex_node1(x, "Identity", &args[j], 1, finals[j], "final");
  for (int k = 0; k < s->nout; k++) {
    int *p = &parts[k * s->len];
    for (int64_t t = 0; t < s->len; t++)
      p[t] = kiln_ex_binary(x, "Unsqueeze", p[t], kiln_ex_int1(x, s->out_axis[k]), "scan");
    for (int64_t t = 0; s->out_rev[k] && t < s->len / 2; t++) {
      int tmp = p[t];
      p[t] = p[s->len - 1 - t];
      p[s->len - 1 - t] = tmp;
    }
    stacked[k] = kiln_ex_node1(x, "Concat", p, (int)s->len, stacked[k], "stacked");
    kiln_ex_attr_i(x, "axis", s->out_axis[k]);
  }
  free(args);
  free(res);
  free(parts);
}

/* n's inputs then its outputs (malloc'd): n itself moves as nodes are added. */
static int *node_io(const kiln_node *n) {
  int *io = kiln_xmalloc(sizeof(int) * (size_t)(n->ninputs + n->noutputs + 1));
  memcpy(io, n->inputs, sizeof(int) * (size_t)n->ninputs);
  memcpy(io + n->ninputs, n->outputs, sizeof(int) * (size_t)n->noutputs);
  return io;
}

/* A Scan stacking every output along axis 0 as the equivalent Loop, which compiles once
 * (or unrolls): its trip count the length; its body Gathers each scan input's slice at the
 * iteration (len - 1 - i in reverse), runs the Scan's body and passes the condition on; a
 * reversed output is the stacked one read backwards (a Slice of step -1). */
static void scan_to_loop(kiln_graph *g, kiln_block *b, int pos, const scan_info *s,
                         const int *ins, const int *outs) {
  /* the trip count and last step: constants, or, along a free dim, shape computations
   * (the loop step then reads them at run time: ir/ops/loop.c) */
  kiln_ex y;
  kiln_ex_begin(&y, g, b, pos, KILN_I64);
  int trip, last_v;
  if (s->free_len) {
    int shape = kiln_ex_unary(&y, "Shape", ins[s->nstate], "shape");
    trip = kiln_ex_binary(&y, "Gather", shape, kiln_ex_scalar(&y, (double)s->in_axis[0], "axis"), "len");
    kiln_ex_attr_i(&y, "axis", 0);
    last_v = kiln_ex_binary(&y, "Sub", trip, kiln_ex_scalar(&y, 1, "one"), "last");
  } else {
    trip = kiln_ex_i64(&y, s->len, "len");
    last_v = kiln_ex_i64(&y, s->len - 1, "last");
  }
  kiln_block *nb = kiln_block_new();
  kiln_ex x;
  kiln_ex_into(&x, g, nb, g->nodes[b->nodes[pos]].name, KILN_I64);
  int nparams = 2 + s->nstate;
  nb->ninputs = nparams;
  nb->inputs = kiln_xmalloc(sizeof(int) * (size_t)nparams);
  nb->inputs[0] = kiln_ex_value(&x, "i");
  nb->inputs[1] = kiln_ex_value(&x, "cond");
  int *args = kiln_xmalloc(sizeof(int) * (size_t)(s->nstate + s->nin + 1));
  int *res = kiln_xmalloc(sizeof(int) * (size_t)(s->nstate + s->nout + 1));
  for (int j = 0; j < s->nstate; j++) args[j] = nb->inputs[2 + j] = kiln_ex_value(&x, "state");
  for (int k = 0; k < s->nin; k++) {
    int at = nb->inputs[0];
    if (s->in_rev[k]) at = kiln_ex_binary(&x, "Sub", last_v, at, "at");
    int in[2] = {ins[s->nstate + k], at};
    args[s->nstate + k] = kiln_ex_node1(&x, "Gather", in, 2, -1, "slice");
    kiln_ex_attr_i(&x, "axis", s->in_axis[k]);
  }
  kiln_ex_inline(&x, s->body, args, res);
  nb->noutputs = 1 + s->nstate + s->nout;
  nb->outputs = kiln_xmalloc(sizeof(int) * (size_t)nb->noutputs);
  nb->outputs[0] = kiln_ex_node1(&x, "Identity", &nb->inputs[1], 1, -1, "cond");
  memcpy(nb->outputs + 1, res, sizeof(int) * (size_t)(s->nstate + s->nout));
  kiln_ex_end(&x);

  int nin = 2 + s->nstate, nout = s->nstate + s->nout;
  int *lin = kiln_xmalloc(sizeof(int) * (size_t)nin), *lout = kiln_xmalloc(sizeof(int) * (size_t)(nout + 1));
  lin[0] = trip;
  lin[1] = -1;
  memcpy(lin + 2, ins, sizeof(int) * (size_t)s->nstate);
  memcpy(lout, outs, sizeof(int) * (size_t)nout);
  for (int k = 0; k < s->nout; k++)
    if (s->out_rev[k]) lout[s->nstate + k] = -1;
  kiln_ex_node(&y, "Loop", lin, nin, lout, nout, "loop");
  kiln_attr *body = kiln_node_add_attr(&g->nodes[y.last], "body", KILN_ATTR_GRAPH);
  body->graphs = kiln_xcalloc(2, sizeof(kiln_block *));
  body->graphs[0] = nb;
  body->count = 1;
  for (int k = 0; k < s->nout; k++) {
    if (!s->out_rev[k]) continue;
    const int64_t start = -1, end = INT64_MIN, axis = 0, step = -1;
    int in[5] = {lout[s->nstate + k], kiln_ex_ints(&y, 1, &start), kiln_ex_ints(&y, 1, &end),
                 kiln_ex_ints(&y, 1, &axis), kiln_ex_ints(&y, 1, &step)};
    kiln_ex_node1(&y, "Slice", in, 5, outs[s->nstate + k], "reversed");
  }
  kiln_ex_end(&y);
  free(lin);
  free(lout);
  free(args);
  free(res);
}

/* Scan. Models of opset 8 carry a batch axis first (and sequence_lens, which kiln refuses):
 * each batch element runs its own scan, the results are stacked. */
static kiln_status scan_expand(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  bool batched = g->opset < 9;
  scan_info s = {.body = kiln_subgraph(n, "body")};
  int first = batched ? 1 : 0;
  s.nin = (int)kiln_attr_int(n, "num_scan_inputs", 0);
  s.nstate = n->ninputs - first - s.nin;
  s.nout = n->noutputs - s.nstate;
  if (!s.body || s.nin < 1 || s.nstate < 0 || s.nout < 0 || s.nin > 32 || s.nout > 32 ||
      s.body->ninputs != s.nstate + s.nin || s.body->noutputs != n->noutputs)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (Scan): the body must take %d "
                     "states and scan inputs and yield the node's %d outputs", n->name,
                     n->ninputs - first, n->noutputs);
  if (batched && kiln_node_in(g, n, 0))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (Scan): sequence_lens is not supported",
                     n->name);
  if (attr_list(n, batched ? "directions" : "scan_input_directions", s.nin, s.in_rev, err) ||
      attr_list(n, "scan_input_axes", s.nin, s.in_axis, err) ||
      attr_list(n, "scan_output_directions", s.nout, s.out_rev, err) ||
      attr_list(n, "scan_output_axes", s.nout, s.out_axis, err))
    return err->code;
  int64_t batch = -1;
  kiln_symdim len0 = kiln_symdim_const(0);
  for (int i = 0; i < n->ninputs - first; i++) {
    const kiln_value *v = kiln_node_in(g, n, first + i);
    if (!v || v->kind != KILN_KIND_TENSOR || v->rank < (batched ? 1 : 0) + (i >= s.nstate))
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (Scan): input %d must be a "
                       "tensor of rank %d or more", n->name, first + i, (batched ? 1 : 0) + (i >= s.nstate));
    if (batched && batch >= 0 && v->dims[0] != batch)
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (Scan): input '%s' has batch %lld, "
                       "expected %lld", n->name, v->name, (long long)v->dims[0], (long long)batch);
    if (batched) batch = v->dims[0];
    if (i < s.nstate) continue;
    int k = i - s.nstate, axis;
    if (kiln_norm_axis(n, s.in_axis[k], v->rank - batched, &axis, err)) return err->code;
    s.in_axis[k] = axis;
    int64_t len = v->dims[axis + batched];
    kiln_symdim steps = kiln_value_symdim(g, v, axis + batched);
    if (k > 0 && !kiln_symdim_equal(&steps, &len0))
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (Scan): scan input '%s' has %lld "
                       "steps, the first %lld", n->name, v->name, (long long)len, (long long)s.len);
    s.len = len;
    s.free_len = v->sym[axis + batched] != 0;
    len0 = steps;
  }
  bool axis0 = !batched;
  for (int k = 0; k < s.nout; k++) axis0 &= s.out_axis[k] == 0;
  if (axis0) { /* run as a Loop (compiled once) */
    int *io = node_io(n);
    scan_to_loop(g, b, pos, &s, io, io + n->ninputs);
    free(io);
    return KILN_OK;
  }
  if (s.free_len)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (Scan): its length is a free dim, "
                     "and a Scan with a batch axis or an output stacked along another axis than "
                     "0 is unrolled when compiling: bind it (kiln_options.shapes, --shape)",
                     n->name);
  if (!s.len && s.nout)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (Scan): it runs no iteration, so its scan "
                     "outputs have no known shape", n->name);
  int64_t iters = s.len > KILN_MAX_SEQ_LEN || batch > KILN_MAX_SEQ_LEN ? INT64_MAX
                : s.len * (batched ? batch : 1); /* no overflow from hostile dims */
  if (kiln_unroll_check(g, n, iters, s.body->nnodes, err)) return err->code;
  int *io = node_io(n);
  const int *ins = io + first, *outs = io + n->ninputs;
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, KILN_I64);
  if (!batched) {
    int *res = kiln_xmalloc(sizeof(int) * (size_t)(s.nstate + s.nout + 1));
    memcpy(res, outs, sizeof(int) * (size_t)(s.nstate + s.nout));
    scan_emit(&x, &s, ins, ins + s.nstate, res, res + s.nstate);
    free(res);
  } else {
    int nall = s.nstate + s.nout, nins = s.nstate + s.nin;
    int *per = kiln_xmalloc(sizeof(int) * (size_t)(nall * batch + 1));
    int *sl = kiln_xmalloc(sizeof(int) * (size_t)(nins + 1));
    for (int64_t bi = 0; bi < batch; bi++) {
      int idx = kiln_ex_i64(&x, bi, "batch");
      for (int i = 0; i < nins; i++) {
        int in[2] = {ins[i], idx};
        sl[i] = kiln_ex_node1(&x, "Gather", in, 2, -1, "batch");
        kiln_ex_attr_i(&x, "axis", 0);
      }
      int *r = &per[bi * nall];
      for (int j = 0; j < nall; j++) r[j] = -1;
      snprintf(x.tag, sizeof x.tag, "b%lld", (long long)bi);
      scan_emit(&x, &s, sl, sl + s.nstate, r, r + s.nstate);
      x.tag[0] = 0;
    }
    int *p = kiln_xmalloc(sizeof(int) * (size_t)(batch + 1));
    for (int j = 0; j < nall; j++) {
      for (int64_t bi = 0; bi < batch; bi++)
        p[bi] = kiln_ex_binary(&x, "Unsqueeze", per[bi * nall + j], kiln_ex_int1(&x, 0), "batched");
      kiln_ex_node1(&x, "Concat", p, (int)batch, outs[j], "batches");
      kiln_ex_attr_i(&x, "axis", 0);
    }
    free(p);
    free(per);
    free(sl);
  }
  kiln_ex_end(&x);
  free(io);
  return KILN_OK;
}

static const kiln_attr_spec if_attrs[] = {
    {"then_branch", KILN_ATTR_GRAPH, true},
    {"else_branch", KILN_ATTR_GRAPH, true},
    {NULL},
};

static const kiln_attr_spec loop_attrs[] = {
    {"body", KILN_ATTR_GRAPH, true},
    {"_iteration", KILN_ATTR_INT, false}, /* iterations unrolled so far */
    {"_unroll", KILN_ATTR_INT, false},    /* 1: compiling it once failed */
    {NULL},
};

static const kiln_attr_spec scan_attrs[] = {
    {"body", KILN_ATTR_GRAPH, true},
    {"num_scan_inputs", KILN_ATTR_INT, true},
    {"scan_input_axes", KILN_ATTR_INTS, false},
    {"scan_input_directions", KILN_ATTR_INTS, false},
    {"scan_output_axes", KILN_ATTR_INTS, false},
    {"scan_output_directions", KILN_ATTR_INTS, false},
    {"directions", KILN_ATTR_INTS, false}, /* opset 8 */
    {NULL},
};

const kiln_op_def kiln_ops_control[] = {
    {"If", 1, 1, 1, -1, if_attrs, infer_if, NULL, NULL, KILN_OP_DATA_DIMS},
    /* M and cond are optional (their slots may be empty): loop_step checks the count */
    {"Loop", 0, -1, 1, -1, loop_attrs, kiln_infer_resolved, NULL, loop_step, KILN_OP_RESOLVE},
    {"Scan", 0, -1, 1, -1, scan_attrs, kiln_infer_resolved, NULL, scan_expand, KILN_OP_RESOLVE},
    {NULL},
};
