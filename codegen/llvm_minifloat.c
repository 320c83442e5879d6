/* The minifloats (the 8-bit floats, f4e2m1) in LLVM IR: a code in a byte <-> its f32
 * value, as straight-line integer and float operations with selects (no branches, no
 * calls), so loops over them vectorize. They compute what kiln_minifloat_to_f32 and
 * kiln_f32_to_minifloat (ir/dtype.c) do, which the interpreter uses and the CUDA prelude
 * repeats. */
#include "codegen/llvm_emit.h"

#include "ir/dtype.h"

#include <math.h>

static LLVMValueRef i32c(kiln_emit *e, int64_t v) {
  return LLVMConstInt(e->t_i32, (uint64_t)v, 1);
}

/* 2^k for an i32 k in [-126, 127], as a float built from its exponent bits */
static LLVMValueRef pow2(kiln_emit *e, LLVMValueRef k) {
  LLVMValueRef bits = LLVMBuildShl(e->b, LLVMBuildAdd(e->b, k, i32c(e, 127), ""), i32c(e, 23), "");
  return LLVMBuildBitCast(e->b, bits, e->t_f32, "");
}

static LLVMValueRef smax(kiln_emit *e, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSGT, a, b, ""), a, b, "");
}

/* f8e8m0: 2^(code - 127) is the float whose exponent field is the code (0: 2^-127, the
 * subnormal 0x00400000); 0xFF is NaN */
static LLVMValueRef e8m0_decode(kiln_emit *e, LLVMValueRef byte) {
  LLVMBuilderRef b = e->b;
  LLVMValueRef x = LLVMBuildZExt(b, byte, e->t_i32, "");
  LLVMValueRef zero = LLVMBuildICmp(b, LLVMIntEQ, x, i32c(e, 0), "");
  LLVMValueRef bits = LLVMBuildSelect(b, zero, i32c(e, 0x400000), LLVMBuildShl(b, x, i32c(e, 23), ""), "");
  LLVMValueRef v = LLVMBuildBitCast(b, bits, e->t_f32, "");
  LLVMValueRef nan = LLVMBuildICmp(b, LLVMIntEQ, x, i32c(e, 0xff), "");
  return LLVMBuildSelect(b, nan, LLVMConstReal(e->t_f32, NAN), v, "");
}

LLVMValueRef kiln_emit_minifloat_decode(kiln_emit *e, kiln_dtype t, LLVMValueRef byte) {
  if (t == KILN_F8E8M0) return e8m0_decode(e, byte);
  kiln_minifloat_format f = kiln_minifloat_format_of(t);
  LLVMBuilderRef b = e->b;
  int sbit = 1 << (f.bits - 1), emask = (1 << (f.bits - 1 - f.mbits)) - 1, mmask = (1 << f.mbits) - 1;
  LLVMValueRef x = LLVMBuildZExt(b, byte, e->t_i32, "");
  LLVMValueRef ex = LLVMBuildAnd(b, LLVMBuildLShr(b, x, i32c(e, f.mbits), ""), i32c(e, emask), "");
  LLVMValueRef m = LLVMBuildAnd(b, x, i32c(e, mmask), "");
  LLVMValueRef sub = LLVMBuildICmp(b, LLVMIntEQ, ex, i32c(e, 0), "");
  LLVMValueRef mag = LLVMBuildSelect(b, sub, m, LLVMBuildOr(b, m, i32c(e, 1 << f.mbits), ""), "");
  LLVMValueRef k = LLVMBuildSub(b, smax(e, ex, i32c(e, 1)), i32c(e, f.bias + f.mbits), "");
  LLVMValueRef v = LLVMBuildFMul(b, LLVMBuildSIToFP(b, mag, e->t_f32, ""), pow2(e, k), "");
  LLVMValueRef low = LLVMBuildAnd(b, x, i32c(e, sbit - 1), "");
  LLVMValueRef nan = NULL, inf = NULL;
  if (f.uz) {
    nan = LLVMBuildICmp(b, LLVMIntEQ, x, i32c(e, sbit), "");
  } else if (f.fn) {
    nan = LLVMBuildICmp(b, LLVMIntEQ, low, i32c(e, sbit - 1), "");
  } else if (!f.finite) { /* IEEE: all-ones exponent */
    LLVMValueRef top = LLVMBuildICmp(b, LLVMIntEQ, ex, i32c(e, emask), "");
    LLVMValueRef m0 = LLVMBuildICmp(b, LLVMIntEQ, m, i32c(e, 0), "");
    nan = LLVMBuildAnd(b, top, LLVMBuildNot(b, m0, ""), "");
    inf = LLVMBuildAnd(b, top, m0, "");
  }
  if (inf) v = LLVMBuildSelect(b, inf, LLVMConstReal(e->t_f32, INFINITY), v, "");
  if (nan) v = LLVMBuildSelect(b, nan, LLVMConstReal(e->t_f32, NAN), v, "");
  LLVMValueRef neg = LLVMBuildICmp(b, LLVMIntNE, LLVMBuildAnd(b, x, i32c(e, sbit), ""), i32c(e, 0), "");
  if (f.uz) neg = LLVMBuildAnd(b, neg, LLVMBuildNot(b, nan, ""), "");
  return LLVMBuildSelect(b, neg, LLVMBuildFNeg(b, v, ""), v, "");
}

LLVMValueRef kiln_emit_minifloat_encode(kiln_emit *e, kiln_dtype t, LLVMValueRef v, bool saturate) {
  LLVMBuilderRef b = e->b;
  if (t == KILN_F8E8M0) { /* the exponent field, rounded down (Cast rounds before) */
    LLVMValueRef bits = LLVMBuildBitCast(b, v, e->t_i32, "");
    return LLVMBuildTrunc(b, LLVMBuildLShr(b, bits, i32c(e, 23), ""), e->t_i8, "");
  }
  kiln_minifloat_format f = kiln_minifloat_format_of(t);
  bool ieee = !f.fn && !f.uz && !f.finite;
  int emin = 1 - f.bias, sbit = 1 << (f.bits - 1), emask = (1 << (f.bits - 1 - f.mbits)) - 1;
  LLVMValueRef bits = LLVMBuildBitCast(b, v, e->t_i32, "");
  LLVMValueRef s = LLVMBuildAnd(b, LLVMBuildLShr(b, bits, i32c(e, 32 - f.bits), ""), i32c(e, sbit), "");
  LLVMValueRef a = kiln_emit_intrinsic(e, "llvm.fabs", &v, 1);
  LLVMValueRef abits = LLVMBuildBitCast(b, a, e->t_i32, "");
  /* the grid's step at a: 2^(max(exponent, emin) - mbits); a / step rounded to even */
  LLVMValueRef ea = LLVMBuildSub(b, LLVMBuildLShr(b, abits, i32c(e, 23), ""), i32c(e, 127), "");
  /* past 2^64 every minifloat overflows; the cap keeps 2^(-q) a normal float (inf: 2^128) */
  ea = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, ea, i32c(e, 64), ""), i32c(e, 64), ea, "");
  LLVMValueRef q = LLVMBuildSub(b, smax(e, ea, i32c(e, emin)), i32c(e, f.mbits), "");
  LLVMValueRef scaled = LLVMBuildFMul(b, a, pow2(e, LLVMBuildNeg(b, q, "")), "");
  LLVMValueRef r = LLVMBuildFMul(b, kiln_emit_intrinsic(e, "llvm.roundeven", &scaled, 1), pow2(e, q), "");
  /* r's code: normal from its exponent and top mantissa bits, subnormal from r / 2^(emin-mbits) */
  LLVMValueRef rb = LLVMBuildBitCast(b, r, e->t_i32, "");
  LLVMValueRef er = LLVMBuildSub(b, LLVMBuildLShr(b, rb, i32c(e, 23), ""), i32c(e, 127), "");
  LLVMValueRef normal = LLVMBuildOr(
      b, LLVMBuildShl(b, LLVMBuildAdd(b, er, i32c(e, f.bias), ""), i32c(e, f.mbits), ""),
      LLVMBuildAnd(b, LLVMBuildLShr(b, rb, i32c(e, 23 - f.mbits), ""), i32c(e, (1 << f.mbits) - 1), ""), "");
  LLVMValueRef subn = LLVMBuildFPToSI(
      b, LLVMBuildFMul(b, r, LLVMConstReal(e->t_f32, ldexp(1, f.bias - 1 + f.mbits)), ""), e->t_i32, "");
  LLVMValueRef is_sub = LLVMBuildICmp(b, LLVMIntSLT, er, i32c(e, emin), "");
  LLVMValueRef code = LLVMBuildOr(b, s, LLVMBuildSelect(b, is_sub, subn, normal, ""), "");
  if (f.uz) /* no -0 */
    code = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOEQ, r, LLVMConstReal(e->t_f32, 0), ""),
                           i32c(e, 0), code, "");
  LLVMValueRef nanc = f.uz       ? i32c(e, sbit)
                      : f.finite ? LLVMBuildXor(b, s, i32c(e, sbit), "")
                                 : LLVMBuildOr(b, s, i32c(e, sbit - 1), "");
  LLVMValueRef overc = saturate || f.finite ? LLVMBuildOr(b, s, i32c(e, f.max_code), "")
                       : ieee ? LLVMBuildOr(b, s, i32c(e, emask << f.mbits), "")
                              : nanc;
  /* r > max is true for infinities too; false for NaN, which the last select catches */
  LLVMValueRef over = LLVMBuildFCmp(b, LLVMRealOGT, r, LLVMConstReal(e->t_f32, f.max), "");
  code = LLVMBuildSelect(b, over, overc, code, "");
  code = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, v, v, ""), nanc, code, "");
  return LLVMBuildTrunc(b, code, e->t_i8, "");
}
