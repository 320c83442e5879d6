/* The ops whose output sizes depend on values (ir/ops/select.c, nms.c) through the public
 * API: results from inputs bound at compile time (kiln_options.values) and from params;
 * NonZero of a run-time input (its count a size the run computes: ir/ops/select_run.c);
 * Unique, Compress and NonMaxSuppression with run-time inputs; and hostile values: a missing value names the node,
 * the input and the graph input to bind, a condition longer than its axis, bad
 * NonMaxSuppression shapes, attributes and thresholds are clean errors, and empty
 * inputs, nothing selected, a negative or huge box limit and NaN scores give defined
 * results. */
#include "check.h"

#include "kiln.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static kiln_model *compile(const char *text, const kiln_input_value *vals, int nvals,
                           kiln_error *err) {
  kiln_options o = {.struct_size = sizeof o};
  o.values = vals;
  o.nvalues = nvals;
  o.check_bounds = 1;
  kiln_model *m = NULL;
  if (kiln_compile_buffer(text, strlen(text), &o, &m, err)) return NULL;
  return m;
}

/* The compile must fail with status want and a message holding each of msg. */
static void expect_error(const char *text, const kiln_input_value *vals, int nvals,
                         kiln_status want, const char *const *msg) {
  kiln_error err = {0};
  kiln_model *m = compile(text, vals, nvals, &err);
  CHECK(m == NULL && err.code == want);
  if (m || err.code != want)
    fprintf(stderr, "%s\n  -> %s: %s\n", text, kiln_status_name(err.code), err.message);
  for (int i = 0; !m && msg[i]; i++) {
    CHECK(strstr(err.message, msg[i]) != NULL);
    if (!strstr(err.message, msg[i])) fprintf(stderr, "'%s' not in: %s\n", msg[i], err.message);
  }
  kiln_model_free(m);
}

/* Output `out` has shape dims (rank) and, when want is not NULL, those int64 values. */
static void expect_i64(const kiln_model *m, const void *const *ins, int out, int rank,
                       const int64_t *dims, const int64_t *want) {
  int64_t got[4][64] = {{0}};
  void *outs[4] = {got[0], got[1], got[2], got[3]};
  kiln_tensor_info info;
  CHECK(kiln_output_info(m, out, &info) == KILN_OK);
  CHECK(info.rank == rank && info.bytes <= sizeof got[0]);
  for (int d = 0; d < rank && d < info.rank; d++) CHECK(info.dims[d] == dims[d]);
  kiln_error err = {0};
  kiln_status st = kiln_run(m, ins, outs, &err);
  CHECK(st == KILN_OK);
  if (st) fprintf(stderr, "run: %s\n", err.message);
  for (size_t i = 0; want && i < info.bytes / 8; i++) {
    CHECK(got[out][i] == want[i]);
    if (got[out][i] != want[i])
      fprintf(stderr, "output %d element %zu: %lld, expected %lld\n", out, i,
              (long long)got[out][i], (long long)want[i]);
  }
}

static void nonzero(void) {
  const char *text = "model m(x: f32[2, 3]) { return y = NonZero(x) }";
  float x[6] = {0, 1.5f, 0, NAN, 0, -2};
  kiln_input_value v = {"x", KILN_F32, 2, {2, 3}, x};
  kiln_error err = {0};
  kiln_model *m = compile(text, &v, 1, &err);
  CHECK(m != NULL);
  int64_t dims[2] = {2, 3}, want[6] = {0, 1, 1, 1, 0, 2}; /* NaN is not zero */
  if (m) expect_i64(m, NULL, 0, 2, dims, want);
  kiln_model_free(m);
  /* all zeros and a scalar: [2, 0] and [0, 1] */
  float zeros[6] = {0};
  v.data = zeros;
  m = compile(text, &v, 1, &err);
  int64_t empty[2] = {2, 0};
  CHECK(m != NULL);
  if (m) expect_i64(m, NULL, 0, 2, empty, NULL);
  kiln_model_free(m);
  m = compile("model m() { param s: i32[] = 7\n return y = NonZero(s) }", NULL, 0, &err);
  int64_t scalar[2] = {0, 1};
  CHECK(m != NULL);
  if (m) expect_i64(m, NULL, 0, 2, scalar, NULL);
  kiln_model_free(m);
}

/* NonZero of a run-time input: the count is -1 in the output's info, at its largest in
 * kiln_output_shapes, and what the run found in kiln_run_arrays' outputs. */
static void nonzero_at_run_time(void) {
  const char *text = "model m(x: f32[2, 3]) { return y = NonZero(x) }";
  kiln_error err = {0};
  kiln_model *m = compile(text, NULL, 0, &err);
  CHECK(m != NULL);
  if (!m) return;
  kiln_tensor_info info;
  CHECK(kiln_output_info(m, 0, &info) == KILN_OK && info.rank == 2 && info.dims[0] == 2 &&
        info.dims[1] == -1);
  float x[6] = {0, 1.5f, 0, NAN, 0, -2}, zeros[6] = {0};
  int64_t y[12], want[6] = {0, 1, 1, 1, 0, 2};
  const void *ins[1] = {x};
  void *outs[1] = {y};
  CHECK(kiln_run(m, ins, outs, &err) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "kiln_run_arrays") != NULL);
  kiln_array in = {x, KILN_F32, 2, {2, 3}}, out = {y, KILN_I64, 0, {0}};
  CHECK(kiln_output_shapes(m, &in, &out, &err) == KILN_OK && out.rank == 2 &&
        out.dims[0] == 2 && out.dims[1] == 6);
  CHECK(kiln_run_arrays(m, &in, &out, &err) == KILN_OK);
  CHECK(out.rank == 2 && out.dims[0] == 2 && out.dims[1] == 3);
  for (int i = 0; i < 6; i++) CHECK(y[i] == want[i]);
  in.data = zeros; /* nothing found: [2, 0] */
  CHECK(kiln_run_arrays(m, &in, &out, &err) == KILN_OK && out.dims[0] == 2 && out.dims[1] == 0);
  kiln_model_free(m);
  /* of fewer than 3 elements, the input's value is needed at compile time */
  const char *msg[] = {"NonZero", "known at compile time", NULL};
  expect_error("model m(x: f32[2]) { return y = NonZero(x) }", NULL, 0, KILN_ERR_SHAPE, msg);
}

static void unique(void) {
  const char *text = "model m() {\n param x: i64[6] = [2, 1, 1, 3, 4, 3]\n"
                     " y, i, inv, c = Unique(x, sorted=0)\n return y, i, inv, c }";
  kiln_error err = {0};
  kiln_model *m = compile(text, NULL, 0, &err);
  CHECK(m != NULL);
  int64_t four[1] = {4}, six[1] = {6};
  int64_t y[4] = {2, 1, 3, 4}, idx[4] = {0, 1, 3, 4}, inv[6] = {0, 1, 1, 2, 3, 2}, c[4] = {1, 2, 2, 1};
  if (m) {
    expect_i64(m, NULL, 0, 1, four, y);
    expect_i64(m, NULL, 1, 1, four, idx);
    expect_i64(m, NULL, 2, 1, six, inv);
    expect_i64(m, NULL, 3, 1, four, c);
  }
  kiln_model_free(m);
  /* rows along axis 0, sorted; u64 above INT64_MAX sorts after small values */
  uint64_t x[6] = {UINT64_MAX, 0, 1, 2, 1, 2};
  kiln_input_value v = {"x", KILN_U64, 2, {3, 2}, x};
  m = compile("model m(x: u64[3, 2]) {\n y, i = Unique(x, axis=0)\n return y, i }", &v, 1, &err);
  CHECK(m != NULL);
  int64_t dims[2] = {2, 2}, rows[4] = {1, 2, -1, 0}, two[1] = {2}, first[2] = {1, 0};
  if (m) {
    expect_i64(m, NULL, 0, 2, dims, rows);
    expect_i64(m, NULL, 1, 1, two, first);
  }
  kiln_model_free(m);
  const char *msg[] = {"node 'Unique_0' (Unique)", "axis 2 out of range", NULL};
  expect_error("model m(x: u64[3, 2]) { return y = Unique(x, axis=2) }", &v, 1, KILN_ERR_SHAPE,
               msg);
}

/* Unique of a run-time input (ir/ops/unique_run.c) against the same Unique with the input
 * bound at compile time (ir/ops/select.c), on inputs with repeats and NaNs (equal to each
 * other, after every number), along an axis and flattened, sorted and not. */
static void unique_at_run_time(void) {
  const char *texts[2] = {"model m(x: f32[5, 3]) {\n y, i, inv, c = Unique(x, axis=0)\n"
                          " return y, i, inv, c }",
                          "model m(x: f32[5, 3]) {\n y, i, inv, c = Unique(x, sorted=0)\n"
                          " return y, i, inv, c }"};
  const float vals[4] = {0, 1, 2, NAN};
  unsigned seed = 7;
  for (int t = 0; t < 2; t++) {
    kiln_error err = {0};
    kiln_model *m = compile(texts[t], NULL, 0, &err);
    CHECK(m != NULL);
    if (!m) continue;
    kiln_tensor_info info;
    CHECK(kiln_output_info(m, 0, &info) == KILN_OK && info.dims[0] == -1);
    for (int round = 0; round < 6; round++) {
      float x[15];
      for (int i = 0; i < 15; i++) { /* round 0: all the same; 1: rows 0, 2, 4 the same */
        seed = seed * 1103515245u + 12345u;
        x[i] = round == 0 ? 1.0f : vals[(seed >> 16) % (round == 1 ? 1 + i % 3 : 4)];
      }
      kiln_input_value v = {"x", KILN_F32, 2, {5, 3}, x};
      kiln_model *ref = compile(texts[t], &v, 1, &err);
      CHECK(ref != NULL);
      if (!ref) continue;
      float ry[15], gy[15];
      int64_t r64[3][15], g64[3][15];
      void *routs[4] = {ry, r64[0], r64[1], r64[2]};
      CHECK(kiln_run(ref, NULL, routs, &err) == KILN_OK);
      kiln_array in = {x, KILN_F32, 2, {5, 3}};
      kiln_array out[4] = {{gy, KILN_F32, 0, {0}}, {g64[0], KILN_I64, 0, {0}},
                           {g64[1], KILN_I64, 0, {0}}, {g64[2], KILN_I64, 0, {0}}};
      CHECK(kiln_run_arrays(m, &in, out, &err) == KILN_OK);
      for (int o = 0; o < 4; o++) {
        kiln_tensor_info want;
        kiln_output_info(ref, o, &want);
        CHECK(out[o].rank == want.rank);
        int64_t n = 1;
        for (int d = 0; d < want.rank && d < out[o].rank; d++) {
          CHECK(out[o].dims[d] == want.dims[d]);
          n *= want.dims[d];
        }
        for (int64_t i = 0; i < n; i++) {
          bool same = o ? g64[o - 1][i] == r64[o - 1][i]
                        : gy[i] == ry[i] || (isnan(gy[i]) && isnan(ry[i]));
          CHECK(same);
          if (!same) fprintf(stderr, "unique %d round %d output %d element %lld differs\n", t,
                             round, o, (long long)i);
        }
      }
      kiln_model_free(ref);
    }
    kiln_model_free(m);
  }
}

static void compress(void) {
  /* run-time input, known condition: a gather of rows 0 and 2 */
  const char *text = "model m(x: f32[3, 2]) {\n param c: bool[3] = [1, 0, 1]\n"
                     " return y = Compress(x, c, axis=0) }";
  kiln_error err = {0};
  kiln_model *m = compile(text, NULL, 0, &err);
  CHECK(m != NULL);
  if (!m) fprintf(stderr, "compress: %s\n", err.message);
  for (int run = 0; m && run < 2; run++) {
    float x[6], y[4] = {0};
    for (int i = 0; i < 6; i++) x[i] = (float)(10 * run + i);
    const void *ins[1] = {x};
    void *outs[1] = {y};
    CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
    CHECK(y[0] == x[0] && y[1] == x[1] && y[2] == x[4] && y[3] == x[5]);
  }
  kiln_model_free(m);
  /* flattened, and a condition shorter than the input */
  m = compile("model m(x: f32[2, 2]) {\n param c: bool[3] = [0, 1, 1]\n"
              " return y = Compress(x, c) }", NULL, 0, &err);
  CHECK(m != NULL);
  if (m) {
    float x[4] = {1, 2, 3, 4}, y[2] = {0};
    const void *ins[1] = {x};
    void *outs[1] = {y};
    kiln_tensor_info info;
    kiln_output_info(m, 0, &info);
    CHECK(info.rank == 1 && info.dims[0] == 2);
    CHECK(kiln_run(m, ins, outs, &err) == KILN_OK && y[0] == 2 && y[1] == 3);
  }
  kiln_model_free(m);
  /* nothing selected: an empty output */
  m = compile("model m(x: f32[3, 2]) {\n param c: bool[2] = [0, 0]\n"
              " return y = Compress(x, c, axis=1) }", NULL, 0, &err);
  CHECK(m != NULL);
  if (m) {
    kiln_tensor_info info;
    kiln_output_info(m, 0, &info);
    CHECK(info.rank == 2 && info.dims[0] == 3 && info.dims[1] == 0);
  }
  kiln_model_free(m);
  /* a run-time condition: the count a size the run computes; selecting past the axis fails
   * the run */
  const char *rt = "model m(x: f32[3, 2], c: bool[3]) { return y = Compress(x, c, axis=0) }";
  m = compile(rt, NULL, 0, &err);
  CHECK(m != NULL);
  if (m) {
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6];
    bool c[3] = {1, 0, 1}, none[3] = {0};
    kiln_array ia[2] = {{x, KILN_F32, 2, {3, 2}}, {c, KILN_BOOL, 1, {3}}};
    kiln_array oa = {y, KILN_F32, 0, {0}};
    CHECK(kiln_output_shapes(m, ia, &oa, &err) == KILN_OK && oa.dims[0] == 3);
    CHECK(kiln_run_arrays(m, ia, &oa, &err) == KILN_OK && oa.rank == 2 && oa.dims[0] == 2 &&
          oa.dims[1] == 2);
    CHECK(y[0] == 1 && y[1] == 2 && y[2] == 5 && y[3] == 6);
    ia[1].data = none;
    CHECK(kiln_run_arrays(m, ia, &oa, &err) == KILN_OK && oa.dims[0] == 0 && oa.dims[1] == 2);
  }
  kiln_model_free(m);
  m = compile("model m(x: f32[3, 2], c: bool[4]) { return y = Compress(x, c, axis=0) }", NULL, 0,
              &err);
  CHECK(m != NULL);
  if (m) {
    float x[6] = {0}, y[8];
    bool c[4] = {1, 0, 0, 1};
    kiln_array ia[2] = {{x, KILN_F32, 2, {3, 2}}, {c, KILN_BOOL, 1, {4}}};
    kiln_array oa = {y, KILN_F32, 0, {0}};
    CHECK(kiln_run_arrays(m, ia, &oa, &err) == KILN_ERR_INVALID_INPUT);
    CHECK(strstr(err.message, "out of range") != NULL);
    if (!strstr(err.message, "out of range")) fprintf(stderr, "compress past the axis: %s\n", err.message);
  }
  kiln_model_free(m);
  bool cond[4] = {1, 0, 0, 1};
  kiln_input_value v = {"c", KILN_BOOL, 1, {3}, cond};
  m = compile(rt, &v, 1, &err); /* bound, the input still a run-time value */
  CHECK(m != NULL && kiln_num_inputs(m) == 1);
  kiln_model_free(m);
  v.dims[0] = 4;
  const char *longer[] = {"node 'Compress_0' (Compress)", "condition 'c' has 4 entries",
                          "more than the 3 slices", NULL};
  expect_error("model m(x: f32[3, 2], c: bool[4]) { return y = Compress(x, c, axis=0) }", &v, 1,
               KILN_ERR_SHAPE, longer);
  const char *not_bool[] = {"condition must be a 1-D bool tensor", NULL};
  expect_error("model m(x: f32[3, 2]) {\n param c: f32[3] = [1, 0, 1]\n"
               " return y = Compress(x, c, axis=0) }", NULL, 0, KILN_ERR_INVALID_MODEL, not_bool);
}

/* NonMaxSuppression over 3 boxes of one class: two that overlap (IoU 0.9) and a third
 * apart, boxes and scores bound as values. */
static const char *nms_text = "model m(b: f32[1, 3, 4], s: f32[1, 1, 3], k: i64[1]) {\n"
                              " param iou: f32[] = 0.5\n"
                              " return y = NonMaxSuppression(b, s, k, iou) }";
static float nms_boxes[12] = {0, 0, 1, 1, 0, 0, 1, 0.9f, 5, 5, 6, 6};

static kiln_model *nms_compile(const float *scores, int64_t k, kiln_error *err) {
  static int64_t kv;
  kv = k;
  kiln_input_value v[3] = {{"b", KILN_F32, 3, {1, 3, 4}, nms_boxes},
                           {"s", KILN_F32, 3, {1, 1, 3}, scores},
                           {"k", KILN_I64, 1, {1}, &kv}};
  return compile(nms_text, v, 3, err);
}

static void nms(void) {
  kiln_error err = {0};
  float scores[3] = {0.9f, 0.8f, 0.7f};
  kiln_model *m = nms_compile(scores, 10, &err);
  CHECK(m != NULL);
  int64_t two[2] = {2, 3}, sel[6] = {0, 0, 0, 0, 0, 2};
  if (m) expect_i64(m, NULL, 0, 2, two, sel);
  kiln_model_free(m);
  /* a huge limit keeps every box that survives; a negative one none */
  m = nms_compile(scores, INT64_MAX, &err);
  CHECK(m != NULL);
  if (m) expect_i64(m, NULL, 0, 2, two, sel);
  kiln_model_free(m);
  m = nms_compile(scores, -5, &err);
  int64_t none[2] = {0, 3};
  CHECK(m != NULL);
  if (m) expect_i64(m, NULL, 0, 2, none, NULL);
  kiln_model_free(m);
  /* NaN scores sort last: box 1 first, which suppresses box 0 */
  float nan_scores[3] = {NAN, 0.8f, NAN};
  m = nms_compile(nan_scores, 3, &err);
  int64_t nan_sel[6] = {0, 0, 1, 0, 0, 2};
  CHECK(m != NULL);
  if (m) expect_i64(m, NULL, 0, 2, two, nan_sel);
  kiln_model_free(m);
  /* unbound inputs are named: the limit first, then (a box may be kept) the boxes */
  const char *no_k[] = {"node 'NonMaxSuppression_0' (NonMaxSuppression)", "input 'k'",
                        "graph input 'k'", NULL};
  expect_error(nms_text, NULL, 0, KILN_ERR_SHAPE, no_k);
  int64_t one = 1;
  kiln_input_value k = {"k", KILN_I64, 1, {1}, &one};
  const char *no_b[] = {"node 'NonMaxSuppression_0' (NonMaxSuppression)", "input 'b'",
                        "graph input 'b'", NULL};
  expect_error(nms_text, &k, 1, KILN_ERR_SHAPE, no_b);
  /* scores for 2 boxes against 3 boxes; a threshold past 1; a bad box format */
  const char *shapes[] = {"NonMaxSuppression", "scores [batches, classes, boxes]", NULL};
  expect_error("model m(b: f32[1, 3, 4], s: f32[1, 1, 2]) { return y = NonMaxSuppression(b, s) }",
               NULL, 0, KILN_ERR_SHAPE, shapes);
  float two_f = 2;
  kiln_input_value t = {"t", KILN_F32, 1, {1}, &two_f};
  const char *iou[] = {"node 'NonMaxSuppression_0' (NonMaxSuppression)",
                       "iou_threshold 2 is outside [0, 1]", NULL};
  expect_error("model m(t: f32[1]) {\n param b: f32[1, 3, 4] = zeros\n"
               " param s: f32[1, 1, 3] = zeros\n param k: i64[1] = [1]\n"
               " return y = NonMaxSuppression(b, s, k, t) }", &t, 1, KILN_ERR_INVALID_MODEL, iou);
  const char *center[] = {"center_point_box must be 0 or 1", NULL};
  expect_error("model m(b: f32[1, 3, 4], s: f32[1, 1, 3]) {\n"
               " return y = NonMaxSuppression(b, s, center_point_box=2) }", NULL, 0,
               KILN_ERR_INVALID_MODEL, center);
  /* no boxes at all, and no limit given: empty, with nothing to bind */
  m = compile("model m(b: f32[2, 0, 4], s: f32[2, 3, 0]) {\n param k: i64[1] = [5]\n"
              " return y = NonMaxSuppression(b, s, k) }", NULL, 0, &err);
  CHECK(m != NULL);
  static const float nothing[1];
  const void *ins[2] = {nothing, nothing};
  if (m) expect_i64(m, ins, 0, 2, none, NULL);
  kiln_model_free(m);
  m = compile("model m(b: f32[1, 3, 4], s: f32[1, 1, 3]) { return y = NonMaxSuppression(b, s) }",
              NULL, 0, &err);
  CHECK(m != NULL);
  if (m) {
    kiln_tensor_info info;
    kiln_output_info(m, 0, &info);
    CHECK(info.rank == 2 && info.dims[0] == 0 && info.dims[1] == 3);
  }
  kiln_model_free(m);
}

/* The same selection with boxes and scores given at run time (ir/ops/nms_run.c): two
 * classes, the second with NaN scores; the count a size the run computes. */
static void nms_at_run_time(void) {
  const char *text = "model m(b: f32[1, 3, 4], s: f32[1, 2, 3]) {\n param k: i64[1] = [10]\n"
                     " param iou: f32[] = 0.5\n param t: f32[] = 0.75\n"
                     " return y = NonMaxSuppression(b, s, k, iou), z = NonMaxSuppression(b, s, k,"
                     " iou, t) }";
  kiln_error err = {0};
  kiln_model *m = compile(text, NULL, 0, &err);
  CHECK(m != NULL);
  if (!m) return;
  kiln_tensor_info info;
  CHECK(kiln_output_info(m, 0, &info) == KILN_OK && info.rank == 2 && info.dims[0] == -1 &&
        info.dims[1] == 3);
  float scores[6] = {0.9f, 0.8f, 0.7f, NAN, 0.8f, NAN}, low[6] = {0};
  int64_t y[18], z[18];
  kiln_array in[2] = {{nms_boxes, KILN_F32, 3, {1, 3, 4}}, {scores, KILN_F32, 3, {1, 2, 3}}};
  kiln_array out[2] = {{y, KILN_I64, 0, {0}}, {z, KILN_I64, 0, {0}}};
  CHECK(kiln_output_shapes(m, in, out, &err) == KILN_OK && out[0].dims[0] == 6 &&
        out[0].dims[1] == 3 && out[1].dims[0] == 6);
  CHECK(kiln_run_arrays(m, in, out, &err) == KILN_OK);
  /* class 1: box 1 first (NaN sorts last), suppressing box 0 */
  int64_t want[12] = {0, 0, 0, 0, 0, 2, 0, 1, 1, 0, 1, 2}, want_t[6] = {0, 0, 0, 0, 1, 1};
  CHECK(out[0].dims[0] == 4 && out[0].dims[1] == 3);
  for (int i = 0; i < 12 && out[0].dims[0] == 4; i++) CHECK(y[i] == want[i]);
  /* above 0.75: boxes 0 of class 0 and 1 of class 1 */
  CHECK(out[1].dims[0] == 2);
  for (int i = 0; i < 6 && out[1].dims[0] == 2; i++) CHECK(z[i] == want_t[i]);
  in[1].data = low; /* all tied, nothing above the threshold */
  CHECK(kiln_run_arrays(m, in, out, &err) == KILN_OK);
  CHECK(out[0].dims[0] == 4 && out[1].dims[0] == 0 && out[1].dims[1] == 3);
  kiln_model_free(m);
  /* the limit is needed at compile time */
  const char *msg[] = {"node 'NonMaxSuppression_0' (NonMaxSuppression)", "input 'k'", NULL};
  expect_error("model m(b: f32[1, 3, 4], s: f32[1, 2, 3], k: i64[1]) {\n"
               " return y = NonMaxSuppression(b, s, k) }", NULL, 0, KILN_ERR_SHAPE, msg);
}

int main(void) {
  nonzero();
  nonzero_at_run_time();
  unique();
  unique_at_run_time();
  compress();
  nms();
  nms_at_run_time();
  return check_report();
}
