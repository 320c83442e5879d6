/* `kiln bench LIB`: an AOT library timed end to end, exactly as it ships. A library holds
 * no timing code (kiln_options.profile is for JIT models only), so per-kernel times are not
 * measured; the output says so and lists the kernels with their fused graph nodes and costs
 * as the library's manifest gives them, and never a number it did not measure. */
#include "tools/cli_util.h"

#include "ir/json.h"
#include "rt/parallel.h"

#include <stdio.h>
#include <stdlib.h>

#define NO_KERNEL_TIMES "per-kernel times need the model: a library holds no timing code " \
                        "(`kiln bench MODEL` times each kernel)"

static const char *string_of(const kiln_json *obj, const char *key) {
  const kiln_json *v = kiln_json_get(obj, key);
  return v && v->kind == KILN_JSON_STRING ? v->string : "?";
}

static double number_of(const kiln_json *obj, const char *key) {
  const kiln_json *v = kiln_json_get(obj, key);
  return v && v->kind == KILN_JSON_NUMBER ? v->number : 0;
}

static const kiln_json *kernels_of(const kiln_json *manifest) {
  const kiln_json *k = kiln_json_get(manifest, "kernels");
  return k && k->kind == KILN_JSON_ARRAY ? k : NULL;
}

static void print_text(const cli_args *a, const kiln_json *j, const int *tc, const double *ms,
                       int ncounts, int repeat) {
  const kiln_json *target = kiln_json_get(j, "target"), *ks = kernels_of(j);
  printf("kiln bench %s: AOT library '%s' (kiln %s, %s", a->model, string_of(j, "name"),
         string_of(j, "kiln_version"), string_of(target, "backend"));
  if (kiln_json_get(target, "triple")) printf(" %s %s", string_of(target, "triple"), string_of(target, "cpu"));
  if (kiln_json_get(target, "gpu_arch")) printf(" %s", string_of(target, "gpu_arch"));
  printf("), %d kernels, median of %d runs\n%s\n\n", ks ? ks->n : 0, repeat, NO_KERNEL_TIMES);
  printf("%-4s %-28s %-24s %12s %12s\n", "#", "kernel", "op", "MFLOP", "MB");
  for (int i = 0; ks && i < ks->n; i++) {
    const kiln_json *k = &ks->items[i];
    printf("%-4d %-28s %-24s %12.3f %12.3f\n", i, string_of(k, "name"), string_of(k, "op"),
           number_of(k, "flops") / 1e6, number_of(k, "bytes") / 1e6);
  }
  printf("\n");
  for (int i = 0; i < ncounts; i++)
    printf("end-to-end, %d thread%s: median %.3f ms\n", tc[i], tc[i] == 1 ? "" : "s", ms[i]);
}

/* docs/reports.md's library bench report. */
static void print_json(const cli_args *a, const kiln_json *j, const int *tc, const double *ms,
                       int ncounts, int repeat) {
  kiln_json_writer w;
  kiln_json_writer_init(&w, stdout, 3);
  const kiln_json *target = kiln_json_get(j, "target"), *ks = kernels_of(j);
  kiln_json_open(&w, NULL, '{');
  kiln_json_put_string(&w, "report", "bench-library");
  kiln_json_put_string(&w, "kiln_version", KILN_VERSION);
  kiln_json_put_string(&w, "library", a->model);
  kiln_json_put_string(&w, "name", string_of(j, "name"));
  kiln_json_put_string(&w, "compiled_by", string_of(j, "kiln_version"));
  kiln_json_open(&w, "target", '{');
  for (int i = 0; target && target->kind == KILN_JSON_OBJECT && i < target->n; i++)
    if (target->items[i].kind == KILN_JSON_STRING)
      kiln_json_put_string(&w, target->keys[i], target->items[i].string);
  kiln_json_close(&w);
  kiln_json_put_number(&w, "repeat", repeat);
  kiln_json_open(&w, "end_to_end", '[');
  for (int i = 0; i < ncounts; i++) {
    kiln_json_open(&w, NULL, '{');
    kiln_json_put_number(&w, "threads", tc[i]);
    kiln_json_put_number(&w, "median_ms", ms[i]);
    kiln_json_close(&w);
  }
  kiln_json_close(&w);
  kiln_json_put_bool(&w, "kernel_times", false);
  kiln_json_put_string(&w, "kernel_times_note", NO_KERNEL_TIMES);
  kiln_json_open(&w, "kernels", '[');
  for (int i = 0; ks && i < ks->n; i++) {
    const kiln_json *k = &ks->items[i], *nodes = kiln_json_get(k, "nodes");
    kiln_json_open(&w, NULL, '{');
    kiln_json_put_number(&w, "index", i);
    kiln_json_put_string(&w, "name", string_of(k, "name"));
    kiln_json_put_string(&w, "op", string_of(k, "op"));
    kiln_json_open(&w, "nodes", '[');
    for (int n = 0; nodes && nodes->kind == KILN_JSON_ARRAY && n < nodes->n; n++)
      if (nodes->items[n].kind == KILN_JSON_STRING)
        kiln_json_put_string(&w, NULL, nodes->items[n].string);
    kiln_json_close(&w);
    kiln_json_put_number(&w, "flops", number_of(k, "flops"));
    kiln_json_put_number(&w, "bytes", number_of(k, "bytes"));
    kiln_json_close(&w);
  }
  kiln_json_close(&w);
  kiln_json_close(&w);
  fputc('\n', stdout);
}

int cli_bench_library(cli_args *a) {
  kiln_error err = {0};
  cli_inputs in = {0};
  cli_model m = {0};
  void **outs = NULL;
  int rc = 0, repeat = a->repeat ? a->repeat : 10;
  /* the default count, said as a number: the library's pool counts as kiln's does */
  int tc_default = kiln_rt_num_threads();
  const int *tc = a->nthread_counts ? a->thread_counts : &tc_default;
  int ncounts = a->nthread_counts ? a->nthread_counts : 1;
  double ms[CLI_MAX_THREAD_COUNTS] = {0};
  kiln_status st = cli_open_model(a, &in, &m, &err);
  if (!st) st = cli_fill_inputs(m.inputs, m.ninputs, &in, a->seed, &err);
  if (!st) outs = cli_alloc_outputs(m.outputs, m.noutputs);
  /* pinned before the library's own pool starts (its first run): its workers, placed
   * after the CPU their creator runs on, then leave this one to the caller too */
  cli_pin_caller(true);
  for (int i = 0; i < ncounts && !st; i++) {
    st = cli_model_set_threads(&m, a->nthread_counts ? tc[i] : 0, &err);
    if (!st) st = cli_time_model(&m, &in, outs, repeat, &ms[i], &err);
  }
  cli_pin_caller(false);
  if (st) rc = cli_fail(&err);
  else (a->json ? print_json : print_text)(a, cli_model_manifest(&m), tc, ms, ncounts, repeat);
  cli_free_outputs(outs);
  cli_model_free(&m);
  cli_inputs_free(&in);
  return rc;
}
