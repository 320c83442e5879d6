/* Tuning logs (ir/tuning_log.h) and applying them (passes/tune.h): the content hash
 * ignores schedules and nothing else; a record printed reads back the same and prints
 * the same bytes; a record for another kernel, stage count, target (triple, CPU,
 * features, threads) or kiln version is never chosen; of several matching records the
 * fastest wins, the same one whatever their order; every malformed line is refused with
 * a message naming the file and line, and random damage to a valid line never crashes.
 * Choice records (a graph pass's choice for a node) likewise.
 * Then through the pipeline: a hand-written record with other recipes changes the
 * kernel's schedule (the naive nest), a record that does not apply changes nothing, and
 * the model computes the same outputs with and without the log. */
#include "check.h"

#include "ir/kernel_sig.h"
#include "ir/schedule.h"
#include "ir/tuning_log.h"
#include "passes/tune.h"
#include "runtime/profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kiln_kernel *make(int64_t n) {
  kiln_kernel *k = kiln_kernel_new("scale");
  k->op = "Mul";
  int64_t d[2] = {n, 64};
  int in = kiln_kernel_add_buffer(k, "in", KILN_BUF_INPUT, 0, KILN_F32, 2, d);
  int out = kiln_kernel_add_buffer(k, "out", KILN_BUF_OUTPUT, 1, KILN_F32, 2, d);
  kiln_stage *s = kiln_kernel_add_stage(k, "mul", out);
  kiln_expr *i[2] = {kx_var(k, kiln_stage_axis(s, n, false)), kx_var(k, kiln_stage_axis(s, 64, false))};
  kiln_stage_store(k, s, i, kx_binary(k, KB_MUL, kx_load(k, in, i), kx_const_f(k, KILN_F32, 2)));
  kiln_schedule_default(s);
  return k;
}

static kiln_tuning_target target(void) {
  return (kiln_tuning_target){"x86_64-pc-linux-gnu", "znver4", "+avx2,+fma", 4};
}

static char *write_record(const kiln_tuning_record *r) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  kiln_tuning_record_write(r, f);
  fclose(f);
  return text;
}

static void hashes(void) {
  kiln_kernel *a = make(32), *b = make(32), *c = make(33);
  char ha[17], hb[17], hc[17];
  kiln_recipe r = {0};
  CHECK(!kiln_recipe_parse("split(1,8) vector(2)", &r, NULL));
  CHECK(!kiln_schedule_apply(&b->stages[0], &r, NULL));
  CHECK(kiln_kernel_hash(a, ha) && kiln_kernel_hash(b, hb) && kiln_kernel_hash(c, hc));
  CHECK(strlen(ha) == 16 && !strcmp(ha, hb)); /* the schedule is not part of the hash */
  CHECK(strcmp(ha, hc) != 0);                 /* a dim is */
  kiln_kernel_free(a);
  kiln_kernel_free(b);
  kiln_kernel_free(c);
}

static void round_trip(void) {
  kiln_kernel *k = make(32);
  kiln_recipe r = {0};
  CHECK(!kiln_recipe_parse("split(1,16) move(2,0) parallel(0) vector(2)", &r, NULL));
  CHECK(!kiln_schedule_apply(&k->stages[0], &r, NULL));
  char hash[17];
  kiln_kernel_hash(k, hash);
  kiln_tuning_target t = target();
  kiln_recipe def = {0};
  CHECK(!kiln_recipe_parse("parallel(0)", &def, NULL));
  kiln_tuning_record rec;
  kiln_tuning_record_init(&rec, k, hash, &t, 1234.5, 2000.25, &def);
  char *line = write_record(&rec);
  CHECK(strstr(line, "\"default\": [\"parallel(0)\"]") != NULL);
  kiln_tuning_log log = {0};
  kiln_error err = {0};
  CHECK(!kiln_tuning_log_parse(&log, line, strlen(line), "mem.log", &err));
  CHECK(log.n == 1);
  if (log.n == 1) {
    const kiln_tuning_record *g = &log.records[0];
    CHECK(!strcmp(g->kernel, hash) && g->nstages == 1 && g->line == 1);
    CHECK(!strcmp(g->stages[0], "split(1,16) move(2,0) parallel(0) vector(2)"));
    CHECK(g->recipes[0].nsteps == 4 && g->time_ns == 1234.5 && g->default_ns == 2000.25);
    CHECK(kiln_tuning_target_equal(&g->target, &t) && !strcmp(g->version, KILN_VERSION));
    CHECK(!strcmp(g->op, "Mul") && g->defaults && !strcmp(g->defaults[0], "parallel(0)"));
    char *again = write_record(g);
    CHECK(!strcmp(line, again));
    free(again);
    /* the record applies: the stage gets exactly that nest back */
    kiln_kernel *fresh = make(32);
    CHECK(kiln_kernel_apply_recipes(fresh, g->recipes, g->nstages));
    CHECK(!memcmp(&fresh->stages[0].sched, &k->stages[0].sched, sizeof k->stages[0].sched));
    kiln_kernel_free(fresh);
  }
  kiln_tuning_log_free(&log);
  free(line);
  kiln_tuning_record_clear(&rec);
  kiln_kernel_free(k);
}

/* A record line for kernel hash h with the given recipe, time and key fields. */
static char *line_for(const char *h, const char *cpu, int threads, const char *version,
                      const char *recipe, double ns) {
  return kiln_fmt("{\"kernel\": \"%s\", \"target\": {\"triple\": \"x86_64-pc-linux-gnu\", "
                  "\"cpu\": \"%s\", \"features\": \"+avx2,+fma\", \"threads\": %d}, "
                  "\"version\": \"%s\", \"stages\": [\"%s\"], \"time_ns\": %g}\n",
                  h, cpu, threads, version, recipe, ns);
}

static void matching(void) {
  const char *h = "0123456789abcdef";
  kiln_tuning_target t = target();
  char *lines[] = {
      line_for(h, "znver4", 4, KILN_VERSION, "split(1,8)", 500),
      line_for(h, "znver4", 4, KILN_VERSION, "split(1,4)", 400),   /* the fastest */
      line_for(h, "znver4", 4, KILN_VERSION, "split(1,2)", 400.5),
      line_for(h, "znver3", 4, KILN_VERSION, "split(1,16)", 100),  /* another CPU */
      line_for(h, "znver4", 2, KILN_VERSION, "split(1,16)", 100),  /* other threads */
      line_for(h, "znver4", 4, "0.0.1", "split(1,16)", 100),       /* another version */
      line_for("fedcba9876543210", "znver4", 4, KILN_VERSION, "split(1,16)", 100),
  };
  int n = (int)(sizeof lines / sizeof *lines);
  for (int order = 0; order < 2; order++) { /* concatenated forwards and backwards */
    kiln_tuning_log log = {0};
    for (int i = 0; i < n; i++) {
      const char *l = lines[order ? n - 1 - i : i];
      CHECK(!kiln_tuning_log_parse(&log, l, strlen(l), "m.log", NULL));
    }
    CHECK(log.n == n);
    const kiln_tuning_record *best = kiln_tuning_log_best(&log, h, 1, &t, KILN_VERSION, NULL);
    CHECK(best && !strcmp(best->stages[0], "split(1,4)"));
    CHECK(!kiln_tuning_log_best(&log, h, 2, &t, KILN_VERSION, NULL)); /* stage count */
    CHECK(!kiln_tuning_log_best(&log, "1111111111111111", 1, &t, KILN_VERSION, NULL));
    kiln_tuning_target other = t;
    other.features = "+avx2";
    CHECK(!kiln_tuning_log_best(&log, h, 1, &other, KILN_VERSION, NULL));
    kiln_tuning_log_free(&log);
  }
  /* equal times: the lexically first recipes, whatever the order */
  char *tie[2] = {line_for(h, "znver4", 4, KILN_VERSION, "split(1,8)", 300),
                  line_for(h, "znver4", 4, KILN_VERSION, "split(1,16)", 300)};
  for (int order = 0; order < 2; order++) {
    kiln_tuning_log log = {0};
    char *text = kiln_fmt("%s%s", tie[order], tie[1 - order]);
    CHECK(!kiln_tuning_log_parse(&log, text, strlen(text), "m.log", NULL));
    const kiln_tuning_record *best = kiln_tuning_log_best(&log, h, 1, &t, KILN_VERSION, NULL);
    CHECK(best && !strcmp(best->stages[0], "split(1,16)"));
    kiln_tuning_log_free(&log);
    free(text);
  }
  for (int i = 0; i < n; i++) free(lines[i]);
  free(tie[0]);
  free(tie[1]);
  /* the defaults a record beat: one measured against other defaults is passed over when
   * the caller names the kernel's current ones (stale), and kept when it does not */
  char *with = kiln_fmt("{\"kernel\": \"%s\", \"target\": {\"triple\": \"x86_64-pc-linux-gnu\", "
                        "\"cpu\": \"znver4\", \"features\": \"+avx2,+fma\", \"threads\": 4}, "
                        "\"version\": \"%s\", \"stages\": [\"split(1,4)\"], \"default\": "
                        "[\"split(1,8)\"], \"time_ns\": 100}\n", h, KILN_VERSION);
  char *without = line_for(h, "znver4", 4, KILN_VERSION, "split(1,2)", 200);
  kiln_tuning_log log = {0};
  CHECK(!kiln_tuning_log_parse(&log, with, strlen(with), "d.log", NULL));
  CHECK(!kiln_tuning_log_parse(&log, without, strlen(without), "d.log", NULL));
  const char *now[] = {"split(1,8)"}, *moved[] = {"split(1,16)"};
  const kiln_tuning_record *b = kiln_tuning_log_best(&log, h, 1, &t, KILN_VERSION, now);
  CHECK(b && !strcmp(b->stages[0], "split(1,4)"));
  b = kiln_tuning_log_best(&log, h, 1, &t, KILN_VERSION, moved);
  CHECK(b && !strcmp(b->stages[0], "split(1,2)")); /* no defaults named: not stale */
  b = kiln_tuning_log_best(&log, h, 1, &t, KILN_VERSION, NULL);
  CHECK(b && !strcmp(b->stages[0], "split(1,4)"));
  kiln_tuning_log_free(&log);
  free(with);
  free(without);
}

/* text after one good line and a blank one: refused naming m.log line 3 and `what` */
static void refused(const char *text, size_t len, const char *what) {
  char *good = line_for("0123456789abcdef", "znver4", 4, KILN_VERSION, "split(1,8)", 5);
  size_t glen = strlen(good);
  char *all = kiln_xmalloc(glen + 2 + len + 1);
  memcpy(all, good, glen);
  memcpy(all + glen, " \n", 2);
  memcpy(all + glen + 2, text, len);
  kiln_tuning_log log = {0};
  kiln_error err = {0};
  kiln_status st = kiln_tuning_log_parse(&log, all, glen + 2 + len, "m.log", &err);
  CHECK(st == KILN_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "tuning log 'm.log' line 3: ") != NULL);
  if (!strstr(err.message, what)) {
    check_failures++;
    fprintf(stderr, "%s: message '%s' does not say '%s'\n", text, err.message, what);
  }
  CHECK(log.n == 1); /* the records before it */
  kiln_tuning_log_free(&log);
  free(all);
  free(good);
}

static void malformed(void) {
  const char *h = "0123456789abcdef";
  struct { const char *text, *what; } bad[] = {
      {"{", "not JSON"},
      {"[1, 2]", "not a JSON object"},
      {"{\"kernel\": \"x\"} trailing", "text after"},
      {"{\"kernel\": \"\\ud800\"}", "bad escape"},
      {"{\"kernel\": \"a\001b\"}", "control character"},
      {"{\"stages\": 01}", "column 13"},
      {"{\"stages\": 1.}", "bad number"},
      {"{\"kernel\": \"0123456789abcdef\"}", "no \"target\""},
      {"{\"kernel\": 5, \"target\": {}}", "no string \"kernel\""},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) refused(bad[i].text, strlen(bad[i].text), bad[i].what);
  char *l;
#define FIELD(cpu, threads, recipe, ns, what) \
  (l = line_for(h, cpu, threads, KILN_VERSION, recipe, ns), refused(l, strlen(l), what), free(l))
  FIELD("znver4", 0, "split(1,8)", 5, "threads");
  FIELD("znver4", 4, "split(1)", 5, "bad arguments to split");
  FIELD("znver4", 4, "frobnicate(0)", 5, "unknown step");
  FIELD("znver4", 4, "split(1,8)", -5, "time_ns");
  const char *bad_defaults[][2] = {{"\"split(1,8)\"", "\"default\" is not an array"},
                                   {"[]", "one per stage"},
                                   {"[3]", "\"default\"[0] is not a string"},
                                   {"[\"split(1)\"]", "bad arguments to split"}};
  for (int i = 0; i < 4; i++) {
    l = kiln_fmt("{\"kernel\": \"%s\", \"target\": {\"triple\": \"x\", \"cpu\": \"y\", "
                 "\"features\": \"\", \"threads\": 1}, \"version\": \"v\", \"stages\": "
                 "[\"split(1,8)\"], \"default\": %s, \"time_ns\": 5}", h, bad_defaults[i][0]);
    refused(l, strlen(l), bad_defaults[i][1]);
    free(l);
  }
  l = line_for("0123456789ABCDEF", "znver4", 4, KILN_VERSION, "", 5);
  refused(l, strlen(l), "hex digits");
  free(l);
  /* a NUL byte inside a line, nesting far too deep, a line cut short */
  refused("{\"kernel\": \"a\0b\"}", 16, "control character");
  char deep[4000];
  memset(deep, '[', sizeof deep);
  refused(deep, sizeof deep, "nested deeper");
  l = line_for(h, "znver4", 4, KILN_VERSION, "split(1,8)", 5);
  refused(l, strlen(l) / 2, "not JSON");
  free(l);
}

/* A choice record (ir/choice.h): printed, it reads back the same; of the records for its
 * key and choice, target and version, the fastest wins, whatever their order; one for
 * another key, choice, target, version or default value is never chosen; malformed
 * fields are refused naming the line. */
static void choices(void) {
  kiln_tuning_target t = target(), other = {"x86_64-pc-linux-gnu", "znver5", "+avx2,+fma", 4};
  const char *key = "00112233445566aa";
  kiln_tuning_record rs[7];
  kiln_tuning_choice_init(&rs[0], key, "panels", "MatMul", 64, 32, &t, 90, 100);
  kiln_tuning_choice_init(&rs[1], key, "panels", "MatMul", 0, 32, &t, 80, 100);   /* the best */
  kiln_tuning_choice_init(&rs[2], key, "panels", "MatMul", 16, 32, &other, 10, 100); /* CPU */
  kiln_tuning_choice_init(&rs[3], key, "panels", "MatMul", 16, 48, &t, 10, 100);  /* stale */
  kiln_tuning_choice_init(&rs[4], "00112233445566ab", "panels", "MatMul", 16, 32, &t, 10, 100);
  kiln_tuning_choice_init(&rs[5], key, "layout", "MatMul", 16, 32, &t, 10, 100);
  kiln_tuning_choice_init(&rs[6], key, "panels", "MatMul", 16, 32, &t, 10, 100);
  free(rs[6].version);
  rs[6].version = kiln_xstrdup("0.0.1"); /* another kiln */
  for (int order = 0; order < 2; order++) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    for (int i = 0; i < 7; i++) kiln_tuning_record_write(&rs[order ? 6 - i : i], f);
    fclose(f);
    kiln_tuning_log log = {0};
    kiln_error err = {0};
    CHECK(!kiln_tuning_log_parse(&log, text, len, "c.log", &err) && log.n == 7);
    const kiln_tuning_record *r = kiln_tuning_log_choice(&log, key, "panels", &t, KILN_VERSION, 32);
    CHECK(r && r->value == 0 && r->default_value == 32 && r->time_ns == 80 && !r->kernel[0]);
    CHECK(r && r->op && !strcmp(r->op, "MatMul") && !strcmp(r->choice, "panels"));
    CHECK(kiln_tuning_log_best(&log, key, 0, &t, KILN_VERSION, NULL) == NULL);
    CHECK(kiln_tuning_log_choice(&log, key, "panels", &t, KILN_VERSION, 16) == NULL);
    /* printed again: the same bytes */
    char *again = write_record(r);
    char *want = write_record(&rs[1]);
    CHECK(!strcmp(again, want));
    free(again);
    free(want);
    kiln_tuning_log_free(&log);
    free(text);
  }
  for (int i = 0; i < 7; i++) kiln_tuning_record_clear(&rs[i]);
  const char *tgt = "\"target\": {\"triple\": \"x\", \"cpu\": \"y\", \"features\": \"\", "
                    "\"threads\": 1}, \"version\": \"v\", \"time_ns\": 5";
  struct { const char *fields, *what; } bad[] = {
      {"\"node\": \"0123456789abcdef\", \"choice\": \"panels\", \"value\": -1", "\"value\""},
      {"\"node\": \"0123456789abcdef\", \"choice\": \"panels\", \"value\": 1.5", "\"value\""},
      {"\"node\": \"0123456789abcdef\", \"choice\": \"panels\"", "\"value\""},
      {"\"node\": \"0123456789abcdef\", \"choice\": \"Panels!\", \"value\": 0", "\"choice\""},
      {"\"node\": \"0123456789abcdef\", \"value\": 0", "no string \"choice\""},
      {"\"node\": \"01234\", \"choice\": \"panels\", \"value\": 0", "\"node\" is not 16"},
      {"\"node\": \"0123456789abcdef\", \"choice\": \"panels\", \"value\": 0, "
       "\"default_value\": \"32\"", "\"default_value\""},
      {"\"node\": \"0123456789abcdef\", \"kernel\": \"0123456789abcdef\", \"choice\": "
       "\"panels\", \"value\": 0", "one or the other"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char *l = kiln_fmt("{%s, %s}", bad[i].fields, tgt);
    refused(l, strlen(l), bad[i].what);
    free(l);
  }
}

/* Random damage to a valid line: parsing never crashes, and fails naming the line or
 * gives a record. */
static void hostile(void) {
  char *good = line_for("0123456789abcdef", "znver4", 4, KILN_VERSION, "split(1,8) vector(2)", 5);
  size_t n = strlen(good);
  uint32_t seed = 7;
  for (int round = 0; round < 3000; round++) {
    char *bad = kiln_xmalloc(n + 1);
    memcpy(bad, good, n + 1);
    for (int e = 0; e < 1 + round % 4; e++) {
      seed = seed * 1664525u + 1013904223u;
      size_t at = (seed >> 8) % n;
      seed = seed * 1664525u + 1013904223u;
      bad[at] = (char)(seed >> 24);
    }
    size_t len = round % 5 == 0 ? (seed >> 8) % n : n;
    kiln_tuning_log log = {0};
    kiln_error err = {0};
    if (kiln_tuning_log_parse(&log, bad, len, "fuzz.log", &err)) CHECK(strstr(err.message, "line 1"));
    kiln_tuning_log_free(&log);
    free(bad);
  }
  free(good);
}

/* The pipeline with a log: the MatMul kernels of the MLP get the naive nest (empty recipes
 * for every stage, a record a person could write), or keep their default schedule when
 * the record does not apply; outputs are the same with and without the log. */
static void through_pipeline(void) {
  const char *model = "../examples/mlp.kiln";
  kiln_shape_binding shape = {"x", 2, {4, 784}};
  kiln_options opts = {.struct_size = sizeof opts, .shapes = &shape, .nshapes = 1};
  kiln_program *p = NULL;
  kiln_error err = {0};
  CHECK(!kiln_program_from_file(model, &opts, "schedule", &p, &err));
  if (!p) {
    fprintf(stderr, "%s\n", err.message);
    return;
  }
  const kiln_kernel *k = p->main.steps[0].kernel;
  CHECK(k->stages[k->nstages - 1].recipe.nsteps > 0); /* the default tiles the GEMM */
  char hash[17], *path = kiln_fmt("/tmp/kiln_unit_tuning_%d.log", (int)getpid());
  kiln_kernel_hash(k, hash);
  kiln_tuning_target t;
  kiln_tuning_target_of(&opts, &t);
  FILE *f = fopen(path, "w");
  fprintf(f, "{\"kernel\": \"%s\", \"target\": {\"triple\": \"%s\", \"cpu\": \"%s\", "
          "\"features\": \"%s\", \"threads\": %d}, \"version\": \"%s\", \"stages\": [", hash,
          t.triple, t.cpu, t.features, t.threads, KILN_VERSION);
  int nstages = k->nstages;
  char **defaults = kiln_xcalloc((size_t)nstages, sizeof *defaults);
  for (int s = 0; s < nstages; s++) defaults[s] = kiln_recipe_text(&k->stages[s].recipe);
  for (int s = 0; s < nstages; s++) fprintf(f, "%s\"\"", s ? ", " : "");
  fprintf(f, "], \"time_ns\": 10}\n");
  fclose(f);
  kiln_program_free(p); /* k with it */

  opts.tuning_log = path;
  CHECK(!kiln_program_from_file(model, &opts, NULL, &p, &err));
  if (p) {
    const kiln_kernel *tk = p->main.steps[0].kernel;
    for (int s = 0; s < tk->nstages; s++) CHECK(tk->stages[s].recipe.nsteps == 0);
    CHECK(p->tuning && strstr(p->tuning, "1 of ") && strstr(p->tuning, hash));
    kiln_program_free(p);
  }
  /* outputs with and without the log agree */
  kiln_model *m0 = NULL, *m1 = NULL;
  kiln_options plain = opts;
  plain.tuning_log = NULL;
  CHECK(!kiln_compile_file(model, &plain, &m0, &err) && !kiln_compile_file(model, &opts, &m1, &err));
  if (m0 && m1) {
    static float x[4 * 784], y0[40], y1[40];
    for (int i = 0; i < 4 * 784; i++) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    const void *in[1] = {x};
    void *o0[1] = {y0}, *o1[1] = {y1};
    CHECK(!kiln_run(m0, in, o0, NULL) && !kiln_run(m1, in, o1, NULL));
    for (int i = 0; i < 40; i++) CHECK(fabsf(y0[i] - y1[i]) <= 1e-5f + 1e-4f * fabsf(y0[i]));
  }
  kiln_model_free(m0);
  kiln_model_free(m1);

  /* a record whose recipe does not apply (no loop 20) is ignored */
  f = fopen(path, "w");
  fprintf(f, "{\"kernel\": \"%s\", \"target\": {\"triple\": \"%s\", \"cpu\": \"%s\", "
          "\"features\": \"%s\", \"threads\": %d}, \"version\": \"%s\", \"stages\": [", hash,
          t.triple, t.cpu, t.features, t.threads, KILN_VERSION);
  for (int s = 0; s < nstages; s++) fprintf(f, "%s\"split(20,2)\"", s ? ", " : "");
  fprintf(f, "], \"time_ns\": 10}\n");
  fclose(f);
  CHECK(!kiln_program_from_file(model, &opts, NULL, &p, &err));
  if (p) {
    const kiln_kernel *tk = p->main.steps[0].kernel;
    CHECK(tk->stages[tk->nstages - 1].recipe.nsteps > 0);
    CHECK(p->tuning && strstr(p->tuning, ": 0 of "));
    kiln_program_free(p);
  }
  /* a record measured against other default recipes than the kernel's now is stale:
   * ignored; against the same ones it applies */
  for (int same = 0; same < 2; same++) {
    f = fopen(path, "w");
    fprintf(f, "{\"kernel\": \"%s\", \"target\": {\"triple\": \"%s\", \"cpu\": \"%s\", "
            "\"features\": \"%s\", \"threads\": %d}, \"version\": \"%s\", \"stages\": [", hash,
            t.triple, t.cpu, t.features, t.threads, KILN_VERSION);
    for (int s = 0; s < nstages; s++) fprintf(f, "%s\"\"", s ? ", " : "");
    fprintf(f, "], \"default\": [");
    for (int s = 0; s < nstages; s++)
      fprintf(f, "%s\"%s\"", s ? ", " : "", same ? defaults[s] : "split(0,3)");
    fprintf(f, "], \"time_ns\": 10}\n");
    fclose(f);
    CHECK(!kiln_program_from_file(model, &opts, NULL, &p, &err));
    if (p) {
      const kiln_kernel *tk = p->main.steps[0].kernel;
      CHECK((tk->stages[tk->nstages - 1].recipe.nsteps == 0) == (same == 1));
      CHECK(p->tuning && strstr(p->tuning, same ? ": 1 of " : ": 0 of "));
      kiln_program_free(p);
    }
  }
  for (int s = 0; s < nstages; s++) free(defaults[s]);
  free(defaults);
  /* a malformed log fails the compile naming file and line; a missing one too */
  f = fopen(path, "w");
  fprintf(f, "\n{oops\n");
  fclose(f);
  CHECK(kiln_program_from_file(model, &opts, NULL, &p, &err) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err.message, path) && strstr(err.message, "line 2"));
  unlink(path);
  err = (kiln_error){0};
  CHECK(kiln_program_from_file(model, &opts, NULL, &p, &err) == KILN_ERR_NO_SUCH_FILE);
  CHECK(strstr(err.message, path) != NULL);
  kiln_tuning_target_clear(&t);
  free(path);
}

int main(void) {
  hashes();
  round_trip();
  matching();
  malformed();
  hostile();
  choices();
  through_pipeline();
  return check_report();
}
