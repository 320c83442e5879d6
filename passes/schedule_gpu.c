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
 *
 * A reduction with few output points and a long reduction that its largest operand
 * stores contiguously (softmax's and layer norm's rows, global pooling, ReduceSum over the
 * last axis, a matrix times a vector stored by rows) shares each point among a group of
 * threads instead: a power of two of them walk that reduction axis side by side
 * (coalesced), then combine their partials (warp shuffles, shared memory:
 * codegen/cuda_reduce.c). GEMM-like stages get shared-memory and register tiles first
 * (passes/schedule_gpu_gemm.c) where those apply. */
#include "passes/passes.h"

#include "ir/schedule.h"
#include "ir/staging.h"

#include <string.h>

#define BLOCK_THREADS 256
#define MAX_GRID INT64_C(2147483647) /* blockIdx.x */
#define TILE_ROWS 4
#define TILE_MIN_REDUCTION 16
#define SHARE_MAX_POINTS 32768 /* fewer points than this leave most of a GPU idle */
#define SHARE_MIN_REDUCTION 128
#define SHARE_MIN_THREADS 32   /* a warp */
#define SHARE_MAX_THREADS 512
#define SHARE_PER_THREAD 4     /* elements each thread folds, at least */

/* The one axis an output index walks one to one (a plain variable, or one plus a
 * constant: a padded copy writes its rows at h + 1), -1 if none. */
static int unit_axis(const kiln_stage *s, const kiln_expr *o) {
  kiln_affine f;
  if (!kiln_affine_of(o, &f)) return -1;
  int axis = -1;
  for (int a = 0; a < s->naxes; a++)
    if (f.coef[a]) {
      if (axis >= 0 || f.coef[a] != 1) return -1;
      axis = a;
    }
  return axis;
}

/* The output's spatial axes, innermost first: the axes the indices of out_idx walk one
 * to one, last index first, then any other spatial axis. */
static int spatial_inner_first(const kiln_stage *s, int *order) {
  int n = 0;
  bool seen[KILN_MAX_AXES] = {false};
  for (int d = s->nout_idx - 1; d >= 0; d--) {
    int a = unit_axis(s, s->out_idx[d]);
    if (a >= 0 && !s->axes[a].reduce && !seen[a]) {
      seen[a] = true;
      order[n++] = a;
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
    /* a symbolic axis is never a whole thread loop (a block's threads are fixed at
     * launch): it splits into threads and a block loop over the rest, run-time long */
    if (!full && !s->axes[a].dyn && outer <= BLOCK_THREADS / threads) {
      thread[nthread++] = (kiln_loop){a, stride, outer, KILN_LOOP_THREAD};
      threads *= outer;
      continue;
    }
    int64_t f = full ? 1 : BLOCK_THREADS / threads;
    if (s->axes[a].dyn && f > outer) f = outer; /* a split is at most the hint */
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

/* The largest buffer x loads (elements), and the reduction axis that load's last index
 * walks, alone (-1: none). */
static void largest_load(const kiln_kernel *k, const kiln_stage *s, const kiln_expr *x,
                         int depth, int64_t *size, int *axis) {
  if (!x || depth > 32) return;
  if (x->kind == KX_LOAD && x->nidx > 0 && x->buf >= 0 && x->buf < k->nbufs) {
    const kiln_buffer *b = &k->bufs[x->buf];
    int64_t n = kiln_shape_numel(b->rank, b->dims);
    if (n > *size) {
      *size = n;
      int found = -1, uses = 0;
      for (int a = 0; a < s->naxes; a++)
        if (kx_uses_axis(x->idx[x->nidx - 1], a)) found = a, uses++;
      *axis = uses == 1 && s->axes[found].reduce ? found : -1;
    }
  }
  for (int d = 0; x->kind == KX_LOAD && d < x->nidx; d++)
    largest_load(k, s, x->idx[d], depth + 1, size, axis);
  largest_load(k, s, x->a, depth + 1, size, axis);
  largest_load(k, s, x->b, depth + 1, size, axis);
  largest_load(k, s, x->c, depth + 1, size, axis);
}

/* Threads sharing each point's reduction, when the stage has few points and a long
 * reduction its largest operand stores contiguously: blocks over the points (a few points
 * a block when a group is smaller than a block), then `share` threads along that axis.
 * Not in kernels with run-time dims (the emitter needs static extents there). */
static bool choose_shared(const kiln_kernel *k, kiln_stage *s) {
  int64_t P = 1, K = 1, size = 0;
  int r = -1;
  for (int a = 0; a < s->naxes; a++)
    if (s->axes[a].reduce) K *= s->axes[a].extent;
    else P *= s->axes[a].extent;
  largest_load(k, s, s->value, 0, &size, &r);
  if (k->nsyms || s->reduce == KR_NONE || P > SHARE_MAX_POINTS || K < SHARE_MIN_REDUCTION || r < 0 ||
      s->axes[r].extent < SHARE_MIN_THREADS * SHARE_PER_THREAD / 2)
    return false;
  int64_t share = SHARE_MIN_THREADS;
  while (share < SHARE_MAX_THREADS && 2 * share * SHARE_PER_THREAD <= s->axes[r].extent) share *= 2;
  int order[KILN_MAX_AXES], ns = spatial_inner_first(s, order);
  kiln_schedule t = {0};
  int64_t per_block = share < BLOCK_THREADS ? BLOCK_THREADS / share : 1, grid = 1;
  for (int i = ns - 1; i >= 0; i--) { /* block loops, outermost first */
    int64_t e = s->axes[order[i]].extent, stride = i == 0 && per_block > 1 ? per_block : 1;
    if (stride > e) stride = per_block = e;
    int64_t n = (e + stride - 1) / stride;
    if (n > MAX_GRID / grid) return false;
    grid *= n;
    t.loops[t.nloops++] = (kiln_loop){order[i], stride, n, KILN_LOOP_BLOCK};
  }
  if (ns && per_block > 1)
    t.loops[t.nloops++] = (kiln_loop){order[0], 1, per_block, KILN_LOOP_THREAD};
  t.loops[t.nloops++] = (kiln_loop){r, 1, share, KILN_LOOP_THREAD};
  for (int a = 0; a < s->naxes; a++)
    if (a == r)
      t.loops[t.nloops++] = (kiln_loop){r, share, (s->axes[r].extent + share - 1) / share,
                                        KILN_LOOP_SERIAL};
    else if (s->axes[a].reduce)
      t.loops[t.nloops++] = (kiln_loop){a, 1, s->axes[a].extent, KILN_LOOP_SERIAL};
  s->sched = t;
  return true;
}

static kiln_status schedule_stage(const kiln_kernel *k, kiln_stage *s, kiln_error *err) {
  kiln_schedule_default(s);
  if (s->ordered) return KILN_OK; /* one thread walks it in order */
  for (int a = 0; a < s->naxes; a++)
    if (s->axes[a].extent <= 0) return KILN_OK; /* empty: the default nest does nothing */
  if (s->sched.nloops > KILN_MAX_LOOPS - 4) return KILN_OK; /* no room to split: one thread */
  if (kiln_schedule_gpu_gemm(k, s)) return KILN_OK; /* recipe applied */
  if (!choose_shared(k, s)) choose_loops(s);
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
    kiln_steps *sub[2];
    int nl = kiln_step_lists(st, sub);
    for (int j = 0; j < nl; j++)
      if (kiln_pass_schedule_gpu(sub[j], err)) return err->code;
    if (st->kind != KILN_STEP_KERNEL) continue;
    for (int j = 0; j < st->kernel->nstages; j++)
      if (schedule_stage(st->kernel, &st->kernel->stages[j], err)) return err->code;
  }
  return KILN_OK;
}
