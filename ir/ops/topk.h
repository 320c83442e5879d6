/* TopK's forms share its candidates' ranking and its outputs (ir/ops/topk.c); the
 * selection form lives in ir/ops/topk_select.c. */
#ifndef KILN_OPS_TOPK_H
#define KILN_OPS_TOPK_H

#include "ir/op.h"

/* x's dims with the axis replaced by the nrep dims of rep into out; their rank. */
int kiln_topk_axis_replaced(const kiln_buffer *x, int axis, const int64_t *rep, int nrep,
                            int64_t *out);
/* Candidates' values side by side (cval) and their ranks among themselves (crank), the
 * candidates' indices along the axis in cand (-1: none) laid out as cdims (x's dims with
 * the axis replaced by nc dims). */
void kiln_topk_rank_candidates(kiln_kernel *k, int xb, int axis, bool largest, int cand,
                               int cval, int crank, const int64_t *cdims, int nc);
/* Output q takes the entry of `rank` (dims, the axis replaced by nred dims) ranked q; its
 * index along the axis is its own (nred 1, cand -1) or the one cand holds. */
void kiln_topk_outputs(kiln_lower_ctx *c, int axis, int rank, const int64_t *dims, int nred,
                       int cand);
/* Can the selection form order this type (32-bit keys)? */
bool kiln_topk_select_ok(kiln_dtype t);
/* The selection form: the k-th key bit by bit, then the k taken ranked (32 n + k^2). */
void kiln_topk_by_select(kiln_lower_ctx *c, int axis, bool largest, int64_t kk);

#endif
