/* Per-call cost of the C ABI over calling the Rust core directly, in one
 * process, on memory:// (no I/O): both loops make the same decisions on the
 * same keys. Run with scripts/bench-c.sh. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ratewarden.h"

/* Hidden benchmark helper exported by libratewarden (not in the header). */
uint64_t ratewarden_bench_native_loop(const ratewarden_limiter *lim, const char *const *clients,
                                      size_t n_clients, const char *endpoint, uint64_t iterations,
                                      uint64_t capacity, uint64_t rate_per_second);

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000;
  uint64_t iters = argc > 2 ? (uint64_t)atoll(argv[2]) : 5000000;
  int rounds = 5;
  char **clients = calloc(n, sizeof *clients);
  for (size_t i = 0; i < n; i++) {
    clients[i] = malloc(40);
    snprintf(clients[i], 40, "bench-client-%zu", i);
  }
  ratewarden_limiter *lim = NULL;
  if (ratewarden_limiter_new("memory://c-overhead", &lim) != RATEWARDEN_OK) return 1;
  double best_c = 1e9, best_rust = 1e9;
  for (int r = 0; r < rounds; r++) {
    double t0 = now_s();
    uint64_t allowed_c = 0;
    for (uint64_t i = 0; i < iters; i++) {
      ratewarden_decision d;
      if (ratewarden_check(lim, clients[i % n], "/bench", 100, 100, 1, &d) != RATEWARDEN_OK) return 1;
      allowed_c += d.allowed;
    }
    double c_ns = (now_s() - t0) * 1e9 / (double)iters;
    t0 = now_s();
    uint64_t allowed_rust = ratewarden_bench_native_loop(lim, (const char *const *)clients, n, "/bench",
                                                         iters, 100, 100);
    if (allowed_rust == UINT64_MAX) return 1;
    double rust_ns = (now_s() - t0) * 1e9 / (double)iters;
    if (c_ns < best_c) best_c = c_ns;
    if (rust_ns < best_rust) best_rust = rust_ns;
    printf("round %d: C ABI %.1f ns/decision, Rust core %.1f ns/decision (allowed %llu / %llu)\n", r + 1,
           c_ns, rust_ns, (unsigned long long)allowed_c, (unsigned long long)allowed_rust);
  }
  printf("best of %d: C ABI %.1f ns, Rust core %.1f ns, added by the C path: %.1f ns/decision\n", rounds,
         best_c, best_rust, best_c - best_rust);
  ratewarden_limiter_free(lim);
  return 0;
}
