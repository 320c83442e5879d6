/* `kiln dump`: the graph as readable text. Inputs with their types, constants with a few
 * of their values, nodes in execution order (If branches indented), outputs. */
#include "passes/passes.h"

#include "ir/dtype.h"

#include <inttypes.h>
#include <stdlib.h>

#define SHOW_VALUES 6

static void print_data(const kiln_graph *g, const kiln_value *v, FILE *out) {
  int64_t n = kiln_value_numel(v);
  fputs(" = [", out);
  for (int64_t i = 0; i < n && i < SHOW_VALUES; i++) {
    if (i) fputs(", ", out);
    if (v->sym_data && v->sym_data[i]) { /* a polynomial of the free dims: "N*S" */
      char buf[128];
      kiln_symdim x = kiln_value_sym_elem(g, v, i);
      fputs(kiln_symdim_str(&x, (const char *const *)g->sym_names, buf, sizeof buf), out);
    } else if (kiln_dtype_is_float(v->dtype)) fprintf(out, "%g", kiln_load_f64(v->dtype, v->data, i));
    else if (v->dtype == KILN_U64) fprintf(out, "%" PRIu64, (uint64_t)kiln_load_i64(v->dtype, v->data, i));
    else fprintf(out, "%" PRId64, kiln_load_i64(v->dtype, v->data, i));
  }
  fputs(n > SHOW_VALUES ? ", ...]" : "]", out);
}

static void print_attr(const kiln_attr *a, FILE *out) {
  fprintf(out, "%s=", a->name);
  switch (a->type) {
  case KILN_ATTR_FLOAT: fprintf(out, "%g", a->f); break;
  case KILN_ATTR_INT: fprintf(out, "%" PRId64, a->i); break;
  case KILN_ATTR_STRING: fprintf(out, "\"%s\"", a->s ? a->s : ""); break;
  case KILN_ATTR_TENSOR: fprintf(out, "tensor"); break;
  case KILN_ATTR_GRAPH: fprintf(out, "graph"); break;
  case KILN_ATTR_INTS:
  case KILN_ATTR_FLOATS:
    fputc('[', out);
    for (int i = 0; i < a->count; i++) {
      if (a->type == KILN_ATTR_INTS) fprintf(out, "%s%" PRId64, i ? "," : "", a->ints[i]);
      else fprintf(out, "%s%g", i ? "," : "", a->floats[i]);
    }
    fputc(']', out);
    break;
  default: fprintf(out, "[%d items]", a->count); break;
  }
}

static void dump_block(const kiln_graph *g, const kiln_block *b, int depth, FILE *out);

static void dump_node(const kiln_graph *g, const kiln_node *n, int depth, FILE *out) {
  char buf[160];
  fprintf(out, "%*s", 2 * depth + 2, "");
  for (int i = 0; i < n->noutputs; i++)
    fprintf(out, "%s%%%s", i ? ", " : "", n->outputs[i] >= 0 ? g->values[n->outputs[i]].name : "_");
  fprintf(out, " = %s(", n->op_type);
  for (int i = 0; i < n->ninputs; i++)
    fprintf(out, "%s%%%s", i ? ", " : "", n->inputs[i] >= 0 ? g->values[n->inputs[i]].name : "_");
  fputc(')', out);
  int shown = 0;
  for (int a = 0; a < n->nattrs; a++) {
    if (n->attrs[a].type == KILN_ATTR_GRAPH) continue;
    fputs(shown++ ? ", " : " {", out);
    print_attr(&n->attrs[a], out);
  }
  if (shown) fputc('}', out);
  fputs(" :", out);
  for (int i = 0; i < n->noutputs; i++)
    if (n->outputs[i] >= 0)
      fprintf(out, "%s %s", i ? "," : "", kiln_graph_type_str(g, &g->values[n->outputs[i]], buf, sizeof buf));
  fprintf(out, "   # %s\n", n->name);
  for (int a = 0; a < n->nattrs; a++) {
    const kiln_attr *at = &n->attrs[a];
    if (at->type != KILN_ATTR_GRAPH || !at->graphs) continue;
    fprintf(out, "%*s%s:\n", 2 * depth + 4, "", at->name);
    dump_block(g, at->graphs[0], depth + 2, out);
  }
}

static void dump_block(const kiln_graph *g, const kiln_block *b, int depth, FILE *out) {
  for (int i = 0; i < b->nnodes; i++) dump_node(g, &g->nodes[b->nodes[i]], depth, out);
  if (depth == 0) return;
  fprintf(out, "%*syield", 2 * depth + 2, "");
  for (int i = 0; i < b->noutputs; i++) fprintf(out, "%s%%%s", i ? ", " : " ", g->values[b->outputs[i]].name);
  fputc('\n', out);
}

/* Constants some live node reads, once each, in value order. */
static void mark_reads(const kiln_graph *g, const kiln_block *b, char *seen) {
  for (int i = 0; i < b->nnodes; i++) {
    const kiln_node *n = &g->nodes[b->nodes[i]];
    for (int j = 0; j < n->ninputs; j++)
      if (n->inputs[j] >= 0) seen[n->inputs[j]] = 1;
    for (int a = 0; a < n->nattrs; a++)
      if (n->attrs[a].type == KILN_ATTR_GRAPH && n->attrs[a].graphs)
        mark_reads(g, n->attrs[a].graphs[0], seen);
  }
  for (int i = 0; i < b->noutputs; i++) seen[b->outputs[i]] = 1;
}

void kiln_graph_dump(const kiln_graph *g, FILE *out) {
  char buf[160];
  fprintf(out, "graph %s\n", g->name ? g->name : "");
  for (int i = 0; i < g->ninputs; i++) {
    const kiln_value *v = &g->values[g->inputs[i]];
    fprintf(out, "input %%%s : %s\n", v->name, kiln_graph_type_str(g, v, buf, sizeof buf));
  }
  char *seen = kiln_xcalloc((size_t)(g->nvalues ? g->nvalues : 1), 1);
  mark_reads(g, &g->main, seen);
  for (int v = 0; v < g->nvalues; v++) {
    const kiln_value *val = &g->values[v];
    if (!seen[v] || !kiln_value_is_const(g, v)) continue;
    fprintf(out, "const %%%s : %s", val->name, kiln_value_type_str(val, buf, sizeof buf));
    if (val->data) print_data(g, val, out);
    fputc('\n', out);
  }
  free(seen);
  dump_block(g, &g->main, 0, out);
  for (int i = 0; i < g->main.noutputs; i++) {
    const kiln_value *v = &g->values[g->main.outputs[i]];
    fprintf(out, "output %%%s : %s\n", v->name, kiln_graph_type_str(g, v, buf, sizeof buf));
  }
}
