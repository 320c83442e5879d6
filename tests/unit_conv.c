/* Conv through the whole pipeline (DSL -> lowering with its zero-padded input copy ->
 * default schedule, register tiles included -> JIT) against a direct convolution written
 * here: padding (asymmetric, auto_pad), kernels 1/3/4/5, strides, dilation, groups and
 * depthwise, tile tails along output channels and width, the flattened form of narrow
 * convs (junk columns cropped, or an output view where there are none), with and without
 * check_bounds (the padded copy, the flattened reads and moved-back tail tiles must stay in
 * bounds), and for the flattened cases also with AVX2's narrower vectors. */
#include "check.h"
#include "conv_check.h"

#include "ir/program.h"
#include "kiln.h"
#include "runtime/profile.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct conv_case {
  int64_t n, c, m, in[2], k[2];    /* in[1]/k[1] = 0: a 1-D conv */
  int64_t pads[4], stride[2], dil[2], group;
  bool bias;
  const char *auto_pad;           /* NULL = explicit pads */
  bool avx2;                      /* also compiled for x86-64-v3 where the host runs it */
} conv_case;

static uint32_t rng = 2024;
static float rndf(void) {
  rng = rng * 1664525u + 1013904223u;
  return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* Output sizes and begin pads of case cs, as ONNX defines them. */
static void geometry(const conv_case *cs, int ns, int64_t *out, int64_t *pb) {
  for (int d = 0; d < ns; d++) {
    int64_t eff = (cs->k[d] - 1) * cs->dil[d] + 1;
    if (cs->auto_pad) { /* SAME_UPPER */
      out[d] = (cs->in[d] + cs->stride[d] - 1) / cs->stride[d];
      int64_t total = (out[d] - 1) * cs->stride[d] + eff - cs->in[d];
      if (total < 0) total = 0;
      pb[d] = total / 2;
    } else {
      pb[d] = cs->pads[d];
      out[d] = floor_div(cs->in[d] + cs->pads[d] + cs->pads[d + ns] - eff, cs->stride[d]) + 1;
    }
  }
}

static void run_case(int idx, const conv_case *cs) {
  int ns = cs->k[1] ? 2 : 1;
  int64_t out[2] = {1, 1}, pb[2] = {0, 0}, in[2] = {cs->in[0], ns == 2 ? cs->in[1] : 1},
          kk[2] = {cs->k[0], ns == 2 ? cs->k[1] : 1}, cg = cs->c / cs->group,
          mg = cs->m / cs->group;
  geometry(cs, ns, out, pb);
  char text[1024] = "", attrs[256] = "";
  if (cs->auto_pad) {
    snprintf(attrs, sizeof attrs, ", auto_pad=\"%s\"", cs->auto_pad);
  } else {
    strcat(attrs, ", pads=");
    conv_ints(attrs, sizeof attrs, cs->pads, 2 * ns);
  }
  strcat(attrs, ", strides=");
  conv_ints(attrs, sizeof attrs, cs->stride, ns);
  strcat(attrs, ", dilations=");
  conv_ints(attrs, sizeof attrs, cs->dil, ns);
  snprintf(attrs + strlen(attrs), sizeof attrs - strlen(attrs), ", group=%lld",
           (long long)cs->group);
  char xs[64], ws[64];
  if (ns == 2) {
    snprintf(xs, sizeof xs, "%lld, %lld, %lld, %lld", (long long)cs->n, (long long)cs->c,
             (long long)in[0], (long long)in[1]);
    snprintf(ws, sizeof ws, "%lld, %lld, %lld, %lld", (long long)cs->m, (long long)cg,
             (long long)kk[0], (long long)kk[1]);
  } else {
    snprintf(xs, sizeof xs, "%lld, %lld, %lld", (long long)cs->n, (long long)cs->c,
             (long long)in[0]);
    snprintf(ws, sizeof ws, "%lld, %lld, %lld", (long long)cs->m, (long long)cg,
             (long long)kk[0]);
  }
  char bs[32] = "";
  if (cs->bias) snprintf(bs, sizeof bs, ", b: f32[%lld]", (long long)cs->m);
  snprintf(text, sizeof text, "model m(x: f32[%s], w: f32[%s]%s) { return y = Conv(x, w%s%s) }",
           xs, ws, bs, cs->bias ? ", b" : "", attrs);

  int64_t nx = cs->n * cs->c * in[0] * in[1], nw = cs->m * cg * kk[0] * kk[1],
          ny = cs->n * cs->m * out[0] * out[1];
  float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw),
        *b = malloc(sizeof(float) * (size_t)cs->m), *y = malloc(sizeof(float) * (size_t)ny);
  double *ref = malloc(sizeof(double) * (size_t)ny), *mag = malloc(sizeof(double) * (size_t)ny);
  for (int64_t i = 0; i < nx; i++) x[i] = rndf();
  for (int64_t i = 0; i < nw; i++) w[i] = rndf();
  for (int64_t i = 0; i < cs->m; i++) b[i] = rndf();
  for (int64_t bn = 0; bn < cs->n; bn++)
    for (int64_t mo = 0; mo < cs->m; mo++)
      for (int64_t o0 = 0; o0 < out[0]; o0++)
        for (int64_t o1 = 0; o1 < out[1]; o1++) {
          double acc = cs->bias ? b[mo] : 0, abs_sum = fabs(acc);
          for (int64_t ci = 0; ci < cg; ci++)
            for (int64_t k0 = 0; k0 < kk[0]; k0++)
              for (int64_t k1 = 0; k1 < kk[1]; k1++) {
                int64_t i0 = o0 * cs->stride[0] - pb[0] + k0 * cs->dil[0];
                int64_t i1 = ns == 2 ? o1 * cs->stride[1] - pb[1] + k1 * cs->dil[1] : 0;
                if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1]) continue;
                int64_t chan = mo / mg * cg + ci;
                double t = (double)x[((bn * cs->c + chan) * in[0] + i0) * in[1] + i1] *
                           w[((mo * cg + ci) * kk[0] + k0) * kk[1] + k1];
                acc += t;
                abs_sum += fabs(t);
              }
          int64_t o = ((bn * cs->m + mo) * out[0] + o0) * out[1] + o1;
          ref[o] = acc;
          mag[o] = abs_sum;
        }

  bool v3 = false;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  v3 = cs->avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  for (int cb = 0; cb < (v3 ? 3 : 2); cb++) { /* 2: check_bounds off, for x86-64-v3 */
    kiln_options opts = {.struct_size = sizeof opts};
    opts.check_bounds = cb == 1;
    opts.cpu = cb == 2 ? "x86-64-v3" : NULL;
    kiln_model *model = NULL;
    kiln_error err;
    CHECK(kiln_compile_buffer(text, strlen(text), &opts, &model, &err) == KILN_OK);
    if (!model) {
      fprintf(stderr, "case %d: %s\n  %s\n", idx, text, err.message);
      continue;
    }
    conv_run_check(model, idx, cb, text, x, w, b, y, ny, ref, mag);
    kiln_model_free(model);
  }
  free(x), free(w), free(b), free(y), free(ref), free(mag);
}

/* The position of the first loop over `axis` (of extent `extent`; 0: any) in the last
 * blocked Conv's "conv" stage of the program the passes make of `model` for `cpu`, and of
 * its first reduction loop; -1 where there is none. Only the passes run: no code. */
static void conv_loops(const char *model, const char *cpu, int axis, int64_t extent, int *at,
                       int *red) {
  *at = *red = -1;
  char path[64];
  snprintf(path, sizeof path, "/tmp/kiln_unit_conv_order_%d.kiln", (int)getpid());
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs(model, f);
  fclose(f);
  kiln_options o = {.struct_size = sizeof o, .cpu = cpu, .num_threads = 1};
  kiln_program *p = NULL;
  kiln_error err = {0};
  CHECK(kiln_program_from_file(path, &o, NULL, &p, &err) == KILN_OK);
  unlink(path);
  const kiln_kernel *ks[16];
  int n = p ? kiln_steps_kernels(&p->main, ks, 16) : 0, last = -1, found = 0;
  for (int i = 0; i < n && i < 16; i++)
    if (!strncmp(ks[i]->op, "ConvBlocked", 11)) last = i;
  for (int j = 0; last >= 0 && j < ks[last]->nstages; j++) {
    const kiln_stage *st = &ks[last]->stages[j];
    if (strcmp(st->name, "conv")) continue;
    found++;
    for (int l = 0; l < st->sched.nloops; l++) {
      const kiln_loop *lp = &st->sched.loops[l];
      if (*at < 0 && lp->axis == axis && (!extent || lp->extent == extent)) *at = l;
      if (*red < 0 && st->axes[lp->axis].reduce) *red = l;
    }
    if (*at < 0 || *red < 0) kiln_kernel_print(ks[last], stderr);
  }
  CHECK(found == 1);
  kiln_program_free(p);
}

/* The default schedule's loop order for a 3x3 Conv of 64 channels at 7x7 in the blocked
 * layout (passes/schedule.c): for AVX2 tiles the input channel blocks go outside the rows
 * (partial sums in the output, each block's weights in L1: Zen 3); for AVX-512 the rows
 * go outside the whole reduction (Zen 5). */
static void reduction_order(void) {
  static const char model[] =
      "model c(x: f32[1, 64, 7, 7]) {\n  param w: f32[64, 64, 3, 3] = he\n"
      "  param v: f32[64, 64, 3, 3] = he\n"
      "  return y = Conv(Relu(Conv(x, w, pads=[1, 1, 1, 1])), v, pads=[1, 1, 1, 1])\n}\n";
  int rows, red; /* the output rows' loop (axis 2), the first reduction's */
  conv_loops(model, "x86-64-v3", 2, 7, &rows, &red);
  CHECK(rows >= 0 && red >= 0 && red < rows);
  conv_loops(model, "x86-64-v4", 2, 7, &rows, &red);
  CHECK(rows >= 0 && red >= 0 && red > rows);
}

/* The default order of a 1x1 Conv of 1024 to 512 channels at 14x14 (2 MB of weights,
 * passes/schedule.c): for AVX2 tiles the output channel blocks go inside the row tiles
 * (each tile's rows stay in L1 across the weight slices: Zen 3); for AVX-512 outside them
 * (each slice stays in L2 across the row tiles: Zen 5). */
static void channel_order(void) {
  static const char model[] = "model c(x: f32[1, 1024, 14, 14]) {\n"
                              "  param w: f32[512, 1024, 1, 1] = he\n"
                              "  return y = Conv(x, w)\n}\n";
  int rows, blocks, red; /* the first loops over the points (axis 2), the blocks (1) */
  conv_loops(model, "x86-64-v3", 2, 0, &rows, &red);
  conv_loops(model, "x86-64-v3", 1, 0, &blocks, &red);
  CHECK(rows >= 0 && blocks > rows);
  conv_loops(model, "x86-64-v4", 2, 0, &rows, &red);
  conv_loops(model, "x86-64-v4", 1, 0, &blocks, &red);
  CHECK(blocks >= 0 && rows > blocks);
}

int main(void) {
  reduction_order();
  channel_order();
  static const conv_case cases[] = {
      /* n  c   m   in        k       pads          stride  dil     group bias */
      {1, 3, 4, {9, 10}, {1, 1}, {1, 0, 0, 2}, {1, 1}, {1, 1}, 1, false, NULL, false},
      {2, 5, 13, {11, 37}, {3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1, true, NULL, false},
      {1, 8, 24, {12, 40}, {3, 3}, {0, 1, 2, 1}, {1, 1}, {1, 1}, 1, false, NULL, false},
      {1, 16, 64, {8, 56}, {3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1, true, NULL, false},
      {1, 4, 6, {14, 17}, {5, 5}, {2, 2, 2, 2}, {1, 1}, {1, 1}, 1, false, NULL, false},
      {1, 6, 8, {15, 33}, {3, 3}, {1, 1, 1, 1}, {2, 2}, {1, 1}, 1, true, NULL, false},
      {1, 6, 6, {16, 35}, {5, 3}, {2, 1, 1, 0}, {2, 1}, {1, 1}, 2, false, NULL, false},
      {1, 8, 10, {9, 21}, {3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 2, true, NULL, false},
      {1, 16, 16, {14, 40}, {3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 16, true, NULL, false},
      {1, 12, 12, {15, 21}, {3, 3}, {1, 1, 1, 1}, {2, 2}, {1, 1}, 12, false, NULL, false},
      {2, 8, 16, {7, 9}, {3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 8, true, NULL, false},
      {1, 4, 20, {13, 35}, {3, 3}, {2, 2, 2, 2}, {1, 1}, {2, 2}, 1, false, NULL, false},
      {1, 3, 5, {10, 19}, {4, 4}, {0}, {1, 1}, {1, 1}, 1, true, "SAME_UPPER", false},
      {1, 3, 5, {11, 8}, {3, 3}, {0, 0, 3, 3}, {1, 1}, {1, 1}, 1, false, NULL, false},
      {1, 64, 32, {20, 24}, {1, 1}, {0, 0, 0, 0}, {2, 2}, {1, 1}, 1, false, NULL, false},
      {1, 5, 7, {17, 41}, {3, 3}, {2, 1, 0, 2}, {2, 2}, {2, 2}, 1, true, NULL, false},
      {1, 3, 9, {19, 44}, {7, 7}, {3, 3, 3, 3}, {3, 2}, {1, 1}, 1, false, NULL, false},
      {1, 4, 8, {50, 0}, {3, 0}, {2, 1}, {1, 0}, {1, 0}, 1, true, NULL, false},
      {1, 6, 6, {47, 0}, {5, 0}, {2, 2}, {2, 0}, {1, 0}, 6, false, NULL, false},
      /* flattened: junk columns cropped (tails along p and m, batch 2, no copy, dilation,
       * depthwise in rows of points, or in one when it is short) */
      {2, 16, 24, {7, 7}, {3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1, true, NULL, true},
      {1, 8, 13, {14, 14}, {3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1, false, NULL, true},
      {1, 12, 20, {28, 28}, {3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1, true, NULL, true},
      {1, 8, 16, {14, 14}, {3, 3}, {1, 1, 1, 1}, {2, 2}, {1, 1}, 1, true, NULL, true},
      {1, 5, 9, {9, 9}, {3, 3}, {0, 0, 0, 0}, {1, 1}, {1, 1}, 1, false, NULL, true},
      {1, 4, 7, {10, 10}, {3, 3}, {2, 2, 2, 2}, {1, 1}, {2, 2}, 1, true, NULL, true},
      {1, 3, 6, {6, 11}, {3, 3}, {1, 0, 2, 1}, {1, 1}, {1, 1}, 1, false, NULL, true},
      {1, 4, 5, {3, 3}, {3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1, true, NULL, true},
      {1, 6, 10, {13, 15}, {5, 5}, {2, 2, 2, 2}, {2, 2}, {1, 1}, 1, false, NULL, true},
      {2, 16, 16, {7, 7}, {3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 16, true, NULL, true},
      {1, 24, 24, {14, 14}, {3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 24, false, NULL, true},
      {1, 8, 8, {4, 5}, {3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 8, true, NULL, true},
      {1, 8, 8, {11, 12}, {3, 3}, {2, 2, 2, 2}, {1, 1}, {2, 2}, 8, true, NULL, true},
      /* flattened, Wc == OW: stored through a view (1x1; strided 1x1 after the phase copy;
       * padding along the height only) */
      {1, 32, 24, {7, 7}, {1, 1}, {0, 0, 0, 0}, {1, 1}, {1, 1}, 1, true, NULL, true},
      {1, 16, 40, {56, 56}, {1, 1}, {0, 0, 0, 0}, {1, 1}, {1, 1}, 1, false, NULL, true},
      {1, 16, 12, {14, 14}, {1, 1}, {0, 0, 0, 0}, {2, 2}, {1, 1}, 1, true, NULL, true},
      {1, 6, 8, {7, 9}, {3, 1}, {1, 0, 1, 0}, {1, 1}, {1, 1}, 1, true, NULL, true},
  };
  for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) run_case(i, &cases[i]);
  return check_report();
}
