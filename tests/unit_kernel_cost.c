/* The FLOP and byte counts of ir/kernel_cost.h on kernels whose cost is known: MatMul
 * M x K x N does 2MKN flops, an elementwise Add of n floats n flops and 3n*4 bytes, a
 * Gather reads the rows it picks; the estimated time of a stage (what decides parallel
 * loops) weighs what it should; and the kernel list profiled programs time follows the
 * steps. */
#include "check.h"

#include "frontend/dsl.h"
#include "ir/kernel_cost.h"
#include "passes/passes.h"
#include "runtime/profile.h"

#include <string.h>

/* The first kernel of a DSL model. */
static kiln_program *compile(const char *text) {
  kiln_graph *g = NULL;
  kiln_program *p = NULL;
  kiln_error err = {0};
  kiln_options o = {.struct_size = sizeof o};
  CHECK(kiln_dsl_import(text, strlen(text), NULL, &o, &g, &err) == KILN_OK);
  if (g) CHECK(kiln_passes_run(g, NULL, &p, &err) == KILN_OK);
  kiln_graph_free(g);
  return p;
}

static void test_matmul(void) {
  kiln_program *p = compile("model m(a: f32[6, 10], b: f32[10, 7]) { return c = MatMul(a, b) }");
  const kiln_kernel *k[4];
  CHECK(p && kiln_steps_kernels(&p->main, k, 4) == 1);
  if (!p) return;
  kiln_kernel_cost c;
  kiln_kernel_cost_of(k[0], &c);
  CHECK(c.flops == 2.0 * 6 * 10 * 7);
  CHECK(c.bytes_read == 4.0 * (6 * 10 + 10 * 7) && c.bytes_written == 4.0 * 6 * 7);
  CHECK(strcmp(k[0]->op, "MatMul") == 0);
  kiln_program_free(p);
}

static void test_add(void) {
  kiln_program *p = compile("model m(a: f32[3, 100], b: f32[3, 100]) { return c = a + b }");
  const kiln_kernel *k[4];
  CHECK(p && kiln_steps_kernels(&p->main, k, 4) == 1);
  if (!p) return;
  kiln_kernel_cost c;
  kiln_kernel_cost_of(k[0], &c);
  CHECK(c.flops == 300);
  CHECK(c.bytes_read + c.bytes_written == 3.0 * 300 * 4);
  CHECK(kiln_kernel_cost_intensity(&c) == 300.0 / 3600);
  kiln_program_free(p);
}

/* A Gather reads the rows its indices pick, not the whole table; the indices whole. */
static void test_gather(void) {
  kiln_program *p = compile("model m(t: f32[1000, 64], i: i64[5]) { return c = Gather(t, i) }");
  const kiln_kernel *k[4];
  CHECK(p && kiln_steps_kernels(&p->main, k, 4) == 1);
  if (!p) return;
  kiln_kernel_cost c;
  kiln_kernel_cost_of(k[0], &c);
  CHECK(c.bytes_read == 4.0 * 5 * 64 + 8.0 * 5);
  CHECK(c.bytes_written == 4.0 * 5 * 64);
  kiln_program_free(p);
  /* more picks than rows: the table's size bounds it */
  p = compile("model m(t: f32[4, 64], i: i64[50]) { return c = Gather(t, i) }");
  CHECK(p && kiln_steps_kernels(&p->main, k, 4) == 1);
  if (!p) return;
  kiln_kernel_cost_of(k[0], &c);
  CHECK(c.bytes_read == 4.0 * 4 * 64 + 8.0 * 50);
  kiln_program_free(p);
}

/* kiln_stage_cost_ns of the one stage of a DSL model's first kernel. */
static double stage_ns(const char *text) {
  kiln_program *p = compile(text);
  const kiln_kernel *k[4];
  CHECK(p && kiln_steps_kernels(&p->main, k, 4) >= 1 && k[0]->nstages == 1);
  double ns = p ? kiln_stage_cost_ns(&k[0]->stages[0]) : 0;
  kiln_program_free(p);
  return ns;
}

static void test_stage_cost(void) {
  double relu = stage_ns("model m(a: f32[64, 64]) { return c = Relu(a) }");
  double exp = stage_ns("model m(a: f32[64, 64]) { return c = Exp(a) }");
  double add = stage_ns("model m(a: f32[64, 64], b: f32[64, 64]) { return c = a + b }");
  double bias = stage_ns("model m(a: f32[64, 64], b: f32[64]) { return c = a + b }");
  CHECK(relu > 0 && exp > 1.5 * relu); /* a transcendental call weighs more than an op */
  CHECK(bias < add && bias > relu);  /* a broadcast operand is read once, not per row */
  /* a GEMV reads its weight once per run: its time grows with K * N like a GEMM's */
  double k256 = stage_ns("model m(a: f32[1, 256], b: f32[256, 256]) { return c = MatMul(a, b) }");
  double k512 = stage_ns("model m(a: f32[1, 512], b: f32[512, 256]) { return c = MatMul(a, b) }");
  CHECK(k512 > 1.9 * k256 && k512 < 2.1 * k256);
}

static void test_chain(void) {
  kiln_program *p = compile("model m(a: f32[4, 8], b: f32[8, 2]) { return c = Softmax(MatMul(a, b)) }");
  CHECK(p != NULL);
  if (!p) return;
  int n = kiln_steps_kernels(&p->main, NULL, 0);
  CHECK(n >= 2 && n == p->main.n);
  const kiln_kernel *k[8] = {0};
  CHECK(kiln_steps_kernels(&p->main, k, 8) == n);
  for (int i = 0; i < n && i < 8; i++) CHECK(k[i] == p->main.steps[i].kernel);
  kiln_program_free(p);
}

/* A profiled JIT model times every kernel; a plain one refuses, and so does AOT. */
static void test_profiled_run(void) {
  const char *text = "model m(a: f32[32, 64], b: f32[64, 16]) { return c = Softmax(MatMul(a, b)) }";
  kiln_options o = {.struct_size = sizeof o, .profile = 1};
  kiln_model *m = NULL, *plain = NULL;
  kiln_error err = {0};
  CHECK(kiln_compile_buffer(text, strlen(text), &o, &m, &err) == KILN_OK);
  CHECK(kiln_compile_buffer(text, strlen(text), NULL, &plain, &err) == KILN_OK);
  if (!m || !plain) return;
  static float a[32 * 64], b[64 * 16], c[32 * 16];
  for (int i = 0; i < 32 * 64; i++) a[i] = (float)(i % 7) - 3;
  for (int i = 0; i < 64 * 16; i++) b[i] = (float)(i % 5) - 2;
  const void *in[2] = {a, b};
  void *out[1] = {c};
  double ns[2] = {-1, -1};
  CHECK(kiln_steps_kernels(&kiln_model_program(m)->main, NULL, 0) == 2);
  CHECK(kiln_run_profiled(m, in, out, ns, NULL, &err) == KILN_OK);
  CHECK(ns[0] > 0 && ns[1] > 0);
  float c2[32 * 16];
  void *out2[1] = {c2};
  CHECK(kiln_run(plain, in, out2, &err) == KILN_OK);
  CHECK(memcmp(c, c2, sizeof c) == 0); /* timing changes nothing computed */
  CHECK(kiln_run_profiled(plain, in, out, ns, NULL, &err) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(kiln_compile_aot("m.kiln", &o, "/tmp/kiln_unit_cost.so", "m", &err) ==
        KILN_ERR_INVALID_ARGUMENT);
  kiln_model_free(m);
  kiln_model_free(plain);
}

int main(void) {
  test_profiled_run();
  test_matmul();
  test_add();
  test_gather();
  test_stage_cost();
  test_chain();
  return check_report();
}
