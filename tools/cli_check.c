/* `kiln check MODEL`: the report of runtime/model_check.h, as text for people or as one
 * JSON object (--json, fields in docs/reports.md); the exit status is the verdict. */
#include "tools/cli_util.h"

#include "ir/json.h"
#include "runtime/model_check.h"

#include <stdlib.h>
#include <string.h>

#define MAX_NAMED 5   /* nodes named per group of problems in the text; the rest are counted */
#define MAX_LISTED 20 /* inputs, outputs, files listed in the text; the rest are counted */

static const char *usage_check =
    "usage: kiln check MODEL [--shape IN=DxDx..]... [--json] [--max-nodes N]\n"
    "                  [--max-tensor-bytes N] [--no-fuse] [--no-layout] [--tuning-log LOG]\n"
    "Lists at once everything that keeps MODEL from compiling with these options: every\n"
    "unsupported op, element type and attribute (with node names and counts), shape and\n"
    "type errors, free input dims left unbound (what each flows into; checking binds them\n"
    "to 1), external data files (missing or short), opsets; and estimates the FLOPs of one\n"
    "run and the weights' bytes. No code is generated. Exit status 0 when the model will\n"
    "compile, else the code of the first problem (see `kiln --help`). --json prints one\n"
    "JSON object (docs/reports.md).\n";

/* ---- text ----------------------------------------------------------------------------- */

static const char *plural(int64_t n) { return n == 1 ? "" : "s"; }

static void print_more(int n) {
  if (n > MAX_LISTED) printf("  ... and %d more\n", n - MAX_LISTED);
}

static void print_io(const char *title, const kiln_check_io *io, int n) {
  printf("%s:\n", title);
  for (int i = 0; i < n && i < MAX_LISTED; i++) printf("  %s: %s\n", io[i].name, io[i].type);
  print_more(n);
}

static void print_facts(const kiln_check_report *r) {
  const kiln_onnx_facts *f = &r->facts;
  if (r->onnx) {
    printf("format: ONNX, IR version %lld, producer '%s'\n", (long long)f->ir_version, f->producer);
    printf("opsets:");
    for (int i = 0; i < f->nopsets; i++) {
      const kiln_onnx_opset *o = &f->opsets[i];
      printf("%s %s %lld (%s)", i ? "," : "", *o->domain ? o->domain : "ai.onnx",
             (long long)o->version, o->supported ? "supported" : "not supported");
    }
    printf("%s\n", f->nopsets ? "" : " none");
  } else {
    printf("format: kiln DSL\n");
  }
  printf("nodes: %d\n", r->nnodes);
  printf("weights: %lld tensor%s, %lld bytes\n", (long long)r->nweights, plural(r->nweights),
         (long long)r->weight_bytes);
  if (f->nfiles) printf("external data: %d file%s\n", f->nfiles, plural(f->nfiles));
  for (int i = 0; i < f->nfiles && i < MAX_LISTED; i++) {
    printf("  '%s': %d tensor%s, %lld bytes needed, ", f->files[i].location, f->files[i].ntensors,
           plural(f->files[i].ntensors), (long long)f->files[i].bytes_needed);
    if (f->files[i].size >= 0) printf("file of %lld bytes, ", (long long)f->files[i].size);
    printf("%s\n", f->files[i].status);
  }
  print_more(f->nfiles);
  print_io("inputs", r->inputs, r->ninputs);
  print_io(r->nfree ? "outputs (free dims at 1)" : "outputs", r->outputs, r->noutputs);
}

static void print_dims(unsigned dims) {
  for (int d = 0, n = 0; d < 32; d++)
    if (dims >> d & 1) printf("%s%d", n++ ? "," : "", d);
}

static void print_free_dims(const kiln_check_report *r) {
  if (!r->nfree) return;
  printf("free dims: %d, each needs --shape to compile (checked at 1)\n", r->nfree);
  for (int i = 0; i < r->nfree; i++) {
    const kiln_check_free_dim *f = &r->free_dims[i];
    printf("  '%s': ", f->name);
    for (int j = 0; j < f->nuses; j++) {
      const kiln_check_use *u = &f->uses[j];
      if (u->dim < 0) printf("%sinput '%s' (rank unknown)", j ? ", " : "", u->input);
      else printf("%sinput '%s' dim %d", j ? ", " : "", u->input, u->dim);
    }
    if (f->probe_error) printf("; at 2: %s", f->probe_error);
    else if (f->nvalues >= 0) printf("; %d value%s depend%s on it", f->nvalues, plural(f->nvalues),
                                     f->nvalues == 1 ? "s" : "");
    for (int j = 0; j < f->noutputs; j++) {
      printf("%s'%s' dim%s ", j ? ", " : ", outputs ", f->outputs[j].output,
             f->outputs[j].dims & (f->outputs[j].dims - 1) ? "s" : "");
      print_dims(f->outputs[j].dims);
    }
    printf("\n");
  }
}

static bool same_str(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

static bool same_group(const kiln_diag *a, const kiln_diag *b) {
  return a->code == b->code && !strcmp(a->stage, b->stage) && same_str(a->kind, b->kind) &&
         same_str(a->op, b->op) && !strcmp(a->message, b->message);
}

/* Problems of one kind and reason together: the reason once, then the nodes. */
static void print_problems(const kiln_check_report *r) {
  const kiln_diags *d = &r->diags;
  if (!d->n) return;
  printf("problems: %d\n", d->n);
  bool *done = kiln_xcalloc((size_t)d->n, 1);
  for (int i = 0; i < d->n; i++) {
    if (done[i]) continue;
    const kiln_diag *p = &d->items[i];
    int count = 0, named = 0;
    for (int j = i; j < d->n; j++) count += same_group(p, &d->items[j]);
    printf("  %s (%s%s%s): %s%s%s", kiln_status_name(p->code), p->stage, p->kind ? ", " : "",
           p->kind ? p->kind : "", p->op ? p->op : "", p->op ? ": " : "", p->message);
    for (int j = i; j < d->n; j++) {
      if (done[j] || !same_group(p, &d->items[j])) continue;
      done[j] = true;
      if (!d->items[j].node) continue;
      if (!named) printf(" (%d node%s: ", count, plural(count));
      if (named < MAX_NAMED) printf("%s'%s'", named ? ", " : "", d->items[j].node);
      named++;
    }
    if (named > MAX_NAMED) printf(" and %d more", named - MAX_NAMED);
    printf("%s\n", named ? ")" : "");
  }
  free(done);
  if (d->skipped)
    printf("not checked: %d node%s reading what a problem left undefined\n", d->skipped,
           plural(d->skipped));
  if (!r->complete)
    printf("later passes did not run after these problems: fixing them may show more\n");
}

static void print_text(const char *model, const kiln_check_report *r) {
  printf("model: %s\n", model);
  print_facts(r);
  print_free_dims(r);
  print_problems(r);
  static const char *const units[] = {"", "k", "M", "G", "T", "P"};
  double flops = r->flops;
  int u = 0;
  while (flops >= 1000 && u < 5) flops /= 1000, u++;
  printf("estimate: %.4g %sFLOP per run, over %d node%s after expansion%s\n", flops, units[u],
         r->nlowered, plural(r->nlowered), r->nfree ? " (free dims at 1)" : "");
  if (r->verdict)
    printf("verdict: does not compile (%d, %s)\n", r->verdict, kiln_status_name(r->verdict));
  else
    printf("verdict: compiles\n");
}

/* ---- JSON ----------------------------------------------------------------------------- */

static void json_str(const char *key, const char *s) {
  printf("\"%s\": ", key);
  if (s) kiln_json_write_string(s, stdout);
  else printf("null");
}

static void json_io(const char *key, const kiln_check_io *io, int n) {
  printf(", \"%s\": [", key);
  for (int i = 0; i < n; i++) {
    printf("%s{", i ? ", " : "");
    json_str("name", io[i].name);
    printf(", ");
    json_str("type", io[i].type);
    printf("}");
  }
  printf("]");
}

static void json_facts(const kiln_check_report *r) {
  const kiln_onnx_facts *f = &r->facts;
  printf(", \"format\": \"%s\"", r->onnx ? "onnx" : "kiln");
  if (r->onnx) {
    printf(", \"ir_version\": %lld, ", (long long)f->ir_version);
    json_str("producer", f->producer);
  }
  printf(", \"opsets\": [");
  for (int i = 0; i < f->nopsets; i++) {
    printf("%s{", i ? ", " : "");
    json_str("domain", f->opsets[i].domain);
    printf(", \"version\": %lld, \"supported\": %s}", (long long)f->opsets[i].version,
           f->opsets[i].supported ? "true" : "false");
  }
  printf("], \"nodes\": %d, \"weights\": {\"count\": %lld, \"bytes\": %lld}, \"external_data\": [",
         r->nnodes, (long long)r->nweights, (long long)r->weight_bytes);
  for (int i = 0; i < f->nfiles; i++) {
    printf("%s{", i ? ", " : "");
    json_str("location", f->files[i].location);
    printf(", \"tensors\": %d, \"bytes_needed\": %lld, \"size\": ", f->files[i].ntensors,
           (long long)f->files[i].bytes_needed);
    if (f->files[i].size >= 0) printf("%lld, ", (long long)f->files[i].size);
    else printf("null, ");
    json_str("status", f->files[i].status);
    printf("}");
  }
  printf("]");
  json_io("inputs", r->inputs, r->ninputs);
  json_io("outputs", r->outputs, r->noutputs);
}

static void json_free_dims(const kiln_check_report *r) {
  printf(", \"free_dims\": [");
  for (int i = 0; i < r->nfree; i++) {
    const kiln_check_free_dim *f = &r->free_dims[i];
    printf("%s{", i ? ", " : "");
    json_str("name", f->name);
    printf(", \"uses\": [");
    for (int j = 0; j < f->nuses; j++) {
      printf("%s{", j ? ", " : "");
      json_str("input", f->uses[j].input);
      if (f->uses[j].dim >= 0) printf(", \"dim\": %d}", f->uses[j].dim);
      else printf(", \"dim\": null}");
    }
    if (f->nvalues >= 0 && !f->probe_error) printf("], \"values\": %d, \"outputs\": [", f->nvalues);
    else printf("], \"values\": null, \"outputs\": [");
    for (int j = 0; j < f->noutputs; j++) {
      printf("%s{", j ? ", " : "");
      json_str("name", f->outputs[j].output);
      printf(", \"dims\": [");
      print_dims(f->outputs[j].dims);
      printf("]}");
    }
    printf("], ");
    json_str("probe_error", f->probe_error);
    printf("}");
  }
  printf("]");
}

static void json_problems(const kiln_diags *d) {
  printf(", \"problems\": [");
  for (int i = 0; i < d->n; i++) {
    const kiln_diag *p = &d->items[i];
    printf("%s{\"status\": %d, ", i ? ", " : "", p->code);
    json_str("status_name", kiln_status_name(p->code));
    printf(", ");
    json_str("stage", p->stage);
    printf(", ");
    json_str("kind", p->kind);
    printf(", ");
    json_str("op", p->op);
    printf(", ");
    json_str("node", p->node);
    printf(", ");
    json_str("message", p->message);
    printf("}");
  }
  printf("], \"not_checked_nodes\": %d", d->skipped);
}

static void print_json(const char *model, const kiln_check_report *r) {
  printf("{");
  json_str("model", model);
  printf(", \"compiles\": %s, \"status\": %d, ", r->verdict ? "false" : "true", r->verdict);
  json_str("status_name", kiln_status_name(r->verdict));
  printf(", \"complete\": %s", r->complete ? "true" : "false");
  json_facts(r);
  json_free_dims(r);
  json_problems(&r->diags);
  printf(", \"flops\": %.6g, \"flops_nodes\": %d}\n", r->flops, r->nlowered);
}

int cli_check(int argc, char **argv) {
  cli_args a;
  kiln_error err = {0};
  int rc = cli_parse_command(CLI_CHECK, argc, argv, usage_check, &a);
  if (rc >= 0) return rc;
  kiln_options opts;
  kiln_options_init(&opts);
  cli_fill_options(&a, &opts);
  kiln_check_report r;
  kiln_status st = kiln_model_check(a.model, &opts, &r, &err);
  if (st && a.json) { /* scripts get an object for a file that is no model too */
    printf("{");
    json_str("model", a.model);
    printf(", \"compiles\": false, \"status\": %d, ", st);
    json_str("status_name", kiln_status_name(st));
    printf(", ");
    json_str("error", err.message);
    printf("}\n");
  }
  if (!st) {
    (a.json ? print_json : print_text)(a.model, &r);
    rc = r.verdict;
    kiln_check_report_free(&r);
  }
  cli_args_free(&a);
  return st ? cli_fail(&err) : rc;
}
