// tend.toml: the settings a project keeps next to its code (docs/config.md).
//
// A run's settings come in layers; for each setting the first layer that
// sets it wins:
//   1. the command line,
//   2. the [[binary]] tables of tend.toml that match the binary (file order,
//      a later table over an earlier one),
//   3. the top level of tend.toml,
//   4. tend's built-in defaults.
// Every layer is a `Settings` whose fields are unset where that layer says
// nothing; resolve_options() stacks them into the pool's options. Parsing is
// pure (parse_config); reading the file, walking up to find it and expanding
// its globs are the only I/O here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pool/pool.hpp"

namespace tend {

/// A setting that may be a value or "none" (no limit): the outer optional
/// says whether the layer sets it at all, the inner one holds the value,
/// empty for "none".
template <typename T>
using NoneOr = std::optional<std::optional<T>>;

/// [limits] of tend.toml, or --max-rss/--max-fds/--max-age.
struct LimitSettings {
    NoneOr<std::uint64_t> max_rss_bytes;
    NoneOr<std::uint64_t> max_open_fds;
    NoneOr<Seconds> max_age;
};

/// What one layer sets; unset = this layer says nothing. A [[binary]] table
/// may set only timeout, slow, retries, startup-timeout,
/// teardown-timeout, limits, args, cwd, env and reuse (the parser enforces
/// it).
struct Settings {
    std::optional<std::size_t> jobs;
    NoneOr<Seconds> timeout;
    /// Tests running longer than this are reported slow (--slow).
    NoneOr<Seconds> slow;
    std::optional<Seconds> grace;
    std::optional<std::uint32_t> retries;
    /// Bounds on a worker's start-up and on a unit's teardown.
    std::optional<Seconds> startup_timeout;
    std::optional<Seconds> teardown_timeout;
    /// fail-fast and max-fail are one setting (stop after N failures): a
    /// layer that sets either replaces both of a lower layer.
    std::optional<bool> fail_fast;
    std::optional<std::size_t> max_fail;
    std::optional<std::size_t> max_worker_deaths;
    LimitSettings limits;
    /// The worker process: extra arguments, a working directory (relative
    /// to the config's directory) and environment variables added to the
    /// run's ("NAME=value").
    std::optional<std::vector<std::string>> args;
    std::optional<std::string> cwd;
    std::optional<std::vector<std::string>> env;
    /// Whether the daemon's workers serve one run or any (Reuse).
    std::optional<Reuse> reuse;
    /// What kind of binary: "auto" (detect), "tend" (a worker), or the
    /// framework of an unmodified binary run in batches ("gtest", ...).
    std::optional<std::string> framework;
};

/// One [[binary]] table: settings for the binaries its glob matches.
struct BinaryOverride {
    /// A glob (fnmatch(3)); see binary_matches() for what it is matched on.
    std::string match;
    std::size_t line = 0;  ///< where the table starts, for messages
    Settings settings;
};

/// A parsed tend.toml. Nothing in it is required.
struct Config {
    /// Glob patterns (glob(3)) naming the test binaries, relative to the
    /// directory of the file; unset when the file has no `binaries`.
    std::optional<std::vector<std::string>> binaries;
    Settings top;
    std::vector<BinaryOverride> overrides;
    /// How many runs of each test the history keeps (history-runs).
    std::optional<std::size_t> history_runs;
};

inline constexpr const char* kConfigFileName = "tend.toml";

/// The tend.toml that applies in `start`: the first one walking up from
/// `start` (made absolute) towards `/`. The walk also stops at a repository
/// root (a directory holding `.git`, a directory or a worktree's file): a
/// project without a tend.toml must not pick up the settings, and the
/// relative globs, of an unrelated project that happens to contain it.
std::optional<std::filesystem::path> find_config(std::filesystem::path start);

/// Parses the text of a tend.toml into `out`. False on the first error, with
/// `error` naming `source_name`, the line and the key:
/// "tend.toml:3: 'jobs' must be an integer, not a string".
bool parse_config(std::string_view text, const std::string& source_name, Config& out,
                  std::string& error);

/// Reads `path` and parses it; messages name the file as `source_name`
/// (the path itself when empty).
bool load_config(const std::filesystem::path& path, Config& out, std::string& error,
                 const std::string& source_name = {});

/// The executable files the `binaries` globs name: each pattern relative to
/// `config_dir` (unless absolute), its matches sorted, patterns in file
/// order, each file once. Directories and files that are not executable are
/// skipped; a pattern left with no match is an error (a stale glob must not
/// quietly run fewer tests). Paths come back as `config_dir / match`.
bool expand_binaries(const std::vector<std::string>& patterns,
                     const std::filesystem::path& config_dir, const std::string& source_name,
                     std::vector<std::string>& out, std::string& error);

/// Whether a [[binary]] `match` glob applies to `binary` (a path as given to
/// tend, relative to the working directory or absolute). A glob without a
/// '/' is matched against the file name alone ("slow_*"); one with a '/'
/// against the binary's path relative to `config_dir` ("build/tests/*"),
/// the same frame as `binaries`, with '*' not crossing a '/'. Paths are
/// compared lexically (made absolute, no symlinks resolved).
bool binary_matches(std::string_view match, const std::string& binary,
                    const std::filesystem::path& config_dir);

/// Lays `over` on `under`: every setting `over` sets replaces `under`'s.
void overlay(Settings& under, const Settings& over);

/// The pool's options for running `binaries`: each setting from the
/// command line (`flags`), else from the [[binary]] tables matching the
/// binary (per-binary settings only), else from the top level of `file`,
/// else from `defaults`.
PoolOptions resolve_options(const std::vector<std::string>& binaries, const Settings& flags,
                            const Config& file, const std::filesystem::path& config_dir,
                            const PoolOptions& defaults);

}  // namespace tend
