// A run asked of the daemon, as JSON: the `params` of the JSON-RPC `run`
// method (docs/editor-protocol.md). `tend run` sends every setting it
// resolved (flags over tend.toml over defaults), so a run through the
// daemon behaves as it would without it; an editor may send only
// `binaries` and a `filter`, and gets tend's defaults for the rest.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "pool/pool.hpp"

namespace tend {

/// What a client hears of its run besides the results and the end.
struct RunFeed {
    std::chrono::milliseconds progress{};  ///< `progress` notifications this often; zero: never
    /// A `test_started` notification per test. `tend run` has no use for
    /// them, and asks for none: they were half of what a run sent.
    bool test_started = true;
};

/// `options` as run params, with what the client wants to hear.
nlohmann::ordered_json run_params(const PoolOptions& options, const RunFeed& feed);

/// Reads run params over `defaults`. False with `error` naming the field
/// for params that are not a run: "params.binaries: expected an array of
/// strings". Relative binary paths are refused (the daemon's working
/// directory is not the client's).
bool parse_run_params(const nlohmann::json& params, const PoolOptions& defaults, PoolOptions& out,
                      std::chrono::milliseconds& progress, std::string& error);
bool parse_run_params(const nlohmann::json& params, const PoolOptions& defaults, PoolOptions& out,
                      RunFeed& feed, std::string& error);

/// The bytes `options` holds, the object and what it points to (strings,
/// vectors, the selection), allocator headers included, roughly: what a
/// run waiting in the daemon's queue costs (most of it is the client's
/// environment).
std::size_t held_bytes(const PoolOptions& options);

}  // namespace tend
