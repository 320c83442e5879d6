/* kiln_program -> LLVM IR: the entry function runs the program's steps in order; each
 * kernel step calls an internal function taking one noalias pointer per kernel buffer,
 * resolved from the buffer's storage; an If step branches on a bool in storage; a loop
 * step loops over its body with the copies it implies. In a profiled program
 * (runtime/profile.h) each kernel call sits between two calls of kiln_rt_clock_ns, and the
 * difference, and one call, add to the kernel's slot in the arena. How long
 * building each kernel's IR took goes to the program's kiln_compile_times. */
#include "codegen/llvm_emit.h"

#include "ir/kernel_sig.h"

#include "ir/dtype.h"
#include "rt/parallel.h"

#include <llvm-c/Analysis.h>
#include <stdlib.h>
#include <string.h>

LLVMValueRef kiln_emit_alloca(kiln_emit *e, LLVMTypeRef t, const char *name) {
  LLVMBuilderRef b = LLVMCreateBuilderInContext(e->ctx);
  LLVMPositionBuilderAtEnd(b, e->alloca_bb);
  LLVMValueRef v = LLVMBuildAlloca(b, t, name);
  LLVMDisposeBuilder(b);
  return v;
}

void kiln_emit_begin_function(kiln_emit *e, LLVMValueRef fn) {
  e->fn = fn;
  e->alloca_bb = LLVMAppendBasicBlockInContext(e->ctx, fn, "allocas");
  e->start_bb = LLVMAppendBasicBlockInContext(e->ctx, fn, "start");
  LLVMPositionBuilderAtEnd(e->b, e->start_bb);
}

void kiln_emit_end_function(kiln_emit *e) {
  LLVMBuilderRef b = LLVMCreateBuilderInContext(e->ctx);
  LLVMPositionBuilderAtEnd(b, e->alloca_bb);
  LLVMBuildBr(b, e->start_bb);
  LLVMDisposeBuilder(b);
}

static LLVMAttributeRef attr(kiln_emit *e, const char *name, uint64_t val) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  return LLVMCreateEnumAttribute(e->ctx, kind, val);
}

void kiln_emit_fn_attr(kiln_emit *e, LLVMValueRef fn, const char *name, uint64_t val) {
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, attr(e, name, val));
}

/* -1: malformed; 0 for a buffer with run-time dims too (its size is not known here) */
static int64_t buffer_bytes(const kiln_buffer *bf) {
  if (bf->rank >= 0 && bf->rank <= KILN_MAX_RANK && kiln_buffer_is_dyn(bf)) return 0;
  int64_t n = (int64_t)kiln_dtype_size(bf->dtype);
  for (int d = 0; d < bf->rank; d++)
    if (bf->dims[d] < 0 || kiln_mul_overflows(n, bf->dims[d], &n)) return -1;
  if (bf->row) n = kiln_buffer_span(bf) * (int64_t)kiln_dtype_size(bf->dtype); /* strided */
  return n;
}

void kiln_emit_buffer_param_attrs(kiln_emit *e, LLVMValueRef fn, int i, const kiln_buffer *buf) {
  unsigned idx = (unsigned)i + 1;
  LLVMAddAttributeAtIndex(fn, idx, attr(e, "noalias", 0));
  int64_t bytes = buffer_bytes(buf);
  if (bytes > 0) { /* an empty tensor's pointer may be NULL */
    LLVMAddAttributeAtIndex(fn, idx, attr(e, "nonnull", 0));
    LLVMAddAttributeAtIndex(fn, idx, attr(e, "dereferenceable", (uint64_t)bytes));
  }
}

/* pointer to the storage of a buffer, from the entry function's arguments */
typedef struct entry_args {
  LLVMValueRef inputs, outputs, arena, consts;
} entry_args;

static LLVMValueRef load_ptr_at(kiln_emit *e, LLVMValueRef table, int index) {
  LLVMValueRef ix = LLVMConstInt(e->t_i64, (uint64_t)index, 0);
  return LLVMBuildLoad2(e->b, e->t_ptr, LLVMBuildInBoundsGEP2(e->b, e->t_ptr, table, &ix, 1, ""), "");
}

static LLVMValueRef storage_ptr(kiln_emit *e, const entry_args *a, const kiln_storage *st,
                                int64_t bytes, const char *what) {
  const kiln_program *p = e->prog;
  switch (st->kind) {
  case KILN_STORE_INPUT:
    if (st->index >= 0 && st->index < p->ninputs) return load_ptr_at(e, a->inputs, st->index);
    break;
  case KILN_STORE_OUTPUT:
    if (st->index >= 0 && st->index < p->noutputs) return load_ptr_at(e, a->outputs, st->index);
    break;
  case KILN_STORE_CONST:
    if (st->index >= 0 && st->index < p->nconsts) return load_ptr_at(e, a->consts, st->index);
    break;
  case KILN_STORE_ARENA:
    if (st->offset >= 0 && bytes >= 0 && st->offset <= p->arena_bytes - bytes) {
      LLVMValueRef off = LLVMConstInt(e->t_i64, (uint64_t)st->offset, 0);
      return LLVMBuildInBoundsGEP2(e->b, e->t_i8, a->arena, &off, 1, "");
    }
    break;
  case KILN_STORE_DIMS:
  case KILN_STORE_DYN: /* the syms' values; a slot placed at run time, its offset after them */
    if (p->nsyms && (st->kind == KILN_STORE_DIMS || (st->index >= 0 && st->index < p->ndyn))) {
      LLVMValueRef off = LLVMConstInt(e->t_i64, (uint64_t)p->dims_offset, 0);
      LLVMValueRef dims = LLVMBuildInBoundsGEP2(e->b, e->t_i8, a->arena, &off, 1, "");
      if (st->kind == KILN_STORE_DIMS) return dims;
      LLVMValueRef ix = LLVMConstInt(e->t_i64, (uint64_t)(p->nsyms + st->index), 0);
      off = LLVMBuildLoad2(e->b, e->t_i64, LLVMBuildInBoundsGEP2(e->b, e->t_i64, dims, &ix, 1, ""), "");
      return LLVMBuildInBoundsGEP2(e->b, e->t_i8, a->arena, &off, 1, "");
    }
    break;
  case KILN_STORE_STRINGS:
    if (p->strings && p->strings_offset >= 0 && p->strings_offset <= p->arena_bytes - 16) {
      LLVMValueRef off = LLVMConstInt(e->t_i64, (uint64_t)p->strings_offset, 0);
      return LLVMBuildInBoundsGEP2(e->b, e->t_i8, a->arena, &off, 1, "");
    }
    break;
  default: break;
  }
  kiln_fail(e->err, KILN_ERR_INTERNAL, "%s: bad storage (kind %d, index %d, offset %lld)", what,
            (int)st->kind, st->index, (long long)st->offset);
  return NULL;
}

static void set_types(kiln_emit *e) {
  e->t_i1 = LLVMInt1TypeInContext(e->ctx);
  e->t_i8 = LLVMInt8TypeInContext(e->ctx);
  e->t_i16 = LLVMInt16TypeInContext(e->ctx);
  e->t_i32 = LLVMInt32TypeInContext(e->ctx);
  e->t_i64 = LLVMInt64TypeInContext(e->ctx);
  e->t_f32 = LLVMFloatTypeInContext(e->ctx);
  e->t_f64 = LLVMDoubleTypeInContext(e->ctx);
  e->t_half = LLVMHalfTypeInContext(e->ctx);
  e->t_ptr = LLVMPointerTypeInContext(e->ctx, 0);
  e->t_void = LLVMVoidTypeInContext(e->ctx);
}

/* Instructions in the functions module m gained after `last` (NULL: all of them). */
static int64_t new_instructions(LLVMModuleRef m, LLVMValueRef last) {
  int64_t n = 0;
  for (LLVMValueRef f = last ? LLVMGetNextFunction(last) : LLVMGetFirstFunction(m); f;
       f = LLVMGetNextFunction(f))
    for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(f); bb; bb = LLVMGetNextBasicBlock(bb))
      for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in)) n++;
  return n;
}

/* Emits into module i from here (its context, builder and types). */
static void use_module(kiln_emit *e, int i) {
  e->mod = e->mods[i];
  e->ctx = LLVMGetModuleContext(e->mod);
  e->b = e->builders[i];
  set_types(e);
}

/* The function of one kernel: its stages in order. Internal, or (exported: the entry is in
 * another module) external and hidden. */
static LLVMValueRef emit_kernel_fn(kiln_emit *e, const kiln_kernel *k, bool exported) {
  int nb = k->nbufs;
  if (kiln_kernel_check_dyn(k, e->err)) return NULL;
  for (int i = 0; i < nb; i++)
    if (!kiln_emit_reg_type(e, k->bufs[i].dtype) || k->bufs[i].rank < 0 ||
        k->bufs[i].rank > KILN_MAX_RANK || buffer_bytes(&k->bufs[i]) < 0) {
      kiln_fail(e->err, KILN_ERR_INTERNAL, "kernel '%s': bad buffer '%s'", k->name, k->bufs[i].name);
      return NULL;
    }
  LLVMTypeRef *ps = kiln_xmalloc(sizeof(LLVMTypeRef) * (size_t)(nb ? nb : 1));
  for (int i = 0; i < nb; i++) ps[i] = e->t_ptr;
  char *name = kiln_fmt("kiln.%s.%d", k->name ? k->name : "kernel", e->nfns++);
  LLVMValueRef fn = LLVMAddFunction(e->mod, name, LLVMFunctionType(e->t_void, ps, (unsigned)nb, 0));
  free(ps);
  LLVMSetLinkage(fn, exported ? LLVMExternalLinkage : LLVMInternalLinkage);
  if (exported) LLVMSetVisibility(fn, LLVMHiddenVisibility);
  kiln_emit_fn_attr(e, fn, "nounwind", 0);
  kiln_emit_fn_attr(e, fn, "noinline", 0); /* one function per kernel keeps compile time linear */
  for (int i = 0; i < nb; i++) kiln_emit_buffer_param_attrs(e, fn, i, &k->bufs[i]);

  LLVMValueRef *bufs = kiln_xmalloc(sizeof(LLVMValueRef) * (size_t)(nb ? nb : 1));
  for (int i = 0; i < nb; i++) bufs[i] = LLVMGetParam(fn, (unsigned)i);
  e->k = k;
  e->check_buf = kiln_emit_check_buffer(k);
  e->check_all = e->check_buf >= 0 && k->check_all;
  e->kfn_name = name;
  e->bufs = bufs;
  kiln_emit_begin_function(e, fn);
  kiln_emit_dyn *outer = kiln_emit_dyn_begin(e);
  kiln_status st = kiln_emit_stages(e, k);
  kiln_emit_dyn_end(e, outer);
  LLVMBuildRetVoid(e->b);
  kiln_emit_end_function(e);
  e->k = NULL;
  e->check_buf = -1;
  e->check_all = false;
  e->bufs = NULL;
  free(bufs);
  free(name);
  return st ? NULL : fn;
}

static kiln_status emit_steps(kiln_emit *e, const entry_args *a, const kiln_steps *steps);

/* A call of `int64_t kiln_rt_clock_ns(void)` (declared on first use). */
static LLVMValueRef clock_ns(kiln_emit *e) {
  LLVMTypeRef t = LLVMFunctionType(e->t_i64, NULL, 0, 0);
  LLVMValueRef f = LLVMGetNamedFunction(e->mod, "kiln_rt_clock_ns");
  if (!f) {
    f = LLVMAddFunction(e->mod, "kiln_rt_clock_ns", t);
    kiln_emit_fn_attr(e, f, "nounwind", 0);
  }
  return LLVMBuildCall2(e->b, t, f, NULL, 0, "");
}

static kiln_status emit_kernel_step(kiln_emit *e, const entry_args *a, const kiln_kernel *k) {
  if (!k) return kiln_fail(e->err, KILN_ERR_INTERNAL, "kernel step without a kernel");
  int64_t t0 = kiln_rt_clock_ns();
  size_t len = 0;
  char *sig = kiln_kernel_signature(k, &len);
  LLVMValueRef fn = NULL;
  for (int i = 0; sig && i < e->nkfns && !fn; i++)
    if (e->kfns[i].len == len && memcmp(e->kfns[i].sig, sig, len) == 0) fn = e->kfns[i].fn;
  if (fn) {
    free(sig);
  } else {
    LLVMValueRef efn = e->fn, *ebufs = e->bufs;
    LLVMBasicBlockRef alloca_bb = e->alloca_bb, start_bb = e->start_bb, at = LLVMGetInsertBlock(e->b);
    /* each distinct kernel goes to the module with the fewest instructions so far, so
     * that their optimization and code generation, on a thread each (llvm_build.c), take
     * about as long; the split depends on the IR alone, so the code is the same whatever
     * the machine */
    int home = 0;
    for (int i = 1; i < e->nmods; i++)
      if (e->weight[i] < e->weight[home]) home = i;
    LLVMValueRef last = LLVMGetLastFunction(e->mods[home]);
    if (home) use_module(e, home);
    fn = emit_kernel_fn(e, k, home != 0);
    e->weight[home] += new_instructions(e->mods[home], last);
    if (home) {
      use_module(e, 0);
      if (fn) { /* the entry calls it through a declaration of the same name */
        size_t nlen;
        const char *fname = LLVMGetValueName2(fn, &nlen);
        LLVMTypeRef *ps = kiln_xmalloc(sizeof(LLVMTypeRef) * (size_t)(k->nbufs ? k->nbufs : 1));
        for (int i = 0; i < k->nbufs; i++) ps[i] = e->t_ptr;
        fn = LLVMAddFunction(e->mod, fname, LLVMFunctionType(e->t_void, ps, (unsigned)k->nbufs, 0));
        free(ps);
        kiln_emit_fn_attr(e, fn, "nounwind", 0);
      }
    }
    e->fn = efn;
    e->bufs = ebufs;
    e->alloca_bb = alloca_bb;
    e->start_bb = start_bb;
    LLVMPositionBuilderAtEnd(e->b, at);
    if (fn && sig) {
      KILN_GROW(e->kfns, e->nkfns, e->kfns_cap);
      e->kfns[e->nkfns].sig = sig;
      e->kfns[e->nkfns].len = len;
      e->kfns[e->nkfns++].fn = fn;
    } else {
      free(sig);
    }
  }
  if (!fn) return KILN_ERR_INTERNAL;
  LLVMValueRef *args = kiln_xmalloc(sizeof(LLVMValueRef) * (size_t)(k->nbufs ? k->nbufs : 1));
  for (int i = 0; i < k->nbufs; i++) {
    char what[160];
    snprintf(what, sizeof what, "kernel '%s': buffer '%s'", k->name, k->bufs[i].name);
    args[i] = storage_ptr(e, a, &k->bufs[i].storage, buffer_bytes(&k->bufs[i]), what);
    if (!args[i]) {
      free(args);
      return KILN_ERR_INTERNAL;
    }
  }
  int slot = e->nkernel_steps++;
  kiln_compile_times *times = e->prog->times;
  if (times && slot < times->nkernels)
    times->emit_ms[slot] = (double)(kiln_rt_clock_ns() - t0) / 1e6;
  LLVMValueRef start = e->prog->profile ? clock_ns(e) : NULL;
  LLVMBuildCall2(e->b, LLVMGlobalGetValueType(fn), fn, args, (unsigned)k->nbufs, "");
  int cb = kiln_emit_check_buffer(k);
  if (cb >= 0 && LLVMGetReturnType(LLVMGlobalGetValueType(e->fn)) == e->t_i32) /* the entry */
    kiln_emit_check_stop(e, args[cb], kiln_emit_check_status(e, a->arena));
  free(args);
  if (start) { /* slot: nanoseconds, calls (a kernel in a loop runs many times) */
    LLVMValueRef add[2] = {LLVMBuildSub(e->b, clock_ns(e), start, "kernel.ns"), LLVMConstInt(e->t_i64, 1, 0)};
    for (int j = 0; j < 2; j++) {
      LLVMValueRef off = LLVMConstInt(e->t_i64, (uint64_t)(e->prog->profile_offset + 16 * slot + 8 * j), 0);
      LLVMValueRef at = LLVMBuildInBoundsGEP2(e->b, e->t_i8, a->arena, &off, 1, "");
      LLVMBuildStore(e->b, LLVMBuildAdd(e->b, add[j], LLVMBuildLoad2(e->b, e->t_i64, at, ""), ""), at);
    }
  }
  return KILN_OK;
}

static kiln_status emit_if_step(kiln_emit *e, const entry_args *a, const kiln_step *s) {
  LLVMValueRef p = storage_ptr(e, a, &s->cond, 1, "if condition");
  if (!p) return KILN_ERR_INTERNAL;
  LLVMValueRef c = LLVMBuildICmp(e->b, LLVMIntNE, LLVMBuildLoad2(e->b, e->t_i8, p, ""),
                                 LLVMConstInt(e->t_i8, 0, 0), "");
  LLVMBasicBlockRef tb = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "then");
  LLVMBasicBlockRef fb = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "else");
  LLVMBasicBlockRef mb = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "endif");
  LLVMBuildCondBr(e->b, c, tb, fb);
  for (int side = 0; side < 2; side++) {
    LLVMPositionBuilderAtEnd(e->b, side ? fb : tb);
    const kiln_steps *st = side ? s->else_steps : s->then_steps;
    if (st) {
      kiln_status r = emit_steps(e, a, st);
      if (r) return r;
    }
    LLVMBuildBr(e->b, mb);
  }
  LLVMPositionBuilderAtEnd(e->b, mb);
  return KILN_OK;
}

/* Loop steps' copies of one kind (ir/program.h: kiln_move); i: the iteration (SCAN). */
static kiln_status emit_moves(kiln_emit *e, const entry_args *a, const kiln_loop_step *l,
                              kiln_move_when when, LLVMValueRef i) {
  for (int pass = 0; pass < 2; pass++) /* staged sources first */
    for (int k = 0; k < l->nmoves; k++) {
      const kiln_move *m = &l->moves[k];
      if (m->when != when || (!pass && !m->staged)) continue;
      LLVMValueRef src = storage_ptr(e, a, &m->src, m->bytes, "loop value");
      LLVMValueRef dst = storage_ptr(e, a, &m->dst, when == KILN_MOVE_SCAN ? 0 : m->bytes, "loop value");
      LLVMValueRef stage = m->staged ? storage_ptr(e, a, &l->stage, l->stage_bytes, "loop staging") : NULL;
      if (!src || !dst || (m->staged && !stage)) return KILN_ERR_INTERNAL;
      if (stage) {
        LLVMValueRef off = LLVMConstInt(e->t_i64, (uint64_t)m->stage_offset, 0);
        stage = LLVMBuildInBoundsGEP2(e->b, e->t_i8, stage, &off, 1, "");
        if (!pass) dst = stage;
        else src = stage;
      }
      if (pass && when == KILN_MOVE_SCAN) {
        LLVMValueRef off = LLVMBuildMul(e->b, i, LLVMConstInt(e->t_i64, (uint64_t)m->bytes, 0), "");
        dst = LLVMBuildGEP2(e->b, e->t_i8, dst, &off, 1, "");
      }
      LLVMBuildMemMove(e->b, dst, 1, src, 1, LLVMConstInt(e->t_i64, (uint64_t)m->bytes, 0));
    }
  return KILN_OK;
}

/* i = 0; c = cond0; while ((no trip || i < trip) && c) { body; c = cond_out; moves; i++ },
 * i and c kept in the body's parameters (which nothing else writes during the loop). */
static kiln_status emit_loop_step(kiln_emit *e, const entry_args *a, const kiln_loop_step *l) {
  LLVMValueRef iter = storage_ptr(e, a, &l->iter, 8, "loop iteration");
  LLVMValueRef cond = storage_ptr(e, a, &l->cond, 1, "loop condition");
  LLVMValueRef trip = l->trip.kind == KILN_STORE_NONE ? NULL : storage_ptr(e, a, &l->trip, 8, "trip count");
  LLVMValueRef c0 = l->cond0.kind == KILN_STORE_NONE ? NULL : storage_ptr(e, a, &l->cond0, 1, "loop condition");
  if (!iter || !cond || (l->trip.kind != KILN_STORE_NONE && !trip) ||
      (l->cond0.kind != KILN_STORE_NONE && !c0))
    return KILN_ERR_INTERNAL;
  LLVMBuildStore(e->b, LLVMConstInt(e->t_i64, 0, 0), iter);
  LLVMBuildStore(e->b, c0 ? LLVMBuildLoad2(e->b, e->t_i8, c0, "") : LLVMConstInt(e->t_i8, 1, 0), cond);
  kiln_status st = emit_moves(e, a, l, KILN_MOVE_ENTER, NULL);
  if (st) return st;
  LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "loop");
  LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "loop.body");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "loop.end");
  LLVMBuildBr(e->b, head);
  LLVMPositionBuilderAtEnd(e->b, head);
  LLVMValueRef i = LLVMBuildLoad2(e->b, e->t_i64, iter, "i");
  LLVMValueRef go = LLVMBuildICmp(e->b, LLVMIntNE, LLVMBuildLoad2(e->b, e->t_i8, cond, ""),
                                  LLVMConstInt(e->t_i8, 0, 0), "");
  if (trip)
    go = LLVMBuildAnd(e->b, go, LLVMBuildICmp(e->b, LLVMIntSLT, i,
                                              LLVMBuildLoad2(e->b, e->t_i64, trip, ""), ""), "");
  if (l->limit < INT64_MAX && l->check_offset >= 0) { /* one more would pass the limit */
    LLVMBasicBlockRef over = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "loop.limit");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "loop.ok");
    LLVMValueRef at = LLVMBuildICmp(e->b, LLVMIntSGE, i, LLVMConstInt(e->t_i64, (uint64_t)l->limit, 0), "");
    LLVMBuildCondBr(e->b, LLVMBuildAnd(e->b, go, at, ""), over, ok);
    LLVMPositionBuilderAtEnd(e->b, over);
    kiln_emit_check_loop(e, a->arena, l->check_offset, l->what, l->limit);
    LLVMBuildBr(e->b, done);
    LLVMPositionBuilderAtEnd(e->b, ok);
  }
  LLVMBuildCondBr(e->b, go, body, done);
  LLVMPositionBuilderAtEnd(e->b, body);
  st = emit_steps(e, a, l->body);
  if (st) return st;
  LLVMValueRef co = storage_ptr(e, a, &l->cond_out, 1, "loop condition");
  if (!co) return KILN_ERR_INTERNAL;
  LLVMValueRef next_c = LLVMBuildZExt(e->b, LLVMBuildICmp(e->b, LLVMIntNE, LLVMBuildLoad2(e->b, e->t_i8, co, ""),
                                                          LLVMConstInt(e->t_i8, 0, 0), ""), e->t_i8, "");
  i = LLVMBuildLoad2(e->b, e->t_i64, iter, "");
  if ((st = emit_moves(e, a, l, KILN_MOVE_SCAN, i)) || (st = emit_moves(e, a, l, KILN_MOVE_NEXT, i)))
    return st;
  LLVMBuildStore(e->b, next_c, cond);
  LLVMBuildStore(e->b, LLVMBuildAdd(e->b, i, LLVMConstInt(e->t_i64, 1, 0), ""), iter);
  LLVMBuildBr(e->b, head);
  LLVMPositionBuilderAtEnd(e->b, done);
  if (l->count >= 0) { /* the iterations run: its scan outputs' length, for later steps */
    kiln_storage at = {KILN_STORE_DIMS, 0, 0};
    LLVMValueRef dims = l->count < e->prog->nsyms ? storage_ptr(e, a, &at, 8, "run dims") : NULL;
    if (!dims) return kiln_fail(e->err, KILN_ERR_INTERNAL, "%s: no dims for its count", l->what);
    LLVMValueRef ix = LLVMConstInt(e->t_i64, (uint64_t)l->count, 0);
    LLVMBuildStore(e->b, LLVMBuildLoad2(e->b, e->t_i64, iter, ""),
                   LLVMBuildInBoundsGEP2(e->b, e->t_i64, dims, &ix, 1, ""));
  }
  return emit_moves(e, a, l, KILN_MOVE_EXIT, NULL);
}

static kiln_status emit_steps(kiln_emit *e, const entry_args *a, const kiln_steps *steps) {
  for (int i = 0; i < steps->n; i++) {
    const kiln_step *s = &steps->steps[i];
    kiln_status r;
    if (s->kind == KILN_STEP_KERNEL) r = emit_kernel_step(e, a, s->kernel);
    else if (s->kind == KILN_STEP_IF) r = emit_if_step(e, a, s);
    else if (s->kind == KILN_STEP_LOOP) r = emit_loop_step(e, a, s->loop);
    else r = kiln_fail(e->err, KILN_ERR_INTERNAL, "unknown step kind %d", (int)s->kind);
    if (r) return r;
  }
  return KILN_OK;
}

kiln_status kiln_llvm_emit_modules(LLVMModuleRef *mods, int nmods, const kiln_program *p,
                                   const char *entry_name, bool masked_tails, kiln_error *err) {
  if (!mods || nmods < 1 || nmods > KILN_EMIT_MAX_MODULES || !p || !entry_name || !*entry_name)
    return kiln_fail(err, KILN_ERR_INTERNAL, "kiln_llvm_emit_modules: missing argument");
  LLVMModuleRef m = mods[0];
  kiln_emit e = {.err = err, .prog = p, .check_buf = -1, .local_lane = -1,
                 .masked_tails = masked_tails, .nmods = nmods};
  if (p->times) {
    free(p->times->emit_ms);
    p->times->nkernels = kiln_steps_kernels(&p->main, NULL, 0);
    p->times->emit_ms = kiln_xcalloc((size_t)p->times->nkernels + 1, sizeof(double));
  }
  for (int i = 0; i < nmods; i++) {
    e.mods[i] = mods[i];
    e.builders[i] = LLVMCreateBuilderInContext(LLVMGetModuleContext(mods[i]));
  }
  use_module(&e, 0);

  LLVMTypeRef ps[4] = {e.t_ptr, e.t_ptr, e.t_ptr, e.t_ptr};
  LLVMValueRef fn = LLVMAddFunction(m, entry_name, LLVMFunctionType(e.t_i32, ps, 4, 0));
  kiln_emit_fn_attr(&e, fn, "nounwind", 0);
  kiln_emit_begin_function(&e, fn);
  entry_args a = {LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), LLVMGetParam(fn, 2), LLVMGetParam(fn, 3)};
  kiln_emit_check_init(&e, a.arena);
  kiln_status st = KILN_OK;
  if (p->strings) { /* the run's string heap starts empty (rt/strings.h) */
    kiln_storage at = {KILN_STORE_STRINGS, 0, 0};
    LLVMValueRef h = storage_ptr(&e, &a, &at, 16, "string heap");
    if (h) LLVMBuildMemSet(e.b, h, LLVMConstInt(e.t_i8, 0, 0), LLVMConstInt(e.t_i64, 16, 0), 8);
    else st = err->code;
  }
  if (!st) st = emit_steps(&e, &a, &p->main);
  LLVMBuildRet(e.b, kiln_emit_check_status(&e, a.arena));
  kiln_emit_end_function(&e);
  for (int i = 0; i < nmods; i++) LLVMDisposeBuilder(e.builders[i]);
  kiln_emit_memo_free(&e);
  for (int i = 0; i < e.nkfns; i++) free(e.kfns[i].sig);
  free(e.kfns);
  if (st) return st;

  for (int i = 0; i < nmods; i++) {
    char *msg = NULL;
    if (LLVMVerifyModule(mods[i], LLVMReturnStatusAction, &msg)) {
      kiln_fail(err, KILN_ERR_INTERNAL, "generated LLVM IR is invalid: %.900s", msg ? msg : "");
      LLVMDisposeMessage(msg);
      return KILN_ERR_INTERNAL;
    }
    LLVMDisposeMessage(msg);
  }
  return KILN_OK;
}
