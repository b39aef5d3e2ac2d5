// What a dead worker's unit becomes: see worker_death.hpp.
#include "pool/worker_death.hpp"

#include <fmt/format.h>

#include "pool/shutdown.hpp"

namespace tend {

std::string with_tail(std::string what, const std::string& tail) {
    if (tail.empty()) return what;
    constexpr std::size_t kShown = 4096;
    std::string_view shown(tail);
    if (shown.size() > kShown) shown.remove_prefix(shown.size() - kShown);
    return what + "; last output on the worker's stderr:\n" + std::string(shown);
}

DeadUnit dead_unit(const DeadWorker& d) {
    DeadUnit out;
    const auto& tests = d.tests;
    const std::string tail(d.stderr_tail);
    const auto from_next = [&] {
        return std::vector<std::uint32_t>(tests.begin() + static_cast<std::ptrdiff_t>(d.next),
                                          tests.end());
    };
    if (d.killed_at_shutdown) {
        out.worker = DeadUnit::Worker::killed_at_shutdown;
        out.rest = from_next();
        out.cancelled = cancelled_reason(d.stop_reason, d.killed_at_once, d.shutdown_grace);
        return out;
    }
    out.worker =
        d.timed_out || d.stuck_between ? DeadUnit::Worker::timed_out : DeadUnit::Worker::crashed;
    // The test the death is pinned on, if any (kNone: none).
    constexpr std::size_t kNone = static_cast<std::size_t>(-1);
    std::size_t running = d.timed_out.value_or(kNone);
    if (running == kNone && d.broke && d.careful) {
        // Each result came at once: the break is the doing of the first test
        // whose result is missing, if it had begun.
        if (d.next < tests.size() && d.begun > d.next) running = d.next;
    } else if (running == kNone && !d.broke && d.running) {
        running = *d.running;
    } else if (running == kNone && d.stuck_between) {
        // Stuck before the next test could begin: that test is what it cost,
        // so the rest gets on instead of hanging again.
        running = d.next;
    }
    // A test before the next result due is reported already.
    if (running < d.next || running >= tests.size()) running = kNone;
    out.careful = d.broke || d.careful;
    const std::string how(d.how);
    const auto poll_s = std::chrono::duration<double>(d.poll.value_or(std::chrono::nanoseconds{}));
    if (running == kNone && d.broke && !d.careful) {
        // Results travel in batches, so which test since the last one
        // received broke the stream is not known: they run again on a fresh
        // worker, each result sent at once, and a second break is pinned on
        // its test.
        out.notice = DeadUnit::Note{
            with_tail(fmt::format("unit '{}': {}; its tests from the first without a result run "
                                  "again on a fresh worker, one result at a time",
                                  d.unit_name, how),
                      tail),
            false};
        out.rest = from_next();
    } else if (running != kNone) {
        auto status = d.broke ? TestStatus::error : TestStatus::crashed;
        std::string detail = with_tail(how, tail);
        if (d.stuck_between) {
            status = TestStatus::timed_out;
            detail = with_tail(
                fmt::format("did not begin: its worker was stuck for {} s (the unit's time "
                            "limit) after the test before it ended, in the framework or one of "
                            "its listeners: {}",
                            poll_s.count(), how),
                tail);
        }
        if (d.timed_out) {
            status = TestStatus::timed_out;
            const auto limit = std::chrono::duration<double>(
                d.timed_out_limit.value_or(std::chrono::nanoseconds{}));
            detail = with_tail(
                fmt::format("still running after {} {} s timeout: {}",
                            d.limit_from_option ? "the" : "its doctest", limit.count(), how),
                tail);
        }
        out.blamed = DeadUnit::Blame{running, status, std::move(detail)};
        // Tests that finished but whose results were still batched in the
        // worker run again, and so does the rest of the unit.
        out.rest.assign(tests.begin() + static_cast<std::ptrdiff_t>(d.next),
                        tests.begin() + static_cast<std::ptrdiff_t>(running));
        out.rest.insert(out.rest.end(), tests.begin() + static_cast<std::ptrdiff_t>(running) + 1,
                        tests.end());
    } else {
        const std::string what =
            d.stuck_between
                ? fmt::format(
                      "unit '{}': worker {} stuck between two tests for {} s (the unit's "
                      "time limit); it was killed: {}",
                      d.unit_name, d.pid, poll_s.count(), how)
                : fmt::format("unit '{}': {} between two tests", d.unit_name, how);
        out.notice = DeadUnit::Note{with_tail(what, tail), true};
        out.rest = from_next();
    }
    return out;
}

RestFate rest_fate(std::string_view stop_reason, std::size_t deaths, std::size_t max_deaths,
                   std::string_view how) {
    RestFate f;
    if (!stop_reason.empty()) {
        f.kind = RestFate::Kind::not_run;
        f.why = not_run_reason(stop_reason);
        return f;
    }
    f.counts_death = true;
    if (deaths + 1 >= max_deaths) {
        f.kind = RestFate::Kind::give_up;
        f.why = fmt::format("{} workers of this binary died; last: {}", deaths + 1, how);
        f.give_up_why = fmt::format("{} workers died; not starting more", deaths + 1);
    }
    return f;
}

std::optional<DeadUnit::Note> stopped_worker_notice(const StoppedWorker& stopped) {
    if (stopped.clean) return std::nullopt;
    const std::string tail(stopped.stderr_tail);
    if (stopped.broke || stopped.killed_by_tend) {
        return DeadUnit::Note{with_tail(std::string(stopped.how) + " after shutdown", tail), false};
    }
    return DeadUnit::Note{
        with_tail(std::string(stopped.how) +
                      " after shutdown: a check at exit failed (a leak checker, an atexit "
                      "handler, a static destructor), as it fails the binary run alone",
                  tail),
        true};
}

}  // namespace tend
