// HumanReporter: see human_reporter.hpp.
#include "report/human_reporter.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <set>
#include <string>

#include "config/quantities.hpp"
#include "config/selection.hpp"
#include "pool/recycle.hpp"
#include "report/terminal.hpp"

namespace tend {

namespace {
// SGR parameters.
constexpr std::string_view kGreen = "32";
constexpr std::string_view kRed = "1;31";
constexpr std::string_view kYellow = "33";
constexpr std::string_view kCyan = "36";
constexpr std::string_view kBold = "1";
constexpr std::string_view kDim = "2";

/// Erases the line the cursor is on: back to its start, clear to its end.
constexpr std::string_view kEraseLine = "\r\x1b[K";

/// How much of a test's output, a failure message or a crash detail is
/// shown without --show-output: the last lines, and no more than so many
/// bytes of them (a test can print megabytes without a newline).
constexpr std::size_t kOutputLines = 20;
constexpr std::size_t kDetailLines = 40;
constexpr std::size_t kTailBytes = 8 * 1024;

/// Columns of a recap line's reason.
constexpr std::size_t kReasonColumns = 160;

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

std::string_view label_style(std::string_view label) {
    if (label == "PASS") return kGreen;
    if (label == "FAIL" || label == "CRASH" || label == "TIMEOUT" || label == "ERROR") return kRed;
    if (label == "RECYCLE" || label == "RUNNING") return kCyan;
    return kYellow;  // SKIP NOTRUN SLOW RETRY FLAKY WARN
}

std::string_view count_style(TestStatus s) {
    switch (s) {
        case TestStatus::passed:
            return kGreen;
        case TestStatus::skipped:
        case TestStatus::flaky:
        case TestStatus::not_run:
            return kYellow;
        default:
            return kRed;
    }
}

std::string basename(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string_view first_line(std::string_view text) {
    return text.substr(0, text.find('\n'));
}

/// What is shown of `text` without --show-output: its last `max_lines`
/// lines, at most `max_bytes` of them, and what was cut.
struct Tail {
    std::string_view kept;
    std::size_t lines_cut = 0;  ///< newlines in what was cut
    std::size_t bytes_cut = 0;
};

Tail tail_of(std::string_view text, std::size_t max_lines, std::size_t max_bytes) {
    std::size_t start = 0;
    std::size_t seen = 0;
    for (std::size_t i = text.size(); i-- > 0;) {
        if (text[i] == '\n' && ++seen == max_lines) {
            start = i + 1;
            break;
        }
    }
    if (text.size() - start > max_bytes) {
        start = text.size() - max_bytes;
        // Not in the middle of a UTF-8 sequence.
        while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
            ++start;
        }
    }
    const auto cut = text.substr(0, start);
    return {text.substr(start), static_cast<std::size_t>(std::count(cut.begin(), cut.end(), '\n')),
            start};
}

/// `text` indented by `pad`, its trailing newlines dropped, its control
/// characters escaped but for line breaks and tabs (printable()); with a
/// limit, only its tail and a line saying what was cut.
std::string indented(std::string_view raw, std::string_view pad, std::size_t max_lines) {
    std::string_view text = raw;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    std::string out;
    if (max_lines) {
        const auto tail = tail_of(text, max_lines, kTailBytes);
        if (tail.lines_cut) {
            out += fmt::format("{}... {} earlier line{} cut ({}); --show-output shows all\n", pad,
                               tail.lines_cut, tail.lines_cut == 1 ? "" : "s",
                               format_bytes(static_cast<double>(tail.bytes_cut)));
        } else if (tail.bytes_cut) {
            out +=
                fmt::format("{}... {} cut from the start of this line; --show-output shows all\n",
                            pad, format_bytes(static_cast<double>(tail.bytes_cut)));
        }
        text = tail.kept;
    }
    const std::string shown = printable(text, Lines::keep);
    text = shown;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        const auto line = text.substr(0, nl);
        if (!line.empty()) out += pad;
        out += line;
        out += '\n';
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return out;
}

/// The reason a failed test gives in the recap, in one line: its first
/// failed assertion, or the first line of what the pool said about it.
std::string short_reason(const TestEvent& e) {
    std::string reason;
    if (!e.failures.empty()) {
        const auto& f = e.failures.front();
        const std::string_view file = f.file.empty() ? e.test.file : f.file;
        const auto line = f.file.empty() ? e.test.line : f.line;
        reason = fmt::format("{}:{}: {}", file, line, f.kind);
        if (!f.expression.empty()) {
            reason += fmt::format("( {} )", f.expression);
        } else if (!f.message.empty()) {
            reason += fmt::format(": {}", first_line(f.message));
        }
        if (e.failures.size() > 1) reason += fmt::format(" (+{} more)", e.failures.size() - 1);
    } else {
        // "worker 12 killed by signal 11 (...); last output on the worker's
        // stderr:" introduces lines the recap does not show: drop that clause.
        std::string_view line = first_line(e.detail);
        if (line.ends_with(':')) {
            const auto clause = line.rfind("; ");
            line = line.substr(0, clause == std::string_view::npos ? line.size() - 1 : clause);
        }
        reason = line;
    }
    reason = printable(reason);
    if (display_width(reason) > kReasonColumns) {
        reason = std::string(fit_width(reason, kReasonColumns - 1)) + "…";
    }
    return reason;
}
}  // namespace

std::string HumanReporter::paint(std::string_view style, std::string_view text) const {
    if (!options_.color || style.empty() || text.empty()) return std::string(text);
    return fmt::format("\x1b[{}m{}\x1b[0m", style, text);
}

bool file_names_collide(const std::vector<std::string>& binaries) {
    std::set<std::string> names;
    for (const auto& b : binaries) {
        if (!names.insert(basename(b)).second) return true;
    }
    return false;
}

std::string HumanReporter::shown_binary(const std::string& binary) const {
    return printable(options_.binary_paths ? binary : basename(binary));
}

std::string HumanReporter::shown_name(const std::string& binary, const TestView& test) const {
    std::string name = printable(full_name(test));
    if (options_.show_binary) name = shown_binary(binary) + ": " + name;
    return name;
}

std::string HumanReporter::output_block(std::string_view title, std::string_view text) const {
    return paint(kDim, fmt::format("       --- {} ---", title)) + "\n" +
           indented(text, "         ", options_.show_output ? 0 : kOutputLines);
}

void HumanReporter::emit(const std::string& text) {
    std::string buf;
    if (drawn_) buf += kEraseLine;
    drawn_ = false;
    buf += text;
    if (options_.progress && last_ && !finished_) {
        buf += progress_line();
        drawn_ = true;
    }
    std::fwrite(buf.data(), 1, buf.size(), out_);
    // Out now, to a pipe or a file too: a run killed by SIGKILL or SIGHUP
    // leaves every line it had printed, and a reader sees each as it comes.
    std::fflush(out_);
}

void HumanReporter::remember(const TestEvent& e) {
    ++done_;
    if (e.status == TestStatus::passed) ++passed_;
    if (last_) {
        auto& running = last_->running;
        const auto name = full_name(e.test);
        std::erase_if(running,
                      [&](const auto& r) { return r.binary == e.binary && r.name == name; });
    }
    if (!is_failure(e.status)) return;
    if (e.status == TestStatus::not_run) {
        if (not_run_++ == 0) {
            not_run_reason_ = e.detail;
        } else if (e.detail != not_run_reason_) {
            not_run_reasons_differ_ = true;
        }
        return;
    }
    ++failed_;
    rerun_.push_back(FailedTest{e.binary, full_name(e.test)});
    if (recap_total_++ < kRecapLines) {
        recap_.push_back(RecapLine{std::string(label(e.status)),
                                   shown_name(e.binary, e.test) + " — " + short_reason(e)});
    }
}

void HumanReporter::test(const TestEvent& e) {
    if (e.final) remember(e);
    const bool bad = is_failure(e.status);
    if (!bad && options_.quiet) return;
    std::string name = shown_name(e.binary, e.test);
    if (e.attempt > 1) name += fmt::format(" (attempt {})", e.attempt);
    const auto tag = e.final ? label(e.status) : "RETRY";
    std::string out = fmt::format(
        "{} {} {}\n", paint(label_style(tag), fmt::format("{:>7}", tag)),
        paint(kDim, fmt::format("[{:>9.3f}s]", static_cast<double>(e.duration_ns) / 1e9)), name);
    const std::size_t detail_lines = options_.show_output ? 0 : kDetailLines;
    if (bad) {
        for (const auto& f : e.failures) {
            const std::string_view where = f.file.empty() ? e.test.file : f.file;
            const auto line = f.file.empty() ? e.test.line : f.line;
            out += fmt::format("         {}:{}: {}", printable(where), line, printable(f.kind));
            if (!f.expression.empty()) out += fmt::format("( {} )", printable(f.expression));
            out += '\n';
            if (!f.expanded.empty()) {
                out += fmt::format("           with expansion: {}\n", printable(f.expanded));
            }
            if (!f.subcase.empty()) {
                out += fmt::format("           in subcase: {}\n", printable(f.subcase));
            }
            if (!f.message.empty()) out += indented(f.message, "           ", kOutputLines);
        }
        // Tests that did not run for one reason come in a row: say it once.
        const bool repeated = e.status == TestStatus::not_run && e.detail == last_not_run_detail_;
        if (!e.detail.empty() && !repeated) out += indented(e.detail, "         ", detail_lines);
    }
    if (bad || options_.show_output) {
        if (!e.out.empty()) out += output_block("stdout", e.out);
        if (!e.err.empty()) out += output_block("stderr", e.err);
    }
    emit(out);
    last_not_run_detail_ = e.status == TestStatus::not_run ? std::string(e.detail) : std::string();
}

void HumanReporter::slow(const SlowEvent& e) {
    emit(fmt::format(
        "{} {} {}\n", paint(label_style("SLOW"), fmt::format("{:>7}", "SLOW")),
        paint(kDim, fmt::format("[>{:>8.3f}s]", static_cast<double>(e.running_ns) / 1e9)),
        shown_name(e.binary, e.test)));
    last_not_run_detail_.clear();
}

void HumanReporter::recycle(const RecycleEvent& e) {
    if (!options_.verbose) return;
    emit(fmt::format("{} worker {} ({}): {}\n",
                     paint(label_style("RECYCLE"), fmt::format("{:>7}", "RECYCLE")), e.worker_pid,
                     shown_binary(e.binary), e.reason.sentence()));
    last_not_run_detail_.clear();
}

void HumanReporter::notice(const Notice& n) {
    const std::string_view tag = n.fails_run ? "ERROR" : "WARN";
    const std::string text = shown_binary(n.binary) + ": ";
    emit(fmt::format("{} {}{}\n", paint(label_style(tag), fmt::format("{:>7}", tag)), text,
                     printable(n.message, Lines::keep)));
    if (n.fails_run && recap_total_++ < kRecapLines) {
        recap_.push_back(RecapLine{std::string(tag), text + printable(first_line(n.message))});
    }
    last_not_run_detail_.clear();
}

void HumanReporter::shutdown(const ShutdownReport& r) {
    emit(
        fmt::format("Interrupted by {}: {} running units finished, {} cancelled, {} workers "
                    "killed, in {:.3f}s\n",
                    signal_name(r.signal), r.units_finished, r.units_cancelled, r.workers_killed,
                    r.duration_s));
    last_not_run_detail_.clear();
}

std::string HumanReporter::recap() const {
    if (recap_.empty() && not_run_ == 0) return {};
    std::string out = "\n" + paint(kBold, "Failures:") + "\n";
    for (const auto& line : recap_) {
        out += fmt::format(
            "{} {}\n", paint(label_style(line.label), fmt::format("{:>7}", line.label)), line.text);
    }
    if (recap_total_ > recap_.size()) {
        out += fmt::format("        ... and {} more above\n", recap_total_ - recap_.size());
    }
    if (not_run_) {
        out += fmt::format("{} {} test{} did not run", paint(label_style("NOTRUN"), " NOTRUN"),
                           not_run_, not_run_ == 1 ? "" : "s");
        if (!not_run_reasons_differ_ && !not_run_reason_.empty()) {
            out += " — " + printable(first_line(not_run_reason_));
        }
        out += '\n';
    }
    if (!rerun_.empty()) {
        const std::string tests = rerun_.size() == 1 ? "the failed test" : "the failed tests";
        std::string failed_again = "tend run --failed";
        for (const auto& word : options_.rerun_flags) failed_again += " " + shell_quote(word);
        out += fmt::format("To run {} again: {}\n", tests, paint(kBold, printable(failed_again)));
        const auto commands = rerun_commands(rerun_, kRerunMaxTests, options_.rerun_flags);
        const std::string pad(fmt::format("To run {} again", tests).size() - 2, ' ');
        // Quoted so that they print as they run; printable() is the safety net.
        for (const auto& command : commands) {
            out += fmt::format("{}or: {}\n", pad, printable(command));
        }
    }
    return out;
}

void HumanReporter::summary(const Summary& s) {
    std::string out = recap();
    out += fmt::format("{} [{:.3f}s] {} tests: ", paint(kBold, "Summary"), s.duration_s, s.total);
    const auto count = [&](TestStatus st, bool always) {
        const auto n = s.count(st);
        if (!n && !always) return std::string();
        return ", " + paint(n ? count_style(st) : "", fmt::format("{} {}", n, to_string(st)));
    };
    out += count(TestStatus::passed, true).substr(2);
    out += count(TestStatus::failed, true);
    for (auto st : {TestStatus::skipped, TestStatus::flaky, TestStatus::crashed,
                    TestStatus::timed_out, TestStatus::error, TestStatus::not_run}) {
        out += count(st, false);
    }
    if (s.filtered) out += fmt::format(", {} filtered out", s.filtered);
    if (s.errors) {
        out += "; " + paint(kRed, fmt::format("{} error{} outside tests", s.errors,
                                              s.errors == 1 ? "" : "s"));
    }
    out += fmt::format("\nWorkers: {} started, {} recycled", s.workers_started, s.recycled_total());
    if (s.recycled_total()) {
        out += fmt::format(" ({} memory, {} fds, {} age)", s.recycled[0], s.recycled[1],
                           s.recycled[2]);
    }
    out += fmt::format(", {} crashed", s.workers_crashed);
    if (s.workers_timed_out) out += fmt::format(", {} killed for timeouts", s.workers_timed_out);
    out += '\n';
    finished_ = true;
    emit(out);
}

std::chrono::milliseconds HumanReporter::progress_interval() const {
    return options_.progress ? kProgressInterval : std::chrono::milliseconds{};
}

void HumanReporter::progress(const Progress& p) {
    if (!options_.progress || finished_) return;
    Snapshot snap;
    snap.total = p.total;
    snap.elapsed_s = p.elapsed_s;
    snap.at = std::chrono::steady_clock::now();
    for (const auto& r : p.running) {
        snap.running.push_back(Snapshot::Running{*r.binary, full_name(r.test), r.running_ns});
    }
    last_ = std::move(snap);
    emit({});
}

std::string HumanReporter::progress_line() const {
    // Between ticks the clock goes on.
    const double since =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - last_->at).count();
    struct Part {
        std::string_view style;
        std::string text;
    };
    std::vector<Part> parts;
    parts.push_back({label_style("RUNNING"), "RUNNING"});
    parts.push_back({kDim, fmt::format(" [{:>6.1f}s] ", last_->elapsed_s + since)});
    parts.push_back({kBold, fmt::format("{}/{} tests", done_, std::max(done_, last_->total))});
    parts.push_back({{}, ", "});
    parts.push_back({passed_ ? kGreen : std::string_view{}, fmt::format("{} passed", passed_)});
    parts.push_back({{}, ", "});
    parts.push_back({failed_ ? kRed : std::string_view{}, fmt::format("{} failed", failed_)});
    // More than fit on any terminal is not worth formatting.
    constexpr std::size_t kShown = 8;
    for (std::size_t i = 0; i < last_->running.size() && i < kShown; ++i) {
        const auto& r = last_->running[i];
        std::string name = printable(r.name);
        if (options_.show_binary) name = shown_binary(r.binary) + ": " + name;
        parts.push_back({{}, (i == 0 ? " | " : ", ") + name});
        parts.push_back(
            {kDim, fmt::format(" ({:.1f}s)", static_cast<double>(r.running_ns) / 1e9 + since)});
    }

    std::size_t width = options_.width ? options_.width : terminal_width(::fileno(out_));
    if (width == 0) width = 80;
    // The last column stays free: some terminals wrap when it is written.
    const std::size_t room = width > 1 ? width - 1 : 0;
    std::size_t used = 0;
    for (const auto& part : parts) used += display_width(part.text);
    const bool cut = used > room;
    std::size_t left = cut ? (room > 0 ? room - 1 : 0) : room;  // room for "…" when cut
    std::string line;
    for (const auto& part : parts) {
        const auto shown = fit_width(part.text, left);
        line += paint(part.style, shown);
        left -= display_width(shown);
        if (shown.size() < part.text.size()) break;
    }
    if (cut && room > 0) line += "…";
    return line;
}

}  // namespace tend
