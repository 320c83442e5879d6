/* The parallel-for generated kernels call, on a persistent pool of pinned threads.
 * Linked into libkiln (for JIT code) and into every AOT library (each its own pool).
 *
 * Why not OpenMP: a fork/join per stage with OpenMP's default wait policy spun for
 * milliseconds between stages, left threads unpinned (the guest may pack two threads on
 * one vCPU) and split work statically, so one thread sharing its core with another
 * process held every stage back. Here:
 *   - workers are created once and pinned, each to its own CPU of the process's mask;
 *   - between jobs a worker spins for a bounded time (KILN_SPIN_US) and then sleeps on a
 *     futex, so an idle or oversubscribed machine costs no CPU; a worker that another
 *     process has preempted does not spin at all for a while (KILN_QUIET_US): spinning
 *     would spend the share of its core the scheduler grants it, which it then lacks in
 *     the middle of a job, while the caller waits for its chunk;
 *   - a job's range is handed out in chunks from an atomic counter, each a share of what
 *     is left (guided), so a thread slowed down by another process simply takes fewer
 *     chunks and the last ones, which others may wait for, are small; the caller never
 *     waits for a worker that has not joined the job: when the caller has claimed the
 *     last chunk it waits only for the chunks in flight, then closes the job to latecomers;
 *   - one job runs at a time: a caller that finds the pool busy (another kiln_run on
 *     another thread) runs its loop itself rather than oversubscribing the cores;
 *   - a caller the scheduler has put on a working worker's CPU (as it may when it wakes the
 *     caller) moves for the job to the CPU the workers leave it, its mask permitting. */
#define _GNU_SOURCE
#include "rt/parallel.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KILN_SPIN_US 200       /* the next stage arrives within microseconds */
#define KILN_QUIET_US 100000   /* no spinning for this long after being preempted */
#define KILN_MIN_CHUNKS 16     /* per thread: the smallest chunk is n / (16 threads) */
#define KILN_MAX_THREADS 256
#define CLOSED 0x80000000u  /* in P.job: no worker may join any more */

/* kiln_rt_set_num_threads; 0 = default. Per calling thread in libkiln; AOT libraries
 * (KILN_RT_NO_TLS) never set it and have no thread-local state at all: the dynamic TLS of
 * a library that is dlopen'ed and dlclose'ed again trips up LeakSanitizer. */
#ifdef KILN_RT_NO_TLS
static int requested;
#else
static _Thread_local int requested;
#endif

typedef struct pool {
  pthread_mutex_t busy;       /* held by the caller whose job runs */
  int nworkers;               /* threads besides the caller */
  int default_threads;        /* CPUs in the process's affinity mask (or KILN_NUM_THREADS) */
  int caller_cpu;             /* the starting thread's CPU, which no pinned worker takes */
  int worker_cpu[KILN_MAX_THREADS]; /* each worker's CPU, -1: not pinned */
  uint32_t last_seq;          /* the newest job's number (under busy) */
  _Atomic uint32_t seqw;      /* the newest job's number: the futex idle workers sleep on */
  _Atomic int sleepers;       /* workers in (or about to enter) futex_wait */
  _Atomic uint64_t job;       /* job number << 32 | CLOSED | workers inside the job */
  _Atomic int64_t next;       /* the next unclaimed iteration */
  kiln_rt_body body;
  void *ctx;
  int64_t n, split, min_chunk; /* a chunk: (n - next) / split, at least min_chunk */
  _Atomic int participants;   /* workers with an id below this take part */
  bool quit;                  /* set by stop_pool: workers return */
  pthread_t threads[KILN_MAX_THREADS];
} pool;

static pool P = {.busy = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void futex_wait(_Atomic uint32_t *addr, uint32_t val) {
  syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr) {
  syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

/* Involuntary context switches of the calling thread: preemptions by other threads. */
static long preemptions(void) {
  struct rusage ru;
  return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : 0;
}

/* A worker's wait for a job newer than `seen`: spins for a while (unless it was preempted
 * lately: *quiet_until), then sleeps. The sleepers count and seqw are both seq_cst, so
 * the caller either sees a sleeper (and wakes it) or the worker sees the new job before
 * sleeping. */
static uint32_t wait_job(uint32_t seen, long *nivcsw, int64_t *quiet_until) {
  uint32_t v;
  int64_t start = now_us();
  long n = preemptions();
  if (n != *nivcsw) *quiet_until = start + KILN_QUIET_US;
  *nivcsw = n;
  for (int i = 0; start >= *quiet_until; i++) {
    if ((v = atomic_load(&P.seqw)) != seen) return v;
    cpu_relax();
    if ((i & 63) == 63 && now_us() - start > KILN_SPIN_US) break;
  }
  for (;;) {
    atomic_fetch_add(&P.sleepers, 1);
    if (atomic_load(&P.seqw) == seen) futex_wait(&P.seqw, seen);
    atomic_fetch_sub(&P.sleepers, 1);
    if ((v = atomic_load(&P.seqw)) != seen) return v;
  }
}

/* Enters job s unless it is over (closed, or replaced by a newer one). */
static bool join(uint32_t s) {
  uint64_t j = atomic_load_explicit(&P.job, memory_order_acquire);
  for (;;) {
    if ((uint32_t)(j >> 32) != s || (j & CLOSED)) return false;
    if (atomic_compare_exchange_weak_explicit(&P.job, &j, j + 1, memory_order_acq_rel,
                                              memory_order_acquire))
      return true;
  }
}

/* Claims and runs chunks until none is left: each a share of what remains, so chunks
 * shrink toward the end of the job. */
static void run_chunks(void) {
  int64_t i = atomic_load_explicit(&P.next, memory_order_relaxed);
  while (i < P.n) {
    int64_t c = (P.n - i) / P.split;
    if (c < P.min_chunk) c = P.min_chunk;
    if (atomic_compare_exchange_weak_explicit(&P.next, &i, i + c, memory_order_relaxed,
                                              memory_order_relaxed)) {
      P.body(P.ctx, i, i + c < P.n ? i + c : P.n);
      i = atomic_load_explicit(&P.next, memory_order_relaxed);
    }
  }
}

typedef struct worker_arg {
  int id, cpu;
} worker_arg;

static void *worker(void *arg) {
  worker_arg a = *(worker_arg *)arg;
  free(arg);
  if (a.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(a.cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort */
  }
  long nivcsw = preemptions();
  int64_t quiet_until = 0;
  for (uint32_t seen = 0;;) {
    seen = wait_job(seen, &nivcsw, &quiet_until);
    if (P.quit) return NULL;
    /* a stale look at participants only skips a job this worker could have joined */
    if (a.id >= atomic_load_explicit(&P.participants, memory_order_relaxed) || !join(seen))
      continue;
    run_chunks();
    atomic_fetch_sub_explicit(&P.job, 1, memory_order_release); /* its writes are done */
  }
}

static void start_pool(void) {
  cpu_set_t mask;
  int cpus[KILN_MAX_THREADS], ncpu = 0;
  if (sched_getaffinity(0, sizeof mask, &mask) == 0) {
    for (int c = 0; c < CPU_SETSIZE && ncpu < KILN_MAX_THREADS; c++)
      if (CPU_ISSET(c, &mask)) cpus[ncpu++] = c;
  }
  if (ncpu == 0) { /* no mask: count CPUs, pin nothing */
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    ncpu = n < 1 ? 1 : n > KILN_MAX_THREADS ? KILN_MAX_THREADS : (int)n;
    for (int i = 0; i < ncpu; i++) cpus[i] = -1;
  }
  int want = ncpu;
  const char *env = getenv("KILN_NUM_THREADS");
  if (env && atoi(env) > 0) want = atoi(env) > KILN_MAX_THREADS ? KILN_MAX_THREADS : atoi(env);
  P.default_threads = want;
  /* Workers take the CPUs after the one the creating thread runs on, so the caller (whose
   * affinity kiln leaves alone) and its workers start out on different cores. */
  int here = sched_getcpu(), first = 0;
  P.caller_cpu = -1;
  for (int i = 0; i < ncpu; i++)
    if (cpus[i] == here) first = i + 1, P.caller_cpu = want <= ncpu ? here : -1;
  int nw = (want > ncpu ? want : ncpu) - 1;
  for (int i = 0; i < nw; i++) {
    worker_arg *a = malloc(sizeof *a);
    if (!a) break;
    a->id = i;
    a->cpu = i < ncpu - 1 && want <= ncpu ? cpus[(first + i) % ncpu] : -1;
    P.worker_cpu[P.nworkers] = a->cpu;
    if (pthread_create(&P.threads[P.nworkers], NULL, worker, a)) {
      free(a);
      break;
    }
    P.nworkers++;
  }
}

/* At exit, and when an AOT library is unloaded (dlclose): the workers run this library's
 * code, so they must be gone before it is unmapped. */
__attribute__((destructor)) static void stop_pool(void) {
  if (!P.nworkers) return;
  pthread_mutex_lock(&P.busy); /* no job runs */
  P.quit = true;
  atomic_store(&P.seqw, ++P.last_seq);
  futex_wake(&P.seqw);
  for (int i = 0; i < P.nworkers; i++) pthread_join(P.threads[i], NULL);
  P.nworkers = 0;
  pthread_mutex_unlock(&P.busy);
}

void kiln_rt_set_num_threads(int n) { requested = n > 0 ? n : 0; }

int kiln_rt_caller_cpu(void) {
  pthread_once(&once, start_pool);
  return P.caller_cpu;
}

int kiln_rt_num_threads(void) {
  pthread_once(&once, start_pool);
  int t = requested ? requested : P.default_threads;
  return t > P.nworkers + 1 ? P.nworkers + 1 : t;
}

/* A caller on the CPU of one of the job's T - 1 workers would share that core with it for
 * the whole job, each waiting for the other's time slices (kernels ran 2-5x slower when the
 * tuner's thread woke up there after a compile). It moves, for the job, to the CPU the
 * workers leave it, if its mask has that CPU: *saved gets the mask to restore. */
static bool leave_worker_cpu(int T, cpu_set_t *saved) {
  int here = sched_getcpu();
  if (P.caller_cpu < 0 || here < 0 || here == P.caller_cpu) return false;
  bool shared = false;
  for (int i = 0; i < T - 1 && !shared; i++) shared = P.worker_cpu[i] == here;
  if (!shared || sched_getaffinity(0, sizeof *saved, saved) != 0 ||
      !CPU_ISSET(P.caller_cpu, saved))
    return false;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(P.caller_cpu, &one);
  return sched_setaffinity(0, sizeof one, &one) == 0;
}

void kiln_rt_parallel_for(kiln_rt_body body, void *ctx, int64_t n) {
  if (n <= 0) return;
  int T = n > 1 ? kiln_rt_num_threads() : 1;
  if (T > n) T = (int)n;
  /* busy also catches a nested call, from the caller's chunks (trylock of a mutex this
   * thread holds fails) or from a worker's */
  if (T <= 1 || pthread_mutex_trylock(&P.busy) != 0) {
    body(ctx, 0, n);
    return;
  }
  cpu_set_t saved;
  bool moved = leave_worker_cpu(T, &saved);
  P.body = body;
  P.ctx = ctx;
  P.n = n;
  P.split = 2 * (int64_t)T;
  P.min_chunk = (n + T * KILN_MIN_CHUNKS - 1) / (T * KILN_MIN_CHUNKS);
  atomic_store_explicit(&P.participants, T - 1, memory_order_relaxed);
  atomic_store_explicit(&P.next, 0, memory_order_relaxed);
  uint32_t s = ++P.last_seq;
  atomic_store_explicit(&P.job, (uint64_t)s << 32, memory_order_release); /* publishes it */
  atomic_store(&P.seqw, s);
  if (atomic_load(&P.sleepers) > 0) futex_wake(&P.seqw);
  run_chunks();
  /* every chunk is claimed: wait for those in flight, then close the job */
  for (int i = 0;; i++) {
    uint64_t open = (uint64_t)s << 32;
    if (atomic_compare_exchange_weak_explicit(&P.job, &open, open | CLOSED, memory_order_acquire,
                                              memory_order_relaxed))
      break;
    cpu_relax();
    if ((i & 255) == 255) sched_yield(); /* a worker in flight may share our core */
  }
  pthread_mutex_unlock(&P.busy);
  if (moved) sched_setaffinity(0, sizeof saved, &saved); /* the thread stays where it is */
}
