/* Symbolic dims in the graph IR: a dim known only at run time is a polynomial over the
 * graph's named free dims (syms: "N", "seq"), a sum of terms coef * N^a * seq^b. That is
 * what the ops kiln runs with free dims compute (broadcasts, products, Reshape's
 * flattenings, Concat's sums) and it has one normal form, so two dims are equal exactly
 * when their polynomials are. A value keeps its dims' hints (their value at the syms'
 * hints) in kiln_value.dims, which every static pass reads as before. */
#ifndef KILN_IR_SYMDIM_H
#define KILN_IR_SYMDIM_H

#include "ir/util.h"

#define KILN_MAX_SYMS 8       /* free dims of one graph (and run-time dims of one kernel) */
#define KILN_SYMDIM_TERMS 6

typedef struct kiln_symdim {
  int nterms; /* 0: the constant 0 */
  int64_t coef[KILN_SYMDIM_TERMS];
  uint8_t pow[KILN_SYMDIM_TERMS][KILN_MAX_SYMS];
} kiln_symdim;

kiln_symdim kiln_symdim_const(int64_t c);
kiln_symdim kiln_symdim_sym(int sym);
/* a + b, a * b; false when the result has too many terms or a coefficient overflows */
bool kiln_symdim_add(const kiln_symdim *a, const kiln_symdim *b, kiln_symdim *out);
bool kiln_symdim_mul(const kiln_symdim *a, const kiln_symdim *b, kiln_symdim *out);
bool kiln_symdim_equal(const kiln_symdim *a, const kiln_symdim *b);
/* Its constant value in *c when it has no sym. */
bool kiln_symdim_is_const(const kiln_symdim *a, int64_t *c);
/* Its value at the syms' values vals; false on overflow. */
bool kiln_symdim_eval(const kiln_symdim *a, const int64_t *vals, int64_t *out);
/* "N*seq+1" into buf, syms named by names. */
const char *kiln_symdim_str(const kiln_symdim *a, const char *const *names, char *buf,
                            size_t size);

#endif
