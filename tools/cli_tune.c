/* `kiln tune MODEL --budget S -o LOG`: the autotuner's command line (the search is
 * runtime/tune.c): a progress line on stderr while it runs (rewritten in place on a
 * terminal), then a table per distinct kernel and the end-to-end latencies. Also
 * `kiln dump --tuning LIB`, which prints the tuning text an AOT file carries. */
#define _GNU_SOURCE /* memmem */
#include "tools/cli_util.h"

#include "frontend/onnx.h"
#include "ir/json.h"
#include "runtime/bucket.h"
#include "rt/parallel.h"
#include "runtime/tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *usage_tune =
    "usage: kiln tune MODEL --budget SECONDS -o LOG [--shard K/N] [--threads N] [--seed N]\n"
    "                 [--shape IN=DxDx..]... [--max-nodes N] [--max-tensor-bytes N] [--no-fuse]\n"
    "                 [--bucket IN=DxDx..[,IN2=..]]...\n"
    "       kiln tune MODEL --list-kernels [--json] [--shard K/N] [--shape IN=DxDx..]...\n"
    "Searches schedules faster than the default ones for each distinct kernel of MODEL\n"
    "(kernels with the same IR are tuned once), within SECONDS of wall-clock time,\n"
    "compiles included (10% over at most). Time goes to kernels in proportion to their\n"
    "share of the model's run time. Each candidate is compiled and run alone on random\n"
    "inputs; one whose outputs differ from the default schedule's is dropped. LOG gets one\n"
    "record per kernel measured (JSON lines, docs/tuning.md); when LOG exists its records\n"
    "are read first and the search resumes from them, and the new records are appended.\n"
    "Apply LOG with `kiln compile/run --tuning-log LOG`, with the same --threads (records\n"
    "match the target: triple, CPU, features and thread count, and the kiln version).\n"
    "Prints progress on stderr, then per kernel the default and tuned times and GFLOP/s,\n"
    "and the model's end-to-end latency untuned and tuned. --threads N: the threads\n"
    "parallel loops use (default: KILN_NUM_THREADS or one per CPU kiln may use);\n"
    "--seed N (default 1) seeds the search and the random inputs.\n"
    "With free dims (--shape IN=?x..), the shape buckets (--bucket) are tuned, one after\n"
    "the other, each at its shapes with an even share of the time left; their records\n"
    "apply to `kiln compile/run --bucket` variants (the generic code keeps the defaults).\n"
    "--shard K/N tunes only shard K of N (1 <= K <= N) of the distinct kernels, a\n"
    "deterministic split balanced by nominal cost, for tuning on N hosts: concatenate the\n"
    "N logs. --list-kernels measures nothing and prints each distinct kernel: hash, name,\n"
    "op, instances, GFLOP and MB per run, nominal cost (all instances at 100 GFLOP/s and\n"
    "10 GB/s) and its shard of N (with --shard K/N: only shard K's); --json as one JSON\n"
    "object.\n";

typedef struct bar {
  bool tty;
  double last_print;
  int last_done;
} bar;

static void on_progress(void *ctx, const kiln_tune_progress *p) {
  bar *b = ctx;
  if (b->tty ? p->elapsed_s - b->last_print < 0.1 : p->kernels_done == b->last_done) return;
  b->last_print = p->elapsed_s;
  b->last_done = p->kernels_done;
  double gain = p->untuned_ns > 0 ? 100 * (1 - p->tuned_ns / p->untuned_ns) : 0;
  fprintf(stderr, "%stune: %.1f/%.0f s, kernels %d/%d, estimate %.3f ms vs untuned %.3f ms "
          "(%.1f%% faster)%s", b->tty ? "\r" : "", p->elapsed_s, p->budget_s, p->kernels_done,
          p->nkernels, p->tuned_ns / 1e6, p->untuned_ns / 1e6, gain, b->tty ? "\033[K" : "\n");
  fflush(stderr);
}

static void print_table(const char *model, const char *log, const cli_args *a, double budget,
                        const kiln_tune_result *r) {
  int instances = 0;
  for (int i = 0; i < r->nkernels; i++) instances += r->kernels[i].count;
  printf("kiln tune %s: budget %.1f s, %d distinct kernels (%d in the model)", model,
         budget, r->nkernels, instances);
  if (a->nshards) printf(", shard %d of %d", a->shard, a->nshards);
  printf("\n\n");
  printf("%-4s %-24s %-20s %5s %12s %12s %8s %9s %9s %6s %5s\n", "#", "kernel", "op", "count",
         "default(us)", "tuned(us)", "speedup", "GFLOP/s", "tuned", "cands", "wrong");
  for (int i = 0; i < r->nkernels; i++) {
    const kiln_tune_kernel *k = &r->kernels[i];
    if (!k->default_ns && a->nshards && k->shard != a->shard) {
      printf("%-4d %-24s %-20.20s %5d %12s (shard %d of %d)\n", i, k->name, k->op, k->count, "-",
             k->shard, a->nshards);
      continue;
    }
    if (!k->default_ns) {
      printf("%-4d %-24s %-20.20s %5d %12s (in the model %.2f us per instance; not tuned: out "
             "of budget)\n", i, k->name, k->op, k->count, "-", k->model_ns / 1e3 / k->count);
      continue;
    }
    printf("%-4d %-24s %-20.20s %5d %12.2f %12.2f %7.2fx %9.2f %9.2f %6d %5d%s\n", i, k->name,
           k->op, k->count, k->default_ns / 1e3, k->best_ns / 1e3, k->default_ns / k->best_ns,
           k->flops / k->default_ns, k->flops / k->best_ns, k->candidates, k->wrong,
           k->from_log       ? "  (from the log)"
           : k->model_slower ? "  (default: its best was no faster in the model)"
                             : "");
  }
  if (r->nchoices) {
    printf("\n%-4s %-24s %-20s %5s %-8s %7s %7s %12s %12s %8s\n", "#", "choice at node", "op",
           "count", "choice", "default", "best", "default(us)", "best(us)", "speedup");
    for (int i = 0; i < r->nchoices; i++) {
      const kiln_tune_choice *c = &r->choices[i];
      const kiln_choice *pt = &c->point;
      if (!c->tried) {
        printf("%-4d %-24s %-20.20s %5d %-8s %7d %7s (not measured: out of budget)\n", i, pt->node,
               pt->op, c->count, pt->what, pt->def, "-");
        continue;
      }
      printf("%-4d %-24s %-20.20s %5d %-8s %7d %7d %12.2f %12.2f %7.2fx\n", i, pt->node, pt->op,
             c->count, pt->what, pt->def, c->best, c->default_ns / 1e3, c->best_ns / 1e3,
             c->default_ns / c->best_ns);
    }
    printf("models compiled with other choices %d, wrong outputs %d (dropped)\n", r->variants,
           r->variants_wrong);
  }
  printf("\ncandidates measured %d, refused by the schedule check %d (never measured), "
         "wrong outputs %d (dropped)\n", r->candidates, r->refused, r->wrong);
  if (r->overlap)
    printf("candidates compiled in %.1f s, measured in %.1f s; %.1f s of compiling ran while "
           "another was measured (on a CPU the measurement left free)\n", r->compile_s,
           r->measure_s, r->hidden_s);
  else
    printf("candidates compiled in %.1f s, measured in %.1f s, one after the other (the "
           "tuning threads use every CPU kiln may use)\n", r->compile_s, r->measure_s);
  if (r->cold_weights)
    printf("the model's weights exceed the last-level cache: kernels were timed with theirs "
           "evicted from the caches, as the model runs them\n");
  if (r->model_slower)
    printf("kernels faster alone but not inside the tuned model, kept at their defaults: %d\n",
           r->model_slower);
  printf("log %s: %d records read, %d written\n", log, r->records_read, r->records_written);
  if (r->kept_defaults)
    printf("the tuned model ran slower end to end than the untuned one (%.3f vs %.3f ms): "
           "the log records every kernel's and choice's default as its best\n", r->tuned_ms,
           r->untuned_ms);
  if (r->unchanged)
    printf("end-to-end: untuned %.3f ms; the log changes no kernel of the model, so the tuned "
           "model is the untuned one\n", r->untuned_ms);
  else if (r->untuned_ms > 0 && r->tuned_ms > 0)
    printf("end-to-end: untuned %.3f ms, tuned %.3f ms (%.2fx); outputs agree within %.2g "
           "(relative to their largest magnitude)\n", r->untuned_ms, r->tuned_ms,
           r->untuned_ms / r->tuned_ms, r->max_error);
  else
    printf("end-to-end: untuned %.3f ms; tuned not measured (out of budget)\n", r->untuned_ms);
  printf("elapsed %.2f s of a %.1f s budget\n", r->elapsed_s, budget);
}

/* The variants `kiln tune` works on: the model as --shape binds it (one, -1), or with
 * free dims its shape buckets 0..n-1; *first and *end bound the loop. */
static void variants(const kiln_options *opts, int *first, int *end) {
  bool buckets = opts->symbolic_dims && opts->nbuckets > 0;
  *first = buckets ? 0 : -1;
  *end = buckets ? opts->nbuckets : 0;
}

/* The options of variant v (variants()); *owned to free. */
static kiln_options variant_options(const kiln_options *opts, int v, kiln_shape_binding **owned) {
  *owned = NULL;
  return v < 0 ? *opts : kiln_bucket_options(opts, v, owned);
}

/* "bucket 1: x=1x3x64x64,y=1x8" as a heading. */
static void print_bucket(const kiln_options *opts, int v) {
  const kiln_bucket *bk = &opts->buckets[v];
  printf("bucket %d: ", v);
  for (int i = 0; i < bk->nshapes; i++) {
    printf("%s%s=", i ? "," : "", bk->shapes[i].input);
    for (int d = 0; d < bk->shapes[i].rank; d++)
      printf("%s%lld", d ? "x" : "", (long long)bk->shapes[i].dims[d]);
  }
  printf("\n");
}

static int list_kernels(const cli_args *a, const kiln_options *opts) {
  kiln_error err = {0};
  int nshards = a->nshards ? a->nshards : 1, first, end, n = 0;
  variants(opts, &first, &end);
  kiln_tune_result rs[CLI_MAX_SHAPES + 1];
  for (int v = first; v < end; v++) { /* every variant listed before anything is printed */
    kiln_shape_binding *owned;
    kiln_options o = variant_options(opts, v, &owned);
    kiln_status st = kiln_tune_list(a->model, &o, nshards, &rs[v - first], &err);
    if (st) cli_hint_unbound(a->model, &o, &err); /* (it reads o's shapes: before the free) */
    free(owned);
    if (!st) continue;
    for (int u = first; u < v; u++) kiln_tune_result_free(&rs[u - first]);
    return cli_fail(&err);
  }
  if (a->json) {
    printf("{\"model\": ");
    kiln_json_write_string(a->model, stdout);
    printf(", \"shards\": %d, ", nshards);
    if (first >= 0) printf("\"buckets\": %d, ", end);
    printf("\"kernels\": [");
  }
  for (int v = first; v < end; v++) {
    kiln_tune_result *r = &rs[v - first];
    if (!a->json && v >= 0) printf("%s", v ? "\n" : ""), print_bucket(opts, v);
    if (!a->json)
      printf("%-16s %-24s %-20s %5s %10s %10s %12s %5s\n", "hash", "kernel", "op", "count",
             "GFLOP", "MB", "cost(us)", "shard");
    for (int i = 0; i < r->nkernels; i++) {
      const kiln_tune_kernel *k = &r->kernels[i];
      if (a->nshards && k->shard != a->shard) continue;
      if (a->json) {
        printf("%s\n  {\"hash\": \"%s\", \"name\": ", n ? "," : "", k->hash);
        kiln_json_write_string(k->name, stdout);
        printf(", \"op\": ");
        kiln_json_write_string(k->op, stdout);
        printf(", \"count\": %d, \"flops\": %.17g, \"bytes\": %.17g, \"cost_ns\": %.6g, "
               "\"shard\": %d", k->count, k->flops, k->bytes, k->cost_ns, k->shard);
        if (v >= 0) printf(", \"bucket\": %d", v);
        printf("}");
      } else {
        printf("%-16s %-24s %-20.20s %5d %10.4f %10.3f %12.2f %5d\n", k->hash, k->name, k->op,
               k->count, k->flops / 1e9, k->bytes / 1e6, k->cost_ns / 1e3, k->shard);
      }
      n++;
    }
  }
  /* the graph passes' choice points (not per shard: `kiln tune --shard` leaves them) */
  if (a->json) printf("], \"choices\": [");
  n = 0;
  for (int v = first; v < end; v++) {
    kiln_tune_result *r = &rs[v - first];
    if (!a->json && r->nchoices)
      printf("\n%-16s %-24s %-20s %5s %-8s %7s  %s\n", "key", "choice at node", "op", "count",
             "choice", "default", "values");
    for (int i = 0; i < r->nchoices; i++, n++) {
      const kiln_tune_choice *c = &r->choices[i];
      const kiln_choice *pt = &c->point;
      if (a->json) {
        printf("%s\n  {\"key\": \"%s\", \"node\": ", n ? "," : "", pt->key);
        kiln_json_write_string(pt->node, stdout);
        printf(", \"op\": ");
        kiln_json_write_string(pt->op, stdout);
        printf(", \"choice\": \"%s\", \"count\": %d, \"default\": %d, \"values\": [", pt->what,
               c->count, pt->def);
        for (int j = 0; j < pt->nvalues; j++) printf("%s%d", j ? ", " : "", pt->values[j]);
        printf("]");
        if (v >= 0) printf(", \"bucket\": %d", v);
        printf("}");
      } else {
        printf("%-16s %-24s %-20.20s %5d %-8s %7d ", pt->key, pt->node, pt->op, c->count,
               pt->what, pt->def);
        for (int j = 0; j < pt->nvalues; j++) printf(" %d", pt->values[j]);
        printf("\n");
      }
    }
    kiln_tune_result_free(r);
  }
  if (a->json) printf("]}\n");
  return 0;
}

int cli_tune(int argc, char **argv) {
  cli_args a;
  kiln_error err = {0};
  int rc = cli_parse_command(CLI_TUNE, argc, argv, usage_tune, &a);
  if (rc >= 0) return rc;
  rc = 0;
  kiln_options opts = {.struct_size = sizeof opts};
  cli_fill_options(&a, &opts);
  if (a.list_kernels) {
    rc = list_kernels(&a, &opts);
    cli_args_free(&a);
    return rc;
  }
  int first, end;
  variants(&opts, &first, &end);
  int64_t t0 = kiln_rt_clock_ns();
  for (int v = first; v < end && !rc; v++) {
    kiln_shape_binding *owned;
    kiln_options o = variant_options(&opts, v, &owned);
    /* a bucket gets an even share of the time the ones before it left */
    double budget = a.budget - (double)(kiln_rt_clock_ns() - t0) / 1e9;
    budget = v < 0 ? a.budget : fmax(budget / (end - v), 0.01);
    if (v >= 0) printf("%s", v ? "\n" : ""), print_bucket(&opts, v), fflush(stdout);
    bar b = {isatty(2) != 0, -1, -1};
    kiln_tune_options t = {budget, a.out, a.seed, on_progress, &b, 0, a.shard, a.nshards, 0, 0, 0};
    kiln_tune_result r;
    kiln_status st = kiln_tune(a.model, &o, &t, &r, &err);
    if (b.tty) fprintf(stderr, "\n");
    if (st) {
      cli_hint_unbound(a.model, &o, &err);
      rc = cli_fail(&err);
    } else {
      print_table(a.model, a.out, &a, budget, &r);
      if (r.max_error > 1e-3) { /* every kernel was checked alone: this would be a kiln bug */
        fprintf(stderr, "kiln: the tuned model's outputs differ from the untuned one's by %.3g\n",
                r.max_error);
        rc = KILN_ERR_INTERNAL;
      }
    }
    fflush(stdout);
    kiln_tune_result_free(&r);
    free(owned);
  }
  cli_args_free(&a);
  return rc;
}

int cli_dump_tuning(const char *path) {
  void *data;
  size_t size;
  kiln_error err = {0};
  if (kiln_read_file(path, &data, &size, &err)) return cli_fail(&err);
  const char *p = data, *end = p + size, *mark = KILN_TUNING_MARK;
  size_t n = strlen(mark);
  int found = 0;
  for (const char *at; (at = memmem(p, (size_t)(end - p), mark, n)); found++) {
    const char *text = at + n, *stop = memchr(text, 0, (size_t)(end - text));
    if (!stop) stop = end;
    fwrite(text, 1, (size_t)(stop - text), stdout);
    p = stop;
  }
  free(data);
  if (found) return 0;
  fprintf(stderr, "kiln: '%s' carries no kiln tuning text (not an object or library kiln "
          "compiled)\n", path);
  return KILN_ERR_INVALID_ARGUMENT;
}
