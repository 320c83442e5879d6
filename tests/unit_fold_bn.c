/* BatchNormalization folded into the Conv before it (passes/fold_bn.c): the folded model
 * has one kernel fewer and computes what the unfolded one does, which is kept unfolded
 * by also returning the conv's output. Convs with and without bias, grouped, and a BN
 * whose conv output has another reader. */
#include "check.h"

#include "ir/program.h"
#include "kiln.h"
#include "runtime/profile.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define C 4
#define HW 5

static kiln_model *compile(const char *text) {
  kiln_model *m = NULL;
  kiln_error err;
  if (kiln_compile_buffer(text, strlen(text), NULL, &m, &err))
    fprintf(stderr, "%s\n  -> %s\n", text, err.message);
  CHECK(m != NULL);
  return m;
}

static int kernels(const kiln_model *m) {
  const kiln_kernel *ks[256];
  return kiln_steps_kernels(&kiln_model_program(m)->main, ks, 256);
}

/* conv: the expression for `c`; the model returns BN(c), and c too when kept unfolded. */
static void check_fold(const char *conv, int group) {
  char folded[1024], kept[1024];
  const char *params =
      "param w: f32[4, %d, 3, 3] = normal(0, 0.5)\n"
      "param b: f32[4] = [0.5, -1, 0.25, 2]\n"
      "param s: f32[4] = [1.5, 0.5, -2, 1]\n"
      "param t: f32[4] = [0.1, 0.2, -0.3, 0.4]\n"
      "param mu: f32[4] = [0.3, -0.2, 1, 0]\n"
      "param var: f32[4] = [0.5, 2, 0.25, 1]\n";
  char p[512];
  snprintf(p, sizeof p, params, C / group);
  snprintf(folded, sizeof folded,
           "model m(x: f32[1, 4, 5, 5]) {\n%s  c = %s\n"
           "  return y = BatchNormalization(c, s, t, mu, var, epsilon=0.001)\n}\n", p, conv);
  snprintf(kept, sizeof kept,
           "model m(x: f32[1, 4, 5, 5]) {\n%s  c = %s\n"
           "  return y = BatchNormalization(c, s, t, mu, var, epsilon=0.001), c\n}\n", p, conv);
  kiln_model *a = compile(folded), *b = compile(kept);
  if (!a || !b) return;
  CHECK(kernels(a) == 1); /* the conv alone */
  CHECK(kernels(b) == 2);
  float x[C * HW * HW], ya[C * HW * HW] = {0}, yb[C * HW * HW] = {0}, cb[C * HW * HW] = {0};
  for (int i = 0; i < C * HW * HW; i++) x[i] = (float)sin(i * 0.37);
  const void *ins[1] = {x};
  void *oa[1] = {ya}, *ob[2] = {yb, cb};
  kiln_error err;
  CHECK(kiln_run(a, ins, oa, &err) == KILN_OK);
  CHECK(kiln_run(b, ins, ob, &err) == KILN_OK);
  double worst = 0;
  for (int i = 0; i < C * HW * HW; i++) {
    double d = fabs((double)ya[i] - yb[i]) / (1e-6 + fabs(yb[i]));
    if (d > worst) worst = d;
  }
  if (worst > 1e-5) printf("%s: relative difference %g\n", conv, worst);
  CHECK(worst <= 1e-5);
  kiln_model_free(a);
  kiln_model_free(b);
}

int main(void) {
  check_fold("Conv(x, w, b, pads=[1, 1, 1, 1])", 1);
  check_fold("Conv(x, w, pads=[1, 1, 1, 1])", 1);
  check_fold("Conv(x, w, b, pads=[1, 1, 1, 1], group=2)", 2);
  check_fold("Conv(x, w, b, pads=[0, 0, 0, 0], strides=[2, 2])", 1);
  return check_report();
}
