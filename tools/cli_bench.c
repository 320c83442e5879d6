/* `kiln bench MODEL`: how fast each generated kernel runs, against the machine's limits.
 *
 * The model is compiled twice: once with kiln_options.profile (each kernel step of the
 * entry function timed by two clock reads, runtime/profile.h), for the per-kernel table,
 * and once as `kiln run` compiles it, for the end-to-end latencies. Per kernel: the median
 * of --repeat timed runs after one warm-up, its share of the kernels' total, GFLOP/s and
 * GB/s from the counts of ir/kernel_cost.h (floating-point ops and compulsory bytes), and
 * the percentage of its roofline min(peak GFLOP/s, GB/s * flops/byte); a kernel with no
 * floating-point work is measured against bandwidth alone. The peak FMA throughput and
 * bandwidth are measured on the table's thread count (tools/cli_peak.c) unless given. */
#include "tools/cli_util.h"

#include "ir/kernel_cost.h"
#include "rt/parallel.h"
#include "runtime/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage_bench =
    "usage: kiln bench MODEL [--repeat N] [--threads N[,N...]] [--json]\n"
    "                  [--peak-gflops X] [--peak-gbs Y] [--inputs DIR] [--random-inputs]\n"
    "                  [--seed N] [--shape IN=DxDx..]... [--max-nodes N] [--max-tensor-bytes N]\n"
    "                  [--no-fuse] [--tuning-log LOG]\n"
    "Times every generated kernel (one per graph node, or per fused chain such as op\n"
    "\"Conv+Add+Relu\"; --no-fuse: one per node) in an instrumented JIT build: the median\n"
    "over --repeat runs (default 10) after one warm-up, its share of the kernels'\n"
    "total, GFLOP/s and GB/s (floating-point ops and the bytes of the buffers it reads and\n"
    "writes, counted from the kernel IR), and the % of its roofline, min(peak GFLOP/s,\n"
    "peak GB/s * flops/byte). The peaks are measured once (FMA chains on the widest vectors,\n"
    "a streaming read larger than the L3 cache) unless --peak-gflops/--peak-gbs give them.\n"
    "Then the end-to-end median latency of the uninstrumented model at each --threads count\n"
    "(the table uses the first; default: KILN_NUM_THREADS or one per CPU kiln may use).\n"
    "Inputs as for `kiln run` (random unless --inputs). --json prints one JSON object.\n"
    "A kernel whose data stays in cache can pass 100% (the roofline's bandwidth is memory's).\n"
    "--tuning-log LOG: the schedules of a tuning log (`kiln tune`, docs/tuning.md).\n";

typedef struct row {
  const kiln_kernel *k;
  kiln_kernel_cost cost;
  double ns, gflops, gbs, roofline_pct;
} row;

/* Medians of repeat profiled runs (after a warm-up) into rows[i].ns. */
static kiln_status time_kernels(const kiln_model *m, cli_inputs *in, void **outs, int repeat,
                                row *rows, int nk, kiln_error *err) {
  double *ns = calloc((size_t)repeat * (size_t)nk + 1, sizeof *ns), *col = calloc((size_t)repeat, sizeof *col);
  kiln_status st = KILN_OK;
  for (int r = -1; r < repeat && !st; r++)
    st = kiln_run_profiled(m, (const void *const *)in->data, outs,
                           ns + (size_t)(r < 0 ? 0 : r) * (size_t)nk, err);
  for (int i = 0; i < nk && !st; i++) {
    for (int r = 0; r < repeat; r++) col[r] = ns[(size_t)r * (size_t)nk + (size_t)i];
    rows[i].ns = kiln_median(col, repeat);
  }
  free(ns);
  free(col);
  return st;
}

/* Median end-to-end milliseconds of repeat runs of m after a warm-up. */
static kiln_status time_model(const kiln_model *m, cli_inputs *in, void **outs, int repeat,
                              double *ms, kiln_error *err) {
  double *t = calloc((size_t)repeat, sizeof *t);
  kiln_status st = KILN_OK;
  for (int r = -1; r < repeat && !st; r++) {
    double t0 = (double)kiln_rt_clock_ns();
    st = kiln_run(m, (const void *const *)in->data, outs, err);
    if (r >= 0) t[r] = ((double)kiln_rt_clock_ns() - t0) / 1e6;
  }
  if (!st) *ms = kiln_median(t, repeat);
  free(t);
  return st;
}

static void fill_rates(row *rows, int nk, double peak_gflops, double peak_gbs) {
  for (int i = 0; i < nk; i++) {
    row *w = &rows[i];
    double s = w->ns > 0 ? w->ns : 1, bytes = w->cost.bytes_read + w->cost.bytes_written;
    w->gflops = w->cost.flops / s;
    w->gbs = bytes / s;
    double ai = kiln_kernel_cost_intensity(&w->cost);
    double roof = peak_gbs * ai < peak_gflops ? peak_gbs * ai : peak_gflops;
    w->roofline_pct = w->cost.flops > 0 ? 100 * w->gflops / roof : 100 * w->gbs / peak_gbs;
  }
}

static void print_table(const char *model, const row *rows, int nk, int threads, int repeat,
                        double gflops, double gbs, bool measured, const int *tc,
                        const double *e2e, int ntc) {
  double total = 0;
  for (int i = 0; i < nk; i++) total += rows[i].ns;
  printf("kiln bench %s: %d kernels, %d thread%s, median of %d runs\n", model, nk, threads,
         threads == 1 ? "" : "s", repeat);
  printf("roofline: peak %.1f GFLOP/s, %.1f GB/s (%s)\n\n", gflops, gbs,
         measured ? "measured" : "given");
  printf("%-4s %-28s %-18s %11s %7s %9s %9s %9s\n", "#", "kernel", "op", "time(us)", "share",
         "GFLOP/s", "GB/s", "roofline");
  for (int i = 0; i < nk; i++) {
    const row *w = &rows[i];
    printf("%-4d %-28s %-18s %11.2f %6.1f%% %9.2f %9.2f %8.1f%%\n", i, w->k->name,
           w->k->op ? w->k->op : "?", w->ns / 1e3, total > 0 ? 100 * w->ns / total : 0,
           w->gflops, w->gbs, w->roofline_pct);
  }
  printf("%-4s %-47s %11.2f\n\n", "", "kernels total", total / 1e3);
  for (int i = 0; i < ntc; i++)
    printf("end-to-end, %d thread%s: median %.3f ms\n", tc[i], tc[i] == 1 ? "" : "s", e2e[i]);
}

static void print_json(const char *model, const row *rows, int nk, int threads, int repeat,
                       double gflops, double gbs, bool measured, const int *tc,
                       const double *e2e, int ntc) {
  double total = 0;
  for (int i = 0; i < nk; i++) total += rows[i].ns;
  printf("{\"model\": ");
  cli_json_string(model, stdout);
  printf(", \"threads\": %d, \"repeat\": %d, \"peak\": {\"gflops\": %.6g, \"gbs\": %.6g, "
         "\"measured\": %s},\n \"kernels\": [", threads, repeat, gflops, gbs,
         measured ? "true" : "false");
  for (int i = 0; i < nk; i++) {
    const row *w = &rows[i];
    printf("%s\n  {\"name\": ", i ? "," : "");
    cli_json_string(w->k->name, stdout);
    printf(", \"op\": ");
    cli_json_string(w->k->op ? w->k->op : "?", stdout);
    printf(", \"time_us\": %.6g, \"share\": %.6g, \"flops\": %.17g, \"bytes\": %.17g, "
           "\"gflops\": %.6g, \"gbs\": %.6g, \"roofline_pct\": %.6g}", w->ns / 1e3,
           total > 0 ? w->ns / total : 0, w->cost.flops,
           w->cost.bytes_read + w->cost.bytes_written, w->gflops, w->gbs, w->roofline_pct);
  }
  printf("],\n \"kernels_total_us\": %.6g,\n \"end_to_end\": [", total / 1e3);
  for (int i = 0; i < ntc; i++)
    printf("%s{\"threads\": %d, \"median_ms\": %.6g}", i ? ", " : "", tc[i], e2e[i]);
  printf("]}\n");
}

int cli_bench(int argc, char **argv) {
  cli_args a;
  kiln_error err = {0};
  int rc = cli_parse_command(CLI_BENCH, argc, argv, usage_bench, &a);
  if (rc >= 0) return rc;
  rc = 0;
  cli_inputs in = {0};
  kiln_model *prof = NULL, *plain = NULL;
  void **outs = NULL;
  row *rows = NULL;
  kiln_status st = cli_load_inputs(&a, &in, &err);
  if (!st) cli_note_random_inputs(&a, &in);
  if (!st) {
    a.profile = true;
    st = cli_compile(&a, &in, &prof, &err);
    a.profile = false;
  }
  if (!st) st = cli_compile(&a, &in, &plain, &err);
  if (!st) st = cli_fill_inputs(plain, &in, a.seed, &err);
  if (st) {
    rc = cli_fail(&err);
    goto done;
  }
  outs = cli_alloc_outputs(plain);
  const kiln_program *p = kiln_model_program(prof);
  int nk = kiln_steps_kernels(&p->main, NULL, 0);
  const kiln_kernel **ks = kiln_xcalloc((size_t)nk + 1, sizeof *ks);
  kiln_steps_kernels(&p->main, ks, nk);
  rows = kiln_xcalloc((size_t)nk + 1, sizeof *rows);
  for (int i = 0; i < nk; i++) {
    rows[i].k = ks[i];
    kiln_kernel_cost_of(ks[i], &rows[i].cost);
  }
  free(ks);
  int repeat = a.repeat ? a.repeat : 10;
  int tc_default = 0, *tc = a.nthread_counts ? a.thread_counts : &tc_default;
  int ntc = a.nthread_counts ? a.nthread_counts : 1;
  kiln_rt_set_num_threads(tc[0]);
  int threads = kiln_rt_num_threads(); /* what the table's runs use */
  kiln_rt_set_num_threads(0);
  if (!a.nthread_counts) tc_default = threads;
  kiln_model_set_num_threads(prof, tc[0]);
  double e2e[CLI_MAX_THREAD_COUNTS] = {0};
  st = time_kernels(prof, &in, outs, repeat, rows, nk, &err);
  for (int i = 0; i < ntc && !st; i++) {
    kiln_model_set_num_threads(plain, tc[i]);
    st = time_model(plain, &in, outs, repeat, &e2e[i], &err);
  }
  if (st) {
    rc = cli_fail(&err);
    goto done;
  }
  double gflops = a.peak_gflops, gbs = a.peak_gbs;
  bool measured = !gflops || !gbs;
  if (measured) {
    double mf, mb;
    cli_measure_peak(threads, &mf, &mb);
    gflops = gflops ? gflops : mf;
    gbs = gbs ? gbs : mb;
  }
  fill_rates(rows, nk, gflops, gbs);
  (a.json ? print_json : print_table)(a.model, rows, nk, threads, repeat, gflops, gbs,
                                       measured, tc, e2e, ntc);
done:
  cli_free_outputs(outs);
  free(rows);
  kiln_model_free(prof);
  kiln_model_free(plain);
  cli_inputs_free(&in);
  cli_args_free(&a);
  return rc;
}
