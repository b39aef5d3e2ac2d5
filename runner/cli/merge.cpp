// `tend merge`: the JSON event files (`tend run --json-file`) of the N
// shards of a run, read back into one run's events: one JUnit report
// (--junit), the failures and one summary as `tend run` prints them (or
// JSON lines, --json), and the status the whole run would have had.
//
// Every file is read and checked before anything is written: each must end
// with its summary (a file cut short names itself), and the shards they
// name ("shard" in the summary) must be 1..N of one N, each once. Events
// are replayed through the Replayer that reads the daemon's, into the
// reporters `tend run` uses.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.hpp"
#include "history/recorder.hpp"
#include "history/store.hpp"
#include "report/event_json.hpp"
#include "report/human_reporter.hpp"
#include "report/json_reporter.hpp"
#include "report/junit_reporter.hpp"
#include "report/tee_reporter.hpp"

namespace tend::cli {

namespace {

/// One shard's file, read.
struct ShardFile {
    std::string path;
    tend::Summary summary;
    std::optional<tend::Shard> shard;
};

/// Passes every event on but the summary (and the shutdown, told in the
/// summary's counts): the merge gives one summary of its own.
class AllButSummary final : public tend::Reporter {
  public:
    explicit AllButSummary(tend::Reporter& to) : to_(to) {}
    void test(const tend::TestEvent& e) override { to_.test(e); }
    void recycle(const tend::RecycleEvent& e) override { to_.recycle(e); }
    void notice(const tend::Notice& n) override { to_.notice(n); }
    void shutdown(const tend::ShutdownReport&) override {}
    void summary(const tend::Summary&) override {}
    void slow(const tend::SlowEvent& e) override { to_.slow(e); }

  private:
    tend::Reporter& to_;
};

/// Counts every event, keeps the summary: a first pass that checks a file.
class SummaryOnly final : public tend::Reporter {
  public:
    void test(const tend::TestEvent& e) override { binaries.emplace(e.binary, binaries.size()); }
    void recycle(const tend::RecycleEvent&) override {}
    void notice(const tend::Notice& n) override {
        if (!n.binary.empty()) binaries.emplace(n.binary, binaries.size());
    }
    void shutdown(const tend::ShutdownReport& r) override { signal = r.signal; }
    void summary(const tend::Summary&) override {}
    /// Binaries in the order they first came, and when.
    std::map<std::string, std::size_t> binaries;
    int signal = 0;
};

/// Reads and checks one file. False with `error` naming it.
bool read_shard(const std::string& path, ShardFile& out, SummaryOnly& seen, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = fmt::format("{}: {}", path, std::strerror(errno));
        return false;
    }
    out.path = path;
    tend::Replayer check(seen);
    std::size_t line_no = 0;
    for (std::string line; std::getline(in, line);) {
        ++line_no;
        if (line.empty()) continue;
        if (check.summary()) {
            error = fmt::format("{}:{}: an event after the summary", path, line_no);
            return false;
        }
        auto j = nlohmann::json::parse(line, nullptr, false);
        std::string why;
        if (j.is_discarded()) {
            why = "not JSON";
        } else if (!check.replay(j, why)) {
            // an event tend does not write: `why` says
        } else {
            continue;
        }
        // A last line without its newline: the file was cut in a line.
        if (in.eof()) {
            error = fmt::format(
                "{}:{}: cut short in an event (its run did not finish, or the "
                "file was not copied whole)",
                path, line_no);
        } else {
            error = fmt::format("{}:{}: {} (is it a --json-file of tend run?)", path, line_no, why);
        }
        return false;
    }
    if (!check.summary()) {
        error = fmt::format(
            "{}: no summary at its end: the file is cut short (its run did not "
            "finish, or the file was not copied whole)",
            path);
        return false;
    }
    out.summary = *check.summary();
    if (!out.summary.shard.empty()) {
        std::string why;
        out.shard = tend::parse_shard(out.summary.shard, why);
        if (!out.shard) {
            error = fmt::format("{}: shard {}", path, why);
            return false;
        }
    }
    return true;
}

/// All of 1..N, each once, of one N; or no shard named at all.
bool check_shards(const std::vector<ShardFile>& files, std::string& error) {
    std::size_t named = 0;
    for (const auto& f : files) named += f.shard.has_value();
    if (named == 0) return true;
    if (named != files.size()) {
        for (const auto& f : files) {
            if (!f.shard) {
                error = fmt::format("{}: names no shard, where the others do", f.path);
                return false;
            }
        }
    }
    const auto total = files.front().shard->total;
    std::map<std::size_t, std::string> by_index;
    for (const auto& f : files) {
        if (f.shard->total != total) {
            error =
                fmt::format("{}: shard {}, where {} is shard {}", f.path, tend::to_string(*f.shard),
                            files.front().path, tend::to_string(*files.front().shard));
            return false;
        }
        const auto [it, fresh] = by_index.emplace(f.shard->index, f.path);
        if (!fresh) {
            error = fmt::format("{} and {} are both shard {}", it->second, f.path,
                                tend::to_string(*f.shard));
            return false;
        }
    }
    std::string missing;
    for (std::size_t k = 1; k <= total; ++k) {
        if (!by_index.contains(k))
            missing += fmt::format("{}{}/{}", missing.empty() ? "" : ", ", k, total);
    }
    if (!missing.empty()) {
        const bool several = missing.find(',') != std::string::npos;
        error = fmt::format("shard{} {} missing: no file names {}", several ? "s" : "", missing,
                            several ? "them" : "it");
        return false;
    }
    return true;
}

/// The summaries of the shards as one run's.
tend::Summary merged_summary(const std::vector<ShardFile>& files) {
    tend::Summary m;
    for (const auto& f : files) {
        const auto& s = f.summary;
        for (std::size_t i = 0; i < tend::kTestStatusCount; ++i) m.counts[i] += s.counts[i];
        m.total += s.total;
        m.errors += s.errors;
        m.workers_started += s.workers_started;
        m.workers_crashed += s.workers_crashed;
        m.workers_timed_out += s.workers_timed_out;
        for (std::size_t i = 0; i < m.recycled.size(); ++i) m.recycled[i] += s.recycled[i];
        m.replacement_wait_s += s.replacement_wait_s;
        // The shards ran side by side: the run took as long as the longest.
        m.duration_s = std::max(m.duration_s, s.duration_s);
        if (!f.shard) m.filtered += s.filtered;
    }
    // A shard leaves out what the selection did and what the other shards
    // ran: every shard saw the same tests in all.
    if (files.front().shard) {
        const auto& s = files.front().summary;
        const auto seen = s.filtered + s.total;
        m.filtered = seen > m.total ? seen - m.total : 0;
    }
    return m;
}

}  // namespace

CLI::App* add_merge_command(CLI::App& app, MergeFlags& flags) {
    auto* merge = app.add_subcommand(
        "merge",
        "Merge the --json-file reports of a run's shards into one JUnit report and summary.");
    merge
        ->add_option("files", flags.files,
                     "The JSON lines files (tend run --json-file) of the shards, one each")
        ->required()
        ->type_name("FILE");
    merge->add_option("--junit", flags.junit_path, "Write the merged JUnit XML report to FILE")
        ->type_name("FILE");
    merge->add_flag("--json", flags.as_json,
                    "Write the merged events as JSON lines (as tend run --json) instead of the "
                    "failures and summary");
    merge
        ->add_option("--history", flags.history_file,
                     "Record the merged run in the history FILE, as one tend run of every "
                     "shard's tests would (a CI job that saves the history for the next run)")
        ->type_name("FILE");
    add_config_options(*merge, flags.config);
    return merge;
}

int merge_command(const MergeFlags& flags) {
    std::vector<ShardFile> files(flags.files.size());
    SummaryOnly seen;
    std::string error;
    for (std::size_t i = 0; i < flags.files.size(); ++i) {
        if (!read_shard(flags.files[i], files[i], seen, error)) {
            std::fprintf(stderr, "tend merge: %s\n", error.c_str());
            return kExitStartup;
        }
    }
    if (!check_shards(files, error)) {
        std::fprintf(stderr, "tend merge: %s\n", error.c_str());
        return kExitStartup;
    }
    // In shard order, so the merged report reads the same whatever order
    // the files were named in.
    std::stable_sort(files.begin(), files.end(), [](const ShardFile& a, const ShardFile& b) {
        return a.shard && b.shard && a.shard->index < b.shard->index;
    });
    std::vector<std::string> binaries(seen.binaries.size());
    for (const auto& [b, at] : seen.binaries) binaries[at] = b;

    std::unique_ptr<tend::Reporter> out;
    if (flags.as_json) {
        out = std::make_unique<tend::JsonReporter>(stdout);
    } else {
        tend::HumanOptions human;
        human.quiet = true;  // the failures, their recap and the summary
        human.show_binary = binaries.size() > 1;
        human.binary_paths = tend::file_names_collide(binaries);
        out = std::make_unique<tend::HumanReporter>(stdout, human);
    }
    std::vector<tend::Reporter*> reporters{out.get()};
    std::unique_ptr<tend::JunitReporter> junit;
    if (!flags.junit_path.empty()) {
        junit = std::make_unique<tend::JunitReporter>(flags.junit_path, binaries);
        if (!junit->error().empty()) {
            std::fprintf(stderr, "tend merge: --junit %s: %s\n", flags.junit_path.c_str(),
                         junit->error().c_str());
            return kExitUsage;
        }
        reporters.push_back(junit.get());
    }
    // The history of the whole run: binaries keyed as `tend run` keys them
    // (against tend.toml's directory). A history that cannot be used is a
    // warning, as in a run.
    std::unique_ptr<tend::HistoryRecorder> history;
    if (!flags.history_file.empty()) {
        ProjectConfig project;
        if (!load_tend_toml(flags.config, project, error)) return config_error(error);
        std::string warning;
        auto store = tend::HistoryStore::open(flags.history_file, true, warning, error);
        if (!warning.empty())
            std::fprintf(stderr, "tend merge: warning: history %s\n", warning.c_str());
        if (store) {
            history = std::make_unique<tend::HistoryRecorder>(
                std::move(store), project.config.history_runs.value_or(tend::kDefaultHistoryRuns),
                history_keys_dir(project));
            reporters.push_back(history.get());
        } else {
            std::fprintf(stderr, "tend merge: warning: history %s; the run is not recorded\n",
                         error.c_str());
        }
    }
    tend::TeeReporter tee(reporters);
    AllButSummary events(tee);
    tend::Replayer replayer(events);
    // Read again rather than kept: a shard's events may be many.
    for (const auto& f : files) {
        std::ifstream in(f.path, std::ios::binary);
        for (std::string line; std::getline(in, line);) {
            if (line.empty()) continue;
            const auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.value("event", "") == "summary") continue;
            if (j.is_discarded() || !replayer.replay(j, error)) {  // it changed meanwhile
                std::fprintf(stderr, "tend merge: %s: changed while read: %s\n", f.path.c_str(),
                             error.c_str());
                return kExitStartup;
            }
        }
    }
    const auto summary = merged_summary(files);
    // Every binary is whole once its shards are (units are never split):
    // the history records its units too.
    if (history) {
        for (const auto& b : binaries) history->binary_done(b);
    }
    tee.summary(summary);
    if (junit && !junit->error().empty()) {
        std::fprintf(stderr, "tend merge: --junit %s: %s\n", flags.junit_path.c_str(),
                     junit->error().c_str());
        return kExitUsage;
    }
    bool failed = summary.errors > 0 || seen.signal != 0;
    for (std::size_t i = 0; i < tend::kTestStatusCount; ++i) {
        if (summary.counts[i] && tend::is_failure(static_cast<tend::TestStatus>(i))) failed = true;
    }
    return failed ? kExitTestsFailed : kExitOk;
}

}  // namespace tend::cli
