/* What symbolic inference and lowering share (passes/sym_points.c): a node's free dims are
 * found by running its op's static code (infer, lower) at the syms' hints and at three
 * more points of the syms (distinct primes, so that different polynomials differ), and
 * matching each number that changes to a dim expression of the node's values that takes
 * the same value at every point. */
#ifndef KILN_PASSES_SYM_POINTS_H
#define KILN_PASSES_SYM_POINTS_H

#include "ir/graph.h"

#define KILN_SYM_NPOINTS 3
#define KILN_SYM_MAX_CANDS 256

/* The syms' values at point p (0 .. KILN_SYM_NPOINTS-1). */
void kiln_sym_point(int p, int64_t *vals);

/* The node reads or writes a value with a free dim. */
bool kiln_node_is_symbolic(const kiln_graph *g, const kiln_node *n);

/* Dim expressions the node's numbers may be: its values' (inputs', and with outputs its
 * outputs') free dims, products of adjacent dims, sums of one dim over the inputs. */
int kiln_sym_candidates(const kiln_graph *g, const kiln_node *n, bool outputs,
                        kiln_symdim *cands, int max);

/* The candidate taking value at[p] at point p and at_hint at the hints (unless at_hint is
 * -1), or NULL. */
const kiln_symdim *kiln_sym_match(const kiln_graph *g, const kiln_symdim *cands, int n,
                                  int64_t at_hint, const int64_t *at);

/* Sets the dims of the node's inputs (and outputs) to their values at point p, saving
 * what they were in saved[] (one row of KILN_MAX_RANK per input, then per output);
 * kiln_sym_restore puts them back. */
void kiln_sym_set_point(kiln_graph *g, const kiln_node *n, bool outputs, int p,
                        int64_t (*saved)[KILN_MAX_RANK]);
void kiln_sym_restore(kiln_graph *g, const kiln_node *n, bool outputs,
                      int64_t (*saved)[KILN_MAX_RANK]);

#endif
