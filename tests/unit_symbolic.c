/* Free dims (kiln_options.symbolic_dims) through the public API: what a compiled model
 * reports (-1 dims and their names), output shapes before a run, and every way a caller's
 * shapes can be wrong (rank, a static dim such as MatMul's K, a free dim of 0, negative or
 * huge, one name given two sizes, dtype, NULL data) failing with KILN_ERR_INVALID_INPUT and
 * a message naming the input and dim; and what kiln refuses at compile time: a free dim
 * reaching an op that does not take one, a lowering that would fold a free dim into a
 * constant, AOT; shapes computed from free dims (Shape, Gather, Mul) and a Gather along
 * a free axis. Floor and ceil divisions of dims (a strided window's output size): their
 * normal form, their values against plain integer division, and a strided Conv and pool
 * whose output shapes follow the ONNX formula at every H from the least size the output
 * size's expression was matched at (smaller ones refused), too small inputs refused. Kernels
 * with free dims fuse (Conv -> Add -> Relu one kernel) with the unfused outputs.
 * Results are checked against onnxruntime in model_dyn. */
#include "kiln.h"

#include "ir/graph.h"
#include "ir/program.h"
#include "runtime/profile.h"
#include "tests/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kiln_status compile(const char *text, int symbolic, kiln_model **m, kiln_error *err) {
  kiln_options o;
  kiln_options_init(&o);
  o.symbolic_dims = symbolic;
  return kiln_compile_buffer(text, strlen(text), &o, m, err);
}

static const char *MLP = "model m(x: f32[N, 8]) {\n"
                         "  param w: f32[8, 4] = normal(0, 0.5)\n"
                         "  return y = Softmax(MatMul(x, w), axis=1)\n"
                         "}\n";

/* a run of the MLP at shape (rank, dims): its status, err's message in err */
static kiln_status run_mlp(kiln_model *m, int rank, int64_t d0, int64_t d1, kiln_error *err) {
  static float x[64 * 8], y[64 * 4];
  kiln_array in = {x, KILN_F32, rank, {d0, d1, 1}}, out = {y, KILN_F32, 0, {0}};
  return kiln_run_arrays(m, &in, &out, err);
}

static void expect_invalid(kiln_model *m, int rank, int64_t d0, int64_t d1, const char *words) {
  kiln_error err;
  kiln_status st = run_mlp(m, rank, d0, d1, &err);
  bool ok = st == KILN_ERR_INVALID_INPUT && strstr(err.message, "input 'x'") &&
            strstr(err.message, words);
  if (!ok) printf("shape [%lld, %lld]: '%s', want '%s'\n", (long long)d0, (long long)d1,
                  err.message, words);
  CHECK(ok);
}

static void mlp(void) {
  kiln_model *m;
  kiln_error err;
  if (compile(MLP, 1, &m, &err)) {
    printf("compile: %s\n", err.message);
    CHECK(0);
    return;
  }
  kiln_tensor_info info;
  CHECK(kiln_input_info(m, 0, &info) == KILN_OK && info.rank == 2 && info.dims[0] == -1 &&
            info.dims[1] == 8 && info.bytes == 0);
  CHECK(kiln_output_info(m, 0, &info) == KILN_OK && info.dims[0] == -1 && info.dims[1] == 4);
  CHECK(kiln_dim_name(m, 0, 0) && !strcmp(kiln_dim_name(m, 0, 0), "N"));
  CHECK(!kiln_dim_name(m, 0, 1) && !kiln_dim_name(m, 0, 2) && !kiln_dim_name(m, 1, 0) &&
            !kiln_dim_name(m, -1, 0) && !kiln_dim_name(NULL, 0, 0));

  float x[5 * 8] = {0};
  kiln_array in = {x, KILN_F32, 2, {5, 8}}, out;
  memset(&out, 0, sizeof out);
  CHECK(kiln_output_shapes(m, &in, &out, &err) == KILN_OK && out.rank == 2 &&
            out.dims[0] == 5 && out.dims[1] == 4 && out.dtype == KILN_F32);
  CHECK(run_mlp(m, 2, 3, 8, &err) == KILN_OK);
  /* a softmax's rows sum to 1 at any batch, the rows past a smaller batch untouched */
  for (int64_t n = 1; n <= 64; n *= 4) {
    float xs[64 * 8], ys[65 * 4];
    for (int i = 0; i < 64 * 8; i++) xs[i] = (float)((i * 37) % 11) - 5.0f;
    for (int i = 0; i < 65 * 4; i++) ys[i] = -1.0f;
    kiln_array a = {xs, KILN_F32, 2, {n, 8}}, b = {ys, KILN_F32, 0, {0}};
    CHECK(kiln_run_arrays(m, &a, &b, &err) == KILN_OK);
    CHECK(b.rank == 2 && b.dims[0] == n && b.dims[1] == 4);
    for (int64_t r = 0; r < n; r++) {
      double s = 0;
      for (int c = 0; c < 4; c++) s += ys[r * 4 + c];
      CHECK(s > 0.9999 && s < 1.0001);
    }
    CHECK(ys[n * 4] == -1.0f);
  }

  expect_invalid(m, 3, 3, 8, "rank 3");
  expect_invalid(m, 1, 3, 8, "rank 1");
  expect_invalid(m, 2, 3, 7, "dim 1 is 7");        /* MatMul's K */
  /* a batch of 0 rows: every op's shapes hold at N = 0 (kiln_sym_probe), so it runs, to an
   * output of 0 rows */
  memset(&out, 0, sizeof out);
  in.dims[0] = 0;
  CHECK(kiln_output_shapes(m, &in, &out, &err) == KILN_OK && out.dims[0] == 0 && out.dims[1] == 4);
  CHECK(run_mlp(m, 2, 0, 8, &err) == KILN_OK);
  expect_invalid(m, 2, -2, 8, "dim 0 ('N') is -2");
  expect_invalid(m, 2, INT64_C(1) << 40, 8, "dim 0 ('N')");
  expect_invalid(m, 2, INT64_MAX, 8, "dim 0 ('N')");

  kiln_array bad = {NULL, KILN_F32, 2, {2, 8}}, o2 = {NULL, KILN_F32, 0, {0}};
  CHECK(kiln_run_arrays(m, &bad, &o2, &err) == KILN_ERR_INVALID_INPUT &&
            strstr(err.message, "NULL"));
  bad = (kiln_array){x, KILN_F64, 2, {2, 8}};
  CHECK(kiln_run_arrays(m, &bad, &o2, &err) == KILN_ERR_INVALID_INPUT &&
            strstr(err.message, "f64"));
  bad = (kiln_array){x, KILN_F32, 2, {2, 8}};
  CHECK(kiln_run_arrays(m, &bad, &o2, &err) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(kiln_run_arrays(m, NULL, &o2, &err) == KILN_ERR_INVALID_ARGUMENT);
  const void *ins[1] = {x};
  void *outs[1] = {x};
  CHECK(kiln_run(m, ins, outs, &err) == KILN_ERR_INVALID_ARGUMENT &&
            strstr(err.message, "kiln_run_arrays"));
  kiln_model_free(m);

  /* without the option a free dim must still be bound, as before */
  CHECK(compile(MLP, 0, &m, &err) == KILN_ERR_SHAPE);
}

static void shared_name(void) {
  kiln_model *m;
  kiln_error err;
  if (compile("model m(a: f32[N, 4], b: f32[N, 4]) { return y = Add(a, b) }\n", 1, &m, &err)) {
    printf("compile: %s\n", err.message);
    CHECK(0);
    return;
  }
  float a[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, y[12];
  kiln_array in[2] = {{a, KILN_F32, 2, {3, 4}}, {a, KILN_F32, 2, {2, 4}}};
  kiln_array out = {y, KILN_F32, 0, {0}};
  CHECK(kiln_run_arrays(m, in, &out, &err) == KILN_ERR_INVALID_INPUT &&
            strstr(err.message, "input 'b' dim 0 ('N') is 2") && strstr(err.message, "'a'"));
  in[1].dims[0] = 3;
  CHECK(kiln_run_arrays(m, in, &out, &err) == KILN_OK && y[11] == 24.0f && y[0] == 2.0f);
  kiln_model_free(m);
}

static void refused(void) {
  kiln_model *m;
  kiln_error err;
  /* Hardmax takes no free dims: one error naming the node and the dim */
  kiln_status st = compile("model m(x: f32[N, 4]) { return y = Hardmax(x, axis=1) }\n", 1, &m, &err);
  CHECK(st == KILN_ERR_UNSUPPORTED && strstr(err.message, "Hardmax") &&
            strstr(err.message, "'N'") && strstr(err.message, "dim 0"));
  /* a mean over the free axis divides by the run's N, never by its hint */
  st = compile("model m(x: f32[N, 4]) { return y = ReduceMean(x, [0]) }\n", 1, &m, &err);
  CHECK(st == KILN_OK);
  if (!st) {
    float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, y[4];
    kiln_array in = {x, KILN_F32, 2, {3, 4}}, out = {y, KILN_F32, 0, {0}};
    CHECK(kiln_run_arrays(m, &in, &out, &err) == KILN_OK && y[0] == 5 && y[3] == 8 &&
              out.rank == 2 && out.dims[0] == 1 && out.dims[1] == 4);
    in.dims[0] = 2;
    CHECK(kiln_run_arrays(m, &in, &out, &err) == KILN_OK && y[0] == 3 && y[3] == 6);
    kiln_model_free(m);
  }
  /* over a static axis too */
  st = compile("model m(x: f32[N, 4]) { return y = ReduceMean(x, [1]) }\n", 1, &m, &err);
  CHECK(st == KILN_OK);
  if (!st) {
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[2];
    kiln_array in = {x, KILN_F32, 2, {2, 4}}, out = {y, KILN_F32, 0, {0}};
    CHECK(kiln_run_arrays(m, &in, &out, &err) == KILN_OK && y[0] == 2.5f && y[1] == 6.5f &&
              out.rank == 2 && out.dims[0] == 2 && out.dims[1] == 1);
    kiln_model_free(m);
  }
  /* AOT for another architecture: refused (no run-time planner is built for it), and no
   * file written */
  FILE *f = fopen("/tmp/kiln_unit_symbolic.kiln", "w");
  if (f) {
    fputs(MLP, f);
    fclose(f);
    kiln_options o;
    kiln_options_init(&o);
    o.symbolic_dims = 1;
    o.triple = "aarch64-linux-gnu";
    remove("/tmp/kiln_unit_symbolic.o");
    st = kiln_compile_aot("/tmp/kiln_unit_symbolic.kiln", &o, "/tmp/kiln_unit_symbolic.o", "m",
                          &err);
    CHECK(st == KILN_ERR_UNSUPPORTED && strstr(err.message, "AOT") &&
          strstr(err.message, "for this host"));
    FILE *o_file = fopen("/tmp/kiln_unit_symbolic.o", "rb");
    CHECK(!o_file);
    if (o_file) fclose(o_file);
    remove("/tmp/kiln_unit_symbolic.kiln");
  }
}

/* Shapes computed from free dims (Shape, Gather, Mul, Concat) fold into polynomials of
 * them (passes/fold_sym.c): the Reshape to [N * S, -1] takes each run's sizes, Shape as an
 * output gives them, a length cast to float divides by the run's S, and a Gather along
 * the free axis needs S above its index (a run with a smaller S fails with one error: the
 * least size the compile found). */
static void shape_values(void) {
  const char *text = "model m(x: f32[N, S, 2]) {\n"
                     "  s = Shape(x)\n"
                     "  ns = Gather(s, [0]) * Gather(s, [1])\n"
                     "  return y = Reshape(x, Concat(ns, [-1], axis=0)), z = Shape(x),\n"
                     "         w = x / Cast(Gather(s, 1), to=1), g = Gather(x, 4, axis=1)\n"
                     "}\n";
  kiln_model *m;
  kiln_error err;
  if (compile(text, 1, &m, &err)) {
    printf("compile: %s\n", err.message);
    CHECK(0);
    return;
  }
  static float x[3 * 7 * 2], y[3 * 7 * 2], w[3 * 7 * 2], g[3 * 2];
  int64_t z[3];
  for (int i = 0; i < 3 * 7 * 2; i++) x[i] = (float)(i % 11) - 4.0f;
  int64_t shapes[3][2] = {{1, 5}, {3, 7}, {2, 6}};
  for (int t = 0; t < 3; t++) {
    int64_t n = shapes[t][0], sl = shapes[t][1];
    kiln_array in = {x, KILN_F32, 3, {n, sl, 2}};
    kiln_array out[4] = {{y, 0, 0, {0}}, {z, 0, 0, {0}}, {w, 0, 0, {0}}, {g, 0, 0, {0}}};
    kiln_status st = kiln_run_arrays(m, &in, out, &err);
    if (st) printf("run at [%lld, %lld, 2]: %s\n", (long long)n, (long long)sl, err.message);
    CHECK(st == KILN_OK);
    if (st) continue;
    CHECK(out[0].rank == 2 && out[0].dims[0] == n * sl && out[0].dims[1] == 2);
    CHECK(out[1].rank == 1 && out[1].dims[0] == 3 && z[0] == n && z[1] == sl && z[2] == 2);
    CHECK(out[3].rank == 2 && out[3].dims[0] == n && out[3].dims[1] == 2);
    bool same = true;
    for (int64_t i = 0; i < n * sl * 2; i++) same &= y[i] == x[i] && w[i] == x[i] / (float)sl;
    for (int64_t b = 0; b < n; b++)
      for (int c = 0; c < 2; c++) same &= g[b * 2 + c] == x[(b * sl + 4) * 2 + c];
    CHECK(same);
  }
  kiln_array in = {x, KILN_F32, 3, {2, 4, 2}};
  kiln_array out[4] = {{y, 0, 0, {0}}, {z, 0, 0, {0}}, {w, 0, 0, {0}}, {g, 0, 0, {0}}};
  kiln_status st = kiln_run_arrays(m, &in, out, &err);
  /* index 4 needs S >= 5: inference at sizes below the points found it (a least size) */
  if (st != KILN_ERR_INVALID_INPUT || !strstr(err.message, "compiled for sizes from 5 up"))
    printf("S = 4: %s\n", err.message);
  CHECK(st == KILN_ERR_INVALID_INPUT && strstr(err.message, "compiled for sizes from 5 up"));
  kiln_model_free(m);
}

static int64_t floor_ref(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* a graph with the one free dim H */
static kiln_graph *graph_h(void) {
  kiln_graph *g = kiln_graph_new();
  g->nsyms = 1;
  g->sym_names[0] = strdup("H");
  g->sym_hint[0] = 16;
  return g;
}

/* H + c */
static kiln_symdim h_plus(int64_t c) {
  kiln_symdim h = kiln_symdim_sym(0), k = kiln_symdim_const(c);
  kiln_symdim_add(&h, &k, &h);
  return h;
}

/* floor((a*H + c) / den) in g, evaluated at H = 1 .. 200 against integer division */
static bool div_values(kiln_graph *g, int64_t a, int64_t c, int64_t den, kiln_symdim *out) {
  kiln_symdim x = kiln_symdim_sym(0), k = kiln_symdim_const(a), cc = kiln_symdim_const(c);
  if (!kiln_symdim_mul(&x, &k, &x) || !kiln_symdim_add(&x, &cc, &x) ||
      !kiln_graph_floordiv(g, &x, den, out))
    return false;
  for (int64_t h = 1; h <= 200; h++) {
    int64_t vals[KILN_MAX_SYMS] = {h}, v;
    if (!kiln_symdim_derive(g->sym_def, g->nsyms, vals) || !kiln_symdim_eval(out, vals, &v) ||
        v != floor_ref(a * h + c, den))
      return false;
  }
  return true;
}

static void divisions(void) {
  kiln_graph *g = graph_h();
  kiln_symdim x, y, d1;
  int64_t c;
  /* exact: (2H + 4) / 2 = H + 2, no derived sym */
  CHECK(div_values(g, 2, 4, 2, &x) && g->nsyms == 1);
  y = h_plus(2);
  CHECK(kiln_symdim_equal(&x, &y));
  /* a 3x3 stride-2 window with pads 1: (H + 2 - 3) / 2 + 1, which is ceil(H / 2) */
  CHECK(div_values(g, 1, -1, 2, &x) && g->nsyms == 2);
  CHECK(g->sym_def[1].den == 2 && !strcmp(g->sym_names[1], "(1+H)/2") && g->sym_hint[1] == 8);
  kiln_symdim one = kiln_symdim_const(1);
  CHECK(kiln_symdim_add(&x, &one, &x));
  CHECK(div_values(g, 1, 1, 2, &y) && g->nsyms == 2); /* the same sym, the same dim */
  CHECK(kiln_symdim_equal(&x, &y));
  d1 = kiln_symdim_sym(1);
  CHECK(kiln_symdim_equal(&x, &d1));
  /* the constant's whole quotient moves out: (H + 5) / 2 = (H + 1) / 2 + 2 */
  CHECK(div_values(g, 1, 5, 2, &x) && g->nsyms == 2);
  kiln_symdim two = kiln_symdim_const(2);
  CHECK(kiln_symdim_add(&d1, &two, &y) && kiln_symdim_equal(&x, &y));
  /* a common factor: (2H + 3) / 4 = (H + 1) / 2 */
  CHECK(div_values(g, 2, 3, 4, &x) && kiln_symdim_equal(&x, &d1) && g->nsyms == 2);
  /* a division of a division is one: ((H + 1) / 2 + 1) / 2 = (H + 3) / 4 */
  kiln_symdim d1p = d1;
  CHECK(kiln_symdim_add(&d1p, &one, &d1p) && kiln_graph_floordiv(g, &d1p, 2, &x));
  CHECK(g->nsyms == 3 && g->sym_def[2].den == 4 && !strcmp(g->sym_names[2], "(3+H)/4"));
  CHECK(div_values(g, 1, 3, 4, &y) && kiln_symdim_equal(&x, &y) && g->nsyms == 3);
  /* (16 * ((H + 1) / 2)) / 32, a window over a flattened pair of dims: the same as
   * ((H + 1) / 2) / 2 = (H + 1) / 4 */
  kiln_symdim d16 = kiln_symdim_const(16), z = kiln_symdim_const(0);
  CHECK(kiln_symdim_mul(&d1, &d16, &d16) && kiln_graph_floordiv(g, &d16, 32, &x) &&
        kiln_graph_floordiv(g, &d1, 2, &y) && kiln_symdim_equal(&x, &y));
  CHECK(g->nsyms == 4 && !strcmp(g->sym_names[3], "(1+H)/4") && div_values(g, 1, 1, 4, &z) &&
        kiln_symdim_equal(&x, &z));
  /* negative numerators round down, and ceil(H / 3) = floor((H + 2) / 3) */
  CHECK(div_values(g, 1, -7, 3, &x) && div_values(g, 1, 2, 3, &y));
  CHECK(!kiln_symdim_is_const(&x, &c) && !kiln_symdim_equal(&x, &y));
  CHECK(!kiln_graph_floordiv(g, &d1, 0, &x)); /* no division by 0 */
  kiln_graph_free(g);
}

/* Output shape of a model taking x [1, 2, H, 7] at H, or -1 when refused; the error
 * message in err. */
static int64_t out_h(kiln_model *m, int64_t h, kiln_error *err) {
  static float x[2 * 80 * 7], y[4 * 80 * 7];
  kiln_array in = {x, KILN_F32, 4, {1, 2, h, 7}}, out = {y, KILN_F32, 0, {0}};
  if (kiln_output_shapes(m, &in, &out, err)) return -1;
  int64_t oh = out.dims[2];
  return kiln_run_arrays(m, &in, &out, err) ? -1 : oh;
}

static void strided_windows(void) {
  kiln_model *m;
  kiln_error err;
  /* a 3x3 stride-2 Conv with pads 1, then a 2x2 stride-2 MaxPool (ceil_mode): the ONNX
   * formulas floor((H + 2 - 3) / 2) + 1, then ceil((h - 2) / 2) + 1 */
  const char *text = "model m(x: f32[1, 2, H, 7]) {\n"
                     "  param w: f32[4, 2, 3, 3] = normal(0, 0.5)\n"
                     "  return y = MaxPool(Conv(x, w, strides=[2, 2], pads=[1, 1, 1, 1]),\n"
                     "                     kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)\n"
                     "}\n";
  if (compile(text, 1, &m, &err)) {
    printf("compile: %s\n", err.message);
    CHECK(0);
    return;
  }
  /* the output height's expression was matched at H from 23 up and probed below
   * (kiln_sym_probe): every H runs, H = 1 and 2 too (the pool's 2-wide window over a 1-pixel
   * input has one output in ceil mode) */
  for (int64_t h = 1; h <= 80; h++) {
    int64_t c = floor_ref(h - 1, 2) + 1, want = -floor_ref(-(c - 2), 2) + 1;
    if ((want - 1) * 2 >= c) want--; /* a last window starting past the input: dropped */
    int64_t got = out_h(m, h, &err);
    if (got != want) printf("H=%lld: %lld, want %lld (%s)\n", (long long)h, (long long)got,
                            (long long)want, got < 0 ? err.message : "");
    CHECK(got == want);
  }
  kiln_model_free(m);
  /* a 5x5 Conv without pads or strides (no division: any H from 5): a smaller H is one clear
   * error */
  text = "model m(x: f32[1, 2, H, 7]) {\n"
         "  param w: f32[4, 2, 5, 5] = normal(0, 0.5)\n"
         "  return y = Conv(x, w)\n"
         "}\n";
  if (compile(text, 1, &m, &err)) {
    printf("compile: %s\n", err.message);
    CHECK(0);
    return;
  }
  CHECK(out_h(m, 23, &err) == 19 && out_h(m, 40, &err) == 36);
  CHECK(out_h(m, 4, &err) == -1 && strstr(err.message, "compiled for sizes from 5 up"));
  kiln_model_free(m);
}

static kiln_model *compile_fuse(const char *text, bool fuse) {
  kiln_options o;
  kiln_options_init(&o);
  o.symbolic_dims = 1;
  o.no_fuse = !fuse;
  kiln_model *m = NULL;
  kiln_error err;
  if (kiln_compile_buffer(text, strlen(text), &o, &m, &err)) printf("compile: %s\n", err.message);
  CHECK(m != NULL);
  return m;
}

static void fusion(void) {
  const char *text = "model m(x: f32[N, 3, H, W]) {\n"
                     "  param w: f32[4, 3, 3, 3] = normal(0, 0.5)\n"
                     "  param b: f32[4, 1, 1] = normal(0, 0.5)\n"
                     "  c = Conv(x, w, strides=[2, 2], pads=[1, 1, 1, 1])\n"
                     "  return y = Relu(Add(c, b))\n"
                     "}\n";
  kiln_model *a = compile_fuse(text, true), *u = compile_fuse(text, false);
  if (!a || !u) goto done;
  const kiln_kernel *ks[16];
  int na = kiln_steps_kernels(&kiln_model_program(a)->main, ks, 16);
  int nu = kiln_steps_kernels(&kiln_model_program(u)->main, ks, 16);
  if (na != 1 || nu != 3) printf("kernels: %d fused, %d unfused\n", na, nu);
  CHECK(na == 1 && nu == 3);
  /* H and W from 29 and 31 up: the sizes the output size's expression was matched at */
  static float x[2 * 3 * 35 * 41], ya[2 * 4 * 18 * 21], yu[2 * 4 * 18 * 21];
  for (int i = 0; i < 2 * 3 * 35 * 41; i++) x[i] = (float)((i * 37) % 23) / 7.0f - 1.5f;
  int64_t shapes[3][3] = {{1, 29, 31}, {2, 35, 41}, {1, 30, 32}};
  for (int t = 0; t < 3; t++) {
    kiln_error err;
    kiln_array in = {x, KILN_F32, 4, {shapes[t][0], 3, shapes[t][1], shapes[t][2]}};
    kiln_array oa = {ya, KILN_F32, 0, {0}}, ou = {yu, KILN_F32, 0, {0}};
    CHECK(kiln_run_arrays(a, &in, &oa, &err) == KILN_OK);
    CHECK(kiln_run_arrays(u, &in, &ou, &err) == KILN_OK);
    int64_t n = shapes[t][0] * 4 * ((shapes[t][1] + 1) / 2) * ((shapes[t][2] + 1) / 2);
    CHECK(oa.rank == 4 && oa.dims[2] == (shapes[t][1] + 1) / 2 && oa.dims[3] == (shapes[t][2] + 1) / 2);
    bool same = true;
    for (int64_t i = 0; i < n; i++) same &= ya[i] == yu[i];
    CHECK(same);
  }
done:
  kiln_model_free(a);
  kiln_model_free(u);
}

/* Register tiles of a Conv and a MatMul with a free batch: rows along the output's static
 * rows or, all free, along the innermost free one, never along the batch, whose hint (224)
 * says nothing of its run's size (a tile of 12 batch rows ran the clamped tail at batch 1,
 * 13x slower). */
static void row_tiles(void) {
  const char *texts[2] = {"model m(x: f32[N, 16, H, W]) {\n"
                          "  param w: f32[32, 16, 3, 3] = normal(0, 0.5)\n"
                          "  return y = Conv(x, w, pads=[1, 1, 1, 1])\n"
                          "}\n",
                          "model m(x: f32[N, 20, 16]) {\n"
                          "  param w: f32[16, 32] = normal(0, 0.5)\n"
                          "  return y = MatMul(x, w)\n"
                          "}\n"};
  for (int t = 0; t < 2; t++) {
    kiln_model *m = compile_fuse(texts[t], true);
    if (!m) continue;
    const kiln_kernel *ks[16];
    int nk = kiln_steps_kernels(&kiln_model_program(m)->main, ks, 16), tiles = 0;
    for (int i = 0; i < nk; i++)
      for (int j = 0; j < ks[i]->nstages; j++) {
        const kiln_stage *s = &ks[i]->stages[j];
        if (s->reduce != KR_SUM || !s->nout_idx || s->out_idx[0]->kind != KX_VAR) continue;
        for (int l = 0; l < s->sched.nloops; l++) {
          const kiln_loop *lp = &s->sched.loops[l];
          if (lp->kind != KILN_LOOP_UNROLL) continue;
          tiles++;
          if (lp->axis == s->out_idx[0]->axis) printf("%s: a register tile along the batch\n", s->name);
          CHECK(lp->axis != s->out_idx[0]->axis);
        }
      }
    CHECK(tiles > 0); /* the test sees a register tile at all */
    kiln_model_free(m);
  }
}

int main(void) {
  row_tiles();
  fusion();
  divisions();
  strided_windows();
  mlp();
  shared_name();
  refused();
  shape_values();
  return check_report();
}
