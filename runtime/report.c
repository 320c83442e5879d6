/* The compile and bench reports of runtime/report.h, as JSON (ir/json.h's writer). Field
 * names are docs/reports.md's; a bench report is a compile report whose kernels have the
 * measured fields too, so one script reads both. */
#include "runtime/report.h"

#include "ir/json.h"
#include "ir/schedule.h"
#include "ir/tempfile.h"
#include "passes/passes.h"
#include "passes/tune.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void kiln_report_init(kiln_report *r, const kiln_program *p, const char *model,
                      const kiln_options *opts) {
  memset(r, 0, sizeof *r);
  r->model = model;
  r->p = p;
  kiln_tuning_target t;
  kiln_tuning_target_of(opts, &t);
  r->triple = kiln_xstrdup(t.triple);
  r->cpu = kiln_xstrdup(t.cpu);
  kiln_tuning_target_clear(&t);
  const kiln_kernel **ks = kiln_steps_kernel_list(&p->main, &r->nkernels);
  r->kernels = kiln_xcalloc((size_t)r->nkernels + 1, sizeof *r->kernels);
  for (int i = 0; i < r->nkernels; i++) {
    r->kernels[i].k = ks[i];
    kiln_kernel_cost_of(ks[i], &r->kernels[i].cost);
  }
  free(ks);
}

void kiln_report_measure(kiln_report *r, const double *kernel_ns, const double *kernel_calls,
                         const kiln_report_bench *b) {
  r->bench = b;
  for (int i = 0; i < r->nkernels; i++) {
    kiln_report_kernel *w = &r->kernels[i];
    w->ns = kernel_ns[i];
    w->calls = kernel_calls[i];
    if (b->syms) kiln_kernel_cost_at(w->k, b->syms, &w->cost);
    if (!(w->ns > 0)) { /* not run: in an If branch not taken */
      w->gflops = w->gbs = w->roofline_pct = 0;
      continue;
    }
    double bytes = w->cost.bytes_read + w->cost.bytes_written;
    w->gflops = w->cost.flops * w->calls / w->ns;
    w->gbs = bytes * w->calls / w->ns;
    double ai = kiln_kernel_cost_intensity(&w->cost);
    double roof = b->peak_gbs * ai < b->peak_gflops ? b->peak_gbs * ai : b->peak_gflops;
    w->roofline_pct = w->cost.flops > 0 ? 100 * w->gflops / roof : 100 * w->gbs / b->peak_gbs;
  }
}

void kiln_report_free(kiln_report *r) {
  free(r->kernels);
  free(r->triple);
  free(r->cpu);
  memset(r, 0, sizeof *r);
}

/* ---- JSON ---------------------------------------------------------------------------- */

/* Text printed by fn(arg) into a string, written as one item. */
static void put_text(kiln_json_writer *w, const char *key, void (*fn)(const void *, FILE *),
                     const void *arg) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  fn(arg, f);
  fclose(f);
  kiln_json_put_string(w, key, text);
  free(text);
}

static void print_axes(const void *arg, FILE *out) {
  const kiln_stage *s = arg;
  for (int a = 0; a < s->naxes; a++)
    fprintf(out, "%sa%d:%" PRId64 "%s", a ? " " : "", a, s->axes[a].extent,
            s->axes[a].reduce ? "r" : "");
}
static void print_loops(const void *arg, FILE *out) { kiln_schedule_print(arg, out); }
static void print_recipe(const void *arg, FILE *out) { kiln_recipe_print(arg, out); }

/* A kernel's inputs or outputs (role), each value once (a fused kernel may read one value
 * through several views: the first stands for it). */
static void put_buffers(kiln_json_writer *w, const char *key, const kiln_kernel *k,
                        kiln_buf_role role) {
  kiln_json_open(w, key, '[');
  for (int b = 0; b < k->nbufs; b++) {
    const kiln_buffer *buf = &k->bufs[b];
    bool seen = buf->role != role;
    for (int o = 0; o < b && !seen; o++)
      seen = k->bufs[o].role == role && k->bufs[o].value == buf->value && buf->value >= 0;
    if (seen) continue;
    kiln_json_open(w, NULL, '{');
    kiln_json_put_string(w, "name", buf->name);
    kiln_json_put_string(w, "dtype", kiln_dtype_name(buf->dtype));
    kiln_json_open(w, "dims", '[');
    for (int d = 0; d < buf->rank; d++) kiln_json_put_number(w, NULL, (double)buf->dims[d]);
    kiln_json_close(w);
    kiln_json_put_string(w, "layout", buf->layout ? buf->layout : "plain");
    kiln_json_close(w);
  }
  kiln_json_close(w);
}

static void put_kernel(kiln_json_writer *w, const kiln_report *r, int i, double total_ns) {
  const kiln_report_kernel *rk = &r->kernels[i];
  const kiln_kernel *k = rk->k;
  const kiln_compile_times *t = r->p->times;
  kiln_json_open(w, NULL, '{');
  kiln_json_put_number(w, "index", i);
  kiln_json_put_string(w, "name", k->name);
  kiln_json_put_string(w, "op", k->op ? k->op : "?");
  kiln_json_open(w, "nodes", '[');
  for (int n = 0; n < k->nnodes; n++) kiln_json_put_string(w, NULL, k->nodes[n]);
  kiln_json_close(w);
  put_buffers(w, "inputs", k, KILN_BUF_INPUT);
  put_buffers(w, "outputs", k, KILN_BUF_OUTPUT);
  kiln_json_open(w, "schedule", '[');
  for (int s = 0; s < k->nstages; s++) {
    const kiln_stage *st = &k->stages[s];
    kiln_json_open(w, NULL, '{');
    kiln_json_put_string(w, "stage", st->name);
    put_text(w, "axes", print_axes, st);
    put_text(w, "loops", print_loops, &st->sched);
    put_text(w, "recipe", print_recipe, &st->recipe);
    kiln_json_close(w);
  }
  kiln_json_close(w);
  kiln_json_put_number(w, "flops", rk->cost.flops);
  kiln_json_put_number(w, "bytes", rk->cost.bytes_read + rk->cost.bytes_written);
  kiln_json_put_number(w, "bytes_read", rk->cost.bytes_read);
  kiln_json_put_number(w, "bytes_written", rk->cost.bytes_written);
  kiln_json_put_number(w, "intensity", kiln_kernel_cost_intensity(&rk->cost));
  if (t && i < t->nkernels) kiln_json_put_number(w, "emit_ms", t->emit_ms[i]);
  else kiln_json_put_string(w, "emit_ms", NULL);
  if (r->bench) {
    kiln_json_put_number(w, "time_us", rk->ns / 1e3);
    kiln_json_put_number(w, "calls", rk->calls);
    kiln_json_put_number(w, "share", total_ns > 0 ? rk->ns / total_ns : 0);
    kiln_json_put_number(w, "gflops", rk->gflops);
    kiln_json_put_number(w, "gbs", rk->gbs);
    kiln_json_put_number(w, "roofline_pct", rk->roofline_pct);
  }
  kiln_json_close(w);
}

static void put_compile(kiln_json_writer *w, const kiln_compile_times *t) {
  kiln_json_open(w, "compile", '{');
  double passes = 0, emit = 0;
  kiln_json_open(w, "passes", '[');
  for (int i = 0; t && i < t->npasses; i++) {
    kiln_json_open(w, NULL, '{');
    kiln_json_put_string(w, "name", kiln_pass_name(i));
    kiln_json_put_number(w, "ms", t->pass_ms[i]);
    kiln_json_close(w);
    passes += t->pass_ms[i];
  }
  kiln_json_close(w);
  for (int i = 0; t && i < t->nkernels; i++) emit += t->emit_ms[i];
  kiln_json_put_number(w, "passes_ms", passes);
  kiln_json_put_number(w, "emit_ms", emit);
  kiln_json_put_number(w, "optimize_ms", t ? t->optimize_ms : 0);
  kiln_json_put_number(w, "machine_code_ms", t ? t->machine_ms : 0);
  kiln_json_put_number(w, "total_ms", passes + emit + (t ? t->optimize_ms + t->machine_ms : 0));
  kiln_json_close(w);
}

static void put_bench(kiln_json_writer *w, const kiln_report *r, const kiln_report_bench *b,
                      double total_ns) {
  kiln_json_put_number(w, "threads", b->threads);
  kiln_json_put_number(w, "repeat", b->repeat);
  kiln_json_open(w, "peak", '{');
  kiln_json_put_number(w, "gflops", b->peak_gflops);
  kiln_json_put_number(w, "gbs", b->peak_gbs);
  kiln_json_put_bool(w, "measured", b->peaks_measured);
  kiln_json_close(w);
  kiln_json_open(w, "dims", '['); /* the free dims' values the times are for */
  for (int i = 0; b->syms && i < r->p->nsyms; i++) {
    kiln_json_open(w, NULL, '{');
    kiln_json_put_string(w, "name", r->p->sym_names[i]);
    kiln_json_put_number(w, "value", (double)b->syms[i]);
    kiln_json_close(w);
  }
  kiln_json_close(w);
  kiln_json_put_number(w, "kernels_total_us", total_ns / 1e3);
  kiln_json_open(w, "end_to_end", '[');
  for (int i = 0; i < b->ncounts; i++) {
    kiln_json_open(w, NULL, '{');
    kiln_json_put_number(w, "threads", b->thread_counts[i]);
    kiln_json_put_number(w, "median_ms", b->e2e_ms[i]);
    kiln_json_close(w);
  }
  kiln_json_close(w);
}

void kiln_report_json(const kiln_report *r, FILE *out) {
  kiln_json_writer w;
  kiln_json_writer_init(&w, out, 3);
  double total_ns = 0;
  for (int i = 0; i < r->nkernels; i++) total_ns += r->kernels[i].ns;
  kiln_json_open(&w, NULL, '{');
  kiln_json_put_string(&w, "report", r->bench ? "bench" : "compile");
  kiln_json_put_string(&w, "kiln_version", KILN_VERSION);
  kiln_json_put_string(&w, "model", r->model);
  kiln_json_open(&w, "target", '{');
  kiln_json_put_string(&w, "triple", r->triple);
  kiln_json_put_string(&w, "cpu", r->cpu);
  kiln_json_close(&w);
  put_compile(&w, r->p->times);
  if (r->bench) put_bench(&w, r, r->bench, total_ns);
  kiln_json_open(&w, "kernels", '[');
  for (int i = 0; i < r->nkernels; i++) put_kernel(&w, r, i, total_ns);
  kiln_json_close(&w);
  kiln_json_close(&w);
}

kiln_status kiln_report_write(const kiln_report *r, const char *path, kiln_error *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "report '%s': no memory", path);
  kiln_report_json(r, f);
  fclose(f);
  kiln_status st = kiln_write_file_atomic(path, text, len, NULL, 0, err);
  free(text);
  return st;
}

kiln_status kiln_report_check_path(const char *path, kiln_error *err) {
  if (!path || !*path) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "report: empty path");
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
    return kiln_fail(err, KILN_ERR_IO, "report '%s' is a directory", path);
  char *prefix = kiln_fmt("%s.", path);
  kiln_temp t = {0};
  int fd = kiln_temp_open(prefix, ".tmp", &t);
  free(prefix);
  if (fd < 0)
    return kiln_fail(err, KILN_ERR_IO, "report '%s': cannot create a file there: %s", path,
                     strerror(errno));
  close(fd);
  unlink(t.path);
  kiln_temp_forget(&t);
  return KILN_OK;
}
