/* The "cuda-host" backend: the program's CUDA C (cuda_emit.c) after the host header, which
 * runs every kernel's threads one after another on the CPU, compiled by the system C
 * compiler (`cc -O1`, one translation unit per model) into a shared library that is
 * loaded with dlopen (with kiln_options.gpu_arch, NVRTC compiles it for that GPU first, so
 * a source NVRTC refuses fails here too). It runs the GPU backend's code, schedules and index arithmetic
 * where there is no GPU, so the test suites check them against the references. The
 * temporary files are gone once the library is loaded. */
#include "codegen/cuda.h"
#include "codegen/nvrtc.h"
#include "codegen/plumbing.h"
#include "ir/tempfile.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct host_code {
  void *lib;
} host_code;

static kiln_status host_check(const kiln_options *opts, kiln_error *err) {
  if (opts->profile)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "target '%s': profiling is not implemented by "
                     "the GPU backend", opts->target);
  return KILN_OK;
}

/* The source, host header first, in a new temporary file *src; with gpu_arch, NVRTC
 * compiles it (without the host header) first. */
static kiln_status write_source(const kiln_program *p, const char *gpu_arch, const char *dir,
                                kiln_temp *src, kiln_error *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  if (!mem) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "cuda-host: no memory for the source");
  fputs(kiln_cuda_host_header, mem);
  kiln_status st = kiln_cuda_emit_program(p, mem, err);
  fclose(mem);
  if (!st && gpu_arch) {
    kiln_nvrtc_output out;
    st = kiln_nvrtc_compile(text + strlen(kiln_cuda_host_header), gpu_arch, &out, err);
    if (!st) kiln_nvrtc_output_free(&out);
  }
  char *prefix = kiln_fmt("%s/kiln-cuda-host.", dir);
  int fd = st ? -1 : kiln_temp_open(prefix, ".c", src);
  free(prefix);
  if (!st && fd < 0)
    st = kiln_fail(err, KILN_ERR_IO, "cuda-host: cannot create a source file in '%s'", dir);
  if (fd >= 0) {
    size_t done = 0;
    while (done < len) {
      ssize_t n = write(fd, text + done, len - done);
      if (n <= 0) break;
      done += (size_t)n;
    }
    close(fd);
    if (done < len) st = kiln_fail(err, KILN_ERR_IO, "cuda-host: cannot write '%s'", src->path);
  }
  free(text);
  return st;
}

static void drop(kiln_temp *t) {
  if (t->path) unlink(t->path);
  kiln_temp_forget(t);
}

static kiln_status host_jit(const kiln_program *p, const kiln_options *opts, void **code,
                            kiln_entry_fn *entry, kiln_error *err) {
  *code = NULL;
  *entry = NULL;
  const char *dir = getenv("TMPDIR");
  if (!dir || !*dir) dir = "/tmp";
  kiln_temp src = {0}, lib = {0};
  kiln_status st = write_source(p, opts ? opts->gpu_arch : NULL, dir, &src, err);
  if (!st) {
    char *prefix = kiln_fmt("%s/kiln-cuda-host.", dir);
    int fd = kiln_temp_open(prefix, ".so", &lib);
    free(prefix);
    if (fd < 0) st = kiln_fail(err, KILN_ERR_IO, "cuda-host: cannot create a library file in '%s'", dir);
    else close(fd);
  }
  if (!st) {
    char *argv[] = {"cc", "-O1", "-std=c11", "-fPIC", "-shared", "-w", "-o", lib.path,
                    src.path, "-lm", NULL};
    st = kiln_run_tool(argv, err);
  }
  void *h = NULL;
  if (!st && !(h = dlopen(lib.path, RTLD_NOW | RTLD_LOCAL))) {
    const char *why = dlerror();
    st = kiln_fail(err, KILN_ERR_CODEGEN, "cuda-host: cannot load '%s': %s", lib.path, why ? why : "?");
  }
  if (h) {
    *entry = (kiln_entry_fn)dlsym(h, KILN_CUDA_ENTRY);
    if (!*entry) {
      dlclose(h);
      st = kiln_fail(err, KILN_ERR_CODEGEN, "cuda-host: '%s' has no entry function", lib.path);
    }
  }
  drop(&src);
  drop(&lib);
  if (st) return st;
  host_code *hc = kiln_xcalloc(1, sizeof *hc);
  hc->lib = h;
  *code = hc;
  return KILN_OK;
}

static void host_free(void *code) {
  host_code *hc = code;
  if (!hc) return;
  dlclose(hc->lib);
  free(hc);
}

static kiln_status host_aot_check(const kiln_options *opts, const char *out_path,
                                  const char *name, kiln_error *err) {
  (void)out_path, (void)name;
  return kiln_fail(err, KILN_ERR_UNSUPPORTED, "target '%s' runs in memory only: AOT libraries "
                   "are for targets cpu", opts->target);
}

static kiln_status host_aot_write(const kiln_program *p, const kiln_options *opts,
                                  const char *out_path, const char *name, kiln_error *err) {
  (void)p;
  return host_aot_check(opts, out_path, name, err);
}

const kiln_backend kiln_cuda_host_backend = {
    .name = "cuda-host",
    .check = host_check,
    .jit = host_jit,
    .free_code = host_free,
    .aot_check = host_aot_check,
    .aot_write = host_aot_write,
};
