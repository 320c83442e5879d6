/* What ai.onnx.ml's ops share (ir/ops/ml.c): post-transforms, labels, input checks. */
#ifndef KILN_IR_OPS_ML_H
#define KILN_IR_OPS_ML_H

#include "ir/op.h"
#include "ir/ops/expand.h"

enum { KILN_POST_NONE, KILN_POST_SOFTMAX, KILN_POST_LOGISTIC, KILN_POST_SOFTMAX_ZERO,
       KILN_POST_PROBIT };

/* n's post_transform (a string: NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT) as KILN_POST_*;
 * -1 for another. */
int kiln_ml_post_of(const kiln_node *n);
/* Scores [N, J >= 2] after post_transform (NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO), as
 * onnxruntime computes them: a softmax along the last axis, the logistic of each, or a
 * softmax over the nonzero scores whose zeros stay 0. */
int kiln_ml_post(kiln_ex *x, int post, int r);

/* Columns a and b ([N, 1] each) side by side: [N, 2]. */
int kiln_ml_columns(kiln_ex *x, int a, int b, const char *what);
/* A binary classifier's one score s [N, 1] as the two [N, 2] onnxruntime writes (its
 * add_second_class): [1 - s, s], [logistic(-s), logistic(s)] or [-s, s]. */
enum { KILN_PAIR_COMPLEMENT, KILN_PAIR_LOGISTIC, KILN_PAIR_NEGATE };
int kiln_ml_pair(kiln_ex *x, int s, int how);

/* The position of s among names[0 .. count), -1 when it is none: the domain's string enums. */
int kiln_ml_name_index(const char *s, const char *const *names, int count);
/* Is v, input 'X' of n, what the domain's models take: float, double, int64 or int32, with
 * its last dim known when compiling (matrix: [N, F])? Else an error naming what is wrong. */
kiln_status kiln_ml_number_input(const kiln_node *n, const kiln_value *v, bool matrix,
                                 kiln_error *err);
/* Input v as f32 (f64 kept when keep64): the models compare and sum in floats. */
int kiln_ml_as_float(kiln_ex *x, int v, bool keep64);
/* out = v (of type from) as type to: an Identity, or a Cast. */
void kiln_ml_output(kiln_ex *x, int v, kiln_dtype from, int out, kiln_dtype to);

/* A classifier's labels: int64s (`ints` the attribute's values) or strings. */
typedef struct kiln_ml_labels {
  int64_t count;
  const int64_t *ints;          /* NULL for strings */
  const char *const *strings;   /* NULL for ints */
} kiln_ml_labels;

/* n's labels: attribute `ints_attr` or classlabels_strings, exactly one. They stay valid
 * while n's attributes do (an expansion moves them with the node). */
kiln_status kiln_ml_labels_of(const kiln_node *n, const char *ints_attr, kiln_ml_labels *l,
                              kiln_error *err);
/* out = the label at each index of `index` (i64): a Gather of the int labels, or the
 * strings made by StringWord. */
void kiln_ml_label_out(kiln_ex *x, const kiln_ml_labels *l, int index, int out);

/* SVMClassifier's probability estimates [N, C] from its pair decisions d [N, P], with the
 * pairs' sigmoid parameters pa, pb (ir/ops/svm_coupling.c). */
int kiln_svm_coupling(kiln_ex *x, int d, int64_t c, int64_t pairs, const double *pa,
                      const double *pb);

#endif
