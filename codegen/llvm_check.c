/* Checks, the codegen side (runtime/check.h). A KX_CHECK tests an index read from data
 * against its dim; in a checked kernel (check_all) every element address is tested
 * against its buffer's element count and an access outside goes to a per-module scratch
 * cell instead. Either way an internal cold function records the first violation of the
 * run in the record (an atomic claim, then the fields, then a release store of state 2),
 * and the entry function returns a status from it. The record is written inline rather
 * than through a runtime call, so JIT code and AOT libraries need no extra symbol. */
#include "codegen/llvm_emit.h"

#include "ir/dtype.h"
#include "passes/instrument.h"
#include "rt/check_record.h"

#include <stddef.h>
#include <string.h>

#define FAIL_FN "kiln.check.fail"
#define SINK "kiln.check.sink"

int kiln_emit_check_buffer(const kiln_kernel *k) {
  int b = k->nbufs - 1;
  return b >= 0 && strcmp(k->bufs[b].name, KILN_CHECK_BUFFER) == 0 ? b : -1;
}

static LLVMValueRef field(LLVMBuilderRef b, kiln_emit *e, LLVMValueRef rec, size_t offset) {
  LLVMValueRef off = LLVMConstInt(e->t_i64, offset, 0);
  return LLVMBuildGEP2(b, e->t_i8, rec, &off, 1, "");
}

/* void kiln.check.fail(rec, kernel, stage, buffer, i32 kind, i64 index, i64 size) */
static LLVMValueRef fail_fn(kiln_emit *e, LLVMTypeRef *fty) {
  LLVMTypeRef ps[7] = {e->t_ptr, e->t_ptr, e->t_ptr, e->t_ptr, e->t_i32, e->t_i64, e->t_i64};
  *fty = LLVMFunctionType(e->t_void, ps, 7, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(e->mod, FAIL_FN);
  if (fn) return fn;
  fn = LLVMAddFunction(e->mod, FAIL_FN, *fty);
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  kiln_emit_fn_attr(e, fn, "nounwind", 0);
  kiln_emit_fn_attr(e, fn, "noinline", 0);
  kiln_emit_fn_attr(e, fn, "cold", 0);
  LLVMBuilderRef b = LLVMCreateBuilderInContext(e->ctx);
  LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(e->ctx, fn, "entry");
  LLVMBasicBlockRef write = LLVMAppendBasicBlockInContext(e->ctx, fn, "write");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(e->ctx, fn, "done");
  LLVMPositionBuilderAtEnd(b, entry);
  LLVMValueRef rec = LLVMGetParam(fn, 0);
  LLVMValueRef x = LLVMBuildAtomicCmpXchg(b, rec, LLVMConstInt(e->t_i32, 0, 0),
                                         LLVMConstInt(e->t_i32, 1, 0),
                                         LLVMAtomicOrderingSequentiallyConsistent,
                                         LLVMAtomicOrderingSequentiallyConsistent, 0);
  LLVMBuildCondBr(b, LLVMBuildExtractValue(b, x, 1, ""), write, done);
  LLVMPositionBuilderAtEnd(b, write);
  static const size_t offs[6] = {
      offsetof(kiln_check_record, kernel), offsetof(kiln_check_record, stage),
      offsetof(kiln_check_record, buffer), offsetof(kiln_check_record, kind),
      offsetof(kiln_check_record, index),  offsetof(kiln_check_record, size)};
  for (unsigned i = 0; i < 6; i++)
    LLVMBuildStore(b, LLVMGetParam(fn, i + 1), field(b, e, rec, offs[i]));
  LLVMValueRef st = LLVMBuildStore(b, LLVMConstInt(e->t_i32, 2, 0), rec);
  LLVMSetOrdering(st, LLVMAtomicOrderingRelease);
  LLVMSetAlignment(st, 4);
  LLVMBuildBr(b, done);
  LLVMPositionBuilderAtEnd(b, done);
  LLVMBuildRetVoid(b);
  LLVMDisposeBuilder(b);
  return fn;
}

/* Where out-of-bounds accesses go: racing writes to it are harmless, and its contents are
 * meaningless because the run fails. */
static LLVMValueRef sink(kiln_emit *e) {
  LLVMValueRef g = LLVMGetNamedGlobal(e->mod, SINK);
  if (g) return g;
  LLVMTypeRef t = LLVMArrayType2(e->t_i8, 64);
  g = LLVMAddGlobal(e->mod, t, SINK);
  LLVMSetInitializer(g, LLVMConstNull(t));
  LLVMSetLinkage(g, LLVMInternalLinkage);
  LLVMSetAlignment(g, 64);
  return g;
}

/* Calls the fail function: records a violation of kind at the builder's position. */
static void record(kiln_emit *e, const char *kernel, const char *buffer, kiln_check_kind kind,
                   LLVMValueRef index, LLVMValueRef size) {
  LLVMTypeRef fty;
  LLVMValueRef fn = fail_fn(e, &fty);
  LLVMValueRef args[7] = {
      e->bufs[e->check_buf],
      LLVMBuildGlobalStringPtr(e->b, kernel ? kernel : "?", ""),
      LLVMBuildGlobalStringPtr(e->b, e->st && e->st->name ? e->st->name : "-", ""),
      LLVMBuildGlobalStringPtr(e->b, buffer ? buffer : "?", ""),
      LLVMConstInt(e->t_i32, (unsigned)kind, 0), index, size};
  LLVMBuildCall2(e->b, fty, fn, args, 7, "");
}

void kiln_emit_check_loop(kiln_emit *e, LLVMValueRef arena, int64_t offset, const char *what,
                          int64_t limit) {
  LLVMTypeRef fty;
  LLVMValueRef fn = fail_fn(e, &fty), off = LLVMConstInt(e->t_i64, (uint64_t)offset, 0);
  LLVMValueRef args[7] = {
      LLVMBuildInBoundsGEP2(e->b, e->t_i8, arena, &off, 1, ""),
      LLVMBuildGlobalStringPtr(e->b, what, ""), LLVMBuildGlobalStringPtr(e->b, "-", ""),
      LLVMBuildGlobalStringPtr(e->b, "-", ""), LLVMConstInt(e->t_i32, KILN_CHECK_LOOP, 0),
      LLVMConstInt(e->t_i64, (uint64_t)limit, 0), LLVMConstInt(e->t_i64, 0, 0)};
  LLVMBuildCall2(e->b, fty, fn, args, 7, "");
}

LLVMValueRef kiln_emit_check_addr(kiln_emit *e, int buf, LLVMValueRef lin, bool is_store) {
  const kiln_buffer *bf = &e->k->bufs[buf];
  int64_t size = 1;
  for (int d = 0; d < bf->rank; d++) size *= bf->dims[d]; /* fits: codegen checked the bytes */
  LLVMTypeRef et = kiln_emit_mem_type(e, bf->dtype);
  LLVMValueRef at = bf->row ? kiln_emit_place(e, bf, lin) : lin;
  LLVMValueRef ptr = LLVMBuildGEP2(e->b, et, e->bufs[buf], &at, 1, "");
  LLVMValueRef size_v = LLVMConstInt(e->t_i64, (uint64_t)size, 0);
  for (int d = 0; kiln_buffer_is_dyn(bf) && d < bf->rank; d++) /* run-time dims */
    size_v = LLVMBuildMul(e->b, d ? size_v : LLVMConstInt(e->t_i64, 1, 0), kiln_emit_buf_dim(e, buf, d), "");
  LLVMValueRef in = LLVMBuildICmp(e->b, LLVMIntULT, lin, size_v, "");
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(e->b);
  LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "oob");
  LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "inb");
  LLVMBuildCondBr(e->b, in, cont, bad);

  LLVMPositionBuilderAtEnd(e->b, bad);
  record(e, e->k->name, bf->name, is_store ? KILN_CHECK_STORE : KILN_CHECK_LOAD, lin, size_v);
  LLVMBuildBr(e->b, cont);

  LLVMPositionBuilderAtEnd(e->b, cont);
  LLVMValueRef phi = LLVMBuildPhi(e->b, e->t_ptr, "");
  LLVMValueRef vals[2] = {ptr, sink(e)};
  LLVMBasicBlockRef from[2] = {pre, bad};
  LLVMAddIncoming(phi, vals, from, 2);
  return phi;
}

void kiln_emit_check_init(kiln_emit *e, LLVMValueRef arena) {
  int64_t off = kiln_check_record_offset(e->prog);
  if (off < 0) return;
  LLVMValueRef o = LLVMConstInt(e->t_i64, (uint64_t)off, 0);
  LLVMValueRef rec = LLVMBuildInBoundsGEP2(e->b, e->t_i8, arena, &o, 1, "");
  LLVMBuildStore(e->b, LLVMConstInt(e->t_i32, 0, 0), rec); /* before any kernel runs */
}

LLVMValueRef kiln_emit_check_index(kiln_emit *e, const kiln_expr *x) {
  if (!x->a || !kiln_dtype_is_int(x->a->dtype) || x->i <= 0 || e->check_buf < 0)
    return KILN_EMIT_FAIL(e, "ill-formed index check");
  LLVMValueRef raw = kiln_emit_expr(e, x->a);
  if (!raw) return NULL;
  bool sgn = kiln_dtype_is_signed(x->a->dtype);
  LLVMBuilderRef b = e->b;
  if (LLVMTypeOf(raw) != e->t_i64)
    raw = sgn ? LLVMBuildSExt(b, raw, e->t_i64, "") : LLVMBuildZExt(b, raw, e->t_i64, "");
  LLVMValueRef n = x->b ? kiln_emit_expr(e, x->b) : LLVMConstInt(e->t_i64, (uint64_t)x->i, 0);
  if (!n) return NULL;
  LLVMValueRef zero = LLVMConstInt(e->t_i64, 0, 0);
  LLVMValueRef ok, idx = raw;
  kiln_check_kind kind = KILN_CHECK_INDEX_UNSIGNED;
  if (!sgn) {
    ok = LLVMBuildICmp(b, LLVMIntULT, raw, n, "");
  } else if (!x->op) {
    ok = LLVMBuildICmp(b, LLVMIntULT, raw, n, ""); /* negatives are huge unsigned */
    kind = KILN_CHECK_INDEX;
  } else {
    LLVMValueRef neg = LLVMBuildICmp(b, LLVMIntSLT, raw, zero, "");
    idx = LLVMBuildSelect(b, neg, LLVMBuildAdd(b, raw, n, ""), raw, ""); /* no overflow: raw < 0 */
    ok = LLVMBuildICmp(b, LLVMIntULT, idx, n, "");
    kind = KILN_CHECK_INDEX_FROM_END;
  }
  LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "badidx");
  LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "idxok");
  LLVMBuildCondBr(b, ok, cont, bad);
  LLVMPositionBuilderAtEnd(b, bad);
  record(e, x->what, "", kind, raw, n);
  /* The run has failed: the kernel (or this parallel chunk) stops here. Leaving the
   * function, rather than going on with a safe index, makes the test an exit from every
   * loop it sits in, so LLVM hoists it out of the loops its index does not depend on
   * (an embedding row is checked once, and its copy still vectorizes). */
  if (LLVMGetTypeKind(LLVMGetReturnType(LLVMGlobalGetValueType(e->fn))) == LLVMVoidTypeKind) {
    LLVMBuildRetVoid(b);
    LLVMPositionBuilderAtEnd(b, cont);
    return idx;
  }
  LLVMBuildBr(b, cont);
  LLVMPositionBuilderAtEnd(b, cont);
  return LLVMBuildSelect(b, ok, idx, zero, "");
}

void kiln_emit_check_stop(kiln_emit *e, LLVMValueRef rec, LLVMValueRef ret) {
  /* the run's threads have joined: a plain load sees the record's state (0: no failure) */
  LLVMValueRef state = LLVMBuildLoad2(e->b, e->t_i32, rec, "");
  LLVMValueRef failed = LLVMBuildICmp(e->b, LLVMIntNE, state, LLVMConstInt(e->t_i32, 0, 0), "");
  LLVMBasicBlockRef stop = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "check.stop");
  LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "check.ok");
  LLVMBuildCondBr(e->b, failed, stop, cont);
  LLVMPositionBuilderAtEnd(e->b, stop);
  if (ret) LLVMBuildRet(e->b, ret);
  else LLVMBuildRetVoid(e->b);
  LLVMPositionBuilderAtEnd(e->b, cont);
}

LLVMValueRef kiln_emit_check_status(kiln_emit *e, LLVMValueRef arena) {
  int64_t off = kiln_check_record_offset(e->prog);
  if (off < 0) return LLVMConstInt(e->t_i32, KILN_OK, 0);
  LLVMBuilderRef b = e->b;
  LLVMValueRef o = LLVMConstInt(e->t_i64, (uint64_t)off, 0);
  LLVMValueRef rec = LLVMBuildInBoundsGEP2(b, e->t_i8, arena, &o, 1, "");
  /* the run's threads have joined: plain loads see the record */
  LLVMValueRef state = LLVMBuildLoad2(b, e->t_i32, rec, "");
  LLVMValueRef kind = LLVMBuildLoad2(b, e->t_i32, field(b, e, rec, offsetof(kiln_check_record, kind)), "");
  LLVMValueRef is_index = LLVMBuildICmp(b, LLVMIntUGE, kind, LLVMConstInt(e->t_i32, KILN_CHECK_INDEX, 0), "");
  LLVMValueRef code = LLVMBuildSelect(b, is_index, LLVMConstInt(e->t_i32, KILN_ERR_INVALID_INPUT, 0),
                                      LLVMConstInt(e->t_i32, KILN_ERR_INTERNAL, 0), "");
  LLVMValueRef failed = LLVMBuildICmp(b, LLVMIntEQ, state, LLVMConstInt(e->t_i32, 2, 0), "");
  return LLVMBuildSelect(b, failed, code, LLVMConstInt(e->t_i32, KILN_OK, 0), "");
}
