// The C++ wrapper (include/ratewarden.hpp): RAII, decisions, exceptions and
// the std::error_code overloads, on memory:// and on a real Redis.
//
// Usage: test_cpp REDIS_URL CLOSED_URL RUN_ID
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "ratewarden.hpp"

static int failures = 0;
#define CHECK(cond)                                                       \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                         \
    }                                                                     \
  } while (0)

static_assert(!std::is_copy_constructible<ratewarden::Limiter>::value, "move-only");
static_assert(!std::is_copy_assignable<ratewarden::Limiter>::value, "move-only");
static_assert(std::is_nothrow_move_constructible<ratewarden::Limiter>::value, "cheap moves");
static_assert(std::is_nothrow_move_assignable<ratewarden::Limiter>::value, "cheap moves");
static_assert(!std::is_copy_constructible<ratewarden::Options>::value, "move-only");
static_assert(std::is_error_code_enum<ratewarden::errc>::value, "errc is an error code enum");

using ratewarden::errc;
using std::chrono::milliseconds;

// The code of the Error that `f` throws, or errc::ok if it throws none.
template <typename F>
static errc thrown(F &&f) {
  try {
    f();
  } catch (const ratewarden::Error &e) {
    CHECK(std::string(e.what()).size() > 0);
    CHECK(e.error_code() == e.code());
    return e.code();
  }
  return errc::ok;
}

static void decisions(const ratewarden::Limiter &l, const std::string &run) {
  const std::string c = "cpp-" + run;
  // Capacity and rate.
  ratewarden::Decision d = l.check(c, "/n", 3, 1, 2);
  CHECK(d.allowed && d.limit == 3 && d.remaining == 1);
  CHECK(d.retry_after.count() == 0 && d.retry_after_secs() == 0);
  CHECK(l.is_allowed(c, "/n", 3, 1));
  CHECK(!l.is_allowed(c, "/n", 3, 1));
  d = l.check(c, "/n", 3, 1);
  CHECK(!d.allowed && d.retry_after.count() > 0 && d.retry_after_secs() >= 1);
  std::string h = d.headers();
  CHECK(h.find("RateLimit-Limit: 3\r\n") != std::string::npos);
  CHECK(h.find("Retry-After: ") != std::string::npos);
  CHECK(d.headers("x-ratelimit").find("X-RateLimit-Remaining: 0") != std::string::npos);
  CHECK(thrown([&] { d.headers("nope"); }) == errc::invalid_argument);

  // The notation (a string literal is a quota; a literal 0 stays a capacity).
  CHECK(l.check(c, "/q", "2/minute").allowed);
  CHECK(l.check(c, "/q", std::string("2/minute")).allowed);
  d = l.check(c, "/q", "2/minute");
  CHECK(!d.allowed && d.limit == 2);
  CHECK(l.peek(c, "/q", "2/minute").remaining == 0);
  d = l.refund(c, "/q", "2/minute");  // what a cost-1 check would now get
  CHECK(d.allowed && d.remaining == 0);
  CHECK(l.check(c, "/q", "2/minute").allowed);
  CHECK(!l.block(c, "/b", "5/minute", milliseconds(60000)).allowed);
  CHECK(!l.check(c, "/b", "5/minute").allowed);
  l.reset(c, "/b");
  CHECK(l.check(c, "/b", "5/minute").allowed);

  // Policies.
  l.set_policy("/cpp-" + run, "1/minute");
  CHECK(l.check_policy(c, "/cpp-" + run).allowed);
  CHECK(!l.check_policy(c, "/cpp-" + run).allowed);
  l.delete_policy("/cpp-" + run);

  // Bad arguments: an exception, or an error code without one.
  CHECK(thrown([&] { l.check("", "/n", 3, 1); }) == errc::invalid_argument);
  CHECK(thrown([&] { l.check(c, "/n", 0, 1); }) == errc::invalid_argument);
  CHECK(thrown([&] { l.check(c, "/q", "5/fortnight"); }) == errc::invalid_argument);
  CHECK(thrown([&] { l.check(std::string("a\0b", 3), "/n", 3, 1); }) == errc::invalid_argument);
  CHECK(thrown([&] { l.block(c, "/b", "5/minute", milliseconds(-1)); }) == errc::invalid_argument);
  CHECK(thrown([&] { l.check(c, "/n", 3, 1, 4); }) == errc::invalid_argument);
  try {
    l.check("", "/n", 3, 1);
  } catch (const ratewarden::Error &e) {
    CHECK(!e.retryable() && !e.outcome_unknown());
    CHECK(std::string(e.what()).find("client") != std::string::npos);
  }
  std::error_code ec;
  d = l.check("", "/n", 3, 1, 1, ec);
  CHECK(ec == errc::invalid_argument && !d.allowed);
  CHECK(std::string(ec.category().name()) == "ratewarden" && !ec.message().empty());
  CHECK(l.check(c, "/ec", "1/minute", 1, ec).allowed && !ec);
  CHECK(!l.check(c, "/ec", "1/minute", 1, ec).allowed && !ec);
  CHECK(l.is_allowed(c, "/ec2", 1, 1, ec) && !ec);
  l.ping(ec);
  CHECK(!ec);
  l.ping();

  ratewarden_stats s = l.stats();
  CHECK(s.allowed > 0 && s.denied > 0);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s REDIS_URL CLOSED_URL RUN_ID\n", argv[0]);
    return 2;
  }
  const std::string redis = argv[1], closed = argv[2], run = argv[3];

  ratewarden::Limiter memory;  // memory://
  CHECK(static_cast<bool>(memory) && memory.algorithm() == "sliding_window_log");
  decisions(memory, run);

  ratewarden::Limiter on_redis(redis, ratewarden::Options()
                                          .timeout(milliseconds(5000))  // valgrind is slow
                                          .key_prefix("cpptest:")
                                          .failure_mode("error")
                                          .max_in_flight(64)
                                          .deny_cache(100));
  CHECK(on_redis.timeout() == milliseconds(5000));
  decisions(on_redis, run);

  // Moves: the moved-from limiter is empty, its calls are usage errors.
  ratewarden::Limiter moved(std::move(on_redis));
  CHECK(static_cast<bool>(moved) && !static_cast<bool>(on_redis));  // NOLINT(bugprone-use-after-move)
  CHECK(moved.check("cpp-moved-" + run, "/m", "1/minute").allowed);
  CHECK(thrown([&] { on_redis.check("x", "/m", "1/minute"); }) == errc::null_parameter);  // NOLINT
  on_redis = std::move(moved);
  CHECK(!on_redis.check("cpp-moved-" + run, "/m", "1/minute").allowed);

  // Bad URLs and options.
  CHECK(thrown([] { ratewarden::Limiter bad("http://example"); }) == errc::config);
  CHECK(thrown([] { ratewarden::Options().timeout(milliseconds(0)); }) == errc::invalid_argument);
  CHECK(thrown([] { ratewarden::Options().timeout(milliseconds(-5)); }) == errc::invalid_argument);
  CHECK(thrown([] { ratewarden::Options().failure_mode("sometimes"); }) == errc::invalid_argument);
  CHECK(thrown([] { ratewarden::Options().set("no_such_option", "1"); }) == errc::invalid_argument);
  CHECK(thrown([] { ratewarden::Options().key_prefix("{x}"); }) == errc::invalid_argument);
  CHECK(thrown([] {
          ratewarden::Limiter l("rediss://127.0.0.1:1", ratewarden::Options().tls_client_cert_pem("cert", ""));
          (void)l;
        }) != errc::ok);
  {
    std::error_code ec;
    ratewarden::Limiter none("http://example", ratewarden::Options(), ec);
    CHECK(ec == errc::config && !static_cast<bool>(none));
  }

  // Redis not there: a retryable error within the deadline, nothing sent,
  // and a warning for the log handler.
  static std::atomic<int> warnings{0};
  ratewarden::set_log_handler([](ratewarden::log_level l, const char *target, const char *message) {
    if (l == ratewarden::log_level::warn && std::strcmp(target, "ratewarden") == 0 && std::strlen(message) > 0)
      warnings++;
    throw std::runtime_error("swallowed");
  });
  CHECK(thrown([] { ratewarden::set_log_handler([](ratewarden::log_level, const char *, const char *) {},
                                                static_cast<ratewarden::log_level>(9)); }) ==
        errc::invalid_argument);
  ratewarden::Limiter down(closed, ratewarden::Options().timeout(milliseconds(500)));
  try {
    down.check("x", "/d", "5/minute");
    CHECK(false);
  } catch (const ratewarden::Error &e) {
    CHECK(e.code() == errc::connection && e.retryable() && !e.outcome_unknown());
  }
  std::error_code ec;
  CHECK(!down.is_allowed("x", "/d", 5, 5, ec));
  CHECK(ec == errc::connection && ratewarden::is_retryable(errc::connection));
  down.ping(ec);
  CHECK(ec);
  CHECK(warnings.load() >= 1);
  ratewarden::set_log_handler({});

  CHECK(ratewarden::version() == RATEWARDEN_VERSION);
  if (failures != 0) {
    std::fprintf(stderr, "test_cpp: %d failures\n", failures);
    return 1;
  }
  std::printf("test_cpp: ok\n");
  return 0;
}
