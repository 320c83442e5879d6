/* A host program for the AOT-compiled demo model: `kiln compile examples/demo.onnx -o
 * libdemo.so --name demo` writes libdemo.so and demo.h; this file builds with
 *   cc host.c -I<dir of demo.h> -L<dir of libdemo.so> -ldemo -o host
 * and needs nothing else from kiln. */
#include "demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(void) {
  static float image[DEMO_INPUT_0_SIZE], probs[DEMO_OUTPUT_0_SIZE];
  /* a bright vertical bar on a dark background */
  for (int y = 0; y < 28; y++)
    for (int x = 0; x < 28; x++) image[y * 28 + x] = (x >= 12 && x < 16) ? 1.0f : 0.0f;

  enum { RUNS = 101 };
  double ms[RUNS];
  for (int r = 0; r < RUNS; r++) {
    double t0 = now_ms();
    if (demo_run(image, probs, NULL) != 0) {
      fprintf(stderr, "demo_run failed\n");
      return 1;
    }
    ms[r] = now_ms() - t0;
  }
  qsort(ms, RUNS, sizeof ms[0], cmp);

  int best = 0;
  float sum = 0;
  printf("probs:");
  for (int i = 0; i < DEMO_OUTPUT_0_SIZE; i++) {
    printf(" %.4f", probs[i]);
    sum += probs[i];
    if (probs[i] > probs[best]) best = i;
  }
  printf("\nclass %d (p = %.4f), sum of probs %.4f\n", best, probs[best], sum);
  printf("latency: median %.4f ms over %d runs\n", ms[RUNS / 2], RUNS);
  return sum > 0.999f && sum < 1.001f ? 0 : 1;
}
