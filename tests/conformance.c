/* ONNX backend node tests through the public API (compile with LLVM, run, compare).
 *
 *   conformance DIR               one test: exit 0 pass (a random op's test, or one that
 *                                 bound inputs at compile time: see PASS_RANDOM, PASS_BOUND),
 *                                 1 fail, 77 unsupported
 *   conformance --summary ROOT    every test under ROOT, one forked child each (a crash is
 *                                 a failure, not the end); counts overall, per op type and
 *                                 for the core op list, and lists the passes that bound
 *                                 inputs; exit 1 if the core op list passes < 95%
 *   conformance --target T [--gpu-arch A] --suite ROOT K/N KNOWN...
 *                                 the tests of shard K of N under ROOT through kiln_options
 *                                 target T, forked: exit 1 when one fails that no KNOWN
 *                                 failures file names, or passes though one names it;
 *                                 with --gpu-arch, NVRTC compiles each for A too (exit 77
 *                                 when libnvrtc cannot be loaded)
 */
#include "codegen/nvrtc.h"
#include "node_test.h"
#include "onnx/onnx.pb-c.h"
#include "onnx_data.pb-c.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Passes counted apart (2 + flags): PASS_RANDOM, a model with random ops whose outputs
 * have what the spec fixes (count, dtypes, shapes, ranges: tests/node_random.c) but not
 * numpy's bits; PASS_BOUND, a model that compiled only with some graph input bound as a
 * compile-time value (kiln_options.values: an output size or shape depends on it), so
 * the run checked that input's value and no other; PASS_RANDOM_BOUND, both. */
enum { PASS = 0, FAIL = 1, PASS_RANDOM = 3, PASS_BOUND = 4, PASS_RANDOM_BOUND = 5, UNSUPPORTED = 77 };

static int pass_verdict(bool random, bool bound) {
  return random || bound ? 2 + random + 2 * bound : PASS;
}
static bool passed(int r) { return r == PASS || (r >= PASS_RANDOM && r <= PASS_RANDOM_BOUND); }

static const char *target;   /* kiln_options.target: NULL = the CPU */
static const char *gpu_arch; /* kiln_options.gpu_arch: NVRTC compiles the CUDA C too */

/* The ops every serious ONNX compiler must cover; the --summary gate is measured on the
 * tests made only of these. */
static const char *const CORE_OPS[] = {
    "Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min",
    "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Erf", "Exp", "Log", "Sqrt", "Reciprocal",
    "Neg", "Abs", "Clip", "HardSigmoid", "HardSwish", "Softmax", "LogSoftmax",
    "BatchNormalization", "LayerNormalization", "InstanceNormalization", "MaxPool",
    "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten", "Reshape", "Transpose",
    "Concat", "Split", "Slice", "Gather", "Squeeze", "Unsqueeze", "ReduceMean", "ReduceSum",
    "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "Cast", "Constant", "ConstantOfShape",
    "Identity", "Shape", "Size", "Expand", "Where", "Equal", "Less", "Greater", "Not", "And",
    "Or", "Pad", "Resize", "Tile", "Range", "LSTM", "GRU", "Dropout", "If"};
#define CORE_PASS_RATE 0.95
#define MAX_OPS 64
#define TEST_TIMEOUT_S 30 /* the target is well under a second per test */
#define WHY (sizeof ((kiln_error *)0)->message + 512) /* a kiln message and context */

/* ---- the model's graph inputs, outputs and op types, read with protobuf-c ------------ */

enum { IO_TENSOR, IO_SEQUENCE, IO_OPTIONAL };

typedef struct model_desc {
  Onnx__ModelProto *proto;
  int ninputs;                        /* graph inputs that are not initializers */
  const char *inputs[NODE_TEST_MAX_IO];
  int nops;
  const char *ops[MAX_OPS];           /* distinct op types, subgraphs included */
  /* Sequence and optional graph inputs and outputs: their test data is a SequenceProto or
   * an OptionalProto, which the test's tensors hold flattened, one per element, named as
   * the compiled model names them ("x[0]"...); each sequence input's length is bound. */
  bool lists;
  int in_kind[NODE_TEST_MAX_IO], out_kind[NODE_TEST_MAX_IO], noutputs;
  char flat[NODE_TEST_MAX_IO][160];   /* names of the test's input tensors */
  char len_name[NODE_TEST_MAX_IO][160];
  int64_t len[NODE_TEST_MAX_IO];
  int nlens;
} model_desc;

static int io_kind(const Onnx__ValueInfoProto *v) {
  int c = v->type ? (int)v->type->value_case : 0;
  return c == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE ? IO_SEQUENCE
       : c == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE ? IO_OPTIONAL : IO_TENSOR;
}

static void add_ops(model_desc *d, const Onnx__GraphProto *g) {
  for (size_t i = 0; g && i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    int seen = 0;
    for (int k = 0; k < d->nops && !seen; k++) seen = !strcmp(d->ops[k], n->op_type);
    if (!seen && d->nops < MAX_OPS) d->ops[d->nops++] = n->op_type;
    for (size_t a = 0; a < n->n_attribute; a++) {
      add_ops(d, n->attribute[a]->g);
      for (size_t k = 0; k < n->attribute[a]->n_graphs; k++) add_ops(d, n->attribute[a]->graphs[k]);
    }
  }
}

static int describe(model_desc *d, const void *data, size_t size) {
  memset(d, 0, sizeof *d);
  d->proto = onnx__model_proto__unpack(NULL, size, data);
  if (!d->proto || !d->proto->graph) return 0;
  const Onnx__GraphProto *g = d->proto->graph;
  for (size_t i = 0; i < g->n_input && d->ninputs < NODE_TEST_MAX_IO; i++) {
    int init = 0;
    for (size_t k = 0; k < g->n_initializer && !init; k++)
      init = !strcmp(g->initializer[k]->name, g->input[i]->name);
    if (init) continue;
    d->in_kind[d->ninputs] = io_kind(g->input[i]);
    d->lists |= d->in_kind[d->ninputs] != IO_TENSOR;
    snprintf(d->flat[d->ninputs], sizeof d->flat[0], "%s", g->input[i]->name);
    d->inputs[d->ninputs++] = g->input[i]->name;
  }
  for (size_t i = 0; i < g->n_output && d->noutputs < NODE_TEST_MAX_IO; i++) {
    d->out_kind[d->noutputs] = io_kind(g->output[i]);
    d->lists |= d->out_kind[d->noutputs++] != IO_TENSOR;
  }
  add_ops(d, g);
  return 1;
}

static void describe_free(model_desc *d) {
  if (d->proto) onnx__model_proto__free_unpacked(d->proto, NULL);
}

static int is_core(const model_desc *d) {
  for (int i = 0; i < d->nops; i++) {
    int found = 0;
    for (size_t k = 0; k < sizeof CORE_OPS / sizeof *CORE_OPS && !found; k++)
      found = !strcmp(CORE_OPS[k], d->ops[i]);
    if (!found) return 0;
  }
  return 1;
}

/* ---- one test -------------------------------------------------------------------------- */

/* Appends tensor proto p to t's inputs or outputs as `name`. */
static kiln_status add_flat(node_test *t, model_desc *d, int io, const Onnx__TensorProto *p,
                            const char *name, kiln_error *err) {
  int *n = io ? &t->noutputs : &t->ninputs;
  if (*n >= NODE_TEST_MAX_IO)
    return kiln_fail(err, KILN_ERR_LIMIT, "more than %d tensors in the test data", NODE_TEST_MAX_IO);
  size_t size = onnx__tensor_proto__get_packed_size(p);
  uint8_t *buf = malloc(size ? size : 1);
  onnx__tensor_proto__pack(p, buf);
  kiln_tensor *dst = io ? &t->outputs[*n] : &t->inputs[*n];
  char **nm = io ? &t->output_names[*n] : &t->input_names[*n];
  kiln_status st = kiln_onnx_read_tensor(buf, size, dst, nm, err);
  free(buf);
  if (st) return st;
  if (!io) snprintf(d->flat[*n], sizeof d->flat[0], "%s", name);
  (*n)++;
  return KILN_OK;
}

/* One input or output file of kind `kind` (the graph's input or output `name`), flattened. */
static kiln_status load_list(node_test *t, model_desc *d, int io, int kind, const char *name,
                             const void *data, size_t size, kiln_error *err) {
  kiln_status st = KILN_OK;
  if (kind == IO_TENSOR) {
    Onnx__TensorProto *p = onnx__tensor_proto__unpack(NULL, size, data);
    if (!p) return kiln_fail(err, KILN_ERR_INVALID_MODEL, "'%s': not a TensorProto", name);
    st = add_flat(t, d, io, p, name, err);
    onnx__tensor_proto__free_unpacked(p, NULL);
    return st;
  }
  Onnx__SequenceProto *seq = NULL;
  Onnx__OptionalProto *opt = NULL;
  if (kind == IO_OPTIONAL && !(opt = onnx__optional_proto__unpack(NULL, size, data)))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "'%s': not an OptionalProto", name);
  if (kind == IO_SEQUENCE && !(seq = onnx__sequence_proto__unpack(NULL, size, data)))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "'%s': not a SequenceProto", name);
  const Onnx__SequenceProto *s = seq ? seq : opt->sequence_value;
  if (opt && opt->tensor_value) {
    st = add_flat(t, d, io, opt->tensor_value, name, err);
  } else if (s) {
    if (s->n_sequence_values || s->n_optional_values)
      st = kiln_fail(err, KILN_ERR_UNSUPPORTED, "'%s': a sequence of sequences or optionals", name);
    for (size_t j = 0; !st && j < s->n_tensor_values; j++) {
      char elem[200];
      snprintf(elem, sizeof elem, "%s[%zu]", name, j);
      st = add_flat(t, d, io, s->tensor_values[j], elem, err);
    }
    if (!st && !io && d->nlens < NODE_TEST_MAX_IO) {
      snprintf(d->len_name[d->nlens], sizeof d->len_name[0], "%s", name);
      d->len[d->nlens++] = (int64_t)s->n_tensor_values;
    }
  }
  if (seq) onnx__sequence_proto__free_unpacked(seq, NULL);
  if (opt) onnx__optional_proto__free_unpacked(opt, NULL);
  return st;
}

/* test_data_set_<k> of a model with sequence or optional inputs or outputs, flattened:
 * 1, or 0 when there is no such set, -1 on an error. */
static int load_lists(node_test *t, model_desc *d, int k, kiln_error *err) {
  char path[1200];
  d->nlens = 0;
  snprintf(path, sizeof path, "%s/test_data_set_%d", t->dir, k);
  if (access(path, F_OK)) return 0;
  for (int io = 0; io < 2; io++) {
    int count = io ? d->noutputs : d->ninputs;
    for (int i = 0; i < count; i++) {
      snprintf(path, sizeof path, "%s/test_data_set_%d/%s_%d.pb", t->dir, k,
               io ? "output" : "input", i);
      void *data;
      size_t size;
      if (access(path, F_OK)) return kiln_fail(err, KILN_ERR_NO_SUCH_FILE, "%s is missing", path), -1;
      if (kiln_read_file(path, &data, &size, err)) return -1;
      const char *name = io ? d->proto->graph->output[i]->name : d->inputs[i];
      kiln_status st = load_list(t, d, io, io ? d->out_kind[i] : d->in_kind[i], name, data, size, err);
      free(data);
      if (st) return -1;
    }
  }
  return 1;
}

/* Replaces t's inputs and outputs with those of test_data_set_<k>; 0 when there is none. */
static int load_set(node_test *t, model_desc *d, int k, kiln_error *err) {
  char path[1200];
  snprintf(path, sizeof path, "%s/test_data_set_%d", t->dir, k);
  if (access(path, F_OK)) return 0;
  for (int i = 0; i < t->ninputs; i++) kiln_tensor_free(&t->inputs[i]), free(t->input_names[i]);
  for (int i = 0; i < t->noutputs; i++) kiln_tensor_free(&t->outputs[i]), free(t->output_names[i]);
  t->ninputs = t->noutputs = 0;
  if (d->lists) return load_lists(t, d, k, err);
  for (int io = 0; io < 2; io++) {
    for (int i = 0; i < NODE_TEST_MAX_IO; i++) {
      snprintf(path, sizeof path, "%s/test_data_set_%d/%s_%d.pb", t->dir, k,
               io ? "output" : "input", i);
      void *data;
      size_t size;
      if (access(path, F_OK)) break;
      if (kiln_read_file(path, &data, &size, err)) return -1;
      kiln_tensor *dst = io ? &t->outputs[i] : &t->inputs[i];
      kiln_status st = kiln_onnx_read_tensor(data, size, dst, io ? &t->output_names[i]
                                                                  : &t->input_names[i], err);
      free(data);
      if (st) return -1;
      *(io ? &t->noutputs : &t->ninputs) += 1;
    }
  }
  return 1;
}

/* Compiles with every input's shape bound; each time the compiler asks for an input's
 * value ("... known at compile time"), compiles again with that input as a constant, and
 * sets as_value[i] (of t's inputs). */
static kiln_status compile(const node_test *t, const model_desc *d, kiln_model **m,
                           int *as_value, kiln_error *err) {
  kiln_shape_binding shapes[2 * NODE_TEST_MAX_IO];
  kiln_input_value values[NODE_TEST_MAX_IO];
  int nvalues = 0;
  for (int i = 0; i < t->ninputs; i++) as_value[i] = 0;
  for (;;) {
    int nshapes = 0;
    nvalues = 0;
    for (int i = 0; i < t->ninputs; i++) {
      const kiln_tensor *x = &t->inputs[i];
      if (as_value[i]) {
        values[nvalues] = (kiln_input_value){d->flat[i], x->dtype, x->rank, {0}, x->data};
        memcpy(values[nvalues++].dims, x->dims, sizeof x->dims);
      } else {
        shapes[nshapes] = (kiln_shape_binding){d->flat[i], x->rank, {0}};
        memcpy(shapes[nshapes++].dims, x->dims, sizeof x->dims);
      }
    }
    for (int i = 0; i < d->nlens; i++) /* a sequence's length */
      shapes[nshapes++] = (kiln_shape_binding){d->len_name[i], 1, {d->len[i]}};
    kiln_options opts = {.struct_size = sizeof opts};
    opts.shapes = shapes;
    opts.nshapes = nshapes;
    opts.values = values;
    opts.nvalues = nvalues;
    opts.base_dir = t->dir;
    opts.check_bounds = 1; /* every load and store checked (issue 4) */
    opts.target = target;
    opts.gpu_arch = gpu_arch;
    kiln_status st = kiln_compile_buffer(t->model, t->model_size, &opts, m, err);
    if (st != KILN_ERR_SHAPE || !strstr(err->message, "known at compile time")) return st;
    int asked = -1;
    for (int i = 0; i < t->ninputs && asked < 0; i++) {
      char quoted[300];
      snprintf(quoted, sizeof quoted, "'%s'", d->flat[i]);
      if (!as_value[i] && strstr(err->message, quoted)) asked = i;
    }
    if (asked < 0) return st;
    as_value[asked] = 1;
  }
}

/* Runs one compiled data set; 1 when every output matches, 2 when a random model's outputs
 * have only what the spec fixes. */
static int run_set(const node_test *t, const model_desc *d, const kiln_model *m, char *why,
                   size_t n) {
  const void *in[NODE_TEST_MAX_IO] = {0};
  void *out[NODE_TEST_MAX_IO] = {0};
  kiln_tensor_info info[NODE_TEST_MAX_IO];
  int nin = kiln_num_inputs(m), nout = kiln_num_outputs(m), ok = 0;
  if (nout != t->noutputs || nin > t->ninputs) {
    snprintf(why, n, "model has %d inputs / %d outputs, test data %d / %d", nin, nout,
             t->ninputs, t->noutputs);
    return 0;
  }
  for (int i = 0; i < nin; i++) {
    kiln_tensor_info ii;
    kiln_input_info(m, i, &ii);
    int k = 0;
    while (k < t->ninputs && strcmp(d->flat[k], ii.name)) k++;
    if (k >= t->ninputs) {
      snprintf(why, n, "model input '%s' is not in the test data", ii.name);
      return 0;
    }
    static const char empty[1];
    in[i] = t->inputs[k].data ? t->inputs[k].data : empty;
  }
  /* a size the run computes (NonZero of a run-time value): the output has a dim -1 and
   * the run goes through kiln_run_arrays, whose outputs give their actual shapes */
  bool arrays = false;
  for (int i = 0; i < nout; i++) {
    kiln_output_info(m, i, &info[i]);
    for (int k = 0; k < info[i].rank; k++) arrays |= info[i].dims[k] < 0;
  }
  kiln_array ia[NODE_TEST_MAX_IO], oa[NODE_TEST_MAX_IO];
  kiln_error err = {0};
  for (int i = 0; arrays && i < nin; i++) {
    kiln_tensor_info ii;
    kiln_input_info(m, i, &ii);
    ia[i] = (kiln_array){(void *)in[i], ii.dtype, ii.rank, {0}};
    memcpy(ia[i].dims, ii.dims, sizeof ia[i].dims);
  }
  if (arrays && kiln_output_shapes(m, ia, oa, &err)) {
    snprintf(why, n, "output shapes: %s: %s", kiln_status_name(err.code), err.message);
    goto done;
  }
  for (int i = 0; i < nout; i++) {
    size_t bytes = arrays ? (size_t)kiln_shape_numel(oa[i].rank, oa[i].dims) *
                                kiln_dtype_size(oa[i].dtype)
                          : info[i].bytes;
    out[i] = calloc(1, bytes ? bytes : 1);
    if (arrays) oa[i].data = out[i];
  }
  if (arrays ? kiln_run_arrays(m, ia, oa, &err) : kiln_run(m, in, out, &err)) {
    snprintf(why, n, "run: %s: %s", kiln_status_name(err.code), err.message);
    goto done;
  }
  for (int i = 0; arrays && i < nout; i++) {
    info[i].rank = oa[i].rank;
    memcpy(info[i].dims, oa[i].dims, sizeof info[i].dims);
  }
  ok = 1;
  for (int i = 0; i < nout && ok; i++) {
    char reason[512];
    if (!node_test_compare(&t->outputs[i], info[i].dtype, info[i].rank, info[i].dims, out[i],
                           reason, sizeof reason)) {
      snprintf(why, n, "output %d '%s': %s", i, info[i].name, reason);
      ok = 0;
    }
  }
  if (!ok && node_test_is_random(t)) {
    kiln_tensor got[NODE_TEST_MAX_IO];
    for (int i = 0; i < nout; i++) {
      got[i] = (kiln_tensor){info[i].dtype, info[i].rank, {0}, out[i]};
      memcpy(got[i].dims, info[i].dims, sizeof got[i].dims);
    }
    ok = node_test_check_random(t, got, nout, why, n) ? 2 : 0;
  }
done:
  for (int i = 0; i < nout; i++) {
    /* a string output's elements are the caller's to free (kiln.h) */
    int64_t ne = info[i].dtype != KILN_STRING || !out[i] ? 0 : kiln_shape_numel(info[i].rank, info[i].dims);
    for (int64_t e = 0; e < ne; e++) free(((char **)out[i])[e]);
    free(out[i]);
  }
  return ok;
}

static int run_test(const char *dir, model_desc *d, char *why, size_t n) {
  node_test t;
  kiln_error err = {0};
  int result = FAIL, sets = 0, random = 0, bound[NODE_TEST_MAX_IO] = {0};
  kiln_status loaded = node_test_load(&t, dir, &err);
  int described = t.model && describe(d, t.model, t.model_size);
  if (described && d->lists) { /* sequences or optionals: read by the model's types */
    err = (kiln_error){0};
    loaded = load_set(&t, d, 0, &err) < 0 ? err.code : KILN_OK;
  }
  if (loaded) {
    /* Test data of a type kiln lacks (strings, sequences, optionals) fails to load; the
     * model then names what is unsupported. */
    kiln_error why_model = {0};
    kiln_graph *g = NULL;
    if (t.model && kiln_onnx_import(t.model, t.model_size, dir, &g, &why_model) == KILN_ERR_UNSUPPORTED)
      err = why_model;
    kiln_graph_free(g);
    snprintf(why, n, "loading: %s", err.message);
    node_test_free(&t);
    return err.code == KILN_ERR_UNSUPPORTED ? UNSUPPORTED : FAIL;
  }
  if (!described) {
    snprintf(why, n, "model.onnx does not parse");
    goto done;
  }
  for (int k = 0;; k++) {
    int more = k == 0 ? 1 : load_set(&t, d, k, &err);
    if (more < 0) {
      snprintf(why, n, "test_data_set_%d: %s", k, err.message);
      goto done;
    }
    if (!more) break;
    kiln_model *m = NULL;
    int as_value[NODE_TEST_MAX_IO];
    kiln_status st = compile(&t, d, &m, as_value, &err);
    for (int i = 0; i < t.ninputs; i++) bound[i] |= as_value[i];
    if (st == KILN_ERR_UNSUPPORTED) {
      snprintf(why, n, "%s", err.message);
      result = UNSUPPORTED;
      goto done;
    }
    if (st) {
      snprintf(why, n, "compile: %s: %s", kiln_status_name(st), err.message);
      goto done;
    }
    int ok = run_set(&t, d, m, why, n);
    kiln_model_free(m);
    random |= ok == 2;
    if (!ok) {
      char set[64];
      snprintf(set, sizeof set, " [test_data_set_%d]", k);
      strncat(why, set, n - strlen(why) - 1);
      goto done;
    }
    sets++;
  }
  bool any_bound = false;
  why[0] = 0; /* a random test's mismatch: what the spec does not fix */
  for (int i = 0; i < d->ninputs; i++) {
    if (!bound[i]) continue;
    size_t len = strlen(why);
    snprintf(why + len, n - len, "%s'%s'", any_bound ? ", " : "inputs bound at compile time: ",
             d->inputs[i]);
    any_bound = true;
  }
  result = !sets ? FAIL : pass_verdict(random, any_bound);
  if (!sets) snprintf(why, n, "no test data sets");
done:
  node_test_free(&t);
  return result;
}

/* ---- --summary -------------------------------------------------------------------------- */

typedef struct op_count {
  char name[64];
  int pass, fail, unsupported;
} op_count;

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_op(const void *a, const void *b) {
  return strcmp(((const op_count *)a)->name, ((const op_count *)b)->name);
}

/* Runs one test in a child: the verdict comes back as the exit status, the reason through
 * a pipe; a signal or a hang (alarm) is a failure. */
static int run_forked(const char *dir, char *why, size_t n) {
  int fd[2];
  if (pipe(fd)) return snprintf(why, n, "pipe failed"), FAIL;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    alarm(TEST_TIMEOUT_S);
    model_desc d = {0};
    char reason[WHY] = "";
    int r = run_test(dir, &d, reason, sizeof reason);
    describe_free(&d);
    if (write(fd[1], reason, strlen(reason)) < 0) r = FAIL;
    _exit(r);
  }
  close(fd[1]);
  ssize_t len = 0, got;
  while (len < (ssize_t)n - 1 && (got = read(fd[0], why + len, n - 1 - len)) > 0) len += got;
  why[len] = 0;
  close(fd[0]);
  int status;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
    snprintf(why, n, "timed out after %d s", TEST_TIMEOUT_S);
    return FAIL;
  }
  if (WIFSIGNALED(status)) {
    snprintf(why, n, "crashed: %s", strsignal(WTERMSIG(status)));
    return FAIL;
  }
  int code = WEXITSTATUS(status);
  return passed(code) || code == UNSUPPORTED ? code : FAIL;
}

/* The entries of folder root, sorted (NULL if it cannot be opened). */
static char **list_dir(const char *root, size_t *count) {
  DIR *dir = opendir(root);
  if (!dir) return NULL;
  char **names = malloc(sizeof *names);
  *count = 0;
  for (struct dirent *e; (e = readdir(dir));) {
    if (e->d_name[0] == '.') continue;
    names = realloc(names, (*count + 1) * sizeof *names);
    names[(*count)++] = strdup(e->d_name);
  }
  closedir(dir);
  qsort(names, *count, sizeof *names, cmp_str);
  return names;
}

static int summary(const char *root) {
  size_t count = 0;
  char **names = list_dir(root, &count);
  if (!names) return fprintf(stderr, "cannot open %s\n", root), 2;

  op_count *ops = NULL;
  int nops = 0, totals[3] = {0}, core_total = 0, core_pass = 0, random = 0, nbound = 0;
  char (*core_fails)[WHY + 400] = calloc(count, sizeof *core_fails);
  const char **bound = calloc(count ? count : 1, sizeof *bound); /* passes that bound inputs */
  int ncore_fails = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (size_t i = 0; i < count; i++) {
    char path[1200], why[WHY] = "";
    snprintf(path, sizeof path, "%s/%s", root, names[i]);
    int r = run_forked(path, why, sizeof why);
    random += r == PASS_RANDOM || r == PASS_RANDOM_BOUND;
    if (r == PASS_BOUND || r == PASS_RANDOM_BOUND) bound[nbound++] = names[i];
    if (passed(r)) r = PASS;
    int slot = r == PASS ? 0 : r == FAIL ? 1 : 2;
    totals[slot]++;
    /* The op types are read here in the parent too: the child may have crashed. */
    node_test t;
    kiln_error err;
    model_desc d = {0};
    node_test_load(&t, path, &err); /* the model even when its data is of a type kiln lacks */
    int described = t.model && describe(&d, t.model, t.model_size);
    node_test_free(&t);
    for (int k = 0; described && k < d.nops; k++) {
      int j = 0;
      while (j < nops && strcmp(ops[j].name, d.ops[k])) j++;
      if (j == nops) {
        ops = realloc(ops, ++nops * sizeof *ops);
        memset(&ops[j], 0, sizeof *ops);
        snprintf(ops[j].name, sizeof ops[j].name, "%s", d.ops[k]);
      }
      *(slot == 0 ? &ops[j].pass : slot == 1 ? &ops[j].fail : &ops[j].unsupported) += 1;
    }
    if (described && is_core(&d)) {
      core_total++;
      if (r == PASS) core_pass++;
      else
        snprintf(core_fails[ncore_fails++], sizeof *core_fails, "  %-55s %s: %s", names[i],
                 r == FAIL ? "FAIL" : "UNSUPPORTED", why);
    }
    describe_free(&d);
    if ((i + 1) % 100 == 0 || i + 1 == count)
      fprintf(stderr, "[%zu/%zu] %d pass, %d fail, %d unsupported\n", i + 1, count, totals[0],
              totals[1], totals[2]);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);

  qsort(ops, nops, sizeof *ops, cmp_op);
  printf("%-32s %6s %6s %6s\n", "op type", "pass", "fail", "unsup");
  for (int j = 0; j < nops; j++)
    printf("%-32s %6d %6d %6d\n", ops[j].name, ops[j].pass, ops[j].fail, ops[j].unsupported);
  printf("\nall tests: %zu: %d pass (%.1f%%; %d random: shape/dtype/range only), %d fail, "
         "%d unsupported; %.1f s (%.3f s/test)\n",
         count, totals[0], count ? 100.0 * totals[0] / count : 0.0, random, totals[1], totals[2],
         secs, count ? secs / count : 0.0);
  double rate = core_total ? (double)core_pass / core_total : 0.0;
  printf("passed with inputs bound at compile time: %d", nbound);
  for (int i = 0; i < nbound; i++) printf("%s%s", i ? ", " : ": ", bound[i]);
  printf("\n");
  printf("core op tests: %d: %d pass (%.1f%%), gate %.0f%%\n", core_total, core_pass,
         100.0 * rate, 100.0 * CORE_PASS_RATE);
  if (ncore_fails) printf("core op tests that do not pass:\n");
  for (int i = 0; i < ncore_fails; i++) printf("%s\n", core_fails[i]);

  for (size_t i = 0; i < count; i++) free(names[i]);
  free(names);
  free(ops);
  free(core_fails);
  free(bound);
  return core_total > 0 && rate >= CORE_PASS_RATE ? 0 : 1;
}

/* ---- --suite: one target's run of the tests, against known-failure lists ------------- */

/* Whether a known-failures file (one test name a line, # comments) names test. */
static bool listed(const char *file, const char *test) {
  FILE *f = fopen(file, "r");
  char line[512];
  bool found = false;
  while (f && !found && fgets(line, sizeof line, f)) {
    line[strcspn(line, "#\r\n")] = 0;
    char *w = line + strspn(line, " \t");
    w[strcspn(w, " \t")] = 0;
    found = *w && !strcmp(w, test);
  }
  if (f) fclose(f);
  return found;
}

static int suite(const char *root, const char *shard, char **known, int nknown) {
  int k = 0, n = 0;
  if (sscanf(shard, "%d/%d", &k, &n) != 2 || k < 1 || k > n) return fprintf(stderr, "bad shard\n"), 2;
  for (int i = 0; i < nknown; i++)
    if (access(known[i], R_OK)) return fprintf(stderr, "cannot read %s\n", known[i]), 2;
  size_t count = 0;
  char **names = list_dir(root, &count);
  if (!names) return fprintf(stderr, "cannot open %s\n", root), 2;
  int totals[3] = {0}, bad = 0;
  for (size_t i = (size_t)k - 1; i < count; i += (size_t)n) {
    char path[1200], why[WHY] = "";
    snprintf(path, sizeof path, "%s/%s", root, names[i]);
    int r = run_forked(path, why, sizeof why);
    if (passed(r)) r = PASS;
    totals[r == PASS ? 0 : r == FAIL ? 1 : 2]++;
    bool expected_fail = false;
    for (int j = 0; j < nknown; j++) expected_fail |= listed(known[j], names[i]);
    if (r == FAIL && !expected_fail) printf("FAIL %s: %s\n", names[i], why), bad++;
    if (r == PASS && expected_fail)
      printf("PASS %s, listed as a known failure: take it off the list\n", names[i]), bad++;
  }
  printf("target %s, shard %s: %d pass, %d fail, %d unsupported; %d unexpected\n",
         target ? target : "cpu", shard, totals[0], totals[1], totals[2], bad);
  for (size_t i = 0; i < count; i++) free(names[i]);
  free(names);
  return bad ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "--target")) {
    target = argv[2];
    argc -= 2;
    argv += 2;
    if (argc >= 3 && !strcmp(argv[1], "--gpu-arch")) {
      gpu_arch = argv[2];
      argc -= 2;
      argv += 2;
      kiln_error err;
      if (kiln_nvrtc_load(&err)) return printf("SKIPPED: %s\n", err.message), UNSUPPORTED;
    }
    if (argc >= 4 && !strcmp(argv[1], "--suite")) return suite(argv[2], argv[3], argv + 4, argc - 4);
  }
  if (argc == 3 && !strcmp(argv[1], "--summary")) return summary(argv[2]);
  if (argc != 2) {
    fprintf(stderr, "usage: conformance [--target T] DIR | conformance --summary NODE_ROOT | "
                    "conformance --target T --suite NODE_ROOT K/N KNOWN...\n");
    return 2;
  }
  model_desc d = {0};
  char why[WHY] = "";
  int r = run_test(argv[1], &d, why, sizeof why);
  describe_free(&d);
  bool random = r == PASS_RANDOM || r == PASS_RANDOM_BOUND;
  if (passed(r))
    printf("PASS %s%s%s%s%s\n", argv[1], random ? " (random: shape/dtype/range only)" : "",
           *why ? " (" : "", why, *why ? ")" : "");
  else printf("%s %s: %s\n", r == UNSUPPORTED ? "UNSUPPORTED" : "FAIL", argv[1], why);
  return passed(r) ? PASS : r;
}
