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

kiln_status kiln_tune_time_profiled(const kiln_model *const *m, kiln_tune_io *const *b, int nm,
                                    int runs, double max_s, const int *nk, double *const *kernel_ns,
                                    double *ms, kiln_error *err) {
  double *t = kiln_xcalloc((size_t)runs * (size_t)nm + 1, sizeof *t);
  double **ns = kiln_xcalloc((size_t)nm, sizeof *ns);
  kiln_status st = KILN_OK;
  for (int i = 0; i < nm; i++) { /* warm-ups */
    ns[i] = kiln_xcalloc((size_t)runs * (size_t)nk[i] + 1, sizeof **ns);
    if (!st) st = kiln_run_profiled(m[i], (const void *const *)b[i]->in, b[i]->out, ns[i], NULL, err);
  }
  int64_t start = kiln_rt_clock_ns();
  int n = 0;
  for (; !st && n < runs && (n < 3 || (double)(kiln_rt_clock_ns() - start) / 1e9 < max_s); n++)
    for (int i = 0; i < nm && !st; i++) {
      int64_t t0 = kiln_rt_clock_ns();
      st = kiln_run_profiled(m[i], (const void *const *)b[i]->in, b[i]->out,
                             ns[i] + (size_t)n * (size_t)nk[i], NULL, err);
      t[(size_t)i * (size_t)runs + (size_t)n] = (double)(kiln_rt_clock_ns() - t0) / 1e6;
    }
  double *col = kiln_xcalloc((size_t)runs + 1, sizeof *col);
  for (int i = 0; i < nm && !st; i++) {
    if (ms) ms[i] = kiln_median(t + (size_t)i * (size_t)runs, n);
    for (int k = 0; k < nk[i]; k++) {
      for (int r = 0; r < n; r++) col[r] = ns[i][(size_t)r * (size_t)nk[i] + (size_t)k];
      kernel_ns[i][k] = kiln_median(col, n);
    }
  }
  for (int i = 0; i < nm; i++) free(ns[i]);
  free(ns);
  free(col);
  free(t);
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
