/* Telling ONNX from DSL text. The extension is what the user said; without one, the first
 * bytes say: a serialized ModelProto starts with binary tags (0x08 for ir_version), text
 * almost never parses as one, and whatever text it is, the DSL's diagnostics (line,
 * column, caret) serve a person better than "malformed protobuf". */
#include "frontend/dsl.h"
#include "frontend/onnx_internal.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#define SNIFF_BYTES 4096

static bool has_ext(const char *path, const char *ext) {
  size_t n = strlen(path), e = strlen(ext);
  return n > e && strcasecmp(path + n - e, ext) == 0 && path[n - e - 1] != '/';
}

/* Printable UTF-8 (tabs and line ends allowed) in the first SNIFF_BYTES; a character cut
 * by the window's end counts as whole. */
static bool printable_text(const uint8_t *p, size_t size) {
  size_t n = size < SNIFF_BYTES ? size : SNIFF_BYTES;
  for (size_t i = 0; i < n;) {
    uint8_t b = p[i];
    if (b < 0x80) {
      if ((b < 0x20 && b != '\t' && b != '\n' && b != '\r' && b != '\f' && b != '\v') || b == 0x7f)
        return false;
      i++;
      continue;
    }
    int len = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (!len) return false;
    for (int k = 1; k < len; k++)
      if (i + (size_t)k < size && (p[i + (size_t)k] & 0xc0) != 0x80) return false;
    i += (size_t)len;
  }
  return true;
}

static bool onnx_model(const void *data, size_t size) {
  const char *why;
  if (!kiln_onnx_depth_ok(&onnx__model_proto__descriptor, data, size, KILN_ONNX_MAX_NESTING, &why)) return false;
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
  bool ok = m && m->graph;
  if (m) onnx__model_proto__free_unpacked(m, NULL);
  return ok;
}

bool kiln_model_is_dsl(const char *path, const void *data, size_t size) {
  if (path && has_ext(path, ".kiln")) return true;
  if (path && has_ext(path, ".onnx")) return false;
  if (!data) return false;
  if (kiln_dsl_detect(data, size)) return true;
  return printable_text(data, size) && !onnx_model(data, size);
}
