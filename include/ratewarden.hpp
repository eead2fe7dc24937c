/*
 * ratewarden.hpp - header-only C++17 interface over the C ABI (ratewarden.h).
 *
 * RAII handles (move-only), decisions as values, errors as exceptions
 * (ratewarden::Error carrying the result code) or, in the overloads taking a
 * std::error_code&, without exceptions. Link with -lratewarden as for C.
 *
 *     #include <ratewarden.hpp>
 *
 *     ratewarden::Limiter limiter("redis://127.0.0.1:6379",
 *                                 ratewarden::Options().timeout(std::chrono::milliseconds(250)));
 *     ratewarden::Decision d = limiter.check("alice", "/login", "5/minute");
 *     if (!d.allowed) respond_429(d.retry_after_secs());
 *
 * Threads: one Limiter may be used from any number of threads at once (every
 * method is const and the C library is thread-safe); Options is not
 * thread-safe while being modified. No method blocks longer than the
 * limiter's deadline. Strings must not contain NUL bytes (that is
 * errc::invalid_argument, not a silent truncation).
 */

#ifndef RATEWARDEN_HPP
#define RATEWARDEN_HPP

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "ratewarden.h"

namespace ratewarden {

/// The result codes of the C ABI, as a std::error_code enum:
/// `std::error_code ec = ratewarden::errc::timeout;`.
enum class errc : std::uint32_t {
  ok = RATEWARDEN_OK,
  invalid_argument = RATEWARDEN_INVALID_ARGUMENT,
  config = RATEWARDEN_CONFIG,
  connection = RATEWARDEN_CONNECTION,
  timeout = RATEWARDEN_TIMEOUT,
  server = RATEWARDEN_SERVER,
  usage = RATEWARDEN_USAGE,
  internal = RATEWARDEN_INTERNAL,
  null_parameter = RATEWARDEN_NULL_PARAMETER,
  invalid_utf8 = RATEWARDEN_INVALID_UTF8,
  panic = RATEWARDEN_PANIC,
};

}  // namespace ratewarden

namespace std {
/// `std::error_code ec = ratewarden::errc::timeout;` and `ec == errc::...`.
template <>
struct is_error_code_enum<ratewarden::errc> : true_type {};
}  // namespace std

namespace ratewarden {

namespace detail {
class category_impl final : public std::error_category {
 public:
  const char *name() const noexcept override { return "ratewarden"; }
  std::string message(int code) const override {
    return ratewarden_result_message(static_cast<std::uint32_t>(code));
  }
};
}  // namespace detail

/// The error category of ratewarden's codes ("ratewarden").
inline const std::error_category &category() noexcept {
  static const detail::category_impl instance;
  return instance;
}

/// `std::error_code` of a code (found by argument-dependent lookup).
inline std::error_code make_error_code(errc e) noexcept {
  return std::error_code(static_cast<int>(e), category());
}

/// Whether a failed call may be retried (Redis unreachable or too slow).
/// A timeout may have been decided on the server: see Error::outcome_unknown.
inline bool is_retryable(errc e) noexcept {
  return ratewarden_result_is_retryable(static_cast<std::uint32_t>(e));
}

/// A failed ratewarden call: the code, the library's message for this
/// failure, and whether the decision may have been taken on the server.
///
///     try { limiter.check("alice", "/x", "5/minute"); }
///     catch (const ratewarden::Error &e) {
///       if (e.code() == ratewarden::errc::timeout && e.outcome_unknown()) ...
///     }
class Error : public std::runtime_error {
 public:
  Error(errc code, const std::string &message, bool outcome_unknown)
      : std::runtime_error(message), code_(code), outcome_unknown_(outcome_unknown) {}

  /// The result code.
  errc code() const noexcept { return code_; }
  /// The same, as a std::error_code.
  std::error_code error_code() const noexcept { return make_error_code(code_); }
  /// Redis unreachable or too slow: a retry may succeed.
  bool retryable() const noexcept { return is_retryable(code_); }
  /// The call failed after its decision was sent: it may have been taken on
  /// the server (quota spent). Never retry such a call blindly.
  bool outcome_unknown() const noexcept { return outcome_unknown_; }

 private:
  errc code_;
  bool outcome_unknown_;
};

namespace detail {
/// The error of the last failed call on this thread.
inline Error last_error(ratewarden_result r) {
  const char *message = ratewarden_last_error();
  return Error(static_cast<errc>(r), message != nullptr ? message : ratewarden_result_message(r),
               ratewarden_last_outcome_unknown());
}

inline bool has_nul(const std::string &s) noexcept { return s.find('\0') != std::string::npos; }

/// Run `call` (a C function returning ratewarden_result) unless an argument
/// holds a NUL byte; throw on failure.
template <typename F>
void checked(F &&call, std::initializer_list<const std::string *> strings) {
  for (const std::string *s : strings) {
    if (has_nul(*s)) throw Error(errc::invalid_argument, "invalid argument: a string contains a NUL byte", false);
  }
  ratewarden_result r = call();
  if (r != RATEWARDEN_OK) throw last_error(r);
}

/// The same, reporting through `ec` instead of throwing.
template <typename F>
void checked(F &&call, std::initializer_list<const std::string *> strings, std::error_code &ec) noexcept {
  for (const std::string *s : strings) {
    if (has_nul(*s)) {
      ec = errc::invalid_argument;
      return;
    }
  }
  ratewarden_result r = call();
  ec = r == RATEWARDEN_OK ? std::error_code() : make_error_code(static_cast<errc>(r));
}
}  // namespace detail

/// The full answer to one check.
///
///     ratewarden::Decision d = limiter.check("alice", "/upload", 100, 10, 5);
///     if (!d.allowed) std::printf("Retry-After: %llu\n", (unsigned long long)d.retry_after_secs());
struct Decision {
  /// Whether the request (all of its cost) was admitted.
  bool allowed = false;
  /// The capacity that applied.
  std::uint64_t limit = 0;
  /// Units that could still be admitted right now.
  std::uint64_t remaining = 0;
  /// Zero when allowed; else how long until the same request would pass.
  std::chrono::microseconds retry_after{0};
  /// How long until the window is empty again.
  std::chrono::microseconds reset_after{0};

  Decision() = default;
  /// From the C struct.
  explicit Decision(const ratewarden_decision &d) noexcept
      : allowed(d.allowed),
        limit(d.limit),
        remaining(d.remaining),
        retry_after(static_cast<std::chrono::microseconds::rep>(d.retry_after_us)),
        reset_after(static_cast<std::chrono::microseconds::rep>(d.reset_after_us)) {}

  /// The C struct.
  ratewarden_decision raw() const noexcept {
    ratewarden_decision d{};
    d.allowed = allowed;
    d.limit = limit;
    d.remaining = remaining;
    d.retry_after_us = static_cast<std::uint64_t>(retry_after.count());
    d.reset_after_us = static_cast<std::uint64_t>(reset_after.count());
    return d;
  }

  /// `Retry-After` in whole seconds, rounded up (0 when allowed).
  std::uint64_t retry_after_secs() const noexcept {
    ratewarden_decision d = raw();
    return ratewarden_decision_retry_after_secs(&d);
  }

  /// Seconds until the window resets, rounded up.
  std::uint64_t reset_after_secs() const noexcept {
    ratewarden_decision d = raw();
    return ratewarden_decision_reset_after_secs(&d);
  }

  /// The HTTP headers as `Name: value\r\n` lines: `set` is "draft-06"
  /// (`RateLimit-*`) or "x-ratelimit" (`X-RateLimit-*`), plus `Retry-After`
  /// when refused.
  std::string headers(const std::string &set = "draft-06") const {
    ratewarden_decision d = raw();
    char buf[256];
    std::size_t n = 0;
    detail::checked([&] { return ratewarden_decision_headers(&d, set.c_str(), buf, sizeof buf, &n); }, {&set});
    return std::string(buf, n);
  }
};

/// Options for a Limiter (move-only; copied into each limiter made with
/// them). Setters return *this and throw Error on a bad value.
///
///     auto o = ratewarden::Options().timeout(std::chrono::milliseconds(250)).failure_mode("local");
class Options {
 public:
  /// The defaults.
  Options() {
    detail::checked([&] { return ratewarden_options_new(&raw_); }, {});
  }
  Options(Options &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  Options &operator=(Options &&other) noexcept {
    if (this != &other) {
      ratewarden_options_free(raw_);
      raw_ = std::exchange(other.raw_, nullptr);
    }
    return *this;
  }
  Options(const Options &) = delete;
  Options &operator=(const Options &) = delete;
  ~Options() { ratewarden_options_free(raw_); }

  /// Deadline of every call, end to end (1 ms ..= 1 h).
  Options &timeout(std::chrono::milliseconds t) {
    std::uint64_t ms = non_negative("timeout", t.count());
    detail::checked([&] { return ratewarden_options_set_timeout_ms(raw_, ms); }, {});
    return *this;
  }
  /// Prefix of every Redis key (no braces, at most 128 bytes).
  Options &key_prefix(const std::string &prefix) {
    detail::checked([&] { return ratewarden_options_set_key_prefix(raw_, prefix.c_str()); }, {&prefix});
    return *this;
  }
  /// Bound on calls outstanding on the connection (1 ..= 1048576).
  Options &max_in_flight(std::uint32_t n) {
    detail::checked([&] { return ratewarden_options_set_max_in_flight(raw_, n); }, {});
    return *this;
  }
  /// Trust this PEM CA certificate for TLS URLs instead of the system's roots.
  Options &tls_root_cert_pem(const std::string &pem) {
    detail::checked(
        [&] { return ratewarden_options_set_tls_root_cert_pem(raw_, reinterpret_cast<const std::uint8_t *>(pem.data()), pem.size()); },
        {});
    return *this;
  }
  /// Present this PEM client certificate and key to servers that require one.
  Options &tls_client_cert_pem(const std::string &cert, const std::string &key) {
    detail::checked(
        [&] { return ratewarden_options_set_tls_client_cert_pem(raw_, reinterpret_cast<const std::uint8_t *>(cert.data()), cert.size()); },
        {});
    detail::checked(
        [&] { return ratewarden_options_set_tls_client_key_pem(raw_, reinterpret_cast<const std::uint8_t *>(key.data()), key.size()); },
        {});
    return *this;
  }
  /// Algorithm of calls that name none ("sliding_window_log", "gcra", ...).
  Options &algorithm(const std::string &name) {
    detail::checked([&] { return ratewarden_options_set_algorithm(raw_, name.c_str()); }, {&name});
    return *this;
  }
  /// While Redis is unreachable: "error", "allow", "deny" or "local".
  Options &failure_mode(const std::string &mode) {
    detail::checked([&] { return ratewarden_options_set_failure_mode(raw_, mode.c_str()); }, {&mode});
    return *this;
  }
  /// Share (0, 1] of each quota the "local" failure mode grants.
  Options &local_share(double share) {
    detail::checked([&] { return ratewarden_options_set_local_share(raw_, share); }, {});
    return *this;
  }
  /// Consecutive outages that open the circuit (1 ..= 1000).
  Options &breaker_threshold(std::uint32_t n) {
    detail::checked([&] { return ratewarden_options_set_breaker_threshold(raw_, n); }, {});
    return *this;
  }
  /// How long the circuit stays open before a probe (1 ms ..= 1 h).
  Options &breaker_open_for(std::chrono::milliseconds t) {
    std::uint64_t ms = non_negative("breaker_open_for", t.count());
    detail::checked([&] { return ratewarden_options_set_breaker_open_for_ms(raw_, ms); }, {});
    return *this;
  }
  /// Entries of the local deny cache (0 turns it off).
  Options &deny_cache(std::uint32_t entries) {
    detail::checked([&] { return ratewarden_options_set_deny_cache(raw_, entries); }, {});
    return *this;
  }
  /// Any option by its name, the value as text (`ratewarden_options_set`).
  Options &set(const std::string &name, const std::string &value) {
    detail::checked([&] { return ratewarden_options_set(raw_, name.c_str(), value.c_str()); }, {&name, &value});
    return *this;
  }

  /// The C handle (owned by this object).
  const ratewarden_options *native() const noexcept { return raw_; }

 private:
  /// A duration's milliseconds; a negative one is invalid (zero is left to
  /// the library's own range check).
  static std::uint64_t non_negative(const char *name, std::chrono::milliseconds::rep ms) {
    if (ms < 0) throw Error(errc::invalid_argument, std::string("invalid argument: ") + name + " must not be negative", false);
    return static_cast<std::uint64_t>(ms);
  }

  ratewarden_options *raw_ = nullptr;
};

/// A rate limiter over one backend URL (move-only; thread-safe). Every
/// method exists twice: throwing Error, and with a trailing
/// std::error_code& that is set instead (the result is then meaningful only
/// when `!ec`).
///
///     ratewarden::Limiter limiter("redis://127.0.0.1:6379");
///     if (!limiter.is_allowed("alice", "GET /search", 10, 10)) respond_429();
///
///     std::error_code ec;
///     ratewarden::Decision d = limiter.check("alice", "/login", "5/minute", 1, ec);
///     if (ec == ratewarden::errc::timeout) ...
class Limiter {
 public:
  /// A limiter for `url` ("memory://", "redis://host:port", "rediss://...",
  /// "redis+cluster://...", "redis+sentinel://host:port/master", ...). Does
  /// not wait for Redis.
  explicit Limiter(const std::string &url = "memory://") {
    detail::checked([&] { return ratewarden_limiter_new(url.c_str(), &raw_); }, {&url});
  }
  /// The same with options (copied).
  Limiter(const std::string &url, const Options &options) {
    detail::checked([&] { return ratewarden_limiter_new_with_options(url.c_str(), options.native(), &raw_); }, {&url});
  }
  /// Without exceptions: an empty limiter (false) and `ec` set on failure.
  Limiter(const std::string &url, const Options &options, std::error_code &ec) noexcept {
    detail::checked([&] { return ratewarden_limiter_new_with_options(url.c_str(), options.native(), &raw_); }, {&url},
                    ec);
  }
  Limiter(Limiter &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  Limiter &operator=(Limiter &&other) noexcept {
    if (this != &other) {
      ratewarden_limiter_free(raw_);
      raw_ = std::exchange(other.raw_, nullptr);
    }
    return *this;
  }
  Limiter(const Limiter &) = delete;
  Limiter &operator=(const Limiter &) = delete;
  ~Limiter() { ratewarden_limiter_free(raw_); }

  /// False for a moved-from limiter or one whose construction failed (ec).
  explicit operator bool() const noexcept { return raw_ != nullptr; }

  /// May `client` call `endpoint` now, under `capacity` at once and
  /// `rate_per_second` sustained? Counts the request if so.
  bool is_allowed(const std::string &client, const std::string &endpoint, std::uint64_t capacity,
                  std::uint64_t rate_per_second) const {
    bool ok = false;
    detail::checked([&] { return ratewarden_is_allowed(raw_, client.c_str(), endpoint.c_str(), capacity, rate_per_second, &ok); },
                    {&client, &endpoint});
    return ok;
  }
  bool is_allowed(const std::string &client, const std::string &endpoint, std::uint64_t capacity,
                  std::uint64_t rate_per_second, std::error_code &ec) const noexcept {
    bool ok = false;
    detail::checked([&] { return ratewarden_is_allowed(raw_, client.c_str(), endpoint.c_str(), capacity, rate_per_second, &ok); },
                    {&client, &endpoint}, ec);
    return ok;
  }

  /// The full decision for a request of `cost` units (all or nothing).
  Decision check(const std::string &client, const std::string &endpoint, std::uint64_t capacity,
                 std::uint64_t rate_per_second, std::uint64_t cost = 1) const {
    ratewarden_decision d{};
    detail::checked([&] { return ratewarden_check(raw_, client.c_str(), endpoint.c_str(), capacity, rate_per_second, cost, &d); },
                    {&client, &endpoint});
    return Decision(d);
  }
  Decision check(const std::string &client, const std::string &endpoint, std::uint64_t capacity,
                 std::uint64_t rate_per_second, std::uint64_t cost, std::error_code &ec) const noexcept {
    ratewarden_decision d{};
    detail::checked([&] { return ratewarden_check(raw_, client.c_str(), endpoint.c_str(), capacity, rate_per_second, cost, &d); },
                    {&client, &endpoint}, ec);
    return Decision(d);
  }

  /// The decision under `quota` in the notation: "5/minute", or several,
  /// all or nothing ("10/second;1000/hour").
  Decision check(const std::string &client, const std::string &endpoint, const std::string &quota,
                 std::uint64_t cost = 1) const {
    ratewarden_decision d{};
    detail::checked(
        [&] { return ratewarden_check_quota(raw_, client.c_str(), endpoint.c_str(), quota.c_str(), cost, &d); },
        {&client, &endpoint, &quota});
    return Decision(d);
  }
  Decision check(const std::string &client, const std::string &endpoint, const std::string &quota,
                 std::uint64_t cost, std::error_code &ec) const noexcept {
    ratewarden_decision d{};
    detail::checked(
        [&] { return ratewarden_check_quota(raw_, client.c_str(), endpoint.c_str(), quota.c_str(), cost, &d); },
        {&client, &endpoint, &quota}, ec);
    return Decision(d);
  }

  /// Decide by the policy stored for `endpoint` (or the default "*").
  Decision check_policy(const std::string &client, const std::string &endpoint, std::uint64_t cost = 1) const {
    ratewarden_decision d{};
    detail::checked([&] { return ratewarden_check_policy(raw_, client.c_str(), endpoint.c_str(), cost, &d); },
                    {&client, &endpoint});
    return Decision(d);
  }

  /// What a cost-1 check under `quota` would get now, counting nothing.
  Decision peek(const std::string &client, const std::string &endpoint, const std::string &quota) const {
    ratewarden_decision d{};
    detail::checked([&] { return ratewarden_peek(raw_, client.c_str(), endpoint.c_str(), quota.c_str(), &d); },
                    {&client, &endpoint, &quota});
    return Decision(d);
  }

  /// Give back `cost` units of the latest admissions under `quota`.
  Decision refund(const std::string &client, const std::string &endpoint, const std::string &quota,
                  std::uint64_t cost = 1) const {
    ratewarden_decision d{};
    detail::checked(
        [&] { return ratewarden_refund(raw_, client.c_str(), endpoint.c_str(), quota.c_str(), cost, &d); },
        {&client, &endpoint, &quota});
    return Decision(d);
  }

  /// Refuse (`client`, `endpoint`, `quota`) for `duration` from now.
  Decision block(const std::string &client, const std::string &endpoint, const std::string &quota,
                 std::chrono::milliseconds duration) const {
    if (duration.count() <= 0) throw Error(errc::invalid_argument, "invalid argument: the block duration must be positive", false);
    ratewarden_decision d{};
    detail::checked(
        [&] {
          return ratewarden_block(raw_, client.c_str(), endpoint.c_str(), quota.c_str(),
                                  static_cast<std::uint64_t>(duration.count()), &d);
        },
        {&client, &endpoint, &quota});
    return Decision(d);
  }

  /// Forget all state of (`client`, `endpoint`).
  void reset(const std::string &client, const std::string &endpoint) const {
    detail::checked([&] { return ratewarden_reset(raw_, client.c_str(), endpoint.c_str()); }, {&client, &endpoint});
  }

  /// Store a policy (an endpoint, or "*" for the default) for every limiter
  /// on this backend: `quota` in the notation, `algorithm` empty for the
  /// deciding limiter's.
  void set_policy(const std::string &name, const std::string &quota, const std::string &algorithm = "") const {
    detail::checked(
        [&] {
          return ratewarden_set_policy_quota(raw_, name.c_str(), quota.c_str(),
                                             algorithm.empty() ? nullptr : algorithm.c_str());
        },
        {&name, &quota, &algorithm});
  }

  /// Remove the policy `name` (no-op if absent).
  void delete_policy(const std::string &name) const {
    detail::checked([&] { return ratewarden_delete_policy(raw_, name.c_str()); }, {&name});
  }

  /// A round trip to the backend within the deadline (readiness check).
  void ping() const {
    detail::checked([&] { return ratewarden_ping(raw_); }, {});
  }
  void ping(std::error_code &ec) const noexcept {
    detail::checked([&] { return ratewarden_ping(raw_); }, {}, ec);
  }

  /// The limiter's counters since it was created.
  ratewarden_stats stats() const {
    ratewarden_stats s{};
    detail::checked([&] { return ratewarden_get_stats(raw_, &s); }, {});
    return s;
  }

  /// The per-call deadline.
  std::chrono::milliseconds timeout() const noexcept {
    return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(ratewarden_limiter_timeout_ms(raw_)));
  }
  /// The default algorithm's name (empty for an empty limiter).
  std::string algorithm() const {
    const char *a = ratewarden_limiter_algorithm(raw_);
    return a != nullptr ? a : "";
  }
  /// The failure mode's name (empty for an empty limiter).
  std::string failure_mode() const {
    const char *m = ratewarden_limiter_failure_mode(raw_);
    return m != nullptr ? m : "";
  }

  /// The C handle (owned by this object), for the C functions not wrapped here.
  const ratewarden_limiter *native() const noexcept { return raw_; }

 private:
  ratewarden_limiter *raw_ = nullptr;
};

/// The level of a log record (ratewarden_log_level).
enum class log_level : std::uint32_t { off = 0, error = 1, warn = 2, info = 3, debug = 4, trace = 5 };

/// Receives one log record; the strings are valid during the call only.
using log_handler = std::function<void(log_level level, const char *target, const char *message)>;

namespace detail {
inline void log_trampoline(void *user_data, ratewarden_log_level level, const char *target, const char *message) {
  try {
    (*static_cast<const log_handler *>(user_data))(static_cast<log_level>(level), target, message);
  } catch (...) {
    // An exception must not unwind into the library: the record is lost.
  }
}
}  // namespace detail

/// Send the library's log records of `min_level` and above to `handler`;
/// an empty handler goes back to stderr at the level of RATEWARDEN_LOG
/// (warn when unset). The handler is called from library threads, possibly
/// several at once: it must be thread-safe, quick, and must not call
/// ratewarden. Exceptions it throws are swallowed. A replaced handler is
/// kept alive until exit (a record may still be in it): set one once, not
/// per request.
///
///     ratewarden::set_log_handler([](ratewarden::log_level l, const char *target, const char *msg) {
///       spdlog::log(l <= ratewarden::log_level::warn ? spdlog::level::warn : spdlog::level::info, "{}: {}", target, msg);
///     });
inline void set_log_handler(log_handler handler, log_level min_level = log_level::info) {
  static std::mutex lock;
  // Every handler set, until exit (constructed before the library registers
  // its exit handler, so destroyed after the library stopped logging).
  static std::vector<std::unique_ptr<log_handler>> kept;
  std::lock_guard<std::mutex> guard(lock);
  ratewarden_result r;
  if (handler) {
    auto h = std::make_unique<log_handler>(std::move(handler));
    r = ratewarden_set_log_callback(detail::log_trampoline, h.get(), static_cast<std::uint32_t>(min_level));
    if (r == RATEWARDEN_OK) kept.push_back(std::move(h));
  } else {
    r = ratewarden_set_log_callback(nullptr, nullptr, 0);
  }
  if (r != RATEWARDEN_OK) throw detail::last_error(r);
}

/// The library's version ("0.1.0").
inline std::string version() { return ratewarden_version(); }

}  // namespace ratewarden

#endif /* RATEWARDEN_HPP */
