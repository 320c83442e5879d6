/* One stage -> loop nests. Loops come from the schedule (outermost first); an axis's value
 * is the sum of its loops' variables times their strides, guarded (`continue`) only where
 * a split overshoots the extent. Reductions keep a register accumulator when every
 * reduction loop is inside every spatial loop; when the spatial loops inside the reduction
 * are a small unrolled/vector tile, one register accumulator per tile point (register-tile
 * mode, llvm_tile.c; with reduction loops outside the tile's serial spatial loops too, partial
 * sums in the output between blocks); else they accumulate in the output buffer.
 * A leading run of parallel loops becomes one range run by kiln_rt_parallel_for
 * (llvm_parallel.c). A symbolic axis (a run-time extent) is always guarded, and its
 * outermost loop runs ceil(extent / stride) times, computed where the function begins. */
#include "codegen/llvm_nest.h"

#include "ir/dtype.h"

#include <llvm-c/DebugInfo.h>
#include <stdlib.h>
#include <string.h>

LLVMValueRef kiln_nest_ok(kiln_emit *e) { return LLVMConstNull(e->t_i1); } /* non-NULL = success */

/* The axes' extents at the builder's position: run-time ones from the dims there. */
void kiln_nest_extents(nest *n) {
  kiln_emit *e = n->e;
  for (int a = 0; a < n->s->naxes; a++)
    n->ext[a] = n->s->axes[a].dyn ? kiln_emit_dim_expr(e, n->s->axes[a].dyn)
                                  : LLVMConstInt(e->t_i64, (uint64_t)n->s->axes[a].extent, 0);
}

/* The longest chain of loads along x's indices, up to cap: 2 for a Gather (an index
 * loaded, then the element), more where a loaded index leads to another index. */
static int load_chain(const kiln_expr *x, int cap) {
  int best = 0;
  if (!x || cap <= 0) return 0;
  if (x->kind == KX_LOAD) {
    for (int d = 0; d < x->nidx && best < cap - 1; d++) {
      int c = load_chain(x->idx[d], cap - 1);
      best = c > best ? c : best;
    }
    return 1 + best;
  }
  const kiln_expr *kids[3] = {x->a, x->b, x->c};
  for (int i = 0; i < 3 && best < cap; i++) {
    int c = load_chain(kids[i], cap);
    best = c > best ? c : best;
  }
  return best;
}

static void nest_init(nest *n, const kiln_schedule *sc) {
  n->sc = sc;
  n->chases = load_chain(n->s->value, 4) >= 4;
  kiln_nest_extents(n);
  for (int a = 0; a < n->s->naxes; a++) {
    n->last[a] = -1;
    int64_t cover = 1, top = 0; /* the stride of its outermost loop */
    for (int l = 0; l < sc->nloops; l++)
      if (sc->loops[l].axis == a) {
        n->last[a] = l;
        if (kiln_mul_overflows(cover, sc->loops[l].extent, &cover)) cover = INT64_MAX;
        if (sc->loops[l].stride > top) top = sc->loops[l].stride;
      }
    /* a symbolic axis walked by one loop runs exactly its extent */
    n->guard[a] = n->s->axes[a].dyn ? top > 1 : cover > n->s->axes[a].extent;
    /* an axis without loops has extent <= 1 (schedule check): value 0 */
    n->e->axis[a] = n->last[a] < 0 ? LLVMConstNull(n->e->t_i64) : NULL;
  }
}

/* Axes whose loops are all open once loops [lo, hi) are: compute their value, and skip to
 * `cont` where the point is past the extent (except axis `unguarded`, whose loop is
 * clamped instead). */
void kiln_nest_complete_axes(nest *n, int lo, int hi, LLVMBasicBlockRef cont, int unguarded) {
  kiln_emit *e = n->e;
  for (int a = 0; a < n->s->naxes; a++) {
    if (n->last[a] < lo || n->last[a] >= hi) continue;
    LLVMValueRef v = NULL;
    for (int l = 0; l <= n->last[a]; l++) {
      const kiln_loop *lp = &n->sc->loops[l];
      if (lp->axis != a) continue;
      LLVMValueRef t = lp->stride == 1 ? e->lv[l]
                       : LLVMBuildNSWMul(e->b, e->lv[l], LLVMConstInt(e->t_i64, (uint64_t)lp->stride, 0), "");
      v = v ? LLVMBuildNSWAdd(e->b, v, t, "") : t;
    }
    e->axis[a] = v;
    if (n->guard[a] && a != unguarded) {
      LLVMBasicBlockRef in = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "in");
      LLVMValueRef c = LLVMBuildICmp(e->b, LLVMIntSLT, v, n->ext[a], "");
      LLVMBuildCondBr(e->b, c, in, cont);
      LLVMPositionBuilderAtEnd(e->b, in);
    }
  }
}

/* Loop hints from the schedule. A serial loop around other loops is never unrolled: LLVM
 * would otherwise flatten whole small nests into huge blocks that cost compile time and
 * code size without making anything faster; unrolling is the schedule's decision. */
static void loop_metadata(kiln_emit *e, LLVMValueRef br, const kiln_loop *lp, bool innermost,
                          bool tile, bool chases) {
  LLVMMetadataRef props[3];
  int np = 1;
  if (tile && lp->kind != KILN_LOOP_VECTOR) {
    /* around a register tile the SLP vectorizer has already vectorized across the tile;
     * the loop vectorizer would vectorize every accumulator along the reduction instead */
    LLVMMetadataRef v[2] = {LLVMMDStringInContext2(e->ctx, "llvm.loop.vectorize.enable", 26),
                            LLVMValueAsMetadata(LLVMConstInt(e->t_i1, 0, 0))};
    props[np++] = LLVMMDNodeInContext2(e->ctx, v, 2);
    if (lp->kind != KILN_LOOP_UNROLL) {
      LLVMMetadataRef u = LLVMMDStringInContext2(e->ctx, "llvm.loop.unroll.disable", 24);
      props[np++] = LLVMMDNodeInContext2(e->ctx, &u, 1);
    }
  } else if (lp->kind == KILN_LOOP_SERIAL && e->by_rows && (e->k->row_axes >> lp->axis & 1)) {
    /* a loop over rows of a row kernel run row by row (its block's too, where a
     * reduction's nest is split at it and it looks innermost): LLVM unrolls a short row
     * (49 wide) whole, then vectorizes the loop around it, gathering across rows (a
     * Softmax over [64, 49, 49]: 220 us, 3.7x onnxruntime's); not so, the row itself is
     * vectorized */
    LLVMMetadataRef u = LLVMMDStringInContext2(e->ctx, "llvm.loop.unroll.disable", 24);
    props[np++] = LLVMMDNodeInContext2(e->ctx, &u, 1);
    LLVMMetadataRef v[2] = {LLVMMDStringInContext2(e->ctx, "llvm.loop.vectorize.enable", 26),
                            LLVMValueAsMetadata(LLVMConstInt(e->t_i1, 0, 0))};
    props[np++] = LLVMMDNodeInContext2(e->ctx, v, 2);
  } else if (lp->kind == KILN_LOOP_SERIAL && chases) {
    /* vectorized, each load of a chain is a gather waiting on the one before; scalar, the
     * chains of neighbouring iterations overlap out of order (TreeWalk over 100 trees of
     * depth 8, 1000 samples, Zen 5: 2.44 ms vectorized, 1.34 scalar) */
    LLVMMetadataRef v[2] = {LLVMMDStringInContext2(e->ctx, "llvm.loop.vectorize.enable", 26),
                            LLVMValueAsMetadata(LLVMConstInt(e->t_i1, 0, 0))};
    props[np++] = LLVMMDNodeInContext2(e->ctx, v, 2);
  } else if (lp->kind == KILN_LOOP_SERIAL && !innermost) {
    LLVMMetadataRef u = LLVMMDStringInContext2(e->ctx, "llvm.loop.unroll.disable", 24);
    props[np++] = LLVMMDNodeInContext2(e->ctx, &u, 1);
  } else if (lp->kind == KILN_LOOP_SERIAL && e->masked_tails && e->by_rows && lp->extent < 512 &&
             lp->extent % 16 > 8) {
    /* a short row of a row kernel whose last vector is mostly full: with AVX-512's masks
     * that vector is cheaper than a scalar loop over its elements (exp and all: Softmax
     * over rows of 77, 93, 125: 2.2x, 3.2x, 4.2x faster on Zen 5; with few elements past
     * the vectors, 49 or 197, slower; on AVX2, mixed) */
    LLVMMetadataRef en[2] = {LLVMMDStringInContext2(e->ctx, "llvm.loop.vectorize.enable", 26),
                             LLVMValueAsMetadata(LLVMConstInt(e->t_i1, 1, 0))};
    props[np++] = LLVMMDNodeInContext2(e->ctx, en, 2);
    LLVMMetadataRef pr[2] = {LLVMMDStringInContext2(e->ctx, "llvm.loop.vectorize.predicate.enable", 36),
                             LLVMValueAsMetadata(LLVMConstInt(e->t_i1, 1, 0))};
    props[np++] = LLVMMDNodeInContext2(e->ctx, pr, 2);
  } else if (lp->kind == KILN_LOOP_VECTOR) {
    LLVMMetadataRef en[2] = {LLVMMDStringInContext2(e->ctx, "llvm.loop.vectorize.enable", 26),
                             LLVMValueAsMetadata(LLVMConstInt(e->t_i1, 1, 0))};
    props[np++] = LLVMMDNodeInContext2(e->ctx, en, 2);
    if (lp->extent >= 2 && lp->extent <= 64 && !(lp->extent & (lp->extent - 1))) {
      LLVMMetadataRef w[2] = {LLVMMDStringInContext2(e->ctx, "llvm.loop.vectorize.width", 25),
                              LLVMValueAsMetadata(LLVMConstInt(e->t_i32, (uint64_t)lp->extent, 0))};
      props[np++] = LLVMMDNodeInContext2(e->ctx, w, 2);
    }
  } else if (lp->kind == KILN_LOOP_UNROLL) {
    LLVMMetadataRef u = LLVMMDStringInContext2(e->ctx, "llvm.loop.unroll.full", 21);
    props[np++] = LLVMMDNodeInContext2(e->ctx, &u, 1);
  } else {
    return;
  }
  /* a loop id refers to itself: build it over a temporary, then replace */
  LLVMMetadataRef tmp = LLVMTemporaryMDNode(e->ctx, NULL, 0);
  props[0] = tmp;
  LLVMMetadataRef id = LLVMMDNodeInContext2(e->ctx, props, (size_t)np);
  LLVMMetadataReplaceAllUsesWith(tmp, id);
  unsigned kind = LLVMGetMDKindIDInContext(e->ctx, "llvm.loop", 9);
  LLVMSetMetadata(br, kind, LLVMMetadataAsValue(e->ctx, id));
}

LLVMValueRef kiln_nest_trip(nest *n, int l) {
  kiln_emit *e = n->e;
  const kiln_loop *lp = &n->sc->loops[l];
  if (!kiln_loop_is_dyn(n->s, n->sc, l)) return LLVMConstInt(e->t_i64, (uint64_t)lp->extent, 0);
  if (lp->stride == 1) return n->ext[lp->axis];
  LLVMValueRef s = LLVMConstInt(e->t_i64, (uint64_t)lp->stride, 0);
  LLVMValueRef up = LLVMBuildNSWAdd(e->b, n->ext[lp->axis], LLVMConstInt(e->t_i64, (uint64_t)lp->stride - 1, 0), "");
  return LLVMBuildUDiv(e->b, up, s, "");
}

/* Loops [l, stop) of n->sc around body, in do-while form (every static extent is >= 1;
 * a run-time trip count is tested first). The innermost stride-1 loop of a guarded axis
 * runs min(extent, axis extent - base) times instead of testing each point, so the guard
 * costs nothing inside (vector) loops. */
LLVMValueRef kiln_nest_loops(nest *n, int l, int stop, nest_body body) {
  kiln_emit *e = n->e;
  if (l == stop) return body(n);
  const kiln_loop *lp = &n->sc->loops[l];
  LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "loop");
  LLVMBasicBlockRef latch = LLVMCreateBasicBlockInContext(e->ctx, "latch");
  LLVMBasicBlockRef exit = LLVMCreateBasicBlockInContext(e->ctx, "exit");
  LLVMValueRef trip = kiln_nest_trip(n, l);
  int clamped = -1;
  if (n->last[lp->axis] == l && n->guard[lp->axis] && lp->stride == 1) {
    clamped = lp->axis;
    LLVMValueRef left = n->ext[clamped];
    for (int j = 0; j < l; j++) {
      const kiln_loop *o = &n->sc->loops[j];
      if (o->axis != clamped) continue;
      LLVMValueRef t = LLVMBuildNSWMul(e->b, e->lv[j], LLVMConstInt(e->t_i64, (uint64_t)o->stride, 0), "");
      left = LLVMBuildNSWSub(e->b, left, t, "");
    }
    trip = kiln_emit_intrinsic2(e, "llvm.smin", trip, left);
    LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSGT, trip, LLVMConstNull(e->t_i64), ""), head, exit);
  } else if (!LLVMIsAConstantInt(trip)) {
    LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSGT, trip, LLVMConstNull(e->t_i64), ""), head, exit);
  } else {
    LLVMBuildBr(e->b, head);
  }
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(e->b);
  LLVMPositionBuilderAtEnd(e->b, head);
  LLVMValueRef iv = LLVMBuildPhi(e->b, e->t_i64, "i");
  LLVMValueRef zero = LLVMConstNull(e->t_i64);
  LLVMAddIncoming(iv, &zero, &pre, 1);
  e->lv[l] = iv;
  kiln_nest_complete_axes(n, l, l + 1, latch, clamped);
  LLVMValueRef r = kiln_nest_loops(n, l + 1, stop, body);
  LLVMBuildBr(e->b, latch);
  LLVMAppendExistingBasicBlock(e->fn, latch);
  LLVMPositionBuilderAtEnd(e->b, latch);
  LLVMValueRef next = LLVMBuildNUWAdd(e->b, iv, LLVMConstInt(e->t_i64, 1, 0), "");
  LLVMValueRef c = LLVMBuildICmp(e->b, LLVMIntSLT, next, trip, "");
  loop_metadata(e, LLVMBuildCondBr(e->b, c, head, exit), lp, l == stop - 1, n->tile, n->chases);
  LLVMAddIncoming(iv, &next, &latch, 1);
  LLVMAppendExistingBasicBlock(e->fn, exit);
  LLVMPositionBuilderAtEnd(e->b, exit);
  return r;
}

/* ---- bodies ------------------------------------------------------------------------------ */

LLVMValueRef kiln_nest_out_ptr(nest *n) {
  return kiln_emit_addr(n->e, n->s->out_buf, n->s->out_idx, n->s->nout_idx);
}

void kiln_nest_store_elem(nest *n, kiln_dtype t, LLVMValueRef v, LLVMValueRef p) {
  if (n->keep)
    v = LLVMBuildSelect(n->e->b, n->keep, v, kiln_emit_load_elem(n->e, t, p), "");
  kiln_emit_store_elem(n->e, t, v, p);
}

static LLVMValueRef store_value(nest *n, const kiln_expr *x) {
  kiln_emit *e = n->e;
  kiln_dtype t = e->k->bufs[n->s->out_buf].dtype;
  if (x->dtype != t)
    return KILN_EMIT_FAIL(e, "stores %s into a %s buffer", kiln_dtype_name(x->dtype), kiln_dtype_name(t));
  LLVMValueRef v = kiln_emit_expr(e, x), p = v ? kiln_nest_out_ptr(n) : NULL;
  if (!p) return NULL;
  kiln_nest_store_elem(n, t, v, p);
  return kiln_nest_ok(e);
}

static LLVMValueRef body_plain(nest *n) {
  kiln_emit_memo_reset(n->e);
  return store_value(n, n->s->value);
}

LLVMValueRef kiln_nest_init_value(nest *n) {
  const kiln_stage *s = n->s;
  if (!s->init) return kiln_emit_identity(n->e, s->reduce, s->value->dtype);
  if (s->init->dtype != s->value->dtype) return KILN_EMIT_FAIL(n->e, "ill-typed init");
  return kiln_emit_expr(n->e, s->init);
}

static LLVMValueRef body_combine_reg(nest *n) {
  kiln_emit *e = n->e;
  kiln_emit_memo_reset(e);
  LLVMTypeRef t = kiln_emit_reg_type(e, n->s->value->dtype);
  LLVMValueRef v = kiln_emit_expr(e, n->s->value);
  if (!v) return NULL;
  LLVMValueRef a = LLVMBuildLoad2(e->b, t, n->acc_ptr, "");
  LLVMValueRef r = kiln_emit_combine(e, n->s->reduce, n->s->value->dtype, a, v);
  if (!r) return NULL;
  LLVMBuildStore(e->b, r, n->acc_ptr);
  return kiln_nest_ok(e);
}

/* post(acc) stored at out_idx; acc is the register value or the output element */
LLVMValueRef kiln_nest_store_post(nest *n, LLVMValueRef acc) {
  kiln_emit *e = n->e;
  e->acc = acc;
  e->acc_dtype = n->s->value->dtype;
  LLVMValueRef r;
  if (n->s->post) {
    r = store_value(n, n->s->post);
  } else {
    kiln_dtype t = e->k->bufs[n->s->out_buf].dtype;
    if (t != n->s->value->dtype) return KILN_EMIT_FAIL(e, "reduction of a different type than its output");
    LLVMValueRef p = kiln_nest_out_ptr(n);
    if (p) kiln_nest_store_elem(n, t, acc, p);
    r = p ? kiln_nest_ok(e) : NULL;
  }
  e->acc = NULL;
  return r;
}

/* register mode, between the spatial and the reduction loops */
static LLVMValueRef body_reduce_reg(nest *n) {
  kiln_emit *e = n->e;
  kiln_emit_memo_reset(e);
  LLVMValueRef init = kiln_nest_init_value(n);
  if (!init) return NULL;
  LLVMBuildStore(e->b, init, n->acc_ptr);
  if (!n->empty_reduce && !kiln_nest_loops(n, n->p, n->sc->nloops, body_combine_reg)) return NULL;
  kiln_emit_memo_reset(e);
  for (int a = 0; a < n->s->naxes; a++) /* loop values do not outlive their loops */
    if (n->s->axes[a].reduce && n->last[a] >= 0) e->axis[a] = NULL;
  LLVMValueRef acc = LLVMBuildLoad2(e->b, kiln_emit_reg_type(e, n->s->value->dtype), n->acc_ptr, "");
  return kiln_nest_store_post(n, acc);
}

static LLVMValueRef body_init_mem(nest *n) {
  kiln_emit_memo_reset(n->e);
  LLVMValueRef init = kiln_nest_init_value(n), p = init ? kiln_nest_out_ptr(n) : NULL;
  if (!p) return NULL;
  kiln_emit_store_elem(n->e, n->s->value->dtype, init, p);
  return kiln_nest_ok(n->e);
}

static LLVMValueRef body_combine_mem(nest *n) {
  kiln_emit *e = n->e;
  kiln_emit_memo_reset(e);
  kiln_dtype t = n->s->value->dtype;
  LLVMValueRef v = kiln_emit_expr(e, n->s->value), p = v ? kiln_nest_out_ptr(n) : NULL;
  if (!p) return NULL;
  LLVMValueRef r = kiln_emit_combine(e, n->s->reduce, t, kiln_emit_load_elem(e, t, p), v);
  if (!r) return NULL;
  kiln_emit_store_elem(e, t, r, p);
  return kiln_nest_ok(e);
}

static LLVMValueRef body_post_mem(nest *n) {
  kiln_emit_memo_reset(n->e);
  LLVMValueRef p = kiln_nest_out_ptr(n);
  return p ? kiln_nest_store_post(n, kiln_emit_load_elem(n->e, n->s->value->dtype, p)) : NULL;
}

static LLVMValueRef body_rows(nest *n);

/* The stage's own loops from `first` on (the ones before are already open). */
LLVMValueRef kiln_nest_main(nest *n, int first) {
  if (n->rows) return kiln_nest_loops(n, first, n->sc->nloops, body_rows);
  if (n->s->reduce == KR_NONE) return kiln_nest_loops(n, first, n->sc->nloops, body_plain);
  if (n->memory) return kiln_nest_loops(n, first, n->sc->nloops, body_combine_mem);
  if (n->tile) {
    kiln_nest_mark_tile(n->e, n->e->fn);
    LLVMTypeRef t = kiln_emit_reg_type(n->e, n->s->value->dtype);
    for (int64_t i = 0; i < n->npoints; i++) n->accs[i] = kiln_emit_alloca(n->e, t, "acc");
    return kiln_nest_loops(n, first, n->p, kiln_nest_tile);
  }
  n->acc_ptr = kiln_emit_alloca(n->e, kiln_emit_reg_type(n->e, n->s->value->dtype), "acc");
  return kiln_nest_loops(n, first, n->p, body_reduce_reg);
}

/* ---- a stage ------------------------------------------------------------------------------ */

/* Do axis a's loops in s's schedule cover exactly its extent (no split overshoots)? */
static bool covers_exactly(const kiln_stage *s, int a) {
  if (s->axes[a].dyn) return false; /* known at run time only */
  int64_t cover = 1;
  for (int l = 0; l < s->sched.nloops; l++)
    if (s->sched.loops[l].axis == a && kiln_mul_overflows(cover, s->sched.loops[l].extent, &cover))
      return false;
  return cover == s->axes[a].extent;
}

static bool stage_types_ok(kiln_emit *e, const kiln_stage *s) {
  if (s->out_buf < 0 || s->out_buf >= e->k->nbufs || !s->value) return false;
  if (s->nout_idx != e->k->bufs[s->out_buf].rank || (s->nout_idx && !s->out_idx)) return false;
  if ((unsigned)s->reduce > KR_MIN || s->naxes < 0 || s->naxes > KILN_MAX_AXES) return false;
  for (int a = 0; a < s->naxes; a++)
    if (s->axes[a].reduce && s->reduce == KR_NONE) return false;
  return kiln_emit_reg_type(e, s->value->dtype) != NULL;
}

static bool reads_buf(const kiln_expr *x, int b) {
  if (!x) return false;
  if (x->kind == KX_LOAD && x->buf == b) return true;
  for (int d = 0; x->kind == KX_LOAD && d < x->nidx; d++)
    if (reads_buf(x->idx[d], b)) return true;
  return reads_buf(x->a, b) || reads_buf(x->b, b) || reads_buf(x->c, b);
}

kiln_status kiln_emit_stage(kiln_emit *e, const kiln_stage *s) {
  e->st = s;
  e->acc = NULL;
  if (!stage_types_ok(e, s)) {
    (void)KILN_EMIT_FAIL(e, "malformed stage");
    return KILN_ERR_INTERNAL;
  }
  if (kiln_schedule_check(s, e->err)) return KILN_ERR_INTERNAL;
  nest n = {.e = e, .s = s};
  n.reads_out = reads_buf(s->value, s->out_buf) || reads_buf(s->init, s->out_buf) ||
                reads_buf(s->post, s->out_buf);
  int nl = s->sched.nloops, p = nl, np = 0;
  for (int a = 0; a < s->naxes; a++) {
    if (s->axes[a].extent <= 0 && !s->axes[a].reduce) return KILN_OK; /* nothing to store */
    if (s->axes[a].extent <= 0) n.empty_reduce = true;
  }
  /* register mode needs every reduction loop inside every spatial loop */
  for (int l = 0; l < nl; l++)
    if (s->axes[s->sched.loops[l].axis].reduce) {
      if (p == nl) p = l;
    } else if (p < nl) {
      n.memory = true;
    }
  n.p = p;
  while (np < nl && s->sched.loops[np].kind == KILN_LOOP_PARALLEL) np++;
  kiln_schedule tsc = {0}; /* register-tile mode: the loops with the tile moved last */
  if (n.memory && kiln_nest_tile_fits(s, p, &tsc, &n.nt, &n.npoints)) {
    n.memory = false;
    n.tile = true;
  } else if (n.memory && !n.reads_out && !n.empty_reduce &&
             s->value->dtype == e->k->bufs[s->out_buf].dtype) {
    /* spatial loops between reduction loops: a register tile over the reduction loops
     * after the last spatial loop that is not part of a tile, in partial sums */
    int q = -1, p2 = nl;
    for (int l = 0; l < nl; l++) {
      const kiln_loop *lp = &s->sched.loops[l];
      if (!s->axes[lp->axis].reduce && lp->kind != KILN_LOOP_UNROLL && lp->kind != KILN_LOOP_VECTOR)
        q = l;
    }
    for (int l = q + 1; l < nl && p2 == nl; l++)
      if (s->axes[s->sched.loops[l].axis].reduce) p2 = l;
    /* the first and last blocks are the outer loops' first and last values only where
     * their splits cover the axis exactly (a clamped tail would end it early) */
    for (int l = 0; l < p2 && p2 < nl; l++)
      if (s->axes[s->sched.loops[l].axis].reduce && !covers_exactly(s, s->sched.loops[l].axis))
        p2 = nl;
    if (p2 < nl && kiln_nest_tile_fits(s, p2, &tsc, &n.nt, &n.npoints)) {
      n.memory = false;
      n.tile = n.partial = true;
      n.p = p2;
    }
  }
  if (n.tile) n.accs = kiln_xmalloc(sizeof(LLVMValueRef) * (size_t)n.npoints);
  /* along an axis the tile's loops do not walk: each step's slice, not the tile's points */
  n.pf = n.tile && s->sched.prefetch_ahead > 0 && s->sched.prefetch_axis >= 0 &&
         s->sched.prefetch_axis < s->naxes;
  for (int l = n.nt; n.pf && l < tsc.nloops; l++)
    if (tsc.loops[l].axis == s->sched.prefetch_axis) n.pf = false;

  LLVMValueRef r = kiln_nest_ok(e);
  if (n.memory) {
    if (s->value->dtype != e->k->bufs[s->out_buf].dtype) {
      (void)KILN_EMIT_FAIL(e, "accumulating in memory needs the value and output types to agree");
      return KILN_ERR_INTERNAL;
    }
    kiln_schedule sp = {0}; /* a plain nest over the spatial axes */
    for (int a = 0; a < s->naxes; a++)
      if (!s->axes[a].reduce && (s->axes[a].extent > 1 || s->axes[a].dyn))
        sp.loops[sp.nloops++] = (kiln_loop){a, 1, s->axes[a].extent, KILN_LOOP_SERIAL};
    nest_init(&n, &sp);
    for (int a = 0; a < s->naxes; a++)
      if (s->axes[a].reduce) e->axis[a] = NULL; /* undefined outside the reduction */
    r = kiln_nest_loops(&n, 0, sp.nloops, body_init_mem);
    if (r && !n.empty_reduce) {
      nest_init(&n, &s->sched);
      r = np ? kiln_nest_parallel(&n, np) : kiln_nest_main(&n, 0);
    }
    if (r && s->post) {
      nest_init(&n, &sp);
      for (int a = 0; a < s->naxes; a++)
        if (s->axes[a].reduce) e->axis[a] = NULL;
      r = kiln_nest_loops(&n, 0, sp.nloops, body_post_mem);
    }
  } else {
    nest_init(&n, n.tile ? &tsc : &s->sched);
    r = np ? kiln_nest_parallel(&n, np) : kiln_nest_main(&n, 0);
  }
  free(n.accs);
  e->st = NULL;
  return r ? KILN_OK : KILN_ERR_INTERNAL;
}

/* ---- row kernels ---------------------------------------------------------------------------
 * A row kernel's stages (kiln_kernel.row_axes) whose schedules open with the same loops
 * over the row axes run inside one copy of those loops: all stages for one row, or for a
 * block of rows, then the next, so later passes over a row find it in L1. A block is the
 * inner part of a split row axis, the first loop of every stage after the shared ones:
 * its rows' reductions are independent, so one row's can start before the last one's
 * horizontal sum is done. After the shared loops and the block a stage has only its loops
 * over the row: plain, or a reduction in register mode. A per-row temporary (written by a
 * reduction, read only by later stages at the same row) lives in a small local buffer, one
 * element per row of the block: a register after mem2reg without blocks. */

static bool same_loop(const kiln_loop *a, const kiln_loop *b) {
  return a->axis == b->axis && a->stride == b->stride && a->extent == b->extent &&
         a->kind == b->kind;
}

/* The number of shared loops, 0 where the stages must run one after the other; *block:
 * every stage's next loop walks a block of rows. */
static int shared_loops(const kiln_kernel *k, bool *block) {
  *block = false;
  if (!k->row_axes || k->nstages < 2) return 0;
  const kiln_schedule *s0 = &k->stages[0].sched;
  int n = 0;
  while (n < s0->nloops && (k->row_axes >> s0->loops[n].axis & 1)) n++;
  /* a trailing stride-1 loop of an axis split before it: the block, each stage's own */
  for (int l = 0; n > 0 && l < n - 1; l++)
    if (s0->loops[l].axis == s0->loops[n - 1].axis && s0->loops[n - 1].stride == 1 &&
        s0->loops[n - 1].kind == KILN_LOOP_SERIAL) {
      *block = true;
      n--;
      break;
    }
  for (int i = 0; i < k->nstages && n; i++) {
    const kiln_stage *s = &k->stages[i];
    if (s->sched.nloops < n + *block) return 0;
    for (int l = 0; l < s->sched.nloops; l++) {
      const kiln_loop *a = &s->sched.loops[l];
      if (l < n + *block ? !same_loop(a, &s0->loops[l])
                         : (k->row_axes >> a->axis & 1) || a->kind == KILN_LOOP_PARALLEL)
        return 0;
    }
    for (int a = 0; a < s->naxes; a++)
      if (s->axes[a].extent <= 0) return 0;
  }
  return n;
}

static LLVMValueRef body_rows(nest *n) {
  kiln_emit *e = n->e;
  const kiln_kernel *k = e->k;
  int ns = n->sc->nloops;
  LLVMValueRef rows[KILN_MAX_AXES], r = kiln_nest_ok(e);
  memcpy(rows, e->axis, sizeof rows);
  e->local = kiln_xcalloc((size_t)k->nbufs, sizeof(LLVMValueRef));
  int *writers = kiln_xcalloc((size_t)k->nbufs, sizeof(int));
  for (int i = 0; i < k->nstages; i++) writers[k->stages[i].out_buf]++;
  uint64_t lanes = e->local_lane >= 0 ? (uint64_t)k->stages[0].sched.loops[ns].extent : 1;
  for (int i = 0; i < k->nstages; i++) {
    const kiln_stage *s = &k->stages[i];
    const kiln_buffer *b = &k->bufs[s->out_buf];
    if (s->reduce != KR_NONE && b->role == KILN_BUF_TEMP && writers[s->out_buf] == 1)
      e->local[s->out_buf] =
          kiln_emit_alloca(e, LLVMArrayType2(kiln_emit_mem_type(e, b->dtype), lanes), "row");
  }
  free(writers);
  for (int i = 0; i < k->nstages && r; i++) {
    const kiln_stage *s = &k->stages[i];
    nest m = {.e = e, .s = s};
    e->st = s;
    if (!stage_types_ok(e, s)) {
      r = KILN_EMIT_FAIL(e, "malformed stage");
      break;
    }
    nest_init(&m, &s->sched);
    for (int a = 0; a < s->naxes; a++) /* the row axes the shared loops complete */
      if ((k->row_axes >> a & 1) && m.last[a] < ns) e->axis[a] = rows[a];
    m.p = ns;
    while (m.p < s->sched.nloops && !s->axes[s->sched.loops[m.p].axis].reduce) m.p++;
    r = kiln_nest_main(&m, ns);
  }
  free(e->local);
  e->local = NULL;
  e->st = NULL;
  return r;
}

kiln_status kiln_emit_stages(kiln_emit *e, const kiln_kernel *k) {
  bool block;
  int ns = shared_loops(k, &block);
  if (!ns) {
    kiln_status st = KILN_OK;
    for (int s = 0; s < k->nstages && !st; s++) {
      st = kiln_emit_stage(e, &k->stages[s]);
      if (!st && s + 1 < k->nstages && e->check_buf >= 0)
        kiln_emit_check_stop(e, e->bufs[e->check_buf], NULL);
    }
    return st;
  }
  for (int i = 0; i < k->nstages; i++)
    if (kiln_schedule_check(&k->stages[i], e->err)) return KILN_ERR_INTERNAL;
  kiln_schedule sc = {.nloops = ns};
  memcpy(sc.loops, k->stages[0].sched.loops, sizeof(kiln_loop) * (size_t)ns);
  nest n = {.e = e, .s = &k->stages[0], .rows = true};
  nest_init(&n, &sc);
  int np = 0;
  while (np < ns && sc.loops[np].kind == KILN_LOOP_PARALLEL) np++;
  e->local_lane = block ? ns : -1;
  e->by_rows = true;
  LLVMValueRef r = np ? kiln_nest_parallel(&n, np) : kiln_nest_main(&n, 0);
  e->local_lane = -1;
  e->by_rows = false;
  return r ? KILN_OK : KILN_ERR_INTERNAL;
}
