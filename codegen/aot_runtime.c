/* The runtime an AOT object carries: kiln_rt_parallel_for, defined in LLVM IR inside the
 * model's module (internal linkage) rather than linked from rt/parallel.c. LLVM can
 * emit it for any target triple, so an object for another architecture is complete but
 * for libc, libm and an OpenMP runtime with GCC's ABI (libgomp; LLVM's libomp provides
 * the same entry points), exactly what a host-architecture object needs.
 *
 * It is the same static split as rt/parallel.c (which the JIT uses), written out
 * the way GCC lowers `#pragma omp parallel num_threads(nth)`:
 *
 *   void kiln_rt_parallel_for(body, ctx, n) {
 *     if (n <= 0) return;
 *     int max = omp_get_max_threads();
 *     if (n == 1 || max == 1 || omp_in_parallel()) { body(ctx, 0, n); return; }
 *     struct { body, ctx, n } a;
 *     GOMP_parallel(team, &a, min(max, n), 0);   // team(&a) on every thread, caller too
 *   }
 *   team(a): t = omp_get_thread_num(), T = omp_get_num_threads();
 *            begin = n*t/T, end = n*(t+1)/T; if (begin < end) body(ctx, begin, end); */
#include "codegen/plumbing.h"

typedef struct ir {
  LLVMModuleRef m;
  LLVMContextRef ctx;
  LLVMBuilderRef b;
  LLVMTypeRef ptr, i32, i64, vd, body_ty, args_ty;
} ir;

static LLVMValueRef call_int(ir *c, const char *name) {
  LLVMTypeRef ty = LLVMFunctionType(c->i32, NULL, 0, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(c->m, name);
  if (!fn) fn = LLVMAddFunction(c->m, name, ty);
  return LLVMBuildCall2(c->b, ty, fn, NULL, 0, name);
}

static LLVMValueRef field(ir *c, LLVMValueRef args, unsigned i, LLVMTypeRef ty) {
  LLVMValueRef p = LLVMBuildStructGEP2(c->b, c->args_ty, args, i, "");
  return LLVMBuildLoad2(c->b, ty, p, "");
}

static void call_body(ir *c, LLVMValueRef body, LLVMValueRef ctx, LLVMValueRef begin,
                      LLVMValueRef end) {
  LLVMBuildCall2(c->b, c->body_ty, body, (LLVMValueRef[]){ctx, begin, end}, 3, "");
}

/* team(void *args): this thread's share of [0, n). */
static LLVMValueRef define_team(ir *c) {
  LLVMValueRef fn = LLVMAddFunction(c->m, "kiln_rt_parallel_team",
                                    LLVMFunctionType(c->vd, &c->ptr, 1, 0));
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c->ctx, fn, "entry");
  LLVMBasicBlockRef run = LLVMAppendBasicBlockInContext(c->ctx, fn, "run");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, fn, "done");
  LLVMPositionBuilderAtEnd(c->b, entry);
  LLVMValueRef args = LLVMGetParam(fn, 0);
  LLVMValueRef body = field(c, args, 0, c->ptr), ctx = field(c, args, 1, c->ptr);
  LLVMValueRef n = field(c, args, 2, c->i64);
  LLVMValueRef t = LLVMBuildSExt(c->b, call_int(c, "omp_get_thread_num"), c->i64, "t");
  LLVMValueRef nt = LLVMBuildSExt(c->b, call_int(c, "omp_get_num_threads"), c->i64, "T");
  LLVMValueRef begin = LLVMBuildSDiv(c->b, LLVMBuildMul(c->b, n, t, ""), nt, "begin");
  LLVMValueRef t1 = LLVMBuildAdd(c->b, t, LLVMConstInt(c->i64, 1, 0), "");
  LLVMValueRef end = LLVMBuildSDiv(c->b, LLVMBuildMul(c->b, n, t1, ""), nt, "end");
  LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, begin, end, ""), run, done);
  LLVMPositionBuilderAtEnd(c->b, run);
  call_body(c, body, ctx, begin, end);
  LLVMBuildBr(c->b, done);
  LLVMPositionBuilderAtEnd(c->b, done);
  LLVMBuildRetVoid(c->b);
  return fn;
}

void kiln_aot_define_runtime(LLVMModuleRef m) {
  LLVMValueRef pf = LLVMGetNamedFunction(m, "kiln_rt_parallel_for");
  if (!pf || !LLVMIsDeclaration(pf)) return; /* no parallel loops */
  ir c = {.m = m, .ctx = LLVMGetModuleContext(m)};
  c.b = LLVMCreateBuilderInContext(c.ctx);
  c.ptr = LLVMPointerTypeInContext(c.ctx, 0);
  c.i32 = LLVMInt32TypeInContext(c.ctx);
  c.i64 = LLVMInt64TypeInContext(c.ctx);
  c.vd = LLVMVoidTypeInContext(c.ctx);
  c.body_ty = LLVMFunctionType(c.vd, (LLVMTypeRef[]){c.ptr, c.i64, c.i64}, 3, 0);
  c.args_ty = LLVMStructTypeInContext(c.ctx, (LLVMTypeRef[]){c.ptr, c.ptr, c.i64}, 3, 0);
  LLVMValueRef team = define_team(&c);

  LLVMSetLinkage(pf, LLVMInternalLinkage); /* each model has its own: no clashes */
  LLVMValueRef body = LLVMGetParam(pf, 0), ctx = LLVMGetParam(pf, 1), n = LLVMGetParam(pf, 2);
  LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c.ctx, pf, "entry");
  LLVMBasicBlockRef check = LLVMAppendBasicBlockInContext(c.ctx, pf, "check");
  LLVMBasicBlockRef nested = LLVMAppendBasicBlockInContext(c.ctx, pf, "nested");
  LLVMBasicBlockRef serial = LLVMAppendBasicBlockInContext(c.ctx, pf, "serial");
  LLVMBasicBlockRef team_bb = LLVMAppendBasicBlockInContext(c.ctx, pf, "team");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c.ctx, pf, "done");
  LLVMValueRef zero = LLVMConstInt(c.i64, 0, 0), one = LLVMConstInt(c.i64, 1, 0);

  LLVMPositionBuilderAtEnd(c.b, entry);
  LLVMValueRef args = LLVMBuildAlloca(c.b, c.args_ty, "args"); /* static: in the entry */
  LLVMBuildCondBr(c.b, LLVMBuildICmp(c.b, LLVMIntSLE, n, zero, ""), done, check);

  LLVMPositionBuilderAtEnd(c.b, check);
  LLVMValueRef max = LLVMBuildSExt(c.b, call_int(&c, "omp_get_max_threads"), c.i64, "max");
  LLVMValueRef small = LLVMBuildOr(c.b, LLVMBuildICmp(c.b, LLVMIntEQ, n, one, ""),
                                   LLVMBuildICmp(c.b, LLVMIntSLE, max, one, ""), "");
  LLVMBuildCondBr(c.b, small, serial, nested);

  LLVMPositionBuilderAtEnd(c.b, nested);
  LLVMValueRef inpar = call_int(&c, "omp_in_parallel");
  LLVMBuildCondBr(c.b, LLVMBuildICmp(c.b, LLVMIntNE, inpar, LLVMConstInt(c.i32, 0, 0), ""),
                  serial, team_bb);

  LLVMPositionBuilderAtEnd(c.b, serial);
  call_body(&c, body, ctx, zero, n);
  LLVMBuildBr(c.b, done);

  LLVMPositionBuilderAtEnd(c.b, team_bb);
  LLVMValueRef vals[3] = {body, ctx, n};
  for (unsigned i = 0; i < 3; i++)
    LLVMBuildStore(c.b, vals[i], LLVMBuildStructGEP2(c.b, c.args_ty, args, i, ""));
  LLVMValueRef nth = LLVMBuildSelect(c.b, LLVMBuildICmp(c.b, LLVMIntSLT, max, n, ""), max, n, "");
  LLVMTypeRef gomp_ty =
      LLVMFunctionType(c.vd, (LLVMTypeRef[]){c.ptr, c.ptr, c.i32, c.i32}, 4, 0);
  LLVMValueRef gomp = LLVMGetNamedFunction(m, "GOMP_parallel");
  if (!gomp) gomp = LLVMAddFunction(m, "GOMP_parallel", gomp_ty);
  LLVMValueRef gargs[4] = {team, args, LLVMBuildTrunc(c.b, nth, c.i32, "nth"),
                           LLVMConstInt(c.i32, 0, 0)};
  LLVMBuildCall2(c.b, gomp_ty, gomp, gargs, 4, "");
  LLVMBuildBr(c.b, done);

  LLVMPositionBuilderAtEnd(c.b, done);
  LLVMBuildRetVoid(c.b);
  LLVMDisposeBuilder(c.b);
}
