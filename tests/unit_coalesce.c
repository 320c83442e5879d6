/* Coalescing (passes/coalesce.c): which axes of a kernel merge, and that the merged
 * kernels compute what the ops define (outputs computed here, in C). Merges: a whole
 * dense tensor; the dims a broadcast operand does not read; a reduction's adjacent
 * reduced dims (and the output dims around them); a row kernel's row, in all its stages at
 * once (InstanceNormalization's H x W). Kept apart: the dims a broadcast
 * operand reads one of, a transpose's, and an in-place Concat slot's rows from the batch
 * (a view across them would need a division per element). */
#include "check.h"

#include "ir/program.h"
#include "kiln.h"
#include "runtime/profile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float input(size_t e, int i) { return (float)sin((double)e * 0.37 + i) * 3.0f; }

/* The kernel computing op in m (the first one). */
static const kiln_kernel *kernel_of(const kiln_model *m, const char *op) {
  const kiln_kernel *ks[64];
  int n = kiln_steps_kernels(&kiln_model_program(m)->main, ks, 64);
  for (int i = 0; i < n && i < 64; i++)
    if (!strcmp(ks[i]->op, op)) return ks[i];
  return NULL;
}

/* The extents of k's stage's axes, "2x8x144". */
static void axes_text(const kiln_kernel *k, char *out, size_t cap) {
  size_t len = 0;
  out[0] = 0;
  for (int a = 0; k && a < k->stages[0].naxes && len < cap; a++)
    len += (size_t)snprintf(out + len, cap - len, "%s%lld", a ? "x" : "",
                            (long long)k->stages[0].axes[a].extent);
}

typedef float (*expect_fn)(const float *const *in, size_t e, int out);

/* Compiles text (inputs and outputs f32), checks that op's kernel has the axes `axes` and
 * that every output element equals expect() (within float rounding: sums run in another
 * order). */
static void check(const char *text, const char *op, const char *axes, expect_fn expect) {
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1};
  kiln_model *m = NULL;
  kiln_error err;
  if (kiln_compile_buffer(text, strlen(text), &o, &m, &err)) fprintf(stderr, "%s\n", err.message);
  CHECK(m != NULL);
  if (!m) return;
  char got[128];
  axes_text(kernel_of(m, op), got, sizeof got);
  if (strcmp(got, axes)) printf("%s\n  %s kernel's axes %s, want %s\n", text, op, got, axes);
  CHECK(!strcmp(got, axes));
  int ni = kiln_num_inputs(m), no = kiln_num_outputs(m);
  float *in[4] = {0}, *out[4] = {0};
  for (int i = 0; i < ni && i < 4; i++) {
    kiln_tensor_info t;
    kiln_input_info(m, i, &t);
    in[i] = malloc(t.bytes);
    for (size_t e = 0; e < t.bytes / 4; e++) in[i][e] = input(e, i);
  }
  for (int i = 0; i < no && i < 4; i++) {
    kiln_tensor_info t;
    kiln_output_info(m, i, &t);
    out[i] = calloc(1, t.bytes);
  }
  CHECK(kiln_run(m, (const void *const *)in, (void *const *)out, &err) == KILN_OK);
  int bad = 0;
  for (int i = 0; i < no && i < 4; i++) {
    kiln_tensor_info t;
    kiln_output_info(m, i, &t);
    for (size_t e = 0; e < t.bytes / 4; e++) {
      float want = expect((const float *const *)in, e, i);
      if (fabsf(out[i][e] - want) > 1e-5f * (1 + fabsf(want)) && bad++ < 3)
        printf("%s\n  output %d element %zu: %g, want %g\n", text, i, e, out[i][e], want);
    }
  }
  CHECK(bad == 0);
  for (int i = 0; i < 4; i++) free(in[i]), free(out[i]);
  kiln_model_free(m);
}

static float relu(float x) { return x > 0 ? x : 0; }

static float relu_of_x(const float *const *in, size_t e, int out) {
  (void)out;
  return relu(in[0][e]);
}
/* x[2, 8, 12, 12] + b[1, 8, 1, 1] */
static float add_channel(const float *const *in, size_t e, int out) {
  (void)out;
  return in[0][e] + in[1][e / 144 % 8];
}
/* x[4, 6] + y[6] */
static float add_row(const float *const *in, size_t e, int out) {
  (void)out;
  return in[0][e] + in[1][e % 6];
}
/* Transpose(x[4, 6, 8], perm [0, 2, 1]) */
static float transposed(const float *const *in, size_t e, int out) {
  (void)out;
  size_t i = e / 48, j = e / 6 % 8, k = e % 6;
  return in[0][i * 48 + k * 8 + j];
}
/* Relu(Concat(Relu(x), Neg(x), axis 1)) of x[2, 8, 12, 12]: the Concat's inputs are
 * written into their slots of its output (rows of 1152 floats, 2304 apart) */
static float concat_relu_neg(const float *const *in, size_t e, int out) {
  (void)out;
  size_t n = e / 2304, c = e / 144 % 16, p = e % 144;
  float x = in[0][n * 1152 + c % 8 * 144 + p];
  return relu(c < 8 ? relu(x) : -x);
}

/* GlobalAveragePool(x[4, 8, 12, 12]): H and W reduced as one run of 144 */
static float global_mean(const float *const *in, size_t e, int out) {
  (void)out;
  double sum = 0;
  for (size_t p = 0; p < 144; p++) sum += in[0][e * 144 + p];
  return (float)(sum / 144);
}
/* ReduceSum(x[4, 8, 12, 12], axes [1, 2]): C and H as one run of 96 */
static float sum_c_h(const float *const *in, size_t e, int out) {
  (void)out;
  size_t n = e / 12, w = e % 12;
  double sum = 0;
  for (size_t r = 0; r < 96; r++) sum += in[0][(n * 96 + r) * 12 + w];
  return (float)sum;
}

/* InstanceNormalization(x[1, 16, 32, 32], s[16], b[16]): each channel's 32 x 32 */
static float instance_norm(const float *const *in, size_t e, int out) {
  (void)out;
  size_t c = e / 1024;
  double sum = 0, sq = 0;
  for (size_t p = 0; p < 1024; p++) sum += in[0][c * 1024 + p];
  double mean = sum / 1024;
  for (size_t p = 0; p < 1024; p++) sq += (in[0][c * 1024 + p] - mean) * (in[0][c * 1024 + p] - mean);
  return (float)((in[0][e] - mean) / sqrt(sq / 1024 + 1e-5) * in[1][c] + in[2][c]);
}

int main(void) {
  check("model r(x: f32[2, 8, 12, 12]) {\n  return y = Relu(x)\n}\n", "Relu", "2304", relu_of_x);
  check("model a(x: f32[2, 8, 12, 12], b: f32[1, 8, 1, 1]) {\n  return y = Add(x, b)\n}\n",
        "Add", "2x8x144", add_channel);
  check("model a(x: f32[4, 6], y: f32[6]) {\n  return z = Add(x, y)\n}\n", "Add", "4x6", add_row);
  check("model t(x: f32[4, 6, 8]) {\n  return y = Transpose(x, perm=[0, 2, 1])\n}\n", "Transpose",
        "4x8x6", transposed);
  /* the Concat's output must be an arena value for its inputs to be placed: a Relu reads it */
  check("model c(x: f32[2, 8, 12, 12]) {\n"
        "  return y = Relu(Concat(Relu(x), Neg(x), axis=1))\n}\n", "Neg", "2x1152",
        concat_relu_neg);
  check("model g(x: f32[4, 8, 12, 12]) {\n  return y = GlobalAveragePool(x)\n}\n",
        "GlobalAveragePool", "32x144", global_mean);
  check("model s(x: f32[4, 8, 12, 12]) {\n  return y = ReduceSum(x, [1, 2])\n}\n", "ReduceSum",
        "4x96x12", sum_c_h);
  /* a row kernel (its three stages share their axes): H and W as one row of 1024 in all */
  check("model n(x: f32[1, 16, 32, 32], s: f32[16], b: f32[16]) {\n"
        "  return y = InstanceNormalization(x, s, b)\n}\n", "InstanceNormalization", "1x16x1024",
        instance_norm);
  return check_report();
}
