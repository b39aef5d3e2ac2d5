#include "batch_size.hpp"

#include <algorithm>

namespace tend::batch {

std::size_t next_batch_size(std::size_t current, std::uint64_t startup_ns, std::uint64_t tests_ns,
                            std::size_t tests) {
    if (tests == 0) return current;
    // At least a microsecond a test: a batch of no-op tests measures 0.
    const std::uint64_t per_test = std::max<std::uint64_t>(tests_ns / tests, 1000);
    const std::uint64_t wanted = (startup_ns * 10 + per_test - 1) / per_test;
    return static_cast<std::size_t>(std::clamp<std::uint64_t>(wanted, kMinBatch, kMaxBatch));
}

}  // namespace tend::batch
