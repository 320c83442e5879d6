/* The thread pool (rt/parallel.c) when the scheduler puts the calling thread on a
 * worker's CPU: for the job the caller moves to the CPU the workers leave it, when its
 * mask has that CPU, and gets its own mask back after; with a mask that lacks it the job
 * runs where it is. Either way every iteration runs exactly once. Needs two CPUs and
 * pinned workers (exit 77, skipped, otherwise). */
#define _GNU_SOURCE
#include "rt/parallel.h"
#include "tests/check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#define N 4096

typedef struct job {
  pthread_t caller;
  _Atomic int runs[N];
  _Atomic int caller_cpus; /* bit 0: the caller ran a chunk on `want`, bit 1: elsewhere */
  int want;
} job;

static void body(void *ctx, int64_t begin, int64_t end) {
  job *j = ctx;
  for (int64_t i = begin; i < end; i++) atomic_fetch_add(&j->runs[i], 1);
  if (pthread_equal(pthread_self(), j->caller))
    atomic_fetch_or(&j->caller_cpus, sched_getcpu() == j->want ? 1 : 2);
}

static int pin(const int *cpus, int n) {
  cpu_set_t s;
  CPU_ZERO(&s);
  for (int i = 0; i < n; i++) CPU_SET(cpus[i], &s);
  return sched_setaffinity(0, sizeof s, &s);
}

static void run_job(job *j, int want) {
  j->caller = pthread_self();
  j->want = want;
  atomic_store(&j->caller_cpus, 0);
  for (int i = 0; i < N; i++) atomic_store(&j->runs[i], 0);
  kiln_rt_parallel_for(body, j, N);
  int bad = 0;
  for (int i = 0; i < N; i++) bad += atomic_load(&j->runs[i]) != 1;
  CHECK(bad == 0);
}

int main(void) {
  cpu_set_t all;
  if (sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < 2 || getenv("KILN_NUM_THREADS")) {
    printf("skipped: needs two CPUs and the default thread count\n");
    return 77;
  }
  int caller = kiln_rt_caller_cpu(), worker = -1;
  for (int c = 0; c < CPU_SETSIZE && worker < 0; c++)
    if (CPU_ISSET(c, &all) && c != caller) worker = c;
  if (caller < 0 || worker < 0) {
    printf("skipped: the pool's workers are not pinned\n");
    return 77;
  }
  kiln_rt_set_num_threads(CPU_COUNT(&all)); /* every worker takes part */
  static job j;

  /* On the worker's CPU with a mask that also has the caller's: the job runs on the
   * caller's CPU and the mask is the same after. */
  int both[2] = {worker, caller};
  int moved = 0;
  for (int tries = 0; tries < 20 && !moved; tries++) {
    CHECK(pin(&worker, 1) == 0); /* moves there now */
    CHECK(pin(both, 2) == 0);
    if (sched_getcpu() != worker) continue; /* the scheduler moved it back already */
    run_job(&j, caller);
    CHECK(atomic_load(&j.caller_cpus) == 1);
    cpu_set_t after;
    CHECK(sched_getaffinity(0, sizeof after, &after) == 0);
    CHECK(CPU_COUNT(&after) == 2 && CPU_ISSET(worker, &after) && CPU_ISSET(caller, &after));
    moved = 1;
  }
  CHECK(moved);

  /* A mask without the caller's CPU: the job runs where the caller is, and the mask is
   * left alone. */
  CHECK(pin(&worker, 1) == 0);
  run_job(&j, worker);
  CHECK(atomic_load(&j.caller_cpus) == 1);
  cpu_set_t after;
  CHECK(sched_getaffinity(0, sizeof after, &after) == 0);
  CHECK(CPU_COUNT(&after) == 1 && CPU_ISSET(worker, &after));

  /* Back to the whole mask, on the caller's CPU: nothing moves. */
  CHECK(sched_setaffinity(0, sizeof all, &all) == 0);
  run_job(&j, -2); /* any CPU: caller_cpus records 2 when the caller ran a chunk */
  CHECK(sched_getaffinity(0, sizeof after, &after) == 0);
  CHECK(CPU_EQUAL(&after, &all));
  return check_report();
}
