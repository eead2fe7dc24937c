/* The C ABI against a real backend: argv[1] is the URL (memory:// or redis://),
 * argv[2] a URL where nothing listens. Exit 0 when every check passed. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ratewarden.h"

static int failures = 0;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__,  \
              __LINE__, #cond,                                                 \
              ratewarden_last_error() ? ratewarden_last_error() : "none");     \
      failures++;                                                              \
    }                                                                          \
  } while (0)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct worker {
  ratewarden_limiter *lim;
  const char *client;
  int calls;
  int admitted;
  int errors;
};

static void *hammer(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < w->calls; i++) {
    bool ok = false;
    if (ratewarden_is_allowed(w->lim, w->client, "/c-exact", 100, 1, &ok) != RATEWARDEN_OK)
      w->errors++;
    else if (ok)
      w->admitted++;
  }
  return NULL;
}

static void test_codes_and_version(void) {
  CHECK(strcmp(ratewarden_version(), RATEWARDEN_VERSION) == 0);
  uint32_t codes[] = {0, 1, 2, 3, 4, 5, 6, 7, 100, 101, 102};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    const char *m = ratewarden_result_message(codes[i]);
    CHECK(m != NULL && strlen(m) > 0);
    CHECK(strcmp(m, ratewarden_result_message(9999)) != 0);
  }
  CHECK(ratewarden_result_is_retryable(RATEWARDEN_TIMEOUT));
  CHECK(ratewarden_result_is_retryable(RATEWARDEN_CONNECTION));
  CHECK(!ratewarden_result_is_retryable(RATEWARDEN_INVALID_ARGUMENT));
}

static void test_constructor_errors(const char *url, const char *run) {
  ratewarden_limiter *sentinel = (ratewarden_limiter *)(uintptr_t)0x1234;
  ratewarden_limiter *l = sentinel;
  CHECK(ratewarden_limiter_new(NULL, &l) == RATEWARDEN_NULL_PARAMETER && l == sentinel);
  CHECK(ratewarden_last_error() != NULL);
  CHECK(ratewarden_limiter_new(url, NULL) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_limiter_new("\xff\xfe://x", &l) == RATEWARDEN_INVALID_UTF8 && l == sentinel);
  CHECK(ratewarden_limiter_new("http://example", &l) == RATEWARDEN_CONFIG && l == sentinel);
  CHECK(ratewarden_limiter_new("", &l) == RATEWARDEN_CONFIG && l == sentinel);
  ratewarden_limiter_free(NULL);
  ratewarden_options_free(NULL);

  ratewarden_options *o = NULL;
  CHECK(ratewarden_options_new(NULL) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_options_new(&o) == RATEWARDEN_OK && o != NULL);
  CHECK(ratewarden_options_set_timeout_ms(NULL, 10) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_options_set_timeout_ms(o, 0) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_options_set_max_in_flight(o, 0) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_options_set_key_prefix(o, NULL) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_options_set_key_prefix(o, "\xc3\x28") == RATEWARDEN_INVALID_UTF8);
  CHECK(ratewarden_options_set_tls_root_cert_pem(o, NULL, 3) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_options_set_tls_client_cert_pem(o, NULL, 3) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_options_set_tls_client_key_pem(NULL, (const uint8_t *)"k", 1) == RATEWARDEN_NULL_PARAMETER);
  {
    /* A client certificate needs its key, and TLS material a rediss:// URL. */
    ratewarden_options *t = NULL;
    CHECK(ratewarden_options_new(&t) == RATEWARDEN_OK);
    CHECK(ratewarden_options_set_tls_client_cert_pem(t, (const uint8_t *)"cert", 4) == RATEWARDEN_OK);
    CHECK(ratewarden_limiter_new_with_options("rediss://127.0.0.1:1", t, &l) == RATEWARDEN_CONFIG && l == sentinel);
    CHECK(ratewarden_last_error() != NULL && strstr(ratewarden_last_error(), "key") != NULL);
    CHECK(ratewarden_options_set_tls_client_key_pem(t, (const uint8_t *)"key", 3) == RATEWARDEN_OK);
    CHECK(ratewarden_limiter_new_with_options("redis://127.0.0.1:1", t, &l) == RATEWARDEN_CONFIG && l == sentinel);
    ratewarden_options_free(t);
  }
  /* Every option is checked by the core when set (and again when the limiter is made). */
  CHECK(ratewarden_options_set_key_prefix(o, "{bad}") == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(l == sentinel);
  CHECK(ratewarden_options_set_key_prefix(o, "ctest:") == RATEWARDEN_OK);
  CHECK(ratewarden_options_set_timeout_ms(o, 5000) == RATEWARDEN_OK); /* generous: valgrind runs this too */
  CHECK(ratewarden_options_set_max_in_flight(o, 64) == RATEWARDEN_OK);
  CHECK(ratewarden_limiter_new_with_options(url, o, &l) == RATEWARDEN_OK && l != sentinel);
  ratewarden_options_free(o); /* the limiter keeps its own copy */
  bool ok = false;
  CHECK(ratewarden_is_allowed(l, run, "/opts", 1, 1, &ok) == RATEWARDEN_OK && ok);
  CHECK(ratewarden_last_error() == NULL);
  ratewarden_limiter_free(l);
}

static void test_call_errors(ratewarden_limiter *lim, const char *run) {
  bool ok;
  unsigned char pattern[sizeof(ratewarden_decision)];
  ratewarden_decision d;
  memset(pattern, 0xAB, sizeof pattern);
  memset(&d, 0xAB, sizeof d);
  memset(&ok, 0x5A, sizeof ok);
  unsigned char okpattern = 0x5A;

  CHECK(ratewarden_is_allowed(NULL, "c", "/e", 1, 1, &ok) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_is_allowed(lim, NULL, "/e", 1, 1, &ok) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_is_allowed(lim, "c", NULL, 1, 1, &ok) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_is_allowed(lim, "c", "/e", 1, 1, NULL) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_is_allowed(lim, "\xff", "/e", 1, 1, &ok) == RATEWARDEN_INVALID_UTF8);
  CHECK(ratewarden_is_allowed(lim, "c", "/\xe2\x82", 1, 1, &ok) == RATEWARDEN_INVALID_UTF8);
  CHECK(ratewarden_is_allowed(lim, "", "/e", 1, 1, &ok) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_is_allowed(lim, "c", "/e", 0, 1, &ok) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_is_allowed(lim, "c", "/e", 1, 0, &ok) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_is_allowed(lim, "c", "/e", UINT64_MAX, 1, &ok) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(memcmp(&ok, &okpattern, 1) == 0); /* untouched on every failure */

  char big[514];
  memset(big, 'x', 513);
  big[513] = 0;
  CHECK(ratewarden_check(lim, big, "/e", 1, 1, 1, &d) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_check(lim, "c", big, 1, 1, 1, &d) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_check(lim, "c", "/e", 5, 1, 0, &d) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_check(lim, "c", "/e", 5, 1, 6, &d) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_check(NULL, "c", "/e", 5, 1, 1, &d) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_check(lim, "c", "/e", 5, 1, 1, NULL) == RATEWARDEN_NULL_PARAMETER);
  CHECK(memcmp(&d, pattern, sizeof d) == 0);
  CHECK(ratewarden_last_error() != NULL);
  CHECK(ratewarden_ping(NULL) == RATEWARDEN_NULL_PARAMETER);
  big[512] = 0; /* exactly 512 bytes is fine */
  memcpy(big, run, strlen(run)); /* unique per run */
  CHECK(ratewarden_is_allowed(lim, big, big, 1, 1, &ok) == RATEWARDEN_OK && ok);
}

static void test_decisions(ratewarden_limiter *lim, const char *run) {
  char client[64];
  snprintf(client, sizeof client, "dec-%s", run);
  ratewarden_decision d;
  CHECK(ratewarden_ping(lim) == RATEWARDEN_OK);
  CHECK(ratewarden_check(lim, client, "/d", 5, 1, 3, &d) == RATEWARDEN_OK);
  CHECK(d.allowed && d.limit == 5 && d.remaining == 2 && d.retry_after_us == 0);
  CHECK(d.reset_after_us > 4000000 && d.reset_after_us <= 5000000);
  CHECK(ratewarden_check(lim, client, "/d", 5, 1, 3, &d) == RATEWARDEN_OK);
  CHECK(!d.allowed && d.remaining == 2 && d.retry_after_us > 4000000 && d.retry_after_us <= 5000000);
  /* Injective keys: "a:b"+"c" and "a"+"b:c" are different limits. */
  bool ok1 = false, ok2 = false;
  char a[80], ab[80];
  snprintf(a, sizeof a, "%s-a", run);
  snprintf(ab, sizeof ab, "%s-a:b", run);
  CHECK(ratewarden_is_allowed(lim, ab, "c", 1, 1, &ok1) == RATEWARDEN_OK && ok1);
  CHECK(ratewarden_is_allowed(lim, a, "b:c", 1, 1, &ok2) == RATEWARDEN_OK && ok2);
}

static void test_quotas_and_operations(ratewarden_limiter *lim, const char *run) {
  char client[64];
  snprintf(client, sizeof client, "quota-%s", run);
  ratewarden_decision d, pattern;
  memset(&pattern, 0xab, sizeof pattern);

  /* Notation and the struct. */
  ratewarden_quota q, qp;
  memset(&qp, 0xab, sizeof qp);
  CHECK(ratewarden_quota_parse("5/minute", &q) == RATEWARDEN_OK);
  CHECK(q.capacity == 5 && q.period_us == 60000000ULL);
  CHECK(ratewarden_quota_parse("10 per second", &q) == RATEWARDEN_OK && q.capacity == 10 && q.period_us == 1000000);
  CHECK(ratewarden_quota_parse("5/15 minutes", &q) == RATEWARDEN_OK && q.period_us == 900000000ULL);
  static const char *bad[] = {"0/minute", "10/fortnight", "-1/s", "1e99/day", "", "5/", "/minute", "1/s;2/h"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ratewarden_quota untouched = qp;
    CHECK(ratewarden_quota_parse(bad[i], &untouched) == RATEWARDEN_INVALID_ARGUMENT);
    CHECK(memcmp(&untouched, &qp, sizeof qp) == 0);
    CHECK(ratewarden_last_error() != NULL);
    ratewarden_decision dd = pattern;
    CHECK(ratewarden_check_quota(lim, client, "/bad", bad[i], 1, &dd) == RATEWARDEN_INVALID_ARGUMENT ||
          strchr(bad[i], ';') != NULL);
  }
  CHECK(ratewarden_quota_parse("10/fortnight", &q) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(strstr(ratewarden_last_error(), "fortnight") != NULL);
  CHECK(ratewarden_quota_parse(NULL, &q) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_quota_parse("5/minute", NULL) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_quota_parse("\xff/minute", &q) == RATEWARDEN_INVALID_UTF8);
  CHECK(ratewarden_check_quota(lim, client, "/e", NULL, 1, &d) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_check_quota_of(lim, client, "/e", NULL, 1, &d) == RATEWARDEN_NULL_PARAMETER);

  /* "5/minute": 5 admitted, the 6th refused for about a minute; the struct
   * form is the same limit. */
  for (int i = 0; i < 5; i++) {
    CHECK(ratewarden_check_quota(lim, client, "/login", "5/minute", 1, &d) == RATEWARDEN_OK);
    CHECK(d.allowed && d.limit == 5 && d.remaining == (uint64_t)(4 - i));
  }
  ratewarden_quota five = {5, 60000000ULL};
  CHECK(ratewarden_check_quota_of(lim, client, "/login", &five, 1, &d) == RATEWARDEN_OK);
  CHECK(!d.allowed && d.limit == 5 && d.retry_after_us > 59000000ULL && d.retry_after_us <= 60000000ULL);

  /* peek counts nothing; refund gives one back; block; reset. */
  for (int i = 0; i < 1000; i++) {
    CHECK(ratewarden_peek(lim, client, "/peek", "3/hour", &d) == RATEWARDEN_OK);
  }
  CHECK(d.allowed && d.remaining == 2);
  int admitted = 0;
  for (int i = 0; i < 6; i++) {
    CHECK(ratewarden_check_quota(lim, client, "/peek", "3/hour", 1, &d) == RATEWARDEN_OK);
    admitted += d.allowed;
  }
  CHECK(admitted == 3);
  CHECK(ratewarden_refund(lim, client, "/peek", "3/hour", 1, &d) == RATEWARDEN_OK && d.allowed);
  CHECK(ratewarden_check_quota(lim, client, "/peek", "3/hour", 1, &d) == RATEWARDEN_OK && d.allowed);
  CHECK(ratewarden_check_quota(lim, client, "/peek", "3/hour", 1, &d) == RATEWARDEN_OK && !d.allowed);
  CHECK(ratewarden_refund(lim, client, "/peek", "3/hour", 0, NULL) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_refund(lim, client, "/peek", "3/hour", 4, NULL) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_block(lim, client, "/b", "50/second", 0, NULL) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_block(lim, client, "/b", "50/second", UINT64_MAX, NULL) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_block(lim, client, "/b", "50/second", 300, &d) == RATEWARDEN_OK);
  CHECK(!d.allowed && d.retry_after_us == 300000);
  CHECK(ratewarden_check_quota(lim, client, "/b", "50/second", 1, &d) == RATEWARDEN_OK && !d.allowed);
  struct timespec pause = {0, (long)(d.retry_after_us + 20000) * 1000L};
  nanosleep(&pause, NULL);
  CHECK(ratewarden_check_quota(lim, client, "/b", "50/second", 1, &d) == RATEWARDEN_OK && d.allowed);
  CHECK(ratewarden_reset(lim, client, "/login") == RATEWARDEN_OK);
  CHECK(ratewarden_check_quota(lim, client, "/login", "5/minute", 1, &d) == RATEWARDEN_OK && d.allowed &&
        d.remaining == 4);
  CHECK(ratewarden_reset(lim, NULL, "/login") == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_reset(lim, "", "/login") == RATEWARDEN_INVALID_ARGUMENT);

  /* Several quotas, all or nothing; a policy of several. */
  for (int i = 0; i < 2; i++) {
    CHECK(ratewarden_check_quota(lim, client, "/m", "2/second;3/hour", 1, &d) == RATEWARDEN_OK && d.allowed);
  }
  CHECK(ratewarden_check_quota(lim, client, "/m", "2/second;3/hour", 1, &d) == RATEWARDEN_OK && !d.allowed);
  CHECK(ratewarden_set_policy_quota(lim, "/quota-policy", "5/minute;20/hour", NULL) == RATEWARDEN_OK);
  CHECK(ratewarden_set_policy_quota(lim, "/quota-policy", "5/fortnight", NULL) == RATEWARDEN_INVALID_ARGUMENT);
}

static void test_algorithms_and_multi(const char *url, ratewarden_limiter *lim, const char *run) {
  static const char *names[] = {"sliding_window_log", "sliding_window_counter", "fixed_window",
                                "token_bucket", "gcra", "leaky_bucket"};
  char client[96];
  ratewarden_decision d, pattern;
  memset(&pattern, 0xab, sizeof pattern);
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(client, sizeof client, "alg-%s-%zu", run, i);
    /* capacity 3, 100 s to refill one: exactly 3 pass, then a wait. */
    for (int k = 0; k < 3; k++) {
      CHECK(ratewarden_check_with_algorithm(lim, client, "/alg", 3, 1, 1, names[i], &d) == RATEWARDEN_OK);
      CHECK(d.allowed && d.remaining == (uint64_t)(2 - k));
    }
    CHECK(ratewarden_check_with_algorithm(lim, client, "/alg", 3, 1, 1, names[i], &d) == RATEWARDEN_OK);
    CHECK(!d.allowed && d.retry_after_us > 0);
  }
  /* Bad names, and outputs untouched on failure. */
  d = pattern;
  CHECK(ratewarden_check_with_algorithm(lim, "c", "/e", 1, 1, 1, "leaky", &d) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_check_with_algorithm(lim, "c", "/e", 1, 1, 1, "\xff", &d) == RATEWARDEN_INVALID_UTF8);
  CHECK(memcmp(&d, &pattern, sizeof d) == 0);
  /* NULL algorithm: the limiter's (here set through the options). */
  ratewarden_options *o = NULL;
  ratewarden_limiter *g = NULL;
  CHECK(ratewarden_options_new(&o) == RATEWARDEN_OK);
  CHECK(ratewarden_options_set_algorithm(o, "nope") == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_options_set_algorithm(o, NULL) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_options_set_algorithm(o, "gcra") == RATEWARDEN_OK);
  CHECK(ratewarden_limiter_new_with_options(url, o, &g) == RATEWARDEN_OK);
  ratewarden_options_free(o);
  snprintf(client, sizeof client, "alg-default-%s", run);
  CHECK(ratewarden_check_with_algorithm(g, client, "/g", 2, 1, 2, NULL, &d) == RATEWARDEN_OK && d.allowed);
  /* The same scope with GCRA named explicitly shares that state. */
  CHECK(ratewarden_check_with_algorithm(g, client, "/g", 2, 1, 1, "gcra", &d) == RATEWARDEN_OK && !d.allowed);
  ratewarden_limiter_free(g);

  /* Multi-limit: 5 per endpoint and 2 overall; all or nothing. */
  snprintf(client, sizeof client, "multi-%s", run);
  ratewarden_limit limits[2] = {
      {.api_endpoint = "/m", .capacity = 5, .rate_per_second = 1, .cost = 1, .algorithm = NULL},
      {.api_endpoint = "*", .capacity = 2, .rate_per_second = 1, .cost = 1, .algorithm = "token_bucket"},
  };
  ratewarden_decision ds[2];
  bool allowed = false;
  size_t which = 99;
  CHECK(ratewarden_check_all(lim, client, limits, 2, &allowed, ds, &which) == RATEWARDEN_OK && allowed);
  CHECK(ratewarden_check_all(lim, client, limits, 2, &allowed, ds, NULL) == RATEWARDEN_OK && allowed);
  CHECK(ratewarden_check_all(lim, client, limits, 2, &allowed, ds, &which) == RATEWARDEN_OK && !allowed);
  CHECK(which == 1 && ds[0].allowed && !ds[1].allowed && ds[0].remaining == 3);
  /* Nothing was spent on "/m" by the refusal: 3 remain. */
  CHECK(ratewarden_check(lim, client, "/m", 5, 1, 1, &d) == RATEWARDEN_OK && d.allowed && d.remaining == 2);
  /* Bad multi input. */
  CHECK(ratewarden_check_all(lim, client, NULL, 2, &allowed, ds, &which) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_check_all(lim, client, limits, 0, &allowed, ds, &which) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_check_all(lim, client, limits, 2, NULL, ds, &which) == RATEWARDEN_NULL_PARAMETER);
  ratewarden_limit bad = limits[0];
  bad.api_endpoint = NULL;
  CHECK(ratewarden_check_all(lim, client, &bad, 1, &allowed, ds, &which) == RATEWARDEN_NULL_PARAMETER);
  bad.api_endpoint = "/m";
  bad.algorithm = "nope";
  CHECK(ratewarden_check_all(lim, client, &bad, 1, &allowed, ds, &which) == RATEWARDEN_INVALID_ARGUMENT);
  ratewarden_limit twice[2] = {limits[0], limits[0]};
  CHECK(ratewarden_check_all(lim, client, twice, 2, &allowed, ds, &which) == RATEWARDEN_INVALID_ARGUMENT);
}

static void test_policies(ratewarden_limiter *lim, const char *run) {
  char name[96], client[96];
  snprintf(name, sizeof name, "/pol-%s", run);
  snprintf(client, sizeof client, "pol-%s", run);
  ratewarden_decision d;
  CHECK(ratewarden_set_policy(lim, name, 2, 1, "token_bucket") == RATEWARDEN_OK);
  CHECK(ratewarden_check_policy(lim, client, name, 1, &d) == RATEWARDEN_OK && d.allowed && d.limit == 2);
  CHECK(ratewarden_check_policy(lim, client, name, 1, &d) == RATEWARDEN_OK && d.allowed);
  CHECK(ratewarden_check_policy(lim, client, name, 1, &d) == RATEWARDEN_OK && !d.allowed);
  CHECK(ratewarden_set_policy(lim, name, 0, 1, NULL) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_set_policy(lim, name, 1, 1, "nope") == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_set_policy(lim, NULL, 1, 1, NULL) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_check_policy(lim, client, NULL, 1, &d) == RATEWARDEN_NULL_PARAMETER);
  /* The listing holds the policy just stored, with its numbers. */
  ratewarden_policy_list *list = NULL;
  CHECK(ratewarden_policies(lim, &list) == RATEWARDEN_OK && list != NULL);
  int found = 0;
  for (size_t i = 0; i < ratewarden_policy_list_len(list); i++) {
    const ratewarden_policy *p = ratewarden_policy_list_get(list, i);
    if (p && strcmp(p->name, name) == 0)
      found = p->capacity == 2 && p->rate_per_second == 1 && p->algorithm && strcmp(p->algorithm, "token_bucket") == 0;
  }
  CHECK(found);
  CHECK(ratewarden_policy_list_get(list, ratewarden_policy_list_len(list)) == NULL);
  ratewarden_policy_list_free(list);
  ratewarden_policy_list_free(NULL);
  CHECK(ratewarden_policies(lim, NULL) == RATEWARDEN_NULL_PARAMETER);
  uint64_t cap = 0, rate = 0;
  const char *alg = NULL;
  CHECK(ratewarden_resolved_policy(lim, name, &cap, &rate, &alg) == RATEWARDEN_OK);
  CHECK(cap == 2 && rate == 1 && alg && strcmp(alg, "token_bucket") == 0);
  CHECK(ratewarden_resolved_policy(lim, name, NULL, &rate, &alg) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_delete_policy(lim, name) == RATEWARDEN_OK);
  CHECK(ratewarden_policies(lim, &list) == RATEWARDEN_OK);
  for (size_t i = 0; i < ratewarden_policy_list_len(list); i++)
    CHECK(strcmp(ratewarden_policy_list_get(list, i)->name, name) != 0);
  ratewarden_policy_list_free(list);
}

struct answer {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls;
  ratewarden_result result;
  ratewarden_decision d;
  bool allowed;
  size_t n, limiting;
  char message[256];
};

static void on_check(void *ud, ratewarden_result r, const ratewarden_decision *d, const char *message) {
  struct answer *a = ud;
  pthread_mutex_lock(&a->mu);
  a->calls++;
  a->result = r;
  if (d) a->d = *d;
  snprintf(a->message, sizeof a->message, "%s", message ? message : "");
  pthread_cond_signal(&a->cv);
  pthread_mutex_unlock(&a->mu);
}

static void on_check_all(void *ud, ratewarden_result r, bool allowed, const ratewarden_decision *ds, size_t n,
                         size_t limiting, const char *message) {
  struct answer *a = ud;
  pthread_mutex_lock(&a->mu);
  a->calls++;
  a->result = r;
  a->allowed = allowed;
  a->n = n;
  a->limiting = limiting;
  if (ds && n > 0) a->d = ds[n - 1];
  snprintf(a->message, sizeof a->message, "%s", message ? message : "");
  pthread_cond_signal(&a->cv);
  pthread_mutex_unlock(&a->mu);
}

static void wait_answer(struct answer *a, int calls) {
  pthread_mutex_lock(&a->mu);
  while (a->calls < calls) pthread_cond_wait(&a->cv, &a->mu);
  pthread_mutex_unlock(&a->mu);
}

static void test_async_and_inspection(ratewarden_limiter *lim, const char *url, const char *run) {
  char client[64];
  snprintf(client, sizeof client, "async-%s", run);
  struct answer a;
  memset(&a, 0, sizeof a);
  pthread_mutex_init(&a.mu, NULL);
  pthread_cond_init(&a.cv, NULL);
  CHECK(ratewarden_check_async(lim, client, "/a", 2, 1, 2, NULL, on_check, &a) == RATEWARDEN_OK);
  wait_answer(&a, 1);
  CHECK(a.result == RATEWARDEN_OK && a.d.allowed && a.d.remaining == 0);
  CHECK(ratewarden_check_async(lim, client, "/a", 2, 1, 1, "sliding_window_log", on_check, &a) == RATEWARDEN_OK);
  wait_answer(&a, 2);
  CHECK(a.result == RATEWARDEN_OK && !a.d.allowed);
  /* Argument errors come back at once, and the callback is not called. */
  CHECK(ratewarden_check_async(lim, client, "/a", 2, 1, 1, "nope", on_check, &a) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_check_async(lim, client, "/a", 2, 1, 1, NULL, NULL, &a) == RATEWARDEN_NULL_PARAMETER);
  /* Core errors (cost above capacity) reach the callback with their code. */
  CHECK(ratewarden_check_async(lim, client, "/a", 2, 1, 3, NULL, on_check, &a) == RATEWARDEN_OK);
  wait_answer(&a, 3);
  CHECK(a.result == RATEWARDEN_INVALID_ARGUMENT && strstr(a.message, "exceeds capacity") != NULL);
  ratewarden_limit limits[2] = {
      {.api_endpoint = "/b", .capacity = 3, .rate_per_second = 1, .cost = 1, .algorithm = NULL},
      {.api_endpoint = "*", .capacity = 1, .rate_per_second = 1, .cost = 1, .algorithm = "gcra"},
  };
  CHECK(ratewarden_check_all_async(lim, client, limits, 2, on_check_all, &a) == RATEWARDEN_OK);
  wait_answer(&a, 4);
  CHECK(a.result == RATEWARDEN_OK && a.allowed && a.n == 2 && a.limiting == 1);
  CHECK(ratewarden_check_all_async(lim, client, limits, 2, on_check_all, &a) == RATEWARDEN_OK);
  wait_answer(&a, 5);
  CHECK(a.result == RATEWARDEN_OK && !a.allowed && a.limiting == 1);
  CHECK(ratewarden_check_all_async(lim, client, limits, 0, on_check_all, &a) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(a.calls == 5);

  /* The getters. */
  CHECK(strcmp(ratewarden_limiter_algorithm(lim), "sliding_window_log") == 0);
  CHECK(strcmp(ratewarden_limiter_failure_mode(lim), "error") == 0);
  CHECK(ratewarden_limiter_timeout_ms(lim) == 1000);
  CHECK(ratewarden_limiter_algorithm(NULL) == NULL && ratewarden_limiter_timeout_ms(NULL) == 0);
  pthread_mutex_destroy(&a.mu);
  pthread_cond_destroy(&a.cv);
  uint8_t key[1200];
  size_t n = 0;
  ratewarden_result r = ratewarden_redis_key(lim, client, "/a", 2, 1, key, sizeof key, &n);
  if (strncmp(url, "memory://", 9) == 0) {
    CHECK(r == RATEWARDEN_INVALID_ARGUMENT);
  } else {
    CHECK(r == RATEWARDEN_OK && n > 12 && memcmp(key, "ratewarden:{", 12) == 0);
    CHECK(ratewarden_redis_key(lim, client, "/a", 2, 1, key, 5, &n) == RATEWARDEN_INVALID_ARGUMENT);
  }
}

static void test_rendering(void) {
  /* Seconds round up; headers are the core's, byte for byte. */
  ratewarden_decision d = {false, 10, 0, 1500000, 2500001};
  CHECK(ratewarden_decision_retry_after_secs(&d) == 2);
  CHECK(ratewarden_decision_reset_after_secs(&d) == 3);
  CHECK(ratewarden_decision_retry_after_secs(NULL) == 0);
  char h[256];
  size_t n = 0;
  CHECK(ratewarden_decision_headers(&d, "draft-06", h, sizeof h, &n) == RATEWARDEN_OK);
  const char *want;
  want = "RateLimit-Limit: 10\r\nRateLimit-Remaining: 0\r\nRateLimit-Reset: 3\r\nRetry-After: 2\r\n";
  CHECK(n == strlen(want) && strcmp(h, want) == 0);
  CHECK(ratewarden_decision_headers(&d, "x-ratelimit", h, sizeof h, &n) == RATEWARDEN_OK);
  CHECK(strncmp(h, "X-RateLimit-Limit: 10\r\n", 23) == 0);
  CHECK(ratewarden_decision_headers(&d, "draft-06", h, 10, &n) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_decision_headers(&d, "draft-99", h, sizeof h, &n) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_decision_headers(NULL, "draft-06", h, sizeof h, &n) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_decision_ietf_headers(&d, "default", 60000, h, sizeof h, &n) == RATEWARDEN_OK);
  want = "RateLimit-Policy: \"default\";q=10;w=60\r\nRateLimit: \"default\";r=0;t=3\r\nRetry-After: 2\r\n";
  CHECK(n == strlen(want) && strcmp(h, want) == 0);
  CHECK(ratewarden_decision_ietf_headers(&d, "", 60000, h, sizeof h, &n) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_decision_ietf_headers(&d, "default", 60000, h, 8, &n) == RATEWARDEN_INVALID_ARGUMENT);
  d.allowed = true;
  CHECK(ratewarden_decision_headers(&d, "draft-06", h, sizeof h, &n) == RATEWARDEN_OK && strstr(h, "Retry-After") == NULL);
}

static void test_options_by_name(const char *url) {
  ratewarden_options *o = NULL;
  CHECK(ratewarden_options_new(&o) == RATEWARDEN_OK);
  CHECK(ratewarden_options_set(o, "breaker_threshold", "5") == RATEWARDEN_OK);
  CHECK(ratewarden_options_set(o, "timeout_ms", "2500") == RATEWARDEN_OK);
  CHECK(ratewarden_options_set(o, "timeout_ms", "soon") == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_options_set(o, "no_such_option", "1") == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_options_set(o, NULL, "1") == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_options_set_breaker_threshold(o, 0) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_options_set_breaker_threshold(o, 4) == RATEWARDEN_OK);
  CHECK(ratewarden_options_set_breaker_open_for_ms(o, 0) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_options_set_breaker_open_for_ms(o, 250) == RATEWARDEN_OK);
  CHECK(ratewarden_options_set_local_share(o, 2.0) == RATEWARDEN_INVALID_ARGUMENT);
  ratewarden_limiter *l = NULL;
  CHECK(ratewarden_limiter_new_with_options(url, o, &l) == RATEWARDEN_OK && l != NULL);
  ratewarden_limiter_free(l);
  ratewarden_options_free(o);
}

static void test_exact_with_threads(const char *url, ratewarden_limiter *shared, const char *run) {
  /* 8 threads sharing one handle; a 100 s window so nothing refills. */
  char client1[64], client2[64];
  snprintf(client1, sizeof client1, "one-handle-%s", run);
  snprintf(client2, sizeof client2, "four-handles-%s", run);
  pthread_t th[8];
  struct worker w[8];
  int admitted = 0, errors = 0;
  for (int i = 0; i < 8; i++) {
    w[i] = (struct worker){shared, client1, 30, 0, 0};
    CHECK(pthread_create(&th[i], NULL, hammer, &w[i]) == 0);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    admitted += w[i].admitted;
    errors += w[i].errors;
  }
  CHECK(errors == 0);
  CHECK(admitted == 100);
  if (admitted != 100) fprintf(stderr, "one handle: %d admitted\n", admitted);

  /* 4 handles (4 connections), 2 threads each, one key. */
  ratewarden_limiter *lims[4];
  for (int i = 0; i < 4; i++) CHECK(ratewarden_limiter_new(url, &lims[i]) == RATEWARDEN_OK);
  admitted = errors = 0;
  for (int i = 0; i < 8; i++) {
    w[i] = (struct worker){lims[i / 2], client2, 30, 0, 0};
    CHECK(pthread_create(&th[i], NULL, hammer, &w[i]) == 0);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    admitted += w[i].admitted;
    errors += w[i].errors;
  }
  CHECK(errors == 0);
  CHECK(admitted == 100);
  if (admitted != 100) fprintf(stderr, "four handles: %d admitted\n", admitted);
  for (int i = 0; i < 4; i++) ratewarden_limiter_free(lims[i]);
}

static void test_failure_modes(const char *down_url) {
  ratewarden_options *o = NULL;
  ratewarden_limiter *l = NULL;
  ratewarden_stats st;
  ratewarden_decision d;
  CHECK(ratewarden_options_new(&o) == RATEWARDEN_OK);
  CHECK(ratewarden_options_set_failure_mode(o, "sometimes") == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_options_set_failure_mode(o, NULL) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_options_set_local_share(o, 1.5) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_options_set_local_share(o, 0.5) == RATEWARDEN_OK);
  CHECK(ratewarden_options_set_failure_mode(o, "local") == RATEWARDEN_OK);
  CHECK(ratewarden_options_set_timeout_ms(o, 200) == RATEWARDEN_OK);
  CHECK(ratewarden_limiter_new_with_options(down_url, o, &l) == RATEWARDEN_OK);
  ratewarden_options_free(o);
  /* Redis is down: the local limiter answers with half of capacity 4. */
  int admitted = 0;
  for (int i = 0; i < 6; i++) {
    CHECK(ratewarden_check(l, "c", "/down", 4, 1, 1, &d) == RATEWARDEN_OK);
    admitted += d.allowed;
  }
  CHECK(admitted == 2);
  CHECK(ratewarden_get_stats(l, &st) == RATEWARDEN_OK && st.fallbacks == 6 && st.allowed == 2 && st.denied == 4);
  CHECK(ratewarden_get_stats(NULL, &st) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_get_stats(l, NULL) == RATEWARDEN_NULL_PARAMETER);
  ratewarden_limiter_free(l);
}

/* The web verdict: the same header bytes as the Python and Node middleware
 * (tests/cross compares those three against each other). */
static void test_http(ratewarden_limiter *lim, const char *down_url, const char *run) {
  char key[64], h[2048], small[8];
  size_t n = 0;
  ratewarden_verdict v;
  CHECK(ratewarden_client_key("10.0.0.2", "6.6.6.6, 198.51.100.9, 10.0.0.1", "10.0.0.0/8", NULL, 64, key, sizeof key, &n) ==
        RATEWARDEN_OK);
  CHECK(strcmp(key, "198.51.100.9") == 0 && n == strlen(key));
  CHECK(ratewarden_client_key("192.0.2.1", "6.6.6.6", "10.0.0.0/8", NULL, 64, key, sizeof key, &n) == RATEWARDEN_OK);
  CHECK(strcmp(key, "192.0.2.1") == 0); /* an untrusted peer's header is ignored */
  CHECK(ratewarden_client_key("2001:db8:1:2::7", NULL, NULL, NULL, 64, key, sizeof key, &n) == RATEWARDEN_OK);
  CHECK(strcmp(key, "2001:db8:1:2::/64") == 0);
  CHECK(ratewarden_client_key("::1", "for=\"[2001:db8::5]:80\"", "loopback", "forwarded", 48, key, sizeof key, &n) ==
        RATEWARDEN_OK);
  CHECK(strcmp(key, "2001:db8::/48") == 0);
  CHECK(ratewarden_client_key("1.2.3.4", NULL, "10.0.0.0/33", NULL, 64, key, sizeof key, &n) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_client_key("1.2.3.4", NULL, NULL, "via", 64, key, sizeof key, &n) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_client_key("1.2.3.4", NULL, NULL, NULL, 8, key, sizeof key, &n) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_client_key("1.2.3.4", NULL, NULL, NULL, 64, small, 4, &n) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_client_key(NULL, NULL, NULL, NULL, 64, key, sizeof key, &n) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_client_key("1.2.3.4", NULL, NULL, NULL, 64, NULL, 64, &n) == RATEWARDEN_NULL_PARAMETER);

  char client[64];
  snprintf(client, sizeof client, "http-%s", run);
  for (int i = 0; i < 3; i++) {
    CHECK(ratewarden_check_http(lim, client, "/login", "3/minute", NULL, 1, &v, h, sizeof h, &n) == RATEWARDEN_OK);
    char expect[256];
    snprintf(expect, sizeof expect,
             "RateLimit-Policy: \"3/minute\";q=3;w=60\r\nRateLimit: \"3/minute\";r=%d;t=60\r\n", 2 - i);
    CHECK(v.allowed && v.status == 200 && strcmp(h, expect) == 0 && n == strlen(expect) && v.body[0] == 0);
    CHECK(v.fallback == RATEWARDEN_FALLBACK_NONE);
  }
  CHECK(ratewarden_check_http(lim, client, "/login", "3/minute", "draft-11,draft-06", 1, &v, h, sizeof h, &n) ==
        RATEWARDEN_OK);
  CHECK(!v.allowed && v.status == 429 && v.retry_after_us > 59000000ULL);
  CHECK(strstr(h, "RateLimit-Remaining: 0\r\n") != NULL && strstr(h, "Retry-After: 60\r\n") != NULL);
  CHECK(strcmp(v.body, "{\"error\":\"rate_limited\",\"retry_after\":60}") == 0);
  CHECK(ratewarden_check_http(lim, client, "/multi", "1/second;5/minute", "none", 1, &v, h, sizeof h, &n) == RATEWARDEN_OK);
  CHECK(v.allowed && n == 0 && h[0] == 0);
  CHECK(ratewarden_check_http(lim, client, "/x", "5/fortnight", NULL, 1, &v, h, sizeof h, &n) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(strstr(ratewarden_last_error(), "fortnight") != NULL);
  CHECK(ratewarden_check_http(lim, client, "/x", "5/minute", "draft-12", 1, &v, h, sizeof h, &n) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_check_http(lim, client, "/x", "5/minute", NULL, 1, &v, small, sizeof small, &n) == RATEWARDEN_INVALID_ARGUMENT);
  CHECK(ratewarden_check_http(lim, client, "/x", "5/minute", NULL, 1, NULL, h, sizeof h, &n) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_check_http(lim, NULL, "/x", "5/minute", NULL, 1, &v, h, sizeof h, &n) == RATEWARDEN_NULL_PARAMETER);
  CHECK(ratewarden_check_http(lim, "\xff", "/x", "5/minute", NULL, 1, &v, h, sizeof h, &n) == RATEWARDEN_INVALID_UTF8);

  /* Redis away under "deny": 503, the policy and Retry-After, no counts. */
  ratewarden_options *o = NULL;
  ratewarden_limiter *down = NULL;
  CHECK(ratewarden_options_new(&o) == RATEWARDEN_OK);
  CHECK(ratewarden_options_set_failure_mode(o, "deny") == RATEWARDEN_OK);
  CHECK(ratewarden_options_set_timeout_ms(o, 200) == RATEWARDEN_OK);
  CHECK(ratewarden_limiter_new_with_options(down_url, o, &down) == RATEWARDEN_OK);
  ratewarden_options_free(o);
  CHECK(ratewarden_check_http(down, "c", "/down", "5/minute", NULL, 1, &v, h, sizeof h, &n) == RATEWARDEN_OK);
  CHECK(!v.allowed && v.status == 503 && v.fallback == RATEWARDEN_FALLBACK_DENY);
  CHECK(strncmp(h, "RateLimit-Policy: \"5/minute\";q=5;w=60\r\nRetry-After: ", 52) == 0 && strstr(h, "RateLimit:") == NULL);
  CHECK(strncmp(v.body, "{\"error\":\"rate_limiter_unavailable\",\"retry_after\":", 50) == 0);
  ratewarden_limiter_free(down);
}

static void test_unreachable(const char *down_url) {
  ratewarden_options *o = NULL;
  ratewarden_limiter *l = NULL;
  CHECK(ratewarden_options_new(&o) == RATEWARDEN_OK);
  CHECK(ratewarden_options_set_timeout_ms(o, 300) == RATEWARDEN_OK);
  CHECK(ratewarden_limiter_new_with_options(down_url, o, &l) == RATEWARDEN_OK);
  ratewarden_options_free(o);
  bool ok;
  double t0 = now_s();
  ratewarden_result r = ratewarden_is_allowed(l, "down", "/d", 1, 1, &ok);
  double took = now_s() - t0;
  CHECK(r == RATEWARDEN_CONNECTION || r == RATEWARDEN_TIMEOUT);
  CHECK(ratewarden_result_is_retryable(r));
  CHECK(took < 1.3);
  CHECK(ratewarden_last_error() != NULL);
  ratewarden_limiter_free(l);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s URL DOWN_URL\n", argv[0]);
    return 2;
  }
  char run[32];
  snprintf(run, sizeof run, "%ld-%ld", (long)getpid(), (long)time(NULL));
  test_codes_and_version();
  test_constructor_errors(argv[1], run);
  ratewarden_limiter *lim = NULL;
  CHECK(ratewarden_limiter_new(argv[1], &lim) == RATEWARDEN_OK && lim != NULL);
  if (lim == NULL) return 1;
  test_call_errors(lim, run);
  test_decisions(lim, run);
  test_quotas_and_operations(lim, run);
  test_algorithms_and_multi(argv[1], lim, run);
  test_policies(lim, run);
  test_rendering();
  test_async_and_inspection(lim, argv[1], run);
  test_options_by_name(argv[1]);
  test_exact_with_threads(argv[1], lim, run);
  test_unreachable(argv[2]);
  test_failure_modes(argv[2]);
  test_http(lim, argv[2], run);
  ratewarden_limiter_free(lim);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("test_api: all checks passed on %s\n", argv[1]);
  return 0;
}
