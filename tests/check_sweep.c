/* `kiln check` says a model compiles exactly when it does: for every STEP-th model under
 * each ROOT (a folder per model, holding model.onnx: the ONNX node tests, the generated
 * whole models), the check's verdict against kiln_compile_file with the same options —
 * none, then, where the folder has test_data_set_0/input_<i>.pb, the inputs' shapes bound
 * from those files; when both fail, the status codes too.
 *
 *   check_sweep STEP ROOT...      exit 0 when they all agree
 */
#include "runtime/model_check.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One model with opts: 0 when check and compile agree. */
static int sweep_one(const char *path, const kiln_options *opts, int *compiled) {
  kiln_check_report r;
  kiln_error cerr = {0}, kerr = {0};
  kiln_status cst = kiln_model_check(path, opts, &r, &cerr);
  kiln_status verdict = cst ? cst : r.verdict;
  if (!cst) kiln_check_report_free(&r);
  kiln_model *m = NULL;
  kiln_status kst = kiln_compile_file(path, opts, &m, &kerr);
  kiln_model_free(m);
  *compiled += kst == KILN_OK;
  if (verdict == kst) return 0;
  printf("MISMATCH %s%s: check %d (%s), compile %d (%s)\n", path,
         opts->nshapes ? " (shapes of test_data_set_0)" : "", verdict,
         cst ? cerr.message : verdict ? "problems" : "compiles", kst, kst ? kerr.message : "ok");
  return 1;
}

/* Bindings of the model's inputs, in order, to the shapes of dir's input_<i>.pb files; the
 * count, 0 when there are none (or no model). */
static int test_shapes(const char *path, const char *dir, kiln_shape_binding *shapes,
                       char **names, int max) {
  kiln_check_report r;
  kiln_error err = {0};
  if (kiln_model_check(path, NULL, &r, &err)) return 0;
  int n = 0;
  for (; n < r.ninputs && n < max; n++) {
    char file[4096];
    snprintf(file, sizeof file, "%s/test_data_set_0/input_%d.pb", dir, n);
    void *data;
    size_t size;
    kiln_tensor t;
    char *name = NULL;
    if (kiln_read_file(file, &data, &size, &err)) break;
    kiln_status st = kiln_onnx_read_tensor(data, size, &t, &name, &err);
    free(data);
    free(name);
    if (st) break;
    names[n] = strdup(r.inputs[n].name);
    shapes[n] = (kiln_shape_binding){names[n], t.rank, {0}};
    memcpy(shapes[n].dims, t.dims, sizeof t.dims);
    kiln_tensor_free(&t);
  }
  kiln_check_report_free(&r);
  return n;
}

/* The model in folder dir, unbound and bound: the number of mismatches. */
static int sweep_dir(const char *dir, int *models, int *compiled) {
  char path[4096];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  if (access(path, R_OK)) return 0;
  kiln_options opts;
  kiln_options_init(&opts);
  int bad = sweep_one(path, &opts, compiled);
  kiln_shape_binding shapes[32];
  char *names[32];
  opts.shapes = shapes;
  opts.nshapes = test_shapes(path, dir, shapes, names, 32);
  if (opts.nshapes) bad += sweep_one(path, &opts, compiled);
  for (int i = 0; i < opts.nshapes; i++) free(names[i]);
  *models += 1 + (opts.nshapes > 0);
  return bad;
}

int main(int argc, char **argv) {
  int step = argc > 2 ? atoi(argv[1]) : 0;
  if (step < 1) {
    fprintf(stderr, "usage: check_sweep STEP ROOT...\n");
    return 2;
  }
  int models = 0, compiled = 0, mismatches = 0;
  for (int a = 2; a < argc; a++) {
    DIR *d = opendir(argv[a]);
    if (!d) {
      printf("FAIL: cannot open %s\n", argv[a]);
      return 1;
    }
    char **names = NULL;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
      if (e->d_name[0] == '.') continue;
      names = realloc(names, sizeof *names * (size_t)(n + 1));
      names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp);
    for (int i = 0; i < n; i++) {
      char dir[2048];
      snprintf(dir, sizeof dir, "%s/%s", argv[a], names[i]);
      if (i % step == 0) mismatches += sweep_dir(dir, &models, &compiled);
      free(names[i]);
    }
    free(names);
  }
  printf("%d models and bindings, %d compile, %d mismatches\n", models, compiled, mismatches);
  /* a sweep that compiled nothing proved nothing */
  return mismatches || !models || !compiled;
}
