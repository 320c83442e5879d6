/* The registry behind kiln_remove_temporaries (ir/tempfile.h): it removes exactly the
 * temporaries still in progress, from a signal handler too, stops registered helper
 * processes with their children, and stays consistent under threads. */
#include "check.h"

#include "ir/tempfile.h"
#include "ir/util.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char dir[] = "/tmp/kiln_tempfile_XXXXXX";

static int count_files(void) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.' || strlen(e->d_name) > 2;
  closedir(d);
  return n;
}

static void clear_dir(void) {
  DIR *d = opendir(dir);
  for (struct dirent *e; (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char *p = kiln_fmt("%s/%s", dir, e->d_name);
    unlink(p);
    free(p);
  }
  closedir(d);
}

static bool exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* Removed: the ones in progress; kept: the ones renamed into place and forgotten. */
static void test_remove_in_progress(void) {
  char *prefix = kiln_fmt("%s/.m.", dir), *final = kiln_fmt("%s/m.so", dir);
  kiln_temp a, b, c;
  int fa = kiln_temp_open(prefix, ".o", &a), fb = kiln_temp_open(prefix, ".so", &b),
      fc = kiln_temp_open(prefix, ".h", &c);
  CHECK(fa >= 0 && fb >= 0 && fc >= 0);
  CHECK(strncmp(a.path, prefix, strlen(prefix)) == 0 && strstr(a.path, ".o"));
  CHECK(strcmp(a.path, b.path) && strcmp(a.path, c.path) && exists(a.path));
  close(fa), close(fb), close(fc);
  CHECK(rename(b.path, final) == 0);
  kiln_temp_forget(&b);
  CHECK(b.path == NULL);
  kiln_remove_temporaries();
  CHECK(!exists(a.path) && !exists(c.path) && exists(final));
  CHECK(count_files() == 1);
  kiln_temp_forget(&a);
  kiln_temp_forget(&c);
  clear_dir();
  free(prefix);
  free(final);
}

static void on_term(int sig) {
  (void)sig;
  kiln_remove_temporaries();
  _exit(7);
}

/* From a signal handler, in a process killed mid-write. */
static void test_signal_handler(void) {
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGTERM, on_term);
    char *prefix = kiln_fmt("%s/out.pb.tmp", dir);
    kiln_temp t;
    int fd = kiln_temp_open(prefix, "", &t);
    if (fd < 0 || write(fd, "partial", 7) != 7) _exit(1);
    raise(SIGTERM);
    _exit(2);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
  CHECK(count_files() == 0);
  clear_dir();
}

/* Running: neither gone nor a zombie waiting for its reaper. */
static bool running(pid_t pid) {
  char path[64], stat[256] = "";
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = 0;
  const char *end = strrchr(stat, ')'); /* "pid (comm) S ..." */
  return end && end[1] == ' ' && end[2] != 'Z' && end[2] != 'X';
}

/* A helper process in its own group is stopped with the child it started. */
static void test_children(void) {
  char *pidfile = kiln_fmt("%s/grandchild", dir);
  char *script = kiln_fmt("sleep 60 & echo $! > '%s'; wait", pidfile);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  char *argv[] = {"sh", "-c", script, NULL};
  pid_t pid;
  CHECK(posix_spawnp(&pid, "sh", NULL, &attr, argv, environ) == 0);
  posix_spawnattr_destroy(&attr);
  kiln_child_started(pid);
  struct timespec tick = {0, 10 * 1000 * 1000};
  int grandchild = 0;
  for (int tries = 0; tries < 500 && grandchild <= 0; tries++) { /* sh has started its sleep */
    FILE *f = fopen(pidfile, "r");
    if (f && fscanf(f, "%d", &grandchild) != 1) grandchild = 0;
    if (f) fclose(f);
    if (grandchild <= 0) nanosleep(&tick, NULL);
  }
  CHECK(grandchild > 0 && running(grandchild));
  time_t t0 = time(NULL);
  kiln_remove_temporaries();
  CHECK(time(NULL) - t0 < 5);
  CHECK(waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD); /* reaped by the cleanup */
  int tries = 0;
  while (grandchild > 0 && running(grandchild) && tries++ < 100) nanosleep(&tick, NULL);
  CHECK(tries < 100);
  kiln_child_ended(pid); /* already gone from the registry: harmless */
  unlink(pidfile);
  free(pidfile);
  free(script);
}

enum { THREADS = 8, ROUNDS = 300 };

static void *churn(void *arg) {
  char *prefix = kiln_fmt("%s/t%d.", dir, (int)(intptr_t)arg);
  for (int i = 0; i < ROUNDS; i++) {
    kiln_temp t;
    int fd = kiln_temp_open(prefix, ".tmp", &t);
    if (fd < 0) abort();
    close(fd);
    kiln_temp_forget(&t); /* left on disk, no longer the registry's */
  }
  free(prefix);
  return NULL;
}

/* Threads registering at once: every file made, none left registered, no slot lost. */
static void test_threads(void) {
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, churn, (void *)(intptr_t)i);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  CHECK(count_files() == THREADS * ROUNDS);
  kiln_remove_temporaries();
  CHECK(count_files() == THREADS * ROUNDS);
  clear_dir();
  char *prefix = kiln_fmt("%s/s.", dir);
  kiln_temp t[64];
  for (int i = 0; i < 64; i++) {
    int fd = kiln_temp_open(prefix, "", &t[i]);
    CHECK(fd >= 0 && t[i].slot >= 0);
    close(fd);
  }
  kiln_remove_temporaries();
  CHECK(count_files() == 0);
  for (int i = 0; i < 64; i++) kiln_temp_forget(&t[i]);
  free(prefix);
}

/* The atomic writer's temporary is registered while it exists, and gone after. */
static void test_atomic_writer(void) {
  char *path = kiln_fmt("%s/w.bin", dir);
  kiln_error err = {0};
  CHECK(kiln_write_file_atomic(path, "a", 1, "b", 1, &err) == KILN_OK);
  CHECK(count_files() == 1 && exists(path));
  char *nodir = kiln_fmt("%s/no/w.bin", dir);
  CHECK(kiln_write_file_atomic(nodir, "a", 1, NULL, 0, &err) == KILN_ERR_IO);
  kiln_remove_temporaries();
  CHECK(count_files() == 1 && exists(path));
  clear_dir();
  free(path);
  free(nodir);
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  test_remove_in_progress();
  test_signal_handler();
  test_children();
  test_threads();
  test_atomic_writer();
  rmdir(dir);
  return check_report();
}
