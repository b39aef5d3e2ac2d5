// How many tests go in one process: a pure decision, from what the last
// batch measured.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tend::batch {

/// The first batch's size, before anything is measured.
inline constexpr std::size_t kFirstBatch = 256;
/// Never fewer: a batch of slow tests still shares one start-up.
inline constexpr std::size_t kMinBatch = 8;
/// Never more: one process's state (leaks, globals a test changed) reaches
/// at most this many tests, and a hang or crash restarts at most this many.
inline constexpr std::size_t kMaxBatch = 1024;

/// The next batch's size: enough tests that the process's start-up (from
/// spawn to the first test's start) is at most a tenth of the batch's time.
/// Nothing measured (0 tests): the size stays `current`.
std::size_t next_batch_size(std::size_t current, std::uint64_t startup_ns, std::uint64_t tests_ns,
                            std::size_t tests);

}  // namespace tend::batch
