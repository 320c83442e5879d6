/* `kiln check` on an ONNX file: what the file is (IR version, producer, opset imports,
 * external data files and whether they are there, the weights' count and bytes), read from
 * the protobuf itself so that it is known even for tensors kiln cannot load, then the
 * graph imported in collect mode (frontend/onnx_import.c). */
#include "frontend/onnx_internal.h"

#include "ir/dtype.h"
#include "ir/op.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Bytes of a tensor by its declared type and dims; -1 for a type without a fixed size
 * (strings) or a size that overflows. */
static int64_t declared_bytes(const Onnx__TensorProto *p) {
  kiln_dtype t = p->has_data_type ? (kiln_dtype)p->data_type : KILN_UNDEFINED;
  if (!kiln_dtype_valid(t)) return -1;
  int64_t n = (int64_t)kiln_dtype_size(t);
  for (size_t d = 0; d < p->n_dims; d++)
    if (p->dims[d] < 0 || kiln_mul_overflows(n, p->dims[d], &n)) return -1;
  return n;
}

static kiln_onnx_extfile *file_entry(kiln_onnx_facts *f, const char *location) {
  for (int i = 0; i < f->nfiles; i++)
    if (!strcmp(f->files[i].location, location)) return &f->files[i];
  f->files = kiln_xrealloc(f->files, sizeof *f->files * (size_t)(f->nfiles + 1));
  kiln_onnx_extfile *e = &f->files[f->nfiles++];
  memset(e, 0, sizeof *e);
  e->location = kiln_xstrdup(location);
  e->size = -1;
  return e;
}

/* An externally stored tensor: counted against its file, with the end of its data. */
static void note_external(kiln_onnx_facts *f, const Onnx__TensorProto *p) {
  const char *location = NULL;
  int64_t offset = 0, length = -1;
  for (size_t i = 0; i < p->n_external_data; i++) {
    const char *k = KILN_ONNX_STR(p->external_data[i]->key);
    const char *v = KILN_ONNX_STR(p->external_data[i]->value);
    if (!strcmp(k, "location")) location = v;
    else if (!strcmp(k, "offset")) offset = strtoll(v, NULL, 10);
    else if (!strcmp(k, "length")) length = strtoll(v, NULL, 10);
  }
  if (!location) return; /* the import reports it */
  kiln_onnx_extfile *e = file_entry(f, location);
  e->ntensors++;
  int64_t len = length >= 0 ? length : declared_bytes(p), end;
  bool fits = offset >= 0 && len >= 0 && !__builtin_add_overflow(offset, len, &end);
  if (fits && end > e->bytes_needed) e->bytes_needed = end;
}

static void note_tensor(kiln_onnx_facts *f, const Onnx__TensorProto *p, bool weight) {
  if (p->has_data_location && p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    note_external(f, p);
  if (!weight) return;
  int64_t b = declared_bytes(p);
  f->nweights++;
  if (b > 0 && !__builtin_add_overflow(f->weight_bytes, b, &f->weight_bytes)) return;
  if (b > 0) f->weight_bytes = INT64_MAX;
}

/* Initializers and Constant values of a graph and, through attributes, its subgraphs.
 * Nesting was bounded by the unpack guard. */
static void walk_graph(kiln_onnx_facts *f, const Onnx__GraphProto *g) {
  for (size_t i = 0; i < g->n_initializer; i++) note_tensor(f, g->initializer[i], true);
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    for (size_t a = 0; a < n->n_attribute; a++) {
      const Onnx__AttributeProto *ap = n->attribute[a];
      if (ap->t) note_tensor(f, ap->t, false);
      for (size_t k = 0; k < ap->n_tensors; k++) note_tensor(f, ap->tensors[k], false);
      if (ap->g) walk_graph(f, ap->g);
      for (size_t k = 0; k < ap->n_graphs; k++) walk_graph(f, ap->graphs[k]);
    }
  }
}

/* Each external file: there, big enough, inside the model's folder? */
static void stat_files(kiln_onnx_facts *f, const char *base_dir) {
  for (int i = 0; i < f->nfiles; i++) {
    kiln_onnx_extfile *e = &f->files[i];
    if (!kiln_onnx_safe_path(e->location)) {
      e->status = "outside the model's folder";
      continue;
    }
    char *path = kiln_fmt("%s/%s", base_dir, e->location);
    struct stat sb;
    if (stat(path, &sb) != 0) e->status = "missing";
    else if (!S_ISREG(sb.st_mode)) e->status = "unreadable";
    else {
      e->size = (int64_t)sb.st_size;
      e->status = e->size < e->bytes_needed ? "too short" : "present";
    }
    free(path);
  }
}

static void gather_facts(kiln_onnx_facts *f, const Onnx__ModelProto *m, const char *base_dir) {
  f->ir_version = m->has_ir_version ? m->ir_version : 0;
  f->producer = kiln_fmt("%s%s%s", KILN_ONNX_STR(m->producer_name),
                         m->producer_version && *m->producer_version ? " " : "",
                         KILN_ONNX_STR(m->producer_version));
  f->opsets = kiln_xcalloc(m->n_opset_import + 1, sizeof *f->opsets);
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const char *d = KILN_ONNX_STR(m->opset_import[i]->domain);
    bool std = !*d || !strcmp(d, "ai.onnx");
    int64_t v = m->opset_import[i]->version;
    bool known = std ? v >= 1 && v <= KILN_ONNX_MAX_OPSET : kiln_op_domain_known(d);
    f->opsets[f->nopsets++] = (kiln_onnx_opset){kiln_xstrdup(d), v, known};
  }
  if (m->graph) walk_graph(f, m->graph);
  stat_files(f, base_dir);
}

kiln_status kiln_onnx_check(const void *data, size_t size, const char *base_dir,
                            kiln_onnx_facts *facts, kiln_diags *diags, kiln_graph **g,
                            kiln_error *err) {
  *g = NULL;
  if (facts) memset(facts, 0, sizeof *facts);
  Onnx__ModelProto *m = NULL;
  kiln_status st = kiln_onnx_unpack(data, size, &m, err);
  if (st) return st;
  if (!base_dir) base_dir = ".";
  if (facts) gather_facts(facts, m, base_dir);
  st = kiln_onnx_import_model(m, base_dir, diags, g, err);
  onnx__model_proto__free_unpacked(m, NULL);
  return st;
}

void kiln_onnx_facts_free(kiln_onnx_facts *f) {
  for (int i = 0; i < f->nopsets; i++) free(f->opsets[i].domain);
  for (int i = 0; i < f->nfiles; i++) free(f->files[i].location);
  free(f->opsets);
  free(f->files);
  free(f->producer);
  memset(f, 0, sizeof *f);
}
