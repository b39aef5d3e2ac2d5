// The status page: one page of shared memory the supervisor hands a worker
// (descriptor named by TEND_STATUS_FD; see docs/protocol.md, "Status page").
//
// The worker stores, with plain memory writes and no syscall, which test of
// which unit it is running. Results can then travel in batches: when a worker
// dies, the supervisor reads the page and knows exactly which test was
// running, and which finished tests' results were still in the worker's
// batch (those run again). A worker that ignores the page loses nothing but
// the batching: it must then send each result as soon as the test ends.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tend::protocol {

/// Environment variable naming the page's descriptor in the worker.
inline constexpr const char* kStatusFdEnv = "TEND_STATUS_FD";
/// Bytes the supervisor maps (the page need not be bigger than the struct).
inline constexpr std::size_t kStatusPageBytes = 4096;

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
};

static_assert(std::atomic<std::uint32_t>::is_always_lock_free &&
                  std::atomic<std::uint64_t>::is_always_lock_free,
              "the status page is shared between processes: its atomics must be lock-free");

}  // namespace tend::protocol

namespace tend::protocol {
// The layout is part of the protocol (docs/protocol.md, "Status page").
static_assert(offsetof(StatusPage, attached) == 0 && offsetof(StatusPage, started) == 4 &&
                  offsetof(StatusPage, unit) == 8 && offsetof(StatusPage, test_id) == 16 &&
                  offsetof(StatusPage, started_ns) == 24 && sizeof(StatusPage) <= kStatusPageBytes,
              "StatusPage must keep its documented layout");
}  // namespace tend::protocol
