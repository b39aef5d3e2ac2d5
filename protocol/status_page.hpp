// The status page: one page of shared memory the supervisor hands a worker
// (descriptor named by TEND_STATUS_FD; see docs/protocol.md, "Status page").
//
// The worker stores, with plain memory writes and no syscall, which test of
// which unit it is running, how many it finished, and whether it waits for a
// command. Results can then travel in batches: the batch itself sits in the
// mapping, after the page, so when a worker dies, hangs or is stopped, the
// supervisor still has every result the worker finished. The page also tells
// the supervisor when the two sides disagree (the worker waits for a command
// while the supervisor waits for a result: the stream lost its framing) and
// whether a result came before its test was finished (forged by the test).
// A worker that ignores the page loses nothing but the batching: it must then
// send each result as soon as the test ends.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tend::protocol {

/// Environment variable naming the page's descriptor in the worker.
inline constexpr const char* kStatusFdEnv = "TEND_STATUS_FD";
/// Bytes of the page proper (the struct below, then unused).
inline constexpr std::size_t kStatusPageBytes = 4096;
/// Bytes of the batch area that follows the page.
inline constexpr std::size_t kBatchAreaBytes = 64 * 1024;
/// Bytes of the whole mapping: the page, then the batch area.
inline constexpr std::size_t kStatusMapBytes = kStatusPageBytes + kBatchAreaBytes;

struct StatusPage {
    /// 1 once the worker has mapped the page and keeps it up to date.
    std::atomic<std::uint32_t> attached;
    /// Tests of `unit` begun so far (the k-th test begun sets k).
    std::atomic<std::uint32_t> started;
    /// The unit of the run request being served (0: none yet).
    std::atomic<std::uint64_t> unit;
    /// The id of the test begun last.
    std::atomic<std::uint32_t> test_id;
    /// When the test begun last started: CLOCK_MONOTONIC, in nanoseconds.
    std::atomic<std::int64_t> started_ns;
    /// Tests of `unit` finished so far, set before the test's result is
    /// encoded: a result that arrives for a test not finished yet was not
    /// written by the worker.
    std::atomic<std::uint32_t> finished;
    /// 1 while the worker is blocked reading its next command.
    std::atomic<std::uint32_t> waiting;
    /// Bytes of result frames at the start of the batch area that the worker
    /// has not written to the result descriptor yet (0 when all were sent).
    std::atomic<std::uint32_t> batch_bytes;
    /// The worker's group guard (0: none): a process of the worker's group,
    /// a child of the supervisor, that kills the group when the supervisor
    /// dies. The supervisor leaves it alone while the worker lives.
    std::atomic<std::uint32_t> guard_pid;
    /// Counts the batch area's resets: the worker adds 1 after storing
    /// `batch_bytes` = 0, before it writes new frames at the area's start.
    /// A reader that copies the area while the worker runs keeps its copy
    /// only if this is the same before and after (a seqlock).
    std::atomic<std::uint32_t> batch_seq;
};

static_assert(std::atomic<std::uint32_t>::is_always_lock_free &&
                  std::atomic<std::uint64_t>::is_always_lock_free,
              "the status page is shared between processes: its atomics must be lock-free");

}  // namespace tend::protocol

namespace tend::protocol {
// The layout is part of the protocol (docs/protocol.md, "Status page").
static_assert(offsetof(StatusPage, attached) == 0 && offsetof(StatusPage, started) == 4 &&
                  offsetof(StatusPage, unit) == 8 && offsetof(StatusPage, test_id) == 16 &&
                  offsetof(StatusPage, started_ns) == 24 && offsetof(StatusPage, finished) == 32 &&
                  offsetof(StatusPage, waiting) == 36 && offsetof(StatusPage, batch_bytes) == 40 &&
                  offsetof(StatusPage, guard_pid) == 44 && offsetof(StatusPage, batch_seq) == 48 &&
                  sizeof(StatusPage) <= kStatusPageBytes,
              "StatusPage must keep its documented layout");
}  // namespace tend::protocol
