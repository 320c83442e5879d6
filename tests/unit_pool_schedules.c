/* Default schedules of pools (passes/schedule.c) and what they compute. A plain MaxPool or
 * AveragePool over rows shorter than a vector (5, 7, 12 wide) takes a register tile whose
 * vector runs along its rows, checked against pools computed here; a global pool in the
 * blocked layout keeps a vector of channels as accumulators (its innermost loop a vector
 * of the target's width: 8 floats with AVX2, 16 with AVX-512), checked against the same
 * model compiled without the layout. */
#include "check.h"

#include "ir/program.h"
#include "kiln.h"
#include "runtime/profile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kiln_model *compile(const char *text, const kiln_options *o) {
  kiln_model *m = NULL;
  kiln_error err;
  if (kiln_compile_buffer(text, strlen(text), o, &m, &err)) fprintf(stderr, "%s\n", err.message);
  CHECK(m != NULL);
  return m;
}

/* The innermost loop of the last stage of the kernel computing op (AveragePool counts
 * each window's points in a stage before it). */
static const kiln_loop *inner_loop(const kiln_program *p, const char *op) {
  const kiln_kernel *ks[64];
  int n = kiln_steps_kernels(&p->main, ks, 64);
  for (int i = 0; i < n && i < 64; i++)
    if (!strcmp(ks[i]->op, op)) {
      const kiln_schedule *sc = &ks[i]->stages[ks[i]->nstages - 1].sched;
      return sc->nloops ? &sc->loops[sc->nloops - 1] : NULL;
    }
  return NULL;
}

/* A 3x3 pool, pads 1, stride 1, over x[c, h, w] (max, or average counting pads out). */
static void plain_pool(int64_t c, int64_t h, int64_t w, bool max) {
  char text[256];
  snprintf(text, sizeof text,
           "model p(x: f32[1, %lld, %lld, %lld]) {\n"
           "  return y = %s(x, kernel_shape=[3, 3], pads=[1, 1, 1, 1])\n}\n",
           (long long)c, (long long)h, (long long)w, max ? "MaxPool" : "AveragePool");
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1};
  kiln_model *m = compile(text, &o);
  if (!m) return;
  const kiln_loop *in = inner_loop(kiln_model_program(m), max ? "MaxPool" : "AveragePool");
  bool vector = in && in->kind == KILN_LOOP_VECTOR && in->extent == w;
  if (!vector) printf("%s  its innermost loop is no vector of %lld\n", text, (long long)w);
  CHECK(vector);
  int64_t n = c * h * w;
  float *x = malloc((size_t)n * 4), *y = malloc((size_t)n * 4);
  for (int64_t e = 0; e < n; e++) x[e] = (float)sin((double)e * 0.61) * 4.0f;
  kiln_error err;
  const void *ins[1] = {x};
  void *outs[1] = {y};
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  int bad = 0;
  for (int64_t ch = 0; ch < c; ch++)
    for (int64_t i = 0; i < h; i++)
      for (int64_t j = 0; j < w; j++) {
        float best = -INFINITY, sum = 0;
        int count = 0;
        for (int64_t di = -1; di <= 1; di++)
          for (int64_t dj = -1; dj <= 1; dj++) {
            int64_t r = i + di, s = j + dj;
            if (r < 0 || r >= h || s < 0 || s >= w) continue;
            float v = x[(ch * h + r) * w + s];
            best = v > best ? v : best;
            sum += v;
            count++;
          }
        float want = max ? best : sum / (float)count, got = y[(ch * h + i) * w + j];
        if (fabsf(got - want) > 1e-6f * (1 + fabsf(want)) && bad++ < 3)
          printf("%s  y[%lld, %lld, %lld] = %g, want %g\n", text, (long long)ch, (long long)i,
                 (long long)j, got, want);
      }
  CHECK(bad == 0);
  free(x);
  free(y);
  kiln_model_free(m);
}

static const char GLOBAL[] = "model g(x: f32[1, 32, 12, 12]) {\n"
                             "  param w: f32[32, 32, 1, 1] = he\n"
                             "  return y = GlobalAveragePool(Relu(Conv(x, w)))\n}\n";

/* The blocked global pool's schedule for AVX2 and AVX-512 targets. */
static void global_pool_schedules(void) {
  char path[] = "/tmp/kiln_unit_pool_XXXXXX.kiln";
  int fd = mkstemps(path, 5);
  CHECK(fd >= 0);
  if (fd < 0) return;
  FILE *f = fdopen(fd, "w");
  fputs(GLOBAL, f);
  fclose(f);
  static const struct { const char *cpu; int64_t lanes; } cpus[] = {{"x86-64-v3", 8},
                                                                     {"x86-64-v4", 16}};
  for (int c = 0; c < 2; c++) {
    kiln_options o = {.struct_size = sizeof o, .cpu = cpus[c].cpu, .num_threads = 1};
    kiln_program *p = NULL;
    kiln_error err = {0};
    CHECK(kiln_program_from_file(path, &o, NULL, &p, &err) == KILN_OK);
    const kiln_loop *in = p ? inner_loop(p, "GlobalAveragePool") : NULL;
    bool ok = in && in->kind == KILN_LOOP_VECTOR && in->extent == cpus[c].lanes;
    if (!ok) printf("%s: the blocked GlobalAveragePool's innermost loop is no vector of %lld\n",
                    cpus[c].cpu, (long long)cpus[c].lanes);
    CHECK(ok);
    kiln_program_free(p);
  }
  unlink(path);
}

/* The blocked model's outputs against the plain one's, on the host. */
static void global_pool_values(void) {
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1};
  kiln_options plain = o;
  plain.no_layout = 1;
  kiln_model *a = compile(GLOBAL, &o), *b = compile(GLOBAL, &plain);
  if (!a || !b) goto done;
  CHECK(inner_loop(kiln_model_program(a), "GlobalAveragePool")->kind == KILN_LOOP_VECTOR);
  float x[32 * 144], ya[32], yb[32];
  for (int e = 0; e < 32 * 144; e++) x[e] = (float)cos(e * 0.23);
  const void *ins[1] = {x};
  void *oa[1] = {ya}, *ob[1] = {yb};
  kiln_error err;
  CHECK(kiln_run(a, ins, oa, &err) == KILN_OK);
  CHECK(kiln_run(b, ins, ob, &err) == KILN_OK);
  double worst = 0;
  for (int c = 0; c < 32; c++) {
    double d = fabs((double)ya[c] - yb[c]) / (1e-3 + fabs(yb[c]));
    worst = d > worst ? d : worst;
  }
  if (worst > 1e-5) printf("blocked vs plain GlobalAveragePool: relative difference %g\n", worst);
  CHECK(worst <= 1e-5);
done:
  kiln_model_free(a);
  kiln_model_free(b);
}

int main(void) {
  plain_pool(8, 12, 12, true);
  plain_pool(64, 7, 7, true);
  plain_pool(3, 5, 5, false);
  plain_pool(5, 9, 6, false);
  global_pool_schedules();
  global_pool_values();
  return check_report();
}
