/* The registry behind kiln_remove_temporaries: fixed slots changed only by atomic
 * compare-and-swap, so a signal handler can read them at any moment (no locks, no
 * allocation; kill, waitpid and unlink are async-signal-safe) and compiles on several
 * threads can register at once. A slot whose path is being written is BUSY and skipped;
 * the file it will name does not exist yet. When every slot is taken, files still work,
 * unregistered. */
#include "ir/tempfile.h"

#include "kiln.h"
#include "ir/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TEMPS 64
#define MAX_PATH 4096
#define MAX_CHILDREN 64

/* FREE -> BUSY (claimed, path being written) -> LIVE (registered) -> FREE (forgotten);
 * LIVE -> BUSY -> DEAD when kiln_remove_temporaries removes the file: only its owner frees
 * a DEAD slot, so no one else's registration is freed by mistake. */
enum { FREE, BUSY, LIVE, DEAD };

static struct {
  atomic_int state;
  char path[MAX_PATH];
} temps[MAX_TEMPS];

static atomic_int children[MAX_CHILDREN]; /* pids (process-group leaders); 0 = free */

static int claim(void) {
  for (int i = 0; i < MAX_TEMPS; i++) {
    int expected = FREE;
    if (atomic_compare_exchange_strong(&temps[i].state, &expected, BUSY)) return i;
  }
  return -1;
}

/* Six characters like mkstemp's, from a counter and the clock mixed per process. */
static void fill_random(char *x) {
  static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static atomic_uint_fast64_t counter;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t v = atomic_fetch_add(&counter, 1) * 0x9E3779B97F4A7C15ull ^
               (uint64_t)ts.tv_nsec * 0xBF58476D1CE4E5B9ull ^ (uint64_t)getpid() << 32;
  v ^= v >> 31;
  for (int i = 0; i < 6; i++, v /= 62) x[i] = chars[v % 62];
}

int kiln_temp_open(const char *prefix, const char *suffix, kiln_temp *t) {
  char *p = kiln_fmt("%sXXXXXX%s", prefix, suffix);
  char *x = p + strlen(prefix);
  size_t len = strlen(p);
  int slot = len < MAX_PATH ? claim() : -1;
  int e = EEXIST;
  for (int tries = 0; tries < 1000 && e == EEXIST; tries++) {
    fill_random(x);
    if (slot >= 0) { /* registered first: the file never exists unregistered */
      memcpy(temps[slot].path, p, len + 1);
      atomic_store(&temps[slot].state, LIVE);
    }
    int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      t->path = p;
      t->slot = slot;
      return fd;
    }
    e = errno;
    /* back to BUSY before another name; if a handler took the slot meanwhile, the process
     * is ending anyway */
    int expected = LIVE;
    if (slot >= 0 && !atomic_compare_exchange_strong(&temps[slot].state, &expected, BUSY)) slot = -1;
  }
  if (slot >= 0) atomic_store(&temps[slot].state, FREE);
  free(p);
  t->path = NULL;
  t->slot = -1;
  errno = e;
  return -1;
}

void kiln_temp_forget(kiln_temp *t) {
  if (t->path && t->slot >= 0) {
    int live = LIVE, dead = DEAD;
    if (atomic_compare_exchange_strong(&temps[t->slot].state, &live, BUSY) ||
        atomic_compare_exchange_strong(&temps[t->slot].state, &dead, BUSY))
      atomic_store(&temps[t->slot].state, FREE);
    /* else BUSY: kiln_remove_temporaries is removing it, and the process is ending */
  }
  free(t->path);
  t->path = NULL;
  t->slot = -1;
}

void kiln_child_started(pid_t pid) {
  for (int i = 0; i < MAX_CHILDREN; i++) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&children[i], &expected, (int)pid)) return;
  }
}

void kiln_child_ended(pid_t pid) {
  for (int i = 0; i < MAX_CHILDREN; i++) {
    int expected = (int)pid;
    if (atomic_compare_exchange_strong(&children[i], &expected, 0)) return;
  }
}

void kiln_remove_temporaries(void) {
  int saved = errno;
  /* Helpers first, and waited for: a linker still running could create its output again
   * after it was removed. Their whole process group, so the linker the driver started goes
   * too. */
  for (int i = 0; i < MAX_CHILDREN; i++) {
    int pid = atomic_exchange(&children[i], 0);
    if (pid <= 0) continue;
    if (kill(-pid, SIGTERM) != 0) kill(pid, SIGTERM);
    /* up to 2 s to end, then no choice */
    struct timespec tick = {0, 10 * 1000 * 1000};
    int tries = 0;
    for (pid_t r; (r = waitpid(pid, NULL, WNOHANG)) == 0 || (r < 0 && errno == EINTR);) {
      if (++tries == 200 && kill(-pid, SIGKILL) != 0) kill(pid, SIGKILL);
      nanosleep(&tick, NULL);
    }
  }
  for (int i = 0; i < MAX_TEMPS; i++) {
    int expected = LIVE;
    if (atomic_compare_exchange_strong(&temps[i].state, &expected, BUSY)) {
      unlink(temps[i].path);
      atomic_store(&temps[i].state, DEAD);
    }
  }
  errno = saved;
}
