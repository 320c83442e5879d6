/* Pad in its four modes (ir/ops/pad.c) against a reference written here: an innermost dim
 * padded on one or both sides (lowered as an interior copy and border stages), pads on
 * outer dims only (one stage), crops, a pad value, and the form each case took. */
#include "compiled.h"

#include <stdlib.h>

#define R 3

/* The input index of output index o (input size n) in this mode, -1: the pad value. The
 * modes other than constant pad from what the pads keep (a crop on the other side first). */
static int64_t ref_index(const char *mode, int64_t o, int64_t begin, int64_t end, int64_t n) {
  int64_t i = o - begin;
  if (!strcmp(mode, "constant")) return i >= 0 && i < n ? i : -1;
  int64_t cs = begin < 0 ? -begin : 0, m = n - cs - (end < 0 ? -end : 0), p = i - cs;
  if (p >= 0 && p < m) return i;
  if (!strcmp(mode, "edge") || m == 1) return cs + (p < 0 ? 0 : m - 1);
  if (!strcmp(mode, "reflect")) return cs + (p < 0 ? -p : 2 * m - 2 - p);
  return cs + ((p % m) + m) % m; /* wrap */
}

static void check_pad(const char *mode, const int64_t *dims, const int64_t *pads) {
  int64_t out[R], nx = 1, ny = 1;
  for (int d = 0; d < R; d++) out[d] = dims[d] + pads[d] + pads[R + d], nx *= dims[d], ny *= out[d];
  char text[512];
  snprintf(text, sizeof text,
           "model t(x: f32[%lld, %lld, %lld]) {\n"
           "  return y = Pad(x, [%lld, %lld, %lld, %lld, %lld, %lld], 2.5, mode=\"%s\")\n}\n",
           (long long)dims[0], (long long)dims[1], (long long)dims[2], (long long)pads[0],
           (long long)pads[1], (long long)pads[2], (long long)pads[3], (long long)pads[4],
           (long long)pads[5], mode);
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1};
  kiln_model *m = compiled(text, &o);
  if (!m) return;
  bool split = pads[R - 1] > 0 || pads[2 * R - 1] > 0;
  split = split && pads[R - 1] >= 0 && pads[2 * R - 1] >= 0;
  CHECK(model_has_stage(m, "pad_begin") == (pads[R - 1] > 0 && split));
  CHECK(model_has_stage(m, "pad_end") == (pads[2 * R - 1] > 0 && split));
  float *x = malloc(sizeof(float) * (size_t)nx), *y = malloc(sizeof(float) * (size_t)ny);
  for (int64_t i = 0; i < nx; i++) x[i] = (float)i;
  const void *ins[1] = {x};
  void *outs[1] = {y};
  kiln_error err;
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  int bad = 0;
  for (int64_t a = 0; a < out[0]; a++)
    for (int64_t b = 0; b < out[1]; b++)
      for (int64_t c = 0; c < out[2]; c++) {
        int64_t i0 = ref_index(mode, a, pads[0], pads[R], dims[0]);
        int64_t i1 = ref_index(mode, b, pads[1], pads[R + 1], dims[1]);
        int64_t i2 = ref_index(mode, c, pads[2], pads[R + 2], dims[2]);
        float want = i0 < 0 || i1 < 0 || i2 < 0 ? 2.5f : x[(i0 * dims[1] + i1) * dims[2] + i2];
        float got = y[(a * out[1] + b) * out[2] + c];
        if (got != want && bad++ < 3)
          printf("%s %s: y[%lld, %lld, %lld] = %g, want %g\n", mode, text, (long long)a,
                 (long long)b, (long long)c, got, want);
      }
  CHECK(bad == 0);
  free(x), free(y);
  kiln_model_free(m);
}

int main(void) {
  static const char *const modes[] = {"constant", "reflect", "edge", "wrap"};
  static const int64_t dims[][R] = {{2, 5, 37}, {1, 4, 3}, {3, 1, 1}};
  static const int64_t pads[][2 * R] = {
      {0, 1, 3, 0, 2, 2}, /* innermost both sides: interior + borders */
      {0, 0, 2, 0, 0, 0}, /* innermost, begin only */
      {0, 0, 0, 0, 0, 1}, /* innermost, end only */
      {1, 2, 0, 0, 1, 0}, /* outer dims only: one stage */
      {0, -1, 1, 0, 1, 1}, /* an outer crop beside innermost pads */
      {0, 0, -1, 0, 0, 1}, /* innermost crop and pad: one stage */
  };
  for (int mi = 0; mi < 4; mi++)
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
      for (size_t pi = 0; pi < sizeof pads / sizeof *pads; pi++) {
        /* reflect pads must be smaller than what the crop keeps; the other modes need it
         * to keep one; a crop must leave one */
        bool ok = true;
        for (int d = 0; d < R; d++) {
          int64_t b = pads[pi][d], e = pads[pi][R + d];
          int64_t kept = dims[di][d] + (b < 0 ? b : 0) + (e < 0 ? e : 0);
          if (!strcmp(modes[mi], "reflect") && kept > 1 && (b >= kept || e >= kept)) ok = false;
          if (strcmp(modes[mi], "constant") && kept < 1) ok = false;
          if (dims[di][d] + b + e < 1) ok = false;
        }
        if (ok) check_pad(modes[mi], dims[di], pads[pi]);
      }
  return check_report();
}
