// Unit planning: see plan.hpp.
#include "pool/plan.hpp"

#include <algorithm>
#include <unordered_map>

namespace tend {

std::vector<Unit> plan_units(std::size_t binary, const TestTable& tests,
                             const std::vector<std::uint32_t>* chosen) {
    std::vector<Unit> units;
    // By the table's unit key: suites and files live in separate key spaces,
    // so a suite named like a file does not merge with that file's
    // suite-less tests.
    std::unordered_map<std::uint32_t, std::size_t> index;
    auto add = [&](std::uint32_t id) {
        auto [it, inserted] = index.try_emplace(tests.unit_key(id), units.size());
        if (inserted) {
            const auto t = tests[id];
            units.push_back(Unit{binary, std::string(t.suite.empty() ? t.file : t.suite), {}});
        }
        units[it->second].tests.push_back(id);
    };
    if (chosen) {
        for (const auto id : *chosen) add(id);
    } else {
        for (std::size_t id = 0; id < tests.size(); ++id) add(static_cast<std::uint32_t>(id));
    }
    for (auto& u : units) std::sort(u.tests.begin(), u.tests.end());
    std::stable_sort(units.begin(), units.end(),
                     [](const Unit& a, const Unit& b) { return a.tests.size() > b.tests.size(); });
    return units;
}

}  // namespace tend
