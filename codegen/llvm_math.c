/* Scalar unary and binary operators per dtype: floats use f-instructions, LLVM intrinsics
 * and libm, but f32 exp/log/tanh/erf/sigmoid are inline IR so loops over them vectorize
 * (llvm_vmath.c); ints pick signed or unsigned forms. Only float add/sub/mul carry
 * `contract` (so FMAs form), unless exact (kx_binary_exact); nothing else is fast-math. */
#include "codegen/llvm_emit.h"

#include "ir/dtype.h"

#include <string.h>

LLVMValueRef kiln_emit_intrinsic(kiln_emit *e, const char *name, LLVMValueRef *args, int nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  if (!id) return KILN_EMIT_FAIL(e, "no intrinsic %s", name);
  LLVMTypeRef over = LLVMTypeOf(args[0]);
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(e->mod, id, &over, 1);
  LLVMTypeRef fty = LLVMIntrinsicGetType(e->ctx, id, &over, 1);
  return LLVMBuildCall2(e->b, fty, fn, args, (unsigned)nargs, "");
}

LLVMValueRef kiln_emit_intrinsic2(kiln_emit *e, const char *name, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef args[2] = {a, b};
  return kiln_emit_intrinsic(e, name, args, 2);
}

static LLVMValueRef intrinsic1(kiln_emit *e, const char *name, LLVMValueRef a) {
  return kiln_emit_intrinsic(e, name, &a, 1);
}

/* A libm function of one argument: pure, so loops around it optimize */
static LLVMValueRef libm1(kiln_emit *e, const char *name, LLVMValueRef a) {
  LLVMTypeRef t = LLVMTypeOf(a);
  LLVMTypeRef fty = LLVMFunctionType(t, &t, 1, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(e->mod, name);
  if (!fn) {
    fn = LLVMAddFunction(e->mod, name, fty);
    kiln_emit_fn_attr(e, fn, "nounwind", 0);
    kiln_emit_fn_attr(e, fn, "willreturn", 0);
    kiln_emit_fn_attr(e, fn, "memory", 0); /* memory(none) */
  }
  return LLVMBuildCall2(e->b, fty, fn, &a, 1, "");
}

static void contract(LLVMValueRef v) {
  if (LLVMIsAInstruction(v) && LLVMCanValueUseFastMathFlags(v))
    LLVMSetFastMathFlags(v, LLVMFastMathAllowContract);
}

LLVMValueRef kiln_emit_unary(kiln_emit *e, kiln_unary_op op, kiln_dtype at, kiln_dtype rt,
                             LLVMValueRef a) {
  LLVMBuilderRef b = e->b;
  LLVMTypeRef t = LLVMTypeOf(a);
  if (rt != (op == KU_ISNAN || (op == KU_NOT && at == KILN_BOOL) ? KILN_BOOL : at))
    return KILN_EMIT_FAIL(e, "unary op %d: result type %s", (int)op, kiln_dtype_name(rt));
  if (kiln_dtype_is_float(at)) {
    LLVMValueRef one = LLVMConstReal(t, 1.0);
    bool f32 = t == e->t_f32; /* also f16/bf16; f64 keeps libm's accuracy */
    switch (op) {
    case KU_NEG: return LLVMBuildFNeg(b, a, "");
    case KU_ABS: return intrinsic1(e, "llvm.fabs", a);
    case KU_SQRT: return intrinsic1(e, "llvm.sqrt", a);
    case KU_EXP: return f32 ? kiln_emit_vexp(e, a) : intrinsic1(e, "llvm.exp", a);
    case KU_LOG: return f32 ? kiln_emit_vlog(e, a) : intrinsic1(e, "llvm.log", a);
    case KU_SIN: return intrinsic1(e, "llvm.sin", a);
    case KU_COS: return intrinsic1(e, "llvm.cos", a);
    case KU_FLOOR: return intrinsic1(e, "llvm.floor", a);
    case KU_CEIL: return intrinsic1(e, "llvm.ceil", a);
    case KU_ROUND: return intrinsic1(e, "llvm.roundeven", a);
    case KU_TANH: return f32 ? kiln_emit_vtanh(e, a) : libm1(e, "tanh", a);
    case KU_ERF: return f32 ? kiln_emit_verf(e, a) : libm1(e, "erf", a);
    case KU_ISNAN: return LLVMBuildFCmp(b, LLVMRealUNO, a, a, "");
    case KU_RECIP: return LLVMBuildFDiv(b, one, a, "");
    case KU_TAN: case KU_ASIN: case KU_ACOS: case KU_ATAN: case KU_SINH: case KU_COSH:
    case KU_ASINH: case KU_ACOSH: case KU_ATANH: {
      /* rare in models: libm's scalar functions, f32 ones for f32/f16/bf16 */
      static const char *d[] = {"tan", "asin", "acos", "atan", "sinh", "cosh",
                                "asinh", "acosh", "atanh"};
      static const char *f[] = {"tanf", "asinf", "acosf", "atanf", "sinhf", "coshf",
                                "asinhf", "acoshf", "atanhf"};
      return libm1(e, (f32 ? f : d)[op - KU_TAN], a);
    }
    case KU_SIGMOID: {
      if (f32) return kiln_emit_vsigmoid(e, a);
      LLVMValueRef ex = intrinsic1(e, "llvm.exp", LLVMBuildFNeg(b, a, ""));
      LLVMValueRef den = LLVMBuildFAdd(b, one, ex, "");
      return LLVMBuildFDiv(b, one, den, "");
    }
    default: break;
    }
  } else {
    bool sgn = kiln_dtype_is_signed(at);
    switch (op) {
    case KU_NEG: return LLVMBuildNeg(b, a, "");
    case KU_ABS: {
      if (!sgn) return a;
      LLVMValueRef args[2] = {a, LLVMConstInt(e->t_i1, 0, 0)};
      return kiln_emit_intrinsic(e, "llvm.abs", args, 2);
    }
    case KU_NOT: return LLVMBuildNot(b, a, ""); /* logical on i1, bitwise on ints */
    case KU_FLOOR: case KU_CEIL: case KU_ROUND: return a;
    case KU_ISNAN: return LLVMConstInt(e->t_i1, 0, 0);
    default: break;
    }
  }
  return KILN_EMIT_FAIL(e, "unary op %d on %s", (int)op, kiln_dtype_name(at));
}

static LLVMValueRef float_binary(kiln_emit *e, kiln_binary_op op, LLVMValueRef a, LLVMValueRef b) {
  LLVMBuilderRef B = e->b;
  LLVMValueRef r;
  switch (op) {
  case KB_ADD: r = LLVMBuildFAdd(B, a, b, ""); if (!e->exact) contract(r); return r;
  case KB_SUB: r = LLVMBuildFSub(B, a, b, ""); if (!e->exact) contract(r); return r;
  case KB_MUL: r = LLVMBuildFMul(B, a, b, ""); if (!e->exact) contract(r); return r;
  case KB_DIV: return LLVMBuildFDiv(B, a, b, "");
  case KB_MOD: return LLVMBuildFRem(B, a, b, "");
  case KB_POW: return kiln_emit_intrinsic2(e, "llvm.pow", a, b);
  case KB_MIN: return kiln_emit_intrinsic2(e, "llvm.minimum", a, b);
  case KB_MAX: return kiln_emit_intrinsic2(e, "llvm.maximum", a, b);
  case KB_EQ: return LLVMBuildFCmp(B, LLVMRealOEQ, a, b, "");
  case KB_NE: return LLVMBuildFCmp(B, LLVMRealUNE, a, b, "");
  case KB_LT: return LLVMBuildFCmp(B, LLVMRealOLT, a, b, "");
  case KB_LE: return LLVMBuildFCmp(B, LLVMRealOLE, a, b, "");
  case KB_GT: return LLVMBuildFCmp(B, LLVMRealOGT, a, b, "");
  case KB_GE: return LLVMBuildFCmp(B, LLVMRealOGE, a, b, "");
  default: return NULL;
  }
}

/* Integer a / b and a % b without undefined behaviour, whatever the data (x86 traps on
 * x / 0 and INT_MIN / -1): like the interpreter, x / 0 and x % 0 are 0, x / -1 is -x
 * (wrapping) and x % -1 is 0. */
static LLVMValueRef int_divrem(kiln_emit *e, bool rem, bool sgn, LLVMValueRef a, LLVMValueRef b) {
  LLVMBuilderRef B = e->b;
  LLVMTypeRef t = LLVMTypeOf(a);
  LLVMValueRef zero = LLVMConstNull(t), one = LLVMConstInt(t, 1, 0);
  LLVMValueRef is0 = LLVMBuildICmp(B, LLVMIntEQ, b, zero, "");
  if (!sgn) {
    LLVMValueRef d = LLVMBuildSelect(B, is0, one, b, "");
    LLVMValueRef r = rem ? LLVMBuildURem(B, a, d, "") : LLVMBuildUDiv(B, a, d, "");
    return LLVMBuildSelect(B, is0, zero, r, "");
  }
  LLVMValueRef ism1 = LLVMBuildICmp(B, LLVMIntEQ, b, LLVMConstAllOnes(t), "");
  LLVMValueRef d = LLVMBuildSelect(B, LLVMBuildOr(B, is0, ism1, ""), one, b, "");
  LLVMValueRef r = rem ? LLVMBuildSRem(B, a, d, "") : LLVMBuildSDiv(B, a, d, "");
  r = LLVMBuildSelect(B, ism1, rem ? zero : LLVMBuildNeg(B, a, ""), r, "");
  return LLVMBuildSelect(B, is0, zero, r, "");
}

/* Shifts by b >= the width (or by a negative b, a huge unsigned one) are poison in LLVM:
 * like the interpreter, they shift everything out (an arithmetic right shift leaves
 * copies of the sign). */
static LLVMValueRef int_shift(kiln_emit *e, kiln_binary_op op, bool sgn, LLVMValueRef a,
                              LLVMValueRef b) {
  LLVMBuilderRef B = e->b;
  LLVMTypeRef t = LLVMTypeOf(a);
  unsigned w = LLVMGetIntTypeWidth(t);
  LLVMValueRef wide = LLVMBuildICmp(B, LLVMIntUGE, b, LLVMConstInt(t, w, 0), "");
  if (op == KB_SHR && sgn)
    return LLVMBuildAShr(B, a, LLVMBuildSelect(B, wide, LLVMConstInt(t, w - 1, 0), b, ""), "");
  LLVMValueRef s = LLVMBuildSelect(B, wide, LLVMConstNull(t), b, "");
  LLVMValueRef r = op == KB_SHL ? LLVMBuildShl(B, a, s, "") : LLVMBuildLShr(B, a, s, "");
  return LLVMBuildSelect(B, wide, LLVMConstNull(t), r, "");
}

static LLVMValueRef int_binary(kiln_emit *e, kiln_binary_op op, bool sgn, LLVMValueRef a,
                               LLVMValueRef b) {
  LLVMBuilderRef B = e->b;
  switch (op) {
  case KB_ADD: return LLVMBuildAdd(B, a, b, "");
  case KB_SUB: return LLVMBuildSub(B, a, b, "");
  case KB_MUL: return LLVMBuildMul(B, a, b, "");
  case KB_DIV: return int_divrem(e, false, sgn, a, b);
  case KB_MOD: return int_divrem(e, true, sgn, a, b);
  case KB_POW: { /* through double, like numpy's float power truncated back */
    LLVMTypeRef t = LLVMTypeOf(a);
    LLVMValueRef fa = sgn ? LLVMBuildSIToFP(B, a, e->t_f64, "") : LLVMBuildUIToFP(B, a, e->t_f64, "");
    LLVMValueRef fb = sgn ? LLVMBuildSIToFP(B, b, e->t_f64, "") : LLVMBuildUIToFP(B, b, e->t_f64, "");
    LLVMValueRef p = kiln_emit_intrinsic2(e, "llvm.pow", fa, fb);
    /* saturating: a huge power is no poison */
    const char *name = sgn ? "llvm.fptosi.sat" : "llvm.fptoui.sat";
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef over[2] = {t, e->t_f64};
    return LLVMBuildCall2(B, LLVMIntrinsicGetType(e->ctx, id, over, 2),
                          LLVMGetIntrinsicDeclaration(e->mod, id, over, 2), &p, 1, "");
  }
  case KB_MIN: return kiln_emit_intrinsic2(e, sgn ? "llvm.smin" : "llvm.umin", a, b);
  case KB_MAX: return kiln_emit_intrinsic2(e, sgn ? "llvm.smax" : "llvm.umax", a, b);
  case KB_EQ: return LLVMBuildICmp(B, LLVMIntEQ, a, b, "");
  case KB_NE: return LLVMBuildICmp(B, LLVMIntNE, a, b, "");
  case KB_LT: return LLVMBuildICmp(B, sgn ? LLVMIntSLT : LLVMIntULT, a, b, "");
  case KB_LE: return LLVMBuildICmp(B, sgn ? LLVMIntSLE : LLVMIntULE, a, b, "");
  case KB_GT: return LLVMBuildICmp(B, sgn ? LLVMIntSGT : LLVMIntUGT, a, b, "");
  case KB_GE: return LLVMBuildICmp(B, sgn ? LLVMIntSGE : LLVMIntUGE, a, b, "");
  case KB_AND: return LLVMBuildAnd(B, a, b, "");
  case KB_OR: return LLVMBuildOr(B, a, b, "");
  case KB_XOR: return LLVMBuildXor(B, a, b, "");
  case KB_SHL: case KB_SHR: return int_shift(e, op, sgn, a, b);
  default: return NULL;
  }
}

LLVMValueRef kiln_emit_binary(kiln_emit *e, kiln_binary_op op, kiln_dtype at, kiln_dtype rt,
                              LLVMValueRef a, LLVMValueRef b) {
  bool cmp = op >= KB_EQ && op <= KB_GE;
  if ((int)op < 0 || op > KB_SHR || rt != (cmp ? KILN_BOOL : at))
    return KILN_EMIT_FAIL(e, "binary op %d: result type %s", (int)op, kiln_dtype_name(rt));
  LLVMValueRef r = kiln_dtype_is_float(at) ? float_binary(e, op, a, b)
                                           : int_binary(e, op, kiln_dtype_is_signed(at), a, b);
  if (!r) return KILN_EMIT_FAIL(e, "binary op %d on %s", (int)op, kiln_dtype_name(at));
  return r;
}
