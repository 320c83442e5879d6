/* ai.onnx.ml's LabelEncoder and CategoryMapper: each key mapped to its value, anything
 * else to the default. LabelEncoder expands into
 *
 *   LabelIndex(x)           -> i64: 1 + the key's position, 0 for none (string keys: a
 *                              word set the run-time library looks up, rt/word_sets.c;
 *                              numeric ones: a chain of compares; a NaN key matches any
 *                              NaN), the last of repeated keys, as the spec says
 *   Gather(table, index)    -> table = [default, values...], a constant
 *
 * so a string key maps without a string constant. String values take the index to a string
 * instead: StringWord(index) over the words [default_string, values...]. Many integer keys
 * that span few values (a vocabulary's ids) find their index in a table instead of a
 * compare each: slots[Clip(x, lo, hi) - lo], 0 where the Clip changed x. CategoryMapper is
 * the LabelEncoder from its strings to its ints, or back. */
#include "ir/ops/ml.h"

#include "ir/dtype.h"
#include "rt/strings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NUMERIC_KEYS 256 /* a compare each, in one expression */
#define DENSE_MIN_KEYS 32    /* integer keys looked up in a table (when they are dense) */
#define DENSE_MAX_SPAN (INT64_C(1) << 22) /* slots of such a table */

typedef struct encoder {
  kiln_dtype key, value;   /* the keys' and values' types */
  int nkeys;
  const int64_t *ikeys;    /* keys_int64s */
  const double *fkeys;     /* keys_floats */
  const kiln_tensor *tkeys, *tvalues, *tdefault;
  const int64_t *ivalues;
  const double *fvalues;
  int nvalues;
} encoder;

static bool dense_keys(const encoder *e, int64_t *lo, int64_t *span);

static kiln_status encoder_of(const kiln_node *n, encoder *e, kiln_error *err) {
  memset(e, 0, sizeof *e);
  const kiln_attr *ks = kiln_node_attr(n, "keys_strings"), *kt = kiln_node_attr(n, "keys_tensor");
  int ni = kiln_attr_ints(n, "keys_int64s", &e->ikeys), nf = kiln_attr_floats(n, "keys_floats", &e->fkeys);
  if ((ks != NULL) + (ni >= 0) + (nf >= 0) + (kt != NULL) != 1)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs exactly one of keys_strings, "
                          "keys_int64s, keys_floats and keys_tensor");
  if (ni < 0) e->ikeys = NULL;
  if (nf < 0) e->fkeys = NULL;
  if (ks) e->key = KILN_STRING, e->nkeys = ks->count;
  else if (ni >= 0) e->key = KILN_I64, e->nkeys = ni;
  else if (nf >= 0) e->key = KILN_F32, e->nkeys = nf;
  else e->tkeys = &kt->tensors[0], e->key = e->tkeys->dtype, e->nkeys = (int)kiln_shape_numel(e->tkeys->rank, e->tkeys->dims);
  const kiln_attr *vt = kiln_node_attr(n, "values_tensor"), *vs = kiln_node_attr(n, "values_strings");
  int vi = kiln_attr_ints(n, "values_int64s", &e->ivalues), vf = kiln_attr_floats(n, "values_floats", &e->fvalues);
  if ((vi >= 0) + (vf >= 0) + (vt != NULL) + (vs && vs->type == KILN_ATTR_STRINGS) != 1)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs exactly one of values_int64s, "
                          "values_floats, values_strings and values_tensor");
  if (vi < 0) e->ivalues = NULL;
  if (vf < 0) e->fvalues = NULL;
  if (vs && vs->type == KILN_ATTR_STRINGS) e->value = KILN_STRING, e->nvalues = vs->count;
  else if (vi >= 0) e->value = KILN_I64, e->nvalues = vi;
  else if (vf >= 0) e->value = KILN_F32, e->nvalues = vf;
  else e->tvalues = &vt->tensors[0], e->value = e->tvalues->dtype, e->nvalues = (int)kiln_shape_numel(e->tvalues->rank, e->tvalues->dims);
  if ((e->tvalues && !kiln_dtype_valid(e->value)) || (e->tkeys && !kiln_dtype_valid(e->key)))
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "keys_tensor and values_tensor must hold numbers");
  if (e->nvalues != e->nkeys)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs as many values as keys");
  const kiln_attr *dt = kiln_node_attr(n, "default_tensor");
  if (dt) {
    e->tdefault = dt->tensors;
    if (!e->tdefault || e->tdefault->dtype != e->value ||
        kiln_shape_numel(e->tdefault->rank, e->tdefault->dims) != 1)
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "default_tensor must be one value of the values' type");
  }
  int64_t lo, span;
  if (e->key != KILN_STRING && e->nkeys > MAX_NUMERIC_KEYS && !dense_keys(e, &lo, &span)) {
    char what[160];
    snprintf(what, sizeof what, "%d numeric keys; kiln takes at most %d, or integer keys spanning "
             "at most 4 values a key", e->nkeys, MAX_NUMERIC_KEYS);
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, what);
  }
  return KILN_OK;
}

static int64_t int_key(const encoder *e, int i) {
  return e->ikeys ? e->ikeys[i] : kiln_load_i64(e->tkeys->dtype, e->tkeys->data, i);
}

/* Are the keys integers worth a table (at least DENSE_MIN_KEYS, spanning at most 4 values a
 * key)? Then the lowest is *lo and the table *span slots long. */
static bool dense_keys(const encoder *e, int64_t *lo, int64_t *span) {
  if (e->nkeys < DENSE_MIN_KEYS || !(e->ikeys || (e->tkeys && !kiln_dtype_is_float(e->key))))
    return false;
  int64_t mn = INT64_MAX, mx = INT64_MIN;
  for (int i = 0; i < e->nkeys; i++) {
    int64_t k = int_key(e, i);
    mn = k < mn ? k : mn;
    mx = k > mx ? k : mx;
  }
  uint64_t d = (uint64_t)mx - (uint64_t)mn; /* no overflow in unsigned */
  if (d >= (uint64_t)DENSE_MAX_SPAN || d >= 4 * (uint64_t)e->nkeys) return false;
  *lo = mn;
  *span = (int64_t)d + 1;
  return true;
}

/* [default, values...] as a constant of the values' type */
static kiln_tensor value_table(const kiln_node *n, const encoder *e) {
  kiln_tensor t = {e->value, 1, {e->nvalues + 1}, NULL};
  t.data = kiln_xcalloc((size_t)e->nvalues + 1, kiln_dtype_size(e->value));
  if (e->tdefault) memcpy(t.data, e->tdefault->data, kiln_dtype_size(e->value));
  else if (kiln_dtype_is_float(e->value))
    kiln_store_f64(e->value, t.data, 0, kiln_attr_float(n, "default_float", -0.0));
  else kiln_store_i64(e->value, t.data, 0, kiln_attr_int(n, "default_int64", -1));
  size_t sz = kiln_dtype_size(e->value);
  for (int i = 0; i < e->nvalues; i++) {
    uint8_t *at = (uint8_t *)t.data + sz * (size_t)(i + 1);
    if (e->ivalues) ((int64_t *)t.data)[i + 1] = e->ivalues[i];
    else if (e->fvalues) ((float *)t.data)[i + 1] = (float)e->fvalues[i];
    else memcpy(at, (const uint8_t *)e->tvalues->data + sz * (size_t)i, sz);
  }
  return t;
}

/* A scalar constant of type t holding v exactly. */
static int int_const(kiln_ex *x, kiln_dtype t, int64_t v, const char *what) {
  int id = kiln_ex_value(x, what);
  kiln_tensor c = {t, 0, {0}, kiln_xcalloc(1, sizeof(int64_t))};
  kiln_store_i64(t, c.data, 0, v);
  kiln_value_set_const(&x->g->values[id], &c);
  return id;
}

/* The slots of dense keys: 1 + the last position of the key lo + j, 0 for none. */
static kiln_tensor slot_table(const encoder *e, int64_t lo, int64_t span) {
  kiln_tensor t = {KILN_I64, 1, {span}, kiln_xcalloc((size_t)span, sizeof(int64_t))};
  for (int i = 0; i < e->nkeys; i++) ((int64_t *)t.data)[int_key(e, i) - lo] = i + 1;
  return t;
}

/* x's index (1 + its key's position, 0 for none): LabelIndex, or where keys are dense,
 * their slot table read at Clip(x, lo, hi) - lo, 0 where the Clip changed x. The node's
 * attributes move to the LabelIndex; dense keys have their table made before. */
static int encoder_index(kiln_ex *ex, int xi, kiln_dtype xt, kiln_tensor *slots, int64_t lo) {
  if (!slots) {
    int index = kiln_ex_node1(ex, "LabelIndex", &xi, 1, -1, "index");
    kiln_ex_take_attrs(ex);
    return index;
  }
  int lo_v = int_const(ex, xt, lo, "lo");
  int hi_v = int_const(ex, xt, lo + slots->dims[0] - 1, "hi");
  int xc = kiln_ex_node1(ex, "Clip", (int[]){xi, lo_v, hi_v}, 3, -1, "clipped");
  int at = kiln_ex_binary(ex, "Sub", xc, lo_v, "slot_at");
  int table = kiln_ex_value(ex, "slots");
  kiln_value_set_const(&ex->g->values[table], slots);
  int slot = kiln_ex_node1(ex, "Gather", (int[]){table, at}, 2, -1, "slot");
  kiln_ex_attr_i(ex, "axis", 0);
  int in = kiln_ex_binary(ex, "Equal", xc, xi, "in_range");
  return kiln_ex_node1(ex, "Where", (int[]){in, slot, int_const(ex, KILN_I64, 0, "none")}, 3, -1, "index");
}

/* String tensors, which arrive as lists of strings (KILN_OP_STRING_ATTRS), renamed as the
 * string attributes they stand for, so that the rest reads one form; a default_tensor of
 * one string becomes that string. */
static void strings_from_tensors(kiln_node *n) {
  static const char *const names[3][2] = {{"keys_tensor", "keys_strings"},
                                          {"values_tensor", "values_strings"},
                                          {"default_tensor", "default_string"}};
  for (int i = 0; i < 3; i++) {
    kiln_attr *a = (kiln_attr *)kiln_node_attr(n, names[i][0]);
    if (!a || a->type != KILN_ATTR_STRINGS || kiln_node_attr(n, names[i][1])) continue;
    if (i == 2) {
      if (a->count != 1) continue; /* encoder_of names it */
      a->type = KILN_ATTR_STRING;
      a->s = a->strings[0];
      free(a->strings);
      a->strings = NULL;
      a->count = 0;
    }
    free(a->name);
    a->name = kiln_xstrdup(names[i][1]);
  }
}

static kiln_status expand_encoder(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  strings_from_tensors(&g->nodes[b->nodes[pos]]);
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  encoder e;
  if (encoder_of(n, &e, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_dtype xt = x->dtype; /* x goes stale as values are added */
  bool float_keys = kiln_dtype_is_float(e.key) && kiln_dtype_is_float(x->dtype);
  if (x->dtype != e.key && !float_keys) {
    char what[160];
    snprintf(what, sizeof what, "input 'X' is %s, its keys %s", kiln_dtype_name(x->dtype), kiln_dtype_name(e.key));
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, what);
  }
  int xi = n->inputs[0], out = n->outputs[0];
  int64_t lo = 0, span;
  kiln_tensor slots, *dense = NULL;
  if (dense_keys(&e, &lo, &span)) slots = slot_table(&e, lo, span), dense = &slots;
  if (e.value == KILN_STRING) {
    const kiln_attr *vs = kiln_node_attr(n, "values_strings");
    const char **words = kiln_xmalloc(sizeof(char *) * (size_t)(vs->count + 1));
    words[0] = kiln_attr_str(n, "default_string", "_Unused");
    for (int i = 0; i < vs->count; i++) words[i + 1] = vs->strings[i];
    int count = vs->count + 1;
    kiln_ex ex;
    kiln_ex_begin(&ex, g, b, pos, KILN_I64); /* n is stale from here; its attributes move */
    int index = encoder_index(&ex, xi, xt, dense, lo);
    kiln_ex_node1(&ex, "StringWord", &index, 1, out, "value");
    kiln_ex_attr_strings(&ex, "words", count, words);
    free(words);
    kiln_ex_end(&ex);
    return KILN_OK;
  }
  kiln_tensor table = value_table(n, &e);
  kiln_ex ex;
  kiln_ex_begin(&ex, g, b, pos, KILN_I64); /* n is stale from here */
  int index = encoder_index(&ex, xi, xt, dense, lo);
  int tv = kiln_ex_value(&ex, "table");
  kiln_value_set_const(&g->values[tv], &table);
  int ins[2] = {tv, index};
  kiln_ex_node1(&ex, "Gather", ins, 2, out, "value");
  kiln_ex_attr_i(&ex, "axis", 0);
  kiln_ex_end(&ex);
  return KILN_OK;
}

/* CategoryMapper: a LabelEncoder from its strings to its ints, or back, by X's type */
static kiln_status expand_mapper(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_attr *cs = kiln_node_attr(n, "cats_strings");
  const int64_t *ci;
  int nci = kiln_attr_ints(n, "cats_int64s", &ci);
  if (!cs || cs->type != KILN_ATTR_STRINGS || nci != cs->count)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "needs cats_strings and cats_int64s of the same length");
  kiln_dtype xt = kiln_node_in(g, n, 0)->dtype;
  if (xt != KILN_STRING && xt != KILN_I64)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "input 'X' must be strings or int64");
  bool to_int = xt == KILN_STRING;
  char *dflt = kiln_xstrdup(kiln_attr_str(n, "default_string", "_Unused"));
  int64_t dint = kiln_attr_int(n, "default_int64", -1);
  int count = cs->count;
  const char **cats = kiln_xmalloc(sizeof(char *) * (size_t)(count + 1));
  int64_t *ints = kiln_xmalloc(sizeof(int64_t) * (size_t)(count + 1));
  for (int i = 0; i < count; i++) cats[i] = cs->strings[i], ints[i] = ci[i];
  int xi = n->inputs[0], out = n->outputs[0];
  kiln_ex ex;
  kiln_ex_begin(&ex, g, b, pos, KILN_I64); /* n is stale from here; cats and ints are not */
  kiln_ex_node1(&ex, "LabelEncoder", &xi, 1, out, "encoder");
  kiln_ex_attr_strings(&ex, to_int ? "keys_strings" : "values_strings", count, cats);
  kiln_ex_attr_ints(&ex, to_int ? "values_int64s" : "keys_int64s", count, ints);
  if (to_int) kiln_ex_attr_i(&ex, "default_int64", dint);
  else kiln_ex_attr_s(&ex, "default_string", dflt);
  kiln_ex_end(&ex);
  free(cats);
  free(ints);
  free(dflt);
  return KILN_OK;
}

/* LabelIndex (internal): 1 + the position of x among LabelEncoder's keys, 0 for none */
static kiln_status infer_index(kiln_graph *g, kiln_node *n, kiln_error *err) {
  encoder e;
  if (encoder_of(n, &e, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_set_out(g, n, 0, KILN_I64, x->rank, x->dims);
  return KILN_OK;
}

static double key_at(const encoder *e, int i) {
  return e->ikeys ? (double)e->ikeys[i] : e->fkeys ? e->fkeys[i] : kiln_load_f64(e->tkeys->dtype, e->tkeys->data, i);
}

static kiln_expr *build_index(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_kernel *k = c->k;
  encoder e;
  encoder_of(c->n, &e, c->err); /* checked by infer */
  if (e.key == KILN_STRING) {
    char *words = kiln_string_words(c->n, "keys_strings", KILN_WORDS_SET);
    kiln_expr *at = kx_call(k, KF_STR_INDEX, x[0], NULL, 0, words);
    free(words);
    return kx_addi(k, at, 1);
  }
  kiln_dtype t = x[0]->dtype;
  kiln_expr *r = kx_idx(k, 0);
  for (int i = 0; i < e.nkeys; i++) { /* the outermost select: the last match wins */
    double key = key_at(&e, i);
    kiln_expr *hit;
    if (isnan(key)) hit = kx_unary(k, KU_ISNAN, x[0]);
    else if (e.ikeys || (e.tkeys && !kiln_dtype_is_float(e.key)))
      hit = kx_binary(k, KB_EQ, x[0], kx_const_i(k, t, int_key(&e, i)));
    else hit = kx_binary(k, KB_EQ, x[0], kx_const_f(k, t, key));
    r = kx_select(k, hit, kx_idx(k, i + 1), r);
  }
  return r;
}

static kiln_status lower_index(kiln_lower_ctx *c) { return kiln_lower_elementwise(c, build_index); }

static const kiln_attr_spec encoder_attrs[] = {
    {"default_float", KILN_ATTR_FLOAT, false}, {"default_int64", KILN_ATTR_INT, false},
    {"default_string", KILN_ATTR_STRING, false}, {"default_tensor", KILN_ATTR_TENSOR, false},
    {"keys_floats", KILN_ATTR_FLOATS, false}, {"keys_int64s", KILN_ATTR_INTS, false},
    {"keys_strings", KILN_ATTR_STRINGS, false}, {"keys_tensor", KILN_ATTR_TENSOR, false},
    {"values_floats", KILN_ATTR_FLOATS, false}, {"values_int64s", KILN_ATTR_INTS, false},
    {"values_strings", KILN_ATTR_STRINGS, false}, {"values_tensor", KILN_ATTR_TENSOR, false},
    {NULL}};

static const kiln_attr_spec mapper_attrs[] = {
    {"cats_int64s", KILN_ATTR_INTS, false}, {"cats_strings", KILN_ATTR_STRINGS, false},
    {"default_int64", KILN_ATTR_INT, false}, {"default_string", KILN_ATTR_STRING, false},
    {NULL}};

const kiln_op_def kiln_ops_label_encoder[] = {
    {"LabelEncoder", 1, 1, 1, 1, encoder_attrs, kiln_infer_resolved, NULL, expand_encoder,
     KILN_OP_RESOLVE | KILN_OP_STRINGS | KILN_OP_STRING_ATTRS},
    {"CategoryMapper", 1, 1, 1, 1, mapper_attrs, kiln_infer_resolved, NULL, expand_mapper,
     KILN_OP_RESOLVE | KILN_OP_STRINGS | KILN_OP_STRING_ATTRS},
    {"LabelIndex", 1, 1, 1, 1, encoder_attrs, infer_index, lower_index, NULL, KILN_OP_ELEMENTWISE | KILN_OP_STRINGS},
    {NULL},
};
