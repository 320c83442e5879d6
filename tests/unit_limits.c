/* Models that declare absurd sizes get a clear error, never an allocation failure, a stack
 * overflow or an integer overflow: 2^40-element tensors, shapes whose product overflows 64
 * bits, graphs 10^6 nodes deep, nesting deeper than any parser stack, recursive DSL
 * imports. The limits are configurable (max_tensor_bytes, max_nodes), and a failed AOT
 * compile leaves no file behind. Models are built in memory (tests/fuzz/pb_write.h). */
#include "kiln.h"
#include "tests/check.h"
#include "tests/fuzz/pb_write.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static kiln_status compile(const pb_buf *m, const kiln_options *o, kiln_error *err) {
  kiln_model *model = NULL;
  kiln_status st = kiln_compile_buffer(m->d, m->n, o, &model, err);
  kiln_model_free(model);
  if (st) printf("  -> %s: %s\n", kiln_status_name(st), err->message);
  return st;
}

/* A failure that is an error report, not a crash: a code other than OK/INTERNAL/OOM. */
static int clear_error(kiln_status st, const kiln_error *err) {
  return st != KILN_OK && st != KILN_ERR_INTERNAL && st != KILN_ERR_OUT_OF_MEMORY &&
         st == err->code && err->message[0];
}

static pb_buf one_node(const char *op, int rank, const int64_t *dims) {
  pb_buf g = {0};
  onnx_input(&g, "x", rank, dims);
  onnx_node(&g, op, "x", NULL, "y");
  onnx_output(&g, "y", rank, dims);
  return onnx_model(&g);
}

static void huge_tensors(void) {
  kiln_error err;
  puts("2^40-element input");
  int64_t big[1] = {INT64_C(1) << 40};
  pb_buf m = one_node("Relu", 1, big);
  kiln_status st = compile(&m, NULL, &err);
  CHECK(st == KILN_ERR_LIMIT);
  CHECK(strstr(err.message, "max_tensor_bytes") != NULL);
  free(m.d);

  puts("dims whose product overflows int64");
  int64_t over[4] = {INT64_C(1) << 20, INT64_C(1) << 20, INT64_C(1) << 20, INT64_C(1) << 20};
  m = one_node("Relu", 4, over);
  st = compile(&m, NULL, &err);
  CHECK(clear_error(st, &err));
  free(m.d);

  puts("2^40-element initializer with 4 bytes of data");
  pb_buf g = {0};
  int64_t one = 1;
  float w = 1;
  onnx_input(&g, "x", 1, &one);
  onnx_initializer(&g, "w", 1, 1, big, &w, sizeof w);
  onnx_node(&g, "Add", "x", "w", "y");
  onnx_output(&g, "y", 1, &one);
  m = onnx_model(&g);
  st = compile(&m, NULL, &err);
  CHECK(clear_error(st, &err));
  free(m.d);

  puts("initializer dims overflowing int64");
  g = (pb_buf){0};
  onnx_input(&g, "x", 1, &one);
  onnx_initializer(&g, "w", 1, 4, over, &w, sizeof w);
  onnx_node(&g, "Add", "x", "w", "y");
  onnx_output(&g, "y", 1, &one);
  m = onnx_model(&g);
  st = compile(&m, NULL, &err);
  CHECK(clear_error(st, &err));
  free(m.d);

  puts("max_tensor_bytes is configurable");
  int64_t n = 1024;
  m = one_node("Relu", 1, &n);
  kiln_options o = {.struct_size = sizeof o, .max_tensor_bytes = 1000};
  CHECK(compile(&m, &o, &err) == KILN_ERR_LIMIT);
  o.max_tensor_bytes = 4096;
  CHECK(compile(&m, &o, &err) == KILN_OK);
  free(m.d);
}

static void deep_graphs(void) {
  kiln_error err;
  puts("max_nodes is configurable");
  pb_buf m = onnx_relu_chain(4, 300);
  kiln_options o = {.struct_size = sizeof o, .max_nodes = 100};
  kiln_status st = compile(&m, &o, &err);
  CHECK(st == KILN_ERR_LIMIT);
  o.max_nodes = 300;
  CHECK(compile(&m, &o, &err) == KILN_OK);
  free(m.d);

  /* without a node limit this would lower 10^6 kernels (gigabytes): skip it then */
  if (st == KILN_ERR_LIMIT) {
    puts("a graph 10^6 nodes deep");
    m = onnx_relu_chain(4, 1000000);
    CHECK(compile(&m, NULL, &err) == KILN_ERR_LIMIT);
    CHECK(strstr(err.message, "max_nodes") != NULL);
    free(m.d);
  }

  /* graph > node > attribute > graph ... 5000 deep: protobuf-c would recurse that far */
  puts("subgraphs nested 5000 deep");
  pb_buf inner = {0};
  for (int i = 0; i < 5000; i++) {
    pb_buf attr = {0}, node = {0}, graph = {0};
    pb_str(&attr, 1, "then_branch");
    pb_int(&attr, 20, 5); /* GRAPH */
    pb_msg(&attr, 6, &inner);
    pb_str(&node, 1, "c");
    pb_str(&node, 2, "y");
    pb_str(&node, 4, "If");
    pb_msg(&node, 5, &attr);
    pb_msg(&graph, 1, &node);
    inner = graph;
  }
  m = onnx_model(&inner);
  CHECK(clear_error(compile(&m, NULL, &err), &err));
  free(m.d);
}

/* Writes text to dir/name. */
static void write_text(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

#if __has_include("frontend/dsl.h")
static void dsl_imports(const char *dir) {
  kiln_error err;
  kiln_model *m = NULL;
  char path[512], text[256];
  puts("a DSL file importing itself");
  write_text(dir, "self.kiln", "import \"self.kiln\"\nmodel m(x: f32[2]) {\n  return y = Relu(x)\n}\n");
  snprintf(path, sizeof path, "%s/self.kiln", dir);
  kiln_status st = kiln_compile_file(path, NULL, &m, &err);
  printf("  -> %s: %s\n", kiln_status_name(st), err.message);
  CHECK(clear_error(st, &err));
  kiln_model_free(m);

  puts("a chain of 200 DSL imports");
  for (int i = 0; i < 200; i++) {
    char name[32];
    snprintf(name, sizeof name, "chain%d.kiln", i);
    snprintf(text, sizeof text, "import \"chain%d.kiln\"\ndef f%d(x) = Relu(x)\n", i + 1, i);
    write_text(dir, name, text);
  }
  write_text(dir, "chain200.kiln", "def f200(x) = Relu(x)\n");
  write_text(dir, "top.kiln", "import \"chain0.kiln\"\nmodel m(x: f32[2]) {\n  return y = f0(x)\n}\n");
  snprintf(path, sizeof path, "%s/top.kiln", dir);
  st = kiln_compile_file(path, NULL, &m, &err);
  printf("  -> %s: %s\n", kiln_status_name(st), err.message);
  CHECK(st == KILN_ERR_LIMIT);
  kiln_model_free(m);
}
#endif

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  if (!d) return -1;
  for (struct dirent *de; (de = readdir(d));)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
  closedir(d);
  return n;
}

static void aot_failure_leaves_nothing(const char *dir) {
  puts("a failed AOT compile leaves nothing behind");
  char sub[512], model[512], out[600];
  snprintf(sub, sizeof sub, "%s/aot", dir);
  CHECK(mkdir(sub, 0700) == 0);
  int64_t big = INT64_C(1) << 40;
  pb_buf m = one_node("Relu", 1, &big);
  snprintf(model, sizeof model, "%s/big.onnx", dir);
  FILE *f = fopen(model, "wb");
  CHECK(f && fwrite(m.d, 1, m.n, f) == m.n);
  if (f) fclose(f);
  free(m.d);
  snprintf(out, sizeof out, "%s/big.so", sub);
  kiln_error err;
  CHECK(kiln_compile_aot(model, NULL, out, "big", &err) == KILN_ERR_LIMIT);
  CHECK(count_entries(sub) == 0);
}

int main(void) {
  char dir[] = "/tmp/kiln_limits_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  huge_tensors();
  deep_graphs();
#if __has_include("frontend/dsl.h")
  dsl_imports(dir);
#endif
  aot_failure_leaves_nothing(dir);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  return check_report();
}
