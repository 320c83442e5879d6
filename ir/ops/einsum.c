/* Einsum as one stage: the output's labels are its spatial axes, every other label a
 * reduction axis, and the value the product of the operands, each loaded at its labels'
 * variables. A repeated label reads a diagonal ("ii->i"), an absent output sums ("ij->i"),
 * a permuted one transposes, and "..." stands for the broadcast leading dims. So any
 * equation lowers the same way, and the scheduler sees a matmul-like einsum as the GEMM it
 * is (its loads are what a MatMul's are). One form is copied first: A x B^T, whose B is
 * read along the reduction (transposed_operand). */
#include "ir/op.h"

#include "ir/dtype.h"

#include <string.h>

#define NLETTERS 52                 /* a-z, A-Z */
#define NLABELS (NLETTERS + KILN_MAX_RANK) /* then the dims "..." stands for */
#define MAX_OPERANDS 8

typedef struct einsum_plan {
  int nops;
  int rank[MAX_OPERANDS];
  int label[MAX_OPERANDS][KILN_MAX_RANK]; /* each operand dim's label */
  bool used[NLABELS];
  int64_t extent[NLABELS];
  int out_rank;
  int out_label[KILN_MAX_RANK];
} einsum_plan;

static kiln_status fail_eq(const kiln_node *n, kiln_error *err, kiln_status code,
                           const char *why) {
  return kiln_fail(err, code, "node '%s' (%s): equation '%s': %s", n->name, n->op_type,
                   kiln_attr_str(n, "equation", ""), why);
}

static int letter(char ch) {
  if (ch >= 'a' && ch <= 'z') return ch - 'a';
  if (ch >= 'A' && ch <= 'Z') return 26 + ch - 'A';
  return -1;
}

/* One term ("b...ij") of an operand of rank `rank` (or of the output: rank -1, ell =
 * the number of ellipsis dims): its labels into out, returning their count, or -1. */
static int parse_term(const char *s, const char *end, int rank, int ell_max, int *out) {
  int n = 0, letters = 0;
  bool ell = false;
  for (const char *p = s; p < end; p++) letters += letter(*p) >= 0;
  for (const char *p = s; p < end;) {
    if (end - p >= 3 && strncmp(p, "...", 3) == 0) {
      if (ell) return -1;
      ell = true;
      int k = rank < 0 ? ell_max : rank - letters;
      if (k < 0 || k > ell_max || n + k > KILN_MAX_RANK) return -1;
      for (int j = 0; j < k; j++) out[n++] = NLETTERS + ell_max - k + j;
      p += 3;
    } else if (letter(*p) >= 0 && n < KILN_MAX_RANK) {
      out[n++] = letter(*p++);
    } else {
      return -1;
    }
  }
  return rank >= 0 && n != rank ? -1 : n;
}

/* ranks / dims: the operands'. */
static kiln_status plan_einsum(const kiln_node *n, int nops, const int *ranks,
                               const int64_t (*dims)[KILN_MAX_RANK], einsum_plan *p,
                               kiln_error *err) {
  memset(p, 0, sizeof *p);
  char eq[256];
  const char *src = kiln_attr_str(n, "equation", "");
  int len = 0;
  for (const char *s = src; *s && len < (int)sizeof eq - 1; s++)
    if (*s != ' ') eq[len++] = *s;
  eq[len] = 0;
  if (nops > MAX_OPERANDS) return fail_eq(n, err, KILN_ERR_UNSUPPORTED, "too many operands");
  const char *arrow = strstr(eq, "->"), *lhs_end = arrow ? arrow : eq + len;
  /* "..." stands for as many dims as the operand with the most of them has */
  int ell_max = 0;
  const char *t = eq;
  for (int i = 0; i < nops; i++) {
    const char *e = i + 1 < nops ? strchr(t, ',') : lhs_end;
    if (!e || e > lhs_end) return fail_eq(n, err, KILN_ERR_INVALID_MODEL, "one term per input");
    int letters = 0;
    for (const char *q = t; q < e; q++) letters += letter(*q) >= 0;
    if (strstr(t, "...") && strstr(t, "...") < e && ranks[i] - letters > ell_max)
      ell_max = ranks[i] - letters;
    t = e + 1;
  }
  if (ell_max > KILN_MAX_RANK) return fail_eq(n, err, KILN_ERR_LIMIT, "too many dims");
  int count[NLABELS] = {0};
  t = eq;
  p->nops = nops;
  for (int i = 0; i < nops; i++) {
    const char *e = i + 1 < nops ? strchr(t, ',') : lhs_end;
    p->rank[i] = ranks[i];
    if (parse_term(t, e, ranks[i], ell_max, p->label[i]) < 0)
      return fail_eq(n, err, KILN_ERR_INVALID_MODEL, "a term does not match its input's rank");
    for (int d = 0; d < ranks[i]; d++) { /* only "..." dims broadcast (1 against n) */
      int l = p->label[i][d];
      int64_t x = dims[i][d];
      count[l]++;
      if (!p->used[l]) p->extent[l] = x;
      else if (x != p->extent[l] && !(l >= NLETTERS && (x == 1 || p->extent[l] == 1)))
        return fail_eq(n, err, KILN_ERR_SHAPE, "a label's dims differ");
      else if (x != 1) p->extent[l] = x;
      p->used[l] = true;
    }
    t = e + 1;
  }
  if (arrow) {
    p->out_rank = parse_term(arrow + 2, eq + len, -1, ell_max, p->out_label);
    if (p->out_rank < 0) return fail_eq(n, err, KILN_ERR_INVALID_MODEL, "bad output term");
    for (int d = 0; d < p->out_rank; d++) {
      int l = p->out_label[d];
      bool again = false;
      for (int e = 0; e < d; e++) again = again || p->out_label[e] == l;
      if (!count[l] || again)
        return fail_eq(n, err, KILN_ERR_INVALID_MODEL, "an output label is repeated or no input's");
    }
  } else { /* implicit: "..." then the labels used once, in ASCII order (A-Z, then a-z) */
    for (int j = 0; j < ell_max; j++) p->out_label[p->out_rank++] = NLETTERS + j;
    for (int pass = 0; pass < 2; pass++)
      for (int l = pass ? 0 : 26; l < (pass ? 26 : NLETTERS); l++)
        if (count[l] == 1) p->out_label[p->out_rank++] = l;
  }
  return KILN_OK;
}

static kiln_status plan_node(const kiln_graph *g, const kiln_node *n, einsum_plan *p,
                             kiln_error *err) {
  int ranks[MAX_OPERANDS];
  int64_t dims[MAX_OPERANDS][KILN_MAX_RANK];
  if (n->ninputs > MAX_OPERANDS)
    return fail_eq(n, err, KILN_ERR_UNSUPPORTED, "too many operands");
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    ranks[i] = v->rank;
    memcpy(dims[i], v->dims, sizeof dims[i]);
  }
  return plan_einsum(n, n->ninputs, ranks, (const int64_t(*)[KILN_MAX_RANK])dims, p, err);
}

static kiln_status infer_einsum(kiln_graph *g, kiln_node *n, kiln_error *err) {
  einsum_plan p;
  if (plan_node(g, n, &p, err)) return err->code;
  kiln_dtype t = kiln_node_in(g, n, 0)->dtype;
  for (int i = 1; i < n->ninputs; i++)
    if (kiln_node_in(g, n, i)->dtype != t)
      return fail_eq(n, err, KILN_ERR_INVALID_MODEL, "the inputs' types differ");
  if (t == KILN_BOOL) return fail_eq(n, err, KILN_ERR_UNSUPPORTED, "bool inputs");
  int64_t dims[KILN_MAX_RANK];
  for (int d = 0; d < p.out_rank; d++) dims[d] = p.extent[p.out_label[d]];
  kiln_set_out(g, n, 0, t, p.out_rank, dims);
  return KILN_OK;
}

/* The operand to read through a transposed copy, -1 if none: in a product of two f32
 * operands with a reduction, the one holding the output's innermost label n alone but
 * read along another, reduced label (A x B^T: "bhqd,bhkd->bhqk"). Copied with n innermost
 * it is the B of a GEMM, which the scheduler tiles in registers (passes/schedule.c), where
 * as read it makes dot products; the copy reads B once for M rows of A. */
static int transposed_operand(const kiln_lower_ctx *c, const einsum_plan *p, const bool *in_out) {
  if (p->nops != 2 || p->out_rank < 2) return -1;
  int n = p->out_label[p->out_rank - 1], m = p->out_label[p->out_rank - 2], j = -1;
  for (int i = 0; i < 2; i++) {
    const kiln_buffer *b = &c->k->bufs[c->in_buf[i]];
    if (b->dtype != KILN_F32 || kiln_buffer_is_dyn(b) || b->rank < 2) return -1;
    for (int d = 0; d < b->rank; d++)
      if (p->label[i][d] == n) j = j < 0 ? i : 2; /* 2: in both, or twice */
  }
  if (j < 0 || j > 1) return -1;
  const kiln_buffer *b = &c->k->bufs[c->in_buf[j]];
  int last = p->label[j][b->rank - 1];
  bool a_has_m = false;
  for (int d = 0; d < c->k->bufs[c->in_buf[1 - j]].rank; d++) a_has_m |= p->label[1 - j][d] == m;
  if (last == n || in_out[last] || !a_has_m) return -1;
  /* worth a copy of B when rows of A reuse it and n fills vectors */
  return p->extent[m] >= 8 && p->extent[n] >= 16 ? j : -1;
}

static kiln_status lower_einsum(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  einsum_plan p;
  if (plan_node(c->g, c->n, &p, c->err)) return c->err->code;
  const kiln_buffer *y = &k->bufs[c->out_buf[0]];
  kiln_dtype t = y->dtype, ct = t == KILN_F16 || t == KILN_BF16 ? KILN_F32 : t;
  bool in_out[NLABELS] = {false};
  for (int d = 0; d < p.out_rank; d++) in_out[p.out_label[d]] = true;
  bool reduce = false;
  for (int l = 0; l < NLABELS; l++) reduce = reduce || (p.used[l] && !in_out[l]);
  int acc = c->out_buf[0], bufs[MAX_OPERANDS], labels[MAX_OPERANDS][KILN_MAX_RANK];
  for (int i = 0; i < p.nops; i++) {
    bufs[i] = c->in_buf[i];
    memcpy(labels[i], p.label[i], sizeof labels[i]);
  }
  int j = reduce ? transposed_operand(c, &p, in_out) : -1;
  if (j >= 0) { /* bt = B with n moved innermost, the other dims in order */
    const kiln_buffer *b = &k->bufs[bufs[j]];
    int r = b->rank, n = p.out_label[p.out_rank - 1], e = 0;
    int64_t dims[KILN_MAX_RANK];
    for (int d = 0; d < r; d++)
      if (p.label[j][d] != n) labels[j][e] = p.label[j][d], dims[e++] = b->dims[d];
      else dims[r - 1] = b->dims[d];
    labels[j][r - 1] = n;
    int bt = kiln_kernel_add_buffer(k, "b_transposed", KILN_BUF_TEMP, -1, KILN_F32, r, dims);
    kiln_expr *v[KILN_MAX_RANK], *src[KILN_MAX_RANK];
    kiln_stage *ts = kiln_elementwise_stage(k, "einsum_transpose", bt, v);
    for (int d = 0, f = 0; d < r; d++) src[d] = p.label[j][d] == n ? v[r - 1] : v[f++];
    kiln_stage_store(k, ts, v, kx_load(k, bufs[j], src));
    bufs[j] = bt;
  }
  if (ct != t) acc = kiln_kernel_add_buffer(k, "acc", KILN_BUF_TEMP, -1, ct, y->rank, y->dims);
  kiln_stage *s = kiln_kernel_add_stage(k, "einsum", acc);
  kiln_expr *var[NLABELS] = {NULL}, *o[KILN_MAX_RANK];
  for (int d = 0; d < p.out_rank; d++)
    o[d] = var[p.out_label[d]] = kx_var(k, kiln_stage_axis(s, p.extent[p.out_label[d]], false));
  for (int l = 0; l < NLABELS; l++)
    if (p.used[l] && !in_out[l]) var[l] = kx_var(k, kiln_stage_axis(s, p.extent[l], true));
  kiln_expr *value = NULL;
  for (int i = 0; i < p.nops; i++) {
    const kiln_buffer *b = &k->bufs[bufs[i]];
    kiln_expr *idx[KILN_MAX_RANK];
    for (int d = 0; d < b->rank; d++) { /* a dim of 1 under "..." broadcasts */
      int l = labels[i][d];
      idx[d] = b->dims[d] == 1 && p.extent[l] != 1 ? kx_idx(k, 0) : var[l];
    }
    kiln_expr *x = kx_cast(k, kx_load(k, bufs[i], idx), ct);
    value = value ? kx_binary(k, KB_MUL, value, x) : x;
  }
  if (reduce) s->reduce = KR_SUM;
  kiln_stage_store(k, s, o, value);
  if (acc != c->out_buf[0]) {
    kiln_expr *v[KILN_MAX_RANK];
    s = kiln_elementwise_stage(k, "round", c->out_buf[0], v);
    kiln_stage_store(k, s, v, kx_cast(k, kx_load(k, acc, v), t));
  }
  return KILN_OK;
}

static const kiln_attr_spec einsum_attrs[] = {{"equation", KILN_ATTR_STRING, true}, {NULL}};

const kiln_op_def kiln_ops_einsum[] = {
    {"Einsum", 1, MAX_OPERANDS, 1, 1, einsum_attrs, infer_einsum, lower_einsum, NULL, KILN_OP_SYMBOLIC},
    {NULL},
};
