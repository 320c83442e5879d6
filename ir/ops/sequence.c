/* Sequences and optionals, resolved at compile time (flag KILN_OP_RESOLVE): a sequence
 * value is a list of tensor values of known length, an optional one value or none
 * (ir/graph.h). Each op here rewrites itself during shape inference into plain tensor
 * nodes (Identity, Split, Squeeze, Unsqueeze, Concat) or into nothing but a new list, so
 * no later pass meets one. Positions must be known at compile time. */
#include "ir/op.h"

#include "ir/dtype.h"
#include "ir/ops/subgraph.h"

#include <stdlib.h>
#include <string.h>

kiln_status kiln_infer_resolved(kiln_graph *g, kiln_node *n, kiln_error *err) {
  (void)g;
  return kiln_fail(err, KILN_ERR_UNSUPPORTED,
                   "node '%s' (%s): resolved at compile time from an ONNX graph's sequences, "
                   "optionals or subgraphs; it has no tensor form", n->name, n->op_type);
}

/* Input i of n as a resolved sequence (NULL after failing). */
static const kiln_value *seq_in(const kiln_graph *g, const kiln_node *n, int i, kiln_error *err) {
  const kiln_value *v = kiln_node_in(g, n, i);
  if (!v || v->kind != KILN_KIND_SEQUENCE || v->nelems < 0) {
    kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input %d%s%s%s is %s, not a sequence",
              n->name, n->op_type, i, v ? " '" : "", v ? v->name : "", v ? "'" : "",
              v ? kiln_kind_name(v) : "missing");
    return NULL;
  }
  return v;
}

static const kiln_value *tensor_in(const kiln_graph *g, const kiln_node *n, int i,
                                   kiln_error *err) {
  const kiln_value *v = kiln_node_in(g, n, i);
  if (!v || v->kind != KILN_KIND_TENSOR) {
    kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input %d%s%s%s is %s, not a tensor",
              n->name, n->op_type, i, v ? " '" : "", v ? v->name : "", v ? "'" : "",
              v ? kiln_kind_name(v) : "missing");
    return NULL;
  }
  return v;
}

static kiln_dtype seq_dtype(const kiln_graph *g, const kiln_value *s) {
  return s->nelems > 0 ? g->values[s->elems[0]].dtype : s->dtype;
}

static kiln_status same_dtype(const kiln_node *n, kiln_dtype want,
                              const kiln_value *t, kiln_error *err) {
  if (want == KILN_UNDEFINED || t->dtype == want) return KILN_OK;
  return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                   "node '%s' (%s): tensor '%s' is %s, but the sequence's elements are %s",
                   n->name, n->op_type, t->name, kiln_dtype_name(t->dtype), kiln_dtype_name(want));
}

/* Output 0 of the node at pos becomes a list of elems; the node goes away. */
static void resolve(kiln_graph *g, kiln_block *b, int pos, kiln_value_kind kind,
                    const int *elems, int nelems, kiln_dtype dtype) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  if (n->noutputs > 0 && n->outputs[0] >= 0) {
    kiln_value *o = &g->values[n->outputs[0]];
    kiln_value_set_elems(o, kind, elems, nelems);
    o->dtype = dtype;
  }
  kiln_block_remove(g, b, pos);
}

/* Output 0 becomes a scalar constant. */
static void resolve_const(kiln_graph *g, kiln_block *b, int pos, kiln_dtype t, int64_t v) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  if (n->noutputs > 0 && n->outputs[0] >= 0) {
    kiln_tensor c = {t, 0, {0}, kiln_xmalloc(8)};
    kiln_store_f64(t, c.data, 0, (double)v);
    kiln_value_set_const(&g->values[n->outputs[0]], &c);
  }
  kiln_block_remove(g, b, pos);
}

/* Output 0 becomes an Identity of value src (a tensor), or the same list (a sequence). */
static void forward(kiln_graph *g, kiln_block *b, int pos, int src) {
  const kiln_value *s = &g->values[src];
  if (s->kind != KILN_KIND_TENSOR) {
    int *elems = kiln_xmalloc(sizeof(int) * (size_t)(s->nelems + 1));
    memcpy(elems, s->elems, sizeof(int) * (size_t)s->nelems);
    resolve(g, b, pos, s->kind, elems, s->nelems, s->dtype);
    free(elems);
    return;
  }
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, KILN_F32);
  kiln_ex_node1(&x, "Identity", &src, 1, g->nodes[x.from].outputs[0], "at");
  kiln_ex_end(&x);
}

/* A position input (i, may be omitted: dflt) checked against [lo, hi] and made >= 0 by
 * adding len. */
static kiln_status position(const kiln_graph *g, const kiln_node *n, int i, int64_t len,
                            int64_t lo, int64_t hi, int64_t dflt, int64_t *out, kiln_error *err) {
  const kiln_value *p = kiln_node_in(g, n, i);
  if (!p) return *out = dflt, KILN_OK;
  int64_t v[1];
  int count = 0;
  if (kiln_need_fixed(g, n, i, err) || kiln_const_ints(g, n, i, v, 1, &count, err))
    return err->code;
  if (count != 1)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): position '%s' must hold one value",
                     n->name, n->op_type, p->name);
  if (v[0] < lo || v[0] > hi)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): position %lld is out of range [%lld, %lld] for a "
                     "sequence of %lld", n->name, n->op_type, (long long)v[0], (long long)lo,
                     (long long)hi, (long long)len);
  *out = v[0] < 0 ? v[0] + len : v[0];
  return KILN_OK;
}

static kiln_status seq_construct(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  int *elems = kiln_xmalloc(sizeof(int) * (size_t)(n->ninputs + 1));
  kiln_dtype t = KILN_UNDEFINED;
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = tensor_in(g, n, i, err);
    if (!v || same_dtype(n, t, v, err)) return free(elems), err->code;
    t = v->dtype;
    elems[i] = n->inputs[i];
  }
  resolve(g, b, pos, KILN_KIND_SEQUENCE, elems, n->ninputs, t);
  free(elems);
  return KILN_OK;
}

static kiln_status seq_empty(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  int64_t t = kiln_attr_int(n, "dtype", KILN_F32);
  if (t <= 0 || t > KILN_DTYPE_LAST || !kiln_dtype_valid((kiln_dtype)t))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): dtype %lld is not supported",
                     n->name, n->op_type, (long long)t);
  resolve(g, b, pos, KILN_KIND_SEQUENCE, NULL, 0, (kiln_dtype)t);
  return KILN_OK;
}

static kiln_status seq_insert(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *s = seq_in(g, n, 0, err), *t = s ? tensor_in(g, n, 1, err) : NULL;
  if (!t || same_dtype(n, seq_dtype(g, s), t, err)) return err->code;
  int64_t len = s->nelems, at;
  if (len + 1 > KILN_MAX_SEQ_LEN)
    return kiln_fail(err, KILN_ERR_LIMIT, "node '%s' (%s): a sequence of more than %d elements",
                     n->name, n->op_type, KILN_MAX_SEQ_LEN);
  if (position(g, n, 2, len, -len, len, len, &at, err)) return err->code;
  int *elems = kiln_xmalloc(sizeof(int) * (size_t)(len + 1));
  memcpy(elems, s->elems, sizeof(int) * (size_t)at);
  elems[at] = n->inputs[1];
  memcpy(elems + at + 1, s->elems + at, sizeof(int) * (size_t)(len - at));
  resolve(g, b, pos, KILN_KIND_SEQUENCE, elems, (int)len + 1, t->dtype);
  free(elems);
  return KILN_OK;
}

static kiln_status seq_erase(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *s = seq_in(g, n, 0, err);
  if (!s) return err->code;
  int64_t len = s->nelems, at;
  if (!len)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): the sequence is empty",
                     n->name, n->op_type);
  if (position(g, n, 1, len, -len, len - 1, len - 1, &at, err)) return err->code;
  int *elems = kiln_xmalloc(sizeof(int) * (size_t)len);
  memcpy(elems, s->elems, sizeof(int) * (size_t)at);
  memcpy(elems + at, s->elems + at + 1, sizeof(int) * (size_t)(len - at - 1));
  resolve(g, b, pos, KILN_KIND_SEQUENCE, elems, (int)len - 1, seq_dtype(g, s));
  free(elems);
  return KILN_OK;
}

static kiln_status seq_at(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *s = seq_in(g, n, 0, err);
  if (!s) return err->code;
  int64_t len = s->nelems, at;
  if (!kiln_node_in(g, n, 1))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): the position is missing",
                     n->name, n->op_type);
  if (position(g, n, 1, len, -len, len - 1, 0, &at, err)) return err->code;
  forward(g, b, pos, s->elems[at]);
  return KILN_OK;
}

static kiln_status seq_length(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_value *s = seq_in(g, &g->nodes[b->nodes[pos]], 0, err);
  if (!s) return err->code;
  resolve_const(g, b, pos, KILN_I64, s->nelems);
  return KILN_OK;
}

/* SplitToSequence: a Split into pieces along axis (sizes from `split`: one size for equal
 * pieces and a shorter last one, or one per piece; none: pieces of 1, squeezed away unless
 * keepdims). */
static kiln_status split_to_seq(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *x = tensor_in(g, n, 0, err), *sp = kiln_node_in(g, n, 1);
  int axis;
  if (!x || kiln_norm_axis(n, kiln_attr_int(n, "axis", 0), x->rank, &axis, err)) return err->code;
  int64_t dim = x->dims[axis], count = 0;
  int64_t *sizes = NULL;
  if (sp) {
    int64_t *v = kiln_xmalloc(sizeof(int64_t) * KILN_MAX_SEQ_LEN);
    int nv = 0;
    kiln_status st = kiln_need_fixed(g, n, 1, err);
    if (!st) st = kiln_const_ints(g, n, 1, v, KILN_MAX_SEQ_LEN, &nv, err);
    bool scalar = sp->rank == 0, bad = st || nv < 1 || (scalar && v[0] <= 0);
    if (bad) free(v);
    if (st) return st;
    if (bad)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): split '%s' must be a "
                       "positive size or a list of sizes", n->name, n->op_type, sp->name);
    count = scalar ? dim / v[0] + (dim % v[0] != 0) : nv;
    if (count > KILN_MAX_SEQ_LEN) {
      free(v);
      return kiln_fail(err, KILN_ERR_LIMIT, "node '%s' (%s): %lld pieces, over kiln's limit of %d",
                       n->name, n->op_type, (long long)count, KILN_MAX_SEQ_LEN);
    }
    sizes = kiln_xmalloc(sizeof(int64_t) * (size_t)(count + 1));
    int64_t sum = 0;
    for (int64_t i = 0; i < count; i++) {
      sizes[i] = scalar ? (i + 1 < count ? v[0] : dim - v[0] * (count - 1)) : v[i];
      if (sizes[i] < 0 || (sum += sizes[i]) > dim) sum = -1;
      if (sum < 0) break;
    }
    free(v);
    if (sum != dim) {
      free(sizes);
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): split sizes do not add up "
                       "to dim %d of '%s' (%lld)", n->name, n->op_type, axis, x->name, (long long)dim);
    }
  } else {
    count = dim;
    if (count > KILN_MAX_SEQ_LEN)
      return kiln_fail(err, KILN_ERR_LIMIT, "node '%s' (%s): %lld pieces, over kiln's limit of %d",
                       n->name, n->op_type, (long long)count, KILN_MAX_SEQ_LEN);
    sizes = kiln_xmalloc(sizeof(int64_t) * (size_t)(count + 1));
    for (int64_t i = 0; i < count; i++) sizes[i] = 1;
  }
  bool squeeze = !sp && !kiln_attr_int(n, "keepdims", 1);
  int out = n->outputs[0], in = n->inputs[0];
  kiln_dtype t = x->dtype;
  int *elems = kiln_xmalloc(sizeof(int) * (size_t)(count + 1));
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_I64);
  if (count) {
    for (int64_t i = 0; i < count; i++) elems[i] = -1;
    int ins[2] = {in, kiln_ex_const(&e, "sizes", KILN_I64, 1, &count, NULL)};
    for (int64_t i = 0; i < count; i++) ((int64_t *)g->values[ins[1]].data)[i] = sizes[i];
    kiln_ex_node(&e, "Split", ins, 2, elems, (int)count, "piece");
    kiln_ex_attr_i(&e, "axis", axis);
    for (int64_t i = 0; squeeze && i < count; i++)
      elems[i] = kiln_ex_binary(&e, "Squeeze", elems[i], kiln_ex_int1(&e, axis), "squeezed");
  }
  kiln_ex_end(&e);
  if (out >= 0) {
    kiln_value_set_elems(&g->values[out], KILN_KIND_SEQUENCE, elems, (int)count);
    g->values[out].dtype = t;
  }
  free(elems);
  free(sizes);
  return KILN_OK;
}

/* ConcatFromSequence: a Concat of the elements, each first unsqueezed at axis when
 * new_axis. */
static kiln_status concat_from_seq(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *s = seq_in(g, n, 0, err);
  if (!s) return err->code;
  if (!s->nelems)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): the sequence '%s' is empty",
                     n->name, n->op_type, s->name);
  bool new_axis = kiln_attr_int(n, "new_axis", 0) != 0;
  const kiln_value *e0 = &g->values[s->elems[0]];
  int axis;
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", 0), e0->rank + new_axis, &axis, err))
    return err->code;
  int count = s->nelems, out = n->outputs[0];
  int *parts = kiln_xmalloc(sizeof(int) * (size_t)count);
  memcpy(parts, s->elems, sizeof(int) * (size_t)count);
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, KILN_I64);
  for (int i = 0; new_axis && i < count; i++)
    parts[i] = kiln_ex_binary(&x, "Unsqueeze", parts[i], kiln_ex_int1(&x, axis), "unsqueezed");
  kiln_ex_node1(&x, "Concat", parts, count, out, "concat");
  kiln_ex_attr_i(&x, "axis", axis);
  kiln_ex_end(&x);
  free(parts);
  return KILN_OK;
}

static kiln_status optional(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  (void)err;
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *v = kiln_node_in(g, n, 0);
  int elem = v ? n->inputs[0] : -1;
  resolve(g, b, pos, KILN_KIND_OPTIONAL, &elem, v ? 1 : 0, v ? v->dtype : KILN_UNDEFINED);
  return KILN_OK;
}

/* What an optional input holds: a tensor or sequence read directly counts as present. */
static int held(const kiln_graph *g, const kiln_node *n, int i) {
  const kiln_value *v = kiln_node_in(g, n, i);
  if (!v) return -1;
  if (v->kind != KILN_KIND_OPTIONAL) return n->inputs[i];
  return v->nelems > 0 ? v->elems[0] : -1;
}

static kiln_status optional_has(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  (void)err;
  resolve_const(g, b, pos, KILN_BOOL, held(g, &g->nodes[b->nodes[pos]], 0) >= 0);
  return KILN_OK;
}

static kiln_status optional_get(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  int elem = held(g, n, 0);
  if (elem < 0)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): the optional '%s' is empty (known at compile time)",
                     n->name, n->op_type, n->ninputs > 0 && n->inputs[0] >= 0 ? g->values[n->inputs[0]].name : "");
  forward(g, b, pos, elem);
  return KILN_OK;
}

/* SequenceMap: the body inlined once per element; inputs after the first may be sequences
 * of the same length (element i each time) or tensors (the same each time). */
static kiln_status seq_map(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_block *body = kiln_subgraph(n, "body");
  const kiln_value *s = seq_in(g, n, 0, err);
  if (!s) return err->code;
  if (!body || body->ninputs != n->ninputs || body->noutputs != n->noutputs)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): the body must take %d inputs and yield %d outputs",
                     n->name, n->op_type, n->ninputs, n->noutputs);
  int len = s->nelems;
  for (int i = 1; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    if (!v || v->kind == KILN_KIND_OPTIONAL || (v->kind == KILN_KIND_SEQUENCE && v->nelems != len))
      return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                       "node '%s' (%s): input %d must be a tensor or a sequence of %d elements",
                       n->name, n->op_type, i, len);
  }
  if (kiln_unroll_check(g, n, len, body->nnodes, err)) return err->code;
  int nin = n->ninputs, nout = n->noutputs;
  int *ins = kiln_xmalloc(sizeof(int) * (size_t)nin), *outs = kiln_xmalloc(sizeof(int) * (size_t)nout);
  int *args = kiln_xmalloc(sizeof(int) * (size_t)nin), *res = kiln_xmalloc(sizeof(int) * (size_t)nout);
  int **lists = kiln_xcalloc((size_t)nout, sizeof(int *));
  memcpy(ins, n->inputs, sizeof(int) * (size_t)nin);
  memcpy(outs, n->outputs, sizeof(int) * (size_t)nout);
  for (int j = 0; j < nout; j++) lists[j] = kiln_xmalloc(sizeof(int) * (size_t)(len + 1));
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, KILN_I64);
  for (int i = 0; i < len; i++) {
    for (int k = 0; k < nin; k++) {
      const kiln_value *v = &g->values[ins[k]];
      args[k] = v->kind == KILN_KIND_SEQUENCE ? v->elems[i] : ins[k];
    }
    snprintf(x.tag, sizeof x.tag, "%d", i);
    kiln_ex_inline(&x, body, args, res);
    for (int j = 0; j < nout; j++) lists[j][i] = res[j];
  }
  kiln_ex_end(&x);
  for (int j = 0; j < nout; j++) {
    if (outs[j] >= 0) kiln_value_set_elems(&g->values[outs[j]], KILN_KIND_SEQUENCE, lists[j], len);
    free(lists[j]);
  }
  free(lists);
  free(ins);
  free(outs);
  free(args);
  free(res);
  return KILN_OK;
}

kiln_status kiln_seq_plain(kiln_graph *g, kiln_block *b, int pos, bool *done, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  *done = false;
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    if (!v || v->kind == KILN_KIND_TENSOR) continue;
    if (v->nelems < 0)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input '%s' is not known "
                       "(is it produced before it is used?)", n->name, n->op_type, v->name);
    /* Identity passes a sequence or optional on as it is */
    if (!strcmp(n->op_type, "Identity") && n->ninputs == 1) {
      forward(g, b, pos, n->inputs[0]);
      *done = true;
      return KILN_OK;
    }
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input '%s' is %s; %s takes "
                     "tensors", n->name, n->op_type, v->name, kiln_kind_name(v), n->op_type);
  }
  return KILN_OK;
}

kiln_status kiln_seq_outputs(kiln_graph *g, kiln_error *err) {
  kiln_block *m = &g->main;
  int *outs = kiln_xmalloc(sizeof(int) * (size_t)(m->noutputs + 1)), n = 0, cap = m->noutputs + 1;
  for (int i = 0; i < m->noutputs; i++) {
    int id = m->outputs[i];
    const kiln_value *v = &g->values[id];
    if (v->kind == KILN_KIND_TENSOR) {
      outs[n++] = id;
      continue;
    }
    if (v->nelems < 0) {
      free(outs);
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "output '%s' is not known", v->name);
    }
    int seq = v->kind == KILN_KIND_OPTIONAL && v->nelems ? v->elems[0] : id;
    bool tensor = g->values[seq].kind == KILN_KIND_TENSOR;
    int count = tensor ? 1 : v->kind == KILN_KIND_OPTIONAL && !v->nelems ? 0 : g->values[seq].nelems;
    char *base = kiln_xstrdup(v->name);
    g->values[id].is_output = false;
    for (int k = 0; k < count; k++) {
      int src = tensor ? seq : g->values[seq].elems[k];
      char *name = tensor ? kiln_xstrdup(base) : kiln_fmt("%s[%d]", base, k);
      int o = kiln_graph_add_value(g, name);
      g->values[o].is_output = true;
      kiln_graph_add_node(g, m, "Identity", name, &src, 1, &o, 1);
      free(name);
      KILN_GROW(outs, n, cap);
      outs[n++] = o;
    }
    free(base);
  }
  free(m->outputs);
  m->outputs = outs;
  m->noutputs = n;
  return KILN_OK;
}

#define R KILN_OP_RESOLVE
static const kiln_attr_spec empty_attrs[] = {{"dtype", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec split_attrs[] = {
    {"axis", KILN_ATTR_INT, false}, {"keepdims", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec concat_attrs[] = {
    {"axis", KILN_ATTR_INT, true}, {"new_axis", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec map_attrs[] = {{"body", KILN_ATTR_GRAPH, true}, {NULL}};

const kiln_op_def kiln_ops_sequence[] = {
    {"SequenceConstruct", 1, -1, 1, 1, NULL, kiln_infer_resolved, NULL, seq_construct, R},
    {"SequenceEmpty", 0, 0, 1, 1, empty_attrs, kiln_infer_resolved, NULL, seq_empty, R},
    {"SequenceInsert", 2, 3, 1, 1, NULL, kiln_infer_resolved, NULL, seq_insert, R},
    {"SequenceErase", 1, 2, 1, 1, NULL, kiln_infer_resolved, NULL, seq_erase, R},
    {"SequenceAt", 2, 2, 1, 1, NULL, kiln_infer_resolved, NULL, seq_at, R},
    {"SequenceLength", 1, 1, 1, 1, NULL, kiln_infer_resolved, NULL, seq_length, R},
    {"SplitToSequence", 1, 2, 1, 1, split_attrs, kiln_infer_resolved, NULL, split_to_seq, R},
    {"ConcatFromSequence", 1, 1, 1, 1, concat_attrs, kiln_infer_resolved, NULL, concat_from_seq, R},
    {"SequenceMap", 1, -1, 1, -1, map_attrs, kiln_infer_resolved, NULL, seq_map, R},
    {"Optional", 0, 1, 1, 1, NULL, kiln_infer_resolved, NULL, optional, R},
    {"OptionalHasElement", 0, 1, 1, 1, NULL, kiln_infer_resolved, NULL, optional_has, R},
    {"OptionalGetElement", 1, 1, 1, 1, NULL, kiln_infer_resolved, NULL, optional_get, R},
    {NULL},
};
