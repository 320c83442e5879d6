/* A minimal assertion kit for kiln's C tests: CHECK counts failures and goes on;
 * a test's main returns check_report(). */
#ifndef KILN_TESTS_CHECK_H
#define KILN_TESTS_CHECK_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>

static int check_failures, check_count;

#define CHECK(cond)                                                                   \
  do {                                                                                \
    check_count++;                                                                    \
    if (!(cond)) {                                                                    \
      check_failures++;                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);        \
    }                                                                                 \
  } while (0)

static inline int check_report(void) {
  printf("%d checks, %d failed\n", check_count, check_failures);
  return check_failures ? 1 : (check_count ? 0 : 1);
}

/* Entries of directory dir other than . and .. (-1 when it cannot be read): tests that a
 * refused or interrupted write left nothing behind count on it. */
static inline int check_count_files(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

#endif
