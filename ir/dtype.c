#include "ir/dtype.h"

#include <math.h>
#include <string.h>

size_t kiln_dtype_size(kiln_dtype t) {
  switch (t) {
  case KILN_BOOL: case KILN_U8: case KILN_I8: return 1;
  case KILN_U16: case KILN_I16: case KILN_F16: case KILN_BF16: return 2;
  case KILN_U32: case KILN_I32: case KILN_F32: return 4;
  case KILN_U64: case KILN_I64: case KILN_F64: return 8;
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
  default: return "undefined";
  }
}

bool kiln_dtype_valid(kiln_dtype t) { return t != KILN_STRING && kiln_dtype_size(t) != 0; }
bool kiln_dtype_is_float(kiln_dtype t) {
  return t == KILN_F16 || t == KILN_BF16 || t == KILN_F32 || t == KILN_F64;
}
bool kiln_dtype_is_signed(kiln_dtype t) {
  return t == KILN_I8 || t == KILN_I16 || t == KILN_I32 || t == KILN_I64;
}
bool kiln_dtype_is_int(kiln_dtype t) {
  return kiln_dtype_is_signed(t) || t == KILN_U8 || t == KILN_U16 || t == KILN_U32 ||
         t == KILN_U64;
}

void kiln_dtype_range(kiln_dtype t, double *lo, double *hi) {
  int bits = (int)kiln_dtype_size(t) * 8;
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

double kiln_load_f64(kiln_dtype t, const void *base, int64_t i) {
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
  case KILN_U8: return ((const uint8_t *)base)[i];
  case KILN_I8: return ((const int8_t *)base)[i];
  case KILN_U16: return ((const uint16_t *)base)[i];
  case KILN_I16: return ((const int16_t *)base)[i];
  case KILN_U32: return ((const uint32_t *)base)[i];
  case KILN_I32: return ((const int32_t *)base)[i];
  case KILN_U64: return (int64_t)((const uint64_t *)base)[i];
  case KILN_I64: return ((const int64_t *)base)[i];
  default: return (int64_t)kiln_load_f64(t, base, i);
  }
}

void kiln_store_f64(kiln_dtype t, void *base, int64_t i, double v) {
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
  case KILN_U16: ((uint16_t *)base)[i] = (uint16_t)v; break;
  case KILN_I16: ((int16_t *)base)[i] = (int16_t)v; break;
  case KILN_U32: ((uint32_t *)base)[i] = (uint32_t)v; break;
  case KILN_I32: ((int32_t *)base)[i] = (int32_t)v; break;
  case KILN_U64: ((uint64_t *)base)[i] = (uint64_t)v; break;
  case KILN_I64: ((int64_t *)base)[i] = v; break;
  default: kiln_store_f64(t, base, i, (double)v); break;
  }
}
