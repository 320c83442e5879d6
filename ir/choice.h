/* Choice points: where a graph pass picks one of several ways to compile a node, a choice
 * a tuner may make otherwise (docs/tuning.md). Today these are the panel width a GEMM's
 * constant weights are packed to, or none (passes/pack_panels.c), and the channel block of
 * a convolution network's blocked layout, or none (passes/layout.c). The pass records each
 * point it saw in the graph, lowering hands the list to the program, and `kiln tune`
 * (runtime/tune_choice.c) measures the other values where they land: in the kernel that
 * holds the node. A tuning log keys a choice by a hash of what it depends on (the node's
 * op, shapes and attributes, not its weights' values), as it keys schedules by the kernel
 * IR's hash. */
#ifndef KILN_IR_CHOICE_H
#define KILN_IR_CHOICE_H

#include "ir/util.h"

#define KILN_CHOICE_MAX_VALUES 8

typedef struct kiln_choice {
  char key[KILN_HASH_HEX_LEN + 1];    /* what the choice depends on, hashed */
  const char *what;  /* the choice's name in logs ("panels"), a static string */
  char *node, *op;   /* the node's name (its kernel's, after lowering) and op type */
  int value, def;    /* the value taken; the default's */
  bool from_log;     /* value came from a tuning log */
  bool whole;        /* the value changes kernels all over the model (a layout): its time
                        is the model's, not only that of the node's kernel */
  int nvalues;
  int values[KILN_CHOICE_MAX_VALUES]; /* the values allowed, the default among them */
} kiln_choice;

typedef struct kiln_choices {
  int n, cap;
  kiln_choice *items;
} kiln_choices;

/* Appends a copy of c (its strings copied). */
void kiln_choices_add(kiln_choices *l, const kiln_choice *c);
void kiln_choices_free(kiln_choices *l);
/* Whether value is among values[0..n) (a choice point's values allowed). */
bool kiln_choice_allows(const int *values, int n, int value);

struct kiln_tuning_log;
struct kiln_tuning_target;
/* c's value: a record of log (may be NULL) for c's key, choice and target, when c allows
 * it (c->from_log), else c's default. c is appended to l either way. */
int kiln_choice_take(kiln_choices *l, kiln_choice *c, const struct kiln_tuning_log *log,
                     const struct kiln_tuning_target *target);

#endif
