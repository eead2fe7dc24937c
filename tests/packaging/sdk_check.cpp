// The C++17 wrapper from the unpacked SDK: decides on memory:// and on a
// real Redis, and reports a bad quota as ratewarden::Error.
// Usage: sdk_check_cpp REDIS_URL RUN_ID
#include <chrono>
#include <cstdio>
#include <string>

#include <ratewarden.hpp>

static int decide(const ratewarden::Limiter &limiter, const std::string &client) {
  int admitted = 0;
  for (int i = 0; i < 5; i++) admitted += limiter.check(client, "/sdk", "3/minute").allowed ? 1 : 0;
  return admitted;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s REDIS_URL RUN_ID\n", argv[0]);
    return 2;
  }
  const std::string client = std::string("sdk-cpp-") + argv[2];
  try {
    ratewarden::Limiter memory;
    ratewarden::Limiter redis(argv[1], ratewarden::Options().timeout(std::chrono::milliseconds(2000)));
    int on_memory = decide(memory, client), on_redis = decide(redis, client);
    bool refused = false;
    try {
      memory.check(client, "/sdk", "3/fortnight");
    } catch (const ratewarden::Error &e) {
      refused = e.code() == ratewarden::errc::invalid_argument;
    }
    std::printf("sdk_check (C++, %s): memory:// admitted %d of 5, Redis admitted %d of 5\n",
                ratewarden::version().c_str(), on_memory, on_redis);
    return on_memory == 3 && on_redis == 3 && refused ? 0 : 1;
  } catch (const ratewarden::Error &e) {
    std::fprintf(stderr, "ratewarden error %u: %s\n", static_cast<unsigned>(e.code()), e.what());
    return 1;
  }
}
