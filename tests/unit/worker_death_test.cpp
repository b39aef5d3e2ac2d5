// What a dead worker's unit becomes: the blamed test and its status, the
// rest, the careful re-run after a protocol break, notices, shutdown, and
// where the rest goes.
#include "pool/worker_death.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using tend::DeadUnit;
using tend::DeadWorker;
using tend::RestFate;
using tend::TestStatus;
using Ids = std::vector<std::uint32_t>;

namespace {
const Ids kTests{10, 11, 12, 13, 14};
DeadWorker dead(std::size_t next) {
    DeadWorker d;
    d.unit_name = "math";
    d.tests = kTests;
    d.next = next;
    d.pid = 77;
    d.how = "worker 77 was killed by SIGSEGV";
    return d;
}
}  // namespace

TEST_SUITE("worker death") {
    TEST_CASE("the stderr tail follows what is said, its last 4 KiB") {
        CHECK(tend::with_tail("boom", "") == "boom");
        CHECK(tend::with_tail("boom", "oops\n") ==
              "boom; last output on the worker's stderr:\noops\n");
        const std::string big(5000, 'x');
        CHECK(tend::with_tail("boom", big).size() ==
              std::string("boom; last output on the worker's stderr:\n").size() + 4096);
    }
    TEST_CASE("a crash blames the running test; batched and later tests run again") {
        auto d = dead(1);
        d.running = 3;
        d.stderr_tail = "segfault";
        const auto u = tend::dead_unit(d);
        CHECK(u.worker == DeadUnit::Worker::crashed);
        REQUIRE(u.blamed);
        CHECK(u.blamed->index == 3);
        CHECK(u.blamed->status == TestStatus::crashed);
        CHECK(u.blamed->detail ==
              "worker 77 was killed by SIGSEGV; last output on the worker's stderr:\nsegfault");
        CHECK(u.rest == Ids{11, 12, 14});
        CHECK_FALSE(u.careful);
        CHECK_FALSE(u.notice);
        CHECK_FALSE(u.cancelled);
    }
    TEST_CASE("a test reported already is not blamed: a death between two tests") {
        auto d = dead(3);
        d.running = 1;
        const auto u = tend::dead_unit(d);
        CHECK_FALSE(u.blamed);
        REQUIRE(u.notice);
        CHECK(u.notice->fails_run);
        CHECK(u.notice->message ==
              "unit 'math': worker 77 was killed by SIGSEGV between two tests");
        CHECK(u.rest == Ids{13, 14});
    }
    TEST_CASE("a protocol break not pinned on a test: the rest runs again, carefully") {
        auto d = dead(2);
        d.broke = true;
        d.how = "worker 77 broke the protocol: bad frame";
        d.running = 3;  // not trusted after a break
        const auto u = tend::dead_unit(d);
        CHECK(u.worker == DeadUnit::Worker::crashed);
        CHECK_FALSE(u.blamed);
        REQUIRE(u.notice);
        CHECK_FALSE(u.notice->fails_run);
        CHECK(u.notice->message ==
              "unit 'math': worker 77 broke the protocol: bad frame; its tests from the first "
              "without a result run again on a fresh worker, one result at a time");
        CHECK(u.rest == Ids{12, 13, 14});
        CHECK(u.careful);
    }
    TEST_CASE("a second break, in a careful re-run, is the first test without a result") {
        auto d = dead(2);
        d.broke = true;
        d.careful = true;
        d.begun = 3;
        const auto u = tend::dead_unit(d);
        REQUIRE(u.blamed);
        CHECK(u.blamed->index == 2);
        CHECK(u.blamed->status == TestStatus::error);
        CHECK(u.rest == Ids{13, 14});
        CHECK(u.careful);
    }
    TEST_CASE("a careful break before that test began blames none") {
        auto d = dead(2);
        d.broke = true;
        d.careful = true;
        d.begun = 2;
        const auto u = tend::dead_unit(d);
        CHECK_FALSE(u.blamed);
        REQUIRE(u.notice);
        CHECK(u.notice->fails_run);
        CHECK(u.rest == Ids{12, 13, 14});
        CHECK(u.careful);
    }
    TEST_CASE("killed for its time limit: that test timed out, with its limit") {
        auto d = dead(0);
        d.timed_out = 1;
        d.timed_out_limit = 2s;
        d.running = 4;  // the page moved on: the timed-out test is the one
        d.how = "worker 77 was killed by SIGTERM";
        auto u = tend::dead_unit(d);
        CHECK(u.worker == DeadUnit::Worker::timed_out);
        REQUIRE(u.blamed);
        CHECK(u.blamed->index == 1);
        CHECK(u.blamed->status == TestStatus::timed_out);
        CHECK(u.blamed->detail ==
              "still running after its doctest 2 s timeout: worker 77 was killed by SIGTERM");
        CHECK(u.rest == Ids{10, 12, 13, 14});
        d.limit_from_option = true;
        u = tend::dead_unit(d);
        CHECK(u.blamed->detail ==
              "still running after the 2 s timeout: worker 77 was killed by SIGTERM");
    }
    TEST_CASE("stuck between two tests: the next one timed out without beginning") {
        auto d = dead(2);
        d.stuck_between = true;
        d.poll = 1500ms;
        d.how = "worker 77 was killed by SIGTERM";
        const auto u = tend::dead_unit(d);
        CHECK(u.worker == DeadUnit::Worker::timed_out);
        REQUIRE(u.blamed);
        CHECK(u.blamed->index == 2);
        CHECK(u.blamed->status == TestStatus::timed_out);
        CHECK(u.blamed->detail ==
              "did not begin: its worker was stuck for 1.5 s (the unit's time limit) after the "
              "test before it ended, in the framework or one of its listeners: worker 77 was "
              "killed by SIGTERM");
        CHECK(u.rest == Ids{13, 14});
    }
    TEST_CASE("stuck after the last result: a notice, nothing blamed") {
        auto d = dead(5);
        d.stuck_between = true;
        d.poll = 2s;
        const auto u = tend::dead_unit(d);
        CHECK_FALSE(u.blamed);
        REQUIRE(u.notice);
        CHECK(u.notice->fails_run);
        CHECK(u.notice->message ==
              "unit 'math': worker 77 stuck between two tests for 2 s (the unit's time limit); "
              "it was killed: worker 77 was killed by SIGSEGV");
        CHECK(u.rest.empty());
    }
    TEST_CASE("killed at shutdown: no death, what it did not finish is cancelled") {
        auto d = dead(3);
        d.running = 3;
        d.killed_at_shutdown = true;
        d.stop_reason = "tend was interrupted (SIGINT)";
        d.shutdown_grace = tend::Seconds(5);
        auto u = tend::dead_unit(d);
        CHECK(u.worker == DeadUnit::Worker::killed_at_shutdown);
        CHECK_FALSE(u.blamed);
        CHECK_FALSE(u.notice);
        CHECK(u.rest == Ids{13, 14});
        REQUIRE(u.cancelled);
        CHECK(*u.cancelled ==
              "not run: tend was interrupted (SIGINT); its worker was killed after the 5 s grace "
              "period");
        d.killed_at_once = true;
        u = tend::dead_unit(d);
        CHECK(*u.cancelled ==
              "not run: tend was interrupted (SIGINT); its worker was killed at once");
    }
    TEST_CASE("the rest goes back to the queue and the death is counted") {
        const auto f = tend::rest_fate("", 2, 8, "worker 77 crashed");
        CHECK(f.kind == RestFate::Kind::requeue);
        CHECK(f.counts_death);
    }
    TEST_CASE("once the run stops, the rest is not run and no death is counted") {
        const auto f = tend::rest_fate("tend was interrupted (SIGINT)", 7, 8, "x");
        CHECK(f.kind == RestFate::Kind::not_run);
        CHECK_FALSE(f.counts_death);
        CHECK(f.why == "not run: tend was interrupted (SIGINT)");
    }
    TEST_CASE("the death that reaches --max-worker-deaths gives the binary up") {
        const auto f = tend::rest_fate("", 7, 8, "worker 77 crashed");
        CHECK(f.kind == RestFate::Kind::give_up);
        CHECK(f.counts_death);
        CHECK(f.why == "8 workers of this binary died; last: worker 77 crashed");
        CHECK(f.give_up_why == "8 workers died; not starting more");
    }
}

TEST_SUITE("a stopped worker's exit") {
    using tend::StoppedWorker;
    TEST_CASE("a clean exit says nothing") {
        StoppedWorker s;
        s.how = "worker 7 exited with status 0";
        s.clean = true;
        CHECK_FALSE(tend::stopped_worker_notice(s));
    }
    TEST_CASE("a non-zero status or a signal tend did not send fails the run, with the tail") {
        StoppedWorker s;
        s.how = "worker 7 exited with status 1";
        s.stderr_tail = "1 object leaked\n";
        auto note = tend::stopped_worker_notice(s);
        REQUIRE(note);
        CHECK(note->fails_run);
        CHECK(note->message.find("worker 7 exited with status 1 after shutdown: a check at exit "
                                 "failed") == 0);
        CHECK(note->message.find("1 object leaked") != std::string::npos);
        s.how = "worker 7 killed by signal 6 (Aborted)";
        note = tend::stopped_worker_notice(s);
        REQUIRE(note);
        CHECK(note->fails_run);
    }
    TEST_CASE("tend's own kill or a protocol break after shutdown is only said") {
        StoppedWorker s;
        s.how = "worker 7 killed by signal 9 (Killed)";
        s.killed_by_tend = true;
        auto note = tend::stopped_worker_notice(s);
        REQUIRE(note);
        CHECK_FALSE(note->fails_run);
        CHECK(note->message == "worker 7 killed by signal 9 (Killed) after shutdown");
        s.killed_by_tend = false;
        s.broke = true;
        s.how = "worker 7 broke the protocol: garbage";
        note = tend::stopped_worker_notice(s);
        REQUIRE(note);
        CHECK_FALSE(note->fails_run);
    }
}
