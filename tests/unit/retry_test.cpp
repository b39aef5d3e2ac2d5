// The retry decision: what is retried, how often, where, and what a pass on
// a retry is called.
#include "pool/retry.hpp"

#include <doctest/doctest.h>

using tend::Attempt;
using tend::decide_retry;
using tend::retry_unit;
using tend::TestStatus;

namespace {
Attempt attempt(TestStatus status, std::uint32_t failed_before, std::uint32_t retries) {
    Attempt a;
    a.status = status;
    a.failed_before = failed_before;
    a.retries = retries;
    a.pid = 1234;
    return a;
}
}  // namespace

TEST_SUITE("retry") {
    TEST_CASE("without --retries nothing is retried") {
        const auto d = decide_retry(attempt(TestStatus::failed, 0, 0));
        CHECK_FALSE(d.retry);
        CHECK(d.attempt == 1);
        CHECK(d.status == TestStatus::failed);
    }
    TEST_CASE("failed, crashed, timed-out and errored tests are retried, elsewhere") {
        for (const auto s :
             {TestStatus::failed, TestStatus::crashed, TestStatus::timed_out, TestStatus::error}) {
            const auto d = decide_retry(attempt(s, 0, 1));
            CHECK(d.retry);
            CHECK(d.attempt == 1);
            CHECK(d.avoid_pid == 1234);
            CHECK(d.status == s);
        }
    }
    TEST_CASE("passed, skipped and not_run are not retried") {
        for (const auto s : {TestStatus::passed, TestStatus::skipped, TestStatus::not_run}) {
            const auto d = decide_retry(attempt(s, 0, 3));
            CHECK_FALSE(d.retry);
            CHECK(d.avoid_pid == 0);
            CHECK(d.status == s);
        }
    }
    TEST_CASE("retries stop after --retries of them, the last attempt counting") {
        CHECK(decide_retry(attempt(TestStatus::failed, 1, 2)).retry);
        const auto last = decide_retry(attempt(TestStatus::failed, 2, 2));
        CHECK_FALSE(last.retry);
        CHECK(last.attempt == 3);
        CHECK(last.status == TestStatus::failed);
    }
    TEST_CASE("a pass after a failed attempt is flaky; a first pass is not") {
        CHECK(decide_retry(attempt(TestStatus::passed, 1, 2)).status == TestStatus::flaky);
        CHECK(decide_retry(attempt(TestStatus::passed, 0, 2)).status == TestStatus::passed);
        // A skip on a retry stays a skip.
        CHECK(decide_retry(attempt(TestStatus::skipped, 1, 2)).status == TestStatus::skipped);
    }
    TEST_CASE("nothing is retried once the run stops scheduling") {
        auto a = attempt(TestStatus::crashed, 0, 5);
        a.stopping = true;
        const auto d = decide_retry(a);
        CHECK_FALSE(d.retry);
        CHECK(d.status == TestStatus::crashed);
    }
    TEST_CASE("the retry runs alone, named after its test, away from its worker") {
        const auto d = decide_retry(attempt(TestStatus::failed, 0, 1));
        const auto u = retry_unit(2, 17, "adds", d);
        CHECK(u.binary == 2);
        CHECK(u.name == "retry of adds");
        CHECK(u.tests == std::vector<std::uint32_t>{17});
        CHECK(u.avoid_pid == 1234);
        CHECK_FALSE(u.careful);
    }
}
