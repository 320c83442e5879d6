/* Default schedules: a first, untuned choice of loop order and parallelism per stage.
 *
 * GEMM-like stages (MatMul, Gemm, pointwise Conv) get a register tile: an mr x nr block of
 * the output, sized to the target's vectors, accumulated in registers over the whole
 * reduction (codegen's register-tile mode). Other stages follow two rules, both about what
 * LLVM's vectorizer and the OpenMP runtime can use:
 *  - Parallel: the outermost spatial loops run on all threads once a stage has enough work.
 *  - Contiguous innermost loop: a reduction keeps its innermost reduction loop inside when
 *    that loop is long and walks memory with stride 1 (a dot product: LLVM vectorizes it
 *    with reassociation). Otherwise, when the innermost spatial axis is stride-1 in the output
 *    (MatMul's N, Conv's output width), that spatial loop moves inside the reductions and
 *    the stage accumulates in its output buffer: even strided loads (a stride-2 Conv)
 *    vectorize better there than a short reduction does.
 * Short window reductions whose innermost output axis every load reads contiguously (pools
 * in the blocked layout) take a register tile as well.
 * The tuner replaces these choices later; they only need to be safe and not slow. */
#include "passes/passes.h"

#include "ir/kernel_cost.h"
#include "ir/schedule.h"

#include <string.h>

/* Estimated single-thread time (ir/kernel_cost.h) below which a stage runs serially: waking
 * a worker and joining it costs ~1 us on a quiet machine and several on a busy one, so a
 * stage is split only when half of it saves clearly more than that. */
#define PARALLEL_MIN_NS 30000.0

/* Is e "axis a + terms without a"? (stride 1 along a) */
static bool unit_stride(const kiln_expr *e, int a) {
  if (e->kind == KX_VAR) return e->axis == a;
  if (e->kind == KX_BINARY && e->op == KB_ADD)
    return (unit_stride(e->a, a) && !kx_uses_axis(e->b, a)) ||
           (unit_stride(e->b, a) && !kx_uses_axis(e->a, a));
  return false;
}

/* The last of n indices that is not a constant (all of them: the last): a keepdims
 * statistic [N, H, W, 1] read at [n, h, w, 0] walks memory along w. */
static int last_index(int n, kiln_expr *const *idx) {
  int d = n - 1;
  while (d > 0 && idx[d]->kind == KX_CONST) d--;
  return d;
}

/* Loads in e that use axis a: counts those reading it with stride 1 in their last dim (that
 * is not a constant) and those reading it any other way. */
static void count_loads(const kiln_expr *e, int a, int *contiguous, int *other) {
  if (!e) return;
  if (e->kind == KX_LOAD) {
    bool used = false, inner_only = e->nidx > 0;
    int last = last_index(e->nidx, e->idx);
    for (int d = 0; d < e->nidx; d++) {
      if (!kx_uses_axis(e->idx[d], a)) continue;
      used = true;
      if (d != last || !unit_stride(e->idx[d], a)) inner_only = false;
    }
    if (used) ++*(inner_only ? contiguous : other);
    for (int d = 0; d < e->nidx; d++) count_loads(e->idx[d], a, contiguous, other);
    return;
  }
  count_loads(e->a, a, contiguous, other);
  count_loads(e->b, a, contiguous, other);
  count_loads(e->c, a, contiguous, other);
}

static bool streams(const kiln_stage *s, int a) {
  int contiguous = 0, other = 0;
  count_loads(s->value, a, &contiguous, &other);
  return contiguous > 0 && other == 0;
}

/* Moves loop `from` to the innermost position. */
static void move_innermost(kiln_schedule *sc, int from) {
  kiln_loop l = sc->loops[from];
  memmove(&sc->loops[from], &sc->loops[from + 1], sizeof(kiln_loop) * (size_t)(sc->nloops - from - 1));
  sc->loops[sc->nloops - 1] = l;
}

/* Parallel over the leading spatial loops (of the first nspatial), as long as each adds
 * parallelism and, with keep_inner, at least one inner spatial loop stays serial when
 * there are several. */
/* Where the innermost loop of a nest would run in parallel, its chunks of this many
 * points stay a serial loop inside: LLVM vectorizes no loop over parallel iterations (their
 * collapsed index is divided back into the loops'), so a SiLU over [1, 131072] (coalesced
 * [1, 128, 32, 32]) ran scalar, 342 us where vectorized it takes 20 (Zen 5). */
#define INNER_CHUNK 1024

static void parallelize(kiln_stage *s, int nspatial, bool keep_inner) {
  kiln_schedule *sc = &s->sched;
  if (kiln_stage_cost_ns(s) < PARALLEL_MIN_NS) return;
  int64_t par = 1;
  for (int l = 0; l < nspatial && par < 64; l++) {
    kiln_loop *lp = &sc->loops[l];
    if (s->axes[lp->axis].reduce) break;
    if (keep_inner && l == nspatial - 1 && l > 0 && par >= 2) break;
    if (l == sc->nloops - 1 && sc->nloops < KILN_MAX_LOOPS && lp->kind == KILN_LOOP_SERIAL &&
        lp->stride == 1 && !s->axes[lp->axis].dyn && lp->extent >= 2 * INNER_CHUNK) {
      int64_t e = lp->extent;
      *lp = (kiln_loop){lp->axis, INNER_CHUNK, (e + INNER_CHUNK - 1) / INNER_CHUNK, KILN_LOOP_PARALLEL};
      sc->loops[sc->nloops++] = (kiln_loop){lp->axis, 1, INNER_CHUNK, KILN_LOOP_SERIAL};
      return;
    }
    lp->kind = KILN_LOOP_PARALLEL;
    par *= lp->extent;
  }
}

/* ---- register tiles for GEMM-like stages ---------------------------------------------- */

/* f32 accumulators the register file holds while leaving room for the operands: 12 of the
 * 16 vector registers of AVX2, 24 of AVX-512's 32. */
static int acc_vectors(int vf) { return vf >= 16 ? 24 : 12; }

/* e without casts, and without the guard of a padded load: select(inside, load, 0) reads
 * like its load (codegen evaluates it clamped, without a branch). */
static const kiln_expr *strip_casts(const kiln_expr *e) {
  while (e && (e->kind == KX_CAST || (e->kind == KX_SELECT && e->c && e->c->kind == KX_CONST &&
                                       e->c->f == 0 && e->c->i == 0)))
    e = e->kind == KX_CAST ? e->a : e->b;
  return e;
}

/* Is load x's last index unit-stride along axis a, and no other index uses a? */
static bool loads_along(const kiln_expr *x, int a) {
  for (int d = 0; d < x->nidx; d++)
    if (kx_uses_axis(x->idx[d], a) != (d == x->nidx - 1)) return false;
  return x->nidx > 0 && unit_stride(x->idx[x->nidx - 1], a);
}

/* The axis that index e walks with stride 1 as a term of its own: e itself, or one side of
 * an addition (MatMulPanels' column: panel * nr + j); -1 if none. */
static int unit_axis(const kiln_expr *e) {
  if (e->kind == KX_VAR) return e->axis;
  if (e->kind != KX_BINARY || e->op != KB_ADD) return -1;
  for (int side = 0; side < 2; side++) {
    int a = unit_axis(side ? e->a : e->b);
    if (a >= 0 && unit_stride(e, a)) return a;
  }
  return -1;
}

/* The innermost axis of s's output, before its last index, that is spatial, longer than
 * 1 and not read by `skip` (NULL: any): the rows of a tile with no operand shared across
 * them; -1 if none. */
static int innermost_row(const kiln_stage *s, const kiln_expr *skip) {
  for (int d = s->nout_idx - 2; d >= 0; d--) {
    const kiln_expr *o = s->out_idx[d];
    if (o->kind == KX_VAR && !s->axes[o->axis].reduce && s->axes[o->axis].extent > 1 &&
        !(skip && kx_uses_axis(skip, o->axis)))
      return o->axis;
  }
  return -1;
}

/* How good a tile's rows axis is: static and longer than 1, free, or static of one. */
static int row_rank(const kiln_axis *a) { return a->dyn ? 1 : a->extent > 1 ? 2 : 0; }

/* A SUM of (casts of) load A * load B, stored with spatial axis n innermost (stride 1 in
 * the output's last index), where B reads n contiguously and A not at all, and a spatial
 * axis m of the output that A reads and B not (MatMul's m, a Conv's output channel) or
 * else one that A does not read (a depthwise Conv's output row, *no_reuse set: B is not
 * shared between rows; also where both operands read n contiguously), *m and *n, or
 * false. *panel is the other spatial axis of the output's last index (MatMulPanels'
 * panel), or -1; *n2 another output axis B reads and A does not (a blocked Conv's output
 * channel block), or -1. */
static bool gemm_like(const kiln_stage *s, int *m, int *n, int *panel, int *n2, bool *no_reuse) {
  if (s->reduce != KR_SUM || !s->nout_idx || !s->value) return false;
  const kiln_expr *v = strip_casts(s->value), *out_last = s->out_idx[s->nout_idx - 1];
  if (!v || v->kind != KX_BINARY || v->op != KB_MUL) return false;
  const kiln_expr *x = strip_casts(v->a), *y = strip_casts(v->b);
  *no_reuse = false;
  *n2 = -1;
  if (!x || !y || x->kind != KX_LOAD || y->kind != KX_LOAD) return false;
  *n = unit_axis(out_last);
  if (*n < 0 || s->axes[*n].reduce) return false;
  *panel = -1; /* another axis in the column: the panel of MatMulPanels */
  for (int a = 0; a < s->naxes; a++)
    if (a != *n && !s->axes[a].reduce && kx_uses_axis(out_last, a)) *panel = a;
  if (!loads_along(y, *n)) { /* B is whichever operand streams along n */
    const kiln_expr *t = x;
    x = y, y = t;
  }
  if (!loads_along(y, *n)) return false;
  if (kx_uses_axis(x, *n)) {
    /* both operands read n contiguously (a depthwise Conv in blocked layout, vectors of
     * channels): tiles of the innermost other output axis, no operand shared by rows */
    if (!loads_along(x, *n)) return false;
    *m = innermost_row(s, NULL);
    *no_reuse = true;
    return *m >= 0;
  }
  /* the longest such axis: [32, 1, K] x [K, N] (an LSTM's input projection) tiles its 32
   * rows, not its size-1 dim. A static axis longer than 1 goes before a free one, and of
   * free ones the innermost, whatever their hints: a free batch (hint 224, where a Conv's
   * output rows have 112, 56...) tiled by 12 runs the clamped tail at batch 1, 13x slower */
  *m = -1;
  for (int d = s->nout_idx - 2; d >= 0; d--) {
    const kiln_expr *o = s->out_idx[d];
    if (o->kind != KX_VAR || s->axes[o->axis].reduce || !kx_uses_axis(x, o->axis) ||
        kx_uses_axis(y, o->axis))
      continue;
    if (*m < 0 || row_rank(&s->axes[o->axis]) > row_rank(&s->axes[*m]) ||
        (row_rank(&s->axes[o->axis]) == row_rank(&s->axes[*m]) && !s->axes[*m].dyn &&
         s->axes[o->axis].extent > s->axes[*m].extent))
      *m = o->axis;
  }
  if (*m >= 0) {
    /* another output axis that B reads and A does not (a blocked Conv's block of output
     * channels): a tile may span several of its values when n alone is narrow */
    for (int d = 0; d < s->nout_idx - 1; d++) {
      const kiln_expr *o = s->out_idx[d];
      if (o->kind == KX_VAR && o->axis != *panel && o->axis != *m &&
          !s->axes[o->axis].reduce && s->axes[o->axis].extent > 1 &&
          kx_uses_axis(y, o->axis) && !kx_uses_axis(x, o->axis))
        *n2 = o->axis;
    }
    return true;
  }
  /* no such axis (a depthwise Conv: both read the channel): the innermost other output
   * axis, for a tile that shares A's broadcasts across rows (the output row: the weight
   * is the same for all of them) */
  *m = innermost_row(s, x);
  *no_reuse = true;
  return *m >= 0;
}

/* Bytes of A a sweep over B's panels reads between two reads of a row (half of a 2 MB
 * L2): past it, rows go in blocks, each swept over all panels while its A stays in L2. */
#define A_BLOCK_BYTES (INT64_C(1) << 20)
/* Half of a 32 KB L1: a B slice past it does not stay in L1 beside its A rows. */
#define B_SLICE_BYTES (INT64_C(16) << 10)
/* How far ahead of its FMAs a register tile prefetches a weight panel: far enough to hide
 * DRAM's latency (~100 ns: a few hundred cycles of 128-byte steps), measured best at
 * 32-64 rows of a 32-wide panel in BERT-base's FFN. */
#define PREFETCH_AHEAD_BYTES 4096
/* Weights smaller than this (an L2) are left to the hardware: prefetching them from L2
 * costs load slots (512 x 512: 2-4% slower) and gains nothing. */
#define PREFETCH_MIN_BYTES (INT64_C(2) << 20)

/* Rows the tiles of mr rows compute, for row blocks of at most mb rows. */
static int64_t rows_covered(int64_t M, int64_t mb, int64_t mr) {
  int64_t per = (mb + mr - 1) / mr * mr;
  return (M + per - 1) / per * per;
}

/* Bytes of partial sums (f32) a reduction in cache blocks may keep per block: with the
 * block's weights and inputs, well inside a 32 KB L1. */
#define OUT_BLOCK_BYTES (INT64_C(16) << 10)

/* A Conv whose weights for one tile's channels outgrow L1 (a 3x3 Conv of 512 channels:
 * 295 KB per pair of output blocks) re-reads them from L2 for every row tile. When the
 * outputs of those channels are few (7x7, 14x14), the outermost reduction loop (the input
 * channel blocks) moves just inside n2's loop instead: each block's weights (4.6 KB) then
 * stay in L1 across all row tiles, which keep partial sums in the output (Zen 3,
 * ResNet-50's 3x3 Convs at 7x7: 71 -> 82 GFLOP/s; at 14x14: 89 -> 95; what the tuner found).
 * Only where each block still runs a long reduction (3x3 windows of 8 channels: 72 steps):
 * a 1x1 Conv's 8 steps would store partial sums after every 8 FMAs of a tile. Only for
 * AVX2 tiles: with AVX-512 (Zen 5, 1 MB of L2) the whole reduction inside each row tile
 * is faster, the tile's weights (590 KB for 32 channels) streaming from L2 (ResNet-18's
 * 3x3 Convs at 7x7: 146 -> 203 GFLOP/s; ResNet-18 1.12x, ResNet-50 1.07x at one thread;
 * what the tuner found). */
static void reduce_in_blocks(const kiln_stage *s, kiln_schedule *t, int n2, int64_t K,
                             int64_t cols, int64_t rows) {
  int at = -1, r0 = -1;
  for (int l = 0; l < t->nloops; l++) {
    if (t->loops[l].axis == n2) at = l;
    if (r0 < 0 && s->axes[t->loops[l].axis].reduce) r0 = l;
  }
  if (at < 0 || r0 < 0 || at > r0 || t->loops[r0].extent < 2 ||
      K / t->loops[r0].extent < 64 || K * cols * 4 <= B_SLICE_BYTES)
    return;
  int64_t out = rows * cols * 4; /* the tile's, times the spatial loops between */
  for (int l = at + 1; l < r0; l++) out *= t->loops[l].extent;
  if (out > OUT_BLOCK_BYTES) return;
  kiln_loop r = t->loops[r0];
  memmove(&t->loops[at + 2], &t->loops[at + 1], sizeof(kiln_loop) * (size_t)(r0 - at - 1));
  t->loops[at + 1] = r;
}

/* [other spatial.., m_c, panel, n_o, m_o, reductions.., m_i (unroll), n_i (vector)]: an
 * mr x nr tile of accumulators held in registers across the reductions (codegen's
 * register-tile mode). n_o outside m_o keeps a K x nr panel of B in cache while A's rows
 * stream past it; where A is the larger operand (M > N: a late Conv's 2048 channels x 49
 * points) m_o goes outside, so A streams once and B is re-read from cache. With B in
 * panels (panel >= 0: MatMulPanels' panel axis) A is what is read again per panel, so rows
 * are blocked (m_c) to keep A's block in L2. */
static void tile_schedule(kiln_stage *s, int m, int n, int panel, int n2, int vf) {
  kiln_schedule *sc = &s->sched;
  int64_t M = s->axes[m].extent, N = s->axes[n].extent, K = 1;
  for (int a = 0; a < s->naxes; a++)
    if (s->axes[a].reduce) K *= s->axes[a].extent;
  int nvec = M < 4 ? 4 : 2; /* GEMV-like: fewer rows, so more vectors per row for ILP */
  int64_t nr = (int64_t)nvec * vf;
  while (nr > vf && nr > N) nr -= vf;
  if (nr > N) nr = N;
  int64_t acc = acc_vectors(vf) / ((nr + vf - 1) / vf), u = 1;
  /* one vector per row: u values of n2 (u vectors of B per step, each row's broadcast
   * shared by them) where u divides n2's extent: the u whose tile holds the most useful
   * accumulators (rows past M wasted), with at least 6 rows so that each vector of B
   * loaded serves several (a 7x7 Conv reads its weights from L2 at every step). A step
   * loads rows broadcasts and t vectors for rows * t FMAs; the load ports keep up with
   * the FMA pipes only while loads are at most 3/4 of the FMAs (Zen 3, 3x3 Conv at
   * 56x56: 8 x 1 vectors, 9 loads per 8 FMAs, 42 GFLOP/s; 4 x 2, 6 per 8, 66-75), so
   * the useful accumulators count at that rate. */
  double useful = 0;
  for (int64_t t = 1; nr <= vf && n2 >= 0 && t <= 4; t++) {
    int64_t rows = acc / t < 12 ? acc / t : 12;
    if (rows > M) rows = M;
    if (s->axes[n2].extent % t || (rows < 6 && rows < M)) continue;
    double rate = 0.75 * (double)(rows * t) / (double)(rows + t);
    double f = (double)t * rows * M / rows_covered(M, M, rows) * (rate < 1 ? rate : 1);
    if (f > useful + 0.5) useful = f, u = t;
  }
  int64_t mr = acc / u;
  if (mr > 12) mr = 12;
  if (mr > M) mr = M;
  int64_t blocks = panel >= 0 ? (M * K * 4 + A_BLOCK_BYTES - 1) / A_BLOCK_BYTES : 1;
  int64_t mb = (M + blocks - 1) / blocks;
  /* the last row tile overlaps the one before (codegen moves it back), so rows past a
   * multiple of mr (per block) are computed twice: where that wastes over 1/16 of the
   * work, a smaller mr (at least half) that wastes less (64 channels: 8 x 8 rather than
   * 6 x 12 rows) */
  int64_t best = mr;
  for (int64_t r = mr - 1; r >= (mr + 1) / 2 && rows_covered(M, mb, mr) - M > M / 16; r--)
    if (rows_covered(M, mb, r) < rows_covered(M, mb, best)) best = r;
  mr = best;
  mb = (mb + mr - 1) / mr * mr;
  /* n2's values go outside the rows (each B slice then serves all rows from cache) unless
   * A is what would not stay in cache: rows over a reduction too large for L2 (a 1x1 Conv
   * of 256 channels at 56x56) are read once, B's smaller whole re-read per row tile. Nor
   * when a B slice outgrows half an L1 over a long reduction while A passes a quarter of
   * an L2: a row tile's A (6 rows of 1024 channels: 24 KB, in 128 pieces a block apart)
   * then stays in L1 across the slices, which stream in the order they are packed, rather
   * than coming back from L3 once per slice (Zen 3, ResNet-50's 1x1 1024 -> 256 Convs at
   * 14x14: 1.3x faster; MobileNetV2's 1x1 Convs at 7x7: 1.2x). With AVX-512 (Zen 5, 1 MB
   * of L2) that second rule holds only while all of B stays under 1 MB: past it, slices
   * outside the rows stay in L2 across the row tiles (ResNet-50's 1x1 Convs of 1 MB to 4
   * MB of weights at 14x14 and 7x7: 5-9% faster, what the tuner found; MobileNetV2's, of
   * less, 2-4% slower so) */
  int64_t n2e = n2 >= 0 ? s->axes[n2].extent : 1;
  bool n2_inner = n2 >= 0 && ((M * K * 4 > A_BLOCK_BYTES && N * n2e < M) ||
                              ((vf < 16 || K * N * n2e * 4 < A_BLOCK_BYTES) &&
                               K * u * nr * 4 > B_SLICE_BYTES && M * K * 4 > A_BLOCK_BYTES / 4));
  kiln_loop n2o = {n2, u, n2e / u, KILN_LOOP_SERIAL};
  kiln_schedule t = {0};
  for (int l = 0; l < sc->nloops; l++) /* the other spatial loops, outermost */
    if (!s->axes[sc->loops[l].axis].reduce && sc->loops[l].axis != m &&
        sc->loops[l].axis != n && sc->loops[l].axis != panel &&
        (sc->loops[l].axis != n2 || !n2_inner))
      t.loops[t.nloops++] = sc->loops[l].axis == n2 ? n2o : sc->loops[l];
  if (mb < M) t.loops[t.nloops++] = (kiln_loop){m, mb, (M + mb - 1) / mb, KILN_LOOP_SERIAL};
  if (panel >= 0) t.loops[t.nloops++] = (kiln_loop){panel, 1, s->axes[panel].extent, KILN_LOOP_SERIAL};
  kiln_loop no = {n, nr, (N + nr - 1) / nr, KILN_LOOP_SERIAL};
  kiln_loop mo = {m, mr, (mb < M ? mb : M + mr - 1) / mr, KILN_LOOP_SERIAL};
  bool a_outer = panel < 0 && M > N;
  t.loops[t.nloops++] = a_outer ? mo : no;
  if (n2_inner) t.loops[t.nloops++] = n2o;
  t.loops[t.nloops++] = a_outer ? no : mo;
  for (int l = 0; l < sc->nloops; l++)
    if (s->axes[sc->loops[l].axis].reduce) t.loops[t.nloops++] = sc->loops[l];
  if (panel < 0 && n2 >= 0 && !n2_inner && vf < 16) reduce_in_blocks(s, &t, n2, K, u * nr, mr);
  /* a short innermost reduction loop (the channels of an input block, a window's row) is
   * unrolled around the tile: LLVM leaves a loop of 8 tile steps rolled, and its branch and
   * induction work sit between the FMAs (Zen 3, ResNet-50's 1x1 stride-2 Convs: 56 -> 72-81
   * GFLOP/s, the model 11% faster; what the tuner found for them). Not past 8 steps: an
   * AVX-512 tile's step is twice as long, and unmeasured */
  kiln_loop *inner = &t.loops[t.nloops - 1];
  if (t.nloops > 1 && s->axes[inner->axis].reduce && !s->axes[inner->axis].dyn &&
      inner->extent <= 8 && inner->extent < K)
    inner->kind = KILN_LOOP_UNROLL;
  /* a split by 1 would leave two stride-1 loops: the outer loop alone covers the axis */
  /* rows outside n2's values: codegen walks the tile's points in loop order, so each row's
   * broadcast of A serves its u vectors of B at once and dies (n2 outside would keep mr
   * broadcasts live beside the mr x u accumulators: more than 32 registers, spills) */
  if (mr > 1) t.loops[t.nloops++] = (kiln_loop){m, 1, mr, KILN_LOOP_UNROLL};
  if (u > 1) t.loops[t.nloops++] = (kiln_loop){n2, 1, u, KILN_LOOP_UNROLL};
  if (nr > 1) t.loops[t.nloops++] = (kiln_loop){n, 1, nr, KILN_LOOP_VECTOR};
  /* packed weights are read once per inference, from DRAM when the model's weights exceed
   * the caches: prefetch each panel's rows a few KB ahead of the FMAs. Only for AVX-512
   * tiles (24 accumulators: a prefetch per step fits beside 14 loads for 24 FMAs); an
   * AVX2 tile's step has 8 loads for 12 FMAs, and a prefetch more costs more than it
   * hides (Zen 3, 128 x 768 x 3072: 49 GFLOP/s with it, 63-74 without). Not for a tile of
   * few rows (a GEMV streams the panel at the bandwidth the hardware prefetcher reaches,
   * and the extra load-port work only slows it), nor for weights that stay in L2 */
  int r = t.nloops - 1;
  while (r >= 0 && !s->axes[t.loops[r].axis].reduce) r--;
  int64_t ahead = PREFETCH_AHEAD_BYTES / (nr * 4);
  int64_t b_bytes = panel >= 0 ? K * N * s->axes[panel].extent * 4 : 0;
  if (vf >= 16 && b_bytes >= PREFETCH_MIN_BYTES && mr >= 4 && r >= 0 &&
      t.loops[r].stride == 1 && ahead >= 1 && ahead <= t.loops[r].extent) {
    t.prefetch_axis = t.loops[r].axis;
    t.prefetch_ahead = ahead;
  }
  *sc = t;
}

/* A short reduction (a pooling window, at most 64 points) whose output's innermost axis n
 * every load reading it reads contiguously (a pool in the blocked layout: vectors of
 * channels; a plain one along its rows): it takes a register tile too, rows along m, the
 * innermost other output axis, rather than accumulating in its output buffer. Rows shorter
 * than a vector too, down to 4 lanes (Zen 5, a plain 3x3 MaxPool over 12 x 12: 26 -> 3.4
 * us; over 7 x 7: 46 -> 5.6; over 5 x 5: 2.0 -> 0.4). */
#define WINDOW_MIN_LANES 4
static bool window_tile(const kiln_stage *s, int *m, int *n) {
  if ((s->reduce != KR_SUM && s->reduce != KR_MAX && s->reduce != KR_MIN) || !s->nout_idx ||
      !s->value)
    return false;
  int64_t K = 1;
  for (int a = 0; a < s->naxes; a++) {
    if (s->axes[a].reduce && s->axes[a].dyn) return false; /* not known to be short */
    if (s->axes[a].reduce) K *= s->axes[a].extent;
  }
  const kiln_expr *out_last = s->out_idx[s->nout_idx - 1];
  if (K > 64 || out_last->kind != KX_VAR || s->axes[out_last->axis].reduce ||
      s->axes[out_last->axis].extent < WINDOW_MIN_LANES || !streams(s, out_last->axis))
    return false;
  *n = out_last->axis;
  *m = innermost_row(s, NULL);
  return *m >= 0;
}

/* Side of the square tiles a transposing copy runs in: a 64-byte line of f32 along each
 * of the two axes. */
#define TRANSPOSE_TILE 16

/* A stage without reductions whose output's innermost axis i the loads do not read
 * contiguously, while they all read another spatial axis j so (a transpose: BERT's heads
 * [128, 12, 64] -> [12, 64, 128]): either order strides through one side a row apart, so
 * both axes go in square tiles, [.. j_o, i_o, j_i, i_i], each tile's lines read and written
 * whole while they stay in L1 (Zen 3, that transpose: 125 -> 32 us; with j innermost 58).
 * Each axis at least half a tile long (a blocked layout's lanes, 8 or 16, are one tile:
 * [N, C/16, H, W, 16] -> [N, C, H, W] at 64x64 and 64 channels, Zen 5: 570 -> 83 us; the
 * way back, 96 channels at 56x56: 117 -> 74 us), and static. */
static bool transpose_tile(kiln_stage *s) {
  kiln_schedule *sc = &s->sched;
  if (!s->nout_idx || !s->value || sc->nloops > KILN_MAX_LOOPS - 2) return false;
  for (int a = 0; a < s->naxes; a++)
    if (s->axes[a].reduce) return false;
  const kiln_expr *out_last = s->out_idx[s->nout_idx - 1];
  if (out_last->kind != KX_VAR) return false;
  int i = out_last->axis, j = -1;
  int contiguous = 0, other = 0;
  count_loads(s->value, i, &contiguous, &other);
  if (!other || s->axes[i].dyn || s->axes[i].extent < TRANSPOSE_TILE / 2) return false;
  for (int a = 0; a < s->naxes && j < 0; a++)
    if (a != i && !s->axes[a].dyn && s->axes[a].extent >= TRANSPOSE_TILE / 2 && streams(s, a))
      j = a;
  if (j < 0) return false;
  kiln_schedule t = {0};
  for (int l = 0; l < sc->nloops; l++)
    if (sc->loops[l].axis != i && sc->loops[l].axis != j) t.loops[t.nloops++] = sc->loops[l];
  int64_t ej = s->axes[j].extent, ei = s->axes[i].extent;
  /* the tiles: all of a short axis */
  int64_t tj = ej < TRANSPOSE_TILE ? ej : TRANSPOSE_TILE;
  int64_t ti = ei < TRANSPOSE_TILE ? ei : TRANSPOSE_TILE;
  if (ej > tj) t.loops[t.nloops++] = (kiln_loop){j, tj, (ej + tj - 1) / tj, KILN_LOOP_SERIAL};
  if (ei > ti) t.loops[t.nloops++] = (kiln_loop){i, ti, (ei + ti - 1) / ti, KILN_LOOP_SERIAL};
  /* where an axis is short (a block's lanes), j's tile unrolled around i's loop as a
   * vector along the output; left to itself LLVM unrolls i's loop and vectorizes j's with
   * a scatter per element (Zen 5: the blocked copy above 7x slower). Square tiles stay
   * loops: unrolled, BERT's [128, 768] transposes ran 1.25x faster, but its compile took
   * 1 s longer */
  bool lanes = ej <= tj || ei <= ti;
  t.loops[t.nloops++] = (kiln_loop){j, 1, tj, lanes ? KILN_LOOP_UNROLL : KILN_LOOP_SERIAL};
  t.loops[t.nloops++] = (kiln_loop){i, 1, ti, lanes ? KILN_LOOP_VECTOR : KILN_LOOP_SERIAL};
  *sc = t;
  parallelize(s, sc->nloops - 2, true);
  return true;
}

/* At most this many taps of a short reduction are unrolled (a 4x4 window). */
#define TAPS_MAX 16

/* A few taps innermost, after the last spatial loop, whose points' loads stream along it
 * but whose output does not (ConvTranspose's phases store every stride-th point): unrolled,
 * so that the spatial loop is innermost, where LLVM vectorizes it. Serial loops around
 * others are never unrolled otherwise (codegen/llvm_stage.c), and a 2x2 tap loop costs
 * more than its body (a 4x4 stride-2 ConvTranspose's phases: 100 -> 50 us). */
static void unroll_taps(kiln_stage *s, int last_spatial) {
  kiln_schedule *sc = &s->sched;
  int64_t taps = 1;
  for (int l = last_spatial + 1; l < sc->nloops; l++) {
    const kiln_loop *lp = &sc->loops[l];
    if (s->axes[lp->axis].dyn || lp->kind != KILN_LOOP_SERIAL || lp->extent > TAPS_MAX) return;
    taps *= lp->extent;
  }
  if (taps > TAPS_MAX) return;
  for (int l = last_spatial + 1; l < sc->nloops; l++) sc->loops[l].kind = KILN_LOOP_UNROLL;
}

static void choose_loops(kiln_stage *s, int vf) {
  kiln_schedule_default(s);
  for (int a = 0; a < s->naxes; a++) /* no values: nothing to tile (and tiles of 0 rows) */
    if (!s->axes[a].dyn && s->axes[a].extent == 0) return;
  int m, n, panel, n2;
  bool no_reuse;
  /* narrow tiles still beat the fallback below when B is shared by their rows (Conv at
   * 7x7); without that sharing (depthwise) a short reduction does not pay for them */
  if (s->sched.nloops <= KILN_MAX_LOOPS - 3 && gemm_like(s, &m, &n, &panel, &n2, &no_reuse) &&
      s->axes[n].extent >= (no_reuse ? vf : 4)) {
    tile_schedule(s, m, n, panel, n2, vf);
    int lead = 0; /* the spatial loops outside the reduction: all tiles, none in a tile */
    while (lead < s->sched.nloops && !s->axes[s->sched.loops[lead].axis].reduce) lead++;
    parallelize(s, lead, false);
    return;
  }
  if (s->sched.nloops <= KILN_MAX_LOOPS - 3 && window_tile(s, &m, &n)) {
    tile_schedule(s, m, n, -1, -1, vf);
    int lead = 0;
    while (lead < s->sched.nloops && !s->axes[s->sched.loops[lead].axis].reduce) lead++;
    parallelize(s, lead, false);
    return;
  }
  if (transpose_tile(s)) return;
  kiln_schedule *sc = &s->sched;
  int last_spatial = -1, nspatial = 0;
  for (int l = 0; l < sc->nloops; l++) {
    if (!s->axes[sc->loops[l].axis].reduce) last_spatial = l, nspatial++;
  }
  bool reduction = nspatial < sc->nloops;
  if (reduction && last_spatial >= 0 && (s->reduce == KR_SUM || s->reduce == KR_MAX)) {
    int r = sc->loops[sc->nloops - 1].axis, sp = sc->loops[last_spatial].axis;
    const kiln_expr *out_last =
        s->nout_idx ? s->out_idx[last_index(s->nout_idx, s->out_idx)] : NULL;
    bool dot_product = streams(s, r) && sc->loops[sc->nloops - 1].extent >= 16;
    /* only along contiguous loads: a window strided along it (a stride-2 MaxPool) keeps
     * each point's reduction innermost, in a register, rather than a pass over the row
     * per window tap through memory (64 channels of 57 x 57, 3x3 stride 2: 538 -> 326 us) */
    bool along = !dot_product && streams(s, sp);
    if (along && out_last && out_last->kind == KX_VAR && out_last->axis == sp &&
        sc->loops[last_spatial].extent >= 8) {
      move_innermost(sc, last_spatial);
      nspatial--; /* that spatial loop no longer leads the nest */
      /* one vector of points read contiguously (a global pool in the blocked layout):
       * as vector lanes it is a vector of accumulators held in a register across the
       * reduction (codegen's register-tile mode), where LLVM alone kept each point's
       * partial sum in memory (Zen 5, 16 channels over 12 x 12: 1.7 -> 0.2 us) */
      kiln_loop *in = &sc->loops[sc->nloops - 1];
      if (in->extent <= vf && !s->axes[sp].dyn) in->kind = KILN_LOOP_VECTOR;
    } else if (along) {
      unroll_taps(s, last_spatial);
    }
  }
  parallelize(s, nspatial, true);
}

/* The chosen loop list is recorded as a recipe and installed by kiln_schedule_apply, the
 * one function (and legality check) every schedule goes through. */
static kiln_status schedule_stage(const kiln_kernel *k, kiln_stage *s, int vf, kiln_error *err) {
  if (s->ordered) { /* nothing else is legal */
    s->recipe.nsteps = 0;
    kiln_schedule_default(s);
    return KILN_OK;
  }
  choose_loops(s, vf);
  kiln_schedule chosen = s->sched;
  kiln_recipe r;
  if (!kiln_recipe_for(s, &chosen, &r))
    return kiln_fail(err, KILN_ERR_INTERNAL, "kernel '%s', stage '%s': no recipe gives its "
                     "default schedule", k->name, s->name);
  return kiln_schedule_apply(s, &r, err) ? KILN_ERR_INTERNAL : KILN_OK;
}

/* Bytes (as f32) of a block of rows that every stage of a row kernel passes over in turn:
 * a small part of L1, with room for the other operands. Rows gathered from a table (an
 * embedding's) come from memory, each starting with misses: a block of more of them keeps
 * more in flight, which pays more than L1 room (BERT-base's embedding and LayerNorm, 128
 * rows of 768 from a 94 MB table, Zen 5: 27.6 us by 2 rows, 23.7 by 8). */
#define ROW_BLOCK_BYTES 8192
#define ROW_GATHER_BLOCK_BYTES 32768
#define ROW_BLOCK_MAX 8

/* The innermost row axis of a row kernel longer than 1, -1 if none. */
static int inner_row_axis(const kiln_kernel *k) {
  const kiln_stage *s0 = &k->stages[0];
  int inner = -1;
  for (int a = 0; a < s0->naxes; a++)
    if ((k->row_axes >> a & 1) && s0->axes[a].extent > 1) inner = a;
  return inner;
}

/* Does a row kernel run row by row? Not where the loads read the rows' innermost axis
 * contiguously (a Softmax over the channels of NCHW: a row is a column of the image, 16 KB
 * between its elements): there each stage takes the default schedule alone, the rows'
 * axis innermost and vector, the reductions accumulating along it (Zen 5, [1, 64, 64, 64]:
 * 9.8 -> 0.09 ms). */
static bool row_by_row(const kiln_kernel *k) {
  int inner = inner_row_axis(k);
  return k->row_axes && !(inner >= 0 && streams(&k->stages[0], inner));
}

/* A row kernel (passes/fuse_rows.c) run row by row: every stage loops over the row axes
 * first, in the same loops (codegen runs them once, around all stages), the innermost row
 * axis split into blocks of a few rows, then over its row; the leading row loops run in
 * parallel when the whole kernel has the work for it. LLVM vectorizes the loops over the
 * row (the innermost). */
static kiln_status schedule_rows(kiln_kernel *k, kiln_error *err) {
  double ns = 0;
  for (int i = 0; i < k->nstages; i++) ns += kiln_stage_cost_ns(&k->stages[i]);
  const kiln_stage *s0 = &k->stages[0];
  int inner = inner_row_axis(k);
  int64_t row = 1;
  for (int a = 0; a < s0->naxes; a++)
    if (!(k->row_axes >> a & 1)) row *= s0->axes[a].extent;
  int64_t bytes = kx_gathers(s0->value) ? ROW_GATHER_BLOCK_BYTES : ROW_BLOCK_BYTES;
  int64_t block = bytes / (4 * (row ? row : 1));
  if (block > ROW_BLOCK_MAX) block = ROW_BLOCK_MAX;
  if (inner >= 0 && block > s0->axes[inner].extent) block = s0->axes[inner].extent;
  for (int i = 0; i < k->nstages; i++) {
    kiln_stage *s = &k->stages[i];
    kiln_schedule_default(s);
    kiln_schedule t = {0};
    int nrows = 0;
    for (int pass = 0; pass < 2; pass++)
      for (int a = 0; a < s->naxes; a++) {
        if ((k->row_axes >> a & 1) != (pass == 0)) continue;
        int64_t e = s->axes[a].extent;
        if (a == inner && block >= 2) {
          t.loops[t.nloops++] = (kiln_loop){a, block, (e + block - 1) / block, KILN_LOOP_SERIAL};
          t.loops[t.nloops++] = (kiln_loop){a, 1, block, KILN_LOOP_SERIAL};
        } else {
          t.loops[t.nloops++] = (kiln_loop){a, 1, e, KILN_LOOP_SERIAL};
        }
        if (pass == 0) nrows = t.nloops - (a == inner && block >= 2);
      }
    int64_t par = 1;
    for (int l = 0; ns >= PARALLEL_MIN_NS && l < nrows && par < 64; l++) {
      t.loops[l].kind = KILN_LOOP_PARALLEL;
      par *= t.loops[l].extent;
    }
    kiln_recipe r;
    if (!kiln_recipe_for(s, &t, &r))
      return kiln_fail(err, KILN_ERR_INTERNAL, "kernel '%s', stage '%s': no recipe gives its "
                       "row schedule", k->name, s->name);
    if (kiln_schedule_apply(s, &r, err)) return KILN_ERR_INTERNAL;
  }
  return KILN_OK;
}

kiln_status kiln_pass_schedule(kiln_steps *steps, int vector_floats, kiln_error *err) {
  for (int i = 0; i < steps->n; i++) {
    kiln_step *st = &steps->steps[i];
    kiln_steps *sub[2];
    int nl = kiln_step_lists(st, sub);
    for (int j = 0; j < nl; j++)
      if (kiln_pass_schedule(sub[j], vector_floats, err)) return err->code;
    if (st->kind != KILN_STEP_KERNEL) continue;
    if (row_by_row(st->kernel)) {
      if (schedule_rows(st->kernel, err)) return err->code;
      continue;
    }
    for (int j = 0; j < st->kernel->nstages; j++)
      if (schedule_stage(st->kernel, &st->kernel->stages[j], vector_floats, err))
        return err->code;
  }
  return KILN_OK;
}
