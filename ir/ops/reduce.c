#include "ir/op.h"

const kiln_op_def kiln_ops_reduce[] = {
    {NULL},
};
