// Unit planning: see plan.hpp.
#include "pool/plan.hpp"

#include <algorithm>
#include <unordered_map>

namespace tend {

std::vector<Unit> plan_units(std::size_t binary, const std::vector<protocol::TestInfo>& tests) {
    std::vector<Unit> units;
    std::unordered_map<std::string, std::size_t> index;
    for (const auto& t : tests) {
        // Suites and files live in separate key spaces: a suite named like a
        // file must not merge with that file's suite-less tests.
        std::string key = t.suite.empty() ? "f:" + t.file : "s:" + t.suite;
        auto [it, inserted] = index.try_emplace(std::move(key), units.size());
        if (inserted) units.push_back(Unit{binary, t.suite.empty() ? t.file : t.suite, {}});
        units[it->second].tests.push_back(t.id);
    }
    for (auto& u : units) std::sort(u.tests.begin(), u.tests.end());
    std::stable_sort(units.begin(), units.end(),
                     [](const Unit& a, const Unit& b) { return a.tests.size() > b.tests.size(); });
    return units;
}

}  // namespace tend
