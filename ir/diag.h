/* A list of problems found in a model, for `kiln check`: where compiling stops at the first
 * error, the importer and passes in "collect" mode record each problem here and go on. A
 * value whose definition had a problem is marked tainted: nodes reading it are skipped
 * rather than reported, so one problem is not echoed by everything downstream of it. */
#ifndef KILN_IR_DIAG_H
#define KILN_IR_DIAG_H

#include "ir/graph.h"

typedef struct kiln_diag {
  kiln_status code;
  const char *stage; /* "import", "infer", "fold", "lower", ... (static) */
  char *kind;        /* "op", "type", "attribute"... or NULL: what the problem is about */
  char *node;        /* node name, or NULL */
  char *op;          /* op type of that node, or NULL */
  char *message;     /* the reason, without the "node 'x' (Op): " prefix */
} kiln_diag;

typedef struct kiln_diags {
  kiln_diag *items;
  int n, cap;
  bool *tainted; /* per value id */
  int ntainted;  /* size of tainted */
  int skipped;   /* nodes not checked because they read a tainted value */
} kiln_diags;

/* Records a problem; err's message is taken as the reason, its "node 'NODE' (OP): "
 * prefix removed when it names that node. */
void kiln_diag_add(kiln_diags *d, const char *stage, const char *kind, const char *node,
                   const char *op, const kiln_error *err);
/* What a pass's error on node n is about, as far as the op table tells: "attribute" when an
 * unsupported feature's message names one of the op's attributes, "type" when it names a
 * type; else NULL. */
const char *kiln_diag_kind(const kiln_node *n, const kiln_error *err);
void kiln_diags_taint(kiln_diags *d, int value);
bool kiln_diags_tainted(const kiln_diags *d, int value);
void kiln_diags_free(kiln_diags *d);

#endif
