/* Elementwise ops: one stage over the (broadcast) output shape, value = f(inputs). */
#include "ir/op.h"

#include "ir/dtype.h"

/* Output shape = broadcast of every input's shape; dtype = input 0's. */
static kiln_status infer_broadcast(kiln_graph *g, kiln_node *n, kiln_error *err) {
  int rank = 0;
  int64_t dims[KILN_MAX_RANK];
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    if (!v) continue;
    if (kiln_broadcast_shape(n, rank, dims, v->rank, v->dims, &rank, dims, err)) return err->code;
  }
  kiln_set_out(g, n, 0, kiln_node_in(g, n, 0)->dtype, rank, dims);
  return KILN_OK;
}

static kiln_status lower_relu(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int y = c->out_buf[0];
  kiln_expr *v[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "relu", y, v);
  kiln_expr *x = kiln_load_broadcast(k, c->in_buf[0], k->bufs[y].rank, v);
  kiln_stage_store(k, s, v, kx_binary(k, KB_MAX, x, kx_const_f(k, x->dtype, 0)));
  return KILN_OK;
}

static kiln_status lower_add(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int y = c->out_buf[0];
  kiln_expr *v[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "add", y, v);
  kiln_expr *a = kiln_load_broadcast(k, c->in_buf[0], k->bufs[y].rank, v);
  kiln_expr *b = kiln_load_broadcast(k, c->in_buf[1], k->bufs[y].rank, v);
  kiln_stage_store(k, s, v, kx_binary(k, KB_ADD, a, b));
  return KILN_OK;
}

const kiln_op_def kiln_ops_elementwise[] = {
    {"Relu", 1, 1, 1, 1, NULL, infer_broadcast, lower_relu, NULL},
    {"Add", 2, 2, 1, 1, NULL, infer_broadcast, lower_add, NULL},
    {NULL},
};
