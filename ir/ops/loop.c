/* A Loop compiled once and run as a loop (ir/ops/loop.h): the CompiledLoop op, which
 * lowering makes a KILN_STEP_LOOP (passes/lower.c). The Loop node becomes a CompiledLoop whose body is a copy of the Loop's, its parameters typed
 * as the iteration (i64), the condition (bool) and the initial carried values. Inference
 * then infers the body and checks that every carried value keeps its type from one
 * iteration to the next. Where it cannot be compiled so (a carried value changes shape, a
 * node needs a value an iteration would give: any inference error), inference calls the
 * CompiledLoop's `expand`, which turns it back into the Loop, body as imported (kept in
 * `_source`), to be unrolled. */
#include "ir/ops/loop.h"

#include "ir/dtype.h"
#include "ir/ops/select.h"
#include "ir/ops/subgraph.h"

#include <stdlib.h>
#include <string.h>

/* Removes attribute `name` of n, freeing what it holds. */
static void drop_attr(kiln_node *n, const char *name) {
  for (int a = 0; a < n->nattrs; a++) {
    if (strcmp(n->attrs[a].name, name) != 0) continue;
    kiln_attr_clear(&n->attrs[a]);
    memmove(&n->attrs[a], &n->attrs[a + 1], sizeof(kiln_attr) * (size_t)(n->nattrs - a - 1));
    n->nattrs--;
    return;
  }
}

static void type_param(kiln_graph *g, int id, const kiln_value *like, kiln_dtype t) {
  kiln_value *p = &g->values[id];
  p->kind = KILN_KIND_TENSOR;
  p->dtype = like ? like->dtype : t;
  p->rank = like ? like->rank : 0;
  for (int d = 0; d < p->rank; d++) {
    p->dims[d] = like->dims[d];
    p->sym[d] = like->sym[d];
  }
}

/* The loop step reads its inputs from memory, so an input whose data is a shape
 * computation (kiln_value.sym_data: right at the hints only, a trip count of Shape) goes
 * through a RunValue node inserted before the loop, which computes it at run time. */
static void run_values(kiln_graph *g, kiln_block *b, int pos) {
  int id = b->nodes[pos];
  for (int i = 0; i < g->nodes[id].ninputs; i++) {
    int in = g->nodes[id].inputs[i];
    if (in < 0 || !kiln_value_has_sym_data(&g->values[in]) || kiln_value_is_symbolic(&g->values[in]))
      continue;
    char *name = kiln_fmt("%s/%s", g->nodes[id].name, g->values[in].name);
    int out = kiln_graph_add_value(g, name);
    kiln_graph_insert_node(g, b, pos++, "RunValue", name, &in, 1, &out, 1);
    free(name);
    g->nodes[id].inputs[i] = out;
  }
}

kiln_status kiln_loop_compile(kiln_graph *g, kiln_block *b, int pos) {
  int id = b->nodes[pos];
  run_values(g, b, pos);
  kiln_block *orig = kiln_subgraph(&g->nodes[id], "body");
  kiln_block *copy = kiln_block_copy(g, orig, g->nodes[id].name); /* nodes and values move */
  kiln_node *n = &g->nodes[id];
  ((kiln_attr *)kiln_node_attr(n, "body"))->graphs[0] = copy;
  kiln_attr *src = kiln_node_add_attr(n, "_source", KILN_ATTR_GRAPH);
  src->graphs = kiln_xcalloc(2, sizeof(kiln_block *));
  src->graphs[0] = orig;
  src->count = 1;
  type_param(g, copy->inputs[0], NULL, KILN_I64);
  type_param(g, copy->inputs[1], NULL, KILN_BOOL);
  for (int j = 2; j < copy->ninputs; j++) type_param(g, copy->inputs[j], kiln_node_in(g, n, j), KILN_F32);
  n->op = kiln_op_find("CompiledLoop");
  return KILN_OK;
}

kiln_status kiln_loop_check(const kiln_node *n, const kiln_block *body, int64_t done,
                            kiln_error *err) {
  int ncarried = body ? body->ninputs - 2 : -1, nscan = n->noutputs - ncarried;
  if (!body || ncarried < 0 || nscan < 0 || body->noutputs != 1 + n->noutputs || done < 0 ||
      done > KILN_MAX_SEQ_LEN || n->ninputs != 2 + ncarried + done * nscan)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): the body must take the "
                     "iteration, the condition and the %d carried values, and yield the "
                     "condition and the node's %d outputs", n->name, n->op_type,
                     n->ninputs - 2, n->noutputs);
  return KILN_OK;
}

/* Does the body's condition output stay true: the constant true, or its condition
 * parameter passed on (through Identities), with an initial condition that is true? */
static bool cond_stays(const kiln_graph *g, const kiln_node *n, const kiln_block *body) {
  const kiln_value *c0 = kiln_node_in(g, n, 1);
  int v = body->outputs[0];
  for (;;) {
    const kiln_value *val = &g->values[v];
    if (val->data) return kiln_load_f64(val->dtype, val->data, 0) != 0;
    if (v == body->inputs[1]) return !c0 || (c0->data && kiln_load_f64(c0->dtype, c0->data, 0) != 0);
    if (val->producer < 0) return false;
    const kiln_node *p = &g->nodes[val->producer];
    if (strcmp(p->op_type, "Identity") != 0 || p->ninputs < 1 || p->inputs[0] < 0) return false;
    v = p->inputs[0];
  }
}

/* A bound on a trip count computed at run time by RunValue from a shape computation: that
 * polynomial of the free dims, or the bound of the count it is (NonZero's); false for
 * another one (a count inside a larger polynomial). */
static bool run_trip_bound(const kiln_graph *g, const kiln_value *trip, kiln_symdim *bound) {
  const kiln_node *p = trip && trip->producer >= 0 ? &g->nodes[trip->producer] : NULL;
  if (!p || !p->op || !(p->op->flags & KILN_OP_AT_RUN)) return false;
  const kiln_value *src = kiln_node_in(g, p, 0);
  if (!src || !kiln_value_has_sym_data(src)) return false;
  kiln_symdim x = kiln_value_sym_elem(g, src, 0);
  int s = kiln_graph_data_sym_of(g, &x);
  if (s >= 0) return *bound = g->sym_def[s].num, true;
  for (int t = 0; t < g->nsyms; t++)
    if (g->sym_def[t].den == KILN_SYMDIV_DATA && kiln_symdim_uses(&x, t)) return false;
  return *bound = x, true;
}

static kiln_status infer_compiled_loop(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_block *body = kiln_subgraph(n, "body");
  if (kiln_loop_check(n, body, 0, err)) return err->code;
  int ncarried = body->ninputs - 2, nscan = n->noutputs - ncarried;
  const kiln_value *trip = kiln_node_in(g, n, 0), *c0 = kiln_node_in(g, n, 1);
  for (int i = 0; i < n->ninputs; i++) { /* (KILN_OP_DATA_DIMS: infer_sym.c does not look) */
    const kiln_value *v = kiln_node_in(g, n, i);
    if (v && (kiln_value_is_symbolic(v) || kiln_value_has_sym_data(v)))
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (Loop): input '%s' has free dims, "
                       "which a loop run at run time does not take", n->name, v->name);
  }
  /* the loop step reads an i64 and bools (ONNX's types for them) */
  if (trip && (kiln_value_numel(trip) != 1 || trip->dtype != KILN_I64))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (Loop): the trip count '%s' must "
                     "be one i64", n->name, trip->name);
  if (c0 && (kiln_value_numel(c0) != 1 || c0->dtype != KILN_BOOL))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (Loop): the condition '%s' must "
                     "be one bool", n->name, c0->name);
  const kiln_value *c = &g->values[body->outputs[0]];
  if (c->kind != KILN_KIND_TENSOR || kiln_value_numel(c) != 1 || c->dtype != KILN_BOOL)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (Loop): the body's condition "
                     "output '%s' must be one bool", n->name, c->name);
  for (int j = 0; j < ncarried; j++) {
    const kiln_value *in = &g->values[body->inputs[2 + j]], *out = &g->values[body->outputs[1 + j]];
    if (out->kind != KILN_KIND_TENSOR || out->dtype != in->dtype || out->rank != in->rank ||
        memcmp(out->dims, in->dims, sizeof(int64_t) * (size_t)in->rank) != 0 ||
        memcmp(out->sym, in->sym, sizeof(int) * (size_t)in->rank) != 0) {
      char ib[128], ob[128];
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (Loop): carried value '%s' is %s on "
                       "entry and %s after an iteration", n->name, in->name,
                       kiln_value_type_str(in, ib, sizeof ib), kiln_value_type_str(out, ob, sizeof ob));
    }
    kiln_set_out(g, n, j, in->dtype, in->rank, in->dims);
  }
  /* scan outputs: as many slices as iterations, known when compiling (a constant trip
   * count and a condition that stays true) or a size the run computes (a data sym, the
   * loop step stores it: passes/lower.c), at most the constant trip count */
  int64_t iters = -1;
  int count = -1;
  if (nscan > 0) {
    bool stays = cond_stays(g, n, body);
    iters = trip && trip->data ? kiln_load_i64(trip->dtype, trip->data, 0) : -1;
    if (iters < 0 && trip && trip->data) iters = 0;
    kiln_symdim bound;
    if (iters < 0 && run_trip_bound(g, trip, &bound)) { /* as many as the run's trip count */
      if ((count = kiln_select_data_sym(g, n, "iterations", &bound, err)) < 0) return err->code;
      iters = g->sym_hint[count];
    } else if (iters < 0 || (!stays && iters < 3))
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (Loop): its scan outputs need a "
                       "constant trip count (of at least 3 where the condition may end the "
                       "loop early, or a condition that stays true)", n->name);
    else if (!stays) {
      bound = kiln_symdim_const(iters);
      if ((count = kiln_select_data_sym(g, n, "iterations", &bound, err)) < 0) return err->code;
      iters = g->sym_hint[count];
    }
  }
  for (int k = 0; k < nscan; k++) {
    const kiln_value *s = &g->values[body->outputs[1 + ncarried + k]];
    if (s->kind != KILN_KIND_TENSOR || s->rank + 1 > KILN_MAX_RANK || kiln_value_is_symbolic(s))
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (Loop): scan output '%s' must "
                       "be a tensor of rank below %d, of static shape", n->name, s->name,
                       KILN_MAX_RANK);
    int64_t dims[KILN_MAX_RANK];
    dims[0] = iters;
    memcpy(dims + 1, s->dims, sizeof(int64_t) * (size_t)s->rank);
    kiln_set_out(g, n, ncarried + k, s->dtype, s->rank + 1, dims);
    kiln_value *v = count >= 0 ? kiln_node_out(g, n, ncarried + k) : NULL;
    kiln_symdim it = count >= 0 ? kiln_symdim_sym(count) : kiln_symdim_const(0);
    if (v && !kiln_value_set_symdim(g, v, 0, &it))
      return kiln_fail(err, KILN_ERR_INTERNAL, "node '%s' (Loop): scan output '%s' has no "
                       "size", n->name, v->name);
  }
  drop_attr(n, "_source"); /* compiled: the imported body is no longer needed */
  return KILN_OK;
}

/* The fallback: back to the Loop as imported, to be unrolled (whose errors name the values
 * unrolling needs, which kiln_options.values may bind). */
static kiln_status loop_uncompile(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  kiln_node *n = &g->nodes[b->nodes[pos]];
  kiln_attr *src = (kiln_attr *)kiln_node_attr(n, "_source");
  if (!kiln_node_attr(n, "body") || !src || !src->graphs || !src->graphs[0])
    return kiln_fail(err, KILN_ERR_INTERNAL, "node '%s' (Loop): no body to unroll", n->name);
  for (int i = 0; i < n->ninputs; i++) { /* unrolling reads the values themselves */
    const kiln_value *v = kiln_node_in(g, n, i);
    const kiln_node *p = v && v->producer >= 0 ? &g->nodes[v->producer] : NULL;
    if (p && p->op && (p->op->flags & KILN_OP_AT_RUN)) n->inputs[i] = p->inputs[0];
  }
  kiln_block *orig = src->graphs[0];
  src->graphs[0] = NULL;
  drop_attr(n, "_source");
  kiln_attr *body = (kiln_attr *)kiln_node_attr(n, "body");
  kiln_block_free(body->graphs[0]);
  body->graphs[0] = orig;
  kiln_attr *u = (kiln_attr *)kiln_node_attr(n, "_unroll");
  if (!u) u = kiln_node_add_attr(n, "_unroll", KILN_ATTR_INT);
  u->i = 1;
  n->op = kiln_op_find("Loop");
  return KILN_OK;
}

/* Does the loop compute constants only (its trip count, condition and carried values
 * constant, its body reading constants only), in few enough iterations to unroll? Then it
 * is unrolled, and folding computes it when compiling. */
bool kiln_loop_folds(const kiln_graph *g, const kiln_node *n, const kiln_block *body,
                     int ncarried) {
  const kiln_value *trip = kiln_node_in(g, n, 0), *cond = kiln_node_in(g, n, 1);
  if (!trip || !trip->data || kiln_value_numel(trip) != 1 || (cond && !cond->data) ||
      kiln_value_has_sym_data(trip) || (cond && kiln_value_has_sym_data(cond)))
    return false;
  for (int j = 0; j < ncarried; j++) {
    const kiln_value *v = kiln_node_in(g, n, 2 + j);
    if (!v || v->kind != KILN_KIND_TENSOR || !v->data) return false;
  }
  int64_t iters = kiln_load_i64(trip->dtype, trip->data, 0);
  if (iters > KILN_MAX_SEQ_LEN || iters * (body->nnodes + 1) > KILN_MAX_UNROLLED_NODES / 10)
    return false;
  return kiln_block_reads_consts(g, body);
}

/* ---- RunValue: its input as the run has it ---------------------------------------------- */

static kiln_status infer_run_value(kiln_graph *g, kiln_node *n, kiln_error *err) {
  (void)err;
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

/* A copy: lowering reads the input's elements as polynomials of the run's dims
 * (kiln_kernel_read_sym_data). */
static kiln_status lower_run_value(kiln_lower_ctx *c) {
  kiln_expr *v[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(c->k, "value", c->out_buf[0], v);
  kiln_stage_store(c->k, s, v, kx_load(c->k, c->in_buf[0], v));
  return KILN_OK;
}

static const kiln_attr_spec compiled_loop_attrs[] = {
    {"body", KILN_ATTR_GRAPH, true},
    {"_source", KILN_ATTR_GRAPH, false}, /* the body as imported, until inferred */
    {NULL},
};

const kiln_op_def kiln_ops_compiled_loop[] = {
    /* internal: a Loop run as a loop (passes/lower.c) */
    {"CompiledLoop", 0, -1, 1, -1, compiled_loop_attrs, infer_compiled_loop, NULL,
     loop_uncompile, KILN_OP_LOOP | KILN_OP_DATA_DIMS},
    /* internal: a shape computation a loop step reads, computed at run time */
    {"RunValue", 1, 1, 1, 1, NULL, infer_run_value, lower_run_value, NULL, KILN_OP_AT_RUN},
    {NULL},
};
