/* docs/dsl.md keeps in step with the op table: every op has a row in its op table, and
 * the row names every attribute the op reads. Run from tests/. */
#include "check.h"

#include "frontend/onnx.h"
#include "ir/op.h"

#include <stdlib.h>
#include <string.h>

int main(void) {
  void *data;
  size_t size;
  kiln_error err = {0};
  CHECK(kiln_read_file("../docs/dsl.md", &data, &size, &err) == KILN_OK);
  if (err.code) return check_report();
  const char *doc = data;
  const kiln_op_def *const *ops;
  int n = kiln_op_list(&ops);
  for (int i = 0; i < n; i++) {
    char key[96];
    snprintf(key, sizeof key, "\n| `%s` |", ops[i]->name);
    const char *row = strstr(doc, key);
    if (!row) fprintf(stderr, "docs/dsl.md: op %s is missing\n", ops[i]->name);
    CHECK(row != NULL);
    if (!row) continue;
    const char *end = strchr(row + 1, '\n');
    for (const kiln_attr_spec *a = ops[i]->attrs; a && a->name; a++) {
      if (a->name[0] == '_') continue; /* internal: set by importers, not written by users */
      snprintf(key, sizeof key, "`%s`", a->name);
      const char *at = strstr(row, key);
      if (!at || (end && at > end)) fprintf(stderr, "docs/dsl.md: %s's attribute %s is missing\n", ops[i]->name, a->name);
      CHECK(at && (!end || at < end));
    }
  }
  free(data);
  return check_report();
}
