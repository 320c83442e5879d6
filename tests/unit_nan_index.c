/* Indices of extremes over NaN, which these once gave outside the input with exit 0:
 * ArgMax and ArgMin (ir/ops/reduce.c), numpy's answer, the first NaN (the last with
 * select_last_index), as ONNX's reference computes it; rows without NaN, ties included,
 * against the plain first (last) extreme. MaxPool's Indices (ir/ops/pool.c): a window
 * holding NaN has a NaN maximum, and the first NaN's index. OneHot's float indices:
 * NaN, infinities and huge ones are outside the depth (no hot entry, as onnxruntime). */
#include "compiled.h"

#include <math.h>

#define ROWS 4
#define N 37

static void check_arg(const char *op, int last) {
  char text[256];
  snprintf(text, sizeof text,
           "model t(x: f32[%d, %d]) {\n  return i = %s(x, axis=1, keepdims=0, "
           "select_last_index=%d)\n}\n", ROWS, N, op, last);
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1};
  kiln_model *m = compiled(text, &o);
  if (!m) return;
  float x[ROWS][N];
  for (int r = 0; r < ROWS; r++)
    for (int c = 0; c < N; c++) x[r][c] = (float)((c * 13 + r * 7) % 11); /* ties */
  x[0][5] = NAN, x[0][30] = NAN; /* two NaN */
  for (int c = 0; c < N; c++) x[1][c] = NAN; /* all NaN */
  x[2][0] = INFINITY, x[2][9] = -INFINITY, x[2][20] = NAN;
  int64_t got[ROWS];
  const void *ins[1] = {x};
  void *outs[1] = {got};
  kiln_error err;
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  bool is_max = !strcmp(op, "ArgMax");
  for (int r = 0; r < ROWS; r++) {
    int64_t want = -1;
    for (int c = 0; c < N; c++) { /* NaN wins; then the extreme; first (last) on ties */
      bool nan_here = isnan(x[r][c]), nan_best = want >= 0 && isnan(x[r][want]);
      bool better = want < 0 || (nan_here && !nan_best) ||
                    (!nan_here && !nan_best && (is_max ? x[r][c] > x[r][want] : x[r][c] < x[r][want]));
      bool same = want >= 0 && (nan_here ? nan_best : !nan_best && x[r][c] == x[r][want]);
      if (better || (last && same)) want = c;
    }
    if (got[r] != want) printf("%s last %d row %d: %lld, want %lld\n", op, last, r, (long long)got[r], (long long)want);
    CHECK(got[r] == want);
  }
  kiln_model_free(m);
}

/* 2x2 windows, stride 2, over [1, 1, 4, 6]: NaN in some windows, one window all NaN. */
static void check_maxpool(void) {
  const char *text = "model t(x: f32[1, 1, 4, 6]) {\n"
                     "  y, i = MaxPool(x, kernel_shape=[2, 2], strides=[2, 2])\n"
                     "  return y, i\n}\n";
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1};
  kiln_model *m = compiled(text, &o);
  if (!m) return;
  float x[24], y[6];
  int64_t idx[6];
  for (int e = 0; e < 24; e++) x[e] = (float)((e * 5) % 7);
  x[7] = NAN, x[1] = INFINITY; /* window 0: NaN beats inf */
  x[16] = x[17] = x[22] = x[23] = NAN; /* window 5: all NaN */
  x[14] = NAN; /* window 4: NaN last in the window */
  const void *ins[1] = {x};
  void *outs[2] = {y, idx};
  kiln_error err;
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  for (int w = 0; w < 6; w++) {
    int r0 = w / 3 * 2, c0 = w % 3 * 2, want = -1;
    for (int r = r0; r < r0 + 2; r++) /* the first NaN, else the first maximum */
      for (int c = c0; c < c0 + 2; c++) {
        int e = r * 6 + c;
        bool nan_best = want >= 0 && isnan(x[want]);
        if (want < 0 || (isnan(x[e]) && !nan_best) || (!nan_best && x[e] > x[want])) want = e;
      }
    if (idx[w] != want) printf("MaxPool window %d: index %lld, want %d\n", w, (long long)idx[w], want);
    CHECK(idx[w] == want);
    CHECK(isnan(x[want]) ? isnan(y[w]) : y[w] == x[want]);
  }
  kiln_model_free(m);
}

static void check_onehot(void) {
  const char *text = "model t(x: f32[7]) {\n  return y = OneHot(x, 5.0, [0.0, 1.0])\n}\n";
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1};
  kiln_model *m = compiled(text, &o);
  if (!m) return;
  float x[7] = {NAN, INFINITY, -INFINITY, 1e30f, -1e30f, 2.7f, -2.2f}, y[7][5];
  int hot[7] = {-1, -1, -1, -1, -1, 2, 3}; /* truncated; a negative one counts from depth */
  const void *ins[1] = {x};
  void *outs[1] = {y};
  kiln_error err;
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  for (int i = 0; i < 7; i++)
    for (int d = 0; d < 5; d++) {
      if (y[i][d] != (d == hot[i] ? 1.0f : 0.0f)) printf("OneHot(%g)[%d] = %g\n", x[i], d, y[i][d]);
      CHECK(y[i][d] == (d == hot[i] ? 1.0f : 0.0f));
    }
  kiln_model_free(m);
}

int main(void) {
  check_maxpool();
  check_onehot();
  for (int last = 0; last < 2; last++) {
    check_arg("ArgMax", last);
    check_arg("ArgMin", last);
  }
  return check_report();
}
