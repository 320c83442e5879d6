/* The layout pass: convolution networks run in the blocked channel layout NCHWc
 * (ir/ops/layout.c), b channels innermost, b the target's vector width.
 *
 * Walking the main block in order, each 2-D f32 Conv with constant weights (dense or
 * depthwise) whose output channels split into blocks becomes a ConvBlocked writing a
 * blocked twin of its output, its weights packed here, once, in the order its register
 * tile reads them. Pooling ops (flag KILN_OP_POOL) read a blocked input as it is, and a
 * Concat of blocked tensors along channels joins their blocks. An
 * elementwise op (flag KILN_OP_ELEMENTWISE) whose tensor operands have
 * blocked twins of the same shape (others may be scalars; a plain operand of the same
 * shape is converted) runs on the twins as it is. Every value given a twin keeps its plain
 * form too, computed by a FromBlocked right after the twin's producer: readers that do not
 * take blocked tensors (pooling, reshapes, graph outputs) read that, and dead-code removal
 * drops the conversions nobody reads. So conversions happen only where a blocked region
 * meets the rest of the graph.
 *
 * The block is a choice point (ir/choice.h) of the whole model, since a block is shared by
 * every tensor of a region: the vector width (the default), 8 on wider vectors, or none
 * (no blocked layout at all); `kiln tune` measures them on the whole model. */
#include "passes/passes.h"

#include "ir/op.h"
#include "ir/tuning_log.h"

#include <stdlib.h>
#include <string.h>

typedef struct layout {
  kiln_graph *g;
  kiln_block *blk;
  int vf; /* the channel block: the vector width, or what a tuning log chose */
  int *twin; /* per value id: its blocked twin, -1 */
  int nvalues; /* values the twin table covers (values added later have no twin) */
} layout;

/* The block for c channels: the vector width when it divides c, else 8 when that does. */
static int64_t block_for(int64_t c, int vf) {
  if (c % vf == 0) return vf;
  return c % 8 == 0 && vf > 8 ? 8 : 0;
}

static int twin_of(const layout *L, int v) { return v >= 0 && v < L->nvalues ? L->twin[v] : -1; }

static int new_value(kiln_graph *g, const char *base, const char *suffix) {
  char *name = kiln_fmt("%s%s", base, suffix);
  int id = kiln_graph_add_value(g, name);
  free(name);
  return id;
}

/* n's shapes, and their dim expressions when the graph has free dims. */
static kiln_status infer(layout *L, kiln_node *n, kiln_error *err) {
  return n->op->infer(L->g, n, err) || kiln_infer_symbolic(L->g, n, err) ? err->code : KILN_OK;
}

/* Inserts node op(inputs) -> out at *pos (then after it) and infers it. */
static kiln_status insert(layout *L, int *pos, const char *op, const char *name, const int *ins,
                          int nins, int out, kiln_node **made, kiln_error *err) {
  int id = kiln_graph_insert_node(L->g, L->blk, (*pos)++, op, name, ins, nins, &out, 1);
  kiln_node *n = &L->g->nodes[id];
  if (made) *made = n;
  return made ? KILN_OK : infer(L, n, err);
}

/* Names twin t's layout for reports once its shape [N, C/b, H, W, b] is inferred. */
static void mark_blocked(kiln_graph *g, int t) {
  free(g->values[t].layout);
  g->values[t].layout = kiln_fmt("NCHW%lldc", (long long)g->values[t].dims[4]);
}

/* After the node at pos-1 wrote twin t of value v: v = FromBlocked(t) at pos. */
static kiln_status plain_after(layout *L, int *pos, int v, int t, kiln_error *err) {
  mark_blocked(L->g, t);
  char *name = kiln_fmt("%s.plain", L->g->values[v].name);
  kiln_status st = insert(L, pos, "FromBlocked", name, &t, 1, v, NULL, err);
  free(name);
  L->twin[v] = t;
  return st;
}

/* ---- Conv ------------------------------------------------------------------------------ */

/* Packs W [M, C, KH, KW] as [M/ob][C/ib][KH][KW][ib][ob], or a depthwise [C, 1, KH, KW] as
 * [C/b][KH][KW][b]: a new constant. */
static int pack_weights(kiln_graph *g, const kiln_value *w, bool dw, int64_t ib, int64_t ob) {
  int64_t m = w->dims[0], c = w->dims[1], kh = w->dims[2], kw = w->dims[3], kk = kh * kw;
  const float *src = w->data;
  float *p = kiln_xmalloc(sizeof(float) * (size_t)kiln_value_numel(w));
  kiln_tensor t = {KILN_F32, dw ? 4 : 6, {0}, p};
  if (dw) {
    int64_t d[4] = {m / ob, kh, kw, ob};
    memcpy(t.dims, d, sizeof d);
    for (int64_t o = 0; o < m; o++)
      for (int64_t q = 0; q < kk; q++) p[((o / ob) * kk + q) * ob + o % ob] = src[o * kk + q];
  } else {
    int64_t d[6] = {m / ob, c / ib, kh, kw, ib, ob};
    memcpy(t.dims, d, sizeof d);
    for (int64_t o = 0; o < m; o++)
      for (int64_t i = 0; i < c; i++)
        for (int64_t q = 0; q < kk; q++)
          p[((((o / ob) * (c / ib) + i / ib) * kk + q) * ib + i % ib) * ob + o % ob] =
              src[(o * c + i) * kk + q];
  }
  int id = new_value(g, w->name, dw ? ".dwblocked" : ".blocked");
  kiln_value_set_const(&g->values[id], &t);
  g->values[id].layout = dw ? kiln_fmt("CHW%lldc", (long long)ob)
                            : kiln_fmt("OIHW%lldi%lldo", (long long)ib, (long long)ob);
  return id;
}

/* Could Conv n be blocked: 2-D, f32, constant weights and bias, one output? */
static bool conv_candidate(const kiln_graph *g, const kiln_node *n) {
  const kiln_value *x = kiln_node_in(g, n, 0), *w = kiln_node_in(g, n, 1),
                   *b = kiln_node_in(g, n, 2), *y = kiln_node_out(g, n, 0);
  return (n->op->flags & KILN_OP_CONV) && x && w && y && x->rank == 4 && w->rank == 4 &&
         x->dtype == KILN_F32 && w->dtype == KILN_F32 && w->data && (!b || b->data) &&
         n->noutputs == 1;
}

/* Node n (at pos) as a ConvBlocked, when it is one: a candidate, dense (each group's
 * channels whole blocks) or depthwise (a blocked input then), output channels in blocks. */
static kiln_status convert_conv(layout *L, int *pos, kiln_node *n, bool *done, kiln_error *err) {
  kiln_graph *g = L->g;
  const kiln_value *x = kiln_node_in(g, n, 0), *w = kiln_node_in(g, n, 1),
                   *b = kiln_node_in(g, n, 2);
  *done = false;
  if (!conv_candidate(g, n)) return KILN_OK;
  int64_t group = kiln_attr_int(n, "group", 1), m = w->dims[0], ob = block_for(m, L->vf);
  bool dw = group > 1 && group == x->dims[1] && group == m && w->dims[1] == 1;
  if (!ob || group < 1 || (!dw && (m / group) % ob)) return KILN_OK;
  /* auto_pad SAME along a free dim: the leading pad follows its parity, which the blocked
   * form's padded copy cannot (the plain Conv computes it) */
  const char *ap = kiln_attr_str(n, "auto_pad", "NOTSET");
  if (!strncmp(ap, "SAME", 4) && (x->sym[2] || x->sym[3])) return KILN_OK;
  /* negative pads read inside the input: the blocked form pads only */
  const int64_t *pads;
  int np = kiln_attr_ints(n, "pads", &pads);
  for (int i = 0; i < np; i++)
    if (pads[i] < 0) return KILN_OK;
  int xt = twin_of(L, n->inputs[0]);
  int64_t ib = xt >= 0 ? g->values[xt].dims[4] : 1;
  if (dw && (xt < 0 || ib != ob)) return KILN_OK; /* a depthwise conv reads channel vectors */
  if (!dw && w->dims[1] % ib) return KILN_OK; /* a group's input channels: whole blocks */
  int yv = n->outputs[0];
  int wp = pack_weights(g, w, dw, ib, ob);
  int ins[3] = {xt >= 0 ? xt : n->inputs[0], wp, b ? n->inputs[2] : -1};
  int yt = new_value(g, g->values[yv].name, ".blocked");
  kiln_node *cn;
  char *name = kiln_xstrdup(n->name);
  kiln_node saved = *n; /* its attributes move to the new node */
  n->nattrs = 0;
  n->attrs = NULL;
  kiln_block_remove(g, L->blk, *pos);
  insert(L, pos, "ConvBlocked", name, ins, b ? 3 : 2, yt, &cn, err);
  free(name);
  /* the window's attributes move over as they are; kernel_shape (W has it) goes */
  static const char *const copied[] = {"auto_pad", "dilations", "pads", "strides", "group"};
  cn->attrs = saved.attrs;
  for (int i = 0; i < saved.nattrs; i++) {
    bool keep = false;
    for (size_t j = 0; j < sizeof copied / sizeof copied[0]; j++)
      keep |= !strcmp(saved.attrs[i].name, copied[j]);
    if (keep) cn->attrs[cn->nattrs++] = saved.attrs[i];
    else kiln_attr_clear(&saved.attrs[i]);
  }
  if (dw) kiln_node_add_attr(cn, "_depthwise", KILN_ATTR_INT)->i = 1;
  if (infer(L, cn, err)) return err->code;
  *done = true;
  return plain_after(L, pos, yv, yt, err);
}

/* ---- elementwise ops ------------------------------------------------------------------- */

/* Does 4-D value v broadcast to y's shape along batch and spatial dims with y's channels?
 * Then its blocked form broadcasts to y's blocked form the same way (a squeeze-excite
 * scale [N, C, 1, 1] times a feature map [N, C, H, W]). */
static bool channel_operand(const kiln_value *v, const kiln_value *y) {
  if (v->rank != 4 || v->dims[1] != y->dims[1]) return false;
  for (int d = 0; d < 4; d++)
    if (d != 1 && v->dims[d] != y->dims[d] && v->dims[d] != 1) return false;
  return true;
}

/* Node n (at pos) on blocked twins, when its tensor operands have them in one block size
 * (others may be scalars, or plain tensors of the same channels, converted first), all
 * with the output's channels. */
static kiln_status convert_elementwise(layout *L, int *pos, kiln_node *n, kiln_error *err) {
  kiln_graph *g = L->g;
  if (!(n->op->flags & KILN_OP_ELEMENTWISE) || n->noutputs != 1 || n->outputs[0] < 0)
    return KILN_OK;
  const kiln_value *y = kiln_node_out(g, n, 0);
  if (y->rank != 4) return KILN_OK;
  int64_t blk = 0;
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    int t = twin_of(L, n->inputs[i]);
    if (!v || (t < 0 && kiln_value_numel(v) == 1)) continue;
    if (!channel_operand(v, y) || (t >= 0 && blk && blk != g->values[t].dims[4])) return KILN_OK;
    if (t >= 0) blk = g->values[t].dims[4];
  }
  if (!blk) return KILN_OK;
  int ins[32];
  for (int i = 0; i < n->ninputs && i < 32; i++) {
    int v = n->inputs[i], t = twin_of(L, v);
    ins[i] = t >= 0 ? t : v;
    if (t < 0 && v >= 0 && kiln_value_numel(&g->values[v]) != 1) { /* plain: convert it */
      int nt = new_value(g, g->values[v].name, ".blocked");
      char *name = kiln_fmt("%s.blocked", g->values[v].name);
      kiln_node *tn;
      insert(L, pos, "ToBlocked", name, &v, 1, nt, &tn, err);
      free(name);
      kiln_node_add_attr(tn, "block", KILN_ATTR_INT)->i = blk;
      if (infer(L, tn, err)) return err->code;
      mark_blocked(g, nt);
      n = &g->nodes[L->blk->nodes[*pos]]; /* the node array may have moved */
      if (v < L->nvalues) L->twin[v] = nt;
      ins[i] = nt;
    }
  }
  int yv = n->outputs[0], yt = new_value(g, g->values[yv].name, ".blocked");
  n = &g->nodes[L->blk->nodes[*pos]];
  for (int i = 0; i < n->ninputs && i < 32; i++) n->inputs[i] = ins[i];
  n->outputs[0] = yt;
  g->values[yt].producer = L->blk->nodes[*pos];
  if (infer(L, n, err)) return err->code;
  ++*pos;
  return plain_after(L, pos, yv, yt, err);
}

/* ---- pooling --------------------------------------------------------------------------- */

/* A pooling node n (at pos) whose input has a twin reads it, writing a twin, when it has
 * one output (MaxPool's Indices number plain positions). */
static kiln_status convert_pool(layout *L, int *pos, kiln_node *n, bool *done, kiln_error *err) {
  kiln_graph *g = L->g;
  int xt = twin_of(L, n->inputs[0]);
  *done = false;
  if (xt < 0 || n->noutputs != 1 || n->outputs[0] < 0) return KILN_OK;
  int yv = n->outputs[0], yt = new_value(g, g->values[yv].name, ".blocked");
  n = &g->nodes[L->blk->nodes[*pos]];
  kiln_node_add_attr(n, "_blocked", KILN_ATTR_INT)->i = 1;
  n->inputs[0] = xt;
  n->outputs[0] = yt;
  g->values[yt].producer = L->blk->nodes[*pos];
  if (infer(L, n, err)) return err->code;
  ++*pos;
  *done = true;
  return plain_after(L, pos, yv, yt, err);
}

/* A Concat along channels (axis 1 of a 4-D value) of inputs that all have twins in one
 * block size joins the twins along their blocks. */
static kiln_status convert_concat(layout *L, int *pos, kiln_node *n, bool *done,
                                  kiln_error *err) {
  kiln_graph *g = L->g;
  *done = false;
  const kiln_value *y = kiln_node_out(g, n, 0);
  int64_t axis = kiln_attr_int(n, "axis", 0), blk = 0;
  if (!y || y->rank != 4 || (axis != 1 && axis != -3) || n->noutputs != 1) return KILN_OK;
  for (int i = 0; i < n->ninputs; i++) {
    int t = twin_of(L, n->inputs[i]);
    if (t < 0 || (blk && g->values[t].dims[4] != blk)) return KILN_OK;
    blk = g->values[t].dims[4];
  }
  int yv = n->outputs[0], yt = new_value(g, g->values[yv].name, ".blocked");
  n = &g->nodes[L->blk->nodes[*pos]];
  for (int i = 0; i < n->ninputs; i++) n->inputs[i] = L->twin[n->inputs[i]];
  for (int a = 0; a < n->nattrs; a++)
    if (!strcmp(n->attrs[a].name, "axis")) n->attrs[a].i = 1; /* -3 of 4 dims, not of 5 */
  n->outputs[0] = yt;
  g->values[yt].producer = L->blk->nodes[*pos];
  if (infer(L, n, err)) return err->code;
  ++*pos;
  *done = true;
  return plain_after(L, pos, yv, yt, err);
}

/* The model's choice point: the blocks allowed (the vector width, 8 below a wider one,
 * none), keyed by what the convolutions' code depends on (each candidate's op, input and
 * weight shapes and window attributes, in order), not the weights' values. False when no
 * Conv could be blocked, or one's shape is free (the generic code keeps the default). */
static bool choice_point(const kiln_graph *g, int vf, kiln_choice *c) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return false;
  *c = (kiln_choice){.what = "layout", .def = vf, .whole = true, .nvalues = 1, .values = {vf}};
  if (vf > 8) c->values[c->nvalues++] = 8;
  c->values[c->nvalues++] = 0;
  bool free_dims = false;
  fprintf(f, "layout");
  for (int i = 0; i < g->main.nnodes; i++) {
    const kiln_node *n = &g->nodes[g->main.nodes[i]];
    if (!n->op || !conv_candidate(g, n) || kiln_node_in(g, n, 1)->dims[0] % 8) continue;
    const kiln_value *x = kiln_node_in(g, n, 0), *w = kiln_node_in(g, n, 1), *y = kiln_node_out(g, n, 0);
    free_dims |= kiln_value_is_symbolic(x) || kiln_value_is_symbolic(y);
    if (!c->node) {
      c->node = n->name;
      c->op = n->op_type;
    }
    fprintf(f, ";%s", n->op_type);
    for (int d = 0; d < 4; d++) fprintf(f, ",%lld", (long long)x->dims[d]);
    for (int d = 0; d < 4; d++) fprintf(f, ",%lld", (long long)w->dims[d]);
    static const char *const window[] = {"strides", "pads", "dilations"};
    for (int a = 0; a < 3; a++) {
      const int64_t *v;
      int nv = kiln_attr_ints(n, window[a], &v);
      fprintf(f, ";%s", window[a]);
      for (int k = 0; k < nv; k++) fprintf(f, ",%lld", (long long)v[k]);
    }
    fprintf(f, ";group=%lld;%s", (long long)kiln_attr_int(n, "group", 1),
            kiln_attr_str(n, "auto_pad", "NOTSET"));
  }
  fclose(f);
  if (c->node && !free_dims) kiln_hash_hex(text, len, c->key);
  free(text);
  return c->node && !free_dims;
}

kiln_status kiln_pass_layout(kiln_graph *g, int vector_floats, const kiln_tuning_log *log,
                             const kiln_tuning_target *target, kiln_error *err) {
  layout L = {g, &g->main, vector_floats, NULL, g->nvalues};
  if (vector_floats < 8) return KILN_OK; /* no vectors worth blocking for */
  kiln_choice c;
  if (choice_point(g, vector_floats, &c)) L.vf = kiln_choice_take(&g->choices, &c, log, target);
  if (!L.vf) return KILN_OK;
  L.twin = kiln_xmalloc(sizeof(int) * (size_t)(g->nvalues ? g->nvalues : 1));
  for (int i = 0; i < g->nvalues; i++) L.twin[i] = -1;
  kiln_status st = KILN_OK;
  for (int pos = 0; pos < L.blk->nnodes && !st; pos++) {
    kiln_node *n = &g->nodes[L.blk->nodes[pos]];
    if (!n->op) continue;
    int at = pos;
    bool done = false;
    /* each conversion may add nodes and values, moving the arrays n points into */
    if (n->op->flags & KILN_OP_CONV) st = convert_conv(&L, &at, n, &done, err);
    else if (n->op->flags & KILN_OP_POOL) st = convert_pool(&L, &at, n, &done, err);
    else if (n->op->flags & KILN_OP_CONCAT) st = convert_concat(&L, &at, n, &done, err);
    if (!st && !done && at == pos) st = convert_elementwise(&L, &at, n, err);
    if (at > pos) pos = at - 1; /* past what was inserted */
  }
  free(L.twin);
  return st;
}
