/* The machine's roofline for `kiln bench`, measured: peak floating-point throughput as
 * chains of FMAs on the widest vectors the CPU has (AVX-512, else AVX2+FMA, else scalar
 * code), and memory bandwidth as a streaming read of a buffer four times the L3 cache (at
 * least 256 MiB). Each is run on `threads` threads at once, each thread on its own
 * accumulators or its own slice of the buffer, and the best of three timings is kept.
 * Twelve independent accumulators per thread cover an FMA unit's latency times its ports
 * (4 cycles x 2 on current x86), so the chains measure throughput, not latency. */
#include "tools/cli_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define NACC 12
#define FMA_ITERS 2000000

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile float sink_f;
static volatile uint64_t sink_u;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static double fma_avx512(void) {
  __m512 acc[NACC], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < NACC; i++) acc[i] = _mm512_set1_ps((float)i);
  for (int64_t it = 0; it < FMA_ITERS; it++)
    for (int i = 0; i < NACC; i++) acc[i] = _mm512_fmadd_ps(acc[i], m, c);
  for (int i = 1; i < NACC; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
  sink_f = _mm512_reduce_add_ps(acc[0]);
  return 2.0 * 16 * NACC * FMA_ITERS;
}

__attribute__((target("avx2,fma"))) static double fma_avx2(void) {
  __m256 acc[NACC], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < NACC; i++) acc[i] = _mm256_set1_ps((float)i);
  for (int64_t it = 0; it < FMA_ITERS; it++)
    for (int i = 0; i < NACC; i++) acc[i] = _mm256_fmadd_ps(acc[i], m, c);
  float out[8];
  for (int i = 1; i < NACC; i++) acc[0] = _mm256_add_ps(acc[0], acc[i]);
  _mm256_storeu_ps(out, acc[0]);
  sink_f = out[0];
  return 2.0 * 8 * NACC * FMA_ITERS;
}
#endif

static double fma_scalar(void) {
  float acc[NACC], m = 0.999999f, c = 1e-7f;
  for (int i = 0; i < NACC; i++) acc[i] = (float)i;
  for (int64_t it = 0; it < FMA_ITERS; it++)
    for (int i = 0; i < NACC; i++) acc[i] = acc[i] * m + c;
  for (int i = 1; i < NACC; i++) acc[0] += acc[i];
  sink_f = acc[0];
  return 2.0 * NACC * FMA_ITERS;
}

/* The FMA loop on the widest vectors this CPU runs; returns the flops it did. */
static double fma_chains(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return fma_avx512();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fma_avx2();
#endif
  return fma_scalar();
}

typedef struct work {
  const uint64_t *buf; /* NULL: the FMA loop */
  size_t n;
  double done; /* flops or bytes */
} work;

static void *worker(void *arg) {
  work *w = arg;
  if (!w->buf) {
    w->done = fma_chains();
    return NULL;
  }
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i + 4 <= w->n; i += 4) {
    s0 += w->buf[i];
    s1 += w->buf[i + 1];
    s2 += w->buf[i + 2];
    s3 += w->buf[i + 3];
  }
  sink_u = s0 + s1 + s2 + s3;
  w->done = (double)(w->n / 4 * 4) * 8;
  return NULL;
}

/* Best rate (done / second) of three runs of `threads` workers. */
static double best_rate(int threads, const uint64_t *buf, size_t n) {
  work *w = calloc((size_t)threads, sizeof *w);
  pthread_t *t = calloc((size_t)threads, sizeof *t);
  double best = 0;
  for (int rep = 0; rep < 3 && w && t; rep++) {
    double t0 = now_s(), total = 0;
    int started = 0;
    for (int i = 0; i < threads; i++) {
      size_t per = n / (size_t)threads;
      w[i] = (work){buf ? buf + per * (size_t)i : NULL, per, 0};
      if (i == 0 || pthread_create(&t[i], NULL, worker, &w[i]) == 0) started = i + 1;
    }
    worker(&w[0]);
    for (int i = 1; i < started; i++) pthread_join(t[i], NULL);
    double dt = now_s() - t0;
    for (int i = 0; i < started; i++) total += w[i].done;
    if (dt > 0 && total / dt > best) best = total / dt;
  }
  free(w);
  free(t);
  return best;
}

void cli_measure_peak(int threads, double *gflops, double *gbs) {
  if (threads < 1) threads = 1;
  *gflops = best_rate(threads, NULL, 0) / 1e9;
  long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  size_t bytes = l3 > 0 ? (size_t)l3 * 4 : 0;
  if (bytes < ((size_t)256 << 20)) bytes = (size_t)256 << 20;
  uint64_t *buf = malloc(bytes);
  *gbs = 0;
  if (!buf) return;
  memset(buf, 1, bytes); /* touch every page before timing */
  *gbs = best_rate(threads, buf, bytes / 8) / 1e9;
  free(buf);
}
