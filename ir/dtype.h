/* Element types: sizes, classes, and scalar conversion used by constant folding and I/O. */
#ifndef KILN_IR_DTYPE_H
#define KILN_IR_DTYPE_H

#include "kiln.h"
#include <stdbool.h>
#include <stdint.h>

bool kiln_dtype_valid(kiln_dtype t);   /* a numeric type or bool kiln computes with */
bool kiln_dtype_is_float(kiln_dtype t); /* f16, bf16, f32, f64 */
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

#endif
