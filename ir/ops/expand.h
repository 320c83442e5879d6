/* Building an expansion: ops defined as a graph of simpler ops (RNN/GRU/LSTM, the loss
 * ops) insert their nodes where the expanded node was, through this small builder. New
 * values and nodes are named "<node>/<tag>/<what>" so dumps and errors point back at the
 * node that made them. */
#ifndef KILN_IR_OPS_EXPAND_H
#define KILN_IR_OPS_EXPAND_H

#include "ir/op.h"

#define KILN_EX_MAX_CACHED 64

typedef struct kiln_ex {
  kiln_graph *g;
  kiln_block *b;
  int pos;          /* where the next node goes */
  char *name;       /* the expanded node's name: the prefix of every new value */
  char tag[48];     /* an optional middle part of names ("d0/t3": direction and step) */
  int last;         /* id of the last node added (for its attributes) */
  int from;         /* id of the expanded node (removed, its attributes still there) */
  kiln_dtype t;     /* the type kiln_ex_scalar makes */
  int nconsts;      /* i64 constants made, for their names */
  int ncached;      /* i64 constants, shared: axes, split sizes, slice bounds */
  int cached_n[KILN_EX_MAX_CACHED];
  int64_t cached_v[KILN_EX_MAX_CACHED][4];
  int cached_id[KILN_EX_MAX_CACHED];
} kiln_ex;

/* Takes node pos of block b out and starts building in its place (scalars of type t). */
void kiln_ex_begin(kiln_ex *x, kiln_graph *g, kiln_block *b, int pos, kiln_dtype t);
/* Starts building at the end of block b (NULL: values only), naming what it adds after
 * `name`; no node is taken out. */
void kiln_ex_into(kiln_ex *x, kiln_graph *g, kiln_block *b, const char *name, kiln_dtype t);
void kiln_ex_end(kiln_ex *x);

int kiln_ex_value(kiln_ex *x, const char *what);
/* Adds node op(ins) at the insertion point; outs[i] < 0 get new values named after what. */
void kiln_ex_node(kiln_ex *x, const char *op, const int *ins, int nin, int *outs, int nout,
                  const char *what);
/* One output: `out`, or a new value when out < 0. Returns the output's id. */
int kiln_ex_node1(kiln_ex *x, const char *op, const int *ins, int nin, int out, const char *what);
int kiln_ex_unary(kiln_ex *x, const char *op, int a, const char *what);
int kiln_ex_binary(kiln_ex *x, const char *op, int a, int b, const char *what);
/* Attributes of the last node added. */
void kiln_ex_attr_i(kiln_ex *x, const char *name, int64_t v);
void kiln_ex_attr_f(kiln_ex *x, const char *name, double v);
void kiln_ex_attr_s(kiln_ex *x, const char *name, const char *v);
void kiln_ex_attr_ints(kiln_ex *x, const char *name, int n, const int64_t *v);
void kiln_ex_attr_strings(kiln_ex *x, const char *name, int n, const char *const *v);
/* Moves every attribute of the expanded node to the last node added (a Conv keeps its
 * window attributes). */
void kiln_ex_take_attrs(kiln_ex *x);
/* A constant of type t (vals NULL: zeros). */
int kiln_ex_const(kiln_ex *x, const char *what, kiln_dtype t, int rank, const int64_t *dims,
                  const double *vals);
/* A 1-D i64 constant of up to 4 values, shared between all its uses. */
int kiln_ex_ints(kiln_ex *x, int n, const int64_t *v);
int kiln_ex_int1(kiln_ex *x, int64_t v);
/* A scalar of the builder's type t. */
int kiln_ex_scalar(kiln_ex *x, double v, const char *what);
/* v reshaped to dims / transposed by perm, into out (a new value when out < 0). */
int kiln_ex_reshape(kiln_ex *x, int v, int rank, const int64_t *dims, int out, const char *what);
int kiln_ex_transpose(kiln_ex *x, int v, int rank, const int64_t *perm, int out, const char *what);
/* A scalar i64 constant. */
int kiln_ex_i64(kiln_ex *x, int64_t v, const char *what);
/* v cast to type `to`, into out (a new value when out < 0). */
int kiln_ex_cast(kiln_ex *x, int v, kiln_dtype to, int out, const char *what);

#endif
