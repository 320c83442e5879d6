/* Shape buckets (kiln_options.buckets, runtime/bucket.c): a model with free dims also holds
 * one fully static program per bucket, compiled as if `shapes` had bound those dims, and a
 * run whose input shapes all match a bucket exactly runs that bucket's code. */
#ifndef KILN_RUNTIME_BUCKET_H
#define KILN_RUNTIME_BUCKET_H

#include "kiln.h"

#include "ir/program.h"

/* The options compiling bucket b: o's shapes with the bucket's replacing those of the same
 * input, symbolic_dims and buckets off, no report. *owned (free it) holds the bindings. */
kiln_options kiln_bucket_options(const kiln_options *o, int b, kiln_shape_binding **owned);
/* Checks bucket b's compiled program against the generic one: every input static and of a
 * shape the generic code takes (else the bucket could never be picked); the error names
 * the bucket and input. Also prefixes an earlier error of its compile, err->code set. */
kiln_status kiln_bucket_check(const kiln_program *generic, const kiln_program *bucket, int b,
                              kiln_error *err);
/* Whether inputs have exactly bucket's input shapes. */
bool kiln_bucket_matches(const kiln_program *bucket, const kiln_array *inputs);

#endif
