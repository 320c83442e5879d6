/* The expansion builder (expand.h): inserts nodes at the expanded node's position. */
#include "ir/ops/expand.h"

#include "ir/dtype.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kiln_ex_begin(kiln_ex *x, kiln_graph *g, kiln_block *b, int pos, kiln_dtype t) {
  memset(x, 0, sizeof *x);
  x->g = g;
  x->b = b;
  x->pos = pos;
  x->t = t;
  x->from = b->nodes[pos];
  x->name = kiln_xstrdup(g->nodes[x->from].name);
  kiln_block_remove(g, b, pos);
}

void kiln_ex_into(kiln_ex *x, kiln_graph *g, kiln_block *b, const char *name, kiln_dtype t) {
  memset(x, 0, sizeof *x);
  x->g = g;
  x->b = b;
  x->pos = b ? b->nnodes : 0;
  x->t = t;
  x->from = -1;
  x->name = kiln_xstrdup(name);
}

void kiln_ex_end(kiln_ex *x) {
  free(x->name);
  x->name = NULL;
}

/* "<node>/<tag>/<what>" (malloc'd): names of new values and nodes. */
static char *path(const kiln_ex *x, const char *what) {
  return x->tag[0] ? kiln_fmt("%s/%s/%s", x->name, x->tag, what) : kiln_fmt("%s/%s", x->name, what);
}

int kiln_ex_value(kiln_ex *x, const char *what) {
  char *s = path(x, what);
  int id = kiln_graph_add_value(x->g, s);
  free(s);
  return id;
}

void kiln_ex_node(kiln_ex *x, const char *op, const int *ins, int nin, int *outs, int nout,
                  const char *what) {
  for (int i = 0; i < nout; i++) {
    if (outs[i] >= 0) continue;
    char w[64];
    snprintf(w, sizeof w, nout > 1 ? "%s%d" : "%s", what, i);
    outs[i] = kiln_ex_value(x, w);
  }
  char *name = path(x, what);
  x->last = kiln_graph_insert_node(x->g, x->b, x->pos++, op, name, ins, nin, outs, nout);
  free(name);
}

int kiln_ex_node1(kiln_ex *x, const char *op, const int *ins, int nin, int out, const char *what) {
  kiln_ex_node(x, op, ins, nin, &out, 1, what);
  return out;
}

int kiln_ex_unary(kiln_ex *x, const char *op, int a, const char *what) {
  return kiln_ex_node1(x, op, &a, 1, -1, what);
}

int kiln_ex_binary(kiln_ex *x, const char *op, int a, int b, const char *what) {
  int in[2] = {a, b};
  return kiln_ex_node1(x, op, in, 2, -1, what);
}

void kiln_ex_attr_i(kiln_ex *x, const char *name, int64_t v) {
  kiln_node_add_attr(&x->g->nodes[x->last], name, KILN_ATTR_INT)->i = v;
}

void kiln_ex_attr_f(kiln_ex *x, const char *name, double v) {
  kiln_node_add_attr(&x->g->nodes[x->last], name, KILN_ATTR_FLOAT)->f = v;
}

void kiln_ex_attr_s(kiln_ex *x, const char *name, const char *v) {
  kiln_node_add_attr(&x->g->nodes[x->last], name, KILN_ATTR_STRING)->s = kiln_xstrdup(v);
}

void kiln_ex_attr_ints(kiln_ex *x, const char *name, int n, const int64_t *v) {
  kiln_attr *a = kiln_node_add_attr(&x->g->nodes[x->last], name, KILN_ATTR_INTS);
  a->count = n;
  a->ints = kiln_xmalloc(sizeof(int64_t) * (size_t)(n ? n : 1));
  if (n) memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
}

void kiln_ex_attr_strings(kiln_ex *x, const char *name, int n, const char *const *v) {
  kiln_attr *a = kiln_node_add_attr(&x->g->nodes[x->last], name, KILN_ATTR_STRINGS);
  a->count = n;
  a->strings = kiln_xmalloc(sizeof(char *) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) a->strings[i] = kiln_xstrdup(v[i]);
}

void kiln_ex_take_attrs(kiln_ex *x) {
  kiln_node *from = &x->g->nodes[x->from], *to = &x->g->nodes[x->last];
  for (int i = 0; i < to->nattrs; i++) kiln_attr_clear(&to->attrs[i]);
  free(to->attrs);
  to->attrs = from->attrs;
  to->nattrs = from->nattrs;
  from->attrs = NULL;
  from->nattrs = 0;
}

int kiln_ex_const(kiln_ex *x, const char *what, kiln_dtype t, int rank, const int64_t *dims,
                  const double *vals) {
  kiln_tensor c = {t, rank, {0}, NULL};
  if (rank) memcpy(c.dims, dims, sizeof(int64_t) * (size_t)rank);
  int64_t numel = kiln_shape_numel(rank, dims);
  c.data = kiln_xcalloc((size_t)(numel ? numel : 1), kiln_dtype_size(t));
  for (int64_t i = 0; vals && i < numel; i++) kiln_store_f64(t, c.data, i, vals[i]);
  int id = kiln_ex_value(x, what);
  kiln_value_set_const(&x->g->values[id], &c);
  return id;
}

int kiln_ex_ints(kiln_ex *x, int n, const int64_t *v) {
  for (int i = 0; i < x->ncached; i++)
    if (x->cached_n[i] == n && memcmp(x->cached_v[i], v, sizeof(int64_t) * (size_t)n) == 0)
      return x->cached_id[i];
  double d[4];
  for (int i = 0; i < n; i++) d[i] = (double)v[i];
  char w[32], tag[sizeof x->tag];
  snprintf(w, sizeof w, "c%d", x->nconsts++);
  memcpy(tag, x->tag, sizeof tag);
  x->tag[0] = 0;
  int64_t dim = n;
  int id = kiln_ex_const(x, w, KILN_I64, 1, &dim, d);
  memcpy(x->tag, tag, sizeof tag);
  if (x->ncached < KILN_EX_MAX_CACHED) {
    x->cached_n[x->ncached] = n;
    memcpy(x->cached_v[x->ncached], v, sizeof(int64_t) * (size_t)n);
    x->cached_id[x->ncached++] = id;
  }
  return id;
}

int kiln_ex_int1(kiln_ex *x, int64_t v) { return kiln_ex_ints(x, 1, &v); }

int kiln_ex_scalar(kiln_ex *x, double v, const char *what) {
  return kiln_ex_const(x, what, x->t, 0, NULL, &v);
}

int kiln_ex_reshape(kiln_ex *x, int v, int rank, const int64_t *dims, int out, const char *what) {
  double d[KILN_MAX_RANK];
  for (int i = 0; i < rank; i++) d[i] = (double)dims[i];
  int shape = kiln_ex_const(x, "shape", KILN_I64, 1, (int64_t[]){rank}, d);
  return kiln_ex_node1(x, "Reshape", (int[]){v, shape}, 2, out, what);
}

int kiln_ex_transpose(kiln_ex *x, int v, int rank, const int64_t *perm, int out, const char *what) {
  int r = kiln_ex_node1(x, "Transpose", &v, 1, out, what);
  kiln_ex_attr_ints(x, "perm", rank, perm);
  return r;
}

int kiln_ex_i64(kiln_ex *x, int64_t v, const char *what) {
  double d = (double)v;
  return kiln_ex_const(x, what, KILN_I64, 0, NULL, &d);
}

int kiln_ex_cast(kiln_ex *x, int v, kiln_dtype to, int out, const char *what) {
  int r = kiln_ex_node1(x, "Cast", &v, 1, out, what);
  kiln_ex_attr_i(x, "to", to);
  return r;
}
