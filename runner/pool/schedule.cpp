// Scheduling decisions: see schedule.hpp.
#include "pool/schedule.hpp"

namespace tend {

std::optional<std::size_t> takeable_unit(const std::deque<Unit>& pending, int pid) {
    for (std::size_t i = 0; i < pending.size(); ++i) {
        const auto& u = pending[i];
        if (u.avoid_pid == 0 || u.avoid_pid != pid) return i;
    }
    return std::nullopt;
}

bool needs_worker(const BinaryQueue& b) {
    if (b.given_up) return false;
    if (!b.listed) return !b.discovering;
    return b.waiting > b.ready;
}

std::optional<NextWorker> next_worker(const std::vector<BinaryQueue>& binaries) {
    for (std::size_t i = 0; i < binaries.size(); ++i) {
        const auto& b = binaries[i];
        if (!b.given_up && !b.listed && !b.discovering) return NextWorker{i, true};
    }
    std::optional<NextWorker> pick;
    std::size_t best = 0;
    for (std::size_t i = 0; i < binaries.size(); ++i) {
        const auto& b = binaries[i];
        if (b.given_up || !b.listed) continue;
        if (b.waiting > b.ready && b.waiting > best) {
            best = b.waiting;
            pick = NextWorker{i, false};
        }
    }
    return pick;
}

std::size_t workers_to_free(bool someone_waits, std::size_t live, std::size_t jobs, bool warm) {
    if (!someone_waits || (live < jobs && !warm)) return 0;
    return live >= jobs ? live - jobs + 1 : 1;
}

}  // namespace tend
