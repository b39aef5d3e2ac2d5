// Long lists and long units: a test list and a unit's run request travel in
// chunks far under the frame limit, so the number of tests in a binary or a
// unit is bounded by memory alone (issue 11). The chunks are shrunk through
// test-only knobs (TEND_LIST_CHUNK_TESTS in the worker, TEND_RUN_CHUNK_TESTS
// in tend) so a few thousand run-time-registered tests need several.
#include <doctest/doctest.h>

#include <string>

#include "run_tend.hpp"

using namespace tend_test;

namespace {
/// bench/noop_suite: TEND_BENCH_TESTS no-op tests registered at run time,
/// TEND_BENCH_PER_SUITE to a suite.
std::string noop_suite() {
    return fixture("../bench/noop_suite");
}
}  // namespace

TEST_SUITE("scale") {
    TEST_CASE("a list in several chunks: every test, in order, ids counting on") {
        const auto o = run_tend({"list", noop_suite(), "--json"},
                                "TEND_BENCH_TESTS=3000 TEND_LIST_CHUNK_TESTS=500");
        CHECK(o.exit_code == 0);
        REQUIRE(o.events.size() == 3000);
        for (std::size_t i = 0; i < o.events.size(); ++i) {
            CHECK(o.events[i]["id"] == i);
            CHECK(o.events[i]["name"] == "noop " + std::to_string(i));
        }
    }

    TEST_CASE("a unit whose request takes several chunks runs whole, on one worker") {
        const auto o =
            run_tend({"run", noop_suite(), "-j", "1", "--json", "--no-daemon"},
                     "TEND_BENCH_TESTS=3000 TEND_BENCH_PER_SUITE=3000 TEND_LIST_CHUNK_TESTS=500 "
                     "TEND_RUN_CHUNK_TESTS=700");
        CHECK(o.exit_code == 0);
        const auto summary = o.of("summary");
        REQUIRE(summary.size() == 1);
        CHECK(summary[0]["passed"] == 3000);
        CHECK(summary[0]["workers"]["started"] == 1);
        const auto tests = o.tests();
        CHECK(tests.size() == 3000);
        // In the order of the list: results stream back as the unit runs.
        std::size_t i = 0;
        for (const auto& e : o.of("test")) CHECK(e["id"] == i++);
    }

    TEST_CASE("a list past the frame limit: 200,000 tests list and run") {
        // About 20 MiB as one frame, over the 16 MiB limit; in chunks it goes.
        const auto listed = run_tend({"list", noop_suite()}, "TEND_BENCH_TESTS=200000");
        CHECK(listed.exit_code == 0);
        CHECK(std::count(listed.out.begin(), listed.out.end(), '\n') == 200000);
        const auto ran = run_tend({"run", noop_suite(), "-q", "--json", "--no-daemon"},
                                  "TEND_BENCH_TESTS=200000 TEND_BENCH_PER_SUITE=200000");
        CHECK(ran.exit_code == 0);
        REQUIRE(ran.of("summary").size() == 1);
        CHECK(ran.of("summary")[0]["passed"] == 200000);
    }
}
