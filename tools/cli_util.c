#include "tools/cli_util.h"

#include "frontend/dsl.h"
#include "frontend/onnx.h"
#include "ir/dtype.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "name=1x3x224x224" */
static kiln_status parse_shape(const char *s, kiln_shape_binding *b, kiln_error *err) {
  const char *eq = strrchr(s, '=');
  if (!eq || eq == s)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--shape wants NAME=DxDx..., got '%s'", s);
  b->input = strndup(s, (size_t)(eq - s));
  b->rank = 0;
  for (const char *p = eq + 1; *p;) {
    char *end;
    long long d = strtoll(p, &end, 10);
    if (end == p || d < 0 || b->rank == KILN_MAX_RANK || (*end && *end != 'x'))
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--shape: bad dims in '%s'", s);
    b->dims[b->rank++] = d;
    p = *end ? end + 1 : end;
  }
  return KILN_OK;
}

kiln_status cli_parse(int argc, char **argv, cli_args *a, kiln_error *err) {
  memset(a, 0, sizeof *a);
  a->seed = 1;
  for (int i = 0; i < argc; i++) {
    const char *o = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool takes = true;
    if (!strcmp(o, "--help") || !strcmp(o, "-h")) a->help = true, takes = false;
    else if (!strcmp(o, "--kernels")) a->kernels = true, takes = false;
    else if (!strcmp(o, "--check-bounds")) a->check_bounds = true, takes = false;
    else if (o[0] != '-') {
      if (a->model) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "unexpected argument '%s'", o);
      a->model = o;
      takes = false;
    } else if (!v) {
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "option %s needs a value", o);
    } else if (!strcmp(o, "-o")) a->out = v;
    else if (!strcmp(o, "--name")) a->name = v;
    else if (!strcmp(o, "--inputs")) a->inputs_dir = v;
    else if (!strcmp(o, "--output-dir")) a->output_dir = v;
    else if (!strcmp(o, "--cpu")) a->cpu = v;
    else if (!strcmp(o, "--features")) a->features = v;
    else if (!strcmp(o, "--triple")) a->triple = v;
    else if (!strcmp(o, "--seed")) a->seed = (unsigned)strtoul(v, NULL, 10);
    else if (!strcmp(o, "--repeat")) a->repeat = atoi(v);
    else if (!strcmp(o, "--threads")) a->threads = atoi(v);
    else if (!strcmp(o, "--max-nodes")) a->max_nodes = strtoll(v, NULL, 10);
    else if (!strcmp(o, "--max-tensor-bytes")) a->max_tensor_bytes = strtoll(v, NULL, 10);
    else if (!strcmp(o, "--shape")) {
      if (a->nshapes == CLI_MAX_SHAPES)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "too many --shape options");
      if (parse_shape(v, &a->shapes[a->nshapes++], err)) return err->code;
    } else {
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "unknown option '%s'", o);
    }
    if (takes) i++;
  }
  if (a->repeat < 0 || a->threads < 0 || a->max_nodes < 0 || a->max_tensor_bytes < 0)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                     "--repeat, --threads and the --max-* limits must be >= 0");
  return KILN_OK;
}

void cli_args_free(cli_args *a) {
  for (int i = 0; i < a->nshapes; i++) free((char *)a->shapes[i].input);
  a->nshapes = 0;
}

void cli_fill_options(const cli_args *a, kiln_options *opts) {
  opts->shapes = a->shapes;
  opts->nshapes = a->nshapes;
  opts->cpu = a->cpu;
  opts->features = a->features;
  opts->triple = a->triple;
  opts->num_threads = a->threads;
  opts->check_bounds = a->check_bounds;
  opts->max_nodes = a->max_nodes;
  opts->max_tensor_bytes = a->max_tensor_bytes;
}

kiln_status cli_import(const char *path, kiln_graph **g, kiln_error *err) {
  void *data;
  size_t size;
  kiln_status st = kiln_read_file(path, &data, &size, err);
  if (st) return st;
  char *dir = strdup(path), *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  if (kiln_model_is_dsl(path, data, size)) st = kiln_dsl_import(data, size, path, NULL, g, err);
  else st = kiln_onnx_import(data, size, slash ? dir : ".", g, err);
  free(dir);
  free(data);
  return st;
}

kiln_status cli_load_inputs(const cli_args *a, cli_inputs *in, kiln_error *err) {
  memset(in, 0, sizeof *in);
  kiln_graph *g = NULL;
  kiln_status st = cli_import(a->model, &g, err);
  if (st) return st;
  for (int i = 0; i < g->ninputs && i < CLI_MAX_INPUTS; i++)
    in->graph_names[in->ngraph++] = kiln_xstrdup(g->values[g->inputs[i]].name);
  kiln_graph_free(g);
  for (int i = 0; a->inputs_dir && i < CLI_MAX_INPUTS; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/input_%d.pb", a->inputs_dir, i);
    void *data;
    size_t size;
    kiln_error probe = {0};
    if (kiln_read_file(path, &data, &size, &probe)) {
      if (i == 0) return kiln_fail(err, KILN_ERR_NO_SUCH_FILE, "no input_0.pb in '%s'", a->inputs_dir);
      break;
    }
    st = kiln_onnx_read_tensor(data, size, &in->files[i], &in->file_names[i], err);
    free(data);
    if (st) return st;
    in->nfiles++;
  }
  return KILN_OK;
}

/* The file given for declared input `name` (by name, else by declaration position). */
static int file_for(const cli_inputs *in, const char *name) {
  for (int f = 0; f < in->nfiles; f++)
    if (in->file_names[f] && !strcmp(in->file_names[f], name)) return f;
  for (int i = 0; i < in->ngraph; i++)
    if (!strcmp(in->graph_names[i], name)) return i < in->nfiles ? i : -1;
  return -1;
}

kiln_status cli_compile(const cli_args *a, cli_inputs *in, kiln_model **m, kiln_error *err) {
  kiln_shape_binding shapes[CLI_MAX_SHAPES + CLI_MAX_INPUTS];
  kiln_input_value values[CLI_MAX_INPUTS];
  bool as_value[CLI_MAX_INPUTS] = {false};
  for (;;) {
    kiln_options opts = {0};
    cli_fill_options(a, &opts);
    int ns = a->nshapes, nv = 0;
    memcpy(shapes, a->shapes, sizeof(kiln_shape_binding) * (size_t)ns);
    for (int i = 0; i < in->ngraph; i++) {
      int f = file_for(in, in->graph_names[i]);
      if (f < 0) continue;
      const kiln_tensor *t = &in->files[f];
      if (as_value[i]) {
        values[nv] = (kiln_input_value){in->graph_names[i], t->dtype, t->rank, {0}, t->data};
        memcpy(values[nv++].dims, t->dims, sizeof t->dims);
      } else {
        shapes[ns] = (kiln_shape_binding){in->graph_names[i], t->rank, {0}};
        memcpy(shapes[ns++].dims, t->dims, sizeof t->dims);
      }
    }
    opts.shapes = shapes;
    opts.nshapes = ns;
    opts.values = values;
    opts.nvalues = nv;
    kiln_status st = kiln_compile_file(a->model, &opts, m, err);
    if (st != KILN_ERR_SHAPE || !strstr(err->message, "known at compile time")) return st;
    /* A static-shape compiler specialises on the inputs shapes depend on: fix the one the
     * compiler asked for to its given value, and try again. */
    int asked = -1;
    for (int i = 0; i < in->ngraph && asked < 0; i++) {
      char quoted[1100];
      snprintf(quoted, sizeof quoted, "'%s'", in->graph_names[i]);
      if (!as_value[i] && file_for(in, in->graph_names[i]) >= 0 && strstr(err->message, quoted))
        asked = i;
    }
    if (asked < 0) return st;
    as_value[asked] = true;
    err->code = KILN_OK;
  }
}

kiln_status cli_fill_random_inputs(const kiln_model *m, cli_inputs *in, unsigned seed,
                                   kiln_error *err) {
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int i = 0; i < kiln_num_inputs(m) && i < CLI_MAX_INPUTS; i++) {
    kiln_tensor_info info;
    kiln_input_info(m, i, &info);
    int f = file_for(in, info.name);
    if (f >= 0) {
      const kiln_tensor *t = &in->files[f];
      if (t->dtype != info.dtype ||
          kiln_shape_numel(t->rank, t->dims) * (int64_t)kiln_dtype_size(t->dtype) != (int64_t)info.bytes)
        return kiln_fail(err, KILN_ERR_SHAPE, "input '%s': the given tensor's type or size does not match the model",
                         info.name);
      in->data[i] = t->data;
      continue;
    }
    int64_t n = (int64_t)(info.bytes / kiln_dtype_size(info.dtype));
    in->data[i] = kiln_xcalloc(1, info.bytes ? info.bytes : 1);
    in->owned[i] = true;
    for (int64_t j = 0; j < n; j++) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      double u = (double)(state >> 11) / 9007199254740992.0; /* [0, 1) */
      if (kiln_dtype_is_float(info.dtype)) kiln_store_f64(info.dtype, in->data[i], j, 2 * u - 1);
      else kiln_store_i64(info.dtype, in->data[i], j, 0); /* safe as an index or a count */
    }
  }
  return KILN_OK;
}

void cli_inputs_free(cli_inputs *in) {
  for (int i = 0; i < in->nfiles; i++) {
    kiln_tensor_free(&in->files[i]);
    free(in->file_names[i]);
  }
  for (int i = 0; i < in->ngraph; i++) free(in->graph_names[i]);
  for (int i = 0; i < CLI_MAX_INPUTS; i++)
    if (in->owned[i]) free(in->data[i]);
  memset(in, 0, sizeof *in);
}

kiln_status cli_write_output(const char *dir, int i, const kiln_tensor_info *info,
                             const void *data, kiln_error *err) {
  char made[4096];
  snprintf(made, sizeof made, "%s", dir);
  for (char *p = made + 1;; p++) { /* mkdir -p */
    char c = *p;
    if (c != '/' && c) continue;
    *p = 0;
    if (mkdir(made, 0777) != 0 && errno != EEXIST)
      return kiln_fail(err, KILN_ERR_IO, "cannot create directory '%s': %s", made, strerror(errno));
    *p = c;
    if (!c) break;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/output_%d.pb", dir, i);
  kiln_tensor t = {info->dtype, info->rank, {0}, (void *)data};
  memcpy(t.dims, info->dims, sizeof t.dims);
  return kiln_onnx_write_tensor(path, info->name, &t, err);
}

void cli_print_kernels(const kiln_steps *steps, FILE *out) {
  for (int i = 0; i < steps->n; i++) {
    const kiln_step *s = &steps->steps[i];
    if (s->kind == KILN_STEP_KERNEL) {
      kiln_kernel_print(s->kernel, out);
    } else {
      fprintf(out, "if {\n");
      cli_print_kernels(s->then_steps, out);
      fprintf(out, "} else {\n");
      cli_print_kernels(s->else_steps, out);
      fprintf(out, "}\n");
    }
  }
}
