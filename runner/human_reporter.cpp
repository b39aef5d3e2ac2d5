// HumanReporter: see human_reporter.hpp.
#include "human_reporter.hpp"

#include <fmt/format.h>

#include <csignal>
#include <string>

namespace tend {

namespace {
std::string_view label(TestStatus s) {
    switch (s) {
        case TestStatus::passed:
            return "PASS";
        case TestStatus::failed:
            return "FAIL";
        case TestStatus::skipped:
            return "SKIP";
        case TestStatus::flaky:
            return "FLAKY";
        case TestStatus::crashed:
            return "CRASH";
        case TestStatus::timed_out:
            return "TIMEOUT";
        case TestStatus::error:
            return "ERROR";
        case TestStatus::not_run:
            return "NOTRUN";
    }
    return "?";
}

std::string basename(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// Indents every line of `text` and keeps at most its last `max_lines`.
std::string indent_tail(std::string_view text, std::size_t max_lines, std::string_view pad) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        lines.push_back(text.substr(0, nl));
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    std::string out;
    std::size_t from = 0;
    if (lines.size() > max_lines) {
        from = lines.size() - max_lines;
        out += fmt::format("{}... ({} earlier lines)\n", pad, from);
    }
    for (std::size_t i = from; i < lines.size(); ++i) out += fmt::format("{}{}\n", pad, lines[i]);
    return out;
}
}  // namespace

void HumanReporter::test(const TestEvent& e) {
    const bool bad = is_failure(e.status);
    if (!bad && options_.quiet) return;
    std::string name = e.test.suite.empty() ? e.test.name : e.test.suite + "/" + e.test.name;
    if (options_.show_binary) name = basename(e.binary) + ": " + name;
    if (e.attempt > 1) name += fmt::format(" (attempt {})", e.attempt);
    std::string out = fmt::format("{:>7} [{:>9.3f}s] {}\n", e.final ? label(e.status) : "RETRY",
                                  static_cast<double>(e.duration_ns) / 1e9, name);
    if (bad) {
        for (const auto& f : e.failures) {
            std::string where = f.file.empty() ? e.test.file : f.file;
            const auto line = f.file.empty() ? e.test.line : f.line;
            out += fmt::format("         {}:{}: {}", where, line, f.kind);
            if (!f.expression.empty()) out += fmt::format("( {} )", f.expression);
            out += '\n';
            if (!f.expanded.empty())
                out += fmt::format("           with expansion: {}\n", f.expanded);
            if (!f.subcase.empty()) out += fmt::format("           in subcase: {}\n", f.subcase);
            if (!f.message.empty()) out += indent_tail(f.message, 20, "           ");
        }
        if (!e.detail.empty()) out += indent_tail(e.detail, 40, "         ");
        if (!e.out.empty()) out += "       --- stdout ---\n" + indent_tail(e.out, 20, "         ");
        if (!e.err.empty()) out += "       --- stderr ---\n" + indent_tail(e.err, 20, "         ");
    }
    std::fputs(out.c_str(), out_);
}

void HumanReporter::slow(const SlowEvent& e) {
    std::string name = e.test.suite.empty() ? e.test.name : e.test.suite + "/" + e.test.name;
    if (options_.show_binary) name = basename(e.binary) + ": " + name;
    std::fputs(fmt::format("{:>7} [>{:>8.3f}s] {}\n", "SLOW",
                           static_cast<double>(e.running_ns) / 1e9, name)
                   .c_str(),
               out_);
    std::fflush(out_);
}

void HumanReporter::recycle(const RecycleEvent& e) {
    if (!options_.verbose) return;
    std::fputs(fmt::format("{:>7} worker {} ({}): {}\n", "RECYCLE", e.worker_pid,
                           basename(e.binary), e.reason.sentence())
                   .c_str(),
               out_);
}

void HumanReporter::notice(const Notice& n) {
    std::fputs(
        fmt::format("{:>7} {}: {}\n", n.fails_run ? "ERROR" : "WARN", basename(n.binary), n.message)
            .c_str(),
        out_);
}

void HumanReporter::shutdown(const ShutdownReport& r) {
    std::fputs(fmt::format("Interrupted by {}: {} running units finished, {} cancelled, {} workers "
                           "killed, in {:.3f}s\n",
                           r.signal == SIGINT ? "SIGINT" : "SIGTERM", r.units_finished,
                           r.units_cancelled, r.workers_killed, r.duration_s)
                   .c_str(),
               out_);
}

void HumanReporter::summary(const Summary& s) {
    std::string line =
        fmt::format("Summary [{:.3f}s] {} tests: {} passed, {} failed", s.duration_s, s.total,
                    s.count(TestStatus::passed), s.count(TestStatus::failed));
    for (auto st : {TestStatus::skipped, TestStatus::flaky, TestStatus::crashed,
                    TestStatus::timed_out, TestStatus::error, TestStatus::not_run}) {
        if (s.count(st)) line += fmt::format(", {} {}", s.count(st), to_string(st));
    }
    if (s.errors) line += fmt::format("; {} errors outside tests", s.errors);
    line +=
        fmt::format("\nWorkers: {} started, {} recycled", s.workers_started, s.recycled_total());
    if (s.recycled_total()) {
        line += fmt::format(" ({} memory, {} fds, {} age)", s.recycled[0], s.recycled[1],
                            s.recycled[2]);
    }
    line += fmt::format(", {} crashed", s.workers_crashed);
    if (s.workers_timed_out) line += fmt::format(", {} killed for timeouts", s.workers_timed_out);
    line += '\n';
    std::fputs(line.c_str(), out_);
    std::fflush(out_);
}

}  // namespace tend
