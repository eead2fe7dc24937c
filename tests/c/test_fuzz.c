/* Random bytes, NULLs, lengths and numbers into every C entry point, on
 * memory:// only. Every call returns one of the documented result codes, no
 * call crashes, and (run under valgrind by ffi-c/tests/c_suite.rs) nothing
 * reads or writes out of bounds or leaks.
 *
 * Usage: test_fuzz ITERATIONS [SEED] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratewarden.h"

static uint64_t state = 0x9e3779b97f4a7c15ull;

static uint64_t next(void) {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545f4914f6cdd1dull;
}

static uint64_t below(uint64_t n) { return n ? next() % n : 0; }

/* Numbers near the edges, or anything. */
static uint64_t number(void) {
  static const uint64_t edges[] = {0, 1, 2, 127, 128, 1000000000ull, 1000000001ull, UINT64_MAX, 1ull << 53, 60000};
  return below(3) ? edges[below(sizeof edges / sizeof edges[0])] : next();
}

#define POOL 8
static char pool[POOL][700];

/* NULL, a valid word, random bytes (invalid UTF-8 too), or a long string. */
static const char *text(int slot) {
  static const char *words[] = {"", "a", "/api", "5/minute", "10/second;1000/hour", "gcra", "draft-11,x-ratelimit",
                                "none", "127.0.0.1", "::1", "10.0.0.0/8", "loopback", "for=1.2.3.4", "timeout_ms",
                                "deny", "local", "0", "-1", "1e300", "\xff\xfe", "\xc3\x28", "é/μs"};
  switch (below(5)) {
  case 0:
    return NULL;
  case 1:
  case 2:
    return words[below(sizeof words / sizeof words[0])];
  default: {
    size_t n = below(4) == 0 ? 500 + below(190) : below(24);
    for (size_t i = 0; i < n; i++) {
      char c = (char)(below(2) ? 32 + below(95) : 1 + below(255));
      pool[slot][i] = c;
    }
    pool[slot][n] = '\0';
    return pool[slot];
  }
  }
}

static int documented(ratewarden_result r) {
  return r == RATEWARDEN_OK || r == RATEWARDEN_INVALID_ARGUMENT || r == RATEWARDEN_CONFIG ||
         r == RATEWARDEN_NULL_PARAMETER || r == RATEWARDEN_INVALID_UTF8;
}

static unsigned long failures = 0, calls = 0;

#define CALL(expr)                                                                                      \
  do {                                                                                                  \
    ratewarden_result r_ = (expr);                                                                      \
    calls++;                                                                                            \
    if (!documented(r_)) {                                                                              \
      failures++;                                                                                       \
      fprintf(stderr, "line %d: %s -> %d (%s)\n", __LINE__, #expr, (int)r_, ratewarden_last_error()); \
    }                                                                                                   \
  } while (0)

int main(int argc, char **argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 2000;
  if (argc > 2) state = strtoull(argv[2], NULL, 10) | 1;
  ratewarden_limiter *lim = NULL;
  if (ratewarden_limiter_new("memory://c-fuzz", &lim) != RATEWARDEN_OK) return 1;
  char buf[4096];
  for (long it = 0; it < iterations; it++) {
    const ratewarden_limiter *l = below(8) ? lim : NULL;
    ratewarden_decision d, *dp = below(8) ? &d : NULL;
    memset(&d, 0, sizeof d);
    bool ok = false, *okp = below(8) ? &ok : NULL;
    size_t len = below(3) ? sizeof buf : below(40), written = 0, *wp = below(8) ? &written : NULL;
    char *bp = below(8) ? buf : NULL;

    CALL(ratewarden_is_allowed(l, text(0), text(1), number(), number(), okp));
    CALL(ratewarden_check(l, text(0), text(1), number(), number(), number(), dp));
    CALL(ratewarden_check_with_algorithm(l, text(0), text(1), number(), number(), number(), text(2), dp));
    CALL(ratewarden_check_quota(l, text(0), text(1), text(2), number(), dp));
    CALL(ratewarden_peek(l, text(0), text(1), text(2), dp));
    CALL(ratewarden_refund(l, text(0), text(1), text(2), number(), dp));
    CALL(ratewarden_block(l, text(0), text(1), text(2), number() % 100000, dp));
    CALL(ratewarden_reset(l, text(0), text(1)));

    ratewarden_quota q;
    CALL(ratewarden_quota_parse(text(2), below(8) ? &q : NULL));
    ratewarden_quota qr = {number(), number()};
    CALL(ratewarden_check_quota_of(l, text(0), text(1), below(8) ? &qr : NULL, number(), dp));

    ratewarden_limit limits[3];
    size_t n = below(4), limiting = 0;
    for (size_t i = 0; i < n; i++) {
      limits[i].api_endpoint = text((int)(3 + i));
      limits[i].capacity = number();
      limits[i].rate_per_second = number();
      limits[i].cost = number();
      limits[i].algorithm = below(2) ? NULL : text(6);
    }
    ratewarden_decision ds[3];
    CALL(ratewarden_check_all(l, text(0), below(8) ? limits : NULL, n, okp, below(8) ? ds : NULL,
                              below(8) ? &limiting : NULL));

    ratewarden_verdict v;
    CALL(ratewarden_check_http(l, text(0), text(1), text(2), text(3), number(), below(8) ? &v : NULL, bp, len,
                               wp));
    CALL(ratewarden_client_key(text(0), text(1), text(2), text(3), (uint8_t)number(), bp, len, wp));

    ratewarden_decision any = {(bool)below(2), number(), number(), number(), number()};
    CALL(ratewarden_decision_headers(below(8) ? &any : NULL, text(0), bp, len, wp));
    CALL(ratewarden_decision_ietf_headers(below(8) ? &any : NULL, text(0), number(), bp, len, wp));
    (void)ratewarden_decision_retry_after_secs(below(4) ? &any : NULL);
    (void)ratewarden_decision_reset_after_secs(below(4) ? &any : NULL);
    (void)ratewarden_result_message((uint32_t)next());
    (void)ratewarden_result_is_retryable((uint32_t)next());
    (void)ratewarden_last_outcome_unknown();

    ratewarden_options *o = NULL;
    CALL(ratewarden_options_new(&o));
    CALL(ratewarden_options_set(below(8) ? o : NULL, text(0), text(1)));
    CALL(ratewarden_options_set_timeout_ms(o, number()));
    CALL(ratewarden_options_set_key_prefix(o, text(2)));
    CALL(ratewarden_options_set_algorithm(o, text(3)));
    CALL(ratewarden_options_set_failure_mode(o, text(4)));
    ratewarden_limiter *made = NULL;
    /* memory://, or URLs no network address can be made of. */
    static const char *urls[] = {"memory://c-fuzz-options", "redis:", "", "memory:", "nope://", "\xff://"};
    const char *url = below(8) ? urls[below(sizeof urls / sizeof urls[0])] : NULL;
    CALL(ratewarden_limiter_new_with_options(url, below(4) ? o : NULL, below(8) ? &made : NULL));
    ratewarden_limiter_free(made);
    ratewarden_options_free(o);

    ratewarden_policy_list *list = NULL;
    CALL(ratewarden_set_policy(l, text(0), number(), number(), text(1)));
    CALL(ratewarden_set_policy_quota(l, text(0), text(1), text(2)));
    CALL(ratewarden_check_policy(l, text(0), text(1), number(), dp));
    CALL(ratewarden_delete_policy(l, text(0)));
    CALL(ratewarden_policies(l, below(8) ? &list : NULL));
    ratewarden_policy_list_free(list);
  }
  ratewarden_limiter_free(lim);
  printf("c fuzz: %lu calls, %lu undocumented results\n", calls, failures);
  return failures == 0 ? 0 : 1;
}
