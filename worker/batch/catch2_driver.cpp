// The Catch2 2.13 driver: lists the tests of an unmodified Catch2 binary,
// selects a batch of them by name on its command line, and reads the XML
// reporter's stream (-r xml -o /dev/fd/3) as the batch runs.
//
// What Catch2 2.13.10 does, as read in catch.hpp and checked on real
// binaries (the unit tests replay their output):
// - `--list-test-names-only -v high "*"` prints `name\t@file:line` per test,
//   hidden ones included (a spec names them), in declaration order; a name
//   beginning with '#' is printed in double quotes. The exit status is the
//   number of tests (at most 255).
// - `--list-tests -v high "*"` prints, per test, the name (indent 2,
//   continued at 4), the location and description (indent 4) and the tags
//   `[a][b]` (indent 6), each wrapped to the console width by TextFlow.
// - A test spec: `,` separates alternatives; separate arguments are ANDed
//   (so each but the last ends in ','); inside double quotes only `"`, `,`
//   and `\` need a backslash. A name pattern matches case-insensitively,
//   both sides trimmed, `*` a wildcard at either end only, and a pattern
//   beginning with `exclude:` (after unescaping) is an exclusion.
// - Hidden tests ([.], [.tag], [!hide]) run when a spec names them.
// - The XML writer flushes as each start tag closes, so <TestCase> is on
//   the descriptor before the test runs. On a fatal signal, Catch2's handler
//   writes <FatalErrorCondition>, closes the test and the document, and dies
//   of the signal again.
#include <expat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "driver.hpp"

namespace tend::batch {
namespace {

/// Catch2's trim(): "\n\r\t " at both ends.
std::string_view catch_trim(std::string_view s) {
    constexpr std::string_view ws = "\n\r\t ";
    const std::size_t start = s.find_first_not_of(ws);
    if (start == std::string_view::npos) return {};
    return s.substr(start, s.find_last_not_of(ws) + 1 - start);
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

/// A name as Catch2's NamePattern compares it.
std::string normalised(std::string_view name) {
    return ascii_lower(catch_trim(name));
}

/// Catch2's WildcardPattern over a normalised name: the pattern trimmed and
/// lowercased, then a leading and a trailing `*` are wildcards.
bool name_pattern_matches(std::string_view pattern, std::string_view normalised_name) {
    std::string p = normalised(pattern);
    const bool at_start = !p.empty() && p.front() == '*';
    if (at_start) p.erase(0, 1);
    const bool at_end = !p.empty() && p.back() == '*';
    if (at_end) p.pop_back();
    const std::string_view n = normalised_name;
    if (at_start && at_end) return n.find(p) != std::string_view::npos;
    if (at_start) return n.size() >= p.size() && n.substr(n.size() - p.size()) == p;
    if (at_end) return n.substr(0, p.size()) == p;
    return n == p;
}

/// A string as an attribute of Catch2's XML reads back through expat:
/// XmlEncode writes control characters as `\xNN` text, and XML attribute
/// normalisation turns a tab, newline or CR LF into one space. (Invalid
/// UTF-8, also hex-escaped by Catch2, is left as is.)
std::string as_xml_attribute(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
        if (c == '\t' || c == '\n' || c == '\r') {
            out += ' ';
        } else if (c < 0x09 || (c > 0x0D && c < 0x20) || c == 0x7F) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xF];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

/// The pattern that names a test: its name, except that a name beginning
/// with "exclude:" would read as an exclusion, escaped or not; `*` then
/// stands for its first letter.
std::string pattern_for(std::string_view name) {
    if (name.substr(0, 8) == "exclude:") return "*" + std::string(name.substr(1));
    return std::string(name);
}

/// A pattern as one quoted test spec.
std::string quoted(std::string_view pattern) {
    std::string out = "\"";
    for (char c : pattern) {
        if (c == '"' || c == ',' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
    return out;
}

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        lines.push_back(text.substr(0, nl));
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return lines;
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

/// Whether `line` is the first line `--list-tests` prints for `name`: the
/// name at indent 2, whole or its first wrapped piece.
bool is_name_start(std::string_view line, std::string_view name) {
    if (!starts_with(line, "  ") || line.size() == 2) return false;
    return starts_with(name, line.substr(2));
}

/// TextFlow's break points: a wrapped line ends after one of these or the
/// next begins with one of those; anywhere else it broke at (and dropped)
/// whitespace.
bool breaks_after(char c) {
    return std::strchr("])}>.,:;*+-=&/\\", c) != nullptr;
}
bool breaks_before(char c) {
    return std::strchr("[({<|", c) != nullptr;
}

/// The tags of each test (without brackets, as Catch2 spells and sorts
/// them), read from `--list-tests -v high` against the names listed before.
/// Empty with `error` set if the output does not have that shape.
std::vector<std::vector<std::string>> parse_tags(std::string_view out,
                                                 const std::vector<TestDescription>& tests,
                                                 std::string& error) {
    const std::vector<std::string_view> lines = split_lines(out);
    std::vector<std::vector<std::string>> tags(tests.size());
    std::size_t i = 0;
    while (i < lines.size() && lines[i] != "Matching test cases:") ++i;
    if (i == lines.size()) {
        error = "no \"Matching test cases:\" line";
        return {};
    }
    ++i;
    const auto next_starts = [&](std::size_t k, std::string_view line) {
        return k + 1 < tests.size() ? is_name_start(line, tests[k + 1].name)
                                    : !starts_with(line, " ");
    };
    for (std::size_t k = 0; k < tests.size(); ++k) {
        if (i >= lines.size() || !is_name_start(lines[i], tests[k].name)) {
            error = "expected test \"" + tests[k].name + "\" at line " + std::to_string(i + 1);
            return {};
        }
        ++i;
        // The rest of the name, the location and the description (two lines
        // at least, with -v high), then the tags if it has any.
        std::string joined;
        for (std::size_t after = 0; i < lines.size(); ++i, ++after) {
            if (after < 2) continue;
            if (next_starts(k, lines[i])) break;
            if (!starts_with(lines[i], "      [")) continue;
            for (; i < lines.size() && starts_with(lines[i], "      ") && !next_starts(k, lines[i]);
                 ++i) {
                const std::string_view piece = lines[i].substr(6);
                if (piece.empty()) continue;
                if (!joined.empty() && !breaks_after(joined.back()) &&
                    !breaks_before(piece.front()))
                    joined += ' ';
                joined += piece;
            }
            break;
        }
        for (std::size_t p = 0; p < joined.size();) {
            const std::size_t close = joined.find(']', p);
            if (joined[p] != '[' || close == std::string::npos) {
                error = "unreadable tags \"" + joined + "\" of test \"" + tests[k].name + "\"";
                return {};
            }
            tags[k].push_back(joined.substr(p + 1, close - p - 1));
            p = close + 1;
        }
    }
    return tags;
}

/// Reads the XML reporter's stream into the sink, element by element.
class XmlProgress final : public ProgressParser {
  public:
    XmlProgress() : parser_(XML_ParserCreate("UTF-8")) {
        XML_SetUserData(parser_, this);
        XML_SetElementHandler(parser_, &XmlProgress::on_start, &XmlProgress::on_end);
        XML_SetCharacterDataHandler(parser_, &XmlProgress::on_text);
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 6)
        // expat 2.6 may hold an incomplete token back until many more bytes
        // come; a test's start tag must be seen as soon as Catch2 writes it.
        XML_SetReparseDeferralEnabled(parser_, XML_FALSE);
#endif
    }
    ~XmlProgress() override {
        XML_ParserFree(parser_);
    }
    XmlProgress(const XmlProgress&) = delete;
    XmlProgress& operator=(const XmlProgress&) = delete;

    void feed_stdout(std::string_view bytes, ProgressSink& sink) override {
        if (!bytes.empty()) sink.output(bytes);
    }

    void feed_report(std::string_view bytes, ProgressSink& sink) override {
        if (!error_.empty() || bytes.empty()) return;
        sink_ = &sink;
        if (XML_Parse(parser_, bytes.data(), static_cast<int>(bytes.size()), XML_FALSE) ==
            XML_STATUS_ERROR)
            error_ = std::string("Catch2's XML report, line ") +
                     std::to_string(XML_GetCurrentLineNumber(parser_)) + ": " +
                     XML_ErrorString(XML_GetErrorCode(parser_));
        sink_ = nullptr;
    }

    // A document cut short (the child killed) is not an error: the test it
    // was in stays open.
    void finish(ProgressSink&) override {}

    std::string error() const override {
        return error_;
    }

  private:
    static const char* attribute(const XML_Char** attrs, const char* name) {
        for (; attrs[0]; attrs += 2)
            if (std::strcmp(attrs[0], name) == 0) return attrs[1];
        return nullptr;
    }
    static std::string attr(const XML_Char** attrs, const char* name) {
        const char* v = attribute(attrs, name);
        return v ? v : "";
    }
    static std::uint32_t line_of(const XML_Char** attrs) {
        return static_cast<std::uint32_t>(std::strtoul(attr(attrs, "line").c_str(), nullptr, 10));
    }

    static void on_start(void* self, const XML_Char* name, const XML_Char** attrs) {
        static_cast<XmlProgress*>(self)->start(name, attrs);
    }
    static void on_end(void* self, const XML_Char* name) {
        static_cast<XmlProgress*>(self)->end(name);
    }
    static void on_text(void* self, const XML_Char* text, int len) {
        static_cast<XmlProgress*>(self)->text_.append(text, static_cast<std::size_t>(len));
    }

    /// A failure where Catch2 reported it, in the sections open there.
    FailureDetail failure_at(const XML_Char** attrs, std::string kind) const {
        FailureDetail f;
        f.file = attr(attrs, "filename");
        f.line = line_of(attrs);
        f.kind = std::move(kind);
        for (const std::string& s : sections_) {
            if (!f.subcase.empty()) f.subcase += " / ";
            f.subcase += s;
        }
        return f;
    }

    void start(std::string_view name, const XML_Char** attrs) {
        ++depth_;
        text_.clear();
        if (name == "TestCase") {
            in_test_ = true;
            test_ = TestKey{attr(attrs, "name"), attr(attrs, "filename"), line_of(attrs)};
            should_fail_ =
                ascii_lower(attr(attrs, "tags")).find("[!shouldfail]") != std::string::npos;
            failures_.clear();
            infos_.clear();
            sections_.clear();
            out_.clear();
            ended_ = false;
            sink_->started(test_);
        } else if (!in_test_) {
            return;
        } else if (name == "Section") {
            sections_.push_back(attr(attrs, "name"));
        } else if (name == "Expression") {
            // Only failed ones are written (no -s).
            if (attr(attrs, "success") != "true") {
                expression_ = true;
                failures_.push_back(failure_at(attrs, attr(attrs, "type")));
            }
        } else if (name == "Exception" || name == "Failure" || name == "FatalErrorCondition") {
            // Inside a failed <Expression>, the exception its expression threw.
            if (name == "FatalErrorCondition") crashed_ = true;
            if (!expression_)
                failures_.push_back(failure_at(attrs, name == "Exception" ? "exception"
                                                      : name == "Failure" ? "FAIL"
                                                                          : "fatal error"));
        } else if (name == "OverallResult") {
            passed_ = attr(attrs, "success") == "true";
        }
    }

    void end(std::string_view name) {
        const std::string text = untrimmed(text_, depth_);
        text_.clear();
        --depth_;
        if (!in_test_) return;
        if (name == "Section") {
            if (!sections_.empty()) sections_.pop_back();
        } else if (name == "Info") {
            infos_.push_back(text);
        } else if (name == "Original" && expression_) {
            failures_.back().expression = text;
        } else if (name == "Expanded" && expression_) {
            failures_.back().expanded = text;
        } else if (name == "Exception" || name == "Failure" || name == "FatalErrorCondition") {
            failures_.back().message = text;
            if (!expression_) attach_infos();
        } else if (name == "Expression" && expression_) {
            attach_infos();
            expression_ = false;
        } else if (name == "StdOut" || name == "StdErr") {
            // Catch2 trimmed what it captured.
            out_ += text;
            out_ += '\n';
        } else if (name == "OverallResult" || name == "TestCase") {
            end_test();
            if (name == "TestCase") in_test_ = false;
        }
    }

    /// The INFO and CAPTURE messages written before a failure, after its own
    /// message, as the in-process adapter puts them.
    void attach_infos() {
        std::string& message = failures_.back().message;
        for (const std::string& info : infos_) {
            if (!message.empty()) message += '\n';
            message += info;
        }
        infos_.clear();
    }

    void end_test() {
        if (ended_) return;
        ended_ = true;
        // [!mayfail] and [!shouldfail] are applied in `success` already.
        if (passed_) {
            failures_.clear();
        } else if (failures_.empty()) {
            FailureDetail f;
            f.file = test_.file;
            f.line = test_.line;
            if (should_fail_) {
                f.kind = "shouldfail";
                f.message = "passed, but is tagged [!shouldfail]";
            } else {
                f.kind = "failed";
                f.message = "Catch2 marked the test failed without a failed assertion";
            }
            failures_.push_back(std::move(f));
        }
        // Catch2's signal handler closes the test, then the process dies of
        // the signal: the test stays open, so that tend-batch dies as it did
        // and tend reports it crashed, as any crash.
        if (crashed_) return;
        sink_->finished(passed_ ? Outcome::passed : Outcome::failed, std::move(failures_),
                        std::move(out_));
        failures_.clear();
        out_.clear();
    }

    /// Text as written, without the newline and indentation XmlWriter puts
    /// around it: a newline and two spaces per open element before (none
    /// before <StdOut>'s text), a newline and the closing tag's indent after.
    static std::string untrimmed(std::string_view text, int depth) {
        if (!text.empty() && text.front() == '\n') {
            text.remove_prefix(1);
            std::size_t spaces = 0;
            while (spaces < text.size() && spaces < static_cast<std::size_t>(2 * depth) &&
                   text[spaces] == ' ')
                ++spaces;
            text.remove_prefix(spaces);
        }
        const std::size_t nl = text.rfind('\n');
        if (nl != std::string_view::npos &&
            text.find_first_not_of(' ', nl + 1) == std::string_view::npos)
            text = text.substr(0, nl);
        return std::string(text);
    }

    XML_Parser parser_;
    ProgressSink* sink_ = nullptr;
    std::string error_;
    int depth_ = 0;
    std::string text_;
    bool in_test_ = false;
    bool ended_ = false;
    bool expression_ = false;
    bool passed_ = false;
    bool crashed_ = false;  ///< Catch2's signal handler reported a fatal signal in it
    bool should_fail_ = false;
    TestKey test_;
    std::vector<std::string> sections_;
    std::vector<std::string> infos_;
    std::vector<FailureDetail> failures_;
    std::string out_;
};

class Catch2Driver final : public Driver {
  public:
    std::string framework() const override { return "catch2"; }
    bool uses_report_fd() const override { return true; }

    std::optional<std::vector<TestDescription>> list(const RunBinary& run,
                                                     std::string& error) override {
        // "*" names every test, hidden ones too.
        const std::vector<std::string> names_args = {
            "--list-test-names-only", "-v", "high", "--order", "decl", "--use-colour", "no", "*"};
        const Captured names = run(names_args, false);
        std::vector<TestDescription> tests;
        if (!parse_names(names, tests, error)) {
            error = "catch2: " + command(names_args) + ": " + error;
            return std::nullopt;
        }
        const std::vector<std::string> tags_args = {"--list-tests", "-v", "high", "--order", "decl",
                                                    "--use-colour", "no", "*"};
        const Captured listed = run(tags_args, false);
        std::string why;
        std::vector<std::vector<std::string>> tags;
        if (exited(listed, why)) tags = parse_tags(listed.out, tests, why);
        if (!why.empty()) {
            error = "catch2: " + command(tags_args) + ": " + why;
            return std::nullopt;
        }
        for (std::size_t i = 0; i < tests.size(); ++i) {
            tests[i].tags = std::move(tags[i]);
            // Catch2 gives every hidden test the tags "." and "!hide".
            tests[i].skip =
                std::find(tests[i].tags.begin(), tests[i].tags.end(), ".") != tests[i].tags.end();
        }
        tests_ = tests;
        compute_selection();
        return tests;
    }

    Selectable selectable(std::size_t index) const override { return selectable_.at(index); }

    std::vector<std::string> run_args(const std::vector<std::size_t>& indexes,
                                      bool /*run_skipped*/) const override {
        // Hidden tests run when named: run_skipped needs no flag.
        std::vector<std::string> args = {"-r", "xml", "-o", "/dev/fd/3", "--order", "decl"};
        for (std::size_t n = 0; n < indexes.size(); ++n) {
            const std::size_t i = indexes[n];
            std::string spec = quoted(pattern_for(tests_.at(i).name));
            // Alone, what its pattern matches besides it is excluded.
            for (const std::size_t j : excluded_.at(i))
                spec += "~" + quoted(pattern_for(tests_[j].name));
            // Arguments are ANDed; ',' makes them alternatives.
            if (n + 1 < indexes.size()) spec += ',';
            args.push_back(std::move(spec));
        }
        return args;
    }

    TestKey key(std::size_t index) const override {
        const TestDescription& t = tests_.at(index);
        // The XML reporter trims the name.
        return TestKey{as_xml_attribute(catch_trim(t.name)), as_xml_attribute(t.file), t.line};
    }

    std::unique_ptr<ProgressParser> parser() const override {
        return std::make_unique<XmlProgress>();
    }

  private:
    static std::string command(const std::vector<std::string>& args) {
        std::string out = "the binary";
        for (const std::string& a : args) out += a == "*" ? " \"*\"" : " " + a;
        return out;
    }

    /// Whether a listing ran to its end (its status is the number of tests).
    static bool exited(const Captured& c, std::string& why) {
        if (WIFEXITED(c.wait_status)) return true;
        why = "killed by signal " + std::to_string(WTERMSIG(c.wait_status));
        if (!c.err.empty()) why += ": " + std::string(catch_trim(c.err));
        return false;
    }

    /// `name\t@file:line` per test; a line without the tab continues a name
    /// with a newline in it.
    static bool parse_names(const Captured& c, std::vector<TestDescription>& tests,
                            std::string& why) {
        if (!exited(c, why)) return false;
        std::string pending;
        for (const std::string_view line : split_lines(c.out)) {
            const std::size_t at = line.rfind("\t@");
            if (at == std::string_view::npos) {
                pending.append(line).append("\n");
                continue;
            }
            std::string name = pending + std::string(line.substr(0, at));
            pending.clear();
            if (name.size() >= 3 && name[0] == '"' && name[1] == '#' && name.back() == '"')
                name = name.substr(1, name.size() - 2);
            const std::string_view where = line.substr(at + 2);
            const std::size_t colon = where.rfind(':');
            if (colon == std::string_view::npos || colon + 1 == where.size() ||
                where.find_first_not_of("0123456789", colon + 1) != std::string_view::npos) {
                why = "unreadable location in \"" + std::string(line) + "\"";
                return false;
            }
            TestDescription d;
            d.name = std::move(name);
            d.file = std::string(where.substr(0, colon));
            d.line = static_cast<std::uint32_t>(std::stoul(std::string(where.substr(colon + 1))));
            tests.push_back(std::move(d));
        }
        if (!catch_trim(pending).empty()) {
            why = "unreadable line \"" + std::string(catch_trim(pending)) + "\"";
            return false;
        }
        if (tests.empty() && WEXITSTATUS(c.wait_status) != 0) {
            why = "exit status " + std::to_string(WEXITSTATUS(c.wait_status));
            if (!c.err.empty()) why += ": " + std::string(catch_trim(c.err));
            return false;
        }
        return true;
    }

    /// For each test, the others its pattern also matches; in a batch only
    /// if none, alone with those excluded if each has a pattern that does
    /// not match it back.
    void compute_selection() {
        std::vector<std::string> norm;
        std::unordered_map<std::string, std::vector<std::size_t>> by_norm;
        norm.reserve(tests_.size());
        for (std::size_t i = 0; i < tests_.size(); ++i) {
            norm.push_back(normalised(tests_[i].name));
            by_norm[norm.back()].push_back(i);
        }
        selectable_.assign(tests_.size(), Selectable{});
        excluded_.assign(tests_.size(), {});
        for (std::size_t i = 0; i < tests_.size(); ++i) {
            const std::string pattern = pattern_for(tests_[i].name);
            const std::string np = normalised(pattern);
            std::vector<std::size_t> others;
            if (np.find('*') == std::string::npos) {
                // No wildcard: the tests with the same normalised name.
                for (const std::size_t j : by_norm[np])
                    if (j != i) others.push_back(j);
            } else {
                for (std::size_t j = 0; j < tests_.size(); ++j)
                    if (j != i && name_pattern_matches(pattern, norm[j])) others.push_back(j);
            }
            if (others.empty()) continue;
            selectable_[i].in_batch = false;
            for (const std::size_t j : others) {
                if (name_pattern_matches(pattern_for(tests_[j].name), norm[i])) {
                    selectable_[i].problem =
                        "Catch2 cannot select it apart from the test \"" + tests_[j].name +
                        "\": it matches test names ignoring case and surrounding whitespace, "
                        "with '*' a wildcard at either end.";
                    break;
                }
            }
            excluded_[i] = std::move(others);
        }
    }

    std::vector<TestDescription> tests_;
    std::vector<Selectable> selectable_;
    std::vector<std::vector<std::size_t>> excluded_;
};

}  // namespace

std::unique_ptr<Driver> make_catch2_driver() {
    return std::make_unique<Catch2Driver>();
}

}  // namespace tend::batch
