/* Row fusion (passes/fuse_rows.c): a row reduction and its elementwise neighbours become
 * one kernel whose stages codegen runs row by row. Each model is compiled fused and with
 * no_fuse; the reference is the unfused program run by the kernel-IR interpreter, which
 * both the fused generated code and the fused program run by the interpreter must match
 * (the first tests codegen's shared row loops, the second the rewrite); all but the
 * smallest are larger than L1, so that codegen runs them row by row. Rows have odd
 * lengths (not a multiple of the vector width), inputs hold large values and -inf (a
 * mask), some reductions run along an axis that is not the last, and some row counts
 * leave a short last block of rows. Cases that must not
 * merge (a consumer reading another row's statistic) keep their kernels. A Softmax over
 * NCHW's channels keeps its image's width innermost in every stage; rows gathered from a
 * table go in larger blocks. */
#include "check.h"

#include "ir/interp.h"
#include "ir/program.h"
#include "kiln.h"
#include "runtime/profile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IO 4

static kiln_model *compile(const char *text, bool fuse) {
  kiln_options o;
  kiln_options_init(&o);
  o.no_fuse = !fuse;
  kiln_model *m = NULL;
  kiln_error err;
  if (kiln_compile_buffer(text, strlen(text), &o, &m, &err))
    fprintf(stderr, "%s\n  -> %s\n", text, err.message);
  CHECK(m != NULL);
  return m;
}

/* Runs the program's kernels with the interpreter, each buffer where memory planning put
 * it. */
static void interp_program(const kiln_program *p, void *const *ins, void *const *outs) {
  uint8_t *arena = calloc(1, (size_t)p->arena_bytes + 64);
  const kiln_kernel *ks[64];
  int n = kiln_steps_kernels(&p->main, ks, 64);
  CHECK(n <= 64 && n == p->main.n); /* no If steps in these models */
  for (int i = 0; i < n && i < 64; i++) {
    const kiln_kernel *k = ks[i];
    void *bufs[KILN_MAX_BUFS];
    for (int b = 0; b < k->nbufs; b++) {
      const kiln_storage *st = &k->bufs[b].storage;
      bufs[b] = st->kind == KILN_STORE_INPUT    ? ins[st->index]
                : st->kind == KILN_STORE_OUTPUT ? outs[st->index]
                : st->kind == KILN_STORE_CONST  ? p->consts[st->index].data
                : st->kind == KILN_STORE_ARENA  ? arena + st->offset
                                                : NULL;
    }
    kiln_error err;
    CHECK(kiln_interp_run(k, bufs, &err) == KILN_OK);
  }
  free(arena);
}

/* Input i, element e: smooth values, every 5th scaled to +-3e4 (exp overflows unless the
 * row's maximum is taken out first); with `mask`, input 1 is 0 or, every 7th element,
 * -inf. */
static float input_value(int i, size_t e, bool mask) {
  if (mask && i == 1) return e % 7 == 3 ? -INFINITY : 0.0f;
  float v = (float)sin((double)e * 0.37 + i);
  return e % 5 == 2 ? v * 3e4f : v;
}

static const kiln_kernel *kernel_named(const kiln_model *m, const char *op) {
  const kiln_kernel *ks[64];
  int n = kiln_steps_kernels(&kiln_model_program(m)->main, ks, 64);
  for (int i = 0; i < n && i < 64; i++)
    if (strcmp(ks[i]->op, op) == 0) return ks[i];
  return NULL;
}

static bool close_to(float a, float ref) {
  if (isnan(ref)) return isnan(a);
  if (isinf(ref)) return a == ref;
  return !isnan(a) && fabs((double)a - ref) <= 1e-5 * (1 + fabs((double)ref));
}

/* Compiles text fused and unfused: `fused` and `unfused` kernels, the fused program's
 * kernel computing exactly op (when given) marked a row kernel or not as `rows` says, and
 * its outputs (generated code and interpreted) those of the unfused program interpreted. */
static void check_model(const char *text, int fused, int unfused, const char *op, bool rows,
                        bool mask) {
  kiln_model *a = compile(text, true), *b = compile(text, false);
  if (!a || !b) goto done;
  const kiln_program *pa = kiln_model_program(a), *pb = kiln_model_program(b);
  int na = kiln_steps_kernels(&pa->main, NULL, 0), nb = kiln_steps_kernels(&pb->main, NULL, 0);
  if (na != fused || nb != unfused)
    printf("%s\n  kernels: %d fused (want %d), %d unfused (want %d)\n", text, na, fused, nb, unfused);
  CHECK(na == fused && nb == unfused);
  if (op) {
    const kiln_kernel *k = kernel_named(a, op);
    if (!k) printf("%s\n  no kernel %s\n", text, op);
    CHECK(k != NULL && (k->row_axes != 0) == rows);
  }
  void *ins[MAX_IO] = {0}, *ref[MAX_IO] = {0}, *jit[MAX_IO] = {0}, *itp[MAX_IO] = {0};
  int ni = kiln_num_inputs(a), no = kiln_num_outputs(a);
  CHECK(ni <= MAX_IO && no <= MAX_IO);
  for (int i = 0; i < ni && i < MAX_IO; i++) {
    kiln_tensor_info t;
    kiln_input_info(a, i, &t);
    float *x = malloc(t.bytes);
    for (size_t e = 0; e < t.bytes / 4; e++) x[e] = input_value(i, e, mask);
    ins[i] = x;
  }
  for (int i = 0; i < no && i < MAX_IO; i++) {
    kiln_tensor_info t;
    kiln_output_info(a, i, &t);
    ref[i] = calloc(1, t.bytes), jit[i] = calloc(1, t.bytes), itp[i] = calloc(1, t.bytes);
  }
  kiln_error err;
  CHECK(kiln_run(a, (const void *const *)ins, jit, &err) == KILN_OK);
  interp_program(pb, ins, ref);
  interp_program(pa, ins, itp);
  int bad = 0;
  for (int i = 0; i < no && i < MAX_IO; i++) {
    kiln_tensor_info t;
    kiln_output_info(a, i, &t);
    const float *r = ref[i], *x = jit[i], *y = itp[i];
    for (size_t e = 0; e < t.bytes / 4; e++) {
      if (isnan(r[e])) bad++; /* no row is all -inf: the reference has no NaN */
      if (!close_to(x[e], r[e]) || !close_to(y[e], r[e])) {
        if (bad++ < 3) printf("%s\n  output %d [%zu]: jit %g, fused interp %g, ref %g\n", text,
                              i, e, x[e], y[e], r[e]);
      }
    }
  }
  CHECK(bad == 0);
  for (int i = 0; i < MAX_IO; i++) free(ins[i]), free(ref[i]), free(jit[i]), free(itp[i]);
done:
  kiln_model_free(a);
  kiln_model_free(b);
}

/* A row kernel whose loads read its rows' innermost axis contiguously (a Softmax over NCHW's
 * channels: each row a column of the image) has each stage scheduled alone, the image's
 * width (axis 3) innermost rather than the channels 16 KB apart (passes/schedule.c). */
static void strided_rows(void) {
  static const char text[] = "model m(x: f32[1, 16, 64, 64]) { return y = Softmax(x, axis=1) }\n";
  kiln_model *m = compile(text, true);
  const kiln_kernel *k = m ? kernel_named(m, "Softmax") : NULL;
  CHECK(k != NULL && k->row_axes != 0 && k->nstages == 4);
  for (int i = 0; k && i < k->nstages; i++) {
    const kiln_schedule *sc = &k->stages[i].sched;
    bool ok = sc->nloops > 0 && sc->loops[sc->nloops - 1].axis == 3;
    if (!ok) printf("%s  stage %s: the innermost loop is not over axis 3\n", text,
                    k->stages[i].name);
    CHECK(ok);
  }
  kiln_model_free(m);
  check_model(text, 1, 1, "Softmax", true, false);
}

/* Rows gathered from a table (an embedding, then LayerNorm) come from memory: a block of 8
 * of them keeps more misses in flight (passes/schedule.c), where rows of 700 computed ones
 * would go 2 at a time. The fused kernel matches the unfused program, the last block short
 * (13 rows). */
static void gathered_rows(void) {
  static const char text[] =
      "model m(ids: i64[13], x: f32[13, 700]) {\n"
      "  param t: f32[50, 700] = normal(0, 1)\n"
      "  e = Gather(t, ids) + x\n"
      "  d = e - ReduceMean(e, [1])\n"
      "  return y = d / Sqrt(ReduceMean(d * d, [1]) + 1e-5)\n}\n";
  kiln_model *a = compile(text, true), *b = compile(text, false);
  const kiln_kernel *k =
      a ? kernel_named(a, "Gather+Add+ReduceMean+Sub+Mul+ReduceMean+Add+Sqrt+Div") : NULL;
  CHECK(k != NULL && k->row_axes != 0);
  bool block8 = false;
  for (int l = 0; k && l < k->stages[0].sched.nloops; l++)
    block8 |= k->stages[0].sched.loops[l].axis == 0 && k->stages[0].sched.loops[l].stride == 8;
  CHECK(block8);
  int64_t ids[13];
  static float x[13 * 700], y[13 * 700], ref[13 * 700];
  for (int i = 0; i < 13; i++) ids[i] = (i * 17) % 50 - (i % 3 == 0 ? 50 : 0); /* some < 0 */
  for (int i = 0; i < 13 * 700; i++) x[i] = input_value(1, (size_t)i, false);
  const void *ins[2] = {ids, x};
  void *out[1] = {y}, *out_ref[1] = {ref};
  kiln_error err;
  CHECK(a && b && kiln_run(a, ins, out, &err) == KILN_OK &&
        kiln_run(b, ins, out_ref, &err) == KILN_OK);
  int bad = 0;
  for (int i = 0; i < 13 * 700; i++) bad += !close_to(y[i], ref[i]);
  CHECK(bad == 0);
  kiln_model_free(a);
  kiln_model_free(b);
}

int main(void) {
  strided_rows();
  gathered_rows();
  /* LayerNorm as PyTorch exports it, rows of 37: one kernel (mean, variance, normalize) */
  check_model("model m(x: f32[8, 31, 37]) {\n"
              "  param g: f32[37] = normal(1, 0.5)\n"
              "  param b: f32[37] = normal(0, 0.5)\n"
              "  mu = ReduceMean(x, [2])\n"
              "  d = x - mu\n"
              "  v = ReduceMean(d ** 2.0, [2])\n"
              "  return y = d / Sqrt(v + 1e-5) * g + b\n}\n",
              1, 9, "ReduceMean+Sub+Pow+ReduceMean+Add+Sqrt+Div+Mul+Add", true, false);
  /* 13 rows in blocks of 2: the last block is short */
  check_model("model m(x: f32[13, 700]) {\n"
              "  d = x - ReduceMean(x, [1])\n"
              "  return y = d / Sqrt(ReduceMean(d * d, [1]) + 1e-5)\n}\n",
              1, 7, "ReduceMean+Sub+Mul+ReduceMean+Add+Sqrt+Div", true, false);
  /* scales are powers of 2 here: an exact product, so that fused code contracting it
   * into the subtraction of the maximum (an FMA) rounds as the unfused program does */
  check_model("model m(x: f32[2, 13, 400]) { return y = Softmax(x * 2.0) }\n", 1, 2,
              "Mul+Softmax", true, false);
  /* over the middle axis of [16, 9, 70]: rows (a0, a2), blocks of 8 along a2 */
  check_model("model m(x: f32[16, 9, 70]) {\n"
              "  mu = ReduceMean(x, [1])\n"
              "  d = x - mu\n"
              "  return y = d / Sqrt(ReduceMean(d * d, [1]) + 1e-5)\n}\n",
              1, 7, "ReduceMean+Sub+Mul+ReduceMean+Add+Sqrt+Div", true, false);
  /* the LayerNormalization op, its producer and consumer in the kernel */
  check_model("model m(x: f32[300, 37], r: f32[300, 37]) {\n"
              "  param g: f32[37] = normal(1, 0.5)\n"
              "  param b: f32[37] = normal(0, 0.5)\n"
              "  return y = Relu(LayerNormalization(x + r, g, b, axis=-1))\n}\n",
              1, 3, "Add+LayerNormalization+Relu", true, false);
  /* over two axes, rows of 5 x 7 */
  check_model("model m(x: f32[250, 5, 7]) {\n"
              "  param g: f32[5, 7] = normal(1, 0.5)\n"
              "  return y = LayerNormalization(x, g, axis=1)\n}\n",
              1, 1, "LayerNormalization", true, false);
  /* attention's scores: scaled, masked (-inf), softmax; large values need the max */
  check_model("model m(s: f32[2, 3, 40, 37], mask: f32[2, 1, 1, 37]) {\n"
              "  return y = Softmax(s * 0.125 + mask)\n}\n",
              1, 3, "Mul+Add+Softmax", true, true);
  check_model("model m(s: f32[240, 37], mask: f32[240, 37]) {\n"
              "  return y = Softmax(Where(mask < 0.0, mask, s / 8.0))\n}\n",
              1, 4, "Div+Less+Where+Softmax", true, true);
  /* along axis 1 of NCHW (not the last): rows (n, h, w) */
  check_model("model m(x: f32[2, 7, 30, 20], mask: f32[2, 7, 30, 20]) {\n"
              "  return y = Softmax(x + mask, axis=1)\n}\n",
              1, 2, "Add+Softmax", true, true);
  check_model("model m(x: f32[250, 33]) { return y = LogSoftmax(x - 3.0) }\n", 1, 2,
              "Sub+LogSoftmax", true, false);
  check_model("model m(x: f32[3, 4, 700]) { return y = LogSoftmax(x * 2.0, axis=1) }\n", 1, 2,
              "Mul+LogSoftmax", true, false);
  /* the statistic is a graph output too: it stays one, the kernel writes both; 95 floats
   * fit in L1, so its stages run one after the other */
  check_model("model m(x: f32[5, 19]) {\n"
              "  mu = ReduceMean(x, [1])\n"
              "  return mu, y = x - mu\n}\n",
              1, 2, "ReduceMean+Sub", false, false);
  /* Sub reads the means as [1, 4], another row's at each point: no merge */
  check_model("model m(x: f32[4, 4]) {\n"
              "  return y = x - Reshape(ReduceMean(x, [1]), [1, 4])\n}\n",
              2, 2, NULL, false, false);
  /* a Conv whose epilogue adds another Conv's output: both reduce "rows" that are single
   * output points, with no stage over a row's elements: they stay two tiled kernels */
  check_model("model m(x: f32[1, 32, 20, 20]) {\n" /* positive terms: sums of 32 stay exact */
              "  param w1: f32[32, 32, 1, 1] = uniform(0, 0.1)\n"
              "  param w2: f32[32, 32, 1, 1] = uniform(0, 0.1)\n"
              "  h = Relu(x)\n"
              "  return y = Relu(Conv(h, w1) + Conv(h, w2))\n}\n",
              4, 6, NULL, false, false);
  /* one row in all: nothing to run row by row */
  check_model("model m(x: f32[1, 40]) { return y = Softmax(x + 1.0) }\n", 2, 2, NULL, false,
              false);
  return check_report();
}
