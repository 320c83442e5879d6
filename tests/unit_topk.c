/* TopK's three forms (ir/ops/topk.c): selection (the k-th element's order key bit by bit,
 * then the k taken ranked: ir/ops/topk_select.c), for most sizes; leaders (the blocks
 * whose first elements rank below k, their first few ranked), for a small k along a long
 * axis; along a short one, every element's rank. The form taken, and values and indices
 * against a selection written here (ties by index; NaN above every number, as onnxruntime
 * ranks it), in f32 (32-bit keys) and f64 (64-bit keys). */
#include "compiled.h"

#include <math.h>
#include <stdlib.h>

typedef enum { RANKS, LEADERS, SELECT } topk_form;
static const char *const form_names[] = {"ranks", "leaders", "select"};

static topk_form form_of(const kiln_model *m) {
  return model_has_stage(m, "topk_kth_key")      ? SELECT
         : model_has_stage(m, "topk_leaders")    ? LEADERS
                                                 : RANKS;
}

/* Does a come before b (onnxruntime's order: NaN above every number, equal to NaN)? */
static bool before(double a, double b, int largest) {
  if (isnan(a) || isnan(b)) return largest ? isnan(a) && !isnan(b) : !isnan(a) && isnan(b);
  return largest ? a > b : a < b;
}

/* nans: every nans-th element NaN, and infinities beside them (0: none); f64: the model's
 * type, else f32. */
static void check_topk(int64_t n, int64_t k, int largest, topk_form form, int nans, bool f64) {
  char text[256];
  snprintf(text, sizeof text,
           "model t(x: %s[%lld]) {\n  v, i = TopK(x, [%lld], largest=%d)\n  return v, i\n}\n",
           f64 ? "f64" : "f32", (long long)n, (long long)k, largest);
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1};
  kiln_model *m = compiled(text, &o);
  if (!m) return;
  topk_form f = form_of(m);
  if (f != form)
    printf("n %lld, k %lld: %s, want %s\n", (long long)n, (long long)k, form_names[f], form_names[form]);
  CHECK(f == form);
  size_t size = f64 ? 8 : 4;
  double *x = malloc((size_t)n * 8);
  void *xin = malloc((size_t)n * size), *v = malloc((size_t)k * size);
  int64_t *idx = malloc((size_t)k * 8);
  char *taken = calloc((size_t)n, 1);
  for (int64_t e = 0; e < n; e++) { /* with ties */
    x[e] = (double)((e * 7919) % 1009) * 0.5;
    if (nans && e % nans == 3) x[e] = NAN;
    if (nans && e % nans == 5) x[e] = e % 2 ? INFINITY : -INFINITY;
    if (f64)
      ((double *)xin)[e] = x[e];
    else
      ((float *)xin)[e] = (float)x[e];
  }
  const void *ins[1] = {xin};
  void *outs[2] = {v, idx};
  kiln_error err;
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  int bad = 0;
  for (int64_t q = 0; q < k; q++) { /* the q-th: best not taken, first index on ties */
    int64_t best = -1;
    for (int64_t e = 0; e < n; e++)
      if (!taken[e] && (best < 0 || before(x[e], x[best], largest))) best = e;
    taken[best] = 1;
    double vq = f64 ? ((double *)v)[q] : ((float *)v)[q];
    bool same = vq == x[best] || (isnan(vq) && isnan(x[best]));
    if ((idx[q] != best || !same) && bad++ < 3)
      printf("n %lld k %lld: output %lld is x[%lld] = %g, want x[%lld] = %g\n", (long long)n,
             (long long)k, (long long)q, (long long)idx[q], vq, (long long)best, x[best]);
  }
  CHECK(bad == 0);
  free(x), free(xin), free(v), free(idx), free(taken);
  kiln_model_free(m);
}

int main(void) {
  for (int nans = 0; nans <= 97; nans += 97) { /* NaN every 97th: several per block */
    for (int f64 = 0; f64 < 2; f64++) {
      check_topk(50257, 50, 1, SELECT, nans, f64); /* a vocabulary */
      check_topk(30000, 25, 0, f64 ? LEADERS : SELECT, nans, f64); /* 64 passes for f64 */
      check_topk(531, 19, 1, SELECT, nans, f64);
      check_topk(3000, 300, 1, SELECT, nans, f64); /* k inside a group of ties */
      check_topk(3000, 300, 0, SELECT, nans, f64);
      check_topk(5001, 3, 1, LEADERS, nans, f64);
      check_topk(5001, 3, 0, LEADERS, nans, f64);
      check_topk(1000, 5, 1, LEADERS, nans, f64);
      check_topk(16, 5, 1, RANKS, nans, f64);
    }
  }
  for (int f64 = 0; f64 < 2; f64++) { /* half NaN: blocks of NaN only */
    check_topk(4000, 12, 1, f64 ? LEADERS : SELECT, 2, f64);
    check_topk(4000, 12, 0, f64 ? LEADERS : SELECT, 2, f64);
    check_topk(5001, 3, 1, LEADERS, 2, f64);
    check_topk(5001, 3, 0, LEADERS, 2, f64);
  }
  return check_report();
}
