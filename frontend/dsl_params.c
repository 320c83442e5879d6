/* Param initialisers: seeded random (he, normal, uniform), constant fills (zeros, ones, a
 * number), inline lists, and files: .npy, raw little-endian binary, and an .onnx file's
 * initializer (or Constant) by name. Random values are seeded from the model seed and the
 * param's full name, so a model is reproducible and each param differs. Every size read
 * from a file is checked against the declared type before it is trusted. */
#include "frontend/dsl_elab.h"

#include "frontend/onnx_internal.h"
#include "ir/dtype.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_BYTES (INT64_C(16) << 30)

struct dsl_onnx_file {
  char *path;
  Onnx__ModelProto *model;
};

char *dsl_resolve_path(dsl_ctx *c, const dsl_source *src, const char *file) {
  if (file[0] == '/') return kiln_xstrdup(file);
  const char *slash = src && strcmp(src->path, "<buffer>") != 0 ? strrchr(src->path, '/') : NULL;
  if (slash) return kiln_fmt("%.*s/%s", (int)(slash - src->path), src->path, file);
  if (src && strcmp(src->path, "<buffer>") != 0) return kiln_xstrdup(file);
  return kiln_fmt("%s/%s", c->base_dir, file);
}

void dsl_free_onnx_files(dsl_ctx *c) {
  for (int i = 0; i < c->nonnx_files; i++) {
    free(c->onnx_files[i].path);
    onnx__model_proto__free_unpacked(c->onnx_files[i].model, NULL);
  }
  free(c->onnx_files);
}

/* ---- random ---------------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double uniform01(uint64_t *s) { return ((double)(splitmix(s) >> 11) + 0.5) / 9007199254740992.0; }

static void fill_random(kiln_tensor *t, int64_t n, uint64_t seed, bool normal, double a, double b) {
  uint64_t s = seed;
  for (int64_t i = 0; i < n; i++) {
    double v;
    if (normal) /* Box-Muller */
      v = a + b * sqrt(-2.0 * log(uniform01(&s))) * cos(6.283185307179586 * uniform01(&s));
    else
      v = a + (b - a) * uniform01(&s);
    kiln_store_f64(t->dtype, t->data, i, v);
  }
}

static uint64_t param_seed(const dsl_ctx *c, const char *name) {
  uint64_t h = 1469598103934665603ull ^ (c->seed * 0x9E3779B97F4A7C15ull);
  for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  return h;
}

/* ---- files ----------------------------------------------------------------------------- */

static const char *type_str(kiln_dtype t, int rank, const int64_t *dims, char *buf, size_t size) {
  kiln_value v;
  memset(&v, 0, sizeof v);
  v.dtype = t;
  v.rank = rank;
  memcpy(v.dims, dims, sizeof(int64_t) * (size_t)rank);
  return kiln_value_type_str(&v, buf, size);
}

/* The declared type against the file's: both must agree exactly. */
static bool same_type(dsl_ctx *c, dsl_loc loc, const char *file, const kiln_tensor *want,
                      kiln_dtype t, int rank, const int64_t *dims) {
  if (t == want->dtype && rank == want->rank &&
      !memcmp(dims, want->dims, sizeof(int64_t) * (size_t)rank))
    return true;
  char a[160], b[160];
  dsl_error(&c->diag, KILN_ERR_SHAPE, loc, "'%s' holds %s, but the param is declared %s", file,
            type_str(t, rank, dims, a, sizeof a), type_str(want->dtype, want->rank, want->dims, b, sizeof b));
  return false;
}

static kiln_dtype npy_dtype(const char *d) {
  static const struct { const char *descr; kiln_dtype t; } map[] = {
      {"<f4", KILN_F32}, {"<f8", KILN_F64}, {"<f2", KILN_F16}, {"|i1", KILN_I8}, {"|u1", KILN_U8},
      {"<i2", KILN_I16}, {"<i4", KILN_I32}, {"<i8", KILN_I64}, {"<u2", KILN_U16},
      {"<u4", KILN_U32}, {"<u8", KILN_U64}, {"|b1", KILN_BOOL}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strncmp(d, map[i].descr, 3) == 0 && (d[3] == '\'' || d[3] == '"')) return map[i].t;
  return KILN_UNDEFINED;
}

/* A .npy file (format versions 1 to 3, C order, little-endian). */
static bool read_npy(dsl_ctx *c, dsl_loc loc, const char *file, const uint8_t *p, size_t size,
                     kiln_tensor *t) {
  if (size < 10 || memcmp(p, "\x93NUMPY", 6) != 0 || p[6] < 1 || p[6] > 3) {
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, loc, "'%s' is not a .npy file", file);
    return false;
  }
  size_t hlen = p[6] == 1 ? (size_t)(p[8] | p[9] << 8) : size >= 12 ? (size_t)(p[8] | p[9] << 8 | p[10] << 16 | (uint32_t)p[11] << 24) : size;
  size_t start = p[6] == 1 ? 10 : 12;
  if (start + hlen > size || hlen > 65536) {
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, loc, "'%s': the .npy header is truncated", file);
    return false;
  }
  char *h = kiln_fmt("%.*s", (int)hlen, (const char *)p + start);
  const char *descr = strstr(h, "'descr':"), *fo = strstr(h, "'fortran_order':"), *sh = strstr(h, "'shape':");
  kiln_dtype dt = KILN_UNDEFINED;
  int rank = 0;
  int64_t dims[KILN_MAX_RANK] = {0};
  bool ok = descr && fo && sh && !strstr(fo, "True");
  if (ok) {
    const char *q = strchr(descr + 8, '\'');
    if (!q) q = strchr(descr + 8, '"');
    dt = q ? npy_dtype(q + 1) : KILN_UNDEFINED;
    const char *s = strchr(sh, '(');
    for (s = s ? s + 1 : NULL; ok && s && *s && *s != ')';) {
      char *end;
      long long d = strtoll(s, &end, 10);
      if (end == s) break;
      if (rank == KILN_MAX_RANK || d < 0) ok = false;
      else dims[rank++] = d;
      s = end;
      while (*s == ',' || *s == ' ') s++;
    }
  }
  free(h);
  if (!ok || dt == KILN_UNDEFINED) {
    dsl_error(&c->diag, KILN_ERR_UNSUPPORTED, loc,
              "'%s': kiln reads C-order little-endian .npy files of a numeric type", file);
    return false;
  }
  if (!same_type(c, loc, file, t, dt, rank, dims)) return false;
  size_t bytes = (size_t)kiln_shape_numel(rank, dims) * kiln_dtype_size(dt);
  if (size - start - hlen != bytes) {
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, loc, "'%s' holds %zu bytes of data, expected %zu",
              file, size - start - hlen, bytes);
    return false;
  }
  if (bytes) memcpy(t->data, p + start + hlen, bytes);
  return true;
}

static Onnx__ModelProto *onnx_model(dsl_ctx *c, dsl_loc loc, const char *path) {
  for (int i = 0; i < c->nonnx_files; i++)
    if (strcmp(c->onnx_files[i].path, path) == 0) return c->onnx_files[i].model;
  void *data;
  size_t size;
  kiln_error e = {0};
  if (kiln_read_file(path, &data, &size, &e)) {
    dsl_error(&c->diag, e.code, loc, "%s", e.message);
    return NULL;
  }
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
  free(data);
  if (!m || !m->graph) {
    if (m) onnx__model_proto__free_unpacked(m, NULL);
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, loc, "'%s' is not a valid ONNX model", path);
    return NULL;
  }
  c->onnx_files = kiln_xrealloc(c->onnx_files, sizeof(dsl_onnx_file) * (size_t)(c->nonnx_files + 1));
  c->onnx_files[c->nonnx_files++] = (dsl_onnx_file){kiln_xstrdup(path), m};
  return m;
}

/* The initializer, or the value of the Constant node, that an ONNX file names `name`: in
 * the main graph, else in a subgraph (an If branch's own weights), depth first. A
 * Constant's value_floats or value_ints (1-D f32 and i64, as the importer reads them) are
 * described in *list, whose dims *dim holds. */
static const Onnx__TensorProto *onnx_tensor(const Onnx__GraphProto *g, const char *name, int depth,
                                            Onnx__TensorProto *list, int64_t *dim) {
  if (!g || depth > 32) return NULL; /* the ONNX importer's nesting bound */
  for (size_t i = 0; i < g->n_initializer; i++)
    if (g->initializer[i]->name && strcmp(g->initializer[i]->name, name) == 0) return g->initializer[i];
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (!n->op_type || strcmp(n->op_type, "Constant") != 0 || n->n_output != 1 || strcmp(n->output[0], name) != 0)
      continue;
    for (size_t a = 0; a < n->n_attribute; a++) {
      const Onnx__AttributeProto *at = n->attribute[a];
      if (!at->name) continue;
      if (strcmp(at->name, "value") == 0 && at->t) return at->t;
      bool floats = strcmp(at->name, "value_floats") == 0, ints = strcmp(at->name, "value_ints") == 0;
      if (!floats && !ints) continue;
      *list = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
      list->has_data_type = true;
      list->data_type = floats ? ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT : ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
      list->n_dims = 1;
      list->dims = dim;
      *dim = (int64_t)(floats ? at->n_floats : at->n_ints);
      if (floats) list->n_float_data = at->n_floats, list->float_data = at->floats;
      else list->n_int64_data = at->n_ints, list->int64_data = at->ints;
      return list;
    }
  }
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t a = 0; a < g->node[i]->n_attribute; a++) {
      const Onnx__AttributeProto *at = g->node[i]->attribute[a];
      const Onnx__TensorProto *t = onnx_tensor(at->g, name, depth + 1, list, dim);
      for (size_t k = 0; !t && k < at->n_graphs; k++) t = onnx_tensor(at->graphs[k], name, depth + 1, list, dim);
      if (t) return t;
    }
  return NULL;
}

static bool read_onnx(dsl_ctx *c, dsl_loc loc, const char *path, const char *name, kiln_tensor *t) {
  Onnx__ModelProto *m = onnx_model(c, loc, path);
  if (!m) return false;
  Onnx__TensorProto list;
  int64_t dim;
  const Onnx__TensorProto *p = onnx_tensor(m->graph, name, 0, &list, &dim);
  if (!p) {
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, loc, "'%s' has no initializer named '%s'", path, name);
    return false;
  }
  char *dir = strrchr(path, '/') ? kiln_fmt("%.*s", (int)(strrchr(path, '/') - path), path) : kiln_xstrdup(".");
  char *what = kiln_fmt("initializer '%s'", name);
  kiln_tensor got;
  kiln_error e = {0};
  kiln_status st = kiln_onnx_tensor_from_proto(p, what, dir, &got, &e);
  free(dir);
  free(what);
  if (st) {
    dsl_error(&c->diag, st, loc, "'%s': %s", path, e.message);
    return false;
  }
  bool ok = same_type(c, loc, path, t, got.dtype, got.rank, got.dims);
  if (ok) {
    free(t->data);
    t->data = got.data;
  } else {
    kiln_tensor_free(&got);
  }
  return ok;
}

/* file("w.npy"), raw("w.bin"), onnx("m.onnx", "name"). */
static bool read_file_init(dsl_ctx *c, const dsl_ast *call, kiln_tensor *t, int64_t bytes) {
  const char *fn = call->s;
  int want = strcmp(fn, "onnx") == 0 ? 2 : 1;
  bool strings = call->nkids == want;
  for (int i = 0; strings && i < want; i++)
    strings = !call->kids[i]->s && call->kids[i]->kids[0]->kind == A_STRING;
  if (!strings) {
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, call->loc, "%s", want == 2
              ? "onnx() takes two strings: the .onnx file and the initializer's name"
              : "expected one string: the file's path");
    return false;
  }
  char *path = dsl_resolve_path(c, call->loc.src, call->kids[0]->kids[0]->s);
  bool ok = false;
  if (want == 2) {
    ok = read_onnx(c, call->loc, path, call->kids[1]->kids[0]->s, t);
  } else {
    void *data = NULL;
    size_t size = 0;
    kiln_error e = {0};
    if (kiln_read_file(path, &data, &size, &e)) {
      dsl_error(&c->diag, e.code, call->kids[0]->loc, "%s", e.message);
    } else if (strcmp(fn, "file") == 0) {
      ok = read_npy(c, call->loc, path, data, size, t);
    } else if ((int64_t)size != bytes) {
      dsl_error(&c->diag, KILN_ERR_SHAPE, call->loc, "'%s' holds %zu bytes, the declared type needs %lld",
                path, size, (long long)bytes);
    } else {
      if (bytes) memcpy(t->data, data, (size_t)bytes);
      ok = true;
    }
    free(data);
  }
  free(path);
  return ok;
}

/* ---- the initialiser ------------------------------------------------------------------- */

/* The numbers a call like normal(0, 0.02) takes. */
static bool number_args(dsl_ctx *c, const dsl_ast *call, int n, double *out) {
  if (call->nkids != n) {
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, call->loc, "%s() takes %d numbers, got %d", call->s, n, call->nkids);
    return false;
  }
  for (int i = 0; i < n; i++) {
    dsl_val v = call->kids[i]->s ? (dsl_val){.kind = V_STRING} : dsl_eval(c, call->kids[i]->kids[0]);
    if (v.kind != V_INT && v.kind != V_FLOAT) {
      if (v.kind != V_ERROR)
        dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, call->kids[i]->loc, "expected a number, got %s",
                  dsl_kind_name(v.kind));
      return false;
    }
    out[i] = v.kind == V_INT ? (double)v.i : v.f;
  }
  return true;
}

static const char *const init_forms =
    "he, normal(mean, std), uniform(lo, hi), zeros, ones, a number, a list, file(\"w.npy\"), "
    "raw(\"w.bin\") or onnx(\"m.onnx\", \"name\")";

bool dsl_param_init(dsl_ctx *c, const dsl_ast *init, const char *full_name, kiln_tensor *t) {
  int64_t bytes = (int64_t)kiln_dtype_size(t->dtype);
  int64_t limit = c->opts && c->opts->max_tensor_bytes > 0 ? c->opts->max_tensor_bytes : DEFAULT_MAX_BYTES;
  for (int d = 0; d < t->rank; d++)
    if (kiln_mul_overflows(bytes, t->dims[d], &bytes)) bytes = INT64_MAX;
  if (bytes > limit) {
    dsl_error(&c->diag, KILN_ERR_LIMIT, init->loc, "param '%s' needs %lld bytes, over the limit of %lld",
              full_name, (long long)bytes, (long long)limit);
    return false;
  }
  int64_t n = kiln_shape_numel(t->rank, t->dims); /* within the limit: no overflow */
  t->data = bytes ? calloc(1, (size_t)bytes) : NULL;
  if (bytes && !t->data) {
    dsl_error(&c->diag, KILN_ERR_OUT_OF_MEMORY, init->loc, "out of memory for param '%s'", full_name);
    return false;
  }
  const char *fn = init->kind == A_NAME || init->kind == A_CALL ? init->s : "";
  bool is_call = init->kind == A_CALL, ok = true;
  double a[2];
  bool random = !strcmp(fn, "he") || !strcmp(fn, "normal") || !strcmp(fn, "uniform");
  if (random && !kiln_dtype_is_float(t->dtype)) {
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, init->loc, "%s initialises floating-point params, not %s",
              fn, kiln_dtype_name(t->dtype));
    ok = false;
  } else if (!strcmp(fn, "he") && (!is_call || init->nkids == 0)) {
    int64_t fan_in = t->rank == 1 ? t->dims[0] : 1;
    if (t->rank > 1 && t->dims[0] > 0) fan_in = n / t->dims[0]; /* a zero dim: no weights */
    fill_random(t, n, param_seed(c, full_name), true, 0, sqrt(2.0 / (double)(fan_in > 0 ? fan_in : 1)));
  } else if ((!strcmp(fn, "normal") || !strcmp(fn, "uniform")) && is_call) {
    ok = number_args(c, init, 2, a);
    if (ok) fill_random(t, n, param_seed(c, full_name), fn[0] == 'n', a[0], a[1]);
  } else if ((!strcmp(fn, "zeros") || !strcmp(fn, "ones")) && (!is_call || init->nkids == 0)) {
    for (int64_t i = 0; i < n && fn[0] == 'o'; i++) kiln_store_f64(t->dtype, t->data, i, 1.0);
  } else if ((!strcmp(fn, "file") || !strcmp(fn, "raw") || !strcmp(fn, "onnx")) && is_call) {
    ok = read_file_init(c, init, t, bytes);
  } else if (init->kind == A_LIST || init->kind == A_INT || init->kind == A_FLOAT || init->kind == A_NEG) {
    dsl_val v = dsl_eval(c, init);
    kiln_tensor lit;
    memset(&lit, 0, sizeof lit);
    ok = v.kind != V_ERROR && dsl_value_tensor(c, &v, t->dtype, &lit);
    if (ok && lit.rank == 0) { /* a number fills the param */
      for (int64_t i = 0; i < n; i++) memcpy((char *)t->data + i * (int64_t)kiln_dtype_size(t->dtype), lit.data, kiln_dtype_size(t->dtype));
    } else if (ok && kiln_shape_numel(lit.rank, lit.dims) != n) {
      dsl_error(&c->diag, KILN_ERR_SHAPE, init->loc, "the list holds %lld values, the param needs %lld",
                (long long)kiln_shape_numel(lit.rank, lit.dims), (long long)n);
      ok = false;
    } else if (ok && bytes) {
      memcpy(t->data, lit.data, (size_t)bytes);
    }
    kiln_tensor_free(&lit);
  } else {
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, init->loc, "expected an initialiser: %s", init_forms);
    ok = false;
  }
  if (!ok) kiln_tensor_free(t);
  return ok;
}
