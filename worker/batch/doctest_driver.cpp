// The doctest driver (doctest 2.4.9 to 2.4.x): lists an unmodified binary's
// tests with --list-test-cases as XML, selects a batch of them with
// --test-case filters, and reads the XML reporter's stream on kReportFd as
// the batch runs. See driver.hpp for the interface.
//
// How doctest selects (doctest.h, Context::run): a test runs when its file
// matches one of the --source-file patterns, its suite one of the
// --test-suite patterns and its name one of the --test-case patterns, and no
// *-exclude pattern matches. Patterns are globs (`*`, `?`, no escape), split
// at commas (`\,` is a comma, `\\` a backslash), matched case-sensitively
// with --case-sensitive=true. For each option only its last occurrence on the
// command line counts, so each is passed once.
#include <expat.h>
#include <sys/wait.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <iterator>
#include <type_traits>
#include <unordered_map>

#include "driver.hpp"

namespace tend::batch {
namespace {

/// Arguments every run of a batch passes: the XML reporter on kReportFd
/// (the tests' own prints stay on stdout), names matched exactly, tests in
/// the order list() gives them. --no-skipped-summary keeps doctest from
/// writing a <TestCase skipped="true"/> for every test the filters leave
/// out: without it each batch's stream would name the whole binary.
/// --no-exitcode: a batch with failures still exits 0, so another status
/// means the process did not end the way doctest ends.
const char* const kRunArgs[] = {"--reporters=xml",           "--out=/dev/fd/3",
                                "--case-sensitive=true",     "--order-by=file",
                                "--no-skipped-summary=true", "--no-exitcode=true"};

/// Arguments of the listing: every test, skipped or not, in run order.
const char* const kListArgs[] = {"--list-test-cases", "--reporters=xml", "--no-skip=true",
                                 "--order-by=file", "--out=/dev/fd/3"};

bool has_wildcard(std::string_view s) {
    return s.find_first_of("*?") != std::string_view::npos;
}

/// `text` as one item of a doctest filter list (parseCommaSepArgs): commas
/// and backslashes escaped; `*` and `?` stay wildcards, doctest has no escape
/// for them.
void append_escaped(std::string& out, std::string_view text) {
    for (char c : text) {
        if (c == ',' || c == '\\') out += '\\';
        out += c;
    }
}

/// `option` (e.g. "--test-case=") followed by `items`, escaped and joined.
std::string filter_arg(std::string_view option, const std::vector<std::string_view>& items) {
    std::string arg(option);
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) arg += ',';
        append_escaped(arg, items[i]);
    }
    return arg;
}

std::string join_args(const char* const* args, std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        if (i > 0) s += ' ';
        s += args[i];
    }
    return s;
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* name = strsignal(WTERMSIG(status));
        return "was killed by signal " + std::to_string(WTERMSIG(status)) +
               (name ? std::string(" (") + name + ")" : std::string());
    }
    return "ended with wait status " + std::to_string(status);
}

/// Text without the whitespace around it: doctest's XmlWriter puts each
/// element's text on its own indented line.
std::string_view trim(std::string_view s) {
    const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

/// Attribute `name` of an element (expat's name/value array), or null.
const char* attribute(const XML_Char** atts, const char* name) {
    for (; atts && atts[0]; atts += 2) {
        if (std::strcmp(atts[0], name) == 0) return atts[1];
    }
    return nullptr;
}

std::string attribute_or_empty(const XML_Char** atts, const char* name) {
    const char* v = attribute(atts, name);
    return v ? v : "";
}

std::uint32_t attribute_uint(const XML_Char** atts, const char* name) {
    const char* v = attribute(atts, name);
    std::uint32_t n = 0;
    if (v) std::from_chars(v, v + std::strlen(v), n);
    return n;
}

bool attribute_true(const XML_Char** atts, const char* name) {
    const char* v = attribute(atts, name);
    return v && std::strcmp(v, "true") == 0;
}

struct ExpatFree {
    void operator()(XML_Parser p) const { XML_ParserFree(p); }
};
using ExpatParser = std::unique_ptr<std::remove_pointer_t<XML_Parser>, ExpatFree>;

/// Where expat stopped and why, for error messages.
std::string expat_error(XML_Parser p) {
    return "line " + std::to_string(XML_GetCurrentLineNumber(p)) + ", column " +
           std::to_string(XML_GetCurrentColumnNumber(p)) + ": " +
           XML_ErrorString(XML_GetErrorCode(p));
}

// ---- The listing --------------------------------------------------------

/// Reads --list-test-cases' XML: one <TestCase name testsuite filename line
/// skipped/> per test, under the <doctest> root.
struct ListReader {
    std::vector<TestDescription> tests;
    int depth = 0;
    bool saw_root = false;

    static void on_start(void* self_, const XML_Char* name, const XML_Char** atts) {
        auto& self = *static_cast<ListReader*>(self_);
        ++self.depth;
        if (self.depth == 1) self.saw_root = std::strcmp(name, "doctest") == 0;
        if (self.depth != 2 || std::strcmp(name, "TestCase") != 0) return;
        TestDescription d;
        d.name = attribute_or_empty(atts, "name");
        d.suite = attribute_or_empty(atts, "testsuite");  // absent outside any TEST_SUITE
        d.file = attribute_or_empty(atts, "filename");
        d.line = attribute_uint(atts, "line");
        d.skip = attribute_true(atts, "skipped");
        // The in-process adapter's tags are the decorators (skip, may_fail,
        // should_fail, expected_failures, timeout) and the description's
        // [words]; the XML listing carries only skip, and no timeout_s.
        if (d.skip) d.tags.emplace_back("skip");
        self.tests.push_back(std::move(d));
    }
    static void on_end(void* self_, const XML_Char*) { --static_cast<ListReader*>(self_)->depth; }
};

// ---- The run stream -----------------------------------------------------

/// The test case open in a run stream.
struct OpenTest {
    TestKey key;
    bool should_fail = false;
    std::string timeout;
    bool crashed = false;  ///< doctest's signal handler reported a crash in it
    std::vector<FailureDetail> failures;
};

/// The failed <Expression>, failing <Message> or <Exception> being read.
struct PendingFailure {
    FailureDetail failure;
    bool expression = false;  ///< else a message or an exception
    bool threw = false;
    std::string exception;           ///< <Exception> of the expression
    std::string expected_exception;  ///< <ExpectedException>
    std::vector<std::string> infos;  ///< <Info>: INFO/CAPTURE contexts
};

/// Reads the XML reporter's stream of one batch as it comes:
///
///   <TestSuite name>                       (absent name outside any suite)
///     <TestCase name filename line [should_fail] [timeout] [may_fail]>
///       <SubCase name filename line> ... </SubCase>       (nested)
///       <Expression success type filename line>
///         <Original/> [<Exception/>] [<ExpectedException/>]
///         [<ExpectedExceptionString/>] [<Expanded/>] <Info/>*
///       </Expression>
///       <Message type="WARNING|ERROR|FATAL ERROR" filename line>
///         <Text/> <Info/>*
///       </Message>
///       <Exception crash>text</Exception>
///       <OverallResultsAsserts successes failures test_case_success
///                              [expected_failures]/>
///     </TestCase>
///
/// Failures are filled as tend's in-process doctest adapter fills them
/// (worker/include/tend/doctest.hpp, Reporter).
class StreamParser final : public ProgressParser {
  public:
    StreamParser() : parser_(XML_ParserCreate(nullptr)) {
        XML_SetUserData(parser_.get(), this);
        XML_SetElementHandler(parser_.get(), on_start, on_end);
        XML_SetCharacterDataHandler(parser_.get(), on_text);
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 6)
        // expat 2.6 may hold an incomplete token back until many more bytes
        // come; a test's start tag must be seen as soon as doctest writes it.
        XML_SetReparseDeferralEnabled(parser_.get(), XML_FALSE);
#endif
    }

    void feed_stdout(std::string_view bytes, ProgressSink& sink) override {
        if (!bytes.empty()) sink.output(bytes);
    }

    void feed_report(std::string_view bytes, ProgressSink& sink) override {
        if (!error_.empty() || bytes.empty()) return;
        sink_ = &sink;
        if (XML_Parse(parser_.get(), bytes.data(), static_cast<int>(bytes.size()), XML_FALSE) ==
            XML_STATUS_ERROR) {
            error_ = "doctest's XML report, " + expat_error(parser_.get());
        }
        sink_ = nullptr;
    }

    // Nothing is buffered outside expat, and a stream cut short (the child
    // died) is no error of the stream's: the caller knows which test was open.
    void finish(ProgressSink&) override {}

    std::string error() const override {
        return error_;
    }

  private:
    static void on_start(void* self, const XML_Char* name, const XML_Char** atts) {
        static_cast<StreamParser*>(self)->start(name, atts);
    }
    static void on_end(void* self, const XML_Char* name) {
        static_cast<StreamParser*>(self)->end(name);
    }
    static void on_text(void* self, const XML_Char* s, int len) {
        static_cast<StreamParser*>(self)->text_.append(s, static_cast<std::size_t>(len));
    }

    void start(std::string_view name, const XML_Char** atts) {
        text_.clear();
        const std::string parent = elements_.empty() ? std::string() : elements_.back();
        elements_.emplace_back(name);
        if (name == "TestCase") {
            // Filtered-out tests are not written (--no-skipped-summary); a
            // skipped="true" left would be one the user's own arguments or
            // a skip() decorator left out, indistinguishable from here.
            if (attribute_true(atts, "skipped")) return;
            test_.emplace();
            pending_.reset();
            test_->key = {attribute_or_empty(atts, "name"), attribute_or_empty(atts, "filename"),
                          attribute_uint(atts, "line")};
            test_->should_fail = attribute_true(atts, "should_fail");
            test_->timeout = attribute_or_empty(atts, "timeout");
            subcases_.clear();
            sink_->started(test_->key);
        } else if (!test_) {
            return;
        } else if (name == "SubCase") {
            subcases_.push_back(attribute_or_empty(atts, "name"));
        } else if (name == "Expression") {
            if (!attribute_true(atts, "success"))
                begin_failure(atts, attribute_or_empty(atts, "type"), true);
        } else if (name == "Message") {
            // WARNING: MESSAGE and WARN, not failures. ERROR: FAIL_CHECK,
            // the test goes on. FATAL ERROR: FAIL, it stops.
            const std::string type = attribute_or_empty(atts, "type");
            if (type == "ERROR") begin_failure(atts, "FAIL_CHECK", false);
            if (type == "FATAL ERROR") begin_failure(atts, "FAIL", false);
        } else if (name == "Exception" && parent != "Expression") {
            // An exception that escaped the test (or a crash doctest's signal
            // handler saw, before the process dies).
            const bool crash = attribute_true(atts, "crash");
            if (crash) test_->crashed = true;
            begin_failure(atts, crash ? "crash" : "exception", false);
        } else if (name == "OverallResultsAsserts" && parent == "TestCase") {
            end_test(atts);
        }
    }

    void end(std::string_view name) {
        const std::string text(trim(text_));
        text_.clear();
        elements_.pop_back();
        if (name == "TestCase") {
            test_.reset();  // finished at its OverallResultsAsserts
            pending_.reset();
        } else if (!test_) {
            return;
        } else if (name == "SubCase") {
            if (!subcases_.empty()) subcases_.pop_back();
        } else if (!pending_) {
            return;
        } else if (name == "Original") {
            pending_->failure.expression = text;
        } else if (name == "Expanded") {
            pending_->failure.expanded = text;
        } else if (name == "ExpectedException") {
            pending_->expected_exception = text;
        } else if (name == "Info") {
            pending_->infos.push_back(text);
        } else if (name == "Text") {
            pending_->failure.message = text;
        } else if (name == "Exception" && pending_->expression) {
            pending_->threw = true;
            pending_->exception = text;
        } else if (name == "Exception") {
            pending_->failure.message = text;
            end_failure();
        } else if (name == "Expression" || name == "Message") {
            end_failure();
        }
    }

    void begin_failure(const XML_Char** atts, std::string kind, bool expression) {
        pending_.emplace();
        pending_->expression = expression;
        FailureDetail& f = pending_->failure;
        f.kind = std::move(kind);
        f.file = attribute_or_empty(atts, "filename");  // absent on <Exception>
        f.line = attribute_uint(atts, "line");
        for (const auto& s : subcases_) {
            if (!f.subcase.empty()) f.subcase += " / ";
            f.subcase += s;
        }
    }

    void end_failure() {
        PendingFailure& p = *pending_;
        FailureDetail& f = p.failure;
        std::string contexts;
        for (const auto& info : p.infos) {
            if (!contexts.empty()) contexts += '\n';
            contexts += info;
        }
        if (p.expression) {
            // As the in-process adapter spells what the assertion saw.
            const bool throws_as = !p.expected_exception.empty();
            if (p.threw) {
                f.expanded = "threw exception: " + p.exception;
            } else if (throws_as) {
                f.expanded = "did not throw " + p.expected_exception;
            } else if (f.kind.ends_with("_THROWS")) {
                f.expanded = "did not throw";  // CHECK_THROWS and its kin
            }
            f.message = std::move(contexts);
        } else if (!contexts.empty()) {
            f.message += "\n" + contexts;
        }
        test_->failures.push_back(std::move(f));
        pending_.reset();
    }

    /// <OverallResultsAsserts> of the open test: doctest's verdict, after
    /// may_fail, should_fail and expected_failures.
    void end_test(const XML_Char** atts) {
        OpenTest& t = *test_;
        // doctest's signal handler closes the test, then the process dies
        // of the signal: the test stays open, so that tend-batch dies as it
        // did and tend reports it crashed, as any crash.
        if (t.crashed) return;
        const bool passed = attribute_true(atts, "test_case_success");
        if (passed) t.failures.clear();
        if (!passed && t.failures.empty()) t.failures.push_back(why_failed(atts));
        sink_->finished(passed ? Outcome::passed : Outcome::failed, std::move(t.failures), "");
        t.failures.clear();
    }

    /// A failure with no failed assertion: one of doctest's decorators, as
    /// far as the stream tells (it has no failure flags and, without
    /// --duration, no time).
    FailureDetail why_failed(const XML_Char** atts) const {
        FailureDetail f;
        f.file = test_->key.file;
        f.line = test_->key.line;
        const std::string expected = attribute_or_empty(atts, "expected_failures");
        if (test_->should_fail) {
            f.kind = "should_fail";
            f.message = "passed, but is marked should_fail";
        } else if (!expected.empty()) {
            f.kind = "expected_failures";
            f.message = attribute_or_empty(atts, "failures") +
                        " assertions failed, not the expected " + expected;
        } else if (!test_->timeout.empty()) {
            f.kind = "timeout";
            f.message = "took longer than its timeout of " + test_->timeout + " s";
        } else {
            f.kind = "failed";
            f.message = "doctest marked the test failed";
        }
        return f;
    }

    ExpatParser parser_;
    ProgressSink* sink_ = nullptr;  ///< during feed_report only
    std::string error_;
    std::vector<std::string> elements_;  ///< names of the open elements
    std::string text_;                   ///< text of the innermost element so far
    std::optional<OpenTest> test_;
    std::vector<std::string> subcases_;
    std::optional<PendingFailure> pending_;
};

// ---- The driver ---------------------------------------------------------

class DoctestDriver final : public Driver {
  public:
    std::string framework() const override { return "doctest"; }
    bool uses_report_fd() const override { return true; }

    std::optional<std::vector<TestDescription>> list(const RunBinary& run,
                                                     std::string& error) override {
        const std::vector<std::string> args(std::begin(kListArgs), std::end(kListArgs));
        const std::string command = "\"" + join_args(kListArgs, std::size(kListArgs)) + "\"";
        const Captured got = run(args, true);
        if (got.wait_status != 0) {
            error = "listing tests with " + command + ": the binary " +
                    describe_status(got.wait_status);
            const std::string_view err = trim(got.err);
            if (!err.empty()) error += ": " + std::string(err.substr(err.rfind('\n') + 1));
            return std::nullopt;
        }
        if (trim(got.report).empty()) {
            error = "listing tests with " + command +
                    ": the binary wrote no XML to descriptor 3 (not a doctest 2.4 binary?)";
            return std::nullopt;
        }
        ListReader reader;
        ExpatParser xml(XML_ParserCreate(nullptr));
        XML_SetUserData(xml.get(), &reader);
        XML_SetElementHandler(xml.get(), ListReader::on_start, ListReader::on_end);
        if (XML_Parse(xml.get(), got.report.data(), static_cast<int>(got.report.size()),
                      XML_TRUE) == XML_STATUS_ERROR) {
            error = "listing tests with " + command + ": malformed XML, " + expat_error(xml.get());
            return std::nullopt;
        }
        if (!reader.saw_root) {
            error = "listing tests with " + command + ": the XML is not doctest's (no <doctest>)";
            return std::nullopt;
        }
        tests_ = std::move(reader.tests);
        plan_selection();
        return tests_;
    }

    Selectable selectable(std::size_t index) const override {
        return {picks_[index].in_batch, picks_[index].problem};
    }

    std::vector<std::string> run_args(const std::vector<std::size_t>& indexes,
                                      bool run_skipped) const override {
        std::vector<std::string> args(std::begin(kRunArgs), std::end(kRunArgs));
        if (run_skipped) args.emplace_back("--no-skip=true");
        if (indexes.size() == 1 && !picks_[indexes[0]].in_batch) {
            const auto& alone = picks_[indexes[0]].alone;
            args.insert(args.end(), alone.begin(), alone.end());
        } else if (indexes.empty()) {
            // An empty --test-case= is ignored, which would run everything.
            args.emplace_back("--test-case-exclude=*");
        } else {
            std::vector<std::string_view> names;
            names.reserve(indexes.size());
            for (std::size_t i : indexes) names.emplace_back(tests_[i].name);
            args.push_back(filter_arg("--test-case=", names));
        }
        return args;
    }

    TestKey key(std::size_t index) const override {
        const auto& t = tests_[index];
        return {t.name, t.file, t.line};
    }

    std::unique_ptr<ProgressParser> parser() const override {
        return std::make_unique<StreamParser>();
    }

  private:
    /// How one test is selected.
    struct Pick {
        bool in_batch = true;
        std::string problem;
        std::vector<std::string> alone;  ///< the filters that run it alone
    };

    /// Decides, for every test, whether its name alone selects it (then it
    /// may share a batch) and, if not, the filters that run it alone. A name
    /// without `*` or `?` matches only tests of the same name, found by
    /// lookup; only wildcard names are matched against every test.
    void plan_selection() {
        picks_.assign(tests_.size(), Pick{});
        std::unordered_map<std::string_view, std::vector<std::size_t>> by_name;
        for (std::size_t i = 0; i < tests_.size(); ++i) by_name[tests_[i].name].push_back(i);
        for (std::size_t i = 0; i < tests_.size(); ++i) {
            const std::string& name = tests_[i].name;
            std::vector<std::size_t> matched;  // the other tests `name` matches
            if (has_wildcard(name)) {
                for (std::size_t j = 0; j < tests_.size(); ++j) {
                    if (j != i && glob_matches(name, tests_[j].name)) matched.push_back(j);
                }
            } else {
                for (std::size_t j : by_name[name]) {
                    if (j != i) matched.push_back(j);
                }
            }
            // doctest drops an empty filter item: no --test-case names "".
            if (matched.empty() && !name.empty()) {
                std::string arg = "--test-case=";
                append_escaped(arg, name);
                if (arg.size() > kMaxFilterBytes) {
                    picks_[i].in_batch = false;
                    picks_[i].problem = "its name makes a doctest filter of " +
                                        std::to_string(arg.size()) +
                                        " bytes, more than a command-line argument may hold";
                }
                continue;
            }
            picks_[i] = isolate(i, std::move(matched));
        }
    }

    /// The filters that run test `i` alone, given the other tests its name
    /// matches: its suite, then its file, as far as they narrow; then
    /// exclusions for the rest, each by a name, suite or file that does not
    /// match test `i` itself.
    Pick isolate(std::size_t i, std::vector<std::size_t> matched) const {
        const TestDescription& t = tests_[i];
        Pick pick;
        pick.in_batch = false;
        std::vector<std::string_view> exclude_names, exclude_suites, exclude_files;
        if (t.name.empty()) {
            exclude_names.emplace_back("?*");  // every name but ""
        } else {
            pick.alone.push_back(filter_arg("--test-case=", {t.name}));
        }
        const auto keep = [&matched](auto&& pred) {
            matched.erase(std::remove_if(matched.begin(), matched.end(),
                                         [&pred](std::size_t j) { return !pred(j); }),
                          matched.end());
        };
        if (!matched.empty()) {
            if (t.suite.empty()) {
                exclude_suites.emplace_back("?*");  // every suite but none
                keep([this](std::size_t j) { return tests_[j].suite.empty(); });
            } else {
                pick.alone.push_back(filter_arg("--test-suite=", {t.suite}));
                keep([&](std::size_t j) { return glob_matches(t.suite, tests_[j].suite); });
            }
        }
        if (!matched.empty()) {
            pick.alone.push_back(filter_arg("--source-file=", {t.file}));
            keep([&](std::size_t j) { return glob_matches(t.file, tests_[j].file); });
        }
        for (std::size_t j : matched) {
            const TestDescription& o = tests_[j];
            if (!o.name.empty() && !glob_matches(o.name, t.name)) {
                exclude_names.emplace_back(o.name);
            } else if (!o.suite.empty() && !glob_matches(o.suite, t.suite)) {
                exclude_suites.emplace_back(o.suite);
            } else if (!glob_matches(o.file, t.file)) {
                exclude_files.emplace_back(o.file);
            } else {
                pick.problem =
                    "no doctest filter (--test-case, --test-suite, --source-file) tells it "
                    "apart from \"" +
                    o.name + "\" at " + o.file + ":" + std::to_string(o.line);
                return pick;
            }
        }
        const auto add_exclusions = [&pick](std::string_view option,
                                            std::vector<std::string_view>& items) {
            if (items.empty()) return;
            std::sort(items.begin(), items.end());
            items.erase(std::unique(items.begin(), items.end()), items.end());
            pick.alone.push_back(filter_arg(option, items));
        };
        add_exclusions("--test-case-exclude=", exclude_names);
        add_exclusions("--test-suite-exclude=", exclude_suites);
        add_exclusions("--source-file-exclude=", exclude_files);
        for (const auto& arg : pick.alone) {
            if (arg.size() > kMaxFilterBytes) {
                pick.problem = "selecting it alone takes a doctest filter of " +
                               std::to_string(arg.size()) +
                               " bytes, more than a command-line argument may hold";
                pick.alone.clear();
                break;
            }
        }
        return pick;
    }

    std::vector<TestDescription> tests_;
    std::vector<Pick> picks_;
};

}  // namespace

std::unique_ptr<Driver> make_doctest_driver() {
    return std::make_unique<DoctestDriver>();
}

}  // namespace tend::batch
