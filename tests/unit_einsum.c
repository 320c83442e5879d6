/* Einsum's equation parser (ir/ops/einsum.c) on equations that are wrong: one clear error
 * naming the node and the equation, never a crash; on the legal corners (spaces,
 * implicit output, "..." broadcasting 1 against n) against hand-computed results; and
 * A x B^T contractions, which read B through a transposed copy, against loops here. */
#include "check.h"
#include "compiled.h"
#include "kiln.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kiln_status compile(const char *eq, const char *shapes, kiln_model **m, kiln_error *err) {
  char text[512];
  snprintf(text, sizeof text, "model m(%s) { return y = Einsum(a, b, equation=\"%s\") }", shapes,
           eq);
  *m = NULL;
  memset(err, 0, sizeof *err);
  return kiln_compile_buffer(text, strlen(text), NULL, m, err);
}

static void bad(const char *eq, const char *shapes, kiln_status want) {
  kiln_model *m;
  kiln_error err;
  kiln_status st = compile(eq, shapes, &m, &err);
  CHECK(st == want);
  CHECK(m == NULL);
  CHECK(strstr(err.message, "Einsum") != NULL);
  if (st != want || !strstr(err.message, "Einsum"))
    fprintf(stderr, "%s: %s: %s\n", eq, kiln_status_name(st), err.message);
  kiln_model_free(m);
}

static void good(const char *eq, const char *shapes, const float *a, const float *b,
                 const float *want, int n) {
  kiln_model *m;
  kiln_error err;
  CHECK(compile(eq, shapes, &m, &err) == KILN_OK);
  if (!m) {
    fprintf(stderr, "%s: %s\n", eq, err.message);
    return;
  }
  float y[16] = {0};
  const void *ins[2] = {a, b};
  void *outs[1] = {y};
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  for (int i = 0; i < n; i++) CHECK(y[i] == want[i]);
  kiln_model_free(m);
}

/* y[g, q, k] = sum_d a[g or 0, q, d] * b[g or 0, k, d] over G groups (a or b shared by all
 * when its group count is 1), written with the operands swapped when b_first. */
static void a_bt(const char *eq, int ga, int gb, int Q, int K, int D, bool b_first) {
  char text[512];
  int G = ga > gb ? ga : gb;
  if (b_first)
    snprintf(text, sizeof text,
             "model m(b: f32[%d, %d, %d], a: f32[%d, %d, %d]) {\n"
             "  return y = Einsum(b, a, equation=\"%s\")\n}\n", gb, K, D, ga, Q, D, eq);
  else
    snprintf(text, sizeof text,
             "model m(a: f32[%d, %d, %d], b: f32[%d, %d, %d]) {\n"
             "  return y = Einsum(a, b, equation=\"%s\")\n}\n", ga, Q, D, gb, K, D, eq);
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1};
  kiln_model *m = compiled(text, &o);
  if (!m) return;
  CHECK(model_has(m, "einsum_transpose", KX_LOAD, 0));
  float *a = malloc(sizeof(float) * (size_t)(ga * Q * D)), *b = malloc(sizeof(float) * (size_t)(gb * K * D));
  float *y = malloc(sizeof(float) * (size_t)(G * Q * K));
  for (int i = 0; i < ga * Q * D; i++) a[i] = (float)((i * 37) % 23) / 11.0f - 1.0f;
  for (int i = 0; i < gb * K * D; i++) b[i] = (float)((i * 29) % 19) / 9.0f - 1.0f;
  const void *ins[2] = {b_first ? (const void *)b : a, b_first ? (const void *)a : b};
  void *outs[1] = {y};
  kiln_error err;
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  int bad = 0;
  for (int g = 0; g < G; g++)
    for (int q = 0; q < Q; q++)
      for (int k = 0; k < K; k++) {
        double want = 0;
        for (int d = 0; d < D; d++)
          want += (double)a[((ga > 1 ? g : 0) * Q + q) * D + d] * b[((gb > 1 ? g : 0) * K + k) * D + d];
        float got = b_first ? y[(g * K + k) * Q + q] : y[(g * Q + q) * K + k];
        if (fabs(got - want) > 1e-4 * (1 + fabs(want)) && bad++ < 3)
          fprintf(stderr, "%s: y[%d, %d, %d] = %g, want %g\n", eq, g, q, k, got, want);
      }
  CHECK(bad == 0);
  free(a), free(b), free(y);
  kiln_model_free(m);
}

int main(void) {
  a_bt("gqd,gkd->gqk", 3, 3, 20, 33, 24, false);  /* attention scores, 33 keys */
  a_bt("...qd,...kd->...qk", 2, 1, 12, 17, 8, false); /* one B for both groups */
  a_bt("gkd,gqd->gkq", 2, 2, 40, 9, 5, true);     /* B first: the output's n is its q */

  const char *ab = "a: f32[2, 3], b: f32[3, 2]";
  bad("ij,jk->ix", ab, KILN_ERR_INVALID_MODEL);  /* output label no input has */
  bad("ij,jk->ii", ab, KILN_ERR_INVALID_MODEL);  /* repeated output label */
  bad("ijk,jk->ik", ab, KILN_ERR_INVALID_MODEL); /* term rank != input rank */
  bad("ij->ij", ab, KILN_ERR_INVALID_MODEL);     /* two inputs, one term */
  bad("ij,ij->ij", ab, KILN_ERR_SHAPE);          /* i is 2 and 3 */
  bad("i.j,jk->ik", ab, KILN_ERR_INVALID_MODEL);
  bad("......,jk", ab, KILN_ERR_INVALID_MODEL);
  bad("ij,jk->i-k", ab, KILN_ERR_INVALID_MODEL);
  float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1};
  float mm[4] = {4, 5, 10, 11};
  good(" ij , jk -> ik ", ab, a, b, mm, 4);
  good("ij,jk", ab, a, b, mm, 4); /* implicit: ik */
  float tr[4] = {4, 10, 5, 11};
  good("ij,jk->ki", ab, a, b, tr, 4);
  /* "..." of [2, 1] against [1, 3]: broadcast to [2, 3] */
  float x[2] = {1, 2}, z[3] = {10, 20, 30}, outer[6] = {10, 20, 30, 20, 40, 60};
  good("...,...->...", "a: f32[2, 1], b: f32[1, 3]", x, z, outer, 6);
  return check_report();
}
