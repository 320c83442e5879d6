#include "ir/util.h"

#include "ir/tempfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

kiln_status kiln_fail(kiln_error *err, kiln_status code, const char *fmt, ...) {
  if (err && err->code == KILN_OK) {
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return code;
}

static _Thread_local kiln_recovery *recovery; /* this thread's innermost */
static _Thread_local size_t failed_bytes;
static _Thread_local long countdown;          /* kiln_alloc_countdown */

void kiln_recovery_push(kiln_recovery *r) {
  r->prev = recovery;
  recovery = r;
}

void kiln_recovery_pop(kiln_recovery *r) { recovery = r->prev; }

_Noreturn void kiln_out_of_memory(size_t n) {
  for (kiln_recovery *r; (r = recovery);) {
    recovery = r->prev;
    if (r->undo) {
      r->undo(r->arg);
      continue;
    }
    failed_bytes = n;
    longjmp(r->env, 1);
  }
  abort();
}

size_t kiln_recovery_bytes(void) { return failed_bytes; }

long kiln_alloc_countdown(long n) {
  long left = countdown;
  countdown = n;
  return left;
}

/* The allocation goes ahead unless the test hook says this one fails. */
static bool may_allocate(void) { return countdown <= 0 || --countdown > 0; }

static void *check(void *p, size_t n) {
  if (!p) kiln_out_of_memory(n);
  return p;
}

void *kiln_xmalloc(size_t n) { return check(may_allocate() ? malloc(n ? n : 1) : NULL, n); }
void *kiln_xcalloc(size_t count, size_t size) {
  return check(may_allocate() ? calloc(count ? count : 1, size ? size : 1) : NULL, count * size);
}
void *kiln_xrealloc(void *p, size_t n) {
  return check(may_allocate() ? realloc(p, n ? n : 1) : NULL, n);
}
char *kiln_xstrdup(const char *s) {
  return s ? check(may_allocate() ? strdup(s) : NULL, strlen(s) + 1) : NULL;
}

int kiln_utf8_len(const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  int n = u[0] < 0x80 ? 1 : u[0] >= 0xC2 && u[0] <= 0xDF ? 2 : u[0] >= 0xE0 && u[0] <= 0xEF ? 3
        : u[0] >= 0xF0 && u[0] <= 0xF4 ? 4 : 0;
  /* the second byte's range excludes overlong forms, surrogates and code points past
   * U+10FFFF; the others are plain continuation bytes */
  unsigned lo = u[0] == 0xE0 ? 0xA0 : u[0] == 0xF0 ? 0x90 : 0x80;
  unsigned hi = u[0] == 0xED ? 0x9F : u[0] == 0xF4 ? 0x8F : 0xBF;
  for (int i = 1; i < n; i++)
    if (u[i] < (i == 1 ? lo : 0x80) || u[i] > (i == 1 ? hi : 0xBF)) return 0;
  return n;
}

char *kiln_fmt(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = kiln_xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

char *kiln_dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return kiln_xstrdup(".");
  return slash == path ? kiln_xstrdup("/") : kiln_fmt("%.*s", (int)(slash - path), path);
}

struct kiln_arena_block {
  struct kiln_arena_block *next;
  size_t used, size;
  _Alignas(16) unsigned char data[];
};

void *kiln_arena_alloc(kiln_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  struct kiln_arena_block *b = a->head;
  if (!b || b->used + n > b->size) {
    size_t size = n > 65536 ? n : 65536;
    b = kiln_xmalloc(sizeof *b + size);
    b->next = a->head;
    b->used = 0;
    b->size = size;
    a->head = b;
  }
  void *p = b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *kiln_arena_strdup(kiln_arena *a, const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(kiln_arena_alloc(a, n), s, n);
}

void kiln_arena_free(kiln_arena *a) {
  for (struct kiln_arena_block *b = a->head, *next; b; b = next) {
    next = b->next;
    free(b);
  }
  a->head = NULL;
}

bool kiln_mul_overflows(int64_t a, int64_t b, int64_t *out) {
  return __builtin_mul_overflow(a, b, out);
}

int64_t kiln_gcd(int64_t a, int64_t b) {
  while (b) {
    int64_t t = a % b;
    a = b;
    b = t;
  }
  return a < 0 ? -a : a;
}

bool kiln_add_overflows(int64_t a, int64_t b, int64_t *out) {
  return __builtin_add_overflow(a, b, out);
}

const char *kiln_version(void) { return KILN_VERSION; }

const char *kiln_status_name(kiln_status s) {
  static const char *const names[] = {
      "OK", "INVALID_ARGUMENT", "NO_SUCH_FILE", "INVALID_MODEL", "UNSUPPORTED", "SHAPE",
      "LIMIT", "OUT_OF_MEMORY", "IO", "CODEGEN", "INTERNAL", "INVALID_INPUT"};
  return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "UNKNOWN";
}

static bool write_all(int fd, const void *data, size_t n) {
  const char *c = data;
  while (n > 0) {
    ssize_t k = write(fd, c, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    c += k;
    n -= (size_t)k;
  }
  return true;
}

kiln_status kiln_write_file_atomic(const char *path, const void *head, size_t nhead,
                                   const void *data, size_t n, kiln_error *err) {
  char *prefix = kiln_fmt("%s.tmp", path);
  kiln_temp tmp;
  int fd = kiln_temp_open(prefix, "", &tmp); /* registered: a signal handler can remove it */
  free(prefix);
  if (fd < 0)
    return kiln_fail(err, KILN_ERR_IO, "cannot create a temporary file for '%s': %s", path,
                     strerror(errno));
  kiln_status st = KILN_OK;
  bool ok = fchmod(fd, 0644) == 0 && write_all(fd, head, nhead) && write_all(fd, data, n);
  int e = errno;
  if (close(fd) != 0 && ok) ok = false, e = errno;
  if (ok && rename(tmp.path, path) != 0) ok = false, e = errno;
  if (!ok) {
    unlink(tmp.path);
    st = kiln_fail(err, KILN_ERR_IO, "cannot write '%s': %s", path, strerror(e));
  }
  kiln_temp_forget(&tmp);
  return st;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

double kiln_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

uint64_t kiln_fnv1a(uint64_t h, const void *bytes, size_t len) {
  for (size_t i = 0; i < len; i++)
    h = (h ^ ((const unsigned char *)bytes)[i]) * UINT64_C(1099511628211);
  return h;
}

void kiln_hash_hex(const void *bytes, size_t len, char out[KILN_HASH_HEX_LEN + 1]) {
  snprintf(out, KILN_HASH_HEX_LEN + 1, "%016llx",
           (unsigned long long)kiln_fnv1a(KILN_FNV1A_START, bytes, len));
}
