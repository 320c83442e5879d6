/* TopK's three forms (ir/ops/topk.c): along a long axis with a small k, leaders (the
 * blocks whose first elements rank below k, their first few ranked) or blocks (each
 * block's first k, ranked); along a short one, every element's rank. The form taken, and
 * values and indices against a selection written here (ties by index). */
#include "compiled.h"

#include <stdlib.h>

static const char *form_of(const kiln_model *m) {
  return model_has_stage(m, "topk_leaders")      ? "leaders"
         : model_has_stage(m, "topk_candidates") ? "blocks"
                                           : "ranks";
}

static void check_topk(int64_t n, int64_t k, int largest, const char *form) {
  char text[256];
  snprintf(text, sizeof text,
           "model t(x: f32[%lld]) {\n  v, i = TopK(x, [%lld], largest=%d)\n  return v, i\n}\n",
           (long long)n, (long long)k, largest);
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1};
  kiln_model *m = compiled(text, &o);
  if (!m) return;
  const char *f = form_of(m);
  if (strcmp(f, form)) printf("n %lld, k %lld: %s, want %s\n", (long long)n, (long long)k, f, form);
  CHECK(!strcmp(f, form));
  float *x = malloc((size_t)n * 4), *v = malloc((size_t)k * 4);
  int64_t *idx = malloc((size_t)k * 8);
  char *taken = calloc((size_t)n, 1);
  for (int64_t e = 0; e < n; e++) x[e] = (float)((e * 7919) % 1009) * 0.5f; /* with ties */
  const void *ins[1] = {x};
  void *outs[2] = {v, idx};
  kiln_error err;
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  int bad = 0;
  for (int64_t q = 0; q < k; q++) { /* the q-th: best not taken, first index on ties */
    int64_t best = -1;
    for (int64_t e = 0; e < n; e++)
      if (!taken[e] && (best < 0 || (largest ? x[e] > x[best] : x[e] < x[best]))) best = e;
    taken[best] = 1;
    if ((idx[q] != best || v[q] != x[best]) && bad++ < 3)
      printf("n %lld k %lld: output %lld is x[%lld] = %g, want x[%lld] = %g\n", (long long)n,
             (long long)k, (long long)q, (long long)idx[q], v[q], (long long)best, x[best]);
  }
  CHECK(bad == 0);
  free(x), free(v), free(idx), free(taken);
  kiln_model_free(m);
}

int main(void) {
  check_topk(50257, 50, 1, "leaders"); /* a vocabulary */
  check_topk(30000, 25, 1, "leaders");
  check_topk(30000, 25, 0, "leaders");
  check_topk(5001, 3, 1, "leaders");
  check_topk(1000, 5, 1, "leaders");
  check_topk(100, 8, 1, "leaders"); /* 7 blocks for k = 8: all of them ranked */
  check_topk(531, 19, 0, "blocks");
  check_topk(64, 5, 1, "ranks");
  check_topk(3000, 300, 1, "ranks");
  return check_report();
}
