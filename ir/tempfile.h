/* Work in progress that a signal handler can undo: temporary files (written, then renamed
 * into place or removed) and the helper processes (the system compiler and linker) that
 * write some of them. kiln_remove_temporaries (kiln.h) stops the processes and unlinks the
 * files; kiln installs no signal handler itself. */
#ifndef KILN_IR_TEMPFILE_H
#define KILN_IR_TEMPFILE_H

#include <sys/types.h>

/* A temporary file: its path (malloc'd) and its registry slot (-1: unregistered). */
typedef struct kiln_temp {
  char *path;
  int slot;
} kiln_temp;

/* Creates a new empty file "<prefix>XXXXXX<suffix>" (mode 0600, close-on-exec), registered
 * before it exists so that no moment leaves it unknown to kiln_remove_temporaries. Returns
 * an open descriptor, or -1 with errno set (t->path NULL then). */
int kiln_temp_open(const char *prefix, const char *suffix, kiln_temp *t);
/* Unregisters t once its file is renamed into place or removed, and frees its path; a
 * zeroed or failed t is fine. */
void kiln_temp_forget(kiln_temp *t);

/* Registers / unregisters a helper process that leads its own process group (so that its
 * own children can be stopped with it). */
void kiln_child_started(pid_t pid);
void kiln_child_ended(pid_t pid);

#endif
