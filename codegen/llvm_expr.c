/* Kernel-IR expressions -> LLVM values. Registers: bool is i1, minifloats and f16/bf16
 * compute as float, f64 double, ints iN (4- and 2-bit ones i8, sign- or zero-extended).
 * Memory: bool i8, minifloats i8 and f16/bf16 i16 bit patterns. */
#include "codegen/llvm_emit.h"

#include "ir/dtype.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

LLVMTypeRef kiln_emit_reg_type(kiln_emit *e, kiln_dtype t) {
  switch (t) {
  case KILN_BOOL: return e->t_i1;
  case KILN_F16: case KILN_BF16: case KILN_F32: return e->t_f32;
  case KILN_F8E4M3FN: case KILN_F8E4M3FNUZ: case KILN_F8E5M2: case KILN_F8E5M2FNUZ:
  case KILN_F4E2M1: case KILN_F8E8M0: return e->t_f32;
  case KILN_F64: return e->t_f64;
  case KILN_I8: case KILN_U8: case KILN_I4: case KILN_U4: case KILN_I2: case KILN_U2: return e->t_i8;
  case KILN_I16: case KILN_U16: return e->t_i16;
  case KILN_I32: case KILN_U32: return e->t_i32;
  case KILN_I64: case KILN_U64: return e->t_i64;
  case KILN_STRING: return e->t_i64; /* a pointer's bits (rt/strings.h) */
  default: return NULL;
  }
}

LLVMTypeRef kiln_emit_mem_type(kiln_emit *e, kiln_dtype t) {
  if (t == KILN_BOOL || kiln_dtype_is_minifloat(t)) return e->t_i8;
  if (t == KILN_F16 || t == KILN_BF16) return e->t_i16;
  return kiln_emit_reg_type(e, t);
}

/* ---- memo ---------------------------------------------------------------------------- */

static size_t memo_hash(const kiln_expr *x, int cap) {
  return (size_t)(((uintptr_t)x >> 4) * 0x9E3779B97F4A7C15ull) & (size_t)(cap - 1);
}

void kiln_emit_memo_reset(kiln_emit *e) {
  e->nmemo = e->memo_tab_used = 0;
  if (e->memo_tab) memset(e->memo_tab, 0, sizeof(*e->memo_tab) * (size_t)e->memo_tab_cap);
}

void kiln_emit_memo_free(kiln_emit *e) {
  free(e->memo);
  free(e->memo_tab);
  e->memo = NULL;
  e->memo_tab = NULL;
  e->nmemo = e->memo_cap = e->memo_tab_cap = e->memo_tab_used = 0;
}

static LLVMValueRef memo_find(kiln_emit *e, const kiln_expr *x) {
  if (!e->memo_tab_cap) return NULL;
  for (size_t h = memo_hash(x, e->memo_tab_cap);; h = (h + 1) & (size_t)(e->memo_tab_cap - 1)) {
    if (!e->memo_tab[h].x) return NULL;
    if (e->memo_tab[h].x == x) {
      int i = e->memo_tab[h].idx; /* stale once its scope closed */
      return i < e->nmemo && e->memo[i].x == x ? e->memo[i].v : NULL;
    }
  }
}

static void memo_put(kiln_emit *e, const kiln_expr *x, LLVMValueRef v) {
  KILN_GROW(e->memo, e->nmemo, e->memo_cap);
  e->memo[e->nmemo] = (kiln_emit_memo){x, v};
  /* Rebuilt from the live entries when half full: slots of entries a closed branch dropped
   * stay taken until then, and a full table would leave the probes no end. */
  if (2 * (e->memo_tab_used + 1) > e->memo_tab_cap) {
    free(e->memo_tab);
    if (!e->memo_tab_cap) e->memo_tab_cap = 64;
    while (2 * (e->nmemo + 1) > e->memo_tab_cap / 2) e->memo_tab_cap *= 2;
    e->memo_tab = kiln_xcalloc((size_t)e->memo_tab_cap, sizeof(*e->memo_tab));
    e->memo_tab_used = e->nmemo;
    for (int i = 0; i < e->nmemo; i++) {
      size_t h = memo_hash(e->memo[i].x, e->memo_tab_cap);
      while (e->memo_tab[h].x && e->memo_tab[h].x != e->memo[i].x)
        h = (h + 1) & (size_t)(e->memo_tab_cap - 1);
      e->memo_tab[h].x = e->memo[i].x;
      e->memo_tab[h].idx = i;
    }
  }
  size_t h = memo_hash(x, e->memo_tab_cap);
  while (e->memo_tab[h].x && e->memo_tab[h].x != x) h = (h + 1) & (size_t)(e->memo_tab_cap - 1);
  if (!e->memo_tab[h].x) e->memo_tab_used++;
  e->memo_tab[h].x = x;
  e->memo_tab[h].idx = e->nmemo++;
}

/* ---- memory <-> registers -------------------------------------------------------------- */

/* In a checked kernel, the index arithmetic wraps instead of being nsw (an overflow would
 * be poison, and the bounds test on it undefined). */
static LLVMValueRef elem_addr(kiln_emit *e, int buf, kiln_expr *const *idx, int nidx,
                              bool is_store) {
  if (buf < 0 || buf >= e->k->nbufs) return KILN_EMIT_FAIL(e, "buffer %d out of range", buf);
  const kiln_buffer *bf = &e->k->bufs[buf];
  if (nidx != bf->rank)
    return KILN_EMIT_FAIL(e, "buffer '%s' of rank %d indexed with %d indices", bf->name,
                          bf->rank, nidx);
  if (e->local && e->local[buf]) { /* this row's element */
    if (e->local_lane < 0) return e->local[buf];
    LLVMValueRef ix[2] = {LLVMConstNull(e->t_i64), e->lv[e->local_lane]};
    LLVMTypeRef at = LLVMGetAllocatedType(e->local[buf]);
    return LLVMBuildInBoundsGEP2(e->b, at, e->local[buf], ix, 2, "");
  }
  LLVMValueRef lin = NULL;
  int64_t stride = 1, strides[KILN_MAX_RANK];
  bool checked = e->check_all;
  /* a strided buffer (kiln_buffer_strides) whose view splits at its rows addresses by its
   * strides; another, or a checked access (tested on the flat index), places the flat index */
  bool by_strides = bf->row && !checked && kiln_buffer_strides(bf, strides);
  for (int d = bf->rank - 1; d >= 0; d--) {
    LLVMValueRef i = kiln_emit_expr(e, idx[d]);
    if (!i) return NULL;
    kiln_dtype it = idx[d]->dtype;
    if (!kiln_dtype_is_int(it) && it != KILN_BOOL)
      return KILN_EMIT_FAIL(e, "index %d of buffer '%s' is not an integer", d, bf->name);
    if (it != KILN_I64 && it != KILN_U64)
      i = kiln_dtype_is_signed(it) ? LLVMBuildSExt(e->b, i, e->t_i64, "")
                                   : LLVMBuildZExt(e->b, i, e->t_i64, "");
    if (e->clamp_loads && !is_store && bf->dyn_dims[d]) {
      LLVMValueRef top = LLVMBuildNSWSub(e->b, kiln_emit_buf_dim(e, buf, d), LLVMConstInt(e->t_i64, 1, 0), "");
      i = kiln_emit_intrinsic2(e, "llvm.smin", i, top);
      i = kiln_emit_intrinsic2(e, "llvm.smax", i, LLVMConstInt(e->t_i64, 0, 0));
    } else if (e->clamp_loads && !is_store && bf->dims[d] > 0) {
      i = kiln_emit_intrinsic2(e, "llvm.smax", i, LLVMConstInt(e->t_i64, 0, 0));
      i = kiln_emit_intrinsic2(e, "llvm.smin", i, LLVMConstInt(e->t_i64, (uint64_t)(bf->dims[d] - 1), 0));
    }
    LLVMValueRef dsv = kiln_emit_buf_stride(e, buf, d);
    if (dsv) {
      i = checked ? LLVMBuildMul(e->b, i, dsv, "") : LLVMBuildNSWMul(e->b, i, dsv, "");
    } else if ((by_strides ? strides[d] : stride) != 1) {
      LLVMValueRef sv = LLVMConstInt(e->t_i64, (uint64_t)(by_strides ? strides[d] : stride), 0);
      i = checked ? LLVMBuildMul(e->b, i, sv, "") : LLVMBuildNSWMul(e->b, i, sv, "");
    }
    if (lin) lin = checked ? LLVMBuildAdd(e->b, lin, i, "") : LLVMBuildNSWAdd(e->b, lin, i, "");
    else lin = i;
    stride *= bf->dims[d];
  }
  if (!lin) return e->bufs[buf];
  if (checked) return kiln_emit_check_addr(e, buf, lin, is_store);
  if (bf->row && !by_strides) lin = kiln_emit_place(e, bf, lin);
  return LLVMBuildInBoundsGEP2(e->b, kiln_emit_mem_type(e, bf->dtype), e->bufs[buf], &lin, 1, "");
}

LLVMValueRef kiln_emit_place(kiln_emit *e, const kiln_buffer *bf, LLVMValueRef lin) {
  LLVMValueRef row = LLVMConstInt(e->t_i64, (uint64_t)bf->row, 0);
  LLVMValueRef pitch = LLVMConstInt(e->t_i64, (uint64_t)bf->pitch, 0);
  LLVMValueRef q = LLVMBuildMul(e->b, LLVMBuildSDiv(e->b, lin, row, ""), pitch, "");
  return LLVMBuildAdd(e->b, q, LLVMBuildSRem(e->b, lin, row, ""), "");
}

LLVMValueRef kiln_emit_addr(kiln_emit *e, int buf, kiln_expr *const *idx, int nidx) {
  return elem_addr(e, buf, idx, nidx, true);
}

/* float -> bf16 bits (i32, low 16 bits), rounding to nearest even; NaN stays (quiet) NaN */
static LLVMValueRef bf16_bits(kiln_emit *e, LLVMValueRef v) {
  LLVMBuilderRef b = e->b;
  LLVMValueRef bits = LLVMBuildBitCast(b, v, e->t_i32, "");
  LLVMValueRef hi = LLVMBuildLShr(b, bits, LLVMConstInt(e->t_i32, 16, 0), "");
  LLVMValueRef lsb = LLVMBuildAnd(b, hi, LLVMConstInt(e->t_i32, 1, 0), "");
  LLVMValueRef bias = LLVMBuildAdd(b, lsb, LLVMConstInt(e->t_i32, 0x7fff, 0), "");
  LLVMValueRef r = LLVMBuildLShr(b, LLVMBuildAdd(b, bits, bias, ""), LLVMConstInt(e->t_i32, 16, 0), "");
  LLVMValueRef qnan = LLVMBuildOr(b, hi, LLVMConstInt(e->t_i32, 0x40, 0), "");
  LLVMValueRef isnan = LLVMBuildFCmp(b, LLVMRealUNO, v, v, "");
  return LLVMBuildSelect(b, isnan, qnan, r, "");
}

static LLVMValueRef bf16_from_bits(kiln_emit *e, LLVMValueRef bits32) {
  LLVMValueRef s = LLVMBuildShl(e->b, bits32, LLVMConstInt(e->t_i32, 16, 0), "");
  return LLVMBuildBitCast(e->b, s, e->t_f32, "");
}

LLVMValueRef kiln_emit_load_elem(kiln_emit *e, kiln_dtype t, LLVMValueRef ptr) {
  LLVMValueRef v = LLVMBuildLoad2(e->b, kiln_emit_mem_type(e, t), ptr, "");
  switch (t) {
  case KILN_BOOL: return LLVMBuildICmp(e->b, LLVMIntNE, v, LLVMConstInt(e->t_i8, 0, 0), "");
  case KILN_F16: return LLVMBuildFPExt(e->b, LLVMBuildBitCast(e->b, v, e->t_half, ""), e->t_f32, "");
  case KILN_BF16: return bf16_from_bits(e, LLVMBuildZExt(e->b, v, e->t_i32, ""));
  default: return kiln_dtype_is_minifloat(t) ? kiln_emit_minifloat_decode(e, t, v) : v;
  }
}

void kiln_emit_store_elem(kiln_emit *e, kiln_dtype t, LLVMValueRef v, LLVMValueRef ptr) {
  switch (t) {
  case KILN_BOOL: v = LLVMBuildZExt(e->b, v, e->t_i8, ""); break;
  case KILN_F16: v = LLVMBuildBitCast(e->b, LLVMBuildFPTrunc(e->b, v, e->t_half, ""), e->t_i16, ""); break;
  case KILN_BF16: v = LLVMBuildTrunc(e->b, bf16_bits(e, v), e->t_i16, ""); break;
  default:
    /* registers hold the type's values (casts round), infinities of unsaturated casts too */
    if (kiln_dtype_is_minifloat(t)) v = kiln_emit_minifloat_encode(e, t, v, false);
    break;
  }
  LLVMBuildStore(e->b, v, ptr);
}

/* ---- casts ---------------------------------------------------------------------------- */

/* A float register (float or double) rounded to dtype t's precision, as t's register;
 * saturate: as ONNX Cast's attribute, for the 8-bit floats. */
static LLVMValueRef float_to_float(kiln_emit *e, LLVMValueRef v, kiln_dtype t, bool saturate) {
  LLVMTypeRef src = LLVMTypeOf(v);
  if (kiln_dtype_is_minifloat(t)) {
    if (src == e->t_f64) v = LLVMBuildFPTrunc(e->b, v, e->t_f32, "");
    return kiln_emit_minifloat_decode(e, t, kiln_emit_minifloat_encode(e, t, v, saturate));
  }
  switch (t) {
  case KILN_F64: return src == e->t_f64 ? v : LLVMBuildFPExt(e->b, v, e->t_f64, "");
  case KILN_F32: return src == e->t_f32 ? v : LLVMBuildFPTrunc(e->b, v, e->t_f32, "");
  case KILN_F16:
    return LLVMBuildFPExt(e->b, LLVMBuildFPTrunc(e->b, v, e->t_half, ""), e->t_f32, "");
  default: /* bf16 */
    if (src == e->t_f64) v = LLVMBuildFPTrunc(e->b, v, e->t_f32, "");
    return bf16_from_bits(e, bf16_bits(e, v));
  }
}

/* A conversion intrinsic overloaded on result and operand type (llvm.fptosi.sat...). */
static LLVMValueRef intrinsic_cast(kiln_emit *e, const char *name, LLVMValueRef v, LLVMTypeRef to) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMTypeRef over[2] = {to, LLVMTypeOf(v)};
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(e->mod, id, over, 2);
  return LLVMBuildCall2(e->b, LLVMIntrinsicGetType(e->ctx, id, over, 2), fn, &v, 1, "");
}

static LLVMValueRef emit_cast(kiln_emit *e, LLVMValueRef v, kiln_dtype from, kiln_dtype to,
                              bool saturate) {
  LLVMTypeRef rt = kiln_emit_reg_type(e, to);
  LLVMBuilderRef b = e->b;
  if (from == to) return v;
  bool ff = kiln_dtype_is_float(from), tf = kiln_dtype_is_float(to);
  if (to == KILN_BOOL)
    return ff ? LLVMBuildFCmp(b, LLVMRealUNE, v, LLVMConstNull(LLVMTypeOf(v)), "")
              : LLVMBuildICmp(b, LLVMIntNE, v, LLVMConstNull(LLVMTypeOf(v)), "");
  if (ff && tf) return float_to_float(e, v, to, saturate);
  if (tf) { /* int or bool -> float */
    bool sgn = kiln_dtype_is_signed(from);
    if (to == KILN_F16) {
      LLVMValueRef h = sgn ? LLVMBuildSIToFP(b, v, e->t_half, "") : LLVMBuildUIToFP(b, v, e->t_half, "");
      return LLVMBuildFPExt(b, h, e->t_f32, "");
    }
    LLVMValueRef f = sgn ? LLVMBuildSIToFP(b, v, rt, "") : LLVMBuildUIToFP(b, v, rt, "");
    return to == KILN_BF16 || kiln_dtype_is_minifloat(to) ? float_to_float(e, f, to, saturate) : f;
  }
  if (ff) {
    /* float -> int truncates, as the interpreter: NaN is 0, a value out of range saturates
     * to int64 (u64: uint64 from 2^63 up), and narrower targets wrap from there. The
     * saturating forms keep data-driven values from becoming poison (plain fptosi of
     * NaN or 1e30 is undefined), which an index check downstream could not catch. */
    LLVMValueRef i = intrinsic_cast(e, "llvm.fptosi.sat", v, e->t_i64);
    if (kiln_dtype_bits(to) < 8) { /* out of a 4- or 2-bit range: 0, as ml_dtypes */
      double lo, hi;
      kiln_dtype_range(to, &lo, &hi);
      LLVMValueRef in = LLVMBuildAnd(
          b, LLVMBuildICmp(b, LLVMIntSGE, i, LLVMConstInt(e->t_i64, (uint64_t)(int64_t)lo, 1), ""),
          LLVMBuildICmp(b, LLVMIntSLE, i, LLVMConstInt(e->t_i64, (uint64_t)(int64_t)hi, 1), ""), "");
      return LLVMBuildTrunc(b, LLVMBuildSelect(b, in, i, LLVMConstNull(e->t_i64), ""), rt, "");
    }
    if (to == KILN_U64) {
      LLVMValueRef big = LLVMBuildFCmp(b, LLVMRealOGE, v, LLVMConstReal(LLVMTypeOf(v), 9223372036854775808.0), "");
      i = LLVMBuildSelect(b, big, intrinsic_cast(e, "llvm.fptoui.sat", v, e->t_i64), i, "");
    }
    return rt == e->t_i64 ? i : LLVMBuildTrunc(b, i, rt, "");
  }
  /* int/bool -> int: extend by the source's signedness */
  unsigned fw = LLVMGetIntTypeWidth(LLVMTypeOf(v)), tw = LLVMGetIntTypeWidth(rt);
  if (tw < fw) v = LLVMBuildTrunc(b, v, rt, "");
  if (tw > fw) v = kiln_dtype_is_signed(from) ? LLVMBuildSExt(b, v, rt, "") : LLVMBuildZExt(b, v, rt, "");
  int bits = kiln_dtype_bits(to);
  if (bits < 8) { /* wrapped to 4 or 2 bits in the byte, extended by the target's sign */
    LLVMValueRef sh = LLVMConstInt(e->t_i8, (uint64_t)(8 - bits), 0);
    v = LLVMBuildShl(b, v, sh, "");
    v = kiln_dtype_is_signed(to) ? LLVMBuildAShr(b, v, sh, "") : LLVMBuildLShr(b, v, sh, "");
  }
  return v;
}

/* ---- constants, reductions ---------------------------------------------------------------- */

static LLVMValueRef emit_const(kiln_emit *e, const kiln_expr *x) {
  LLVMTypeRef t = kiln_emit_reg_type(e, x->dtype);
  double f = x->f;
  switch (x->dtype) {
  case KILN_F16: f = kiln_f16_to_f32(kiln_f32_to_f16((float)f)); break;
  case KILN_BF16: f = kiln_bf16_to_f32(kiln_f32_to_bf16((float)f)); break;
  case KILN_F32: f = (float)f; break;
  case KILN_BOOL: return LLVMConstInt(t, x->i != 0, 0);
  default:
    /* a constant of the type is one of its values (the interpreter's KX_CONST too) */
    if (kiln_dtype_is_minifloat(x->dtype)) f = kiln_minifloat_round(x->dtype, (float)f, false);
    break;
  }
  if (kiln_dtype_is_float(x->dtype)) return LLVMConstReal(t, f);
  return LLVMConstInt(t, (uint64_t)kiln_wrap_int(x->dtype, x->i), 0);
}

LLVMValueRef kiln_emit_identity(kiln_emit *e, kiln_reduce_op op, kiln_dtype t) {
  LLVMTypeRef rt = kiln_emit_reg_type(e, t);
  bool fl = kiln_dtype_is_float(t), sgn = kiln_dtype_is_signed(t);
  unsigned w = fl ? 0 : LLVMGetIntTypeWidth(rt);
  switch (op) {
  case KR_SUM: return LLVMConstNull(rt);
  case KR_PROD: return fl ? LLVMConstReal(rt, 1.0) : LLVMConstInt(rt, 1, 0);
  case KR_MAX:
    if (fl) return LLVMConstReal(rt, -INFINITY);
    return sgn ? LLVMConstInt(rt, 1ull << (w - 1), 0) : LLVMConstNull(rt);
  case KR_MIN:
    if (fl) return LLVMConstReal(rt, INFINITY);
    return sgn ? LLVMConstInt(rt, (1ull << (w - 1)) - 1, 0) : LLVMConstAllOnes(rt);
  default: return KILN_EMIT_FAIL(e, "bad reduction %d", (int)op);
  }
}

static void set_fmf(LLVMValueRef v, LLVMFastMathFlags f) {
  if (LLVMIsAInstruction(v) && LLVMCanValueUseFastMathFlags(v)) LLVMSetFastMathFlags(v, f);
}

LLVMValueRef kiln_emit_combine(kiln_emit *e, kiln_reduce_op op, kiln_dtype t, LLVMValueRef a,
                               LLVMValueRef b) {
  bool fl = kiln_dtype_is_float(t), sgn = kiln_dtype_is_signed(t);
  LLVMValueRef r;
  switch (op) {
  case KR_SUM: r = fl ? LLVMBuildFAdd(e->b, a, b, "") : LLVMBuildAdd(e->b, a, b, ""); break;
  case KR_PROD: r = fl ? LLVMBuildFMul(e->b, a, b, "") : LLVMBuildMul(e->b, a, b, ""); break;
  case KR_MAX:
    r = kiln_emit_intrinsic2(e, fl ? "llvm.maximum" : sgn ? "llvm.smax" : "llvm.umax", a, b);
    break;
  case KR_MIN:
    r = kiln_emit_intrinsic2(e, fl ? "llvm.minimum" : sgn ? "llvm.smin" : "llvm.umin", a, b);
    break;
  default: return KILN_EMIT_FAIL(e, "bad reduction %d", (int)op);
  }
  if (fl) set_fmf(r, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
  return r;
}

/* ---- expressions ------------------------------------------------------------------------ */

/* True when x may be evaluated with every load's indices clamped into their dims (then no
 * load faults): kx_cannot_fault but for loads whose indices cannot fault. A select whose
 * guarded side is such an expression evaluates it clamped, with no branch: where the guard
 * holds the indices were in range (clamping changes nothing), elsewhere the value is
 * dropped. Branch-free, the padded windows of pooling and convolutions vectorize. */
static bool clamp_safe(const kiln_expr *x, int depth) {
  if (!x || depth > 16) return false;
  switch (x->kind) {
  case KX_CONST: case KX_VAR: case KX_ACC: case KX_DIM: return true;
  case KX_CHECK: return false;
  case KX_LOAD:
    for (int d = 0; d < x->nidx; d++)
      if (!kx_cannot_fault(x->idx[d])) return false;
    return true;
  case KX_BINARY:
    if ((x->op == KB_DIV || x->op == KB_MOD) && !kiln_dtype_is_float(x->a->dtype)) return false;
    return clamp_safe(x->a, depth + 1) && clamp_safe(x->b, depth + 1);
  case KX_SELECT:
    return clamp_safe(x->a, depth + 1) && clamp_safe(x->b, depth + 1) &&
           clamp_safe(x->c, depth + 1);
  default: return clamp_safe(x->a, depth + 1);
  }
}

static LLVMValueRef emit_select(kiln_emit *e, const kiln_expr *x) {
  if (!x->a || !x->b || !x->c || x->a->dtype != KILN_BOOL || x->b->dtype != x->dtype ||
      x->c->dtype != x->dtype)
    return KILN_EMIT_FAIL(e, "ill-typed select");
  LLVMValueRef c = kiln_emit_expr(e, x->a);
  if (!c) return NULL;
  if (LLVMIsAConstantInt(c)) return kiln_emit_expr(e, LLVMConstIntGetZExtValue(c) ? x->b : x->c);
  if (kx_cannot_fault(x->b) && kx_cannot_fault(x->c)) {
    LLVMValueRef t = kiln_emit_expr(e, x->b), f = t ? kiln_emit_expr(e, x->c) : NULL;
    return f ? LLVMBuildSelect(e->b, c, t, f, "") : NULL;
  }
  if (!e->check_all && clamp_safe(x->b, 0) && clamp_safe(x->c, 0)) {
    bool was = e->clamp_loads;
    e->clamp_loads = true;
    LLVMValueRef t = kiln_emit_expr(e, x->b), f = t ? kiln_emit_expr(e, x->c) : NULL;
    e->clamp_loads = was;
    return f ? LLVMBuildSelect(e->b, c, t, f, "") : NULL;
  }
  /* a branch, so that the untaken side (maybe an out-of-bounds load) never runs */
  LLVMBasicBlockRef tb = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "sel.t");
  LLVMBasicBlockRef fb = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "sel.f");
  LLVMBasicBlockRef mb = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "sel.m");
  LLVMBuildCondBr(e->b, c, tb, fb);
  LLVMValueRef vals[2];
  LLVMBasicBlockRef ends[2];
  int mark = e->nmemo;
  for (int side = 0; side < 2; side++) {
    LLVMPositionBuilderAtEnd(e->b, side ? fb : tb);
    vals[side] = kiln_emit_expr(e, side ? x->c : x->b);
    e->nmemo = mark; /* values of a branch do not dominate the merge */
    if (!vals[side]) return NULL;
    ends[side] = LLVMGetInsertBlock(e->b);
    LLVMBuildBr(e->b, mb);
  }
  LLVMPositionBuilderAtEnd(e->b, mb);
  LLVMValueRef phi = LLVMBuildPhi(e->b, kiln_emit_reg_type(e, x->dtype), "");
  LLVMAddIncoming(phi, vals, ends, 2);
  return phi;
}

/* A call of the run-time library (KX_CALL): strings pass as i64, the heap and a text
 * argument as pointers, a bool comes back as i8. */
static LLVMValueRef emit_call(kiln_emit *e, const kiln_expr *x) {
  const kiln_rt_fn_def *d = kiln_rt_fn_def_of((kiln_rt_fn)x->op);
  if (!d || d->result != x->dtype || !x->a || (d->heap && (x->buf < 0 || x->buf >= e->k->nbufs)))
    return KILN_EMIT_FAIL(e, "ill-formed call %d", x->op);
  kiln_dtype rt = d->result;
  LLVMTypeRef ps[5];
  LLVMValueRef args[5];
  unsigned n = 0;
  if (d->heap) ps[n] = e->t_ptr, args[n++] = e->bufs[x->buf];
  const kiln_expr *ops[2] = {x->a, x->b};
  for (int i = 0; i < 2 && ops[i]; i++) {
    LLVMValueRef v = kiln_emit_expr(e, ops[i]);
    if (!v) return NULL;
    ps[n] = LLVMTypeOf(v), args[n++] = v;
  }
  if (x->what) {
    ps[n] = e->t_ptr;
    args[n++] = LLVMBuildGlobalStringPtr(e->b, x->what, "kiln.text");
  }
  if (d->int_arg) ps[n] = e->t_i64, args[n++] = LLVMConstInt(e->t_i64, (uint64_t)x->i, 0);
  LLVMTypeRef ret = rt == KILN_BOOL ? e->t_i8 : kiln_emit_reg_type(e, rt);
  LLVMTypeRef fty = LLVMFunctionType(ret, ps, n, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(e->mod, d->name);
  if (!fn) {
    fn = LLVMAddFunction(e->mod, d->name, fty);
    kiln_emit_fn_attr(e, fn, "nounwind", 0);
  }
  LLVMValueRef r = LLVMBuildCall2(e->b, fty, fn, args, n, "");
  return rt == KILN_BOOL ? LLVMBuildICmp(e->b, LLVMIntNE, r, LLVMConstInt(e->t_i8, 0, 0), "") : r;
}

static LLVMValueRef emit_uncached(kiln_emit *e, const kiln_expr *x) {
  switch (x->kind) {
  case KX_CONST: return emit_const(e, x);
  case KX_VAR:
    if (x->axis < 0 || x->axis >= KILN_MAX_AXES || !e->axis[x->axis])
      return KILN_EMIT_FAIL(e, "axis %d is not defined here", x->axis);
    return e->axis[x->axis];
  case KX_ACC:
    if (!e->acc || e->acc_dtype != x->dtype)
      return KILN_EMIT_FAIL(e, "accumulator used outside a post expression or ill-typed");
    return e->acc;
  case KX_LOAD: {
    if (x->buf < 0 || x->buf >= e->k->nbufs || e->k->bufs[x->buf].dtype != x->dtype)
      return KILN_EMIT_FAIL(e, "ill-typed load from buffer %d", x->buf);
    LLVMValueRef p = elem_addr(e, x->buf, x->idx, x->nidx, false);
    return p ? kiln_emit_load_elem(e, x->dtype, p) : NULL;
  }
  case KX_UNARY: {
    if (!x->a) return KILN_EMIT_FAIL(e, "unary without operand");
    LLVMValueRef a = kiln_emit_expr(e, x->a);
    return a ? kiln_emit_unary(e, (kiln_unary_op)x->op, x->a->dtype, x->dtype, a) : NULL;
  }
  case KX_BINARY: {
    if (!x->a || !x->b || x->a->dtype != x->b->dtype)
      return KILN_EMIT_FAIL(e, "binary op %d on operands of different types", x->op);
    LLVMValueRef a = kiln_emit_expr(e, x->a), b = a ? kiln_emit_expr(e, x->b) : NULL;
    if (!b) return NULL;
    e->exact = x->i != 0; /* kx_binary_exact: no `contract`, so no FMA takes it in */
    LLVMValueRef r = kiln_emit_binary(e, (kiln_binary_op)x->op, x->a->dtype, x->dtype, a, b);
    e->exact = false;
    return r;
  }
  case KX_SELECT: return emit_select(e, x);
  case KX_CHECK: return kiln_emit_check_index(e, x);
  case KX_DIM: return kiln_emit_dim_expr(e, x);
  case KX_CALL: return emit_call(e, x);
  case KX_CAST: {
    if (!x->a || !kiln_emit_reg_type(e, x->a->dtype)) return KILN_EMIT_FAIL(e, "bad cast");
    LLVMValueRef a = kiln_emit_expr(e, x->a);
    if (a && x->op == KX_CAST_BITS) return LLVMBuildBitCast(e->b, a, kiln_emit_reg_type(e, x->dtype), "");
    return a ? emit_cast(e, a, x->a->dtype, x->dtype, x->op != KX_CAST_NOSAT) : NULL;
  }
  }
  return KILN_EMIT_FAIL(e, "unknown expression kind %d", (int)x->kind);
}

LLVMValueRef kiln_emit_expr(kiln_emit *e, const kiln_expr *x) {
  if (!x) return KILN_EMIT_FAIL(e, "missing expression");
  LLVMValueRef v = memo_find(e, x);
  if (v) return v;
  if (!kiln_emit_reg_type(e, x->dtype))
    return KILN_EMIT_FAIL(e, "expression of type %s", kiln_dtype_name(x->dtype));
  v = emit_uncached(e, x);
  if (v) memo_put(e, x, v);
  return v;
}
