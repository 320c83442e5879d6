/* AOT libraries as inputs of `kiln run` and `kiln bench`, so what is checked and timed is
 * exactly the file that ships. A MODEL that starts with ELF's magic is such a library: its
 * manifest (`<name>_manifest`, codegen/aot_manifest.c; found in the file by
 * KILN_MANIFEST_MARK, as `kiln dump --tuning` finds the tuning text) says its inputs,
 * outputs and entry points, and dlopen loads it. Everything is checked before the
 * library's code runs: another file kind, another architecture, a library of another
 * compiler or of an older kiln, a malformed manifest each get one error. */
#define _GNU_SOURCE /* memmem */
#include "tools/cli_util.h"

#include "frontend/onnx.h"
#include "ir/dtype.h"
#include "ir/json.h"
#include "runtime/profile.h"

#include <dlfcn.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>

typedef int (*run_fn)(const void *const *inputs, void *const *outputs, void *workspace);
/* a library with free dims: its <name>_tensor has kiln_array's layout */
typedef int (*run_dims_fn)(const kiln_array *inputs, kiln_array *outputs, void *workspace);
typedef int (*shapes_fn)(const kiln_array *inputs, kiln_array *outputs);
typedef int (*check_fn)(const kiln_array *inputs, char *msg, size_t size);
typedef int (*variant_fn)(const kiln_array *inputs);

struct cli_artifact {
  void *handle;
  kiln_json *manifest;
  run_fn run;
  void (*set_threads)(int n);
  bool free_dims; /* then these instead of run */
  run_dims_fn run_dims;
  shapes_fn output_shapes;
  check_fn check_inputs;
  variant_fn run_variant;
};

bool cli_is_elf(const char *path) {
  FILE *f = fopen(path, "rb");
  unsigned char magic[SELFMAG] = {0};
  bool elf = f && fread(magic, 1, SELFMAG, f) == SELFMAG && !memcmp(magic, ELFMAG, SELFMAG);
  if (f) fclose(f);
  return elf;
}

/* A shared library for this machine: ELF's class, byte order, type and machine. */
static kiln_status check_elf(const char *path, const unsigned char *data, size_t size,
                             kiln_error *err) {
  if (size < sizeof(Elf64_Ehdr))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "'%s' is truncated: shorter than an ELF header",
                     path);
  const Elf64_Ehdr *h = (const void *)data;
  Elf64_Ehdr here = {.e_machine =
#if defined(__x86_64__)
                         EM_X86_64
#elif defined(__aarch64__)
                         EM_AARCH64
#else
                         EM_NONE
#endif
  };
  if (h->e_ident[EI_CLASS] != ELFCLASS64 || h->e_ident[EI_DATA] != ELFDATA2LSB ||
      (here.e_machine != EM_NONE && h->e_machine != here.e_machine))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "'%s' is for another architecture (ELF machine "
                     "%d): kiln runs libraries built for this machine", path, h->e_machine);
  uint64_t end = h->e_shoff + (uint64_t)h->e_shnum * h->e_shentsize;
  if (h->e_shoff > size || end > size)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "'%s' is truncated: its ELF header places "
                     "section headers up to byte %llu, the file has %zu bytes", path,
                     (unsigned long long)end, size);
  if (h->e_type != ET_DYN)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "'%s' is an ELF file but not a shared library "
                     "(an object file or a program): kiln runs the .so `kiln compile` writes", path);
  return KILN_OK;
}

/* The manifest's JSON text in the file (up to its NUL), or an error naming what the file is
 * instead. */
static kiln_status find_manifest(const char *path, const char *data, size_t size,
                                 kiln_json **out, kiln_error *err) {
  const char *mark = KILN_MANIFEST_MARK;
  const char *at = memmem(data, size, mark, strlen(mark));
  if (!at && memmem(data, size, KILN_TUNING_MARK, strlen(KILN_TUNING_MARK)))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "'%s' was compiled by an older kiln, whose "
                     "libraries carry no manifest saying how to call them: compile the model "
                     "again with this kiln (%s)", path, KILN_VERSION);
  if (!at)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "'%s' is not a library kiln compiled (it "
                     "has no kiln manifest)", path);
  const char *text = at + strlen(mark), *end = memchr(text, 0, (size_t)(data + size - text));
  char why[200];
  *out = end ? kiln_json_parse(text, (size_t)(end - text), why, sizeof why) : NULL;
  if (!*out)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "'%s': its kiln manifest is %s%s", path,
                     end ? "malformed JSON: " : "cut short (a truncated file?)", end ? why : "");
  return KILN_OK;
}

static const char *string_of(const kiln_json *obj, const char *key) {
  const kiln_json *v = kiln_json_get(obj, key);
  return v && v->kind == KILN_JSON_STRING ? v->string : NULL;
}

/* A whole number in [0, 2^53): what the manifest writes sizes as. */
static bool whole(const kiln_json *v, int64_t *out) {
  if (!v || v->kind != KILN_JSON_NUMBER || !(v->number >= 0 && v->number < 9007199254740992.0) ||
      v->number != (double)(int64_t)v->number)
    return false;
  *out = (int64_t)v->number;
  return true;
}

/* One input or output of the manifest into info (whose name points into it); with free
 * dims, a dim may be -1 (its bytes then say nothing). */
static bool tensor_of(const kiln_json *t, bool free_dims, kiln_tensor_info *info) {
  const kiln_json *shape = kiln_json_get(t, "shape");
  const char *dtype = string_of(t, "dtype");
  int64_t bytes;
  memset(info, 0, sizeof *info);
  info->name = string_of(t, "name");
  if (!info->name || !dtype || !shape || shape->kind != KILN_JSON_ARRAY ||
      shape->n > KILN_MAX_RANK || !whole(kiln_json_get(t, "bytes"), &bytes))
    return false;
  for (int d = KILN_F32; d <= KILN_DTYPE_LAST && !info->dtype; d++)
    if (!strcmp(kiln_dtype_name((kiln_dtype)d), dtype)) info->dtype = (kiln_dtype)d;
  info->rank = shape->n;
  int64_t n = 1;
  bool free = false;
  for (int d = 0; d < shape->n; d++) {
    const kiln_json *x = &shape->items[d];
    if (free_dims && x->kind == KILN_JSON_NUMBER && x->number == -1) {
      info->dims[d] = -1, free = true;
      continue;
    }
    if (!whole(x, &info->dims[d]) || __builtin_mul_overflow(n, info->dims[d], &n)) return false;
  }
  info->bytes = free ? 0 : (size_t)bytes;
  return info->dtype && kiln_dtype_size(info->dtype) &&
         !__builtin_mul_overflow(n, (int64_t)kiln_dtype_size(info->dtype), &n) &&
         (free || n == bytes);
}

static bool tensors_of(const kiln_json *list, bool free_dims, int *n, kiln_tensor_info **out) {
  if (!list || list->kind != KILN_JSON_ARRAY || list->n > CLI_MAX_INPUTS) return false;
  *n = list->n;
  *out = kiln_xcalloc((size_t)list->n + 1, sizeof **out);
  for (int i = 0; i < list->n; i++)
    if (!tensor_of(&list->items[i], free_dims, &(*out)[i])) return false;
  return true;
}

/* The manifest's description of the model into m, checked whole before anything uses it. */
static kiln_status read_manifest(const char *path, const kiln_json *j, cli_model *m,
                                 kiln_error *err) {
  int64_t version = 0;
  if (!whole(kiln_json_get(j, "manifest"), &version) || version != 1)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "'%s': a kiln manifest of another version "
                     "(%lld; this kiln reads 1): run it with the kiln that compiled it (%s)", path,
                     (long long)version, string_of(j, "kiln_version") ? string_of(j, "kiln_version") : "?");
  m->lib->free_dims = kiln_json_get(j, "free_dims") != NULL;
  bool f = m->lib->free_dims;
  if (!string_of(j, "name") || !string_of(j, "entry") ||
      !tensors_of(kiln_json_get(j, "inputs"), f, &m->ninputs, &m->inputs) ||
      !tensors_of(kiln_json_get(j, "outputs"), f, &m->noutputs, &m->outputs))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "'%s': its kiln manifest lacks or garbles the "
                     "model's name, entry point, inputs or outputs", path);
  return KILN_OK;
}

static kiln_status load(const char *path, cli_artifact *lib, const kiln_json *j, kiln_error *err) {
  /* a bare name would make dlopen search the library path */
  char *where = strchr(path, '/') ? kiln_xstrdup(path) : kiln_fmt("./%s", path);
  lib->handle = dlopen(where, RTLD_NOW | RTLD_LOCAL);
  free(where);
  if (!lib->handle)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "cannot load '%s': %s", path, dlerror());
  const char *entry = string_of(j, "entry"), *setter = string_of(j, "set_num_threads");
  void *run = dlsym(lib->handle, entry);
  if (setter) lib->set_threads = (void (*)(int))dlsym(lib->handle, setter);
  if (!run || (setter && !lib->set_threads))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "'%s' lacks '%s', which its manifest names",
                     path, run ? setter : entry);
  if (!lib->free_dims) {
    lib->run = (run_fn)run;
    return KILN_OK;
  }
  /* the calls that take shapes, beside <name>_run_dims (codegen/aot_header.c) */
  static const char *const calls[] = {"output_shapes", "check_inputs", "run_variant"};
  void *fns[3];
  for (int i = 0; i < 3; i++) {
    char *sym = kiln_fmt("%s_%s", string_of(j, "name"), calls[i]);
    fns[i] = dlsym(lib->handle, sym);
    kiln_status st = fns[i] ? KILN_OK : kiln_fail(err, KILN_ERR_INVALID_MODEL, "'%s' lacks "
                                                  "'%s', which a library with free dims has",
                                                  path, sym);
    free(sym);
    if (st) return st;
  }
  lib->run_dims = (run_dims_fn)run;
  lib->output_shapes = (shapes_fn)fns[0];
  lib->check_inputs = (check_fn)fns[1];
  lib->run_variant = (variant_fn)fns[2];
  return KILN_OK;
}

kiln_status cli_model_open_library(const char *path, cli_model *m, kiln_error *err) {
  memset(m, 0, sizeof *m);
  void *data;
  size_t size;
  kiln_status st = kiln_read_file(path, &data, &size, err);
  if (st) return st;
  m->lib = kiln_xcalloc(1, sizeof *m->lib);
  st = check_elf(path, data, size, err);
  if (!st) st = find_manifest(path, data, size, &m->lib->manifest, err);
  free(data);
  if (!st) st = read_manifest(path, m->lib->manifest, m, err);
  if (!st) st = load(path, m->lib, m->lib->manifest, err);
  return st;
}

const kiln_json *cli_model_manifest(const cli_model *m) {
  return m->lib ? m->lib->manifest : NULL;
}

void cli_model_of_jit(kiln_model *jit, cli_model *m) {
  memset(m, 0, sizeof *m);
  m->jit = jit;
  m->ninputs = kiln_num_inputs(jit);
  m->noutputs = kiln_num_outputs(jit);
  m->inputs = cli_infos(jit, false);
  m->outputs = cli_infos(jit, true);
}

/* A library's output shapes at the inputs' (arrays), or its message why not. */
static kiln_status library_shapes(const cli_model *m, const kiln_array *arrays, kiln_array *outs,
                                  kiln_error *err) {
  char msg[512] = "";
  int rc = m->lib->check_inputs(arrays, msg, sizeof msg);
  if (!rc) rc = m->lib->output_shapes(arrays, outs);
  if (!rc) return KILN_OK;
  bool known = rc > 0 && rc <= KILN_ERR_INVALID_INPUT;
  return kiln_fail(err, known ? (kiln_status)rc : KILN_ERR_INTERNAL, "%s: %s",
                   string_of(m->lib->manifest, "name"), msg[0] ? msg : "the inputs' shapes do "
                   "not fit it");
}

kiln_status cli_model_bind_shapes(cli_model *m, const cli_inputs *in, kiln_error *err) {
  kiln_array arrays[CLI_MAX_INPUTS], outs[CLI_MAX_INPUTS];
  if (m->ninputs > CLI_MAX_INPUTS || m->noutputs > CLI_MAX_INPUTS)
    return kiln_fail(err, KILN_ERR_LIMIT, "more than %d inputs or outputs", CLI_MAX_INPUTS);
  for (int i = 0; i < m->ninputs; i++) {
    kiln_tensor_info *t = &m->inputs[i];
    const cli_input_file *f = cli_input_file_for(in, t->name);
    for (int d = 0; d < t->rank; d++)
      if (t->dims[d] < 0 && !f)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "input '%s' dim %d%s%s%s is free: "
                         "give the input a file (--inputs DIR) whose shape sets it", t->name, d,
                         m->jit ? " ('" : "", m->jit ? kiln_dim_name(m->jit, i, d) : "",
                         m->jit ? "')" : "");
    if (f) {
      t->rank = f->t.rank;
      memcpy(t->dims, f->t.dims, sizeof t->dims);
      t->bytes = (size_t)kiln_shape_numel(t->rank, t->dims) * kiln_dtype_size(t->dtype);
    }
    arrays[i] = (kiln_array){(void *)1, t->dtype, t->rank, {0}}; /* data unread */
    memcpy(arrays[i].dims, t->dims, sizeof t->dims);
  }
  if (m->jit ? kiln_output_shapes(m->jit, arrays, outs, err) : library_shapes(m, arrays, outs, err))
    return err->code;
  m->variant = m->jit ? kiln_run_variant(m->jit, arrays) : m->lib->run_variant(arrays);
  for (int i = 0; i < m->noutputs; i++) {
    kiln_tensor_info *t = &m->outputs[i];
    t->rank = outs[i].rank;
    memcpy(t->dims, outs[i].dims, sizeof t->dims);
    t->bytes = (size_t)kiln_shape_numel(t->rank, t->dims) * kiln_dtype_size(t->dtype);
  }
  m->shaped = true;
  return KILN_OK;
}

void cli_model_arrays(const cli_model *m, const void *const *inputs, void *const *outputs,
                      kiln_array *in, kiln_array *out) {
  for (int i = 0; i < m->ninputs; i++) {
    in[i] = (kiln_array){(void *)inputs[i], m->inputs[i].dtype, m->inputs[i].rank, {0}};
    memcpy(in[i].dims, m->inputs[i].dims, sizeof in[i].dims);
  }
  for (int i = 0; i < m->noutputs; i++) out[i] = (kiln_array){outputs[i], KILN_F32, 0, {0}};
}

/* The error for status rc of the library's entry point. */
static kiln_status library_failed(const cli_model *m, int rc, kiln_error *err) {
  const char *name = string_of(m->lib->manifest, "entry");
  const char *why = rc == KILN_ERR_UNSUPPORTED ? ": no CUDA driver or GPU that can run its code"
                  : rc == KILN_ERR_INVALID_INPUT ? ": an input value out of range, such as an index"
                  : rc == KILN_ERR_OUT_OF_MEMORY ? ": its workspace could not be allocated"
                  : rc == KILN_ERR_INTERNAL ? ": an access out of bounds (built with --check-bounds)"
                  : "";
  bool known = rc > 0 && rc <= KILN_ERR_INVALID_INPUT;
  return kiln_fail(err, known ? (kiln_status)rc : KILN_ERR_INTERNAL, "%s returned %d (%s)%s",
                   name, rc, known ? kiln_status_name((kiln_status)rc) : "not a kiln status", why);
}

/* The outputs' shapes are the run's: a size it computes (NonZero's count) is at most the
 * one cli_model_bind_shapes gave, which the buffers were allocated for. */
static kiln_status run_arrays(const cli_model *m, const void *const *inputs,
                              void *const *outputs, kiln_error *err) {
  kiln_array in[CLI_MAX_INPUTS], out[CLI_MAX_INPUTS];
  cli_model_arrays(m, inputs, outputs, in, out);
  kiln_status st = m->jit ? kiln_run_arrays(m->jit, in, out, err) : KILN_OK;
  int rc = m->jit ? KILN_OK : m->lib->run_dims(in, out, NULL);
  if (rc) st = library_failed(m, rc, err);
  for (int i = 0; i < m->noutputs && !st; i++) {
    kiln_tensor_info *t = &m->outputs[i];
    t->rank = out[i].rank;
    memcpy(t->dims, out[i].dims, sizeof t->dims);
    t->bytes = (size_t)kiln_shape_numel(t->rank, t->dims) * kiln_dtype_size(t->dtype);
  }
  return st;
}

bool cli_model_takes_shapes(const cli_model *m) {
  if (m->lib) return m->lib->free_dims;
  for (int i = 0; m->jit && i < m->ninputs + m->noutputs; i++) {
    const kiln_tensor_info *t = i < m->ninputs ? &m->inputs[i] : &m->outputs[i - m->ninputs];
    for (int d = 0; d < t->rank; d++)
      if (t->dims[d] < 0) return true;
  }
  return false;
}

kiln_status cli_model_run(const cli_model *m, const void *const *inputs, void *const *outputs,
                          kiln_error *err) {
  if (m->shaped) return run_arrays(m, inputs, outputs, err);
  if (m->jit) return kiln_run(m->jit, inputs, outputs, err);
  int rc = m->lib->run(inputs, outputs, NULL);
  return rc == KILN_OK ? KILN_OK : library_failed(m, rc, err);
}

kiln_status cli_model_set_threads(cli_model *m, int n, kiln_error *err) {
  if (m->jit) {
    kiln_model_set_num_threads(m->jit, n);
    return KILN_OK;
  }
  if (m->lib->set_threads) {
    m->lib->set_threads(n);
    return KILN_OK;
  }
  if (!n) return KILN_OK;
  return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--threads: the library takes no thread count "
                   "(it exports no %s_set_num_threads: a GPU library)",
                   string_of(m->lib->manifest, "name"));
}

void cli_model_free(cli_model *m) {
  if (m->lib) {
    if (m->lib->handle) dlclose(m->lib->handle);
    kiln_json_free(m->lib->manifest);
    free(m->lib);
  }
  kiln_model_free(m->jit);
  free(m->inputs);
  free(m->outputs);
  memset(m, 0, sizeof *m);
}

kiln_status cli_match_library_inputs(const cli_args *a, const cli_model *m, cli_inputs *in,
                                     kiln_error *err) {
  kiln_value *decl = kiln_xcalloc((size_t)m->ninputs + 1, sizeof *decl);
  const kiln_value **ptrs = kiln_xcalloc((size_t)m->ninputs + 1, sizeof *ptrs);
  for (int i = 0; i < m->ninputs; i++) {
    const kiln_tensor_info *t = &m->inputs[i];
    decl[i].name = (char *)t->name;
    decl[i].dtype = t->dtype;
    decl[i].rank = t->rank;
    memcpy(decl[i].dims, t->dims, sizeof t->dims);
    ptrs[i] = &decl[i];
  }
  kiln_status st = cli_match_inputs(a, ptrs, m->ninputs, in, err);
  free(ptrs);
  free(decl);
  return st;
}

kiln_status cli_library_args_check(const cli_args *a, kiln_error *err) {
  const char *opt = a->nshapes ? "--shape" : a->max_nodes ? "--max-nodes"
                  : a->max_tensor_bytes ? "--max-tensor-bytes" : a->check_bounds ? "--check-bounds"
                  : a->no_fuse ? "--no-fuse" : a->no_layout ? "--no-layout"
                  : a->tuning_log ? "--tuning-log" : a->target ? "--target"
                  : a->gpu_arch ? "--gpu-arch" : a->report ? "--report" : a->html ? "--html"
                  : a->peak_gflops ? "--peak-gflops" : a->peak_gbs ? "--peak-gbs" : NULL;
  if (!opt) return KILN_OK;
  return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s does not apply to an AOT library ('%s' "
                   "is compiled already; it is an option for a model file)", opt, a->model);
}
