/* A C host of an AOT library with free dims (tests/aot_dyn.sh), built with a plain cc
 * against the library's header alone:
 *
 *   cc -DMODEL=name -DMODEL_UP=NAME -DHEADER='"name.h"' aot_dyn_host.c -lname
 *   host CASE_DIR...
 *
 * For each case (gen_dyn_models.py's case_<k>/input_0.bin, output_0.bin: onnxruntime's
 * output) it checks <name>_check_inputs, that <name>_output_shapes gives the reference's
 * shape, and that <name>_run_dims, with its own workspace and with one of
 * <name>_workspace_size bytes, writes that shape and outputs within |got - want| <=
 * 1e-4 + 1e-3 |want| (model_dyn's tolerance). Then shapes the model cannot take (rank,
 * dtype, a static dim, a free dim of 0 or absurd size) must each give
 * <NAME>_ERR_INVALID_INPUT and a message naming the input, and NULL buffers
 * <NAME>_ERR_INVALID_ARGUMENT, without running. The model has one float input and one
 * float output. A case given as bucket:DIR must run the library's bucket 0
 * (<name>_run_variant), every other the generic code. */
#include HEADER

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(x) CAT(MODEL, x)
#define tensor FN(_tensor)

#define RTOL 1e-3
#define ATOL 1e-4

static int fails;

#define CHECK(cond, ...)                              \
  do {                                                \
    if (!(cond)) {                                    \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);     \
      printf(__VA_ARGS__);                            \
      printf("\n");                                   \
      fails++;                                        \
    }                                                 \
  } while (0)

/* a .bin of gen_dyn_models.py into t (data malloc'd); 0 when missing */
static int load(const char *path, tensor *t) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  int32_t rank = 0;
  memset(t, 0, sizeof *t);
  int ok = fread(&rank, 4, 1, f) == 1 && rank >= 0 && rank <= 8 &&
           fread(t->dims, 8, (size_t)rank, f) == (size_t)rank;
  int64_t n = 1;
  for (int d = 0; ok && d < rank; d++) n *= t->dims[d];
  t->rank = rank;
  t->dtype = 1; /* float32 */
  t->data = malloc((size_t)n * 4 + 4);
  ok = ok && t->data && fread(t->data, 4, (size_t)n, f) == (size_t)n;
  fclose(f);
  return ok;
}

static int64_t numel(const tensor *t) {
  int64_t n = 1;
  for (int d = 0; d < t->rank; d++) n *= t->dims[d];
  return n;
}

static int64_t out_of_tolerance(const tensor *want, const float *got, double *max_abs) {
  const float *w = want->data;
  int64_t bad = 0;
  *max_abs = 0;
  for (int64_t i = 0; i < numel(want); i++) {
    double d = fabs((double)got[i] - w[i]);
    if (!(d <= ATOL + RTOL * fabs(w[i]))) bad++;
    if (!(d <= *max_abs)) *max_abs = d;
  }
  return bad;
}

/* dir "bucket:DIR": the library's bucket 0 has DIR's shapes */
static void run_case(const char *dir, tensor *last) {
  char path[1200];
  int want_variant = strncmp(dir, "bucket:", 7) ? -1 : 0;
  if (want_variant == 0) dir += 7;
  tensor in, want, out;
  snprintf(path, sizeof path, "%s/input_0.bin", dir);
  CHECK(load(path, &in), "%s", path);
  snprintf(path, sizeof path, "%s/output_0.bin", dir);
  CHECK(load(path, &want), "%s", path);
  char msg[256];
  CHECK(FN(_check_inputs)(&in, msg, sizeof msg) == 0 && !msg[0], "%s: check_inputs: %s", dir, msg);
  memset(&out, 0, sizeof out);
  CHECK(FN(_output_shapes)(&in, &out) == 0, "%s: output_shapes", dir);
  CHECK(out.rank == want.rank && out.dtype == 1 &&
            !memcmp(out.dims, want.dims, sizeof(int64_t) * (size_t)want.rank),
        "%s: output shape", dir);
  int variant = FN(_run_variant)(&in);
  CHECK(variant == want_variant, "%s: variant %d", dir, variant);
  int64_t ws = FN(_workspace_size)(&in);
  CHECK(ws >= 0 && ws % 64 == 0, "%s: workspace_size %lld", dir, (long long)ws);
  for (int own = 0; own < 2; own++) {
    void *work = own && ws > 0 ? aligned_alloc(64, (size_t)ws) : NULL;
    float *got = calloc((size_t)numel(&want) + 1, sizeof(float));
    tensor o = {got, 0, 0, {0}};
    int rc = FN(_run_dims)(&in, &o, work);
    CHECK(rc == 0, "%s: run_dims returned %d", dir, rc);
    CHECK(o.rank == want.rank && o.dtype == 1 &&
              !memcmp(o.dims, want.dims, sizeof(int64_t) * (size_t)want.rank),
          "%s: run's output shape", dir);
    double max_abs;
    int64_t bad = out_of_tolerance(&want, got, &max_abs);
    printf("%s: input [", dir);
    for (int d = 0; d < in.rank; d++) printf("%s%lld", d ? "," : "", (long long)in.dims[d]);
    printf("], %s, %s workspace, %lld outputs, max abs error %.3g\n",
           variant < 0 ? "generic" : "bucket", own ? "caller's" : "own",
           (long long)numel(&want), max_abs);
    CHECK(!bad, "%s: %lld elements out of tolerance", dir, (long long)bad);
    free(got);
    free(work);
  }
  free(want.data);
  free(last->data);
  *last = in;
}

/* shapes the model cannot take, each refused with a message naming what is wrong */
static void bad_shape(const tensor *base, int rank, int dtype, int dim, int64_t size,
                      const char *says) {
  tensor t = *base, o;
  if (rank >= 0) t.rank = rank;
  if (dtype >= 0) t.dtype = dtype;
  if (dim >= 0) t.dims[dim] = size;
  char msg[256];
  int rc = FN(_check_inputs)(&t, msg, sizeof msg);
  printf("refused (%d): %s\n", rc, msg);
  CHECK(rc == CAT(MODEL_UP, _ERR_INVALID_INPUT), "check_inputs returned %d", rc);
  CHECK(strstr(msg, CAT(MODEL_UP, _INPUT_0_NAME)) && strstr(msg, says), "message '%s' lacks '%s'", msg, says);
  CHECK(FN(_output_shapes)(&t, &o) == rc, "output_shapes took it");
  CHECK(FN(_workspace_size)(&t) == -1, "workspace_size took it");
  float out[4];
  o.data = out;
  CHECK(FN(_run_dims)(&t, &o, NULL) == rc, "run_dims took it");
}

int main(int argc, char **argv) {
  tensor last = {0};
  for (int i = 1; i < argc; i++) run_case(argv[i], &last);
  CHECK(argc >= 4, "only %d shapes", argc - 1);
  int free_dim = -1;
  int64_t shape[] = CAT(MODEL_UP, _INPUT_0_SHAPE);
  for (int d = 0; d < last.rank; d++)
    if (shape[d] == -1) free_dim = d;
  int static_dim = -1;
  for (int d = 0; d < last.rank && static_dim < 0; d++)
    if (shape[d] != -1) static_dim = d;
  CHECK(free_dim >= 0 && static_dim >= 0, "the header shows no free dim, or no static one");
  bad_shape(&last, last.rank + 1, -1, -1, 0, "rank");
  bad_shape(&last, -1, 7, -1, 0, "dtype");
  bad_shape(&last, -1, -1, static_dim, last.dims[static_dim] + 1, "dim");
  bad_shape(&last, -1, -1, free_dim, -5, "outside");
  bad_shape(&last, -1, -1, free_dim, (int64_t)1 << 40, "outside");
  /* tiny sizes of a free dim: taken (output dims at least 1), or refused as too small for
   * the model's windows or below the sizes its windows' output sizes were matched at
   * (kiln_program.sym_min), never run at a size whose dims it may get wrong */
  for (int64_t x = 0; x <= 3; x++) { /* 0: where every op's shapes hold at 0 (a batch of 0) */
    tensor t = last, o;
    t.dims[free_dim] = x;
    char msg[256];
    int rc = FN(_check_inputs)(&t, msg, sizeof msg);
    printf("%s %lld: %d %s\n", CAT(MODEL_UP, _INPUT_0_NAME), (long long)x, rc, msg);
    CHECK(rc == 0 || (rc == CAT(MODEL_UP, _ERR_INVALID_INPUT) &&
                      (strstr(msg, "too small") || strstr(msg, "compiled for sizes from") ||
                       (x == 0 && strstr(msg, "outside 1 ..")))),
          "size %lld: %d '%s'", (long long)x, rc, msg);
    CHECK(FN(_output_shapes)(&t, &o) == rc, "output_shapes disagrees");
    for (int d = 0; !rc && d < o.rank; d++) CHECK(o.dims[d] >= (x ? 1 : 0), "output dim %d < 1", d);
    if (rc) continue;
    /* and it runs there, to the shape output_shapes said (zeros in, whatever comes out) */
    t.data = calloc((size_t)numel(&t) + 1, sizeof(float));
    tensor r = {calloc((size_t)numel(&o) + 1, sizeof(float)), 0, 0, {0}};
    CHECK(FN(_run_dims)(&t, &r, NULL) == 0 && r.rank == o.rank &&
              !memcmp(r.dims, o.dims, sizeof(int64_t) * (size_t)o.rank),
          "size %lld: run_dims", (long long)x);
    free(t.data);
    free(r.data);
  }
  tensor o = {NULL, 0, 0, {0}}, null_in = last;
  null_in.data = NULL;
  CHECK(FN(_run_dims)(&last, &o, NULL) == CAT(MODEL_UP, _ERR_INVALID_ARGUMENT), "NULL output");
  float out[1];
  o.data = out;
  CHECK(FN(_run_dims)(&null_in, &o, NULL) == CAT(MODEL_UP, _ERR_INVALID_ARGUMENT), "NULL input");
  CHECK(FN(_run_dims)(&last, NULL, NULL) == CAT(MODEL_UP, _ERR_INVALID_ARGUMENT), "NULL outputs");
  free(last.data);
  printf(fails ? "FAILED (%d)\n" : "ok\n", fails);
  return fails != 0;
}
