/* TopK's three forms (ir/ops/topk.c): along a long axis with a small k, leaders (the
 * blocks whose first elements rank below k, their first few ranked) or blocks (each
 * block's first k, ranked); along a short one, every element's rank. The form taken, and
 * values and indices against a selection written here (ties by index; NaN above every
 * number, as onnxruntime ranks it). */
#include "compiled.h"

#include <math.h>
#include <stdlib.h>

typedef enum { RANKS, BLOCKS, LEADERS } topk_form;
static const char *const form_names[] = {"ranks", "blocks", "leaders"};

static topk_form form_of(const kiln_model *m) {
  return model_has_stage(m, "topk_leaders")      ? LEADERS
         : model_has_stage(m, "topk_candidates") ? BLOCKS
                                                 : RANKS;
}

/* Does a come before b (onnxruntime's order: NaN above every number, equal to NaN)? */
static bool before(float a, float b, int largest) {
  if (isnan(a) || isnan(b)) return largest ? isnan(a) && !isnan(b) : !isnan(a) && isnan(b);
  return largest ? a > b : a < b;
}

/* nans: every nans-th element NaN, and infinities beside them (0: none). */
static void check_topk(int64_t n, int64_t k, int largest, topk_form form, int nans) {
  char text[256];
  snprintf(text, sizeof text,
           "model t(x: f32[%lld]) {\n  v, i = TopK(x, [%lld], largest=%d)\n  return v, i\n}\n",
           (long long)n, (long long)k, largest);
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1};
  kiln_model *m = compiled(text, &o);
  if (!m) return;
  topk_form f = form_of(m);
  if (f != form)
    printf("n %lld, k %lld: %s, want %s\n", (long long)n, (long long)k, form_names[f], form_names[form]);
  CHECK(f == form);
  float *x = malloc((size_t)n * 4), *v = malloc((size_t)k * 4);
  int64_t *idx = malloc((size_t)k * 8);
  char *taken = calloc((size_t)n, 1);
  for (int64_t e = 0; e < n; e++) { /* with ties */
    x[e] = (float)((e * 7919) % 1009) * 0.5f;
    if (nans && e % nans == 3) x[e] = NAN;
    if (nans && e % nans == 5) x[e] = e % 2 ? INFINITY : -INFINITY;
  }
  const void *ins[1] = {x};
  void *outs[2] = {v, idx};
  kiln_error err;
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  int bad = 0;
  for (int64_t q = 0; q < k; q++) { /* the q-th: best not taken, first index on ties */
    int64_t best = -1;
    for (int64_t e = 0; e < n; e++)
      if (!taken[e] && (best < 0 || before(x[e], x[best], largest))) best = e;
    taken[best] = 1;
    bool same = v[q] == x[best] || (isnan(v[q]) && isnan(x[best]));
    if ((idx[q] != best || !same) && bad++ < 3)
      printf("n %lld k %lld: output %lld is x[%lld] = %g, want x[%lld] = %g\n", (long long)n,
             (long long)k, (long long)q, (long long)idx[q], v[q], (long long)best, x[best]);
  }
  CHECK(bad == 0);
  free(x), free(v), free(idx), free(taken);
  kiln_model_free(m);
}

int main(void) {
  for (int nans = 0; nans <= 97; nans += 97) { /* NaN every 97th: several per block */
    check_topk(50257, 50, 1, LEADERS, nans); /* a vocabulary */
    check_topk(30000, 25, 1, LEADERS, nans);
    check_topk(30000, 25, 0, LEADERS, nans);
    check_topk(5001, 3, 1, LEADERS, nans);
    check_topk(1000, 5, 1, LEADERS, nans);
    check_topk(100, 8, 1, LEADERS, nans); /* 7 blocks for k = 8: all of them ranked */
    check_topk(531, 19, 0, BLOCKS, nans);
    check_topk(531, 19, 1, BLOCKS, nans);
    check_topk(64, 5, 1, RANKS, nans);
    check_topk(3000, 300, 1, RANKS, nans);
  }
  check_topk(4000, 12, 1, LEADERS, 2); /* half NaN: blocks of NaN only */
  check_topk(4000, 12, 0, LEADERS, 2);
  return check_report();
}
