/* Free dims for `kiln check`: a compile needs every input dim bound, so check finds the
 * ones the options leave free, binds them to 1 to check the rest of the model anyway, and,
 * to say what each one flows into, infers the model again with that dim at 2 and compares
 * the shapes. (Probing replaces symbolic shape inference: every op's own inference says
 * what depends on what.) */
#include "runtime/check_dims.h"

#include "ir/dtype.h"
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PROBES 16 /* free dims whose flow is probed; more are listed without it */
#define NOT_LISTED -2 /* free_of: a free dim of an input with a problem, bound to 1 */

static int user_binding(const kiln_options *opts, const char *input) {
  for (int i = 0; i < opts->nshapes; i++)
    if (opts->shapes[i].input && !strcmp(opts->shapes[i].input, input)) return i;
  return -1;
}

static bool named(const char *name) { return name && strcmp(name, "?"); }

/* The size the options give the dim name `name` through an input they bind, or -1. */
static int64_t user_size(const kiln_graph *g, const kiln_options *opts, const char *name) {
  for (int i = 0; i < g->ninputs; i++) {
    const kiln_value *v = &g->values[g->inputs[i]];
    int u = user_binding(opts, v->name);
    if (u < 0) continue;
    for (int d = 0; d < v->rank && d < opts->shapes[u].rank; d++)
      if (v->dims[d] < 0 && named(v->dim_names[d]) && !strcmp(v->dim_names[d], name))
        return opts->shapes[u].dims[d];
  }
  return -1;
}

/* The entry of the free dim called name, or -1 (always for an unnamed one). */
static int named_entry(const kiln_check_report *r, const char *name) {
  for (int i = 0; named(name) && i < r->nfree; i++)
    if (!strcmp(r->free_dims[i].name, name)) return i;
  return -1;
}

/* The free dim entry for name, new unless a named one exists. */
static int free_entry(kiln_check_report *r, const char *name) {
  int i = named_entry(r, name);
  if (i >= 0) return i;
  r->free_dims = kiln_xrealloc(r->free_dims, sizeof *r->free_dims * (size_t)(r->nfree + 1));
  kiln_check_free_dim *f = &r->free_dims[r->nfree];
  memset(f, 0, sizeof *f);
  f->name = kiln_xstrdup(named(name) ? name : "?");
  f->nvalues = -1;
  return r->nfree++;
}

static void add_use(kiln_check_free_dim *f, const char *input, int dim) {
  f->uses = kiln_xrealloc(f->uses, sizeof *f->uses * (size_t)(f->nuses + 1));
  f->uses[f->nuses++] = (kiln_check_use){kiln_xstrdup(input), dim};
}

void kiln_check_find_free(const kiln_graph *g, const kiln_options *opts, kiln_check_binding *b,
                          kiln_check_report *r) {
  const kiln_diags *diags = &r->diags;
  memset(b, 0, sizeof *b);
  b->shapes = kiln_xcalloc((size_t)g->ninputs + 1, sizeof *b->shapes);
  b->free_of = kiln_xcalloc((size_t)g->ninputs + 1, sizeof *b->free_of);
  /* inputs with a problem (their type) last: they are bound, their free dims not listed,
   * but a dim named as a listed one varies with it */
  for (int k = 0; k < 2 * g->ninputs; k++) {
    int i = k % g->ninputs;
    const kiln_value *v = &g->values[g->inputs[i]];
    bool bad = kiln_diags_tainted(diags, g->inputs[i]);
    /* a sequence's length or an optional's presence is the caller's to give, as compiling */
    if (bad != (k >= g->ninputs) || user_binding(opts, v->name) >= 0 || (v->rank < 0 && bad) ||
        v->kind != KILN_KIND_TENSOR)
      continue;
    if (v->rank < 0) {
      int f = free_entry(r, NULL);
      add_use(&r->free_dims[f], v->name, -1);
      continue;
    }
    kiln_shape_binding *s = &b->shapes[b->nshapes];
    int *free_of = b->free_of[b->nshapes];
    bool any = false;
    *s = (kiln_shape_binding){v->name, v->rank, {0}};
    for (int d = 0; d < v->rank; d++) {
      s->dims[d] = v->dims[d];
      free_of[d] = -1;
      if (v->dims[d] >= 0) continue;
      s->dims[d] = named(v->dim_names[d]) ? user_size(g, opts, v->dim_names[d]) : -1;
      any = true;
      if (s->dims[d] >= 0) continue;
      if (bad) {
        int f = named_entry(r, v->dim_names[d]);
        free_of[d] = f >= 0 ? f : NOT_LISTED;
        continue;
      }
      free_of[d] = free_entry(r, v->dim_names[d]);
      add_use(&r->free_dims[free_of[d]], v->name, d);
    }
    if (any) b->nshapes++;
  }
}

kiln_status kiln_check_bind(kiln_graph *g, const kiln_options *opts, const kiln_check_binding *b,
                            int variant, kiln_diags *diags, kiln_error *err) {
  int n = opts->nshapes + b->nshapes;
  kiln_shape_binding *shapes = kiln_xcalloc((size_t)n + 1, sizeof *shapes);
  if (opts->nshapes) memcpy(shapes, opts->shapes, sizeof *shapes * (size_t)opts->nshapes);
  for (int i = 0; i < b->nshapes; i++) {
    kiln_shape_binding *s = &shapes[opts->nshapes + i];
    *s = b->shapes[i];
    for (int d = 0; d < s->rank; d++)
      if (b->free_of[i][d] != -1) s->dims[d] = b->free_of[i][d] == variant ? 2 : 1;
  }
  for (int i = 0; i < g->ninputs; i++) {
    kiln_value *v = &g->values[g->inputs[i]];
    if (v->rank >= 0 || user_binding(opts, v->name) >= 0 || v->kind != KILN_KIND_TENSOR) continue;
    v->rank = 0; /* a scalar nothing reads: its readers are not checked */
    kiln_diags_taint(diags, g->inputs[i]);
  }
  kiln_options o = *opts;
  o.shapes = shapes;
  o.nshapes = n;
  kiln_status st = kiln_pass_bind_inputs(g, &o, err);
  free(shapes);
  return st;
}

static bool same_shape(const kiln_value *a, const kiln_value *b, unsigned *dims) {
  *dims = 0;
  if (a->rank != b->rank) return *dims = (1u << (a->rank > b->rank ? a->rank : b->rank)) - 1, false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d]) *dims |= 1u << d;
  return !*dims;
}

static bool known(const kiln_value *v) { return v->rank >= 0 && kiln_dtype_known(v->dtype); }

/* A problem inference found with the variant that the report does not have already. */
static const kiln_diag *new_problem(const kiln_diags *d, int from, const kiln_check_report *r) {
  for (int i = from; i < d->n; i++) {
    bool seen = false;
    for (int j = 0; j < r->diags.n && !seen; j++)
      seen = !strcmp(d->items[i].message, r->diags.items[j].message);
    if (!seen) return &d->items[i];
  }
  return NULL;
}

static void compare(const kiln_graph *g, const kiln_graph *v, int nimported,
                    const kiln_check_report *r, const kiln_diags *vd, kiln_check_free_dim *f) {
  unsigned dims;
  f->nvalues = 0;
  for (int i = 0; i < nimported && i < v->nvalues; i++)
    if (!g->values[i].is_input && !kiln_diags_tainted(&r->diags, i) &&
        !kiln_diags_tainted(vd, i) && known(&g->values[i]) &&
        known(&v->values[i]) && !same_shape(&g->values[i], &v->values[i], &dims))
      f->nvalues++;
  for (int j = 0; j < g->main.noutputs && j < v->main.noutputs; j++) {
    const kiln_value *a = &g->values[g->main.outputs[j]], *b = &v->values[v->main.outputs[j]];
    if (!known(a) || !known(b) || same_shape(a, b, &dims)) continue;
    f->outputs = kiln_xrealloc(f->outputs, sizeof *f->outputs * (size_t)(f->noutputs + 1));
    f->outputs[f->noutputs++] = (kiln_check_flow){kiln_xstrdup(a->name), dims};
  }
}

void kiln_check_flows(const kiln_check_source *s, const kiln_graph *g, int nimported,
                      const kiln_check_binding *b, kiln_check_report *r) {
  for (int k = 0; k < r->nfree && k < MAX_PROBES; k++) {
    kiln_check_free_dim *f = &r->free_dims[k];
    if (f->uses[0].dim < 0) continue; /* an unknown rank: nothing to vary */
    kiln_diags d = {0};
    kiln_graph *v = NULL;
    kiln_error err = {0};
    kiln_status st = kiln_check_import(s, NULL, &d, &v, &err);
    int from = d.n;
    if (!st) st = kiln_check_bind(v, s->opts, b, k, &d, &err);
    if (!st) kiln_pass_infer_collect(v, s->opts, &d, &err);
    const kiln_diag *p = st ? NULL : new_problem(&d, from, r);
    if (st) f->probe_error = kiln_xstrdup(err.message);
    else if (p && p->node)
      f->probe_error = kiln_fmt("node '%s' (%s): %s", p->node, p->op, p->message);
    else if (p) f->probe_error = kiln_xstrdup(p->message);
    else compare(g, v, nimported, r, &d, f);
    kiln_diags_free(&d);
    kiln_graph_free(v);
  }
}

void kiln_check_binding_free(kiln_check_binding *b) {
  free(b->shapes);
  free(b->free_of);
  memset(b, 0, sizeof *b);
}
