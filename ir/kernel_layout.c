/* Buffer layout: where each element of a kernel buffer's view lives in its storage. Most
 * buffers are dense (row-major over their view). A value placed in a slot of a larger one
 * (passes/place_concat.c: a Concat's inputs written straight into its output) is strided:
 * its elements come in rows of `row` that start `pitch` apart. Views reshape freely (a
 * Conv merges H and W), so the layout is stated over the flat element index, and per-dim
 * strides follow for any view whose trailing dims cover whole rows. */
#include "ir/kernel.h"

#include "ir/dtype.h"
#include "ir/graph.h"

#include <string.h>

bool kiln_buffer_strides(const kiln_buffer *b, int64_t *strides) {
  int64_t inner = 1;
  int split = b->rank; /* the first dim of the trailing ones that make up a row */
  for (int d = b->rank - 1; d >= 0; d--) {
    strides[d] = inner;
    inner *= b->dims[d];
    if (b->row && inner == b->row) split = d;
  }
  if (!b->row || inner <= b->row) return true; /* one row at most: dense from its start */
  if (split == b->rank) return false;
  for (int d = 0; d < split; d++) strides[d] = strides[d] / b->row * b->pitch;
  return true;
}

int64_t kiln_buffer_place(const kiln_buffer *b, int64_t e) {
  return b->row ? e / b->row * b->pitch + e % b->row : e;
}

int64_t kiln_buffer_span(const kiln_buffer *b) {
  int64_t n = kiln_shape_numel(b->rank, b->dims);
  return n > 0 ? kiln_buffer_place(b, n - 1) + 1 : 0;
}

static void move(const kiln_buffer *b, char *base, char *dense, bool out) {
  size_t es = kiln_dtype_size(b->dtype);
  int64_t n = kiln_shape_numel(b->rank, b->dims), row = b->row ? b->row : (n ? n : 1);
  for (int64_t e = 0; e < n; e += row) {
    size_t bytes = (size_t)(n - e < row ? n - e : row) * es;
    char *at = base + (size_t)kiln_buffer_place(b, e) * es;
    if (out) memcpy(dense + (size_t)e * es, at, bytes);
    else memcpy(at, dense + (size_t)e * es, bytes);
  }
}

void kiln_buffer_gather(const kiln_buffer *b, const void *base, void *dense) {
  move(b, (char *)base, dense, true);
}

void kiln_buffer_scatter(const kiln_buffer *b, void *base, const void *dense) {
  move(b, base, (char *)dense, false);
}
