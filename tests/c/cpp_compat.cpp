// The header compiles as C++ (extern "C", enum with an underlying type) and
// the library links into a C++ program.
#include <cstdio>
#include <cstring>
#include <memory>

#include "ratewarden.h"

struct LimiterDeleter {
  void operator()(ratewarden_limiter *l) const { ratewarden_limiter_free(l); }
};

int main() {
  ratewarden_limiter *raw = nullptr;
  ratewarden_result r = ratewarden_limiter_new("memory://cpp", &raw);
  if (r != RATEWARDEN_OK) return 1;
  std::unique_ptr<ratewarden_limiter, LimiterDeleter> lim(raw);
  ratewarden_decision d{};
  if (ratewarden_check(lim.get(), "cpp", "/x", 2, 2, 1, &d) != RATEWARDEN_OK) return 1;
  if (!d.allowed || d.remaining != 1) return 1;
  if (std::strcmp(ratewarden_version(), RATEWARDEN_VERSION) != 0) return 1;
  std::printf("cpp_compat: ok (%s)\n", ratewarden_result_message(RATEWARDEN_OK));
  return 0;
}
