// Sharding: K/N parsing, the environment (GitLab, Bazel), the partition.
#include "pool/shard.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <string>

namespace {

using tend::Shard;
using tend::ShardItem;
using tend::Unit;

/// A binary's planned units, with the given test counts, ids counting on.
std::vector<Unit> units_of(std::size_t binary, const std::vector<std::size_t>& sizes) {
    std::vector<Unit> out;
    std::uint32_t id = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        Unit u;
        u.binary = binary;
        u.name = "u" + std::to_string(i);
        for (std::size_t t = 0; t < sizes[i]; ++t) u.tests.push_back(id++);
        out.push_back(u);
    }
    return out;
}

/// Each shard of N: (binary, unit name) it keeps.
std::vector<std::set<std::pair<std::size_t, std::string>>> all_shards(
    const std::vector<std::vector<Unit>>& planned, std::size_t n,
    const tend::UnitDurations& durations = {}) {
    std::vector<std::string> binaries;
    for (std::size_t b = 0; b < planned.size(); ++b) binaries.push_back("b" + std::to_string(b));
    std::vector<std::set<std::pair<std::size_t, std::string>>> out;
    for (std::size_t k = 1; k <= n; ++k) {
        auto copy = planned;
        tend::keep_shard(copy, binaries, durations, Shard{k, n});
        out.emplace_back();
        for (std::size_t b = 0; b < copy.size(); ++b) {
            for (const auto& u : copy[b]) out.back().emplace(b, u.name);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("parse_shard takes K/N with K from 1 to N") {
    std::string error;
    CHECK(tend::parse_shard("1/4", error) == Shard{1, 4});
    CHECK(tend::parse_shard("4/4", error) == Shard{4, 4});
    CHECK(tend::parse_shard("1/1", error) == Shard{1, 1});
    CHECK(tend::to_string(Shard{3, 8}) == "3/8");
    for (const char* bad : {"0/4", "5/4", "1/0", "1", "a/4", "1/b", "-1/4", "1/4/2", "", "/",
                            " 1/4", "1/ 4", "+1/4"}) {
        CAPTURE(bad);
        error.clear();
        CHECK_FALSE(tend::parse_shard(bad, error));
        CHECK(error.find(bad) != std::string::npos);
    }
    CHECK_FALSE(tend::parse_shard("5/4", error));
    CHECK(error.find("K counts from 1 to N") != std::string::npos);
}

TEST_CASE("shard_from_env maps Bazel's 0-based and GitLab's 1-based indexes") {
    std::map<std::string, std::string> env;
    auto get = [&](const char* name) -> const char* {
        const auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    };
    tend::EnvShard out;
    std::string error;
    REQUIRE(tend::shard_from_env(get, out, error));
    CHECK_FALSE(out.shard);

    env = {{"CI_NODE_TOTAL", "1"}};  // GitLab, a job that is not parallel
    REQUIRE(tend::shard_from_env(get, out, error));
    CHECK_FALSE(out.shard);

    env = {{"CI_NODE_INDEX", "1"}, {"CI_NODE_TOTAL", "3"}};
    REQUIRE(tend::shard_from_env(get, out, error));
    CHECK(out.shard == Shard{1, 3});
    CHECK(out.origin == "CI_NODE_INDEX/CI_NODE_TOTAL");
    env["CI_NODE_INDEX"] = "3";
    REQUIRE(tend::shard_from_env(get, out, error));
    CHECK(out.shard == Shard{3, 3});

    env = {{"TEST_SHARD_INDEX", "0"}, {"TEST_TOTAL_SHARDS", "3"}};
    REQUIRE(tend::shard_from_env(get, out, error));
    CHECK(out.shard == Shard{1, 3});
    env["TEST_SHARD_INDEX"] = "2";
    REQUIRE(tend::shard_from_env(get, out, error));
    CHECK(out.shard == Shard{3, 3});
    CHECK(out.origin == "TEST_SHARD_INDEX/TEST_TOTAL_SHARDS");

    // Bazel's, inside a GitLab job, wins.
    env["CI_NODE_INDEX"] = "1";
    env["CI_NODE_TOTAL"] = "2";
    REQUIRE(tend::shard_from_env(get, out, error));
    CHECK(out.shard == Shard{3, 3});

    for (const auto& bad : std::vector<std::map<std::string, std::string>>{
             {{"TEST_SHARD_INDEX", "3"}, {"TEST_TOTAL_SHARDS", "3"}},
             {{"TEST_SHARD_INDEX", "0"}},
             {{"TEST_TOTAL_SHARDS", "2"}},
             {{"TEST_SHARD_INDEX", "x"}, {"TEST_TOTAL_SHARDS", "2"}},
             {{"TEST_SHARD_INDEX", "0"}, {"TEST_TOTAL_SHARDS", "0"}},
             {{"CI_NODE_INDEX", "0"}, {"CI_NODE_TOTAL", "2"}},
             {{"CI_NODE_INDEX", "3"}, {"CI_NODE_TOTAL", "2"}},
             {{"CI_NODE_INDEX", "1"}}}) {
        env = bad;
        error.clear();
        CHECK_FALSE(tend::shard_from_env(get, out, error));
        // The message names the variable that is wrong.
        CHECK(error.find(bad.begin()->first) != std::string::npos);
    }
}

TEST_CASE("partition: every unit in exactly one shard, balanced by test count") {
    const std::vector<std::vector<Unit>> planned{units_of(0, {5, 3, 1, 1}), units_of(1, {4, 2}),
                                                 units_of(2, {1})};
    for (std::size_t n : {1, 2, 3, 4, 7}) {
        CAPTURE(n);
        const auto shards = all_shards(planned, n);
        std::set<std::pair<std::size_t, std::string>> seen;
        std::size_t count = 0;
        for (const auto& s : shards) {
            count += s.size();
            seen.insert(s.begin(), s.end());
        }
        CHECK(count == 7);        // disjoint
        CHECK(seen.size() == 7);  // and whole
    }
    // 17 tests in 2: LPT by count gives 9 and 8.
    std::vector<std::string> binaries{"b0", "b1", "b2"};
    auto one = planned;
    auto two = planned;
    const auto out1 = tend::keep_shard(one, binaries, {}, Shard{1, 2});
    const auto out2 = tend::keep_shard(two, binaries, {}, Shard{2, 2});
    CHECK(out1 + out2 == 17);
    CHECK(std::max(out1, out2) - std::min(out1, out2) <= 1);
}

TEST_CASE("partition is stable: ties go to the lowest shard, in binary then unit order") {
    const std::vector<ShardItem> items{{2, {}, 0}, {2, {}, 0}, {2, {}, 1}, {2, {}, 1}};
    CHECK(tend::partition(items, 2) == std::vector<std::size_t>{0, 1, 0, 1});
    CHECK(tend::partition(items, 3) == std::vector<std::size_t>{0, 1, 2, 0});
    // The same input, the same answer.
    CHECK(tend::partition(items, 3) == tend::partition(items, 3));
    CHECK(tend::partition({}, 3).empty());
    CHECK(tend::partition(items, 1) == std::vector<std::size_t>{0, 0, 0, 0});
}

TEST_CASE("partition with more shards than units leaves shards empty") {
    const std::vector<std::vector<Unit>> planned{units_of(0, {3}), units_of(1, {2})};
    const auto shards = all_shards(planned, 5);
    CHECK(shards[0] == std::set<std::pair<std::size_t, std::string>>{{0, "u0"}});
    CHECK(shards[1] == std::set<std::pair<std::size_t, std::string>>{{1, "u0"}});
    CHECK(shards[2].empty());
    CHECK(shards[3].empty());
    CHECK(shards[4].empty());
}

TEST_CASE("partition: a binary only some shards touch has no units in the others") {
    auto planned = std::vector<std::vector<Unit>>{units_of(0, {10, 10}), units_of(1, {1})};
    std::vector<std::string> binaries{"big", "small"};
    auto copy = planned;
    tend::keep_shard(copy, binaries, {}, Shard{3, 3});
    CHECK(copy[0].empty());
    REQUIRE(copy[1].size() == 1);  // the shard runs the small binary alone
    copy = planned;
    tend::keep_shard(copy, binaries, {}, Shard{1, 3});
    CHECK(copy[0].size() == 1);
    CHECK(copy[1].empty());
}

TEST_CASE("partition by durations: LPT, unknown units estimated per test") {
    // Test counts alone would pair the big units apart; durations say the
    // one-test unit is the long one.
    std::vector<ShardItem> items{{10, 1.0, 0}, {10, 1.0, 0}, {1, 10.0, 0}, {5, {}, 0}};
    // Unknown: the binary's 12 s over 21 tests, times 5, about 2.9 s.
    const auto bins = tend::partition(items, 2);
    CHECK(bins[2] == 0);  // the 10 s unit first, alone in shard 1
    CHECK(bins[3] == 1);
    CHECK(bins[0] == 1);
    CHECK(bins[1] == 1);

    // Through keep_shard, by binary path and unit name.
    const std::vector<std::vector<Unit>> planned{units_of(0, {3, 3, 3, 3})};
    tend::UnitDurations durations{{"b0", {{"u3", 30.0}, {"u0", 1.0}, {"u1", 1.0}, {"u2", 1.0}}}};
    const auto shards = all_shards(planned, 2, durations);
    CHECK(shards[0] == std::set<std::pair<std::size_t, std::string>>{{0, "u3"}});
    CHECK(shards[1].size() == 3);

    // A binary with no known unit takes the seconds per test of all others.
    items = {{1, 4.0, 0}, {4, {}, 1}, {1, 1.0, 0}};
    // 5 s over 2 tests: 2.5 s per test, the unknown unit 10 s.
    CHECK(tend::partition(items, 2) == std::vector<std::size_t>{1, 0, 1});
}
