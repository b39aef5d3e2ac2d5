// Scheduling decisions: see schedule.hpp.
#include "pool/schedule.hpp"

#include <algorithm>

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

namespace {

std::optional<double> median_of(std::vector<double> values) {
    if (values.empty()) return std::nullopt;
    const auto mid = values.begin() + static_cast<std::ptrdiff_t>((values.size() - 1) / 2);
    std::nth_element(values.begin(), mid, values.end());
    return *mid;
}

/// next_worker() with estimates: longest first.
std::optional<NextWorker> longest_first(const std::vector<BinaryQueue>& binaries) {
    std::optional<NextWorker> pick;
    const BinaryQueue* best = nullptr;
    for (std::size_t i = 0; i < binaries.size(); ++i) {
        const auto& b = binaries[i];
        if (b.given_up) continue;
        const bool discover = !b.listed && !b.discovering;
        if (!discover && !(b.listed && b.waiting > b.ready)) continue;
        bool better = !best || b.longest_s > best->longest_s;
        if (best && b.longest_s == best->longest_s) {
            if (discover != pick->discover)
                better = discover;
            else
                better = !discover && b.waiting > best->waiting;
        }
        if (better) {
            best = &b;
            pick = NextWorker{i, discover};
        }
    }
    return pick;
}

}  // namespace

std::optional<double> median_estimate(const UnitEstimates& known) {
    std::vector<double> values;
    values.reserve(known.size());
    for (const auto& [_, s] : known) values.push_back(s);
    return median_of(std::move(values));
}

std::optional<double> median_estimate(const std::vector<UnitEstimates>& known) {
    std::vector<double> values;
    for (const auto& k : known) {
        for (const auto& [_, s] : k) values.push_back(s);
    }
    return median_of(std::move(values));
}

void order_longest_first(std::vector<Unit>& units, const UnitEstimates& known,
                         std::optional<double> fallback) {
    if (const auto median = median_estimate(known)) fallback = median;
    if (!fallback) return;
    for (auto& u : units) {
        const auto it = known.find(u.name);
        u.estimate_s = it != known.end() ? it->second : *fallback;
    }
    std::stable_sort(units.begin(), units.end(),
                     [](const Unit& a, const Unit& b) { return a.estimate_s > b.estimate_s; });
}

std::optional<NextWorker> next_worker(const std::vector<BinaryQueue>& binaries) {
    if (std::any_of(binaries.begin(), binaries.end(),
                    [](const BinaryQueue& b) { return b.longest_s >= 0; }))
        return longest_first(binaries);
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
