// When `tend run` starts a spare: a worker of a binary, started beyond -j
// and kept idle, that takes the place of one recycled or lost at once
// instead of after a start-up.
//
// A spare costs a start-up, so one is started only when a replacement is
// likely to be needed while the binary still has units waiting: a running
// worker of the binary is near a recycling limit (it will be replaced at its
// unit's end: the spare starts while that unit runs, not after), or a worker
// of the binary crashed already in this run (crashes are not foreseen: after
// the first, a spare waits for the next, unless the next death would give
// the binary up). At most one spare per binary. Pure functions over plain
// data.
#pragma once

#include <cstddef>

#include "pool/recycle.hpp"

namespace tend {

/// Whether a worker with `health` at `age` will be recycled at its unit's
/// end: a limit reached, or within a tenth of it (memory and descriptors
/// grow while tests run; age only grows).
bool recycle_likely(const protocol::Health& health, Seconds age, const WorkerLimits& limits);

/// One binary as the spare decision sees it.
struct SpareSituation {
    bool units_waiting = false;  ///< units not yet on a worker
    bool has_spare = false;      ///< one is started already
    std::size_t crashed = 0;     ///< workers lost mid-unit in this run
    /// One more death gives the binary up (--max-worker-deaths): a spare
    /// kept for it would never run.
    bool last_death_left = false;
    bool recycle_due = false;  ///< a running worker is likely to be recycled
};

/// Whether to start a spare for the binary now.
bool wants_spare(const SpareSituation& s);

}  // namespace tend
