/* Tuning logs: text files of measured schedules, one JSON object per line, so logs are
 * appended to and merged by concatenation (docs/tuning.md). A record says: for the kernel
 * whose content hash (ir/kernel_sig.h) is `kernel`, on `target` with kiln `version`,
 * these per-stage recipes (ir/schedule.h) ran in time_ns, against the default schedules
 * `default` (the recipes the default scheduler gave then) in default_ns. Readers treat a log as hostile
 * input: any line that is not a well-formed record fails the read naming file and line. */
#ifndef KILN_IR_TUNING_LOG_H
#define KILN_IR_TUNING_LOG_H

#include "ir/kernel.h"
#include "ir/kernel_sig.h"

#include <stdio.h>

#define KILN_TUNING_MAX_LINE (1 << 20)     /* bytes in one record */
#define KILN_TUNING_MAX_STAGES 4096

/* Where a record was measured: LLVM's triple, CPU name and feature string as code was
 * generated for, and the number of threads parallel loops ran on. */
typedef struct kiln_tuning_target {
  char *triple, *cpu, *features;
  int threads;
} kiln_tuning_target;

/* A record is of one of two kinds: a kernel's schedules (`kernel` set, node[0] == 0), or
 * a graph pass's choice for a node (ir/choice.h: `node` set, kernel[0] == 0, no stages):
 * with the node whose choice key is `node`, choice `choice` took `value` and its kernel
 * ran in time_ns, against default_ns with the default value `default_value`. */
typedef struct kiln_tuning_record {
  char kernel[KILN_KERNEL_HASH_LEN + 1];
  char node[KILN_HASH_HEX_LEN + 1];
  char *choice;             /* a choice record's name ("panels"); NULL for a kernel's */
  int value, default_value; /* the choice's value; the default's, -1 = not given */
  char *op;                 /* for people ("Conv+Relu"); may be NULL */
  kiln_tuning_target target;
  char *version;
  int nstages;
  char **stages;            /* recipe text per stage, as kiln_recipe_print writes it */
  char **defaults;          /* the default recipes it was measured against; NULL = not given */
  kiln_recipe *recipes;     /* the same, parsed */
  double time_ns;           /* the kernel's median time with these schedules */
  double default_ns;        /* with the default schedules; 0 = not given */
  int line;                 /* in the file read, from 1 */
} kiln_tuning_record;

typedef struct kiln_tuning_log {
  int n, cap;
  kiln_tuning_record *records;
} kiln_tuning_log;

/* Adds the records of text[0..len) (read from `name`, for messages) to log. Blank lines
 * are skipped; any other line must be a record: else KILN_ERR_INVALID_ARGUMENT naming
 * name, the line and what is wrong, and log keeps only the records before it. */
kiln_status kiln_tuning_log_parse(kiln_tuning_log *log, const char *text, size_t len,
                                  const char *name, kiln_error *err);
/* Reads the file at path into log (KILN_ERR_NO_SUCH_FILE when it does not exist). */
kiln_status kiln_tuning_log_read(kiln_tuning_log *log, const char *path, kiln_error *err);
void kiln_tuning_log_free(kiln_tuning_log *log);

/* The fastest record for kernel hash `kernel` with nstages stages whose target and
 * version match exactly (ties: the lexically first stage recipes), or NULL. With
 * `defaults` (the kernel's default recipes, as text), a record measured against other
 * defaults is passed over: its win was over schedules this kiln no longer makes. */
const kiln_tuning_record *kiln_tuning_log_best(const kiln_tuning_log *log, const char *kernel,
                                               int nstages, const kiln_tuning_target *target,
                                               const char *version,
                                               const char *const *defaults);

/* The fastest choice record for choice key `node` and choice `choice` whose target and
 * version match exactly (ties: the smaller value), or NULL. A record measured against
 * another default value than def is passed over, as kiln_tuning_log_best's are. */
const kiln_tuning_record *kiln_tuning_log_choice(const kiln_tuning_log *log, const char *node,
                                                 const char *choice,
                                                 const kiln_tuning_target *target,
                                                 const char *version, int def);
/* Fills a choice record (its strings copied). */
void kiln_tuning_choice_init(kiln_tuning_record *r, const char *node, const char *choice,
                             const char *op, int value, int default_value,
                             const kiln_tuning_target *target, double time_ns, double default_ns);

/* Fills a record (its strings copied) from a kernel's current stage recipes, and the
 * default recipes (one per stage; NULL: none) it was measured against. */
void kiln_tuning_record_init(kiln_tuning_record *r, const kiln_kernel *k, const char *hash,
                             const kiln_tuning_target *target, double time_ns,
                             double default_ns, const kiln_recipe *defaults);
void kiln_tuning_record_clear(kiln_tuning_record *r);
/* One line, newline included: what kiln_tuning_log_parse reads back. */
void kiln_tuning_record_write(const kiln_tuning_record *r, FILE *out);

bool kiln_tuning_target_equal(const kiln_tuning_target *a, const kiln_tuning_target *b);
void kiln_tuning_target_clear(kiln_tuning_target *t);

#endif
