/* The tuner's whole-model runs (runtime/tune_model.h): the untuned model profiled, to share
 * the budget among its kernels, and at the end the tuned one against it, taking turns. */
#include "runtime/tune_model.h"

#include "ir/dtype.h"
#include "rt/parallel.h"
#include "runtime/profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void kiln_tune_io_make(const kiln_model *m, uint32_t seed, kiln_tune_io *b) {
  b->nin = kiln_num_inputs(m);
  b->nout = kiln_num_outputs(m);
  b->in = kiln_xcalloc((size_t)b->nin + 1, sizeof(void *));
  b->out = kiln_xcalloc((size_t)b->nout + 1, sizeof(void *));
  b->oinfo = kiln_xcalloc((size_t)b->nout + 1, sizeof *b->oinfo);
  for (int i = 0; i < b->nin; i++) {
    kiln_tensor_info info;
    kiln_input_info(m, i, &info);
    b->in[i] = kiln_xcalloc(1, info.bytes + 1);
    int64_t n = (int64_t)(info.bytes / kiln_dtype_size(info.dtype));
    for (int64_t j = 0; j < n && kiln_dtype_is_float(info.dtype); j++) {
      seed = seed * 1664525u + 1013904223u;
      kiln_store_f64(info.dtype, b->in[i], j, (double)((seed >> 8) % 65536) / 32768.0 - 1.0);
    }
  }
  for (int i = 0; i < b->nout; i++) {
    kiln_output_info(m, i, &b->oinfo[i]);
    b->out[i] = kiln_xcalloc(1, b->oinfo[i].bytes + 1);
  }
}

void kiln_tune_io_free(kiln_tune_io *b) {
  for (int i = 0; i < b->nin; i++) free(b->in[i]);
  for (int i = 0; i < b->nout; i++) free(b->out[i]);
  free(b->in);
  free(b->out);
  free(b->oinfo);
}

kiln_status kiln_tune_time_profiled(const kiln_model *m, kiln_tune_io *b, int runs, double max_s,
                                    int nk, double *kernel_ns, double *ms, kiln_error *err) {
  double *t = kiln_xcalloc((size_t)runs, sizeof *t);
  double *ns = kiln_xcalloc((size_t)runs * (size_t)nk + 1, sizeof *ns);
  int64_t start = kiln_rt_clock_ns();
  kiln_status st = kiln_run_profiled(m, (const void *const *)b->in, b->out, ns, NULL, err);
  int n = 0;
  while (!st && n < runs && (n < 3 || (double)(kiln_rt_clock_ns() - start) / 1e9 < max_s)) {
    int64_t t0 = kiln_rt_clock_ns();
    st = kiln_run_profiled(m, (const void *const *)b->in, b->out, ns + (size_t)n * (size_t)nk,
                           NULL, err);
    t[n++] = (double)(kiln_rt_clock_ns() - t0) / 1e6;
  }
  if (!st) *ms = kiln_median(t, n);
  for (int i = 0; i < nk && !st; i++) {
    for (int r = 0; r < n; r++) t[r] = ns[(size_t)r * (size_t)nk + (size_t)i];
    kernel_ns[i] = kiln_median(t, n);
  }
  free(t);
  free(ns);
  return st;
}

kiln_status kiln_tune_time_pair(const kiln_model *m0, kiln_tune_io *b0, const kiln_model *m1,
                                kiln_tune_io *b1, int runs, double max_s, double *ms0, double *ms1,
                                kiln_error *err) {
  double *t0 = kiln_xcalloc((size_t)runs, sizeof *t0), *t1 = kiln_xcalloc((size_t)runs, sizeof *t1);
  int64_t start = kiln_rt_clock_ns();
  kiln_status st = kiln_run(m0, (const void *const *)b0->in, b0->out, err);
  if (!st) st = kiln_run(m1, (const void *const *)b1->in, b1->out, err);
  int n = 0;
  while (!st && n < runs && (n < 3 || (double)(kiln_rt_clock_ns() - start) / 1e9 < max_s)) {
    int64_t a = kiln_rt_clock_ns();
    st = kiln_run(m0, (const void *const *)b0->in, b0->out, err);
    int64_t b = kiln_rt_clock_ns();
    if (!st) st = kiln_run(m1, (const void *const *)b1->in, b1->out, err);
    t0[n] = (double)(b - a) / 1e6;
    t1[n++] = (double)(kiln_rt_clock_ns() - b) / 1e6;
  }
  if (!st) {
    *ms0 = kiln_median(t0, n);
    *ms1 = kiln_median(t1, n);
  }
  free(t0);
  free(t1);
  return st;
}

double kiln_tune_max_error(const kiln_tune_io *a, const kiln_tune_io *b) {
  double worst = 0;
  for (int i = 0; i < a->nout; i++) {
    const kiln_tensor_info *info = &a->oinfo[i];
    if (!kiln_dtype_is_float(info->dtype)) {
      if (memcmp(a->out[i], b->out[i], info->bytes)) worst = INFINITY;
      continue;
    }
    int64_t n = (int64_t)(info->bytes / kiln_dtype_size(info->dtype));
    double scale = 1e-30, diff = 0;
    for (int64_t j = 0; j < n; j++) {
      double x = kiln_load_f64(info->dtype, a->out[i], j), y = kiln_load_f64(info->dtype, b->out[i], j);
      scale = fmax(scale, fabs(y));
      diff = isnan(x) != isnan(y) ? INFINITY : fmax(diff, fabs(x - y));
    }
    worst = fmax(worst, diff / scale);
  }
  return worst;
}
