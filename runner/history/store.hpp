// The history store: what earlier runs measured, in SQLite, for scheduling
// (longest first), `tend history`, and shards balanced by duration.
//
// One file (`.tend/history.db` beside tend.toml, else in the working
// directory; TEND_STATE_DIR, TEND_HISTORY or --history name another) holds,
// per test and per unit, the duration, outcome, attempts and the worker's
// RSS of each of the last N runs that ran it (N: `history-runs` in
// tend.toml, default kDefaultHistoryRuns). Binaries are keyed by a name
// that is the same on every machine (history_binary_key). A run writes in a
// few transactions (HistoryRecorder batches its rows); WAL mode and a busy
// timeout let concurrent runs share the file, and every wait is bounded.
// Nothing here ever fails a run: callers turn errors into warnings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "history/sqlite.hpp"

namespace tend {

inline constexpr std::size_t kDefaultHistoryRuns = 20;
/// The longest a statement waits for another connection's lock.
inline constexpr int kHistoryBusyTimeoutMs = 2000;

/// The file: `explicit_path` (--history) when given, else $TEND_HISTORY,
/// else history.db in $TEND_STATE_DIR, else `.tend/history.db` beside
/// tend.toml (in `config_dir`; empty: the working directory).
std::filesystem::path history_path(const std::string& explicit_path,
                                   const std::filesystem::path& config_dir);

/// How a binary is known in the history, the same on every machine: its
/// path relative to the directory of tend.toml when it is inside it, else
/// its file name.
std::string history_binary_key(const std::string& binary, const std::filesystem::path& config_dir);

/// One test's final result in one run.
struct HistoryTestRow {
    std::string binary;  ///< history_binary_key()
    std::string suite;
    std::string name;
    double duration_s = 0;
    std::string outcome;  ///< to_string(TestStatus)
    std::uint32_t attempts = 1;
    std::optional<std::uint64_t> rss_bytes;  ///< the worker's, after the test
};

/// One unit in one run: the sum of its tests' durations.
struct HistoryUnitRow {
    std::string binary;
    std::string unit;
    double duration_s = 0;
    std::uint32_t tests = 0;
    std::uint32_t failed = 0;  ///< tests that failed the run
};

struct HistoryBatch {
    std::vector<HistoryTestRow> tests;
    std::vector<HistoryUnitRow> units;
    bool empty() const { return tests.empty() && units.empty(); }
};

/// A unit's (or test's) expected duration in seconds, by name.
using DurationEstimates = std::unordered_map<std::string, double>;

/// How a unit's estimate is made from its recorded durations, newest
/// first: the mean of the last three (one slow run moves it, but not alone).
double estimate_from(const std::vector<double>& newest_first);

class HistoryStore {
  public:
    /// Opens the file, creating it (and its directory) when `create`. A file
    /// that is not a database, or a damaged one, is renamed to PATH.corrupt
    /// and a new one made, with `warning` saying so. Null with `error` when
    /// it cannot be used (missing and not `create`, unreadable, locked past
    /// the busy timeout, in a read-only place).
    static std::unique_ptr<HistoryStore> open(const std::filesystem::path& path, bool create,
                                              std::string& warning, std::string& error);

    /// Writes `batch` in one transaction, as part of this store's run (a new
    /// run the first time), keeping the last `keep_runs` rows of each test
    /// and unit it touches. Throws sqlite::Error.
    void record(const HistoryBatch& batch, std::size_t keep_runs);

    /// Each recorded unit of `binary` and its estimate (estimate_from).
    DurationEstimates unit_estimates(const std::string& binary);

    struct Slow {
        std::string binary, suite, name;  ///< suite empty for a unit
        double mean_s = 0, max_s = 0, last_s = 0;
        std::uint64_t runs = 0;
    };
    /// The tests, and the units, with the longest mean duration.
    std::vector<Slow> slowest_tests(std::size_t limit);
    std::vector<Slow> slowest_units(std::size_t limit);

    struct Flaky {
        std::string binary, suite, name;
        std::uint64_t flaky = 0;  ///< runs where it failed, then passed on a retry
        std::uint64_t flips =
            0;  ///< runs whose outcome (passing or failing) differs from the one before
        std::uint64_t runs = 0;
    };
    /// The tests with the most flaky runs and flips, most first.
    std::vector<Flaky> flakiest(std::size_t limit);

    struct Past {
        std::string binary, suite, name;
        std::int64_t run = 0;
        double started = 0;  ///< the run's start, Unix time
        double duration_s = 0;
        std::string outcome;
        std::uint32_t attempts = 1;
        std::optional<std::uint64_t> rss_bytes;
    };
    /// The recent results of the tests named `key` ("suite/name", or a name
    /// alone), newest first, at most `limit` of each.
    std::vector<Past> test_history(const std::string& key, std::size_t limit);

    const std::filesystem::path& path() const { return path_; }

  private:
    HistoryStore(std::filesystem::path path, std::unique_ptr<sqlite::Database> db)
        : path_(std::move(path)), db_(std::move(db)) {}
    std::vector<Slow> slowest(const char* sql, std::size_t limit);

    std::filesystem::path path_;
    std::unique_ptr<sqlite::Database> db_;
    std::optional<std::int64_t> run_;  ///< this run's id, once it wrote
};

}  // namespace tend
