// Benchmark suite: TEND_BENCH_TESTS no-op Catch2 tests (default 10,000),
// TEND_BENCH_PER_SUITE to a source file (default 100: a Catch2 unit is a
// file), registered at run time with Catch::AutoReg, linked with tend's
// Catch2 main.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <deque>
#include <string>

namespace {
void noop() {}

long env_number(const char* name, long fallback) {
    const char* v = std::getenv(name);
    return v ? std::strtol(v, nullptr, 10) : fallback;
}

const int registered = [] {
    const long n = env_number("TEND_BENCH_TESTS", 10000);
    const long per_file = std::max(1L, env_number("TEND_BENCH_PER_SUITE", 100));
    // Catch2 keeps the file name's pointer: the strings live as long as the
    // process.
    static std::deque<std::string> files;
    for (long i = 0; i < n; ++i) {
        if (i % per_file == 0) files.push_back("noop_" + std::to_string(i / per_file) + ".cpp");
        const std::string name = "noop " + std::to_string(i);
        Catch::AutoReg(Catch::makeTestInvoker(&noop),
                       Catch::SourceLineInfo(files.back().c_str(), static_cast<std::size_t>(i + 1)),
                       Catch::StringRef(), Catch::NameAndTags(name.c_str(), "[noop]"));
    }
    return 0;
}();
}  // namespace
