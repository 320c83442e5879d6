/* Sequences, optionals, Loop and Scan resolved at compile time (ir/ops/sequence.c,
 * ir/ops/control.c), through the public API on the models of tests/data/seq
 * (make_seq_models.py): the error paths each name what is wrong, and the ops the ONNX node
 * tests leave out compute the right values. Runs in tests/. */
#include "check.h"
#include "kiln.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const float X[2] = {1, 2}, Y[2] = {3, 4};

static kiln_status compile(const char *file, const kiln_shape_binding *shapes, int nshapes,
                           const kiln_input_value *values, int nvalues, kiln_model **m,
                           kiln_error *err) {
  kiln_options o;
  kiln_options_init(&o);
  o.shapes = shapes;
  o.nshapes = nshapes;
  o.values = values;
  o.nvalues = nvalues;
  char path[256];
  snprintf(path, sizeof path, "data/seq/%s", file);
  memset(err, 0, sizeof *err);
  *m = NULL;
  return kiln_compile_file(path, &o, m, err);
}

/* Compiling fails with code and a message holding each of the two substrings. */
static void expect(const char *file, const kiln_input_value *values, int nvalues,
                   kiln_status code, const char *a, const char *b) {
  kiln_model *m;
  kiln_error err;
  kiln_status st = compile(file, NULL, 0, values, nvalues, &m, &err);
  CHECK(st == code && m == NULL);
  CHECK(strstr(err.message, a) != NULL);
  CHECK(!b || strstr(err.message, b) != NULL);
  if (st != code || !strstr(err.message, a) || (b && !strstr(err.message, b)))
    fprintf(stderr, "  %s: got %s '%s'\n", file, kiln_status_name(st), err.message);
  kiln_model_free(m);
}

static kiln_input_value pos_value(const int64_t *p) {
  return (kiln_input_value){"pos", KILN_I64, 0, {0}, p};
}

static void test_positions(void) {
  /* the position must be known at compile time: the error names the input to bind */
  expect("seq_at.onnx", NULL, 0, KILN_ERR_SHAPE, "known at compile time", "'pos'");
  int64_t five = 5, three = 3, two = 2;
  kiln_input_value v = pos_value(&five);
  expect("seq_at.onnx", &v, 1, KILN_ERR_INVALID_MODEL, "node 'out_node' (SequenceAt)",
         "position 5 is out of range [-2, 1]");
  v = pos_value(&three);
  expect("seq_insert.onnx", &v, 1, KILN_ERR_INVALID_MODEL, "(SequenceInsert)",
         "position 3 is out of range [-1, 1]");
  v = pos_value(&two);
  expect("seq_erase.onnx", &v, 1, KILN_ERR_INVALID_MODEL, "(SequenceErase)",
         "position 2 is out of range [-2, 1]");
}

static void test_errors(void) {
  expect("seq_dtypes.onnx", NULL, 0, KILN_ERR_INVALID_MODEL, "(SequenceConstruct): tensor 'i' is i64",
         "elements are f32");
  expect("opt_get_empty.onnx", NULL, 0, KILN_ERR_INVALID_MODEL,
         "node 'out_node' (OptionalGetElement)", "'o' is empty");
  /* scan outputs need the iteration count, and unrolling needs it too */
  expect("loop.onnx", NULL, 0, KILN_ERR_SHAPE, "known at compile time", "'m'");
  kiln_model *mod;
  kiln_error err;
  CHECK(compile("seq_map.onnx", NULL, 0, NULL, 0, &mod, &err) == KILN_ERR_SHAPE);
  CHECK(strstr(err.message, "sequence input 'xs': its length must be known at compile time"));
}

/* Runs m on inputs; outputs into out[i] (each at most 16 floats). */
static void run(kiln_model *m, const void *const *in, float (*out)[16]) {
  void *o[4] = {out[0], out[1], out[2], out[3]};
  kiln_error err = {0};
  CHECK(kiln_run(m, in, o, &err) == KILN_OK);
}

static void test_values(void) {
  kiln_model *m;
  kiln_error err;
  int64_t minus1 = -1, zero = 0;
  float out[4][16] = {{0}};
  kiln_input_value v = pos_value(&minus1);
  CHECK(compile("seq_at.onnx", NULL, 0, &v, 1, &m, &err) == KILN_OK);
  if (m) {
    run(m, (const void *[]){X, Y}, out);
    CHECK(out[0][0] == 3 && out[0][1] == 4); /* the last element: y */
    kiln_model_free(m);
  }
  v = pos_value(&zero);
  CHECK(compile("seq_insert.onnx", NULL, 0, &v, 1, &m, &err) == KILN_OK);
  if (m) {
    run(m, (const void *[]){X, Y}, out);
    CHECK(out[0][0] == 3 && out[0][1] == 4 && out[0][2] == 1 && out[0][3] == 2); /* [y, x] */
    kiln_model_free(m);
  }
  /* split along axis 1 and stacked back; split [1, 2] along axis 0 and concatenated */
  int64_t sizes[2] = {1, 2};
  kiln_input_value sv = {"sizes", KILN_I64, 1, {2}, sizes};
  CHECK(compile("split_concat.onnx", NULL, 0, &sv, 1, &m, &err) == KILN_OK);
  if (m) {
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)i;
    run(m, (const void *[]){x}, out);
    CHECK(memcmp(out[0], x, sizeof x) == 0 && memcmp(out[2], x, sizeof x) == 0);
    int64_t n;
    memcpy(&n, out[1], sizeof n);
    CHECK(n == 2);
    kiln_model_free(m);
  }
}

/* A sequence input is one tensor input per element, its length bound by name; a sequence
 * output one tensor output per element. */
static void test_sequence_io(void) {
  kiln_shape_binding s[3] = {{"xs", 1, {2}}, {"xs[0]", 1, {2}}, {"xs[1]", 1, {1}}};
  kiln_model *m;
  kiln_error err;
  CHECK(compile("seq_map.onnx", s, 3, NULL, 0, &m, &err) == KILN_OK);
  if (!m) return fprintf(stderr, "  seq_map: %s\n", err.message), (void)0;
  kiln_tensor_info a, b;
  CHECK(kiln_num_inputs(m) == 2 && kiln_num_outputs(m) == 2);
  CHECK(kiln_input_info(m, 1, &a) == KILN_OK && !strcmp(a.name, "xs[1]") && a.dims[0] == 1);
  CHECK(kiln_output_info(m, 0, &b) == KILN_OK && !strcmp(b.name, "ys[0]") && b.dims[0] == 2);
  float out[4][16] = {{0}};
  run(m, (const void *[]){X, Y}, out);
  CHECK(out[0][0] == 2 && out[0][1] == 4 && out[1][0] == 6);
  kiln_model_free(m);
}

/* Loops compiled once: a million iterations (past the unrolling limit of 10000); a
 * condition computed from the data, with the trip count bound and given at run time. */
static void test_compiled_loops(void) {
  kiln_model *m;
  kiln_error err;
  int64_t million = 1000000, three = 3;
  uint8_t yes = 1;
  kiln_input_value v[2] = {{"m", KILN_I64, 0, {0}, &million}, {"c", KILN_BOOL, 0, {0}, &yes}};
  CHECK(compile("loop.onnx", NULL, 0, v, 2, &m, &err) == KILN_OK);
  if (m) {
    float y0[2] = {10, 20}, y[2] = {0}, *ys = calloc(2 * 1000000, sizeof(float));
    CHECK(ys && kiln_run(m, (const void *[]){X, y0}, (void *[]){y, ys}, &err) == KILN_OK);
    /* sums of integers below 2^24: exact */
    CHECK(y[0] == 1000010 && y[1] == 2000020);
    CHECK(ys && ys[0] == 11 && ys[1] == 22 && ys[2 * 999999] == 1000010);
    free(ys);
    kiln_model_free(m);
  }
  /* y += x while sum(y) < 10, at most m times */
  v[0].data = &three;
  CHECK(compile("loop_data_cond.onnx", NULL, 0, v, 2, &m, &err) == KILN_OK);
  if (m) {
    float y0[2] = {0, 0}, y[2] = {0};
    CHECK(kiln_run(m, (const void *[]){X, y0}, (void *[]){y}, &err) == KILN_OK);
    CHECK(y[0] == 3 && y[1] == 6); /* sums 3, 6, 9: the trip count ends it */
    y0[0] = 6;
    CHECK(kiln_run(m, (const void *[]){X, y0}, (void *[]){y}, &err) == KILN_OK);
    CHECK(y[0] == 8 && y[1] == 4); /* sums 9, 12: the condition ends it */
    kiln_model_free(m);
  }
  /* an iteration limit: reaching it fails the run naming the node */
  kiln_options o;
  kiln_options_init(&o);
  o.values = &v[1];
  o.nvalues = 1;
  o.max_loop_iterations = 2;
  CHECK(kiln_compile_file("data/seq/loop_data_cond.onnx", &o, &m, &err) == KILN_OK);
  if (m) {
    float y0[2] = {0, 0}, y[2] = {0};
    int64_t two = 2;
    CHECK(kiln_run(m, (const void *[]){&two, X, y0}, (void *[]){y}, &err) == KILN_OK);
    CHECK(kiln_run(m, (const void *[]){&three, X, y0}, (void *[]){y}, &err) == KILN_ERR_INVALID_INPUT);
    CHECK(strstr(err.message, "(Loop): it reached 2 iterations, kiln's limit") != NULL);
    kiln_model_free(m);
  }
  CHECK(compile("loop_data_cond.onnx", NULL, 0, &v[1], 1, &m, &err) == KILN_OK);
  if (m) {
    float y0[2] = {0, 0}, y[2] = {0};
    int64_t trips[3] = {0, 1, 100};
    const float want[3][2] = {{0, 0}, {1, 2}, {4, 8}}; /* sums 0, 3, then 12 ends it */
    for (int i = 0; i < 3; i++) {
      CHECK(kiln_run(m, (const void *[]){&trips[i], X, y0}, (void *[]){y}, &err) == KILN_OK);
      CHECK(y[0] == want[i][0] && y[1] == want[i][1]);
    }
    kiln_model_free(m);
  }
}

static void test_loop_scan(void) {
  kiln_model *m;
  kiln_error err;
  int64_t three = 3;
  uint8_t yes = 1;
  kiln_input_value v[2] = {{"m", KILN_I64, 0, {0}, &three}, {"c", KILN_BOOL, 0, {0}, &yes}};
  CHECK(compile("loop.onnx", NULL, 0, v, 2, &m, &err) == KILN_OK);
  float out[4][16] = {{0}};
  if (m) {
    float y0[2] = {10, 20};
    run(m, (const void *[]){X, y0}, out);
    CHECK(out[0][0] == 13 && out[0][1] == 26);
    const float sums[6] = {11, 22, 12, 24, 13, 26};
    CHECK(memcmp(out[1], sums, sizeof sums) == 0);
    kiln_model_free(m);
  }
  CHECK(compile("scan.onnx", NULL, 0, NULL, 0, &m, &err) == KILN_OK);
  if (m) {
    float init[3] = {0, 0, 100}, x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)i; /* rows [0..3], [4..7], [8..11] */
    run(m, (const void *[]){init, x}, out);
    CHECK(out[0][0] == 6 && out[0][1] == 22 && out[0][2] == 138);
    /* backwards over the columns: step 0 adds column 3 */
    CHECK(out[1][0] == 3 && out[1][1] == 7 && out[1][2] == 111);
    CHECK(out[1][9] == 6 && out[1][10] == 22 && out[1][11] == 138);
    kiln_model_free(m);
  }
}

int main(void) {
  test_positions();
  test_errors();
  test_values();
  test_compiled_loops();
  test_sequence_io();
  test_loop_scan();
  return check_report();
}
