/* Decisions per second and client CPU per decision of the C ABI against a
 * Redis: THREADS threads share one limiter, each calling ratewarden_check in
 * a loop (the shape of a threaded C/C++ server), over KEYS distinct clients.
 * Run with scripts/bench-c.sh --url redis://HOST:PORT [THREADS] [SECONDS]. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "ratewarden.h"

#define KEYS 10000

static ratewarden_limiter *lim;
static char clients[KEYS][32];
static atomic_bool stop;
static atomic_ullong total, allowed_total, errors;
static uint64_t capacity = 100000;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void *worker(void *arg) {
  size_t i = (size_t)arg * 7919;
  unsigned long long n = 0, ok = 0, err = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    ratewarden_decision d;
    if (ratewarden_check(lim, clients[i % KEYS], "/bench", capacity, capacity, 1, &d) == RATEWARDEN_OK) {
      ok += d.allowed;
    } else {
      err++;
    }
    n++;
    i += 64;
  }
  atomic_fetch_add(&total, n);
  atomic_fetch_add(&allowed_total, ok);
  atomic_fetch_add(&errors, err);
  return NULL;
}

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : "redis://127.0.0.1:6379";
  int threads = argc > 2 ? atoi(argv[2]) : 64;
  double seconds = argc > 3 ? atof(argv[3]) : 5.0;
  if (argc > 4) capacity = (uint64_t)atoll(argv[4]);
  if (threads < 1 || threads > 1024 || seconds <= 0) {
    fprintf(stderr, "usage: redis URL [THREADS 1..1024] [SECONDS] [CAPACITY]\n");
    return 2;
  }
  for (size_t i = 0; i < KEYS; i++) snprintf(clients[i], sizeof clients[i], "bench-c-%zu", i);
  if (ratewarden_limiter_new(url, &lim) != RATEWARDEN_OK) {
    fprintf(stderr, "limiter: %s\n", ratewarden_last_error());
    return 1;
  }
  if (ratewarden_ping(lim) != RATEWARDEN_OK) {
    fprintf(stderr, "ping: %s\n", ratewarden_last_error());
    return 1;
  }
  pthread_t *t = calloc((size_t)threads, sizeof *t);
  double t0 = now_s(), c0 = cpu_s();
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, (void *)(size_t)i);
  struct timespec sl = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
  nanosleep(&sl, NULL);
  atomic_store(&stop, true);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  double wall = now_s() - t0, cpu = cpu_s() - c0;
  unsigned long long n = atomic_load(&total);
  printf("C ABI on %s: %d threads, capacity = rate = %llu, %d keys: %.0f decisions/s, client CPU %.2f us/decision "
         "(%llu decisions, %.1f%% allowed, %llu errors)\n",
         url, threads, (unsigned long long)capacity, KEYS, n / wall, n ? cpu * 1e6 / (double)n : 0.0, n,
         n ? 100.0 * (double)atomic_load(&allowed_total) / (double)n : 0.0, atomic_load(&errors));
  free(t);
  ratewarden_limiter_free(lim);
  return 0;
}
