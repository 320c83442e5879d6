/* Replays every saved fuzzer input under tests/regress/<target>/ through the same entry
 * point the fuzzer drove (tests/fuzz/targets.c), in the ordinary build: each one crashed,
 * hung or leaked once and must now finish. Under the sanitizer build this also proves
 * they stay clean. A target directory may be empty; a missing one is an error. */
#include "tests/check.h"
#include "tests/fuzz/targets.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *read_all(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  unsigned char *buf = malloc(cap);
  for (size_t r; (r = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += r;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  *size = n;
  return buf;
}

static int replay_dir(const char *target) {
  char dir[256];
  snprintf(dir, sizeof dir, "regress/%s", target);
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  if (!d) return 0;
  kiln_fuzz_fn fn = kiln_fuzz_target(target);
  int n = 0;
  for (struct dirent *de; (de = readdir(d));) {
    if (de->d_name[0] == '.') continue; /* also skips the .keep placeholder */
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    size_t size = 0;
    unsigned char *data = read_all(path, &size);
    CHECK(data != NULL);
    if (!data) continue;
    printf("replay %s\n", path);
    fflush(stdout); /* a crash names the input */
    CHECK(fn(data, size) == 0);
    free(data);
    n++;
  }
  closedir(d);
  return n;
}

int main(void) {
  const char *targets[] = {"onnx", "tensor", "dsl", "compile", "values", "tuning_log", "check"};
  const int ntargets = (int)(sizeof targets / sizeof *targets);
  int total = 0;
  for (int i = 0; i < ntargets; i++) total += replay_dir(targets[i]);
  printf("%d regression inputs replayed\n", total);
  /* the entry points themselves must accept empty and tiny inputs */
  for (int i = 0; i < ntargets; i++) {
    CHECK(kiln_fuzz_target(targets[i])((const uint8_t *)"", 0) == 0);
    CHECK(kiln_fuzz_target(targets[i])((const uint8_t *)"\x0a\x00", 2) == 0);
  }
  return check_report();
}
