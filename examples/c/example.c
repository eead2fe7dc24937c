/* Minimal ratewarden user: five requests against a limit of 3 per second.
 * Build: make (uses pkg-config); run: ./example [URL]   (default memory://) */
#include <stdio.h>

#include <ratewarden.h>

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : "memory://";
  ratewarden_limiter *lim = NULL;
  ratewarden_result r = ratewarden_limiter_new(url, &lim);
  if (r != RATEWARDEN_OK) {
    fprintf(stderr, "%s: %s\n", ratewarden_result_message(r), ratewarden_last_error());
    return 1;
  }
  for (int i = 1; i <= 5; i++) {
    ratewarden_decision d;
    r = ratewarden_check(lim, "example-client", "GET /search", 3, 3, 1, &d);
    if (r != RATEWARDEN_OK) {
      fprintf(stderr, "request %d: %s: %s\n", i, ratewarden_result_message(r), ratewarden_last_error());
      ratewarden_limiter_free(lim);
      return 1;
    }
    if (d.allowed)
      printf("request %d: 200 OK (remaining %llu)\n", i, (unsigned long long)d.remaining);
    else
      printf("request %d: 429 Too Many Requests, Retry-After: %llu\n", i,
             (unsigned long long)((d.retry_after_us + 999999) / 1000000));
  }
  ratewarden_limiter_free(lim);
  return 0;
}
