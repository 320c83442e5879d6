/* The kiln model language's entry point: reads the main text and its imports (each file
 * once; a cycle is an error naming the chain), collects function definitions from all of
 * them, elaborates the main file's model, and hands back a graph shaped like the ONNX
 * importer's. */
#include "frontend/dsl_elab.h"

#include "frontend/onnx.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IMPORT_DEPTH 32

static dsl_source *add_source(dsl_ctx *c, const char *path, const char *text, size_t size) {
  dsl_source *s = kiln_xcalloc(1, sizeof *s);
  s->path = kiln_xstrdup(path);
  s->text = kiln_xmalloc(size + 1);
  if (size) memcpy(s->text, text, size);
  s->text[size] = 0;
  s->size = size;
  KILN_GROW(c->sources, c->nsources, c->sources_cap);
  c->sources[c->nsources++] = s;
  return s;
}

/* A file's identity for cycle and duplicate checks: its canonical path when it exists. */
static char *canonical(const char *path) {
  char *r = realpath(path, NULL);
  return r ? r : kiln_xstrdup(path);
}

static bool already_read(const dsl_ctx *c, const char *canon) {
  for (int i = 0; i < c->nsources; i++) {
    char *p = canonical(c->sources[i]->path);
    bool same = strcmp(p, canon) == 0;
    free(p);
    if (same) return true;
  }
  return false;
}

static void collect(dsl_ctx *c, const dsl_ast *program, bool is_main, const dsl_ast **model);

/* Reads, parses and collects the file an `import` names. */
static void import_file(dsl_ctx *c, const dsl_ast *imp) {
  char *path = dsl_resolve_path(c, imp->loc.src, imp->s);
  char *canon = canonical(path);
  for (int i = 0; i < c->nchain; i++) {
    if (strcmp(c->chain[i].canon, canon) != 0) continue;
    char cycle[1024] = "";
    for (int j = i; j < c->nchain; j++) {
      size_t len = strlen(cycle);
      snprintf(cycle + len, sizeof cycle - len, "%s -> ", c->chain[j].shown);
    }
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, imp->loc, "import cycle: %s%s", cycle, path);
    goto done;
  }
  if (already_read(c, canon)) goto done; /* a library two files import is read once */
  if (c->nchain >= MAX_IMPORT_DEPTH) {
    dsl_error(&c->diag, KILN_ERR_LIMIT, imp->loc, "imports nested deeper than %d", MAX_IMPORT_DEPTH);
    goto done;
  }
  void *data = NULL;
  size_t size = 0;
  kiln_error rerr = {0};
  if (kiln_read_file(path, &data, &size, &rerr)) {
    dsl_error(&c->diag, rerr.code, imp->loc, "cannot import '%s': %s", imp->s, rerr.message);
    goto done;
  }
  dsl_source *src = add_source(c, path, data, size);
  free(data);
  dsl_ast *program = NULL;
  KILN_GROW(c->chain, c->nchain, c->chain_cap);
  c->chain[c->nchain++] = (struct dsl_chain){canon, path};
  canon = path = NULL;
  if (dsl_parse(src, &c->arena, &c->diag, &program) && program) collect(c, program, false, NULL);
  c->nchain--;
  free(c->chain[c->nchain].canon);
  free(c->chain[c->nchain].shown);
done:
  free(canon);
  free(path);
}

static void add_def(dsl_ctx *c, const dsl_ast *d) {
  dsl_def *prev = dsl_find_def(c, d->s);
  if (prev) {
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, d->loc, "function '%s' is already defined at %s:%d:%d",
              d->s, prev->ast->loc.src->path, prev->ast->loc.line, prev->ast->loc.col);
    return;
  }
  KILN_GROW(c->defs, c->ndefs, c->defs_cap);
  c->defs[c->ndefs++] = (dsl_def){d->s, d, 0, false};
}

/* Imports and definitions of one file; the main file also yields its one model (models
 * in imported files are theirs: examples or tests of the library). */
static void collect(dsl_ctx *c, const dsl_ast *program, bool is_main, const dsl_ast **model) {
  for (int i = 0; i < program->nkids; i++) {
    const dsl_ast *it = program->kids[i];
    if (it->kind == A_IMPORT) import_file(c, it);
    else if (it->kind == A_DEF) add_def(c, it);
    else if (it->kind == A_MODEL && is_main) {
      if (*model)
        dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, it->loc,
                  "a second model '%s' (expected one model per file; '%s' is at line %d)",
                  it->s, (*model)->s, (*model)->loc.line);
      else
        *model = it;
    }
  }
}

/* Leaves types and shapes to kiln_pass_infer, as the ONNX importer does: what the
 * elaborator inferred for its diagnostics used placeholder sizes for free dims. */
static void forget_inference(dsl_ctx *c) {
  kiln_graph *g = c->g;
  for (int i = 0; i < g->nvalues; i++) {
    kiln_value *v = &g->values[i];
    if (v->is_input && i < c->alt_cap && c->alt[i].any_rank) {
      v->rank = -1;
      memset(v->dims, 0, sizeof v->dims);
    } else if (v->is_input) {
      for (int d = 0; d < v->rank; d++)
        if (v->dim_names[d]) v->dims[d] = -1;
    } else if (!v->data && !(v->rank >= 0 && kiln_value_numel(v) == 0 && v->producer < 0)) {
      v->dtype = KILN_UNDEFINED;
      v->rank = -1;
      memset(v->dims, 0, sizeof v->dims);
    }
  }
}

static void free_ctx(dsl_ctx *c) {
  for (int i = 0; i < c->nsources; i++) {
    free(c->sources[i]->path);
    free(c->sources[i]->text);
    free(c->sources[i]);
  }
  free(c->sources);
  for (int i = 0; i < c->nchain; i++) {
    free(c->chain[i].canon);
    free(c->chain[i].shown);
  }
  free(c->chain);
  free(c->defs);
  free(c->env);
  free(c->node_locs);
  free(c->alt);
  dsl_diag_free(&c->diag);
  for (int i = 0; i < c->names_cap; i++) free(c->names[i]);
  free(c->names);
  free(c->next_suffix);
  dsl_free_onnx_files(c);
  kiln_arena_free(&c->arena);
}

kiln_status kiln_dsl_import(const char *text, size_t size, const char *path,
                            const kiln_options *opts, kiln_graph **out, kiln_error *err) {
  kiln_error scratch = {0};
  if (!err) err = &scratch;
  if (!out || (!text && size))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_dsl_import: text and out must not be NULL");
  *out = NULL;
  if (size > INT_MAX)
    return kiln_fail(err, KILN_ERR_LIMIT, "%s: a %zu-byte program is too large", path ? path : "<buffer>", size);
  dsl_ctx c;
  memset(&c, 0, sizeof c);
  c.diag.err = err;
  c.opts = opts;
  c.base_dir = opts && opts->base_dir ? opts->base_dir : ".";
  dsl_source *src = add_source(&c, path ? path : "<buffer>", text ? text : "", size);
  if (path) {
    KILN_GROW(c.chain, c.nchain, c.chain_cap);
    c.chain[c.nchain++] = (struct dsl_chain){canonical(path), kiln_xstrdup(path)};
  }
  dsl_ast *program = NULL;
  const dsl_ast *model = NULL;
  if (dsl_parse(src, &c.arena, &c.diag, &program) && program) collect(&c, program, true, &model);
  if (!model && c.diag.count == 0)
    dsl_error(&c.diag, KILN_ERR_INVALID_MODEL, (dsl_loc){src, 1, 1},
              "no model in this file (expected `model NAME(INPUTS) { ... }`)");
  /* Syntax errors leave statements out: elaborating the rest would only add noise. */
  if (c.diag.count == 0) {
    c.g = kiln_graph_new();
    c.block = &c.g->main;
    dsl_elab_model(&c, model);
  }
  kiln_status st = c.diag.count ? (err->code ? err->code : KILN_ERR_INVALID_MODEL) : KILN_OK;
  if (!st) {
    forget_inference(&c);
    *out = c.g;
  } else {
    kiln_graph_free(c.g);
  }
  free_ctx(&c);
  return st;
}

bool kiln_dsl_detect(const void *data, size_t size) {
  const char *p = data, *end = p + (size < 4096 ? size : 4096);
  if (!data || memchr(p, 0, (size_t)(end - p))) return false;
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
  if (p < end && *p == '#') return true;
  static const char *const first[] = {"model", "import", "def"};
  for (int i = 0; i < 3; i++) {
    size_t n = strlen(first[i]);
    if ((size_t)(end - p) > n && memcmp(p, first[i], n) == 0 &&
        (p[n] == ' ' || p[n] == '\t' || p[n] == '"'))
      return true;
  }
  return false;
}
