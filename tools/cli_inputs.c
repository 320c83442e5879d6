/* `kiln run`'s input data: DIR/input_<k>.pb files matched to the model's inputs (by the
 * tensor's name, else by position k), or seeded random values where the user asked for
 * them. Every mismatch names the file, the input, and what each side has. */
#include "tools/cli_util.h"

#include "frontend/onnx.h"
#include "ir/dtype.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "f32[1,3,N,N]": dims < 0 print as their name, or "?"; an unknown rank as "f32[...]". */
static const char *type_str(char *buf, size_t size, kiln_dtype dtype, int rank,
                            const int64_t *dims, char *const *dim_names) {
  size_t len = (size_t)snprintf(buf, size, "%s[", dtype ? kiln_dtype_name(dtype) : "?");
  if (rank < 0) len += (size_t)snprintf(buf + len, size - len, "...");
  for (int d = 0; d < rank && len < size; d++) {
    const char *sep = d ? "," : "";
    if (dims[d] >= 0) len += (size_t)snprintf(buf + len, size - len, "%s%lld", sep, (long long)dims[d]);
    else len += (size_t)snprintf(buf + len, size - len, "%s%s", sep, dim_names && dim_names[d] ? dim_names[d] : "?");
  }
  if (len < size) snprintf(buf + len, size - len, "]");
  return buf;
}

static const char *tensor_str(char *buf, size_t size, const kiln_tensor *t) {
  return type_str(buf, size, t->dtype, t->rank, t->dims, NULL);
}

/* "input_<k>.pb" with k a plain decimal number: its k, else -1. */
static int input_position(const char *name) {
  if (strncmp(name, "input_", 6)) return -1;
  const char *p = name + 6;
  int64_t k = 0;
  if (*p == '0' && p[1] != '.') return -1; /* no leading zeros: one name per position */
  for (; *p >= '0' && *p <= '9'; p++)
    if ((k = k * 10 + (*p - '0')) > 1000000) return -1;
  return p > name + 6 && !strcmp(p, ".pb") ? (int)k : -1;
}

static int by_position(const void *x, const void *y) {
  return ((const cli_input_file *)x)->position - ((const cli_input_file *)y)->position;
}

/* Reads every DIR/input_<k>.pb, in order of k. */
static kiln_status read_files(const char *dir, cli_inputs *in, kiln_error *err) {
  struct stat sb;
  if (stat(dir, &sb) != 0)
    return kiln_fail(err, errno == ENOENT ? KILN_ERR_NO_SUCH_FILE : KILN_ERR_IO,
                     "--inputs '%s': %s", dir, errno == ENOENT ? "no such directory" : strerror(errno));
  if (!S_ISDIR(sb.st_mode))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "--inputs '%s' is not a directory (it wants "
                     "the directory holding input_0.pb, input_1.pb...)", dir);
  DIR *d = opendir(dir);
  if (!d) return kiln_fail(err, KILN_ERR_IO, "--inputs '%s': %s", dir, strerror(errno));
  kiln_status st = KILN_OK;
  for (struct dirent *e; !st && (e = readdir(d));) {
    int k = input_position(e->d_name);
    if (k < 0) continue;
    if (in->nfiles == CLI_MAX_INPUTS) {
      st = kiln_fail(err, KILN_ERR_LIMIT, "--inputs '%s': more than %d input_<i>.pb files", dir,
                     CLI_MAX_INPUTS);
      break;
    }
    cli_input_file *f = &in->files[in->nfiles++];
    f->position = k;
    f->path = kiln_fmt("%s/%s", dir, e->d_name);
  }
  closedir(d);
  if (st) return st;
  qsort(in->files, (size_t)in->nfiles, sizeof in->files[0], by_position);
  for (int i = 0; i < in->nfiles; i++) {
    cli_input_file *f = &in->files[i];
    void *data;
    size_t size;
    kiln_error e = {0};
    if (!(st = kiln_read_file(f->path, &data, &size, &e))) {
      st = kiln_onnx_read_tensor(data, size, &f->t, &f->name, &e);
      free(data);
    }
    if (st) /* the library names what is wrong; say in which file */
      return kiln_fail(err, st, "'%s': %s", f->path, e.message);
  }
  return KILN_OK;
}

static bool is_graph_input(const cli_inputs *in, const char *name) {
  for (int i = 0; i < in->ngraph; i++)
    if (!strcmp(in->graph_names[i], name)) return true;
  return false;
}

/* The file of declared input i: the one whose tensor has its name, else the one at its
 * position unless that one is named for another input. */
static int match(const cli_inputs *in, int i) {
  for (int f = 0; f < in->nfiles; f++)
    if (in->files[f].name && !strcmp(in->files[f].name, in->graph_names[i])) return f;
  for (int f = 0; f < in->nfiles; f++)
    if (in->files[f].position == i)
      return in->files[f].name && is_graph_input(in, in->files[f].name) ? -1 : f;
  return -1;
}

/* The file must hold what the model declares: its dtype, rank and fixed dims. */
static kiln_status check_declared(const cli_input_file *f, const kiln_value *v, kiln_error *err) {
  const kiln_tensor *t = &f->t;
  bool dtype_ok = v->dtype == KILN_UNDEFINED || v->dtype == t->dtype;
  bool shape_ok = v->rank < 0 || v->rank == t->rank;
  for (int d = 0; shape_ok && d < v->rank; d++) shape_ok = v->dims[d] < 0 || v->dims[d] == t->dims[d];
  if (dtype_ok && shape_ok) return KILN_OK;
  char have[256], want[256];
  return kiln_fail(err, dtype_ok ? KILN_ERR_SHAPE : KILN_ERR_INVALID_ARGUMENT,
                   "'%s' does not fit input '%s': the file holds %s, the model declares %s",
                   f->path, v->name, tensor_str(have, sizeof have, t),
                   type_str(want, sizeof want, v->dtype, v->rank, v->dims, v->dim_names));
}

/* --shape and a file for the same input must agree. */
static kiln_status check_shape_option(const cli_args *a, const cli_input_file *f,
                                      const char *input, kiln_error *err) {
  for (int s = 0; s < a->nshapes; s++) {
    const kiln_shape_binding *b = &a->shapes[s];
    if (strcmp(b->input, input)) continue;
    bool same = b->rank == f->t.rank;
    for (int d = 0; same && d < b->rank; d++) same = b->dims[d] == f->t.dims[d] || b->dims[d] == -1;
    if (same) continue;
    char have[256], want[256];
    return kiln_fail(err, KILN_ERR_SHAPE, "--shape for input '%s' says %s, but '%s' holds %s", input,
                     type_str(want, sizeof want, f->t.dtype, b->rank, b->dims, NULL), f->path,
                     tensor_str(have, sizeof have, &f->t));
  }
  return KILN_OK;
}

/* Symbolic dims ('N'...) bound so far, and what bound them: a --shape or a file. */
typedef struct named_dims {
  int n;
  const char *name[CLI_MAX_INPUTS * KILN_MAX_RANK];
  int64_t size[CLI_MAX_INPUTS * KILN_MAX_RANK];
  const char *path[CLI_MAX_INPUTS * KILN_MAX_RANK]; /* the file's; NULL: a --shape's */
} named_dims;

/* Records v's named free dims as `dims` gives them; a name already bound to another size
 * is an error naming both places (the library would name neither file). */
static kiln_status bind_names(named_dims *t, const kiln_value *v, const int64_t *dims, int rank,
                              const char *path, kiln_error *err) {
  for (int d = 0; d < v->rank && d < rank; d++) {
    const char *name = v->dim_names[d];
    if (v->dims[d] >= 0 || !name || !strcmp(name, "?") || dims[d] < 0) continue; /* -1: free */
    int k = 0;
    while (k < t->n && strcmp(t->name[k], name)) k++;
    if (k == t->n) {
      t->name[k] = name;
      t->size[k] = dims[d];
      t->path[k] = path;
      t->n++;
    } else if (t->size[k] != dims[d]) {
      return kiln_fail(err, KILN_ERR_SHAPE, "%s%s%s gives input '%s' dim %d ('%s') the size %lld, "
                       "but %s%s%s made '%s' %lld", path ? "'" : "", path ? path : "--shape",
                       path ? "'" : "", v->name, d, name, (long long)dims[d],
                       t->path[k] ? "'" : "", t->path[k] ? t->path[k] : "--shape",
                       t->path[k] ? "'" : "", name, (long long)t->size[k]);
    }
  }
  return KILN_OK;
}

/* Every input gets a file unless --random-inputs; every file goes to an input. */
static kiln_status check_matched(const cli_args *a, const cli_inputs *in, kiln_error *err) {
  char missing[1024] = "";
  size_t len = 0;
  int nmissing = 0;
  for (int i = 0; i < in->ngraph; i++) {
    if (in->file_of[i] >= 0) continue;
    const char *other = NULL; /* the file at its position, named for another input */
    for (int f = 0; f < in->nfiles; f++)
      if (in->files[f].position == i) other = in->files[f].name;
    char at[300];
    if (other) snprintf(at, sizeof at, "input_%d.pb is for '%s'", i, other);
    else snprintf(at, sizeof at, "there is no input_%d.pb", i);
    if (len < sizeof missing)
      len += (size_t)snprintf(missing + len, sizeof missing - len, "%s'%s' (no input_<i>.pb holds "
                              "a tensor of that name, and %s)", nmissing ? ", " : "",
                              in->graph_names[i], at);
    nmissing++;
  }
  if (nmissing && !a->random_inputs)
    return kiln_fail(err, KILN_ERR_NO_SUCH_FILE, "--inputs '%s' has no file for input%s %s; "
                     "--random-inputs gives inputs without a file random values", a->inputs_dir,
                     nmissing > 1 ? "s" : "", missing);
  for (int f = 0; f < in->nfiles; f++) {
    bool used = false;
    for (int i = 0; i < in->ngraph && !used; i++) used = in->file_of[i] == f;
    if (used) continue;
    char names[512] = "";
    size_t n = 0;
    for (int i = 0; i < in->ngraph && n < sizeof names; i++)
      n += (size_t)snprintf(names + n, sizeof names - n, "%s'%s'", i ? ", " : "", in->graph_names[i]);
    const cli_input_file *x = &in->files[f];
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "'%s' (tensor '%s') is for no input of the "
                     "model (its inputs: %s)", x->path, x->name ? x->name : "",
                     in->ngraph ? names : "none");
  }
  return KILN_OK;
}

kiln_status cli_match_inputs(const cli_args *a, const kiln_value *const *decl, int n,
                             cli_inputs *in, kiln_error *err) {
  memset(in, 0, sizeof *in);
  if (n > CLI_MAX_INPUTS)
    return kiln_fail(err, KILN_ERR_LIMIT, "the model has %d inputs; kiln run takes at most %d",
                     n, CLI_MAX_INPUTS);
  for (int i = 0; i < n; i++) {
    in->graph_names[in->ngraph++] = kiln_xstrdup(decl[i]->name);
    in->file_of[i] = -1;
  }
  kiln_status st = KILN_OK;
  named_dims *names = kiln_xcalloc(1, sizeof *names);
  if (a->inputs_dir && !(st = read_files(a->inputs_dir, in, err))) {
    for (int i = 0; i < in->ngraph; i++) in->file_of[i] = match(in, i);
    st = check_matched(a, in, err);
    for (int s = 0; s < a->nshapes && !st; s++)
      for (int i = 0; i < in->ngraph; i++)
        if (!strcmp(in->graph_names[i], a->shapes[s].input))
          bind_names(names, decl[i], a->shapes[s].dims, a->shapes[s].rank, NULL,
                     NULL); /* conflicts between --shapes are the library's to report */
    for (int i = 0; i < in->ngraph && !st; i++) {
      int f = in->file_of[i];
      if (f < 0) continue;
      st = check_declared(&in->files[f], decl[i], err);
      if (!st) st = check_shape_option(a, &in->files[f], in->graph_names[i], err);
      if (!st) st = bind_names(names, decl[i], in->files[f].t.dims, in->files[f].t.rank, in->files[f].path, err);
    }
  }
  free(names);
  return st;
}

kiln_status cli_load_inputs(const cli_args *a, cli_inputs *in, kiln_error *err) {
  memset(in, 0, sizeof *in);
  kiln_graph *g = NULL;
  kiln_options opts = {.struct_size = sizeof opts};
  cli_fill_options(a, &opts);
  kiln_status st = cli_import(a->model, &opts, &g, err);
  if (st) return st;
  const kiln_value **decl = kiln_xcalloc((size_t)g->ninputs + 1, sizeof *decl);
  for (int i = 0; i < g->ninputs; i++) decl[i] = &g->values[g->inputs[i]];
  st = cli_match_inputs(a, decl, g->ninputs, in, err);
  free(decl);
  kiln_graph_free(g);
  return st;
}

const cli_input_file *cli_input_file_for(const cli_inputs *in, const char *name) {
  for (int i = 0; i < in->ngraph; i++)
    if (!strcmp(in->graph_names[i], name))
      return in->file_of[i] >= 0 ? &in->files[in->file_of[i]] : NULL;
  return NULL;
}

kiln_status cli_fill_inputs(const kiln_tensor_info *infos, int ninfos, cli_inputs *in,
                            unsigned seed, kiln_error *err) {
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int i = 0; i < ninfos && i < CLI_MAX_INPUTS; i++) {
    kiln_tensor_info info = infos[i];
    const cli_input_file *f = cli_input_file_for(in, info.name);
    if (f) { /* checked against the declaration already; this is the compiled model */
      const kiln_tensor *t = &f->t;
      if (t->dtype != info.dtype ||
          kiln_shape_numel(t->rank, t->dims) * (int64_t)kiln_dtype_size(t->dtype) != (int64_t)info.bytes) {
        char have[256], want[256];
        return kiln_fail(err, KILN_ERR_SHAPE, "'%s' does not fit input '%s': the file holds %s, "
                         "the compiled model takes %s", f->path, info.name,
                         tensor_str(have, sizeof have, t),
                         type_str(want, sizeof want, info.dtype, info.rank, info.dims, NULL));
      }
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
    kiln_tensor_free(&in->files[i].t);
    free(in->files[i].name);
    free(in->files[i].path);
  }
  for (int i = 0; i < in->ngraph; i++) free(in->graph_names[i]);
  for (int i = 0; i < CLI_MAX_INPUTS; i++)
    if (in->owned[i]) free(in->data[i]);
  memset(in, 0, sizeof *in);
}
