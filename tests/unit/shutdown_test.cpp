// The shutdown decisions: first and second signal, which workers are stopped
// or terminated and how fast, and the texts cancelled tests carry.
#include "pool/shutdown.hpp"

#include <doctest/doctest.h>

#include <csignal>

using namespace std::chrono_literals;
using tend::SlotState;

TEST_SUITE("shutdown") {
    TEST_CASE("the first signal drains, the next kills") {
        CHECK(tend::respond_to_signal(false) == tend::SignalResponse::drain);
        CHECK(tend::respond_to_signal(true) == tend::SignalResponse::kill_now);
    }
    TEST_CASE("the reasons people read") {
        CHECK(tend::interrupted_reason(SIGINT) == "tend was interrupted (SIGINT)");
        CHECK(tend::interrupted_reason(SIGTERM) == "tend was interrupted (SIGTERM)");
        CHECK(tend::interrupted_reason(SIGHUP) == "tend was interrupted (SIGHUP)");
        CHECK(tend::max_fail_reason(3, 3) == "tend stopped after 3 failures (--max-fail 3)");
        CHECK(tend::not_run_reason("tend was interrupted (SIGINT)") ==
              "not run: tend was interrupted (SIGINT)");
        CHECK(tend::not_started_notice("tend was interrupted (SIGINT)") ==
              "not started: tend was interrupted (SIGINT) before its tests were listed");
    }
    TEST_CASE("workers that have run nothing stop with the scheduling, others go on") {
        CHECK(tend::stops_with_scheduling(SlotState::starting));
        CHECK(tend::stops_with_scheduling(SlotState::listing));
        for (const auto s :
             {SlotState::idle, SlotState::running, SlotState::finalizing, SlotState::stopping}) {
            CHECK_FALSE(tend::stops_with_scheduling(s));
        }
    }
    TEST_CASE("idle and stopping workers are not in the way") {
        for (const auto s : {SlotState::idle, SlotState::stopping}) {
            CHECK_FALSE(tend::kill_busy(s, true, 1000ms).terminate);
            CHECK_FALSE(tend::kill_busy(s, false, 1000ms).terminate);
        }
    }
    TEST_CASE("running and finalizing workers are cut short; starting and listing just ended") {
        for (const auto s : {SlotState::running, SlotState::finalizing}) {
            const auto k = tend::kill_busy(s, false, 1000ms);
            CHECK(k.terminate);
            CHECK(k.cut_short);
        }
        for (const auto s : {SlotState::starting, SlotState::listing}) {
            const auto k = tend::kill_busy(s, false, 1000ms);
            CHECK(k.terminate);
            CHECK_FALSE(k.cut_short);
        }
    }
    TEST_CASE("after the grace the kill grace applies, at once a fifth of a second") {
        CHECK(tend::kill_busy(SlotState::running, false, 1500ms).grace == 1500ms);
        CHECK(tend::kill_busy(SlotState::running, true, 1500ms).grace == tend::kKillAtOnceGrace);
        CHECK(tend::kKillAtOnceGrace == 200ms);
    }
    TEST_CASE("cancelled tests say how their worker ended") {
        CHECK(tend::cancelled_reason("tend was interrupted (SIGTERM)", true, tend::Seconds(5)) ==
              "not run: tend was interrupted (SIGTERM); its worker was killed at once");
        CHECK(tend::cancelled_reason("tend was interrupted (SIGINT)", false, tend::Seconds(5)) ==
              "not run: tend was interrupted (SIGINT); its worker was killed after the 5 s grace "
              "period");
        CHECK(tend::cancelled_reason("x", false, tend::Seconds(0.5)) ==
              "not run: x; its worker was killed after the 0.5 s grace period");
    }
}
