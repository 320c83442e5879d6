/* Register tiles: a stage's innermost spatial loops (unrolled or vector, few points) as one
 * accumulator per point, held in registers across the reduction loops; with reduction
 * loops outside the tile's serial spatial loops too (a reduction in cache blocks), partial
 * sums kept in the output between blocks; and the schedule's prefetch of streamed
 * operands. */
#include "codegen/llvm_nest.h"

#include "ir/dtype.h"

#include <stdlib.h>
#include <string.h>

/* The spatial loops inside the reduction (all unrolled or vector, few points) are not
 * emitted as loops: every point of the tile gets its own accumulator (an alloca that
 * mem2reg turns into a phi across the reduction loops) and its own copy of the code, with
 * the tile loops' values as constants. Init comes before the reduction loops, post and the
 * store after them, so the output is written once. Consecutive points along the vector
 * axis load consecutive elements, which LLVM's SLP vectorizer turns into vector FMAs.
 * Where a split of a tile axis overshoots, the last tile moves back to end at the extent
 * (overlapping the one before) when the axis is at least a tile long, the tile's loops are
 * its finest digits and the stage does not read its own output; otherwise a runtime test picks a tail version whose tile axes
 * are clamped to their last value (loads stay in bounds and compute a copy of a real
 * point) and whose stores are guarded. A symbolic tile axis (its extent known at run time
 * only) moves back when it is at least a tile long at run time, else takes the tail; where
 * the stage reads its output (or partial sums in it), the moved tile rewrites the points
 * the tile before computed with the values they have. */

static LLVMValueRef i64c(kiln_emit *e, int64_t v) { return LLVMConstInt(e->t_i64, (uint64_t)v, 0); }

/* The last value of axis a. */
static LLVMValueRef last_value(nest *n, int a) {
  if (!n->s->axes[a].dyn) return i64c(n->e, n->s->axes[a].extent - 1);
  return LLVMBuildNSWSub(n->e->b, n->ext[a], i64c(n->e, 1), "");
}

/* Tells kiln_llvm_optimize that fn holds a register tile (it may then use wider vectors). */
void kiln_nest_mark_tile(kiln_emit *e, LLVMValueRef fn) {
  LLVMAttributeRef a = LLVMCreateStringAttribute(e->ctx, KILN_TILE_ATTR,
                                                 (unsigned)strlen(KILN_TILE_ATTR), "", 0);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
}

/* Loop l's variable at tile point pt (the last tile loop varies fastest). */
static int64_t tile_digit(const nest *n, int64_t pt, int l) {
  for (int j = n->sc->nloops - 1; j > l; j--) pt /= n->sc->loops[j].extent;
  return pt % n->sc->loops[l].extent;
}

/* Sets the tile axes' values for point pt; with `clamp` to at most their last value. */
static void tile_point(nest *n, int64_t pt, bool clamp) {
  kiln_emit *e = n->e;
  kiln_emit_memo_reset(e); /* memoized values hold the previous point's axes */
  for (int a = 0; a < n->s->naxes; a++) {
    if (!n->base[a]) continue;
    int64_t off = 0;
    for (int l = n->nt; l < n->sc->nloops; l++)
      if (n->sc->loops[l].axis == a) off += tile_digit(n, pt, l) * n->sc->loops[l].stride;
    LLVMValueRef v = LLVMBuildNSWAdd(e->b, n->base[a], i64c(e, off), "");
    if (clamp && n->guard[a]) v = kiln_emit_intrinsic2(e, "llvm.smin", v, last_value(n, a));
    e->axis[a] = v;
  }
}

/* Loads of x that use axis a, each once (by expression identity). */
static int loads_using(const kiln_expr *x, int a, const kiln_expr **out, int n, int max) {
  if (!x) return n;
  if (x->kind == KX_LOAD) {
    bool uses = false;
    for (int d = 0; d < x->nidx; d++) uses |= kx_uses_axis(x->idx[d], a);
    if (uses && n < max) out[n++] = x;
    return n;
  }
  n = loads_using(x->a, a, out, n, max);
  n = loads_using(x->b, a, out, n, max);
  return loads_using(x->c, a, out, n, max);
}

/* The schedule's prefetch (kiln_schedule): the loads that stream along the tile's vector
 * loop alone, contiguously (a weight panel's rows), prefetched into L2 `prefetch_ahead`
 * points ahead along the prefetch axis, one line per 64 bytes. Weights streamed from DRAM
 * then arrive before the FMAs need them instead of stalling each first pass over a panel. */
static void tile_prefetch(nest *n) {
  kiln_emit *e = n->e;
  int a = n->s->sched.prefetch_axis;
  const kiln_expr *lds[4];
  int nl = loads_using(n->s->value, a, lds, 0, 4);
  tile_point(n, 0, n->clamp);
  LLVMValueRef cur = e->axis[a];
  LLVMValueRef nxt = LLVMBuildNSWAdd(e->b, cur, i64c(e, n->s->sched.prefetch_ahead), "");
  e->axis[a] = kiln_emit_intrinsic2(e, "llvm.smin", nxt, last_value(n, a));
  for (int i = 0; i < nl; i++) {
    kiln_emit_memo_reset(e);
    int64_t span = (int64_t)kiln_dtype_size(e->k->bufs[lds[i]->buf].dtype);
    bool streams = true;
    for (int l = n->nt; l < n->sc->nloops; l++) {
      const kiln_loop *lp = &n->sc->loops[l];
      bool used = false;
      for (int d = 0; d < lds[i]->nidx; d++) used |= kx_uses_axis(lds[i]->idx[d], lp->axis);
      if (!used) continue;
      if (lp->kind != KILN_LOOP_VECTOR || l != n->sc->nloops - 1) streams = false;
      else span *= lp->extent;
    }
    if (!streams) continue;
    LLVMValueRef p = kiln_emit_addr(e, lds[i]->buf, lds[i]->idx, lds[i]->nidx);
    for (int64_t off = 0; p && off < span; off += 64) {
      LLVMValueRef o = i64c(e, off);
      LLVMValueRef args[4] = {LLVMBuildGEP2(e->b, e->t_i8, p, &o, 1, ""),
                              LLVMConstInt(e->t_i32, 0, 0), LLVMConstInt(e->t_i32, 2, 0),
                              LLVMConstInt(e->t_i32, 1, 0)};
      kiln_emit_intrinsic(e, "llvm.prefetch", args, 4);
    }
  }
  e->axis[a] = cur;
  kiln_emit_memo_reset(e);
}

static LLVMValueRef body_tile_combine(nest *n) {
  kiln_emit *e = n->e;
  LLVMTypeRef t = kiln_emit_reg_type(e, n->s->value->dtype);
  if (n->pf) tile_prefetch(n);
  for (int64_t pt = 0; pt < n->npoints; pt++) {
    tile_point(n, pt, n->clamp);
    LLVMValueRef v = kiln_emit_expr(e, n->s->value);
    if (!v) return NULL;
    LLVMValueRef r = kiln_emit_combine(e, n->s->reduce, n->s->value->dtype,
                                       LLVMBuildLoad2(e->b, t, n->accs[pt], ""), v);
    if (!r) return NULL;
    LLVMBuildStore(e->b, r, n->accs[pt]);
  }
  return kiln_nest_ok(e);
}

static LLVMValueRef tile_init(nest *n, bool resume);
static LLVMValueRef tile_store(nest *n, bool raw);

/* init, the reduction loops, post and store: the fast version or (clamp) the tail one */
static LLVMValueRef tile_version(nest *n, bool clamp) {
  kiln_emit *e = n->e;
  n->clamp = clamp;
  if (!n->partial) {
    if (!tile_init(n, false)) return NULL;
  } else { /* the first block starts from init, the others from what they stored */
    LLVMBasicBlockRef from_init = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "tile.init");
    LLVMBasicBlockRef from_out = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "tile.resume");
    LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "tile.go");
    LLVMBuildCondBr(e->b, n->at_first, from_init, from_out);
    LLVMPositionBuilderAtEnd(e->b, from_init);
    if (!tile_init(n, false)) return NULL;
    LLVMBuildBr(e->b, go);
    LLVMPositionBuilderAtEnd(e->b, from_out);
    if (!tile_init(n, true)) return NULL;
    LLVMBuildBr(e->b, go);
    LLVMPositionBuilderAtEnd(e->b, go);
  }
  if (!n->empty_reduce && !kiln_nest_loops(n, n->p, n->nt, body_tile_combine)) return NULL;
  /* loop values do not outlive their loops; those of the reduction loops outside the tile
   * (partial sums) stay open for the tail version */
  for (int a = 0; a < n->s->naxes; a++)
    if (n->s->axes[a].reduce && n->last[a] >= n->p) e->axis[a] = NULL;
  if (!n->partial) return tile_store(n, false);
  LLVMBasicBlockRef fin = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "tile.post");
  LLVMBasicBlockRef mid = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "tile.partial");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "tile.stored");
  LLVMBuildCondBr(e->b, n->at_last, fin, mid);
  LLVMPositionBuilderAtEnd(e->b, fin);
  if (!tile_store(n, false)) return NULL;
  LLVMBuildBr(e->b, done);
  LLVMPositionBuilderAtEnd(e->b, mid);
  if (!tile_store(n, true)) return NULL;
  LLVMBuildBr(e->b, done);
  LLVMPositionBuilderAtEnd(e->b, done);
  return kiln_nest_ok(e);
}

/* The tile's accumulators from init, or (resume) from the partial sums in the output. */
static LLVMValueRef tile_init(nest *n, bool resume) {
  kiln_emit *e = n->e;
  for (int64_t pt = 0; pt < n->npoints; pt++) {
    tile_point(n, pt, n->clamp);
    LLVMValueRef init = resume ? kiln_nest_out_ptr(n) : kiln_nest_init_value(n);
    if (init && resume) init = kiln_emit_load_elem(e, n->s->value->dtype, init);
    if (!init) return NULL;
    LLVMBuildStore(e->b, init, n->accs[pt]);
  }
  return kiln_nest_ok(e);
}

/* post(acc) of every point into the output, or (raw) the partial sums themselves; the tail
 * version skips the points past the extent. */
static LLVMValueRef tile_store(nest *n, bool raw) {
  kiln_emit *e = n->e;
  bool clamp = n->clamp;
  LLVMTypeRef t = kiln_emit_reg_type(e, n->s->value->dtype);
  for (int64_t pt = 0; pt < n->npoints; pt++) {
    tile_point(n, pt, false);
    LLVMBasicBlockRef skip = NULL;
    n->keep = NULL;
    for (int a = 0; !clamp && a < n->s->naxes; a++) {
      if (!n->base[a] || !n->keep_from[a]) continue;
      LLVMValueRef c = LLVMBuildICmp(e->b, LLVMIntSGE, e->axis[a], n->keep_from[a], "");
      n->keep = n->keep ? LLVMBuildAnd(e->b, n->keep, c, "") : c;
    }
    for (int a = 0; clamp && a < n->s->naxes; a++) {
      if (!n->base[a] || !n->guard[a]) continue;
      if (!skip) skip = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "tile.skip");
      LLVMBasicBlockRef in = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "tile.in");
      LLVMValueRef c = LLVMBuildICmp(e->b, LLVMIntSLT, e->axis[a], n->ext[a], "");
      LLVMBuildCondBr(e->b, c, in, skip);
      LLVMPositionBuilderAtEnd(e->b, in);
    }
    LLVMValueRef acc = LLVMBuildLoad2(e->b, t, n->accs[pt], "");
    if (raw) {
      LLVMValueRef p = kiln_nest_out_ptr(n);
      if (!p) return NULL;
      kiln_nest_store_elem(n, n->s->value->dtype, acc, p);
    } else if (!kiln_nest_store_post(n, acc)) {
      return NULL;
    }
    if (skip) {
      LLVMBuildBr(e->b, skip);
      LLVMPositionBuilderAtEnd(e->b, skip);
    }
  }
  n->keep = NULL;
  kiln_emit_memo_reset(e);
  return kiln_nest_ok(e);
}

/* register-tile mode, between the outer spatial loops and the reduction loops */
LLVMValueRef kiln_nest_tile(nest *n) {
  kiln_emit *e = n->e;
  LLVMValueRef full = NULL, moved[KILN_MAX_AXES] = {NULL}, keep[KILN_MAX_AXES] = {NULL};
  n->at_first = n->at_last = LLVMConstInt(e->t_i1, 1, 0);
  for (int l = 0; n->partial && l < n->p; l++) {
    const kiln_loop *lp = &n->sc->loops[l];
    if (!n->s->axes[lp->axis].reduce) continue;
    LLVMValueRef f = LLVMBuildICmp(e->b, LLVMIntEQ, e->lv[l], i64c(e, 0), "");
    LLVMValueRef z = LLVMBuildICmp(e->b, LLVMIntEQ, e->lv[l], i64c(e, lp->extent - 1), "");
    n->at_first = LLVMBuildAnd(e->b, n->at_first, f, "");
    n->at_last = LLVMBuildAnd(e->b, n->at_last, z, "");
  }
  for (int a = 0; a < n->s->naxes; a++) {
    n->base[a] = NULL;
    if (n->last[a] < n->nt) continue; /* not a tile axis */
    int64_t hi = 0;
    n->base[a] = LLVMConstNull(e->t_i64);
    for (int l = 0; l < n->sc->nloops; l++) { /* its other loops are outer spatial ones */
      const kiln_loop *lp = &n->sc->loops[l];
      if (lp->axis != a) continue;
      if (l >= n->nt) {
        hi += (lp->extent - 1) * lp->stride;
        continue;
      }
      LLVMValueRef t = LLVMBuildNSWMul(e->b, e->lv[l], i64c(e, lp->stride), "");
      n->base[a] = LLVMBuildNSWAdd(e->b, n->base[a], t, "");
    }
    if (!n->guard[a]) continue;
    int64_t top = n->s->axes[a].extent - 1 - hi; /* the last base where the tile fits */
    /* moving back is right only where the tile's loops are the axis's finest digits (its
     * points a contiguous run, every outer loop striding past it): a tile of strided
     * points (ow = 5 * tile + outer) moved back would skip points no other tile computes */
    bool finest = true;
    for (int l = 0; l < n->nt; l++)
      if (n->sc->loops[l].axis == a && n->sc->loops[l].stride <= hi) finest = false;
    bool movable = !n->reads_out && !n->partial && finest;
    if (top >= 0 && movable && !n->s->axes[a].dyn) {
      /* a tail tile moves back to end at the extent: it recomputes (and stores again, with
       * the same values) points of the tile before, but keeps the fast, vectorized code
       * where clamped axes would leave scalar code */
      n->base[a] = kiln_emit_intrinsic2(e, "llvm.smin", n->base[a], i64c(e, top));
      continue;
    }
    LLVMValueRef c;
    if (finest && n->s->axes[a].dyn) {
      /* a symbolic axis moves back the same way whenever, at run time, it is at least a
       * tile long: the fast version runs from the moved base, the tail version (an axis
       * shorter than a tile) from the base itself. Where the tile resumes from partial
       * sums in the output or reads it, the points the tile before computed would count
       * twice, so those keep the values they have */
      if (!movable) keep[a] = n->base[a];
      LLVMValueRef rtop = LLVMBuildNSWSub(e->b, n->ext[a], i64c(e, hi + 1), "");
      moved[a] = kiln_emit_intrinsic2(e, "llvm.smin", n->base[a], rtop);
      c = LLVMBuildICmp(e->b, LLVMIntSGE, rtop, i64c(e, 0), "");
    } else {
      LLVMValueRef last = LLVMBuildNSWAdd(e->b, n->base[a], i64c(e, hi), "");
      c = LLVMBuildICmp(e->b, LLVMIntSLT, last, n->ext[a], "");
    }
    full = full ? LLVMBuildAnd(e->b, full, c, "") : c;
  }
  LLVMValueRef r;
  if (!full) {
    r = tile_version(n, false);
  } else {
    LLVMBasicBlockRef fast = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "tile.full");
    LLVMBasicBlockRef tail = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "tile.tail");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "tile.done");
    LLVMBuildCondBr(e->b, full, fast, tail);
    LLVMPositionBuilderAtEnd(e->b, fast);
    LLVMValueRef base[KILN_MAX_AXES];
    memcpy(base, n->base, sizeof base);
    for (int a = 0; a < n->s->naxes; a++)
      if (moved[a]) n->base[a] = moved[a];
    memcpy(n->keep_from, keep, sizeof keep);
    r = tile_version(n, false);
    memcpy(n->base, base, sizeof base);
    memset(n->keep_from, 0, sizeof n->keep_from);
    if (r) {
      LLVMBuildBr(e->b, done);
      LLVMPositionBuilderAtEnd(e->b, tail);
      r = tile_version(n, true);
    }
    if (r) {
      LLVMBuildBr(e->b, done);
      LLVMPositionBuilderAtEnd(e->b, done);
    }
  }
  for (int a = 0; a < n->s->naxes; a++)
    if (n->base[a]) e->axis[a] = NULL;
  return r;
}

/* Register-tile mode applies when every spatial loop inside the first reduction loop p is
 * unrolled or vector and together they have at most TILE_MAX_POINTS points (more would
 * spill the register file and grow the code). Fills tsc with the stage's loops, the tile
 * loops moved last (from *nt on, in their order); the reduction order is unchanged. */
#define TILE_MAX_POINTS 512

bool kiln_nest_tile_fits(const kiln_stage *s, int p, kiln_schedule *tsc, int *nt, int64_t *npoints) {
  const kiln_schedule *sc = &s->sched;
  int64_t pts = 1;
  int ntile = 0;
  for (int l = p; l < sc->nloops; l++) {
    const kiln_loop *lp = &sc->loops[l];
    if (s->axes[lp->axis].reduce) continue;
    if (lp->kind != KILN_LOOP_UNROLL && lp->kind != KILN_LOOP_VECTOR) return false;
    pts *= lp->extent;
    if (pts > TILE_MAX_POINTS) return false;
    ntile++;
  }
  tsc->nloops = 0;
  for (int pass = 0; pass < 2; pass++) /* first the rest, then the tile */
    for (int l = 0; l < sc->nloops; l++) {
      bool in_tile = l > p && !s->axes[sc->loops[l].axis].reduce;
      if (in_tile == (pass == 1)) tsc->loops[tsc->nloops++] = sc->loops[l];
    }
  *nt = sc->nloops - ntile;
  *npoints = pts;
  return pts >= 1;
}
