/* A model with free dims (tests/models/gen_dyn_models.py) compiled ONCE with
 * kiln_options.symbolic_dims and run at every shape its folder holds (case_<k>/), each
 * against onnxruntime's outputs.
 *
 *   model_dyn DIR DIM_NAME... [--bucket K]
 *
 * Checks that kiln_input_info reports the free dims as -1 and kiln_dim_name names them
 * DIM_NAME... in order (and no static dim), that kiln_output_shapes gives the reference's output shapes before the run,
 * and that kiln_run_arrays' outputs hold |got - want| <= 1e-4 + 1e-3 |want| (model_test's
 * tolerance). Then the same model compiled the static way (every dim bound) at the last
 * shape must give the same outputs, so opting in changes no result. With --bucket K the
 * model also holds a bucket at case K's shape (kiln_options.buckets): kiln_run_variant must
 * pick it at that shape only, and every case still matches onnxruntime. --target T compiles
 * both for that target (cuda-host: the GPU backend's CUDA C, run on the CPU). */
#include "frontend/onnx.h"
#include "ir/dtype.h"
#include "ir/graph.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-3
#define ATOL 1e-4

static bool load(const char *path, kiln_tensor *t) {
  void *data;
  size_t size;
  char *name = NULL;
  kiln_error err;
  if (kiln_read_file(path, &data, &size, &err)) return false;
  kiln_status st = kiln_onnx_read_tensor(data, size, t, &name, &err);
  free(data);
  free(name);
  return st == KILN_OK;
}

static int bucket_case = -1; /* --bucket K */

static int64_t close_count(const kiln_tensor *want, const float *got, double *max_abs) {
  int64_t n = kiln_shape_numel(want->rank, want->dims), bad = 0;
  const float *w = want->data;
  *max_abs = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - w[i]);
    if (!(d <= ATOL + RTOL * fabs(w[i]))) bad++;
    if (!(d <= *max_abs)) *max_abs = d;
  }
  return bad;
}

/* runs m on case k's input; 0 when there is no case k */
static int run_case(kiln_model *m, const char *dir, int k, float **last, kiln_tensor *last_in) {
  char path[1200];
  kiln_tensor in, want;
  snprintf(path, sizeof path, "%s/case_%d/input_0.pb", dir, k);
  if (!load(path, &in)) return 0;
  snprintf(path, sizeof path, "%s/case_%d/output_0.pb", dir, k);
  CHECK(load(path, &want));
  kiln_array ia = {in.data, in.dtype, in.rank, {0}}, oa;
  memcpy(ia.dims, in.dims, sizeof ia.dims);
  memset(&oa, 0, sizeof oa);
  kiln_error err;
  kiln_status st = kiln_output_shapes(m, &ia, &oa, &err);
  if (st) printf("case %d: output shapes: %s\n", k, err.message);
  CHECK(st == KILN_OK);
  CHECK(oa.rank == want.rank && !memcmp(oa.dims, want.dims, sizeof(int64_t) * (size_t)want.rank));
  oa.data = calloc((size_t)kiln_shape_numel(want.rank, want.dims) + 1, sizeof(float));
  oa.rank = 0; /* written by the run */
  st = kiln_run_arrays(m, &ia, &oa, &err);
  if (st) printf("case %d: run: %s\n", k, err.message);
  CHECK(st == KILN_OK);
  CHECK(oa.rank == want.rank && oa.dtype == KILN_F32);
  int variant = kiln_run_variant(m, &ia);
  CHECK(variant == (k == bucket_case ? 0 : -1));
  double max_abs;
  int64_t bad = close_count(&want, oa.data, &max_abs);
  printf("case %d: input [", k);
  for (int d = 0; d < in.rank; d++) printf("%s%lld", d ? "," : "", (long long)in.dims[d]);
  printf("], %s, %lld outputs, max abs error %.3g\n", variant < 0 ? "generic" : "bucket",
         (long long)kiln_shape_numel(want.rank, want.dims), max_abs);
  if (bad) printf("case %d: %lld elements out of tolerance\n", k, (long long)bad);
  CHECK(!bad);
  free(*last);
  *last = oa.data;
  kiln_tensor_free(last_in);
  *last_in = in;
  kiln_tensor_free(&want);
  return 1;
}

int main(int argc, char **argv) {
  const char *target = NULL;
  for (bool more = true; more && argc >= 5;) {
    more = false;
    if (!strcmp(argv[argc - 2], "--bucket")) bucket_case = atoi(argv[argc - 1]), argc -= 2, more = true;
    else if (!strcmp(argv[argc - 2], "--target")) target = argv[argc - 1], argc -= 2, more = true;
  }
  if (argc < 3)
    return fprintf(stderr, "usage: model_dyn DIR DIM_NAME... [--bucket K] [--target T]\n"), 2;
  char path[1100];
  snprintf(path, sizeof path, "%s/model.onnx", argv[1]);
  kiln_options o;
  kiln_options_init(&o);
  o.symbolic_dims = 1;
  o.target = target;
  kiln_tensor bucket_in = {0};
  kiln_shape_binding bucket_shape = {"x", 0, {0}};
  kiln_bucket bucket = {&bucket_shape, 1};
  if (bucket_case >= 0) {
    snprintf(path, sizeof path, "%s/case_%d/input_0.pb", argv[1], bucket_case);
    if (!load(path, &bucket_in)) return printf("FAIL: no %s\n", path), 1;
    bucket_shape.rank = bucket_in.rank;
    memcpy(bucket_shape.dims, bucket_in.dims, sizeof bucket_shape.dims);
    kiln_tensor_free(&bucket_in);
    o.buckets = &bucket, o.nbuckets = 1;
    snprintf(path, sizeof path, "%s/model.onnx", argv[1]);
  }
  kiln_model *m;
  kiln_error err;
  if (kiln_compile_file(path, &o, &m, &err)) return printf("FAIL compile: %s\n", err.message), 1;
  kiln_tensor_info info;
  CHECK(kiln_input_info(m, 0, &info) == KILN_OK);
  CHECK(info.bytes == 0);
  int nfree = 0;
  for (int d = 0; d < info.rank; d++) {
    const char *name = kiln_dim_name(m, 0, d);
    if (info.dims[d] != -1) { /* a static dim has no name */
      CHECK(!name);
      continue;
    }
    bool same = name && 2 + nfree < argc && !strcmp(name, argv[2 + nfree]);
    if (!same) printf("free dim %d is named %s\n", d, name ? name : "(null)");
    CHECK(same);
    nfree++;
  }
  CHECK(nfree == argc - 2);
  CHECK(!kiln_dim_name(m, 1, 0));
  const void *in0[1] = {NULL};
  void *out0[1] = {NULL};
  CHECK(kiln_run(m, in0, out0, &err) == KILN_ERR_INVALID_ARGUMENT); /* it takes no shapes */
  float *last = NULL;
  kiln_tensor last_in = {0};
  int ncases = 0;
  while (run_case(m, argv[1], ncases, &last, &last_in)) ncases++;
  CHECK(ncases >= 3);
  /* shapes again, out of order: each distinct shape's memory plan */
  for (int k = ncases - 1; k >= 0 && ncases >= 3; k -= 2) run_case(m, argv[1], k, &last, &last_in);
  /* tiny sizes of each free dim: output shapes of at least 1, or refused naming the input
   * (too small for a window, or below the sizes a window's output size was matched at),
   * never a run at a size whose dims the model may get wrong */
  for (int d = 0; d < last_in.rank && last_in.data; d++) {
    if (info.dims[d] != -1) continue;
    for (int64_t x = 1; x <= 3; x++) {
      kiln_array ta = {last_in.data, KILN_F32, last_in.rank, {0}}, to = {0};
      memcpy(ta.dims, last_in.dims, sizeof(int64_t) * (size_t)last_in.rank);
      ta.dims[d] = x;
      kiln_status st = kiln_output_shapes(m, &ta, &to, &err);
      if (st) printf("dim %d = %lld: %s\n", d, (long long)x, err.message);
      CHECK(st == KILN_OK || (st == KILN_ERR_INVALID_INPUT && strstr(err.message, "'x'") &&
                              (strstr(err.message, "too small") ||
                               strstr(err.message, "compiled for sizes from"))));
      for (int k = 0; !st && k < to.rank; k++) CHECK(to.dims[k] >= 1);
    }
  }
  kiln_model_free(m);

  /* the static way at the last shape: the same outputs */
  kiln_shape_binding b = {"x", last_in.rank, {0}};
  memcpy(b.dims, last_in.dims, sizeof b.dims);
  kiln_options_init(&o);
  o.target = target;
  o.shapes = &b;
  o.nshapes = 1;
  if (kiln_compile_file(path, &o, &m, &err)) return printf("FAIL static compile: %s\n", err.message), 1;
  int64_t n = 0;
  CHECK(kiln_output_info(m, 0, &info) == KILN_OK);
  n = (int64_t)info.bytes / 4;
  float *got = calloc((size_t)n + 1, sizeof(float));
  const void *in[1] = {last_in.data};
  void *out[1] = {got};
  kiln_status st = kiln_run(m, in, out, &err);
  if (st) printf("static run: %s\n", err.message);
  CHECK(st == KILN_OK);
  double worst = 0;
  for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)got[i] - last[i]));
  printf("static compile at the last shape: max difference %.3g\n", worst);
  CHECK(worst <= 1e-4);
  free(got);
  free(last);
  kiln_tensor_free(&last_in);
  kiln_model_free(m);
  return check_report();
}
