/* Graph -> kiln DSL text that parses back to the same graph: inputs with their types,
 * every constant as a param (inline when small, else by name in the ONNX file the graph
 * came from, else in a .npy file of a weights folder), one statement per node with its
 * attributes, If branches as blocks, and the outputs. Names that are not DSL identifiers
 * (ONNX's "conv1.weight", "123") are written in backquotes; a name two values share gets
 * a suffix. */
#include "frontend/dsl.h"

#include "ir/dtype.h"
#include "ir/op.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INLINE_MAX 16
#define FILE_NAME_MAX 120 /* of a weight file's stem: well under any file system's limit */

/* Open-addressing set of strings, which it owns; grows to stay at most half full. */
typedef struct name_set {
  char **slots;
  int cap, count;
} name_set;

typedef struct printer {
  const kiln_graph *g;
  const kiln_dsl_weights *w;
  FILE *out;
  const char **names; /* printed name per value id (owned by `printed`) */
  name_set printed;   /* the names given to values */
  name_set files;     /* the weight files written */
  int fresh;          /* counter for params made for tensor attributes */
  kiln_error *err;
  kiln_status st;     /* the first failure to write a weight file; no file is tried after */
} printer;

static bool is_keyword(const char *s) {
  static const char *const kw[] = {"model", "def", "import", "param", "repeat", "return",
                                   "_", "none", NULL};
  for (int i = 0; kw[i]; i++)
    if (strcmp(s, kw[i]) == 0) return true;
  return false;
}

static bool is_ident(const char *s) {
  if (!*s || !(isalpha((unsigned char)*s) || *s == '_')) return false;
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_') return false;
  return !is_keyword(s);
}

/* s as a DSL name: itself, or backquoted with '`', '\\' and newlines escaped (the
 * lexer's quoted names). An empty name, which the DSL cannot write, becomes `_`. */
static char *quote_name(const char *s) {
  if (is_ident(s)) return kiln_xstrdup(s);
  if (!*s) s = "_";
  char *q = kiln_xmalloc(2 * strlen(s) + 3), *o = q;
  *o++ = '`';
  for (; *s; s++) {
    if (*s == '`' || *s == '\\') *o++ = '\\';
    if (*s == '\n') {
      *o++ = '\\';
      *o++ = 'n';
    } else {
      *o++ = *s;
    }
  }
  *o++ = '`';
  *o = 0;
  return q;
}

static int set_slot(const name_set *s, const char *name) {
  uint64_t h = 1469598103934665603ull;
  for (const char *c = name; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
  int slot = (int)(h & (uint64_t)(s->cap - 1));
  while (s->slots[slot] && strcmp(s->slots[slot], name) != 0) slot = (slot + 1) & (s->cap - 1);
  return slot;
}

/* Takes name into the set; false (and name freed) when it is there already. */
static bool set_add(name_set *s, char *name) {
  if (2 * (s->count + 1) > s->cap) {
    int cap = s->cap ? 2 * s->cap : 64;
    name_set grown = {kiln_xcalloc((size_t)cap, sizeof(char *)), cap, s->count};
    for (int i = 0; i < s->cap; i++)
      if (s->slots[i]) grown.slots[set_slot(&grown, s->slots[i])] = s->slots[i];
    free(s->slots);
    *s = grown;
  }
  int slot = set_slot(s, name);
  if (s->slots[slot]) {
    free(name);
    return false;
  }
  s->slots[slot] = name;
  s->count++;
  return true;
}

static void set_free(name_set *s) {
  for (int i = 0; i < s->cap; i++) free(s->slots[i]);
  free(s->slots);
}

/* base, else base_2, base_3... (inside the backquotes of a quoted name): the first name
 * not yet in s, added to it. */
static const char *unique(name_set *s, const char *base) {
  for (int k = 1;; k++) {
    char *name = k == 1          ? kiln_xstrdup(base)
                 : base[0] == '`' ? kiln_fmt("%.*s_%d`", (int)strlen(base) - 1, base, k)
                                  : kiln_fmt("%s_%d", base, k);
    if (set_add(s, name)) return name;
  }
}

static void make_names(printer *p) {
  const kiln_graph *g = p->g;
  p->names = kiln_xcalloc((size_t)g->nvalues + 1, sizeof(char *));
  for (int i = 0; i < g->nvalues; i++) {
    char *base = quote_name(g->values[i].name);
    p->names[i] = unique(&p->printed, base);
    free(base);
  }
}

static void print_string(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fprintf(out, "\\%c", *s);
    else if (*s == '\n') fputs("\\n", out);
    else if (*s == '\t') fputs("\\t", out);
    else fputc(*s, out);
  }
  fputc('"', out);
}

/* Exactly, in the language's literals: inf as 1e999, NaN (which has no literal) as the
 * quotient 0.0 / 0, -0 as -0.0 (the integer -0 would read back as +0). */
static void print_float(FILE *out, double v, bool f64) {
  if (isinf(v)) fputs(v > 0 ? "1e999" : "-1e999", out);
  else if (isnan(v)) fputs(signbit(v) ? "-(0.0 / 0)" : "(0.0 / 0)", out);
  else if (v == 0 && signbit(v)) fputs("-0.0", out);
  else fprintf(out, f64 ? "%.17g" : "%.9g", v);
}

static void print_type(printer *p, kiln_dtype t, int rank, const int64_t *dims, char *const *dim_names) {
  if (rank < 0) { /* an input whose rank, too, is bound at compile time */
    fprintf(p->out, "%s[*]", kiln_dtype_name(t));
    return;
  }
  fprintf(p->out, "%s[", kiln_dtype_name(t));
  for (int d = 0; d < rank; d++) {
    if (d) fputs(", ", p->out);
    if (dim_names && dim_names[d]) {
      char *q = quote_name(dim_names[d]);
      fputs(q, p->out);
      free(q);
    } else {
      fprintf(p->out, "%lld", (long long)dims[d]);
    }
  }
  fputc(']', p->out);
}

static void print_values(FILE *out, kiln_dtype t, const void *data, int64_t n) {
  fputc('[', out);
  for (int64_t i = 0; i < n; i++) {
    if (i) fputs(i % 16 ? ", " : ",\n      ", out);
    if (kiln_dtype_is_float(t)) print_float(out, kiln_load_f64(t, data, i), t == KILN_F64);
    else if (t == KILN_U64) fprintf(out, "%llu", (unsigned long long)((const uint64_t *)data)[i]);
    else fprintf(out, "%lld", (long long)kiln_load_i64(t, data, i));
  }
  fputc(']', out);
}

/* numpy's name for a kiln type; NULL for those numpy lacks (bf16), written raw. */
static const char *npy_descr(kiln_dtype t) {
  switch (t) {
  case KILN_F32: return "<f4";
  case KILN_F64: return "<f8";
  case KILN_F16: return "<f2";
  case KILN_I8: return "|i1";
  case KILN_U8: return "|u1";
  case KILN_I16: return "<i2";
  case KILN_U16: return "<u2";
  case KILN_I32: return "<i4";
  case KILN_U32: return "<u4";
  case KILN_I64: return "<i8";
  case KILN_U64: return "<u8";
  case KILN_BOOL: return "|b1";
  default: return NULL;
  }
}

/* A .npy version 1.0 header into buf, padded so the data starts 64-byte aligned as numpy
 * writes it; returns its length. The dict is at most ~60 + 21 bytes a dim, so buf's 512
 * bytes always hold it. */
#define NPY_HEADER_MAX 512
static size_t npy_header(char buf[NPY_HEADER_MAX], const char *descr, int rank, const int64_t *dims) {
  char dict[NPY_HEADER_MAX];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int d = 0; d < rank; d++) /* numpy's tuples: (5,) and (2, 3) */
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s", (long long)dims[d],
                  rank == 1 ? "," : d + 1 < rank ? ", " : "");
  n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
  size_t hlen = (size_t)n + 1; /* + the closing newline */
  hlen += (64 - (10 + hlen) % 64) % 64;
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (char)(hlen & 0xff);
  buf[9] = (char)(hlen >> 8);
  memset(buf + 10, ' ', hlen - 1);
  memcpy(buf + 10, dict, (size_t)n);
  buf[10 + hlen - 1] = '\n';
  return 10 + hlen;
}

/* Writes a constant to the weights folder and prints its initialiser: file("<ref>/x.npy"),
 * or raw("<ref>/x.bin") for a type numpy lacks. The file is named after the value, in
 * characters every file system takes. */
static void print_weight_file(printer *p, const char *name, kiln_dtype t, int rank,
                              const int64_t *dims, const void *data) {
  const kiln_dsl_weights *w = p->w;
  if (p->files.count == 0 && mkdir(w->dir, 0755) != 0 && errno != EEXIST && !p->st)
    p->st = kiln_fail(p->err, KILN_ERR_IO, "cannot create the folder '%s': %s", w->dir,
                      strerror(errno));
  char stem[FILE_NAME_MAX + 1];
  snprintf(stem, sizeof stem, "%s", *name ? name : "_");
  for (char *c = stem; *c; c++)
    if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && (*c != '.' || c == stem)) *c = '_';
  const char *descr = npy_descr(t);
  char *file = kiln_fmt("%s.%s", stem, descr ? "npy" : "bin");
  for (int k = 2; !set_add(&p->files, file); k++)
    file = kiln_fmt("%s_%d.%s", stem, k, descr ? "npy" : "bin");
  char head[NPY_HEADER_MAX];
  size_t nhead = descr ? npy_header(head, descr, rank, dims) : 0;
  size_t bytes = (size_t)kiln_shape_numel(rank, dims) * kiln_dtype_size(t);
  char *path = kiln_fmt("%s/%s", w->dir, file);
  if (!p->st) p->st = kiln_write_file_atomic(path, head, nhead, data, bytes, p->err);
  free(path);
  char *ref = kiln_fmt("%s/%s", w->ref ? w->ref : w->dir, file);
  fputs(descr ? "file(" : "raw(", p->out);
  print_string(p->out, ref);
  fputc(')', p->out);
  free(ref);
}

static void print_param(printer *p, const char *name, const char *onnx_name, kiln_dtype t,
                        int rank, const int64_t *dims, const void *data, const char *indent) {
  int64_t n = kiln_shape_numel(rank, dims);
  const kiln_dsl_weights *w = p->w;
  fprintf(p->out, "%sparam %s: ", indent, name);
  print_type(p, t, rank, dims, NULL);
  fputs(" = ", p->out);
  if (n > INLINE_MAX && w && w->onnx_file && onnx_name) {
    fputs("onnx(", p->out);
    print_string(p->out, w->onnx_file);
    fputs(", ", p->out);
    print_string(p->out, onnx_name);
    fputc(')', p->out);
  } else if (n > INLINE_MAX && w && !w->onnx_file && w->dir) {
    print_weight_file(p, onnx_name ? onnx_name : name, t, rank, dims, data);
  } else {
    print_values(p->out, t, data, n);
  }
  fputc('\n', p->out);
}

static bool is_const(const kiln_value *v) {
  return !v->is_input && v->producer < 0 && (v->data || (v->rank >= 0 && kiln_value_numel(v) == 0));
}

static void print_block(printer *p, const kiln_block *b, int depth);

/* Tensor attributes become params printed just before their node. */
static void attr_params(printer *p, const kiln_node *n, int depth, char **tensor_names) {
  for (int a = 0; a < n->nattrs; a++) {
    const kiln_attr *at = &n->attrs[a];
    tensor_names[a] = NULL;
    if (at->type != KILN_ATTR_TENSOR || !at->tensors) continue;
    char *raw = kiln_fmt("%s.%s#%d", n->name, at->name, ++p->fresh), *q = quote_name(raw);
    tensor_names[a] = kiln_xstrdup(unique(&p->printed, q)); /* no value's name */
    free(q);
    free(raw);
    const kiln_tensor *t = &at->tensors[0];
    print_param(p, tensor_names[a], NULL, t->dtype, t->rank, t->dims, t->data, depth == 1 ? "  " : "    ");
  }
}

static void print_attr(printer *p, const kiln_attr *at, const char *tensor_name, int depth,
                       bool first) {
  FILE *out = p->out;
  fprintf(out, "%s%s=", first ? "" : ", ", at->name);
  switch (at->type) {
  case KILN_ATTR_INT: fprintf(out, "%lld", (long long)at->i); break;
  case KILN_ATTR_FLOAT: print_float(out, at->f, true); break;
  case KILN_ATTR_STRING: print_string(out, at->s ? at->s : ""); break;
  case KILN_ATTR_TENSOR: fputs(tensor_name ? tensor_name : "0", out); break;
  case KILN_ATTR_INTS: case KILN_ATTR_FLOATS: case KILN_ATTR_STRINGS:
    fputc('[', out);
    for (int i = 0; i < at->count; i++) {
      if (i) fputs(", ", out);
      if (at->type == KILN_ATTR_INTS) fprintf(out, "%lld", (long long)at->ints[i]);
      else if (at->type == KILN_ATTR_FLOATS) print_float(out, at->floats[i], true);
      else print_string(out, at->strings[i] ? at->strings[i] : "");
    }
    fputc(']', out);
    break;
  case KILN_ATTR_GRAPH:
    fputs("{\n", out);
    if (at->graphs) print_block(p, at->graphs[0], depth + 1);
    fprintf(out, "%*s}", 2 * depth, "");
    break;
  default: fputs("0", out); break;
  }
}

static bool in_spec(const kiln_op_def *op, const char *name) {
  for (const kiln_attr_spec *s = op->attrs; s && s->name; s++)
    if (strcmp(s->name, name) == 0) return true;
  return false;
}

static void print_node(printer *p, const kiln_node *n, int depth) {
  FILE *out = p->out;
  char **tensor_names = kiln_xcalloc((size_t)n->nattrs + 1, sizeof(char *));
  attr_params(p, n, depth, tensor_names);
  fprintf(out, "%*s", 2 * depth, "");
  for (int i = 0; i < n->noutputs; i++)
    fprintf(out, "%s%s", i ? ", " : "", n->outputs[i] >= 0 ? p->names[n->outputs[i]] : "_");
  fprintf(out, " = %s(", n->op ? n->op->name : n->op_type);
  for (int i = 0; i < n->ninputs; i++)
    fprintf(out, "%s%s", i ? ", " : "", n->inputs[i] >= 0 ? p->names[n->inputs[i]] : "_");
  bool first = n->ninputs == 0;
  for (int a = 0; a < n->nattrs; a++) {
    if (!n->op || in_spec(n->op, n->attrs[a].name)) { /* others are ignored by the op */
      print_attr(p, &n->attrs[a], tensor_names[a], depth, first);
      first = false;
    }
    free(tensor_names[a]);
  }
  fputs(")\n", out);
  free(tensor_names);
}

static void print_block(printer *p, const kiln_block *b, int depth) {
  for (int i = 0; i < b->nnodes; i++) print_node(p, &p->g->nodes[b->nodes[i]], depth);
  fprintf(p->out, "%*sreturn ", 2 * depth, "");
  for (int i = 0; i < b->noutputs; i++) fprintf(p->out, "%s%s", i ? ", " : "", p->names[b->outputs[i]]);
  fputc('\n', p->out);
}

/* The DSL has tensors only: sequences, optionals and the ops kiln resolves at compile time
 * (Loop, Scan...) have no text form. */
static kiln_status printable(const kiln_graph *g, kiln_error *err) {
  for (int i = 0; i < g->ninputs; i++)
    if (g->values[g->inputs[i]].kind != KILN_KIND_TENSOR)
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "input '%s': the DSL has no sequences or "
                       "optionals", g->values[g->inputs[i]].name);
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i].op && (g->nodes[i].op->flags & KILN_OP_RESOLVE))
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): the DSL has no form for it "
                       "(kiln resolves it at compile time)", g->nodes[i].name, g->nodes[i].op_type);
  return KILN_OK;
}

kiln_status kiln_dsl_print(const kiln_graph *g, const kiln_dsl_weights *w, FILE *out,
                           kiln_error *err) {
  if (printable(g, err)) return err->code;
  printer p = {.g = g, .w = w, .out = out, .err = err};
  make_names(&p);
  char *model = quote_name(g->name && *g->name ? g->name : "model");
  fprintf(out, "# kiln DSL (kiln dump --dsl)\nmodel %s(", model);
  free(model);
  for (int i = 0; i < g->ninputs; i++) {
    const kiln_value *v = &g->values[g->inputs[i]];
    fprintf(out, "%s%s: ", i ? ", " : "", p.names[g->inputs[i]]);
    print_type(&p, v->dtype, v->rank, v->dims, v->dim_names);
  }
  fputs(") {\n", out);
  for (int i = 0; i < g->nvalues; i++)
    if (is_const(&g->values[i]))
      print_param(&p, p.names[i], g->values[i].name, g->values[i].dtype, g->values[i].rank,
                  g->values[i].dims, g->values[i].data, "  ");
  const kiln_block *b = &g->main;
  for (int i = 0; i < b->nnodes; i++) print_node(&p, &g->nodes[b->nodes[i]], 1);
  fputs("  return ", out);
  for (int i = 0; i < b->noutputs; i++) {
    int id = b->outputs[i];
    char *real = quote_name(g->values[id].name);
    /* an output whose printed name had to change keeps its own name */
    if (strcmp(real, p.names[id]) != 0) fprintf(out, "%s%s = %s", i ? ", " : "", real, p.names[id]);
    else fprintf(out, "%s%s", i ? ", " : "", real);
    free(real);
  }
  fputs("\n}\n", out);
  free(p.names);
  set_free(&p.printed);
  set_free(&p.files);
  return p.st;
}
