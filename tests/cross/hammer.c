/* Cross-language test: N checks of QUOTA on (CLIENT, ENDPOINT) through the
 * C ABI; prints how many were admitted. Usage: hammer URL CLIENT ENDPOINT QUOTA N START_UNIX_MS
 * (every process starts its checks at the same moment). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ratewarden.h"

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s URL CLIENT ENDPOINT QUOTA N START_UNIX_MS\n", argv[0]);
    return 2;
  }
  ratewarden_limiter *lim;
  if (ratewarden_limiter_new(argv[1], &lim) != RATEWARDEN_OK) {
    fprintf(stderr, "limiter: %s\n", ratewarden_last_error());
    return 1;
  }
  ratewarden_ping(lim);
  long long start = atoll(argv[6]);
  for (;;) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (ms >= start) break;
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
  }
  int n = atoi(argv[5]), admitted = 0;
  for (int i = 0; i < n; i++) {
    ratewarden_decision d;
    if (ratewarden_check_quota(lim, argv[2], argv[3], argv[4], 1, &d) != RATEWARDEN_OK) {
      fprintf(stderr, "check: %s\n", ratewarden_last_error());
      return 1;
    }
    if (d.limit != 20) return 1;
    admitted += d.allowed;
  }
  ratewarden_limiter_free(lim);
  printf("%d\n", admitted);
  return 0;
}
