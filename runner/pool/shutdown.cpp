// Shutdown decisions: see shutdown.hpp.
#include "pool/shutdown.hpp"

#include <fmt/format.h>

#include "report/events.hpp"

namespace tend {

SignalResponse respond_to_signal(bool signalled_before) {
    return signalled_before ? SignalResponse::kill_now : SignalResponse::drain;
}

std::string interrupted_reason(int sig) {
    return fmt::format("tend was interrupted ({})", signal_name(sig));
}

std::string max_fail_reason(std::size_t failures, std::size_t max_fail) {
    return fmt::format("tend stopped after {} failures (--max-fail {})", failures, max_fail);
}

std::string not_run_reason(std::string_view stop_reason) {
    return "not run: " + std::string(stop_reason);
}

std::string not_started_notice(std::string_view stop_reason) {
    return "not started: " + std::string(stop_reason) + " before its tests were listed";
}

bool stops_with_scheduling(SlotState state) {
    return state == SlotState::starting || state == SlotState::listing;
}

BusyKill kill_busy(SlotState state, bool now, std::chrono::milliseconds kill_grace) {
    // Idle ones are not in the way: they are stopped (or given back warm)
    // when the run ends.
    if (state == SlotState::idle || state == SlotState::stopping) return {};
    return BusyKill{true, state == SlotState::running || state == SlotState::finalizing,
                    now ? kKillAtOnceGrace : kill_grace};
}

std::string cancelled_reason(std::string_view stop_reason, bool killed_at_once,
                             Seconds shutdown_grace) {
    return killed_at_once ? not_run_reason(stop_reason) + "; its worker was killed at once"
                          : fmt::format("{}; its worker was killed after the {} s grace period",
                                        not_run_reason(stop_reason), shutdown_grace.count());
}

}  // namespace tend
