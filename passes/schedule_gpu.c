/* Default GPU schedules (targets "cuda" and "cuda-host"): which loops become the grid and
 * the thread block, as plain data (block and thread loops, ir/kernel.h) recorded as a
 * recipe like the CPU's (passes/schedule.c).
 *
 * Every thread owns whole output points: the spatial loops are spread over blocks and
 * threads, the reductions stay serial inside each thread. The threads of a block take the
 * innermost output axes (whole axes, then a split of the next one), so consecutive threads
 * write, and mostly read, consecutive elements (coalesced accesses). A SUM reduction with
 * a long reduction and another output axis (a GEMM's rows, a Conv's channels) computes a
 * small register tile per thread: a few points of that axis, unrolled inside the
 * reduction, so each element of the streamed operand is loaded once for all of them.
 * Cross-thread reductions (warp shuffles, shared memory) are not used yet. */
#include "passes/passes.h"

#include "ir/schedule.h"

#include <string.h>

#define BLOCK_THREADS 256
#define MAX_GRID INT64_C(2147483647) /* blockIdx.x */
#define TILE_ROWS 4
#define TILE_MIN_REDUCTION 16

/* The output's spatial axes, innermost first: the axes of out_idx that are plain
 * variables, last index first, then any other spatial axis. */
static int spatial_inner_first(const kiln_stage *s, int *order) {
  int n = 0;
  bool seen[KILN_MAX_AXES] = {false};
  for (int d = s->nout_idx - 1; d >= 0; d--) {
    const kiln_expr *o = s->out_idx[d];
    if (o->kind == KX_VAR && o->axis >= 0 && o->axis < s->naxes && !s->axes[o->axis].reduce &&
        !seen[o->axis]) {
      seen[o->axis] = true;
      order[n++] = o->axis;
    }
  }
  for (int a = s->naxes - 1; a >= 0; a--)
    if (!s->axes[a].reduce && !seen[a]) order[n++] = a;
  return n;
}

static void choose_loops(kiln_stage *s) {
  int order[KILN_MAX_AXES], ns = spatial_inner_first(s, order);
  int64_t K = 1;
  int nred = 0;
  for (int a = 0; a < s->naxes; a++)
    if (s->axes[a].reduce) K *= s->axes[a].extent, nred++;
  /* a register tile along the innermost output axis after the first one */
  int row = -1;
  if (s->reduce == KR_SUM && nred && K >= TILE_MIN_REDUCTION)
    for (int i = 1; i < ns && row < 0; i++)
      if (s->axes[order[i]].extent >= TILE_ROWS) row = order[i];

  kiln_loop thread[KILN_MAX_AXES], block[KILN_MAX_AXES + 2], tile = {0};
  int nthread = 0, nblock = 0;
  int64_t threads = 1;
  bool full = false; /* the block's threads are all assigned */
  for (int i = 0; i < ns; i++) {
    int a = order[i];
    int64_t e = s->axes[a].extent;
    int64_t outer = e;
    if (a == row) {
      tile = (kiln_loop){a, 1, TILE_ROWS, KILN_LOOP_UNROLL};
      outer = (e + TILE_ROWS - 1) / TILE_ROWS;
    }
    int64_t stride = a == row ? TILE_ROWS : 1;
    if (!full && outer <= BLOCK_THREADS / threads) {
      thread[nthread++] = (kiln_loop){a, stride, outer, KILN_LOOP_THREAD};
      threads *= outer;
      continue;
    }
    int64_t f = full ? 1 : BLOCK_THREADS / threads;
    full = true;
    if (f >= 2) {
      thread[nthread++] = (kiln_loop){a, stride, f, KILN_LOOP_THREAD};
      threads *= f;
      block[nblock++] = (kiln_loop){a, stride * f, (outer + f - 1) / f, KILN_LOOP_BLOCK};
    } else {
      block[nblock++] = (kiln_loop){a, stride, outer, KILN_LOOP_BLOCK};
    }
  }
  kiln_schedule *sc = &s->sched, t = {0};
  /* block loops outermost first (the reverse of the inner-first walk); any past the grid's
   * limit stay serial loops inside the threads */
  int64_t grid = 1;
  int nserial = 0;
  kiln_loop serial[KILN_MAX_AXES + 2];
  for (int i = nblock - 1; i >= 0; i--) {
    if (grid * block[i].extent > MAX_GRID) {
      block[i].kind = KILN_LOOP_SERIAL;
      serial[nserial++] = block[i];
      continue;
    }
    grid *= block[i].extent;
    t.loops[t.nloops++] = block[i];
  }
  for (int i = nthread - 1; i >= 0; i--) t.loops[t.nloops++] = thread[i];
  for (int i = 0; i < nserial; i++) t.loops[t.nloops++] = serial[i];
  for (int l = 0; l < sc->nloops; l++)
    if (s->axes[sc->loops[l].axis].reduce) t.loops[t.nloops++] = sc->loops[l];
  if (row >= 0 && s->axes[row].extent > 1) t.loops[t.nloops++] = tile;
  *sc = t;
}

static kiln_status schedule_stage(const kiln_kernel *k, kiln_stage *s, kiln_error *err) {
  kiln_schedule_default(s);
  for (int a = 0; a < s->naxes; a++)
    if (s->axes[a].extent <= 0) return KILN_OK; /* empty: the default nest does nothing */
  if (s->sched.nloops > KILN_MAX_LOOPS - 4) return KILN_OK; /* no room to split: one thread */
  choose_loops(s);
  kiln_schedule chosen = s->sched;
  kiln_recipe r;
  if (!kiln_recipe_for(s, &chosen, &r))
    return kiln_fail(err, KILN_ERR_INTERNAL, "kernel '%s', stage '%s': no recipe gives its "
                     "default GPU schedule", k->name, s->name);
  return kiln_schedule_apply(s, &r, err) ? KILN_ERR_INTERNAL : KILN_OK;
}

kiln_status kiln_pass_schedule_gpu(kiln_steps *steps, kiln_error *err) {
  for (int i = 0; i < steps->n; i++) {
    kiln_step *st = &steps->steps[i];
    if (st->kind == KILN_STEP_IF) {
      if (kiln_pass_schedule_gpu(st->then_steps, err) ||
          kiln_pass_schedule_gpu(st->else_steps, err))
        return err->code;
      continue;
    }
    for (int j = 0; j < st->kernel->nstages; j++)
      if (schedule_stage(st->kernel, &st->kernel->stages[j], err)) return err->code;
  }
  return KILN_OK;
}
