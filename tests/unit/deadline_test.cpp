// The deadline decision: test limits (--timeout, declared, capped), the
// phases that are not tests, the bound between two tests, and "look again".
#include "pool/deadline.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace std::chrono_literals;
using tend::check_deadline;
using tend::Clock;
using tend::DeadlineLook;
using tend::Seconds;
using tend::SlotState;
using tend::test_time_limit;
using Kind = tend::DeadlineVerdict::Kind;

namespace {
const Clock::time_point t0 = Clock::time_point(1000s);
DeadlineLook running(std::optional<std::chrono::nanoseconds> poll) {
    DeadlineLook l;
    l.state = SlotState::running;
    l.poll = poll;
    return l;
}
}  // namespace

TEST_SUITE("deadline") {
    TEST_CASE("--timeout wins over a declared timeout") {
        CHECK(test_time_limit(Seconds(2), 10.0) == std::optional<std::chrono::nanoseconds>(2s));
        CHECK(test_time_limit(Seconds(2), 0.0) == std::optional<std::chrono::nanoseconds>(2s));
    }
    TEST_CASE("without --timeout a declared timeout applies, none when not positive") {
        CHECK(test_time_limit(std::nullopt, 1.5) ==
              std::optional<std::chrono::nanoseconds>(1500ms));
        CHECK_FALSE(test_time_limit(std::nullopt, 0.0));
        CHECK_FALSE(test_time_limit(std::nullopt, -1.0));
        CHECK_FALSE(test_time_limit(std::nullopt, std::nan("")));
    }
    TEST_CASE("a huge declared timeout is capped at kMaxTestTimeout") {
        const auto cap =
            std::chrono::duration_cast<std::chrono::nanoseconds>(tend::kMaxTestTimeout);
        CHECK(test_time_limit(std::nullopt, 1e300) == std::optional<std::chrono::nanoseconds>(cap));
        CHECK(test_time_limit(std::nullopt, INFINITY) ==
              std::optional<std::chrono::nanoseconds>(cap));
    }
    TEST_CASE("start-up, listing and teardown: look again at the deadline, then overdue") {
        for (const auto s : {SlotState::starting, SlotState::listing, SlotState::finalizing}) {
            DeadlineLook l;
            l.state = s;
            l.phase_deadline = t0 + 60s;
            const auto early = check_deadline(l, t0 + 10s);
            CHECK(early.kind == Kind::look_again);
            CHECK(early.at == t0 + 60s);
            CHECK(check_deadline(l, t0 + 60s).kind == Kind::phase_overdue);
            l.overdue = true;  // killed already: nothing more
            CHECK(check_deadline(l, t0 + 90s).kind == Kind::none);
        }
    }
    TEST_CASE("idle and stopping workers have no deadline") {
        for (const auto s : {SlotState::idle, SlotState::stopping}) {
            DeadlineLook l;
            l.state = s;
            l.poll = 1s;
            CHECK(check_deadline(l, t0).kind == Kind::none);
        }
    }
    TEST_CASE("a unit without any time limit, or killed already, is not watched") {
        auto l = running(std::nullopt);
        CHECK_FALSE(tend::watches_tests(l));
        CHECK(check_deadline(l, t0).kind == Kind::none);
        l = running(1s);
        CHECK(tend::watches_tests(l));
        l.killed = true;
        CHECK_FALSE(tend::watches_tests(l));
        CHECK(check_deadline(l, t0 + 100s).kind == Kind::none);
    }
    TEST_CASE("a running test: look again when its limit is up, then timed out") {
        auto l = running(2s);
        l.running = tend::RunningTest{3, t0};
        l.limit = 5s;
        const auto early = check_deadline(l, t0 + 1s);
        CHECK(early.kind == Kind::look_again);
        CHECK(early.at == t0 + 5s);
        const auto late = check_deadline(l, t0 + 5s + 250ms);
        CHECK(late.kind == Kind::test_timed_out);
        CHECK(late.running_ns == 5'250'000'000u);
    }
    TEST_CASE("a running test without a limit of its own: look again after the unit's") {
        auto l = running(2s);
        l.running = tend::RunningTest{0, t0};
        const auto v = check_deadline(l, t0 + 100s);
        CHECK(v.kind == Kind::look_again);
        CHECK(v.at == t0 + 102s);
    }
    TEST_CASE("between two tests: bounded by the unit's shortest limit from when first seen") {
        auto l = running(2s);
        l.between_since = t0;
        const auto early = check_deadline(l, t0 + 1s);
        CHECK(early.kind == Kind::look_again);
        CHECK(early.at == t0 + 2s);
        CHECK(check_deadline(l, t0 + 2s).kind == Kind::stuck_between);
    }
}
