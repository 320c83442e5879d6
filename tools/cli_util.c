#include "tools/cli_util.h"

#include "codegen/cuda.h"
#include "frontend/dsl.h"
#include "frontend/onnx.h"
#include "ir/dtype.h"
#include "ir/tempfile.h"
#include "passes/passes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

kiln_status cli_import(const char *path, const kiln_options *opts, kiln_graph **g,
                       kiln_error *err) {
  void *data;
  size_t size;
  kiln_status st = kiln_read_file(path, &data, &size, err);
  if (st) return st;
  char *dir = strdup(path), *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  if (kiln_model_is_dsl(path, data, size)) st = kiln_dsl_import(data, size, path, opts, g, err);
  else st = kiln_onnx_import(data, size, slash ? dir : ".", g, err);
  free(dir);
  free(data);
  return st;
}

/* The --shape options binding v's free dims (or unknown rank) to 1, appended to buf. */
static size_t shape_hint(const kiln_value *v, char *buf, size_t len, size_t size) {
  bool free_dims = v->rank < 0;
  for (int d = 0; d < v->rank; d++) free_dims |= v->dims[d] < 0;
  if (!free_dims) return len;
  len += (size_t)snprintf(buf + len, len < size ? size - len : 0, " --shape %s=", v->name);
  for (int d = 0; d < (v->rank < 0 ? 1 : v->rank); d++)
    len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%lld", d ? "x" : "",
                            (long long)(v->rank < 0 || v->dims[d] < 0 ? 1 : v->dims[d]));
  return len;
}

void cli_hint_unbound(const char *model, const kiln_options *opts, kiln_error *err) {
  if (err->code != KILN_ERR_SHAPE) return;
  kiln_graph *g = NULL, *again = NULL;
  kiln_error e = {0};
  char hint[1024] = "\non the command line:";
  size_t len = strlen(hint);
  int nhint = 0;
  if (cli_import(model, opts, &g, &e) || kiln_pass_bind_inputs(g, opts, &e) != KILN_ERR_SHAPE)
    goto done;
  kiln_shape_binding shapes[CLI_MAX_SHAPES + CLI_MAX_INPUTS];
  memcpy(shapes, opts->shapes, sizeof shapes[0] * (size_t)opts->nshapes);
  int ns = opts->nshapes;
  for (int i = 0; i < g->ninputs && ns < CLI_MAX_SHAPES + CLI_MAX_INPUTS; i++) {
    const kiln_value *v = &g->values[g->inputs[i]];
    size_t before = len;
    len = shape_hint(v, hint, len, sizeof hint);
    if (len == before) continue;
    shapes[ns] = (kiln_shape_binding){v->name, v->rank < 0 ? 1 : v->rank, {0}};
    for (int d = 0; d < shapes[ns].rank; d++)
      shapes[ns].dims[d] = v->rank < 0 || v->dims[d] < 0 ? 1 : v->dims[d];
    ns++;
    nhint++;
  }
  /* Only when binding those dims is all that was missing: the hint would not help a
   * mismatch. */
  kiln_options bound = *opts;
  bound.shapes = shapes;
  bound.nshapes = ns;
  e = (kiln_error){0};
  if (nhint && len < sizeof hint && !cli_import(model, opts, &again, &e) &&
      !kiln_pass_bind_inputs(again, &bound, &e) &&
      strlen(err->message) + len < sizeof err->message)
    strcat(err->message, hint);
done:
  kiln_graph_free(again);
  kiln_graph_free(g);
}

/* One line on stderr rewritten in place as each step begins, as `kiln tune`'s is; cleared
 * when the compile ends, so what follows starts on a clean line. */
static void show_progress(void *user, const char *step, int done, int total) {
  (void)user;
  if (step) fprintf(stderr, "\rcompile: step %d/%d, %s\033[K", done + 1, total, step);
  else fprintf(stderr, "\r\033[K");
  fflush(stderr);
}

void cli_show_progress(kiln_options *opts) {
  if (isatty(2)) opts->progress = show_progress;
}

kiln_status cli_compile(const cli_args *a, cli_inputs *in, kiln_model **m, kiln_error *err) {
  kiln_shape_binding shapes[CLI_MAX_SHAPES + CLI_MAX_INPUTS];
  kiln_input_value values[CLI_MAX_INPUTS];
  bool as_value[CLI_MAX_INPUTS] = {false};
  for (;;) {
    kiln_options opts = {.struct_size = sizeof opts};
    cli_fill_options(a, &opts);
    cli_show_progress(&opts);
    int ns = a->nshapes, nv = 0;
    memcpy(shapes, a->shapes, sizeof(kiln_shape_binding) * (size_t)ns);
    for (int i = 0; i < in->ngraph; i++) {
      int f = in->file_of[i];
      if (f < 0) continue;
      const kiln_tensor *t = &in->files[f].t;
      if (as_value[i]) {
        values[nv] = (kiln_input_value){in->graph_names[i], t->dtype, t->rank, {0}, t->data};
        memcpy(values[nv++].dims, t->dims, sizeof t->dims);
      } else if (!a->symbolic) { /* with free dims, the run binds them from the files */
        shapes[ns] = (kiln_shape_binding){in->graph_names[i], t->rank, {0}};
        memcpy(shapes[ns++].dims, t->dims, sizeof t->dims);
      }
    }
    opts.shapes = shapes;
    opts.nshapes = ns;
    opts.values = values;
    opts.nvalues = nv;
    kiln_status st = kiln_compile_file(a->model, &opts, m, err);
    if (st != KILN_ERR_SHAPE || !strstr(err->message, "known at compile time")) {
      if (st) cli_hint_unbound(a->model, &opts, err);
      return st;
    }
    /* A static-shape compiler specialises on the inputs shapes depend on: fix the one the
     * compiler asked for to its given value, and try again. */
    int asked = -1;
    for (int i = 0; i < in->ngraph && asked < 0; i++) {
      char quoted[1100];
      snprintf(quoted, sizeof quoted, "'%s'", in->graph_names[i]);
      if (!as_value[i] && in->file_of[i] >= 0 && strstr(err->message, quoted))
        asked = i;
    }
    if (asked < 0) return st;
    as_value[asked] = true;
    err->code = KILN_OK;
  }
}

kiln_status cli_prepare_output_dir(const char *dir, kiln_error *err) {
  char made[4096];
  if (!*dir || snprintf(made, sizeof made, "%s", dir) >= (int)sizeof made)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--output-dir: empty or too long a path");
  for (char *p = made + 1;; p++) { /* mkdir -p */
    char c = *p;
    if (c != '/' && c) continue;
    *p = 0;
    if (mkdir(made, 0777) != 0 && errno != EEXIST)
      return kiln_fail(err, KILN_ERR_IO, "--output-dir '%s': cannot create directory '%s': %s", dir,
                       made, strerror(errno));
    *p = c;
    if (!c) break;
  }
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return kiln_fail(err, KILN_ERR_IO, "--output-dir '%s' is not a directory", dir);
  /* a file made and removed: the one test of writability that root and ACLs cannot fool */
  char *prefix = kiln_fmt("%s/.kiln-probe.", dir);
  kiln_temp probe;
  int fd = kiln_temp_open(prefix, "", &probe), e = errno;
  free(prefix);
  if (fd >= 0) {
    close(fd);
    unlink(probe.path);
  }
  kiln_temp_forget(&probe);
  if (fd < 0)
    return kiln_fail(err, KILN_ERR_IO, "--output-dir '%s': cannot create files in it: %s", dir,
                     strerror(e));
  return KILN_OK;
}

kiln_status cli_write_output(const char *dir, int i, const kiln_tensor_info *info,
                             const void *data, kiln_error *err) {
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
    } else if (s->kind == KILN_STEP_LOOP) {
      fprintf(out, "loop {\n");
      cli_print_kernels(s->loop->body, out);
      fprintf(out, "}\n");
    } else {
      fprintf(out, "if {\n");
      cli_print_kernels(s->then_steps, out);
      fprintf(out, "} else {\n");
      cli_print_kernels(s->else_steps, out);
      fprintf(out, "}\n");
    }
  }
}

kiln_status cli_print_cuda(const kiln_program *p, kiln_error *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  if (!mem) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for the CUDA source");
  kiln_status st = kiln_cuda_emit_program(p, mem, err);
  fclose(mem);
  if (!st) fwrite(text, 1, len, stdout); /* whole, or nothing */
  free(text);
  return st;
}

void cli_note_random_inputs(const cli_args *a, const cli_inputs *in) {
  for (int i = 0; a->inputs_dir && i < in->ngraph; i++)
    if (in->file_of[i] < 0)
      fprintf(stderr, "kiln: no file for input '%s' in '%s': random values (--random-inputs, "
              "seed %u)\n", in->graph_names[i], a->inputs_dir, a->seed);
}

kiln_tensor_info *cli_infos(const kiln_model *m, bool outputs) {
  int n = outputs ? kiln_num_outputs(m) : kiln_num_inputs(m);
  kiln_tensor_info *infos = kiln_xcalloc((size_t)n + 1, sizeof *infos);
  for (int i = 0; i < n; i++) (outputs ? kiln_output_info : kiln_input_info)(m, i, &infos[i]);
  return infos;
}

void **cli_alloc_outputs(const kiln_tensor_info *infos, int n) {
  void **outs = kiln_xcalloc((size_t)n + 1, sizeof(void *));
  for (int i = 0; i < n; i++) outs[i] = kiln_xcalloc(1, infos[i].bytes ? infos[i].bytes : 1);
  return outs;
}

void cli_free_strings(const kiln_tensor_info *infos, int n, void **outs) {
  for (int i = 0; i < n; i++) {
    if (infos[i].dtype != KILN_STRING) continue;
    char **s = outs[i];
    for (size_t e = 0; e < infos[i].bytes / sizeof(char *); e++) {
      free(s[e]);
      s[e] = NULL;
    }
  }
}

void cli_free_outputs(void **outs) {
  for (int i = 0; outs && outs[i]; i++) free(outs[i]);
  free(outs);
}
