// What becomes of the unit of a worker that died while running it.
//
// A dead worker costs at most the test it was running. That test is blamed:
// crashed, or error when the worker broke the protocol, or timed_out when it
// was killed for its time limit or for staying stuck before it could begin.
// Tests that finished but whose results were still batched in the worker run
// again with the rest of the unit, on a fresh worker, scope and all. When a
// protocol break cannot be pinned on a test (results travel in batches), the
// tests since the last result run again "carefully", each result sent at
// once, so a second break is pinned on its test. A death between two tests
// blames none and fails the run with a notice. A worker killed at shutdown
// is no death: what it did not finish is cancelled. The pool reads the status
// page (the running test, how many began) and reports; this decides.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pool/recycle.hpp"
#include "report/events.hpp"

namespace tend {

/// `what`, and the last of the worker's stderr when there is some.
std::string with_tail(std::string what, const std::string& tail);

/// A worker that died running a unit, as the pool knew it.
struct DeadWorker {
    std::string_view unit_name;
    std::span<const std::uint32_t> tests;  ///< the unit's test ids
    bool careful = false;                  ///< the unit was a careful re-run
    std::size_t next = 0;                  ///< index of the first test without a result
    int pid = 0;
    std::string_view how;          ///< "worker 12 was killed by SIGSEGV", or its protocol break
    std::string_view stderr_tail;  ///< the last of its stderr
    bool broke = false;            ///< it broke the protocol
    /// Killed at shutdown, and how (see shutdown.hpp).
    bool killed_at_shutdown = false;
    std::string_view stop_reason;
    bool killed_at_once = false;
    Seconds shutdown_grace{};
    /// Killed for the time limit of this test, which was this limit, set by
    /// --timeout (else declared by the test).
    std::optional<std::size_t> timed_out;
    std::optional<std::chrono::nanoseconds> timed_out_limit;
    bool limit_from_option = false;
    /// Killed for staying between two tests longer than `poll`.
    bool stuck_between = false;
    std::optional<std::chrono::nanoseconds> poll;
    /// From its status page: the test it was running, how many it began.
    std::optional<std::size_t> running;
    std::size_t begun = 0;
};

/// What the dead worker's unit becomes.
struct DeadUnit {
    /// Which count the worker adds to.
    enum class Worker { killed_at_shutdown, timed_out, crashed };
    Worker worker = Worker::crashed;
    /// The test the death is pinned on (an index in the unit) and its report.
    struct Blame {
        std::size_t index;
        TestStatus status;
        std::string detail;
    };
    std::optional<Blame> blamed;
    struct Note {
        std::string message;
        bool fails_run;
    };
    std::optional<Note> notice;
    /// The tests that run again, in order, and whether carefully.
    std::vector<std::uint32_t> rest;
    bool careful = false;
    /// Killed at shutdown: the rest is reported not_run with this.
    std::optional<std::string> cancelled;
};
DeadUnit dead_unit(const DeadWorker& dead);

/// Where the rest of a dead worker's unit goes, decided after the blamed test
/// was reported (its report may stop the run: --max-fail).
struct RestFate {
    enum class Kind {
        requeue,  ///< to the front of the queue, for a fresh worker
        not_run,  ///< the run stops scheduling: reported not_run with `why`
        give_up,  ///< too many deaths: not_run with `why`, the binary given up
    };
    Kind kind = Kind::requeue;
    bool counts_death = false;  ///< the binary's deaths grow by one
    std::string why;
    std::string give_up_why;
};
/// `deaths` of the binary before this one, --max-worker-deaths `max_deaths`.
RestFate rest_fate(std::string_view stop_reason, std::size_t deaths, std::size_t max_deaths,
                   std::string_view how);

/// A worker that tend asked to stop (every test of it reported) and that has
/// exited since: its exit is where exit-time checks speak (a leak checker, an
/// atexit handler, a static destructor that calls exit(1)).
struct StoppedWorker {
    std::string_view how;  ///< "worker 12 exited with status 1", or its protocol break
    bool clean = false;    ///< exited with status 0, the protocol kept
    bool broke = false;    ///< it broke the protocol (tend killed it for that)
    /// It died of a signal that tend sent it (SIGTERM at shutdown, SIGKILL
    /// after the grace period of a stop): tend's doing, not the binary's.
    bool killed_by_tend = false;
    std::string_view stderr_tail;
};
/// The notice for a stopped worker's exit, or none when it was clean. An exit
/// on its own with a non-zero status, or death by a signal tend did not send,
/// fails the run as it fails the binary run alone; tend's own kills and
/// protocol breaks after shutdown are only said.
std::optional<DeadUnit::Note> stopped_worker_notice(const StoppedWorker& stopped);

}  // namespace tend
