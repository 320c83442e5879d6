/* Pow by a constant exponent (ir/ops/elementwise.c): 1 to 4 become products, -1 a
 * reciprocal, 0.5 a square root, and no pow call is left in the kernel; any other exponent
 * keeps pow. Values against C's pow: the products within 2 ulp, the rest within 1, and
 * exactly pow's at zeros of either sign, infinities and NaN. */
#include "compiled.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double ulps(float got, double want) {
  double u = fabs(want) < FLT_MIN ? ldexp(1, -149) : ldexp(1, ilogb(want) - 23);
  return fabs((double)got - want) / u;
}

static void check_exponent(const char *e, double ev, double max_ulps, bool keeps_pow) {
  enum { N = 4096 };
  char text[160];
  snprintf(text, sizeof text, "model p(x: f32[%d]) {\n  return y = x ** %s\n}\n", N, e);
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1};
  kiln_model *m = compiled(text, &o);
  if (!m) return;
  bool kept = model_has(m, NULL, KX_BINARY, KB_POW);
  if (kept != keeps_pow) printf("x ** %s: pow %s\n", e, kept ? "kept" : "gone");
  CHECK(kept == keeps_pow);
  static float x[N], y[N];
  const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, NAN, FLT_MIN,
                           -FLT_MIN, FLT_MAX, -FLT_MAX, 1e-30f, -1e-30f, 3e12f, -2.5f};
  int ns = (int)(sizeof special / sizeof special[0]);
  for (int i = 0; i < N; i++)
    x[i] = i < ns ? special[i] : (float)(sin(i * 0.731) * pow(10, (i % 13) - 6));
  const void *ins[1] = {x};
  void *outs[1] = {y};
  kiln_error err;
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  int bad = 0;
  for (int i = 0; i < N; i++) {
    double want = pow((double)x[i], ev);
    float wf = (float)want;
    bool ok;
    if (isnan(wf) || isinf(wf) || wf == 0 || fabs(want) < FLT_MIN)
      ok = (isnan(wf) && isnan(y[i])) || (!isnan(wf) && (y[i] == wf || ulps(y[i], want) <= max_ulps) &&
                                          signbit(y[i]) == signbit(wf));
    else
      ok = ulps(y[i], want) <= max_ulps;
    if (!ok && bad++ < 4) printf("%g ** %s = %.9g, want %.9g\n", x[i], e, y[i], want);
  }
  CHECK(bad == 0);
  kiln_model_free(m);
}

int main(void) {
  check_exponent("1", 1, 0, false);
  check_exponent("2", 2, 1, false);
  check_exponent("3", 3, 2, false);
  check_exponent("4", 4, 2, false);
  check_exponent("-1", -1, 0.5, false);
  check_exponent("0.5", 0.5, 0.5, false);
  check_exponent("2.5", 2.5, 1, true);
  return check_report();
}
