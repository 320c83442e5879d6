/* The random ops (ir/ops/random.c on the generator of ir/random.h) through the public API.
 *
 * Statistics of 10^6 draws with fixed seeds, each bound 5 standard deviations of its
 * estimate wide (central limit theorem): a sound generator lands outside about once in
 * 3.5 million, a broken one (a stuck bit, a short period, an index in place of a hash,
 * a wrong Box-Muller) far outside. The chi-square of 100 buckets is bounded on both sides:
 * too even is as wrong as too uneven.
 *
 * Determinism: a seed fixes the bits whatever the thread count, through JIT and AOT; an
 * unseeded op repeats within a process and changes in another. The interpreter agrees bit
 * for bit with codegen: a model whose inputs are bound as values folds at compile time
 * (the interpreter runs it), the same model with run-time inputs runs generated code. */
#include "kiln.h"
#include "runtime/profile.h"
#include "tests/check.h"

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 1000000
#define SIGMAS 5.0

typedef struct io {
  int n;
  const char *name[4];
  kiln_dtype dtype[4];
  int rank[4];
  int64_t dims[4][2];
  void *data[4];
} io;

/* Compiles text; with values, every input of `in` is bound as a compile-time value. */
static kiln_model *compile(const char *text, int threads, const io *in, bool values) {
  kiln_options o;
  kiln_options_init(&o);
  o.num_threads = threads;
  kiln_input_value v[4];
  for (int i = 0; values && i < in->n; i++) {
    v[i] = (kiln_input_value){in->name[i], in->dtype[i], in->rank[i], {0}, in->data[i]};
    memcpy(v[i].dims, in->dims[i], sizeof in->dims[i]);
  }
  o.values = values ? v : NULL;
  o.nvalues = values ? in->n : 0;
  kiln_model *m = NULL;
  kiln_error err;
  kiln_status st = kiln_compile_buffer(text, strlen(text), &o, &m, &err);
  if (st) fprintf(stderr, "compile: %s\n", err.message);
  CHECK(st == KILN_OK);
  return m;
}

/* Runs m; outputs are malloc'd into out[] (NULL on failure). */
static int run(const kiln_model *m, const io *in, void **out) {
  int nout = kiln_num_outputs(m), nin = kiln_num_inputs(m);
  const void *ins[4] = {0};
  for (int i = 0; i < nin && i < in->n; i++) ins[i] = in->data[i];
  for (int i = 0; i < nout; i++) {
    kiln_tensor_info info;
    kiln_output_info(m, i, &info);
    out[i] = calloc(1, info.bytes ? info.bytes : 1);
  }
  kiln_error err;
  kiln_status st = kiln_run(m, ins, out, &err);
  if (st) fprintf(stderr, "run: %s\n", err.message);
  CHECK(st == KILN_OK);
  return nout;
}

static void free_all(void **p, int n) {
  for (int i = 0; i < n; i++) free(p[i]);
}

/* Does some kernel of m compute op `op`? (A folded op has none.) */
static bool has_kernel(const kiln_model *m, const char *op) {
  const kiln_steps *s = &kiln_model_program(m)->main;
  for (int i = 0; i < s->n; i++)
    if (s->steps[i].kernel && strstr(s->steps[i].kernel->op, op)) return true;
  return false;
}

static float *ramp(int64_t n) { /* 0, 1, ..., 6, 0, ... minus 3: zeros and signs */
  float *x = malloc((size_t)n * sizeof *x);
  for (int64_t i = 0; i < n; i++) x[i] = (float)(i % 7) - 3;
  return x;
}

static io one_input(const char *name, int64_t n, float *data) {
  io in = {1, {name}, {KILN_F32}, {1}, {{n}}, {data}};
  return in;
}

/* Output 0 of text compiled and run once on one f32 input `name` of N elements (malloc'd;
 * NULL on failure). */
static float *draw(const char *text, const char *name, float *x) {
  io in = one_input(name, N, x);
  kiln_model *m = compile(text, 0, &in, false);
  void *out[1] = {0};
  if (m) run(m, &in, out);
  kiln_model_free(m);
  return out[0];
}

/* ---- statistics -------------------------------------------------------------------------- */

static void moments(const float *y, int64_t n, double *mean, double *var) {
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; i++) s += y[i];
  *mean = s / (double)n;
  for (int64_t i = 0; i < n; i++) s2 += (y[i] - *mean) * (y[i] - *mean);
  *var = s2 / (double)(n - 1);
}

/* |got - want| within SIGMAS standard deviations sd */
static bool near(double got, double want, double sd, const char *what) {
  bool ok = fabs(got - want) <= SIGMAS * sd;
  if (!ok) fprintf(stderr, "%s: %.6f, expected %.6f +- %.6f\n", what, got, want, SIGMAS * sd);
  return ok;
}

static void uniform_stats(void) {
  const char *text = "model u(x: f32[1000000]) {\n"
                     "  return y = RandomUniformLike(x, low=-2.0, high=3.0, seed=11.0)\n}\n";
  float *x = ramp(N);
  float *y = draw(text, "x", x);
  if (y) {
    int inside = 1, buckets[100] = {0};
    for (int64_t i = 0; i < N; i++) {
      inside &= y[i] >= -2 && y[i] < 3;
      int b = (int)((y[i] + 2) / 5 * 100);
      buckets[b < 0 ? 0 : b > 99 ? 99 : b]++;
    }
    CHECK(inside);
    double mean, var, chi2 = 0, e = N / 100.0;
    moments(y, N, &mean, &var);
    CHECK(near(mean, 0.5, 5 * sqrt(1.0 / 12 / N), "uniform mean"));
    /* the variance of a sample variance: (mu4 - sigma^4) / n; for U(0, 1) mu4 = 1/80 */
    CHECK(near(var / 25, 1.0 / 12, sqrt((1.0 / 80 - 1.0 / 144) / N), "uniform variance"));
    for (int b = 0; b < 100; b++) chi2 += (buckets[b] - e) * (buckets[b] - e) / e;
    CHECK(near(chi2, 99, sqrt(2 * 99.0), "chi-square of 100 buckets"));
  }
  free(y);
  free(x);
}

static void normal_stats(void) {
  const char *text = "model n(x: f32[1000000]) {\n"
                     "  return y = RandomNormalLike(x, mean=1.0, scale=2.0, seed=12.0)\n}\n";
  float *x = ramp(N);
  float *y = draw(text, "x", x);
  if (y) {
    double mean, var;
    int64_t within1 = 0, within2 = 0, finite = 1;
    moments(y, N, &mean, &var);
    for (int64_t i = 0; i < N; i++) {
      finite &= isfinite(y[i]);
      within1 += fabsf(y[i] - 1) < 2;
      within2 += fabsf(y[i] - 1) < 4;
    }
    CHECK(finite);
    CHECK(near(mean, 1, 2 / sqrt(N), "normal mean"));
    CHECK(near(var, 4, sqrt(2.0 * 16 / N), "normal variance")); /* mu4 - sigma^4 = 2 sigma^4 */
    double p1 = 0.682689492, p2 = 0.954499736;
    CHECK(near((double)within1 / N, p1, sqrt(p1 * (1 - p1) / N), "normal within 1 sigma"));
    CHECK(near((double)within2 / N, p2, sqrt(p2 * (1 - p2) / N), "normal within 2 sigma"));
  }
  free(y);
  free(x);
}

/* p = 0, 1, 0.3 in turn: 0 and 1 are exact, 0.3 a frequency */
static void bernoulli_stats(void) {
  const char *text = "model b(p: f32[1000000]) { return y = Bernoulli(p, seed=13.0) }\n";
  float *p = malloc(N * sizeof *p);
  for (int64_t i = 0; i < N; i++) p[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 1.0f : 0.3f;
  float *y = draw(text, "p", p);
  if (y) {
    int64_t ones = 0, n3 = 0, exact = 1, binary = 1;
    for (int64_t i = 0; i < N; i++) {
      binary &= y[i] == 0 || y[i] == 1;
      if (i % 3 == 0) exact &= y[i] == 0;
      else if (i % 3 == 1) exact &= y[i] == 1;
      else ones += y[i] == 1, n3++;
    }
    CHECK(binary);
    CHECK(exact);
    CHECK(near((double)ones / (double)n3, 0.3, sqrt(0.21 / (double)n3), "Bernoulli(0.3)"));
  }
  free(y);
  free(p);
}

/* ratio 0.25 at run time: about 3/4 kept, each scaled by 4/3 exactly where the mask says;
 * training_mode false: the input and an all-true mask */
static void dropout_stats(void) {
  const char *text = "model d(x: f32[1000000], r: f32[], t: bool[]) {\n"
                     "  y, m = Dropout(x, r, t, seed=14)\n  return y, m\n}\n";
  float *x = ramp(N), ratio = 0.25f;
  for (int training = 0; training < 2; training++) {
    bool on = training;
    io in = {3, {"x", "r", "t"}, {KILN_F32, KILN_F32, KILN_BOOL}, {1, 0, 0}, {{N}},
             {x, &ratio, &on}};
    kiln_model *m = compile(text, 0, &in, false);
    void *out[2] = {0};
    if (m) run(m, &in, out);
    const float *y = out[0];
    const bool *mask = out[1];
    if (y && mask) {
      float scale = training ? (float)(1 / (1 - (double)ratio)) : 1;
      int64_t kept = 0, consistent = 1;
      for (int64_t i = 0; i < N; i++) {
        kept += mask[i];
        consistent &= mask[i] ? y[i] == x[i] * scale : y[i] == 0;
      }
      CHECK(consistent);
      if (training) CHECK(near((double)kept / N, 0.75, sqrt(0.75 * 0.25 / N), "Dropout kept"));
      else CHECK(kept == N);
    }
    free_all(out, 2);
    kiln_model_free(m);
  }
  free(x);
}

/* row 0: probabilities 0.1 0.2 0.3 0.4 as log-probabilities; row 1: equal logits */
static void multinomial_stats(void) {
  const char *text = "model mn(x: f32[2, 4]) {\n"
                     "  return y = Multinomial(x, sample_size=250000, seed=15.0)\n}\n";
  float x[8] = {logf(0.1f), logf(0.2f), logf(0.3f), logf(0.4f), 5, 5, 5, 5};
  io in = {1, {"x"}, {KILN_F32}, {2}, {{2, 4}}, {x}};
  kiln_model *m = compile(text, 0, &in, false);
  void *out[1] = {0};
  if (m) run(m, &in, out);
  const int32_t *y = out[0];
  if (y) {
    const int64_t s = 250000;
    for (int row = 0; row < 2; row++) {
      int64_t count[4] = {0}, bad = 0;
      for (int64_t i = 0; i < s; i++) {
        int32_t c = y[row * s + i];
        if (c < 0 || c > 3) bad++;
        else count[c]++;
      }
      CHECK(bad == 0);
      for (int c = 0; c < 4; c++) {
        double p = row ? 0.25 : 0.1 * (c + 1);
        CHECK(near((double)count[c] / s, p, sqrt(p * (1 - p) / s), "Multinomial frequency"));
      }
    }
  }
  free_all(out, 1);
  kiln_model_free(m);
}

/* ---- determinism ------------------------------------------------------------------------- */

static bool same_bits(const void *a, const void *b, size_t bytes) {
  return a && b && memcmp(a, b, bytes) == 0;
}

/* The interpreter (inputs bound: the op folds) and generated code (inputs at run time)
 * give the same bits; n is odd so vector loops have tails. */
static void interp_matches_codegen(void) {
  enum { M = 4099 };
#define MODEL(y) "model a(x: f32[4099]) { return y = " y " }"
  static const struct {
    const char *op, *text;
    size_t out_bytes;
  } cases[] = {
      {"RandomUniformLike", MODEL("RandomUniformLike(x, low=-1.5, high=2.5, seed=21.0)"), M * 4},
      {"RandomUniformLike", MODEL("RandomUniformLike(x, dtype=11, seed=21.0)"), M * 8},
      {"RandomNormalLike", MODEL("RandomNormalLike(x, mean=0.5, scale=3.0, seed=22.0)"), M * 4},
      {"RandomNormalLike", MODEL("RandomNormalLike(x, dtype=11, seed=22.0)"), M * 8},
      {"Bernoulli", MODEL("Bernoulli(x, seed=23.0)"), M * 4},
      {"Dropout", MODEL("Dropout(x, 0.4, Cast(1, to=9), seed=24)"), M * 4},
      {"Multinomial", MODEL("Multinomial(Reshape(x, [1, 4099]), sample_size=64, seed=25.0)"),
       64 * 4},
  };
#undef MODEL
  float *x = malloc(M * sizeof *x);
  for (int i = 0; i < M; i++) x[i] = (float)((i * 37) % 101) / 100.0f; /* probabilities */
  io in = one_input("x", M, x);
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    kiln_model *folded = compile(cases[c].text, 0, &in, true);
    kiln_model *gen = compile(cases[c].text, 0, &in, false);
    void *a[1] = {0}, *b[1] = {0};
    if (folded && gen) {
      CHECK(!has_kernel(folded, cases[c].op)); /* the interpreter computed it */
      CHECK(has_kernel(gen, cases[c].op));
      run(folded, &in, a);
      run(gen, &in, b);
      bool same = same_bits(a[0], b[0], cases[c].out_bytes);
      if (!same) fprintf(stderr, "interpreter and codegen differ: %s\n", cases[c].text);
      CHECK(same);
    }
    free_all(a, 1);
    free_all(b, 1);
    kiln_model_free(folded);
    kiln_model_free(gen);
  }
  free(x);
}

#define TWO_OPS "RandomNormalLike(x, seed=31.0) + RandomUniformLike(x, seed=32.0)"

/* One seed, one result: 1 and 2 threads, two compiles, an AOT library. */
static void seeded_is_deterministic(const char *dir) {
  const char *text = "model rnd(x: f32[1000000]) { return y = " TWO_OPS " }\n";
  float *x = ramp(N);
  io in = one_input("x", N, x);
  kiln_model *m1 = compile(text, 1, &in, false), *m2 = compile(text, 2, &in, false);
  void *a[1] = {0}, *b[1] = {0};
  if (m1 && m2) {
    run(m1, &in, a);
    run(m2, &in, b);
    CHECK(same_bits(a[0], b[0], N * 4));
  }
  char path[600], so[600];
  snprintf(path, sizeof path, "%s/rnd.kiln", dir);
  snprintf(so, sizeof so, "%s/librnd.so", dir);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f) fputs(text, f), fclose(f);
  kiln_error err;
  kiln_status st = kiln_compile_aot(path, NULL, so, "rnd", &err);
  if (st) fprintf(stderr, "AOT: %s\n", err.message);
  CHECK(st == KILN_OK);
  void *h = st ? NULL : dlopen(so, RTLD_NOW | RTLD_LOCAL);
  typedef int (*aot_run)(const float *, float *, void *);
  aot_run run_aot = h ? (aot_run)dlsym(h, "rnd_run") : NULL;
  CHECK(run_aot != NULL);
  float *c = malloc(N * sizeof *c);
  if (run_aot) {
    CHECK(run_aot(x, c, NULL) == 0);
    CHECK(same_bits(a[0], c, N * 4));
  }
  if (h) dlclose(h);
  free(c);
  free_all(a, 1);
  free_all(b, 1);
  kiln_model_free(m1);
  kiln_model_free(m2);
  free(x);
}

#define UNSEEDED \
  "model u(x: f32[1000]) { return y = RandomUniformLike(x), z = RandomUniformLike(x) }\n"

/* Output y of UNSEEDED compiled and run in this process (malloc'd). */
static float *unseeded_run(const io *in) {
  kiln_model *m = compile(UNSEEDED, 0, in, false);
  void *out[2] = {0};
  if (m) run(m, in, out);
  kiln_model_free(m);
  free(out[1]);
  return out[0];
}

/* Without a seed: compiles and runs in one process agree (the reference of `kiln verify`
 * too), two ops draw apart, another process draws other numbers. */
static void unseeded_per_process(void) {
  float *x = ramp(1000);
  io in = one_input("x", 1000, x);
  kiln_model *m = compile(UNSEEDED, 0, &in, false);
  void *a[2] = {0}, *b[2] = {0};
  if (m) {
    run(m, &in, a);
    run(m, &in, b);
    CHECK(same_bits(a[0], b[0], 4000));
    CHECK(a[1] && memcmp(a[0], a[1], 4000) != 0);
  }
  float *again = unseeded_run(&in);
  CHECK(same_bits(a[0], again, 4000));
  int fd[2];
  CHECK(pipe(fd) == 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) { /* a fresh process: exec'd, so that it draws its own key */
    close(fd[0]);
    char out_fd[16];
    snprintf(out_fd, sizeof out_fd, "%d", fd[1]);
    execl("/proc/self/exe", "unit_random", "--unseeded-to", out_fd, (char *)NULL);
    _exit(127);
  }
  close(fd[1]);
  float other[1000];
  size_t got = 0;
  for (ssize_t r; got < sizeof other; got += (size_t)r)
    if ((r = read(fd[0], (char *)other + got, sizeof other - got)) <= 0) break;
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == sizeof other);
  CHECK(a[0] && memcmp(a[0], other, sizeof other) != 0);
  free(again);
  free_all(a, 2);
  free_all(b, 2);
  kiln_model_free(m);
  free(x);
}

/* Bad attributes: one clear error naming the op and the problem. */
static void refusals(void) {
  static const char *const bad[][2] = {
      {"model r(x: f32[4]) { return y = RandomUniformLike(x, low=1.0, high=1.0) }",
       "RandomUniformLike: needs low < high"},
      {"model r(x: f32[4]) { return y = RandomNormalLike(x, dtype=6) }",
       "RandomNormalLike: dtype must be a float type"},
      {"model r(x: f32[4]) { return y = Multinomial(x) }", "Multinomial: needs float logits"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    kiln_model *m = NULL;
    kiln_error err;
    kiln_status st = kiln_compile_buffer(bad[i][0], strlen(bad[i][0]), NULL, &m, &err);
    CHECK(st != KILN_OK && m == NULL);
    CHECK(st == KILN_OK || strstr(err.message, bad[i][1]) != NULL);
    kiln_model_free(m);
  }
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--unseeded-to")) { /* unseeded_per_process's child */
      float *x = ramp(1000), *y;
    io in = one_input("x", 1000, x);
    y = unseeded_run(&in);
    int ok = y && write(atoi(argv[2]), y, 4000) == 4000;
    free(y);
    free(x);
    return ok ? 0 : 1;
  }
  char dir[] = "/tmp/kiln_random_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  uniform_stats();
  normal_stats();
  bernoulli_stats();
  dropout_stats();
  multinomial_stats();
  interp_matches_codegen();
  seeded_is_deterministic(dir);
  unseeded_per_process();
  refusals();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  return check_report();
}
