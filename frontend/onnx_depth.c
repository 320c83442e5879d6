/* A guard run before protobuf-c unpacks a model: protobuf-c recurses once per nested
 * message with no limit, so a few MB of hostile bytes (graph in attribute in node in
 * graph...) overflow the stack. This walks the wire format without recursion, using the
 * generated descriptors only to tell sub-messages from other length-delimited fields, and
 * rejects nesting deeper than a bound or bytes that are not well-formed wire format. */
#include "frontend/onnx_internal.h"

#include <string.h>

/* Reads a varint at *pos (< end); false when malformed or truncated. */
static bool varint(const uint8_t *d, size_t end, size_t *pos, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && *pos < end; shift += 7) {
    uint8_t b = d[(*pos)++];
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

bool kiln_onnx_depth_ok(const ProtobufCMessageDescriptor *desc, const void *data, size_t size,
                        int max_depth, const char **why) {
  struct { const ProtobufCMessageDescriptor *desc; size_t end; } stack[KILN_ONNX_MAX_NESTING + 1];
  if (max_depth > KILN_ONNX_MAX_NESTING) max_depth = KILN_ONNX_MAX_NESTING;
  const uint8_t *d = data;
  int top = 0;
  stack[0].desc = desc;
  stack[0].end = size;
  size_t pos = 0;
  *why = NULL;
  for (;;) {
    while (top >= 0 && pos == stack[top].end) top--;
    if (top < 0) return true;
    size_t end = stack[top].end;
    uint64_t tag, len;
    if (!varint(d, end, &pos, &tag)) break;
    switch (tag & 7) {
    case 0: /* varint */
      if (!varint(d, end, &pos, &len)) goto bad;
      break;
    case 1: /* fixed64 */
      if (end - pos < 8) goto bad;
      pos += 8;
      break;
    case 5: /* fixed32 */
      if (end - pos < 4) goto bad;
      pos += 4;
      break;
    case 2: { /* length-delimited: bytes, string, packed numbers or a sub-message */
      if (!varint(d, end, &pos, &len) || len > end - pos) goto bad;
      const ProtobufCFieldDescriptor *f =
          tag >> 3 <= 0xffffffffu ? protobuf_c_message_descriptor_get_field(stack[top].desc, (unsigned)(tag >> 3)) : NULL;
      if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
        if (top + 1 > max_depth) {
          *why = "messages nested too deeply";
          return false;
        }
        top++;
        stack[top].desc = f->descriptor;
        stack[top].end = pos + (size_t)len;
      } else {
        pos += (size_t)len;
      }
      break;
    }
    default: /* groups (3, 4) and invalid wire types */
      goto bad;
    }
  }
bad:
  *why = "malformed protobuf wire format";
  return false;
}
