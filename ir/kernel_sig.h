/* A kernel's content signature (ir/kernel_sig.c): equal signatures, equal generated code. */
#ifndef KILN_IR_KERNEL_SIG_H
#define KILN_IR_KERNEL_SIG_H

#include "ir/kernel.h"

/* The signature of k as malloc'd bytes (*len of them), or NULL when out of memory. */
char *kiln_kernel_signature(const kiln_kernel *k, size_t *len);

#endif
