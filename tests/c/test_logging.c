/* The library's log records in C. Driven by ffi-c/tests/c_suite.rs over
 * stdin/stdout; argv[1] is the Redis URL, argv[2] the mode:
 *
 *   callback  a callback at info gets, in order: "connected", the warnings
 *             while Redis is down (KILL ... RESTART; the same one at most
 *             once a second) and the circuit opening (info), "connected"
 *             again; nothing after the limiter is freed; a bad level is
 *             refused; NULL goes back to stderr.
 *   stderr    no callback: RATEWARDEN_LOG (set by the harness) decides what
 *             reaches stderr; one call with Redis up, then KILL, calls.
 *   exit      a callback at debug while a thread keeps failing calls as the
 *             process exits: no record reaches it once exit() has begun. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ratewarden.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pause_ms(long ms) {
  struct timespec p = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&p, NULL);
}

static int wait_line(void) {
  char buf[64];
  return fgets(buf, sizeof buf, stdin) != NULL;
}

static void step(const char *what) {
  printf("%s\n", what);
  fflush(stdout);
}

#define MAX_EVENTS 256
struct event {
  double at;
  ratewarden_log_level level;
  char message[200];
};
static struct event events[MAX_EVENTS];
static int n_events = 0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int tag = 0;

static void on_log(void *user_data, ratewarden_log_level level, const char *target, const char *message) {
  if (user_data != &tag || strncmp(target, "ratewarden", 10) != 0) {
    fprintf(stderr, "bad callback arguments: %p %s\n", user_data, target);
    _exit(4);
  }
  pthread_mutex_lock(&lock);
  if (n_events < MAX_EVENTS) {
    events[n_events].at = now_s();
    events[n_events].level = level;
    snprintf(events[n_events].message, sizeof events[n_events].message, "%s", message);
    n_events++;
  }
  pthread_mutex_unlock(&lock);
}

static ratewarden_limiter *open_limiter(const char *url, unsigned breaker_threshold) {
  ratewarden_options *o = NULL;
  ratewarden_limiter *lim = NULL;
  if (ratewarden_options_new(&o) != RATEWARDEN_OK) exit(1);
  ratewarden_options_set_timeout_ms(o, 300);
  ratewarden_options_set_breaker_threshold(o, breaker_threshold);
  if (ratewarden_limiter_new_with_options(url, o, &lim) != RATEWARDEN_OK) {
    fprintf(stderr, "limiter: %s\n", ratewarden_last_error());
    exit(1);
  }
  ratewarden_options_free(o);
  return lim;
}

static int callback_mode(const char *url) {
  if (ratewarden_set_log_callback(on_log, &tag, 9) != RATEWARDEN_INVALID_ARGUMENT) {
    fprintf(stderr, "level 9 accepted\n");
    return 1;
  }
  if (ratewarden_set_log_callback(on_log, &tag, RATEWARDEN_LOG_INFO) != RATEWARDEN_OK) return 1;
  ratewarden_limiter *lim = open_limiter(url, 3);
  bool ok = false;
  if (ratewarden_is_allowed(lim, "logs", "/l", 1000, 1000, &ok) != RATEWARDEN_OK || !ok) {
    fprintf(stderr, "first call: %s\n", ratewarden_last_error());
    return 1;
  }
  step("KILL");
  if (!wait_line()) return 1;
  double down = now_s();
  while (now_s() - down < 2.5) {
    ratewarden_is_allowed(lim, "logs", "/l", 1000, 1000, &ok);
    pause_ms(20);
  }
  step("RESTART");
  if (!wait_line()) return 1;
  double t0 = now_s();
  while (ratewarden_is_allowed(lim, "logs", "/l", 1000, 1000, &ok) != RATEWARDEN_OK) {
    if (now_s() - t0 > 5.0) {
      fprintf(stderr, "no recovery: %s\n", ratewarden_last_error());
      return 1;
    }
    pause_ms(50);
  }
  ratewarden_limiter_free(lim);
  pause_ms(100);
  pthread_mutex_lock(&lock);
  int at_free = n_events;
  pthread_mutex_unlock(&lock);
  pause_ms(1500);

  pthread_mutex_lock(&lock);
  int failures = 0;
  for (int i = 0; i < n_events; i++)
    fprintf(stderr, "  event %d at +%.3fs level %u: %s\n", i, events[i].at - down, (unsigned)events[i].level,
            events[i].message);
  /* In order: connected (info), then warnings only while Redis was down,
   * at most one a second, then connected again. */
  int first_warn = -1, last_warn = -1, reconnected = -1, warnings = 0;
  for (int i = 0; i < n_events; i++) {
    struct event *e = &events[i];
    if (e->level > RATEWARDEN_LOG_INFO) {
      fprintf(stderr, "event %d above the minimum level\n", i);
      failures++;
    }
    if (e->level == RATEWARDEN_LOG_WARN) {
      if (first_warn < 0) first_warn = i;
      last_warn = i;
      warnings++;
      if (e->at < down) {
        fprintf(stderr, "a warning before Redis went down: %s\n", e->message);
        failures++;
      }
      /* The same warning again: not within the second. */
      for (int j = 0; j < i; j++)
        if (events[j].level == RATEWARDEN_LOG_WARN && strcmp(events[j].message, e->message) == 0 &&
            e->at - events[j].at < 0.9) {
          fprintf(stderr, "warning %d repeats %d after %.3fs\n", i, j, e->at - events[j].at);
          failures++;
        }
    }
    if (e->level == RATEWARDEN_LOG_INFO && strstr(e->message, "connected") && e->at > down) reconnected = i;
  }
  if (n_events == 0 || events[0].level != RATEWARDEN_LOG_INFO || !strstr(events[0].message, "connected")) {
    fprintf(stderr, "the first record is not the connection\n");
    failures++;
  }
  if (warnings < 2 || warnings > 4) {
    fprintf(stderr, "expected 2 to 4 warnings over 2.5 s down (one a second), got %d\n", warnings);
    failures++;
  }
  if (reconnected < 0 || reconnected < last_warn) {
    fprintf(stderr, "no reconnection record after the warnings (%d, last warning %d)\n", reconnected, last_warn);
    failures++;
  }
  if (n_events != at_free) {
    fprintf(stderr, "%d records after the limiter was freed\n", n_events - at_free);
    failures++;
  }
  int total = n_events;
  pthread_mutex_unlock(&lock);
  if (ratewarden_set_log_callback(NULL, NULL, 0) != RATEWARDEN_OK) return 1;
  if (failures) return 1;
  printf("DONE %d records\n", total);
  return 0;
}

static int stderr_mode(const char *url) {
  ratewarden_limiter *lim = open_limiter(url, 3);
  bool ok = false;
  if (ratewarden_is_allowed(lim, "logs", "/s", 1000, 1000, &ok) != RATEWARDEN_OK) return 1;
  step("KILL");
  if (!wait_line()) return 1;
  for (int i = 0; i < 5; i++) ratewarden_is_allowed(lim, "logs", "/s", 1000, 1000, &ok);
  ratewarden_limiter_free(lim);
  printf("DONE\n");
  return 0;
}

static volatile int exiting = 0;
static volatile int before_exit = 0;
static ratewarden_limiter *shared = NULL;

static void on_log_at_exit(void *user_data, ratewarden_log_level level, const char *target, const char *message) {
  (void)user_data;
  (void)level;
  (void)target;
  if (exiting) {
    /* A record after the library was told the process exits. */
    fprintf(stderr, "LATE %s\n", message);
    _exit(3);
  }
  __atomic_add_fetch(&before_exit, 1, __ATOMIC_RELAXED);
}

/* Registered before the library's handler, so it runs after it. */
static void after_library_closed(void) {
  exiting = 1;
  pause_ms(300); /* the caller thread keeps failing calls meanwhile */
}

static void *keep_calling(void *arg) {
  (void)arg;
  bool ok;
  for (;;) {
    ratewarden_is_allowed(shared, "logs", "/x", 1000, 1000, &ok);
    pause_ms(5);
  }
  return NULL;
}

static int exit_mode(const char *url) {
  atexit(after_library_closed);
  if (ratewarden_set_log_callback(on_log_at_exit, NULL, RATEWARDEN_LOG_DEBUG) != RATEWARDEN_OK) return 1;
  /* Redis is down, and the circuit never opens: every call tries, fails
   * and logs (at debug after the first warning). */
  shared = open_limiter(url, 1000);
  pthread_t t;
  pthread_create(&t, NULL, keep_calling, NULL);
  pause_ms(300);
  printf("DONE %d records before exit\n", __atomic_load_n(&before_exit, __ATOMIC_RELAXED));
  fflush(stdout);
  exit(0);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  if (strcmp(argv[2], "callback") == 0) return callback_mode(argv[1]);
  if (strcmp(argv[2], "stderr") == 0) return stderr_mode(argv[1]);
  if (strcmp(argv[2], "exit") == 0) return exit_mode(argv[1]);
  return 2;
}
