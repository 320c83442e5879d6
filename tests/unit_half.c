/* f16 and bf16 MatMul, batched MatMul, Gemm and Conv through the whole pipeline (default
 * schedules, register tiles included), against sums computed here. Data are small
 * integers, so every product and partial sum is exact in f32: the result must equal the
 * exact sum rounded once to the output type, whatever the order of the reduction (kiln
 * accumulates half-precision GEMMs in f32 registers and rounds on the store). */
#include "check.h"

#include "ir/dtype.h"
#include "kiln.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng = 1616;
static int rnd_int(void) { /* in [-3, 3] */
  rng = rng * 1664525u + 1013904223u;
  return (int)((rng >> 8) % 7) - 3;
}

static uint16_t to_half(kiln_dtype t, float v) {
  return t == KILN_F16 ? kiln_f32_to_f16(v) : kiln_f32_to_bf16(v);
}

/* Compiles `text` (inputs a, b of type t), runs it on a and b, and compares output 0 with
 * ref rounded to t. */
static void run(const char *what, const char *text, kiln_dtype t, const float *a, int64_t na,
                const float *b, int64_t nb, const double *ref, int64_t ny) {
  uint16_t *ha = malloc(2 * (size_t)na), *hb = malloc(2 * (size_t)nb), *y = malloc(2 * (size_t)ny);
  for (int64_t i = 0; i < na; i++) ha[i] = to_half(t, a[i]);
  for (int64_t i = 0; i < nb; i++) hb[i] = to_half(t, b[i]);
  kiln_model *m = NULL;
  kiln_error err;
  kiln_status st = kiln_compile_buffer(text, strlen(text), NULL, &m, &err);
  CHECK(st == KILN_OK);
  if (st) fprintf(stderr, "%s (%s): %s\n", what, kiln_dtype_name(t), err.message);
  if (!st) {
    const void *ins[2] = {ha, hb};
    void *outs[1] = {y};
    st = kiln_run(m, ins, outs, &err);
    CHECK(st == KILN_OK);
    int bad = 0;
    for (int64_t i = 0; !st && i < ny; i++)
      if (y[i] != to_half(t, (float)ref[i]) && bad++ < 3)
        fprintf(stderr, "%s (%s): y[%lld] = %g, expected %g\n", what, kiln_dtype_name(t),
                (long long)i, t == KILN_F16 ? kiln_f16_to_f32(y[i]) : kiln_bf16_to_f32(y[i]),
                ref[i]);
    CHECK(bad == 0);
  }
  kiln_model_free(m);
  free(ha), free(hb), free(y);
}

static float *ints(int64_t n) {
  float *p = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) p[i] = (float)rnd_int();
  return p;
}

/* y[b, m, n] = sum_k a[b, m, k] * w[k, n] (w shared by the batch, or transposed: Gemm) */
static void matmul(kiln_dtype t, int64_t B, int64_t M, int64_t K, int64_t N, bool gemm) {
  const char *tn = kiln_dtype_name(t);
  char text[512];
  if (gemm)
    snprintf(text, sizeof text,
             "model m(a: %s[%lld, %lld], b: %s[%lld, %lld]) { return y = Gemm(a, b, transB=1) }",
             tn, (long long)M, (long long)K, tn, (long long)N, (long long)K);
  else
    snprintf(text, sizeof text,
             "model m(a: %s[%lld, %lld, %lld], b: %s[%lld, %lld]) { return y = MatMul(a, b) }",
             tn, (long long)B, (long long)M, (long long)K, tn, (long long)K, (long long)N);
  float *a = ints(B * M * K), *w = ints(K * N);
  double *ref = calloc((size_t)(B * M * N), sizeof(double));
  for (int64_t b = 0; b < B; b++)
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
          ref[(b * M + m) * N + n] +=
              (double)a[(b * M + m) * K + k] * w[gemm ? n * K + k : k * N + n];
  run(gemm ? "Gemm" : "MatMul", text, t, a, B * M * K, w, K * N, ref, B * M * N);
  free(a), free(w), free(ref);
}

/* 3x3 convolution, pad 1, stride s, C -> M channels on an H x W image */
static void conv(kiln_dtype t, int64_t C, int64_t M, int64_t H, int64_t W, int64_t s) {
  const char *tn = kiln_dtype_name(t);
  int64_t OH = (H + 2 - 3) / s + 1, OW = (W + 2 - 3) / s + 1;
  char text[512];
  snprintf(text, sizeof text,
           "model m(x: %s[1, %lld, %lld, %lld], w: %s[%lld, %lld, 3, 3]) "
           "{ return y = Conv(x, w, pads=[1, 1, 1, 1], strides=[%lld, %lld]) }",
           tn, (long long)C, (long long)H, (long long)W, tn, (long long)M, (long long)C,
           (long long)s, (long long)s);
  float *x = ints(C * H * W), *w = ints(M * C * 9);
  double *ref = calloc((size_t)(M * OH * OW), sizeof(double));
  for (int64_t m = 0; m < M; m++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++)
        for (int64_t c = 0; c < C; c++)
          for (int64_t kh = 0; kh < 3; kh++)
            for (int64_t kw = 0; kw < 3; kw++) {
              int64_t ih = oh * s - 1 + kh, iw = ow * s - 1 + kw;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              ref[(m * OH + oh) * OW + ow] +=
                  (double)x[(c * H + ih) * W + iw] * w[((m * C + c) * 3 + kh) * 3 + kw];
            }
  run("Conv", text, t, x, C * H * W, w, M * C * 9, ref, M * OH * OW);
  free(x), free(w), free(ref);
}

int main(void) {
  static const kiln_dtype types[2] = {KILN_F16, KILN_BF16};
  for (int i = 0; i < 2; i++) {
    kiln_dtype t = types[i];
    matmul(t, 1, 64, 96, 80, false);
    matmul(t, 3, 7, 33, 45, false);
    matmul(t, 1, 1, 128, 100, false);
    matmul(t, 1, 20, 50, 70, true);
    conv(t, 8, 16, 14, 14, 1);
    conv(t, 5, 12, 9, 23, 2);
    conv(t, 16, 32, 7, 7, 1);
  }
  return check_report();
}
