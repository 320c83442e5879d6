/* Kernel-IR expressions -> CUDA C statements, one temporary `tN` per value, with the
 * semantics of the LLVM backend (codegen/llvm_expr.c, llvm_math.c): bool computes as int
 * 0/1 and is a byte in memory; minifloats and f16/bf16 compute as float and are bits in
 * memory; 4- and 2-bit ints are bytes, sign- or zero-extended; signed
 * integer arithmetic wraps (done on uint64_t, so C has no overflow to exploit); integer
 * x / 0 is 0; shifts past the width shift everything out; float -> int saturates. A select
 * whose sides may fault (loads, checks, integer division) is an if/else, so the untaken
 * side never runs. */
#include "codegen/cuda_emit.h"

#include "ir/dtype.h"

#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *kiln_cuda_reg_type(kiln_dtype t) {
  switch (t) {
  case KILN_BOOL: return "int";
  case KILN_F16: case KILN_BF16: case KILN_F32: return "float";
  case KILN_F8E4M3FN: case KILN_F8E4M3FNUZ: case KILN_F8E5M2: case KILN_F8E5M2FNUZ:
  case KILN_F4E2M1: case KILN_F8E8M0: return "float";
  case KILN_F64: return "double";
  case KILN_I8: case KILN_I4: case KILN_I2: return "int8_t"; /* sign-extended */
  case KILN_U8: case KILN_U4: case KILN_U2: return "uint8_t";
  case KILN_I16: return "int16_t";
  case KILN_U16: return "uint16_t";
  case KILN_I32: return "int32_t";
  case KILN_U32: return "uint32_t";
  case KILN_I64: return "int64_t";
  case KILN_U64: return "uint64_t";
  default: return NULL;
  }
}

const char *kiln_cuda_mem_type(kiln_dtype t) {
  if (t == KILN_BOOL || kiln_dtype_is_minifloat(t)) return "uint8_t";
  if (t == KILN_F16 || t == KILN_BF16) return "uint16_t";
  return kiln_cuda_reg_type(t);
}

/* The format arguments of the prelude's kiln_f8f and kiln_ff8. */
static void f8_args(char *buf, size_t n, kiln_dtype t, bool encode) {
  kiln_minifloat_format f = kiln_minifloat_format_of(t);
  int kind = t == KILN_F8E8M0 ? 4 : f.finite ? 3 : f.uz ? 2 : f.fn ? 1 : 0;
  if (encode)
    snprintf(buf, n, "%d, %d, %d, %d, %.1ff, 0x%xu", f.bits, f.mbits, f.bias, kind, (double)f.max, f.max_code);
  else
    snprintf(buf, n, "%d, %d, %d, %d", f.bits, f.mbits, f.bias, kind);
}

static const char *utype(kiln_dtype t) { /* the unsigned type of an integer's width */
  switch (kiln_dtype_size(t)) {
  case 1: return "uint8_t";
  case 2: return "uint16_t";
  case 4: return "uint32_t";
  default: return "uint64_t";
  }
}

static int width(kiln_dtype t) { return 8 * (int)kiln_dtype_size(t); }

static bool is_f64(kiln_dtype t) { return t == KILN_F64; }

/* A new temporary of register type t; the caller writes " = ...;" */
static int def(kiln_cuda *c, kiln_dtype t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int def(kiln_cuda *c, kiln_dtype t, const char *fmt, ...) {
  int n = c->ntemps++;
  fprintf(c->o, "%*s%s t%d = ", 2 * c->indent, "", kiln_cuda_reg_type(t), n);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(c->o, fmt, ap);
  va_end(ap);
  fputs(";\n", c->o);
  return n;
}

/* ---- memo ------------------------------------------------------------------------------ */

void kiln_cuda_memo_reset(kiln_cuda *c) { c->nmemo = 0; }

static int memo_find(kiln_cuda *c, const kiln_expr *x, bool narrow) {
  for (int i = c->nmemo - 1; i >= 0; i--)
    if (c->memo[i].x == x && c->memo[i].narrow == narrow) return c->memo[i].t;
  return -1;
}

static void memo_put(kiln_cuda *c, const kiln_expr *x, int t, bool narrow) {
  KILN_GROW(c->memo, c->nmemo, c->memo_cap);
  c->memo[c->nmemo].x = x;
  c->memo[c->nmemo].narrow = narrow;
  c->memo[c->nmemo++].t = t;
}

/* ---- constants ------------------------------------------------------------------------- */

static void float_literal(FILE *o, double f, bool f32) {
  if (isnan(f) || isinf(f)) {
    if (f32) {
      float g = (float)f;
      uint32_t u;
      memcpy(&u, &g, 4);
      fprintf(o, "kiln_f32_from_bits(0x%08" PRIx32 "u)", u);
    } else {
      uint64_t u;
      memcpy(&u, &f, 8);
      fprintf(o, "kiln_f64_from_bits(0x%016" PRIx64 "ull)", u);
    }
    return;
  }
  fprintf(o, f32 ? "%af" : "%a", f32 ? (double)(float)f : f);
}

static void int_literal(FILE *o, kiln_dtype t, int64_t v) {
  if (v > -(INT64_C(1) << 31) && v < (INT64_C(1) << 31))
    fprintf(o, "(%s)%" PRId64, kiln_cuda_reg_type(t), v);
  else
    fprintf(o, "(%s)0x%" PRIx64 "ull", kiln_cuda_reg_type(t), (uint64_t)v);
}

static int emit_const(kiln_cuda *c, const kiln_expr *x) {
  double f = x->f;
  switch (x->dtype) {
  case KILN_F16: f = kiln_f16_to_f32(kiln_f32_to_f16((float)f)); break;
  case KILN_BF16: f = kiln_bf16_to_f32(kiln_f32_to_bf16((float)f)); break;
  case KILN_BOOL: return def(c, KILN_BOOL, "%d", x->i != 0);
  default:
    if (kiln_dtype_is_minifloat(x->dtype)) f = kiln_minifloat_round(x->dtype, (float)f, false);
    break;
  }
  int n = c->ntemps++;
  fprintf(c->o, "%*s%s t%d = ", 2 * c->indent, "", kiln_cuda_reg_type(x->dtype), n);
  if (kiln_dtype_is_float(x->dtype)) float_literal(c->o, f, !is_f64(x->dtype));
  else int_literal(c->o, x->dtype, kiln_wrap_int(x->dtype, x->i));
  fputs(";\n", c->o);
  return n;
}

int kiln_cuda_identity(kiln_cuda *c, kiln_reduce_op op, kiln_dtype t) {
  bool fl = kiln_dtype_is_float(t), sgn = kiln_dtype_is_signed(t);
  int w = fl ? 0 : width(t);
  kiln_expr x = {.kind = KX_CONST, .dtype = t};
  switch (op) {
  case KR_SUM: break;
  case KR_PROD: x.f = 1, x.i = 1; break;
  case KR_MAX:
    if (fl) x.f = -INFINITY;
    else x.i = sgn ? (int64_t)(UINT64_MAX << (w - 1)) : 0;
    break;
  case KR_MIN:
    if (fl) x.f = INFINITY;
    else x.i = sgn ? (int64_t)((UINT64_C(1) << (w - 1)) - 1) : (int64_t)(UINT64_MAX >> (64 - w));
    break;
  default: return KILN_CUDA_FAIL(c, "bad reduction %d", (int)op);
  }
  return emit_const(c, &x);
}

int kiln_cuda_combine(kiln_cuda *c, kiln_reduce_op op, kiln_dtype t, int a, int b) {
  bool fl = kiln_dtype_is_float(t);
  const char *rt = kiln_cuda_reg_type(t);
  switch (op) {
  case KR_SUM:
    return fl ? def(c, t, "t%d + t%d", a, b) : def(c, t, "(%s)((uint64_t)t%d + (uint64_t)t%d)", rt, a, b);
  case KR_PROD:
    return fl ? def(c, t, "t%d * t%d", a, b) : def(c, t, "(%s)((uint64_t)t%d * (uint64_t)t%d)", rt, a, b);
  case KR_MAX:
    if (fl) return def(c, t, "kiln_max%c(t%d, t%d)", is_f64(t) ? 'd' : 'f', a, b);
    return def(c, t, "t%d > t%d ? t%d : t%d", a, b, a, b);
  case KR_MIN:
    if (fl) return def(c, t, "kiln_min%c(t%d, t%d)", is_f64(t) ? 'd' : 'f', a, b);
    return def(c, t, "t%d < t%d ? t%d : t%d", a, b, a, b);
  default: return KILN_CUDA_FAIL(c, "bad reduction %d", (int)op);
  }
}

/* ---- memory ---------------------------------------------------------------------------- */

int kiln_cuda_index(kiln_cuda *c, int buf, kiln_expr *const *idx, int nidx, bool is_store) {
  if (buf < 0 || buf >= c->k->nbufs) return KILN_CUDA_FAIL(c, "buffer %d out of range", buf);
  const kiln_buffer *bf = &c->k->bufs[buf];
  if (nidx != bf->rank)
    return KILN_CUDA_FAIL(c, "buffer '%s' of rank %d indexed with %d indices", bf->name,
                          bf->rank, nidx);
  int t[KILN_MAX_RANK];
  /* an access that runs is in bounds (the kernel IR's contract), so in a 32-bit kernel
   * int32 indices sum to less than the buffer's int32 size; a checked access (check_bounds)
   * is summed in 64 bits, where an index out of bounds cannot wrap */
  bool narrow = !c->check_all;
  for (int d = 0; d < bf->rank; d++) {
    if (!kiln_dtype_is_int(idx[d]->dtype) && idx[d]->dtype != KILN_BOOL)
      return KILN_CUDA_FAIL(c, "index %d of buffer '%s' is not an integer", d, bf->name);
    bool nd = kiln_cuda_narrow(c, idx[d]);
    narrow = narrow && nd;
    if ((t[d] = nd ? kiln_cuda_expr32(c, idx[d]) : kiln_cuda_expr(c, idx[d])) < 0) return -1;
  }
  const char *it = narrow ? "int32_t" : "int64_t";
  int n = c->ntemps++;
  fprintf(c->o, "%*s%s t%d = ", 2 * c->indent, "", it, n);
  int64_t stride = 1, strides[KILN_MAX_RANK];
  bool any = false, named = false; /* named: a run-time dim is in the stride (cuda_dyn.c) */
  /* a strided buffer (kiln_buffer_strides): by its strides, or the flat index placed */
  bool by_strides = bf->row && !c->check_all && kiln_buffer_strides(bf, strides);
  for (int d = bf->rank - 1; d >= 0; d--) {
    fprintf(c->o, "%s(%s)t%d", any ? " + " : "", it, t[d]);
    if (named) fprintf(c->o, " * kiln_s%d_%d", buf, d);
    else if ((by_strides ? strides[d] : stride) != 1)
      fprintf(c->o, " * %" PRId64, by_strides ? strides[d] : stride);
    any = true;
    stride *= bf->dims[d];
    named |= bf->dyn_dims[d] != NULL;
  }
  fputs(any ? ";\n" : "0;\n", c->o);
  if (c->check_all) { /* check_bounds: a violation is recorded and stops the thread */
    if (named) kiln_cuda_line(c, "if ((uint64_t)t%d >= (uint64_t)kiln_n%d) {", n, buf);
    else kiln_cuda_line(c, "if ((uint64_t)t%d >= %" PRId64 "u) {", n, stride);
    fprintf(c->o, "%*skiln_check_fail(b%d, ", 2 * c->indent + 2, "", c->check_buf);
    kiln_cuda_string(c->o, c->k->name ? c->k->name : "?");
    fputs(", ", c->o);
    kiln_cuda_string(c->o, c->st && c->st->name ? c->st->name : "-");
    fputs(", ", c->o);
    kiln_cuda_string(c->o, bf->name ? bf->name : "?");
    if (named) fprintf(c->o, ", %d, t%d, kiln_n%d);\n", is_store ? 1 : 0, n, buf);
    else fprintf(c->o, ", %d, t%d, %" PRId64 ");\n", is_store ? 1 : 0, n, stride);
    kiln_cuda_line(c, "  goto %s;", c->exit);
    kiln_cuda_line(c, "}");
  }
  if (bf->row && !by_strides)
    kiln_cuda_line(c, "t%d = t%d / %" PRId64 " * %" PRId64 " + t%d %% %" PRId64 ";", n, n,
                   bf->row, bf->pitch, n, bf->row);
  return n;
}

int kiln_cuda_load_from(kiln_cuda *c, int buf, const char *array, int lin) {
  kiln_dtype t = c->k->bufs[buf].dtype;
  switch (t) {
  case KILN_BOOL: return def(c, t, "%s[t%d] != 0", array, lin);
  case KILN_F16: return def(c, t, "kiln_h2f(%s[t%d])", array, lin);
  case KILN_BF16: return def(c, t, "kiln_bf2f(%s[t%d])", array, lin);
  default:
    if (kiln_dtype_is_minifloat(t)) {
      char fa[64];
      f8_args(fa, sizeof fa, t, false);
      return def(c, t, "kiln_f8f(%s[t%d], %s)", array, lin, fa);
    }
    return def(c, t, "%s[t%d]", array, lin);
  }
}

int kiln_cuda_load(kiln_cuda *c, int buf, int lin) {
  char array[16];
  snprintf(array, sizeof array, "b%d", buf);
  return kiln_cuda_load_from(c, buf, array, lin);
}

void kiln_cuda_store(kiln_cuda *c, int buf, int lin, int v) {
  kiln_dtype t = c->k->bufs[buf].dtype;
  if (kiln_dtype_is_minifloat(t)) {
    char fa[64];
    f8_args(fa, sizeof fa, t, true);
    kiln_cuda_line(c, "b%d[t%d] = kiln_ff8(t%d, %s, 0);", buf, lin, v, fa); /* exact */
    return;
  }
  switch (t) {
  case KILN_BOOL: kiln_cuda_line(c, "b%d[t%d] = (uint8_t)t%d;", buf, lin, v); break;
  case KILN_F16: kiln_cuda_line(c, "b%d[t%d] = kiln_f2h(t%d);", buf, lin, v); break;
  case KILN_BF16: kiln_cuda_line(c, "b%d[t%d] = kiln_f2bf(t%d);", buf, lin, v); break;
  default: kiln_cuda_line(c, "b%d[t%d] = t%d;", buf, lin, v); break;
  }
}

/* ---- casts ----------------------------------------------------------------------------- */

static int cast(kiln_cuda *c, int a, kiln_dtype from, kiln_dtype to, bool saturate) {
  if (from == to) return a;
  const char *rt = kiln_cuda_reg_type(to);
  bool ff = kiln_dtype_is_float(from), tf = kiln_dtype_is_float(to);
  if (to == KILN_BOOL) return def(c, to, "t%d != 0", a);
  if (tf) {
    /* to f16 in one rounding (through double: exact for every int that is no infinity) */
    if (to == KILN_F16) return def(c, to, "kiln_h2f(kiln_f2h((double)t%d))", a);
    if (to == KILN_BF16) return def(c, to, "kiln_bf2f(kiln_f2bf((float)t%d))", a);
    if (kiln_dtype_is_minifloat(to)) {
      char dec[64], enc[64];
      f8_args(dec, sizeof dec, to, false);
      f8_args(enc, sizeof enc, to, true);
      return def(c, to, "kiln_f8f(kiln_ff8((float)t%d, %s, %d), %s)", a, enc, saturate, dec);
    }
    return def(c, to, "(%s)t%d", rt, a);
  }
  int bits = kiln_dtype_bits(to);
  if (ff && bits < 8) { /* out of a 4- or 2-bit range: 0, as ml_dtypes */
    double lo, hi;
    kiln_dtype_range(to, &lo, &hi);
    int i = def(c, KILN_I64, "kiln_f2i64((double)t%d)", a);
    return def(c, to, "(%s)(t%d < %d || t%d > %d ? 0 : t%d)", rt, i, (int)lo, i, (int)hi, i);
  }
  if (bits < 8) /* wrapped to 4 or 2 bits, extended by the target's sign */
    return kiln_dtype_is_signed(to)
               ? def(c, to, "(int8_t)((int8_t)((uint8_t)t%d << %d) >> %d)", a, 8 - bits, 8 - bits)
               : def(c, to, "(uint8_t)((uint8_t)t%d & %d)", a, (1 << bits) - 1);
  if (ff) {
    int i = def(c, KILN_I64, "kiln_f2i64((double)t%d)", a);
    if (to == KILN_U64)
      i = def(c, KILN_I64, "(double)t%d >= 9223372036854775808.0 ? (int64_t)kiln_f2u64((double)t%d) : t%d",
              a, a, i);
    return to == KILN_I64 ? i : def(c, to, "(%s)t%d", rt, i);
  }
  return def(c, to, "(%s)t%d", rt, a); /* C's conversions: extend by the source's sign */
}

/* a's bits as `to` (kx_bitcast): f32 <-> a 32-bit int, f64 <-> a 64-bit one. */
static int bitcast(kiln_cuda *c, int a, kiln_dtype from, kiln_dtype to) {
  const char *rt = kiln_cuda_reg_type(to);
  if (from == KILN_F32) return def(c, to, "(%s)kiln_f32_bits(t%d)", rt, a);
  if (from == KILN_F64) return def(c, to, "(%s)kiln_f64_bits(t%d)", rt, a);
  if (to == KILN_F32) return def(c, to, "kiln_f32_from_bits((uint32_t)t%d)", a);
  return def(c, to, "kiln_f64_from_bits((uint64_t)t%d)", a);
}

/* ---- operators -------------------------------------------------------------------------- */

static int unary(kiln_cuda *c, kiln_unary_op op, kiln_dtype at, kiln_dtype rt, int a) {
  if (rt != (op == KU_ISNAN || (op == KU_NOT && at == KILN_BOOL) ? KILN_BOOL : at))
    return KILN_CUDA_FAIL(c, "unary op %d: result type %s", (int)op, kiln_dtype_name(rt));
  if (kiln_dtype_is_float(at)) {
    const char *f = is_f64(at) ? "" : "f";
    const char *one = is_f64(at) ? "1.0" : "1.0f";
    switch (op) {
    case KU_NEG: return def(c, at, "-t%d", a);
    case KU_ABS: return def(c, at, "fabs%s(t%d)", f, a);
    case KU_SQRT: return def(c, at, "sqrt%s(t%d)", f, a);
    case KU_EXP: return def(c, at, "exp%s(t%d)", f, a);
    case KU_LOG: return def(c, at, "log%s(t%d)", f, a);
    case KU_SIN: return def(c, at, "sin%s(t%d)", f, a);
    case KU_COS: return def(c, at, "cos%s(t%d)", f, a);
    case KU_FLOOR: return def(c, at, "floor%s(t%d)", f, a);
    case KU_CEIL: return def(c, at, "ceil%s(t%d)", f, a);
    case KU_ROUND: return def(c, at, "rint%s(t%d)", f, a); /* ties to even */
    case KU_TANH: return def(c, at, "tanh%s(t%d)", f, a);
    case KU_ERF: return def(c, at, "erf%s(t%d)", f, a);
    case KU_ISNAN: return def(c, KILN_BOOL, "t%d != t%d", a, a);
    case KU_RECIP: return def(c, at, "%s / t%d", one, a);
    case KU_SIGMOID: return def(c, at, "%s / (%s + exp%s(-t%d))", one, one, f, a);
    case KU_TAN: case KU_ASIN: case KU_ACOS: case KU_ATAN: case KU_SINH: case KU_COSH:
    case KU_ASINH: case KU_ACOSH: case KU_ATANH: {
      static const char *names[] = {"tan", "asin", "acos", "atan", "sinh", "cosh",
                                    "asinh", "acosh", "atanh"};
      return def(c, at, "%s%s(t%d)", names[op - KU_TAN], f, a);
    }
    default: break;
    }
  } else {
    const char *t = kiln_cuda_reg_type(at);
    switch (op) {
    case KU_NEG: return def(c, at, "(%s)(0 - (uint64_t)t%d)", t, a);
    case KU_ABS:
      if (!kiln_dtype_is_signed(at)) return a;
      return def(c, at, "t%d < 0 ? (%s)(0 - (uint64_t)t%d) : t%d", a, t, a, a);
    case KU_NOT:
      return at == KILN_BOOL ? def(c, at, "!t%d", a) : def(c, at, "(%s)~t%d", t, a);
    case KU_FLOOR: case KU_CEIL: case KU_ROUND: return a;
    case KU_ISNAN: return def(c, KILN_BOOL, "0");
    default: break;
    }
  }
  return KILN_CUDA_FAIL(c, "unary op %d on %s", (int)op, kiln_dtype_name(at));
}

static int float_binary(kiln_cuda *c, kiln_binary_op op, kiln_dtype t, int a, int b) {
  const char *f = is_f64(t) ? "" : "f";
  char mm = is_f64(t) ? 'd' : 'f';
  static const char *const ops[] = {[KB_ADD] = "+", [KB_SUB] = "-", [KB_MUL] = "*", [KB_DIV] = "/",
                                    [KB_EQ] = "==", [KB_NE] = "!=", [KB_LT] = "<", [KB_LE] = "<=",
                                    [KB_GT] = ">", [KB_GE] = ">="};
  switch (op) {
  case KB_ADD: case KB_SUB: case KB_MUL: case KB_DIV:
    return def(c, t, "t%d %s t%d", a, ops[op], b);
  case KB_EQ: case KB_NE: case KB_LT: case KB_LE: case KB_GT: case KB_GE:
    return def(c, KILN_BOOL, "t%d %s t%d", a, ops[op], b);
  case KB_MOD: return def(c, t, "fmod%s(t%d, t%d)", f, a, b);
  case KB_POW: return def(c, t, "pow%s(t%d, t%d)", f, a, b);
  case KB_MIN: return def(c, t, "kiln_min%c(t%d, t%d)", mm, a, b);
  case KB_MAX: return def(c, t, "kiln_max%c(t%d, t%d)", mm, a, b);
  default: return -2;
  }
}

static int int_binary(kiln_cuda *c, kiln_binary_op op, kiln_dtype t, int a, int b) {
  const char *T = kiln_cuda_reg_type(t), *U = utype(t);
  bool sgn = kiln_dtype_is_signed(t);
  int w = width(t);
  static const char *const cmp[] = {[KB_EQ] = "==", [KB_NE] = "!=", [KB_LT] = "<",
                                    [KB_LE] = "<=", [KB_GT] = ">", [KB_GE] = ">="};
  switch (op) {
  case KB_ADD: return def(c, t, "(%s)((uint64_t)t%d + (uint64_t)t%d)", T, a, b);
  case KB_SUB: return def(c, t, "(%s)((uint64_t)t%d - (uint64_t)t%d)", T, a, b);
  case KB_MUL: return def(c, t, "(%s)((uint64_t)t%d * (uint64_t)t%d)", T, a, b);
  case KB_DIV:
    if (!sgn) return def(c, t, "t%d == 0 ? (%s)0 : (%s)(t%d / t%d)", b, T, T, a, b);
    return def(c, t, "t%d == 0 ? (%s)0 : t%d == -1 ? (%s)(0 - (uint64_t)t%d) : (%s)(t%d / t%d)",
               b, T, b, T, a, T, a, b);
  case KB_MOD:
    if (!sgn) return def(c, t, "t%d == 0 ? (%s)0 : (%s)(t%d %% t%d)", b, T, T, a, b);
    return def(c, t, "t%d == 0 || t%d == -1 ? (%s)0 : (%s)(t%d %% t%d)", b, b, T, T, a, b);
  case KB_POW: /* through double, saturated back (like numpy's float power truncated) */
    if (sgn)
      return def(c, t, "(%s)kiln_clamp_i64(kiln_f2i64(pow((double)t%d, (double)t%d)), "
                 "(int64_t)(%s)((uint64_t)1 << %d), (int64_t)(%s)~((uint64_t)1 << %d))",
                 T, a, b, T, w - 1, T, w - 1);
    return def(c, t, "(%s)kiln_clamp_u64(kiln_f2u64(pow((double)t%d, (double)t%d)), (%s)~(%s)0)",
               T, a, b, T, T);
  case KB_MIN: return def(c, t, "t%d < t%d ? t%d : t%d", a, b, a, b);
  case KB_MAX: return def(c, t, "t%d > t%d ? t%d : t%d", a, b, a, b);
  case KB_EQ: case KB_NE: case KB_LT: case KB_LE: case KB_GT: case KB_GE:
    return def(c, KILN_BOOL, "t%d %s t%d", a, cmp[op], b);
  case KB_AND: return def(c, t, "(%s)(t%d & t%d)", T, a, b);
  case KB_OR: return def(c, t, "(%s)(t%d | t%d)", T, a, b);
  case KB_XOR: return def(c, t, "(%s)(t%d ^ t%d)", T, a, b);
  case KB_SHL:
    return def(c, t, "(%s)t%d >= %d ? (%s)0 : (%s)((%s)t%d << (%s)t%d)", U, b, w, T, T, U, a, U, b);
  case KB_SHR:
    if (sgn) return def(c, t, "(%s)(t%d >> ((%s)t%d >= %d ? %d : (%s)t%d))", T, a, U, b, w, w - 1, U, b);
    return def(c, t, "(%s)t%d >= %d ? (%s)0 : (%s)(t%d >> t%d)", U, b, w, T, T, a, b);
  default: return -2;
  }
}

static int binary(kiln_cuda *c, kiln_binary_op op, kiln_dtype at, kiln_dtype rt, int a, int b) {
  bool cmp = op >= KB_EQ && op <= KB_GE;
  if ((int)op < 0 || op > KB_SHR || rt != (cmp ? KILN_BOOL : at))
    return KILN_CUDA_FAIL(c, "binary op %d: result type %s", (int)op, kiln_dtype_name(rt));
  int r = kiln_dtype_is_float(at) ? float_binary(c, op, at, a, b) : int_binary(c, op, at, a, b);
  if (r == -2) return KILN_CUDA_FAIL(c, "binary op %d on %s", (int)op, kiln_dtype_name(at));
  return r;
}

/* ---- expressions ------------------------------------------------------------------------- */

static int select_expr(kiln_cuda *c, const kiln_expr *x) {
  if (!x->a || !x->b || !x->c || x->a->dtype != KILN_BOOL || x->b->dtype != x->dtype ||
      x->c->dtype != x->dtype)
    return KILN_CUDA_FAIL(c, "ill-typed select");
  if (x->a->kind == KX_CONST) return kiln_cuda_expr(c, x->a->i ? x->b : x->c);
  int cond = kiln_cuda_expr(c, x->a);
  if (cond < 0) return -1;
  if (kx_cannot_fault(x->b) && kx_cannot_fault(x->c)) {
    int t = kiln_cuda_expr(c, x->b), f = t >= 0 ? kiln_cuda_expr(c, x->c) : -1;
    return f < 0 ? -1 : def(c, x->dtype, "t%d ? t%d : t%d", cond, t, f);
  }
  /* a branch, so that the untaken side (maybe an out-of-bounds load) never runs */
  int r = c->ntemps++;
  kiln_cuda_line(c, "%s t%d;", kiln_cuda_reg_type(x->dtype), r);
  int mark = c->nmemo;
  for (int side = 0; side < 2; side++) {
    kiln_cuda_line(c, side ? "} else {" : "if (t%d) {", cond);
    c->indent++;
    int v = kiln_cuda_expr(c, side ? x->c : x->b);
    c->nmemo = mark; /* values of a branch are out of scope after it */
    if (v < 0) return -1;
    kiln_cuda_line(c, "t%d = t%d;", r, v);
    c->indent--;
  }
  kiln_cuda_line(c, "}");
  return r;
}

/* KX_CHECK: the index in [0, n); outside, the run's record gets the violation and this
 * thread stops (its kernel's `kiln_next` label), as the CPU kernel returns. */
static int check_index(kiln_cuda *c, const kiln_expr *x) {
  if (!x->a || !kiln_dtype_is_int(x->a->dtype) || x->i <= 0 || c->check_buf < 0)
    return KILN_CUDA_FAIL(c, "ill-formed index check");
  int raw = kiln_cuda_expr(c, x->a);
  if (raw < 0) return -1;
  bool sgn = kiln_dtype_is_signed(x->a->dtype);
  int r = def(c, KILN_I64, "(int64_t)t%d", raw), idx = r;
  /* the bound: a constant, or a free dim's expression */
  int n = x->b ? kiln_cuda_expr(c, x->b) : def(c, KILN_I64, "(int64_t)%" PRId64, x->i);
  if (n < 0) return -1;
  int kind = 4; /* KILN_CHECK_INDEX_UNSIGNED (rt/check_record.h) */
  if (sgn && x->op) {
    idx = def(c, KILN_I64, "t%d < 0 ? t%d + t%d : t%d", r, r, n, r);
    kind = 3; /* KILN_CHECK_INDEX_FROM_END */
  } else if (sgn) {
    kind = 2; /* KILN_CHECK_INDEX */
  }
  kiln_cuda_line(c, "if ((uint64_t)t%d >= (uint64_t)t%d) {", idx, n);
  fprintf(c->o, "%*skiln_check_fail(b%d, ", 2 * c->indent + 2, "", c->check_buf);
  kiln_cuda_string(c->o, x->what ? x->what : "?");
  fputs(", ", c->o);
  kiln_cuda_string(c->o, c->st && c->st->name ? c->st->name : "-");
  fprintf(c->o, ", \"\", %d, t%d, t%d);\n", kind, r, n);
  kiln_cuda_line(c, "  goto %s;", c->exit);
  kiln_cuda_line(c, "}");
  return idx;
}

static int uncached(kiln_cuda *c, const kiln_expr *x) {
  switch (x->kind) {
  case KX_CONST: return emit_const(c, x);
  case KX_VAR:
    if (x->axis < 0 || x->axis >= KILN_MAX_AXES || !c->axis[x->axis][0])
      return KILN_CUDA_FAIL(c, "axis %d is not defined here", x->axis);
    return def(c, KILN_I64, "%s", c->axis[x->axis]);
  case KX_ACC:
    if (c->acc < 0 || c->acc_dtype != x->dtype)
      return KILN_CUDA_FAIL(c, "accumulator used outside a post expression or ill-typed");
    return c->acc;
  case KX_LOAD: {
    if (x->buf < 0 || x->buf >= c->k->nbufs || c->k->bufs[x->buf].dtype != x->dtype)
      return KILN_CUDA_FAIL(c, "ill-typed load from buffer %d", x->buf);
    for (int i = 0; i < c->nshared; i++)
      if (c->shared[i].buf == x->buf) return kiln_cuda_shared_load(c, i, x);
    int lin = kiln_cuda_index(c, x->buf, x->idx, x->nidx, false);
    return lin < 0 ? -1 : kiln_cuda_load(c, x->buf, lin);
  }
  case KX_UNARY: {
    if (!x->a) return KILN_CUDA_FAIL(c, "unary without operand");
    int a = kiln_cuda_expr(c, x->a);
    return a < 0 ? -1 : unary(c, (kiln_unary_op)x->op, x->a->dtype, x->dtype, a);
  }
  case KX_BINARY: {
    if (!x->a || !x->b || x->a->dtype != x->b->dtype)
      return KILN_CUDA_FAIL(c, "binary op %d on operands of different types", x->op);
    if (x->op >= KB_EQ && x->op <= KB_GE && kiln_cuda_narrow(c, x->a) &&
        kiln_cuda_narrow(c, x->b)) { /* a bounds test on 32-bit indices */
      int a = kiln_cuda_expr32(c, x->a), b = a < 0 ? -1 : kiln_cuda_expr32(c, x->b);
      return b < 0 ? -1 : binary(c, (kiln_binary_op)x->op, KILN_I32, KILN_BOOL, a, b);
    }
    int a = kiln_cuda_expr(c, x->a), b = a < 0 ? -1 : kiln_cuda_expr(c, x->b);
    bool f32 = x->dtype == KILN_F32, f64 = x->dtype == KILN_F64;
    if (b >= 0 && x->i && (f32 || f64) && x->op <= KB_MUL) { /* exact: NVRTC contracts a - b */
      static const char *const fn[] = {[KB_ADD] = "add", [KB_SUB] = "sub", [KB_MUL] = "mul"};
      return def(c, x->dtype, "__%c%s_rn(t%d, t%d)", f32 ? 'f' : 'd', fn[x->op], a, b);
    }
    return b < 0 ? -1 : binary(c, (kiln_binary_op)x->op, x->a->dtype, x->dtype, a, b);
  }
  case KX_SELECT: return select_expr(c, x);
  case KX_CHECK: return check_index(c, x);
  case KX_CALL: return KILN_CUDA_FAIL(c, "a string function (CPU only)");
  case KX_DIM:
    if (x->i < 0 || x->i >= c->k->nsyms) return KILN_CUDA_FAIL(c, "no run-time dim %d", (int)x->i);
    return def(c, KILN_I64, "kiln_d%d", (int)x->i);
  case KX_CAST: {
    if (!x->a || !kiln_cuda_reg_type(x->a->dtype)) return KILN_CUDA_FAIL(c, "bad cast");
    int a = kiln_cuda_expr(c, x->a);
    if (a < 0) return -1;
    return x->op == KX_CAST_BITS ? bitcast(c, a, x->a->dtype, x->dtype)
                                 : cast(c, a, x->a->dtype, x->dtype, x->op != KX_CAST_NOSAT);
  }
  }
  return KILN_CUDA_FAIL(c, "unknown expression kind %d", (int)x->kind);
}

int kiln_cuda_expr(kiln_cuda *c, const kiln_expr *x) {
  if (!x) return KILN_CUDA_FAIL(c, "missing expression");
  if (!kiln_cuda_reg_type(x->dtype))
    return KILN_CUDA_FAIL(c, "expression of type %s", kiln_dtype_name(x->dtype));
  int t = memo_find(c, x, false);
  if (t >= 0) return t;
  if (kiln_cuda_narrow(c, x)) { /* computed in int32, widened for its 64-bit reader */
    t = kiln_cuda_expr32(c, x);
    if (t >= 0) t = def(c, KILN_I64, "t%d", t);
  } else {
    t = uncached(c, x);
  }
  if (t >= 0) memo_put(c, x, t, false);
  return t;
}

int kiln_cuda_expr32(kiln_cuda *c, const kiln_expr *x) {
  int t = memo_find(c, x, true);
  if (t >= 0) return t;
  switch (x->kind) {
  case KX_CONST: t = def(c, KILN_I32, "%" PRId64, x->i); break;
  case KX_VAR:
    if (!c->axis[x->axis][0]) return KILN_CUDA_FAIL(c, "axis %d is not defined here", x->axis);
    t = def(c, KILN_I32, "%s", c->axis[x->axis]);
    break;
  case KX_BINARY: {
    static const char *const ops[] = {[KB_ADD] = "+", [KB_SUB] = "-", [KB_MUL] = "*",
                                      [KB_DIV] = "/", [KB_MOD] = "%"};
    int a = kiln_cuda_expr32(c, x->a), b = a < 0 ? -1 : kiln_cuda_expr32(c, x->b);
    if (b < 0) return -1;
    if (x->op == KB_MIN || x->op == KB_MAX)
      t = def(c, KILN_I32, "t%d %c t%d ? t%d : t%d", a, x->op == KB_MIN ? '<' : '>', b, a, b);
    else
      t = def(c, KILN_I32, "t%d %s t%d", a, ops[x->op], b);
    break;
  }
  default: return KILN_CUDA_FAIL(c, "expression kind %d is no 32-bit index", (int)x->kind);
  }
  memo_put(c, x, t, true);
  return t;
}
