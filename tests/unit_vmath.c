/* The inline f32 transcendentals (codegen/llvm_vmath.c) against double-precision libm:
 * every 257th float bit pattern, every float near each function's seams, and exact
 * special values, through the JIT for this host (FMA where it has it) and, on x86-64,
 * for a plain x86-64 CPU (SSE2, no FMA: llvm.fmuladd unfused). Then each function's
 * loop must come out vectorized, with no call left in it. */
#include "codegen/codegen.h"
#include "codegen/plumbing.h"

#include "check.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { NFN = 5, CHUNK = 1 << 16 };

static double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

static const struct {
  const char *name;
  kiln_unary_op op;
  double (*ref)(double);
} fns[NFN] = {{"exp", KU_EXP, exp},
              {"log", KU_LOG, log},
              {"tanh", KU_TANH, tanh},
              {"sigmoid", KU_SIGMOID, sigmoid},
              {"erf", KU_ERF, erf}};

#define MAX_ULP 4.0

static float from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint32_t to_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* |y - ref| in units of the last place of ref as a float (subnormal spacing at least).
 * A ref past 2^128 rounds to inf for sure; below, an infinite y stands for 2^128. */
static double ulp_error(float y, double ref) {
  if (isnan(ref) || isnan(y)) return isnan(ref) && isnan(y) ? 0 : INFINITY;
  if (fabs(ref) >= 0x1p128) return y == copysign(INFINITY, ref) ? 0 : INFINITY;
  double yd = isinf(y) ? copysign(0x1p128, y) : y;
  int ex;
  frexp(ref, &ex); /* |ref| in [2^(ex-1), 2^ex) */
  double ulp = ldexp(1, ex - 1 - 23);
  if (ulp < 0x1p-149) ulp = 0x1p-149;
  return fabs(yd - ref) / ulp;
}

/* One kernel: out_f[i] = f(x[i]) for every function f, over CHUNK floats. */
static kiln_program *sweep_program(void) {
  kiln_program *p = kiln_program_new();
  p->ninputs = 1;
  p->noutputs = NFN;
  p->inputs = kiln_xcalloc(1, sizeof(kiln_io));
  p->outputs = kiln_xcalloc(NFN, sizeof(kiln_io));
  kiln_step *s = kiln_steps_add(&p->main, KILN_STEP_KERNEL);
  kiln_kernel *k = s->kernel = kiln_kernel_new("vmath");
  int64_t dims[1] = {CHUNK};
  int x = kiln_kernel_add_buffer(k, "x", KILN_BUF_INPUT, 0, KILN_F32, 1, dims);
  k->bufs[x].storage.kind = KILN_STORE_INPUT;
  k->bufs[x].storage.index = 0;
  for (int f = 0; f < NFN; f++) {
    int y = kiln_kernel_add_buffer(k, fns[f].name, KILN_BUF_OUTPUT, 0, KILN_F32, 1, dims);
    k->bufs[y].storage.kind = KILN_STORE_OUTPUT;
    k->bufs[y].storage.index = f;
    kiln_stage *st = kiln_kernel_add_stage(k, fns[f].name, y);
    int i = kiln_stage_axis(st, CHUNK, false);
    kiln_expr *ii[1] = {kx_var(k, i)};
    kiln_stage_store(k, st, ii, kx_unary(k, fns[f].op, kx_load(k, x, ii)));
  }
  return p;
}

typedef struct sweep {
  kiln_entry_fn fn;
  float *x, *y[NFN];
  int n;                              /* filled part of x */
  double max_ulp[NFN];
  float worst[NFN];
} sweep;

static void flush(sweep *s) {
  if (!s->n) return;
  for (int i = s->n; i < CHUNK; i++) s->x[i] = 0;
  const void *in[1] = {s->x};
  void *out[NFN];
  for (int f = 0; f < NFN; f++) out[f] = s->y[f];
  s->fn((void *const *)in, out, NULL, NULL);
  for (int f = 0; f < NFN; f++)
    for (int i = 0; i < s->n; i++) {
      double err = ulp_error(s->y[f][i], fns[f].ref(s->x[i]));
      if (err > s->max_ulp[f]) {
        s->max_ulp[f] = err;
        s->worst[f] = s->x[i];
      }
    }
  s->n = 0;
}

static void add(sweep *s, float x) {
  s->x[s->n++] = x;
  if (s->n == CHUNK) flush(s);
}

/* every float from bits(c) - 2^15 to bits(c) + 2^15, and the same around -c */
static void around(sweep *s, float c) {
  for (int sign = 0; sign < 2; sign++) {
    uint32_t mid = to_bits(sign ? -c : c);
    for (uint32_t d = 0; d <= 1u << 16; d++) add(s, from_bits(mid - (1u << 15) + d));
  }
}

static void sweep_target(const char *cpu, const char *features, const char *label) {
  kiln_options opts = {.struct_size = sizeof opts};
  opts.cpu = cpu;
  opts.features = features;
  kiln_program *p = sweep_program();
  kiln_jit *jit = NULL;
  kiln_error err = {0};
  sweep s = {0};
  kiln_status st = kiln_jit_compile(p, &opts, &jit, &s.fn, &err);
  if (st) fprintf(stderr, "%s: compile failed: %s\n", label, err.message);
  CHECK(st == KILN_OK);
  if (st) {
    kiln_program_free(p);
    return;
  }
  s.x = malloc(CHUNK * sizeof(float));
  for (int f = 0; f < NFN; f++) s.y[f] = malloc(CHUNK * sizeof(float));

  /* KILN_VMATH_STEP=1 checks every float (minutes) */
  const char *step_env = getenv("KILN_VMATH_STEP");
  uint64_t step = step_env && atoi(step_env) > 0 ? (uint64_t)atoi(step_env) : 257;
  for (uint64_t u = 0; u < 1ull << 32; u += step) add(&s, from_bits((uint32_t)u));
  /* the seams: log's mantissa split and 1, tanh's and erf's switch-overs, where exp
   * overflows, turns subnormal, underflows; the smallest normal; tanh/erf near 1 */
  static const float seams[] = {1.0f,   0.70710677f, 1.4142135f, 0.625f, 4.0f,
                                88.72f, 87.33f,      103.97f,    9.01f,  3.92f,
                                0.5f,   2.0f,        16.0f,      0x1p-126f, 0x1p-149f};
  for (size_t i = 0; i < sizeof seams / sizeof *seams; i++) around(&s, seams[i]);
  flush(&s);

  for (int f = 0; f < NFN; f++) {
    printf("%-8s %-14s max %.3f ulp at %a\n", fns[f].name, label, s.max_ulp[f],
           (double)s.worst[f]);
    CHECK(s.max_ulp[f] <= MAX_ULP);
  }

  /* special values: exactly libm's (sign of zero included, any NaN for NaN) */
  static const struct {
    int f;
    float x, want;
  } sp[] = {
      /* exp */
      {0, INFINITY, INFINITY}, {0, -INFINITY, 0}, {0, 0, 1}, {0, -0.0f, 1},
      {0, 89, INFINITY}, {0, 88.7229f, INFINITY}, {0, FLT_MAX, INFINITY},
      {0, -104, 0}, {0, -FLT_MAX, 0}, {0, NAN, NAN}, {0, -NAN, NAN},
      /* log */
      {1, 0, -INFINITY}, {1, -0.0f, -INFINITY}, {1, 1, 0}, {1, -1, NAN},
      {1, -0x1p-149f, NAN}, {1, -INFINITY, NAN}, {1, INFINITY, INFINITY}, {1, NAN, NAN},
      /* tanh */
      {2, 0, 0}, {2, -0.0f, -0.0f}, {2, INFINITY, 1}, {2, -INFINITY, -1}, {2, 10, 1},
      {2, -10, -1}, {2, FLT_MAX, 1}, {2, 0x1p-149f, 0x1p-149f}, {2, -0x1p-149f, -0x1p-149f},
      {2, NAN, NAN},
      /* sigmoid */
      {3, 0, 0.5f}, {3, -0.0f, 0.5f}, {3, INFINITY, 1}, {3, -INFINITY, 0}, {3, 100, 1},
      {3, -104, 0}, {3, -FLT_MAX, 0}, {3, NAN, NAN},
      /* erf */
      {4, 0, 0}, {4, -0.0f, -0.0f}, {4, INFINITY, 1}, {4, -INFINITY, -1}, {4, 4, 1},
      {4, -4, -1}, {4, FLT_MAX, 1}, {4, NAN, NAN},
  };
  int nsp = (int)(sizeof sp / sizeof *sp);
  for (int i = 0; i < nsp; i++) s.x[i] = sp[i].x;
  for (int i = nsp; i < CHUNK; i++) s.x[i] = 0;
  const void *in[1] = {s.x};
  void *out[NFN];
  for (int f = 0; f < NFN; f++) out[f] = s.y[f];
  s.fn((void *const *)in, out, NULL, NULL);
  for (int i = 0; i < nsp; i++) {
    float got = s.y[sp[i].f][i], want = sp[i].want;
    bool ok = isnan(want) ? isnan(got) : to_bits(got) == to_bits(want);
    if (!ok)
      fprintf(stderr, "%s: %s(%a) = %a, want %a\n", label, fns[sp[i].f].name, (double)sp[i].x,
              (double)got, (double)want);
    CHECK(ok);
  }

  free(s.x);
  for (int f = 0; f < NFN; f++) free(s.y[f]);
  kiln_jit_free(jit);
  kiln_program_free(p);
}

/* y[i] = f(x[i]) over a contiguous buffer, optimised for this host: the loop must hold
 * vector floats and no call of a scalar math function. */
static void test_vectorized(void) {
  for (int f = 0; f < NFN; f++) {
    kiln_program *p = kiln_program_new();
    p->ninputs = p->noutputs = 1;
    p->inputs = kiln_xcalloc(1, sizeof(kiln_io));
    p->outputs = kiln_xcalloc(1, sizeof(kiln_io));
    kiln_kernel *k = kiln_kernel_new("vec");
    kiln_steps_add(&p->main, KILN_STEP_KERNEL)->kernel = k;
    int64_t dims[1] = {4096};
    int x = kiln_kernel_add_buffer(k, "x", KILN_BUF_INPUT, 0, KILN_F32, 1, dims);
    int y = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, 0, KILN_F32, 1, dims);
    k->bufs[x].storage.kind = KILN_STORE_INPUT;
    k->bufs[y].storage.kind = KILN_STORE_OUTPUT;
    kiln_stage *st = kiln_kernel_add_stage(k, fns[f].name, y);
    int i = kiln_stage_axis(st, 4096, false);
    kiln_expr *ii[1] = {kx_var(k, i)};
    kiln_stage_store(k, st, ii, kx_unary(k, fns[f].op, kx_load(k, x, ii)));

    kiln_error err = {0};
    LLVMTargetMachineRef tm = NULL;
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef m = NULL;
    kiln_status s = kiln_llvm_target_machine(NULL, &tm, &err);
    if (!s) s = kiln_llvm_program_module(ctx, p, "entry", tm, &m, &err);
    if (!s) s = kiln_llvm_optimize(m, tm, &err);
    if (s) fprintf(stderr, "%s: %s\n", fns[f].name, err.message);
    CHECK(s == KILN_OK);
    if (!s) {
      char *ir = LLVMPrintModuleToString(m);
      bool vec = strstr(ir, " x float>") != NULL;
      /* any call left is a scalar one the vectorizer could not widen */
      bool calls = strstr(ir, "@expf") || strstr(ir, "@logf") || strstr(ir, "@tanhf") ||
                   strstr(ir, "@erff") || strstr(ir, "@llvm.exp.") || strstr(ir, "@llvm.log.");
      if (!vec || calls) fprintf(stderr, "%s: not vectorized:\n%s\n", fns[f].name, ir);
      CHECK(vec && !calls);
      LLVMDisposeMessage(ir);
    }
    if (m) LLVMDisposeModule(m);
    LLVMContextDispose(ctx);
    if (tm) LLVMDisposeTargetMachine(tm);
    kiln_program_free(p);
  }
}

int main(void) {
  sweep_target(NULL, NULL, "host");
#if defined(__x86_64__)
  sweep_target("x86-64", "", "x86-64 (no FMA)");
#endif
  test_vectorized();
  return check_report();
}
