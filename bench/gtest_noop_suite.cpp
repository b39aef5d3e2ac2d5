// Benchmark suite: TEND_BENCH_TESTS no-op GoogleTest tests (default 10,000),
// TEND_BENCH_PER_SUITE to a suite (default 100), registered at run time with
// testing::RegisterTest, linked with tend's gtest main.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace {
class Noop : public testing::Test {
  public:
    void TestBody() override {}
};

long env_number(const char* name, long fallback) {
    const char* v = std::getenv(name);
    return v ? std::strtol(v, nullptr, 10) : fallback;
}

const int registered = [] {
    const long n = env_number("TEND_BENCH_TESTS", 10000);
    const long per_suite = std::max(1L, env_number("TEND_BENCH_PER_SUITE", 100));
    for (long i = 0; i < n; ++i) {
        const std::string suite = "Suite" + std::to_string(i / per_suite);
        const std::string name = "Noop" + std::to_string(i);
        testing::RegisterTest(suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__,
                              static_cast<int>(i + 1), []() -> testing::Test* { return new Noop; });
    }
    return 0;
}();
}  // namespace
