/* Reports (runtime/report.h) and the JSON writer under them (ir/json.h): a written
 * document reads back with kiln_json_parse value for value (escapes, UTF-8, integers past
 * 2^32, fractions; NaN and infinities as null; bytes that are not UTF-8 as U+FFFD, so the
 * text stays JSON); kiln_options.report writes, after a
 * JIT compile, a report whose kernels are the program's and whose nodes are each graph
 * node once, fused or not (fusion moves nodes between kernels, never drops one); a report
 * path where no file can be made fails the compile before any work and leaves no file. */
#include "check.h"

#include "frontend/onnx.h"
#include "ir/json.h"
#include "ir/util.h"
#include "kiln.h"
#include "runtime/profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kiln_json *parse_text(const char *text, size_t len) {
  char why[128];
  kiln_json *v = kiln_json_parse(text, len, why, sizeof why);
  if (!v) fprintf(stderr, "%s\n%.*s\n", why, (int)len, text);
  return v;
}

static void writer_round_trip(void) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  kiln_json_writer w;
  kiln_json_writer_init(&w, f, 1);
  kiln_json_open(&w, NULL, '{');
  kiln_json_put_string(&w, "s", "a \"q\" \\ \n\t\x01 \xc3\xa9");
  kiln_json_put_string(&w, "bad", "\xff.\xed\xa0\x80.\xc0\xaf.\xf0\x9f\x98\x80.\xe2\x82");
  kiln_json_put_string(&w, "null", NULL);
  kiln_json_put_number(&w, "big", 12345678901234.0);
  kiln_json_put_number(&w, "frac", -0.125);
  kiln_json_put_number(&w, "nan", NAN);
  kiln_json_put_number(&w, "inf", -INFINITY);
  kiln_json_put_bool(&w, "t", true);
  kiln_json_open(&w, "list", '[');
  kiln_json_open(&w, NULL, '{');
  kiln_json_close(&w);
  kiln_json_open(&w, NULL, '[');
  kiln_json_put_number(&w, NULL, 1);
  kiln_json_put_number(&w, NULL, 2);
  kiln_json_close(&w);
  kiln_json_close(&w);
  kiln_json_close(&w);
  fclose(f);
  kiln_json *v = parse_text(text, len);
  CHECK(v && v->kind == KILN_JSON_OBJECT && v->n == 9);
  /* bytes that are not UTF-8 (stray, a surrogate, an overlong '/', a cut-off character)
   * each become U+FFFD; a well-formed 4-byte character stays */
  const kiln_json *bad = kiln_json_get(v, "bad");
  CHECK(bad && !strcmp(bad->string, "\uFFFD.\uFFFD\uFFFD\uFFFD.\uFFFD\uFFFD.\U0001F600."
                                    "\uFFFD\uFFFD"));
  const kiln_json *s = kiln_json_get(v, "s"), *l = kiln_json_get(v, "list");
  CHECK(s && s->kind == KILN_JSON_STRING && !strcmp(s->string, "a \"q\" \\ \n\t\x01 \xc3\xa9"));
  CHECK(kiln_json_get(v, "null") && kiln_json_get(v, "null")->kind == KILN_JSON_NULL);
  CHECK(kiln_json_get(v, "big") && kiln_json_get(v, "big")->number == 12345678901234.0);
  CHECK(kiln_json_get(v, "frac") && kiln_json_get(v, "frac")->number == -0.125);
  CHECK(kiln_json_get(v, "nan") && kiln_json_get(v, "nan")->kind == KILN_JSON_NULL);
  CHECK(kiln_json_get(v, "inf") && kiln_json_get(v, "inf")->kind == KILN_JSON_NULL);
  CHECK(kiln_json_get(v, "t") && kiln_json_get(v, "t")->kind == KILN_JSON_BOOL);
  CHECK(l && l->kind == KILN_JSON_ARRAY && l->n == 2 && l->items[0].n == 0 &&
        l->items[1].n == 2 && l->items[1].items[1].number == 2);
  /* items of the outer object one per line; containers inside it on one line */
  CHECK(strstr(text, "{\n  \"s\": ") == text && strstr(text, ",\n  \"null\": null,\n") &&
        strstr(text, ",\n  \"list\": [{}, [1, 2]]\n}\n"));
  kiln_json_free(v);
  free(text);
}

static const char *MODEL =
    "model m(x: f32[4, 16]) {\n"
    "  param w: f32[16, 8] = normal(0, 0.1)\n"
    "  param b: f32[8] = normal(0, 0.1)\n"
    "  h = Relu(MatMul(x, w) + b)\n"
    "  return y = Softmax(Tanh(h) * 2, axis=1)\n"
    "}\n";

/* The report of MODEL compiled with opts plus a report path; NULL when it fails. */
static kiln_json *report_of(kiln_options o, const char *path, int *nkernels) {
  o.report = path;
  kiln_model *m = NULL;
  kiln_error err;
  if (kiln_compile_buffer(MODEL, strlen(MODEL), &o, &m, &err)) {
    fprintf(stderr, "%s\n", err.message);
    return NULL;
  }
  *nkernels = kiln_steps_kernels(&kiln_model_program(m)->main, NULL, 0);
  kiln_model_free(m);
  void *data;
  size_t size;
  kiln_json *v = kiln_read_file(path, &data, &size, &err) ? NULL : parse_text(data, size);
  if (v) free(data);
  return v;
}

/* Every kernel's node names, joined in kernel order, each followed by ' '. */
static char *all_nodes(const kiln_json *r) {
  const kiln_json *ks = kiln_json_get(r, "kernels");
  char *out = kiln_xstrdup("");
  for (int i = 0; ks && i < ks->n; i++) {
    const kiln_json *nodes = kiln_json_get(&ks->items[i], "nodes");
    for (int j = 0; nodes && j < nodes->n; j++) {
      char *next = kiln_fmt("%s%s ", out, nodes->items[j].string);
      free(out);
      out = next;
    }
  }
  return out;
}

static void compile_reports(const char *dir) {
  char *path = kiln_fmt("%s/r.json", dir);
  int nfused = 0, nplain = 0;
  kiln_json *fused = report_of((kiln_options){.struct_size = sizeof(kiln_options)}, path, &nfused);
  kiln_json *plain = report_of((kiln_options){.struct_size = sizeof(kiln_options), .no_fuse = 1},
                               path, &nplain);
  CHECK(fused && plain);
  if (fused && plain) {
    const kiln_json *kf = kiln_json_get(fused, "kernels"), *kp = kiln_json_get(plain, "kernels");
    CHECK(kf && kf->n == nfused && kp && kp->n == nplain && nfused < nplain);
    CHECK(!strcmp(kiln_json_get(fused, "report")->string, "compile"));
    CHECK(!strcmp(kiln_json_get(fused, "model")->string, "(buffer)"));
    char *a = all_nodes(fused), *b = all_nodes(plain);
    CHECK(!strcmp(a, b) && strstr(a, "Relu") && strstr(a, "Softmax")); /* each node once */
    free(a);
    free(b);
    for (int i = 0; kp && i < kp->n; i++) /* unfused: one node each, the kernel's own */
      CHECK(kiln_json_get(&kp->items[i], "nodes")->n == 1);
  }
  kiln_json_free(fused);
  kiln_json_free(plain);
  CHECK(unlink(path) == 0 && check_count_files(dir) == 0);
  free(path);

  /* no file can be made there: refused before compiling, nothing left */
  char *bad = kiln_fmt("%s/missing/r.json", dir);
  kiln_options o = {.struct_size = sizeof o, .report = bad};
  kiln_model *m = NULL;
  kiln_error err;
  CHECK(kiln_compile_buffer(MODEL, strlen(MODEL), &o, &m, &err) == KILN_ERR_IO && !m);
  CHECK(strstr(err.message, bad) != NULL);
  o.report = dir; /* a folder */
  CHECK(kiln_compile_buffer(MODEL, strlen(MODEL), &o, &m, &err) == KILN_ERR_IO && !m);
  CHECK(check_count_files(dir) == 0);
  free(bad);
}

int main(void) {
  writer_round_trip();
  char dir[] = "/tmp/kiln_report_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  compile_reports(dir);
  rmdir(dir);
  return check_report();
}
