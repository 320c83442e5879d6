/* `kiln check` says a model compiles exactly when it does: for every STEP-th model under
 * each ROOT (a folder per model, holding model.onnx: the ONNX node tests, the generated
 * whole models), the check's verdict against kiln_compile_file with the same (no) options;
 * when both fail, the status codes too.
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

/* One model: 0 when check and compile agree. */
static int sweep_one(const char *path, int *compiled) {
  kiln_check_report r;
  kiln_error cerr = {0}, kerr = {0};
  kiln_status cst = kiln_model_check(path, NULL, &r, &cerr);
  kiln_status verdict = cst ? cst : r.verdict;
  if (!cst) kiln_check_report_free(&r);
  kiln_model *m = NULL;
  kiln_status kst = kiln_compile_file(path, NULL, &m, &kerr);
  kiln_model_free(m);
  *compiled += kst == KILN_OK;
  if (verdict == kst) return 0;
  printf("MISMATCH %s: check %d (%s), compile %d (%s)\n", path, verdict,
         cst ? cerr.message : verdict ? "problems" : "compiles", kst, kst ? kerr.message : "ok");
  return 1;
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
      char path[4096];
      snprintf(path, sizeof path, "%s/%s/model.onnx", argv[a], names[i]);
      if (i % step == 0 && !access(path, R_OK)) {
        models++;
        mismatches += sweep_one(path, &compiled);
      }
      free(names[i]);
    }
    free(names);
  }
  printf("%d models, %d compile, %d mismatches\n", models, compiled, mismatches);
  /* a sweep that compiled nothing proved nothing */
  return mismatches || !models || !compiled;
}
