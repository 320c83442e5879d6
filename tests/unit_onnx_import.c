/* The ONNX importer on real conformance models and on the small models of tests/data/onnx
 * (made by make_bad_models.py): values, shapes, constants, subgraphs, opset rewriting and
 * every error path with its message. Runs in tests/. */
#include "check.h"
#include "frontend/onnx.h"
#include "frontend/onnx_internal.h"
#include "ir/op.h"

#include <stdlib.h>
#include <string.h>

#define NODE_DIR "/usr/share/libonnx-testdata/data/node/"

/* Imports a file; returns the status, message in err. */
static kiln_status import_file(const char *path, const char *base_dir, kiln_graph **g,
                               kiln_error *err) {
  void *d;
  size_t n;
  memset(err, 0, sizeof *err);
  *g = NULL;
  if (kiln_read_file(path, &d, &n, err)) return err->code;
  kiln_status st = kiln_onnx_import(d, n, base_dir, g, err);
  free(d);
  return st;
}

/* Imports only the graph structure (no unsupported-op or node checks), so rewriting and
 * subgraphs can be inspected whatever ops the table holds today. */
static kiln_graph *import_raw(const char *path) {
  void *d;
  size_t n;
  kiln_error err = {0};
  if (kiln_read_file(path, &d, &n, &err)) return NULL;
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, d);
  free(d);
  if (!m) return NULL;
  kiln_onnx_ctx c;
  memset(&c, 0, sizeof c);
  c.g = kiln_graph_new();
  c.base_dir = ".";
  c.g->opset = (int)m->opset_import[0]->version;
  kiln_status st = kiln_onnx_import_graph(&c, m->graph, NULL, &c.g->main, &err);
  for (int i = 0; i < c.nunsup; i++) free(c.unsup[i].op), free(c.unsup[i].node);
  free(c.unsup);
  onnx__model_proto__free_unpacked(m, NULL);
  if (st) fprintf(stderr, "import_raw %s: %s\n", path, err.message);
  if (st) kiln_graph_free(c.g);
  return st ? NULL : c.g;
}

static const kiln_node *find_node(const kiln_graph *g, const char *name) {
  for (int i = 0; i < g->nnodes; i++)
    if (strcmp(g->nodes[i].name, name) == 0) return &g->nodes[i];
  return NULL;
}

static const kiln_value *find_value(const kiln_graph *g, const char *name) {
  int id = kiln_graph_find_value(g, name);
  return id >= 0 ? &g->values[id] : NULL;
}

/* The status and a message substring of a failing import. */
static void expect_error(const char *file, kiln_status code, const char *substr) {
  char path[256];
  snprintf(path, sizeof path, "data/onnx/%s", file);
  kiln_graph *g;
  kiln_error err;
  kiln_status st = import_file(path, "data/onnx", &g, &err);
  CHECK(st == code);
  CHECK(g == NULL);
  CHECK(strstr(err.message, substr) != NULL);
  if (st != code || !strstr(err.message, substr))
    fprintf(stderr, "  %s: got %s '%s', want %s '%s'\n", file, kiln_status_name(st),
            err.message, kiln_status_name(code), substr);
  kiln_graph_free(g);
}

static void test_relu_add(void) {
  kiln_graph *g;
  kiln_error err;
  CHECK(import_file(NODE_DIR "test_relu/model.onnx", NULL, &g, &err) == KILN_OK);
  if (!g) return;
  CHECK(g->opset >= 6 && g->opset <= 21);
  CHECK(g->ninputs == 1 && g->main.noutputs == 1 && g->main.nnodes == 1);
  const kiln_value *x = &g->values[g->inputs[0]];
  CHECK(strcmp(x->name, "x") == 0 && x->is_input && x->dtype == KILN_F32);
  CHECK(x->rank == 3 && x->dims[0] == 3 && x->dims[1] == 4 && x->dims[2] == 5);
  CHECK(g->values[g->main.outputs[0]].is_output);
  const kiln_node *n = &g->nodes[g->main.nodes[0]];
  CHECK(n->op && strcmp(n->op->name, "Relu") == 0 && n->inputs[0] == g->inputs[0]);
  CHECK(n->outputs[0] == g->main.outputs[0] && g->values[n->outputs[0]].producer == 0);
  kiln_graph_free(g);

  CHECK(import_file(NODE_DIR "test_add_bcast/model.onnx", NULL, &g, &err) == KILN_OK);
  if (!g) return;
  CHECK(g->ninputs == 2 && g->values[g->inputs[1]].rank == 1);
  CHECK(g->values[g->inputs[1]].dims[0] == 5);
  kiln_graph_free(g);
}

/* If branches: blocks sharing the value table, outputs in block->outputs. */
static void test_if_subgraphs(void) {
  kiln_graph *g = import_raw(NODE_DIR "test_if/model.onnx");
  CHECK(g != NULL);
  if (!g) return;
  CHECK(g->main.nnodes == 1);
  const kiln_node *n = &g->nodes[g->main.nodes[0]];
  CHECK(strcmp(n->op_type, "If") == 0);
  const kiln_attr *t = kiln_node_attr(n, "then_branch"), *e = kiln_node_attr(n, "else_branch");
  CHECK(t && e && t->type == KILN_ATTR_GRAPH && t->count == 1 && t->graphs[0]);
  if (t && e) {
    const kiln_block *tb = t->graphs[0], *eb = e->graphs[0];
    CHECK(tb->noutputs == 1 && eb->noutputs == 1);
    /* The branches yield constants (Constant nodes become values, not nodes). */
    CHECK(g->values[tb->outputs[0]].data != NULL && g->values[eb->outputs[0]].data != NULL);
    CHECK(g->values[tb->outputs[0]].dtype == KILN_F32 && g->values[tb->outputs[0]].rank == 1);
  }
  kiln_graph_free(g);
  /* Through the full import: the If op may or may not be in the table yet. */
  kiln_error err;
  kiln_status st = import_file(NODE_DIR "test_if/model.onnx", NULL, &g, &err);
  CHECK(st == KILN_OK || (st == KILN_ERR_UNSUPPORTED && strstr(err.message, "If (node")));
  kiln_graph_free(g);
}

static void test_dims_inits_constants(void) {
  kiln_graph *g;
  kiln_error err;
  CHECK(import_file("data/onnx/dims_and_inits.onnx", NULL, &g, &err) == KILN_OK);
  if (!g) return;
  CHECK(g->ninputs == 1); /* w is an initializer: a constant, not an input */
  const kiln_value *x = find_value(g, "x"), *w = find_value(g, "w");
  CHECK(x && x->rank == 3 && x->dims[0] == -1 && x->dims[1] == -1 && x->dims[2] == 4);
  CHECK(x && x->dim_names[0] && strcmp(x->dim_names[0], "N") == 0);
  CHECK(x && x->dim_names[1] && strcmp(x->dim_names[1], "?") == 0 && !x->dim_names[2]);
  CHECK(w && !w->is_input && w->data && w->rank == 1 && ((float *)w->data)[3] == 3.0f);
  kiln_graph_free(g);

  CHECK(import_file("data/onnx/constants.onnx", NULL, &g, &err) == KILN_OK);
  if (!g) return;
  CHECK(g->main.nnodes == 1); /* only the Add */
  const kiln_value *c0 = find_value(g, "c0"), *c1 = find_value(g, "c1");
  const kiln_value *c2 = find_value(g, "c2"), *c3 = find_value(g, "c3");
  const kiln_value *c4 = find_value(g, "c4");
  CHECK(c0 && c0->rank == 2 && c0->dims[1] == 3 && ((float *)c0->data)[5] == 1.0f);
  CHECK(c1 && c1->rank == 0 && c1->dtype == KILN_F32 && *(float *)c1->data == 2.5f);
  CHECK(c2 && c2->rank == 1 && c2->dims[0] == 2 && ((float *)c2->data)[1] == 2.0f);
  CHECK(c3 && c3->rank == 0 && c3->dtype == KILN_I64 && *(int64_t *)c3->data == -4);
  CHECK(c3 && c3->is_output && c3->producer == -1);
  CHECK(c4 && c4->dims[0] == 3 && ((int64_t *)c4->data)[2] == 3);
  kiln_graph_free(g);
}

static void test_typed_and_external(void) {
  kiln_graph *g;
  kiln_error err;
  CHECK(import_file("data/onnx/typed_inits.onnx", NULL, &g, &err) == KILN_OK);
  if (!g) return;
  const kiln_value *v;
  CHECK((v = find_value(g, "f32")) && ((float *)v->data)[1] == -2.0f);
  CHECK((v = find_value(g, "i8")) && v->dtype == KILN_I8 && ((int8_t *)v->data)[2] == -128);
  CHECK((v = find_value(g, "u16")) && *(uint16_t *)v->data == 65535);
  CHECK((v = find_value(g, "b")) && ((uint8_t *)v->data)[0] == 1 && ((uint8_t *)v->data)[1] == 0);
  CHECK((v = find_value(g, "h")) && *(uint16_t *)v->data == 0x3c00);
  CHECK((v = find_value(g, "i64")) && v->rank == 2 && ((int64_t *)v->data)[1] == -9);
  CHECK((v = find_value(g, "f64")) && v->rank == 0 && *(double *)v->data == 3.25);
  CHECK((v = find_value(g, "u32")) && *(uint32_t *)v->data == 4000000000u);
  CHECK((v = find_value(g, "u64")) && *(uint64_t *)v->data == (1ull << 63) + 5);
  CHECK((v = find_value(g, "empty")) && v->rank == 2 && v->dims[0] == 0 && !v->data);
  kiln_graph_free(g);

  CHECK(import_file("data/onnx/ext_ok.onnx", "data/onnx", &g, &err) == KILN_OK);
  if (!g) return;
  CHECK((v = find_value(g, "w")) && v->data && ((float *)v->data)[3] == 4.0f);
  kiln_graph_free(g);
}

/* Older opset forms rewritten to the newest signature. */
static void test_opset_rewrites(void) {
  kiln_graph *g = import_raw("data/onnx/old_forms.onnx");
  CHECK(g != NULL);
  if (!g) return;
  const kiln_node *n;
  const kiln_value *v;
  CHECK((n = find_node(g, "uq")) && n->ninputs == 2 && !kiln_node_attr(n, "axes"));
  CHECK(n && (v = &g->values[n->inputs[1]])->dtype == KILN_I64 && ((int64_t *)v->data)[0] == 0);
  CHECK((n = find_node(g, "sq")) && n->ninputs == 2);
  CHECK((n = find_node(g, "rm")) && n->ninputs == 2 && kiln_node_attr(n, "keepdims"));
  CHECK((n = find_node(g, "pd")) && n->ninputs == 3 && kiln_node_attr(n, "mode"));
  CHECK(n && g->values[n->inputs[1]].dims[0] == 4 && *(float *)g->values[n->inputs[2]].data == 1.5f);
  CHECK((n = find_node(g, "cl")) && n->ninputs == 3 && n->inputs[1] == -1);
  CHECK(n && *(float *)g->values[n->inputs[2]].data == 6.0f);
  CHECK((n = find_node(g, "sl")) && n->ninputs == 4 && n->nattrs == 0);
  CHECK((n = find_node(g, "smx")) && kiln_attr_int(n, "_coerce_2d", 0) == 1 && kiln_attr_int(n, "axis", -7) == 1);
  CHECK((n = find_node(g, "dr")) && !kiln_node_attr(n, "ratio"));
  CHECK((n = find_node(g, "up")) && strcmp(n->op_type, "Resize") == 0 && n->ninputs == 3);
  CHECK(n && n->inputs[1] == -1 && ((float *)g->values[n->inputs[2]].data)[1] == 2.0f);
  CHECK(n && strcmp(kiln_attr_str(n, "coordinate_transformation_mode", ""), "asymmetric") == 0);
  kiln_graph_free(g);

  CHECK((g = import_raw("data/onnx/old_split.onnx")) != NULL);
  if (g) {
    CHECK((n = find_node(g, "sp")) && n->ninputs == 2 && n->noutputs == 2);
    CHECK(n && ((int64_t *)g->values[n->inputs[1]].data)[1] == 2 && kiln_attr_int(n, "axis", 0) == 1);
    kiln_graph_free(g);
  }
  CHECK((g = import_raw("data/onnx/old_reshape.onnx")) != NULL);
  if (g) {
    CHECK((n = find_node(g, "rs")) && n->ninputs == 2 && g->values[n->inputs[1]].dims[0] == 2);
    kiln_graph_free(g);
  }
  CHECK((g = import_raw("data/onnx/empty_names.onnx")) != NULL);
  if (g) {
    CHECK((n = find_node(g, "f")) && n->ninputs == 3 && n->inputs[1] == -1 && n->inputs[2] >= 0);
    CHECK(n && n->noutputs == 3 && n->outputs[0] >= 0 && n->outputs[1] == -1 && n->outputs[2] == -1);
    kiln_graph_free(g);
  }
  CHECK((g = import_raw("data/onnx/old_resize.onnx")) != NULL);
  if (g) {
    CHECK((n = find_node(g, "rz")) && n->ninputs == 3 && n->inputs[1] == -1);
    CHECK(n && n->inputs[2] == kiln_graph_find_value(g, "sc"));
    kiln_graph_free(g);
  }
}

/* Node checks against an op definition: arity and required / typed attributes. */
static void test_node_checks(void) {
  static const kiln_attr_spec attrs[] = {{"axis", KILN_ATTR_INT, true},
                                         {"alpha", KILN_ATTR_FLOAT, false}, {NULL}};
  static const kiln_op_def fake = {"Fake", 1, 2, 1, 1, attrs, NULL, NULL, NULL, 0};
  kiln_graph *g = kiln_graph_new();
  int x = kiln_graph_add_value(g, "x"), y = kiln_graph_add_value(g, "y");
  int id = kiln_graph_add_node(g, &g->main, "Fake", "f0", &x, 1, &y, 1);
  kiln_node *n = &g->nodes[id];
  n->op = &fake;
  kiln_error err = {0};
  CHECK(kiln_onnx_check_node(n, &err) == KILN_ERR_INVALID_MODEL);
  CHECK(strstr(err.message, "node 'f0' (Fake): required attribute 'axis' is missing") != NULL);
  kiln_node_add_attr(n, "axis", KILN_ATTR_INT)->i = 1;
  memset(&err, 0, sizeof err);
  CHECK(kiln_onnx_check_node(n, &err) == KILN_OK);
  kiln_node_add_attr(n, "alpha", KILN_ATTR_INT)->i = 1;
  CHECK(kiln_onnx_check_node(n, &err) == KILN_ERR_INVALID_MODEL);
  CHECK(strstr(err.message, "attribute 'alpha' is int, expected float") != NULL);
  n->nattrs = 1; /* drop alpha (its name is freed below) */
  free(n->attrs[1].name);
  n->ninputs = 0;
  memset(&err, 0, sizeof err);
  CHECK(kiln_onnx_check_node(n, &err) == KILN_ERR_INVALID_MODEL);
  CHECK(strstr(err.message, "has 0 inputs, Fake takes 1 to 2") != NULL);
  kiln_graph_free(g);
}

static void test_errors(void) {
  expect_error("unknown_ops.onnx", KILN_ERR_UNSUPPORTED,
               "unsupported ops: Foo (node 'a', 'b'), Bar (node 'c'), com.example.Fused (node 'e'), Baz (node 'd')");
  expect_error("undefined_input.onnx", KILN_ERR_INVALID_MODEL, "node 'r0' (Relu): input 'nope' is not defined");
  expect_error("undefined_output.onnx", KILN_ERR_INVALID_MODEL, "graph output 'missing' is not defined");
  expect_error("opset29.onnx", KILN_ERR_UNSUPPORTED, "opset 29");
  expect_error("duplicate_value.onnx", KILN_ERR_INVALID_MODEL, "node 'r1' (Relu): value 'y' is defined more than once");
  expect_error("relu_two_inputs.onnx", KILN_ERR_INVALID_MODEL, "node 'r2' (Relu): has 2 inputs");
  expect_error("constant_string.onnx", KILN_ERR_UNSUPPORTED, "node 'cs' (Constant): attribute 'value_string'");
  expect_error("short_tensor.onnx", KILN_ERR_INVALID_MODEL, "initializer 'short': holds 2 elements, its shape needs 6");
  expect_error("string_tensor.onnx", KILN_ERR_UNSUPPORTED, "initializer 'names': a string tensor as a constant");
  expect_error("negative_dim.onnx", KILN_ERR_INVALID_MODEL, "initializer 'neg': negative dim");
  expect_error("overflow_dims.onnx", KILN_ERR_INVALID_MODEL, "initializer 'big': element count overflows");
  expect_error("rank9_tensor.onnx", KILN_ERR_INVALID_MODEL, "initializer 'deep': rank 9");
  expect_error("sparse_attr.onnx", KILN_ERR_UNSUPPORTED, "node 'rs' (Relu): attribute 'sp': sparse");
  expect_error("ext_missing.onnx", KILN_ERR_NO_SUCH_FILE, "initializer 'w': cannot open external data file 'data/onnx/no_such_weights.bin'");
  expect_error("ext_escape.onnx", KILN_ERR_INVALID_MODEL, "initializer 'w': external data location '../secret.bin'");
  expect_error("ext_absolute.onnx", KILN_ERR_INVALID_MODEL, "initializer 'w': external data location '/etc/passwd'");
  expect_error("ext_short.onnx", KILN_ERR_INVALID_MODEL, "initializer 'w': external data file 'data/onnx/ext_short.bin' is too short");
}

/* A sequence input is imported unbound (its length comes with the compile's bindings),
 * keeping its elements' declared type. */
static void test_sequence_input(void) {
  kiln_graph *g;
  kiln_error err;
  CHECK(import_file("data/onnx/sequence_input.onnx", "data/onnx", &g, &err) == KILN_OK);
  const kiln_value *s = g ? find_value(g, "s") : NULL;
  CHECK(s && s->kind == KILN_KIND_SEQUENCE && s->nelems == -1 && s->dtype == KILN_F32 &&
        s->rank == 1 && s->dims[0] == 2);
  kiln_graph_free(g);
}

int main(void) {
  test_relu_add();
  test_sequence_input();
  test_if_subgraphs();
  test_dims_inits_constants();
  test_typed_and_external();
  test_opset_rewrites();
  test_node_checks();
  test_errors();
  return check_report();
}
