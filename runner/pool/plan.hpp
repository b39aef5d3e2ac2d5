// Planning: grouping a binary's tests into units and ordering the units.
//
// A unit is the group of tests that share a scope fixture and so must run on
// one worker, in one request, followed by one teardown. For doctest that is a
// TEST_SUITE; tests outside any suite form one unit per source file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pool/test_table.hpp"

namespace tend {

struct Unit {
    std::size_t binary = 0;            ///< index into the run's binaries
    std::string name;                  ///< the suite, or the file for suite-less tests
    std::vector<std::uint32_t> tests;  ///< test ids, ascending (the worker's run order)
    int avoid_pid = 0;  ///< a retry: not on the worker that failed it (0: any worker)
    /// The rest of a unit whose worker broke the protocol: run with each
    /// result sent at once, so a second break is pinned on its test.
    bool careful = false;
    /// Expected seconds, from the history (schedule.hpp); negative: unknown.
    double estimate_s = -1;
};

/// Groups `tests` (as listed by one worker of binary `binary`), or those of
/// them whose ids are in `chosen` (ascending), into units, largest first so
/// the long poles start early; ties keep listing order.
std::vector<Unit> plan_units(std::size_t binary, const TestTable& tests,
                             const std::vector<std::uint32_t>* chosen = nullptr);

}  // namespace tend
