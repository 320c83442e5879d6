/* Rewrites nodes written for an older opset into the newest signature, which is the only
 * one the op table knows: attributes that later became inputs turn into new constant
 * values, Upsample becomes Resize, and the pre-13 Softmax family is marked with its old
 * coerce-to-2D semantics. */
#include "frontend/onnx_internal.h"

#include "ir/dtype.h"
#include "ir/op.h"

#include <stdlib.h>
#include <string.h>

static kiln_attr *find(kiln_node *n, const char *name) {
  for (int i = 0; i < n->nattrs; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

static void remove_attr(kiln_node *n, const char *name) {
  kiln_attr *a = find(n, name);
  if (!a) return;
  kiln_attr_clear(a);
  int i = (int)(a - n->attrs);
  memmove(&n->attrs[i], &n->attrs[i + 1], sizeof(kiln_attr) * (size_t)(n->nattrs - i - 1));
  n->nattrs--;
}

/* Makes input `pos` of node id a new constant value holding t (its data moves). */
static void set_const_input(kiln_graph *g, int id, int pos, const char *what, kiln_tensor *t) {
  char *name = kiln_fmt("%s:%s", g->nodes[id].name, what);
  int v = kiln_graph_add_value(g, name);
  free(name);
  kiln_value_set_const(&g->values[v], t);
  kiln_node *n = &g->nodes[id];
  if (pos >= n->ninputs) {
    n->inputs = kiln_xrealloc(n->inputs, sizeof(int) * (size_t)(pos + 1));
    for (int i = n->ninputs; i <= pos; i++) n->inputs[i] = -1;
    n->ninputs = pos + 1;
  }
  n->inputs[pos] = v;
}

/* An INTS (or INT) attribute -> 1-D i64 constant input at pos; absent: nothing. */
static kiln_status ints_to_input(kiln_graph *g, int id, const char *attr, int pos,
                                 kiln_error *err) {
  kiln_node *n = &g->nodes[id];
  kiln_attr *a = find(n, attr);
  if (!a) return KILN_OK;
  if (a->type != KILN_ATTR_INTS && a->type != KILN_ATTR_INT)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): attribute '%s' must be ints", n->name, n->op_type, attr);
  int count = a->type == KILN_ATTR_INT ? 1 : a->count;
  kiln_tensor t = {KILN_I64, 1, {count}, NULL};
  if (count) {
    t.data = kiln_xmalloc(sizeof(int64_t) * (size_t)count);
    memcpy(t.data, a->type == KILN_ATTR_INT ? &a->i : a->ints, sizeof(int64_t) * (size_t)count);
  }
  remove_attr(n, attr);
  set_const_input(g, id, pos, attr, &t);
  return KILN_OK;
}

/* A FLOAT attribute -> scalar constant input at pos, typed like input 0 when that is a
 * known float type (the newer signatures want the same type), else f32. */
static kiln_status float_to_input(kiln_graph *g, int id, const char *attr, int pos,
                                  kiln_error *err) {
  kiln_node *n = &g->nodes[id];
  kiln_attr *a = find(n, attr);
  if (!a) return KILN_OK;
  if (a->type != KILN_ATTR_FLOAT)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): attribute '%s' must be a float", n->name, n->op_type, attr);
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_dtype dt = x && kiln_dtype_is_float(x->dtype) ? x->dtype : KILN_F32;
  kiln_tensor t = {dt, 0, {0}, kiln_xmalloc(kiln_dtype_size(dt))};
  kiln_store_f64(dt, t.data, 0, a->f);
  remove_attr(n, attr);
  set_const_input(g, id, pos, attr, &t);
  return KILN_OK;
}

static bool is_old_reduce(const char *op) { /* Reduce* whose axes became an input in 18 */
  static const char *const ops[] = {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                    "ReduceL1", "ReduceL2", "ReduceLogSum",
                                    "ReduceLogSumExp", "ReduceSumSquare"};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp(op, ops[i]) == 0) return true;
  return false;
}

static void set_str_attr(kiln_node *n, const char *name, const char *v) {
  if (find(n, name)) return;
  kiln_node_add_attr(n, name, KILN_ATTR_STRING)->s = kiln_xstrdup(v);
}

/* Resize-10 and Upsample both scale with asymmetric coordinates and floor for nearest. */
static void old_resize_modes(kiln_node *n) {
  set_str_attr(n, "coordinate_transformation_mode", "asymmetric");
  set_str_attr(n, "nearest_mode", "floor");
}

/* Upsample (opsets 1-9) -> Resize(X, roi omitted, scales). */
static kiln_status upsample_to_resize(kiln_graph *g, int id, kiln_error *err) {
  kiln_node *n = &g->nodes[id];
  kiln_attr *mode = find(n, "mode");
  if (mode && mode->type == KILN_ATTR_STRING && strcmp(mode->s, "bilinear") == 0) {
    free(mode->s); /* Upsample-1's name for it */
    mode->s = kiln_xstrdup("linear");
  }
  kiln_attr *sc = find(n, "scales"), *hs = find(n, "height_scale"), *ws = find(n, "width_scale");
  if (n->ninputs >= 2) { /* Upsample-9: scales is an input */
    n->inputs = kiln_xrealloc(n->inputs, sizeof(int) * 3);
    n->inputs[2] = n->inputs[1];
    n->inputs[1] = -1;
    n->ninputs = 3;
  } else if (sc && sc->type == KILN_ATTR_FLOATS) { /* Upsample-7 */
    kiln_tensor t = {KILN_F32, 1, {sc->count}, kiln_xmalloc(sizeof(float) * (size_t)(sc->count + 1))};
    for (int i = 0; i < sc->count; i++) ((float *)t.data)[i] = (float)sc->floats[i];
    remove_attr(n, "scales");
    set_const_input(g, id, 2, "scales", &t);
  } else if (hs && ws && hs->type == KILN_ATTR_FLOAT && ws->type == KILN_ATTR_FLOAT) {
    float s[4] = {1, 1, (float)hs->f, (float)ws->f}; /* Upsample-1: NCHW */
    kiln_tensor t = {KILN_F32, 1, {4}, kiln_xmalloc(sizeof s)};
    memcpy(t.data, s, sizeof s);
    remove_attr(n, "height_scale");
    remove_attr(&g->nodes[id], "width_scale");
    set_const_input(g, id, 2, "scales", &t);
  } else {
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (Upsample): has no scales", n->name);
  }
  n = &g->nodes[id];
  free(n->op_type);
  n->op_type = kiln_xstrdup("Resize");
  n->op = kiln_op_find("Resize");
  old_resize_modes(n);
  return KILN_OK;
}

kiln_status kiln_onnx_upgrade_node(kiln_graph *g, int id, kiln_error *err) {
  kiln_node *n = &g->nodes[id];
  const char *op = n->op_type;
  int v = g->opset;
  if ((strcmp(op, "Split") == 0 && v < 13))
    return ints_to_input(g, id, "split", 1, err);
  if ((strcmp(op, "Squeeze") == 0 || strcmp(op, "Unsqueeze") == 0) && v < 13)
    return ints_to_input(g, id, "axes", 1, err);
  if ((strcmp(op, "ReduceSum") == 0 && v < 13) || (is_old_reduce(op) && v < 18))
    return ints_to_input(g, id, "axes", 1, err);
  if (strcmp(op, "Pad") == 0 && v < 11) {
    kiln_attr *a = find(n, "paddings"); /* Pad-1's name */
    if (a && !find(n, "pads")) {
      free(a->name);
      a->name = kiln_xstrdup("pads");
    }
    if (ints_to_input(g, id, "pads", 1, err)) return err->code;
    return float_to_input(g, id, "value", 2, err);
  }
  if (strcmp(op, "Clip") == 0 && v < 11) {
    if (float_to_input(g, id, "min", 1, err)) return err->code;
    return float_to_input(g, id, "max", 2, err);
  }
  if (strcmp(op, "Slice") == 0 && v < 10) {
    if (ints_to_input(g, id, "starts", 1, err) || ints_to_input(g, id, "ends", 2, err)) return err->code;
    return ints_to_input(g, id, "axes", 3, err);
  }
  if (strcmp(op, "DFT") == 0 && v < 20) { /* axis became an input, its default 1 became -2 */
    if (!find(n, "axis")) kiln_node_add_attr(n, "axis", KILN_ATTR_INT)->i = 1;
    return ints_to_input(g, id, "axis", 2, err);
  }
  if (strcmp(op, "Reshape") == 0 && v < 5) return ints_to_input(g, id, "shape", 1, err);
  if (strcmp(op, "Resize") == 0 && v == 10 && n->ninputs == 2) { /* (X, scales) */
    n->inputs = kiln_xrealloc(n->inputs, sizeof(int) * 3);
    n->inputs[2] = n->inputs[1];
    n->inputs[1] = -1;
    n->ninputs = 3;
    old_resize_modes(n);
    return KILN_OK;
  }
  if (strcmp(op, "Upsample") == 0 && v < 10) return upsample_to_resize(g, id, err);
  if (strcmp(op, "Dropout") == 0 && v < 12) { /* inference: the ratio does not matter */
    remove_attr(n, "ratio");
    return KILN_OK;
  }
  if ((strcmp(op, "Softmax") == 0 || strcmp(op, "LogSoftmax") == 0 ||
       strcmp(op, "Hardmax") == 0) && v < 13) {
    /* Before 13 these flattened the input to 2-D at `axis` (default 1). */
    kiln_attr *axis = find(n, "axis");
    if (!axis) kiln_node_add_attr(n, "axis", KILN_ATTR_INT)->i = 1;
    else if (axis->type != KILN_ATTR_INT)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): attribute 'axis' must be an int", n->name, op);
    kiln_node_add_attr(n, "_coerce_2d", KILN_ATTR_INT)->i = 1;
  }
  return KILN_OK;
}
