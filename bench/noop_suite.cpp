// Benchmark suite: TEND_BENCH_TESTS no-op doctest tests (default 10,000),
// TEND_BENCH_PER_SUITE to a suite (default 100), registered at run time so
// no giant source has to be compiled. With TEND_BENCH_SLEEP_US each test
// sleeps that long (a test that waits, using no CPU). TEND_BENCH_LONG_US
// ("3000000,500000", at most 8) adds, after all of them, a suite of one test
// per value sleeping that many microseconds: a long tail listed last
// (bench/ci.sh).
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <string>
#include <tend/doctest.hpp>

namespace {
long env_number(const char* name, long fallback) {
    const char* v = std::getenv(name);
    return v ? std::strtol(v, nullptr, 10) : fallback;
}

const long sleep_us = env_number("TEND_BENCH_SLEEP_US", 0);

void noop() {
    if (sleep_us > 0) ::usleep(static_cast<useconds_t>(sleep_us));
}

constexpr int kMaxLong = 8;
long long_us[kMaxLong] = {};

template <int I>
void long_test() {
    ::usleep(static_cast<useconds_t>(long_us[I]));
}
using TestFn = void (*)();
constexpr TestFn kLongTests[kMaxLong] = {long_test<0>, long_test<1>, long_test<2>, long_test<3>,
                                         long_test<4>, long_test<5>, long_test<6>, long_test<7>};

const int registered = [] {
    static std::deque<std::string> names;  // doctest keeps the pointers
    static std::deque<std::string> suites;
    const long n = env_number("TEND_BENCH_TESTS", 10000);
    const long per_suite = std::max(1L, env_number("TEND_BENCH_PER_SUITE", 100));
    for (long i = 0; i < n; ++i) {
        if (i % per_suite == 0) suites.push_back("suite " + std::to_string(i / per_suite));
        names.push_back("noop " + std::to_string(i));
        doctest::detail::TestSuite suite;
        suite.m_test_suite = suites.back().c_str();
        doctest::detail::regTest(
            doctest::detail::TestCase(noop, __FILE__, static_cast<unsigned>(i + 1), suite) *
            names.back().c_str());
    }
    const char* tail = std::getenv("TEND_BENCH_LONG_US");
    for (int i = 0; tail && *tail && i < kMaxLong; ++i) {
        char* end = nullptr;
        long_us[i] = std::strtol(tail, &end, 10);
        suites.push_back("long " + std::to_string(i));
        names.push_back("long " + std::to_string(i));
        doctest::detail::TestSuite suite;
        suite.m_test_suite = suites.back().c_str();
        doctest::detail::regTest(doctest::detail::TestCase(kLongTests[i], __FILE__,
                                                           static_cast<unsigned>(n + i + 1),
                                                           suite) *
                                 names.back().c_str());
        tail = *end == ',' ? end + 1 : end;
    }
    return 0;
}();
}  // namespace
