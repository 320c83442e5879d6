/* String tensors through the public API (JIT): a run's string outputs are malloc'd copies
 * the caller frees, whatever made them (a string function, a movement of an input's
 * strings, Identity); a NULL input element reads as ""; a run on several threads (a large
 * elementwise kernel) builds its strings in one heap; sizes the run computes
 * (StringNormalizer's stopwords) through kiln_run_arrays; ops without strings, AOT and the
 * GPU target refuse them by name. The run-time library's case mapping and number
 * formatting are checked on their own. */
#include "check.h"

#include "kiln.h"
#include "rt/strings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kiln_model *compile(const char *text, kiln_error *err) {
  kiln_options o = {.struct_size = sizeof o};
  kiln_model *m = NULL;
  if (kiln_compile_buffer(text, strlen(text), &o, &m, err)) {
    fprintf(stderr, "compile: %s\n", err->message);
    return NULL;
  }
  return m;
}

static void free_strings(char **s, int n) {
  for (int i = 0; i < n; i++) free(s[i]);
}

static void elementwise(void) {
  const char *text = "model m(s: string[4], t: string[4]) {\n"
                     "  return c = StringConcat(s, t), e = Equal(s, t), n = Cast(s, to=1),\n"
                     "         i = Identity(s), r = Reshape(t, [2, 2]) }";
  kiln_error err;
  kiln_model *m = compile(text, &err);
  CHECK(m != NULL);
  if (!m) return;
  const char *s[4] = {"1.5", NULL, "ab", "-inf"}, *t[4] = {"1.5", "", "cd", "x"};
  char *c[4], *i[4], *r[4];
  bool e[4];
  float n[4];
  const void *ins[2] = {s, t};
  void *outs[5] = {c, e, n, i, r};
  for (int rep = 0; rep < 2; rep++) { /* the heap of one run does not leak into the next */
    CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
    CHECK(!strcmp(c[0], "1.51.5") && !strcmp(c[1], "") && !strcmp(c[2], "abcd") &&
          !strcmp(c[3], "-infx"));
    CHECK(e[0] && e[1] && !e[2] && !e[3]);
    CHECK(n[0] == 1.5f && n[1] == 0.0f && n[3] < -1e38f);
    /* an input's strings come back as copies, NULL as "" */
    CHECK(i[0] != s[0] && !strcmp(i[0], "1.5") && i[1] && !strcmp(i[1], ""));
    CHECK(!strcmp(r[3], "x") && r[3] != t[3]);
    free_strings(c, 4), free_strings(i, 4), free_strings(r, 4);
  }
  kiln_tensor_info info;
  CHECK(kiln_output_info(m, 0, &info) == KILN_OK && info.dtype == KILN_STRING &&
        info.bytes == 4 * sizeof(char *));
  kiln_model_free(m);
}

/* 200 000 strings: the kernel runs on the pool's threads, allocating at once */
static void parallel(void) {
  enum { N = 200000 };
  const char *text = "model m(x: f32[200000]) { return s = StringConcat(Cast(x, to=8), Cast(x, to=8)) }";
  kiln_error err;
  kiln_model *m = compile(text, &err);
  CHECK(m != NULL);
  if (!m) return;
  float *x = malloc(N * sizeof *x);
  char **s = malloc(N * sizeof *s);
  for (int i = 0; i < N; i++) x[i] = (float)i / 4;
  const void *ins[1] = {x};
  void *outs[1] = {s};
  CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  int bad = 0;
  for (int i = 0; i < N; i++) { /* two copies of digits that read back as x[i] */
    size_t len = strlen(s[i]);
    char one[32];
    snprintf(one, sizeof one, "%.*s", (int)(len / 2), s[i]);
    bad += len % 2 || strcmp(s[i] + len / 2, one) || strtof(one, NULL) != x[i];
  }
  CHECK(bad == 0);
  free_strings(s, N);
  free(s);
  free(x);
  kiln_model_free(m);
}

/* Stopwords: the output's length is a count the run computes */
static void normalizer(void) {
  const char *text = "model m(x: string[5]) {\n"
                     "  return y = StringNormalizer(x, stopwords=[\"a\", \"the\"], "
                     "case_change_action=\"UPPER\") }";
  kiln_error err;
  kiln_model *m = compile(text, &err);
  CHECK(m != NULL);
  if (!m) return;
  kiln_tensor_info info;
  CHECK(kiln_output_info(m, 0, &info) == KILN_OK && info.dims[0] == -1);
  const char *x[5] = {"The", "cat", "a", "Sat", "THE"};
  char *y[5] = {0};
  kiln_array in = {(void *)x, KILN_STRING, 1, {5}}, out = {y, KILN_STRING, 1, {0}};
  CHECK(kiln_run_arrays(m, &in, &out, &err) == KILN_OK);
  CHECK(out.dims[0] == 2 && !strcmp(y[0], "CAT") && !strcmp(y[1], "SAT") && !y[2]);
  free_strings(y, 2);
  const char *all[5] = {"a", "the", "A", "The", "a"}; /* every word a stopword: [""] */
  in.data = (void *)all;
  CHECK(kiln_run_arrays(m, &in, &out, &err) == KILN_OK);
  CHECK(out.dims[0] == 1 && !strcmp(y[0], ""));
  free_strings(y, 1);
  kiln_model_free(m);
}

static void refusals(void) {
  kiln_error err;
  kiln_options o = {.struct_size = sizeof o};
  kiln_model *m = NULL;
  const char *add = "model m(s: string[2]) { return y = Add(s, s) }";
  CHECK(kiln_compile_buffer(add, strlen(add), &o, &m, &err) == KILN_ERR_UNSUPPORTED);
  CHECK(strstr(err.message, "input 's' has type string, which Add") != NULL);
  const char *re = "model m(s: string[2]) { return y = RegexFullMatch(s, pattern=\"(a|b\") }";
  CHECK(kiln_compile_buffer(re, strlen(re), &o, &m, &err) == KILN_ERR_INVALID_MODEL);
  CHECK(strstr(err.message, "(RegexFullMatch): pattern '(a|b': an unclosed (") != NULL);
  const char *cast = "model m(x: f32[2]) { return y = Cast(Cast(x, to=8), to=1) }";
  o.target = "cuda-host";
  CHECK(kiln_compile_buffer(cast, strlen(cast), &o, &m, &err) == KILN_ERR_UNSUPPORTED);
  CHECK(strstr(err.message, "CPU only") != NULL);
  char dir[] = "/tmp/kiln_strings_XXXXXX", path[64], model[64];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(model, sizeof model, "%s/m.kiln", dir);
  snprintf(path, sizeof path, "%s/m.o", dir);
  FILE *f = fopen(model, "w");
  fputs("model m(s: string[N]) { return y = StringConcat(s, s) }", f);
  fclose(f);
  /* AOT: the string functions are this host's run-time library (tests/aot_strings.sh runs
   * what it takes) */
  kiln_shape_binding two = {"s", 1, {2}};
  kiln_options a = {.struct_size = sizeof a, .triple = "aarch64-linux-gnu", .shapes = &two, .nshapes = 1};
  CHECK(kiln_compile_aot(model, &a, path, "m", &err) == KILN_ERR_UNSUPPORTED);
  CHECK(strstr(err.message, "string tensors: an AOT library of it is for this host") != NULL);
  CHECK(access(path, F_OK) != 0); /* nothing half-written */
  unlink(model);
  rmdir(dir);
}

static void library(void) {
  kiln_rt_strings h = {0};
  const char *in = "Müller ÉCOLE δελτα Привет ÿ Ё ß x\xff";
  const char *up = (const char *)(intptr_t)kiln_rt_str_case(&h, (int64_t)(intptr_t)in, 1);
  CHECK(!strcmp(up, "MÜLLER ÉCOLE ΔΕΛΤΑ ПРИВЕТ Ÿ Ё ß X\xff"));
  const char *low = (const char *)(intptr_t)kiln_rt_str_case(&h, (int64_t)(intptr_t)up, 0);
  CHECK(!strcmp(low, "müller école δελτα привет ÿ ё ß x\xff"));
  static const struct { double v; int single; const char *s; } nums[] = {
      {0.1, 1, "0.1"}, {0.1, 0, "0.1"}, {1.0 / 3, 0, "0.3333333333333333"},
      {(float)(1.0 / 3), 1, "0.33333334"}, {1e-7, 1, "1e-07"}, {-0.0, 1, "-0"},
      {1.0 / 0.0, 1, "INF"}, {-1.0 / 0.0, 0, "-INF"}, {0.0 / 0.0, 1, "NaN"}, {123456, 1, "123456"}};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    const char *s = (const char *)(intptr_t)kiln_rt_str_from_f64(&h, nums[i].v, nums[i].single);
    CHECK(!strcmp(s, nums[i].s));
    if (strcmp(s, nums[i].s)) fprintf(stderr, "%.17g -> '%s', expected '%s'\n", nums[i].v, s, nums[i].s);
  }
  CHECK(kiln_rt_str_to_i64((int64_t)(intptr_t)"100.5") == 100);
  CHECK(kiln_rt_str_to_i64((int64_t)(intptr_t)"-12") == -12);
  CHECK(kiln_rt_str_to_f64((int64_t)(intptr_t)"+InF") > 1e308);
  /* sets: a word's last position, with and without case */
  static const char *const set_words[] = {"the", "école", "the", "", "Zebra", "ÉCOLE"};
  char *set = kiln_rt_words_build(set_words, 6, KILN_WORDS_SET);
  char *fset = kiln_rt_words_build(set_words, 6, KILN_WORDS_SET_FOLD);
  CHECK(set && fset);
  CHECK(kiln_rt_str_index((int64_t)(intptr_t)"ÉCOLE", fset, 1) == 5);
  CHECK(kiln_rt_str_index((int64_t)(intptr_t)"école", set, 0) == 1);
  CHECK(kiln_rt_str_index((int64_t)(intptr_t)"ÉCOLE", set, 0) == 5);
  CHECK(kiln_rt_str_index((int64_t)(intptr_t)"zebra", set, 0) == -1);
  CHECK(kiln_rt_str_index((int64_t)(intptr_t)"zebra", fset, 1) == 4);
  CHECK(kiln_rt_str_index((int64_t)(intptr_t)"the", set, 0) == 2);
  CHECK(kiln_rt_str_index((int64_t)(intptr_t)"th", set, 0) == -1);
  CHECK(kiln_rt_str_index(0, set, 0) == 3); /* NULL is "" */
  free(set);
  free(fset);
  char *none = kiln_rt_words_build(NULL, 0, KILN_WORDS_SET);
  CHECK(none && kiln_rt_str_index((int64_t)(intptr_t)"", none, 0) == -1);
  free(none);
  /* a large set against a scan: every word found at its last position, others not */
  enum { BIG = 5000 };
  static char big_text[BIG][12];
  static const char *big[BIG];
  for (int i = 0; i < BIG; i++) {
    snprintf(big_text[i], sizeof big_text[i], "w%d", (i * 7919) % 3001); /* repeats */
    big[i] = big_text[i];
  }
  char *bigset = kiln_rt_words_build(big, BIG, KILN_WORDS_SET);
  CHECK(bigset != NULL);
  int bad = 0;
  for (int v = 0; v < 3200; v++) {
    char key[12];
    snprintf(key, sizeof key, "w%d", v);
    int64_t want = -1;
    for (int i = 0; i < BIG; i++)
      if (!strcmp(big[i], key)) want = i;
    bad += kiln_rt_str_index((int64_t)(intptr_t)key, bigset, 0) != want;
  }
  CHECK(bad == 0);
  free(bigset);
  /* a word by position: its bytes exactly (digits and ':' inside), "" (NULL) outside */
  static const char *const words[] = {"the", "1:2:3", "", "école"};
  char *list = kiln_rt_words_build(words, 4, KILN_WORDS_LIST);
  CHECK(list != NULL);
  for (int i = 0; i < 4; i++) {
    const char *w = (const char *)(intptr_t)kiln_rt_str_word(&h, i, list);
    CHECK(w && !strcmp(w, words[i]));
  }
  CHECK(kiln_rt_str_word(&h, 4, list) == 0 && kiln_rt_str_word(&h, -1, list) == 0);
  CHECK(kiln_rt_str_word(&h, 0, "") == 0);
  free(list);
  CHECK(!h.failed);
  kiln_rt_strings_free(&h);
  CHECK(h.head == NULL);
}

#define STR(x) ((int64_t)(intptr_t)(x))

/* RegexFullMatch's matcher: what Python's re (the op cases' reference) cannot check */
static void regex(void) {
  kiln_rt_strings h = {0};
  static const char *const bad[] = {"(", "a)", "a**", "[z-a]", "\\p{L}", "a{1001}", "(?x)a",
                                    "[abc", "*a", "\\1", "[[:nope:]]", "\\x{110000}", "\\"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK(kiln_rt_regex_check(bad[i]) != NULL);
    if (!kiln_rt_regex_check(bad[i])) fprintf(stderr, "'%s' was taken\n", bad[i]);
    CHECK(!kiln_rt_str_match(&h, STR("a"), bad[i]));
  }
  CHECK(kiln_rt_regex_check("a{1000}") == NULL);
  char *lit = malloc(5002); /* a long literal, and alternation nested past the limit */
  memset(lit, 'x', 5000);
  lit[5000] = 0;
  CHECK(kiln_rt_regex_check(lit) == NULL && kiln_rt_str_match(&h, STR(lit), lit));
  for (int i = 0; i < 5000; i++) lit[i] = i % 2 ? '|' : (char)('a' + i % 26);
  lit[4998] = 'z', lit[4999] = 0; /* 2500 one-letter alternatives, the last z */
  CHECK(kiln_rt_regex_check(lit) == NULL && kiln_rt_str_match(&h, STR("k"), lit) &&
        kiln_rt_str_match(&h, STR("z"), lit) && !kiln_rt_str_match(&h, STR("kk"), lit));
  for (int i = 0; i < 5000; i++) lit[i] = i < 2500 ? '(' : ')';
  lit[5000] = 0;
  CHECK(kiln_rt_regex_check(lit) != NULL);
  free(lit);
  CHECK(kiln_rt_regex_check("(a{1000}){1000}") != NULL); /* a million instructions */
  CHECK(kiln_rt_str_match(&h, STR("x41B"), "[[:alpha:]][[:digit:]]+\\x{42}"));
  CHECK(kiln_rt_str_match(&h, STR("a\nb"), "(?s)a.b") && !kiln_rt_str_match(&h, STR("a\nb"), "a.b"));
  CHECK(kiln_rt_str_match(&h, STR("ABC"), "(?i:abc)") && !kiln_rt_str_match(&h, STR("ABCd"), "(?i:abc)D"));
  CHECK(kiln_rt_str_match(&h, STR("AbCd"), "(?i:abc)d"));
  CHECK(kiln_rt_str_match(&h, 0, "") && kiln_rt_str_match(&h, 0, "a*") && !kiln_rt_str_match(&h, 0, "a"));
  /* linear time: backtracking would take 2^10000 steps here */
  enum { N = 10000 };
  char *as = malloc(N + 2);
  memset(as, 'a', N);
  as[N] = 0;
  CHECK(!kiln_rt_str_match(&h, STR(as), "(a*)*b") && kiln_rt_str_match(&h, STR(as), "(a|aa)+"));
  as[N] = 'b', as[N + 1] = 0;
  CHECK(kiln_rt_str_match(&h, STR(as), "(a*)*b") && !kiln_rt_str_match(&h, STR(as), "(a+a+)+c"));
  free(as);
  CHECK(!h.failed);
}

int main(void) {
  regex();
  elementwise();
  parallel();
  normalizer();
  refusals();
  library();
  return check_report();
}
