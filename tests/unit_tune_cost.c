/* Which nests the tuner never compiles (runtime/tune_cost.c): no default schedule of the
 * examples, for AVX2 or AVX-512 vectors, is one of them; each pattern that cost LLVM
 * seconds is, built on the MLP's second MatMul (a0:16 a1:8 a2:16 lanes, a3:256 reduced),
 * and a nest just short of each is not. */
#include "check.h"

#include "ir/schedule.h"
#include "runtime/profile.h"
#include "runtime/tune.h"

#include <string.h>

static kiln_program *program(const char *path, const char *cpu, const kiln_shape_binding *shape) {
  kiln_options o;
  kiln_options_init(&o);
  o.cpu = cpu;
  o.shapes = shape;
  o.nshapes = shape ? 1 : 0;
  kiln_program *p = NULL;
  kiln_error err = {0};
  if (kiln_program_from_file(path, &o, "schedule", &p, &err))
    fprintf(stderr, "%s for %s: %s\n", path, cpu, err.message);
  CHECK(p != NULL);
  return p;
}

/* No default nest of the program is too costly; returns how many stages it has. */
static int defaults_pass(const kiln_program *p, int vf) {
  int n = 0;
  for (int i = 0; p && i < p->main.n; i++) {
    const kiln_kernel *k = p->main.steps[i].kernel;
    for (int s = 0; k && s < k->nstages; s++, n++)
      if (kiln_tune_too_costly(&k->stages[s], vf)) {
        fprintf(stderr, "default of %s stage %d:\n", k->name, s);
        CHECK(0);
      }
  }
  return n;
}

/* The nest recipe makes of stage s, too costly for 8 lanes or not. */
static bool costly(const kiln_stage *s, const char *recipe) {
  kiln_stage tmp = *s;
  kiln_recipe r;
  kiln_error err = {0};
  CHECK(!kiln_recipe_parse(recipe, &r, &err));
  CHECK(!kiln_schedule_apply(&tmp, &r, &err));
  return kiln_tune_too_costly(&tmp, 8);
}

int main(void) {
  kiln_shape_binding mlp_x = {"x", 2, {16, 784}}, image = {"image", 4, {1, 3, 64, 64}};
  const struct {
    const char *path;
    const kiln_shape_binding *shape;
  } models[] = {{"../examples/mlp.kiln", &mlp_x},
                {"../examples/resnet18.kiln", &image},
                {"../examples/encoder.kiln", NULL},
                {"../examples/demo.onnx", NULL}};
  const struct {
    const char *cpu;
    int vf;
  } cpus[] = {{"x86-64-v3", 8}, {"x86-64-v4", 16}};
  for (size_t m = 0; m < sizeof models / sizeof models[0]; m++)
    for (size_t c = 0; c < sizeof cpus / sizeof cpus[0]; c++) {
      kiln_program *p = program(models[m].path, cpus[c].cpu, models[m].shape);
      CHECK(defaults_pass(p, cpus[c].vf) > 0);
      kiln_program_free(p);
    }

  kiln_program *p = program("../examples/mlp.kiln", "x86-64-v3", &mlp_x);
  const kiln_stage *mm = NULL;
  for (int i = 0; p && i < p->main.n; i++)
    if (!strcmp(p->main.steps[i].kernel->name, "MatMul_3")) mm = &p->main.steps[i].kernel->stages[0];
  CHECK(mm && mm->naxes == 4 && mm->axes[3].reduce && mm->axes[2].extent == 16);
  if (mm) {
    /* loops a1:8 a2*16:1 a0*4:4 a3:256 a0:4(unroll) a2:16(vector): 4 x 2 accumulators */
    const char *tile = "split(0,4) split(3,16) move(2,0) move(3,1) move(5,3)";
    char r[256];
    snprintf(r, sizeof r, "%s unroll(4) vector(5)", tile);
    CHECK(!costly(mm, r));
    /* the lanes' loop left serial inside the unrolled rows */
    snprintf(r, sizeof r, "%s unroll(4)", tile);
    CHECK(costly(mm, r));
    snprintf(r, sizeof r, "%s vector(5)", tile); /* the rows' loop serial, outside */
    CHECK(!costly(mm, r));
    /* 16 rows x 2 vectors of accumulators kept across the reduction: 32 of 16 registers */
    CHECK(costly(mm, "split(0,16) split(3,16) move(2,0) move(3,1) move(5,3) unroll(4) vector(5)"));
    /* the reduction unrolled 4 deep inside the 4 unrolled rows, outside the lanes: each
     * row's sums finished before the next row's start */
    CHECK(costly(mm, "split(0,4) split(3,16) split(5,4) move(2,0) move(3,1) move(5,3) "
                     "move(6,5) unroll(4) unroll(5) vector(6)"));
    CHECK(!costly(mm, "split(0,4) split(3,16) split(5,4) move(2,0) move(3,1) move(5,3) "
                      "move(6,4) unroll(4) unroll(5) vector(6)"));
    /* the 16 lanes in vectors of 12 (8 per register): a vector and a tail of 4 */
    CHECK(costly(mm, "split(0,4) split(3,12) move(2,0) move(3,1) move(5,3) unroll(4) vector(5)"));
    CHECK(!costly(mm, "split(0,4) split(3,8) move(2,0) move(3,1) move(5,3) unroll(4) vector(5)"));
    /* the reduction unrolled 256 deep around 4 rows (1024 copies of the body) */
    CHECK(costly(mm, "split(0,4) split(3,16) move(2,0) move(3,1) move(5,3) unroll(3) unroll(4) "
                     "vector(5)"));
    CHECK(!costly(mm, "split(0,4) split(3,16) split(5,64) move(2,0) move(3,1) move(5,3) "
                      "move(6,4) unroll(4) unroll(5) vector(6)")); /* 64 deep: 512 copies */
  }
  kiln_program_free(p);
  return check_report();
}
