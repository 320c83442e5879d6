/* TopK (ir/ops/topk.c) and its selection form (ir/ops/topk_select.c). */
#ifndef KILN_OPS_TOPK_H
#define KILN_OPS_TOPK_H

#include "ir/op.h"

/* x's dims with the axis replaced by the nrep dims of rep into out; their rank. */
int kiln_topk_axis_replaced(const kiln_buffer *x, int axis, const int64_t *rep, int nrep,
                            int64_t *out);
/* The index vector v with its axis entry replaced by the nrep entries of rep, into out
 * (returned, so a call can stand in an argument list). */
kiln_expr **kiln_topk_idx_replaced(int rank, int axis, kiln_expr *const *v, kiln_expr *const *rep,
                                   int nrep, kiln_expr **out);
/* The bits of the selection form's order keys for type t: 32, or 64 for 64-bit types. */
int kiln_topk_key_bits(kiln_dtype t);
/* The selection form: the k-th key bit by bit, then the k taken sorted (bits n + k). */
void kiln_topk_by_select(kiln_lower_ctx *c, int axis, bool largest, int64_t kk);

#endif
