#include "node_test.h"

#include "ir/dtype.h"
#include "ir/interp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kiln_status load_pb(const char *path, kiln_tensor *t, char **name, kiln_error *err) {
  void *data;
  size_t size;
  kiln_status st = kiln_read_file(path, &data, &size, err);
  if (st) return st;
  st = kiln_onnx_read_tensor(data, size, t, name, err);
  free(data);
  return st;
}

static int file_exists(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f) fclose(f);
  return f != NULL;
}

kiln_status node_test_load(node_test *t, const char *dir, kiln_error *err) {
  memset(t, 0, sizeof *t);
  snprintf(t->dir, sizeof t->dir, "%s", dir);
  char path[1200];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  kiln_status st = kiln_read_file(path, &t->model, &t->model_size, err);
  for (int io = 0; io < 2 && !st; io++) {
    for (int i = 0; i < NODE_TEST_MAX_IO && !st; i++) {
      snprintf(path, sizeof path, "%s/test_data_set_0/%s_%d.pb", dir, io ? "output" : "input", i);
      if (!file_exists(path)) break;
      kiln_tensor *dst = io ? &t->outputs[i] : &t->inputs[i];
      char **name = io ? &t->output_names[i] : &t->input_names[i];
      st = load_pb(path, dst, name, err);
      if (!st) *(io ? &t->noutputs : &t->ninputs) = i + 1;
    }
  }
  return st;
}

void node_test_free(node_test *t) {
  free(t->model);
  for (int i = 0; i < t->ninputs; i++) {
    kiln_tensor_free(&t->inputs[i]);
    free(t->input_names[i]);
  }
  for (int i = 0; i < t->noutputs; i++) {
    kiln_tensor_free(&t->outputs[i]);
    free(t->output_names[i]);
  }
  memset(t, 0, sizeof *t);
}

int node_test_compare(const kiln_tensor *want, kiln_dtype dtype, int rank, const int64_t *dims,
                      const void *got, char *why, size_t n) {
  /* older ONNX test data stores bfloat16 tensors as uint16 bit patterns */
  kiln_dtype want_dtype = want->dtype == KILN_U16 && dtype == KILN_BF16 ? KILN_BF16 : want->dtype;
  if (dtype != want_dtype) {
    snprintf(why, n, "dtype %s, expected %s", kiln_dtype_name(dtype), kiln_dtype_name(want->dtype));
    return 0;
  }
  int64_t numel = 1;
  int same_shape = rank == want->rank;
  for (int d = 0; d < want->rank; d++) {
    numel *= want->dims[d];
    if (same_shape && dims[d] != want->dims[d]) same_shape = 0;
  }
  if (!same_shape) {
    snprintf(why, n, "shape differs (rank %d vs expected %d)", rank, want->rank);
    return 0;
  }
  for (int64_t i = 0; i < numel; i++) {
    if (dtype == KILN_STRING) { /* C strings, exactly (a NULL is no string) */
      const char *a = ((char *const *)got)[i], *b = ((char *const *)want->data)[i];
      if (!a || strcmp(a, b)) {
        snprintf(why, n, "element %lld: got \"%.100s\", expected \"%.100s\"", (long long)i,
                 a ? a : "(null)", b);
        return 0;
      }
      continue;
    }
    if (kiln_dtype_is_float(dtype)) {
      double a = kiln_load_f64(dtype, got, i), b = kiln_load_f64(want_dtype, want->data, i);
      if (isnan(a) && isnan(b)) continue;
      if ((isinf(a) || isinf(b)) && a == b) continue;
      if (isinf(a) || isinf(b)) { /* a finite value is no match for an infinity */
        snprintf(why, n, "element %lld: got %.9g, expected %.9g", (long long)i, a, b);
        return 0;
      }
      if (!(fabs(a - b) <= 1e-7 + 1e-3 * fabs(b))) {
        snprintf(why, n, "element %lld: got %.9g, expected %.9g", (long long)i, a, b);
        return 0;
      }
    } else if (kiln_load_i64(dtype, got, i) != kiln_load_i64(dtype, want->data, i)) {
      snprintf(why, n, "element %lld: got %lld, expected %lld", (long long)i,
               (long long)kiln_load_i64(dtype, got, i), (long long)kiln_load_i64(dtype, want->data, i));
      return 0;
    }
  }
  return 1;
}

static bool close_enough(kiln_dtype t, const void *got, const void *want, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    if (t == KILN_STRING) { /* rt/strings.h: NULL reads as "" */
      const char *a = ((char *const *)got)[i], *b = ((char *const *)want)[i];
      if (strcmp(a ? a : "", b ? b : "")) return false;
      continue;
    }
    if (kiln_dtype_is_float(t)) {
      double a = kiln_load_f64(t, got, i), b = kiln_load_f64(t, want, i);
      if (isnan(a) && isnan(b)) continue;
      if (isinf(a) || isinf(b) ? a != b : !(fabs(a - b) <= 1e-5 + 1e-4 * fabs(b))) return false;
    } else if (kiln_load_i64(t, got, i) != kiln_load_i64(t, want, i)) {
      return false;
    }
  }
  return true;
}

int node_test_vs_interp(const kiln_program *p, const kiln_kernel *k,
                        const kiln_kernel_runner *r) {
  void *bufs[KILN_MAX_BUFS] = {0}, *mine[KILN_MAX_BUFS] = {0};
  for (int b = 0; b < k->nbufs; b++) {
    const kiln_buffer *buf = &k->bufs[b];
    /* a strided buffer (kernel.h) spans more than its elements */
    int64_t bytes = kiln_buffer_span(buf) * (int64_t)kiln_dtype_size(buf->dtype);
    if (buf->storage.kind == KILN_STORE_CONST) bufs[b] = p->consts[buf->storage.index].data;
    else if (buf->role == KILN_BUF_INPUT) bufs[b] = kiln_kernel_runner_buffer(r, b);
    else if (buf->role == KILN_BUF_OUTPUT) bufs[b] = mine[b] = calloc(1, (size_t)bytes + 1);
  }
  kiln_error err = {0};
  int ok = kiln_interp_run(k, bufs, &err) == KILN_OK;
  if (!ok) fprintf(stderr, "kernel '%s': interpreter: %s\n", k->name, err.message);
  for (int b = 0; b < k->nbufs; b++) {
    const kiln_buffer *buf = &k->bufs[b];
    if (!mine[b]) continue;
    size_t bytes = (size_t)(kiln_shape_numel(buf->rank, buf->dims) * (int64_t)kiln_dtype_size(buf->dtype));
    void *got = malloc(bytes + 1), *want = malloc(bytes + 1);
    kiln_buffer_gather(buf, kiln_kernel_runner_buffer(r, b), got);
    kiln_buffer_gather(buf, mine[b], want);
    bool same = close_enough(buf->dtype, got, want, kiln_shape_numel(buf->rank, buf->dims));
    free(got);
    free(want);
    if (ok && !same) fprintf(stderr, "kernel '%s': output '%s' differs\n", k->name, buf->name);
    ok &= same;
    free(mine[b]);
  }
  return ok;
}


#include "passes/passes.h"

int node_test_run_reference(const node_test *t, char *why, size_t n) {
  kiln_error err = {0};
  kiln_graph *g = NULL;
  int ok = 0;
  kiln_input_value values[NODE_TEST_MAX_IO];
  if (kiln_onnx_import(t->model, t->model_size, t->dir, &g, &err)) goto done;
  if (g->ninputs != t->ninputs) {
    kiln_fail(&err, KILN_ERR_INVALID_ARGUMENT, "model has %d inputs, test data %d", g->ninputs,
              t->ninputs);
    goto done;
  }
  for (int i = 0; i < t->ninputs; i++) {
    const kiln_tensor *x = &t->inputs[i];
    const kiln_value *decl = &g->values[g->inputs[i]];
    kiln_dtype t = x->dtype == KILN_U16 && decl->dtype == KILN_BF16 ? KILN_BF16 : x->dtype;
    values[i] = (kiln_input_value){decl->name, t, x->rank, {0}, x->data};
    memcpy(values[i].dims, x->dims, sizeof x->dims);
  }
  kiln_options opts = {.struct_size = sizeof opts};
  opts.values = values;
  opts.nvalues = t->ninputs;
  if (kiln_pass_bind_inputs(g, &opts, &err) || kiln_pass_infer(g, &opts, &err) ||
      kiln_pass_fold(g, INT64_MAX, &err))
    goto done;
  if (g->main.noutputs != t->noutputs) {
    kiln_fail(&err, KILN_ERR_INVALID_ARGUMENT, "model has %d outputs, test data %d",
              g->main.noutputs, t->noutputs);
    goto done;
  }
  ok = 1;
  bool folded = true;
  kiln_tensor got[NODE_TEST_MAX_IO];
  for (int i = 0; i < t->noutputs; i++) {
    const kiln_value *v = &g->values[g->main.outputs[i]];
    got[i] = (kiln_tensor){v->dtype, v->rank, {0}, v->data};
    memcpy(got[i].dims, v->dims, sizeof got[i].dims);
    if (!v->data && kiln_value_numel(v) > 0) {
      if (folded) snprintf(why, n, "output '%s' did not fold to a constant", v->name);
      ok = 0, folded = false;
    } else if (ok && !node_test_compare(&t->outputs[i], v->dtype, v->rank, v->dims, v->data,
                                        why, n)) {
      ok = 0;
    }
  }
  /* a seeded random op folds to kiln's numbers, not numpy's: what the spec fixes */
  if (!ok && folded && node_test_is_random(t))
    ok = node_test_check_random(t, got, t->noutputs, why, n);
done:
  if (err.code) snprintf(why, n, "%s: %s", kiln_status_name(err.code), err.message);
  kiln_graph_free(g);
  return ok;
}
