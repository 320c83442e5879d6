/* Inlining a subgraph once per iteration (ir/ops/subgraph.h): values the body defines get
 * fresh copies, outer values and constants are shared, nested blocks are copied too. */
#include "ir/ops/subgraph.h"

#include <stdlib.h>
#include <string.h>

kiln_block *kiln_subgraph(const kiln_node *n, const char *name) {
  const kiln_attr *a = kiln_node_attr(n, name);
  return a && a->type == KILN_ATTR_GRAPH && a->graphs ? a->graphs[0] : NULL;
}

kiln_status kiln_unroll_check(const kiln_graph *g, const kiln_node *n, int64_t iterations,
                              int nodes, kiln_error *err) {
  if (iterations > KILN_MAX_SEQ_LEN)
    return kiln_fail(err, KILN_ERR_LIMIT,
                     "node '%s' (%s): %lld iterations, over kiln's limit of %d unrolled "
                     "iterations", n->name, n->op_type, (long long)iterations, KILN_MAX_SEQ_LEN);
  if (iterations * (nodes > 0 ? nodes : 1) > KILN_MAX_UNROLLED_NODES)
    return kiln_fail(err, KILN_ERR_LIMIT,
                     "node '%s' (%s): %lld iterations of a %d-node body, over kiln's limit of "
                     "%d unrolled nodes", n->name, n->op_type, (long long)iterations, nodes,
                     KILN_MAX_UNROLLED_NODES);
  if (g->nnodes + iterations * (nodes > 0 ? nodes : 1) > KILN_MAX_GRAPH_NODES)
    return kiln_fail(err, KILN_ERR_LIMIT,
                     "node '%s' (%s): unrolling it would take the graph past kiln's limit of "
                     "%d nodes (nested loops multiply)", n->name, n->op_type, KILN_MAX_GRAPH_NODES);
  return KILN_OK;
}

const char *kiln_kind_name(const kiln_value *v) {
  return v->kind == KILN_KIND_SEQUENCE ? "a sequence"
       : v->kind == KILN_KIND_OPTIONAL ? "an optional" : "a tensor";
}

/* Value ids the body defines map to their copies: to[id - lo], -1 = not defined there. */
typedef struct remap {
  int lo, hi;
  int *to;
} remap;

static void span(const kiln_graph *g, const kiln_block *b, int *lo, int *hi) {
  for (int i = 0; i < b->ninputs; i++) {
    if (b->inputs[i] < *lo) *lo = b->inputs[i];
    if (b->inputs[i] + 1 > *hi) *hi = b->inputs[i] + 1;
  }
  for (int i = 0; i < b->nnodes; i++) {
    const kiln_node *n = &g->nodes[b->nodes[i]];
    for (int o = 0; o < n->noutputs; o++) {
      if (n->outputs[o] < 0) continue;
      if (n->outputs[o] < *lo) *lo = n->outputs[o];
      if (n->outputs[o] + 1 > *hi) *hi = n->outputs[o] + 1;
    }
    for (int a = 0; a < n->nattrs; a++)
      for (int j = 0; n->attrs[a].graphs && j < (n->attrs[a].type == KILN_ATTR_GRAPH ? 1 : n->attrs[a].count); j++)
        span(g, n->attrs[a].graphs[j], lo, hi);
  }
}

static int map(const remap *m, int id) {
  return id >= m->lo && id < m->hi && m->to[id - m->lo] >= 0 ? m->to[id - m->lo] : id;
}

/* Fresh values for everything b defines (its parameters too when `params`). */
static void define(kiln_ex *x, remap *m, const kiln_block *b, bool params) {
  for (int i = 0; params && i < b->ninputs; i++)
    m->to[b->inputs[i] - m->lo] = kiln_ex_value(x, x->g->values[b->inputs[i]].name);
  for (int i = 0; i < b->nnodes; i++) {
    const kiln_node *n = &x->g->nodes[b->nodes[i]]; /* new values leave nodes in place */
    for (int o = 0; o < n->noutputs; o++)
      if (n->outputs[o] >= 0)
        m->to[n->outputs[o] - m->lo] = kiln_ex_value(x, x->g->values[n->outputs[o]].name);
    for (int a = 0; a < n->nattrs; a++)
      for (int j = 0; n->attrs[a].graphs && j < (n->attrs[a].type == KILN_ATTR_GRAPH ? 1 : n->attrs[a].count); j++)
        define(x, m, n->attrs[a].graphs[j], true);
  }
}

static void copy_nodes(kiln_ex *x, const remap *m, const kiln_block *from, kiln_block *to);

static kiln_block *copy_block(kiln_ex *x, const remap *m, const kiln_block *from) {
  kiln_block *b = kiln_block_new();
  b->ninputs = from->ninputs;
  b->inputs = kiln_xmalloc(sizeof(int) * (size_t)(from->ninputs + 1));
  for (int i = 0; i < from->ninputs; i++) b->inputs[i] = map(m, from->inputs[i]);
  b->noutputs = from->noutputs;
  b->outputs = kiln_xmalloc(sizeof(int) * (size_t)(from->noutputs + 1));
  for (int i = 0; i < from->noutputs; i++) b->outputs[i] = map(m, from->outputs[i]);
  copy_nodes(x, m, from, b);
  return b;
}

static void copy_attr(kiln_ex *x, const remap *m, const kiln_attr *s, kiln_attr *d) {
  *d = *s;
  d->name = kiln_xstrdup(s->name);
  d->s = s->s ? kiln_xstrdup(s->s) : NULL;
  int n = s->count;
  d->ints = s->ints ? kiln_xmalloc(sizeof(int64_t) * (size_t)(n + 1)) : NULL;
  if (s->ints) memcpy(d->ints, s->ints, sizeof(int64_t) * (size_t)n);
  d->floats = s->floats ? kiln_xmalloc(sizeof(double) * (size_t)(n + 1)) : NULL;
  if (s->floats) memcpy(d->floats, s->floats, sizeof(double) * (size_t)n);
  d->strings = s->strings ? kiln_xcalloc((size_t)n + 1, sizeof(char *)) : NULL;
  for (int i = 0; s->strings && i < n; i++) d->strings[i] = kiln_xstrdup(s->strings[i]);
  int nt = s->type == KILN_ATTR_TENSOR ? 1 : n;
  d->tensors = s->tensors ? kiln_xcalloc((size_t)nt + 1, sizeof(kiln_tensor)) : NULL;
  for (int i = 0; s->tensors && i < nt; i++) {
    const kiln_tensor *t = &s->tensors[i];
    size_t bytes = (size_t)kiln_shape_numel(t->rank, t->dims) * kiln_dtype_size(t->dtype);
    d->tensors[i] = *t;
    d->tensors[i].data = t->data ? kiln_xmalloc(bytes ? bytes : 1) : NULL;
    if (t->data) memcpy(d->tensors[i].data, t->data, bytes);
  }
  int ng = s->type == KILN_ATTR_GRAPH ? 1 : n;
  d->graphs = s->graphs ? kiln_xcalloc((size_t)ng + 1, sizeof(kiln_block *)) : NULL;
  for (int i = 0; s->graphs && i < ng; i++) d->graphs[i] = copy_block(x, m, s->graphs[i]);
}

static void copy_nodes(kiln_ex *x, const remap *m, const kiln_block *from, kiln_block *to) {
  kiln_graph *g = x->g;
  for (int i = 0; i < from->nnodes; i++) {
    int src = from->nodes[i];
    int nin = g->nodes[src].ninputs, nout = g->nodes[src].noutputs, na = g->nodes[src].nattrs;
    int *ins = kiln_xmalloc(sizeof(int) * (size_t)(nin + 1));
    int *outs = kiln_xmalloc(sizeof(int) * (size_t)(nout + 1));
    for (int k = 0; k < nin; k++) ins[k] = map(m, g->nodes[src].inputs[k]);
    for (int k = 0; k < nout; k++) outs[k] = map(m, g->nodes[src].outputs[k]);
    const kiln_attr *sa = g->nodes[src].attrs; /* its own array: stays put as nodes grow */
    kiln_attr *attrs = kiln_xcalloc((size_t)na + 1, sizeof(kiln_attr));
    for (int a = 0; a < na; a++) copy_attr(x, m, &sa[a], &attrs[a]);
    char *name = x->tag[0] ? kiln_fmt("%s/%s/%s", x->name, x->tag, g->nodes[src].name)
                           : kiln_fmt("%s/%s", x->name, g->nodes[src].name);
    char *op_type = kiln_xstrdup(g->nodes[src].op_type);
    const kiln_op_def *op = g->nodes[src].op;
    int id = to == x->b ? kiln_graph_insert_node(g, to, x->pos++, op_type, name, ins, nin, outs, nout)
                        : kiln_graph_add_node(g, to, op_type, name, ins, nin, outs, nout);
    g->nodes[id].op = op; /* another domain's op stays that domain's */
    g->nodes[id].attrs = attrs;
    g->nodes[id].nattrs = na;
    free(op_type);
    free(name);
    free(ins);
    free(outs);
  }
}

static void mark_defined(const kiln_graph *g, const kiln_block *b, bool *def) {
  for (int i = 0; i < b->ninputs; i++) def[b->inputs[i]] = true;
  for (int i = 0; i < b->nnodes; i++) {
    const kiln_node *n = &g->nodes[b->nodes[i]];
    for (int o = 0; o < n->noutputs; o++)
      if (n->outputs[o] >= 0) def[n->outputs[o]] = true;
    for (int a = 0; a < n->nattrs; a++)
      for (int j = 0; n->attrs[a].graphs && j < (n->attrs[a].type == KILN_ATTR_GRAPH ? 1 : n->attrs[a].count); j++)
        if (n->attrs[a].graphs[j]) mark_defined(g, n->attrs[a].graphs[j], def);
  }
}

static bool reads_known(const kiln_graph *g, const kiln_block *b, const bool *def) {
  for (int i = 0; i < b->noutputs; i++)
    if (!def[b->outputs[i]] && !g->values[b->outputs[i]].data) return false;
  for (int i = 0; i < b->nnodes; i++) {
    const kiln_node *n = &g->nodes[b->nodes[i]];
    for (int k = 0; k < n->ninputs; k++)
      if (n->inputs[k] >= 0 && !def[n->inputs[k]] && !g->values[n->inputs[k]].data) return false;
    for (int a = 0; a < n->nattrs; a++)
      for (int j = 0; n->attrs[a].graphs && j < (n->attrs[a].type == KILN_ATTR_GRAPH ? 1 : n->attrs[a].count); j++)
        if (n->attrs[a].graphs[j] && !reads_known(g, n->attrs[a].graphs[j], def)) return false;
  }
  return true;
}

bool kiln_block_reads_consts(const kiln_graph *g, const kiln_block *b) {
  bool *def = kiln_xcalloc((size_t)g->nvalues + 1, 1);
  mark_defined(g, b, def);
  bool known = reads_known(g, b, def);
  free(def);
  return known;
}

/* A map over the value ids b defines, none mapped yet (free m.to). */
static remap remap_for(const kiln_graph *g, const kiln_block *b) {
  remap m = {INT32_MAX, 0, NULL};
  span(g, b, &m.lo, &m.hi);
  if (m.hi <= m.lo) m.lo = m.hi = 0;
  m.to = kiln_xmalloc(sizeof(int) * (size_t)(m.hi - m.lo + 1));
  for (int i = 0; i < m.hi - m.lo; i++) m.to[i] = -1;
  return m;
}

kiln_block *kiln_block_copy(kiln_graph *g, const kiln_block *b, const char *prefix) {
  kiln_ex x;
  kiln_ex_into(&x, g, NULL, prefix, KILN_I64);
  remap m = remap_for(g, b);
  define(&x, &m, b, true);
  kiln_block *copy = copy_block(&x, &m, b);
  free(m.to);
  kiln_ex_end(&x);
  return copy;
}

void kiln_ex_inline(kiln_ex *x, const kiln_block *body, const int *args, int *outs) {
  remap m = remap_for(x->g, body);
  define(x, &m, body, false);
  for (int i = 0; i < body->ninputs; i++) m.to[body->inputs[i] - m.lo] = args[i];
  copy_nodes(x, &m, body, x->b);
  for (int i = 0; i < body->noutputs; i++) outs[i] = map(&m, body->outputs[i]);
  free(m.to);
}
