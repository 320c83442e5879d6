/* Running a program with free dims (runtime/dyn_run.c): the syms' values from the inputs'
 * shapes, the output shapes, and the placement of the buffers whose sizes depend on them,
 * kept for the last shape seen. */
#ifndef KILN_RUNTIME_DYN_RUN_H
#define KILN_RUNTIME_DYN_RUN_H

#include "kiln.h"

#include "ir/program.h"

#include <pthread.h>

typedef struct kiln_dyn_cache {
  pthread_mutex_t mu;
  bool valid;
  int64_t syms[KILN_MAX_SYMS];
  int64_t *offsets; /* per slot, absolute in the arena */
  int64_t bytes;    /* the whole arena */
} kiln_dyn_cache;

void kiln_dyn_cache_init(kiln_dyn_cache *c);
void kiln_dyn_cache_free(kiln_dyn_cache *c);

/* Checks inputs against p's inputs (dtype, rank, static dims, free dims >= 1 and agreeing
 * across inputs) and sets syms[] from them, the derived syms (divisions) from the others
 * and counts the run computes (data syms) to their bounds; KILN_ERR_INVALID_INPUT names
 * input and dim. */
kiln_status kiln_dyn_bind(const kiln_program *p, const kiln_array *inputs, int64_t *syms,
                          kiln_error *err);
/* A program whose syms are all sizes its run computes (no input or output has a free dim:
 * a NonZero feeding a sum) runs at its static shapes: syms[] then holds their bounds;
 * false when an input or output needs shapes (kiln_run_arrays). */
bool kiln_dyn_static_syms(const kiln_program *p, int64_t *syms);
/* After a run: the counts it computed, from the run's dims (the arena's), into syms
 * (which hold their bounds). */
kiln_status kiln_dyn_read_counts(const kiln_program *p, const int64_t *dims, int64_t *syms,
                                 kiln_error *err);
/* outputs' dtype, rank and dims at syms (before a run, a count at its bound). */
kiln_status kiln_dyn_output_shapes(const kiln_program *p, const int64_t *syms,
                                   kiln_array *outputs, kiln_error *err);
/* The arena size at syms and (copied into offsets, p->ndyn of them) the slots' offsets. */
kiln_status kiln_dyn_plan(const kiln_program *p, kiln_dyn_cache *c, const int64_t *syms,
                          int64_t *offsets, int64_t *bytes, kiln_error *err);

#endif
