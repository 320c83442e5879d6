/* Fusion (passes/fuse.c): elementwise chains and epilogues fold into their producer's
 * kernel. Each model is compiled fused and with no_fuse; the test checks the kernel
 * counts and that both compute the same outputs. Cases that must not fuse (an intermediate
 * that is a graph output, a consumer that broadcasts or transposes its input) keep their
 * kernels. A producer writing through a view with merged dims (N, C, H*W) is built by
 * hand and run with the kernel-IR interpreter, fused and not. */
#include "check.h"

#include "ir/graph.h"
#include "ir/interp.h"
#include "ir/kernel_sig.h"
#include "kiln.h"
#include "passes/passes.h"
#include "runtime/profile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IO 4

static kiln_model *compile(const char *text, bool fuse) {
  kiln_options o = {.struct_size = sizeof o, .no_fuse = !fuse, .no_layout = 1}; /* fusion alone (unit_layout: layout) */
  kiln_model *m = NULL;
  kiln_error err;
  if (kiln_compile_buffer(text, strlen(text), &o, &m, &err))
    fprintf(stderr, "%s\n  -> %s\n", text, err.message);
  CHECK(m != NULL);
  return m;
}

static int count_kernels(const kiln_model *m, const char *op) {
  const kiln_kernel *ks[256];
  int n = kiln_steps_kernels(&kiln_model_program(m)->main, ks, 256), found = 0;
  for (int i = 0; i < n && i < 256; i++) found += op && strcmp(ks[i]->op, op) == 0;
  return op ? found : n;
}

/* Compiles text fused and unfused: `fused` and `unfused` kernels, equal f32 outputs. When
 * op is given, the fused program has a kernel computing exactly that. */
static void check_model(const char *text, int fused, int unfused, const char *op) {
  kiln_model *a = compile(text, true), *b = compile(text, false);
  if (!a || !b) goto done;
  int na = count_kernels(a, NULL), nb = count_kernels(b, NULL);
  if (na != fused || nb != unfused)
    printf("%s\n  kernels: %d fused (want %d), %d unfused (want %d)\n", text, na, fused, nb, unfused);
  CHECK(na == fused && nb == unfused);
  if (op) CHECK(count_kernels(a, op) == 1);
  void *ins[MAX_IO] = {0}, *oa[MAX_IO] = {0}, *ob[MAX_IO] = {0};
  int ni = kiln_num_inputs(a), no = kiln_num_outputs(a);
  CHECK(ni <= MAX_IO && no <= MAX_IO);
  for (int i = 0; i < ni && i < MAX_IO; i++) {
    kiln_tensor_info t;
    kiln_input_info(a, i, &t);
    float *x = malloc(t.bytes);
    for (size_t e = 0; e < t.bytes / 4; e++) x[e] = (float)sin(e * 0.37 + i);
    ins[i] = x;
  }
  for (int i = 0; i < no && i < MAX_IO; i++) {
    kiln_tensor_info t;
    kiln_output_info(a, i, &t);
    oa[i] = calloc(1, t.bytes);
    ob[i] = calloc(1, t.bytes);
  }
  kiln_error err;
  CHECK(kiln_run(a, (const void *const *)ins, oa, &err) == KILN_OK);
  CHECK(kiln_run(b, (const void *const *)ins, ob, &err) == KILN_OK);
  double worst = 0;
  for (int i = 0; i < no && i < MAX_IO; i++) {
    kiln_tensor_info t;
    kiln_output_info(a, i, &t);
    const float *ya = oa[i], *yb = ob[i];
    for (size_t e = 0; e < t.bytes / 4; e++) {
      double d = fabs((double)ya[e] - yb[e]) / (1e-3 + fabs(yb[e]));
      if (d > worst) worst = d;
    }
  }
  if (worst > 1e-5) printf("%s\n  relative difference %g\n", text, worst);
  CHECK(worst <= 1e-5);
  for (int i = 0; i < MAX_IO; i++) free(ins[i]), free(oa[i]), free(ob[i]);
done:
  kiln_model_free(a);
  kiln_model_free(b);
}

/* A Gather fused after a Cast keeps its index check: an index out of range still fails
 * the run naming the Gather. */
static void check_gather(void) {
  const char *text = "model m(d: f32[10], i: f32[4]) {\n"
                     "  return y = Gather(d, Cast(i * 4.0, to=7))\n}\n";
  kiln_model *m = compile(text, true);
  if (!m) return;
  CHECK(count_kernels(m, NULL) == 1 && count_kernels(m, "Mul+Cast+Gather") == 1);
  float d[10], i[4] = {0.5f, 2.0f, -1.0f, 1.0f}, y[4];
  for (int e = 0; e < 10; e++) d[e] = (float)e * 10;
  const void *ins[2] = {d, i};
  void *outs[1] = {y};
  kiln_error err;
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  CHECK(y[0] == 20 && y[1] == 80 && y[2] == 60 && y[3] == 40);
  i[1] = 3.0f; /* index 12 */
  CHECK(kiln_run(m, ins, outs, &err) == KILN_ERR_INVALID_INPUT);
  CHECK(strstr(err.message, "Gather") != NULL);
  kiln_model_free(m);
}

/* Fused kernels share code only where their epilogues agree: the signature covers post. */
static void check_signatures(void) {
  const char *text = "model m(a: f32[4, 8]) {\n"
                     "  param w1: f32[8, 8] = normal(0, 0.5)\n"
                     "  param w2: f32[8, 8] = normal(0, 0.5)\n"
                     "  param w3: f32[8, 8] = normal(0, 0.5)\n"
                     "  g = Sigmoid(MatMul(Relu(MatMul(a, w1)), w2))\n"
                     "  return y = Relu(MatMul(g, w3))\n}\n";
  kiln_model *m = compile(text, true);
  if (!m) return;
  const kiln_kernel *ks[4];
  CHECK(kiln_steps_kernels(&kiln_model_program(m)->main, ks, 4) == 3);
  size_t len[3];
  char *sig[3];
  for (int i = 0; i < 3; i++) sig[i] = kiln_kernel_signature(ks[i], &len[i]);
  CHECK(len[0] == len[2] && memcmp(sig[0], sig[2], len[0]) == 0); /* MatMul+Relu twice */
  CHECK(len[0] != len[1] || memcmp(sig[0], sig[1], len[0]) != 0); /* MatMul+Sigmoid */
  for (int i = 0; i < 3; i++) free(sig[i]);
  kiln_model_free(m);
}

/* ---- a producer writing through a merged view (by hand, run by the interpreter) --------- */

enum { N = 2, C = 3, H = 4, W = 5, HW = H * W, NUMEL = N * C * HW };

/* K1: y[n, c, hw] = x[n, c, hw] * 2, over 3-D views of the 4-D values x and y. */
static kiln_kernel *merged_producer(int x, int y) {
  kiln_kernel *k = kiln_kernel_new("k1");
  k->op = "Double";
  int64_t d3[3] = {N, C, HW};
  int xb = kiln_kernel_add_buffer(k, "x", KILN_BUF_INPUT, x, KILN_F32, 3, d3);
  int yb = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, y, KILN_F32, 3, d3);
  kiln_stage *s = kiln_kernel_add_stage(k, "double", yb);
  kiln_expr *v[3];
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, d3[d], false));
  kiln_stage_store(k, s, v, kx_binary(k, KB_MUL, kx_load(k, xb, v), kx_const_f(k, KILN_F32, 2)));
  return k;
}

/* K2: z[n, c, h, w] = y[n, c, h, w] + other, other loaded by `how`. */
typedef enum { BIAS_C, RESIDUAL, BIAS_W, TRANSPOSED_HW } other_load;

static kiln_kernel *consumer(int y, int o, int z, other_load how) {
  kiln_kernel *k = kiln_kernel_new("k2");
  k->op = "Add";
  int64_t d4[4] = {N, C, H, W}, dc[3] = {C, 1, 1}, dw[1] = {W}, dt[4] = {N, C, W, H};
  int yb = kiln_kernel_add_buffer(k, "y", KILN_BUF_INPUT, y, KILN_F32, 4, d4);
  int ob = how == BIAS_C   ? kiln_kernel_add_buffer(k, "o", KILN_BUF_INPUT, o, KILN_F32, 3, dc)
           : how == BIAS_W ? kiln_kernel_add_buffer(k, "o", KILN_BUF_INPUT, o, KILN_F32, 1, dw)
           : how == RESIDUAL ? kiln_kernel_add_buffer(k, "o", KILN_BUF_INPUT, o, KILN_F32, 4, d4)
                             : kiln_kernel_add_buffer(k, "o", KILN_BUF_INPUT, o, KILN_F32, 4, dt);
  int zb = kiln_kernel_add_buffer(k, "z", KILN_BUF_OUTPUT, z, KILN_F32, 4, d4);
  kiln_stage *s = kiln_kernel_add_stage(k, "add", zb);
  kiln_expr *v[4], *oi[4];
  for (int d = 0; d < 4; d++) v[d] = kx_var(k, kiln_stage_axis(s, d4[d], false));
  kiln_expr *other;
  if (how == BIAS_C) {
    oi[0] = v[1], oi[1] = oi[2] = kx_idx(k, 0);
    other = kx_load(k, ob, oi);
  } else if (how == BIAS_W) {
    other = kx_load(k, ob, &v[3]);
  } else if (how == RESIDUAL) {
    other = kx_load(k, ob, v);
  } else {
    oi[0] = v[0], oi[1] = v[1], oi[2] = v[3], oi[3] = v[2];
    other = kx_load(k, ob, oi);
  }
  kiln_stage_store(k, s, v, kx_binary(k, KB_ADD, kx_load(k, yb, v), other));
  return k;
}

/* Runs the program's kernels with the interpreter; data[value] holds every value. */
static void interp_program(const kiln_program *p, float **data) {
  for (int i = 0; i < p->main.n; i++) {
    const kiln_kernel *k = p->main.steps[i].kernel;
    void *bufs[KILN_MAX_BUFS];
    for (int b = 0; b < k->nbufs; b++) bufs[b] = k->bufs[b].value >= 0 ? data[k->bufs[b].value] : NULL;
    kiln_error err;
    CHECK(kiln_interp_run(k, bufs, &err) == KILN_OK);
  }
}

static void check_merged(other_load how, bool fuses) {
  kiln_graph *g = kiln_graph_new();
  int x = kiln_graph_add_value(g, "x"), o = kiln_graph_add_value(g, "o");
  int y = kiln_graph_add_value(g, "y"), z = kiln_graph_add_value(g, "z");
  g->main.outputs = kiln_xmalloc(sizeof(int));
  g->main.outputs[g->main.noutputs++] = z;
  kiln_program *p[2];
  float *data[2][4];
  for (int f = 0; f < 2; f++) {
    p[f] = kiln_program_new();
    kiln_steps_add(&p[f]->main, KILN_STEP_KERNEL)->kernel = merged_producer(x, y);
    kiln_steps_add(&p[f]->main, KILN_STEP_KERNEL)->kernel = consumer(y, o, z, how);
    if (f) kiln_pass_fuse(g, p[f]);
    for (int v = 0; v < 4; v++) {
      data[f][v] = calloc(NUMEL, sizeof(float));
      for (int e = 0; e < NUMEL; e++) data[f][v][e] = (float)sin(e * 0.7 + v);
    }
    interp_program(p[f], data[f]);
  }
  CHECK(p[0]->main.n == 2 && p[1]->main.n == (fuses ? 1 : 2));
  if (fuses && p[1]->main.n == 1) CHECK(strcmp(p[1]->main.steps[0].kernel->op, "Double+Add") == 0);
  for (int e = 0; e < NUMEL; e++) CHECK(data[0][z][e] == data[1][z][e]);
  for (int f = 0; f < 2; f++) {
    kiln_program_free(p[f]);
    for (int v = 0; v < 4; v++) free(data[f][v]);
  }
  kiln_graph_free(g);
}

int main(void) {
  check_model("model m(x: f32[1, 3, 8, 8]) {\n"
              "  param w: f32[4, 3, 3, 3] = normal(0, 0.5)\n"
              "  param b: f32[4] = normal(0, 0.5)\n"
              "  return y = Relu(Conv(x, w, b, pads=[1, 1, 1, 1]))\n}\n",
              1, 2, "Conv+Relu");
  check_model("model m(x: f32[1, 4, 6, 6], r: f32[1, 4, 6, 6]) {\n"
              "  param w: f32[4, 4, 3, 3] = normal(0, 0.5)\n"
              "  param b: f32[4] = normal(0, 0.5)\n"
              "  return y = Relu(Conv(x, w, b, pads=[1, 1, 1, 1]) + r)\n}\n",
              1, 3, "Conv+Add+Relu");
  /* a residual along the 49 flattened points of a 7x7 1x1 Conv (more than one register
   * tile, not a whole number of them) stays out of the conv; 8x8 (64 points) fuses */
  check_model("model m(x: f32[1, 8, 7, 7], r: f32[1, 16, 7, 7]) {\n"
              "  param w: f32[16, 8, 1, 1] = normal(0, 0.5)\n"
              "  return y = Relu(Conv(x, w) + r)\n}\n",
              2, 3, "Add+Relu");
  check_model("model m(x: f32[1, 8, 8, 8], r: f32[1, 16, 8, 8]) {\n"
              "  param w: f32[16, 8, 1, 1] = normal(0, 0.5)\n"
              "  return y = Relu(Conv(x, w) + r)\n}\n",
              1, 3, "Conv+Add+Relu");
  check_model("model m(a: f32[8, 16]) {\n"
              "  param w: f32[16, 12] = normal(0, 0.5)\n"
              "  param b: f32[12] = normal(0, 0.5)\n"
              "  return y = Relu(MatMul(a, w) + b)\n}\n",
              1, 3, "MatMul+Add+Relu");
  /* w an input, so that no target packs it into panels (24 columns are a panel and a
   * half of AVX2's 16: two stages, which fusion leaves alone) */
  check_model("model m(a: f32[5, 16], w: f32[24, 16]) {\n"
              "  param c: f32[24] = normal(0, 0.5)\n"
              "  return y = Clip(Gemm(a, w, c, transB=1), 0.0, 0.5)\n}\n",
              1, 2, "Gemm+Clip");
  /* Gelu: h feeds Div and the Mul, so the Div/Erf/Add chain fuses first, then the Muls,
   * then the whole of it into the MatMul once h has one reader left; a whole panel wide
   * (32 columns), the MatMul reads packed weights and stores column panel * 32 + lane */
  check_model("model m(a: f32[6, 16]) {\n"
              "  param w: f32[16, 32] = normal(0, 0.5)\n"
              "  param b: f32[32] = normal(0, 0.5)\n"
              "  h = MatMul(a, w) + b\n"
              "  return y = h * (1.0 + Erf(h / 1.4142135623730951)) * 0.5\n}\n",
              1, 7, "MatMulPanels+Add+Div+Erf+Add+Mul+Mul");
  /* a chain of 12 Sigmoids after a MatMul: the register tile's epilogue stops at
   * KILN_MAX_EPILOGUE_COST (each of its points is a copy of it: a long one took LLVM
   * minutes), the rest is one elementwise kernel */
  {
    char text[2048];
    int len = snprintf(text, sizeof text, "model m(a: f32[6, 16]) {\n"
                                          "  param w: f32[16, 32] = normal(0, 0.5)\n  return y = ");
    for (int i = 0; i < 12; i++) len += snprintf(text + len, sizeof text - (size_t)len, "Sigmoid(");
    len += snprintf(text + len, sizeof text - (size_t)len, "MatMul(a, w)");
    for (int i = 0; i < 12; i++) len += snprintf(text + len, sizeof text - (size_t)len, ")");
    snprintf(text + len, sizeof text - (size_t)len, "\n}\n");
    check_model(text, 2, 13, NULL);
  }
  /* a reduction with keepdims writes y[i, 0]: its epilogue takes the Add and the Sqrt */
  check_model("model m(x: f32[4, 8]) { return y = Sqrt(ReduceMean(x, [1]) + 1.0) }\n", 1, 3,
              "ReduceMean+Add+Sqrt");
  /* h is a graph output: the Relu keeps its own kernel */
  check_model("model m(a: f32[8, 16]) {\n"
              "  param w: f32[16, 12] = normal(0, 0.5)\n"
              "  param b: f32[12] = normal(0, 0.5)\n"
              "  h = MatMul(a, w) + b\n"
              "  return h, y = Relu(h)\n}\n",
              2, 3, "Relu");
  /* the Add broadcasts y [8, 1] over [8, 6]: not at its own index */
  check_model("model m(a: f32[8, 16], c: f32[8, 6]) {\n"
              "  param w: f32[16, 1] = normal(0, 0.5)\n"
              "  return y = MatMul(a, w) + c\n}\n",
              2, 2, "Add");
  /* the Transpose reads Relu's output at a transposed index */
  check_model("model m(x: f32[4, 6]) { return y = Transpose(Relu(x), perm=[1, 0]) }\n", 2, 2,
              "Transpose");
  /* a chain of 300 Relus: fused kernels stay small (MAX_TREE_NODES), so several remain */
  static char chain[16384];
  int len = snprintf(chain, sizeof chain, "model m(x: f32[64]) {\n  t0 = Relu(x)\n");
  for (int i = 1; i < 299; i++) len += snprintf(chain + len, sizeof chain - (size_t)len,
                                                "  t%d = Relu(t%d)\n", i, i - 1);
  snprintf(chain + len, sizeof chain - (size_t)len, "  return y = Relu(t298)\n}\n");
  check_model(chain, 3, 300, NULL);
  check_gather();
  check_signatures();
  check_merged(BIAS_C, true);
  check_merged(RESIDUAL, true);
  check_merged(BIAS_W, false);      /* broadcast along W alone: no index into the H*W view */
  check_merged(TRANSPOSED_HW, false); /* reads H and W swapped */
  return check_report();
}
