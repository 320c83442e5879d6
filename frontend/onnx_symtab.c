/* Name -> value id for the ONNX importer: an open-addressing hash table per scope, with a
 * link to the enclosing scope so subgraphs see outer names (inner names shadow them).
 * kiln_graph_find_value is linear; models have 10^5 values, so the importer needs this. */
#include "frontend/onnx_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
  char *name; /* NULL: empty */
  int id;
} slot;

struct kiln_onnx_symtab {
  const kiln_onnx_symtab *parent;
  slot *slots;
  size_t cap, n; /* cap is a power of two */
};

static uint64_t hash(const char *s) { /* FNV-1a */
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

kiln_onnx_symtab *kiln_onnx_symtab_new(const kiln_onnx_symtab *parent) {
  kiln_onnx_symtab *s = kiln_xcalloc(1, sizeof *s);
  s->parent = parent;
  s->cap = 64;
  s->slots = kiln_xcalloc(s->cap, sizeof(slot));
  return s;
}

void kiln_onnx_symtab_free(kiln_onnx_symtab *s) {
  if (!s) return;
  for (size_t i = 0; i < s->cap; i++) free(s->slots[i].name);
  free(s->slots);
  free(s);
}

static slot *find(const kiln_onnx_symtab *s, const char *name) {
  size_t i = (size_t)hash(name) & (s->cap - 1);
  while (s->slots[i].name && strcmp(s->slots[i].name, name) != 0) i = (i + 1) & (s->cap - 1);
  return &s->slots[i];
}

int kiln_onnx_symtab_get_local(const kiln_onnx_symtab *s, const char *name) {
  const slot *e = find(s, name);
  return e->name ? e->id : -1;
}

int kiln_onnx_symtab_get(const kiln_onnx_symtab *s, const char *name) {
  for (; s; s = s->parent) {
    int id = kiln_onnx_symtab_get_local(s, name);
    if (id >= 0) return id;
  }
  return -1;
}

static void grow(kiln_onnx_symtab *s) {
  slot *old = s->slots;
  size_t ocap = s->cap;
  s->cap *= 2;
  s->slots = kiln_xcalloc(s->cap, sizeof(slot));
  for (size_t i = 0; i < ocap; i++)
    if (old[i].name) *find(s, old[i].name) = old[i];
  free(old);
}

void kiln_onnx_symtab_put(kiln_onnx_symtab *s, const char *name, int id) {
  if (2 * (s->n + 1) > s->cap) grow(s); /* load factor <= 1/2 keeps probes short */
  slot *e = find(s, name);
  if (!e->name) {
    e->name = kiln_xstrdup(name);
    s->n++;
  }
  e->id = id;
}
