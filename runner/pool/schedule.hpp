// Which unit a free worker takes next, and which binary gets the next worker.
//
// A worker runs its own binary's units, first waiting first; a retry is not
// given to the worker it failed on. A free place in the pool goes first to a
// binary whose tests are not known yet (its first worker lists them), then to
// the binary with the most units waiting beyond the workers already ready for
// them. When every place is taken and some binary waits, idle workers with
// nothing they may take give up theirs. The pool describes each binary as a
// plain BinaryQueue and does what these functions return: scheduling by
// history, shards and spares plug in here.
//
// With a history (PoolOptions::estimates), longest processing time first:
// a binary's units wait longest first (order_longest_first), and a free
// place goes to the binary whose longest waiting (or, not listed yet,
// longest recorded) unit is longest. A unit without history is estimated
// at its binary's median unit, a binary without any at the run's median;
// without history at all, everything is as above.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pool/plan.hpp"

namespace tend {

/// One binary as the scheduler sees it.
struct BinaryQueue {
    bool listed = false;       ///< its tests are known
    bool discovering = false;  ///< its first worker is listing them
    bool given_up = false;     ///< no worker starts for it any more
    std::size_t waiting = 0;   ///< units waiting
    /// Workers that will take one of them: starting, or idle with a unit
    /// they may take.
    std::size_t ready = 0;
    /// The estimate of its longest waiting unit (not listed yet: of its
    /// longest recorded one), in seconds; negative: no history.
    double longest_s = -1;
};

/// Expected seconds by unit name: one binary's units as the history knows them.
using UnitEstimates = std::unordered_map<std::string, double>;

/// The median of the estimates (the lower middle of an even count), or
/// nothing for none.
std::optional<double> median_estimate(const UnitEstimates& known);
/// The median of every binary's estimates together, or nothing for none.
std::optional<double> median_estimate(const std::vector<UnitEstimates>& known);

/// Longest processing time first: each unit gets its estimate (its own from
/// `known`, else the median of `known`, else `fallback`) and the units are
/// ordered longest first, equals keeping their order. With no estimate at
/// all (`known` empty, no fallback) nothing changes.
void order_longest_first(std::vector<Unit>& units, const UnitEstimates& known,
                         std::optional<double> fallback);

/// The first of `pending` that the worker `pid` may take (a retry avoids the
/// worker it failed on), as an index, or nothing.
std::optional<std::size_t> takeable_unit(const std::deque<Unit>& pending, int pid);

/// Whether the binary wants one more worker: its first one, to list it, or
/// one for units no ready worker will take.
bool needs_worker(const BinaryQueue& binary);

/// Who the next worker is for: the binary (an index) and whether it lists.
struct NextWorker {
    std::size_t binary = 0;
    bool discover = false;
};
/// The binary a free place goes to: the first not yet listed nor listing,
/// else the one with the most units waiting beyond its ready workers (the
/// first of equals); nothing when none wants one. When some binary has an
/// estimate (longest_s), of those that want a worker (to list, or for
/// units), the one with the longest unit; of equals, one to list, then the
/// one with the most waiting, then the first.
std::optional<NextWorker> next_worker(const std::vector<BinaryQueue>& binaries);

/// How many idle workers with nothing to take may give up their place, with
/// `live` workers in a pool of `jobs`, when some binary (or, with a warm
/// pool, another run) waits: enough to bring the pool under `jobs`, and with
/// a warm pool at least one.
std::size_t workers_to_free(bool someone_waits, std::size_t live, std::size_t jobs, bool warm);

}  // namespace tend
