// Cache bounds: see cache_bound.hpp.
#include "daemon/cache_bound.hpp"

#include <algorithm>
#include <numeric>

namespace tend {

std::vector<std::size_t> over_budget(const std::vector<CacheEntry>& entries,
                                     const CacheLimits& limits) {
    std::size_t count = entries.size();
    std::size_t bytes = 0;
    for (const auto& e : entries) bytes += e.bytes;
    if (count <= limits.max_entries && bytes <= limits.max_bytes) return {};
    std::vector<std::size_t> order(entries.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return entries[a].last_used < entries[b].last_used;
    });
    std::vector<std::size_t> drop;
    for (std::size_t i = 0; i + 1 < order.size(); ++i) {  // never the newest
        if (count <= limits.max_entries && bytes <= limits.max_bytes) break;
        if (entries[order[i]].pinned) continue;
        drop.push_back(order[i]);
        --count;
        bytes -= entries[order[i]].bytes;
    }
    return drop;
}

}  // namespace tend
