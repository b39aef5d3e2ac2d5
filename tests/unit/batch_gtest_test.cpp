// The gtest driver and the batch size, fed what gtest 1.12 really prints.
#include <doctest/doctest.h>

#include "batch_size.hpp"
#include "driver.hpp"

using namespace tend::batch;

namespace {

struct Recorder final : ProgressSink {
    std::vector<std::string> events;
    std::vector<std::vector<FailureDetail>> failures;
    void started(const TestKey& key) override { events.push_back("start " + key.name); }
    void output(std::string_view text) override { events.push_back("out " + std::string(text)); }
    void finished(Outcome outcome, std::vector<FailureDetail> f, std::string) override {
        events.push_back(outcome == Outcome::passed    ? "passed"
                         : outcome == Outcome::skipped ? "skipped"
                                                       : "failed");
        failures.push_back(std::move(f));
    }
};

// `./g --gtest_filter='S.*:T.*' --gtest_color=no`, as gtest 1.12.1 printed it.
constexpr std::string_view kRun = R"(Running main() from ./googletest/src/gtest_main.cc
Note: Google Test filter = S.*:T.*
[==========] Running 4 tests from 2 test suites.
[----------] Global test environment set-up.
[----------] 2 tests from S
[ RUN      ] S.a
hello
[       OK ] S.a (0 ms)
[ RUN      ] S.b
g.cpp:4: Failure
Expected equality of these values:
  1
  2
msg
[  FAILED  ] S.b (0 ms)
[----------] 2 tests from S (0 ms total)

[----------] 2 tests from T
[ RUN      ] T.skip
g.cpp:6: Skipped
why
[  SKIPPED ] T.skip (0 ms)
[ RUN      ] T.ex
unknown file: Failure
Unknown C++ exception thrown in the test body.
[  FAILED  ] T.ex (0 ms)
[----------] 2 tests from T (0 ms total)

[----------] Global test environment tear-down
[==========] 4 tests from 2 test suites ran. (0 ms total)
[  PASSED  ] 1 test.
[  SKIPPED ] 1 test, listed below:
[  SKIPPED ] T.skip
[  FAILED  ] 2 tests, listed below:
[  FAILED  ] S.b
[  FAILED  ] T.ex

 2 FAILED TESTS
)";

Captured listing(std::string out, std::string report) {
    Captured c;
    c.out = std::move(out);
    c.report = std::move(report);
    return c;
}

}  // namespace

TEST_SUITE("batch drivers") {
    TEST_CASE("gtest parser: starts, ends, failures and output, fed a byte at a time or whole") {
        for (bool bytewise : {false, true}) {
            auto driver = make_driver("gtest");
            auto parser = driver->parser();
            Recorder r;
            if (bytewise) {
                for (char c : kRun) parser->feed_stdout(std::string_view(&c, 1), r);
            } else {
                parser->feed_stdout(kRun, r);
            }
            parser->finish(r);
            const std::vector<std::string> want = {"start S.a", "out hello\n", "passed",
                                                   "start S.b", "failed",      "start T.skip",
                                                   "skipped",   "start T.ex",  "failed"};
            CHECK(r.events == want);
            REQUIRE(r.failures.size() == 4);
            REQUIRE(r.failures[1].size() == 1);
            CHECK(r.failures[1][0].file == "g.cpp");
            CHECK(r.failures[1][0].line == 4);
            CHECK(r.failures[1][0].message == "Expected equality of these values:\n  1\n  2\nmsg");
            CHECK(r.failures[2].empty());  // a skip's reason is no failure
            REQUIRE(r.failures[3].size() == 1);
            CHECK(r.failures[3][0].file.empty());
            CHECK(r.failures[3][0].message == "Unknown C++ exception thrown in the test body.");
        }
    }

    TEST_CASE("gtest parser: a failed parameterized test's end names its parameter") {
        // As gtest 1.12 prints a failed TEST_P (PrintFullTestCommentIfPresent).
        auto parser = make_driver("gtest")->parser();
        Recorder r;
        parser->feed_stdout(
            "[ RUN      ] Inst/S.T/0\nf.cc:3: Failure\nValue of: x\n"
            "[  FAILED  ] Inst/S.T/0, where GetParam() = 4 (0 ms)\n[ RUN      ] Inst/S.T/1\n"
            "[       OK ] Inst/S.T/1 (0 ms)\n",
            r);
        parser->finish(r);
        const std::vector<std::string> want = {"start Inst/S.T/0", "failed", "start Inst/S.T/1",
                                               "passed"};
        CHECK(r.events == want);
    }

    TEST_CASE("gtest parser: a failure's text is bounded; the rest is output") {
        auto parser = make_driver("gtest")->parser();
        Recorder r;
        parser->feed_stdout("[ RUN      ] S.a\nf.cc:3: Failure\n", r);
        const std::string line(1000, 'x');
        for (int i = 0; i < 100; ++i) parser->feed_stdout(line + "\n", r);
        parser->feed_stdout("[  FAILED  ] S.a (0 ms)\n", r);
        parser->finish(r);
        REQUIRE(r.failures.size() == 1);
        REQUIRE(r.failures[0].size() == 1);
        CHECK(r.failures[0][0].message.size() < 70 * 1024);
        CHECK(r.events.size() > 3);  // the lines past the bound came as output
    }

    TEST_CASE("gtest parser: an end behind output without a newline; a test that never ends") {
        auto parser = make_driver("gtest")->parser();
        Recorder r;
        parser->feed_stdout(
            "[ RUN      ] S.a\nno newline[       OK ] S.a (0 ms)\n[ RUN      ] S.b\n", r);
        parser->finish(r);
        const std::vector<std::string> want = {"start S.a", "out no newline", "passed",
                                               "start S.b"};
        CHECK(r.events == want);
    }

    TEST_CASE("gtest driver: console names win over the JSON's mangled bytes; awkward names") {
        auto driver = make_driver("gtest");
        const std::string out =
            "Running main() from x\nS.\n  a\n  DISABLED_b\nAwk.\n  a:b\n  a-b\n  axb\n  "
            "caf\xc3\xa9\n"
            "P/0.  # TypeParam = int\n  t  # GetParam() = 1\n";
        const std::string report = R"({"testsuites":[
      {"name":"S","testsuite":[{"name":"a","file":"f.cc","line":3},{"name":"DISABLED_b","file":"f.cc","line":4}]},
      {"name":"Awk","testsuite":[{"name":"a:b"},{"name":"a-b"},{"name":"axb"},{"name":"caf\u00c3\u00a9"}]},
      {"name":"P/0","testsuite":[{"name":"t","file":"p.cc","line":9}]}]})";
        std::string error;
        auto tests = driver->list(
            [&](const std::vector<std::string>&, bool) { return listing(out, report); }, error);
        REQUIRE(tests);
        REQUIRE(tests->size() == 7);
        CHECK((*tests)[0].file == "f.cc");
        CHECK((*tests)[0].line == 3);
        CHECK((*tests)[1].skip);
        CHECK((*tests)[5].name == "caf\xc3\xa9");
        CHECK((*tests)[6].suite == "P/0");
        CHECK((*tests)[6].name == "t");
        // Plain names share batches; a name its filter pattern cannot pin runs
        // alone, picked out of the tests the pattern matches by gtest's shards.
        CHECK(driver->selectable(0).in_batch);
        CHECK(driver->selectable(5).in_batch);
        CHECK_FALSE(driver->selectable(2).in_batch);  // a:b -> a?b, as a-b and axb
        CHECK(driver->run_args({0, 5}, false)[0] == "--gtest_filter=S.a:Awk.caf\xc3\xa9");
        // A whole suite is one pattern; a part of it, its tests' names.
        CHECK(driver->run_args({0, 1}, true)[0] == "--gtest_filter=S.*");
        CHECK(driver->run_args({0}, false)[0] == "--gtest_filter=S.a");
        CHECK(driver->run_args({6}, false)[0] == "--gtest_filter=P/0.*");
        CHECK(driver->run_args({3}, false)[0] == "--gtest_filter=Awk.a?b");
        const std::vector<std::string> shard = {"GTEST_TOTAL_SHARDS=3", "GTEST_SHARD_INDEX=1"};
        CHECK(driver->run_env({3}, false) == shard);
        CHECK(driver->run_env({0}, false).empty());
        CHECK(driver->run_args({1}, true).back() == "--gtest_also_run_disabled_tests=1");
        CHECK(driver->run_args({1}, false).back() == "--gtest_also_run_disabled_tests=0");
    }

    TEST_CASE(
        "gtest driver: a listing that failed or wrote no JSON is an error naming the command") {
        auto driver = make_driver("gtest");
        std::string error;
        auto tests = driver->list(
            [](const std::vector<std::string>&, bool) {
                Captured c;
                c.wait_status = 1 << 8;
                c.err = "unknown flag";
                return c;
            },
            error);
        CHECK_FALSE(tests);
        CHECK(error.find("--gtest_list_tests") != std::string::npos);
        CHECK(error.find("unknown flag") != std::string::npos);
        tests = driver->list(
            [](const std::vector<std::string>&, bool) { return listing("", "nope"); }, error);
        CHECK_FALSE(tests);
        CHECK(error.find("no JSON") != std::string::npos);
    }

    TEST_CASE("next_batch_size: start-up at most a tenth of a batch, within bounds") {
        // 2 ms to start, 1 us a test: as many as allowed.
        CHECK(next_batch_size(kFirstBatch, 2'000'000, 64'000, 64) == kMaxBatch);
        // 2 ms to start, 1 ms a test: 20 tests make the start-up a tenth.
        CHECK(next_batch_size(kFirstBatch, 2'000'000, 64'000'000, 64) == 20);
        // Slow tests: never fewer than the minimum.
        CHECK(next_batch_size(kFirstBatch, 2'000'000, 64'000'000'000, 64) == kMinBatch);
        // Nothing measured: unchanged.
        CHECK(next_batch_size(100, 2'000'000, 0, 0) == 100);
    }
}
