/* The layout pass (passes/layout.c): convolution networks in the blocked layout NCHWc.
 * Each model is compiled with the pass and with no_layout (the plain NCHW code, itself
 * checked against onnxruntime by the model tests) and both are run on the same inputs:
 * outputs must agree. The blocked program must take the expected form: which convs are
 * ConvBlocked, how many layout conversions remain (only at the edges of a blocked region).
 * Each case is compiled for this host (AVX-512 here: blocks of 16, or 8 where 16 does not
 * divide the channels) and for x86-64-v3 (AVX2: blocks of 8) where the host runs it, and
 * with check_bounds (every load and store of the generated code tested). The block is a
 * tuning choice of the whole model (ir/choice.h): a log's record gives the model blocks of
 * 8 on AVX-512, or no blocked layout, with the same outputs. */
#include "check.h"

#include "ir/program.h"
#include "ir/tuning_log.h"
#include "kiln.h"
#include "passes/tune.h"
#include "runtime/profile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_IO 4

static int count_ops(const kiln_model *m, const char *op) {
  const kiln_kernel *ks[512];
  int n = kiln_steps_kernels(&kiln_model_program(m)->main, ks, 512), found = 0;
  for (int i = 0; i < n && i < 512; i++) found += strstr(ks[i]->op, op) != NULL;
  return found;
}

static kiln_model *compile(const char *text, kiln_options o) {
  kiln_model *m = NULL;
  kiln_error err;
  if (kiln_compile_buffer(text, strlen(text), &o, &m, &err))
    fprintf(stderr, "%s\n  -> %s\n", text, err.message);
  CHECK(m != NULL);
  return m;
}

/* Runs model m on inputs filled from seed; outputs into outs (allocated). */
static void run(kiln_model *m, float **outs) {
  void *ins[MAX_IO] = {0};
  int ni = kiln_num_inputs(m), no = kiln_num_outputs(m);
  CHECK(ni <= MAX_IO && no <= MAX_IO);
  for (int i = 0; i < ni && i < MAX_IO; i++) {
    kiln_tensor_info t;
    kiln_input_info(m, i, &t);
    float *x = malloc(t.bytes);
    for (size_t e = 0; e < t.bytes / 4; e++) x[e] = (float)sin(e * 0.37 + i) * 2;
    ins[i] = x;
  }
  for (int i = 0; i < no && i < MAX_IO; i++) {
    kiln_tensor_info t;
    kiln_output_info(m, i, &t);
    outs[i] = calloc(1, t.bytes);
  }
  kiln_error err;
  if (kiln_run(m, (const void *const *)ins, (void **)outs, &err)) fprintf(stderr, "%s\n", err.message);
  for (int i = 0; i < MAX_IO; i++) free(ins[i]);
}

/* Compiles text with and without the layout pass (for cpu, NULL = host) and compares.
 * blocked_convs: ConvBlocked kernels expected; conversions: ToBlocked + FromBlocked. */
static void check(const char *text, const char *cpu, int blocked_convs, int conversions) {
  for (int cb = 0; cb < 2; cb++) {
    kiln_options lo = {.struct_size = sizeof lo, .cpu = cpu, .check_bounds = cb}, po = lo;
    po.no_layout = 1;
    kiln_model *a = compile(text, lo), *b = compile(text, po);
    if (!a || !b) goto done;
    int nb = count_ops(a, "ConvBlocked"), nc = count_ops(a, "ToBlocked") + count_ops(a, "FromBlocked");
    if (blocked_convs >= 0 && (nb != blocked_convs || nc != conversions))
      printf("%s\n  %s: %d blocked convs (want %d), %d conversions (want %d)\n", text,
             cpu ? cpu : "host", nb, blocked_convs, nc, conversions);
    CHECK(blocked_convs < 0 || (nb == blocked_convs && nc == conversions));
    CHECK(count_ops(b, "Blocked") == 0);
    float *oa[MAX_IO] = {0}, *ob[MAX_IO] = {0};
    run(a, oa);
    run(b, ob);
    double worst = 0;
    for (int i = 0; i < kiln_num_outputs(a) && i < MAX_IO; i++) {
      kiln_tensor_info t;
      kiln_output_info(a, i, &t);
      for (size_t e = 0; e < t.bytes / 4; e++) {
        double d = fabs((double)oa[i][e] - ob[i][e]) / (1e-3 + fabs(ob[i][e]));
        if (!(d <= worst)) worst = d; /* NaN too */
      }
    }
    if (!(worst <= 1e-4)) printf("%s\n  %s: relative difference %g\n", text, cpu ? cpu : "host", worst);
    CHECK(worst <= 1e-4);
    for (int i = 0; i < MAX_IO; i++) free(oa[i]), free(ob[i]);
  done:
    kiln_model_free(a);
    kiln_model_free(b);
  }
}

static const struct {
  const char *text;
  int convs, conversions; /* AVX-512 (blocks of 16) */
  int convs8, conversions8; /* AVX2 (blocks of 8) */
} cases[] = {
    /* a ResNet stem and block: the first conv reads the plain input; pooling, the residual
     * add and global pooling stay blocked; one conversion at the end */
    {"model m(x: f32[1, 3, 20, 20]) {\n"
     "  param w1: f32[16, 3, 7, 7] = normal(0, 0.3)\n  param b1: f32[16] = normal(0, 0.3)\n"
     "  param w2: f32[16, 16, 3, 3] = normal(0, 0.3)\n  param w3: f32[16, 16, 3, 3] = normal(0, 0.3)\n"
     "  a = MaxPool(Relu(Conv(x, w1, b1, pads=[3, 3, 3, 3], strides=[2, 2])), kernel_shape=[3, 3], "
     "strides=[2, 2], pads=[1, 1, 1, 1])\n"
     "  c = Relu(Conv(Relu(Conv(a, w2, pads=[1, 1, 1, 1])), w3, pads=[1, 1, 1, 1]) + a)\n"
     "  return y = GlobalAveragePool(c)\n}\n",
     3, 1, 3, 1},
    /* MobileNet's inverted residual: 1x1 expand, depthwise 3x3 (stride 1, then 2), 1x1
     * project, Clip; 24 channels are blocks of 8 */
    {"model m(x: f32[1, 24, 13, 13]) {\n"
     "  param e: f32[96, 24, 1, 1] = normal(0, 0.3)\n  param d: f32[96, 1, 3, 3] = normal(0, 0.3)\n"
     "  param db: f32[96] = normal(0, 0.3)\n  param p: f32[24, 96, 1, 1] = normal(0, 0.3)\n"
     "  param d2: f32[24, 1, 3, 3] = normal(0, 0.3)\n"
     "  h = Clip(Conv(x, e), 0.0, 6.0)\n"
     "  g = Clip(Conv(h, d, db, pads=[1, 1, 1, 1], group=96), 0.0, 6.0)\n"
     "  r = Conv(g, p) + x\n"
     "  return y = Conv(r, d2, pads=[0, 1, 1, 0], strides=[2, 2], group=24)\n}\n",
     4, 2, 4, 2},
    /* dilation, asymmetric pads, an output that is also read, Sigmoid and a scalar */
    {"model m(x: f32[2, 8, 11, 9]) {\n"
     "  param w: f32[32, 8, 3, 2] = normal(0, 0.3)\n  param v: f32[16, 32, 1, 1] = normal(0, 0.3)\n"
     "  a = Sigmoid(Conv(x, w, pads=[2, 0, 1, 1], dilations=[2, 3])) * 0.5\n"
     "  return a, y = AveragePool(Conv(a, v), kernel_shape=[3, 3], pads=[1, 1, 1, 1], "
     "ceil_mode=1, strides=[2, 2])\n}\n",
     2, 2, 2, 2},
    /* Inception's branches joined along channels (axis -3) stay blocked */
    {"model m(x: f32[1, 16, 8, 8]) {\n"
     "  param w1: f32[16, 16, 1, 1] = normal(0, 0.3)\n  param w2: f32[32, 16, 3, 3] = normal(0, 0.3)\n"
     "  param w3: f32[16, 48, 1, 1] = normal(0, 0.3)\n"
     "  c = Concat(Relu(Conv(x, w1)), Relu(Conv(x, w2, pads=[1, 1, 1, 1])), axis=-3)\n"
     "  return y = Conv(MaxPool(c, kernel_shape=[2, 2], strides=[2, 2]), w3)\n}\n",
     3, 1, 3, 1},
    /* squeeze-excite: a [1, C, 1, 1] scale (blocked, and a plain input converted) times
     * the feature map broadcasts in the blocked layout too */
    {"model m(x: f32[1, 16, 6, 6], g: f32[1, 32, 1, 1]) {\n"
     "  param w1: f32[32, 16, 3, 3] = normal(0, 0.3)\n  param w2: f32[32, 32, 1, 1] = normal(0, 0.3)\n"
     "  param w3: f32[16, 32, 1, 1] = normal(0, 0.3)\n"
     "  c = Relu(Conv(x, w1, pads=[1, 1, 1, 1]))\n"
     "  s = Sigmoid(Conv(GlobalAveragePool(c), w2))\n"
     "  return y = Conv(c * s * g, w3)\n}\n",
     3, 2, 3, 2},
    /* channels that are no multiple of 8 stay plain, and so does a grouped conv whose
     * groups' output channels are not whole blocks (AVX-512's 16; AVX2's 8 are, and its
     * plain input is read as blocks of one channel) */
    {"model m(x: f32[1, 12, 6, 6]) {\n"
     "  param w: f32[12, 12, 3, 3] = normal(0, 0.3)\n  param g: f32[16, 6, 1, 1] = normal(0, 0.3)\n"
     "  return y = Conv(Relu(Conv(x, w, pads=[1, 1, 1, 1])), g, group=2)\n}\n",
     0, 0, 1, 1},
    /* a grouped conv (ResNeXt) whose groups are whole blocks: 2 groups of 32 channels;
     * with 4 groups of 16 output channels only AVX2's blocks of 8 fit, AVX-512 converts */
    {"model m(x: f32[1, 64, 7, 7]) {\n"
     "  param a: f32[64, 64, 1, 1] = normal(0, 0.2)\n  param b: f32[64, 32, 3, 3] = normal(0, 0.2)\n"
     "  param c: f32[32, 16, 3, 3] = normal(0, 0.2)\n"
     "  h = Relu(Conv(Relu(Conv(x, a)), b, pads=[1, 1, 1, 1], group=2))\n"
     "  return y = Conv(h, c, strides=[2, 2], group=4)\n}\n",
     2, 1, 3, 1},
    /* auto_pad (SAME_UPPER on a strided 5x5, SAME_LOWER on a dilated depthwise), a
     * window wider than the input along one dim */
    {"model m(x: f32[1, 8, 9, 4]) {\n"
     "  param w: f32[16, 8, 5, 5] = normal(0, 0.3)\n  param d: f32[16, 1, 3, 3] = normal(0, 0.3)\n"
     "  param v: f32[16, 16, 1, 7] = normal(0, 0.3)\n"
     "  a = Conv(x, w, auto_pad=\"SAME_UPPER\", strides=[2, 2])\n"
     "  b = Conv(a, d, auto_pad=\"SAME_LOWER\", dilations=[2, 2], group=16)\n"
     "  return y = Conv(b, v, pads=[0, 3, 0, 3])\n}\n",
     3, 1, 3, 1},
    /* a plain operand of the same shape is converted (the residual from the input) */
    {"model m(x: f32[1, 32, 5, 5]) {\n"
     "  param w: f32[32, 32, 3, 3] = normal(0, 0.3)\n"
     "  return y = Relu(Conv(x, w, pads=[1, 1, 1, 1]) + x)\n}\n",
     1, 2, 1, 2},
};

/* The model's block as its layout choice point says: vf (the default) on cpu's vectors
 * of vf floats, then 8 (below 16) and none through a tuning log, each compared with the
 * plain model (`blocked` ConvBlocked kernels expected with each block but none). */
static void block_choice(const char *text, const char *cpu, int vf, int blocked) {
  kiln_options o = {.struct_size = sizeof o, .cpu = cpu};
  kiln_model *m = compile(text, o);
  if (!m) return;
  const kiln_choices *cs = &kiln_model_program(m)->choices;
  CHECK(cs->n == 1);
  if (cs->n != 1) goto done;
  kiln_choice c = cs->items[0];
  CHECK(!strcmp(c.what, "layout") && c.whole && c.def == vf && c.value == vf && !c.from_log);
  CHECK(c.nvalues == (vf > 8 ? 3 : 2) && c.values[c.nvalues - 1] == 0);
  CHECK(!strcmp(c.node, "Conv_0") && !strcmp(c.op, "Conv"));
  kiln_tuning_target t;
  kiln_tuning_target_of(&o, &t);
  char *path = kiln_fmt("/tmp/kiln_unit_layout_%d.log", (int)getpid());
  for (int v = 1; v < c.nvalues; v++) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) break;
    kiln_tuning_record r;
    kiln_tuning_choice_init(&r, c.key, "layout", "Conv", c.values[v], vf, &t, 1, 2);
    kiln_tuning_record_write(&r, f);
    kiln_tuning_record_clear(&r);
    fclose(f);
    kiln_options lo = o, po = o;
    lo.tuning_log = path;
    po.no_layout = 1;
    kiln_model *a = compile(text, lo), *b = compile(text, po);
    if (a && b) {
      const kiln_choice *got = &kiln_model_program(a)->choices.items[0];
      CHECK(got->from_log && got->value == c.values[v]);
      CHECK(count_ops(a, "ConvBlocked") == (c.values[v] ? blocked : 0));
      CHECK(count_ops(b, "Blocked") == 0);
      float *oa[MAX_IO] = {0}, *ob[MAX_IO] = {0};
      run(a, oa);
      run(b, ob);
      kiln_tensor_info ti;
      kiln_output_info(a, 0, &ti);
      double worst = 0;
      for (size_t e = 0; e < ti.bytes / 4; e++) {
        double d = fabs((double)oa[0][e] - ob[0][e]) / (1e-3 + fabs(ob[0][e]));
        if (!(d <= worst)) worst = d;
      }
      CHECK(worst <= 1e-4);
      for (int i = 0; i < MAX_IO; i++) free(oa[i]), free(ob[i]);
    }
    kiln_model_free(a);
    kiln_model_free(b);
  }
  unlink(path);
  free(path);
  kiln_tuning_target_clear(&t);
done:
  kiln_model_free(m);
}

int main(void) {
  bool v3 = false, v4 = false;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#endif
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (v4) check(cases[i].text, "x86-64-v4", cases[i].convs, cases[i].conversions);
    if (v3) check(cases[i].text, "x86-64-v3", cases[i].convs8, cases[i].conversions8);
    if (!v3) check(cases[i].text, NULL, -1, -1); /* other hosts: outputs only */
  }
  if (v4) block_choice(cases[0].text, "x86-64-v4", 16, cases[0].convs8);
  if (v3) block_choice(cases[0].text, "x86-64-v3", 8, cases[0].convs8);
  return check_report();
}
