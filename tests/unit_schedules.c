/* Random legal schedules for every op class (in the spirit of ggml's test-backend-ops):
 * ONNX node tests of elementwise, reduction, normalization, convolution, pooling, GEMM and
 * movement ops go through the pass pipeline; then every stage's default schedule is edited
 * with a random recipe (split, move, vectorize, unroll, parallel, GPU blocks and threads:
 * ir/schedule.h) whose
 * steps are kept only when kiln_schedule_apply accepts them, as the tuner will do. The program is JIT-compiled and its
 * outputs compared with the test's reference outputs; the first trials go through the GPU
 * backend's CUDA C run on the host too. Any schedule the check accepts must compile and
 * compute the same values: a failure prints the kernel and its schedule. */
#include "check.h"
#include "node_test.h"

#include "codegen/codegen.h"
#include "codegen/cuda.h"
#include "ir/schedule.h"
#include "passes/passes.h"
#include "runtime/check.h"

#include <stdlib.h>
#include <string.h>

#define NODE_DIR "/usr/share/libonnx-testdata/data/node"
#define TRIALS 10

static const char *const TESTS[] = {
    /* elementwise and broadcasts */
    "test_add_bcast", "test_sigmoid", "test_clip", "test_where_example", "test_pow_bcast_array",
    /* reductions and normalizations */
    "test_reduce_sum_keepdims_random", "test_reduce_max_keepdims_random",
    "test_reduce_mean_do_not_keepdims_random", "test_softmax_axis_1", "test_logsoftmax_axis_0",
    "test_layer_normalization_4d_axis1", "test_instancenorm_example",
    /* convolutions and pooling */
    "test_basic_conv_with_padding", "test_conv_with_strides_and_asymmetric_padding",
    "test_convtranspose", "test_maxpool_2d_pads", "test_averagepool_2d_strides",
    "test_globalaveragepool",
    /* GEMM-like */
    "test_matmul_3d", "test_matmul_2d", "test_gemm_all_attributes",
    /* movement and indexing */
    "test_transpose_all_permutations_3", "test_concat_3d_axis_1", "test_gather_1",
    "test_slice", "test_expand_dim_changed", "test_resize_upsample_scales_linear",
    "test_gather_elements_1", "test_reflect_pad", "test_tile", "test_split_equal_parts_1d",
};

static uint32_t rng = 20261201;
static int kept, rejected; /* recipe steps accepted and refused: the test is not vacuous */
static int blocked;        /* register tiles given blocked reductions (block_reduction) */
static bool block_trial;   /* this trial blocks reductions instead of random recipes */
static int64_t rnd(int64_t lo, int64_t hi) { /* in [lo, hi] */
  rng = rng * 1664525u + 1013904223u;
  return lo + (int64_t)((rng >> 8) % (uint32_t)(hi - lo + 1));
}

/* A random recipe for s (ir/schedule.h): steps are drawn one at a time and each is kept
 * only when kiln_schedule_apply accepts the recipe with it, as the tuner will do; applying
 * a rejected recipe must leave the stage's schedule as it was. */
static void randomize_stage(kiln_stage *s) {
  kiln_recipe r = {0};
  for (int e = (int)rnd(1, 8); e > 0; e--) {
    kiln_schedule before = s->sched;
    int nloops = s->sched.nloops;
    if (nloops == 0) return;
    kiln_sched_op op = (kiln_sched_op)rnd(0, KS_PREFETCH);
    int loop = (int)rnd(0, nloops - 1);
    int64_t arg = op == KS_SPLIT ? rnd(2, s->sched.loops[loop].extent + 1)
                  : op == KS_MOVE ? rnd(0, nloops - 1)
                  : op == KS_PREFETCH ? rnd(0, s->sched.loops[loop].extent) : 0;
    if (op == KS_VECTOR) loop = nloops - 1;
    kiln_recipe_add(&r, op, loop, arg);
    kiln_error err = {0};
    if (kiln_schedule_apply(s, &r, &err)) {
      r.nsteps--;
      rejected++;
      CHECK(memcmp(&before, &s->sched, sizeof before) == 0 && err.message[0]);
    } else {
      kept++;
    }
  }
}

/* A register tile (the default schedule of a GEMM-like stage) with its reduction split in
 * two blocks, the outer one moved outside the innermost serial spatial loop, so the tile
 * sums each block into the output (codegen's partial sums), and a prefetch one step ahead
 * along the inner block; stages without a tile are left alone. */
static void block_reduction(kiln_stage *s) {
  const kiln_schedule *sc = &s->sched;
  int q = -1, r = -1;
  for (int l = 0; l < sc->nloops; l++) {
    bool red = s->axes[sc->loops[l].axis].reduce;
    if (!red && sc->loops[l].kind == KILN_LOOP_SERIAL && r < 0) q = l;
    if (red && r < 0 && q >= 0 && sc->loops[l].extent >= 3) r = l;
  }
  if (q < 0 || r < 0) return;
  kiln_recipe rec = s->recipe;
  kiln_recipe_add(&rec, KS_SPLIT, r, (sc->loops[r].extent + 1) / 2);
  kiln_recipe_add(&rec, KS_MOVE, r, q);
  kiln_recipe_add(&rec, KS_PREFETCH, r + 1, 1);
  kiln_error err = {0};
  if (!kiln_schedule_apply(s, &rec, &err)) blocked++;
}

static void randomize(kiln_steps *steps) {
  for (int i = 0; i < steps->n; i++) {
    kiln_step *st = &steps->steps[i];
    if (st->kind == KILN_STEP_IF) {
      randomize(st->then_steps);
      randomize(st->else_steps);
      continue;
    }
    for (int j = 0; j < st->kernel->nstages; j++)
      if (block_trial) block_reduction(&st->kernel->stages[j]);
      else randomize_stage(&st->kernel->stages[j]);
  }
}

static void print_steps(const kiln_steps *steps) {
  const kiln_kernel *ks[256];
  int n = kiln_steps_kernels(steps, ks, 256);
  for (int i = 0; i < n && i < 256; i++) kiln_kernel_print(ks[i], stderr);
}

/* The pipeline with every input's shape bound; an input whose value the compiler asks for
 * ("... known at compile time": Slice's starts, ReduceSum's axes) becomes a constant, as in
 * the conformance driver. */
static kiln_status compile(const node_test *t, kiln_graph **g, kiln_program **p,
                           kiln_error *err) {
  int as_value[NODE_TEST_MAX_IO] = {0};
  for (;;) {
    kiln_shape_binding shapes[NODE_TEST_MAX_IO];
    kiln_input_value values[NODE_TEST_MAX_IO];
    char names[NODE_TEST_MAX_IO][256]; /* binding values removes those graph inputs */
    int nshapes = 0, nvalues = 0;
    if (kiln_onnx_import(t->model, t->model_size, t->dir, g, err)) return err->code;
    for (int i = 0; i < t->ninputs && i < (*g)->ninputs; i++) {
      const kiln_tensor *x = &t->inputs[i];
      const char *name = names[i];
      snprintf(names[i], sizeof names[i], "%s", (*g)->values[(*g)->inputs[i]].name);
      if (as_value[i]) {
        values[nvalues] = (kiln_input_value){name, x->dtype, x->rank, {0}, x->data};
        memcpy(values[nvalues++].dims, x->dims, sizeof x->dims);
      } else {
        shapes[nshapes] = (kiln_shape_binding){name, x->rank, {0}};
        memcpy(shapes[nshapes++].dims, x->dims, sizeof x->dims);
      }
    }
    kiln_options opts = {.struct_size = sizeof opts, .shapes = shapes, .nshapes = nshapes, .values = values,
                         .nvalues = nvalues};
    kiln_status st = kiln_passes_run(*g, &opts, p, err);
    if (!st) {
      kiln_check_instrument(*p, 0);
      return KILN_OK;
    }
    int asked = -1;
    for (int i = 0; i < t->ninputs && asked < 0; i++) {
      char quoted[sizeof names[0] + 3];
      snprintf(quoted, sizeof quoted, "'%.255s'", names[i]);
      if (!as_value[i] && strstr(err->message, quoted)) asked = i;
    }
    kiln_graph_free(*g);
    *g = NULL;
    if (st != KILN_ERR_SHAPE || !strstr(err->message, "known at compile time") || asked < 0)
      return st;
    as_value[asked] = 1;
    *err = (kiln_error){0};
  }
}

/* Runs p through entry fn and compares its outputs with the test's; 1 on a match. */
static int run_compare(const node_test *t, const kiln_program *p, kiln_entry_fn fn, char *why,
                       size_t n) {
  uint8_t *arena = p->arena_bytes ? aligned_alloc(64, (size_t)p->arena_bytes) : NULL;
  void *outs[NODE_TEST_MAX_IO] = {0};
  const void *ins[NODE_TEST_MAX_IO];
  const void **consts = calloc((size_t)p->nconsts + 1, sizeof *consts);
  for (int i = 0; i < p->nconsts; i++) consts[i] = p->consts[i].data;
  for (int i = 0, j = 0; i < p->ninputs; i++) { /* inputs made constants are not passed */
    while (j < t->ninputs && strcmp(t->input_names[j], p->inputs[i].name)) j++;
    ins[i] = j < t->ninputs ? t->inputs[j++].data : NULL;
  }
  for (int i = 0; i < t->noutputs; i++) outs[i] = calloc(1, (size_t)p->outputs[i].bytes + 1);
  int rc = fn((void *const *)ins, outs, arena, consts), ok = !rc;
  if (rc) snprintf(why, n, "the run returned %d", rc);
  for (int i = 0; i < t->noutputs && ok; i++) {
    const kiln_io *o = &p->outputs[i];
    ok = node_test_compare(&t->outputs[i], o->dtype, o->rank, o->dims, outs[i], why, n);
  }
  for (int i = 0; i < t->noutputs; i++) free(outs[i]);
  free(consts);
  free(arena);
  return ok;
}

/* The first trials also run through the GPU backend's CUDA C on the host (target
 * cuda-host), with the same schedules: CPU ones (register tiles, accumulation in memory,
 * parallel loops) and random block and thread loops. */
#define CUDA_HOST_TRIALS 3

/* Compiles the test with random schedules and compares; returns 1 on a match. */
static int run_trial(const node_test *t, int trial, char *why, size_t n) {
  kiln_error err = {0};
  kiln_graph *g = NULL;
  kiln_program *p = NULL;
  kiln_jit *jit = NULL;
  kiln_entry_fn fn = NULL;
  void *host_code = NULL;
  int ok = 0;
  kiln_options opts = {.struct_size = sizeof opts};
  if (compile(t, &g, &p, &err)) goto done;
  if (p->ninputs > t->ninputs || p->noutputs != t->noutputs) {
    snprintf(why, n, "%d inputs and %d outputs, test data %d and %d", p->ninputs, p->noutputs,
             t->ninputs, t->noutputs);
    goto done;
  }
  block_trial = trial == 1;
  if (trial > 0) randomize(&p->main); /* trial 0: the default schedules */
  if (kiln_jit_compile(p, &opts, &jit, &fn, &err)) goto done;
  ok = run_compare(t, p, fn, why, n);
  if (ok && trial < CUDA_HOST_TRIALS) {
    opts.target = "cuda-host";
    kiln_entry_fn host_fn = NULL;
    ok = !kiln_cuda_host_backend.jit(p, &opts, &host_code, &host_fn, &err);
    ok = ok && run_compare(t, p, host_fn, why, n);
    if (!ok && !err.code) {
      char inner[2048]; /* a long message is cut (both results read: no truncation warning) */
      if (snprintf(inner, sizeof inner, "%s", why) < 0 || snprintf(why, n, "cuda-host: %s", inner) < 0)
        why[0] = 0;
    }
  }
done:
  if (err.code) snprintf(why, n, "%s: %s", kiln_status_name(err.code), err.message);
  if (!ok && p) print_steps(&p->main);
  if (host_code) kiln_cuda_host_backend.free_code(host_code);
  kiln_jit_free(jit);
  kiln_program_free(p);
  kiln_graph_free(g);
  return ok;
}

/* Recipes as text, and steps refused with the stage's schedule left alone. */
static void test_recipes(void) {
  kiln_recipe r;
  kiln_error err = {0};
  const char *text = "split(1,16) move(3,0) unroll(2) parallel(0) serial(1) vector(4)";
  CHECK(kiln_recipe_parse(text, &r, &err) == KILN_OK && r.nsteps == 6);
  CHECK(r.steps[0].op == KS_SPLIT && r.steps[0].loop == 1 && r.steps[0].arg == 16);
  char buf[256];
  FILE *f = fmemopen(buf, sizeof buf, "w");
  kiln_recipe_print(&r, f);
  fclose(f);
  CHECK(strcmp(buf, text) == 0);
  const char *bad[] = {"split(1)", "bogus(1)", "split(1,16", "vector(x)", "move(-1,2)", "unroll"};
  for (int i = 0; i < 6; i++) {
    err = (kiln_error){0};
    CHECK(kiln_recipe_parse(bad[i], &r, &err) == KILN_ERR_INVALID_ARGUMENT && err.message[0]);
  }
  /* a 40 x 30 output reduced over 20: split n by 16, move k outside it, vector lanes */
  kiln_kernel *k = kiln_kernel_new("k");
  kiln_stage *s = kiln_kernel_add_stage(k, "mm", 0);
  kiln_stage_axis(s, 40, false);
  kiln_stage_axis(s, 30, false);
  kiln_stage_axis(s, 20, true);
  CHECK(kiln_recipe_parse("split(1,16) move(3,1) vector(3) parallel(0)", &r, &err) == KILN_OK);
  CHECK(kiln_schedule_apply(s, &r, &err) == KILN_OK);
  CHECK(s->sched.nloops == 4 && s->sched.loops[1].axis == 2 && s->sched.loops[3].extent == 16);
  CHECK(s->sched.loops[3].kind == KILN_LOOP_VECTOR && s->sched.loops[0].kind == KILN_LOOP_PARALLEL);
  kiln_schedule good = s->sched;
  const char *illegal[] = {"vector(0)", "parallel(2)", "split(0,41)", "move(0,5)", "split(2,1)",
                           "unroll(7)"};
  for (int i = 0; i < 6; i++) {
    err = (kiln_error){0};
    CHECK(kiln_recipe_parse(illegal[i], &r, &err) == KILN_OK);
    CHECK(kiln_schedule_apply(s, &r, &err) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "stage 'mm': schedule step 0") != NULL);
    CHECK(memcmp(&good, &s->sched, sizeof good) == 0);
  }
  kiln_kernel_free(k);
}

int main(void) {
  test_recipes();
  for (size_t i = 0; i < sizeof TESTS / sizeof TESTS[0]; i++) {
    char dir[1024], why[4200] = "";
    snprintf(dir, sizeof dir, "%s/%s", NODE_DIR, TESTS[i]);
    node_test t;
    kiln_error err = {0};
    if (node_test_load(&t, dir, &err)) {
      fprintf(stderr, "FAIL %s: %s\n", TESTS[i], err.message);
      CHECK(0);
      continue;
    }
    for (int trial = 0; trial < TRIALS; trial++) {
      int ok = run_trial(&t, trial, why, sizeof why);
      if (!ok) fprintf(stderr, "FAIL %s, trial %d: %s\n", TESTS[i], trial, why);
      CHECK(ok);
    }
    node_test_free(&t);
  }
  printf("%d schedule steps applied, %d refused, %d blocked reductions\n", kept, rejected,
         blocked);
  CHECK(kept > 500 && rejected > 50 && blocked > 0);
  return check_report();
}
