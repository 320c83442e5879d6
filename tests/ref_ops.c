/* Every ONNX node test listed in the file named on the command line (one per line, '#'
 * starts a comment; tests/ref_ops_<group>.txt) run through the reference path: import, bind inputs as values,
 * infer, fold with the kernel-IR interpreter, compare. Checks op semantics apart from
 * codegen. */
#include "check.h"
#include "node_test.h"

#include <stdio.h>
#include <string.h>

#define NODE_DIR "/usr/share/libonnx-testdata/data/node"

static void run_one(const char *name) {
  char dir[1024], why[4200] = "";
  snprintf(dir, sizeof dir, "%s/%s", NODE_DIR, name);
  node_test t;
  kiln_error err = {0};
  int ok = 0;
  if (node_test_load(&t, dir, &err) == KILN_OK) ok = node_test_run_reference(&t, why, sizeof why);
  else snprintf(why, sizeof why, "%s", err.message);
  node_test_free(&t);
  if (!ok) fprintf(stderr, "FAIL %s: %s\n", name, why);
  CHECK(ok);
}

int main(int argc, char **argv) {
  FILE *f = argc > 1 ? fopen(argv[1], "r") : NULL;
  CHECK(f != NULL);
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, " \t\r\n#")] = 0;
    if (line[0]) run_one(line);
  }
  if (f) fclose(f);
  return check_report();
}
