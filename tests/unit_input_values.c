/* Hostile input *values* through the public API (JIT): indices read from data are checked
 * (Gather, GatherElements; any index dtype; from graph inputs, from float ids through
 * Cast), out-of-range constant indices fail at compile time naming the node, and the
 * integer and conversion operations whose results C and LLVM leave undefined (x / 0,
 * INT_MIN / -1, shifts past the width, NaN or 1e30 to int) give the interpreter's
 * defined results instead of a trap or poison. Every run also goes through a
 * check_bounds build, which must report no out-of-bounds access. An AOT library's
 * <name>_run returns the same status. */
#include "check.h"

#include "kiln.h"

#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kiln_model *compile(const char *text, int check_bounds, kiln_error *err) {
  kiln_options o = {.struct_size = sizeof o};
  o.check_bounds = check_bounds;
  kiln_model *m = NULL;
  if (kiln_compile_buffer(text, strlen(text), &o, &m, err)) return NULL;
  return m;
}

/* Runs text on inputs with and without check_bounds; both must give status want, the
 * same outputs, and (on failure) a message containing each of the strings in msg. */
static void expect_run(const char *text, const void *const *ins, void *const *outs,
                       size_t out0_bytes, kiln_status want, const char *const *msg) {
  kiln_error err;
  unsigned char saved[256];
  for (int cb = 0; cb < 2; cb++) {
    kiln_model *m = compile(text, cb, &err);
    CHECK(m != NULL);
    if (!m) {
      fprintf(stderr, "compile failed: %s\n", err.message);
      return;
    }
    kiln_status st = kiln_run(m, ins, outs, &err);
    CHECK(st == want);
    if (st != want) fprintf(stderr, "%s\n  -> %s: %s\n", text, kiln_status_name(st), err.message);
    for (int i = 0; st && msg && msg[i]; i++) {
      CHECK(strstr(err.message, msg[i]) != NULL);
      if (!strstr(err.message, msg[i])) fprintf(stderr, "'%s' not in: %s\n", msg[i], err.message);
    }
    if (!st && out0_bytes <= sizeof saved) { /* both builds compute the same output */
      if (cb == 0) memcpy(saved, outs[0], out0_bytes);
      else CHECK(memcmp(saved, outs[0], out0_bytes) == 0);
    }
    kiln_model_free(m);
  }
}

static void gather_indices(void) {
  const char *text = "model m(a: f32[2, 3], i: i64[4]) { return y = Gather(a, i, axis=0) }";
  float a[6] = {1, 2, 3, 4, 5, 6}, y[12];
  const void *ins[2] = {a, NULL};
  void *outs[1] = {y};
  int64_t good[4] = {0, 1, -1, -2};
  ins[1] = good;
  expect_run(text, ins, outs, sizeof y, KILN_OK, NULL);
  CHECK(y[0] == 1 && y[3] == 4 && y[6] == 4 && y[9] == 1);
  /* each bad value in each position: the message names node, input, value and range */
  int64_t bad[] = {2, 7, -3, 100000000, INT64_MIN, INT64_MAX};
  char val[32];
  for (size_t b = 0; b < sizeof bad / sizeof *bad; b++)
    for (int pos = 0; pos < 4; pos++) {
      int64_t idx[4] = {0, 1, 0, 1};
      idx[pos] = bad[b];
      ins[1] = idx;
      snprintf(val, sizeof val, "index %lld ", (long long)bad[b]);
      const char *msg[] = {"node 'Gather_0' (Gather)", "input 'i'", val, "[-2, 2)", NULL};
      expect_run(text, ins, outs, sizeof y, KILN_ERR_INVALID_INPUT, msg);
    }
}

static void gather_other_dtypes(void) {
  /* i32 along axis 1 */
  const char *t32 = "model m(a: f32[2, 3], i: i32[2]) { return y = Gather(a, i, axis=1) }";
  float a[6] = {1, 2, 3, 4, 5, 6}, y[4];
  int32_t i32[2] = {2, -3};
  const void *ins[2] = {a, i32};
  void *outs[1] = {y};
  expect_run(t32, ins, outs, sizeof y, KILN_OK, NULL);
  CHECK(y[0] == 3 && y[1] == 1 && y[2] == 6 && y[3] == 4);
  i32[1] = INT32_MIN;
  const char *m32[] = {"index -2147483648 ", "[-3, 3)", NULL};
  expect_run(t32, ins, outs, sizeof y, KILN_ERR_INVALID_INPUT, m32);
  /* unsigned: 255 is not -1 */
  const char *tu8 = "model m(a: f32[2, 3], i: u8[2]) { return y = Gather(a, i, axis=1) }";
  uint8_t u8[2] = {1, 255};
  ins[1] = u8;
  const char *mu8[] = {"index 255 ", NULL};
  expect_run(tu8, ins, outs, sizeof y, KILN_ERR_INVALID_INPUT, mu8);
  /* u64 above INT64_MAX is huge, not negative */
  const char *tu64 = "model m(a: f32[2, 3], i: u64[2]) { return y = Gather(a, i, axis=1) }";
  uint64_t u64[2] = {0, UINT64_MAX};
  ins[1] = u64;
  const char *mu64[] = {"index 18446744073709551615 ", NULL};
  expect_run(tu64, ins, outs, sizeof y, KILN_ERR_INVALID_INPUT, mu64);
}

static void gather_elements(void) {
  const char *text =
      "model m(a: f32[2, 3], i: i64[2, 2]) { return y = GatherElements(a, i, axis=1) }";
  float a[6] = {1, 2, 3, 4, 5, 6}, y[4];
  int64_t idx[4] = {0, -1, 2, 1};
  const void *ins[2] = {a, idx};
  void *outs[1] = {y};
  expect_run(text, ins, outs, sizeof y, KILN_OK, NULL);
  CHECK(y[0] == 1 && y[1] == 3 && y[2] == 6 && y[3] == 5);
  idx[3] = 3;
  const char *msg[] = {"(GatherElements)", "input 'i'", "index 3 ", "[-3, 3)", NULL};
  expect_run(text, ins, outs, sizeof y, KILN_ERR_INVALID_INPUT, msg);
}

/* A loss op's targets index its classes: -100 is ignored (weight 0, not read), 3 of 3
 * classes fails naming the loss node's expansion. */
static void loss_targets(void) {
  const char *text = "model m(a: f32[2, 3], t: i64[2]) { return y = "
                     "NegativeLogLikelihoodLoss(a, t, reduction=\"sum\", ignore_index=-100) }";
  float a[6] = {1, 2, 3, 4, 5, 6}, y[1];
  int64_t t[2] = {2, -100};
  const void *ins[2] = {a, t};
  void *outs[1] = {y};
  expect_run(text, ins, outs, sizeof y, KILN_OK, NULL);
  CHECK(y[0] == -3);
  t[1] = 3;
  const char *msg[] = {"(GatherElements)", "index 3 ", NULL};
  expect_run(text, ins, outs, sizeof y, KILN_ERR_INVALID_INPUT, msg);
}

/* GatherND's index tuples and ReverseSequence's lengths are checked like Gather's indices. */
static void gather_nd_and_lengths(void) {
  const char *gnd = "model m(a: f32[2, 3], i: i64[2, 2]) { return y = GatherND(a, i) }";
  float a[6] = {1, 2, 3, 4, 5, 6}, y[6];
  int64_t idx[4] = {1, 2, 0, -1};
  const void *ins[2] = {a, idx};
  void *outs[1] = {y};
  expect_run(gnd, ins, outs, 2 * sizeof(float), KILN_OK, NULL);
  CHECK(y[0] == 6 && y[1] == 3);
  idx[1] = 3;
  const char *msg[] = {"(GatherND)", "input 'i'", "index 3 ", NULL};
  expect_run(gnd, ins, outs, 2 * sizeof(float), KILN_ERR_INVALID_INPUT, msg);
  const char *rs = "model m(a: f32[3, 2], n: i64[2]) { return y = ReverseSequence(a, n) }";
  int64_t lens[2] = {3, 1};
  ins[1] = lens;
  expect_run(rs, ins, outs, sizeof y, KILN_OK, NULL);
  CHECK(y[0] == 5 && y[2] == 3 && y[4] == 1 && y[1] == 2 && y[3] == 4 && y[5] == 6);
  lens[1] = 4; /* longer than the time axis */
  const char *msg2[] = {"(ReverseSequence)", "input 'n'", NULL};
  expect_run(rs, ins, outs, sizeof y, KILN_ERR_INVALID_INPUT, msg2);
}

/* Scatter indices are checked; updates smaller than the data (ScatterElements) land only
 * where they are; duplicates with reduction add all count. */
static void scatters(void) {
  const char *nd = "model m(a: f32[3, 2], i: i64[2, 1], u: f32[2, 2]) "
                   "{ return y = ScatterND(a, i, u, reduction=\"add\") }";
  float a[6] = {1, 2, 3, 4, 5, 6}, u[4] = {10, 20, 30, 40}, y[6];
  int64_t idx[2] = {2, -1};
  const void *ins[3] = {a, idx, u};
  void *outs[1] = {y};
  expect_run(nd, ins, outs, sizeof y, KILN_OK, NULL);
  CHECK(y[0] == 1 && y[1] == 2 && y[4] == 45 && y[5] == 66); /* both rows land on row 2 */
  idx[0] = 3;
  const char *msg[] = {"(ScatterND)", "input 'i'", "index 3 ", NULL};
  expect_run(nd, ins, outs, sizeof y, KILN_ERR_INVALID_INPUT, msg);
  const char *el = "model m(a: f32[3, 2], i: i64[1, 2], u: f32[1, 2]) "
                   "{ return y = ScatterElements(a, i, u, axis=1) }";
  int64_t ei[2] = {1, 0};
  ins[1] = ei;
  expect_run(el, ins, outs, sizeof y, KILN_OK, NULL);
  CHECK(y[0] == 20 && y[1] == 10 && y[2] == 3 && y[3] == 4 && y[4] == 5 && y[5] == 6);
  ei[1] = -3;
  const char *msg2[] = {"(ScatterElements)", "index -3 ", NULL};
  expect_run(el, ins, outs, sizeof y, KILN_ERR_INVALID_INPUT, msg2);
}

/* GridSample at NaN, infinite and huge points: every mode and padding runs, bounds
 * checked (expect_run also runs with check_bounds), and zeros padding gives 0 there. */
static void grid_sample_points(void) {
  static const char *modes[] = {"nearest", "bilinear", "bicubic"};
  static const char *pads[] = {"zeros", "border", "reflection"};
  float x[6] = {1, 2, 3, 4, 5, 6}, y[4];
  float grid[8] = {NAN, 0.5f, INFINITY, -INFINITY, 1e30f, -1e30f, 0.1f, NAN};
  const void *ins[2] = {x, grid};
  void *outs[1] = {y};
  for (int m = 0; m < 3; m++)
    for (int p = 0; p < 3; p++) {
      char text[300];
      snprintf(text, sizeof text, "model m(x: f32[1, 1, 2, 3], g: f32[1, 2, 2, 2]) { return y = "
               "GridSample(x, g, mode=\"%s\", padding_mode=\"%s\") }", modes[m], pads[p]);
      expect_run(text, ins, outs, 0, KILN_OK, NULL);
      if (p == 0) CHECK(y[2] == 0); /* (1e30, -1e30) is outside */
    }
}

/* An embedding looked up by float ids: NaN is 0 (in range), 1e30 saturates (out). */
static void float_ids(void) {
  const char *text =
      "model m(t: f32[3, 2], x: f32[2]) { return y = Gather(t, Cast(x, to=7), axis=0) }";
  float t[6] = {1, 2, 3, 4, 5, 6}, x[2] = {NAN, 2.9f}, y[4];
  const void *ins[2] = {t, x};
  void *outs[1] = {y};
  expect_run(text, ins, outs, sizeof y, KILN_OK, NULL);
  CHECK(y[0] == 1 && y[2] == 5);
  x[1] = 1e30f;
  const char *msg[] = {"index 9223372036854775807 ", NULL};
  expect_run(text, ins, outs, sizeof y, KILN_ERR_INVALID_INPUT, msg);
  x[1] = -INFINITY;
  const char *msg2[] = {"index -9223372036854775808 ", NULL};
  expect_run(text, ins, outs, sizeof y, KILN_ERR_INVALID_INPUT, msg2);
}

/* Constant indices: an error at compile time naming the node, whether or not the
 * Gather folds (constant data too). */
static void constant_indices(void) {
  const char *texts[] = {
      "model m(a: f32[2, 3]) { return y = Gather(a, [7], axis=0) }",
      "model m(a: f32[2, 3]) { return y = Gather(a, [-3], axis=0) + 0 }",
      "model m(a: f32[1]) { return y = Gather([1.0, 2.0], [100000000], axis=0) + a }",
      "model m(a: f32[2, 2]) { return y = GatherElements(a, [[0, 2], [0, 0]], axis=1) }",
      "model m(a: f32[2, 2]) { return y = a + GatherElements([[1.0, 2.0], [3.0, 4.0]], "
      "[[0, 5], [0, 0]], axis=0) }",
  };
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    kiln_error err;
    kiln_model *m = compile(texts[i], 0, &err);
    CHECK(m == NULL);
    CHECK(err.code == KILN_ERR_INVALID_MODEL);
    CHECK(strstr(err.message, "Gather") && strstr(err.message, "out of range"));
    if (m || err.code != KILN_ERR_INVALID_MODEL) fprintf(stderr, "%s -> %s\n", texts[i], err.message);
    kiln_model_free(m);
  }
}

static void integer_division(void) {
  const char *t32 = "model m(a: i32[4], b: i32[4]) { return q = a / b, r = Mod(a, b, fmod=1) }";
  int32_t a[4] = {7, INT32_MIN, INT32_MIN, -7}, b[4] = {0, -1, 0, 2}, q[4], r[4];
  const void *ins[2] = {a, b};
  void *outs[2] = {q, r};
  expect_run(t32, ins, outs, sizeof q, KILN_OK, NULL);
  CHECK(q[0] == 0 && q[1] == INT32_MIN && q[2] == 0 && q[3] == -3);
  CHECK(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == -1);
  const char *t64 = "model m(a: i64[2], b: i64[2]) { return q = a / b, r = Mod(a, b) }";
  int64_t a64[2] = {INT64_MIN, 5}, b64[2] = {-1, 0}, q64[2], r64[2];
  const void *ins64[2] = {a64, b64};
  void *outs64[2] = {q64, r64};
  expect_run(t64, ins64, outs64, sizeof q64, KILN_OK, NULL);
  CHECK(q64[0] == INT64_MIN && q64[1] == 0 && r64[0] == 0 && r64[1] == 0);
  const char *tu = "model m(a: u16[2], b: u16[2]) { return q = a / b }";
  uint16_t au[2] = {9, 65535}, bu[2] = {0, 65535}, qu[2];
  const void *insu[2] = {au, bu};
  void *outsu[1] = {qu};
  expect_run(tu, insu, outsu, sizeof qu, KILN_OK, NULL);
  CHECK(qu[0] == 0 && qu[1] == 1);
}

static void shifts(void) {
  const char *text = "model m(a: u32[4], b: u32[4]) { return l = BitShift(a, b, "
                     "direction=\"LEFT\"), r = BitShift(a, b, direction=\"RIGHT\") }";
  uint32_t a[4] = {1, 0x80000000u, 5, 5}, b[4] = {31, 32, 4000000000u, 1}, l[4], r[4];
  const void *ins[2] = {a, b};
  void *outs[2] = {l, r};
  expect_run(text, ins, outs, sizeof l, KILN_OK, NULL);
  CHECK(l[0] == 0x80000000u && l[1] == 0 && l[2] == 0 && l[3] == 10);
  CHECK(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 2);
}

static void float_to_int(void) {
  const char *text = "model m(x: f32[5]) { return i = Cast(x, to=7), s = Cast(x, to=6) }";
  float x[5] = {NAN, 1e30f, -1e30f, 3e9f, -2.7f};
  int64_t i[5];
  int32_t s[5];
  const void *ins[1] = {x};
  void *outs[2] = {i, s};
  expect_run(text, ins, outs, sizeof i, KILN_OK, NULL);
  CHECK(i[0] == 0 && i[1] == INT64_MAX && i[2] == INT64_MIN && i[3] == 3000000000 && i[4] == -2);
  /* narrower targets wrap from the saturated int64, like the interpreter */
  CHECK(s[0] == 0 && s[1] == -1 && s[2] == 0 && s[3] == (int32_t)(uint32_t)3000000000u && s[4] == -2);
}

/* AOT: <name>_run returns KILN_ERR_INVALID_INPUT, also with a caller's workspace, and
 * the header names the code. */
static void aot_status(void) {
  char dir[] = "/tmp/kiln_values_XXXXXX";
  if (!mkdtemp(dir)) {
    CHECK(0);
    return;
  }
  char model[256], lib[256], hdr[256];
  snprintf(model, sizeof model, "%s/g.kiln", dir);
  snprintf(lib, sizeof lib, "%s/libg.so", dir);
  snprintf(hdr, sizeof hdr, "%s/g.h", dir);
  FILE *f = fopen(model, "w");
  fputs("model g(a: f32[2, 3], i: i64[2]) { return y = Gather(a, i, axis=1) }\n", f);
  fclose(f);
  kiln_error err;
  CHECK(kiln_compile_aot(model, NULL, lib, "g", &err) == KILN_OK);
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL);
  if (h) {
    int (*run)(const float *, const int64_t *, float *, void *) =
        (int (*)(const float *, const int64_t *, float *, void *))dlsym(h, "g_run");
    float a[6] = {1, 2, 3, 4, 5, 6}, y[4];
    int64_t good[2] = {2, -3}, bad[2] = {1, 3};
    CHECK(run && run(a, good, y, NULL) == KILN_OK && y[0] == 3 && y[1] == 1);
    CHECK(run && run(a, bad, y, NULL) == KILN_ERR_INVALID_INPUT);
    void *ws = aligned_alloc(64, 4096);
    CHECK(run && run(a, bad, y, ws) == KILN_ERR_INVALID_INPUT);
    CHECK(run && run(a, good, y, ws) == KILN_OK); /* the record is reset per run */
    free(ws);
    dlclose(h);
  }
  char line[512];
  bool named = false;
  f = fopen(hdr, "r");
  while (f && fgets(line, sizeof line, f)) named |= strstr(line, "#define G_ERR_INVALID_INPUT 11") != NULL;
  if (f) fclose(f);
  CHECK(named);
  unlink(model), unlink(lib), unlink(hdr);
  rmdir(dir);
}

int main(void) {
  aot_status();
  gather_indices();
  gather_other_dtypes();
  gather_elements();
  loss_targets();
  gather_nd_and_lengths();
  scatters();
  grid_sample_points();
  float_ids();
  constant_indices();
  integer_division();
  shifts();
  float_to_int();
  return check_report();
}
