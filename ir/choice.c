/* Lists of choice points (ir/choice.h). */
#include "ir/choice.h"

#include "ir/tuning_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kiln_choices_add(kiln_choices *l, const kiln_choice *c) {
  KILN_GROW(l->items, l->n, l->cap);
  kiln_choice *d = &l->items[l->n++];
  *d = *c;
  d->node = kiln_xstrdup(c->node ? c->node : "");
  d->op = kiln_xstrdup(c->op ? c->op : "");
}

void kiln_choices_free(kiln_choices *l) {
  for (int i = 0; i < l->n; i++) {
    free(l->items[i].node);
    free(l->items[i].op);
  }
  free(l->items);
  memset(l, 0, sizeof *l);
}

bool kiln_choice_allows(const int *values, int n, int value) {
  for (int i = 0; i < n; i++)
    if (values[i] == value) return true;
  return false;
}

int kiln_choice_take(kiln_choices *l, kiln_choice *c, const kiln_tuning_log *log,
                     const kiln_tuning_target *target) {
  const kiln_tuning_record *r =
      log ? kiln_tuning_log_choice(log, c->key, c->what, target, KILN_VERSION, c->def) : NULL;
  c->value = c->def;
  c->from_log = false;
  if (r && kiln_choice_allows(c->values, c->nvalues, r->value)) {
    c->value = r->value;
    c->from_log = true;
  }
  kiln_choices_add(l, c);
  return c->value;
}
