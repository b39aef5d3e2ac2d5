// The history recorder: see recorder.hpp.
#include "history/recorder.hpp"

#include <system_error>

namespace tend {

HistoryRecorder::HistoryRecorder(std::unique_ptr<HistoryStore> store, std::size_t keep_runs,
                                 std::filesystem::path config_dir, std::FILE* warn)
    : store_(std::move(store)),
      keep_runs_(keep_runs),
      config_dir_(std::move(config_dir)),
      warn_(warn) {}

HistoryRecorder::~HistoryRecorder() = default;

const std::string& HistoryRecorder::key(const std::string& binary) {
    auto it = keys_.find(binary);
    if (it == keys_.end()) {
        it = keys_.emplace(binary, history_binary_key(binary, config_dir_)).first;
    }
    return it->second;
}

void HistoryRecorder::test(const TestEvent& e) {
    if (!store_ || !e.final) return;
    const auto& binary = key(e.binary);
    const auto unit = std::string(e.test.suite.empty() ? e.test.file : e.test.suite);
    auto& sum = units_[{binary, unit}];
    if (e.status == TestStatus::not_run) {
        sum.whole = false;
        return;
    }
    const double seconds = static_cast<double>(e.duration_ns) / 1e9;
    sum.duration_s += seconds;
    ++sum.tests;
    if (is_failure(e.status)) ++sum.failed;
    held_.tests.push_back(
        HistoryTestRow{binary, std::string(e.test.suite), std::string(e.test.name), seconds,
                       std::string(to_string(e.status)), e.attempt, e.health.rss_bytes});
    if (held_.tests.size() >= kFlushRows) flush();
}

void HistoryRecorder::binary_done(const std::string& binary) {
    if (!store_) return;
    const auto& k = key(binary);
    for (auto it = units_.lower_bound({k, std::string()});
         it != units_.end() && it->first.first == k;) {
        if (it->second.whole && it->second.tests > 0 && !tests_only_) {
            held_.units.push_back(HistoryUnitRow{k, it->first.second, it->second.duration_s,
                                                 it->second.tests, it->second.failed});
        }
        it = units_.erase(it);
    }
    flush();
}

void HistoryRecorder::summary(const Summary&) {
    if (!store_) return;
    // Binaries that got no binary_done (an interrupted run): their tests
    // are kept, their units are not (some may not have run whole).
    units_.clear();
    flush();
}

bool HistoryRecorder::flush() {
    if (!store_) return false;
    if (held_.empty()) return true;
    try {
        store_->record(held_, keep_runs_);
        held_ = {};
        return true;
    } catch (const sqlite::Error& e) {
        std::fprintf(warn_, "tend: warning: history %s: %s; this run is not recorded\n",
                     store_->path().c_str(), e.what());
        const auto path = store_->path();
        store_.reset();
        held_ = {};
        units_.clear();
        // A file found damaged only now is set aside: the next run starts anew.
        if (e.corrupt()) {
            std::error_code ec;
            std::filesystem::rename(path, path.string() + ".corrupt", ec);
        }
        return false;
    }
}

}  // namespace tend
