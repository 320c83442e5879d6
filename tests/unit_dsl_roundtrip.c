/* Round trips: a graph printed as DSL (kiln_dsl_print) parses back to an equivalent graph
 * (same inputs, ops in the same order wired the same way, same attributes, same weights;
 * after inference, the same output types and shapes). Run on the examples (large weights
 * through .npy files in a temporary folder), on the ONNX files under tests/data/onnx and
 * examples/, and on every ONNX backend node-test model installed; or, given a folder as
 * argv[1], on the generated test models in it (the CTest case dsl_roundtrip/models), the
 * smaller of which are also run, original against printed text.
 * The models of tests/dsl/roundtrip/ (names the DSL must quote, If branches using outer
 * values, free dims, inputs of any rank, many weights, large Constant nodes) are also
 * compiled and run, original against printed text (weights by name in the .onnx and
 * through .npy files): outputs equal bit for bit. */
#include "check.h"

#include "frontend/dsl.h"
#include "frontend/onnx.h"
#include "ir/dtype.h"
#include "ir/op.h"
#include "passes/passes.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODE_TESTS "/usr/share/libonnx-testdata/data/node"

typedef struct pairing {
  const kiln_graph *a, *b;
  int *node_map; /* a's node id -> b's */
} pairing;

static bool same_value(pairing *p, int va, int vb);

/* Weights of more than 16 elements come back from a file, bit for bit: one memcmp, which
 * keeps the 110M weights of bert_base cheap. Inline values went through decimal text,
 * where -0 reads back as 0 and NaN prints as 0: those are compared as numbers. */
static bool same_tensor(kiln_dtype t, int rank, const int64_t *dims, const void *da,
                        kiln_dtype t2, int rank2, const int64_t *dims2, const void *db) {
  if (t != t2 || rank != rank2 || memcmp(dims, dims2, sizeof(int64_t) * (size_t)rank)) return false;
  int64_t n = kiln_shape_numel(rank, dims);
  if (n == 0 || !memcmp(da, db, (size_t)n * kiln_dtype_size(t))) return true;
  if (n > 16) return false;
  for (int64_t i = 0; i < n; i++)
    if (kiln_dtype_is_float(t) ? kiln_load_f64(t, da, i) != kiln_load_f64(t, db, i) &&
                                     kiln_load_f64(t, da, i) == kiln_load_f64(t, da, i)
                               : kiln_load_i64(t, da, i) != kiln_load_i64(t, db, i))
      return false;
  return true;
}

static bool same_block(pairing *p, const kiln_block *a, const kiln_block *b);

static bool same_attr(pairing *p, const kiln_attr *x, const kiln_attr *y) {
  if (strcmp(x->name, y->name) || x->type != y->type) return false;
  switch (x->type) {
  case KILN_ATTR_INT: return x->i == y->i;
  case KILN_ATTR_FLOAT: return x->f == y->f || x->f != x->f;
  case KILN_ATTR_STRING: return strcmp(x->s ? x->s : "", y->s ? y->s : "") == 0;
  case KILN_ATTR_INTS:
    return x->count == y->count && (!x->count || !memcmp(x->ints, y->ints, sizeof(int64_t) * (size_t)x->count));
  case KILN_ATTR_FLOATS:
    for (int i = 0; i < x->count; i++)
      if (x->floats[i] != y->floats[i]) return false;
    return x->count == y->count;
  case KILN_ATTR_STRINGS:
    for (int i = 0; i < x->count; i++)
      if (strcmp(x->strings[i], y->strings[i])) return false;
    return x->count == y->count;
  case KILN_ATTR_TENSOR: {
    const kiln_tensor *s = &x->tensors[0], *t = &y->tensors[0];
    return same_tensor(s->dtype, s->rank, s->dims, s->data, t->dtype, t->rank, t->dims, t->data);
  }
  case KILN_ATTR_GRAPH: return same_block(p, x->graphs[0], y->graphs[0]);
  default: return false;
  }
}

static bool in_spec(const kiln_op_def *op, const char *name) {
  for (const kiln_attr_spec *s = op ? op->attrs : NULL; s && s->name; s++)
    if (!strcmp(s->name, name)) return true;
  return false;
}

static bool same_node(pairing *p, int na, int nb) {
  const kiln_node *x = &p->a->nodes[na], *y = &p->b->nodes[nb];
  if (x->op != y->op || x->noutputs != y->noutputs) return false;
  int nin = x->ninputs;
  while (nin > 0 && x->inputs[nin - 1] < 0) nin--;
  if (nin != y->ninputs) return false;
  for (int i = 0; i < nin; i++)
    if ((x->inputs[i] < 0) != (y->inputs[i] < 0) || (x->inputs[i] >= 0 && !same_value(p, x->inputs[i], y->inputs[i])))
      return false;
  int k = 0;
  for (int i = 0; i < x->nattrs; i++) {
    if (!in_spec(x->op, x->attrs[i].name)) continue;
    if (k >= y->nattrs || !same_attr(p, &x->attrs[i], &y->attrs[k++])) return false;
  }
  p->node_map[na] = nb;
  return k == y->nattrs;
}

static bool same_value(pairing *p, int va, int vb) {
  const kiln_value *x = &p->a->values[va], *y = &p->b->values[vb];
  if (x->is_input || y->is_input) {
    if (x->is_input != y->is_input || x->dtype != y->dtype || x->rank != y->rank) return false;
    for (int d = 0; d < x->rank; d++)
      if (x->dims[d] != y->dims[d] || (x->dim_names[d] == NULL) != (y->dim_names[d] == NULL)) return false;
    return true;
  }
  if (x->producer < 0 || y->producer < 0)
    return x->producer < 0 && y->producer < 0 &&
           same_tensor(x->dtype, x->rank, x->dims, x->data, y->dtype, y->rank, y->dims, y->data);
  if (p->node_map[x->producer] != y->producer) return false;
  const kiln_node *n = &p->a->nodes[x->producer], *m = &p->b->nodes[y->producer];
  for (int i = 0; i < n->noutputs; i++)
    if (n->outputs[i] == va) return m->outputs[i] == vb;
  return false;
}

static bool same_block(pairing *p, const kiln_block *a, const kiln_block *b) {
  if (a->nnodes != b->nnodes || a->noutputs != b->noutputs) return false;
  for (int i = 0; i < a->nnodes; i++)
    if (!same_node(p, a->nodes[i], b->nodes[i])) return false;
  for (int i = 0; i < a->noutputs; i++)
    if (!same_value(p, a->outputs[i], b->outputs[i])) return false;
  return true;
}

static kiln_status infer(kiln_graph *g, kiln_error *err) {
  kiln_shape_binding b[64];
  int n = 0;
  for (int i = 0; i < g->ninputs && n < 64; i++) {
    const kiln_value *v = &g->values[g->inputs[i]];
    if (v->rank < 0) return KILN_ERR_SHAPE;
    b[n] = (kiln_shape_binding){v->name, v->rank, {0}};
    for (int d = 0; d < v->rank; d++) b[n].dims[d] = v->dims[d] < 0 ? 1 : v->dims[d];
    n++;
  }
  kiln_options o = {.struct_size = sizeof o, .shapes = b, .nshapes = n};
  kiln_status st = kiln_pass_bind_inputs(g, &o, err);
  return st ? st : kiln_pass_infer(g, &o, err);
}

static int trips, skipped, runs;
static char scratch[] = "/tmp/kiln_dsl_rt_XXXXXX"; /* the text's base_dir; weights in w/ */

/* Empties scratch/w, so each round trip reads only the files its own print wrote. */
static void clear_weights(void) {
  char *dir = kiln_fmt("%s/w", scratch);
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char *path = kiln_fmt("%s/%s", dir, e->d_name);
    CHECK(unlink(path) == 0);
    free(path);
  }
  if (d) closedir(d);
  rmdir(dir);
  free(dir);
}

/* Free dims bound for a run: "input=2x3x9x9" each (the input's name may hold '='). */
typedef struct run_spec {
  const char *file; /* under tests/dsl/roundtrip/ */
  const char *shapes[4];
} run_spec;

static int parse_shapes(const run_spec *r, kiln_shape_binding *b) {
  int n = 0;
  for (int i = 0; i < 4 && r->shapes[i]; i++, n++) {
    const char *eq = strrchr(r->shapes[i], '=');
    b[n] = (kiln_shape_binding){kiln_fmt("%.*s", (int)(eq - r->shapes[i]), r->shapes[i]), 0, {0}};
    for (const char *p = eq + 1; *p; p += *p == 'x') b[n].dims[b[n].rank++] = strtoll(p, (char **)&p, 10);
  }
  return n;
}

/* Deterministic inputs: numbers in [-2, 2), small integers; bool input j is bit j of run. */
static void fill_input(const kiln_tensor_info *info, void *buf, int run, int *nbool, uint32_t *seed) {
  size_t n = info->bytes / kiln_dtype_size(info->dtype);
  bool b = (run >> (*nbool)++) & 1;
  if (info->dtype != KILN_BOOL) (*nbool)--;
  for (size_t i = 0; i < n; i++) {
    *seed = *seed * 1664525u + 1013904223u;
    double v = (double)(*seed >> 8) / (1 << 24) * 4 - 2;
    if (info->dtype == KILN_BOOL) ((bool *)buf)[i] = b;
    else if (kiln_dtype_is_float(info->dtype)) kiln_store_f64(info->dtype, buf, (int64_t)i, v);
    else kiln_store_i64(info->dtype, buf, (int64_t)i, (int64_t)floor(v * 4));
  }
}

/* Compiles the ONNX file and the DSL text printed from it with the same free dims, runs
 * both on the same inputs (each bool pattern), and wants the same outputs bit for bit. */
static void same_outputs(const char *what, const char *onnx_path, const char *text, size_t size,
                         const run_spec *r) {
  kiln_shape_binding b[4];
  int nb = parse_shapes(r, b);
  kiln_options oa = {.struct_size = sizeof oa, .shapes = b, .nshapes = nb}, ob = oa;
  ob.base_dir = scratch;
  kiln_model *ma = NULL, *mb = NULL;
  kiln_error err = {0};
  CHECK(kiln_compile_file(onnx_path, &oa, &ma, &err) == KILN_OK);
  if (ma && kiln_compile_buffer(text, size, &ob, &mb, &err) != KILN_OK)
    fprintf(stderr, "%s: the printed text does not compile:\n%s\n", what, err.message);
  CHECK(mb != NULL);
  if (ma && mb) {
    int nin = kiln_num_inputs(ma), nout = kiln_num_outputs(ma);
    CHECK(kiln_num_inputs(mb) == nin && kiln_num_outputs(mb) == nout);
    int nbools = 0;
    for (int i = 0; i < nin; i++) {
      kiln_tensor_info ia;
      kiln_input_info(ma, i, &ia);
      nbools += ia.dtype == KILN_BOOL;
    }
    for (int run = 0; run < (1 << nbools) && kiln_num_outputs(mb) == nout; run++) {
      void **in = kiln_xcalloc((size_t)nin + 1, sizeof(void *));
      void **oa_buf = kiln_xcalloc((size_t)nout + 1, sizeof(void *)), **ob_buf = kiln_xcalloc((size_t)nout + 1, sizeof(void *));
      uint32_t seed = 12345;
      int nbool = 0;
      for (int i = 0; i < nin; i++) {
        kiln_tensor_info ia, ib;
        kiln_input_info(ma, i, &ia);
        kiln_input_info(mb, i, &ib);
        CHECK(!strcmp(ia.name, ib.name) && ia.dtype == ib.dtype && ia.bytes == ib.bytes);
        in[i] = kiln_xcalloc(ia.bytes + 1, 1);
        fill_input(&ia, in[i], run, &nbool, &seed);
      }
      for (int i = 0; i < nout; i++) {
        kiln_tensor_info xa, xb;
        kiln_output_info(ma, i, &xa);
        kiln_output_info(mb, i, &xb);
        CHECK(!strcmp(xa.name, xb.name) && xa.dtype == xb.dtype && xa.bytes == xb.bytes);
        oa_buf[i] = kiln_xcalloc(xa.bytes + 1, 1);
        ob_buf[i] = kiln_xcalloc(xa.bytes + 1, 1);
      }
      CHECK(kiln_run(ma, (const void *const *)in, oa_buf, &err) == KILN_OK);
      CHECK(kiln_run(mb, (const void *const *)in, ob_buf, &err) == KILN_OK);
      for (int i = 0; i < nout; i++) {
        kiln_tensor_info xa;
        kiln_output_info(ma, i, &xa);
        if (memcmp(oa_buf[i], ob_buf[i], xa.bytes))
          fprintf(stderr, "%s: output '%s' differs (run %d)\n", what, xa.name, run);
        CHECK(!memcmp(oa_buf[i], ob_buf[i], xa.bytes));
        free(oa_buf[i]);
        free(ob_buf[i]);
      }
      for (int i = 0; i < nin; i++) free(in[i]);
      free(in);
      free(oa_buf);
      free(ob_buf);
      runs++;
    }
  }
  kiln_model_free(ma);
  kiln_model_free(mb);
  for (int i = 0; i < nb; i++) free((char *)b[i].input);
}

/* Prints a (large weights by name in onnx_file when given, else to .npy files), parses the
 * text back, compares; a is consumed. With run, also compiles and runs run->file against
 * the text. */
static void round_trip_run(const char *what, kiln_graph *a, const char *onnx_file,
                           const char *run_path, const run_spec *run) {
  char *text = NULL, *dir = kiln_fmt("%s/w", scratch);
  size_t size = 0;
  kiln_dsl_weights w = {onnx_file, dir, "w"};
  kiln_error err = {0};
  FILE *f = open_memstream(&text, &size);
  CHECK(kiln_dsl_print(a, &w, f, &err) == KILN_OK);
  fclose(f);
  free(dir);
  kiln_graph *b = NULL;
  kiln_options opts = {.struct_size = sizeof opts, .base_dir = scratch};
  kiln_status st = kiln_dsl_import(text, size, NULL, &opts, &b, &err);
  kiln_error ea = {0}, eb = {0};
  /* The DSL reports type errors as it reads; the ONNX importer leaves them to inference. */
  bool invalid = st && !run && infer(a, &ea) != KILN_OK;
  if (st && !invalid) fprintf(stderr, "%s: printed text does not parse:\n%s\n%s\n", what, err.message, size < 4000 ? text : "");
  CHECK(st == KILN_OK || invalid);
  skipped += invalid;
  if (b) {
    pairing p = {a, b, kiln_xcalloc((size_t)a->nnodes + 1, sizeof(int))};
    bool same = a->ninputs == b->ninputs && same_block(&p, &a->main, &b->main);
    for (int i = 0; same && i < a->main.noutputs; i++)
      same = !strcmp(a->values[a->main.outputs[i]].name, b->values[b->main.outputs[i]].name);
    if (!same) fprintf(stderr, "%s: the graph read back differs\n", what);
    CHECK(same);
    free(p.node_map);
    if (infer(a, &ea) == KILN_OK) {
      CHECK(infer(b, &eb) == KILN_OK);
      for (int i = 0; i < a->main.noutputs && !eb.code; i++) {
        const kiln_value *x = &a->values[a->main.outputs[i]], *y = &b->values[b->main.outputs[i]];
        CHECK(x->dtype == y->dtype && x->rank == y->rank &&
              !memcmp(x->dims, y->dims, sizeof(int64_t) * (size_t)(x->rank > 0 ? x->rank : 0)));
      }
    }
    trips++;
    if (run) same_outputs(what, run_path, text, size, run);
  }
  kiln_graph_free(a);
  kiln_graph_free(b);
  free(text);
  clear_weights();
}

static void round_trip(const char *what, kiln_graph *a, const char *onnx_file) {
  round_trip_run(what, a, onnx_file, NULL, NULL);
}

static kiln_graph *import_onnx(const char *path) {
  void *data;
  size_t size;
  kiln_error err = {0};
  if (kiln_read_file(path, &data, &size, &err)) return NULL;
  char *dir = strdup(path);
  if (strrchr(dir, '/')) *strrchr(dir, '/') = 0;
  kiln_graph *g = NULL;
  kiln_onnx_import(data, size, dir, &g, &err);
  free(dir);
  free(data);
  return g;
}

/* The models of tests/dsl/roundtrip/ (make_models.py): printed with weights by name in
 * the .onnx file, then through .npy files; both read back, compile and run as the original. */
static void run_models(void) {
  static const run_spec specs[] = {
      {"if_outer.onnx", {NULL}},
      {"odd_names.onnx", {"def=5x60", "1st:input=5x60"}},
      {"free_dims.onnx", {"x=2x3x9x9", "bias_in=2x10"}},
      {"many_weights.onnx", {NULL}},
      {"any_rank.onnx", {"x=2x17"}},
      {"constants.onnx", {NULL}},
  };
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    char *path = kiln_fmt("dsl/roundtrip/%s", specs[i].file), *abs = realpath(path, NULL);
    for (int files = 0; files < 2; files++) {
      kiln_graph *g = import_onnx(path);
      CHECK(g != NULL);
      if (!g) break;
      char *what = kiln_fmt("%s (%s)", path, files ? "weights in .npy files" : "weights by name");
      int before = runs;
      round_trip_run(what, g, files ? NULL : abs, path, &specs[i]);
      CHECK(runs > before);
      free(what);
    }
    free(abs);
    free(path);
  }
}

#define RUN_MAX_BYTES (8 << 20)
static bool run_small; /* the generated models: compare outputs of those under RUN_MAX_BYTES */

static void onnx_file(const char *path) {
  void *data;
  size_t size;
  kiln_error err = {0};
  if (kiln_read_file(path, &data, &size, &err)) return;
  char *dir = strdup(path);
  if (strrchr(dir, '/')) *strrchr(dir, '/') = 0;
  kiln_graph *g = NULL;
  kiln_status st = kiln_onnx_import(data, size, dir, &g, &err);
  free(dir);
  free(data);
  if (st) { /* unsupported or deliberately broken models have nothing to print */
    skipped++;
    return;
  }
  /* nor have sequences, optionals, Loop and Scan, which the DSL lacks (the printer refuses
   * them: test_printer_refuses) */
  bool lists = false;
  for (int i = 0; i < g->ninputs; i++) lists |= g->values[g->inputs[i]].kind != KILN_KIND_TENSOR;
  for (int i = 0; i < g->nnodes; i++)
    lists |= g->nodes[i].op && (g->nodes[i].op->flags & KILN_OP_RESOLVE);
  if (lists) {
    kiln_graph_free(g);
    skipped++;
    return;
  }
  char *abs = realpath(path, NULL);
  run_spec run = {path, {NULL}};
  /* the small generated models (mlp, bert_tiny, lstm) also run: compiling is what costs */
  round_trip_run(path, g, abs, path, run_small && size < RUN_MAX_BYTES ? &run : NULL);
  free(abs);
}

static void kiln_file(const char *path) {
  void *data;
  size_t size;
  kiln_error err = {0};
  CHECK(kiln_read_file(path, &data, &size, &err) == KILN_OK);
  kiln_graph *g = NULL;
  CHECK(kiln_dsl_import(data, size, path, NULL, &g, &err) == KILN_OK);
  free(data);
  if (g) round_trip(path, g, NULL);
}

/* Calls fn on every file under dir (one level of subfolders) named *suffix. */
static void each_file(const char *dir, const char *suffix, int depth, void (*fn)(const char *)) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    size_t len = strlen(e->d_name), sl = strlen(suffix);
    if (len >= sl && !strcmp(e->d_name + len - sl, suffix)) fn(path);
    else if (depth > 0) each_file(path, suffix, depth - 1, fn);
  }
  closedir(d);
}

/* A weights folder that cannot be made fails the print, naming the folder. */
static void unwritable_folder(void) {
  kiln_graph *g = NULL;
  kiln_error err = {0};
  const char *text = "model m(x: f32[32]) {\n  param w: f32[32] = ones\n  return y = x + w\n}\n";
  CHECK(kiln_dsl_import(text, strlen(text), NULL, NULL, &g, &err) == KILN_OK);
  char *out = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&out, &size);
  kiln_dsl_weights w = {NULL, "/dev/null/w", NULL};
  CHECK(kiln_dsl_print(g, &w, f, &err) == KILN_ERR_IO && strstr(err.message, "/dev/null/w"));
  fclose(f);
  free(out);
  kiln_graph_free(g);
}

/* A Loop has no DSL form: printing its model fails, naming the node. */
static void test_printer_refuses(void) {
  void *data;
  size_t size;
  kiln_error err = {0};
  kiln_graph *g = NULL;
  CHECK(kiln_read_file("data/seq/loop.onnx", &data, &size, &err) == KILN_OK);
  CHECK(!err.code && kiln_onnx_import(data, size, "data/seq", &g, &err) == KILN_OK);
  if (!err.code) free(data);
  char *out = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&out, &n);
  CHECK(g && kiln_dsl_print(g, NULL, f, &err) == KILN_ERR_UNSUPPORTED &&
        strstr(err.message, "node 'y_node' (Loop): the DSL has no form"));
  fclose(f);
  free(out);
  kiln_graph_free(g);
}

int main(int argc, char **argv) {
  CHECK(mkdtemp(scratch) != NULL);
  test_printer_refuses();
  if (argc > 1) {
    run_small = true;
    each_file(argv[1], ".onnx", 1, onnx_file);
    CHECK(trips >= 7); /* mlp, resnet18, resnet50, mobilenetv2, bert_tiny, bert_base, lstm */
    CHECK(runs >= 3);  /* mlp, bert_tiny, lstm */
  } else {
    kiln_file("../examples/demo.kiln");
    kiln_file("../examples/mlp.kiln");
    kiln_file("../examples/encoder.kiln");
    kiln_file("../examples/resnet18.kiln"); /* 11M seeded weights, through .npy files */
    kiln_file("dsl/valid/features.kiln");
    onnx_file("../examples/demo.onnx");
    each_file("data/onnx", ".onnx", 0, onnx_file);
    each_file(NODE_TESTS, "model.onnx", 1, onnx_file);
    unwritable_folder();
    CHECK(trips >= 6);
    run_models();
  }
  rmdir(scratch);
  printf("%d round trips (%d models kiln does not import or the DSL lacks skipped), %d runs compared\n", trips,
         skipped, runs);
  return check_report();
}
