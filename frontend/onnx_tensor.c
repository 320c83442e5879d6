/* TensorProto <-> kiln_tensor: raw, typed-field and external data, every size checked
 * against the bytes actually present before anything is allocated; tensor files (the ONNX
 * test-data .pb format), written atomically; whole-file reads. Assumes a little-endian
 * host, as ONNX's raw_data is little-endian. The 4- and 2-bit types, which files pack,
 * are unpacked to kiln's one element per byte on reading and packed on writing. */
#include "frontend/onnx_internal.h"

#include "ir/dtype.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Maps an ONNX element type to kiln's, or fails naming the tensor. */
static kiln_status tensor_dtype(int32_t t, const char *what, kiln_dtype *out, kiln_error *err) {
  if (t == KILN_STRING)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "%s: a string tensor as a constant; kiln takes "
                     "strings as graph inputs only", what);
  if (t <= 0 || t > KILN_DTYPE_LAST || !kiln_dtype_valid((kiln_dtype)t))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "%s: element type %d is not supported", what, (int)t);
  *out = (kiln_dtype)t;
  return KILN_OK;
}

/* Copies `count` elements from a typed repeated field into t->data, narrowing to the
 * tensor's element type (int32_data carries 8/16-bit ints, bool and f8/f16/bf16 bits). */
static void from_typed(const Onnx__TensorProto *p, kiln_tensor *t, int64_t count) {
  uint8_t *d = t->data;
  for (int64_t i = 0; i < count; i++) {
    switch (t->dtype) {
    case KILN_F32: ((float *)d)[i] = p->float_data[i]; break;
    case KILN_F64: ((double *)d)[i] = p->double_data[i]; break;
    case KILN_I64: ((int64_t *)d)[i] = p->int64_data[i]; break;
    case KILN_I32: ((int32_t *)d)[i] = p->int32_data[i]; break;
    case KILN_I16: ((int16_t *)d)[i] = (int16_t)p->int32_data[i]; break;
    case KILN_U16: case KILN_F16: case KILN_BF16:
      ((uint16_t *)d)[i] = (uint16_t)p->int32_data[i]; break;
    case KILN_I8: ((int8_t *)d)[i] = (int8_t)p->int32_data[i]; break;
    case KILN_U8: d[i] = (uint8_t)p->int32_data[i]; break;
    case KILN_BOOL: d[i] = p->int32_data[i] != 0; break;
    case KILN_F8E4M3FN: case KILN_F8E4M3FNUZ: case KILN_F8E5M2: case KILN_F8E5M2FNUZ:
      d[i] = (uint8_t)p->int32_data[i]; break;
    case KILN_U32: ((uint32_t *)d)[i] = (uint32_t)p->uint64_data[i]; break;
    case KILN_U64: ((uint64_t *)d)[i] = p->uint64_data[i]; break;
    default: break;
    }
  }
}

/* Number of elements the typed field for this dtype holds. */
static size_t typed_count(const Onnx__TensorProto *p, kiln_dtype t) {
  switch (t) {
  case KILN_F32: return p->n_float_data;
  case KILN_F64: return p->n_double_data;
  case KILN_I64: return p->n_int64_data;
  case KILN_U32: case KILN_U64: return p->n_uint64_data;
  default: return p->n_int32_data;
  }
}

bool kiln_onnx_safe_path(const char *s) {
  if (!*s || *s == '/' || *s == '\\') return false;
  for (const char *c = s; *c;) {
    size_t len = strcspn(c, "/\\");
    if (len == 2 && c[0] == '.' && c[1] == '.') return false;
    c += len;
    if (*c) c++;
  }
  return true;
}

static kiln_status parse_size(const char *s, const char *key, const char *what, int64_t *out,
                              kiln_error *err) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno || v < 0)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: external data %s '%s' is not a valid size", what, key, s);
  *out = v;
  return KILN_OK;
}

/* Reads `bytes` bytes of external data into t->data. */
static kiln_status read_external(const Onnx__TensorProto *p, const char *what,
                                 const char *base_dir, kiln_tensor *t, int64_t bytes,
                                 kiln_error *err) {
  const char *location = NULL;
  int64_t offset = 0, length = -1;
  for (size_t i = 0; i < p->n_external_data; i++) {
    const char *k = KILN_ONNX_STR(p->external_data[i]->key);
    const char *v = KILN_ONNX_STR(p->external_data[i]->value);
    if (strcmp(k, "location") == 0) location = v;
    else if (strcmp(k, "offset") == 0 && parse_size(v, k, what, &offset, err)) return err->code;
    else if (strcmp(k, "length") == 0 && parse_size(v, k, what, &length, err)) return err->code;
  }
  if (!location) return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: external data has no location", what);
  if (!kiln_onnx_safe_path(location))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: external data location '%s' must be a relative path inside the model's directory", what, location);
  if (!base_dir)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "%s: external data is not supported here", what);
  if (length >= 0 && length != bytes)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: external data length %lld does not match its shape (%lld bytes)", what, (long long)length, (long long)bytes);
  char *path = kiln_fmt("%s/%s", base_dir, location);
  kiln_status st = KILN_OK;
  FILE *f = fopen(path, "rb");
  struct stat sb;
  if (!f) {
    st = kiln_fail(err, errno == ENOENT ? KILN_ERR_NO_SUCH_FILE : KILN_ERR_IO, "%s: cannot open external data file '%s': %s", what, path, strerror(errno));
  } else if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    st = kiln_fail(err, KILN_ERR_IO, "%s: external data '%s' is not a regular file", what, path);
  } else if (offset > (int64_t)sb.st_size || bytes > (int64_t)sb.st_size - offset) {
    st = kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: external data file '%s' is too short (%lld bytes, need %lld at offset %lld)", what, path, (long long)sb.st_size, (long long)bytes, (long long)offset);
  } else if (bytes > 0) {
    t->data = kiln_xmalloc((size_t)bytes);
    if (fseeko(f, (off_t)offset, SEEK_SET) != 0 || fread(t->data, 1, (size_t)bytes, f) != (size_t)bytes)
      st = kiln_fail(err, KILN_ERR_IO, "%s: cannot read external data file '%s'", what, path);
  }
  if (f) fclose(f);
  free(path);
  return st;
}

/* A 4- or 2-bit tensor: its packed bytes (raw, external, or one a int32_data entry), then
 * one element a byte. */
static kiln_status read_packed(const Onnx__TensorProto *p, const char *what,
                               const char *base_dir, kiln_tensor *t, int64_t numel,
                               kiln_error *err) {
  int64_t packed = kiln_packed_bytes(t->dtype, numel);
  kiln_tensor raw = *t; /* external or int32_data bytes; raw_data is read where it lies */
  raw.data = NULL;
  const uint8_t *src = NULL;
  if (p->has_data_location && p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    if (read_external(p, what, base_dir, &raw, packed, err)) {
      free(raw.data);
      return err->code;
    }
    src = raw.data;
  } else if (p->has_raw_data) {
    if ((uint64_t)p->raw_data.len != (uint64_t)packed)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: raw data holds %zu bytes, its shape needs %lld (packed)", what, p->raw_data.len, (long long)packed);
    src = p->raw_data.data; /* NULL when empty: then numel is 0 too */
  } else {
    if ((uint64_t)p->n_int32_data != (uint64_t)packed)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: holds %zu packed bytes, its shape needs %lld", what, p->n_int32_data, (long long)packed);
    raw.data = kiln_xmalloc((size_t)packed + 1);
    for (int64_t i = 0; i < packed; i++) ((uint8_t *)raw.data)[i] = (uint8_t)p->int32_data[i];
    src = raw.data;
  }
  if (numel) {
    t->data = kiln_xmalloc((size_t)numel);
    kiln_unpack_elems(t->dtype, src, numel, t->data);
  }
  free(raw.data);
  return KILN_OK;
}

kiln_status kiln_onnx_tensor_from_proto(const Onnx__TensorProto *p, const char *what,
                                        const char *base_dir, kiln_tensor *t,
                                        kiln_error *err) {
  memset(t, 0, sizeof *t);
  kiln_dtype dtype = KILN_UNDEFINED;
  if (tensor_dtype(p->has_data_type ? p->data_type : 0, what, &dtype, err)) return err->code;
  if (p->n_dims > KILN_MAX_RANK)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: rank %zu exceeds kiln's maximum of %d", what, p->n_dims, KILN_MAX_RANK);
  int64_t numel = 1, bytes;
  for (size_t d = 0; d < p->n_dims; d++) {
    if (p->dims[d] < 0)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: negative dim %lld", what, (long long)p->dims[d]);
    if (kiln_mul_overflows(numel, p->dims[d], &numel))
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: element count overflows", what);
  }
  if (kiln_mul_overflows(numel, (int64_t)kiln_dtype_size(dtype), &bytes))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: size overflows", what);
  if (p->segment) return kiln_fail(err, KILN_ERR_UNSUPPORTED, "%s: segmented tensors are not supported", what);
  t->dtype = dtype;
  t->rank = (int)p->n_dims;
  for (int d = 0; d < t->rank; d++) t->dims[d] = p->dims[d];

  if (kiln_dtype_bits(dtype) < 8) return read_packed(p, what, base_dir, t, numel, err);
  if (p->has_data_location && p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    if (read_external(p, what, base_dir, t, bytes, err)) {
      kiln_tensor_free(t);
      return err->code;
    }
    return KILN_OK;
  }
  if (p->has_raw_data) {
    if ((uint64_t)p->raw_data.len != (uint64_t)bytes)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: raw data holds %zu bytes, its shape needs %lld", what, p->raw_data.len, (long long)bytes);
    if (bytes) {
      t->data = kiln_xmalloc((size_t)bytes);
      memcpy(t->data, p->raw_data.data, (size_t)bytes);
    }
    return KILN_OK;
  }
  size_t count = typed_count(p, dtype);
  if ((uint64_t)count != (uint64_t)numel)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: holds %zu elements, its shape needs %lld", what, count, (long long)numel);
  if (bytes) {
    t->data = kiln_xmalloc((size_t)bytes);
    from_typed(p, t, numel);
  }
  return KILN_OK;
}

/* A string tensor's string_data as kiln holds strings (rt/strings.h): one block, the
 * element pointers first, then the NUL-terminated strings they point at. */
static kiln_status read_strings(const Onnx__TensorProto *p, const char *what, kiln_tensor *t,
                                kiln_error *err) {
  if (p->n_dims > KILN_MAX_RANK)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: rank %zu exceeds kiln's maximum of %d", what, p->n_dims, KILN_MAX_RANK);
  int64_t numel = 1;
  for (size_t d = 0; d < p->n_dims; d++)
    if (p->dims[d] < 0 || kiln_mul_overflows(numel, p->dims[d], &numel))
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: bad dim %lld", what, (long long)p->dims[d]);
  if ((uint64_t)p->n_string_data != (uint64_t)numel)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: holds %zu strings, its shape needs %lld", what, p->n_string_data, (long long)numel);
  size_t bytes = (size_t)numel * sizeof(char *);
  for (size_t i = 0; i < p->n_string_data; i++) {
    if (p->string_data[i].len && memchr(p->string_data[i].data, 0, p->string_data[i].len))
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "%s: string %zu holds a NUL byte, which kiln's "
                       "strings (C strings) cannot", what, i);
    bytes += p->string_data[i].len + 1;
  }
  t->dtype = KILN_STRING;
  t->rank = (int)p->n_dims;
  for (int d = 0; d < t->rank; d++) t->dims[d] = p->dims[d];
  if (!numel) return KILN_OK;
  char **ptrs = t->data = kiln_xmalloc(bytes);
  char *at = (char *)(ptrs + numel);
  for (size_t i = 0; i < p->n_string_data; i++) {
    ptrs[i] = at;
    if (p->string_data[i].len) memcpy(at, p->string_data[i].data, p->string_data[i].len);
    at += p->string_data[i].len;
    *at++ = 0;
  }
  return KILN_OK;
}

kiln_status kiln_onnx_read_tensor(const void *data, size_t size, kiln_tensor *t, char **name,
                                  kiln_error *err) {
  memset(t, 0, sizeof *t);
  if (name) *name = NULL;
  Onnx__TensorProto *p = onnx__tensor_proto__unpack(NULL, size, data);
  if (!p) return kiln_fail(err, KILN_ERR_INVALID_MODEL, "not a valid ONNX tensor: protobuf parse failed (%zu bytes)", size);
  const char *nm = KILN_ONNX_STR(p->name);
  char *what = kiln_fmt("tensor '%s'", nm);
  kiln_status st = p->has_data_type && p->data_type == KILN_STRING
                       ? read_strings(p, what, t, err)
                       : kiln_onnx_tensor_from_proto(p, what, NULL, t, err);
  if (!st && name) *name = kiln_xstrdup(nm);
  free(what);
  onnx__tensor_proto__free_unpacked(p, NULL);
  return st;
}

kiln_status kiln_onnx_write_tensor(const char *path, const char *name, const kiln_tensor *t,
                                   kiln_error *err) {
  if (t->rank < 0 || t->rank > KILN_MAX_RANK || !kiln_dtype_known(t->dtype))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "writing '%s': invalid tensor type or rank", path);
  int64_t numel = 1, bytes;
  for (int d = 0; d < t->rank; d++)
    if (t->dims[d] < 0 || kiln_mul_overflows(numel, t->dims[d], &numel))
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "writing '%s': invalid shape", path);
  if (kiln_mul_overflows(numel, (int64_t)kiln_dtype_size(t->dtype), &bytes) || (bytes && !t->data))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "writing '%s': invalid tensor size", path);

  Onnx__TensorProto p = ONNX__TENSOR_PROTO__INIT;
  int64_t dims[KILN_MAX_RANK];
  memcpy(dims, t->dims, sizeof dims);
  p.n_dims = (size_t)t->rank;
  p.dims = dims;
  p.has_data_type = 1;
  p.data_type = t->dtype;
  p.name = (char *)(name ? name : "");
  p.has_raw_data = 1;
  p.raw_data.len = (size_t)bytes;
  p.raw_data.data = t->data;
  uint8_t *packed = NULL;
  ProtobufCBinaryData *strs = NULL;
  if (t->dtype == KILN_STRING) { /* string_data, each a C string (NULL: "") */
    p.has_raw_data = 0;
    p.n_string_data = (size_t)numel;
    p.string_data = strs = kiln_xcalloc((size_t)numel + 1, sizeof *strs);
    for (int64_t i = 0; i < numel; i++) {
      char *e = ((char **)t->data)[i];
      strs[i] = (ProtobufCBinaryData){e ? strlen(e) : 0, (uint8_t *)(e ? e : "")};
    }
  } else if (kiln_dtype_bits(t->dtype) < 8) { /* files pack the 4- and 2-bit types */
    p.raw_data.len = (size_t)kiln_packed_bytes(t->dtype, numel);
    p.raw_data.data = packed = kiln_xmalloc(p.raw_data.len + 1);
    kiln_pack_elems(t->dtype, t->data, numel, packed);
  }
  size_t n = onnx__tensor_proto__get_packed_size(&p);
  uint8_t *buf = kiln_xmalloc(n);
  onnx__tensor_proto__pack(&p, buf);
  free(packed);
  free(strs);

  kiln_status st = kiln_write_file_atomic(path, buf, n, NULL, 0, err);
  free(buf);
  return st;
}

kiln_status kiln_read_file(const char *path, void **data, size_t *size, kiln_error *err) {
  *data = NULL;
  *size = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return kiln_fail(err, errno == ENOENT ? KILN_ERR_NO_SUCH_FILE : KILN_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    fclose(f);
    return kiln_fail(err, KILN_ERR_IO, "'%s' is not a regular file", path);
  }
  size_t n = (size_t)sb.st_size;
  uint8_t *buf = kiln_xmalloc(n + 1); /* +1: never malloc(0); room for a NUL for text */
  size_t got = fread(buf, 1, n, f);
  bool bad = ferror(f) != 0;
  fclose(f);
  if (bad || got != n) {
    free(buf);
    return kiln_fail(err, KILN_ERR_IO, "cannot read '%s'", path);
  }
  buf[n] = 0;
  *data = buf;
  *size = n;
  return KILN_OK;
}
