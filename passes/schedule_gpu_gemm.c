/* The default GPU schedule of GEMM-like stages (MatMul, batched MatMul, Gemm, and any sum
 * shaped like one): a thread block of up to 16 x 16 threads computes a block tile of up to
 * 128 x 128 outputs, each thread an 8 x 8 register tile, walking the reduction in slices
 * whose tiles of both operands the block first copies into shared memory (the KS_SHARE
 * step, ir/staging.h; emitted by codegen/cuda_staged.c). The innermost output axis is N; M
 * is the output axis that splits the operands as a GEMM does (a convolution's output
 * channels: each block then reuses its input tile for many channels), else the one next
 * to N; any other output axis is a batch (a block loop); the longest reduction axis is
 * sliced, the others run whole inside each slice where the tiles fit, else outside the
 * slices (a convolution's taps, when its indices are affine: implicit GEMM, the im2col
 * index computed in the copy). A slice holds about 8 steps: 8 channels of a GEMM, one
 * channel of a 3 x 3 convolution's 9 taps.
 *
 * A thread's points along an axis are runs of 4 neighbours (4 x 16 apart), so that it
 * reads its operands from shared memory as float4 and a warp's reads are few wavefronts,
 * where the operands' indices allow vectors; elsewhere (a convolution's columns, offset by
 * each tap) they lie a block's threads apart, so that a warp's scalar reads fall in
 * distinct banks. Where N is far shorter than a tile (a convolution's rows of 7 or 14),
 * the idle threads and points go to the output axis before it (the rows).
 *
 * Small extents shrink the per-thread tile and then the threads along that axis, and a
 * grid of fewer blocks than SMs shrinks the per-thread tiles (down to 2 x 2) so more
 * blocks run. A stage with too few threads that way (a matrix times a vector), run-time
 * dims, or no legal tile is left to passes/schedule_gpu.c. */
#include "passes/passes.h"

#include "ir/schedule.h"
#include "ir/staging.h"

#include <string.h>

#define SIDE_THREADS 16
#define SIDE_POINTS 8
#define MIN_POINTS 2
#define K_SLICE 8
#define MAX_TAPS_UNROLLED 64
#define MIN_THREADS 64
#define MIN_BLOCKS 132 /* one per SM of an H100 / H200: fewer, larger tiles measured faster */
#define MAX_POINTS_N2 32
#define MAX_POINTS_TAPS 32
#define MAX_GRID INT64_C(2147483647)

/* The distinct buffers x loads (at most max). */
static void loaded(const kiln_expr *x, int depth, int *bufs, int *n, int max) {
  if (!x || depth > 64) return;
  if (x->kind == KX_LOAD) {
    bool seen = false;
    for (int i = 0; i < *n; i++) seen |= bufs[i] == x->buf;
    if (!seen && *n < max) bufs[(*n)++] = x->buf;
    for (int d = 0; d < x->nidx; d++) loaded(x->idx[d], depth + 1, bufs, n, max);
  }
  loaded(x->a, depth + 1, bufs, n, max);
  loaded(x->b, depth + 1, bufs, n, max);
  loaded(x->c, depth + 1, bufs, n, max);
}

/* Does x load a buffer at an index that uses axis `with` and not axis `without`? */
static bool loads_along(const kiln_expr *x, int depth, int with, int without) {
  if (!x || depth > 64) return false;
  if (x->kind == KX_LOAD) {
    bool w = false, wo = false;
    for (int d = 0; d < x->nidx; d++) {
      w |= kx_uses_axis(x->idx[d], with);
      wo |= kx_uses_axis(x->idx[d], without);
    }
    if (w && !wo) return true;
  }
  return loads_along(x->a, depth + 1, with, without) || loads_along(x->b, depth + 1, with, without) ||
         loads_along(x->c, depth + 1, with, without);
}

/* Does x load buffer b at an index that uses axis a? */
static bool loads_buf_along(const kiln_expr *x, int depth, int b, int a) {
  if (!x || depth > 64) return false;
  for (int d = 0; x->kind == KX_LOAD && d < x->nidx; d++)
    if ((x->buf == b && kx_uses_axis(x->idx[d], a)) || loads_buf_along(x->idx[d], depth + 1, b, a))
      return true;
  return loads_buf_along(x->a, depth + 1, b, a) || loads_buf_along(x->b, depth + 1, b, a) ||
         loads_buf_along(x->c, depth + 1, b, a);
}

/* Can a thread's run of 4 neighbouring points along axis a read its operands as vectors?
 * Not where an index walks a with a stride, or starts the run off a multiple of 4 (a
 * convolution's column plus its tap: the run starts at every offset of the staged tile).
 * There a thread's points lie a block's threads apart instead, so that a warp's scalar
 * reads of a tile fall in distinct banks. */
static bool vector_reads(const kiln_stage *s, const kiln_expr *x, int depth, int a) {
  if (!x || depth > 64) return true;
  for (int d = 0; x->kind == KX_LOAD && d < x->nidx; d++) {
    kiln_affine f;
    if (!kx_uses_axis(x->idx[d], a)) continue;
    if (!kiln_affine_of(x->idx[d], &f) || f.coef[a] != 1 || f.c0 % 4) return false;
    for (int b = 0; b < s->naxes; b++)
      if (b != a && s->axes[b].extent > 1 && f.coef[b] % 4) return false;
  }
  bool ok = true;
  for (int d = 0; x->kind == KX_LOAD && d < x->nidx && ok; d++)
    ok = vector_reads(s, x->idx[d], depth + 1, a);
  return ok && vector_reads(s, x->a, depth + 1, a) && vector_reads(s, x->b, depth + 1, a) &&
         vector_reads(s, x->c, depth + 1, a);
}

/* Threads t and points r per thread along an axis of extent e, shrunk while half of them
 * would cover it. */
static void fit(int64_t e, int64_t *t, int64_t *r) {
  *t = SIDE_THREADS;
  *r = SIDE_POINTS;
  while (*r > 1 && *t * *r / 2 >= e) *r /= 2;
  while (*t > 1 && *t * *r / 2 >= e) *t /= 2;
}

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* The loop of axis a (extent e) at *stride, n iterations or fewer where they would pass
 * e; *stride moves past it. */
static kiln_loop piece(int a, int64_t e, int64_t n, kiln_loop_kind kind, int64_t *stride) {
  int64_t x = cdiv(e, *stride) < n ? cdiv(e, *stride) : n;
  kiln_loop l = {a, *stride, x, kind};
  *stride *= x;
  return l;
}

/* Axis a (extent e) as up to 4 unrolled points (stride 1: a thread's neighbouring points
 * are neighbours in memory, so its loads of a staged tile are 16-byte vectors; none
 * without runs), then threads t, then the rest of the r points (stride t * 4, or t), then
 * blocks; a piece of one iteration is left out, and the outermost piece present covers
 * the rest. */
static void pieces(int a, int64_t e, int64_t t, int64_t r, bool runs, kiln_loop *thread,
                   int *nt, kiln_loop *tile, int *ntile, kiln_loop *block, int *nb) {
  int64_t stride = 1, v = !runs ? 1 : r < 4 ? r : 4;
  if (v == 1 && t * r >= e) t = cdiv(e, r); /* as few threads as cover e: no idle points */
  kiln_loop run = {0}, rest = {0}; /* extent 0: no such piece */
  if (v > 1 && e > stride) run = piece(a, e, v, KILN_LOOP_UNROLL, &stride);
  if (t > 1 && e > stride) thread[(*nt)++] = piece(a, e, t, KILN_LOOP_THREAD, &stride);
  if (r / v > 1 && e > stride) rest = piece(a, e, r / v, KILN_LOOP_UNROLL, &stride);
  if (rest.extent) tile[(*ntile)++] = rest; /* the tile loops outer points first */
  if (run.extent) tile[(*ntile)++] = run;
  if (e > stride || stride == 1) block[(*nb)++] = (kiln_loop){a, stride, cdiv(e, stride), KILN_LOOP_BLOCK};
}

/* The M axis for N and K: the innermost output axis that splits the operands as a GEMM
 * does (one operand loads along it and not N, another along N and not it: a convolution's
 * output channels, not its rows), else the output axis next to N as long as some operand
 * walks K without it; -1 if neither. */
static int choose_m(const kiln_stage *s, int N, int K) {
  for (int i = s->nout_idx - 2; i >= 0; i--) {
    const kiln_expr *o = s->out_idx[i];
    int a = o->kind == KX_VAR ? o->axis : -1;
    if (a < 0 || a >= s->naxes || a == N || s->axes[a].reduce) continue;
    if (loads_along(s->value, 0, a, N) && loads_along(s->value, 0, N, a) && loads_along(s->value, 0, K, a))
      return a;
  }
  const kiln_expr *om = s->out_idx[s->nout_idx - 2];
  int M = om->kind == KX_VAR ? om->axis : -1;
  if (M < 0 || M >= s->naxes || M == N || s->axes[M].reduce || !loads_along(s->value, 0, K, M)) return -1;
  return M;
}

/* The output axis an index before N's walks one to one, for a second dimension of N's
 * tiles where N is short (a convolution's rows, beside its columns), -1 if none. */
static int choose_n2(const kiln_stage *s, int M, int N) {
  const kiln_expr *o = s->out_idx[s->nout_idx - 2];
  int a = o->kind == KX_VAR ? o->axis : -1;
  if (a < 0 || a >= s->naxes || a == M || a == N || s->axes[a].reduce) return -1;
  return a;
}

/* Threads and points per thread along M, N and N2 (t2 = r2 = 1: no N2), and whether
 * each axis's points are runs of vector reads (vector_reads). */
typedef struct tiles {
  int M, N, N2;
  int64_t tm, rm, tn, rn, t2, r2;
  bool runs_m, runs_n, runs_2;
} tiles;

/* Does p tile the rows N2 as well? */
static bool rows_tiled(const tiles *p) { return p->N2 >= 0 && p->t2 * p->r2 > 1; }

/* The product of s's reductions other than K (a convolution's taps; 1: none). */
static int64_t taps_of(const kiln_stage *s, int K) {
  int64_t taps = 1;
  for (int a = 0; a < s->naxes; a++)
    if (s->axes[a].reduce && a != K) taps *= s->axes[a].extent;
  return taps;
}

/* Apply the tiles to s (true), or leave s as it was (false: the grid is too large, the
 * loops too many, or no operand's tile fits in shared memory). */
static bool apply(kiln_stage *s, const tiles *p, int K) {
  int M = p->M, N = p->N, N2 = p->N2;
  kiln_loop thread[6], tile[6], block[KILN_MAX_AXES + 3];
  int nt = 0, ntile = 0, nb = 0;
  for (int a = 0; a < s->naxes; a++) /* batch blocks, outermost first */
    if (!s->axes[a].reduce && a != M && a != N && (a != N2 || !rows_tiled(p)))
      block[nb++] = (kiln_loop){a, 1, s->axes[a].extent, KILN_LOOP_BLOCK};
  pieces(M, s->axes[M].extent, p->tm, p->rm, p->runs_m, thread, &nt, tile, &ntile, block, &nb);
  if (rows_tiled(p))
    pieces(N2, s->axes[N2].extent, p->t2, p->r2, p->runs_2, thread, &nt, tile, &ntile, block, &nb);
  pieces(N, s->axes[N].extent, p->tn, p->rn, p->runs_n, thread, &nt, tile, &ntile, block, &nb);
  int64_t grid = 1;
  for (int i = 0; i < nb; i++) {
    if (block[i].extent > MAX_GRID / grid) return false;
    grid *= block[i].extent;
  }
  /* the other reductions (a convolution's taps) inside the slices first: one tile of the
   * input then serves every tap, read from global memory once instead of once a tap, and
   * each slice's barriers are paid for by taps x slice steps; outside them where the
   * larger tiles do not fit */
  bool others = false;
  for (int a = 0; a < s->naxes; a++) others |= s->axes[a].reduce && a != K;
  kiln_schedule saved = s->sched;
  for (int inside = others; inside >= 0; inside--) {
    kiln_schedule t = {0};
    for (int i = 0; i < nb; i++) t.loops[t.nloops++] = block[i];
    for (int i = 0; i < nt; i++) t.loops[t.nloops++] = thread[i];
    for (int a = 0; a < s->naxes && !inside; a++)
      if (s->axes[a].reduce && a != K) t.loops[t.nloops++] = (kiln_loop){a, 1, s->axes[a].extent, KILN_LOOP_SERIAL};
    /* a slice's steps are its channels times the taps inside it: about K_SLICE of them,
     * as in a GEMM, so that the operands' copies (held in registers while the slice before
     * computes) stay as small as a GEMM's */
    int64_t ek = s->axes[K].extent, taps = inside ? taps_of(s, K) : 1;
    int64_t steps = K_SLICE / taps > 1 ? K_SLICE / taps : 1, slice = ek < steps ? ek : steps;
    t.share_loop = t.nloops;
    t.loops[t.nloops++] = (kiln_loop){K, slice, cdiv(ek, slice), KILN_LOOP_SERIAL};
    for (int a = 0; a < s->naxes && inside; a++) /* unrolled: each tap's offsets constant */
      if (s->axes[a].reduce && a != K)
        t.loops[t.nloops++] = (kiln_loop){a, 1, s->axes[a].extent,
                                          taps <= MAX_TAPS_UNROLLED ? KILN_LOOP_UNROLL : KILN_LOOP_SERIAL};
    if (slice >= 2) t.loops[t.nloops++] = (kiln_loop){K, 1, slice, KILN_LOOP_UNROLL};
    for (int i = 0; i < ntile; i++) t.loops[t.nloops++] = tile[i];
    if (t.nloops > KILN_MAX_LOOPS) continue;

    /* stage every operand the slices walk, as long as the tiles fit */
    int bufs[KILN_MAX_SHARE * 2], nbufs = 0, want = 0;
    loaded(s->value, 0, bufs, &nbufs, KILN_MAX_SHARE * 2);
    for (int i = 0; i < nbufs && t.nshare < KILN_MAX_SHARE; i++) {
      if (!loads_buf_along(s->value, 0, bufs[i], K) || bufs[i] == s->out_buf) continue;
      want++;
      t.share[t.nshare++] = bufs[i];
      s->sched = t;
      if (kiln_schedule_check(s, &(kiln_error){0})) t.nshare--;
    }
    if (inside && t.nshare < want) continue; /* a tile did not fit: the taps go outside */
    kiln_recipe r;
    if (t.nshare && kiln_recipe_for(s, &t, &r) && !kiln_schedule_apply(s, &r, &(kiln_error){0}))
      return true;
  }
  s->sched = saved;
  return false;
}

bool kiln_schedule_gpu_gemm(const kiln_kernel *k, kiln_stage *s) {
  if (k->nsyms || s->reduce != KR_SUM || s->nout_idx < 2) return false;
  const kiln_expr *on = s->out_idx[s->nout_idx - 1];
  if (on->kind != KX_VAR) return false;
  int N = on->axis, M, K = -1;
  if (N < 0 || N >= s->naxes || s->axes[N].reduce) return false;
  for (int a = 0; a < s->naxes; a++) {
    if (s->axes[a].dyn || s->axes[a].extent < 1) return false;
    if (s->axes[a].reduce && (K < 0 || s->axes[a].extent > s->axes[K].extent)) K = a;
  }
  if (K < 0 || !loads_along(s->value, 0, K, N) || (M = choose_m(s, N, K)) < 0) return false;

  tiles p = {M, N, choose_n2(s, M, N), 0, 0, 0, 0, 1, 1, false, false, false};
  p.runs_m = vector_reads(s, s->value, 0, M);
  p.runs_n = vector_reads(s, s->value, 0, N);
  p.runs_2 = p.N2 >= 0 && vector_reads(s, s->value, 0, p.N2);
  int64_t eM = s->axes[M].extent, eN = s->axes[N].extent;
  fit(eM, &p.tm, &p.rm);
  /* 8 points a thread along M before 16 threads: twice the operand reuse of 4 */
  while (p.tm > SIDE_THREADS / 2 && p.rm == SIDE_POINTS / 2 && p.tm * p.rm / 2 >= eM / 2 &&
         (p.tm / 2) * SIDE_POINTS >= eM)
    p.tm /= 2, p.rm *= 2;
  fit(eN, &p.tn, &p.rn);
  /* N far shorter than a tile (a convolution's columns of 7 or 14) leaves threads and
   * points idle: they go to the rows N2 instead, up to MAX_POINTS_N2 points a thread (more
   * spilled registers on an H200, beside a convolution's operand copies) */
  int64_t vn = !p.runs_n ? 1 : p.rn < 4 ? p.rn : 4;
  int64_t used = cdiv(eN, vn) < p.tn ? cdiv(eN, vn) : p.tn;
  if (p.N2 >= 0 && used * p.rn < SIDE_THREADS) {
    int64_t e2 = s->axes[p.N2].extent;
    p.r2 = SIDE_POINTS / p.rn;
    while (p.r2 > 1 && p.rm * p.rn * p.r2 > MAX_POINTS_N2) p.r2 /= 2;
    while (p.t2 * 2 * used <= SIDE_THREADS) p.t2 *= 2;
    while (p.r2 > 1 && p.t2 * p.r2 / 2 >= e2) p.r2 /= 2;
    while (p.t2 > 1 && p.t2 * p.r2 / 2 >= e2) p.t2 /= 2;
  }
  if (p.tm * p.tn * p.t2 < MIN_THREADS) return false;
  /* a convolution's copies of taps x channels hold more registers than a GEMM's */
  bool taps = taps_of(s, K) > 1;
  while (taps && p.rm * p.rn * p.r2 > MAX_POINTS_TAPS)
    if (p.r2 > 1) p.r2 /= 2;
    else if (p.rn >= p.rm) p.rn /= 2;
    else p.rm /= 2;
  int64_t batch = 1;
  for (int a = 0; a < s->naxes; a++)
    if (!s->axes[a].reduce && a != M && a != N && (a != p.N2 || !rows_tiled(&p)))
      batch *= s->axes[a].extent;
  for (;;) { /* more, smaller blocks while the grid is small */
    int64_t blocks = batch * cdiv(eM, p.tm * p.rm) * cdiv(eN, p.tn * p.rn);
    if (rows_tiled(&p)) blocks *= cdiv(s->axes[p.N2].extent, p.t2 * p.r2);
    if (blocks >= MIN_BLOCKS || (p.rm <= MIN_POINTS && p.rn * p.r2 <= MIN_POINTS)) break;
    if (p.rm >= p.rn * p.r2) p.rm /= 2;
    else if (p.r2 > 1) p.r2 /= 2;
    else p.rn /= 2;
  }
  if (rows_tiled(&p) && apply(s, &p, K)) return true;
  p.t2 = p.r2 = 1; /* the rows' tiles did not fit: N alone */
  return apply(s, &p, K);
}
