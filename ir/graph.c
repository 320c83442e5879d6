#include "ir/graph.h"

#include "ir/op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kiln_graph *kiln_graph_new(void) { return kiln_xcalloc(1, sizeof(kiln_graph)); }

kiln_block *kiln_block_new(void) { return kiln_xcalloc(1, sizeof(kiln_block)); }

void kiln_block_free(kiln_block *b) {
  if (!b) return;
  free(b->nodes);
  free(b->outputs);
  free(b->inputs);
  free(b);
}

void kiln_tensor_free(kiln_tensor *t) {
  free(t->data);
  t->data = NULL;
}

void kiln_attr_clear(kiln_attr *a) {
  free(a->name);
  free(a->s);
  free(a->ints);
  free(a->floats);
  for (int i = 0; a->strings && i < a->count; i++) free(a->strings[i]);
  free(a->strings);
  for (int i = 0; a->tensors && i < (a->type == KILN_ATTR_TENSOR ? 1 : a->count); i++)
    kiln_tensor_free(&a->tensors[i]);
  free(a->tensors);
  for (int i = 0; a->graphs && i < (a->type == KILN_ATTR_GRAPH ? 1 : a->count); i++)
    kiln_block_free(a->graphs[i]);
  free(a->graphs);
  memset(a, 0, sizeof *a);
}

kiln_symdim kiln_value_symdim(const kiln_graph *g, const kiln_value *v, int d) {
  if (v->sym[d] > 0 && v->sym[d] <= g->nsymdims) return g->symdims[v->sym[d] - 1];
  return kiln_symdim_const(v->dims[d]);
}

bool kiln_value_set_symdim(kiln_graph *g, kiln_value *v, int d, const kiln_symdim *x) {
  int64_t c;
  v->sym[d] = 0;
  if (kiln_symdim_is_const(x, &c)) return v->dims[d] = c, true;
  if (!kiln_symdim_eval(x, g->sym_hint, &c)) return false;
  v->dims[d] = c;
  v->sym[d] = kiln_graph_symdim_index(g, x);
  return true;
}

int kiln_graph_symdim_index(kiln_graph *g, const kiln_symdim *x) {
  for (int i = 0; i < g->nsymdims; i++)
    if (kiln_symdim_equal(&g->symdims[i], x)) return i + 1;
  KILN_GROW(g->symdims, g->nsymdims, g->symdims_cap);
  g->symdims[g->nsymdims++] = *x;
  return g->nsymdims;
}

bool kiln_value_has_sym_data(const kiln_value *v) {
  if (!v->sym_data || !v->data) return false;
  for (int64_t i = 0; i < kiln_value_numel(v); i++)
    if (v->sym_data[i]) return true;
  return false;
}

kiln_symdim kiln_value_sym_elem(const kiln_graph *g, const kiln_value *v, int64_t i) {
  if (v->sym_data && v->sym_data[i] > 0 && v->sym_data[i] <= g->nsymdims)
    return g->symdims[v->sym_data[i] - 1];
  int64_t x = v->dtype == KILN_I32 ? ((const int32_t *)v->data)[i] : ((const int64_t *)v->data)[i];
  return kiln_symdim_const(x);
}

void kiln_value_eval_sym_data(const kiln_graph *g, kiln_value *v, const int64_t *vals) {
  for (int64_t i = 0; v->sym_data && v->data && i < kiln_value_numel(v); i++) {
    int64_t x;
    if (!v->sym_data[i] || v->sym_data[i] > g->nsymdims ||
        !kiln_symdim_eval(&g->symdims[v->sym_data[i] - 1], vals, &x))
      continue;
    if (v->dtype == KILN_I32) ((int32_t *)v->data)[i] = (int32_t)x;
    else ((int64_t *)v->data)[i] = x;
  }
}

int kiln_graph_data_sym_of(const kiln_graph *g, const kiln_symdim *x) {
  for (int s = 0; s < g->nsyms; s++) {
    kiln_symdim one = kiln_symdim_sym(s);
    if (g->sym_def[s].den == KILN_SYMDIV_DATA && kiln_symdim_equal(x, &one)) return s;
  }
  return -1;
}

bool kiln_graph_symdim_has_data(const kiln_graph *g, const kiln_symdim *x) {
  for (int s = 0; s < g->nsyms; s++)
    if (g->sym_def[s].den == KILN_SYMDIV_DATA && kiln_symdim_uses(x, s)) return true;
  return false;
}

static uint32_t symdim_data_syms(const kiln_graph *g, const kiln_symdim *x) {
  uint32_t m = 0;
  for (int s = 0; s < g->nsyms; s++)
    if (g->sym_def[s].den == KILN_SYMDIV_DATA && kiln_symdim_uses(x, s))
      m |= 1u << s | (g->sym_min >> s & 1 ? symdim_data_syms(g, &g->sym_min_of[s]) : 0);
  return m;
}

uint32_t kiln_value_data_syms(const kiln_graph *g, const kiln_value *v) {
  uint32_t m = 0;
  for (int d = 0; d < v->rank; d++) {
    if (!v->sym[d]) continue;
    kiln_symdim x = kiln_value_symdim(g, v, d);
    m |= symdim_data_syms(g, &x);
  }
  for (int64_t i = 0; kiln_value_has_sym_data(v) && i < kiln_value_numel(v); i++) {
    kiln_symdim x = kiln_value_sym_elem(g, v, i);
    m |= symdim_data_syms(g, &x);
  }
  return m;
}

uint32_t kiln_node_data_syms(const kiln_graph *g, const kiln_node *n) {
  uint32_t m = 0;
  for (int i = 0; i < n->ninputs; i++)
    if (n->inputs[i] >= 0) m |= kiln_value_data_syms(g, &g->values[n->inputs[i]]);
  for (int i = 0; i < n->noutputs; i++)
    if (n->outputs[i] >= 0) m |= kiln_value_data_syms(g, &g->values[n->outputs[i]]);
  return m;
}

bool kiln_graph_symdim_falls(const kiln_graph *g, const kiln_symdim *x) {
  for (int t = 0; t < x->nterms; t++) {
    if (x->coef[t] >= 0) continue;
    for (int s = 0; s < g->nsyms; s++)
      if (g->sym_def[s].den == KILN_SYMDIV_DATA && x->pow[t][s]) return true;
  }
  return false;
}

int kiln_graph_data_sym(kiln_graph *g, const char *name, const kiln_symdim *bound) {
  int64_t hint;
  if (!kiln_symdim_eval(bound, g->sym_hint, &hint)) return -1;
  int s = 0;
  while (s < g->nsyms && !(g->sym_def[s].den == KILN_SYMDIV_DATA && !strcmp(g->sym_names[s], name)))
    s++;
  if (s == KILN_MAX_SYMS) return -1;
  if (s == g->nsyms) g->sym_names[g->nsyms++] = kiln_xstrdup(name);
  g->sym_def[s] = (kiln_symdiv){*bound, KILN_SYMDIV_DATA}; /* the last inference's */
  g->sym_hint[s] = hint < 1 ? 1 : hint; /* schedules are sized for the largest count */
  return s;
}

int kiln_graph_min_sym(kiln_graph *g, const kiln_symdim *x, int64_t c) {
  kiln_symdim bound = kiln_symdim_const(c);
  for (int s = 0; s < g->nsyms; s++) /* by definition: a long x's name is cut short */
    if ((g->sym_min >> s & 1) && kiln_symdim_equal(&g->sym_min_of[s], x) &&
        kiln_symdim_equal(&g->sym_def[s].num, &bound))
      return s;
  char num[96];
  kiln_symdim_str(x, (const char *const *)g->sym_names, num, sizeof num);
  char *name = kiln_fmt("min(%s,%lld)", num, (long long)c);
  for (int s = 0, k = 2; s < g->nsyms; s++)
    if (!strcmp(g->sym_names[s], name)) { /* another x of that name */
      free(name);
      name = kiln_fmt("min(%s,%lld)#%d", num, (long long)c, k++);
      s = -1;
    }
  int s = kiln_graph_data_sym(g, name, &bound);
  free(name);
  if (s < 0) return -1;
  g->sym_min |= 1u << s;
  g->sym_min_of[s] = *x;
  return s;
}

void kiln_graph_eval_min(const kiln_graph *g, int64_t *vals) {
  for (int s = 0; s < g->nsyms; s++) {
    int64_t x, c;
    if (!(g->sym_min >> s & 1) || !kiln_symdim_is_const(&g->sym_def[s].num, &c)) continue;
    vals[s] = kiln_symdim_eval(&g->sym_min_of[s], vals, &x) && x < c ? x : c;
  }
}

bool kiln_graph_floordiv(kiln_graph *g, const kiln_symdim *a, int64_t den, kiln_symdim *out) {
  kiln_symdiv div;
  if (!kiln_symdim_floordiv(g->sym_def, g->nsyms, a, den, out, &div)) return false;
  if (!div.den) return true;
  /* a run computes derived syms before its kernels, so they cannot read a data sym */
  if (kiln_graph_symdim_has_data(g, &div.num)) return false;
  int s = 0;
  while (s < g->nsyms && !(g->sym_def[s].den == div.den && kiln_symdim_equal(&g->sym_def[s].num, &div.num)))
    s++;
  if (s == g->nsyms) {
    char num[96];
    int64_t hint[KILN_MAX_SYMS];
    if (s == KILN_MAX_SYMS) return false;
    kiln_symdim_str(&div.num, (const char *const *)g->sym_names, num, sizeof num);
    g->sym_def[s] = div;
    memcpy(hint, g->sym_hint, sizeof hint);
    hint[s] = 0;
    if (!kiln_symdim_derive(g->sym_def, s + 1, hint)) return false;
    g->sym_names[s] = div.num.nterms > 1 ? kiln_fmt("(%s)/%lld", num, (long long)div.den)
                                         : kiln_fmt("%s/%lld", num, (long long)div.den);
    g->sym_hint[s] = hint[s];
    g->nsyms++;
  }
  kiln_symdim x = kiln_symdim_sym(s);
  return kiln_symdim_add(out, &x, out);
}

bool kiln_value_is_symbolic(const kiln_value *v) {
  for (int d = 0; d < v->rank && d < KILN_MAX_RANK; d++)
    if (v->sym[d]) return true;
  return false;
}

void kiln_graph_free(kiln_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->nvalues; i++) {
    kiln_value *v = &g->values[i];
    free(v->name);
    free(v->data);
    free(v->sym_data);
    free(v->layout);
    free(v->elems);
    for (int d = 0; d < KILN_MAX_RANK; d++) free(v->dim_names[d]);
  }
  for (int i = 0; i < g->nnodes; i++) {
    kiln_node *n = &g->nodes[i];
    free(n->name);
    free(n->op_type);
    free(n->inputs);
    free(n->outputs);
    for (int a = 0; a < n->nattrs; a++) kiln_attr_clear(&n->attrs[a]);
    free(n->attrs);
  }
  free(g->values);
  free(g->nodes);
  free(g->main.nodes);
  free(g->main.outputs);
  free(g->main.inputs);
  free(g->inputs);
  free(g->name);
  free(g->symdims);
  for (int i = 0; i < g->nsyms; i++) free(g->sym_names[i]);
  kiln_choices_free(&g->choices);
  free(g);
}

int kiln_graph_add_value(kiln_graph *g, const char *name) {
  KILN_GROW(g->values, g->nvalues, g->values_cap);
  kiln_value *v = &g->values[g->nvalues];
  memset(v, 0, sizeof *v);
  v->name = kiln_xstrdup(name ? name : "");
  v->rank = -1;
  v->producer = -1;
  return g->nvalues++;
}

int kiln_graph_find_value(const kiln_graph *g, const char *name) {
  for (int i = g->nvalues - 1; i >= 0; i--)
    if (strcmp(g->values[i].name, name) == 0) return i;
  return -1;
}

int kiln_graph_add_node(kiln_graph *g, kiln_block *b, const char *op_type, const char *name,
                        const int *inputs, int ninputs, const int *outputs, int noutputs) {
  return kiln_graph_insert_node(g, b, b->nnodes, op_type, name, inputs, ninputs, outputs,
                                noutputs);
}

int kiln_graph_insert_node(kiln_graph *g, kiln_block *b, int pos, const char *op_type,
                           const char *name, const int *inputs, int ninputs,
                           const int *outputs, int noutputs) {
  KILN_GROW(g->nodes, g->nnodes, g->nodes_cap);
  int id = g->nnodes++;
  kiln_node *n = &g->nodes[id];
  memset(n, 0, sizeof *n);
  n->op_type = kiln_xstrdup(op_type);
  n->name = name && *name ? kiln_xstrdup(name) : kiln_fmt("%s_%d", op_type, id);
  n->op = kiln_op_find(op_type);
  n->ninputs = ninputs;
  n->noutputs = noutputs;
  n->inputs = kiln_xmalloc(sizeof(int) * (size_t)(ninputs ? ninputs : 1));
  n->outputs = kiln_xmalloc(sizeof(int) * (size_t)(noutputs ? noutputs : 1));
  if (ninputs) memcpy(n->inputs, inputs, sizeof(int) * (size_t)ninputs);
  if (noutputs) memcpy(n->outputs, outputs, sizeof(int) * (size_t)noutputs);
  for (int i = 0; i < noutputs; i++)
    if (outputs[i] >= 0) g->values[outputs[i]].producer = id;
  KILN_GROW(b->nodes, b->nnodes, b->cap);
  memmove(&b->nodes[pos + 1], &b->nodes[pos], sizeof(int) * (size_t)(b->nnodes - pos));
  b->nodes[pos] = id;
  b->nnodes++;
  return id;
}

void kiln_block_remove(kiln_graph *g, kiln_block *b, int pos) {
  g->nodes[b->nodes[pos]].op = NULL;
  memmove(&b->nodes[pos], &b->nodes[pos + 1], sizeof(int) * (size_t)(b->nnodes - pos - 1));
  b->nnodes--;
}

kiln_attr *kiln_node_add_attr(kiln_node *n, const char *name, kiln_attr_type type) {
  n->attrs = kiln_xrealloc(n->attrs, sizeof(kiln_attr) * (size_t)(n->nattrs + 1));
  kiln_attr *a = &n->attrs[n->nattrs++];
  memset(a, 0, sizeof *a);
  a->name = kiln_xstrdup(name);
  a->type = type;
  return a;
}

const kiln_attr *kiln_node_attr(const kiln_node *n, const char *name) {
  for (int i = 0; i < n->nattrs; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

void kiln_value_set_elems(kiln_value *v, kiln_value_kind kind, const int *elems, int n) {
  free(v->elems);
  v->kind = kind;
  v->elems = kiln_xmalloc(sizeof(int) * (size_t)(n ? n : 1));
  if (n) memcpy(v->elems, elems, sizeof(int) * (size_t)n);
  v->nelems = n;
}

void kiln_value_set_const(kiln_value *v, kiln_tensor *t) {
  free(v->data);
  free(v->sym_data);
  v->sym_data = NULL;
  v->dtype = t->dtype;
  v->rank = t->rank;
  memcpy(v->dims, t->dims, sizeof v->dims);
  v->data = t->data;
  t->data = NULL;
}

/* A dim of 0 makes 0 whatever the others are (an absurd shape with a 0 in it is empty);
 * otherwise a product past int64 saturates, so size checks refuse it. */
int64_t kiln_shape_numel(int rank, const int64_t *dims) {
  for (int i = 0; i < rank; i++)
    if (dims[i] == 0) return 0;
  int64_t n = 1;
  for (int i = 0; i < rank; i++)
    if (kiln_mul_overflows(n, dims[i], &n)) return INT64_MAX;
  return n;
}

int64_t kiln_value_numel(const kiln_value *v) { return kiln_shape_numel(v->rank, v->dims); }

const char *kiln_graph_type_str(const kiln_graph *g, const kiln_value *v, char *buf,
                                size_t size) {
  if (!kiln_value_is_symbolic(v)) return kiln_value_type_str(v, buf, size);
  int n = snprintf(buf, size, "%s[", kiln_dtype_name(v->dtype));
  for (int i = 0; i < v->rank && n > 0 && (size_t)n < size; i++) {
    char dim[128];
    kiln_symdim x = kiln_value_symdim(g, v, i);
    kiln_symdim_str(&x, (const char *const *)g->sym_names, dim, sizeof dim);
    n += snprintf(buf + n, size - (size_t)n, "%s%s", i ? "," : "", dim);
  }
  if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, "]");
  return buf;
}

const char *kiln_value_type_str(const kiln_value *v, char *buf, size_t size) {
  int n = snprintf(buf, size, "%s[", kiln_dtype_name(v->dtype));
  for (int i = 0; i < v->rank && n > 0 && (size_t)n < size; i++) {
    if (v->dim_names[i])
      n += snprintf(buf + n, size - (size_t)n, "%s%s", i ? "," : "", v->dim_names[i]);
    else
      n += snprintf(buf + n, size - (size_t)n, "%s%lld", i ? "," : "", (long long)v->dims[i]);
  }
  if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, "]");
  return buf;
}
