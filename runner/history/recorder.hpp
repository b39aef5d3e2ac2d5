// HistoryRecorder: the reporter that writes a run into the history store.
//
// It keeps rows in memory, bounded, and writes them in one transaction per
// binary done (and every kFlushRows tests, and at the summary), never one
// write per test. A unit's row (the sum of its tests' durations) is written
// once its binary is done, and only when every test of it ran. The first
// error is a warning and the rest of the run records nothing: the history
// is never why a run fails or slows down.
#pragma once

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "history/store.hpp"
#include "report/events.hpp"

namespace tend {

class HistoryRecorder final : public Reporter {
  public:
    /// Test rows held at most before they are written.
    static constexpr std::size_t kFlushRows = 4096;

    /// Writes into `store` (owned) keeping `keep_runs` runs per test;
    /// binaries are keyed against `config_dir`; warnings go to `warn`.
    HistoryRecorder(std::unique_ptr<HistoryStore> store, std::size_t keep_runs,
                    std::filesystem::path config_dir, std::FILE* warn = stderr);
    ~HistoryRecorder() override;

    void test(const TestEvent& e) override;
    void recycle(const RecycleEvent&) override {}
    void notice(const Notice&) override {}
    void shutdown(const ShutdownReport&) override {}
    void summary(const Summary&) override;
    void binary_done(const std::string& binary) override;

    /// Writes what is held. False (after the warning) once writing failed.
    bool flush();
    /// The run selects tests (filters, --exact, --failed, --run-ignored
    /// only): its units ran in part, so their sums would tell the scheduler
    /// and the shards they are shorter than they are. Its tests are
    /// recorded, its units are not.
    void tests_only() { tests_only_ = true; }

  private:
    struct UnitSum {
        double duration_s = 0;
        std::uint32_t tests = 0;
        std::uint32_t failed = 0;
        bool whole = true;  ///< no test of it went unrun
    };
    const std::string& key(const std::string& binary);
    void write(HistoryBatch& batch);

    std::unique_ptr<HistoryStore> store_;
    std::size_t keep_runs_;
    std::filesystem::path config_dir_;
    std::FILE* warn_;
    HistoryBatch held_;
    bool tests_only_ = false;
    /// (binary key, unit) -> its sums, until the binary is done.
    std::map<std::pair<std::string, std::string>, UnitSum> units_;
    std::unordered_map<std::string, std::string> keys_;  ///< binary as given -> key
};

}  // namespace tend
