/* ONNX tensor files and hostile model bytes: reading a test-data .pb, writing it back and
 * re-reading; kiln_read_file errors; truncated, garbage and empty models never crash and
 * fail as INVALID_MODEL. Runs in tests/. */
#include "check.h"
#include "frontend/onnx.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODE_DIR "/usr/share/libonnx-testdata/data/node/"

static void test_tensor_roundtrip(void) {
  void *d;
  size_t n;
  kiln_error err = {0};
  CHECK(kiln_read_file(NODE_DIR "test_relu/test_data_set_0/input_0.pb", &d, &n, &err) == KILN_OK);
  if (err.code) return;
  kiln_tensor t, u;
  char *name = NULL, *name2 = NULL;
  CHECK(kiln_onnx_read_tensor(d, n, &t, &name, &err) == KILN_OK);
  free(d);
  if (err.code) return;
  CHECK(t.dtype == KILN_F32 && t.rank == 3 && t.dims[0] == 3 && t.dims[2] == 5 && t.data);
  CHECK(name && strcmp(name, "x") == 0);

  char dir[] = "/tmp/kiln_onnx_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[64];
  snprintf(path, sizeof path, "%s/x.pb", dir);
  CHECK(kiln_onnx_write_tensor(path, name, &t, &err) == KILN_OK);
  CHECK(kiln_read_file(path, &d, &n, &err) == KILN_OK);
  CHECK(!err.code && kiln_onnx_read_tensor(d, n, &u, &name2, &err) == KILN_OK);
  free(d);
  if (!err.code) {
    CHECK(u.dtype == t.dtype && u.rank == t.rank && memcmp(u.dims, t.dims, sizeof t.dims) == 0);
    CHECK(memcmp(u.data, t.data, 60 * sizeof(float)) == 0);
    CHECK(strcmp(name2, "x") == 0);
    kiln_tensor_free(&u);
  }
  /* Writing into a missing directory fails with IO naming the path. */
  memset(&err, 0, sizeof err);
  CHECK(kiln_onnx_write_tensor("/nonexistent_dir/y.pb", "y", &t, &err) == KILN_ERR_IO);
  CHECK(strstr(err.message, "/nonexistent_dir/y.pb") != NULL);
  unlink(path);
  rmdir(dir);
  kiln_tensor_free(&t);
  free(name);
  free(name2);
}

static void test_read_file_errors(void) {
  void *d;
  size_t n;
  kiln_error err = {0};
  CHECK(kiln_read_file("/no/such/model.onnx", &d, &n, &err) == KILN_ERR_NO_SUCH_FILE);
  CHECK(strstr(err.message, "/no/such/model.onnx") != NULL && d == NULL);
  memset(&err, 0, sizeof err);
  CHECK(kiln_read_file("/tmp", &d, &n, &err) == KILN_ERR_IO);
  CHECK(strstr(err.message, "'/tmp'") != NULL);
  /* A tensor file that is not one. */
  kiln_tensor t;
  memset(&err, 0, sizeof err);
  static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
  CHECK(kiln_onnx_read_tensor(junk, sizeof junk, &t, NULL, &err) == KILN_ERR_INVALID_MODEL);
}

/* Every truncation of a real model (with a subgraph) and random bytes: no crash; a parse
 * failure reads "not a valid ONNX model". Truncation at a field boundary can still parse. */
static void test_hostile_bytes(void) {
  void *d;
  size_t n;
  kiln_error err = {0};
  CHECK(kiln_read_file(NODE_DIR "test_if/model.onnx", &d, &n, &err) == KILN_OK);
  if (err.code) return;
  int failed = 0, ok_msg = 0;
  for (size_t len = 0; len < n; len++) {
    kiln_graph *g = NULL;
    memset(&err, 0, sizeof err);
    void *copy = malloc(len ? len : 1); /* exact size: valgrind sees any overread */
    memcpy(copy, d, len);
    if (kiln_onnx_import(copy, len, ".", &g, &err) != KILN_OK) {
      failed++;
      ok_msg += err.code == KILN_ERR_INVALID_MODEL || err.code == KILN_ERR_UNSUPPORTED;
      CHECK(g == NULL);
    }
    kiln_graph_free(g);
    free(copy);
  }
  CHECK(failed >= (int)n - 2 && ok_msg == failed);
  free(d);

  kiln_graph *g = NULL;
  memset(&err, 0, sizeof err);
  CHECK(kiln_onnx_import("", 0, NULL, &g, &err) == KILN_ERR_INVALID_MODEL);
  CHECK(strstr(err.message, "not a valid ONNX model") != NULL && g == NULL);

  srand(1234);
  uint8_t buf[512];
  for (int trial = 0; trial < 2000; trial++) {
    size_t len = (size_t)(rand() % (int)sizeof buf);
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)rand();
    if (trial & 1) buf[0] = 0x3a; /* field 7 (graph), length-delimited: reach deeper */
    memset(&err, 0, sizeof err);
    g = NULL;
    kiln_status st = kiln_onnx_import(buf, len, ".", &g, &err);
    CHECK(st != KILN_OK || g != NULL);
    kiln_graph_free(g);
  }
}

/* protobuf-c recurses once per nested message: 100000 levels of graph-in-attribute-in-
 * node must be refused before unpacking, not overflow the stack. */
static size_t put_header(uint8_t *p, int field, size_t len) {
  size_t n = 0;
  p[n++] = (uint8_t)(field << 3 | 2);
  do {
    p[n++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
    len >>= 7;
  } while (len);
  return n;
}

static void test_deep_nesting(void) {
  enum { LEVELS = 100000 };
  size_t cap = (size_t)LEVELS * 3 * 8 + 16;
  uint8_t *heads = malloc(cap), *buf = malloc(cap);
  size_t *starts = malloc(sizeof(size_t) * (LEVELS * 3 + 1));
  int nh = 0;
  static const int fields[3] = {6, 5, 1}; /* AttributeProto.g, NodeProto.attribute, GraphProto.node */
  size_t hpos = 0;
  for (int i = 0; i < LEVELS * 3 + 1; i++) { /* inside out: each header wraps what came before */
    starts[nh++] = hpos;
    hpos += put_header(heads + hpos, i == LEVELS * 3 ? 7 : fields[i % 3], hpos);
  }
  /* Outermost first: the headers in reverse order, each followed by all it wraps. */
  size_t pos = 0;
  for (int i = nh - 1; i >= 0; i--) {
    size_t end = i == nh - 1 ? hpos : starts[i + 1];
    memcpy(buf + pos, heads + starts[i], end - starts[i]);
    pos += end - starts[i];
  }
  kiln_graph *g = NULL;
  kiln_error err = {0};
  CHECK(kiln_onnx_import(buf, pos, ".", &g, &err) == KILN_ERR_INVALID_MODEL);
  CHECK(strstr(err.message, "nested too deeply") != NULL && g == NULL);
  free(heads);
  free(buf);
  free(starts);
}

int main(void) {
  test_tensor_roundtrip();
  test_read_file_errors();
  test_hostile_bytes();
  test_deep_nesting();
  return check_report();
}
