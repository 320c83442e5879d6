/* `kiln check` (runtime/model_check.h): the model imported in collect mode, its free dims
 * bound to probe sizes, shapes inferred in collect mode, every node lowered on its own;
 * when nothing was found, the rest of the compile pipeline (without code generation) runs
 * as a compile runs it, so that a clean report means the model compiles. How free dims flow
 * is in runtime/check_dims.c. */
#include "runtime/model_check.h"

#include "frontend/dsl.h"
#include "ir/dtype.h"
#include "passes/passes.h"
#include "runtime/check_dims.h"

#include <stdlib.h>
#include <string.h>

kiln_status kiln_check_import(const kiln_check_source *s, kiln_onnx_facts *facts,
                              kiln_diags *diags, kiln_graph **g, kiln_error *err) {
  if (!s->dsl) return kiln_onnx_check(s->data, s->size, s->base_dir, facts, diags, g, err);
  kiln_options o = *s->opts;
  o.base_dir = s->base_dir;
  return kiln_dsl_import(s->data, s->size, s->path, &o, g, err);
}

static char *type_str(const kiln_value *v) {
  const char *t = kiln_dtype_known(v->dtype) ? kiln_dtype_name(v->dtype) : "?";
  if (v->rank < 0) return kiln_fmt("%s%s", t, *t == '?' ? "" : " (rank unknown)");
  char buf[512];
  return kiln_xstrdup(kiln_value_type_str(v, buf, sizeof buf));
}

static kiln_check_io *list_io(const kiln_graph *g, const int *ids, int n) {
  kiln_check_io *io = kiln_xcalloc((size_t)n + 1, sizeof *io);
  for (int i = 0; i < n; i++) {
    io[i].name = kiln_xstrdup(g->values[ids[i]].name);
    io[i].type = type_str(&g->values[ids[i]]);
  }
  return io;
}

/* Runs pipeline passes first..last; a failure is recorded under the pass's name. */
static bool run_passes(kiln_graph *g, const kiln_options *opts, const char *first,
                       const char *last, kiln_diags *d) {
  kiln_program *p = NULL;
  const char *failed = NULL;
  kiln_error err = {0};
  if (kiln_passes_range(g, opts, first, last, &p, &failed, &err)) {
    kiln_diag_add(d, failed ? failed : first, NULL, NULL, NULL, &err);
    return false;
  }
  kiln_program_free(p);
  return true;
}

/* Weights of a DSL model: its constants as imported. */
static void count_constants(const kiln_graph *g, kiln_check_report *r) {
  for (int i = 0; i < g->nvalues; i++) {
    const kiln_value *v = &g->values[i];
    if (!v->data) continue;
    r->nweights++;
    r->weight_bytes += kiln_value_numel(v) * (int64_t)kiln_dtype_size(v->dtype);
  }
}

/* The graph passes, then lowering, then the rest, each only while nothing was found. */
static void check_graph(kiln_graph *g, const kiln_options *opts, kiln_check_binding *b,
                        kiln_check_report *r) {
  kiln_diags *d = &r->diags;
  kiln_error err = {0};
  if (kiln_check_bind(g, opts, b, -1, d, &err)) {
    kiln_diag_add(d, "bind", NULL, NULL, NULL, &err);
    r->free_dims_at = d->n; /* a binding that does not fit comes before what it leaves free */
    return;
  }
  kiln_pass_infer_collect(g, opts, d, &err);
  for (int i = 0; i < g->main.noutputs; i++) {
    free(r->outputs[i].type);
    r->outputs[i].type = type_str(&g->values[g->main.outputs[i]]);
  }
  /* after problems, lowering still finds its own and costs what inferred; after a failed
   * graph pass the graph is half transformed: nothing more is said */
  bool clean = !d->n && !d->skipped;
  if (clean && !(run_passes(g, opts, "limit", "limit", d) && run_passes(g, opts, "fold", "dce", d)))
    return;
  kiln_pass_lower_collect(g, d, &r->flops, &r->nlowered);
  r->complete = clean && !d->n && run_passes(g, opts, "lower", NULL, d);
}

/* The first problem's code, free dims coming after the import's problems. */
static kiln_status verdict(const kiln_check_report *r) {
  if (r->diags.n && (r->free_dims_at > 0 || !r->nfree)) return r->diags.items[0].code;
  return r->nfree ? KILN_ERR_SHAPE : KILN_OK;
}

kiln_status kiln_model_check(const char *path, const kiln_options *opts, kiln_check_report *r,
                             kiln_error *err) {
  memset(r, 0, sizeof *r);
  if (!path) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "model path is NULL");
  void *data = NULL;
  size_t size = 0;
  kiln_status st = kiln_read_file(path, &data, &size, err);
  if (st) return st;
  char *dir = kiln_dir_of(path);
  kiln_options o;
  kiln_options_init(&o);
  if (opts) o = *opts;
  if (!o.base_dir) o.base_dir = dir;
  st = kiln_model_check_buffer(data, size, path, &o, r, err);
  free(dir);
  free(data);
  return st;
}

kiln_status kiln_model_check_buffer(const void *data, size_t size, const char *path,
                                    const kiln_options *opts, kiln_check_report *r,
                                    kiln_error *err) {
  memset(r, 0, sizeof *r);
  kiln_options none;
  kiln_options_init(&none);
  if (!opts) opts = &none;
  kiln_check_source src = {data, size, path, opts->base_dir ? opts->base_dir : ".",
                           kiln_model_is_dsl(path, data, size), opts};
  kiln_graph *g = NULL;
  r->onnx = !src.dsl;
  kiln_status st = kiln_check_import(&src, r->onnx ? &r->facts : NULL, &r->diags, &g, err);
  if (!st) {
    r->nnodes = g->nnodes;
    r->nweights = r->facts.nweights;
    r->weight_bytes = r->facts.weight_bytes;
    if (src.dsl) count_constants(g, r);
    r->inputs = list_io(g, g->inputs, g->ninputs);
    r->ninputs = g->ninputs;
    r->outputs = list_io(g, g->main.outputs, g->main.noutputs);
    r->noutputs = g->main.noutputs;
    run_passes(g, opts, "limit", "limit", &r->diags);
    r->free_dims_at = r->diags.n;
    kiln_check_binding b;
    kiln_check_find_free(g, opts, &b, r);
    int nimported = g->nvalues;
    check_graph(g, opts, &b, r);
    if (r->nfree) kiln_check_flows(&src, g, nimported, &b, r);
    kiln_check_binding_free(&b);
    r->verdict = verdict(r);
  }
  kiln_graph_free(g);
  if (st) kiln_check_report_free(r);
  return st;
}

void kiln_check_report_free(kiln_check_report *r) {
  kiln_onnx_facts_free(&r->facts);
  for (int i = 0; i < r->ninputs; i++) free(r->inputs[i].name), free(r->inputs[i].type);
  for (int i = 0; i < r->noutputs; i++) free(r->outputs[i].name), free(r->outputs[i].type);
  free(r->inputs);
  free(r->outputs);
  for (int i = 0; i < r->nfree; i++) {
    kiln_check_free_dim *f = &r->free_dims[i];
    for (int j = 0; j < f->nuses; j++) free(f->uses[j].input);
    for (int j = 0; j < f->noutputs; j++) free(f->outputs[j].output);
    free(f->uses);
    free(f->outputs);
    free(f->name);
    free(f->probe_error);
  }
  free(r->free_dims);
  kiln_diags_free(&r->diags);
  memset(r, 0, sizeof *r);
}
