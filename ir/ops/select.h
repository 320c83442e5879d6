/* Helpers of the ops whose output sizes depend on input values (ir/ops/select.c, nms.c):
 * they compute those outputs at compile time, from inputs that must be known then. */
#ifndef KILN_IR_OPS_SELECT_H
#define KILN_IR_OPS_SELECT_H

#include "ir/op.h"

/* Input i of n, whose values must be known at compile time (a zero-sized one has none);
 * NULL after failing through err (missing, or computed at run time: kiln_need_value). */
const kiln_value *kiln_select_known(const kiln_graph *g, const kiln_node *n, int i,
                                    kiln_error *err);
/* Makes output i (already inferred) a constant holding data (owned from here; freed when
 * the output is omitted). */
void kiln_select_set_out(kiln_graph *g, const kiln_node *n, int i, void *data);

/* NonZero of a value known only at run time (ir/ops/select_run.c): is n's input such a
 * value; its infer (the count a data sym) and its expansion into the ops that compute it. */
bool kiln_nonzero_at_run(const kiln_graph *g, const kiln_node *n);
kiln_status kiln_nonzero_infer_run(kiln_graph *g, kiln_node *n, kiln_error *err);
kiln_status kiln_nonzero_expand_run(kiln_graph *g, kiln_block *b, int pos, kiln_error *err);
/* The data sym "<what>(<node>)" of n (ir/symdim.h: a size a kernel computes during the
 * run) at most bound, added when new; -1 after failing through err (too many syms). */
int kiln_select_data_sym(kiln_graph *g, const kiln_node *n, const char *what,
                         const kiln_symdim *bound, kiln_error *err);
/* Is sym (an internal op's "sym" attribute) a data sym of g? Else an error naming n. */
kiln_status kiln_select_check_count(const kiln_graph *g, const kiln_node *n, int sym,
                                    kiln_error *err);
/* Stores buf[v] = buf[v with index `axis` one less] (0 at the first) + add: a running
 * count along index `axis` of the rank indices v, in stage s, which this makes ordered. */
void kiln_select_running(kiln_kernel *k, kiln_stage *s, int buf, int rank, int axis,
                         kiln_expr **v, kiln_expr *add);
/* Unique of a value known only at run time (ir/ops/unique_run.c): its count a data sym. */
bool kiln_unique_at_run(const kiln_graph *g, const kiln_node *n);
kiln_status kiln_unique_infer_run(kiln_graph *g, kiln_node *n, kiln_error *err);
kiln_status kiln_unique_expand_run(kiln_graph *g, kiln_block *b, int pos, kiln_error *err);
/* Compress with a condition known only at run time: a Gather of the condition's NonZero. */
bool kiln_compress_at_run(const kiln_graph *g, const kiln_node *n);
kiln_status kiln_compress_infer_run(kiln_graph *g, kiln_node *n, kiln_error *err);
kiln_status kiln_compress_expand_run(kiln_graph *g, kiln_block *b, int pos, kiln_error *err);

/* NonMaxSuppression's limits (ir/ops/nms.c), known at compile time; and the selection at
 * run time of boxes and scores computed then (ir/ops/nms_run.c): its infer (the count a
 * data sym) and its expansion. */
typedef struct kiln_nms_limits {
  int64_t keep;   /* boxes kept per class at most (max_output_boxes_per_class), >= 1 */
  float iou, score;
  bool has_score; /* only boxes scoring above `score` are candidates */
  bool center;    /* boxes as [x_center, y_center, width, height], else [y1, x1, y2, x2] */
} kiln_nms_limits;
kiln_status kiln_nms_infer_run(kiln_graph *g, kiln_node *n, const kiln_nms_limits *l,
                               kiln_error *err);
kiln_status kiln_nms_expand_run(kiln_graph *g, kiln_block *b, int pos, const kiln_nms_limits *l,
                                kiln_error *err);

#endif
