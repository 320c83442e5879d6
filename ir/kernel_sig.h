/* A kernel's content signature (ir/kernel_sig.c): equal signatures, equal generated code. */
#ifndef KILN_IR_KERNEL_SIG_H
#define KILN_IR_KERNEL_SIG_H

#include "ir/kernel.h"

/* The signature of k as malloc'd bytes (*len of them), or NULL when out of memory. */
char *kiln_kernel_signature(const kiln_kernel *k, size_t *len);

/* The hex digits of a 64-bit FNV-1a hash of k's signature without its schedules: the
 * kernel IR's buffers and stages (what is computed), so a kernel keeps its hash whatever
 * schedule it gets; a tuning log's key. False when out of memory. */
#define KILN_KERNEL_HASH_LEN KILN_HASH_HEX_LEN
bool kiln_kernel_hash(const kiln_kernel *k, char out[KILN_KERNEL_HASH_LEN + 1]);

#endif
