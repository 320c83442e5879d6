/* The string ops: StringConcat and RegexFullMatch (elementwise), and StringNormalizer. Their kernels call the
 * run-time library for each element (KX_CALL, rt/strings.h); Cast, Equal and the movement
 * ops take strings too (KILN_OP_STRINGS), in their own files.
 *
 * StringNormalizer drops its stopwords, so its output's length is a count the run computes
 * (a data sym, as Compress's). It expands into
 *
 *   x flattened to [C]
 *   StringNormalizerParts(x) -> mapped [L], keep [L]   (L = max(C, 3), the least bound a
 *        data sym takes; entries past C are never kept)
 *   Compress(mapped, keep, axis 0)                      -> [U], then [1, U] for a [1, C] x
 *
 * where keep marks the words that are no stopword, or, when there are none, entry 0 alone,
 * and mapped is each word case-mapped, or "" when there are none: the spec's [""]. */
#include "ir/op.h"
#include "ir/dtype.h"
#include "ir/ops/expand.h"
#include "rt/strings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kiln_status need_strings(const kiln_graph *g, const kiln_node *n, kiln_error *err) {
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    if (v && v->dtype != KILN_STRING) {
      char what[200];
      snprintf(what, sizeof what, "input '%s' is %s, not a string tensor", v->name,
               kiln_dtype_name(v->dtype));
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, what);
    }
  }
  return KILN_OK;
}

/* ---- StringConcat ------------------------------------------------------------------------ */

static kiln_status infer_concat(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (need_strings(g, n, err)) return err->code;
  return kiln_infer_broadcast(g, n, err);
}

static kiln_expr *build_concat(kiln_lower_ctx *c, kiln_expr *const *x) {
  return kx_call(c->k, KF_STR_CONCAT, x[0], x[1], 0, NULL);
}

static kiln_status lower_concat(kiln_lower_ctx *c) { return kiln_lower_elementwise(c, build_concat); }

/* ---- RegexFullMatch ------------------------------------------------------------------------ */

/* The pattern is checked here, so a bad one fails the compile naming the node. */
static kiln_status infer_regex(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (need_strings(g, n, err)) return err->code;
  const char *pattern = kiln_attr_str(n, "pattern", NULL);
  if (!pattern) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "no 'pattern'");
  const char *bad = kiln_rt_regex_check(pattern);
  if (bad) {
    char what[300];
    snprintf(what, sizeof what, "pattern '%.120s': %s", pattern, bad);
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, what);
  }
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_set_out(g, n, 0, KILN_BOOL, x->rank, x->dims);
  return KILN_OK;
}

static kiln_expr *build_regex(kiln_lower_ctx *c, kiln_expr *const *x) {
  return kx_call(c->k, KF_STR_MATCH, x[0], NULL, 0, kiln_attr_str(c->n, "pattern", ""));
}

static kiln_status lower_regex(kiln_lower_ctx *c) { return kiln_lower_elementwise(c, build_regex); }

/* ---- StringNormalizer ---------------------------------------------------------------------- */

static int case_action(const kiln_node *n) {
  const char *a = kiln_attr_str(n, "case_change_action", "NONE");
  return !strcmp(a, "NONE") ? 0 : !strcmp(a, "LOWER") ? 1 : !strcmp(a, "UPPER") ? 2 : -1;
}

static kiln_status check_normalizer(const kiln_graph *g, const kiln_node *n, kiln_error *err) {
  if (need_strings(g, n, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (!(x->rank == 1 || (x->rank == 2 && x->dims[0] == 1)))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "input must be [C] or [1, C]");
  if (case_action(n) < 0)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "case_change_action must be NONE, LOWER or UPPER");
  return KILN_OK;
}

static bool has_stopwords(const kiln_node *n) {
  const kiln_attr *a = kiln_node_attr(n, "stopwords");
  return a && a->count > 0;
}

static kiln_expr *mapped(kiln_kernel *k, const kiln_node *n, kiln_expr *s) {
  int a = case_action(n);
  return a ? kx_call(k, KF_STR_CASE, s, NULL, a == 2, NULL) : s;
}

/* StringCase (internal): StringNormalizer without stopwords, elementwise */
static kiln_status infer_case(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (need_strings(g, n, err)) return err->code;
  if (case_action(n) < 0)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "case_change_action must be NONE, LOWER or UPPER");
  return kiln_infer_broadcast(g, n, err);
}

static kiln_expr *build_case(kiln_lower_ctx *c, kiln_expr *const *x) {
  return mapped(c->k, c->n, x[0]);
}

static kiln_status lower_case(kiln_lower_ctx *c) { return kiln_lower_elementwise(c, build_case); }

/* StringWord (internal): word x of the attribute `words`, "" outside; strings a kernel makes
 * from indices, as LabelEncoder's string values and a classifier's string labels are. */
static kiln_status infer_word(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  const kiln_attr *w = kiln_node_attr(n, "words");
  if (!kiln_dtype_is_int(x->dtype) || !w || w->type != KILN_ATTR_STRINGS)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs int indices and the strings 'words'");
  kiln_set_out(g, n, 0, KILN_STRING, x->rank, x->dims);
  return KILN_OK;
}

static kiln_expr *build_word(kiln_lower_ctx *c, kiln_expr *const *x) {
  char *words = kiln_string_words(c->n, "words", KILN_WORDS_LIST);
  kiln_expr *r = kx_call(c->k, KF_STR_WORD, kx_cast(c->k, x[0], KILN_I64), NULL, 0, words);
  free(words);
  return r;
}

static kiln_status lower_word(kiln_lower_ctx *c) { return kiln_lower_elementwise(c, build_word); }

/* Resolved before its output is known (KILN_OP_RESOLVE): with stopwords its size is a
 * count the run computes, which the Compress it expands into makes. */
static kiln_status expand_normalizer(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  if (check_normalizer(g, n, err)) return err->code;
  const kiln_value *xv = kiln_node_in(g, n, 0);
  int rank = xv->rank, x = n->inputs[0], out = n->outputs[0];
  int64_t c = xv->dims[rank - 1];
  bool stops = has_stopwords(n);
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_I64); /* n is stale from here */
  if (!stops) {
    kiln_ex_node1(&e, "StringCase", &x, 1, out, "case");
    kiln_ex_take_attrs(&e);
    kiln_ex_end(&e);
    return KILN_OK;
  }
  if (rank == 2) x = kiln_ex_reshape(&e, x, 1, &c, -1, "flat");
  int parts[2] = {-1, -1};
  kiln_ex_node(&e, "StringNormalizerParts", &x, 1, parts, 2, "parts");
  kiln_ex_take_attrs(&e);
  int y = kiln_ex_node1(&e, "Compress", parts, 2, rank == 2 ? -1 : out, "kept");
  kiln_ex_attr_i(&e, "axis", 0);
  if (rank == 2) {
    int ins[2] = {y, kiln_ex_int1(&e, 0)};
    kiln_ex_node1(&e, "Unsqueeze", ins, 2, out, "output");
  }
  kiln_ex_end(&e);
  return KILN_OK;
}

/* ---- StringNormalizerParts (internal) ------------------------------------------------------- */

static int64_t parts_len(int64_t c) { return c < 3 ? 3 : c; }

static kiln_status infer_parts(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (need_strings(g, n, err)) return err->code;
  if (x->rank != 1) return kiln_fail_node(n, err, KILN_ERR_INTERNAL, "input must be 1-D");
  int64_t len = parts_len(x->dims[0]);
  kiln_set_out(g, n, 0, KILN_STRING, 1, &len);
  kiln_set_out(g, n, 1, KILN_BOOL, 1, &len);
  return KILN_OK;
}

char *kiln_string_words(const kiln_node *n, const char *attr, int kind) {
  const kiln_attr *a = kiln_node_attr(n, attr);
  bool some = a && a->type == KILN_ATTR_STRINGS;
  char *s = kiln_rt_words_build((const char *const *)(some ? a->strings : NULL), some ? a->count : 0, kind);
  if (!s) kiln_out_of_memory(0);
  return s;
}

static kiln_status lower_parts(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int xb = c->in_buf[0], mb = c->out_buf[0], kb = c->out_buf[1];
  int64_t n = k->bufs[xb].dims[0], len = k->bufs[mb].dims[0], one = 1;
  bool fold = kiln_attr_int(c->n, "is_case_sensitive", 0) == 0;
  int stop = kiln_kernel_add_buffer(k, "not_stop", KILN_BUF_TEMP, -1, KILN_BOOL, 1, &len);
  int any = kiln_kernel_add_buffer(k, "any_kept", KILN_BUF_TEMP, -1, KILN_I32, 1, &one);
  /* not_stop[i]: word i is kept (none past n) */
  kiln_stage *s = kiln_kernel_add_stage(k, "string_stop", stop);
  kiln_expr *i = kx_var(k, kiln_stage_axis(s, len, false));
  kiln_expr *in = kx_binary(k, KB_LT, i, kx_idx(k, n));
  kiln_expr *word = n ? kx_load(k, xb, (kiln_expr *[]){kx_binary(k, KB_MIN, i, kx_idx(k, n - 1))})
                      : kx_const_i(k, KILN_STRING, 0);
  char *words = kiln_string_words(c->n, "stopwords", fold ? KILN_WORDS_SET_FOLD : KILN_WORDS_SET);
  kiln_expr *at = kx_call(k, KF_STR_INDEX, word, NULL, fold, words);
  kiln_expr *is_stop = kx_binary(k, KB_GE, at, kx_idx(k, 0));
  free(words);
  kiln_stage_store(k, s, &i, kx_binary(k, KB_AND, in, kx_unary(k, KU_NOT, is_stop)));
  /* any_kept = max over i of not_stop[i] */
  s = kiln_kernel_add_stage(k, "string_any", any);
  kiln_stage_axis(s, 1, false);
  i = kx_var(k, kiln_stage_axis(s, len, true));
  s->reduce = KR_MAX;
  kiln_expr *zero = kx_idx(k, 0);
  kiln_stage_store(k, s, &zero, kx_cast(k, kx_load(k, stop, &i), KILN_I32));
  kiln_expr *some = NULL;
  /* keep[i] = not_stop[i], or i == 0 when nothing is kept */
  s = kiln_kernel_add_stage(k, "string_keep", kb);
  i = kx_var(k, kiln_stage_axis(s, len, false));
  some = kx_binary(k, KB_NE, kx_load(k, any, &zero), kx_const_i(k, KILN_I32, 0));
  kiln_expr *first = kx_binary(k, KB_AND, kx_binary(k, KB_EQ, i, kx_idx(k, 0)), kx_unary(k, KU_NOT, some));
  kiln_stage_store(k, s, &i, kx_binary(k, KB_OR, kx_load(k, stop, &i), first));
  /* mapped[i] = the word case-mapped where some are kept, else "" */
  s = kiln_kernel_add_stage(k, "string_map", mb);
  i = kx_var(k, kiln_stage_axis(s, len, false));
  some = kx_binary(k, KB_NE, kx_load(k, any, &zero), kx_const_i(k, KILN_I32, 0));
  kiln_expr *w = n ? kx_load(k, xb, (kiln_expr *[]){kx_binary(k, KB_MIN, i, kx_idx(k, n - 1))})
                   : kx_const_i(k, KILN_STRING, 0);
  kiln_stage_store(k, s, &i, kx_select(k, some, mapped(k, c->n, w), kx_const_i(k, KILN_STRING, 0)));
  return KILN_OK;
}

static const kiln_attr_spec regex_attrs[] = {{"pattern", KILN_ATTR_STRING, true}, {NULL}};
static const kiln_attr_spec normalizer_attrs[] = {{"case_change_action", KILN_ATTR_STRING, false},
                                                  {"is_case_sensitive", KILN_ATTR_INT, false},
                                                  {"locale", KILN_ATTR_STRING, false},
                                                  {"stopwords", KILN_ATTR_STRINGS, false},
                                                  {NULL}};

#define S KILN_OP_STRINGS
#define EW (KILN_OP_ELEMENTWISE | KILN_OP_SYMBOLIC) /* as elementwise.c's: free dims too */
static const kiln_attr_spec word_attrs[] = {{"words", KILN_ATTR_STRINGS, true}, {NULL}};

const kiln_op_def kiln_ops_strings[] = {
    {"StringConcat", 2, 2, 1, 1, NULL, infer_concat, lower_concat, NULL, EW | S},
    {"RegexFullMatch", 1, 1, 1, 1, regex_attrs, infer_regex, lower_regex, NULL, EW | S},
    {"StringNormalizer", 1, 1, 1, 1, normalizer_attrs, kiln_infer_resolved, NULL,
     expand_normalizer, KILN_OP_RESOLVE | S},
    {"StringCase", 1, 1, 1, 1, normalizer_attrs, infer_case, lower_case, NULL, EW | S},
    {"StringNormalizerParts", 1, 1, 2, 2, normalizer_attrs, infer_parts, lower_parts, NULL, S},
    {"StringWord", 1, 1, 1, 1, word_attrs, infer_word, lower_word, NULL, EW | S},
    {NULL},
};
