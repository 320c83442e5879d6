/* Einsum's equation parser (ir/ops/einsum.c) on equations that are wrong: one clear error
 * naming the node and the equation, never a crash; and on the legal corners (spaces,
 * implicit output, "..." broadcasting 1 against n) against hand-computed results. */
#include "check.h"
#include "kiln.h"

#include <stdio.h>
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

int main(void) {
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
