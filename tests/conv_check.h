/* What the convolution tests (unit_conv, unit_conv_transpose) share: DSL int lists, and a
 * compiled model run on (x, w, b) against a reference computed in the test. */
#ifndef KILN_TESTS_CONV_CHECK_H
#define KILN_TESTS_CONV_CHECK_H

#include "check.h"

#include "kiln.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Appends "[v0, v1, ...]" to s. */
static inline void conv_ints(char *s, size_t cap, const int64_t *v, int n) {
  size_t len = strlen(s);
  for (int i = 0; i < n; i++)
    len += (size_t)snprintf(s + len, cap - len, "%s%lld", i ? ", " : "[", (long long)v[i]);
  snprintf(s + len, cap - len, "]");
}

/* Runs model on inputs (x, w, b) into y (ny floats, first set to NaN: every output must
 * be written) and checks each against ref within 1e-5 of mag (the sum of the magnitudes
 * that made it); failures name case idx, check_bounds cb and the model text. */
static inline void conv_run_check(kiln_model *model, int idx, int cb, const char *text,
                                  const float *x, const float *w, const float *b, float *y,
                                  int64_t ny, const double *ref, const double *mag) {
  kiln_tensor_info info;
  kiln_error err;
  CHECK(kiln_output_info(model, 0, &info) == KILN_OK && info.bytes == sizeof(float) * (size_t)ny);
  const void *ins[3] = {x, w, b};
  void *outs[1] = {y};
  memset(y, 0xff, sizeof(float) * (size_t)ny);
  kiln_status st = kiln_run(model, ins, outs, &err);
  CHECK(st == KILN_OK);
  if (st) fprintf(stderr, "case %d: %s\n  %s\n", idx, text, err.message);
  int bad = 0;
  for (int64_t i = 0; !st && i < ny; i++)
    if (!(fabs(y[i] - ref[i]) <= 1e-5 * mag[i] + 1e-6) && bad++ < 3)
      fprintf(stderr, "case %d (check_bounds %d): y[%lld] = %g, expected %g\n  %s\n", idx, cb,
              (long long)i, y[i], ref[i], text);
  CHECK(bad == 0);
}

#endif
