// When a worker has grown too big and must be replaced.
//
// The decision is a pure function of the worker's latest health, its age and
// the limits, taken only at a unit boundary after the unit's teardown ran
// (pool.cpp). Memory is checked first, then descriptors, then age: the first
// signal at or over its limit is the reason. A missing limit or a missing
// reading skips that signal.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "messages.hpp"

namespace tend {

using Seconds = std::chrono::duration<double>;

/// Per-worker limits; each is optional (absent = never recycle on it).
struct WorkerLimits {
    std::optional<std::uint64_t> max_rss_bytes;
    std::optional<std::uint64_t> max_open_fds;
    std::optional<Seconds> max_age;

    /// No limits at all: a worker lives until the run ends.
    static WorkerLimits unlimited() { return {}; }
    /// The defaults `tend run` uses (docs/user-guide.md, "Recycling and its defaults"):
    /// 1 GiB of RSS; half the descriptor limit workers get (none when that is
    /// unlimited); one hour of age.
    static WorkerLimits defaults(std::optional<std::uint64_t> worker_fd_limit);
};

/// Default RSS limit: generous for a test process, small enough that N
/// workers at the limit still leave a typical machine room.
inline constexpr std::uint64_t kDefaultMaxRssBytes = 1024ull * 1024 * 1024;
/// Default age limit: bounds slow drift that RSS and descriptor counts do not
/// show (caches, global registries), long enough never to matter in one run.
inline constexpr Seconds kDefaultMaxAge{3600.0};

struct RecycleReason {
    enum class Kind { memory, fds, age };
    Kind kind;
    double measured;  ///< bytes, descriptors or seconds
    double limit;

    /// "memory", "fds" or "age".
    std::string_view name() const;
    /// A sentence a person understands: "rss 1.2 GiB ≥ limit 1.0 GiB".
    std::string sentence() const;
};

/// Decides whether a worker must be recycled; see the top of this file.
std::optional<RecycleReason> evaluate_recycle(const protocol::Health& health, Seconds age,
                                              const WorkerLimits& limits);

}  // namespace tend
