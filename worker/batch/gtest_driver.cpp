// The GoogleTest driver: --gtest_list_tests with its JSON listing (names,
// files and lines, whatever the names hold), --gtest_filter to select, and
// the console output to follow a batch. gtest writes its JSON report only
// at exit, too late to tell which test a crash or a hang stopped in, while
// its console output says each test's start as it happens ("[ RUN      ]"),
// each failure as it is raised ("file:line: Failure" and the message) and
// each end; that stream is what a batch is read from.
#include <sys/wait.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "driver.hpp"

namespace tend::batch {
namespace {

constexpr std::string_view kRun = "[ RUN      ] ";
constexpr std::string_view kOk = "[       OK ] ";
constexpr std::string_view kFailed = "[  FAILED  ] ";
constexpr std::string_view kSkipped = "[  SKIPPED ] ";

/// Characters --gtest_filter gives a meaning: `:` separates patterns, the
/// first `-` starts the negative ones, `*` and `?` are wildcards. None can
/// be escaped: each becomes `?`, which matches it (and anything else).
bool special(char c) {
    return c == ':' || c == '-' || c == '*' || c == '?';
}

std::string pattern_of(const std::string& full) {
    std::string p = full;
    for (char& c : p) {
        if (special(c)) c = '?';
    }
    return p;
}

bool disabled(const std::string& suite, const std::string& name) {
    // gtest's own rule: "DISABLED_*:*/DISABLED_*" over "suite.name".
    const auto starts = [](const std::string& s) { return s.rfind("DISABLED_", 0) == 0; };
    return starts(suite) || starts(name) || suite.find("/DISABLED_") != std::string::npos ||
           name.find("/DISABLED_") != std::string::npos;
}

/// "name (12 ms)" -> "name".
std::string_view strip_time(std::string_view rest) {
    if (!rest.empty() && rest.back() == ')') {
        const auto open = rest.rfind(" (");
        if (open != std::string_view::npos) return rest.substr(0, open);
    }
    return rest;
}

/// "file:12: Failure" or "unknown file: Failure" (and "Skipped"): the start
/// of one failure's text.
std::optional<FailureDetail> failure_header(std::string_view line) {
    std::string_view kind;
    for (std::string_view k : {std::string_view(": Failure"), std::string_view(": Skipped")}) {
        if (line.size() >= k.size() && line.substr(line.size() - k.size()) == k) kind = k;
    }
    if (kind.empty()) return std::nullopt;
    const auto where = line.substr(0, line.size() - kind.size());
    FailureDetail f;
    f.kind = kind == ": Failure" ? "failure" : "skip";
    if (where == "unknown file") return f;
    const auto colon = where.rfind(':');
    if (colon == std::string_view::npos || colon + 1 == where.size()) return std::nullopt;
    std::uint32_t line_no = 0;
    for (char c : where.substr(colon + 1)) {
        if (c < '0' || c > '9') return std::nullopt;
        line_no = line_no * 10 + static_cast<std::uint32_t>(c - '0');
    }
    f.file = std::string(where.substr(0, colon));
    f.line = line_no;
    return f;
}

class GtestParser final : public ProgressParser {
  public:
    void feed_stdout(std::string_view bytes, ProgressSink& sink) override {
        for (;;) {
            const auto nl = bytes.find('\n');
            if (nl == std::string_view::npos) {
                pending_.append(bytes);
                // A line without end (a test writing without newlines) is
                // passed on as output once long, not kept.
                if (pending_.size() > kMaxLine) {
                    std::string part;
                    part.swap(pending_);
                    if (in_test_ && !in_failure_)
                        sink.output(part);
                    else if (in_failure_)
                        append_message(part);
                    else
                        sink.output(part);
                }
                return;
            }
            if (pending_.empty()) {
                line(bytes.substr(0, nl), sink);
            } else {
                pending_.append(bytes.substr(0, nl));
                line(pending_, sink);
                pending_.clear();
            }
            bytes.remove_prefix(nl + 1);
        }
    }
    void feed_report(std::string_view, ProgressSink&) override {}
    void finish(ProgressSink& sink) override {
        if (!pending_.empty()) {
            std::string last;
            last.swap(pending_);
            line(last, sink);
        }
        close_failure();
    }

  private:
    void line(std::string_view text, ProgressSink& sink) {
        if (!in_test_) {
            if (text.substr(0, kRun.size()) == kRun) {
                in_test_ = true;
                current_ = std::string(text.substr(kRun.size()));
                failures_.clear();
                in_failure_ = false;
                sink.started(TestKey{current_, {}, 0});
                return;
            }
            // gtest's banners between tests are its own; anything else (a
            // global environment's output) is passed on.
            if (banner(text)) return;
            sink.output(std::string(text) + "\n");
            return;
        }
        // The end of the test, possibly behind output that had no newline.
        for (auto [marker, outcome] :
             {std::pair{kOk, Outcome::passed}, std::pair{kFailed, Outcome::failed},
              std::pair{kSkipped, Outcome::skipped}}) {
            const auto at = text.find(marker);
            if (at == std::string_view::npos) continue;
            // "name (0 ms)", or for a failed parameterized test "name, where
            // GetParam() = 4 (0 ms)".
            const auto named = strip_time(text.substr(at + marker.size()));
            if (named != current_ && (named.size() <= current_.size() + 8 ||
                                      named.substr(0, current_.size()) != current_ ||
                                      named.substr(current_.size(), 8) != ", where ")) {
                continue;
            }
            if (at > 0) sink.output(std::string(text.substr(0, at)));
            close_failure();
            in_test_ = false;
            // A skip's message is a failure record only for a failed test.
            std::vector<FailureDetail> failures;
            for (auto& f : failures_) {
                if (outcome == Outcome::failed ? f.kind != "skip" : false) {
                    failures.push_back(std::move(f));
                }
            }
            failures_.clear();
            sink.finished(outcome, std::move(failures), {});
            return;
        }
        if (auto f = failure_header(text)) {
            close_failure();
            failures_.push_back(std::move(*f));
            in_failure_ = true;
            return;
        }
        if (in_failure_) {
            if (failures_.back().message.size() < kMaxMessage) {
                append_message(text);
                return;
            }
            // A failure's text is bounded; what a test logs after it is
            // output, under the capture's own bound.
            in_failure_ = false;
        }
        sink.output(std::string(text) + "\n");
    }

    static bool banner(std::string_view text) {
        if (text.size() >= 12 && text[0] == '[' && text[11] == ']') return true;
        return text.empty() || text.rfind("Note: Google Test filter = ", 0) == 0 ||
               text.rfind("Running main() from ", 0) == 0 || text.rfind(" YOU HAVE ", 0) == 0 ||
               text.rfind("Note: This is test shard ", 0) == 0 ||
               text.find(" FAILED TEST") != std::string_view::npos;
    }

    void close_failure() { in_failure_ = false; }

    void append_message(std::string_view text) {
        auto& message = failures_.back().message;
        if (!message.empty()) message += '\n';
        message.append(text);
    }

    static constexpr std::size_t kMaxLine = 64 * 1024;
    static constexpr std::size_t kMaxMessage = 64 * 1024;

    std::string pending_;
    bool in_test_ = false;
    bool in_failure_ = false;
    std::string current_;
    std::vector<FailureDetail> failures_;
};

class GtestDriver final : public Driver {
  public:
    std::string framework() const override { return "gtest"; }
    bool uses_report_fd() const override { return false; }

    std::optional<std::vector<TestDescription>> list(const RunBinary& run,
                                                     std::string& error) override {
        const std::vector<std::string> args = {"--gtest_list_tests",
                                               "--gtest_output=json:/dev/fd/3"};
        const Captured got = run(args, true);
        const std::string what = "--gtest_list_tests --gtest_output=json";
        if (got.wait_status != 0) {
            const int w = got.wait_status;
            error = what + " failed (" +
                    (WIFSIGNALED(w) ? "killed by signal " + std::to_string(WTERMSIG(w))
                                    : "exit status " + std::to_string(WEXITSTATUS(w))) +
                    ")" + (got.err.empty() ? std::string() : ": " + got.err);
            return std::nullopt;
        }
        auto json = nlohmann::json::parse(got.report, nullptr, false);
        if (json.is_discarded() || !json.is_object() || !json.contains("testsuites") ||
            !json["testsuites"].is_array()) {
            error = what + " wrote no JSON listing gtest could have written (" +
                    std::to_string(got.report.size()) + " bytes)";
            return std::nullopt;
        }
        std::vector<TestDescription> tests;
        for (const auto& suite : json["testsuites"]) {
            const std::string suite_name = suite.value("name", "");
            if (!suite.contains("testsuite") || !suite["testsuite"].is_array()) continue;
            for (const auto& t : suite["testsuite"]) {
                TestDescription d;
                d.name = t.value("name", "");
                d.suite = suite_name;
                d.file = t.value("file", "");
                const int line = t.value("line", 0);
                d.line = line > 0 ? static_cast<std::uint32_t>(line) : 0;
                tests.push_back(std::move(d));
            }
        }
        // gtest's JSON escapes each byte of a non-ASCII name as a character
        // of its own ("caf\u00c3\u00a9"); the console listing has the bytes
        // as they are. Its names win when it lists the same number of tests.
        auto names = console_names(got.out);
        if (names.size() == tests.size()) {
            for (std::size_t i = 0; i < tests.size(); ++i) {
                tests[i].suite = std::move(names[i].first);
                tests[i].name = std::move(names[i].second);
            }
        }
        for (auto& d : tests) {
            if (disabled(d.suite, d.name)) {
                d.skip = true;
                d.tags.push_back("disabled");
            }
        }
        decide_selection(tests);
        return tests;
    }

    Selectable selectable(std::size_t index) const override {
        return Selectable{tests_[index].twins.empty(), {}};
    }

    std::vector<std::string> run_args(const std::vector<std::size_t>& indexes,
                                      bool run_skipped) const override {
        std::string filter = "--gtest_filter=";
        const Suite& suite = suites_[tests_[indexes.front()].suite];
        if (suite.star_exact && indexes.size() == suite.count && indexes.front() == suite.first &&
            indexes.back() == suite.first + suite.count - 1) {
            // A whole suite: one pattern for gtest to match each test
            // against, not one per test (1.4 ms a batch of 100 of 2,000).
            filter += suite.name + ".*";
        } else {
            for (std::size_t i = 0; i < indexes.size(); ++i) {
                if (i > 0) filter += ':';
                filter += tests_[indexes[i]].pattern;
            }
        }
        // Flags every gtest since 1.7 knows: one it does not know makes it
        // print its help and run nothing (so no --gtest_brief, 1.11's; the
        // environment's GTEST_BRIEF is dropped instead, batch_adapter.cpp).
        return {std::move(filter), "--gtest_color=no", "--gtest_shuffle=0", "--gtest_repeat=1",
                run_skipped ? "--gtest_also_run_disabled_tests=1"
                            : "--gtest_also_run_disabled_tests=0"};
    }

    std::vector<std::string> run_env(const std::vector<std::size_t>& indexes,
                                     bool run_skipped) const override {
        if (indexes.size() != 1 || tests_[indexes[0]].twins.empty()) return {};
        // Its pattern matches other tests too (':', '-', '*' and '?' have no
        // escape in a filter). gtest deals the tests a filter selects to
        // shards in turn, in list order: with as many shards as tests the
        // pattern runs, the test's own shard holds it alone.
        std::size_t shards = 0, mine = 0;
        for (const std::size_t t : tests_[indexes[0]].twins) {
            if (tests_[t].disabled && !run_skipped) continue;  // gtest does not count these
            if (t == indexes[0]) mine = shards;
            ++shards;
        }
        return {"GTEST_TOTAL_SHARDS=" + std::to_string(shards),
                "GTEST_SHARD_INDEX=" + std::to_string(mine)};
    }

    TestKey key(std::size_t index) const override { return TestKey{tests_[index].full, {}, 0}; }

    std::unique_ptr<ProgressParser> parser() const override {
        return std::make_unique<GtestParser>();
    }

  private:
    struct Test {
        std::string full;     ///< "Suite.name", as the console names it
        std::string pattern;  ///< its --gtest_filter pattern
        bool disabled = false;
        std::size_t suite = 0;  ///< index in suites_
        /// Every test its pattern matches, itself included, in list order;
        /// empty when it matches only itself.
        std::vector<std::size_t> twins;
    };

    /// "Suite." then "  name" lines, each maybe followed by "  # TypeParam
    /// = ..." or "  # GetParam() = ...".
    static std::vector<std::pair<std::string, std::string>> console_names(std::string_view out) {
        std::vector<std::pair<std::string, std::string>> names;
        std::string suite;
        bool in_suite = false;
        while (!out.empty()) {
            const auto nl = out.find('\n');
            auto line = out.substr(0, nl);
            out.remove_prefix(nl == std::string_view::npos ? out.size() : nl + 1);
            if (const auto comment = line.find("  # "); comment != std::string_view::npos) {
                line = line.substr(0, comment);
            }
            if (line.rfind("  ", 0) == 0) {
                if (in_suite) names.emplace_back(suite, std::string(line.substr(2)));
            } else if (!line.empty() && line.back() == '.') {
                suite = std::string(line.substr(0, line.size() - 1));
                in_suite = true;
            } else {
                in_suite = false;  // "Running main() from ...", or a test's own print
            }
        }
        return names;
    }

    void decide_selection(const std::vector<TestDescription>& tests) {
        tests_.clear();
        tests_.reserve(tests.size());
        suites_.clear();
        std::set<std::string> suite_names;
        for (std::size_t i = 0; i < tests.size(); ++i) {
            const auto& t = tests[i];
            if (suites_.empty() || suites_.back().name != t.suite) {
                suites_.push_back(Suite{t.suite, i, 0, false});
                suite_names.insert(t.suite);
            }
            ++suites_.back().count;
            Test s;
            s.full = t.suite + "." + t.name;
            s.pattern = pattern_of(s.full);
            s.disabled = t.skip;
            s.suite = suites_.size() - 1;
            tests_.push_back(std::move(s));
        }
        for (auto& s : suites_) {
            const std::string prefix = s.name + ".";
            const auto next = suite_names.lower_bound(prefix);
            s.star_exact = pattern_of(s.name) == s.name &&
                           (next == suite_names.end() || next->rfind(prefix, 0) != 0) &&
                           suite_names.count(s.name) == 1;
        }
        // A suite listed in two places: its first run alone has ".*" wrong.
        std::map<std::string, std::size_t> runs;
        for (const auto& s : suites_) ++runs[s.name];
        for (auto& s : suites_) {
            if (runs[s.name] > 1) s.star_exact = false;
        }
        // Only a pattern with a `?` can match another test: the rare awkward
        // name costs a pass over the list, the ordinary one nothing.
        for (auto& s : tests_) {
            if (s.pattern == s.full && s.full.find_first_of("*?") == std::string::npos) continue;
            std::vector<std::size_t> twins;
            for (std::size_t j = 0; j < tests_.size(); ++j) {
                if (glob_matches(s.pattern, tests_[j].full)) twins.push_back(j);
            }
            if (twins.size() > 1) s.twins = std::move(twins);
        }
    }

    /// A run of tests of one suite in the list (gtest lists a suite's tests
    /// together).
    struct Suite {
        std::string name;
        std::size_t first = 0, count = 0;
        /// "name.*" selects exactly its tests: no filter character in the
        /// name, and no other suite named "name.something".
        bool star_exact = false;
    };

    std::vector<Test> tests_;
    std::vector<Suite> suites_;
};

}  // namespace

std::unique_ptr<Driver> make_gtest_driver() {
    return std::make_unique<GtestDriver>();
}

}  // namespace tend::batch
