/* StringSplit: each string's pieces (Python's str.split, rt/string_split.c), padded with ""
 * to the most pieces of any element, W, and each element's piece count Z. W is a count
 * only the run knows, so, as for NonZero (ir/ops/select_run.c), it is a data sym of the
 * graph; memory is planned at its bound: maxsplit + 1, or 4096 without maxsplit (at most
 * 2^20). An element of more pieces stops the run naming the node. The node expands into
 *
 *   StringSplitCount(x)        -> z [x's dims]: each element's pieces (output Z)
 *   StringSplitWidth(z)        -> w [1]: the most pieces, checked against the bound and
 *                                 written into the run's dims as W
 *   StringSplitSpans(x, w)     -> spans [x's dims, W]: each piece's span, found from the
 *                                 one before it along a row (-1 past the last), so a row
 *                                 costs one pass over its string
 *   StringSplitParts(x, spans) -> y [x's dims, W]: the pieces, "" past an element's last
 *
 * The spans and the pieces read W, which StringSplitWidth's kernel writes: they take its
 * output, so they run in kernels after it. */
#include "ir/op.h"
#include "ir/ops/expand.h"
#include "ir/ops/select.h"

#include "ir/dtype.h"
#include "rt/strings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WIDTH 4096
#define MAX_WIDTH ((int64_t)1 << 20)

static int64_t width_bound(const kiln_node *n) {
  int64_t m = kiln_attr_int(n, "maxsplit", -1);
  int64_t b = m >= 0 && m < MAX_WIDTH ? m + 1 : m < 0 ? DEFAULT_WIDTH : MAX_WIDTH;
  return b < 3 ? 3 : b; /* the least bound a data sym takes (passes/sym_points.c) */
}

static const char *delimiter(const kiln_node *n) { return kiln_attr_str(n, "delimiter", ""); }

/* x's dims, and with `sym` >= 0 one more: that data sym. */
static kiln_status set_pieces_out(kiln_graph *g, kiln_node *n, int i, kiln_dtype t, int sym,
                                  kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (x->dtype != KILN_STRING)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "input must be a string tensor");
  if (x->rank + (sym >= 0) > KILN_MAX_RANK)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "its output's rank is past kiln's limit");
  kiln_symdim dims[KILN_MAX_RANK];
  for (int d = 0; d < x->rank; d++) dims[d] = kiln_value_symdim(g, x, d);
  if (sym >= 0) {
    if (kiln_select_check_count(g, n, sym, err)) return err->code;
    dims[x->rank] = kiln_symdim_sym(sym);
  }
  return kiln_set_out_sym(g, n, i, t, x->rank + (sym >= 0), dims, err);
}

static int width_sym(kiln_graph *g, const kiln_node *n, kiln_error *err) {
  kiln_symdim bound = kiln_symdim_const(width_bound(n));
  return kiln_select_data_sym(g, n, "width", &bound, err);
}

static kiln_status infer_split(kiln_graph *g, kiln_node *n, kiln_error *err) {
  int sym = width_sym(g, n, err);
  if (sym < 0) return err->code;
  kiln_status st = set_pieces_out(g, n, 0, KILN_STRING, sym, err);
  if (!st && n->noutputs > 1) st = set_pieces_out(g, n, 1, KILN_I64, -1, err);
  return st;
}

static kiln_status expand_split(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  int sym = width_sym(g, n, err);
  if (sym < 0) return err->code;
  int64_t bound = width_bound(n);
  int x = n->inputs[0], y = n->outputs[0], z = n->noutputs > 1 ? n->outputs[1] : -1;
  char *delim = kiln_xstrdup(delimiter(n));
  int64_t maxsplit = kiln_attr_int(n, "maxsplit", -1);
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_I64); /* n is stale from here */
  z = kiln_ex_node1(&e, "StringSplitCount", &x, 1, z, "count");
  kiln_ex_attr_s(&e, "delimiter", delim);
  kiln_ex_attr_i(&e, "maxsplit", maxsplit);
  int w = kiln_ex_node1(&e, "StringSplitWidth", &z, 1, -1, "width");
  kiln_ex_attr_i(&e, "sym", sym);
  kiln_ex_attr_i(&e, "bound", bound);
  int spans = kiln_ex_node1(&e, "StringSplitSpans", (int[]){x, w}, 2, -1, "spans");
  kiln_ex_attr_s(&e, "delimiter", delim);
  kiln_ex_attr_i(&e, "maxsplit", maxsplit);
  kiln_ex_attr_i(&e, "sym", sym);
  kiln_ex_node1(&e, "StringSplitParts", (int[]){x, spans}, 2, y, "pieces");
  kiln_ex_attr_i(&e, "sym", sym);
  kiln_ex_end(&e);
  free(delim);
  return KILN_OK;
}

/* ---- StringSplitCount ----------------------------------------------------------------- */

/* KILN_OP_SYMBOLIC without KILN_OP_DATA_DIMS: its dims at these values of the free dims,
 * which symbolic inference fits (the ops that set their syms themselves call
 * set_pieces_out) */
static kiln_status infer_count(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (x->dtype != KILN_STRING)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "input must be a string tensor");
  kiln_set_out(g, n, 0, KILN_I64, x->rank, x->dims);
  return KILN_OK;
}

static kiln_expr *build_count(kiln_lower_ctx *c, kiln_expr *const *x) {
  return kx_call(c->k, KF_SPLIT_COUNT, x[0], NULL, kiln_attr_int(c->n, "maxsplit", -1), delimiter(c->n));
}

static kiln_status lower_count(kiln_lower_ctx *c) { return kiln_lower_elementwise(c, build_count); }

/* ---- StringSplitWidth ----------------------------------------------------------------- */

static kiln_status infer_width(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (kiln_select_check_count(g, n, (int)kiln_attr_int(n, "sym", -1), err)) return err->code;
  int64_t one = 1;
  kiln_set_out(g, n, 0, KILN_I64, 1, &one);
  return KILN_OK;
}

static kiln_status lower_width(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *z = &k->bufs[c->in_buf[0]];
  int rank = z->rank, w = c->out_buf[0];
  int64_t bound = kiln_attr_int(c->n, "bound", DEFAULT_WIDTH);
  /* the node StringSplit expanded into: this one's name less its "/width" */
  const char *slash = strrchr(c->n->name, '/');
  int len = slash ? (int)(slash - c->n->name) : (int)strlen(c->n->name);
  char what[400];
  snprintf(what, sizeof what, "node '%.*s' (StringSplit): an element's pieces, at most %lld "
           "(maxsplit + 1, or %d without maxsplit)", len > 300 ? 300 : len, c->n->name,
           (long long)bound, DEFAULT_WIDTH);
  /* w = the most pieces of an element (0 for none), each count checked */
  kiln_stage *s = kiln_kernel_add_stage(k, "split_width", w);
  kiln_expr *zero = kx_idx(k, 0), *v[KILN_MAX_RANK];
  kiln_stage_axis(s, 1, false);
  for (int d = 0; d < rank; d++) v[d] = kx_var(k, kiln_stage_axis(s, z->dims[d], true));
  if (rank) {
    s->reduce = KR_MAX;
    s->init = kx_idx(k, 0);
  }
  kiln_stage_store(k, s, &zero, kx_check_index(k, kx_load(k, c->in_buf[0], v), bound + 1, false, what));
  /* the run's dims: [sym] = w */
  s = kiln_kernel_add_stage(k, "split_width_dim", kiln_lower_dims_buf(k, c->g));
  s->ordered = true;
  kiln_stage_axis(s, 1, false);
  kiln_expr *slot = kx_idx(k, kiln_attr_int(c->n, "sym", -1));
  kiln_stage_store(k, s, &slot, kx_load(k, w, &zero));
  return KILN_OK;
}

/* ---- StringSplitSpans, StringSplitParts --------------------------------------------- */

static kiln_status infer_spans(kiln_graph *g, kiln_node *n, kiln_error *err) {
  return set_pieces_out(g, n, 0, KILN_I64, (int)kiln_attr_int(n, "sym", -1), err);
}

static kiln_status infer_parts(kiln_graph *g, kiln_node *n, kiln_error *err) {
  return set_pieces_out(g, n, 0, KILN_STRING, (int)kiln_attr_int(n, "sym", -1), err);
}

/* A stage over every element of out ([x's dims, W]): vars in v, the string x[v..] in *s. */
static kiln_stage *row_stage(kiln_lower_ctx *c, const char *name, kiln_expr **v, kiln_expr **s) {
  kiln_kernel *k = c->k;
  kiln_stage *st = kiln_elementwise_stage(k, name, c->out_buf[0], v);
  *s = kx_load(k, c->in_buf[0], v); /* x's rank: the row's index */
  return st;
}

/* spans[.., j] = the span after spans[.., j - 1] (the first at j = 0; the rest of the
 * string at j = maxsplit), in order along the row */
static kiln_status lower_spans(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int out = c->out_buf[0], last = k->bufs[out].rank - 1;
  int64_t maxsplit = kiln_attr_int(c->n, "maxsplit", -1);
  kiln_expr *v[KILN_MAX_RANK], *prev[KILN_MAX_RANK], *s;
  kiln_stage *st = row_stage(c, "split_spans", v, &s);
  st->ordered = true;
  memcpy(prev, v, sizeof prev);
  prev[last] = kx_addi(k, v[last], -1);
  kiln_expr *j = v[last];
  kiln_expr *before = kx_select(k, kx_binary(k, KB_GT, j, kx_idx(k, 0)), kx_load(k, out, prev),
                                kx_idx(k, KILN_SPLIT_FIRST));
  if (maxsplit >= 0)
    before = kx_binary(k, KB_OR, before, kx_select(k, kx_binary(k, KB_EQ, j, kx_idx(k, maxsplit)),
                                                   kx_idx(k, KILN_SPLIT_REST), kx_idx(k, 0)));
  kiln_stage_store(k, st, v, kx_call(k, KF_SPLIT_SPAN, s, before, 0, delimiter(c->n)));
  return KILN_OK;
}

static kiln_status lower_parts(kiln_lower_ctx *c) {
  kiln_expr *v[KILN_MAX_RANK], *s;
  kiln_stage *st = row_stage(c, "split_pieces", v, &s);
  kiln_expr *span = kx_load(c->k, c->in_buf[1], v);
  kiln_stage_store(c->k, st, v, kx_call(c->k, KF_STR_SPAN, s, span, 0, NULL));
  return KILN_OK;
}

static const kiln_attr_spec split_attrs[] = {
    {"delimiter", KILN_ATTR_STRING, false}, {"maxsplit", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec spans_attrs[] = {{"delimiter", KILN_ATTR_STRING, false},
                                             {"maxsplit", KILN_ATTR_INT, false},
                                             {"sym", KILN_ATTR_INT, true}, {NULL}};
static const kiln_attr_spec sym_attrs[] = {{"sym", KILN_ATTR_INT, true}, {NULL}};
static const kiln_attr_spec width_attrs[] = {
    {"sym", KILN_ATTR_INT, true}, {"bound", KILN_ATTR_INT, true}, {NULL}};

#define S KILN_OP_STRINGS
#define DYN (KILN_OP_SYMBOLIC | KILN_OP_DATA_DIMS)
const kiln_op_def kiln_ops_string_split[] = {
    {"StringSplit", 1, 1, 1, 2, split_attrs, infer_split, NULL, expand_split, S | DYN},
    {"StringSplitCount", 1, 1, 1, 1, split_attrs, infer_count, lower_count, NULL,
     KILN_OP_ELEMENTWISE | S | KILN_OP_SYMBOLIC},
    {"StringSplitWidth", 1, 1, 1, 1, width_attrs, infer_width, lower_width, NULL, KILN_OP_SYMBOLIC},
    {"StringSplitSpans", 2, 2, 1, 1, spans_attrs, infer_spans, lower_spans, NULL, S | DYN},
    {"StringSplitParts", 2, 2, 1, 1, sym_attrs, infer_parts, lower_parts, NULL, S | DYN},
    {NULL},
};
