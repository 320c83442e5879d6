/* MatMul and Gemm with a constant B (passes/pack_panels.c): B, a graph input given its
 * value at compile time, is packed into register-tile panels and the product runs as
 * MatMulPanels (the unpacked B is dropped). Checked against a direct product in double: N off the panel width (a
 * tail stage), N under it (no packing), GEMV-wide panels for M < 4, transB, transA, alpha/beta with C, batched and
 * broadcast A, K = 1, M = 1; for this host, for an AVX2 CPU (narrower panels) and with
 * check_bounds (panel tails and moved-back tiles must stay in bounds). */
#include "check.h"

#include "ir/program.h"
#include "kiln.h"
#include "passes/passes.h"
#include "runtime/profile.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gemm_case {
  int arank;             /* 2, or more with batch dims (MatMul only) */
  int64_t batch[2];      /* batch dims of A when arank > 2 */
  int64_t m, k, n;
  bool gemm, ta, tb, c;  /* Gemm with transA / transB / a C input [n] */
  double alpha, beta;
} gemm_case;

static uint32_t rng = 7;
static float rndf(void) {
  rng = rng * 1664525u + 1013904223u;
  return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static int64_t batch_of(const gemm_case *cs) {
  int64_t b = 1;
  for (int d = 0; d < cs->arank - 2; d++) b *= cs->batch[d];
  return b;
}

/* Does the model run a MatMulPanels kernel? */
static bool packed(const kiln_model *m) {
  const kiln_kernel *ks[16];
  int n = kiln_steps_kernels(&kiln_model_program(m)->main, ks, 16);
  for (int i = 0; i < n && i < 16; i++)
    if (strcmp(ks[i]->op, "MatMulPanels") == 0) return true;
  return false;
}

static void run_case(const gemm_case *cs, const char *cpu, int check_bounds) {
  char text[1024], adims[128] = "";
  int64_t nb = batch_of(cs), arows = cs->ta ? cs->k : cs->m, acols = cs->ta ? cs->m : cs->k;
  for (int d = 0; d < cs->arank - 2; d++)
    snprintf(adims + strlen(adims), sizeof adims - strlen(adims), "%lld, ", (long long)cs->batch[d]);
  int64_t brows = cs->tb ? cs->n : cs->k, bcols = cs->tb ? cs->k : cs->n;
  if (cs->gemm)
    snprintf(text, sizeof text,
             "model g(a: f32[%lld, %lld], b: f32[%lld, %lld]%s) {\n"
             "  return y = Gemm(a, b%s, transA=%d, transB=%d, alpha=%g, beta=%g)\n}\n",
             (long long)arows, (long long)acols, (long long)brows, (long long)bcols,
             cs->c ? ", c: f32[" : "", cs->c ? ", c" : "", cs->ta, cs->tb, cs->alpha, cs->beta);
  else
    snprintf(text, sizeof text,
             "model g(a: f32[%s%lld, %lld], b: f32[%lld, %lld]) {\n  return y = MatMul(a, b)\n}\n",
             adims, (long long)cs->m, (long long)cs->k, (long long)cs->k, (long long)cs->n);
  if (cs->gemm && cs->c) { /* the C input's dims go in after the "c: f32[" */
    char *at = strstr(text, "c: f32[") + 7, rest[512];
    snprintf(rest, sizeof rest, "%s", at);
    snprintf(at, sizeof text - (size_t)(at - text), "%lld]%s", (long long)cs->n, rest);
  }
  size_t na = (size_t)(nb * cs->m * cs->k), nbv = (size_t)(cs->k * cs->n);
  float *a = malloc(sizeof(float) * na), *b = malloc(sizeof(float) * nbv);
  float *c = malloc(sizeof(float) * (size_t)cs->n), *y = calloc((size_t)(nb * cs->m * cs->n), sizeof(float));
  for (size_t i = 0; i < na; i++) a[i] = rndf();
  for (size_t i = 0; i < nbv; i++) b[i] = rndf();
  for (int64_t i = 0; i < cs->n; i++) c[i] = rndf();
  kiln_input_value bv = {"b", KILN_F32, 2, {brows, bcols}, b};
  kiln_options o = {.struct_size = sizeof o};
  o.values = &bv;
  o.nvalues = 1;
  o.cpu = cpu;
  o.check_bounds = check_bounds;
  kiln_model *m = NULL;
  kiln_error err;
  if (kiln_compile_buffer(text, strlen(text), &o, &m, &err))
    fprintf(stderr, "%s\n  -> %s\n", text, err.message);
  CHECK(m != NULL);
  if (!m) goto done;
  /* B is packed when N holds one panel: the register tile's width (passes/schedule.c) */
  CHECK(packed(m) == (cs->n >= (cs->m < 4 ? 4 : 2) * kiln_target_vector_floats(&o)));
  CHECK(kiln_model_program(m)->nconsts == 1); /* B or its panels, not both */
  const void *ins[2] = {a, c};
  void *outs[1] = {y};
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  double worst = 0;
  for (int64_t p = 0; p < nb; p++)
    for (int64_t i = 0; i < cs->m; i++)
      for (int64_t j = 0; j < cs->n; j++) {
        double s = 0;
        for (int64_t q = 0; q < cs->k; q++) {
          double av = cs->ta ? a[q * cs->m + i] : a[(p * cs->m + i) * cs->k + q];
          double bw = cs->tb ? b[j * cs->k + q] : b[q * cs->n + j];
          s += av * bw;
        }
        if (cs->gemm) s = cs->alpha * s + (cs->c ? cs->beta * c[j] : 0);
        double d = fabs(s - y[(p * cs->m + i) * cs->n + j]) / (1 + fabs(s));
        if (d > worst) worst = d;
      }
  if (worst > 1e-4)
    printf("%s(cpu %s, check_bounds %d): difference %g\n", text, cpu ? cpu : "host", check_bounds, worst);
  CHECK(worst <= 1e-4);
  kiln_model_free(m);
done:
  free(a);
  free(b);
  free(c);
  free(y);
}

int main(void) {
  static const gemm_case cases[] = {
      {2, {0}, 5, 7, 37, false, false, false, false, 1, 1},     /* tail after one panel */
      {2, {0}, 16, 32, 64, false, false, false, false, 1, 1},   /* whole panels */
      {2, {0}, 64, 128, 200, false, false, false, false, 1, 1}, /* several, and a tail */
      {2, {0}, 1, 64, 96, false, false, false, false, 1, 1},    /* M = 1 */
      {2, {0}, 2, 30, 150, false, false, false, false, 1, 1},   /* M = 2, wide panels */
      {2, {0}, 9, 1, 40, false, false, false, false, 1, 1},     /* K = 1 */
      {2, {0}, 6, 5, 12, false, false, false, false, 1, 1},     /* under a panel: MatMul */
      {4, {2, 3}, 19, 33, 70, false, false, false, false, 1, 1}, /* batched A */
      {3, {1}, 13, 8, 48, false, false, false, false, 1, 1},    /* BERT-like [1,M,K] x [K,N] */
      {2, {0}, 6, 20, 50, true, false, true, true, 0.5, 2},     /* Gemm transB, C */
      {2, {0}, 7, 20, 33, true, true, false, true, 1, 1},       /* Gemm transA */
      {2, {0}, 3, 17, 100, true, true, true, false, -1, 1},     /* both, alpha, no C */
  };
  const char *cpus[] = {NULL, "x86-64-v3"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (int cpu = 0; cpu < 2; cpu++)
      for (int cb = 0; cb < 2; cb++) run_case(&cases[i], cpus[cpu], cb);
  return check_report();
}
