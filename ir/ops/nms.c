/* NonMaxSuppression at compile time: how many boxes it selects depends on the boxes' and
 * scores' values; when they are known then (constants, bound inputs), its output
 * [selected, 3] (batch, class, box) is a constant: inference computes the count,
 * expansion the indices, and the node goes away. Otherwise the selection runs at run time
 * (ir/ops/nms_run.c). The optional limits must be known at compile time either way. The selection is onnxruntime's
 * (and onnx.reference's): per batch and class, the boxes scoring above score_threshold,
 * by descending score (ties: the lower index first; NaN scores last), each kept unless
 * its IoU with a box kept before for that class is above iou_threshold, until
 * max_output_boxes_per_class are kept. */
#include "ir/op.h"
#include "ir/ops/select.h"

#include "ir/dtype.h"

#include <math.h>
#include <stdlib.h>

/* IoU tests the selection may make at compile time (seconds of work). */
#define MAX_IOU_TESTS (INT64_C(1) << 32)

typedef struct nms_params {
  const float *boxes, *scores; /* [batches, nboxes, 4], [batches, classes, nboxes] */
  int64_t batches, classes, nboxes;
  int64_t keep;                /* boxes kept per class at most */
  int64_t limit;               /* max_output_boxes_per_class, >= 0 (keep: <= nboxes) */
  float iou, score;
  bool has_score;
  bool center;                 /* boxes as [x_center, y_center, width, height] */
} nms_params;

/* Optional scalar input i: NULL when omitted or empty, else its known value. */
static kiln_status scalar_in(const kiln_graph *g, const kiln_node *n, int i, bool is_int,
                             const kiln_value **out, kiln_error *err) {
  const kiln_value *v = kiln_node_in(g, n, i);
  *out = NULL;
  if (!v || kiln_value_numel(v) == 0) return KILN_OK;
  if (!(v = kiln_select_known(g, n, i, err))) return err->code;
  bool typed = is_int ? kiln_dtype_is_int(v->dtype) : kiln_dtype_is_float(v->dtype);
  if (kiln_value_numel(v) != 1 || !typed)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input '%s' must be one %s",
                     n->name, n->op_type, v->name, is_int ? "integer" : "float");
  *out = v;
  return KILN_OK;
}

/* The parameters; boxes and scores need known values only when some box may be kept, and
 * not even then when the selection runs at run time (*at_run, ir/ops/nms_run.c): when
 * either is a run-time value and enough boxes may be kept (a count of at least 3, as
 * NonZero's). */
static kiln_status nms_params_get(const kiln_graph *g, const kiln_node *n, nms_params *p,
                                  bool *at_run, kiln_error *err) {
  const kiln_value *boxes = kiln_node_in(g, n, 0), *scores = kiln_node_in(g, n, 1);
  const kiln_value *max_out, *iou, *score;
  *at_run = false;
  if (!boxes || !scores) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs boxes and scores");
  if (boxes->dtype != KILN_F32 || scores->dtype != KILN_F32)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "boxes and scores must be f32");
  if (boxes->rank != 3 || boxes->dims[2] != 4 || scores->rank != 3 ||
      scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1])
    return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                          "boxes must be [batches, boxes, 4] and scores [batches, classes, boxes]");
  int64_t center = kiln_attr_int(n, "center_point_box", 0);
  if (center != 0 && center != 1)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "center_point_box must be 0 or 1");
  /* a limit of Shape(boxes)[1] along a free dim (an exporter's "keep every box") */
  const kiln_value *lim = kiln_node_in(g, n, 2);
  kiln_symdim nb = kiln_value_symdim(g, boxes, 1);
  bool all = lim && kiln_value_numel(lim) == 1 && kiln_value_has_sym_data(lim);
  if (all) {
    kiln_symdim x = kiln_value_sym_elem(g, lim, 0);
    all = kiln_symdim_equal(&x, &nb);
  }
  if (!all && scalar_in(g, n, 2, true, &max_out, err)) return err->code;
  *p = (nms_params){NULL, NULL, boxes->dims[0], scores->dims[1], boxes->dims[1], 0, 0, 0, 0,
                    false, center == 1};
  /* a negative limit keeps nothing, as in onnxruntime; a huge one every box */
  int64_t limit = all ? INT64_MAX : max_out ? kiln_load_i64(max_out->dtype, max_out->data, 0) : 0;
  if (max_out && max_out->dtype == KILN_U64 && limit < 0) limit = INT64_MAX;
  p->limit = limit < 0 ? 0 : limit;
  p->keep = limit < p->nboxes ? p->limit : p->nboxes;
  if (p->keep == 0 || p->batches == 0 || p->classes == 0) return KILN_OK;
  if (scalar_in(g, n, 3, false, &iou, err) || scalar_in(g, n, 4, false, &score, err))
    return err->code;
  p->iou = iou ? (float)kiln_load_f64(iou->dtype, iou->data, 0) : 0.0f;
  if (!(p->iou >= 0 && p->iou <= 1))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): iou_threshold %g is outside [0, 1]", n->name, n->op_type,
                     (double)p->iou);
  p->has_score = score != NULL;
  p->score = score ? (float)kiln_load_f64(score->dtype, score->data, 0) : 0.0f;
  bool run = !boxes->data || !scores->data || kiln_value_is_symbolic(boxes) ||
             kiln_value_is_symbolic(scores);
  if (run && (kiln_value_is_symbolic(boxes) || kiln_value_is_symbolic(scores) ||
              p->batches * p->classes * p->keep >= 3)) {
    *at_run = true;
    return KILN_OK;
  }
  if (!(boxes = kiln_select_known(g, n, 0, err)) || !(scores = kiln_select_known(g, n, 1, err)))
    return err->code;
  p->boxes = boxes->data;
  p->scores = scores->data;
  return KILN_OK;
}

static kiln_nms_limits limits_of(const nms_params *p) {
  return (kiln_nms_limits){p->limit, p->iou, p->score, p->has_score, p->center};
}

/* onnxruntime's SuppressByIOU, in f32 as there: whether a and b overlap by more than iou. */
static bool suppress(const float *a, const float *b, bool center, float iou) {
  float ax0, ax1, ay0, ay1, bx0, bx1, bz0, bz1;
  if (center) {
    ax0 = a[0] - a[2] / 2, ax1 = a[0] + a[2] / 2, ay0 = a[1] - a[3] / 2, ay1 = a[1] + a[3] / 2;
    bx0 = b[0] - b[2] / 2, bx1 = b[0] + b[2] / 2, bz0 = b[1] - b[3] / 2, bz1 = b[1] + b[3] / 2;
  } else { /* [y1, x1, y2, x2], corners in either order */
    ax0 = fminf(a[1], a[3]), ax1 = fmaxf(a[1], a[3]), ay0 = fminf(a[0], a[2]), ay1 = fmaxf(a[0], a[2]);
    bx0 = fminf(b[1], b[3]), bx1 = fmaxf(b[1], b[3]), bz0 = fminf(b[0], b[2]), bz1 = fmaxf(b[0], b[2]);
  }
  float ix0 = fmaxf(ax0, bx0), ix1 = fminf(ax1, bx1);
  if (ix1 <= ix0) return false;
  float iy0 = fmaxf(ay0, bz0), iy1 = fminf(ay1, bz1);
  if (iy1 <= iy0) return false;
  float inter = (ix1 - ix0) * (iy1 - iy0);
  float area_a = (ax1 - ax0) * (ay1 - ay0), area_b = (bx1 - bx0) * (bz1 - bz0);
  float uni = area_a + area_b - inter;
  if (!(inter > 0) || area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > iou;
}

typedef struct nms_box {
  float score;
  int64_t idx;
} nms_box;

static int by_score(const void *pa, const void *pb) {
  const nms_box *a = pa, *b = pb;
  int an = isnan(a->score) != 0, bn = isnan(b->score) != 0;
  if (an != bn) return an - bn;
  if (!an && a->score != b->score) return a->score > b->score ? -1 : 1;
  return (a->idx > b->idx) - (a->idx < b->idx);
}

/* The selected (batch, class, box) triples, *count of them, into *out (malloc'd; NULL
 * after a failure). */
static kiln_status nms_run(const kiln_node *n, const nms_params *p, int64_t **out,
                           int64_t *count, kiln_error *err) {
  size_t nb = (size_t)(p->nboxes > 0 ? p->nboxes : 1);
  nms_box *cand = kiln_xmalloc(sizeof *cand * nb);
  int64_t *kept = kiln_xmalloc(sizeof *kept * nb), *sel = NULL, cap = 0, tests = 0;
  kiln_status st = KILN_OK;
  *count = 0;
  for (int64_t b = 0; b < p->batches && p->keep && !st; b++)
    for (int64_t c = 0; c < p->classes && !st; c++) {
      const float *s = p->scores + (b * p->classes + c) * p->nboxes;
      int64_t nc = 0, nk = 0;
      for (int64_t i = 0; i < p->nboxes; i++)
        if (!p->has_score || s[i] > p->score) cand[nc++] = (nms_box){s[i], i};
      qsort(cand, (size_t)nc, sizeof *cand, by_score);
      for (int64_t k = 0; k < nc && nk < p->keep; k++) {
        const float *box = p->boxes + (b * p->nboxes + cand[k].idx) * 4;
        bool keep = true;
        for (int64_t j = 0; j < nk && keep; j++)
          keep = !suppress(box, p->boxes + (b * p->nboxes + kept[j]) * 4, p->center, p->iou);
        if ((tests += nk) > MAX_IOU_TESTS) {
          st = kiln_fail_node(n, err, KILN_ERR_LIMIT,
                              "the selection takes over 2^32 IoU tests at compile time");
          break;
        }
        if (!keep) continue;
        kept[nk++] = cand[k].idx;
        if (*count == cap)
          sel = kiln_xrealloc(sel, sizeof *sel * 3 * (size_t)(cap = cap ? 2 * cap : 64));
        int64_t *row = sel + 3 * (*count)++;
        row[0] = b, row[1] = c, row[2] = cand[k].idx;
      }
    }
  free(cand);
  free(kept);
  if (st) free(sel);
  *out = st ? NULL : sel ? sel : kiln_xmalloc(1);
  return st;
}

static kiln_status infer_nms(kiln_graph *g, kiln_node *n, kiln_error *err) {
  nms_params p;
  int64_t *sel, dims[2] = {0, 3};
  bool at_run;
  if (nms_params_get(g, n, &p, &at_run, err)) return err->code;
  if (at_run) {
    kiln_nms_limits l = limits_of(&p);
    return kiln_nms_infer_run(g, n, &l, err);
  }
  if (nms_run(n, &p, &sel, &dims[0], err)) return err->code;
  free(sel);
  kiln_set_out(g, n, 0, KILN_I64, 2, dims);
  return KILN_OK;
}

static kiln_status expand_nms(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  nms_params p;
  int64_t *sel, count;
  bool at_run;
  if (nms_params_get(g, n, &p, &at_run, err)) return err->code;
  if (at_run) {
    kiln_nms_limits l = limits_of(&p);
    return kiln_nms_expand_run(g, b, pos, &l, err);
  }
  if (nms_run(n, &p, &sel, &count, err)) return err->code;
  kiln_select_set_out(g, n, 0, sel);
  kiln_block_remove(g, b, pos);
  return KILN_OK;
}

static const kiln_attr_spec nms_attrs[] = {{"center_point_box", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_nms[] = {
    {"NonMaxSuppression", 2, 5, 1, 1, nms_attrs, infer_nms, NULL, expand_nms, KILN_OP_DATA_DIMS},
    {NULL},
};
