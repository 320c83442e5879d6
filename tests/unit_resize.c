/* Resize's fast forms (ir/ops/resize.c), checked against interpolation written here from
 * the ONNX formulas. Linear and cubic f32 Resizes of static shapes run one resized dim at
 * a time, each a "resize" stage after two small stages computing its taps' tables: the
 * kernel must have one "resize" stage per resized dim. A nearest Resize by an integer
 * factor in the modes where the neighbour is o / s takes that index; the other modes keep
 * the floating-point coordinates. Every case's values are compared with the reference. */
#include "compiled.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rcase {
  const char *mode, *ctm, *nearest; /* nearest: nearest_mode, or NULL */
  int64_t c, h, w, oh, ow;          /* x [1, c, h, w] -> y [1, c, oh, ow] (sizes) */
  int exclude;
  int stages; /* "resize" stages expected */
  int floors; /* nearest: whether its stage still rounds coordinates (KU_FLOOR) */
} rcase;

/* The source coordinate of output o along a dim of in -> out (ONNX's formulas). */
static double coord(const char *ctm, int64_t o, int64_t in, int64_t out) {
  double s = (double)out / (double)in;
  if (!strcmp(ctm, "align_corners")) return out == 1 ? 0 : (double)o * (double)(in - 1) / (double)(out - 1);
  if (!strcmp(ctm, "asymmetric")) return (double)o / s;
  if (!strcmp(ctm, "pytorch_half_pixel") && out == 1) return -0.5;
  return ((double)o + 0.5) / s - 0.5; /* half_pixel, pytorch_half_pixel */
}

static int64_t clampi(int64_t i, int64_t n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

/* Taps (indices and weights) of output o along a dim: 1 (nearest), 2 or 4 of them. */
static int taps(const rcase *rc, int64_t o, int64_t in, int64_t out, int64_t *idx, double *wt) {
  double x = coord(rc->ctm, o, in, out), fl = floor(x), t = x - fl;
  if (!strcmp(rc->mode, "nearest")) {
    double r = !strcmp(rc->nearest, "floor") ? fl : !strcmp(rc->nearest, "ceil") ? ceil(x)
               : !strcmp(rc->nearest, "round_prefer_ceil") ? (t >= 0.5 ? fl + 1 : fl)
                                                            : (t > 0.5 ? fl + 1 : fl);
    idx[0] = clampi((int64_t)r, in), wt[0] = 1;
    return 1;
  }
  if (!strcmp(rc->mode, "linear")) {
    idx[0] = clampi((int64_t)fl, in), idx[1] = clampi((int64_t)fl + 1, in);
    wt[0] = 1 - t, wt[1] = t;
    return 2;
  }
  const double a = -0.75;
  double d[4] = {1 + t, t, 1 - t, 2 - t}, sum = 0;
  for (int j = 0; j < 4; j++) {
    double u = d[j];
    wt[j] = u <= 1 ? ((a + 2) * u - (a + 3)) * u * u + 1 : ((a * u - 5 * a) * u + 8 * a) * u - 4 * a;
    int64_t i = (int64_t)fl - 1 + j;
    if (rc->exclude && (i < 0 || i >= in)) wt[j] = 0;
    sum += wt[j];
    idx[j] = clampi(i, in);
  }
  if (rc->exclude)
    for (int j = 0; j < 4; j++) wt[j] /= sum;
  return 4;
}

static int count_stages(const kiln_program *p, const char *name) {
  const kiln_kernel *ks[16];
  int n = kiln_steps_kernels(&p->main, ks, 16), count = 0;
  for (int i = 0; i < n && i < 16; i++)
    for (int s = 0; s < ks[i]->nstages; s++) count += !strcmp(ks[i]->stages[s].name, name);
  return count;
}

static void run_case(const rcase *rc) {
  char text[512], nm[64] = "";
  if (rc->nearest) snprintf(nm, sizeof nm, ", nearest_mode=\"%s\"", rc->nearest);
  snprintf(text, sizeof text,
           "model r(x: f32[1, %lld, %lld, %lld]) {\n"
           "  return y = Resize(x, _, _, [1, %lld, %lld, %lld], mode=\"%s\",\n"
           "                    coordinate_transformation_mode=\"%s\", exclude_outside=%d%s)\n}\n",
           (long long)rc->c, (long long)rc->h, (long long)rc->w, (long long)rc->c,
           (long long)rc->oh, (long long)rc->ow, rc->mode, rc->ctm, rc->exclude, nm);
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1};
  kiln_model *m = compiled(text, &o);
  if (!m) return;
  int stages = count_stages(kiln_model_program(m), "resize");
  if (stages != rc->stages) printf("%s  %d resize stages, want %d\n", text, stages, rc->stages);
  CHECK(stages == rc->stages);
  if (rc->nearest) {
    bool fl = model_has(m, "resize", KX_UNARY, KU_FLOOR);
    if (fl != (rc->floors != 0)) printf("%s  rounds coordinates: %d, want %d\n", text, fl, rc->floors);
    CHECK(fl == (rc->floors != 0));
  }
  int64_t n = rc->c * rc->h * rc->w, on = rc->c * rc->oh * rc->ow;
  float *x = malloc((size_t)n * 4), *y = malloc((size_t)on * 4);
  for (int64_t e = 0; e < n; e++) x[e] = (float)sin((double)e * 0.37) * 3.0f;
  const void *ins[1] = {x};
  void *outs[1] = {y};
  kiln_error err;
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  int bad = 0;
  for (int64_t ch = 0; ch < rc->c; ch++)
    for (int64_t i = 0; i < rc->oh; i++)
      for (int64_t j = 0; j < rc->ow; j++) {
        int64_t hi[4], wi[4];
        double hw[4], ww[4], want = 0;
        int nh = taps(rc, i, rc->h, rc->oh, hi, hw), nw = taps(rc, j, rc->w, rc->ow, wi, ww);
        for (int a = 0; a < nh; a++)
          for (int b = 0; b < nw; b++) want += hw[a] * ww[b] * x[(ch * rc->h + hi[a]) * rc->w + wi[b]];
        float got = y[(ch * rc->oh + i) * rc->ow + j];
        if (fabs(got - want) > 1e-5 * (1 + fabs(want)) && bad++ < 3)
          printf("%s  y[0, %lld, %lld, %lld] = %g, want %g\n", text, (long long)ch, (long long)i,
                 (long long)j, got, want);
      }
  CHECK(bad == 0);
  free(x);
  free(y);
  kiln_model_free(m);
}

int main(void) {
  static const rcase cases[] = {
      /* separable: one stage per resized dim */
      {"linear", "half_pixel", NULL, 3, 5, 7, 20, 28, 0, 2, 0},
      {"linear", "half_pixel", NULL, 4, 32, 32, 128, 128, 0, 2, 0}, /* DeepLab's 4x upsample */
      {"linear", "align_corners", NULL, 2, 9, 6, 17, 11, 0, 2, 0},
      {"linear", "asymmetric", NULL, 2, 8, 8, 8, 20, 0, 1, 0},      /* one dim resized */
      {"linear", "pytorch_half_pixel", NULL, 2, 13, 11, 1, 5, 0, 2, 0},
      {"linear", "half_pixel", NULL, 3, 17, 23, 8, 13, 0, 2, 0},    /* down */
      {"linear", "half_pixel", NULL, 2, 1, 1, 6, 6, 0, 2, 0},       /* from 1x1 */
      {"cubic", "half_pixel", NULL, 2, 9, 7, 22, 10, 0, 2, 0},
      {"cubic", "half_pixel", NULL, 2, 9, 7, 22, 10, 1, 2, 0},      /* exclude_outside */
      {"cubic", "align_corners", NULL, 2, 6, 8, 4, 3, 0, 2, 0},
      /* nearest: one stage, the integer index where it is exact, else coordinates */
      {"nearest", "asymmetric", "floor", 3, 5, 6, 10, 18, 0, 1, 0},
      {"nearest", "half_pixel", "round_prefer_floor", 3, 5, 6, 15, 12, 0, 1, 0},
      {"nearest", "half_pixel", "round_prefer_ceil", 3, 5, 6, 10, 24, 0, 1, 0},
      {"nearest", "pytorch_half_pixel", "round_prefer_floor", 2, 4, 4, 8, 8, 0, 1, 0},
      {"nearest", "half_pixel", "floor", 3, 5, 6, 10, 12, 0, 1, 1},  /* not o / s */
      {"nearest", "asymmetric", "round_prefer_floor", 3, 5, 6, 15, 18, 0, 1, 1},
      {"nearest", "align_corners", "round_prefer_floor", 3, 5, 6, 10, 12, 0, 1, 1},
      {"nearest", "asymmetric", "floor", 3, 5, 6, 7, 9, 0, 1, 1},    /* not integer */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
  return check_report();
}
