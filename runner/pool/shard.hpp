// Sharding: which of a run's units the K-th of N machines runs
// (`tend run --shard K/N`, docs/ci.md).
//
// A pure decision over plain data, so that every machine given the same
// binaries (in the same order), the same selection and the same durations
// computes the same partition:
//
// - Units are never split: a unit (plan.hpp) goes whole to one shard, and
//   every unit to exactly one.
// - Items are taken in a stable order (binary order, then each binary's unit
//   order as planned) and sorted by cost, largest first, ties keeping that
//   order; each goes to the shard with the least cost so far, ties to the
//   lowest shard (LPT, longest processing time first).
// - The cost is the unit's estimated seconds when any unit has one (a unit
//   without one is estimated from its binary's known units per test, else
//   from all known units per test), else its test count. Either way one
//   rule, and with counts it balances tests as well as a contiguous split
//   while never putting two big units in one shard when another has room.
//
// K counts from 1 (`--shard 1/4` .. `--shard 4/4`, as GitLab's
// CI_NODE_INDEX); Bazel's TEST_SHARD_INDEX counts from 0 and is mapped
// (shard_from_env()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pool/plan.hpp"

namespace tend {

/// The K-th of N slices, K from 1.
struct Shard {
    std::size_t index = 1;  ///< K, 1..total
    std::size_t total = 1;  ///< N
    bool operator==(const Shard&) const = default;
};

/// "K/N".
std::string to_string(const Shard& s);

/// Parses "K/N" (1 <= K <= N, both decimal). Nothing, with `error` saying
/// what is wrong, otherwise.
std::optional<Shard> parse_shard(std::string_view text, std::string& error);

/// Where a shard came from: the environment a CI engine sets.
struct EnvShard {
    std::optional<Shard> shard;
    std::string origin;  ///< "TEST_SHARD_INDEX/TEST_TOTAL_SHARDS" or "CI_NODE_INDEX/CI_NODE_TOTAL"
};

/// The shard the environment asks for: Bazel's test sharding protocol
/// (TEST_SHARD_INDEX from 0, TEST_TOTAL_SHARDS), else GitLab's `parallel:`
/// (CI_NODE_INDEX from 1, CI_NODE_TOTAL; CI_NODE_TOTAL alone, which GitLab
/// sets to 1 for a job that is not parallel, asks for nothing). `getenv`
/// looks a variable up (null: unset). False with `error` naming the
/// variables when their values are wrong or one of a pair is missing.
bool shard_from_env(const std::function<const char*(const char*)>& getenv, EnvShard& out,
                    std::string& error);

/// One unit as the partition sees it.
struct ShardItem {
    std::size_t tests = 0;
    std::optional<double> seconds;  ///< estimated duration, when known
    std::size_t group = 0;          ///< its binary: unknown durations are estimated per group
};

/// The shard (0-based) of each item, parallel to `items`. `shards` >= 1.
std::vector<std::size_t> partition(const std::vector<ShardItem>& items, std::size_t shards);

/// Estimated seconds per unit: by binary (the path as in
/// PoolOptions::binaries), then by unit name (Unit::name). Empty: none, the
/// partition balances test counts.
using UnitDurations = std::map<std::string, std::map<std::string, double>>;

/// Keeps, of each binary's planned units (`planned`, parallel to
/// `binaries`), those of `shard`; returns how many tests were left out.
std::uint64_t keep_shard(std::vector<std::vector<Unit>>& planned,
                         const std::vector<std::string>& binaries, const UnitDurations& durations,
                         const Shard& shard);

}  // namespace tend
