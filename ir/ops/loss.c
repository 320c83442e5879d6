/* The loss ops, NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss, as expansions into
 * ops kiln lowers (ONNX defines them as functions the same way):
 *
 *   keep  = target != ignore_index               (only when the node has ignore_index)
 *   t     = Where(keep, target, 0)               (an ignored target reads class 0, weight 0)
 *   loss  = -GatherElements(input, t[:, None], axis 1)[:, 0] * w
 *   w     = weight[t] * keep, or keep, or none
 *   none: loss; sum: ReduceSum(loss); mean: ReduceSum(loss) / ReduceSum(w), or ReduceMean
 *
 * SoftmaxCrossEntropyLoss is that loss over input = LogSoftmax(scores, axis 1), whose value
 * is its optional second output. Targets out of [0, C) fail the run (GatherElements checks
 * its indices); a mean over targets that are all ignored is 0 / 0 = NaN, as in ONNX. */
#include "ir/op.h"

#include "ir/dtype.h"
#include "ir/ops/expand.h"

#include <string.h>

static kiln_status fail(const kiln_node *n, kiln_error *err, kiln_status code, const char *why) {
  return kiln_fail(err, code, "node '%s' (%s): %s", n->name, n->op_type, why);
}

typedef enum { RED_NONE, RED_SUM, RED_MEAN } reduction;

static kiln_status get_reduction(const kiln_node *n, reduction *r, kiln_error *err) {
  const char *s = kiln_attr_str(n, "reduction", "mean");
  *r = RED_MEAN;
  if (strcmp(s, "none") == 0) *r = RED_NONE;
  else if (strcmp(s, "sum") == 0) *r = RED_SUM;
  else if (strcmp(s, "mean") == 0) *r = RED_MEAN;
  else return fail(n, err, KILN_ERR_INVALID_MODEL, "reduction must be none, sum or mean");
  return KILN_OK;
}

/* input [N, C, d...] (float), target [N, d...] (ints), weight [C] (input's type). */
static kiln_status infer_loss(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *t = kiln_node_in(g, n, 1);
  const kiln_value *w = kiln_node_in(g, n, 2);
  reduction r;
  if (get_reduction(n, &r, err)) return err->code;
  if (!kiln_dtype_is_float(x->dtype) || x->rank < 2)
    return fail(n, err, KILN_ERR_INVALID_MODEL, "the input must be a float tensor [N, C, ...]");
  if (!kiln_dtype_is_int(t->dtype) || t->rank != x->rank - 1)
    return fail(n, err, KILN_ERR_INVALID_MODEL, "the target must be integers [N, ...] of rank "
                                                "one less than the input's");
  for (int d = 0; d < t->rank; d++)
    if (t->dims[d] != x->dims[d ? d + 1 : 0])
      return fail(n, err, KILN_ERR_SHAPE, "the target's dims must be the input's without C");
  if (w && (w->dtype != x->dtype || w->rank != 1 || w->dims[0] != x->dims[1]))
    return fail(n, err, KILN_ERR_SHAPE, "the weight must be [C] of the input's type");
  if (r == RED_NONE) kiln_set_out(g, n, 0, x->dtype, t->rank, t->dims);
  else kiln_set_out(g, n, 0, x->dtype, 0, NULL);
  if (n->noutputs > 1) kiln_set_out(g, n, 1, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

static kiln_status expand_loss(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  bool sce = strcmp(n->op->name, "SoftmaxCrossEntropyLoss") == 0;
  reduction r;
  if (get_reduction(n, &r, err)) return err->code;
  const kiln_value *tv = kiln_node_in(g, n, 1);
  kiln_dtype it = tv->dtype;
  kiln_dtype ft = kiln_node_in(g, n, 0)->dtype;
  int64_t ignore_index = kiln_attr_int(n, "ignore_index", 0);
  /* an ignore_index the target's type cannot hold matches no target */
  bool ignore = kiln_node_attr(n, "ignore_index") != NULL &&
                (it != KILN_I32 || (ignore_index >= INT32_MIN && ignore_index <= INT32_MAX));
  int in = n->inputs[0], target = n->inputs[1];
  int weight = n->ninputs > 2 ? n->inputs[2] : -1;
  int out = n->outputs[0], log_prob = n->noutputs > 1 ? n->outputs[1] : -1;

  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, ft); /* n is invalid from here */
  if (sce) {
    in = kiln_ex_node1(&x, "LogSoftmax", &in, 1, log_prob, "log_prob");
    kiln_ex_attr_i(&x, "axis", 1);
  }
  int t = target, w = -1;
  if (ignore) {
    int ig = kiln_ex_const(&x, "ignore_index", it, 0, NULL, NULL); /* exact: not via a double */
    kiln_store_i64(it, x.g->values[ig].data, 0, ignore_index);
    int ignored = kiln_ex_binary(&x, "Equal", target, ig, "ignored");
    int keep = kiln_ex_unary(&x, "Not", ignored, "keep");
    int zero = kiln_ex_const(&x, "zero", it, 0, NULL, NULL);
    t = kiln_ex_node1(&x, "Where", (int[]){keep, target, zero}, 3, -1, "target");
    w = kiln_ex_unary(&x, "Cast", keep, "keep_f");
    kiln_ex_attr_i(&x, "to", ft);
  }
  if (weight >= 0) {
    int wt = kiln_ex_binary(&x, "Gather", weight, t, "weight_t");
    w = w < 0 ? wt : kiln_ex_binary(&x, "Mul", wt, w, "weight_kept");
  }
  int t1 = kiln_ex_binary(&x, "Unsqueeze", t, kiln_ex_int1(&x, 1), "target_1");
  int picked = kiln_ex_binary(&x, "GatherElements", in, t1, "picked");
  kiln_ex_attr_i(&x, "axis", 1);
  picked = kiln_ex_binary(&x, "Squeeze", picked, kiln_ex_int1(&x, 1), "picked_0");
  int last = r == RED_NONE && w < 0 ? out : -1;
  int loss = kiln_ex_node1(&x, "Neg", &picked, 1, last, "loss");
  if (w >= 0)
    loss = kiln_ex_node1(&x, "Mul", (int[]){loss, w}, 2, r == RED_NONE ? out : -1, "loss_w");
  if (r != RED_NONE) {
    bool ratio = r == RED_MEAN && w >= 0;
    const char *op = r == RED_MEAN && !ratio ? "ReduceMean" : "ReduceSum";
    int total = kiln_ex_node1(&x, op, &loss, 1, ratio ? -1 : out, "total");
    kiln_ex_attr_i(&x, "keepdims", 0);
    if (ratio) {
      int wsum = kiln_ex_node1(&x, "ReduceSum", &w, 1, -1, "weight_sum");
      kiln_ex_attr_i(&x, "keepdims", 0);
      kiln_ex_node1(&x, "Div", (int[]){total, wsum}, 2, out, "mean");
    }
  }
  kiln_ex_end(&x);
  return KILN_OK;
}

static const kiln_attr_spec loss_attrs[] = {
    {"ignore_index", KILN_ATTR_INT, false}, {"reduction", KILN_ATTR_STRING, false}, {NULL}};

const kiln_op_def kiln_ops_loss[] = {
    {"NegativeLogLikelihoodLoss", 2, 3, 1, 1, loss_attrs, infer_loss, NULL, expand_loss, 0},
    {"SoftmaxCrossEntropyLoss", 2, 3, 1, 2, loss_attrs, infer_loss, NULL, expand_loss, 0},
    {NULL},
};
