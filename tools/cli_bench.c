/* `kiln bench MODEL`: how fast each generated kernel runs, against the machine's limits.
 *
 * The model is compiled twice: once with kiln_options.profile (each kernel step of the
 * entry function timed by two clock reads, runtime/profile.h), for the per-kernel table,
 * and once as `kiln run` compiles it, for the end-to-end latencies. Per kernel: the median
 * of --repeat timed runs after one warm-up, its share of the kernels' total, GFLOP/s and
 * GB/s from the counts of ir/kernel_cost.h (floating-point ops and compulsory bytes), and
 * the percentage of its roofline min(peak GFLOP/s, GB/s * flops/byte); a kernel with no
 * floating-point work is measured against bandwidth alone. The peak FMA throughput and
 * bandwidth are measured on the table's thread count (tools/cli_peak.c) unless given.
 * The numbers are a report (runtime/report.h): --json prints it, --html draws it
 * (tools/cli_roofline.c). */
#define _GNU_SOURCE /* sched_setaffinity */
#include "tools/cli_util.h"

#include "rt/parallel.h"
#include "runtime/profile.h"
#include "runtime/report.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static const char *usage_bench =
    "usage: kiln bench MODEL [--repeat N] [--threads N[,N...]] [--json] [--html FILE]\n"
    "                  [--peak-gflops X] [--peak-gbs Y] [--inputs DIR] [--random-inputs]\n"
    "                  [--seed N] [--shape IN=DxDx..]... [--max-nodes N] [--max-tensor-bytes N]\n"
    "                  [--no-fuse] [--tuning-log LOG]\n"
    "Times every generated kernel (one per graph node, or per fused chain such as op\n"
    "\"Conv+Add+Relu\"; --no-fuse: one per node) in an instrumented JIT build: the median\n"
    "over --repeat runs (default 10) after one warm-up, all its calls in a run together (a\n"
    "loop's body runs once per iteration: `calls`), its share of the kernels'\n"
    "total, GFLOP/s and GB/s (floating-point ops and the bytes of the buffers it reads and\n"
    "writes, counted from the kernel IR), and the % of its roofline, min(peak GFLOP/s,\n"
    "peak GB/s * flops/byte). The peaks are measured once (FMA chains on the widest vectors,\n"
    "a streaming read larger than the L3 cache) unless --peak-gflops/--peak-gbs give them.\n"
    "Then the end-to-end median latency of the uninstrumented model at each --threads count\n"
    "(the table uses the first; default: KILN_NUM_THREADS or one per CPU kiln may use).\n"
    "Inputs as for `kiln run` (random unless --inputs); with free dims (--shape IN=?x..) the\n"
    "generic code runs at the input files' shapes, and FLOPs and bytes are counted there.\n"
    "--json prints one JSON object: the report `kiln compile --report` writes with the\n"
    "measured fields added (docs/reports.md).\n"
    "--html FILE also writes the per-kernel roofline as a self-contained HTML page (SVG).\n"
    "A kernel whose data stays in cache can pass 100% (the roofline's bandwidth is memory's).\n"
    "--tuning-log LOG: the schedules of a tuning log (`kiln tune`, docs/tuning.md).\n"
    "       kiln bench LIB.so [--repeat N] [--threads N[,N...]] [--json] [--inputs DIR]\n"
    "                  [--random-inputs] [--seed N]\n"
    "LIB (a file starting with ELF's magic) is a library `kiln compile` wrote: its end-to-end\n"
    "median latency at each --threads count, and its kernels as its manifest lists them;\n"
    "per-kernel times need the model (a library holds no timing code).\n";

static cpu_set_t unpinned;
static bool pinned;

void cli_pin_caller(bool on) {
  if (!on) {
    if (pinned) sched_setaffinity(0, sizeof unpinned, &unpinned);
    pinned = false;
    return;
  }
  int cpu = kiln_rt_caller_cpu();
  cpu_set_t one;
  if (pinned || cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof unpinned, &unpinned))
    return;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  pinned = sched_setaffinity(0, sizeof one, &one) == 0;
}

/* One profiled run of m, into ns and calls; with free dims (`shapes`, the same model
 * compiled without profile, holds the inputs' shapes) also the syms' values, into syms. */
static kiln_status run_profiled(const kiln_model *m, const cli_model *shapes, cli_inputs *in,
                                void **outs, double *ns, double *calls, int64_t *syms,
                                kiln_error *err) {
  if (!shapes->shaped)
    return kiln_run_profiled(m, (const void *const *)in->data, outs, ns, calls, err);
  kiln_array a[CLI_MAX_INPUTS], o[CLI_MAX_INPUTS];
  cli_model_arrays(shapes, (const void *const *)in->data, outs, a, o);
  return kiln_run_arrays_profiled(m, a, o, ns, calls, syms, err);
}

/* Medians of repeat profiled runs (after a warm-up) into med[0..nk), and the kernels' calls
 * per run (the same in every run of the same inputs) into calls. */
static kiln_status time_kernels(const kiln_model *m, const cli_model *shapes, cli_inputs *in,
                                void **outs, int repeat, double *med, double *calls, int nk,
                                int64_t *syms, kiln_error *err) {
  double *ns = calloc((size_t)repeat * (size_t)nk + 1, sizeof *ns), *col = calloc((size_t)repeat, sizeof *col);
  kiln_status st = KILN_OK;
  for (int r = -1; r < repeat && !st; r++) {
    st = run_profiled(m, shapes, in, outs, ns + (size_t)(r < 0 ? 0 : r) * (size_t)nk, calls, syms,
                      err);
    cli_free_strings(shapes->outputs, shapes->noutputs, outs); /* each run's are ours */
  }
  for (int i = 0; i < nk && !st; i++) {
    for (int r = 0; r < repeat; r++) col[r] = ns[(size_t)r * (size_t)nk + (size_t)i];
    med[i] = kiln_median(col, repeat);
  }
  free(ns);
  free(col);
  return st;
}

kiln_status cli_time_model(const cli_model *m, cli_inputs *in, void **outs, int repeat,
                           double *ms, kiln_error *err) {
  double *t = calloc((size_t)repeat, sizeof *t);
  kiln_status st = KILN_OK;
  for (int r = -1; r < repeat && !st; r++) {
    double t0 = (double)kiln_rt_clock_ns();
    st = cli_model_run(m, (const void *const *)in->data, outs, err);
    if (r >= 0) t[r] = ((double)kiln_rt_clock_ns() - t0) / 1e6;
    cli_free_strings(m->outputs, m->noutputs, outs); /* each run's are ours */
  }
  if (!st) *ms = kiln_median(t, repeat);
  free(t);
  return st;
}

static void print_table(const kiln_report *r) {
  const kiln_report_bench *b = r->bench;
  double total = 0;
  for (int i = 0; i < r->nkernels; i++) total += r->kernels[i].ns;
  printf("kiln bench %s: %d kernels, %d thread%s, median of %d runs\n", r->model, r->nkernels,
         b->threads, b->threads == 1 ? "" : "s", b->repeat);
  for (int i = 0; b->syms && i < r->p->nsyms; i++)
    printf("%s%s = %lld%s", i ? ", " : "free dims: ", r->p->sym_names[i], (long long)b->syms[i],
           i == r->p->nsyms - 1 ? "\n" : "");
  printf("roofline: peak %.1f GFLOP/s, %.1f GB/s (%s)\n\n", b->peak_gflops, b->peak_gbs,
         b->peaks_measured ? "measured" : "given");
  printf("%-4s %-28s %-18s %11s %6s %7s %9s %9s %9s\n", "#", "kernel", "op", "time(us)", "calls",
         "share", "GFLOP/s", "GB/s", "roofline");
  for (int i = 0; i < r->nkernels; i++) {
    const kiln_report_kernel *w = &r->kernels[i];
    printf("%-4d %-28s %-18s %11.2f %6.0f %6.1f%% %9.2f %9.2f %8.1f%%\n", i, w->k->name,
           w->k->op ? w->k->op : "?", w->ns / 1e3, w->calls, total > 0 ? 100 * w->ns / total : 0,
           w->gflops, w->gbs, w->roofline_pct);
  }
  printf("%-4s %-47s %11.2f\n\n", "", "kernels total", total / 1e3);
  for (int i = 0; i < b->ncounts; i++)
    printf("end-to-end, %d thread%s: median %.3f ms\n", b->thread_counts[i],
           b->thread_counts[i] == 1 ? "" : "s", b->e2e_ms[i]);
}

int cli_bench(int argc, char **argv) {
  cli_args a;
  kiln_error err = {0};
  int rc = cli_parse_command(CLI_BENCH, argc, argv, usage_bench, &a);
  if (rc >= 0) return rc;
  rc = 0;
  if (cli_is_elf(a.model)) {
    rc = cli_bench_library(&a);
    cli_args_free(&a);
    return rc;
  }
  cli_inputs in = {0};
  kiln_model *prof = NULL, *jit = NULL;
  cli_model plain = {0};
  void **outs = NULL;
  double *ns = NULL, *calls = NULL;
  kiln_report r = {0};
  kiln_status st = a.html ? kiln_report_check_path(a.html, &err) : KILN_OK;
  if (!st) st = cli_load_inputs(&a, &in, &err);
  if (!st) cli_note_random_inputs(&a, &in);
  if (!st) {
    a.profile = true;
    st = cli_compile(&a, &in, &prof, &err);
    a.profile = false;
  }
  if (!st && !(st = cli_compile(&a, &in, &jit, &err))) cli_model_of_jit(jit, &plain);
  if (!st && (a.symbolic || cli_model_takes_shapes(&plain)))
    st = cli_model_bind_shapes(&plain, &in, &err);
  if (!st) st = cli_fill_inputs(plain.inputs, plain.ninputs, &in, a.seed, &err);
  if (st) {
    rc = cli_fail(&err);
    goto done;
  }
  outs = cli_alloc_outputs(plain.outputs, plain.noutputs);
  kiln_options opts;
  kiln_options_init(&opts);
  cli_fill_options(&a, &opts);
  kiln_report_init(&r, kiln_model_program(prof), a.model, &opts);
  ns = kiln_xcalloc((size_t)r.nkernels + 1, sizeof *ns);
  calls = kiln_xcalloc((size_t)r.nkernels + 1, sizeof *calls);
  kiln_report_bench b = {.repeat = a.repeat ? a.repeat : 10};
  int tc_default = 0, *tc = a.nthread_counts ? a.thread_counts : &tc_default;
  kiln_rt_set_num_threads(tc[0]);
  b.threads = kiln_rt_num_threads(); /* what the table's runs use */
  kiln_rt_set_num_threads(0);
  if (!a.nthread_counts) tc_default = b.threads;
  b.thread_counts = tc;
  b.ncounts = a.nthread_counts ? a.nthread_counts : 1;
  kiln_model_set_num_threads(prof, tc[0]);
  double e2e[CLI_MAX_THREAD_COUNTS] = {0};
  b.e2e_ms = e2e;
  int64_t syms[KILN_MAX_SYMS] = {0};
  cli_pin_caller(true);
  st = time_kernels(prof, &plain, &in, outs, b.repeat, ns, calls, r.nkernels, syms, &err);
  if (plain.shaped) b.syms = syms;
  for (int i = 0; i < b.ncounts && !st; i++) {
    kiln_model_set_num_threads(plain.jit, tc[i]);
    st = cli_time_model(&plain, &in, outs, b.repeat, &e2e[i], &err);
  }
  cli_pin_caller(false);
  if (st) {
    rc = cli_fail(&err);
    goto done;
  }
  b.peak_gflops = a.peak_gflops;
  b.peak_gbs = a.peak_gbs;
  b.peaks_measured = !b.peak_gflops || !b.peak_gbs;
  if (b.peaks_measured) {
    double mf, mb;
    cli_measure_peak(b.threads, &mf, &mb);
    b.peak_gflops = b.peak_gflops ? b.peak_gflops : mf;
    b.peak_gbs = b.peak_gbs ? b.peak_gbs : mb;
  }
  kiln_report_measure(&r, ns, calls, &b);
  if (a.html && cli_write_roofline(&r, a.html, &err)) rc = cli_fail(&err);
  else if (a.json) kiln_report_json(&r, stdout);
  else print_table(&r);
done:
  cli_free_outputs(outs);
  free(ns);
  free(calls);
  kiln_report_free(&r);
  kiln_model_free(prof);
  cli_model_free(&plain);
  cli_inputs_free(&in);
  cli_args_free(&a);
  return rc;
}
