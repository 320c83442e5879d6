/* kiln_options across versions (include/kiln.h, runtime/options.c): a struct from an older
 * header (a smaller struct_size) is read up to its size and no further, the fields it lacks
 * taking their defaults; a newer header's struct is accepted while the bytes this library
 * does not know are 0; a zeroed struct, or one whose struct_size is a pointer, is refused
 * naming struct_size. The older struct ends at a page whose next page is inaccessible, so
 * reading past it would crash. Also kiln_version() against the KILN_VERSION_* macros. */
#include "check.h"

#include "kiln.h"
#include "runtime/options.h"
#include "runtime/profile.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *text = "model m(x: f32[N, 4]) {\n"
                          "  return y = Relu(x * 2 + 1)\n}\n";

static int kernels(const kiln_model *m) {
  return kiln_steps_kernels(&kiln_model_program(m)->main, NULL, 0);
}

/* A header from before no_layout: its struct is the bytes up to that field. The struct
 * is placed at the end of an accessible page, the next one mapped PROT_NONE. */
static void older_header(void) {
  long page = sysconf(_SC_PAGESIZE);
  unsigned char *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(map != MAP_FAILED);
  if (map == MAP_FAILED) return;
  CHECK(mprotect(map + page, (size_t)page, PROT_NONE) == 0);
  size_t old_size = offsetof(kiln_options, no_layout);
  kiln_options *old = (kiln_options *)(void *)(map + page - old_size);
  CHECK(((uintptr_t)old % _Alignof(kiln_options)) == 0);
  memset(old, 0, old_size);
  kiln_shape_binding n2 = {"x", 2, {2, 4}};
  old->struct_size = old_size;
  old->shapes = &n2;
  old->nshapes = 1;
  old->no_fuse = 1;

  kiln_options read;
  kiln_error err = {0};
  CHECK(kiln_options_read(old, &read, &err) == KILN_OK);
  CHECK(read.struct_size == sizeof read && read.no_fuse == 1 && read.nshapes == 1);
  CHECK(read.no_layout == 0 && read.tuning_log == NULL); /* past the old struct: defaults */

  kiln_model *m = NULL;
  CHECK(kiln_compile_buffer(text, strlen(text), old, &m, &err) == KILN_OK);
  if (m) {
    kiln_tensor_info in;
    CHECK(kiln_input_info(m, 0, &in) == KILN_OK && in.dims[0] == 2); /* shapes was read */
    CHECK(kernels(m) == 3);                                          /* and no_fuse */
    float x[8], y[8];
    for (int i = 0; i < 8; i++) x[i] = (float)i - 4;
    const void *ins[1] = {x};
    void *outs[1] = {y};
    CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
    for (int i = 0; i < 8; i++) CHECK(y[i] == (x[i] * 2 + 1 > 0 ? x[i] * 2 + 1 : 0));
    kiln_model_free(m);
  }
  /* the same fields in this header's struct: fused into one kernel without no_fuse */
  kiln_options now;
  kiln_options_init(&now);
  CHECK(now.struct_size == sizeof now && now.no_fuse == 0 && now.shapes == NULL);
  now.shapes = &n2;
  now.nshapes = 1;
  CHECK(kiln_compile_buffer(text, strlen(text), &now, &m, &err) == KILN_OK);
  if (m) CHECK(kernels(m) == 1);
  kiln_model_free(m);
  munmap(map, (size_t)page * 2);
}

/* A header with one more field than this library knows. */
static void newer_header(void) {
  struct {
    kiln_options known;
    int64_t unknown;
  } newer;
  memset(&newer, 0, sizeof newer);
  kiln_shape_binding n1 = {"x", 2, {1, 4}};
  newer.known.struct_size = sizeof newer;
  newer.known.shapes = &n1;
  newer.known.nshapes = 1;
  kiln_model *m = NULL;
  kiln_error err = {0};
  CHECK(kiln_compile_buffer(text, strlen(text), &newer.known, &m, &err) == KILN_OK);
  kiln_model_free(m);
  m = NULL;
  newer.unknown = 1; /* an option this library would ignore: refused */
  CHECK(kiln_compile_buffer(text, strlen(text), &newer.known, &m, &err) == KILN_ERR_UNSUPPORTED);
  CHECK(m == NULL && strstr(err.message, "newer kiln.h"));
  CHECK(kiln_compile_aot("../examples/demo.onnx", &newer.known, "unused.so", "m", &err) ==
        KILN_ERR_UNSUPPORTED);
  CHECK(access("unused.so", F_OK) != 0);
}

static void zeroed(void) {
  kiln_options zero;
  memset(&zero, 0, sizeof zero);
  kiln_model *m = NULL;
  kiln_error err = {0};
  CHECK(kiln_compile_buffer(text, strlen(text), &zero, &m, &err) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(m == NULL && strstr(err.message, "kiln_options.struct_size is 0"));
  CHECK(kiln_compile_file("../examples/demo.onnx", &zero, &m, &err) == KILN_ERR_INVALID_ARGUMENT);
  /* a struct from before struct_size: its first field, a pointer, read as the size */
  kiln_shape_binding b = {"x", 2, {1, 4}};
  zero.struct_size = (size_t)&b;
  CHECK(kiln_compile_buffer(text, strlen(text), &zero, &m, &err) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(m == NULL && strstr(err.message, "more than any kiln_options"));
  /* NULL options: every default */
  CHECK(kiln_compile_file("../examples/demo.onnx", NULL, &m, &err) == KILN_OK);
  kiln_model_free(m);
}

static void version(void) {
  char want[64];
  snprintf(want, sizeof want, "%d.%d.%d", KILN_VERSION_MAJOR, KILN_VERSION_MINOR,
           KILN_VERSION_PATCH);
  CHECK(strcmp(KILN_VERSION, want) == 0);
  CHECK(strcmp(kiln_version(), KILN_VERSION) == 0);
}

int main(void) {
  older_header();
  newer_header();
  zeroed();
  version();
  return check_report();
}
