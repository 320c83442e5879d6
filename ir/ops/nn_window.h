/* Sliding-window geometry shared by Conv, ConvTranspose and the pooling ops (ir/ops/nn.c,
 * ir/ops/pool.c): output sizes and effective pads from kernel_shape, strides, dilations,
 * pads, auto_pad and ceil_mode. */
#ifndef KILN_IR_OPS_NN_WINDOW_H
#define KILN_IR_OPS_NN_WINDOW_H

#include "ir/op.h"

#define KILN_MAX_SPATIAL (KILN_MAX_RANK - 2)

typedef struct kiln_window {
  int nsp; /* spatial dims (input rank - 2) */
  int64_t in[KILN_MAX_SPATIAL], kernel[KILN_MAX_SPATIAL], stride[KILN_MAX_SPATIAL],
      dil[KILN_MAX_SPATIAL], pad_begin[KILN_MAX_SPATIAL], pad_end[KILN_MAX_SPATIAL],
      out[KILN_MAX_SPATIAL];
  bool free[KILN_MAX_SPATIAL]; /* a free dim (kiln_options.symbolic_dims): windows may overhang */
  char same; /* auto_pad SAME_UPPER ('U') or SAME_LOWER ('L'): pads follow the input's size */
} kiln_window;

/* Reads strides, dilations, pads and auto_pad (and ceil_mode when `pooling`) of n for an
 * input of shape x (N, C, spatial...); kernel is the window size per spatial dim. Fills w
 * with output sizes and the pads actually applied. */
kiln_status kiln_window_plan(const kiln_node *n, int rank, const int64_t *x,
                             const int64_t *kernel, bool pooling, kiln_window *w,
                             kiln_error *err);

/* Input position along spatial dim d of output position o and window offset kv. */
kiln_expr *kiln_window_pos(kiln_kernel *k, const kiln_window *w, int d, kiln_expr *o,
                           kiln_expr *kv);

/* x - (leading pad along dim d); along a free dim an add even of 0 (kiln_window.free), and
 * with auto_pad SAME the pad computed from the input and output sizes, which may be 0 or 1
 * by the input's parity (a number that would be no dim expression of one of them). */
kiln_expr *kiln_window_unpad(kiln_kernel *k, const kiln_window *w, int d, kiln_expr *x);

/* Whether some window along dim d reaches outside [0, in): loads there need a guard. Along
 * a free dim always (whether one does depends on its value), which the caller marks in
 * w->free after kiln_window_plan (kiln_window_mark_free). */
bool kiln_window_overhangs(const kiln_window *w, int d);

/* Marks w's spatial dims that are free dims of input value x. */
void kiln_window_mark_free(kiln_window *w, const kiln_value *x);

/* Reads an int list attribute of exactly `count` values (or fills dflt when absent). */
kiln_status kiln_window_ints(const kiln_node *n, const char *name, int count, int64_t dflt,
                             int64_t *out, kiln_error *err);

#endif
