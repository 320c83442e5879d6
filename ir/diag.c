/* The problem list of ir/diag.h. */
#include "ir/diag.h"

#include "ir/op.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The message without its "node 'NODE' (OP): " or "node 'NODE': " prefix: the report
 * names the node already, and problems of the same kind then read the same. */
static const char *reason(const char *msg, const char *node) {
  if (!node || strncmp(msg, "node '", 6)) return msg;
  size_t len = strlen(node);
  if (strncmp(msg + 6, node, len) || msg[6 + len] != '\'') return msg;
  const char *p = msg + 7 + len;
  if (*p == ' ' && p[1] == '(') p = strchr(p, ')') ? strchr(p, ')') + 1 : p;
  return *p == ':' && p[1] == ' ' ? p + 2 : msg;
}

void kiln_diag_add(kiln_diags *d, const char *stage, const char *kind, const char *node,
                   const char *op, const kiln_error *err) {
  KILN_GROW(d->items, d->n, d->cap);
  kiln_diag *x = &d->items[d->n++];
  x->code = err->code ? err->code : KILN_ERR_INTERNAL;
  x->stage = stage;
  x->kind = kind ? kiln_xstrdup(kind) : NULL;
  x->node = node ? kiln_xstrdup(node) : NULL;
  x->op = op ? kiln_xstrdup(op) : NULL;
  x->message = kiln_xstrdup(reason(err->message, node));
}

static bool ident_char(char c) { return c == '_' || isalnum((unsigned char)c); }

/* name occurs in s as a word of its own (attribute names are identifiers). */
static bool has_word(const char *s, const char *name) {
  size_t len = strlen(name);
  for (const char *p = s; (p = strstr(p, name)); p++)
    if ((p == s || !ident_char(p[-1])) && !ident_char(p[len])) return true;
  return false;
}

const char *kiln_diag_kind(const kiln_node *n, const kiln_error *err) {
  if (err->code != KILN_ERR_UNSUPPORTED || !n->op) return NULL;
  for (const kiln_attr_spec *a = n->op->attrs; a && a->name; a++)
    if (has_word(err->message, a->name)) return "attribute";
  return has_word(err->message, "type") || has_word(err->message, "float") ? "type" : NULL;
}

void kiln_diags_taint(kiln_diags *d, int value) {
  if (value < 0) return;
  if (value >= d->ntainted) {
    int n = value + 1 > 2 * d->ntainted ? value + 64 : 2 * d->ntainted;
    d->tainted = kiln_xrealloc(d->tainted, (size_t)n);
    memset(d->tainted + d->ntainted, 0, (size_t)(n - d->ntainted));
    d->ntainted = n;
  }
  d->tainted[value] = true;
}

bool kiln_diags_tainted(const kiln_diags *d, int value) {
  return value >= 0 && value < d->ntainted && d->tainted[value];
}

void kiln_diags_free(kiln_diags *d) {
  for (int i = 0; i < d->n; i++) {
    free(d->items[i].kind);
    free(d->items[i].node);
    free(d->items[i].op);
    free(d->items[i].message);
  }
  free(d->items);
  free(d->tainted);
  memset(d, 0, sizeof *d);
}
