/* Lowering: every node becomes one kernel (its op's `lower` fills in the stages); the main
 * block becomes the program's step list, an If with an unknown condition an If step, a
 * CompiledLoop a loop step.
 * Values that must land in a graph output but are not written there by a kernel (graph
 * inputs, constants, a value listed twice, branch results) get copy kernels. */
#include "passes/passes.h"

#include "ir/dtype.h"
#include "ir/op.h"
#include "passes/sym_points.h"

#include <stdlib.h>
#include <string.h>

/* A stage's schedule must be legal; the message names the node. */
static kiln_status check_schedule(const kiln_node *n, const kiln_stage *s, kiln_error *err) {
  kiln_error inner = {0};
  if (!kiln_schedule_check(s, &inner)) return KILN_OK;
  return kiln_fail(err, inner.code, "node '%s' (%s): %s", n->name, n->op_type, inner.message);
}

/* a and b have as many elements, free dims compared as polynomials (a node lowered with
 * free dims sees its own values at other sizes than the rest of the graph) */
static bool same_numel(const kiln_graph *g, const kiln_value *a, const kiln_value *b) {
  if (!g->nsyms) return kiln_value_numel(a) == kiln_value_numel(b);
  kiln_symdim na = kiln_symdim_const(1), nb = kiln_symdim_const(1);
  for (int d = 0; d < a->rank; d++) {
    kiln_symdim x = kiln_value_symdim(g, a, d);
    if (!kiln_symdim_mul(&na, &x, &na)) return false;
  }
  for (int d = 0; d < b->rank; d++) {
    kiln_symdim x = kiln_value_symdim(g, b, d);
    if (!kiln_symdim_mul(&nb, &x, &nb)) return false;
  }
  return kiln_symdim_equal(&na, &nb);
}

/* The value whose storage v's elements live in: v itself, or, through alias ops (a
 * Reshape that is not a graph output: those get no kernel), the value they read. */
static int storage_value(const kiln_graph *g, int v) {
  for (;;) {
    const kiln_value *val = &g->values[v];
    if (val->producer < 0 || val->is_output) return v;
    const kiln_node *p = &g->nodes[val->producer];
    if (!p->op || !(p->op->flags & KILN_OP_ALIAS) || p->outputs[0] != v || p->ninputs < 1 ||
        p->inputs[0] < 0)
      return v;
    const kiln_value *src = &g->values[p->inputs[0]];
    if (src->dtype != val->dtype || !same_numel(g, src, val)) return v;
    v = p->inputs[0];
  }
}

/* An alias op whose output is no graph output needs no kernel: its readers read its input;
 * nor does a Concat whose inputs were all written into its output (passes/place_concat.c). */
static bool in_place(const kiln_graph *g, const kiln_node *n) {
  if (n->noutputs != 1 || n->outputs[0] < 0) return false;
  if (n->op->flags & KILN_OP_CONCAT) {
    for (int i = 0; i < n->ninputs; i++)
      if (n->inputs[i] < 0 || g->values[n->inputs[i]].placed_in != n->outputs[0] + 1) return false;
    return n->ninputs > 0;
  }
  return storage_value(g, n->outputs[0]) != n->outputs[0];
}

kiln_status kiln_lower_node(const kiln_graph *g, const kiln_node *n, kiln_kernel **out,
                            kiln_error *err) {
  if (g->nsyms && kiln_node_is_symbolic(g, n)) return kiln_lower_symbolic(g, n, out, err);
  return kiln_lower_node_static(g, n, out, err);
}

kiln_status kiln_lower_node_static(const kiln_graph *g, const kiln_node *n, kiln_kernel **out,
                                   kiln_error *err) {
  *out = NULL;
  if (!n->op)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s': op '%s' is not supported", n->name,
                     n->op_type);
  if (!n->op->lower)
    return kiln_fail(err, KILN_ERR_INTERNAL, "node '%s' (%s): op has no lowering", n->name,
                     n->op_type);
  if (n->ninputs > 32 || n->noutputs > 32)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): more than 32 inputs or outputs",
                     n->name, n->op_type);
  kiln_kernel *k = kiln_kernel_new(n->name);
  k->op = kiln_arena_strdup(&k->arena, n->op_type);
  k->nodes = kiln_arena_alloc(&k->arena, sizeof *k->nodes);
  k->nodes[k->nnodes++] = kiln_arena_strdup(&k->arena, n->name);
  kiln_lower_ctx c = {.g = g, .n = n, .k = k, .err = err};
  for (int i = 0; i < 32; i++) { /* -1 past ninputs too: trailing omitted inputs */
    const kiln_value *v = kiln_node_in(g, n, i);
    c.in_buf[i] = v ? kiln_kernel_add_buffer(k, v->name, KILN_BUF_INPUT,
                                             storage_value(g, n->inputs[i]), v->dtype,
                                             v->rank, v->dims)
                    : -1;
    if (v && v->layout) k->bufs[c.in_buf[i]].layout = kiln_arena_strdup(&k->arena, v->layout);
  }
  for (int i = 0; i < 32; i++) {
    const kiln_value *v = kiln_node_out(g, n, i);
    c.out_buf[i] = v ? kiln_kernel_add_buffer(k, v->name, KILN_BUF_OUTPUT, n->outputs[i],
                                              v->dtype, v->rank, v->dims)
                     : -1;
    if (v && v->layout) k->bufs[c.out_buf[i]].layout = kiln_arena_strdup(&k->arena, v->layout);
  }
  kiln_status st = n->op->lower(&c);
  if (st && !(err && err->code))
    kiln_fail(err, st, "node '%s' (%s): lowering failed", n->name, n->op_type);
  for (int s = 0; s < k->nstages && !st; s++) {
    if (!k->stages[s].value)
      st = kiln_fail(err, KILN_ERR_INTERNAL, "node '%s' (%s): stage '%s' stores nothing",
                     n->name, n->op_type, k->stages[s].name);
    else
      st = check_schedule(n, &k->stages[s], err);
  }
  if (st) {
    kiln_kernel_free(k);
    return st;
  }
  *out = k;
  return KILN_OK;
}

/* A kernel copying value src into value dst; dst_store preset when it is a given output
 * slot (duplicated graph outputs), else left to memory planning. */
static void add_copy(const kiln_graph *g, kiln_steps *steps, int src, int dst,
                     kiln_storage dst_store) {
  const kiln_value *s = &g->values[src], *d = &g->values[dst];
  char *name = kiln_fmt("copy_%s", d->name);
  kiln_kernel *k = kiln_kernel_new(name);
  k->op = "Copy";
  free(name);
  int in = kiln_kernel_add_buffer(k, s->name, KILN_BUF_INPUT, storage_value(g, src), s->dtype,
                                  s->rank, s->dims);
  int out = kiln_kernel_add_buffer(k, d->name, KILN_BUF_OUTPUT, dst, d->dtype, d->rank, d->dims);
  k->bufs[out].storage = dst_store;
  kiln_expr *v[KILN_MAX_RANK];
  kiln_stage *st = kiln_elementwise_stage(k, "copy", out, v);
  kiln_stage_store(k, st, v, kx_cast(k, kiln_load_broadcast(k, in, d->rank, v), d->dtype));
  kiln_kernel_dyn_copy(g, k, in, src, out, dst);
  kiln_kernel_read_sym_data(g, k); /* a graph output that is Shape of a free dim */
  kiln_steps_add(steps, KILN_STEP_KERNEL)->kernel = k;
}

static bool is_if(const kiln_node *n) {
  return strcmp(n->op_type, "If") == 0 && kiln_node_attr(n, "then_branch") &&
         kiln_node_attr(n, "else_branch");
}

static kiln_status lower_block(const kiln_graph *g, const kiln_block *b, kiln_steps *steps,
                               uint32_t set, kiln_error *err);

/* A branch's nodes followed by copies of its results into the If's outputs. */
static kiln_status lower_branch(const kiln_graph *g, const kiln_node *n, const char *which,
                                kiln_steps *steps, uint32_t set, kiln_error *err) {
  const kiln_block *br = kiln_node_attr(n, which)->graphs[0];
  if (br->noutputs != n->noutputs)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (If): %s yields %d values, the node has %d outputs", n->name,
                     which, br->noutputs, n->noutputs);
  if (lower_block(g, br, steps, set, err)) return err->code;
  for (int j = 0; j < n->noutputs; j++) {
    if (n->outputs[j] < 0) continue;
    /* the output's dims that are sizes the run computes (its branches disagree on them,
     * ir/ops/control.c) take this branch's first */
    const kiln_value *out = &g->values[n->outputs[j]], *res = &g->values[br->outputs[j]];
    int syms[KILN_MAX_RANK], nset = 0;
    kiln_symdim vals[KILN_MAX_RANK];
    for (int d = 0; d < out->rank && d < res->rank; d++) {
      kiln_symdim x = kiln_value_symdim(g, out, d), r = kiln_value_symdim(g, res, d);
      int s = kiln_graph_data_sym_of(g, &x);
      if (s >= 0 && !kiln_symdim_equal(&x, &r)) {
        syms[nset] = s;
        vals[nset++] = r;
      }
    }
    if (nset) {
      char *name = kiln_fmt("dims_%s", out->name);
      kiln_steps_add(steps, KILN_STEP_KERNEL)->kernel = kiln_kernel_set_dims(g, name, syms, vals, NULL, nset);
      free(name);
    }
    add_copy(g, steps, br->outputs[j], n->outputs[j], (kiln_storage){KILN_STORE_NONE, 0, 0});
  }
  return KILN_OK;
}

/* The data sym a scan output v is as long as (its dim 0, only: its slices are static), or
 * -1. */
static int loop_count(const kiln_graph *g, const kiln_value *v) {
  if (v->rank < 1 || !v->sym[0]) return -1;
  for (int d = 1; d < v->rank; d++)
    if (v->sym[d]) return -1;
  kiln_symdim x = kiln_value_symdim(g, v, 0);
  return kiln_graph_data_sym_of(g, &x);
}

/* A loop step over the body's steps, with the copies ONNX's Loop implies (ir/program.h:
 * kiln_move). Storages hold value ids until memory planning. */
static kiln_status lower_loop(const kiln_graph *g, const kiln_node *n, kiln_steps *steps,
                              uint32_t set, kiln_error *err) {
  const kiln_block *body = kiln_node_attr(n, "body")->graphs[0];
  int ncarried = body->ninputs - 2, nscan = n->noutputs - ncarried;
  kiln_step *st = kiln_steps_add(steps, KILN_STEP_LOOP);
  kiln_loop_step *l = st->loop = kiln_xcalloc(1, sizeof *l);
  l->body = kiln_steps_new();
  l->what = kiln_fmt("node '%s' (Loop)", n->name);
  l->limit = INT64_MAX; /* until the pipeline sets the options' */
  l->count = -1;
  l->check_offset = -1;
  l->moves = kiln_xcalloc((size_t)(3 * ncarried + nscan + 1), sizeof(kiln_move));
  kiln_storage none = {KILN_STORE_NONE, -1, 0};
#define VALUE_STORE(v) ((kiln_storage){KILN_STORE_ARENA, storage_value(g, (v)), 0})
  l->trip = n->inputs[0] >= 0 ? VALUE_STORE(n->inputs[0]) : none;
  l->cond0 = n->ninputs > 1 && n->inputs[1] >= 0 ? VALUE_STORE(n->inputs[1]) : none;
  l->iter = VALUE_STORE(body->inputs[0]);
  l->cond = VALUE_STORE(body->inputs[1]);
  l->cond_out = VALUE_STORE(body->outputs[0]);
  for (int j = 0; j < ncarried; j++) {
    int param = body->inputs[2 + j], from = storage_value(g, body->outputs[1 + j]);
    const kiln_value *pv = &g->values[param];
    int64_t bytes = kiln_value_numel(pv) * (int64_t)kiln_dtype_size(pv->dtype);
    l->moves[l->nmoves++] = (kiln_move){KILN_MOVE_ENTER, VALUE_STORE(n->inputs[2 + j]),
                                        VALUE_STORE(param), bytes, false, 0};
    if (from != param) {
      bool staged = false;
      for (int k = 0; k < ncarried; k++) staged |= from == body->inputs[2 + k];
      l->moves[l->nmoves++] = (kiln_move){KILN_MOVE_NEXT, VALUE_STORE(from), VALUE_STORE(param),
                                          bytes, staged, staged ? l->stage_bytes : 0};
      if (staged) l->stage_bytes += (bytes + 63) / 64 * 64;
    }
    if (n->outputs[j] >= 0)
      l->moves[l->nmoves++] = (kiln_move){KILN_MOVE_EXIT, VALUE_STORE(param),
                                          VALUE_STORE(n->outputs[j]), bytes, false, 0};
  }
  for (int k = 0; k < nscan; k++) {
    int out = n->outputs[ncarried + k], from = body->outputs[1 + ncarried + k];
    if (out < 0) continue;
    const kiln_value *fv = &g->values[from];
    l->moves[l->nmoves++] = (kiln_move){KILN_MOVE_SCAN, VALUE_STORE(from), VALUE_STORE(out),
        kiln_value_numel(fv) * (int64_t)kiln_dtype_size(fv->dtype), false, 0};
  }
#undef VALUE_STORE
  for (int k = 0; k < nscan; k++) /* scan outputs as long as the iterations a run makes */
    if (n->outputs[ncarried + k] >= 0)
      l->count = loop_count(g, &g->values[n->outputs[ncarried + k]]);
  for (int i = 0; i < l->nmoves; i++) {
    const kiln_value *s = &g->values[l->moves[i].src.index], *d = &g->values[l->moves[i].dst.index];
    if (l->moves[i].when == KILN_MOVE_SCAN && l->count >= 0 && loop_count(g, d) == l->count)
      d = s; /* its slices static, checked below */
    if (kiln_value_is_symbolic(s) || kiln_value_is_symbolic(d))
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (Loop): '%s' has free dims, which "
                       "a loop run at run time does not take", n->name, kiln_value_is_symbolic(s) ? s->name : d->name);
  }
  return lower_block(g, body, l->body, set, err);
}

/* Before node n: a kernel for each clamped count n's values mention that no step before
 * it in this block or the ones around it computed (*set: those that did), in order, each
 * its own kernel: one may read another, and a kernel reads the dims at its start. */
static void set_min_dims(const kiln_graph *g, const kiln_node *n, kiln_steps *steps,
                         uint32_t *set) {
  if (!g->sym_min) return;
  uint32_t need = kiln_node_data_syms(g, n) & g->sym_min & ~*set;
  for (int s = 0; s < g->nsyms; s++) {
    if (!(need >> s & 1)) continue;
    int64_t cap = -1;
    kiln_symdim_is_const(&g->sym_def[s].num, &cap);
    char *name = kiln_fmt("dims_%s_%d", n->name, s);
    kiln_steps_add(steps, KILN_STEP_KERNEL)->kernel =
        kiln_kernel_set_dims(g, name, &s, &g->sym_min_of[s], &cap, 1);
    free(name);
  }
  *set |= need;
}

static kiln_status lower_block(const kiln_graph *g, const kiln_block *b, kiln_steps *steps,
                               uint32_t set, kiln_error *err) {
  for (int i = 0; i < b->nnodes; i++) {
    const kiln_node *n = &g->nodes[b->nodes[i]];
    set_min_dims(g, n, steps, &set);
    if (n->op && (n->op->flags & KILN_OP_LOOP)) {
      if (lower_loop(g, n, steps, set, err)) return err->code;
      continue;
    }
    if (n->op && is_if(n)) {
      const kiln_value *cond = kiln_node_in(g, n, 0);
      if (!cond || kiln_value_numel(cond) != 1)
        return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (If): condition must have one element",
                         n->name);
      if (cond->data) { /* known: the taken branch runs unconditionally */
        bool taken = kiln_load_f64(cond->dtype, cond->data, 0) != 0;
        if (lower_branch(g, n, taken ? "then_branch" : "else_branch", steps, set, err))
          return err->code;
        continue;
      }
      kiln_step *st = kiln_steps_add(steps, KILN_STEP_IF);
      st->cond.index = storage_value(g, n->inputs[0]); /* a value id until memory planning */
      st->then_steps = kiln_steps_new();
      st->else_steps = kiln_steps_new();
      kiln_steps *t = st->then_steps, *e = st->else_steps; /* st moves as steps grow */
      if (lower_branch(g, n, "then_branch", t, set, err) ||
          lower_branch(g, n, "else_branch", e, set, err))
        return err->code;
      continue;
    }
    if (n->op && in_place(g, n)) continue;
    kiln_kernel *k;
    if (kiln_lower_node(g, n, &k, err)) return err->code;
    kiln_steps_add(steps, KILN_STEP_KERNEL)->kernel = k;
  }
  return KILN_OK;
}

static void set_io(const kiln_graph *g, kiln_io *io, const kiln_value *v) {
  io->name = kiln_xstrdup(v->name);
  io->dtype = v->dtype;
  io->rank = v->rank;
  memcpy(io->dims, v->dims, sizeof io->dims);
  io->bytes = kiln_value_numel(v) * (int64_t)kiln_dtype_size(v->dtype);
  if (!kiln_value_is_symbolic(v)) return;
  io->sdims = kiln_xcalloc(KILN_MAX_RANK, sizeof *io->sdims);
  for (int d = 0; d < v->rank; d++) {
    io->sdims[d] = kiln_value_symdim(g, v, d);
    if (v->sym[d]) io->dims[d] = -1;
  }
  io->bytes = 0;
}

kiln_status kiln_pass_lower(const kiln_graph *g, kiln_program **out, kiln_error *err) {
  *out = NULL;
  kiln_program *p = kiln_program_new();
  p->ninputs = g->ninputs;
  p->inputs = kiln_xcalloc((size_t)(g->ninputs ? g->ninputs : 1), sizeof(kiln_io));
  for (int i = 0; i < g->ninputs; i++) set_io(g, &p->inputs[i], &g->values[g->inputs[i]]);
  p->nsyms = g->nsyms;
  for (int i = 0; i < g->nsyms; i++) {
    p->sym_names[i] = kiln_xstrdup(g->sym_names[i]);
    p->sym_hint[i] = g->sym_hint[i];
    p->sym_def[i] = g->sym_def[i];
    p->sym_min[i] = 1;
  }
  for (int i = 0; i < g->choices.n; i++) kiln_choices_add(&p->choices, &g->choices.items[i]);
  p->noutputs = g->main.noutputs;
  p->outputs = kiln_xcalloc((size_t)(p->noutputs ? p->noutputs : 1), sizeof(kiln_io));
  for (int i = 0; i < p->noutputs; i++) set_io(g, &p->outputs[i], &g->values[g->main.outputs[i]]);
  kiln_status st = lower_block(g, &g->main, &p->main, 0, err);
  /* sizes below where some node's shapes follow another rule (passes/infer_sym.c's
   * probes: an overhanging window dropped, a ceil-mode correction) or its kernel changes
   * form (passes/lower_dyn.c's: a last stage of 1 x 1 pixels) are refused at run time */
  for (int s = 0; s < g->nsyms; s++) {
    if (g->sym_lo[s] > p->sym_min[s]) p->sym_min[s] = g->sym_lo[s];
    if (p->sym_min[s] == 1 && (g->sym_zero_holds & ~g->sym_zero_fails) >> s & 1) p->sym_min[s] = 0;
    p->sym_max[s] = g->sym_hi[s];
    p->sym_step[s] = g->sym_step[s];
  }
  for (int j = 0; j < g->main.noutputs && !st; j++) {
    int v = g->main.outputs[j];
    bool dup = false;
    for (int i = 0; i < j; i++) dup |= g->main.outputs[i] == v;
    const kiln_value *val = &g->values[v];
    if (dup || val->is_input || kiln_value_is_const(g, v))
      add_copy(g, &p->main, v, v, (kiln_storage){KILN_STORE_OUTPUT, j, 0});
  }
  if (st) {
    kiln_program_free(p);
    return st;
  }
  *out = p;
  return KILN_OK;
}
