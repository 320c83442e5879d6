/* The kiln model language: valid programs elaborate to the expected graphs; every
 * program in tests/dsl/errors/ fails with exactly the diagnostics in its .err file
 * (KILN_DSL_BLESS=1 rewrites them after a deliberate change); text from a buffer and from
 * a file behave alike. Run from tests/ (CTest's working directory). */
#include "check.h"

#include "frontend/dsl.h"
#include "frontend/onnx.h"
#include "ir/op.h"
#include "passes/passes.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kiln_graph *import_text(const char *text, kiln_error *err) {
  kiln_graph *g = NULL;
  memset(err, 0, sizeof *err);
  kiln_dsl_import(text, strlen(text), NULL, NULL, &g, err);
  return g;
}

static int count_op(const kiln_graph *g, const char *op) {
  int n = 0;
  for (int i = 0; i < g->main.nnodes; i++) n += strcmp(g->nodes[g->main.nodes[i]].op_type, op) == 0;
  return n;
}

static const kiln_value *output(const kiln_graph *g, int i) { return &g->values[g->main.outputs[i]]; }

/* Infers g with every free dim bound to `size`. */
static kiln_status infer(kiln_graph *g, int64_t size, kiln_error *err) {
  kiln_shape_binding b[16];
  int n = 0;
  for (int i = 0; i < g->ninputs && n < 16; i++) {
    const kiln_value *v = &g->values[g->inputs[i]];
    b[n] = (kiln_shape_binding){v->name, v->rank, {0}};
    for (int d = 0; d < v->rank; d++) b[n].dims[d] = v->dims[d] < 0 ? size : v->dims[d];
    n++;
  }
  kiln_options o = {.struct_size = sizeof o, .shapes = b, .nshapes = n};
  kiln_status st = kiln_pass_bind_inputs(g, &o, err);
  return st ? st : kiln_pass_infer(g, &o, err);
}

static void test_valid(void) {
  kiln_error err;
  /* infix, unary minus, comparisons, precedence, case-insensitive op names, comments */
  kiln_graph *g = import_text(
      "# comment\n"
      "model m(x: f32[N, 4], y: f32[4]) {  # trailing comment\n"
      "  a = -x * y + 2 ** 2 - relu(x) / 2\n"
      "  b = (x < y) == (x >= 0.5)\n"
      "  c = x != y; d = x <= y\n"
      "  return a, b, c, d, e = x > 1\n"
      "}\n", &err);
  CHECK(g != NULL);
  if (g) {
    CHECK(g->ninputs == 2 && g->main.noutputs == 5);
    CHECK(strcmp(g->values[g->inputs[0]].dim_names[0], "N") == 0 && g->values[g->inputs[0]].dims[0] == -1);
    CHECK(count_op(g, "Neg") == 1 && count_op(g, "Mul") == 1 && count_op(g, "Relu") == 1);
    CHECK(count_op(g, "Less") == 1 && count_op(g, "GreaterOrEqual") == 1 && count_op(g, "Not") == 1);
    CHECK(strcmp(output(g, 4)->name, "e") == 0 && strcmp(output(g, 0)->name, "a") == 0);
    CHECK(infer(g, 3, &err) == KILN_OK);
    CHECK(output(g, 0)->dtype == KILN_F32 && output(g, 0)->dims[0] == 3);
    CHECK(output(g, 1)->dtype == KILN_BOOL);
    kiln_graph_free(g);
  }
  /* functions (expression and block bodies), int params in dims, repeat, multi-output,
   * params of every initialiser, per-call param names */
  g = import_text(
      "def gelu(x) = 0.5 * x * (1 + Erf(x / Sqrt(2.0)))\n"
      "def block(x, c) {\n"
      "  param w: f32[c, c * 1, 3, 3] = he\n"
      "  y = Relu(Conv(x, w, pads=[1, 1, 1, 1]))\n"
      "  return Relu(y + x)\n"
      "}\n"
      "def pair(x) {\n  return x, -x\n}\n"
      "model m(image: f32[1, 4, 8, 8]) seed 7 {\n"
      "  param b: f32[4] = [0.1, 0, 0,\n                    -2]\n"
      "  param u: f32[4] = uniform(-1, 1)\n"
      "  param n: f32[2, 2] = normal(0, 0.02)\n"
      "  param z: i64[3] = zeros\n"
      "  param o: f16[2] = ones\n"
      "  param k: f32[] = 3.5\n"
      "  x = image\n"
      "  repeat 3 { x = block(x, 4) }\n"
      "  p, q = pair(gelu(x))\n"
      "  s1, s2 = Split(p + q, axis=1, num_outputs=2)\n"
      "  return s1, s2\n"
      "}\n", &err);
  CHECK(g != NULL);
  if (!g) fprintf(stderr, "%s\n", err.message);
  if (g) {
    CHECK(count_op(g, "Conv") == 3 && count_op(g, "Split") == 1 && count_op(g, "Erf") == 1);
    int w3 = kiln_graph_find_value(g, "block_3.w");
    CHECK(w3 >= 0 && g->values[w3].data && g->values[w3].dims[1] == 4);
    int b = kiln_graph_find_value(g, "b");
    CHECK(b >= 0 && ((float *)g->values[b].data)[3] == -2.0f);
    int o = kiln_graph_find_value(g, "o");
    CHECK(o >= 0 && g->values[o].dtype == KILN_F16 && ((uint16_t *)g->values[o].data)[1] == 0x3c00);
    CHECK(infer(g, 1, &err) == KILN_OK);
    CHECK(output(g, 0)->rank == 4 && output(g, 0)->dims[1] == 2);
    kiln_graph_free(g);
  }
  /* the same source and seed give the same random weights; another seed others */
  const char *src = "model m(x: f32[4]) seed 1 {\n  param w: f32[4] = he\n  return x * w\n}\n";
  kiln_graph *g1 = import_text(src, &err), *g2 = import_text(src, &err);
  kiln_graph *g3 = import_text("model m(x: f32[4]) seed 2 {\n  param w: f32[4] = he\n  return x * w\n}\n", &err);
  CHECK(g1 && g2 && g3);
  if (g1 && g2 && g3) {
    int w = kiln_graph_find_value(g1, "w");
    CHECK(memcmp(g1->values[w].data, g2->values[w].data, 16) == 0);
    CHECK(memcmp(g1->values[w].data, g3->values[w].data, 16) != 0);
  }
  kiln_graph_free(g1);
  kiln_graph_free(g2);
  kiln_graph_free(g3);
  /* If with block attributes; a block sees the enclosing names */
  g = import_text("model m(c: bool[1], x: f32[2]) {\n"
                  "  y = If(c, then_branch={ return Relu(x) }, else_branch={\n"
                  "    t = Tanh(x)\n    return t * 2\n  })\n  return y\n}\n", &err);
  CHECK(g != NULL);
  if (g) {
    const kiln_node *n = &g->nodes[g->main.nodes[0]];
    CHECK(strcmp(n->op_type, "If") == 0 && n->nattrs == 2);
    CHECK(kiln_node_attr(n, "else_branch")->graphs[0]->nnodes == 2);
    CHECK(infer(g, 1, &err) == KILN_OK);
    kiln_graph_free(g);
  }
  /* backquoted names: any text with '`', '\\' and newlines escaped, keywords included;
   * quoted, `_` and `none` are names, not an omitted input */
  g = import_text("model `model`(`def`: f32[`N-1`, 2], `_`: f32[2]) {\n"
                  "  `a\\`b\\\\c\\n` = `def` + `_`\n  `none` = Relu(`a\\`b\\\\c\\n`)\n"
                  "  return `return` = `none`, `_`\n}\n", &err);
  CHECK(g != NULL);
  if (!g) fprintf(stderr, "%s\n", err.message);
  if (g) {
    CHECK(strcmp(g->name, "model") == 0 && g->ninputs == 2);
    CHECK(strcmp(g->values[g->inputs[0]].name, "def") == 0 && strcmp(g->values[g->inputs[1]].name, "_") == 0);
    CHECK(strcmp(g->values[g->inputs[0]].dim_names[0], "N-1") == 0);
    CHECK(kiln_graph_find_value(g, "a`b\\c\n") >= 0 && count_op(g, "Add") == 1);
    CHECK(strcmp(output(g, 0)->name, "return") == 0 && strcmp(output(g, 1)->name, "_") == 0);
    kiln_graph_free(g);
  }
  /* the detector */
  CHECK(kiln_dsl_detect("model m", 7) && kiln_dsl_detect("\n# x\n", 5) && kiln_dsl_detect("import \"a\"", 10));
  CHECK(!kiln_dsl_detect("\x08\x07\x12\x00", 4) && !kiln_dsl_detect("modelx", 6));
}

static kiln_status import_with(const char *text, const kiln_shape_binding *b, int nb, kiln_error *err) {
  kiln_graph *g = NULL;
  kiln_options o = {.struct_size = sizeof o, .shapes = b, .nshapes = nb};
  memset(err, 0, sizeof *err);
  kiln_status st = kiln_dsl_import(text, strlen(text), NULL, &o, &g, err);
  kiln_graph_free(g);
  return st;
}

/* Free dims: no size they could be bound to is refused while reading; what is wrong
 * whatever their size is still reported at its line; sizes bound in kiln_options decide
 * (and place the error). Shapes known only after folding reach If branches. */
static void test_free_dims(void) {
  kiln_error err;
  const char *conv = "model m(x: f32[N, 3, H, W]) {\n  param w: f32[4, 3, 3, 3] = he\n"
                     "  return MaxPool(Conv(x, w), kernel_shape=[2, 2])\n}\n";
  CHECK(import_with(conv, NULL, 0, &err) == KILN_OK);
  kiln_shape_binding small = {"x", 4, {1, 3, 2, 2}};
  CHECK(import_with(conv, &small, 1, &err) == KILN_ERR_SHAPE &&
        strstr(err.message, "<buffer>:3:18: error: Conv: window 3 is larger than the padded input 2"));
  const char *mm = "model m(x: f32[N, 3]) {\n  param w: f32[4, 5] = he\n  return MatMul(x, w)\n}\n";
  CHECK(import_with(mm, NULL, 0, &err) == KILN_ERR_SHAPE && strstr(err.message, "<buffer>:3:10: error: MatMul"));
  const char *add = "model m(x: f32[N], y: f32[4], z: f32[N]) {\n  return x + y + z\n}\n";
  CHECK(import_with(add, NULL, 0, &err) == KILN_OK);
  kiln_shape_binding three = {"x", 1, {3}}, four = {"z", 1, {4}};
  CHECK(import_with(add, &three, 1, &err) == KILN_ERR_SHAPE &&
        strstr(err.message, "<buffer>:2:12: error: Add: shapes do not broadcast"));
  CHECK(import_with(add, &four, 1, &err) == KILN_OK); /* N named in z binds x too */
  /* a dim named like an earlier input is still a dim */
  CHECK(import_with("model m(N: f32[2], x: f32[N]) {\n  return x\n}\n", NULL, 0, &err) == KILN_OK);
  /* an input of any rank: bound when compiling, checked with the binding */
  const char *any = "model m(x: f32[*]) {\n  param w: f32[3] = [1, 2, 3]\n  return y = Relu(x) * w\n}\n";
  CHECK(import_with(any, NULL, 0, &err) == KILN_OK);
  kiln_shape_binding two_by_four = {"x", 2, {2, 4}}, two_by_three = {"x", 2, {2, 3}};
  CHECK(import_with(any, &two_by_four, 1, &err) == KILN_ERR_SHAPE && strstr(err.message, "<buffer>:3:22: error: Mul: shapes do not broadcast"));
  kiln_options with = {.struct_size = sizeof with, .shapes = &two_by_three, .nshapes = 1};
  kiln_model *m = NULL;
  CHECK(kiln_compile_buffer(any, strlen(any), &with, &m, &err) == KILN_OK);
  if (m) {
    float x[6] = {-1, 1, 1, 2, -2, 2}, y[6];
    const void *in[1] = {x};
    void *out[1] = {y};
    CHECK(kiln_run(m, in, out, &err) == KILN_OK && y[0] == 0 && y[2] == 3 && y[5] == 6);
    kiln_model_free(m);
  }
  /* branch results whose shapes are computed: known once folded */
  const char *branches = "model m(x: f32[2, 3], c: bool[]) {\n  r = Reshape(x, Shape(x))\n"
                         "  y = If(c, then_branch={ return r }, else_branch={ return Relu(r) * 2 })\n"
                         "  return y\n}\n";
  CHECK(kiln_compile_buffer(branches, strlen(branches), NULL, &m, &err) == KILN_OK);
  if (!m) fprintf(stderr, "%s\n", err.message);
  if (m) {
    float x[6] = {-1, 2, -3, 4, -5, 6}, y[6];
    bool c = false;
    const void *in[2] = {x, &c};
    void *out[1] = {y};
    CHECK(kiln_run(m, in, out, &err) == KILN_OK && y[0] == 0 && y[1] == 4 && y[5] == 12);
    kiln_model_free(m);
  }
}

/* ONNX or DSL: by the extension, else by the contents; a mistake in the first word of a
 * program still gets DSL diagnostics, from a file of any name or a buffer. */
static void test_format(void) {
  const char *typo = "modle m(x: f32[2]) {\n  return x\n}\n";
  void *onnx;
  size_t onnx_size;
  kiln_error err = {0};
  CHECK(kiln_read_file("dsl/roundtrip/if_outer.onnx", &onnx, &onnx_size, &err) == KILN_OK);
  CHECK(kiln_model_is_dsl("a.kiln", onnx, onnx_size) && kiln_model_is_dsl("dir/A.KILN", "", 0));
  CHECK(!kiln_model_is_dsl("a.onnx", typo, strlen(typo)) && !kiln_model_is_dsl(NULL, onnx, onnx_size));
  CHECK(!kiln_model_is_dsl("model.bin", onnx, onnx_size) && !kiln_model_is_dsl(".kiln/m", onnx, onnx_size));
  CHECK(kiln_model_is_dsl(NULL, typo, strlen(typo)) && kiln_model_is_dsl("net.txt", typo, strlen(typo)));
  CHECK(kiln_model_is_dsl(NULL, "x = 1 # \xc3\xa9t\xc3\xa9\n", 14));  /* UTF-8 text */
  CHECK(!kiln_model_is_dsl(NULL, "\xff\xfe this is not a protobuf \x01\x02", 30));
  CHECK(!kiln_model_is_dsl(NULL, "\x08\x07\x12\x00", 4));
  free(onnx);
  kiln_model *m = NULL;
  CHECK(kiln_compile_buffer(typo, strlen(typo), NULL, &m, &err) == KILN_ERR_INVALID_MODEL);
  CHECK(strstr(err.message, "<buffer>:1:1: error: syntax error: expected end of file, 'model', 'def', "
                            "'import' or end of line, found 'modle' (did you mean 'model'?)\n  modle") != NULL);
  char dir[] = "/tmp/kiln_dsl_format_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  const char *names[] = {"net.kiln", "net.txt", "net"};
  for (int i = 0; i < 3; i++) {
    char *path = kiln_fmt("%s/%s", dir, names[i]), *want = kiln_fmt("%s:1:1: error: syntax error", path);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) fputs(typo, f), fclose(f);
    CHECK(kiln_compile_file(path, NULL, &m, &err) == KILN_ERR_INVALID_MODEL && strstr(err.message, want));
    CHECK(!strstr(err.message, "protobuf"));
    remove(path);
    free(path);
    free(want);
  }
  rmdir(dir);
}

/* Every tests/dsl/errors/NAME.kiln fails with the text of NAME.err exactly. */
static void test_errors(void) {
  DIR *d = opendir("dsl/errors");
  CHECK(d != NULL);
  if (!d) return;
  bool bless = getenv("KILN_DSL_BLESS") != NULL;
  int cases = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 6 || strcmp(e->d_name + len - 5, ".kiln") != 0) continue;
    char path[512], expect_path[512];
    snprintf(path, sizeof path, "dsl/errors/%s", e->d_name);
    snprintf(expect_path, sizeof expect_path, "dsl/errors/%.*s.err", (int)len - 5, e->d_name);
    void *text;
    size_t size;
    kiln_error err = {0};
    CHECK(kiln_read_file(path, &text, &size, &err) == KILN_OK);
    kiln_graph *g = NULL;
    kiln_status st = kiln_dsl_import(text, size, path, NULL, &g, &err);
    free(text);
    CHECK(st != KILN_OK && g == NULL && err.code == st);
    char want[sizeof err.message + 64];
    memset(want, 0, sizeof want);
    if (bless) {
      FILE *f = fopen(expect_path, "w");
      if (f) fprintf(f, "status %s\n%s", kiln_status_name(st), err.message), fclose(f);
    }
    FILE *f = fopen(expect_path, "r");
    CHECK(f != NULL);
    if (f) {
      size_t n = fread(want, 1, sizeof want - 1, f);
      want[n] = 0;
      fclose(f);
    }
    char got[sizeof err.message + 64];
    snprintf(got, sizeof got, "status %s\n%s", kiln_status_name(st), err.message);
    if (strcmp(got, want) != 0) fprintf(stderr, "%s: got\n%s\nexpected\n%s\n", path, got, want);
    CHECK(strcmp(got, want) == 0);
    cases++;
  }
  closedir(d);
  printf("%d error cases\n", cases);
  CHECK(cases >= 20);
}

/* Hostile input never crashes: every prefix of a valid program, and binary bytes. */
static void test_robust(void) {
  const char *src = "import \"x.kiln\"\ndef f(a, b) { return a * b }\n"
                    "model m(x: f32[N, 2]) {\n  param w: f32[2] = [1, 2]\n"
                    "  y, z = Split(f(x, w), axis=1, num_outputs=2)\n  return y\n}\n";
  size_t n = strlen(src);
  for (size_t i = 0; i <= n; i++) {
    kiln_graph *g = NULL;
    kiln_error err = {0};
    kiln_dsl_import(src, i, "<prefix>", NULL, &g, &err);
    kiln_graph_free(g);
  }
  char junk[512];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(i * 131 + 7);
  kiln_graph *g = NULL;
  kiln_error err = {0};
  CHECK(kiln_dsl_import(junk, sizeof junk, NULL, NULL, &g, &err) != KILN_OK && !g);
  CHECK(strlen(err.message) < sizeof err.message);
}

/* The C API compiles DSL text from memory, imports found through base_dir. */
static void test_buffer(void) {
  const char *src = "import \"layers.kiln\"\nmodel m(x: f32[1, 4]) {\n  return y = linear(x, 4, 2) * 0\n}\n";
  kiln_options o = {.struct_size = sizeof o, .base_dir = "../examples"};
  kiln_model *m = NULL;
  kiln_error err = {0};
  CHECK(kiln_compile_buffer(src, strlen(src), &o, &m, &err) == KILN_OK);
  if (!m) {
    fprintf(stderr, "%s\n", err.message);
    return;
  }
  CHECK(kiln_num_inputs(m) == 1 && kiln_output_index(m, "y") == 0);
  float x[4] = {1, 2, 3, 4}, y[2] = {5, 5};
  const void *in[1] = {x};
  void *out[1] = {y};
  CHECK(kiln_run(m, in, out, &err) == KILN_OK && y[0] == 0 && y[1] == 0);
  kiln_model_free(m);
  /* errors come back through the API with their caret diagnostics */
  const char *bad = "model m(x: f32[2]) {\n  return Relu(y)\n}\n";
  CHECK(kiln_compile_buffer(bad, strlen(bad), NULL, &m, &err) != KILN_OK);
  CHECK(strstr(err.message, "<buffer>:2:15: error: name 'y' is not defined") != NULL);
}

int main(void) {
  test_valid();
  test_buffer();
  test_free_dims();
  test_format();
  test_errors();
  test_robust();
  return check_report();
}
