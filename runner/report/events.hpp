// What a run tells its reporters: one event per test, per recycle, per
// problem that is not a test, and a summary at the end. Events borrow their
// data (a test is a TestView into its binary's table); a reporter that wants
// to keep something copies it.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "messages.hpp"
#include "pool/recycle.hpp"
#include "pool/test_table.hpp"

namespace tend {

enum class TestStatus : std::uint8_t {
    passed,
    failed,
    skipped,
    flaky,  ///< failed, then passed on a retry
    crashed,
    timed_out,
    error,
    not_run
};
inline constexpr std::size_t kTestStatusCount = 8;
std::string_view to_string(TestStatus s);
/// True for the statuses that make a run fail.
bool is_failure(TestStatus s);

struct TestEvent {
    const std::string& binary;
    TestView test;
    TestStatus status;
    std::uint64_t duration_ns = 0;
    pid_t worker_pid = 0;  ///< 0 when no worker ran it
    protocol::Health health;
    const std::vector<protocol::Failure>& failures;
    std::string_view out;
    std::string_view err;
    std::string_view detail;    ///< why it crashed / errored / did not run, with stderr tail
    std::uint32_t attempt = 1;  ///< 1, or more for a retry
    bool final = true;          ///< false for an attempt that will be retried
};

struct RecycleEvent {
    const std::string& binary;
    pid_t worker_pid;
    RecycleReason reason;
};

/// A test still running after the --slow period, and again after each
/// further period (nextest's SLOW lines).
struct SlowEvent {
    const std::string& binary;
    TestView test;
    std::uint64_t running_ns;  ///< how long it has been running
    pid_t worker_pid;
};

/// A test began on a worker, as far as tend knows: the first test of a unit
/// when the unit is sent, each next one when the result before it arrives
/// (workers send results in batches, so this may come late, but always
/// before the test's own result).
struct StartedEvent {
    const std::string& binary;
    TestView test;
    pid_t worker_pid;
};

/// Where the run stands, for a live progress line.
struct Progress {
    struct Running {
        const std::string* binary;
        TestView test;
        std::uint64_t running_ns;
    };
    std::uint64_t done = 0;    ///< tests with a final result
    std::uint64_t total = 0;   ///< tests known so far (grows as binaries are listed)
    std::uint64_t failed = 0;  ///< of `done`, those that fail the run
    double elapsed_s = 0;
    std::vector<Running> running;  ///< longest-running first
};

/// Something that went wrong outside any one test.
struct Notice {
    const std::string& binary;
    std::string_view message;
    bool fails_run = true;  ///< false for what is only worth knowing
};

struct Summary {
    std::array<std::uint64_t, kTestStatusCount> counts{};
    std::uint64_t total = 0;
    std::uint64_t filtered = 0;  ///< tests the selection (or the shard) left out
    std::string shard;           ///< "K/N" for a run of one shard, else empty
    double duration_s = 0;
    std::uint64_t workers_started = 0;
    std::uint64_t workers_crashed = 0;
    std::uint64_t workers_timed_out = 0;      ///< killed for a test over --timeout
    std::array<std::uint64_t, 3> recycled{};  ///< by RecycleReason::Kind
    std::uint64_t errors = 0;                 ///< notices that fail the run
    /// How long workers' places stood empty between a worker recycled or
    /// lost while units waited and its replacement's hello (0 with a spare
    /// ready), summed over replacements.
    double replacement_wait_s = 0;

    std::uint64_t count(TestStatus s) const { return counts[static_cast<std::size_t>(s)]; }
    std::uint64_t recycled_total() const { return recycled[0] + recycled[1] + recycled[2]; }
};

/// What a shutdown on SIGINT/SIGTERM did.
/// "SIGINT", "SIGTERM" or "SIGHUP": the signals that interrupt a run.
inline std::string_view signal_name(int sig) {
    return sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM";
}
/// The reverse of signal_name(); SIGTERM for anything else.
inline int signal_from_name(std::string_view name) {
    return name == "SIGINT" ? SIGINT : name == "SIGHUP" ? SIGHUP : SIGTERM;
}

struct ShutdownReport {
    int signal = 0;
    std::uint64_t units_finished = 0;   ///< running units that finished during the drain
    std::uint64_t units_cancelled = 0;  ///< units not started, or cut short
    std::uint64_t workers_killed = 0;   ///< still busy when the grace period ran out
    double duration_s = 0;              ///< from the first signal to the last worker gone
};

class Reporter {
  public:
    virtual ~Reporter() = default;
    virtual void test(const TestEvent& e) = 0;
    virtual void recycle(const RecycleEvent& e) = 0;
    virtual void notice(const Notice& n) = 0;
    virtual void shutdown(const ShutdownReport& r) = 0;
    virtual void summary(const Summary& s) = 0;
    virtual void slow(const SlowEvent&) {}
    virtual void started(const StartedEvent&) {}
    /// Every final result of `binary` has been reported: nothing more of it
    /// comes but notices (a reporter that keeps its results can write them
    /// out and let them go). Not every binary gets one (a run interrupted,
    /// a binary that never started): summary() ends them all.
    virtual void binary_done(const std::string&) {}
    /// How often the reporter wants progress(); zero for never.
    virtual std::chrono::milliseconds progress_interval() const { return {}; }
    virtual void progress(const Progress&) {}
};

}  // namespace tend
