/* Free dims (kiln_options.symbolic_dims) through the public API: what a compiled model
 * reports (-1 dims and their names), output shapes before a run, and every way a caller's
 * shapes can be wrong (rank, a static dim such as MatMul's K, a free dim of 0, negative or
 * huge, one name given two sizes, dtype, NULL data) failing with KILN_ERR_INVALID_INPUT and
 * a message naming the input and dim; and what kiln refuses at compile time: a free dim
 * reaching an op that does not take one, a lowering that would fold a free dim into a
 * constant, AOT. Results are checked against onnxruntime in model_dyn. */
#include "kiln.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;

#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    if (!(cond)) {                                                           \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);                            \
      printf(__VA_ARGS__);                                                   \
      printf("\n");                                                          \
      fails++;                                                               \
    }                                                                        \
  } while (0)

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
  CHECK(st == KILN_ERR_INVALID_INPUT && strstr(err.message, "input 'x'") &&
            strstr(err.message, words),
        "shape rank %d [%lld, %lld]: status %d, '%s' (want '%s')", rank, (long long)d0,
        (long long)d1, st, err.message, words);
}

static void mlp(void) {
  kiln_model *m;
  kiln_error err;
  if (compile(MLP, 1, &m, &err)) {
    CHECK(0, "compile: %s", err.message);
    return;
  }
  kiln_tensor_info info;
  CHECK(kiln_input_info(m, 0, &info) == KILN_OK && info.rank == 2 && info.dims[0] == -1 &&
            info.dims[1] == 8 && info.bytes == 0,
        "input info");
  CHECK(kiln_output_info(m, 0, &info) == KILN_OK && info.dims[0] == -1 && info.dims[1] == 4,
        "output info");
  CHECK(kiln_dim_name(m, 0, 0) && !strcmp(kiln_dim_name(m, 0, 0), "N"), "dim name");
  CHECK(!kiln_dim_name(m, 0, 1) && !kiln_dim_name(m, 0, 2) && !kiln_dim_name(m, 1, 0) &&
            !kiln_dim_name(m, -1, 0) && !kiln_dim_name(NULL, 0, 0),
        "names of static or absent dims");

  float x[5 * 8] = {0};
  kiln_array in = {x, KILN_F32, 2, {5, 8}}, out;
  memset(&out, 0, sizeof out);
  CHECK(kiln_output_shapes(m, &in, &out, &err) == KILN_OK && out.rank == 2 &&
            out.dims[0] == 5 && out.dims[1] == 4 && out.dtype == KILN_F32,
        "output shapes: %s", err.message);
  CHECK(run_mlp(m, 2, 3, 8, &err) == KILN_OK, "run at N=3: %s", err.message);
  /* a softmax's rows sum to 1 at any batch, the rows past a smaller batch untouched */
  for (int64_t n = 1; n <= 64; n *= 4) {
    float xs[64 * 8], ys[65 * 4];
    for (int i = 0; i < 64 * 8; i++) xs[i] = (float)((i * 37) % 11) - 5.0f;
    for (int i = 0; i < 65 * 4; i++) ys[i] = -1.0f;
    kiln_array a = {xs, KILN_F32, 2, {n, 8}}, b = {ys, KILN_F32, 0, {0}};
    CHECK(kiln_run_arrays(m, &a, &b, &err) == KILN_OK, "N=%lld: %s", (long long)n, err.message);
    CHECK(b.rank == 2 && b.dims[0] == n && b.dims[1] == 4, "N=%lld: output shape", (long long)n);
    for (int64_t r = 0; r < n; r++) {
      double s = 0;
      for (int c = 0; c < 4; c++) s += ys[r * 4 + c];
      CHECK(s > 0.9999 && s < 1.0001, "N=%lld row %lld sums to %g", (long long)n, (long long)r, s);
    }
    CHECK(ys[n * 4] == -1.0f, "N=%lld: wrote past its output", (long long)n);
  }

  expect_invalid(m, 3, 3, 8, "rank 3");
  expect_invalid(m, 1, 3, 8, "rank 1");
  expect_invalid(m, 2, 3, 7, "dim 1 is 7");        /* MatMul's K */
  expect_invalid(m, 2, 0, 8, "dim 0 ('N') is 0");
  expect_invalid(m, 2, -2, 8, "dim 0 ('N') is -2");
  expect_invalid(m, 2, INT64_C(1) << 40, 8, "dim 0 ('N')");
  expect_invalid(m, 2, INT64_MAX, 8, "dim 0 ('N')");

  kiln_array bad = {NULL, KILN_F32, 2, {2, 8}}, o2 = {NULL, KILN_F32, 0, {0}};
  CHECK(kiln_run_arrays(m, &bad, &o2, &err) == KILN_ERR_INVALID_INPUT &&
            strstr(err.message, "NULL"),
        "NULL data: %s", err.message);
  bad = (kiln_array){x, KILN_F64, 2, {2, 8}};
  CHECK(kiln_run_arrays(m, &bad, &o2, &err) == KILN_ERR_INVALID_INPUT &&
            strstr(err.message, "f64"),
        "dtype: %s", err.message);
  bad = (kiln_array){x, KILN_F32, 2, {2, 8}};
  CHECK(kiln_run_arrays(m, &bad, &o2, &err) == KILN_ERR_INVALID_ARGUMENT, "NULL output data");
  CHECK(kiln_run_arrays(m, NULL, &o2, &err) == KILN_ERR_INVALID_ARGUMENT, "NULL inputs");
  const void *ins[1] = {x};
  void *outs[1] = {x};
  CHECK(kiln_run(m, ins, outs, &err) == KILN_ERR_INVALID_ARGUMENT &&
            strstr(err.message, "kiln_run_arrays"),
        "kiln_run: %s", err.message);
  kiln_model_free(m);

  /* without the option a free dim must still be bound, as before */
  CHECK(compile(MLP, 0, &m, &err) == KILN_ERR_SHAPE, "unbound without symbolic_dims");
}

static void shared_name(void) {
  kiln_model *m;
  kiln_error err;
  if (compile("model m(a: f32[N, 4], b: f32[N, 4]) { return y = Add(a, b) }\n", 1, &m, &err)) {
    CHECK(0, "compile: %s", err.message);
    return;
  }
  float a[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, y[12];
  kiln_array in[2] = {{a, KILN_F32, 2, {3, 4}}, {a, KILN_F32, 2, {2, 4}}};
  kiln_array out = {y, KILN_F32, 0, {0}};
  CHECK(kiln_run_arrays(m, in, &out, &err) == KILN_ERR_INVALID_INPUT &&
            strstr(err.message, "input 'b' dim 0 ('N') is 2") && strstr(err.message, "'a'"),
        "two sizes for N: %s", err.message);
  in[1].dims[0] = 3;
  CHECK(kiln_run_arrays(m, in, &out, &err) == KILN_OK && y[11] == 24.0f && y[0] == 2.0f,
        "N=3: %s", err.message);
  kiln_model_free(m);
}

static void refused(void) {
  kiln_model *m;
  kiln_error err;
  /* ArgMax takes no free dims: one error naming the node and the dim */
  kiln_status st = compile("model m(x: f32[N, 4]) { return y = ArgMax(x, axis=1) }\n", 1, &m, &err);
  CHECK(st == KILN_ERR_UNSUPPORTED && strstr(err.message, "ArgMax") &&
            strstr(err.message, "'N'") && strstr(err.message, "dim 0"),
        "ArgMax: %d %s", st, err.message);
  /* a mean over the free axis divides by it: refused, never computed at the hint */
  st = compile("model m(x: f32[N, 4]) { return y = ReduceMean(x, [0]) }\n", 1, &m, &err);
  CHECK(st == KILN_ERR_UNSUPPORTED && strstr(err.message, "ReduceMean"), "ReduceMean: %d %s",
        st, err.message);
  if (!st) kiln_model_free(m);
  /* but over a static axis it runs */
  st = compile("model m(x: f32[N, 4]) { return y = ReduceMean(x, [1]) }\n", 1, &m, &err);
  CHECK(st == KILN_OK, "ReduceMean over a static axis: %s", err.message);
  if (!st) {
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[2];
    kiln_array in = {x, KILN_F32, 2, {2, 4}}, out = {y, KILN_F32, 0, {0}};
    CHECK(kiln_run_arrays(m, &in, &out, &err) == KILN_OK && y[0] == 2.5f && y[1] == 6.5f &&
              out.rank == 2 && out.dims[0] == 2 && out.dims[1] == 1,
          "ReduceMean run: %s", err.message);
    kiln_model_free(m);
  }
  /* AOT: refused in this slice */
  FILE *f = fopen("/tmp/kiln_unit_symbolic.kiln", "w");
  if (f) {
    fputs(MLP, f);
    fclose(f);
    kiln_options o;
    kiln_options_init(&o);
    o.symbolic_dims = 1;
    st = kiln_compile_aot("/tmp/kiln_unit_symbolic.kiln", &o, "/tmp/kiln_unit_symbolic.o", "m",
                          &err);
    CHECK(st == KILN_ERR_UNSUPPORTED && strstr(err.message, "AOT"), "AOT: %d %s", st,
          err.message);
    remove("/tmp/kiln_unit_symbolic.kiln");
  }
}

int main(void) {
  mlp();
  shared_name();
  refused();
  printf(fails ? "FAILED (%d)\n" : "ok\n", fails);
  return fails != 0;
}
