/* kiln_options.progress: a compile (JIT, AOT, failing) reports every pass of the pipeline in
 * order, then codegen, each with the steps done before it, and ends with one call of step
 * NULL and done == total, on success and on failure alike; without the callback nothing is
 * called (the CLI's display, tools/cli_util.c, is tested by tests/cli_progress.sh). */
#include "check.h"

#include "kiln.h"
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CALLS 64

typedef struct calls {
  int n, total[MAX_CALLS], done[MAX_CALLS];
  char step[MAX_CALLS][32];
} calls;

static void record(void *user, const char *step, int done, int total) {
  calls *c = user;
  if (c->n == MAX_CALLS) return;
  snprintf(c->step[c->n], sizeof c->step[0], "%s", step ? step : "(end)");
  c->done[c->n] = done;
  c->total[c->n++] = total;
}

static const char *text = "model m(x: f32[2, 4]) {\n  return y = Relu(x * 2 + 1)\n}\n";

/* Every pass, "codegen", the end: in order, done counting up, one total. */
static void check_complete(const calls *c) {
  int npasses = 0;
  while (kiln_pass_name(npasses)) npasses++;
  CHECK(c->n == npasses + 2);
  for (int i = 0; i < c->n && i < npasses + 2; i++) {
    const char *want = i < npasses ? kiln_pass_name(i) : i == npasses ? "codegen" : "(end)";
    CHECK(!strcmp(c->step[i], want));
    CHECK(c->done[i] == i && c->total[i] == npasses + 1);
  }
}

int main(void) {
  kiln_options o;
  kiln_error err;
  kiln_model *m = NULL;
  calls c = {0};

  kiln_options_init(&o);
  o.progress = record;
  o.progress_user = &c;
  CHECK(kiln_compile_buffer(text, strlen(text), &o, &m, &err) == KILN_OK);
  check_complete(&c);
  kiln_model_free(m);

  char dir[] = "/tmp/kiln_progress_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char src[64], lib[64], hdr[64];
  snprintf(src, sizeof src, "%s/m.kiln", dir);
  snprintf(lib, sizeof lib, "%s/libm.so", dir);
  snprintf(hdr, sizeof hdr, "%s/m.h", dir);
  FILE *f = fopen(src, "w");
  CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
  memset(&c, 0, sizeof c);
  CHECK(kiln_compile_aot(src, &o, lib, "m", &err) == KILN_OK);
  check_complete(&c);

  /* a failing compile still ends the display */
  memset(&c, 0, sizeof c);
  const char *bad = "model m(x: f32[2, 4]) {\n  return y = NoSuchOp(x)\n}\n";
  CHECK(kiln_compile_buffer(bad, strlen(bad), &o, &m, &err) != KILN_OK);
  CHECK(c.n >= 1 && !strcmp(c.step[c.n - 1], "(end)") && c.done[c.n - 1] == c.total[c.n - 1]);

  /* no callback: nothing to call */
  kiln_options_init(&o);
  CHECK(kiln_compile_buffer(text, strlen(text), &o, &m, &err) == KILN_OK);
  kiln_model_free(m);

  unlink(src);
  unlink(lib);
  unlink(hdr);
  rmdir(dir);
  return check_report();
}
