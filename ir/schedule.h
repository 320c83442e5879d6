/* Schedules as recipes: a list of transformations of a stage's loop nest, applied to the
 * stage's default nest (one serial loop per axis, spatial outside) by one function.
 *
 * The default scheduler, the tuner and tests build schedules this way; emitters take the
 * resulting loop list (kiln_schedule in ir/kernel.h). Each step is checked where it is
 * applied: arguments in range, then the loop nest's legality (kiln_schedule_check), so a
 * recipe either yields a schedule every emitter accepts or fails with a message naming
 * the step (tinygrad's Opt list and KernelOptError). A recipe is plain data, printable
 * and parseable, for tuning logs. */
#ifndef KILN_IR_SCHEDULE_H
#define KILN_IR_SCHEDULE_H

#include "ir/kernel.h"

/* Sets s's schedule to its default nest transformed by r's steps in order, and s->recipe
 * to r. On a step that does not apply (bad loop or argument, or an illegal result) it
 * fails with KILN_ERR_INVALID_ARGUMENT naming the stage and step, and leaves s as it was. */
kiln_status kiln_schedule_apply(kiln_stage *s, const kiln_recipe *r, kiln_error *err);
/* The recipe that turns s's default nest into the loop list `target` (splits, then moves,
 * then loop kinds), as a scheduler that builds loop lists records them; false when there
 * is none (target does not split axes the way KS_SPLIT does, or needs too many steps). */
bool kiln_recipe_for(const kiln_stage *s, const kiln_schedule *target, kiln_recipe *r);
/* Appends a step; false when r is full. */
bool kiln_recipe_add(kiln_recipe *r, kiln_sched_op op, int loop, int64_t arg);

/* "split(1,16) move(3,0) vector(5)": one token per step; parse reads what print writes. */
void kiln_recipe_print(const kiln_recipe *r, FILE *out);
/* What kiln_recipe_print writes, newly allocated. */
char *kiln_recipe_text(const kiln_recipe *r);
kiln_status kiln_recipe_parse(const char *text, kiln_recipe *r, kiln_error *err);

#endif
