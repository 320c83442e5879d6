#include "ir/dtype.h"

#include <math.h>
#include <string.h>

size_t kiln_dtype_size(kiln_dtype t) {
  switch (t) {
  case KILN_BOOL: case KILN_U8: case KILN_I8: return 1;
  case KILN_F8E4M3FN: case KILN_F8E4M3FNUZ: case KILN_F8E5M2: case KILN_F8E5M2FNUZ: return 1;
  case KILN_U4: case KILN_I4: case KILN_F4E2M1: case KILN_U2: case KILN_I2: return 1;
  case KILN_F8E8M0: return 1;
  case KILN_U16: case KILN_I16: case KILN_F16: case KILN_BF16: return 2;
  case KILN_U32: case KILN_I32: case KILN_F32: return 4;
  case KILN_U64: case KILN_I64: case KILN_F64: return 8;
  case KILN_STRING: return sizeof(char *); /* a pointer (rt/strings.h) */
  default: return 0;
  }
}

const char *kiln_dtype_name(kiln_dtype t) {
  switch (t) {
  case KILN_F32: return "f32";   case KILN_U8: return "u8";    case KILN_I8: return "i8";
  case KILN_U16: return "u16";   case KILN_I16: return "i16";  case KILN_I32: return "i32";
  case KILN_I64: return "i64";   case KILN_STRING: return "string"; case KILN_BOOL: return "bool";
  case KILN_F16: return "f16";   case KILN_F64: return "f64";  case KILN_U32: return "u32";
  case KILN_U64: return "u64";   case KILN_BF16: return "bf16";
  case KILN_F8E4M3FN: return "f8e4m3fn";     case KILN_F8E4M3FNUZ: return "f8e4m3fnuz";
  case KILN_F8E5M2: return "f8e5m2";         case KILN_F8E5M2FNUZ: return "f8e5m2fnuz";
  case KILN_U4: return "u4"; case KILN_I4: return "i4"; case KILN_F4E2M1: return "f4e2m1";
  case KILN_U2: return "u2"; case KILN_I2: return "i2"; case KILN_F8E8M0: return "f8e8m0";
  default: return "undefined";
  }
}

bool kiln_dtype_valid(kiln_dtype t) { return t != KILN_STRING && kiln_dtype_size(t) != 0; }
bool kiln_dtype_known(kiln_dtype t) { return kiln_dtype_size(t) != 0; }
bool kiln_dtype_is_float(kiln_dtype t) {
  return t == KILN_F16 || t == KILN_BF16 || t == KILN_F32 || t == KILN_F64 || kiln_dtype_is_minifloat(t);
}
bool kiln_dtype_is_minifloat(kiln_dtype t) {
  return (t >= KILN_F8E4M3FN && t <= KILN_F8E5M2FNUZ) || t == KILN_F4E2M1 || t == KILN_F8E8M0;
}
bool kiln_dtype_is_signed(kiln_dtype t) {
  return t == KILN_I8 || t == KILN_I16 || t == KILN_I32 || t == KILN_I64 || t == KILN_I4 ||
         t == KILN_I2;
}
bool kiln_dtype_is_int(kiln_dtype t) {
  return kiln_dtype_is_signed(t) || t == KILN_U8 || t == KILN_U16 || t == KILN_U32 ||
         t == KILN_U64 || t == KILN_U4 || t == KILN_U2;
}

int kiln_dtype_bits(kiln_dtype t) {
  switch (t) {
  case KILN_U4: case KILN_I4: case KILN_F4E2M1: return 4;
  case KILN_U2: case KILN_I2: return 2;
  default: return 8 * (int)kiln_dtype_size(t);
  }
}

int64_t kiln_packed_bytes(kiln_dtype t, int64_t n) {
  int bits = kiln_dtype_bits(t), per = bits < 8 ? 8 / bits : 1; /* no overflow at any n */
  return bits < 8 ? n / per + (n % per != 0) : n * (int64_t)kiln_dtype_size(t);
}

void kiln_unpack_elems(kiln_dtype t, const uint8_t *packed, int64_t n, uint8_t *out) {
  int bits = kiln_dtype_bits(t), mask = (1 << bits) - 1;
  for (int64_t i = 0; i < n; i++) {
    int v = packed[i * bits / 8] >> (i * bits % 8) & mask;
    out[i] = (uint8_t)(kiln_dtype_is_signed(t) ? kiln_wrap_int(t, v) : v);
  }
}

void kiln_pack_elems(kiln_dtype t, const uint8_t *elems, int64_t n, uint8_t *packed) {
  int bits = kiln_dtype_bits(t), mask = (1 << bits) - 1;
  memset(packed, 0, (size_t)kiln_packed_bytes(t, n));
  for (int64_t i = 0; i < n; i++)
    packed[i * bits / 8] |= (uint8_t)((elems[i] & mask) << (i * bits % 8));
}

int64_t kiln_wrap_int(kiln_dtype t, int64_t v) {
  int bits = kiln_dtype_bits(t);
  if (bits >= 64) return v;
  uint64_t m = (UINT64_C(1) << bits) - 1, u = (uint64_t)v & m;
  if (kiln_dtype_is_signed(t) && (u >> (bits - 1))) u |= ~m; /* sign-extend */
  return (int64_t)u;
}

void kiln_dtype_range(kiln_dtype t, double *lo, double *hi) {
  int bits = kiln_dtype_bits(t);
  bool sgn = kiln_dtype_is_signed(t);
  *lo = sgn ? -ldexp(1, bits - 1) : 0;
  *hi = ldexp(1, sgn ? bits - 1 : bits) - 1;
}

float kiln_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (man << 13);
  } else if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: value = man * 2^-24 */
      float f = ldexpf((float)man, -24);
      return sign ? -f : f;
    }
  } else {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t kiln_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  uint32_t absx = x & 0x7fffffff;
  if (absx >= 0x7f800000) /* inf or nan */
    return sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0);
  if (absx >= 0x477ff000) return sign | 0x7c00; /* rounds past the largest half: inf */
  if (absx < 0x38800000) { /* below the smallest normal half: subnormal or zero */
    float a;
    memcpy(&a, &absx, 4);
    return sign | (uint16_t)lrintf(a * 16777216.0f); /* a / 2^-24, ties to even */
  }
  uint32_t mant = absx + 0xfff + ((absx >> 13) & 1); /* round to nearest even */
  return sign | (uint16_t)((mant - 0x38000000) >> 13);
}

float kiln_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t kiln_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40); /* quiet nan */
  return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

kiln_minifloat_format kiln_minifloat_format_of(kiln_dtype t) {
  switch (t) {
  case KILN_F8E4M3FN: return (kiln_minifloat_format){8, 3, 7, true, false, false, 0x7e, 448.0f};
  case KILN_F8E4M3FNUZ: return (kiln_minifloat_format){8, 3, 8, false, true, false, 0x7f, 240.0f};
  case KILN_F8E5M2: return (kiln_minifloat_format){8, 2, 15, false, false, false, 0x7b, 57344.0f};
  case KILN_F4E2M1: return (kiln_minifloat_format){4, 1, 1, false, false, true, 0x7, 6.0f};
  default: return (kiln_minifloat_format){8, 2, 16, false, true, false, 0x7f, 57344.0f}; /* E5M2FNUZ */
  }
}

float kiln_minifloat_to_f32(kiln_dtype t, uint8_t b) {
  if (t == KILN_F8E8M0) return b == 0xff ? NAN : ldexpf(1.0f, b - 127);
  kiln_minifloat_format f = kiln_minifloat_format_of(t);
  int sbit = 1 << (f.bits - 1), emask = (1 << (f.bits - 1 - f.mbits)) - 1;
  int e = (b >> f.mbits) & emask, m = b & ((1 << f.mbits) - 1);
  bool neg = b & sbit;
  if (f.finite ? false : f.uz ? b == sbit : f.fn ? (b & (sbit - 1)) == sbit - 1 : e == emask && m)
    return neg && !f.uz ? -NAN : NAN;
  if (!f.fn && !f.uz && !f.finite && e == emask) return neg ? -INFINITY : INFINITY;
  float v = e ? ldexpf((float)(m + (1 << f.mbits)), e - f.bias - f.mbits)
              : ldexpf((float)m, 1 - f.bias - f.mbits);
  return neg ? -v : v;
}

uint8_t kiln_f32_to_minifloat(kiln_dtype t, float x, bool saturate) {
  if (t == KILN_F8E8M0) { /* the exponent, rounded down (Cast's round_mode: ops/elementwise.c) */
    uint32_t u;
    memcpy(&u, &x, 4);
    return (uint8_t)(u >> 23 & 0xff);
  }
  kiln_minifloat_format f = kiln_minifloat_format_of(t);
  int sbit = 1 << (f.bits - 1), emask = (1 << (f.bits - 1 - f.mbits)) - 1;
  bool ieee = !f.fn && !f.uz && !f.finite;
  uint8_t s = signbit(x) ? (uint8_t)sbit : 0;
  /* f4e2m1 has no NaN: ml_dtypes makes one -0, or +0 when its sign bit is set */
  uint8_t nan = f.uz ? (uint8_t)sbit : f.finite ? (uint8_t)(s ^ sbit) : (uint8_t)(s | (sbit - 1));
  uint8_t over = saturate || f.finite ? (uint8_t)(s | f.max_code)
                 : ieee ? (uint8_t)(s | emask << f.mbits) : nan;
  if (isnan(x)) return nan;
  float a = fabsf(x);
  if (isinf(a)) return over;
  int e2;
  frexpf(a, &e2); /* a = [0.5, 1) * 2^e2 */
  int emin = 1 - f.bias, q = (e2 - 1 > emin ? e2 - 1 : emin) - f.mbits;
  float r = ldexpf(rintf(ldexpf(a, -q)), q); /* to the type's grid, ties to even */
  if (r > f.max) return over;
  if (r == 0) return f.uz ? 0 : s;
  frexpf(r, &e2);
  int e = e2 - 1;
  if (e < emin) return (uint8_t)(s | (int)ldexpf(r, f.bias - 1 + f.mbits));
  int m = (int)ldexpf(ldexpf(r, -e) - 1.0f, f.mbits);
  return (uint8_t)(s | (e + f.bias) << f.mbits | m);
}

float kiln_minifloat_round(kiln_dtype t, float f, bool saturate) {
  return kiln_minifloat_to_f32(t, kiln_f32_to_minifloat(t, f, saturate));
}

double kiln_load_f64(kiln_dtype t, const void *base, int64_t i) {
  if (kiln_dtype_is_minifloat(t)) return kiln_minifloat_to_f32(t, ((const uint8_t *)base)[i]);
  switch (t) {
  case KILN_F32: return ((const float *)base)[i];
  case KILN_F64: return ((const double *)base)[i];
  case KILN_F16: return kiln_f16_to_f32(((const uint16_t *)base)[i]);
  case KILN_BF16: return kiln_bf16_to_f32(((const uint16_t *)base)[i]);
  case KILN_U64: return (double)((const uint64_t *)base)[i];
  default: return (double)kiln_load_i64(t, base, i);
  }
}

int64_t kiln_load_i64(kiln_dtype t, const void *base, int64_t i) {
  switch (t) {
  case KILN_BOOL: return ((const uint8_t *)base)[i] != 0;
  case KILN_U8: case KILN_U4: case KILN_U2: return ((const uint8_t *)base)[i];
  case KILN_I8: case KILN_I4: case KILN_I2: return ((const int8_t *)base)[i];
  case KILN_U16: return ((const uint16_t *)base)[i];
  case KILN_I16: return ((const int16_t *)base)[i];
  case KILN_U32: return ((const uint32_t *)base)[i];
  case KILN_I32: return ((const int32_t *)base)[i];
  case KILN_U64: return (int64_t)((const uint64_t *)base)[i];
  case KILN_I64: case KILN_STRING: return ((const int64_t *)base)[i];
  default: return (int64_t)kiln_load_f64(t, base, i);
  }
}

void kiln_store_f64(kiln_dtype t, void *base, int64_t i, double v) {
  /* an f8 register holds a value of the type (casts round): a store keeps it exactly, an
   * infinity from a cast that does not saturate too */
  if (kiln_dtype_is_minifloat(t)) {
    ((uint8_t *)base)[i] = kiln_f32_to_minifloat(t, (float)v, false);
    return;
  }
  switch (t) {
  case KILN_F32: ((float *)base)[i] = (float)v; break;
  case KILN_F64: ((double *)base)[i] = v; break;
  case KILN_F16: ((uint16_t *)base)[i] = kiln_f32_to_f16((float)v); break;
  case KILN_BF16: ((uint16_t *)base)[i] = kiln_f32_to_bf16((float)v); break;
  case KILN_BOOL: ((uint8_t *)base)[i] = v != 0; break;
  /* out-of-range and NaN values saturate (NaN is 0), as kiln's float->int casts do */
  case KILN_U64: ((uint64_t *)base)[i] = !(v > 0) ? 0 : v >= 0x1p64 ? UINT64_MAX : (uint64_t)v; break;
  default:
    kiln_store_i64(t, base, i, v != v ? 0 : v >= 0x1p63 ? INT64_MAX : v < -0x1p63 ? INT64_MIN
                                                                          : (int64_t)v);
    break;
  }
}

void kiln_store_i64(kiln_dtype t, void *base, int64_t i, int64_t v) {
  switch (t) {
  case KILN_BOOL: ((uint8_t *)base)[i] = v != 0; break;
  case KILN_U8: ((uint8_t *)base)[i] = (uint8_t)v; break;
  case KILN_I8: ((int8_t *)base)[i] = (int8_t)v; break;
  case KILN_U4: case KILN_I4: case KILN_U2: case KILN_I2:
    ((int8_t *)base)[i] = (int8_t)kiln_wrap_int(t, v); break;
  case KILN_U16: ((uint16_t *)base)[i] = (uint16_t)v; break;
  case KILN_I16: ((int16_t *)base)[i] = (int16_t)v; break;
  case KILN_U32: ((uint32_t *)base)[i] = (uint32_t)v; break;
  case KILN_I32: ((int32_t *)base)[i] = (int32_t)v; break;
  case KILN_U64: ((uint64_t *)base)[i] = (uint64_t)v; break;
  case KILN_I64: case KILN_STRING: ((int64_t *)base)[i] = v; break;
  default: kiln_store_f64(t, base, i, (double)v); break;
  }
}
