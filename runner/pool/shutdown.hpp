// What a signal (SIGINT, SIGTERM, SIGHUP), a cancel or --max-fail does to the
// units running and waiting.
//
// Stopping the scheduling starts nothing new: every waiting unit is reported
// not_run (cancelled), a binary not listed yet is given up with a notice, and
// a worker still starting or listing is stopped with the short kill grace (it
// has run nothing, so there is no reason to wait long for one that hangs).
// The first signal stops the scheduling and lets running units finish within
// the shutdown grace; then, or at once on a second signal or a cancel, busy
// workers are terminated: SIGTERM, so they send the results they hold, then
// SIGKILL after the kill grace (a fifth of a second when at once). What a
// killed worker did not finish is reported not_run, saying how it ended.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "pool/recycle.hpp"
#include "pool/slot_state.hpp"

namespace tend {

/// What a signal does: the first drains, the next kills the busy workers.
enum class SignalResponse { drain, kill_now };
SignalResponse respond_to_signal(bool signalled_before);

/// Why nothing new starts after signal `sig`: "tend was interrupted (SIGINT)".
std::string interrupted_reason(int sig);
/// Why nothing new starts after `failures` failures (--max-fail).
std::string max_fail_reason(std::size_t failures, std::size_t max_fail);
/// What a unit that did not run is reported with once scheduling stopped.
std::string not_run_reason(std::string_view stop_reason);
/// The notice for a binary whose tests were not listed yet.
std::string not_started_notice(std::string_view stop_reason);

/// Whether a worker in `state` is stopped when the scheduling stops.
bool stops_with_scheduling(SlotState state);

/// The SIGKILL after SIGTERM of a busy worker killed at once: time for the
/// results it holds to go.
inline constexpr std::chrono::milliseconds kKillAtOnceGrace{200};

/// What killing the busy workers does to one worker.
struct BusyKill {
    bool terminate = false;  ///< SIGTERM it, SIGKILL after `grace`
    /// Its unit is cut short by the shutdown (what it did not finish is
    /// cancelled, a teardown is cut short), not a crash.
    bool cut_short = false;
    std::chrono::milliseconds grace{};
};
BusyKill kill_busy(SlotState state, bool now, std::chrono::milliseconds kill_grace);

/// What the tests a killed worker did not finish are reported with.
std::string cancelled_reason(std::string_view stop_reason, bool killed_at_once,
                             Seconds shutdown_grace);

}  // namespace tend
