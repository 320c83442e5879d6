/* The public API (include/kiln.h): import -> passes -> JIT, and running a model. */
#include "kiln.h"

#include "codegen/backend.h"
#include "frontend/dsl.h"
#include "frontend/onnx.h"
#include "ir/dtype.h"
#include "passes/passes.h"
#include "runtime/arena_keep.h"
#include "runtime/bucket.h"
#include "runtime/check.h"
#include "runtime/dyn_run.h"
#include "runtime/options.h"
#include "rt/parallel.h"
#include "rt/strings.h"
#include "runtime/profile.h"
#include "runtime/report.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

struct kiln_model {
  kiln_program *prog;
  const kiln_backend *backend;
  void *code; /* the backend's, for entry */
  kiln_entry_fn entry;
  const void **consts;
  int num_threads;
  kiln_dyn_cache dyn; /* free dims: the last shape's memory plan */
  kiln_arena_keep arena; /* the last run's scratch, for the next */
  int nbuckets;       /* kiln_options.buckets: a static model each */
  kiln_model **buckets;
};

/* The caller's kiln_error, cleared, or a scratch one when they passed NULL. */
static kiln_error *reset(kiln_error *err, kiln_error *scratch) {
  if (!err) err = scratch;
  err->code = KILN_OK;
  err->message[0] = 0;
  return err;
}

/* ONNX protobuf or kiln DSL text, told apart by the path's extension, else the contents
 * (kiln_model_is_dsl). `path` (NULL for a buffer) names DSL diagnostics and locates its
 * imports and weight files. */
static kiln_status import_graph(const void *data, size_t size, const char *path,
                                const char *base_dir, const kiln_options *opts, kiln_graph **g,
                                kiln_error *err) {
  if (kiln_model_is_dsl(path, data, size)) {
    kiln_options o = *opts;
    o.base_dir = base_dir;
    return kiln_dsl_import(data, size, path, &o, g, err);
  }
  return kiln_onnx_import(data, size, base_dir, g, err);
}

/* Import and run the passes up to `last` (NULL: every pass): the program a code generator
 * consumes. opts is the library's copy (kiln_options_read). */
static kiln_status build_until(const void *data, size_t size, const char *path,
                               const char *base_dir, const kiln_options *opts,
                               const char *last, bool reference, kiln_program **prog,
                               kiln_error *err) {
  kiln_graph *g = NULL;
  kiln_status st = kiln_backend_for(opts)->check(opts, err); /* before any work */
  /* the device runtime plans and reads no run-time dims yet: its arena is the device's */
  if (!st && opts->symbolic_dims && kiln_target_gpu(opts) && strcmp(opts->target, "cuda-host"))
    st = kiln_fail(err, KILN_ERR_UNSUPPORTED, "symbolic_dims: free dims run on targets 'cpu' "
                   "and 'cuda-host' only, not '%s'", opts->target);
  if (!st) st = import_graph(data, size, path, opts->base_dir ? opts->base_dir : base_dir,
                             opts, &g, err);
  if (!st) st = reference ? kiln_passes_reference(g, opts, prog, err)
                          : kiln_passes_until(g, opts, last, prog, err);
  /* a size the run computes (NonZero of a run-time value) is a sym too */
  if (!st && *prog && (*prog)->nsyms && kiln_target_gpu(opts) && strcmp(opts->target, "cuda-host")) {
    st = kiln_fail(err, KILN_ERR_UNSUPPORTED, "target '%s': '%s' is a size the run computes "
                   "from values, which runs on targets 'cpu' and 'cuda-host' only",
                   opts->target, (*prog)->sym_names[0]);
    kiln_program_free(*prog);
    *prog = NULL;
  }
  kiln_graph_free(g);
  return st;
}

static kiln_status build_program(const void *data, size_t size, const char *path,
                                 const char *base_dir, const kiln_options *opts,
                                 kiln_program **prog, kiln_error *err) {
  return build_until(data, size, path, base_dir, opts, NULL, false, prog, err);
}

static kiln_status read_model(const char *path, void **data, size_t *size, char **dir,
                              kiln_error *err) {
  if (!path) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "model path is NULL");
  kiln_status st = kiln_read_file(path, data, size, err);
  if (!st) *dir = kiln_dir_of(path);
  return st;
}

/* opts->report, if asked for, on program p compiled from model (NULL: a buffer). */
static kiln_status write_report(const kiln_program *p, const char *model,
                                const kiln_options *opts, kiln_error *err) {
  if (!opts || !opts->report) return KILN_OK;
  kiln_report r;
  kiln_report_init(&r, p, model ? model : "(buffer)", opts);
  kiln_status st = kiln_report_write(&r, opts->report, err);
  kiln_report_free(&r);
  return st;
}

static kiln_status finish_model(kiln_program *prog, const char *model, const kiln_options *opts,
                                kiln_model **out, kiln_error *err) {
  kiln_model *m = kiln_xcalloc(1, sizeof *m);
  kiln_dyn_cache_init(&m->dyn);
  kiln_arena_keep_init(&m->arena);
  m->prog = prog;
  m->num_threads = opts->num_threads;
  m->backend = kiln_backend_for(opts);
  kiln_progress(opts, "codegen");
  kiln_status st = m->backend->jit(prog, opts, &m->code, &m->entry, err);
  if (!st) st = write_report(prog, model, opts, err);
  if (st) {
    kiln_model_free(m);
    return st;
  }
  m->consts = kiln_xcalloc((size_t)(prog->nconsts ? prog->nconsts : 1), sizeof(void *));
  for (int i = 0; i < prog->nconsts; i++) m->consts[i] = prog->consts[i].data;
  *out = m;
  return KILN_OK;
}

/* The checks of opts->buckets before compiling them. */
static kiln_status buckets_ok(const kiln_options *opts, kiln_error *err) {
  if (opts->nbuckets < 0 || (opts->nbuckets && !opts->buckets))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "nbuckets is %d and buckets %s",
                     opts->nbuckets, opts->buckets ? "set" : "NULL");
  if (opts->nbuckets && !opts->symbolic_dims)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "buckets are variants of a model with "
                     "free dims: set symbolic_dims too (--shape IN=?x..)");
  return KILN_OK;
}

/* An AOT library's buckets: a static program each, into p->buckets. */
static kiln_status bucket_programs(kiln_program *p, const void *data, size_t size,
                                   const char *path, const char *dir, const kiln_options *opts,
                                   kiln_error *err) {
  kiln_status st = buckets_ok(opts, err);
  if (!st && opts->nbuckets) p->buckets = kiln_xcalloc((size_t)opts->nbuckets, sizeof *p->buckets);
  for (int b = 0; b < opts->nbuckets && !st; b++) {
    kiln_shape_binding *owned;
    kiln_options bo = kiln_bucket_options(opts, b, &owned);
    kiln_program *bp = NULL;
    kiln_progress(opts, "bucket");
    build_program(data, size, path, dir, &bo, &bp, err);
    st = kiln_bucket_check(p, bp, b, err);
    if (!st) p->buckets[p->nbuckets++] = bp;
    else kiln_program_free(bp);
    free(owned);
  }
  return st;
}

/* m's shape buckets (opts->buckets), each compiled from the same model as if `shapes`
 * bound its dims (runtime/bucket.c). */
static kiln_status add_buckets(kiln_model *m, const void *data, size_t size, const char *path,
                               const char *dir, const kiln_options *opts, kiln_error *err) {
  if (buckets_ok(opts, err) || !opts->nbuckets) return err->code;
  m->buckets = kiln_xcalloc((size_t)opts->nbuckets, sizeof *m->buckets);
  kiln_status st = KILN_OK;
  for (int b = 0; b < opts->nbuckets && !st; b++) {
    kiln_shape_binding *owned;
    kiln_options bo = kiln_bucket_options(opts, b, &owned);
    kiln_program *prog = NULL;
    kiln_progress(opts, "bucket");
    build_program(data, size, path, dir, &bo, &prog, err);
    st = kiln_bucket_check(m->prog, prog, b, err);
    if (!st) st = finish_model(prog, path, &bo, &m->buckets[b], err);
    else kiln_program_free(prog);
    if (!st) m->nbuckets = b + 1;
    free(owned);
  }
  return st;
}

static kiln_status compile_buffer(const void *data, size_t size, const kiln_options *opts,
                                  kiln_model **out, kiln_error *err) {
  if (!data || !out) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "data and out must not be NULL");
  *out = NULL;
  kiln_options o;
  kiln_program *prog = NULL;
  kiln_status st = kiln_options_read(opts, &o, err);
  if (!st && o.report) st = kiln_report_check_path(o.report, err);
  if (!st) st = build_program(data, size, NULL, ".", &o, &prog, err);
  if (!st) st = finish_model(prog, NULL, &o, out, err);
  if (!st && (st = add_buckets(*out, data, size, NULL, ".", &o, err))) {
    kiln_model_free(*out);
    *out = NULL;
  }
  kiln_progress(&o, NULL);
  return st;
}

static kiln_status compile_file(const char *path, const kiln_options *opts, kiln_model **out,
                                kiln_error *err) {
  if (!out) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "out must not be NULL");
  *out = NULL;
  void *data = NULL;
  size_t size = 0;
  char *dir = NULL;
  kiln_options o;
  kiln_program *prog = NULL;
  kiln_status st = kiln_options_read(opts, &o, err);
  if (!st && o.report) st = kiln_report_check_path(o.report, err);
  if (!st) st = read_model(path, &data, &size, &dir, err);
  if (!st) st = build_program(data, size, path, dir, &o, &prog, err);
  if (!st) st = finish_model(prog, path, &o, out, err);
  if (!st && (st = add_buckets(*out, data, size, path, dir, &o, err))) {
    kiln_model_free(*out);
    *out = NULL;
  }
  free(data);
  free(dir);
  kiln_progress(&o, NULL);
  return st;
}

static kiln_status program_from_file(const char *path, const kiln_options *opts,
                                     const char *last, bool reference, kiln_program **out,
                                     kiln_error *err) {
  *out = NULL;
  void *data = NULL;
  size_t size = 0;
  char *dir = NULL;
  kiln_options o;
  kiln_status st = kiln_options_read(opts, &o, err);
  if (!st) st = read_model(path, &data, &size, &dir, err);
  if (!st) st = build_until(data, size, path, dir, &o, last, reference, out, err);
  free(data);
  free(dir);
  return st;
}

kiln_status kiln_program_from_file(const char *path, const kiln_options *opts,
                                   const char *last, kiln_program **out, kiln_error *err) {
  return program_from_file(path, opts, last, false, out, err);
}

kiln_status kiln_reference_program_from_file(const char *path, const kiln_options *opts,
                                             kiln_program **out, kiln_error *err) {
  return program_from_file(path, opts, NULL, true, out, err);
}

static kiln_status compile_aot(const char *model_path, const kiln_options *opts,
                               const char *out_path, const char *name, kiln_error *err) {
  if (!out_path) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "output path is NULL");
  void *data = NULL;
  size_t size = 0;
  char *dir = NULL;
  kiln_program *prog = NULL;
  kiln_options o;
  kiln_status st = kiln_options_read(opts, &o, err);
  const kiln_backend *be = kiln_backend_for(&o);
  if (!st) st = be->aot_check(&o, out_path, name, err);
  if (!st && o.profile)
    st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "profile is for JIT models, not AOT libraries");
  if (!st && o.report) st = kiln_report_check_path(o.report, err);
  if (!st) st = read_model(model_path, &data, &size, &dir, err);
  if (!st) st = build_program(data, size, model_path, dir, &o, &prog, err);
  if (!st) st = bucket_programs(prog, data, size, model_path, dir, &o, err);
  if (!st) kiln_progress(&o, "codegen");
  if (!st) st = be->aot_write(prog, &o, out_path, name ? name : "model", err);
  kiln_progress(&o, NULL);
  if (!st) st = write_report(prog, model_path, &o, err);
  kiln_program_free(prog);
  free(data);
  free(dir);
  return st;
}

/* ---- the public calls that allocate, each under a recovery point (ir/util.h): an
 * allocation failing below one makes it return KILN_ERR_OUT_OF_MEMORY instead of ending
 * the process. A call's arguments are kept in memory, read through a volatile pointer
 * after the longjmp. */

typedef struct call {
  kiln_status (*fn)(const struct call *c);
  kiln_error *err;
  kiln_model **out;
  const void *data;
  size_t size;
  const char *path, *out_path, *name;
  const kiln_options *opts;
  const kiln_model *model;
  const void *const *inputs;
  void *const *outputs;
  double *kernel_ns, *kernel_calls;
  bool device;
  void *stream;
  const kiln_array *arrays_in;
  kiln_array *arrays_out;
  int64_t *syms_out;
} call;

static kiln_status guarded(call *c) {
  call *volatile vc = c;
  kiln_recovery r = {.undo = NULL};
  kiln_recovery_push(&r);
  if (setjmp(r.env)) {
    if (vc->out) *vc->out = NULL;
    vc->err->code = KILN_OK; /* replaces any message the interrupted work had begun */
    return kiln_fail(vc->err, KILN_ERR_OUT_OF_MEMORY, "out of memory (allocating %zu bytes)",
                     kiln_recovery_bytes());
  }
  kiln_status st = vc->fn(vc);
  kiln_recovery_pop(&r);
  return st;
}

static kiln_status call_compile_buffer(const call *c) {
  return compile_buffer(c->data, c->size, c->opts, c->out, c->err);
}

static kiln_status call_compile_file(const call *c) {
  return compile_file(c->path, c->opts, c->out, c->err);
}

static kiln_status call_compile_aot(const call *c) {
  return compile_aot(c->path, c->opts, c->out_path, c->name, c->err);
}

kiln_status kiln_compile_buffer(const void *data, size_t size, const kiln_options *opts,
                                kiln_model **out, kiln_error *err) {
  kiln_error scratch;
  call c = {call_compile_buffer, reset(err, &scratch), out, .data = data, .size = size,
            .opts = opts};
  return guarded(&c);
}

kiln_status kiln_compile_file(const char *path, const kiln_options *opts, kiln_model **out,
                              kiln_error *err) {
  kiln_error scratch;
  call c = {call_compile_file, reset(err, &scratch), out, .path = path, .opts = opts};
  return guarded(&c);
}

kiln_status kiln_compile_aot(const char *model_path, const kiln_options *opts,
                             const char *out_path, const char *name, kiln_error *err) {
  kiln_error scratch;
  call c = {call_compile_aot, reset(err, &scratch), NULL, .path = model_path,
            .out_path = out_path, .name = name, .opts = opts};
  return guarded(&c);
}

void kiln_model_free(kiln_model *m) {
  if (!m) return;
  if (m->backend) m->backend->free_code(m->code);
  kiln_program_free(m->prog);
  kiln_dyn_cache_free(&m->dyn);
  kiln_arena_keep_free(&m->arena);
  for (int b = 0; b < m->nbuckets; b++) kiln_model_free(m->buckets[b]);
  free(m->buckets);
  free(m->consts);
  free(m);
}

int kiln_num_inputs(const kiln_model *m) { return m ? m->prog->ninputs : 0; }
int kiln_num_outputs(const kiln_model *m) { return m ? m->prog->noutputs : 0; }

static kiln_status io_info(const kiln_io *io, int n, int index, kiln_tensor_info *info) {
  if (!info || index < 0 || index >= n) return KILN_ERR_INVALID_ARGUMENT;
  memset(info, 0, sizeof *info);
  info->name = io[index].name;
  info->dtype = io[index].dtype;
  info->rank = io[index].rank;
  memcpy(info->dims, io[index].dims, sizeof info->dims);
  info->bytes = (size_t)io[index].bytes;
  return KILN_OK;
}

kiln_status kiln_input_info(const kiln_model *m, int index, kiln_tensor_info *info) {
  return m ? io_info(m->prog->inputs, m->prog->ninputs, index, info) : KILN_ERR_INVALID_ARGUMENT;
}

kiln_status kiln_output_info(const kiln_model *m, int index, kiln_tensor_info *info) {
  return m ? io_info(m->prog->outputs, m->prog->noutputs, index, info) : KILN_ERR_INVALID_ARGUMENT;
}

static int io_index(const kiln_io *io, int n, const char *name) {
  for (int i = 0; name && i < n; i++)
    if (strcmp(io[i].name, name) == 0) return i;
  return -1;
}

int kiln_input_index(const kiln_model *m, const char *name) {
  return m ? io_index(m->prog->inputs, m->prog->ninputs, name) : -1;
}

int kiln_output_index(const kiln_model *m, const char *name) {
  return m ? io_index(m->prog->outputs, m->prog->noutputs, name) : -1;
}

const kiln_program *kiln_model_program(const kiln_model *m) { return m ? m->prog : NULL; }

void kiln_model_set_num_threads(kiln_model *m, int n) {
  if (m) m->num_threads = n;
}

_Static_assert(KILN_ERR_OUT_OF_MEMORY == 7, "kiln_rt_strings_end's status is kiln.h's");

/* The end of a run of a program with strings (rt/strings.h): after a success each string
 * output element becomes a malloc'd copy the caller owns; after a failure, NULL. Then the
 * run's heap is freed. */
static kiln_status end_strings(const kiln_program *p, uint8_t *arena, void *const *outputs,
                               const int64_t *syms, kiln_status st, kiln_error *err) {
  kiln_rt_strings *h = (kiln_rt_strings *)(void *)(arena + p->strings_offset);
  /* the outputs' sizes at the counts the run found (after a failure, at their bounds,
   * which syms still hold: what the caller allocated) */
  kiln_array *shapes = NULL;
  kiln_error scratch;
  bool sized = true;
  if (p->nsyms) {
    shapes = kiln_xcalloc((size_t)p->noutputs + 1, sizeof *shapes);
    sized = !kiln_dyn_output_shapes(p, syms, shapes, &scratch);
    if (!st && !sized) st = kiln_fail(err, scratch.code, "%s", scratch.message);
  }
  int64_t *n = kiln_xcalloc((size_t)p->noutputs + 1, sizeof *n); /* elements; 0: no strings */
  for (int i = 0; i < p->noutputs && sized; i++)
    if (p->outputs[i].dtype == KILN_STRING)
      n[i] = shapes ? kiln_shape_numel(shapes[i].rank, shapes[i].dims)
                    : p->outputs[i].bytes / (int64_t)sizeof(char *);
  int64_t which;
  kiln_status end = (kiln_status)kiln_rt_strings_end(h, st, outputs, n, p->noutputs, &which);
  if (!st && end)
    st = which < 0 ? kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for the strings the run makes")
                   : kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for output '%s''s strings",
                               p->outputs[which].name);
  free(n);
  free(shapes);
  return st;
}

/* device: inputs and outputs are device pointers, the launches go on stream */
static kiln_status run(const kiln_model *m, const void *const *inputs, void *const *outputs,
                       int64_t *syms, double *kernel_ns, double *kernel_calls,
                       bool device, void *stream, kiln_error *err) {
  kiln_error scratch;
  err = reset(err, &scratch);
  if (!m) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "model is NULL");
  const kiln_program *p = m->prog;
  int64_t own[KILN_MAX_SYMS]; /* sizes the run computes, none an input's or output's */
  if (p->nsyms && !syms && kiln_dyn_static_syms(p, own)) syms = own;
  if (p->nsyms && !syms)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "the model has free dims or sizes its run "
                     "computes ('%s'): run it with kiln_run_arrays, which takes the inputs' "
                     "shapes and gives the outputs'", p->sym_names[0]);
  if (kernel_ns && !p->profile)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "the model was not compiled with profile");
  for (int i = 0; i < p->ninputs; i++)
    if (!inputs || (!inputs[i] && p->inputs[i].bytes))
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "input %d ('%s') is NULL", i, p->inputs[i].name);
  for (int i = 0; i < p->noutputs; i++)
    if (!outputs || (!outputs[i] && p->outputs[i].bytes))
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "output %d ('%s') is NULL", i, p->outputs[i].name);
  if (m->backend->run) /* a device's code: its memory is its own */
    return m->backend->run(m->code, inputs, outputs, device, stream, err);
  if (device)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_run_device: the model was compiled "
                     "for target '%s': device pointers are for target 'cuda'", m->backend->name);
  /* Runs on several threads never share scratch memory (runtime/arena_keep.c). */
  kiln_arena_keep *keep = (kiln_arena_keep *)&m->arena;
  uint8_t *arena = NULL;
  int64_t arena_bytes = p->arena_bytes, arena_size = 0, *offsets = NULL;
  if (p->nsyms) { /* the syms' values, then where this shape's dyn slots lie */
    offsets = kiln_xmalloc(sizeof(int64_t) * (size_t)(p->ndyn ? p->ndyn : 1));
    if (kiln_dyn_plan(p, (kiln_dyn_cache *)&m->dyn, syms, offsets, &arena_bytes, err)) {
      free(offsets);
      return err->code;
    }
  }
  if (arena_bytes > 0) {
    arena = kiln_arena_take(keep, arena_bytes, &arena_size);
    if (!arena) {
      free(offsets);
      return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "cannot allocate a %lld-byte arena",
                       (long long)arena_bytes);
    }
  }
  if (p->nsyms) {
    int64_t *dims = (int64_t *)(void *)(arena + p->dims_offset);
    memcpy(dims, syms, sizeof(int64_t) * (size_t)p->nsyms);
    memcpy(dims + p->nsyms, offsets, sizeof(int64_t) * (size_t)p->ndyn);
    free(offsets);
  }
  int nk = kernel_ns ? kiln_steps_kernels(&p->main, NULL, 0) : 0;
  int64_t *slots = nk ? (int64_t *)(void *)(arena + p->profile_offset) : NULL;
  for (int i = 0; i < 2 * nk; i++) slots[i] = 0; /* kernels of an If branch not taken stay 0 */
  kiln_rt_set_num_threads(m->num_threads);
  int rc = m->entry((void *const *)inputs, outputs, arena, m->consts);
  kiln_rt_set_num_threads(0);
  kiln_status st = rc ? kiln_check_result(p, arena, err) : KILN_OK; /* the violation's message */
  if (rc && !st) st = kiln_fail(err, (kiln_status)rc, "the run failed (status %d)", rc);
  if (!st && p->nsyms)
    st = kiln_dyn_read_counts(p, (const int64_t *)(const void *)(arena + p->dims_offset), syms, err);
  if (p->strings) st = end_strings(p, arena, outputs, syms, st, err);
  for (int i = 0; i < nk; i++) kernel_ns[i] = (double)slots[2 * i];
  for (int i = 0; i < nk && kernel_calls; i++) kernel_calls[i] = (double)slots[2 * i + 1];
  if (arena) kiln_arena_give(keep, arena, arena_size);
  return st;
}

static kiln_status call_run(const call *c) {
  return run(c->model, c->inputs, c->outputs, NULL, c->kernel_ns, c->kernel_calls, c->device,
             c->stream, c->err);
}

kiln_status kiln_run_profiled(const kiln_model *m, const void *const *inputs,
                              void *const *outputs, double *kernel_ns, double *kernel_calls,
                              kiln_error *err) {
  kiln_error scratch;
  call c = {call_run, reset(err, &scratch), NULL, .model = m, .inputs = inputs,
            .outputs = outputs, .kernel_ns = kernel_ns, .kernel_calls = kernel_calls};
  return guarded(&c);
}

kiln_status kiln_run(const kiln_model *m, const void *const *inputs, void *const *outputs,
                     kiln_error *err) {
  return kiln_run_profiled(m, inputs, outputs, NULL, NULL, err);
}

kiln_status kiln_run_device(const kiln_model *m, const void *const *inputs,
                            void *const *outputs, void *stream, kiln_error *err) {
  kiln_error scratch;
  call c = {call_run, reset(err, &scratch), NULL, .model = m, .inputs = inputs,
            .outputs = outputs, .device = true, .stream = stream};
  return guarded(&c);
}

/* ---- free dims ---- */

const char *kiln_dim_name(const kiln_model *m, int input, int dim) {
  if (!m || input < 0 || input >= m->prog->ninputs) return NULL;
  int s = kiln_io_sym(&m->prog->inputs[input], dim);
  return s < 0 ? NULL : m->prog->sym_names[s];
}

static kiln_status output_shapes(const kiln_model *m, const kiln_array *inputs,
                                 kiln_array *outputs, int64_t *syms, kiln_error *err) {
  if (!m || (!inputs && m->prog->ninputs) || (!outputs && m->prog->noutputs))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "model, inputs and outputs must not be NULL");
  if (kiln_dyn_bind(m->prog, inputs, syms, err)) return err->code;
  return kiln_dyn_output_shapes(m->prog, syms, outputs, err);
}

static kiln_status call_output_shapes(const call *c) {
  int64_t syms[KILN_MAX_SYMS];
  return output_shapes(c->model, c->arrays_in, c->arrays_out, syms, c->err);
}

kiln_status kiln_output_shapes(const kiln_model *m, const kiln_array *inputs,
                               kiln_array *outputs, kiln_error *err) {
  kiln_error scratch;
  call c = {call_output_shapes, reset(err, &scratch), NULL, .model = m, .arrays_in = inputs,
            .arrays_out = outputs};
  return guarded(&c);
}

static kiln_status call_run_arrays(const call *c) {
  const kiln_model *m = c->model;
  int64_t syms[KILN_MAX_SYMS];
  if (output_shapes(m, c->arrays_in, c->arrays_out, syms, c->err)) return c->err->code;
  const kiln_program *p = m->prog;
  const void **in = kiln_xcalloc((size_t)(p->ninputs ? p->ninputs : 1), sizeof *in);
  void **out = kiln_xcalloc((size_t)(p->noutputs ? p->noutputs : 1), sizeof *out);
  for (int i = 0; i < p->ninputs; i++) in[i] = c->arrays_in[i].data;
  kiln_status st = KILN_OK;
  for (int i = 0; i < p->noutputs && !st; i++) {
    out[i] = c->arrays_out[i].data;
    if (!out[i] && kiln_shape_numel(c->arrays_out[i].rank, c->arrays_out[i].dims))
      st = kiln_fail(c->err, KILN_ERR_INVALID_ARGUMENT, "output %d ('%s'): data is NULL", i,
                     p->outputs[i].name);
  }
  /* a profiled run times the generic code, whose kernels the caller counts */
  int v = c->kernel_ns ? -1 : kiln_run_variant(m, c->arrays_in);
  const kiln_model *vm = v < 0 ? m : m->buckets[v];
  int64_t bucket_syms[KILN_MAX_SYMS], *rs = vm == m ? syms : bucket_syms;
  if (!st && vm != m && vm->prog->nsyms) /* a bucket's own syms: the counts its run computes */
    st = kiln_dyn_bind(vm->prog, c->arrays_in, bucket_syms, c->err);
  if (!st)
    st = run(vm, in, out, vm->prog->nsyms ? rs : NULL, c->kernel_ns, c->kernel_calls, false,
             NULL, c->err);
  if (!st && vm->prog->nsyms) /* the sizes the run computed */
    st = kiln_dyn_output_shapes(vm->prog, rs, c->arrays_out, c->err);
  if (!st && c->syms_out) memcpy(c->syms_out, syms, sizeof(int64_t) * (size_t)p->nsyms);
  free(in);
  free(out);
  return st;
}

kiln_status kiln_run_arrays(const kiln_model *m, const kiln_array *inputs, kiln_array *outputs,
                            kiln_error *err) {
  kiln_error scratch;
  call c = {call_run_arrays, reset(err, &scratch), NULL, .model = m, .arrays_in = inputs,
            .arrays_out = outputs};
  return guarded(&c);
}

kiln_status kiln_run_arrays_profiled(const kiln_model *m, const kiln_array *inputs,
                                     kiln_array *outputs, double *kernel_ns,
                                     double *kernel_calls, int64_t *syms, kiln_error *err) {
  kiln_error scratch;
  call c = {call_run_arrays, reset(err, &scratch), NULL, .model = m, .arrays_in = inputs,
            .arrays_out = outputs, .kernel_ns = kernel_ns, .kernel_calls = kernel_calls,
            .syms_out = syms};
  return guarded(&c);
}

int kiln_run_variant(const kiln_model *m, const kiln_array *inputs) {
  if (!m || (!inputs && m->prog->ninputs)) return -1;
  for (int b = 0; b < m->nbuckets; b++)
    if (kiln_bucket_matches(m->buckets[b]->prog, inputs)) return b;
  return -1;
}
