/* The passes on hand-built graphs: binding (and its errors), inference limits, folding
 * (all-constant graphs, a Conv viewing its output, shape chains, If with a known
 * condition), DCE, lowering with copies, and the memory plan's no-overlap guarantee. */
#include "check.h"
#include "node_test.h"

#include "ir/dtype.h"
#include "ir/op.h"
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

static int input(kiln_graph *g, const char *name, kiln_dtype t, int rank, const int64_t *dims,
                 const char *const *dim_names) {
  int id = kiln_graph_add_value(g, name);
  kiln_value *v = &g->values[id];
  v->dtype = t;
  v->rank = rank;
  for (int d = 0; d < rank; d++) {
    v->dims[d] = dim_names && dim_names[d] ? -1 : dims[d];
    if (dim_names && dim_names[d]) v->dim_names[d] = kiln_xstrdup(dim_names[d]);
  }
  v->is_input = true;
  g->inputs = kiln_xrealloc(g->inputs, sizeof(int) * (size_t)(g->ninputs + 1));
  g->inputs[g->ninputs++] = id;
  return id;
}

static int constant(kiln_graph *g, const char *name, kiln_dtype t, int rank, const int64_t *dims,
                    const void *data) {
  int id = kiln_graph_add_value(g, name);
  kiln_tensor tensor = {t, rank, {0}, NULL};
  memcpy(tensor.dims, dims, sizeof(int64_t) * (size_t)rank);
  size_t bytes = (size_t)kiln_shape_numel(rank, dims) * kiln_dtype_size(t);
  tensor.data = kiln_xmalloc(bytes ? bytes : 1);
  memcpy(tensor.data, data, bytes);
  kiln_value_set_const(&g->values[id], &tensor);
  return id;
}

static int node(kiln_graph *g, kiln_block *b, const char *op, int a, int c, const char *out) {
  int ins[2] = {a, c}, o = kiln_graph_add_value(g, out);
  kiln_graph_add_node(g, b, op, NULL, ins, c < -1 ? 1 : 2, &o, 1);
  return o;
}
#define UNARY(g, op, a, out) node(g, &(g)->main, op, a, -2, out)

static void add_output(kiln_graph *g, int v) {
  g->main.outputs = kiln_xrealloc(g->main.outputs, sizeof(int) * (size_t)(g->main.noutputs + 1));
  g->main.outputs[g->main.noutputs++] = v;
  g->values[v].is_output = true;
}

static void test_bind(void) {
  static const char *const nm[2] = {"N", NULL};
  int64_t dims[2] = {0, 4};
  kiln_graph *g = kiln_graph_new();
  int x = input(g, "x", KILN_F32, 2, dims, nm);
  int y = input(g, "y", KILN_F32, 2, dims, nm);
  kiln_error err = {0};
  /* nothing bound: one message naming the free dims and how to bind them */
  CHECK(kiln_pass_bind_inputs(g, NULL, &err) == KILN_ERR_SHAPE);
  CHECK(strstr(err.message, "input 'x' dim 0 ('N')") && strstr(err.message, "input 'y' dim 0"));
  CHECK(strstr(err.message, "{\"x\", 2, {1, 4}}") != NULL);
  kiln_shape_binding sb = {"nope", 2, {2, 4}};
  kiln_options o = {.struct_size = sizeof o, .shapes = &sb, .nshapes = 1};
  err = (kiln_error){0};
  CHECK(kiln_pass_bind_inputs(g, &o, &err) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "'nope'") && strstr(err.message, "'x', 'y'"));
  sb = (kiln_shape_binding){"x", 3, {2, 4, 1}};
  err = (kiln_error){0};
  CHECK(kiln_pass_bind_inputs(g, &o, &err) == KILN_ERR_SHAPE);
  sb = (kiln_shape_binding){"x", 2, {2, 5}};
  err = (kiln_error){0};
  CHECK(kiln_pass_bind_inputs(g, &o, &err) == KILN_ERR_SHAPE);
  CHECK(strstr(err.message, "dim 1") != NULL);
  /* binding N through x binds y's N too */
  sb = (kiln_shape_binding){"x", 2, {3, 4}};
  err = (kiln_error){0};
  CHECK(kiln_pass_bind_inputs(g, &o, &err) == KILN_OK);
  CHECK(g->values[y].dims[0] == 3 && g->values[x].dims[0] == 3 && !g->values[y].dim_names[0]);
  kiln_graph_free(g);
}

/* Every line of msg that names an input names exactly one, whole: "input '...' dim D ('...')"
 * or "input '...' has an unknown rank". Returns the number of such lines. */
static int unbound_entries(const char *msg) {
  int n = 0;
  for (const char *line = msg; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    size_t len = strchr(line, '\n') ? (size_t)(strchr(line, '\n') - line) : strlen(line);
    char buf[1024];
    snprintf(buf, sizeof buf, "%.*s", (int)len, line);
    if (strncmp(buf, "  input '", 9)) continue;
    n++;
    CHECK(!strstr(buf + 9, "input '")); /* one entry per line */
    CHECK(len > 2 && (!strcmp(buf + len - 2, "')") || strstr(buf, "has an unknown rank")));
  }
  return n;
}

/* The unbound-dims error: one entry per line (several free dims of one input included),
 * advice for a library caller (kiln_options.shapes), none for a command line's. */
static void test_bind_message(void) {
  static const char *const nm[4] = {"N", NULL, NULL, "p2o.DynamicDimension.0"};
  int64_t dims[4] = {0, 3, 224, 0}, anon[2] = {-1, 4};
  kiln_graph *g = kiln_graph_new();
  input(g, "x", KILN_F32, 4, dims, nm);
  input(g, "y", KILN_F32, 2, anon, NULL);
  input(g, "z", KILN_F32, -1, NULL, NULL);
  kiln_error err = {0};
  CHECK(kiln_pass_bind_inputs(g, NULL, &err) == KILN_ERR_SHAPE);
  CHECK(unbound_entries(err.message) == 4);
  CHECK(strstr(err.message, "\n  input 'x' dim 0 ('N')\n  input 'x' dim 3 ('p2o.DynamicDimension.0')\n"));
  CHECK(strstr(err.message, "\n  input 'y' dim 0 ('?')\n  input 'z' has an unknown rank"));
  CHECK(strstr(err.message, "kiln_options.shapes"));
  CHECK(strstr(err.message, "{\"x\", 4, {1, 3, 224, 1}}"));
  CHECK(!strstr(err.message, "--shape"));
  kiln_graph_free(g);

  /* more than fit: whole entries, then a count of the rest */
  g = kiln_graph_new();
  for (int i = 0; i < 200; i++) {
    char name[64];
    snprintf(name, sizeof name, "a_rather_long_input_name_%d", i);
    input(g, name, KILN_F32, 4, dims, nm);
  }
  err = (kiln_error){0};
  CHECK(kiln_pass_bind_inputs(g, NULL, &err) == KILN_ERR_SHAPE);
  int n = unbound_entries(err.message);
  CHECK(n > 10 && n < 400);
  char more[64];
  snprintf(more, sizeof more, "\n  ... and %d more\n", 400 - n);
  CHECK(strstr(err.message, more));
  CHECK(strstr(err.message, "kiln_options.shapes"));
  kiln_graph_free(g);
}

/* out = Relu(Add(x, c)) with x given a value: everything folds. */
static void test_fold_all_constant(void) {
  int64_t dims[1] = {4};
  float c[4] = {1, -1, 2, -2}, xv[4] = {0, 0, -3, 5};
  kiln_graph *g = kiln_graph_new();
  int x = input(g, "x", KILN_F32, 1, dims, NULL);
  int cc = constant(g, "c", KILN_F32, 1, dims, c);
  int out = UNARY(g, "Relu", node(g, &g->main, "Add", x, cc, "s"), "out");
  add_output(g, out);
  kiln_input_value iv = {"x", KILN_F32, 1, {4}, xv};
  kiln_options o = {.struct_size = sizeof o, .values = &iv, .nvalues = 1};
  kiln_error err = {0};
  CHECK(kiln_pass_bind_inputs(g, &o, &err) == KILN_OK && g->ninputs == 0);
  CHECK(kiln_pass_infer(g, &o, &err) == KILN_OK);
  CHECK(kiln_pass_fold(g, INT64_MAX, &err) == KILN_OK);
  CHECK(g->main.nnodes == 0 && g->values[out].data);
  const float *r = g->values[out].data;
  CHECK(r && r[0] == 1 && r[1] == 0 && r[2] == 0 && r[3] == 3);
  /* a constant graph output is still written by the program: a copy kernel */
  kiln_program *p = NULL;
  CHECK(kiln_passes_run(g, NULL, &p, &err) == KILN_OK);
  CHECK(p && p->main.n == 1 && p->nconsts == 1 && p->noutputs == 1);
  if (p && p->main.n == 1) {
    const kiln_kernel *k = p->main.steps[0].kernel;
    CHECK(k->bufs[0].storage.kind == KILN_STORE_CONST && k->bufs[1].storage.kind == KILN_STORE_OUTPUT);
    CHECK(((uintptr_t)p->consts[0].data % 64) == 0);
  }
  kiln_program_free(p);
  kiln_graph_free(g);
}

/* A folded 1x1 Conv (its kernel stores through a flattened (N, M, H*W) view of the
 * output) leaves the value its own 4-D shape. */
static void test_fold_conv_view(void) {
  int64_t xd[4] = {1, 2, 2, 3}, wd[4] = {1, 2, 1, 1};
  float xv[12] = {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60}, wv[2] = {1, -1};
  kiln_graph *g = kiln_graph_new();
  int x = constant(g, "x", KILN_F32, 4, xd, xv), w = constant(g, "w", KILN_F32, 4, wd, wv);
  int out = node(g, &g->main, "Conv", x, w, "y");
  add_output(g, out);
  kiln_options o = {.struct_size = sizeof o};
  kiln_error err = {0};
  CHECK(kiln_pass_infer(g, &o, &err) == KILN_OK);
  CHECK(kiln_pass_fold(g, INT64_MAX, &err) == KILN_OK);
  const kiln_value *v = &g->values[out];
  CHECK(g->main.nnodes == 0 && v->data && v->rank == 4 && v->dims[0] == 1 && v->dims[1] == 1 &&
        v->dims[2] == 2 && v->dims[3] == 3);
  const float *r = v->data;
  for (int i = 0; r && i < 6; i++) CHECK(r[i] == xv[i] - xv[i + 6]);
  kiln_graph_free(g);
}

static void test_limit(void) {
  int64_t dims[2] = {1 << 20, 1 << 10};
  kiln_graph *g = kiln_graph_new();
  int x = input(g, "x", KILN_F32, 2, dims, NULL);
  add_output(g, UNARY(g, "Relu", x, "big"));
  kiln_options o = {.struct_size = sizeof o, .max_tensor_bytes = 1 << 20};
  kiln_error err = {0};
  CHECK(kiln_pass_infer(g, &o, &err) == KILN_ERR_LIMIT);
  CHECK(strstr(err.message, "'big'") && strstr(err.message, "Relu"));
  kiln_graph_free(g);
}

/* Checks every pair of arena buffers whose values are live at once: disjoint bytes. */
typedef struct live { int64_t start, end, off, size; } live;

static void check_plan(const kiln_graph *g, const kiln_program *p) {
  live *lv = calloc((size_t)g->nvalues, sizeof(live));
  for (int v = 0; v < g->nvalues; v++) lv[v].start = -1;
  for (int s = 0; s < p->main.n; s++) {
    const kiln_kernel *k = p->main.steps[s].kernel;
    for (int b = 0; b < k->nbufs; b++) {
      const kiln_buffer *buf = &k->bufs[b];
      if (buf->storage.kind != KILN_STORE_ARENA || buf->role == KILN_BUF_TEMP) continue;
      live *l = &lv[buf->value];
      int64_t bytes = kiln_shape_numel(buf->rank, buf->dims) * (int64_t)kiln_dtype_size(buf->dtype);
      CHECK(buf->storage.offset % 64 == 0 && buf->storage.offset + bytes <= p->arena_bytes);
      if (l->start < 0) *l = (live){s, s, buf->storage.offset, bytes};
      CHECK(l->off == buf->storage.offset); /* one place per value */
      l->end = s;
    }
  }
  for (int a = 0; a < g->nvalues; a++)
    for (int b = a + 1; b < g->nvalues; b++) {
      if (lv[a].start < 0 || lv[b].start < 0) continue;
      bool time = lv[a].start <= lv[b].end && lv[b].start <= lv[a].end;
      bool space = lv[a].off < lv[b].off + lv[b].size && lv[b].off < lv[a].off + lv[a].size;
      CHECK(!(time && space));
    }
  free(lv);
}

static void test_memplan_chain(void) {
  int64_t dims[2] = {8, 32}; /* 1 KiB per value */
  kiln_graph *g = kiln_graph_new();
  int v = input(g, "x", KILN_F32, 2, dims, NULL);
  for (int i = 0; i < 20; i++) {
    char name[16];
    snprintf(name, sizeof name, "t%d", i);
    v = UNARY(g, "Relu", v, name);
  }
  add_output(g, v);
  kiln_program *p = NULL;
  kiln_error err = {0};
  kiln_options unfused = {.struct_size = sizeof unfused, .no_fuse = 1}; /* a kernel per node: 19 intermediates to plan */
  CHECK(kiln_passes_run(g, &unfused, &p, &err) == KILN_OK);
  if (p) {
    CHECK(p->main.n == 20 && p->ninputs == 1 && p->noutputs == 1);
    CHECK(p->arena_bytes > 0 && p->arena_bytes <= 2 * 1024); /* 19 intermediates, 2 live */
    check_plan(g, p);
  }
  kiln_program_free(p);
  kiln_graph_free(g);
}

/* x -> a -> (b, c) -> d = b + c -> e, plus a dead branch and an output listed twice. */
static void test_memplan_diamond(void) {
  int64_t dims[1] = {100};
  kiln_graph *g = kiln_graph_new();
  int x = input(g, "x", KILN_F32, 1, dims, NULL);
  int a = UNARY(g, "Relu", x, "a");
  int b = UNARY(g, "Relu", a, "b");
  int dead = UNARY(g, "Relu", b, "dead");
  (void)dead;
  int c = UNARY(g, "Relu", a, "c");
  int d = node(g, &g->main, "Add", b, c, "d");
  int e = UNARY(g, "Relu", d, "e");
  add_output(g, e);
  add_output(g, e);
  add_output(g, x);
  kiln_program *p = NULL;
  kiln_error err = {0};
  kiln_options unfused = {.struct_size = sizeof unfused, .no_fuse = 1};
  CHECK(kiln_passes_run(g, &unfused, &p, &err) == KILN_OK);
  if (p) {
    CHECK(p->main.n == 5 + 2); /* dead removed; copies for the repeat and the input */
    check_plan(g, p);
    const kiln_kernel *last = p->main.steps[p->main.n - 1].kernel;
    CHECK(last->bufs[0].storage.kind == KILN_STORE_INPUT);
    CHECK(last->bufs[1].storage.kind == KILN_STORE_OUTPUT && last->bufs[1].storage.index == 2);
    const kiln_kernel *dup = p->main.steps[p->main.n - 2].kernel;
    CHECK(dup->bufs[0].storage.kind == KILN_STORE_OUTPUT && dup->bufs[0].storage.index == 0);
    CHECK(dup->bufs[1].storage.kind == KILN_STORE_OUTPUT && dup->bufs[1].storage.index == 1);
  }
  kiln_program_free(p);
  kiln_graph_free(g);
}

/* Reshape(x, Concat(Gather(Shape(x), [0]), [-1])) folds to one Reshape of known shape. */
static void test_shape_chain(void) {
  const char *ops[] = {"Shape", "Gather", "Concat", "Reshape"};
  for (int i = 0; i < 4; i++)
    if (!kiln_op_find(ops[i])) return; /* not landed yet */
  int64_t dims[3] = {2, 3, 4}, one = 1, zero = 0, minus1 = -1;
  kiln_graph *g = kiln_graph_new();
  int x = input(g, "x", KILN_F32, 3, dims, NULL);
  int s = UNARY(g, "Shape", x, "s");
  int gi = node(g, &g->main, "Gather", s, constant(g, "i0", KILN_I64, 1, &one, &zero), "n");
  int cat = node(g, &g->main, "Concat", gi, constant(g, "m1", KILN_I64, 1, &one, &minus1), "shape");
  kiln_node_add_attr(&g->nodes[g->values[cat].producer], "axis", KILN_ATTR_INT)->i = 0;
  int r = node(g, &g->main, "Reshape", x, cat, "r");
  add_output(g, r);
  kiln_error err = {0};
  CHECK(kiln_pass_infer(g, NULL, &err) == KILN_OK);
  if (err.code) fprintf(stderr, "%s\n", err.message);
  CHECK(g->main.nnodes == 1 && g->values[r].rank == 2);
  CHECK(g->values[r].dims[0] == 2 && g->values[r].dims[1] == 12);
  kiln_graph_free(g);
}

/* If(cond) { then: Relu(x) } else { Neg(x) }: lowered as an If step when cond is an
 * input, inlined when it is known. */
static kiln_graph *if_graph(void) {
  int64_t dims[1] = {5}, one = 1;
  kiln_graph *g = kiln_graph_new();
  int cond = input(g, "cond", KILN_BOOL, 1, &one, NULL);
  int x = input(g, "x", KILN_F32, 1, dims, NULL);
  kiln_block *tb = kiln_block_new(), *eb = kiln_block_new();
  int tv = node(g, tb, "Relu", x, -2, "tv"), ev = node(g, eb, "Neg", x, -2, "ev");
  tb->outputs = kiln_xmalloc(sizeof(int));
  tb->outputs[tb->noutputs++] = tv;
  eb->outputs = kiln_xmalloc(sizeof(int));
  eb->outputs[eb->noutputs++] = ev;
  int y = kiln_graph_add_value(g, "y");
  int n = kiln_graph_add_node(g, &g->main, "If", "if", &cond, 1, &y, 1);
  kiln_attr *a = kiln_node_add_attr(&g->nodes[n], "then_branch", KILN_ATTR_GRAPH);
  a->graphs = kiln_xmalloc(sizeof(kiln_block *));
  a->graphs[0] = tb;
  a = kiln_node_add_attr(&g->nodes[n], "else_branch", KILN_ATTR_GRAPH);
  a->graphs = kiln_xmalloc(sizeof(kiln_block *));
  a->graphs[0] = eb;
  add_output(g, UNARY(g, "Relu", y, "z"));
  add_output(g, y);
  return g;
}

static void test_if(void) {
  if (!kiln_op_find("If") || !kiln_op_find("Neg")) return;
  kiln_graph *g = if_graph();
  kiln_program *p = NULL;
  kiln_error err = {0};
  CHECK(kiln_passes_run(g, NULL, &p, &err) == KILN_OK);
  if (err.code) fprintf(stderr, "%s\n", err.message);
  if (p) {
    CHECK(p->main.n == 2 && p->main.steps[0].kind == KILN_STEP_IF);
    CHECK(p->main.steps[0].cond.kind == KILN_STORE_INPUT);
    /* each branch's copy into the If's output is fused into the node before it */
    CHECK(p->main.steps[0].then_steps->n == 1 && p->main.steps[0].else_steps->n == 1);
    const kiln_kernel *relu = p->main.steps[0].then_steps->steps[0].kernel;
    CHECK(strcmp(relu->op, "Relu+Copy") == 0);
    CHECK(relu->bufs[1].storage.kind == KILN_STORE_OUTPUT && relu->bufs[1].storage.index == 1);
  }
  kiln_program_free(p);
  kiln_graph_free(g);

  g = if_graph();
  uint8_t f = 0;
  kiln_input_value iv = {"cond", KILN_BOOL, 1, {1}, &f};
  kiln_options o = {.struct_size = sizeof o, .values = &iv, .nvalues = 1};
  err = (kiln_error){0};
  CHECK(kiln_passes_run(g, &o, &p, &err) == KILN_OK);
  CHECK(g->main.nnodes == 2 && strcmp(g->nodes[g->main.nodes[0]].op_type, "Neg") == 0);
  CHECK(strcmp(g->values[g->main.outputs[1]].name, "y") == 0);
  CHECK(g->values[g->main.outputs[1]].producer == g->main.nodes[0]);
  kiln_program_free(p);
  kiln_graph_free(g);
}

/* Reshape and Identity are views: Relu reads x in place through a [6, 4] buffer, and only
 * the Reshape that is a graph output keeps a kernel (the copy into the output), which
 * reads b through a view of the output's shape, [24]. */
static void test_alias(void) {
  int64_t dims[3] = {2, 3, 4}, two = 2, one = 1, shape_a[2] = {6, 4}, shape_d[1] = {24};
  kiln_graph *g = kiln_graph_new();
  int x = input(g, "x", KILN_F32, 3, dims, NULL);
  int a = node(g, &g->main, "Reshape", x, constant(g, "sa", KILN_I64, 1, &two, shape_a), "a");
  int b = UNARY(g, "Relu", a, "b");
  int c = UNARY(g, "Identity", b, "c");
  int d = node(g, &g->main, "Reshape", c, constant(g, "sd", KILN_I64, 1, &one, shape_d), "d");
  add_output(g, d);
  kiln_program *p = NULL;
  kiln_error err = {0};
  /* up to memory planning: coalescing, after it, merges the views' dims */
  CHECK(kiln_passes_until(g, NULL, "memplan", &p, &err) == KILN_OK);
  if (err.code) fprintf(stderr, "%s\n", err.message);
  if (p) {
    CHECK(p->main.n == 2);
    const kiln_kernel *relu = p->main.steps[0].kernel, *out = p->main.steps[1].kernel;
    CHECK(relu->bufs[0].value == x && relu->bufs[0].rank == 2 && relu->bufs[0].dims[0] == 6);
    CHECK(relu->bufs[0].storage.kind == KILN_STORE_INPUT);
    CHECK(out->bufs[0].value == b && out->bufs[0].rank == 1 && out->bufs[0].dims[0] == 24);
    CHECK(out->bufs[2].role == KILN_BUF_OUTPUT && out->bufs[2].storage.kind == KILN_STORE_OUTPUT);
    check_plan(g, p);
  }
  kiln_program_free(p);
  kiln_graph_free(g);
}

static void test_node_tests(void) {
  const char *names[] = {"test_relu", "test_add", "test_add_bcast"};
  for (int i = 0; i < 3; i++) {
    char dir[512], why[1024] = "";
    snprintf(dir, sizeof dir, "/usr/share/libonnx-testdata/data/node/%s", names[i]);
    node_test t;
    kiln_error err = {0};
    int ok = node_test_load(&t, dir, &err) == KILN_OK && node_test_run_reference(&t, why, sizeof why);
    if (!ok) fprintf(stderr, "%s: %s %s\n", names[i], err.message, why);
    CHECK(ok);
    node_test_free(&t);
  }
}

int main(void) {
  test_bind();
  test_bind_message();
  test_fold_all_constant();
  test_fold_conv_view();
  test_limit();
  test_memplan_chain();
  test_memplan_diamond();
  test_shape_chain();
  test_if();
  test_alias();
  test_node_tests();
  return check_report();
}
