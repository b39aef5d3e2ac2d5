// Sharding: see shard.hpp.
#include "pool/shard.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <numeric>

namespace tend {

std::string to_string(const Shard& s) {
    return fmt::format("{}/{}", s.index, s.total);
}

namespace {

/// A whole decimal number, no sign, no spaces.
std::optional<std::size_t> number(std::string_view s) {
    std::size_t n = 0;
    if (s.empty()) return std::nullopt;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return n;
}

}  // namespace

std::optional<Shard> parse_shard(std::string_view text, std::string& error) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) {
        error = fmt::format("'{}' is not K/N (the K-th of N shards, K from 1: 1/4)", text);
        return std::nullopt;
    }
    const auto k = number(text.substr(0, slash));
    const auto n = number(text.substr(slash + 1));
    if (!k || !n) {
        error = fmt::format("'{}' is not K/N with K and N whole numbers (1/4)", text);
        return std::nullopt;
    }
    if (*n == 0) {
        error = fmt::format("'{}': N must be at least 1", text);
        return std::nullopt;
    }
    if (*k == 0 || *k > *n) {
        error = fmt::format("'{}': K counts from 1 to N ({}), got {}", text, *n, *k);
        return std::nullopt;
    }
    return Shard{*k, *n};
}

bool shard_from_env(const std::function<const char*(const char*)>& getenv, EnvShard& out,
                    std::string& error) {
    out = {};
    auto pair = [&](const char* index_name, const char* total_name, std::size_t first) {
        const char* index = getenv(index_name);
        const char* total = getenv(total_name);
        if (!index && !total) return true;
        const auto named = fmt::format("{}={} {}={}", index_name, index ? index : "(unset)",
                                       total_name, total ? total : "(unset)");
        if (!index || !total) {
            error = fmt::format("{}: both must be set", named);
            return false;
        }
        const auto k = number(index);
        const auto n = number(total);
        if (!k || !n || *n == 0 || *k < first || *k - first >= *n) {
            error =
                fmt::format("{}: {} must be from {} to {}{}, and {} at least 1", named, index_name,
                            first, total_name, first == 0 ? " - 1" : "", total_name);
            return false;
        }
        out.shard = Shard{*k - first + 1, *n};
        out.origin = fmt::format("{}/{}", index_name, total_name);
        return true;
    };
    // Bazel first: it is the innermost launcher when both are set.
    if (!pair("TEST_SHARD_INDEX", "TEST_TOTAL_SHARDS", 0)) return false;
    if (out.shard) return true;
    // GitLab sets CI_NODE_TOTAL=1 for a job that is not parallel, and no
    // CI_NODE_INDEX: that asks for nothing.
    if (!getenv("CI_NODE_INDEX")) return true;
    return pair("CI_NODE_INDEX", "CI_NODE_TOTAL", 1);
}

std::vector<std::size_t> partition(const std::vector<ShardItem>& items, std::size_t shards) {
    std::vector<std::size_t> bin(items.size(), 0);
    if (shards <= 1 || items.empty()) return bin;
    const bool timed =
        std::any_of(items.begin(), items.end(), [](const ShardItem& i) { return i.seconds; });
    std::vector<double> cost(items.size());
    if (timed) {
        // Seconds per test of the known units, per group and overall.
        std::map<std::size_t, std::pair<double, double>> per_group;  // seconds, tests
        double all_s = 0, all_n = 0;
        for (const auto& i : items) {
            if (!i.seconds) continue;
            auto& [s, n] = per_group[i.group];
            s += *i.seconds;
            n += static_cast<double>(i.tests);
            all_s += *i.seconds;
            all_n += static_cast<double>(i.tests);
        }
        for (std::size_t k = 0; k < items.size(); ++k) {
            const auto& i = items[k];
            if (i.seconds) {
                cost[k] = *i.seconds;
                continue;
            }
            const auto g = per_group.find(i.group);
            const auto [s, n] = g != per_group.end() && g->second.second > 0
                                    ? g->second
                                    : std::pair<double, double>{all_s, all_n};
            cost[k] = n > 0 ? s / n * static_cast<double>(i.tests) : 0.0;
        }
    } else {
        for (std::size_t k = 0; k < items.size(); ++k)
            cost[k] = static_cast<double>(items[k].tests);
    }
    std::vector<std::size_t> order(items.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
    std::vector<double> load(shards, 0.0);
    for (const auto k : order) {
        const auto least =
            static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
        bin[k] = least;
        load[least] += cost[k];
    }
    return bin;
}

std::uint64_t keep_shard(std::vector<std::vector<Unit>>& planned,
                         const std::vector<std::string>& binaries, const UnitDurations& durations,
                         const Shard& shard) {
    std::vector<ShardItem> items;
    for (std::size_t b = 0; b < planned.size(); ++b) {
        const std::map<std::string, double>* known = nullptr;
        if (b < binaries.size()) {
            if (const auto it = durations.find(binaries[b]); it != durations.end())
                known = &it->second;
        }
        for (const auto& u : planned[b]) {
            ShardItem item{u.tests.size(), std::nullopt, b};
            if (known) {
                if (const auto it = known->find(u.name); it != known->end())
                    item.seconds = it->second;
            }
            items.push_back(item);
        }
    }
    const auto bins = partition(items, shard.total);
    std::uint64_t left_out = 0;
    std::size_t k = 0;
    for (auto& units : planned) {
        std::vector<Unit> kept;
        for (auto& u : units) {
            if (bins[k++] == shard.index - 1) {
                kept.push_back(std::move(u));
            } else {
                left_out += u.tests.size();
            }
        }
        units = std::move(kept);
    }
    return left_out;
}

}  // namespace tend
