/* Kernels compiled and run alone (runtime/kernel_run.h): every kernel of the DSL examples
 * (a Transformer encoder: GEMMs, softmax, layer norm, GELU; the first kernels of a
 * ResNet-18: convolutions, pooling, residual adds) runs on its own random inputs and must compute what the interpreter
 * computes from the same inputs; the kernel must come back unchanged, and timing one
 * returns a positive median. */
#include "check.h"
#include "node_test.h"

#include "frontend/dsl.h"
#include "ir/schedule.h"
#include "ir/dtype.h"
#include "ir/interp.h"
#include "passes/passes.h"
#include "runtime/check.h"
#include "runtime/kernel_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* DSL text through every pass, its check record added as kiln_compile would. */
static kiln_program *compile_text(const char *text, size_t n, const char *name,
                                  const kiln_options *opts) {
  kiln_graph *g = NULL;
  kiln_program *p = NULL;
  kiln_error err = {0};
  if (!kiln_dsl_import(text, n, name, opts, &g, &err) && !kiln_passes_run(g, opts, &p, &err))
    kiln_check_instrument(p, false);
  if (err.code) fprintf(stderr, "%s: %s\n", name, err.message);
  CHECK(p != NULL);
  kiln_graph_free(g);
  return p;
}

static kiln_program *compile(const char *path, const char *input, int rank, const int64_t *dims) {
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  if (!f) return NULL;
  static char text[1 << 16];
  size_t n = fread(text, 1, sizeof text, f);
  fclose(f);
  kiln_shape_binding shape = {input, rank, {0}};
  memcpy(shape.dims, dims, sizeof(int64_t) * (size_t)rank);
  kiln_options opts = {.struct_size = sizeof opts, .shapes = &shape, .nshapes = 1};
  return compile_text(text, n, path, &opts);
}

static int check_kernel(const kiln_program *p, kiln_kernel *k, uint32_t seed) {
  kiln_storage before[KILN_MAX_BUFS];
  for (int b = 0; b < k->nbufs; b++) before[b] = k->bufs[b].storage;
  kiln_kernel_runner *r = NULL;
  kiln_error err = {0};
  if (kiln_kernel_runner_new(p, k, NULL, seed, &r, &err) ||
      kiln_kernel_runner_run(r, &err)) {
    fprintf(stderr, "kernel '%s': %s\n", k->name, err.message);
    kiln_kernel_runner_free(r);
    return 0;
  }
  int ok = 1;
  for (int b = 0; b < k->nbufs; b++)
    ok &= memcmp(&before[b], &k->bufs[b].storage, sizeof before[b]) == 0;
  ok &= node_test_vs_interp(p, k, r); /* the interpreter on the same inputs */
  kiln_kernel_runner_free(r);
  return ok;
}

/* The first max kernels of p (the interpreter is slow on big convolutions). */
static void check_program(kiln_program *p, int max, int *checked) {
  if (!p) return;
  const kiln_kernel *ks[512];
  int n = kiln_steps_kernels(&p->main, ks, 512);
  for (int i = 0; i < n && i < 512 && i < max; i++) {
    CHECK(check_kernel(p, (kiln_kernel *)ks[i], 77u + (uint32_t)i));
    ++*checked;
  }
}

/* A kernel with a run-time index check (Gather) keeps its check record in its own arena:
 * an index written out of range fails the run naming the Gather, and the record is reset
 * before the next run. */
static void check_gather(void) {
  /* Exp's output lies in the arena before the record: the whole program's record offset
   * is past the end of the Gather kernel's own arena */
  const char *text = "model m(a: f32[10, 4], i: i64[3]) {\n  h = Exp(a)\n"
                     "  return y = Relu(Gather(h, i, axis=0)), z = Sigmoid(h)\n}\n";
  kiln_options opts = {.struct_size = sizeof opts};
  kiln_error err = {0};
  kiln_program *p = compile_text(text, strlen(text), "gather", &opts);
  if (!p) return;
  const kiln_kernel *ks[8];
  kiln_kernel *k = NULL;
  int nk = kiln_steps_kernels(&p->main, ks, 8);
  for (int i = 0; i < nk && i < 8; i++)
    if (ks[i]->has_checks) k = (kiln_kernel *)ks[i];
  CHECK(kiln_check_record_offset(p) > 0);
  kiln_kernel_runner *r = NULL;
  CHECK(k && k->has_checks && kiln_kernel_runner_new(p, k, NULL, 5, &r, &err) == KILN_OK);
  int ib = -1;
  for (int b = 0; k && b < k->nbufs; b++)
    if (k->bufs[b].role == KILN_BUF_INPUT && k->bufs[b].dtype == KILN_I64) ib = b;
  if (r && ib >= 0) {
    CHECK(kiln_kernel_runner_run(r, &err) == KILN_OK);
    int64_t *idx = kiln_kernel_runner_buffer(r, ib);
    idx[1] = 10;
    CHECK(kiln_kernel_runner_run(r, &err) == KILN_ERR_INVALID_INPUT);
    CHECK(strstr(err.message, "Gather") != NULL && strstr(err.message, "10") != NULL);
    idx[1] = 9;
    CHECK(kiln_kernel_runner_run(r, &err) == KILN_OK);
  }
  CHECK(ib >= 0);
  kiln_kernel_runner_free(r);
  kiln_program_free(p);
}

/* A register tile whose unrolled loop is the outer, strided part of an inexact split
 * (m = 5 * unrolled + outer, 3 x 5 over 14 rows): its tail tile cannot move back (it would
 * skip rows no other tile computes), so codegen guards it instead. A tuner found this
 * schedule on a ResNet-50 conv, where it ran wrong. */
static void check_strided_tile(int *checked) {
  /* b an input: a constant one would be packed into panels on some targets (AVX2) */
  const char *text = "model m(a: f32[14, 8], b: f32[8, 16]) {\n"
                     "  return y = MatMul(a, b)\n}\n";
  kiln_options opts = {.struct_size = sizeof opts};
  kiln_error err = {0};
  kiln_program *p = compile_text(text, strlen(text), "strided", &opts);
  if (!p) return;
  kiln_kernel *k = NULL;
  kiln_steps_kernels(&p->main, (const kiln_kernel **)&k, 1);
  kiln_recipe r;
  /* loops m(3, stride 5) m(5) n k -> m(5) k m(3, stride 5, unrolled) n(vector) */
  CHECK(k && k->nstages == 1 && k->stages[0].naxes == 3);
  CHECK(kiln_recipe_parse("split(0,5) move(0,3) move(1,3) unroll(2) vector(3)", &r, &err) == KILN_OK);
  if (k && k->nstages == 1 && kiln_schedule_apply(&k->stages[0], &r, &err) == KILN_OK) {
    CHECK(check_kernel(p, k, 3));
    ++*checked;
  } else {
    fprintf(stderr, "strided tile: %s\n", err.message);
    CHECK(0);
  }
  kiln_program_free(p);
}

/* Strided buffers (kernel.h: rows of `row` elements, `pitch` apart; an in-place Concat's
 * slots): a register-tile GEMM and an elementwise kernel with vector loops store into and
 * read from them, with rows the views split at (addressed by per-dim strides) and rows they
 * do not (each flat index placed by a division), and must compute what the interpreter
 * computes, element by element. */
static void check_strided_buffers(int *checked) {
  static const struct {
    const char *text;
    int64_t row[3], pitch[3]; /* per buffer: a, b or x, y */
  } cases[] = {
      {"model m(a: f32[6, 8], b: f32[8, 16]) {\n  return y = MatMul(a, b)\n}\n",
       {0, 0, 16}, {0, 0, 40}},  /* y in a slot of a [6, 40] Concat along its last axis */
      {"model m(a: f32[6, 8], b: f32[8, 16]) {\n  return y = MatMul(a, b)\n}\n",
       {8, 0, 24}, {11, 0, 29}}, /* rows that split no view of y: each index divided */
      {"model m(x: f32[4, 5, 12]) {\n  return y = Relu(x)\n}\n",
       {12, 0}, {20, 0}},
      {"model m(x: f32[4, 5, 12]) {\n  return y = Sigmoid(x)\n}\n",
       {30, 90}, {31, 100}},     /* half rows of x, a row of y = one batch's 5 x 12 plus 30 */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    kiln_options opts = {.struct_size = sizeof opts};
    kiln_program *p = compile_text(cases[c].text, strlen(cases[c].text), "strided", &opts);
    if (!p) continue;
    kiln_kernel *k = NULL;
    CHECK(kiln_steps_kernels(&p->main, (const kiln_kernel **)&k, 1) == 1 && k);
    for (int b = 0; k && b < k->nbufs && b < 3; b++) {
      k->bufs[b].row = cases[c].row[b];
      k->bufs[b].pitch = cases[c].pitch[b];
    }
    if (k) CHECK(check_kernel(p, k, 11u + (uint32_t)c));
    ++*checked;
    kiln_program_free(p);
  }
}

int main(void) {
  check_gather();
  int strided_bufs = 0;
  check_strided_buffers(&strided_bufs);
  CHECK(strided_bufs == 4);
  int strided = 0;
  check_strided_tile(&strided);
  CHECK(strided == 1);
  int checked = 0;
  int64_t image[4] = {1, 3, 64, 64}, tokens[3] = {1, 16, 64};
  kiln_program *resnet = compile("../examples/resnet18.kiln", "image", 4, image);
  kiln_program *encoder = compile("../examples/encoder.kiln", "tokens", 3, tokens);
  check_program(resnet, 12, &checked);
  check_program(encoder, 512, &checked);
  CHECK(checked > 40);
  if (resnet) { /* timing the first convolution */
    const kiln_kernel *k;
    kiln_steps_kernels(&resnet->main, &k, 1);
    kiln_kernel_runner *r = NULL;
    kiln_error err = {0};
    double ns = 0;
    CHECK(kiln_kernel_runner_new(resnet, (kiln_kernel *)k, NULL, 1, &r, &err) == KILN_OK);
    CHECK(r && kiln_kernel_runner_time(r, 5, 1e9, &ns, &err) == KILN_OK && ns > 0);
    /* time bounds the runs: no time left means one timed run (a million would not end) */
    ns = 0;
    CHECK(r && kiln_kernel_runner_time(r, 1000000, 0, &ns, &err) == KILN_OK && ns > 0);
    /* with its weights evicted before each run (what the tuner does for models whose
     * weights exceed the caches): still runs, and computes the same outputs */
    void *out = kiln_kernel_runner_buffer(r, k->stages[k->nstages - 1].out_buf);
    int64_t bytes = kiln_shape_numel(k->bufs[k->stages[k->nstages - 1].out_buf].rank,
                                     k->bufs[k->stages[k->nstages - 1].out_buf].dims) * 4;
    void *warm = out ? malloc((size_t)bytes) : NULL;
    if (warm) memcpy(warm, out, (size_t)bytes);
    kiln_kernel_runner_set_cold(r, true);
    ns = 0;
    CHECK(kiln_kernel_runner_time(r, 3, 1e9, &ns, &err) == KILN_OK && ns > 0);
    CHECK(warm && memcmp(warm, out, (size_t)bytes) == 0);
    free(warm);
    kiln_kernel_runner_free(r);
  }
  kiln_program_free(resnet);
  kiln_program_free(encoder);
  return check_report();
}
