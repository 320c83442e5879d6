/* A nest's leading parallel loops, outlined: their flattened range becomes a function
 * (the rest of the nest inside) that kiln_rt_parallel_for (rt/parallel.c) runs in chunks
 * on the pool's threads, behind a body wrapper that unpacks the buffer pointers. */
#include "codegen/llvm_nest.h"

#include "ir/dtype.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static LLVMValueRef rt_parallel_for(kiln_emit *e, LLVMTypeRef *fty) {
  LLVMTypeRef ps[3] = {e->t_ptr, e->t_ptr, e->t_i64};
  *fty = LLVMFunctionType(e->t_void, ps, 3, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(e->mod, "kiln_rt_parallel_for");
  return fn ? fn : LLVMAddFunction(e->mod, "kiln_rt_parallel_for", *fty);
}

/* range(bufs..., begin, end): the flattened parallel loops [0, np) over [begin, end), and
 * the rest of the nest inside. Buffer pointers are noalias parameters; the function is
 * inlined into its body wrapper, where LLVM turns noalias into scoped alias metadata. */
static LLVMValueRef emit_range_fn(nest *n, int np, const char *name) {
  kiln_emit *e = n->e;
  const kiln_kernel *k = e->k;
  int nb = k->nbufs;
  LLVMTypeRef *ps = kiln_xmalloc(sizeof(LLVMTypeRef) * (size_t)(nb + 2));
  for (int i = 0; i < nb; i++) ps[i] = e->t_ptr;
  ps[nb] = ps[nb + 1] = e->t_i64;
  LLVMValueRef fn = LLVMAddFunction(e->mod, name, LLVMFunctionType(e->t_void, ps, (unsigned)nb + 2, 0));
  free(ps);
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  kiln_emit_fn_attr(e, fn, "nounwind", 0);
  kiln_emit_fn_attr(e, fn, "alwaysinline", 0);
  for (int i = 0; i < nb; i++) kiln_emit_buffer_param_attrs(e, fn, i, &k->bufs[i]);

  LLVMValueRef *bufs = kiln_xmalloc(sizeof(LLVMValueRef) * (size_t)(nb ? nb : 1));
  for (int i = 0; i < nb; i++) bufs[i] = LLVMGetParam(fn, (unsigned)i);
  kiln_emit_begin_function(e, fn);
  e->bufs = bufs;
  kiln_emit_dyn *outer = kiln_emit_dyn_begin(e); /* this function's run-time dims */
  LLVMValueRef outer_ext[KILN_MAX_AXES];
  memcpy(outer_ext, n->ext, sizeof outer_ext);
  kiln_nest_extents(n);
  LLVMValueRef begin = LLVMGetParam(fn, (unsigned)nb), end = LLVMGetParam(fn, (unsigned)nb + 1);
  /* the loops' values at begin (mixed radix: the innermost parallel loop varies fastest),
   * divided out once; each iteration then steps them with carries: two divisions per
   * iteration cost about as much as a small one's FMAs (a depthwise Conv's tile of 7
   * points by a 3x3 window, on one thread as on many) */
  LLVMValueRef trip[KILN_MAX_LOOPS], at[KILN_MAX_LOOPS], idx[KILN_MAX_LOOPS];
  for (int l = 1; l < np; l++) trip[l] = kiln_nest_trip(n, l);
  LLVMBasicBlockRef pre = LLVMAppendBasicBlockInContext(e->ctx, fn, "par.init");
  LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(e->ctx, fn, "par");
  LLVMBasicBlockRef latch = LLVMCreateBasicBlockInContext(e->ctx, "par.latch");
  LLVMBasicBlockRef exit = LLVMCreateBasicBlockInContext(e->ctx, "par.exit");
  LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, begin, end, ""), pre, exit);
  LLVMPositionBuilderAtEnd(e->b, pre); /* a non-empty range: every trip count >= 1 */
  LLVMValueRef rem = begin;
  for (int l = np - 1; l >= 0; l--) {
    at[l] = l ? LLVMBuildURem(e->b, rem, trip[l], "") : rem;
    if (l) rem = LLVMBuildUDiv(e->b, rem, trip[l], "");
  }
  LLVMBuildBr(e->b, head);
  LLVMPositionBuilderAtEnd(e->b, head);
  LLVMValueRef iv = LLVMBuildPhi(e->b, e->t_i64, "flat");
  LLVMAddIncoming(iv, &begin, &pre, 1);
  for (int l = 0; l < np; l++) {
    idx[l] = e->lv[l] = LLVMBuildPhi(e->b, e->t_i64, "");
    LLVMAddIncoming(idx[l], &at[l], &pre, 1);
  }
  kiln_nest_complete_axes(n, 0, np, latch, -1);
  LLVMValueRef r = kiln_nest_main(n, np);
  LLVMBuildBr(e->b, latch);
  LLVMAppendExistingBasicBlock(fn, latch);
  LLVMPositionBuilderAtEnd(e->b, latch);
  LLVMValueRef one = LLVMConstInt(e->t_i64, 1, 0), zero = LLVMConstInt(e->t_i64, 0, 0);
  LLVMValueRef next = LLVMBuildNSWAdd(e->b, iv, one, ""), carry = one;
  for (int l = np - 1; l >= 0; l--) { /* the outermost never wraps: next < end stops first */
    LLVMValueRef v = LLVMBuildNSWAdd(e->b, idx[l], carry, "");
    if (l) {
      LLVMValueRef wrap = LLVMBuildICmp(e->b, LLVMIntEQ, v, trip[l], "");
      v = LLVMBuildSelect(e->b, wrap, zero, v, "");
      carry = LLVMBuildZExt(e->b, wrap, e->t_i64, "");
    }
    LLVMAddIncoming(idx[l], &v, &latch, 1);
  }
  LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, next, end, ""), head, exit);
  LLVMAddIncoming(iv, &next, &latch, 1);
  LLVMAppendExistingBasicBlock(fn, exit);
  LLVMPositionBuilderAtEnd(e->b, exit);
  LLVMBuildRetVoid(e->b);
  kiln_emit_end_function(e);
  kiln_emit_dyn_end(e, outer);
  memcpy(n->ext, outer_ext, sizeof outer_ext);
  free(bufs);
  return r ? fn : NULL;
}

/* body(ctx, begin, end): unpacks the buffer pointers from ctx and calls range */
static LLVMValueRef emit_body_fn(kiln_emit *e, LLVMValueRef range, const char *name) {
  int nb = e->k->nbufs;
  LLVMTypeRef ps[3] = {e->t_ptr, e->t_i64, e->t_i64};
  LLVMValueRef fn = LLVMAddFunction(e->mod, name, LLVMFunctionType(e->t_void, ps, 3, 0));
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  kiln_emit_fn_attr(e, fn, "nounwind", 0);
  kiln_emit_begin_function(e, fn);
  LLVMValueRef *args = kiln_xmalloc(sizeof(LLVMValueRef) * (size_t)(nb + 2));
  LLVMValueRef ctx = LLVMGetParam(fn, 0);
  for (int i = 0; i < nb; i++) {
    LLVMValueRef ix = LLVMConstInt(e->t_i64, (uint64_t)i, 0);
    args[i] = LLVMBuildLoad2(e->b, e->t_ptr, LLVMBuildInBoundsGEP2(e->b, e->t_ptr, ctx, &ix, 1, ""), "");
  }
  args[nb] = LLVMGetParam(fn, 1);
  args[nb + 1] = LLVMGetParam(fn, 2);
  LLVMBuildCall2(e->b, LLVMGlobalGetValueType(range), range, args, (unsigned)nb + 2, "");
  LLVMBuildRetVoid(e->b);
  kiln_emit_end_function(e);
  free(args);
  return fn;
}

/* The main nest with its leading np parallel loops run by kiln_rt_parallel_for. */
LLVMValueRef kiln_nest_parallel(nest *n, int np) {
  kiln_emit *e = n->e;
  int64_t total = 1;
  LLVMValueRef count = NULL; /* the number of iterations when some are known at run time */
  for (int l = 0; l < np; l++) {
    if (kiln_loop_is_dyn(n->s, n->sc, l)) {
      LLVMValueRef t = kiln_nest_trip(n, l);
      count = count ? LLVMBuildNSWMul(e->b, count, t, "") : t;
    } else if (kiln_mul_overflows(total, n->sc->loops[l].extent, &total)) {
      return KILN_EMIT_FAIL(e, "parallel loops too large");
    }
  }
  /* save the caller's function; the outlined ones are emitted beside it */
  LLVMValueRef fn = e->fn, *bufs = e->bufs;
  LLVMBasicBlockRef alloca_bb = e->alloca_bb, start_bb = e->start_bb, at = LLVMGetInsertBlock(e->b);
  char *rname = kiln_fmt("%s.%s.%d.range", e->kfn_name, n->s->name, e->nfns++);
  char *bname = kiln_fmt("%s.%s.%d.body", e->kfn_name, n->s->name, e->nfns++);
  LLVMValueRef range = emit_range_fn(n, np, rname);
  LLVMValueRef body = range ? emit_body_fn(e, range, bname) : NULL;
  if (body && n->tile) kiln_nest_mark_tile(e, body); /* range is inlined into it */
  free(rname);
  free(bname);
  e->fn = fn;
  e->bufs = bufs;
  e->alloca_bb = alloca_bb;
  e->start_bb = start_bb;
  LLVMPositionBuilderAtEnd(e->b, at);
  if (!body) return NULL;

  int nb = e->k->nbufs;
  LLVMValueRef ctx = kiln_emit_alloca(e, LLVMArrayType2(e->t_ptr, (uint64_t)(nb ? nb : 1)), "ctx");
  for (int i = 0; i < nb; i++) {
    LLVMValueRef ix = LLVMConstInt(e->t_i64, (uint64_t)i, 0);
    LLVMBuildStore(e->b, e->bufs[i], LLVMBuildInBoundsGEP2(e->b, e->t_ptr, ctx, &ix, 1, ""));
  }
  LLVMTypeRef fty;
  LLVMValueRef pf = rt_parallel_for(e, &fty);
  LLVMValueRef args[3] = {body, ctx, LLVMConstInt(e->t_i64, (uint64_t)total, 0)};
  if (count) args[2] = total == 1 ? count : LLVMBuildNSWMul(e->b, count, args[2], "");
  LLVMBuildCall2(e->b, fty, pf, args, 3, "");
  return kiln_nest_ok(e);
}

