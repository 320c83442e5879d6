#ifndef KILN_RUNTIME_PARALLEL_H
#define KILN_RUNTIME_PARALLEL_H

#include <stdint.h>

/* A parallel loop body: runs iterations [begin, end) with the kernel's context. */
typedef void (*kiln_rt_body)(void *ctx, int64_t begin, int64_t end);

/* Splits [0, n) into one contiguous range per thread. Nested calls run serially. */
void kiln_rt_parallel_for(kiln_rt_body body, void *ctx, int64_t n);

#endif
