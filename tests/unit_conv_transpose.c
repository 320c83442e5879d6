/* ConvTranspose through the whole pipeline against a reference written here in the
 * scatter form (each input point adds its kernel window, times its value, to the output;
 * the opposite of both lowerings' gather). Cases cover the GEMM form (ir/ops/
 * conv_transpose.c: strides 1-3, kernels narrower and wider than their strides, pads,
 * output_padding, groups, batch 2, 1-D, 2-D and 3-D) and the gather form it leaves
 * dilations to; each is compiled with and without check_bounds, and the test asserts which
 * form each case took, and that phases storing every stride-th point unroll their taps. */
#include "check.h"
#include "conv_check.h"

#include "ir/program.h"
#include "kiln.h"
#include "runtime/profile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_MAX 3

typedef struct convt_case {
  int ns;
  int64_t n, c, m, group, in[NS_MAX], k[NS_MAX], stride[NS_MAX], dil[NS_MAX];
  int64_t pads[2 * NS_MAX], opad[NS_MAX];
  bool bias, gemm; /* gemm: the GEMM form is expected */
} convt_case;

static uint32_t rng = 7;
static float rndf(void) {
  rng = rng * 1664525u + 1013904223u;
  return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static int64_t prod(const int64_t *v, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) p *= v[i];
  return p;
}

/* Does the compiled program lower its ConvTranspose to a GEMM stage? */
static bool took_gemm(const kiln_model *m) {
  const kiln_kernel *ks[16];
  int n = kiln_steps_kernels(&kiln_model_program(m)->main, ks, 16);
  for (int i = 0; i < n && i < 16; i++)
    for (int j = 0; j < ks[i]->nstages; j++)
      if (!strcmp(ks[i]->stages[j].name, "convt_gemm")) return true;
  return false;
}

/* Are the tap loops of its phases (their reductions) unrolled, as the default scheduler
 * unrolls a few taps inside a spatial loop the loads stream along (passes/schedule.c)? */
static bool taps_unrolled(const kiln_model *m) {
  const kiln_kernel *ks[16];
  int n = kiln_steps_kernels(&kiln_model_program(m)->main, ks, 16);
  for (int i = 0; i < n && i < 16; i++)
    for (int j = 0; j < ks[i]->nstages; j++) {
      const kiln_stage *s = &ks[i]->stages[j];
      if (strcmp(s->name, "convt_phase")) continue;
      for (int l = 0; l < s->sched.nloops; l++)
        if (s->axes[s->sched.loops[l].axis].reduce && s->sched.loops[l].kind != KILN_LOOP_UNROLL)
          return false;
    }
  return true;
}

static void run_case(int idx, const convt_case *cs) {
  int ns = cs->ns;
  int64_t cg = cs->c / cs->group, mg = cs->m / cs->group, out[NS_MAX], kk = prod(cs->k, ns);
  for (int d = 0; d < ns; d++)
    out[d] = cs->stride[d] * (cs->in[d] - 1) + cs->opad[d] + (cs->k[d] - 1) * cs->dil[d] + 1 -
             cs->pads[d] - cs->pads[d + ns];
  int64_t xd[2 + NS_MAX] = {cs->n, cs->c}, wd[2 + NS_MAX] = {cs->c, mg};
  for (int d = 0; d < ns; d++) xd[2 + d] = cs->in[d], wd[2 + d] = cs->k[d];
  char xs[96] = "", ws[96] = "", attrs[256] = ", pads=", text[1024];
  conv_ints(xs, sizeof xs, xd, 2 + ns);
  conv_ints(ws, sizeof ws, wd, 2 + ns);
  conv_ints(attrs, sizeof attrs, cs->pads, 2 * ns);
  strcat(attrs, ", strides=");
  conv_ints(attrs, sizeof attrs, cs->stride, ns);
  strcat(attrs, ", dilations=");
  conv_ints(attrs, sizeof attrs, cs->dil, ns);
  strcat(attrs, ", output_padding=");
  conv_ints(attrs, sizeof attrs, cs->opad, ns);
  snprintf(attrs + strlen(attrs), sizeof attrs - strlen(attrs), ", group=%lld",
           (long long)cs->group);
  char bs[32] = "";
  if (cs->bias) snprintf(bs, sizeof bs, ", b: f32[%lld]", (long long)cs->m);
  snprintf(text, sizeof text,
           "model m(x: f32%s, w: f32%s%s) { return y = ConvTranspose(x, w%s%s) }", xs, ws, bs,
           cs->bias ? ", b" : "", attrs);

  int64_t pin = prod(cs->in, ns), pout = prod(out, ns);
  int64_t nx = cs->n * cs->c * pin, nw = cs->c * mg * kk, ny = cs->n * cs->m * pout;
  float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw),
        *b = malloc(sizeof(float) * (size_t)cs->m), *y = malloc(sizeof(float) * (size_t)ny);
  double *ref = calloc((size_t)ny, sizeof(double)), *mag = calloc((size_t)ny, sizeof(double));
  for (int64_t i = 0; i < nx; i++) x[i] = rndf();
  for (int64_t i = 0; i < nw; i++) w[i] = rndf();
  for (int64_t i = 0; i < cs->m; i++) b[i] = rndf();
  /* scatter: input point i and kernel offset k reach output i * stride - pad + k * dil */
  for (int64_t bn = 0; bn < cs->n; bn++)
    for (int64_t ch = 0; ch < cs->c; ch++)
      for (int64_t p = 0; p < pin; p++)
        for (int64_t mo = 0; mo < mg; mo++)
          for (int64_t kf = 0; kf < kk; kf++) {
            int64_t o = 0, rp = p, rk = kf, ok = 1, ipos[NS_MAX], kpos[NS_MAX];
            for (int d = ns - 1; d >= 0; d--) {
              ipos[d] = rp % cs->in[d], rp /= cs->in[d];
              kpos[d] = rk % cs->k[d], rk /= cs->k[d];
            }
            for (int d = 0; d < ns; d++) {
              int64_t od = ipos[d] * cs->stride[d] - cs->pads[d] + kpos[d] * cs->dil[d];
              ok &= od >= 0 && od < out[d];
              o = o * out[d] + od;
            }
            if (!ok) continue;
            int64_t mm = ch / cg * mg + mo, at = (bn * cs->m + mm) * pout + o;
            double t = (double)x[(bn * cs->c + ch) * pin + p] * w[(ch * mg + mo) * kk + kf];
            ref[at] += t;
            mag[at] += fabs(t);
          }
  for (int64_t i = 0; cs->bias && i < ny; i++) {
    ref[i] += b[i / pout % cs->m];
    mag[i] += fabs(b[i / pout % cs->m]);
  }
  for (int cb = 0; cb < 2; cb++) {
    kiln_options opts = {.struct_size = sizeof opts, .check_bounds = cb == 1, .num_threads = 1};
    kiln_model *model = NULL;
    kiln_error err;
    CHECK(kiln_compile_buffer(text, strlen(text), &opts, &model, &err) == KILN_OK);
    if (!model) {
      fprintf(stderr, "case %d: %s\n  %s\n", idx, text, err.message);
      continue;
    }
    if (took_gemm(model) != cs->gemm)
      fprintf(stderr, "case %d: %s\n  expected the %s form\n", idx, text,
              cs->gemm ? "GEMM" : "gather");
    CHECK(took_gemm(model) == cs->gemm);
    bool strided = cs->gemm && cs->stride[ns - 1] > 1; /* phases store every stride-th point */
    if (strided && !taps_unrolled(model)) fprintf(stderr, "case %d: taps not unrolled\n", idx);
    CHECK(!strided || taps_unrolled(model));
    conv_run_check(model, idx, cb, text, x, w, b, y, ny, ref, mag);
    kiln_model_free(model);
  }
  free(x), free(w), free(b), free(y), free(ref), free(mag);
}

int main(void) {
  static const convt_case cases[] = {
      /* ns, n, c, m, group, in, k, stride, dil, pads, output_padding, bias, GEMM form */
      {2, 1, 16, 8, 1, {8, 8}, {2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}, {0, 0}, true, true},
      {2, 2, 12, 6, 1, {7, 5}, {4, 4}, {2, 2}, {1, 1}, {1, 1, 1, 1}, {0, 0}, false, true},
      {2, 1, 8, 10, 2, {5, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, {1, 1}, true, true},
      {2, 1, 6, 4, 1, {6, 4}, {3, 2}, {3, 1}, {1, 1}, {0, 1, 2, 0}, {2, 0}, true, true},
      {2, 1, 5, 3, 1, {4, 4}, {1, 1}, {3, 3}, {1, 1}, {0, 0, 0, 0}, {1, 2}, true, true},
      {2, 1, 4, 4, 1, {5, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, {0, 0}, true, true},
      {2, 1, 4, 6, 1, {5, 5}, {3, 3}, {2, 2}, {2, 2}, {1, 1, 1, 1}, {0, 0}, true, false},
      {1, 2, 8, 5, 1, {11}, {5}, {3}, {1}, {2, 1}, {1}, true, true},
      {1, 1, 6, 6, 3, {9}, {2}, {4}, {1}, {0, 0}, {3}, false, true},
      {3, 1, 4, 6, 2, {3, 4, 5}, {2, 3, 3}, {2, 1, 2}, {1, 1, 1}, {0, 1, 1, 0, 1, 0}, {0, 0, 1},
       true, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case((int)i, &cases[i]);
  return check_report();
}
