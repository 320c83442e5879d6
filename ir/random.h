/* Random numbers in kernel IR: a counter-based generator, so that a value depends only on
 * the op's key (its seed) and the element's index. Each backend computes it with the
 * kernel IR's own u64 multiply, xor and shift, so JIT, AOT, the CUDA emitter and the
 * interpreter give the same bits, at any thread count, and the loops vectorize.
 *
 * The generator is SplitMix64 read at an index: element i of key k is
 * mix64(k + (i + 1) * 0x9E3779B97F4A7C15), mix64 being Stafford's variant 13 finalizer
 * (SplitMix64's output function; the sequence passes BigCrush). */
#ifndef KILN_IR_RANDOM_H
#define KILN_IR_RANDOM_H

#include "ir/graph.h"
#include "ir/kernel.h"

/* The key of node n's stream: from its `seed` attribute (int or float; equal seeds give
 * equal streams, whatever the op), or, without one, from a key drawn from the clock once
 * per process and the node's name: every compile of a model in one process (the program
 * and `kiln verify`'s reference agree) gives the same numbers, each run repeats them, and
 * another process draws others. */
uint64_t kiln_random_key(const kiln_node *n);

/* The 64 random bits of element `counter` (an i64 expression) of stream `key`, as a u64
 * expression. */
kiln_expr *kiln_random_bits(kiln_kernel *k, uint64_t key, kiln_expr *counter);
/* The top `bits` (<= 53) bits of a u64 random expression as an f64 in [0, 1), exact. */
kiln_expr *kiln_random_unit(kiln_kernel *k, kiln_expr *random_bits, int bits);
/* A standard normal f64 for element `counter`: Box-Muller on the uniforms of counters
 * 2 * counter and 2 * counter + 1 (f64 log, cos and sqrt). */
kiln_expr *kiln_random_normal(kiln_kernel *k, uint64_t key, kiln_expr *counter);

/* The row-major index of the element at vars[0..rank-1] in dims, as an i64 expression. */
kiln_expr *kiln_linear_index(kiln_kernel *k, int rank, const int64_t *dims,
                             kiln_expr *const *vars);

#endif
