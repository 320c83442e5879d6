/* The fuzzed entry points (targets.h). Inputs never reach the file system: the base
 * directory for external data and imports does not exist. Limits are lowered so a single
 * input cannot exhaust the fuzzer's memory budget (2 GB) or time budget. */
#include "tests/fuzz/targets.h"

#include "frontend/onnx.h"
#include "ir/dtype.h"
#include "ir/tuning_log.h"
#include "passes/passes.h"
#include "runtime/model_check.h"
#ifdef KILN_FUZZ_HAVE_DSL
#include "frontend/dsl.h"
#endif

#include <stdlib.h>
#include <string.h>

#define NO_DIR "/nonexistent/kiln-fuzz"

/* A failed call must say why: a real code and a terminated, non-empty message. */
static void check_error(kiln_status st, const kiln_error *err) {
  if (st == KILN_OK) return;
  if (st != err->code || st > KILN_ERR_INVALID_INPUT || !memchr(err->message, 0, sizeof err->message) ||
      !err->message[0])
    abort();
}

static kiln_options fuzz_options(void) {
  kiln_options o = {.struct_size = sizeof o};
  o.base_dir = NO_DIR;
  o.max_tensor_bytes = (int64_t)64 << 20;
  o.max_nodes = 20000;
  return o;
}

int kiln_fuzz_onnx(const uint8_t *data, size_t size) {
  kiln_graph *g = NULL;
  kiln_error err = {0};
  kiln_status st = kiln_onnx_import(data, size, NO_DIR, &g, &err);
  check_error(st, &err);
  if (!st == !g) abort(); /* a graph exactly on success */
  kiln_graph_free(g);
  return 0;
}

static volatile uint8_t touched; /* keeps the reads below from being optimised away */

static uint8_t xor_bytes(const uint8_t *d, size_t n) {
  uint8_t x = 0;
  for (size_t i = 0; i < n; i++) x ^= d[i];
  return x;
}

int kiln_fuzz_tensor(const uint8_t *data, size_t size) {
  kiln_tensor t;
  char *name = NULL;
  kiln_error err = {0};
  kiln_status st = kiln_onnx_read_tensor(data, size, &t, &name, &err);
  check_error(st, &err);
  if (!st) {
    if (t.rank < 0 || t.rank > KILN_MAX_RANK || !name) abort();
    int64_t n = kiln_shape_numel(t.rank, t.dims);
    if (n < 0 || (n > 0 && !t.data)) abort();
    /* every element is readable: ASan flags a buffer shorter than the shape says */
    touched = xor_bytes(t.data, (size_t)n * kiln_dtype_size(t.dtype));
  }
  free(name);
  kiln_tensor_free(&t);
  return 0;
}

#ifdef KILN_FUZZ_HAVE_DSL
static kiln_status import_dsl(const uint8_t *data, size_t size, const kiln_options *o,
                              kiln_graph **g, kiln_error *err) {
  return kiln_dsl_import((const char *)data, size, NULL, o, g, err);
}
#endif

int kiln_fuzz_dsl(const uint8_t *data, size_t size) {
#ifdef KILN_FUZZ_HAVE_DSL
  kiln_options o = fuzz_options();
  kiln_graph *g = NULL;
  kiln_error err = {0};
  kiln_status st = import_dsl(data, size, &o, &g, &err);
  check_error(st, &err);
  if (!st == !g) abort();
  kiln_graph_free(g);
#else
  (void)data;
  (void)size;
#endif
  return 0;
}

int kiln_fuzz_compile(const uint8_t *data, size_t size) {
  kiln_options o = fuzz_options();
  kiln_graph *g = NULL;
  kiln_error err = {0};
  kiln_status st;
#ifdef KILN_FUZZ_HAVE_DSL
  if (kiln_model_is_dsl(NULL, data, size)) st = import_dsl(data, size, &o, &g, &err);
  else
#endif
    st = kiln_onnx_import(data, size, NO_DIR, &g, &err);
  check_error(st, &err);
  if (!st) {
    kiln_program *p = NULL;
    st = kiln_passes_run(g, &o, &p, &err);
    check_error(st, &err);
    if (!st == !p) abort();
    kiln_program_free(p);
  }
  kiln_graph_free(g);
  return 0;
}

/* `kiln check` on any bytes: an error only for what is no model, a report whose problems
 * all say what they are, and a verdict that is the pipeline's (without code generation):
 * the model passes every pass exactly when check finds nothing. */
int kiln_fuzz_check(const uint8_t *data, size_t size) {
  kiln_options o = fuzz_options();
  kiln_check_report r;
  kiln_error err = {0};
  kiln_status st = kiln_model_check_buffer(data, size, NULL, &o, &r, &err);
  check_error(st, &err);
  if (st) return 0;
  for (int i = 0; i < r.diags.n; i++)
    if (!r.diags.items[i].code || !r.diags.items[i].message[0]) abort();
  if (!r.verdict != (!r.diags.n && !r.nfree)) abort();
  kiln_status verdict = r.verdict;
  kiln_check_report_free(&r);
  kiln_graph *g = NULL;
  kiln_program *p = NULL;
#ifdef KILN_FUZZ_HAVE_DSL
  if (kiln_model_is_dsl(NULL, data, size)) st = import_dsl(data, size, &o, &g, &err);
  else
#endif
    st = kiln_onnx_import(data, size, NO_DIR, &g, &err);
  if (!st) st = kiln_passes_run(g, &o, &p, &err);
  if (!verdict != !st) abort();
  kiln_program_free(p);
  kiln_graph_free(g);
  return 0;
}

/* A tuning log: refused naming the file, or records that print and read back the same. */
int kiln_fuzz_tuning_log(const uint8_t *data, size_t size) {
  kiln_tuning_log log = {0};
  kiln_error err = {0};
  kiln_status st = kiln_tuning_log_parse(&log, (const char *)data, size, "fuzz.log", &err);
  check_error(st, &err);
  if (st && !strstr(err.message, "tuning log 'fuzz.log' line ")) abort();
  for (int i = 0; i < log.n; i++) {
    const kiln_tuning_record *r = &log.records[i];
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) abort();
    kiln_tuning_record_write(r, f);
    fclose(f);
    kiln_tuning_log back = {0};
    if (kiln_tuning_log_parse(&back, text, len, "again", &err) || back.n != 1) abort();
    const kiln_tuning_record *b = &back.records[0];
    if (strcmp(b->kernel, r->kernel) || b->nstages != r->nstages || b->time_ns != r->time_ns ||
        !kiln_tuning_target_equal(&b->target, &r->target) || strcmp(b->version, r->version))
      abort();
    for (int s = 0; s < r->nstages; s++)
      if (b->recipes[s].nsteps != r->recipes[s].nsteps) abort();
    kiln_tuning_log_free(&back);
    free(text);
  }
  kiln_tuning_log_free(&log);
  return 0;
}

kiln_fuzz_fn kiln_fuzz_target(const char *name) {
  static const struct { const char *name; kiln_fuzz_fn fn; } targets[] = {
      {"onnx", kiln_fuzz_onnx}, {"tensor", kiln_fuzz_tensor},
      {"dsl", kiln_fuzz_dsl},   {"compile", kiln_fuzz_compile}, {"values", kiln_fuzz_values},
      {"tuning_log", kiln_fuzz_tuning_log}, {"check", kiln_fuzz_check}};
  for (size_t i = 0; i < sizeof targets / sizeof *targets; i++)
    if (strcmp(targets[i].name, name) == 0) return targets[i].fn;
  return NULL;
}
