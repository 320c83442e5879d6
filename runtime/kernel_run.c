/* One kernel compiled and run alone (runtime/kernel_run.h). The kernel is wrapped in a
 * program of its own: its input buffers become the program's inputs, its outputs the
 * outputs, its temporaries (the check record included) an arena laid out one after
 * another, its constants point at the original program's data. Storage is rebound only
 * while compiling and restored after, so the kernel is unchanged. A kernel with run-time
 * dims gets buffers for the largest values it is to run at, and its dims buffer (an
 * input) holds the values of the next run. A compile may also run on a thread of its own,
 * of a copy of the kernel (kiln_kernel_compile_start). */
#define _GNU_SOURCE /* pthread_attr_setaffinity_np */
#include "runtime/kernel_run.h"

#include "codegen/backend.h"
#include "ir/dtype.h"
#include "ir/graph.h"
#include "rt/parallel.h"
#include "rt/strings.h"
#include "runtime/check.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

struct kiln_kernel_runner {
  const kiln_program *p;
  const kiln_kernel *k;
  kiln_program *alone;   /* borrows k: its step list is emptied before it is freed */
  const kiln_backend *backend;
  void *code;
  kiln_entry_fn fn;
  int nbufs;
  void *mem[KILN_MAX_BUFS];   /* per kernel buffer: inputs, outputs, arena temporaries */
  bool owned[KILN_MAX_BUFS];
  const void *ins[KILN_MAX_BUFS], *consts[KILN_MAX_BUFS];
  void *outs[KILN_MAX_BUFS];
  uint8_t *arena;
  int64_t cap[KILN_MAX_BUFS]; /* per buffer: the elements allocated */
  int64_t check_offset;  /* of the check record in arena, -1: none */
  bool cold;             /* evict the constants before each timed run */
  kiln_kernel *copy;     /* k when it is a compile's copy, which the runner then owns */
  int heap;              /* 1 + the string heap's buffer (rt/strings.h), 0: none; its
                            strings live until the next run, so outputs can be compared */
};

static uint32_t next(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

static void fill(void *mem, kiln_dtype t, int64_t n, uint32_t *seed) {
  for (int64_t i = 0; i < n; i++) {
    if (kiln_dtype_is_float(t))
      kiln_store_f64(t, mem, i, (double)(next(seed) % 65536) / 32768.0 - 1.0);
    else
      kiln_store_i64(t, mem, i, 0); /* an index that is valid whatever the dim */
  }
}

/* b's dims at the syms' values (none for a static kernel), and their element count. */
static int64_t dims_at(const kiln_buffer *b, const int64_t *syms, int64_t *dims) {
  for (int d = 0; d < b->rank; d++)
    dims[d] = b->dyn_dims[d] ? kiln_dim_eval(b->dyn_dims[d], syms) : b->dims[d];
  for (int d = 0; d < b->rank; d++)
    if (dims[d] < 0) return -1;
  /* a strided buffer (static dims) keeps its layout alone too: its span is allocated */
  return b->row ? kiln_buffer_span(b) : kiln_shape_numel(b->rank, dims);
}

static kiln_io io_of(const kiln_buffer *b, const int64_t *syms) {
  kiln_io io = {kiln_xstrdup(b->name), b->dtype, b->rank, {0}, 0, NULL};
  io.bytes = dims_at(b, syms, io.dims) * (int64_t)kiln_dtype_size(b->dtype);
  return io;
}

kiln_status kiln_kernel_runner_new(const kiln_program *p, kiln_kernel *k,
                                   const kiln_options *opts, uint32_t seed,
                                   kiln_kernel_runner **out, kiln_error *err) {
  return kiln_kernel_runner_new_dims(p, k, opts, seed, NULL, out, err);
}

kiln_status kiln_kernel_runner_new_dims(const kiln_program *p, kiln_kernel *k,
                                        const kiln_options *opts, uint32_t seed,
                                        const int64_t *max_dims, kiln_kernel_runner **out,
                                        kiln_error *err) {
  *out = NULL;
  if (kiln_kernel_check_dyn(k, err)) return err->code;
  const int64_t *syms = max_dims ? max_dims : k->sym_hint;
  int64_t dims[KILN_MAX_RANK];
  for (int b = 0; b < k->nbufs; b++)
    if (dims_at(&k->bufs[b], syms, dims) < 0)
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kernel '%s': buffer '%s' has a "
                       "negative dim at these run-time dims", k->name, k->bufs[b].name);
  kiln_kernel_runner *r = kiln_xcalloc(1, sizeof *r);
  r->p = p;
  r->k = k;
  r->nbufs = k->nbufs;
  kiln_program *a = r->alone = kiln_program_new();
  a->consts = kiln_xcalloc((size_t)k->nbufs + 1, sizeof(kiln_const)); /* data borrowed */
  a->inputs = kiln_xcalloc((size_t)k->nbufs + 1, sizeof(kiln_io));
  a->outputs = kiln_xcalloc((size_t)k->nbufs + 1, sizeof(kiln_io));
  kiln_storage saved[KILN_MAX_BUFS];
  int64_t arena = 0, offset[KILN_MAX_BUFS];
  for (int b = 0; b < k->nbufs; b++) {
    kiln_buffer *buf = &k->bufs[b];
    saved[b] = buf->storage;
    if (buf->storage.kind == KILN_STORE_STRINGS) r->heap = b + 1; /* an input, zeroed below */
    r->cap[b] = dims_at(buf, syms, dims);
    int64_t bytes = r->cap[b] * (int64_t)kiln_dtype_size(buf->dtype);
    switch (buf->storage.kind) {
    case KILN_STORE_CONST:
      a->consts[a->nconsts] = p->consts[buf->storage.index];
      r->consts[a->nconsts] = p->consts[buf->storage.index].data;
      buf->storage = (kiln_storage){KILN_STORE_CONST, a->nconsts++, 0};
      break;
    case KILN_STORE_ARENA:
      if (buf->role != KILN_BUF_TEMP) goto io; /* an intermediate of the whole program */
      offset[b] = arena;
      buf->storage = (kiln_storage){KILN_STORE_ARENA, 0, arena};
      arena += (bytes + 63) / 64 * 64;
      break;
    default:
    io:
      r->mem[b] = aligned_alloc(64, (size_t)(bytes + 63) / 64 * 64 + 64);
      r->owned[b] = true;
      if (buf->role == KILN_BUF_INPUT) {
        fill(r->mem[b], buf->dtype, r->cap[b], &seed);
        r->ins[a->ninputs] = r->mem[b];
        a->inputs[a->ninputs] = io_of(buf, syms);
        buf->storage = (kiln_storage){KILN_STORE_INPUT, a->ninputs++, 0};
      } else {
        memset(r->mem[b], 0, (size_t)bytes);
        r->outs[a->noutputs] = r->mem[b];
        a->outputs[a->noutputs] = io_of(buf, syms);
        buf->storage = (kiln_storage){KILN_STORE_OUTPUT, a->noutputs++, 0};
      }
    }
  }
  a->arena_bytes = (arena + 63) / 64 * 64;
  kiln_steps_add(&a->main, KILN_STEP_KERNEL)->kernel = k;
  r->backend = kiln_backend_for(opts);
  kiln_status st = r->backend->jit(a, opts, &r->code, &r->fn, err);
  /* where the code was compiled to find the record: k's buffers go back to the whole
   * program's storage below, whose record lies outside this arena */
  r->check_offset = kiln_check_record_offset(a);
  for (int b = 0; b < k->nbufs; b++) k->bufs[b].storage = saved[b];
  if (!st && a->arena_bytes) {
    r->arena = aligned_alloc(64, (size_t)a->arena_bytes);
    if (!r->arena) st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for the arena");
  }
  for (int b = 0; b < k->nbufs && r->arena; b++)
    if (!r->mem[b] && saved[b].kind == KILN_STORE_ARENA) r->mem[b] = r->arena + offset[b];
  if (!st && k->nsyms)
    memcpy(r->mem[k->dims_buf], syms, sizeof(int64_t) * (size_t)k->nsyms);
  if (st) {
    kiln_kernel_runner_free(r);
    return st;
  }
  *out = r;
  return KILN_OK;
}

kiln_status kiln_kernel_runner_set_dims(kiln_kernel_runner *r, const int64_t *dims,
                                        kiln_error *err) {
  const kiln_kernel *k = r->k;
  for (int i = 0; i < k->nsyms; i++)
    if (dims[i] < 0)
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kernel '%s': run-time dim '%s' = %lld",
                       k->name, k->syms[i], (long long)dims[i]);
  int64_t at[KILN_MAX_RANK];
  for (int b = 0; b < k->nbufs; b++) {
    int64_t n = dims_at(&k->bufs[b], dims, at);
    if (n < 0 || n > r->cap[b])
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kernel '%s': buffer '%s' needs %lld "
                       "elements at these run-time dims, more than the %lld allocated",
                       k->name, k->bufs[b].name, (long long)n, (long long)r->cap[b]);
  }
  if (k->nsyms) memcpy(r->mem[k->dims_buf], dims, sizeof(int64_t) * (size_t)k->nsyms);
  return KILN_OK;
}

kiln_status kiln_kernel_runner_run(kiln_kernel_runner *r, kiln_error *err) {
  if (r->heap) kiln_rt_strings_free(r->mem[r->heap - 1]);
  if (r->check_offset >= 0) memset(r->arena + r->check_offset, 0, KILN_CHECK_RECORD_BYTES);
  int rc = r->fn((void *const *)r->ins, r->outs, r->arena, r->consts);
  if (!rc) return KILN_OK;
  kiln_status st = kiln_check_result_at(r->check_offset, r->arena, err);
  return st ? st : kiln_fail(err, (kiln_status)rc, "kernel '%s' failed (status %d)", r->k->name, rc);
}

void kiln_kernel_runner_set_cold(kiln_kernel_runner *r, bool cold) { r->cold = cold; }

static void evict_consts(const kiln_kernel_runner *r) {
#if defined(__x86_64__) || defined(__i386__)
  for (int i = 0; i < r->alone->nconsts; i++) {
    const char *p = r->alone->consts[i].data;
    for (int64_t o = 0; p && o < r->alone->consts[i].bytes; o += 64) __builtin_ia32_clflush(p + o);
  }
  __builtin_ia32_mfence();
#else
  (void)r;
#endif
}

kiln_status kiln_kernel_runner_time(kiln_kernel_runner *r, int repeat, double max_ns,
                                    double *median_ns, kiln_error *err) {
  if (repeat < 1) repeat = 1;
  int64_t start = kiln_rt_clock_ns();
  if (kiln_kernel_runner_run(r, err)) return err->code; /* warm-up: caches, pages, pool */
  double *t = kiln_xmalloc(sizeof(double) * (size_t)repeat);
  kiln_status st = KILN_OK;
  int n = 0;
  while (n < repeat && !st) {
    if (r->cold) evict_consts(r);
    int64_t t0 = kiln_rt_clock_ns();
    st = kiln_kernel_runner_run(r, err);
    t[n++] = (double)(kiln_rt_clock_ns() - t0);
    /* a loaded machine can make each run wait for a descheduled thread: time, not the
     * count, bounds what a measurement costs */
    if ((double)(kiln_rt_clock_ns() - start) >= max_ns) break;
  }
  *median_ns = kiln_median(t, n);
  free(t);
  return st;
}

void *kiln_kernel_runner_buffer(const kiln_kernel_runner *r, int b) {
  return b >= 0 && b < r->nbufs ? r->mem[b] : NULL;
}

void kiln_kernel_runner_free(kiln_kernel_runner *r) {
  if (!r) return;
  if (r->heap && r->mem[r->heap - 1]) kiln_rt_strings_free(r->mem[r->heap - 1]);
  if (r->backend) r->backend->free_code(r->code);
  r->alone->main.n = 0; /* the kernel belongs to the original program */
  r->alone->nconsts = 0; /* and so do the constants' data */
  kiln_program_free(r->alone);
  for (int b = 0; b < r->nbufs; b++)
    if (r->owned[b]) free(r->mem[b]);
  free(r->arena);
  if (r->copy) free(r->copy->stages);
  free(r->copy);
  free(r);
}

/* ---- compiles on a thread of their own ------------------------------------------------ */

struct kiln_kernel_compile {
  const kiln_program *p;
  kiln_kernel *k; /* the copy: kiln_kernel_runner_new rebinds its buffers while compiling */
  const kiln_options *opts;
  uint32_t seed;
  bool threaded, kept_off; /* kept off a CPU (pthread_attr_setaffinity_np) */
  pthread_t thread;
  kiln_kernel_runner *r;
  kiln_status st;
  kiln_error err;
  int64_t t0, t1;
};

static void *compile_main(void *arg) {
  kiln_kernel_compile *c = arg;
  c->t0 = kiln_rt_clock_ns();
  c->st = kiln_kernel_runner_new(c->p, c->k, c->opts, c->seed, &c->r, &c->err);
  c->t1 = kiln_rt_clock_ns();
  return NULL;
}

kiln_kernel_compile *kiln_kernel_compile_start(const kiln_program *p, const kiln_kernel *k,
                                               const kiln_options *opts, uint32_t seed,
                                               int avoid_cpu) {
  kiln_kernel_compile *c = kiln_xcalloc(1, sizeof *c);
  c->p = p;
  c->opts = opts;
  c->seed = seed;
  c->k = kiln_xmalloc(sizeof *c->k);
  *c->k = *k; /* never freed as a kernel: its arena and expressions are k's */
  c->k->stages = kiln_xcalloc((size_t)k->nstages + 1, sizeof *k->stages);
  memcpy(c->k->stages, k->stages, sizeof *k->stages * (size_t)k->nstages);
  c->k->stages_cap = k->nstages;
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) == 0) {
    cpu_set_t mask;
    if (avoid_cpu >= 0 && avoid_cpu < CPU_SETSIZE &&
        sched_getaffinity(0, sizeof mask, &mask) == 0 && CPU_ISSET(avoid_cpu, &mask) &&
        CPU_COUNT(&mask) > 1) {
      CPU_CLR(avoid_cpu, &mask);
      c->kept_off = pthread_attr_setaffinity_np(&attr, sizeof mask, &mask) == 0;
    }
    c->threaded = pthread_create(&c->thread, &attr, compile_main, c) == 0;
    pthread_attr_destroy(&attr);
  }
  if (!c->threaded) compile_main(c);
  return c;
}

kiln_status kiln_kernel_compile_join(kiln_kernel_compile *c, kiln_kernel_runner **out,
                                     int64_t *t0, int64_t *t1, kiln_error *err) {
  cpu_set_t mask;
  /* the caller waits now: the compile may take its CPU too (one already over is unharmed) */
  if (c->threaded && c->kept_off && sched_getaffinity(0, sizeof mask, &mask) == 0)
    pthread_setaffinity_np(c->thread, sizeof mask, &mask);
  if (c->threaded) pthread_join(c->thread, NULL);
  *out = c->r;
  if (c->r) {
    c->r->copy = c->k;
  } else {
    free(c->k->stages);
    free(c->k);
  }
  *t0 = c->t0;
  *t1 = c->t1;
  kiln_status st = c->st;
  if (st) *err = c->err;
  free(c);
  return st;
}
