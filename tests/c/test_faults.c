/* Redis killed and restarted under a live handle. Driven by
 * ffi-c/tests/c_suite.rs over stdin/stdout: this program prints KILL and
 * waits for a line, checks the error, prints RESTART and waits, then checks
 * that the same handle recovers. argv[1] is the Redis URL. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ratewarden.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int wait_line(void) {
  char buf[64];
  return fgets(buf, sizeof buf, stdin) != NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  ratewarden_options *o = NULL;
  ratewarden_limiter *lim = NULL;
  if (ratewarden_options_new(&o) != RATEWARDEN_OK) return 1;
  ratewarden_options_set_timeout_ms(o, 300);
  if (ratewarden_limiter_new_with_options(argv[1], o, &lim) != RATEWARDEN_OK) return 1;
  ratewarden_options_free(o);
  bool ok = false;
  if (ratewarden_is_allowed(lim, "faults", "/f", 10, 10, &ok) != RATEWARDEN_OK || !ok) {
    fprintf(stderr, "first call failed: %s\n", ratewarden_last_error());
    return 1;
  }
  printf("KILL\n");
  fflush(stdout);
  if (!wait_line()) return 1;
  for (int i = 0; i < 3; i++) {
    double t0 = now_s();
    ratewarden_result r = ratewarden_is_allowed(lim, "faults", "/f", 10, 10, &ok);
    double took = now_s() - t0;
    if (!(r == RATEWARDEN_CONNECTION || r == RATEWARDEN_TIMEOUT) || took > 1.3) {
      fprintf(stderr, "with Redis down: result %u after %.3fs\n", (unsigned)r, took);
      return 1;
    }
  }
  printf("RESTART\n");
  fflush(stdout);
  if (!wait_line()) return 1;
  double t0 = now_s();
  for (;;) {
    ratewarden_result r = ratewarden_is_allowed(lim, "faults", "/f", 10, 10, &ok);
    if (r == RATEWARDEN_OK) break;
    if (!ratewarden_result_is_retryable(r) || now_s() - t0 > 5.0) {
      fprintf(stderr, "no recovery: %u %s\n", (unsigned)r, ratewarden_last_error());
      return 1;
    }
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  ratewarden_limiter_free(lim);
  printf("DONE recovered after %.3fs\n", now_s() - t0);
  return 0;
}
