/* Symbolic dims in the graph IR: a dim known only at run time is a polynomial over the
 * graph's named free dims (syms: "N", "seq"), a sum of terms coef * N^a * seq^b. That is
 * what the ops kiln runs with free dims compute (broadcasts, products, Reshape's
 * flattenings, Concat's sums) and it has one normal form, so two dims are equal exactly
 * when their polynomials are. A floor or ceil division (a strided Conv's or pool's
 * (H + 2p - k) / s + 1) is a derived sym, floor(P / d) of the syms before it, itself in
 * one normal form (kiln_symdim_floordiv), so the division becomes one more sym the
 * polynomials use and a run computes from the others. A value keeps its dims' hints
 * (their value at the syms' hints) in kiln_value.dims, which every static pass reads as
 * before. */
#ifndef KILN_IR_SYMDIM_H
#define KILN_IR_SYMDIM_H

#include "ir/util.h"

#define KILN_MAX_SYMS 32      /* free dims of one graph (and run-time dims of one kernel) */
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
/* Is it sym s itself (1 * s)? Then *s. */
bool kiln_symdim_is_sym(const kiln_symdim *a, int *s);
/* Its constant value in *c when it has no sym. */
bool kiln_symdim_is_const(const kiln_symdim *a, int64_t *c);
/* Its value at the syms' values vals; false on overflow. */
bool kiln_symdim_eval(const kiln_symdim *a, const int64_t *vals, int64_t *out);
/* "N*seq+1" into buf, syms named by names. */
/* Sym s of a table is free (den 0: bound from an input's shape), derived: floor(num /
 * den) of the syms before it, den >= 2, or a data sym (den KILN_SYMDIV_DATA): a size that a
 * kernel computes from values during a run (NonZero's count) and writes into the run's
 * dims, at most num, a polynomial of the free syms, at which memory is planned. */
typedef struct kiln_symdiv {
  kiln_symdim num;
  int64_t den;
} kiln_symdiv;

#define KILN_SYMDIV_DATA (-1)

/* vals[s] for each data sym s < n: its bound (before a run); false on overflow. */
bool kiln_symdim_bound_data(const kiln_symdiv *defs, int n, int64_t *vals);
/* Does a term of a mention sym s? */
bool kiln_symdim_uses(const kiln_symdim *a, int s);

/* floor(a / den), den >= 1, over syms defined by defs[0 .. ndefs): *rest plus, unless the
 * division is exact (div->den 0 then), the derived sym floor(div->num / div->den), which
 * the caller finds or adds in its table. Normal form: a division of a derived sym
 * plus a constant is one division of that sym's numerator (floor((floor(P/a) + c) / b) =
 * floor((P + c*a) / (a*b))), whole multiples of den and the constant's quotient move into
 * *rest, the numerator's constant lies in [0, den) and no factor divides den and every
 * coefficient. False when the terms overflow. */
bool kiln_symdim_floordiv(const kiln_symdiv *defs, int ndefs, const kiln_symdim *a, int64_t den,
                          kiln_symdim *rest, kiln_symdiv *div);
/* vals[s] for each derived sym s < n from the ones before it; false on overflow. */
bool kiln_symdim_derive(const kiln_symdiv *defs, int n, int64_t *vals);

const char *kiln_symdim_str(const kiln_symdim *a, const char *const *names, char *buf,
                            size_t size);

#endif
