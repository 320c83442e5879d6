/* Sequence and optional graph inputs, bound at compile time before the tensor inputs.
 *
 * A sequence input `x` becomes tensor inputs `x[0]`..`x[n-1]` of the compiled model. Its
 * length n is a shape binding of its own name with one dim ({"x", 1, {n}}), or else the
 * count of elements bound by name (`x[0]`, `x[1]`... as shapes or values). Each element
 * starts from the sequence's declared element type; its free dims are bound like any
 * input's. An optional input is present when a binding names it (an optional tensor `x`:
 * its shape or value; an optional sequence: its length or `x[0]`), else empty. */
#include "passes/passes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool bound(const kiln_options *o, const char *name) {
  for (int i = 0; i < o->nshapes; i++)
    if (o->shapes[i].input && !strcmp(o->shapes[i].input, name)) return true;
  for (int i = 0; i < o->nvalues; i++)
    if (o->values[i].input && !strcmp(o->values[i].input, name)) return true;
  return false;
}

static const kiln_shape_binding *length_binding(const kiln_options *o, const char *name) {
  for (int i = 0; i < o->nshapes; i++)
    if (o->shapes[i].input && !strcmp(o->shapes[i].input, name)) return &o->shapes[i];
  return NULL;
}

static bool element_bound(const kiln_options *o, const char *name, int k) {
  char *e = kiln_fmt("%s[%d]", name, k);
  bool b = bound(o, e);
  free(e);
  return b;
}

/* A new graph input for element k of sequence s (k < 0: the optional tensor s holds). */
static int add_element(kiln_graph *g, int s, int k, int **inputs, int *n) {
  char *name = k < 0 ? kiln_xstrdup(g->values[s].name) : kiln_fmt("%s[%d]", g->values[s].name, k);
  int id = kiln_graph_add_value(g, name);
  free(name);
  kiln_value *v = &g->values[id], *t = &g->values[s];
  v->dtype = t->dtype;
  v->rank = t->rank;
  memcpy(v->dims, t->dims, sizeof v->dims);
  /* elements may differ in shape: a named dim binds each one alone */
  for (int d = 0; d < KILN_MAX_RANK; d++)
    if (t->dim_names[d]) v->dim_names[d] = kiln_xstrdup(k < 0 ? t->dim_names[d] : "?");
  v->is_input = true;
  *inputs = kiln_xrealloc(*inputs, sizeof(int) * (size_t)(*n + 1));
  (*inputs)[(*n)++] = id;
  return id;
}

static kiln_status bind_sequence(kiln_graph *g, int s, const kiln_options *o, int **inputs,
                                 int *n, kiln_error *err) {
  const char *name = g->values[s].name;
  const kiln_shape_binding *b = length_binding(o, name);
  int64_t len = 0;
  if (b) {
    if (b->rank != 1 || b->dims[0] < 0)
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                       "sequence input '%s': its binding gives the length, one dim {n}", name);
    len = b->dims[0];
  } else {
    while (len < KILN_MAX_SEQ_LEN && element_bound(o, name, (int)len)) len++;
    if (!len)
      return kiln_fail(err, KILN_ERR_SHAPE,
                       "sequence input '%s': its length must be known at compile time: bind "
                       "'%s' to {n} (kiln_options.shapes) or its elements '%s[0]'...",
                       name, name, name);
  }
  if (len > KILN_MAX_SEQ_LEN)
    return kiln_fail(err, KILN_ERR_LIMIT, "sequence input '%s': length %lld, over kiln's limit of %d",
                     name, (long long)len, KILN_MAX_SEQ_LEN);
  int *elems = kiln_xmalloc(sizeof(int) * (size_t)(len + 1));
  for (int k = 0; k < len; k++) elems[k] = add_element(g, s, k, inputs, n);
  kiln_value_set_elems(&g->values[s], KILN_KIND_SEQUENCE, elems, (int)len);
  g->values[s].is_input = true; /* its length binding names it */
  free(elems);
  return KILN_OK;
}

kiln_status kiln_bind_sequences(kiln_graph *g, const kiln_options *o, kiln_error *err) {
  int *inputs = NULL, n = 0;
  kiln_status st = KILN_OK;
  for (int i = 0; i < g->ninputs && !st; i++) {
    int id = g->inputs[i];
    kiln_value *v = &g->values[id];
    if (v->kind == KILN_KIND_SEQUENCE && v->nelems < 0) {
      st = bind_sequence(g, id, o, &inputs, &n, err);
    } else if (v->kind == KILN_KIND_OPTIONAL && v->nelems < 0) {
      bool seq = v->elems != NULL; /* the sequence it would hold (frontend) */
      char *first = kiln_fmt("%s[0]", v->name);
      bool present = bound(o, v->name) || (seq && bound(o, first));
      free(first);
      int elem = seq ? v->elems[0] : -1;
      if (present && seq) st = bind_sequence(g, elem, o, &inputs, &n, err);
      else if (present) elem = add_element(g, id, -1, &inputs, &n);
      kiln_value_set_elems(&g->values[id], KILN_KIND_OPTIONAL, &elem, present ? 1 : 0);
    } else {
      inputs = kiln_xrealloc(inputs, sizeof(int) * (size_t)(n + 1));
      inputs[n++] = id;
    }
  }
  free(g->inputs);
  g->inputs = inputs;
  g->ninputs = n;
  return st;
}

bool kiln_bind_is_length(const kiln_graph *g, const char *name) {
  for (int i = 0; i < g->nvalues; i++) {
    const kiln_value *v = &g->values[i];
    if (v->kind == KILN_KIND_SEQUENCE && v->is_input && !strcmp(v->name, name)) return true;
  }
  return false;
}
