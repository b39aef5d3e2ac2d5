// The recycle decision: see recycle.hpp.
#include "pool/recycle.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "config/quantities.hpp"

namespace tend {

WorkerLimits WorkerLimits::defaults(std::optional<std::uint64_t> worker_fd_limit) {
    WorkerLimits l;
    l.max_rss_bytes = kDefaultMaxRssBytes;
    // Half the descriptor limit: a worker leaking descriptors is replaced
    // long before a test fails with EMFILE, and a unit that legitimately
    // opens many still has the other half.
    if (worker_fd_limit) l.max_open_fds = std::max<std::uint64_t>(*worker_fd_limit / 2, 16);
    l.max_age = kDefaultMaxAge;
    return l;
}

std::string_view RecycleReason::name() const {
    switch (kind) {
        case Kind::memory:
            return "memory";
        case Kind::fds:
            return "fds";
        case Kind::age:
            return "age";
    }
    return "?";
}

std::string RecycleReason::sentence() const {
    switch (kind) {
        case Kind::memory:
            return fmt::format("rss {} ≥ limit {}", format_bytes(measured), format_bytes(limit));
        case Kind::fds:
            return fmt::format("open fds {:.0f} ≥ limit {:.0f}", measured, limit);
        case Kind::age:
            return fmt::format("age {:.3g} s ≥ limit {:.3g} s", measured, limit);
    }
    return "?";
}

std::optional<RecycleReason> evaluate_recycle(const protocol::Health& health, Seconds age,
                                              const WorkerLimits& limits) {
    using K = RecycleReason::Kind;
    if (limits.max_rss_bytes && health.rss_bytes && *health.rss_bytes >= *limits.max_rss_bytes) {
        return RecycleReason{K::memory, static_cast<double>(*health.rss_bytes),
                             static_cast<double>(*limits.max_rss_bytes)};
    }
    if (limits.max_open_fds && health.open_fds && *health.open_fds >= *limits.max_open_fds) {
        return RecycleReason{K::fds, static_cast<double>(*health.open_fds),
                             static_cast<double>(*limits.max_open_fds)};
    }
    if (limits.max_age && age >= *limits.max_age) {
        return RecycleReason{K::age, age.count(), limits.max_age->count()};
    }
    return std::nullopt;
}

}  // namespace tend
