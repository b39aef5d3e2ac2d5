// When a worker has overrun its time, and what it overran.
//
// Every phase of a worker is bounded. Start-up and listing get the binary's
// start-up timeout, a unit's scope teardown its teardown timeout: past the
// phase's deadline the worker is overdue. A running test gets --timeout, or
// without it the timeout its framework declares (doctest's decorator), capped
// at kMaxTestTimeout where the clock cannot overflow; a test without either
// runs as long as it takes. Between two tests (a framework's listener, a hook,
// the worker not reading its command yet) a worker is bounded by the unit's
// shortest test limit, counted from when tend first saw it there. The pool
// reads the running test off the worker's status page and keeps the timers;
// these functions only compare times.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "pool/recycle.hpp"
#include "pool/slot_state.hpp"

namespace tend {

using Clock = std::chrono::steady_clock;

/// A framework's declared test timeout is capped here (a year): past it the
/// clock arithmetic would overflow.
inline constexpr Seconds kMaxTestTimeout{365.0 * 24 * 3600};

/// How long a test may run: --timeout when given, else its declared timeout
/// (`declared_s`, 0 or less, or NaN, for none), capped at kMaxTestTimeout.
std::optional<std::chrono::nanoseconds> test_time_limit(const std::optional<Seconds>& timeout,
                                                        double declared_s);

/// The test a worker is running: its index in the unit and since when.
struct RunningTest {
    std::size_t index;
    Clock::time_point since;
};

/// A worker's clocks at one look.
struct DeadlineLook {
    SlotState state = SlotState::starting;
    /// Starting, listing, finalizing: when the phase must be over, and
    /// whether the worker was killed for overrunning it already.
    Clock::time_point phase_deadline;
    bool overdue = false;
    /// Running: killed already for a test's limit or for staying between
    /// two tests; the unit's shortest test limit (none: nothing to watch).
    bool killed = false;
    std::optional<std::chrono::nanoseconds> poll;
    /// The test running, if any, and its limit.
    std::optional<RunningTest> running;
    std::optional<std::chrono::nanoseconds> limit;
    /// No test running: since when the worker has stayed at the same place
    /// between two tests, and how long it may (default `poll`). Before the
    /// unit's first test has begun (its request still arriving, the
    /// framework setting up) the pool gives the start-up limit instead.
    Clock::time_point between_since;
    std::optional<std::chrono::nanoseconds> between_limit;
};

/// Whether the worker is running a unit whose tests are watched: only then
/// does the look need the running test (or the place between two tests).
bool watches_tests(const DeadlineLook& look);

struct DeadlineVerdict {
    enum class Kind {
        none,            ///< nothing to watch
        look_again,      ///< not yet: look again at `at`
        phase_overdue,   ///< start-up, listing or teardown overran its limit
        test_timed_out,  ///< the running test overran its limit, after `running_ns`
        stuck_between,   ///< between two tests for longer than `poll`
    };
    Kind kind = Kind::none;
    Clock::time_point at;
    std::uint64_t running_ns = 0;
};

/// Decides whether a worker has overrun its time at `now`; see the top.
DeadlineVerdict check_deadline(const DeadlineLook& look, Clock::time_point now);

}  // namespace tend
