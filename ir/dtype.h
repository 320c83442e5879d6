/* Element types: sizes, classes, and scalar conversion used by constant folding and I/O. */
#ifndef KILN_IR_DTYPE_H
#define KILN_IR_DTYPE_H

#include "kiln.h"
#include <stdbool.h>
#include <stdint.h>

#define KILN_DTYPE_LAST KILN_I2 /* the highest ONNX element type kiln has */
bool kiln_dtype_valid(kiln_dtype t);   /* a numeric type or bool kiln computes with */
/* kiln_dtype_valid or KILN_STRING: what a tensor may hold. Strings reach only the ops
 * flagged KILN_OP_STRINGS (ir/op.h), the gate passes/infer.c keeps. */
bool kiln_dtype_known(kiln_dtype t);
bool kiln_dtype_is_float(kiln_dtype t); /* the minifloats, f16, bf16, f32, f64 */
bool kiln_dtype_is_minifloat(kiln_dtype t); /* the 8-bit floats, f4e2m1: codes in a byte */
/* The bits of an element's value: 4 or 2 for the types ONNX files pack, else 8 x size. */
int kiln_dtype_bits(kiln_dtype t);
/* The bytes of n elements packed as in ONNX files (raw_data), and the conversions between
 * that and kiln's one element per byte. */
int64_t kiln_packed_bytes(kiln_dtype t, int64_t n);
void kiln_unpack_elems(kiln_dtype t, const uint8_t *packed, int64_t n, uint8_t *out);
void kiln_pack_elems(kiln_dtype t, const uint8_t *elems, int64_t n, uint8_t *packed);
/* An integer's value wrapped to t's width (two's complement), as a narrowing cast does. */
int64_t kiln_wrap_int(kiln_dtype t, int64_t v);
bool kiln_dtype_is_signed(kiln_dtype t); /* signed ints (not floats) */
bool kiln_dtype_is_int(kiln_dtype t);   /* signed or unsigned ints, not bool */
/* An integer type's least and greatest values (64-bit ones rounded to doubles). */
void kiln_dtype_range(kiln_dtype t, double *lo, double *hi);

/* Reading and writing one element of a dense buffer as double / int64 (exact for ints). */
double kiln_load_f64(kiln_dtype t, const void *base, int64_t i);
int64_t kiln_load_i64(kiln_dtype t, const void *base, int64_t i);
void kiln_store_f64(kiln_dtype t, void *base, int64_t i, double v);
void kiln_store_i64(kiln_dtype t, void *base, int64_t i, int64_t v);

float kiln_f16_to_f32(uint16_t h);
uint16_t kiln_f32_to_f16(float f);  /* round to nearest even */
float kiln_bf16_to_f32(uint16_t h);
uint16_t kiln_f32_to_bf16(float f); /* round to nearest even */
/* A minifloat's value, and the code nearest f (ties to even). Saturating (ONNX Cast's
 * default), a value beyond the type's largest finite one, infinities included, becomes that
 * largest; else it becomes NaN (E5M2: infinity; f4e2m1, which has neither, saturates). The
 * FNUZ types have no -0 and one NaN. f8e8m0 (2^(code - 127), 0xFF NaN) takes the exponent,
 * rounded down; ONNX Cast's round_mode is the op's to apply. kiln_minifloat_format_of
 * does not describe f8e8m0. */
float kiln_minifloat_to_f32(kiln_dtype t, uint8_t b);
uint8_t kiln_f32_to_minifloat(kiln_dtype t, float f, bool saturate);
/* f rounded to minifloat type t (to its code and back), as a cast to t computes it. */
float kiln_minifloat_round(kiln_dtype t, float f, bool saturate);

/* A minifloat type's format, for the code generators. NaN codes: `fn` types (no infinity)
 * use exponent and mantissa all ones, `uz` types the sign bit alone, `finite` ones have
 * none (a NaN becomes a zero of the other sign, as ml_dtypes makes it); the rest are IEEE. */
typedef struct kiln_minifloat_format {
  int bits, mbits, bias; /* exponent bits: bits - 1 - mbits */
  bool fn, uz, finite;
  uint8_t max_code;      /* the largest finite value, positive */
  float max;
} kiln_minifloat_format;
kiln_minifloat_format kiln_minifloat_format_of(kiln_dtype t);

#endif
