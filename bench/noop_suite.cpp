// Benchmark suite: TEND_BENCH_TESTS no-op doctest tests (default 10,000),
// TEND_BENCH_PER_SUITE to a suite (default 100), registered at run time so
// no giant source has to be compiled. With TEND_BENCH_SLEEP_US each test
// sleeps that long (a test that waits, using no CPU).
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
    return 0;
}();
}  // namespace
