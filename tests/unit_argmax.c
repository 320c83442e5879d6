/* ArgMax and ArgMin (ir/ops/reduce.c) over rows holding NaN: numpy's answer, the first NaN
 * (the last with select_last_index), as ONNX's reference computes it; never an index
 * outside the row, which they once gave with exit 0. Rows without NaN, ties included,
 * against the plain first (last) extreme. */
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

int main(void) {
  for (int last = 0; last < 2; last++) {
    check_arg("ArgMax", last);
    check_arg("ArgMin", last);
  }
  return check_report();
}
