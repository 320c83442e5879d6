/* What symbolic inference and lowering share (passes/sym_points.c): a node's free dims are
 * found by running its op's static code (infer, lower) at the syms' hints and at more
 * points of the syms, and matching each number that changes to a dim expression of the
 * node's values that takes the same value at every point. Three points give each sym a
 * distinct prime (so that different polynomials differ); a series of 32 more moves every
 * sym through consecutive values, so that a division's remainder, or a choice an op makes
 * by it (a window that overhangs the input or not), shows at every residue an input
 * sym takes five halvings deep (a stride-2 op at 1/32 of H still sees both parities). */
#ifndef KILN_PASSES_SYM_POINTS_H
#define KILN_PASSES_SYM_POINTS_H

#include "ir/graph.h"

#define KILN_SYM_NPRIMES 3
#define KILN_SYM_NPOINTS (KILN_SYM_NPRIMES + 32)
#define KILN_SYM_MAX_CANDS 256
/* How far the points of the syms a division reads may move up, in steps of 32 that keep
 * each residue of a stride-32 chain, for a node whose shapes (passes/infer_sym.c) or
 * kernel (passes/lower_dyn.c) fail or change form at the least ones (the sizes below are
 * then probed: kiln_sym_probe). */
#define KILN_SYM_MAX_SHIFT 128

/* The syms' values at point p (0 .. KILN_SYM_NPOINTS-1), derived ones from the others. */
void kiln_sym_point(const kiln_graph *g, int p, int64_t *vals);

/* Sym s is a free input dim that a derived sym (a division) reads. */
bool kiln_sym_divided(const kiln_graph *g, int s);
/* Some sym is (the points a shift moves: passes/infer_sym.c, lower_dyn.c). */
bool kiln_sym_any_divided(const kiln_graph *g);

/* The node reads or writes a value with a free dim, or reads a shape computation's
 * elements that follow them (kiln_value.sym_data). */
bool kiln_node_is_symbolic(const kiln_graph *g, const kiln_node *n);

/* Dim expressions the node's numbers may be: its values' (inputs', and with outputs its
 * outputs') free dims, products of adjacent dims, sums of one dim over the inputs. */
int kiln_sym_candidates(const kiln_graph *g, const kiln_node *n, bool outputs,
                        kiln_symdim *cands, int max);

/* The candidate taking value at[p] at point p and at_hint at the hints (unless at_hint is
 * -1) into *out, or with `offset` a candidate plus a constant (a padded extent H + 2, a
 * last index H - 1) when no candidate is; false when none is. */
bool kiln_sym_match(const kiln_graph *g, const kiln_symdim *cands, int n, int64_t at_hint,
                    const int64_t *at, bool offset, kiln_symdim *out);

/* A floor division of a candidate, floor((x + r) / s) + q (a strided window's output
 * size, a shape computation's Div), taking at_hint at the hints and at[p] at each point,
 * into *out; the division becomes a derived sym of g (passes/infer_sym.c). */
bool kiln_sym_match_div(kiln_graph *g, const kiln_symdim *cands, int nc, int64_t at_hint,
                        const int64_t *at, kiln_symdim *out);

/* min(x, c) for a candidate x that reads a size the run computes and a constant c, taking
 * at_hint at the hints and at[p] at each point (a Slice to the first 150 of a count), into
 * *out: a data sym of g (kiln_graph_min_sym; passes/infer_sym.c). */
bool kiln_sym_match_min(kiln_graph *g, const kiln_symdim *cands, int nc, int64_t at_hint,
                        const int64_t *at, kiln_symdim *out);

/* A ratio of two candidates, (double)num / (double)den, equal to at[p] at every point p:
 * a float a lowering computed from dims (Resize's scale, out / in, for given sizes). */
bool kiln_sym_match_ratio(const kiln_graph *g, const kiln_symdim *cands, int n, const double *at,
                          kiln_symdim *num, kiln_symdim *den);

/* Sets the dims of the node's inputs (and outputs), and the elements of shape computations
 * among them (kiln_value.sym_data), to their values at point p, saving
 * what they were in saved[] (one row of KILN_MAX_RANK per input, then per output);
 * kiln_sym_restore puts them back. */
void kiln_sym_set_point(kiln_graph *g, const kiln_node *n, bool outputs, int p,
                        int64_t (*saved)[KILN_MAX_RANK]);
/* The same at the syms' values vals (a probe outside the points: passes/infer_sym.c). */
void kiln_sym_set_vals(kiln_graph *g, const kiln_node *n, bool outputs, const int64_t *vals,
                       int64_t (*saved)[KILN_MAX_RANK]);
/* Bit s for each free input dim or count the run computes (a sym of den 0 or a data sym)
 * that n's inputs read: their dims, the elements of shape computations, through derived
 * syms too. */
uint32_t kiln_sym_probed_mask(const kiln_graph *g, const kiln_node *n);
/* What a probe found: what matching found holds at those sizes, differs, or the op's code
 * failed there. */
enum { KILN_PROBE_FAILS = -1, KILN_PROBE_DIFFERS = 0, KILN_PROBE_HOLDS = 1 };
typedef int (*kiln_sym_holds)(kiln_graph *g, void *ctx, const int64_t *vals);
/* Matching saw each free dim from the series' start (23 and up, moved up by g->sym_shift for
 * a sym a division reads) to the hints; below and far above, an op may follow another rule
 * (a Slice to end 10 is min(S, 10): 10 at every point, S below 10; to end 1000, S at every
 * point; a window that no longer fits). Each sym of mask is moved alone, the others at their
 * hints, and holds(g, ctx, vals) tells whether what was found holds there. A free dim goes
 * to every size below the points and, with `above`, by doublings above the hints (2^31 at
 * most): the first size down where it does not hold raises kiln_graph.sym_lo above it, the
 * first size up lowers sym_hi to the last size that holds (a bisection), and a run outside
 * them fails. A count the run computes (its hint is its bound) goes from 0 to below the
 * points: where the outputs differ (not where the op's code fails: a count of 0 that it
 * refuses), no run could be refused in time, so the sym is returned (-1: none differs) and
 * the caller refuses the node. */
int kiln_sym_probe(kiln_graph *g, uint32_t mask, bool above, kiln_sym_holds holds, void *ctx);
void kiln_sym_restore(kiln_graph *g, const kiln_node *n, bool outputs,
                      int64_t (*saved)[KILN_MAX_RANK]);

#endif
