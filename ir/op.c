/* The op table (groups of kiln_op_def from ir/ops/) and helpers op definitions share. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Each group is an array ended by an entry with a NULL name. Adding an op touches its
 * group file only; adding a group adds one line here. */
extern const kiln_op_def kiln_ops_elementwise[];
extern const kiln_op_def kiln_ops_activation[];
extern const kiln_op_def kiln_ops_movement[];
extern const kiln_op_def kiln_ops_pad[];
extern const kiln_op_def kiln_ops_reshape[];
extern const kiln_op_def kiln_ops_shape[];
extern const kiln_op_def kiln_ops_reduce[];
extern const kiln_op_def kiln_ops_nn[];
extern const kiln_op_def kiln_ops_conv_transpose[];
extern const kiln_op_def kiln_ops_pool[];
extern const kiln_op_def kiln_ops_norm[];
extern const kiln_op_def kiln_ops_resize[];
extern const kiln_op_def kiln_ops_linalg[];
extern const kiln_op_def kiln_ops_rnn[];
extern const kiln_op_def kiln_ops_loss[];
extern const kiln_op_def kiln_ops_scan[];
extern const kiln_op_def kiln_ops_topk[];
extern const kiln_op_def kiln_ops_signal[];
extern const kiln_op_def kiln_ops_quant[];
extern const kiln_op_def kiln_ops_einsum[];
extern const kiln_op_def kiln_ops_index[];
extern const kiln_op_def kiln_ops_scatter[];
extern const kiln_op_def kiln_ops_grid_sample[];
extern const kiln_op_def kiln_ops_optimizer[];
extern const kiln_op_def kiln_ops_control[];
extern const kiln_op_def kiln_ops_compiled_loop[];
extern const kiln_op_def kiln_ops_sequence[];
extern const kiln_op_def kiln_ops_layout[];
extern const kiln_op_def kiln_ops_random[];
extern const kiln_op_def kiln_ops_det[];
extern const kiln_op_def kiln_ops_unpool[];
extern const kiln_op_def kiln_ops_col2im[];
extern const kiln_op_def kiln_ops_affine_grid[];
extern const kiln_op_def kiln_ops_deform_conv[];
extern const kiln_op_def kiln_ops_causal_conv[];
extern const kiln_op_def kiln_ops_linear_attention[];
extern const kiln_op_def kiln_ops_attention[];
extern const kiln_op_def kiln_ops_mel[];
extern const kiln_op_def kiln_ops_tfidf[];
extern const kiln_op_def kiln_ops_roi_align[];
extern const kiln_op_def kiln_ops_select[];
extern const kiln_op_def kiln_ops_select_run[];
extern const kiln_op_def kiln_ops_nms[];
extern const kiln_op_def kiln_ops_nms_run[];
extern const kiln_op_def kiln_ops_unique_run[];
extern const kiln_op_def kiln_ops_strings[];
extern const kiln_op_def kiln_ops_string_split[];
extern const kiln_op_def kiln_ops_ml[];
extern const kiln_op_def kiln_ops_trees[];
extern const kiln_op_def kiln_ops_tree_walk[];
extern const kiln_op_def kiln_ops_tree_classifier[];
extern const kiln_op_def kiln_ops_ml_linear[];
extern const kiln_op_def kiln_ops_ml_features[];
extern const kiln_op_def kiln_ops_svm[];
extern const kiln_op_def kiln_ops_flex_attention[];
extern const kiln_op_def kiln_ops_label_encoder[];
extern const kiln_op_def kiln_ops_quant_ms[];

/* NULL domain: ONNX's default one. */
static const struct {
  const kiln_op_def *ops;
  const char *domain;
} groups[] = {
    {kiln_ops_elementwise, NULL}, {kiln_ops_activation, NULL}, {kiln_ops_movement, NULL},
    {kiln_ops_pad, NULL}, {kiln_ops_reshape, NULL}, {kiln_ops_shape, NULL},
    {kiln_ops_reduce, NULL}, {kiln_ops_nn, NULL}, {kiln_ops_conv_transpose, NULL},
    {kiln_ops_linalg, NULL}, {kiln_ops_rnn, NULL}, {kiln_ops_control, NULL},
    {kiln_ops_compiled_loop, NULL}, {kiln_ops_pool, NULL}, {kiln_ops_norm, NULL},
    {kiln_ops_resize, NULL}, {kiln_ops_layout, NULL}, {kiln_ops_loss, NULL},
    {kiln_ops_scan, NULL}, {kiln_ops_topk, NULL}, {kiln_ops_signal, NULL},
    {kiln_ops_quant, NULL}, {kiln_ops_einsum, NULL}, {kiln_ops_index, NULL},
    {kiln_ops_scatter, NULL}, {kiln_ops_grid_sample, NULL}, {kiln_ops_affine_grid, NULL},
    {kiln_ops_deform_conv, NULL}, {kiln_ops_causal_conv, NULL},
    {kiln_ops_linear_attention, NULL}, {kiln_ops_det, NULL},
    {kiln_ops_unpool, NULL}, {kiln_ops_col2im, NULL}, {kiln_ops_attention, NULL}, {kiln_ops_mel, NULL}, {kiln_ops_tfidf, NULL},
    {kiln_ops_roi_align, NULL}, {kiln_ops_select, NULL}, {kiln_ops_select_run, NULL},
    {kiln_ops_nms, NULL}, {kiln_ops_nms_run, NULL}, {kiln_ops_unique_run, NULL},
    {kiln_ops_sequence, NULL}, {kiln_ops_random, NULL}, {kiln_ops_strings, NULL},
    {kiln_ops_string_split, NULL},
    {kiln_ops_optimizer, "ai.onnx.preview.training"}, {kiln_ops_quant_ms, "com.microsoft"},
    {kiln_ops_flex_attention, "ai.onnx.preview"},
    {kiln_ops_ml, "ai.onnx.ml"}, {kiln_ops_trees, "ai.onnx.ml"}, {kiln_ops_tree_walk, "ai.onnx.ml"},
    {kiln_ops_tree_classifier, "ai.onnx.ml"}, {kiln_ops_ml_linear, "ai.onnx.ml"},
    {kiln_ops_ml_features, "ai.onnx.ml"}, {kiln_ops_svm, "ai.onnx.ml"},
    {kiln_ops_label_encoder, "ai.onnx.ml"},
};

#define MAX_OPS 512
static const kiln_op_def *all_ops[MAX_OPS + 1];
static const char *all_domains[MAX_OPS];
static int nall_ops;
static pthread_once_t list_once = PTHREAD_ONCE_INIT;

/* Built once per process: several threads may compile (and so look up ops) at once. */
static void build_list(void) {
  int n = 0;
  for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
    for (const kiln_op_def *op = groups[g].ops; op->name && n < MAX_OPS; op++) {
      all_domains[n] = groups[g].domain;
      all_ops[n++] = op;
    }
  all_ops[n] = NULL;
  nall_ops = n;
}

int kiln_op_list(const kiln_op_def *const **ops) {
  pthread_once(&list_once, build_list);
  *ops = all_ops;
  return nall_ops;
}

kiln_status kiln_node_check_required(const kiln_node *n, kiln_error *err) {
  for (int i = 0; i < n->op->min_inputs; i++) /* past ninputs: trailing `_`s dropped */
    if (i >= n->ninputs || n->inputs[i] < 0)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): required input %d is omitted",
                       n->name, n->op_type, i);
  return KILN_OK;
}

const kiln_op_def *kiln_op_find(const char *name) {
  const kiln_op_def *op = kiln_op_find_in(NULL, name);
  for (int i = 0; !op && i < nall_ops; i++)
    if (strcmp(all_ops[i]->name, name) == 0) op = all_ops[i];
  return op;
}

bool kiln_op_domain_known(const char *domain) {
  pthread_once(&list_once, build_list);
  for (int i = 0; i < nall_ops; i++)
    if (all_domains[i] && !strcmp(all_domains[i], domain)) return true;
  return false;
}

const kiln_op_def *kiln_op_find_in(const char *domain, const char *name) {
  pthread_once(&list_once, build_list);
  if (domain && (!*domain || strcmp(domain, "ai.onnx") == 0)) domain = NULL;
  for (int i = 0; i < nall_ops; i++) {
    const char *d = all_domains[i];
    if (strcmp(all_ops[i]->name, name) == 0 && (d && domain ? !strcmp(d, domain) : d == domain))
      return all_ops[i];
  }
  return NULL;
}

kiln_status kiln_fail_node(const kiln_node *n, kiln_error *err, kiln_status code,
                           const char *what) {
  return kiln_fail(err, code, "node '%s' (%s): %s", n->name, n->op_type, what);
}

kiln_status kiln_infer_as(kiln_graph *g, kiln_node *n, const char *op, const int *ins, int nin,
                          kiln_dtype t, kiln_error *err) {
  kiln_node c = *n;
  c.inputs = (int *)ins;
  c.ninputs = nin;
  c.noutputs = 1;
  c.op = kiln_op_find(op);
  if (c.op->infer(g, &c, err)) return err->code;
  g->values[n->outputs[0]].dtype = t;
  return KILN_OK;
}

kiln_value *kiln_node_in(const kiln_graph *g, const kiln_node *n, int i) {
  if (i < 0 || i >= n->ninputs || n->inputs[i] < 0) return NULL;
  return &g->values[n->inputs[i]];
}

kiln_value *kiln_node_out(const kiln_graph *g, const kiln_node *n, int i) {
  if (i < 0 || i >= n->noutputs || n->outputs[i] < 0) return NULL;
  return &g->values[n->outputs[i]];
}

int64_t kiln_attr_int(const kiln_node *n, const char *name, int64_t dflt) {
  const kiln_attr *a = kiln_node_attr(n, name);
  if (!a) return dflt;
  return a->type == KILN_ATTR_FLOAT ? (int64_t)a->f : a->i;
}

double kiln_attr_float(const kiln_node *n, const char *name, double dflt) {
  const kiln_attr *a = kiln_node_attr(n, name);
  if (!a) return dflt;
  return a->type == KILN_ATTR_INT ? (double)a->i : a->f;
}

const char *kiln_attr_str(const kiln_node *n, const char *name, const char *dflt) {
  const kiln_attr *a = kiln_node_attr(n, name);
  return a && a->s ? a->s : dflt;
}

int kiln_attr_ints(const kiln_node *n, const char *name, const int64_t **out) {
  const kiln_attr *a = kiln_node_attr(n, name);
  if (!a || a->type != KILN_ATTR_INTS) return -1;
  *out = a->ints;
  return a->count;
}

int kiln_attr_floats(const kiln_node *n, const char *name, const double **out) {
  const kiln_attr *a = kiln_node_attr(n, name);
  if (!a || a->type != KILN_ATTR_FLOATS) return -1;
  *out = a->floats;
  return a->count;
}

void kiln_set_out(kiln_graph *g, const kiln_node *n, int i, kiln_dtype t, int rank,
                  const int64_t *dims) {
  kiln_value *v = kiln_node_out(g, n, i);
  if (!v) return;
  v->dtype = t;
  v->rank = rank;
  for (int d = 0; d < rank; d++) v->dims[d] = dims[d];
  for (int d = 0; d < KILN_MAX_RANK; d++) v->sym[d] = 0; /* infer_sym.c sets free dims */
}

kiln_status kiln_set_out_sym(kiln_graph *g, const kiln_node *n, int i, kiln_dtype t, int rank,
                             const kiln_symdim *dims, kiln_error *err) {
  int64_t hint[KILN_MAX_RANK] = {0};
  for (int d = 0; d < rank; d++)
    if (!kiln_symdim_eval(&dims[d], g->sym_hint, &hint[d]))
      return kiln_fail(err, KILN_ERR_INTERNAL, "node '%s' (%s): output %d dim %d does not "
                       "evaluate", n->name, n->op_type, i, d);
  kiln_set_out(g, n, i, t, rank, hint);
  kiln_value *v = kiln_node_out(g, n, i);
  for (int d = 0; v && d < rank; d++)
    if (!kiln_value_set_symdim(g, v, d, &dims[d]))
      return kiln_fail(err, KILN_ERR_INTERNAL, "node '%s' (%s): output %d has no size", n->name,
                       n->op_type, i);
  return KILN_OK;
}

int kiln_lower_dims_buf(kiln_kernel *k, const kiln_graph *g) {
  if (!k->nsyms) {
    for (int t = 0; t < g->nsyms; t++) kiln_kernel_sym(k, g->sym_names[t], g->sym_hint[t]);
    k->bufs[k->dims_buf].storage = (kiln_storage){KILN_STORE_DIMS, 0, 0};
  }
  return k->dims_buf;
}

/* The error for a value an op needs at compile time but which is computed at run time.
 * It names the graph inputs the value depends on, so a caller can give those values. */
kiln_status kiln_need_value(const kiln_graph *g, const kiln_node *n, const kiln_value *v,
                            const char *what, kiln_error *err) {
  char inputs[512] = "";
  size_t len = 0;
  bool *seen = kiln_xcalloc((size_t)g->nvalues, 1);
  int *stack = kiln_xmalloc(sizeof(int) * (size_t)g->nvalues), top = 0;
  stack[top++] = (int)(v - g->values);
  seen[stack[0]] = true;
  while (top > 0) { /* walk producers back to graph inputs, iteratively */
    const kiln_value *x = &g->values[stack[--top]];
    if (x->is_input && !x->data && len + strlen(x->name) + 8 < sizeof inputs)
      len += (size_t)snprintf(inputs + len, sizeof inputs - len, "%s'%s'", len ? ", " : "",
                              x->name);
    if (x->producer < 0) continue;
    const kiln_node *p = &g->nodes[x->producer];
    for (int i = 0; i < p->ninputs; i++)
      if (p->inputs[i] >= 0 && !seen[p->inputs[i]]) {
        seen[p->inputs[i]] = true;
        stack[top++] = p->inputs[i];
      }
  }
  free(seen);
  free(stack);
  if (!len)
    return kiln_fail(err, KILN_ERR_SHAPE,
                     "node '%s' (%s): input '%s' must be %s known at compile time", n->name,
                     n->op_type, v->name, what);
  return kiln_fail(err, KILN_ERR_SHAPE,
                   "node '%s' (%s): input '%s' must be %s known at compile time; it depends "
                   "on graph input %s: give its value when compiling",
                   n->name, n->op_type, v->name, what, inputs);
}

kiln_status kiln_const_ints(const kiln_graph *g, const kiln_node *n, int i, int64_t *out,
                            int max, int *count, kiln_error *err) {
  const kiln_value *v = kiln_node_in(g, n, i);
  if (!v)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input %d is missing",
                     n->name, n->op_type, i);
  if (!v->data && kiln_value_numel(v) != 0) return kiln_need_value(g, n, v, "a value", err);
  int64_t numel = kiln_value_numel(v);
  if (!kiln_dtype_is_int(v->dtype) && v->dtype != KILN_BOOL)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input '%s' must be integer",
                     n->name, n->op_type, v->name);
  if (numel > max)
    return kiln_fail(err, KILN_ERR_LIMIT, "node '%s' (%s): input '%s' has %lld values, at most %d",
                     n->name, n->op_type, v->name, (long long)numel, max);
  for (int64_t j = 0; j < numel; j++) out[j] = kiln_load_i64(v->dtype, v->data, j);
  *count = (int)numel;
  return KILN_OK;
}

kiln_status kiln_need_fixed(const kiln_graph *g, const kiln_node *n, int i, kiln_error *err) {
  const kiln_value *v = kiln_node_in(g, n, i);
  if (!v || !kiln_value_has_sym_data(v)) return KILN_OK;
  return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): input '%s' follows the run's "
                   "shapes, but the node needs it fixed when compiling", n->name, n->op_type,
                   v->name);
}

kiln_status kiln_const_scalar(const kiln_graph *g, const kiln_node *n, int i, double *out,
                              kiln_error *err) {
  const kiln_value *v = kiln_node_in(g, n, i);
  if (!v)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input %d is missing",
                     n->name, n->op_type, i);
  if (!v->data || kiln_value_numel(v) < 1) return kiln_need_value(g, n, v, "a scalar", err);
  *out = kiln_load_f64(v->dtype, v->data, 0);
  return KILN_OK;
}

kiln_status kiln_broadcast_shape(const kiln_node *n, int ra, const int64_t *da, int rb,
                                 const int64_t *db, int *rank, int64_t *dims, kiln_error *err) {
  int64_t a_dims[KILN_MAX_RANK], b_dims[KILN_MAX_RANK]; /* dims may alias da or db */
  memcpy(a_dims, da, sizeof(int64_t) * (size_t)ra);
  memcpy(b_dims, db, sizeof(int64_t) * (size_t)rb);
  da = a_dims;
  db = b_dims;
  int r = ra > rb ? ra : rb;
  for (int d = 0; d < r; d++) {
    int64_t a = d - (r - ra) >= 0 ? da[d - (r - ra)] : 1;
    int64_t b = d - (r - rb) >= 0 ? db[d - (r - rb)] : 1;
    if (a != b && a != 1 && b != 1)
      return kiln_fail(err, KILN_ERR_SHAPE,
                       "node '%s' (%s): shapes do not broadcast (dim %d: %lld vs %lld)", n->name,
                       n->op_type, d, (long long)a, (long long)b);
    dims[d] = a == 1 ? b : a;
  }
  *rank = r;
  return KILN_OK;
}

kiln_status kiln_norm_axis(const kiln_node *n, int64_t axis, int rank, int *out,
                           kiln_error *err) {
  if (axis < -rank || axis >= rank) /* a scalar has no axis */
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): axis %lld out of range for rank %d",
                     n->name, n->op_type, (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return KILN_OK;
}

kiln_expr *kiln_load_broadcast(kiln_kernel *k, int buf, int out_rank, kiln_expr *const *vars) {
  const kiln_buffer *b = &k->bufs[buf];
  kiln_expr *idx[KILN_MAX_RANK];
  for (int d = 0; d < b->rank; d++) {
    int od = d + out_rank - b->rank;
    idx[d] = b->dims[d] == 1 || od < 0 ? kx_idx(k, 0) : vars[od];
  }
  return kx_load(k, buf, idx);
}

kiln_stage *kiln_elementwise_stage(kiln_kernel *k, const char *name, int out, kiln_expr **vars) {
  kiln_stage *s = kiln_kernel_add_stage(k, name, out);
  for (int d = 0; d < k->bufs[out].rank; d++)
    vars[d] = kx_var(k, kiln_stage_axis(s, k->bufs[out].dims[d], false));
  return s;
}
