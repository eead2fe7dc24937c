/* Built against the unpacked C SDK (tests/packaging/run.sh): the header, the
 * library and the version agree, and the limiter decides on memory:// and on
 * a real Redis. Usage: sdk_check REDIS_URL RUN_ID */
#include <stdio.h>
#include <string.h>

#include <ratewarden.h>

static int decide(const char *url, const char *client) {
  ratewarden_limiter *lim = NULL;
  ratewarden_result r = ratewarden_limiter_new(url, &lim);
  if (r != RATEWARDEN_OK) {
    fprintf(stderr, "%s: %s: %s\n", url, ratewarden_result_message(r), ratewarden_last_error());
    return -1;
  }
  int admitted = 0;
  for (int i = 0; i < 5; i++) {
    ratewarden_decision d;
    r = ratewarden_check_quota(lim, client, "/sdk", "3/minute", 1, &d);
    if (r != RATEWARDEN_OK) {
      fprintf(stderr, "%s: %s: %s\n", url, ratewarden_result_message(r), ratewarden_last_error());
      ratewarden_limiter_free(lim);
      return -1;
    }
    admitted += d.allowed;
  }
  ratewarden_limiter_free(lim);
  return admitted;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s REDIS_URL RUN_ID\n", argv[0]);
    return 2;
  }
  if (strcmp(ratewarden_version(), RATEWARDEN_VERSION) != 0) {
    fprintf(stderr, "library %s, header %s\n", ratewarden_version(), RATEWARDEN_VERSION);
    return 1;
  }
  char client[128];
  snprintf(client, sizeof client, "sdk-c-%s", argv[2]);
  int on_memory = decide("memory://", client), on_redis = decide(argv[1], client);
  printf("sdk_check (C, %s): memory:// admitted %d of 5, Redis admitted %d of 5\n", ratewarden_version(), on_memory,
         on_redis);
  return on_memory == 3 && on_redis == 3 ? 0 : 1;
}
