/* Cross-language test: N checks of QUOTA on (CLIENT, ENDPOINT) through the
 * C ABI; prints how many were admitted. Usage: hammer URL CLIENT ENDPOINT QUOTA N */
#include <stdio.h>
#include <stdlib.h>

#include "ratewarden.h"

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s URL CLIENT ENDPOINT QUOTA N\n", argv[0]);
    return 2;
  }
  ratewarden_limiter *lim;
  if (ratewarden_limiter_new(argv[1], &lim) != RATEWARDEN_OK) {
    fprintf(stderr, "limiter: %s\n", ratewarden_last_error());
    return 1;
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
