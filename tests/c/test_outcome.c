/* ratewarden_last_outcome_unknown(): driven by ffi-c/tests/c_suite.rs over
 * stdin/stdout with a fault proxy between this program and Redis. argv[1]
 * is the proxy's URL, argv[2] a closed port's. The program prints READY
 * after a successful call and waits for a line (the proxy then resets the
 * connection instead of forwarding replies); the next call must fail with
 * its outcome unknown; a refused connection must fail with it known. */
#include <stdio.h>

#include "ratewarden.h"

#define CHECK(cond)                                                                         \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      fprintf(stderr, "line %d: %s (last error: %s)\n", __LINE__, #cond, ratewarden_last_error()); \
      return 1;                                                                             \
    }                                                                                       \
  } while (0)

static ratewarden_limiter *make(const char *url) {
  ratewarden_options *o = NULL;
  ratewarden_limiter *lim = NULL;
  if (ratewarden_options_new(&o) != RATEWARDEN_OK) return NULL;
  ratewarden_options_set_timeout_ms(o, 400);
  if (ratewarden_limiter_new_with_options(url, o, &lim) != RATEWARDEN_OK) lim = NULL;
  ratewarden_options_free(o);
  return lim;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  ratewarden_limiter *lim = make(argv[1]);
  CHECK(lim != NULL);
  bool ok = false;
  CHECK(ratewarden_is_allowed(lim, "outcome", "/o", 10, 10, &ok) == RATEWARDEN_OK && ok);
  CHECK(!ratewarden_last_outcome_unknown());
  printf("READY\n");
  fflush(stdout);
  char line[16];
  CHECK(fgets(line, sizeof line, stdin) != NULL);
  ratewarden_result r = ratewarden_is_allowed(lim, "outcome", "/o", 10, 10, &ok);
  CHECK(r == RATEWARDEN_CONNECTION || r == RATEWARDEN_TIMEOUT);
  CHECK(ratewarden_last_outcome_unknown());
  /* Bad arguments: nothing sent. */
  CHECK(ratewarden_is_allowed(lim, "", "/o", 10, 10, &ok) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(!ratewarden_last_outcome_unknown());
  ratewarden_limiter_free(lim);

  ratewarden_limiter *closed = make(argv[2]);
  CHECK(closed != NULL);
  r = ratewarden_is_allowed(closed, "outcome", "/o", 10, 10, &ok);
  CHECK(r == RATEWARDEN_CONNECTION);
  CHECK(!ratewarden_last_outcome_unknown());
  ratewarden_limiter_free(closed);
  printf("DONE\n");
  return 0;
}
