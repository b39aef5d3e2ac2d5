// The failures of the last run, kept for `tend run --failed`.
//
// A small JSON file (`.tend/last-run.json` beside tend.toml, else in the
// working directory; TEND_STATE_DIR names another directory) maps each
// binary, by absolute path, to the tests that failed in it. A run updates
// only what it saw: a test it ran leaves the list or joins it by its new
// result, a test it did not run (or reported skipped) keeps its old entry. So `tend run --failed`
// after a filtered run still knows the failures the filter left out.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "report/events.hpp"

namespace tend {

/// (suite, name): how a test is known across builds (ids are not).
using TestKey = std::pair<std::string, std::string>;

struct LastRun {
    std::map<std::string, std::set<TestKey>> failed;  ///< absolute binary path -> failures
};

/// What one run saw of one binary.
struct RunRecord {
    std::set<TestKey> ran;     ///< tests with a final result but not_run (those that matter)
    std::set<TestKey> failed;  ///< tests that failed the run
};

/// Lays this run's records over the last one (pure).
void update_last_run(LastRun& last, const std::map<std::string, RunRecord>& run);

/// The file for a project whose tend.toml is in `config_dir` (empty: none).
std::filesystem::path last_run_path(const std::filesystem::path& config_dir);

/// False with `error` when the file is missing, unreadable or malformed.
bool load_last_run(const std::filesystem::path& path, LastRun& out, std::string& error);
/// Writes the whole file anew (a temporary file renamed over it).
bool save_last_run(const std::filesystem::path& path, const LastRun& last, std::string& error);
/// Lays a run's records over the file as it is now and writes it back,
/// holding a lock beside it (`last-run.json.lock`) meanwhile: runs that end
/// together in one project (ctest -j, a tend per binary) each keep what they
/// saw. The wait for the lock is bounded: past it, the file is written
/// without it.
bool record_last_run(const std::filesystem::path& path, const std::map<std::string, RunRecord>& run,
                     std::string& error);

/// Collects a RunRecord per binary from the final test events of a run.
/// Of the tests that ran, it keeps only those `previous` has as failures
/// (the only ones update_last_run needs): a passing test costs a lookup, and
/// nothing at all in a binary without earlier failures.
class RunRecorder final : public Reporter {
  public:
    explicit RunRecorder(const LastRun& previous) : previous_(previous) {}
    void test(const TestEvent& e) override;
    void recycle(const RecycleEvent&) override {}
    void notice(const Notice&) override {}
    void shutdown(const ShutdownReport&) override {}
    void summary(const Summary&) override {}
    /// Keyed by absolute binary path.
    const std::map<std::string, RunRecord>& records() const { return records_; }

  private:
    const LastRun& previous_;
    std::map<std::string, RunRecord> records_;
    std::map<std::string, std::string> keys_;  ///< binary as given -> binary_key()
};

/// The key under which a binary's failures are kept.
std::string binary_key(const std::string& binary);

}  // namespace tend
