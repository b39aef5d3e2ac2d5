// How much the daemon remembers: its caches (test lists by binary path,
// statistics by binary) are bounded by count and by bytes, and what goes
// first is what was used longest ago. A pure decision over plain data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tend {

struct CacheLimits {
    std::size_t max_entries = 64;
    std::size_t max_bytes = 32u << 20;
};

struct CacheEntry {
    std::uint64_t last_used = 0;  ///< a use counter: larger is more recent
    std::size_t bytes = 0;
    bool pinned = false;  ///< in use by a run: it stays, and counts
};

/// The entries to drop (indices into `entries`, least recently used first)
/// so that what stays is within `limits`, as far as dropping entries that
/// are not pinned can make it. The most recently used entry always stays,
/// however big: a binary is never evicted by itself.
std::vector<std::size_t> over_budget(const std::vector<CacheEntry>& entries,
                                     const CacheLimits& limits);

}  // namespace tend
