/* Fusion: an elementwise kernel K2 folds into the kernel K1 producing the value Y it reads,
 * so chains (Conv -> Add -> Relu, Gelu's Div/Erf/Add/Mul/Mul) make one pass over memory.
 *
 * K2 is elementwise when it has one non-reduction stage storing its only output at plain
 * distinct loop variables over the output dims, and reads Y at exactly that index. K1's
 * last stage must write all of Y (plain distinct variables over Y's dims, nothing else
 * writes or reads Y in K1), and Y has no reader but K2 and is no graph output. The fused
 * stage computes K2's value with the load of Y replaced by K1's post(acc) (reductions: the
 * epilogue in the register tile) or K1's value, K2's other loads re-indexed onto K1's
 * axes, and stores into K2's output. K1 may write Y through a view that merges dims
 * (N, M, OH*OW): K2's dims then group onto K1's, and a load of K2 translates only when it
 * reads each merged group with all the group's variables in order (one merged index into
 * a view of its buffer) or not at all. Anything else is left unfused, and so is a fusion
 * whose expression would pass KILN_MAX_TREE_NODES, or into a reduction's register tile
 * KILN_MAX_EPILOGUE_COST (passes.h). Kernels with run-time dims
 * (kiln_options.symbolic_dims) fuse the same way when they declare the same syms and K1's Y
 * and K2's output have the same dims with the same dim expressions (no merging; a run-time
 * dim whose hint is 1 would pass for a broadcast one, so none fuses); K2's other inputs
 * keep theirs. Runs to a fixed point on lowered kernels, before memory planning. Decisions
 * look only at kernel IR. */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

/* ---- who reads what ------------------------------------------------------------------- */

/* The pass's bookkeeping: who reads each value across the whole program (kernels and If
 * conditions, a kernel once however many buffers it has on the value), and which step of
 * the list being fused writes it in its last stage. Kept up to date as kernels fuse, so
 * no fusion rescans the program. */
typedef struct fuser {
  const kiln_graph *g;
  int *nreaders; /* per value id */
  int *producer; /* per value id: a step of the current list, -1 */
} fuser;

static bool first_read(const kiln_kernel *k, int b) {
  for (int i = 0; i < b; i++)
    if (k->bufs[i].role == KILN_BUF_INPUT && k->bufs[i].value == k->bufs[b].value) return false;
  return true;
}

static void count_reads(fuser *f, const kiln_kernel *k, int delta) {
  for (int b = 0; b < k->nbufs; b++)
    if (k->bufs[b].role == KILN_BUF_INPUT && k->bufs[b].value >= 0 && first_read(k, b))
      f->nreaders[k->bufs[b].value] += delta;
}

static void count_steps(fuser *f, const kiln_steps *steps) {
  for (int s = 0; s < steps->n; s++) {
    const kiln_step *st = &steps->steps[s];
    if (st->kind == KILN_STEP_LOOP) {
      for (int i = 0; i < st->loop->nmoves + 3; i++) {
        int v = kiln_loop_read(st->loop, i);
        if (v >= 0) f->nreaders[v]++;
      }
      count_steps(f, st->loop->body);
    } else if (st->kind == KILN_STEP_IF) {
      count_steps(f, st->then_steps);
      count_steps(f, st->else_steps);
    } else {
      count_reads(f, st->kernel, 1);
    }
  }
}

static bool expr_reads(const kiln_expr *x, const kiln_kernel *k, int v) {
  if (!x) return false;
  if (x->kind == KX_LOAD && k->bufs[x->buf].value == v) return true;
  for (int d = 0; x->kind == KX_LOAD && d < x->nidx; d++)
    if (expr_reads(x->idx[d], k, v)) return true;
  return expr_reads(x->a, k, v) || expr_reads(x->b, k, v) || expr_reads(x->c, k, v);
}

/* Does x load a buffer of k other than value yv at an index that uses axis a? */
static bool loads_along(const kiln_kernel *k, const kiln_expr *x, int yv, int a) {
  if (!x) return false;
  if (x->kind == KX_LOAD && k->bufs[x->buf].value != yv)
    for (int d = 0; d < x->nidx; d++)
      if (kx_uses_axis(x->idx[d], a)) return true;
  for (int d = 0; x->kind == KX_LOAD && d < x->nidx; d++)
    if (loads_along(k, x->idx[d], yv, a)) return true;
  return loads_along(k, x->a, yv, a) || loads_along(k, x->b, yv, a) ||
         loads_along(k, x->c, yv, a);
}

/* An epilogue that loads along a reduction's innermost output axis (a residual Add) stays
 * out of it when that axis spans more than one register tile (32 floats) but no whole
 * number of them: the last tile then moves back over the one before, and LLVM's SLP
 * vectorizer turns such a tile with extra loads into code several times slower than the
 * kernels unfused (ResNet-50's 7x7 and 14x14 residual blocks). */
#define TILE_FLOATS 32
static bool epilogue_ok(const kiln_stage *s1, const kiln_kernel *k2, int yv) {
  const kiln_stage *s2 = &k2->stages[0];
  if (s1->reduce == KR_NONE || !s1->nout_idx || !s2->nout_idx) return true;
  const kiln_expr *o = s1->out_idx[s1->nout_idx - 1], *o2 = s2->out_idx[s2->nout_idx - 1];
  if (o->kind != KX_VAR || o2->kind != KX_VAR) return true; /* split columns: whole panels */
  int64_t n = s1->axes[o->axis].extent;
  return n <= TILE_FLOATS || n % TILE_FLOATS == 0 || !loads_along(k2, s2->value, yv, o2->axis);
}

/* ---- shapes of the two kernels -------------------------------------------------------- */

static bool const_zero(const kiln_expr *x) {
  return x->kind == KX_CONST && x->i == 0 && x->f == 0;
}

/* Is o "a * c + b" over spatial axes a and b with extent(b) == c (MatMulPanels' column,
 * panel * nr + lane)? Sets the axes. */
static bool split_index(const kiln_stage *s, const kiln_expr *o, int *a, int *b) {
  if (o->kind != KX_BINARY || o->op != KB_ADD) return false;
  const kiln_expr *mul = o->a, *lane = o->b;
  if (mul->kind != KX_BINARY) mul = o->b, lane = o->a;
  if (mul->kind != KX_BINARY || mul->op != KB_MUL || lane->kind != KX_VAR) return false;
  const kiln_expr *v = mul->a, *c = mul->b;
  if (v->kind != KX_VAR) v = mul->b, c = mul->a;
  if (v->kind != KX_VAR || c->kind != KX_CONST || v->axis == lane->axis) return false;
  *a = v->axis;
  *b = lane->axis;
  return *a >= 0 && *a < s->naxes && *b >= 0 && *b < s->naxes && !s->axes[*a].reduce &&
         !s->axes[*b].reduce && s->axes[*b].extent == c->i;
}

/* Does s write each element of its output exactly once, its out_idx distinct spatial
 * variables over the buffer's dims (or 0 where a dim is 1, as a reduction with keepdims
 * writes), or with `split`, also split ones (split_index) covering a dim? A consumer must
 * store plainly; a producer may split, since the consumer's index d becomes out_idx[d],
 * whatever expression it is. */
static bool covering_store(const kiln_kernel *k, const kiln_stage *s, bool split) {
  const kiln_buffer *b = &k->bufs[s->out_buf];
  int nspatial = 0, nvars = 0;
  bool used[KILN_MAX_AXES] = {0};
  for (int a = 0; a < s->naxes; a++) nspatial += !s->axes[a].reduce;
  if (s->nout_idx != b->rank) return false;
  for (int d = 0; d < b->rank; d++) {
    const kiln_expr *o = s->out_idx[d];
    int x, y;
    if (b->dims[d] == 1 && const_zero(o)) continue;
    if (split && split_index(s, o, &x, &y)) {
      if (used[x] || used[y] || s->axes[x].extent * s->axes[y].extent != b->dims[d])
        return false;
      used[x] = used[y] = true;
      nvars += 2;
      continue;
    }
    if (o->kind != KX_VAR || o->axis < 0 || o->axis >= s->naxes || used[o->axis] ||
        s->axes[o->axis].reduce || s->axes[o->axis].extent != b->dims[d] || b->dims[d] <= 0)
      return false;
    used[o->axis] = true;
    nvars++;
  }
  return nvars == nspatial;
}

/* One stage without reduction storing its only output (no temporaries) elementwise. */
static bool elementwise(const kiln_kernel *k) {
  if (k->nstages != 1 || k->stages[0].reduce != KR_NONE) return false;
  int outs = 0;
  for (int b = 0; b < k->nbufs; b++) {
    if (k->bufs[b].role == KILN_BUF_TEMP) return false;
    outs += k->bufs[b].role == KILN_BUF_OUTPUT;
  }
  return outs == 1 && k->bufs[k->stages[0].out_buf].role == KILN_BUF_OUTPUT &&
         covering_store(k, &k->stages[0], false);
}

/* ---- translation of K2's expressions onto K1's stage ----------------------------------- */

typedef struct fuse_ctx {
  kiln_kernel *k1;
  const kiln_kernel *k2;
  const kiln_stage *s1, *s2;
  int yv;                         /* the value Y */
  kiln_expr *y;                   /* what replaces K2's loads of Y */
  int r2;                         /* K2's rank */
  const int64_t *d2;              /* K2's output dims */
  int dim_of[KILN_MAX_AXES];      /* K2 axis -> its output dim */
  int gstart[KILN_MAX_RANK], gend[KILN_MAX_RANK]; /* K1 dim j covers K2 dims [start, end) */
  int group_of[KILN_MAX_RANK];    /* K2 dim -> K1 dim, -1 for dims of extent 1 */
  int nbig[KILN_MAX_RANK];        /* per K1 dim: its K2 dims of extent > 1 */
  const kiln_expr **from;         /* memo: K2 node -> K1 node */
  kiln_expr **to;
  int nmemo, cap, cap2;
  bool failed;
} fuse_ctx;

/* Groups K2's output dims contiguously onto the dims of K1's Y buffer (a reshape that only
 * merges; dims of extent 1 belong to no group). */
static bool group_dims(fuse_ctx *c, const kiln_buffer *y1) {
  int i = 0;
  for (int d = 0; d < c->r2; d++) c->group_of[d] = -1;
  for (int j = 0; j < y1->rank; j++) {
    c->gstart[j] = c->gend[j] = i;
    c->nbig[j] = 0;
    if (y1->dims[j] == 1) continue;
    while (i < c->r2 && c->d2[i] == 1) i++;
    c->gstart[j] = i;
    int64_t prod = 1;
    while (i < c->r2 && prod < y1->dims[j]) {
      prod *= c->d2[i];
      if (c->d2[i] > 1) c->nbig[j]++, c->group_of[i] = j;
      i++;
    }
    if (prod != y1->dims[j]) return false;
    c->gend[j] = i;
  }
  for (; i < c->r2; i++)
    if (c->d2[i] != 1) return false;
  return true;
}

static kiln_expr *copy_expr(fuse_ctx *c, const kiln_expr *x);

static bool is_zero(const fuse_ctx *c, const kiln_expr *x) {
  return const_zero(x) || (x->kind == KX_VAR && c->d2[c->dim_of[x->axis]] == 1);
}

/* ---- run-time dims: kernels with syms fuse when both see Y with the same dim expressions */

/* Dims of b a fusion reads by their hints alone: a run-time dim of hint 1 would pass for a
 * broadcast one. */
static bool hints_ok(const kiln_buffer *b) {
  for (int d = 0; d < b->rank; d++)
    if (b->dyn_dims[d] && b->dims[d] <= 1) return false;
  return true;
}

/* K1 and K2 with syms: the same syms, Y's buffer in K1 and K2's output the same dims (dim
 * expressions alike), so K2's axes map one to one onto K1's. */
static bool dyn_ok(const kiln_kernel *k1, const kiln_buffer *y1, const kiln_kernel *k2,
                   const kiln_buffer *z) {
  if (k1->nsyms != k2->nsyms || y1->rank != z->rank) return false;
  for (int i = 0; i < k1->nsyms; i++)
    if (strcmp(k1->syms[i], k2->syms[i])) return false;
  for (int d = 0; d < z->rank; d++)
    if (y1->dims[d] != z->dims[d] || !kiln_dim_expr_equal(y1->dyn_dims[d], z->dyn_dims[d]))
      return false;
  for (int b = 0; b < k2->nbufs; b++)
    if (!hints_ok(&k2->bufs[b])) return false;
  return hints_ok(y1);
}

/* A K1 input buffer for value v with these dims (dyn: their dim expressions, NULL for a
 * static one): an existing one or a new one. */
static int view_buffer(fuse_ctx *c, const kiln_buffer *b, int rank, const int64_t *dims,
                       const kiln_expr *const *dyn) {
  kiln_kernel *k = c->k1;
  for (int i = 0; i < k->nbufs; i++) {
    const kiln_buffer *o = &k->bufs[i];
    bool same = o->role == KILN_BUF_INPUT && o->value == b->value && o->dtype == b->dtype &&
                o->rank == rank && !memcmp(o->dims, dims, sizeof(int64_t) * (size_t)rank);
    for (int d = 0; same && d < rank; d++) same = kiln_dim_expr_equal(o->dyn_dims[d], dyn[d]);
    if (same) return i;
  }
  if (k->nbufs == KILN_MAX_BUFS) return -1;
  int i = kiln_kernel_add_buffer(k, b->name, KILN_BUF_INPUT, b->value, b->dtype, rank, dims);
  if (b->layout) k->bufs[i].layout = kiln_arena_strdup(&k->arena, b->layout);
  for (int d = 0; d < rank; d++)
    if (dyn[d]) kiln_buffer_dyn_dim(k, i, d, kiln_dim_expr_copy(k, dyn[d]));
  return i;
}

/* K1 computes K2's nodes after its own: the list in K1's arena, as K2 goes. */
static void append_nodes(kiln_kernel *k1, const kiln_kernel *k2) {
  size_t n = (size_t)(k1->nnodes + k2->nnodes);
  const char **nodes = kiln_arena_alloc(&k1->arena, sizeof *nodes * (n ? n : 1));
  for (int i = 0; i < k1->nnodes; i++) nodes[i] = k1->nodes[i];
  for (int i = 0; i < k2->nnodes; i++)
    nodes[k1->nnodes + i] = kiln_arena_strdup(&k1->arena, k2->nodes[i]);
  k1->nodes = nodes;
  k1->nnodes += k2->nnodes;
}

/* A load of K2's buffer (not Y) onto K1's axes: a run of indices that walks a merged group
 * in order becomes one index into a view of the buffer with those dims merged. */
static kiln_expr *copy_load(fuse_ctx *c, const kiln_expr *x) {
  const kiln_buffer *b = &c->k2->bufs[x->buf];
  int64_t dims[KILN_MAX_RANK];
  const kiln_expr *dyn[KILN_MAX_RANK];
  kiln_expr *idx[KILN_MAX_RANK];
  int n = 0;
  for (int p = 0; p < x->nidx;) {
    const kiln_expr *e = x->idx[p];
    int j = e->kind == KX_VAR ? c->group_of[c->dim_of[e->axis]] : -1;
    if (j < 0 || c->nbig[j] < 2) { /* an index of its own */
      dims[n] = b->dims[p];
      dyn[n] = b->dyn_dims[p];
      idx[n++] = copy_expr(c, e);
      p++;
      continue;
    }
    int len = c->gend[j] - c->gstart[j];
    if (c->dim_of[e->axis] != c->gstart[j] || p + len > x->nidx) return NULL;
    for (int t = 0; t < len; t++) {
      int d = c->gstart[j] + t;
      const kiln_expr *it = x->idx[p + t];
      bool ok = c->d2[d] > 1 ? it->kind == KX_VAR && c->dim_of[it->axis] == d &&
                                   b->dims[p + t] == c->d2[d]
                             : is_zero(c, it) && b->dims[p + t] == 1;
      if (!ok) return NULL;
    }
    dims[n] = c->k1->bufs[c->s1->out_buf].dims[j];
    dyn[n] = c->k1->bufs[c->s1->out_buf].dyn_dims[j];
    idx[n++] = c->s1->out_idx[j];
    p += len;
  }
  if (c->failed) return NULL;
  int vb = view_buffer(c, b, n, dims, dyn);
  return vb < 0 ? NULL : kx_load(c->k1, vb, idx);
}

static kiln_expr *copy_node(fuse_ctx *c, const kiln_expr *x) {
  switch (x->kind) {
  case KX_VAR: {
    int d = c->dim_of[x->axis], j = c->group_of[d];
    if (c->d2[d] == 1) return kx_idx(c->k1, 0);
    return c->nbig[j] == 1 ? c->s1->out_idx[j] : NULL; /* a merged dim alone: untranslatable */
  }
  case KX_LOAD:
    if (c->k2->bufs[x->buf].value != c->yv) return copy_load(c, x);
    for (int d = 0; d < x->nidx; d++) /* Y only at K2's own index (0 where a dim is 1) */
      if (!(x->idx[d]->kind == KX_VAR && c->s2->out_idx[d]->kind == KX_VAR &&
            x->idx[d]->axis == c->s2->out_idx[d]->axis) &&
          !(c->d2[d] == 1 && is_zero(c, x->idx[d])))
        return NULL;
    return c->y;
  case KX_ACC: return NULL; /* no reduction in K2 */
  default: break;
  }
  kiln_expr *n = kiln_arena_alloc(&c->k1->arena, sizeof *n);
  *n = *x;
  n->a = copy_expr(c, x->a);
  n->b = copy_expr(c, x->b);
  n->c = copy_expr(c, x->c);
  if (x->kind == KX_CHECK) {
    c->k1->has_checks = true;
    if (x->what) n->what = kiln_arena_strdup(&c->k1->arena, x->what);
  }
  if (x->kind == KX_CALL) { /* its text, and K1's string heap for K2's */
    if (x->what) n->what = kiln_arena_strdup(&c->k1->arena, x->what);
    if (x->buf >= 0) n->buf = kiln_kernel_strings_buf(c->k1);
  }
  return n;
}

/* x rebuilt in K1 (shared nodes stay shared); NULL, with c->failed, where untranslatable. */
static kiln_expr *copy_expr(fuse_ctx *c, const kiln_expr *x) {
  if (!x || c->failed) return NULL;
  for (int i = 0; i < c->nmemo; i++)
    if (c->from[i] == x) return c->to[i];
  kiln_expr *n = copy_node(c, x);
  if (!n) {
    c->failed = true;
    return NULL;
  }
  KILN_GROW(c->from, c->nmemo, c->cap);
  KILN_GROW(c->to, c->nmemo, c->cap2);
  c->from[c->nmemo] = x;
  c->to[c->nmemo++] = n;
  return n;
}

/* ---- one fusion -------------------------------------------------------------------------- */

/* May K1 hand Y to K2? Its last stage writes all of Y, nothing else in K1 touches it. */
static bool producer_ok(const kiln_kernel *k1, int yv) {
  const kiln_stage *s1 = &k1->stages[k1->nstages - 1];
  const kiln_buffer *y = &k1->bufs[s1->out_buf];
  if (y->role != KILN_BUF_OUTPUT || y->value != yv || !covering_store(k1, s1, true)) return false;
  for (int s = 0; s < k1->nstages; s++) {
    const kiln_stage *st = &k1->stages[s];
    if ((s < k1->nstages - 1 && k1->bufs[st->out_buf].value == yv) ||
        expr_reads(st->value, k1, yv) || expr_reads(st->init, k1, yv) ||
        expr_reads(st->post, k1, yv))
      return false;
    for (int d = 0; d < st->nout_idx; d++)
      if (expr_reads(st->out_idx[d], k1, yv)) return false;
  }
  return true;
}

/* Fuses K2 into K1 (reading Y = yv) when the rules above allow; true if it did. */
static bool fuse_pair(kiln_kernel *k1, const kiln_kernel *k2, int yv) {
  kiln_stage *s1 = &k1->stages[k1->nstages - 1];
  const kiln_stage *s2 = &k2->stages[0];
  kiln_buffer *y1 = &k1->bufs[s1->out_buf];
  const kiln_buffer *z = &k2->bufs[s2->out_buf];
  if ((k1->nsyms || k2->nsyms) && !dyn_ok(k1, y1, k2, z)) return false;
  /* a reduction may accumulate in its output buffer (codegen's memory mode): keep its type */
  if (s1->reduce != KR_NONE && z->dtype != y1->dtype) return false;
  for (int b = 0; b < k2->nbufs; b++) { /* Y as K2 sees it: K2's shape; nothing else of K1's */
    const kiln_buffer *o = &k2->bufs[b];
    if (o->role != KILN_BUF_INPUT) continue;
    if (o->value == yv && (o->rank != z->rank ||
                           memcmp(o->dims, z->dims, sizeof(int64_t) * (size_t)z->rank)))
      return false;
    for (int d = 0; o->value == yv && d < z->rank; d++)
      if (!kiln_dim_expr_equal(o->dyn_dims[d], z->dyn_dims[d])) return false;
    for (int i = 0; o->value != yv && i < k1->nbufs; i++)
      if (k1->bufs[i].role == KILN_BUF_OUTPUT && k1->bufs[i].value == o->value) return false;
  }
  fuse_ctx c = {.k1 = k1, .k2 = k2, .s1 = s1, .s2 = s2, .yv = yv, .r2 = z->rank, .d2 = z->dims};
  for (int d = 0; d < z->rank; d++)
    if (s2->out_idx[d]->kind == KX_VAR) c.dim_of[s2->out_idx[d]->axis] = d;
  if (!group_dims(&c, y1)) return false;
  if (s1->reduce == KR_NONE) c.y = s1->value;
  else c.y = s1->post ? s1->post : kx_acc(k1, s1->value->dtype);
  int nbufs = k1->nbufs;
  bool checks = k1->has_checks;
  kiln_expr *v = copy_expr(&c, s2->value);
  free(c.from);
  free(c.to);
  if (c.failed || v->dtype != z->dtype ||
      kiln_expr_tree_size(v, KILN_MAX_TREE_NODES) > KILN_MAX_TREE_NODES ||
      (s1->reduce != KR_NONE &&
       kiln_expr_tree_cost(v, KILN_MAX_EPILOGUE_COST) > KILN_MAX_EPILOGUE_COST) ||
      !epilogue_ok(s1, k2, yv)) {
    k1->nbufs = nbufs; /* views added for the failed attempt go again */
    k1->has_checks = checks;
    return false;
  }
  if (s1->reduce == KR_NONE) s1->value = v;
  else s1->post = v;
  /* Y's buffer becomes Z, kept in K1's view of the shape (the same elements in order) */
  y1->name = kiln_arena_strdup(&k1->arena, z->name);
  y1->value = z->value;
  y1->dtype = z->dtype;
  y1->storage = z->storage;
  y1->layout = z->layout ? kiln_arena_strdup(&k1->arena, z->layout) : NULL;
  k1->check_all |= k2->check_all;
  append_nodes(k1, k2);
  char *op = kiln_fmt("%s+%s", k1->op ? k1->op : "?", k2->op ? k2->op : "?");
  k1->op = kiln_arena_strdup(&k1->arena, op);
  free(op);
  return true;
}

/* Does a step in [from, to) read an output of k other than y? */
static bool outputs_read(const kiln_steps *steps, int from, int to, const kiln_kernel *k, int y) {
  for (int b = 0; b < k->nbufs; b++)
    if (k->bufs[b].role == KILN_BUF_OUTPUT && k->bufs[b].value != y &&
        kiln_steps_read(steps, from, to, NULL, NULL, k->bufs[b].value))
      return true;
  return false;
}

static int last_output(const kiln_kernel *k) {
  return k->nstages ? k->bufs[k->stages[k->nstages - 1].out_buf].value : -1;
}

/* Fuses step j into the producer of one of its inputs, if one qualifies; the fused kernel
 * takes step j's place (every input of both is computed by then, and nothing between
 * reads K1's outputs), K1's step is left empty. */
static bool fuse_step(fuser *f, kiln_steps *steps, int j) {
  kiln_kernel *k2 = steps->steps[j].kernel;
  if (!elementwise(k2)) return false;
  for (int b = 0; b < k2->nbufs; b++) {
    int yv = k2->bufs[b].value, i = yv >= 0 ? f->producer[yv] : -1;
    if (k2->bufs[b].role != KILN_BUF_INPUT || i < 0 || i >= j || f->nreaders[yv] != 1 ||
        kiln_value_kept(f->g, yv))
      continue;
    kiln_kernel *k1 = steps->steps[i].kernel;
    if (steps->steps[i].kind != KILN_STEP_KERNEL || !k1 || last_output(k1) != yv)
      continue; /* produced in an enclosing list, not this one */
    if (!producer_ok(k1, yv) || outputs_read(steps, i + 1, j, k1, yv)) continue;
    count_reads(f, k1, -1);
    count_reads(f, k2, -1);
    if (!fuse_pair(k1, k2, yv)) {
      count_reads(f, k1, 1);
      count_reads(f, k2, 1);
      continue;
    }
    count_reads(f, k1, 1);
    f->producer[yv] = -1;
    kiln_kernel_free(k2);
    steps->steps[j].kernel = k1; /* still writes K2's output last: producer stays j */
    steps->steps[i].kernel = NULL;
    return true;
  }
  return false;
}

static bool fuse_steps(fuser *f, kiln_steps *steps) {
  bool changed = false;
  for (int s = 0; s < steps->n; s++)
    if (steps->steps[s].kind == KILN_STEP_KERNEL && last_output(steps->steps[s].kernel) >= 0)
      f->producer[last_output(steps->steps[s].kernel)] = s;
  for (int j = 0; j < steps->n; j++) {
    kiln_step *st = &steps->steps[j];
    kiln_steps *sub[2];
    int nl = kiln_step_lists(st, sub);
    for (int k = 0; k < nl; k++) changed |= fuse_steps(f, sub[k]);
    if (st->kind == KILN_STEP_KERNEL) {
      while (fuse_step(f, steps, j)) changed = true; /* then its other inputs' producers */
    }
  }
  int n = 0; /* drop the emptied steps */
  for (int s = 0; s < steps->n; s++) {
    if (steps->steps[s].kind == KILN_STEP_KERNEL && !steps->steps[s].kernel) continue;
    if (steps->steps[s].kind == KILN_STEP_KERNEL && last_output(steps->steps[s].kernel) >= 0)
      f->producer[last_output(steps->steps[s].kernel)] = -1;
    steps->steps[n++] = steps->steps[s];
  }
  steps->n = n;
  return changed;
}

static void fuse_elementwise(const kiln_graph *g, kiln_program *p) {
  fuser f = {.g = g};
  size_t nv = (size_t)(g->nvalues ? g->nvalues : 1);
  f.nreaders = kiln_xcalloc(nv, sizeof(int));
  f.producer = kiln_xmalloc(nv * sizeof(int));
  for (size_t v = 0; v < nv; v++) f.producer[v] = -1;
  count_steps(&f, &p->main);
  while (fuse_steps(&f, &p->main)) {
  }
  free(f.nreaders);
  free(f.producer);
}

/* Elementwise chains first (a row kernel then reads their result once), then row fusion,
 * then the elementwise consumers of the row kernels it made. */
void kiln_pass_fuse(const kiln_graph *g, kiln_program *p) {
  fuse_elementwise(g, p);
  if (kiln_pass_fuse_rows(g, p)) fuse_elementwise(g, p);
  kiln_pass_mark_rows(p);
}
