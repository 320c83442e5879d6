/* Binding graph inputs at compile time: free dims get sizes (opts->shapes), whole inputs
 * get values (opts->values, which turns them into constants). A symbolic dim name bound
 * anywhere binds that name in every input; anything left free is an error. */
#include "passes/passes.h"

#include "ir/dtype.h"

#include <stdlib.h>
#include <string.h>

#define MAX_NAMES 256

typedef struct names {
  const char *name[MAX_NAMES];
  int64_t size[MAX_NAMES];
  int n;
} names;

static int64_t name_lookup(const names *t, const char *name) {
  for (int i = 0; i < t->n; i++)
    if (strcmp(t->name[i], name) == 0) return t->size[i];
  return -1;
}

static kiln_status name_bind(names *t, const kiln_value *v, int d, int64_t size,
                             kiln_error *err) {
  const char *name = v->dim_names[d];
  if (!name || strcmp(name, "?") == 0) return KILN_OK; /* anonymous: binds itself only */
  int64_t prev = name_lookup(t, name);
  if (prev >= 0 && prev != size)
    return kiln_fail(err, KILN_ERR_SHAPE,
                     "input '%s' dim %d ('%s') bound to %lld, but '%s' is already %lld",
                     v->name, d, name, (long long)size, name, (long long)prev);
  if (prev < 0 && t->n < MAX_NAMES) {
    t->name[t->n] = name;
    t->size[t->n++] = size;
  }
  return KILN_OK;
}

static int find_input(const kiln_graph *g, const char *name) {
  for (int i = 0; i < g->ninputs; i++)
    if (strcmp(g->values[g->inputs[i]].name, name) == 0) return i;
  return -1;
}

static kiln_status unknown_input(const kiln_graph *g, const char *name, kiln_error *err) {
  char list[512] = "";
  size_t len = 0;
  for (int i = 0; i < g->ninputs && len < sizeof list - 1; i++)
    len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", i ? ", " : "",
                            g->values[g->inputs[i]].name);
  return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                   "no graph input named '%s' (the model's inputs: %s)", name,
                   g->ninputs ? list : "none");
}

/* Sets v's shape to (rank, dims), checking it against the declaration; with free, a dim
 * of -1 leaves the declared one (free or not) as it is. */
static kiln_status bind_shape(kiln_value *v, int rank, const int64_t *dims, names *t,
                              bool free_ok, kiln_error *err) {
  if (rank < 0 || rank > KILN_MAX_RANK)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "input '%s': bad rank %d", v->name, rank);
  if (v->rank >= 0 && v->rank != rank)
    return kiln_fail(err, KILN_ERR_SHAPE, "input '%s' has rank %d, but was given rank %d",
                     v->name, v->rank, rank);
  for (int d = 0; d < rank; d++) {
    if (free_ok && dims[d] == -1) continue;
    if (dims[d] < 0)
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "input '%s' dim %d: negative size %lld",
                       v->name, d, (long long)dims[d]);
    if (v->rank >= 0 && v->dims[d] >= 0 && v->dims[d] != dims[d])
      return kiln_fail(err, KILN_ERR_SHAPE, "input '%s' dim %d is %lld, but was given %lld",
                       v->name, d, (long long)v->dims[d], (long long)dims[d]);
    if (v->rank >= 0 && name_bind(t, v, d, dims[d], err)) return err->code;
  }
  if (v->rank < 0)
    for (int d = 0; d < KILN_MAX_RANK; d++) v->dims[d] = -1;
  v->rank = rank;
  for (int d = 0; d < rank; d++)
    if (!(free_ok && dims[d] == -1)) v->dims[d] = dims[d];
  return KILN_OK;
}

static void remove_input(kiln_graph *g, int idx) {
  memmove(&g->inputs[idx], &g->inputs[idx + 1], sizeof(int) * (size_t)(g->ninputs - idx - 1));
  g->ninputs--;
}

static kiln_status bind_value(kiln_graph *g, const kiln_input_value *iv, names *t,
                              kiln_error *err) {
  int idx = iv->input ? find_input(g, iv->input) : -1;
  if (idx < 0) return unknown_input(g, iv->input ? iv->input : "(null)", err);
  kiln_value *v = &g->values[g->inputs[idx]];
  if (v->dtype != KILN_UNDEFINED && v->dtype != iv->dtype)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "input '%s' is %s, but its value is %s",
                     v->name, kiln_dtype_name(v->dtype), kiln_dtype_name(iv->dtype));
  if (!kiln_dtype_valid(iv->dtype))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "input '%s': value of type %s", v->name,
                     kiln_dtype_name(iv->dtype));
  if (bind_shape(v, iv->rank, iv->dims, t, false, err)) return err->code;
  int64_t n = kiln_shape_numel(iv->rank, iv->dims), bytes;
  if (kiln_mul_overflows(n, (int64_t)kiln_dtype_size(iv->dtype), &bytes))
    return kiln_fail(err, KILN_ERR_LIMIT, "input '%s': value too large", v->name);
  if (bytes && !iv->data)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "input '%s': value has no data", v->name);
  kiln_tensor tensor = {iv->dtype, iv->rank, {0}, NULL};
  memcpy(tensor.dims, iv->dims, sizeof tensor.dims);
  if (bytes) {
    tensor.data = kiln_xmalloc((size_t)bytes);
    memcpy(tensor.data, iv->data, (size_t)bytes);
  }
  kiln_value_set_const(v, &tensor);
  v->is_input = false;
  for (int d = 0; d < KILN_MAX_RANK; d++) {
    free(v->dim_names[d]);
    v->dim_names[d] = NULL;
  }
  remove_input(g, idx);
  return KILN_OK;
}

/* One message listing every dim still free, one per line, and how a caller binds them:
 * the library's words are kiln_options.shapes; a command line adds its own. */
static kiln_status check_bound(const kiln_graph *g, kiln_error *err) {
  char list[3000] = "", example[300] = "";
  const char *first = NULL;
  size_t len = 0;
  int nfree = 0, unlisted = 0;
  for (int i = 0; i < g->ninputs; i++) {
    const kiln_value *v = &g->values[g->inputs[i]];
    bool any = false;
    for (int d = v->rank < 0 ? -1 : 0; d < (v->rank < 0 ? 0 : v->rank); d++) { /* -1: the rank */
      if (d >= 0 && v->dims[d] >= 0) continue;
      any = true;
      nfree++;
      char entry[600];
      if (d < 0) snprintf(entry, sizeof entry, "\n  input '%s' has an unknown rank", v->name);
      else snprintf(entry, sizeof entry, "\n  input '%s' dim %d ('%s')", v->name, d,
                    v->dim_names[d] ? v->dim_names[d] : "?");
      if (len + strlen(entry) < sizeof list - 40) len += (size_t)snprintf(list + len, sizeof list - len, "%s", entry);
      else unlisted++;
    }
    if (!any || first) continue;
    first = v->name;
    /* a binding for the first such input, as C: free dims (or an unknown rank) as 1 */
    int rank = v->rank < 0 ? 1 : v->rank;
    size_t e = (size_t)snprintf(example, sizeof example, "{\"%.100s\", %d, {", v->name, rank);
    for (int d = 0; d < rank && e < sizeof example; d++)
      e += (size_t)snprintf(example + e, sizeof example - e, "%s%lld", d ? ", " : "",
                            (long long)(v->rank < 0 || v->dims[d] < 0 ? 1 : v->dims[d]));
    if (e < sizeof example) snprintf(example + e, sizeof example - e, "}}");
  }
  if (!nfree) return KILN_OK;
  if (unlisted) snprintf(list + len, sizeof list - len, "\n  ... and %d more", unlisted);
  return kiln_fail(err, KILN_ERR_SHAPE,
                   "input dims not bound (give their sizes in kiln_options.shapes):%s\n"
                   "e.g. kiln_shape_binding %s binds input '%s', its free dims as 1",
                   list, example, first);
}

/* kiln_options.symbolic_dims: every dim still free becomes a sym of the graph (one per
 * name; an anonymous one is named "<input>:<dim>"), its hint KILN_SYM_HINT: the size
 * schedules are sized for. Large inputs are where speed counts, and a chain of halvings
 * (a CNN's stages) must not reach 1 or 2 at the hints, where tiles would be sized for a
 * pixel and fusion stops (a dim of hint 1 passes for a broadcast): 224, the input side most
 * CNNs are trained at (its stages 112, 56, 28, 14 and 7). */
#define KILN_SYM_HINT 224

static kiln_status make_syms(kiln_graph *g, kiln_error *err) {
  for (int i = 0; i < g->ninputs; i++) {
    kiln_value *v = &g->values[g->inputs[i]];
    for (int d = 0; d < v->rank; d++) {
      if (v->dims[d] >= 0) continue;
      const char *dn = v->dim_names[d];
      char *name = dn && strcmp(dn, "?") ? kiln_xstrdup(dn) : kiln_fmt("%s:%d", v->name, d);
      int s = 0;
      while (s < g->nsyms && strcmp(g->sym_names[s], name)) s++;
      if (s == g->nsyms) {
        if (s == KILN_MAX_SYMS) {
          free(name);
          return kiln_fail(err, KILN_ERR_LIMIT, "input '%s' dim %d: more than %d free dims",
                           v->name, d, KILN_MAX_SYMS);
        }
        g->sym_names[g->nsyms] = kiln_xstrdup(name);
        g->sym_def[g->nsyms] = (kiln_symdiv){kiln_symdim_const(0), 0}; /* free */
        g->sym_hint[g->nsyms++] = KILN_SYM_HINT;
      }
      free(name);
      kiln_symdim x = kiln_symdim_sym(s);
      kiln_value_set_symdim(g, v, d, &x);
    }
  }
  return KILN_OK;
}

kiln_status kiln_pass_bind_inputs(kiln_graph *g, const kiln_options *opts, kiln_error *err) {
  names t = {.n = 0};
  kiln_options none = {0};
  if (!opts) opts = &none;
  if (kiln_bind_sequences(g, opts, err)) return err->code;
  for (int i = 0; i < opts->nshapes; i++) {
    const kiln_shape_binding *b = &opts->shapes[i];
    if (b->input && kiln_bind_is_length(g, b->input)) continue; /* bound above */
    int idx = b->input ? find_input(g, b->input) : -1;
    if (idx < 0) return unknown_input(g, b->input ? b->input : "(null)", err);
    if (bind_shape(&g->values[g->inputs[idx]], b->rank, b->dims, &t, opts->symbolic_dims != 0,
                   err))
      return err->code;
  }
  for (int i = 0; i < opts->nvalues; i++)
    if (bind_value(g, &opts->values[i], &t, err)) return err->code;
  /* names bound once bind every input dim carrying them */
  for (int i = 0; i < g->ninputs; i++) {
    kiln_value *v = &g->values[g->inputs[i]];
    for (int d = 0; d < v->rank; d++)
      if (v->dims[d] < 0 && v->dim_names[d]) v->dims[d] = name_lookup(&t, v->dim_names[d]);
  }
  if (opts->symbolic_dims && make_syms(g, err)) return err->code;
  if (check_bound(g, err)) return err->code;
  for (int i = 0; i < g->ninputs; i++) { /* every dim is a number now: dumps show it */
    kiln_value *v = &g->values[g->inputs[i]];
    for (int d = 0; d < KILN_MAX_RANK; d++) {
      free(v->dim_names[d]);
      v->dim_names[d] = NULL;
    }
  }
  return KILN_OK;
}
