// Where a worker is in its life, as the pool sees it: the one word the pool
// and its decisions (schedule, shutdown, deadline) share about a worker.
#pragma once

namespace tend {

enum class SlotState {
    starting,    ///< spawned, no hello yet
    listing,     ///< the binary's first worker, asked for its tests
    idle,        ///< waiting for a unit
    running,     ///< running a unit, results streaming back
    finalizing,  ///< the unit's scope teardown
    stopping,    ///< asked to go; its exit is on the way
};

}  // namespace tend
