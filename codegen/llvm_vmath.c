/* f32 exp, log, tanh, erf and sigmoid as straight-line LLVM IR: range reduction, a
 * polynomial, integer ops on the exponent, selects for special values. No calls and no
 * branches, so LLVM's loop vectorizer vectorizes loops over them (it leaves calls of libm
 * or llvm.exp scalar: no vector math library is configured).
 *
 * Max error over all 2^32 floats against double-precision libm (tests/unit_vmath.c with
 * KILN_VMATH_STEP=1): exp 1.02, log 1.52, tanh 1.33, sigmoid 2.40, erf 1.71 ulp (2.28
 * without FMA). Special values as libm: NaN -> NaN, exp overflows to inf and underflows
 * through subnormals to 0, log(+-0) = -inf, log(x < 0) = NaN, tanh/erf saturate to +-1
 * and keep the sign of -0, sigmoid saturates to 1 and through subnormals to 0.
 *
 * Polynomials are minimax fits with float coefficients (tests/vmath_fit.py). Every
 * multiply-add is llvm.fmuladd: fused where the CPU has FMA, separate otherwise; the
 * bounds above hold both ways. Nothing carries fast-math flags. */
#include "codegen/llvm_emit.h"

#include <math.h>

static LLVMValueRef cf(kiln_emit *e, float v) { return LLVMConstReal(e->t_f32, v); }
static LLVMValueRef ci(kiln_emit *e, uint32_t v) { return LLVMConstInt(e->t_i32, v, 0); }

static LLVMValueRef fadd(kiln_emit *e, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFAdd(e->b, a, b, "");
}
static LLVMValueRef fsub(kiln_emit *e, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFSub(e->b, a, b, "");
}
static LLVMValueRef fmul(kiln_emit *e, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFMul(e->b, a, b, "");
}

/* a * b + c */
static LLVMValueRef mad(kiln_emit *e, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  LLVMValueRef args[3] = {a, b, c};
  return kiln_emit_intrinsic(e, "llvm.fmuladd", args, 3);
}

/* c[0] + x * (c[1] + x * (... + x * c[n-1])) */
static LLVMValueRef horner(kiln_emit *e, LLVMValueRef x, const float *c, int n) {
  LLVMValueRef p = cf(e, c[n - 1]);
  for (int i = n - 2; i >= 0; i--) p = mad(e, p, x, cf(e, c[i]));
  return p;
}

/* pred(a, b) ? t : f */
static LLVMValueRef sel(kiln_emit *e, LLVMRealPredicate pred, LLVMValueRef a, LLVMValueRef b,
                        LLVMValueRef t, LLVMValueRef f) {
  return LLVMBuildSelect(e->b, LLVMBuildFCmp(e->b, pred, a, b, ""), t, f, "");
}

static LLVMValueRef to_bits(kiln_emit *e, LLVMValueRef v) {
  return LLVMBuildBitCast(e->b, v, e->t_i32, "");
}
static LLVMValueRef from_bits(kiln_emit *e, LLVMValueRef v) {
  return LLVMBuildBitCast(e->b, v, e->t_f32, "");
}

/* 2^n for n in [-126, 127], built in the exponent field */
static LLVMValueRef pow2i(kiln_emit *e, LLVMValueRef n) {
  LLVMValueRef biased = LLVMBuildAdd(e->b, n, ci(e, 127), "");
  return from_bits(e, LLVMBuildShl(e->b, biased, ci(e, 23), ""));
}

/* ln 2 = LN2_HI + LN2_LO; LN2_HI has 9 significant bits, so n * LN2_HI is exact for the
 * exponents seen here (|n| <= 151) */
#define LN2_HI 0x1.63p-1f
#define LN2_LO -0x1.bd0106p-13f

/* e^x for x in [-104, 89] or NaN (callers clamp). e^x = 2^n e^r with n = round(x / ln 2)
 * and |r| <= ln 2 / 2. NaN flows through as NaN: n is read from bits, never fptosi'd
 * (poison on NaN). */
static LLVMValueRef exp_core(kiln_emit *e, LLVMValueRef x) {
  static const float q[] = {0x1.fffffcp-2f, 0x1.555486p-3f, 0x1.5558c2p-5f, 0x1.124338p-7f,
                            0x1.6a4cbcp-10f};
  LLVMBuilderRef b = e->b;
  /* adding 1.5 * 2^23 rounds to an integer, which then sits in t's low mantissa bits */
  LLVMValueRef shifter = cf(e, 0x1.8p23f);
  LLVMValueRef t = mad(e, x, cf(e, 0x1.715476p+0f), shifter);
  LLVMValueRef n = fsub(e, t, shifter);
  LLVMValueRef r = mad(e, n, cf(e, -LN2_HI), x); /* exact */
  r = mad(e, n, cf(e, -LN2_LO), r);
  /* e^r = 1 + r + r^2 q(r): the two leading terms exact, so rounding stays under 1 ulp */
  LLVMValueRef p = fadd(e, mad(e, fmul(e, r, r), horner(e, r, q, 5), r), cf(e, 1));
  /* times 2^n as 2^n1 * 2^n2 with n1 = n/2: both factors stay normal for n in [-151, 129],
   * p * 2^n1 is exact, and the last product rounds once (to inf, or to a subnormal) */
  LLVMValueRef ni = LLVMBuildSub(b, to_bits(e, t), to_bits(e, shifter), "");
  LLVMValueRef n1 = LLVMBuildAShr(b, ni, ci(e, 1), "");
  LLVMValueRef n2 = LLVMBuildSub(b, ni, n1, "");
  return fmul(e, fmul(e, p, pow2i(e, n1)), pow2i(e, n2));
}

LLVMValueRef kiln_emit_vexp(kiln_emit *e, LLVMValueRef x) {
  /* e^89 still overflows to inf and e^-104 rounds to 0; ordered compares let NaN through */
  x = sel(e, LLVMRealOLT, x, cf(e, -104), cf(e, -104), x);
  x = sel(e, LLVMRealOGT, x, cf(e, 89), cf(e, 89), x);
  return exp_core(e, x);
}

LLVMValueRef kiln_emit_vlog(kiln_emit *e, LLVMValueRef x) {
  static const float p[] = {0x1.555554p-2f,  -0x1.00022ap-2f, 0x1.99a028p-3f,
                            -0x1.547164p-3f, 0x1.22d70ap-3f,  -0x1.0d8beep-3f,
                            0x1.0574p-3f,    -0x1.38cb5ap-4f};
  LLVMBuilderRef b = e->b;
  /* subnormals: scale into the normal range first */
  LLVMValueRef sub = LLVMBuildFCmp(b, LLVMRealOLT, x, cf(e, 0x1p-126f), "");
  LLVMValueRef xs = LLVMBuildSelect(b, sub, fmul(e, x, cf(e, 0x1p23f)), x, "");
  LLVMValueRef adj = LLVMBuildSelect(b, sub, ci(e, (uint32_t)-23), ci(e, 0), "");
  /* x = 2^k m with m in [sqrt(1/2), sqrt(2)): subtracting sqrt(1/2)'s bits borrows from
   * the exponent exactly when the mantissa is below sqrt(1/2)'s */
  LLVMValueRef ix = LLVMBuildSub(b, to_bits(e, xs), ci(e, 0x3f3504f3), "");
  LLVMValueRef k = LLVMBuildAdd(b, LLVMBuildAShr(b, ix, ci(e, 23), ""), adj, "");
  LLVMValueRef mbits = LLVMBuildAdd(b, LLVMBuildAnd(b, ix, ci(e, 0x7fffff), ""),
                                    ci(e, 0x3f3504f3), "");
  LLVMValueRef f = fsub(e, from_bits(e, mbits), cf(e, 1)); /* exact */
  /* log(1 + f) = f - f^2/2 + f^3 P(f) = f + f^2 h */
  LLVMValueRef h = mad(e, horner(e, f, p, 8), f, cf(e, -0.5f));
  LLVMValueRef kf = LLVMBuildSIToFP(b, k, e->t_f32, "");
  LLVMValueRef lo = mad(e, kf, cf(e, LN2_LO), fmul(e, fmul(e, f, f), h));
  LLVMValueRef hi = mad(e, kf, cf(e, LN2_HI), f);
  LLVMValueRef y = fadd(e, hi, lo);
  y = sel(e, LLVMRealOEQ, x, cf(e, INFINITY), cf(e, INFINITY), y);
  y = sel(e, LLVMRealOEQ, x, cf(e, 0), cf(e, -INFINITY), y);     /* and -0 */
  return sel(e, LLVMRealULT, x, cf(e, 0), cf(e, NAN), y); /* negative or NaN */
}

LLVMValueRef kiln_emit_vtanh(kiln_emit *e, LLVMValueRef x) {
  static const float p[] = {-0x1.555532p-2f, 0x1.1106f6p-3f, -0x1.b835a4p-5f, 0x1.51f8cep-6f,
                            -0x1.750ce2p-8f};
  LLVMValueRef ax = kiln_emit_intrinsic(e, "llvm.fabs", &x, 1);
  /* |x| < 0.625: |x| + |x|^3 P(x^2) */
  LLVMValueRef x2 = fmul(e, x, x);
  LLVMValueRef small = mad(e, fmul(e, ax, x2), horner(e, x2, p, 5), ax);
  /* else 1 - 2 / (e^2|x| + 1), which rounds to 1 from |x| = 9.01 on */
  LLVMValueRef a = sel(e, LLVMRealOGT, ax, cf(e, 9.5f), cf(e, 9.5f), ax);
  LLVMValueRef ex = exp_core(e, fadd(e, a, a));
  LLVMValueRef large = fsub(e, cf(e, 1), LLVMBuildFDiv(e->b, cf(e, 2), fadd(e, ex, cf(e, 1)), ""));
  LLVMValueRef y = sel(e, LLVMRealOLT, ax, cf(e, 0.625f), small, large);
  return kiln_emit_intrinsic2(e, "llvm.copysign", y, x); /* tanh(-0) = -0 */
}

LLVMValueRef kiln_emit_vsigmoid(kiln_emit *e, LLVMValueRef x) {
  /* 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below, so e^-|x| never overflows and
   * tiny results keep their subnormal precision */
  LLVMValueRef na = LLVMBuildFNeg(e->b, kiln_emit_intrinsic(e, "llvm.fabs", &x, 1), "");
  na = sel(e, LLVMRealOLT, na, cf(e, -104), cf(e, -104), na);
  LLVMValueRef ex = exp_core(e, na);
  LLVMValueRef num = sel(e, LLVMRealOGE, x, cf(e, 0), cf(e, 1), ex); /* NaN: ex is NaN */
  return LLVMBuildFDiv(e->b, num, fadd(e, ex, cf(e, 1)), "");
}

LLVMValueRef kiln_emit_verf(kiln_emit *e, LLVMValueRef x) {
  static const float p[] = {0x1.06eba8p-3f,  -0x1.81273ep-2f, 0x1.ce2ce6p-4f, -0x1.b7f71ap-6f,
                            0x1.53f224p-8f,  -0x1.a3515ep-11f, 0x1.4771fcp-14f};
  static const float q[] = {-0x1.f3a2dcp+2f, -0x1.56925p+2f,  -0x1.e345fcp-1f,
                            -0x1.63e0a6p-7f, 0x1.1a896ep-9f,  -0x1.cc866ep-12f,
                            0x1.eca448p-15f, -0x1.737e14p-16f};
  LLVMValueRef ax = kiln_emit_intrinsic(e, "llvm.fabs", &x, 1);
  /* |x| < 1: x + x P(x^2), P(0) = 2/sqrt(pi) - 1 (so its rounding barely counts) */
  LLVMValueRef small = mad(e, x, horner(e, fmul(e, x, x), p, 7), x);
  /* else 1 - erfc(|x|) with log erfc(a) = Q(a - 2.5) on [1, 4] (a - 2.5 is exact); erf
   * rounds to 1 from 3.92 on. Q is fitted for the absolute error of erfc. NaN gets here. */
  LLVMValueRef a = sel(e, LLVMRealOGT, ax, cf(e, 4), cf(e, 4), ax);
  LLVMValueRef erfc = exp_core(e, horner(e, fsub(e, a, cf(e, 2.5f)), q, 8));
  LLVMValueRef large = kiln_emit_intrinsic2(e, "llvm.copysign", fsub(e, cf(e, 1), erfc), x);
  return sel(e, LLVMRealOLT, ax, cf(e, 1), small, large);
}
