/* A stand-in for the CUDA driver (libcuda.so.1) for unit_cuda_run, which compiles it with
 * `cc` and runs itself again with it on LD_LIBRARY_PATH: device memory is host memory
 * (filled with 0x3f bytes when allocated, so that outputs copied back are recognisable), the
 * device an sm_86 (so that the JIT's default architecture is seen to be the device's),
 * kernels launch as no-ops, and every call is counted, so the test can check what the
 * runtime of target "cuda" (codegen/cuda_driver_rt.c) asks of the driver where there is no
 * GPU (NVRTC, which opens it too, is refused its export table). MOCK_CUDA_FAIL names a call
 * to fail: "init", "cubin" (the cubin is refused, the PTX taken), "module" (both refused),
 * "alloc" or "launch". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;

typedef struct mock_stats {
  int inits, retains, releases, loads, unloads, allocs, frees, launches, events, destroys;
  int pushes, pops, ptx_loads;
  void *last_stream;      /* of the last launch */
  void *args[256];        /* the buffers the launches were given (the runtime ends its
                             parameter list with NULL) */
  int nargs;
} mock_stats;

static mock_stats stats;

__attribute__((visibility("default"))) mock_stats *mock_cuda_stats(void) { return &stats; }

static int failing(const char *what) {
  const char *f = getenv("MOCK_CUDA_FAIL");
  return f && !strcmp(f, what);
}

CUresult cuGetErrorName(CUresult r, const char **s) {
  *s = r == 700 ? "CUDA_ERROR_ILLEGAL_ADDRESS" : "CUDA_ERROR_MOCK";
  return 0;
}
/* NVRTC opens the driver too and asks for this: none here, so it does without */
CUresult cuGetExportTable(const void **table, const void *id) {
  (void)id;
  *table = NULL;
  return 500;
}
CUresult cuInit(unsigned flags) {
  (void)flags;
  stats.inits++;
  return failing("init") ? 100 : 0;
}
CUresult cuDeviceGetCount(int *n) { return *n = 1, 0; }
CUresult cuDeviceGet(int *d, int i) { return *d = i, 0; }
CUresult cuDeviceGetAttribute(int *v, int attr, int d) { /* compute capability 8.6 */
  (void)d;
  return *v = attr == 75 ? 8 : attr == 76 ? 6 : 0, 0;
}
CUresult cuDevicePrimaryCtxRetain(void **ctx, int d) {
  (void)d;
  stats.retains++;
  return *ctx = &stats, 0;
}
CUresult cuDevicePrimaryCtxRelease_v2(int d) { return (void)d, stats.releases++, 0; }
CUresult cuCtxPushCurrent_v2(void *ctx) { return (void)ctx, stats.pushes++, 0; }
CUresult cuCtxPopCurrent_v2(void **ctx) { return *ctx = &stats, stats.pops++, 0; }
CUresult cuCtxSynchronize(void) { return 0; }
CUresult cuModuleLoadData(void **mod, const void *image) {
  int cubin = !memcmp(image, "\177ELF", 4);
  if (failing("module") || (cubin && failing("cubin"))) return 209; /* no binary for the GPU */
  stats.loads++;
  stats.ptx_loads += !cubin;
  return *mod = &stats, 0;
}
CUresult cuModuleUnload(void *mod) { return (void)mod, stats.unloads++, 0; }
CUresult cuModuleGetFunction(void **f, void *mod, const char *name) {
  (void)mod;
  return *f = (void *)name, 0;
}
CUresult cuMemAlloc_v2(uintptr_t *p, size_t n) {
  if (failing("alloc")) return 2;
  void *m = malloc(n);
  memset(m, 0x3f, n);
  stats.allocs++;
  return *p = (uintptr_t)m, 0;
}
CUresult cuMemFree_v2(uintptr_t p) { return free((void *)p), stats.frees++, 0; }
CUresult cuMemcpyHtoD_v2(uintptr_t d, const void *s, size_t n) { return memcpy((void *)d, s, n), 0; }
CUresult cuMemcpyDtoH_v2(void *d, uintptr_t s, size_t n) { return memcpy(d, (void *)s, n), 0; }
CUresult cuMemcpyDtoDAsync_v2(uintptr_t d, uintptr_t s, size_t n, void *stream) {
  (void)stream;
  return memmove((void *)d, (const void *)s, n), 0;
}
CUresult cuMemsetD8Async(uintptr_t d, unsigned char v, size_t n, void *stream) {
  (void)stream;
  return memset((void *)d, v, n), 0;
}
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, unsigned shared, void *stream, void **params, void **extra) {
  (void)f, (void)gx, (void)gy, (void)gz, (void)bx, (void)by, (void)bz, (void)shared, (void)extra;
  if (failing("launch")) return 700;
  stats.launches++;
  for (int i = 0; params[i] && stats.nargs < 256; i++) stats.args[stats.nargs++] = *(void **)params[i];
  stats.last_stream = stream;
  return 0;
}
CUresult cuStreamSynchronize(void *s) { return (void)s, 0; }
CUresult cuEventCreate(void **e, unsigned flags) { return (void)flags, stats.events++, *e = &stats, 0; }
CUresult cuEventRecord(void *e, void *s) { return (void)e, (void)s, 0; }
CUresult cuStreamWaitEvent(void *s, void *e, unsigned flags) { return (void)s, (void)e, (void)flags, 0; }
CUresult cuEventDestroy_v2(void *e) { return (void)e, stats.destroys++, 0; }
