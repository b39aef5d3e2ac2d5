// HumanReporter writing to memory: colours, the progress line, output
// tails, the recap. (The whole output, on real runs, is in the snapshot
// tests of tests/integration/human_output_test.cpp.)
#include "report/human_reporter.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>

#include "report/terminal.hpp"

using tend::HumanOptions;
using tend::HumanReporter;
using tend::TestStatus;
using tend::protocol::Failure;
using tend::protocol::TestInfo;

namespace {
/// A FILE* writing to memory.
class Capture {
  public:
    Capture() : file_(::open_memstream(&buf_, &len_)) {}
    ~Capture() {
        std::fclose(file_);
        std::free(buf_);
    }
    Capture(const Capture&) = delete;
    Capture& operator=(const Capture&) = delete;
    std::FILE* file() { return file_; }
    std::string text() {
        std::fflush(file_);
        return std::string(buf_, len_);
    }

  private:
    char* buf_ = nullptr;
    std::size_t len_ = 0;
    std::FILE* file_;
};

TestInfo info(std::string suite, std::string name) {
    TestInfo t;
    t.suite = std::move(suite);
    t.name = std::move(name);
    t.file = "t.cpp";
    t.line = 7;
    return t;
}

const std::string kBinary = "build/tests/t";

void report(HumanReporter& r, const TestInfo& t, TestStatus s,
            const std::vector<Failure>& failures = {}, std::string_view out = {},
            std::string_view detail = {}) {
    r.test(tend::TestEvent{kBinary, t, s, 1'500'000, 42, {}, failures, out, {}, detail});
}

tend::Summary summary_of(std::uint64_t passed, std::uint64_t failed) {
    tend::Summary s;
    s.counts[static_cast<std::size_t>(TestStatus::passed)] = passed;
    s.counts[static_cast<std::size_t>(TestStatus::failed)] = failed;
    s.total = passed + failed;
    s.workers_started = 1;
    return s;
}

std::string lines(int n, const std::string& prefix) {
    std::string out;
    for (int i = 1; i <= n; ++i) out += prefix + std::to_string(i) + "\n";
    return out;
}
}  // namespace

TEST_CASE("colours: on status labels when asked, never otherwise") {
    const auto pass = info("s", "ok");
    const auto fail = info("s", "bad");
    for (const bool color : {false, true}) {
        Capture c;
        HumanOptions o;
        o.color = color;
        HumanReporter r(c.file(), o);
        report(r, pass, TestStatus::passed);
        report(r, fail, TestStatus::failed);
        r.summary(summary_of(1, 1));
        const auto text = c.text();
        INFO(text);
        if (color) {
            CHECK(text.find("\x1b[32m   PASS\x1b[0m") != std::string::npos);
            CHECK(text.find("\x1b[1;31m   FAIL\x1b[0m") != std::string::npos);
            CHECK(text.find("\x1b[2m[    0.002s]\x1b[0m") != std::string::npos);
        } else {
            CHECK(text.find('\x1b') == std::string::npos);
            CHECK(text.find("   PASS [    0.002s] s/ok\n") != std::string::npos);
        }
    }
}

TEST_CASE("progress: off unless asked") {
    Capture c;
    HumanReporter r(c.file(), HumanOptions{});
    CHECK(r.progress_interval().count() == 0);
    r.progress(tend::Progress{});
    CHECK(c.text().empty());
}

TEST_CASE("progress: drawn, erased before each line, drawn again, gone after the summary") {
    Capture c;
    HumanOptions o;
    o.progress = true;
    o.width = 100;
    HumanReporter r(c.file(), o);
    CHECK(r.progress_interval() == HumanReporter::kProgressInterval);
    const auto a = info("s", "a long running test with a name much longer than the terminal");
    const auto b = info("s", "b");
    tend::Progress p;
    p.total = 2;
    p.elapsed_s = 1.21;
    p.running.push_back({&kBinary, a, 1'000'000'000});
    p.running.push_back({&kBinary, b, 500'000'000});
    r.progress(p);
    const auto first = c.text();
    INFO(first);
    CHECK(first.starts_with("RUNNING [   1.2s] 0/2 tests, 0 passed, 0 failed | s/a long"));
    CHECK(tend::display_width(first) == 99);  // the width, less the last column
    CHECK(first.ends_with("…"));
    CHECK(first.find('\n') == std::string::npos);

    report(r, b, TestStatus::passed);
    const auto after = c.text().substr(first.size());
    INFO(after);
    // Erased, the result line, drawn again: 1 done, and b no longer running.
    CHECK(after.starts_with("\r\x1b[K   PASS [    0.002s] s/b\nRUNNING ["));
    CHECK(after.find("1/2 tests, 1 passed, 0 failed | s/a long") != std::string::npos);
    CHECK(after.find("s/b (") == std::string::npos);

    r.summary(summary_of(1, 0));
    const auto end = c.text().substr(first.size() + after.size());
    INFO(end);
    CHECK(end.starts_with("\r\x1b[KSummary ["));
    CHECK(end.ends_with("crashed\n"));
    r.progress(p);  // a late tick draws nothing
    CHECK(c.text().size() == first.size() + after.size() + end.size());
}

TEST_CASE("progress: a narrow terminal and names with control characters") {
    Capture c;
    HumanOptions o;
    o.progress = true;
    o.width = 12;
    HumanReporter r(c.file(), o);
    const auto t = info("s", "x\r\x1b[2J");
    tend::Progress p;
    p.running.push_back({&kBinary, t, 1});
    r.progress(p);
    CHECK(c.text() == "RUNNING [ …");
    Capture wide;
    o.width = 200;
    HumanReporter r2(wide.file(), o);
    r2.progress(p);
    CHECK(wide.text().find("| s/x\\r\\x1b[2J (0.0s)") != std::string::npos);
}

TEST_CASE("output of a failed test: its tail, or all of it with show_output") {
    const auto t = info("s", "noisy");
    const auto out = lines(30, "line ");
    {
        Capture c;
        HumanReporter r(c.file(), HumanOptions{});
        report(r, t, TestStatus::failed, {}, out);
        const auto text = c.text();
        INFO(text);
        CHECK(text.find("       --- stdout ---\n"
                        "         ... 10 earlier lines cut (71 B); --show-output shows all\n"
                        "         line 11\n") != std::string::npos);
        CHECK(text.find("line 10\n") == std::string::npos);
        CHECK(text.ends_with("         line 30\n"));
    }
    {
        Capture c;
        HumanOptions o;
        o.show_output = true;
        HumanReporter r(c.file(), o);
        report(r, t, TestStatus::failed, {}, out);
        const auto text = c.text();
        CHECK(text.find("cut") == std::string::npos);
        CHECK(text.find("         line 1\n") != std::string::npos);
    }
    {
        // One enormous line: only its end.
        Capture c;
        HumanReporter r(c.file(), HumanOptions{});
        report(r, t, TestStatus::failed, {}, std::string(100'000, 'x') + "END");
        const auto text = c.text();
        INFO(text.substr(0, 300));
        CHECK(text.find("... 89.7 KiB cut from the start of this line; --show-output shows all") !=
              std::string::npos);
        CHECK(text.size() < 10'000);
        CHECK(text.find("xxxEND\n") != std::string::npos);
    }
}

TEST_CASE("output of a passing test: only with show_output") {
    const auto t = info("", "chatty");
    for (const bool show : {false, true}) {
        Capture c;
        HumanOptions o;
        o.show_output = show;
        HumanReporter r(c.file(), o);
        report(r, t, TestStatus::passed, {}, "hello\n");
        CHECK((c.text().find("--- stdout ---\n         hello\n") != std::string::npos) == show);
    }
}

TEST_CASE("recap: a line per failure, the re-run commands, not_run counted apart") {
    Capture c;
    HumanReporter r(c.file(), HumanOptions{});
    const auto a = info("s", "fails");
    const auto b = info("", "it's crashed");
    const auto n = info("s", "never ran");
    const auto f = info("s", "flaky");
    Failure failure;
    failure.file = "t.cpp";
    failure.line = 12;
    failure.kind = "CHECK_EQ";
    failure.expression = "x, 2";
    failure.expanded = "1, 2";
    report(r, a, TestStatus::failed, {failure, failure});
    report(r, b, TestStatus::crashed, {}, {},
           "worker 9 killed by signal 11 (Segmentation fault); last output on the worker's "
           "stderr:\nboom\n");
    report(r, f, TestStatus::flaky);
    report(r, n, TestStatus::not_run, {}, {}, "not run: tend stopped");
    r.notice(tend::Notice{kBinary, "unit 's': teardown threw: x\nmore", true});
    r.notice(tend::Notice{kBinary, "only a warning", false});
    r.summary(summary_of(0, 1));
    const auto text = c.text();
    const auto recap = text.substr(text.find("\nFailures:\n"));
    CHECK(recap ==
          "\nFailures:\n"
          "   FAIL s/fails — t.cpp:12: CHECK_EQ( x, 2 ) (+1 more)\n"
          "  CRASH it's crashed — worker 9 killed by signal 11 (Segmentation fault)\n"
          "  ERROR t: unit 's': teardown threw: x\n"
          " NOTRUN 1 test did not run — not run: tend stopped\n"
          "To run the failed tests again: tend run --failed\n"
          "                           or: tend run build/tests/t --exact s/fails --exact "
          "'it'\\''s crashed'\n"
          "Summary [0.000s] 1 tests: 0 passed, 1 failed\n"
          "Workers: 1 started, 0 recycled, 0 crashed\n");
}

TEST_CASE("recap: the re-run commands carry --run-ignored when the run did") {
    Capture c;
    HumanOptions o;
    o.rerun_flags = {"--run-ignored", "only"};
    HumanReporter r(c.file(), o);
    report(r, info("", "skipped"), TestStatus::failed);
    r.summary(summary_of(0, 1));
    const auto text = c.text();
    CHECK(text.find("To run the failed test again: tend run --failed --run-ignored only\n"
                    "                          or: tend run build/tests/t --run-ignored only "
                    "--exact skipped\n") != std::string::npos);
}

TEST_CASE("recap: more than ten failures, only tend run --failed") {
    Capture c;
    HumanReporter r(c.file(), HumanOptions{});
    std::vector<TestInfo> tests;
    for (int i = 0; i < 11; ++i) tests.push_back(info("s", "t" + std::to_string(i)));
    for (const auto& t : tests) report(r, t, TestStatus::failed);
    r.summary(summary_of(0, 11));
    const auto text = c.text();
    CHECK(text.find("To run the failed tests again: tend run --failed\nSummary") !=
          std::string::npos);
    CHECK(text.find("--exact") == std::string::npos);
}

TEST_CASE("recap: no failures, no recap; filtered tests in the summary") {
    Capture c;
    HumanReporter r(c.file(), HumanOptions{});
    auto s = summary_of(3, 0);
    s.filtered = 12;
    r.summary(s);
    CHECK(c.text() ==
          "Summary [0.000s] 3 tests: 3 passed, 0 failed, 12 filtered out\n"
          "Workers: 1 started, 0 recycled, 0 crashed\n");
}

TEST_CASE("tests that did not run for one reason: the reason once") {
    Capture c;
    HumanReporter r(c.file(), HumanOptions{});
    const auto a = info("s", "a");
    const auto b = info("s", "b");
    report(r, a, TestStatus::not_run, {}, {}, "why");
    report(r, b, TestStatus::not_run, {}, {}, "why");
    const auto text = c.text();
    CHECK(text.starts_with(" NOTRUN [    0.002s] s/a\n         why\n NOTRUN [    0.002s] s/b\n"));
}

TEST_CASE("file_names_collide") {
    CHECK_FALSE(tend::file_names_collide({"a/x", "a/y"}));
    CHECK(tend::file_names_collide({"a/x", "b/x"}));
    CHECK_FALSE(tend::file_names_collide({"x"}));
}

TEST_CASE("hostile text: every control character escaped, line breaks kept where they are text") {
    const std::string hostile =
        "\x1b]0;title\x07\x1b[2J\r\x7f\xc2\x9b"
        "1m";
    const std::string escaped = "\\x1b]0;title\\x07\\x1b[2J\\r\\x7f\\xc2\\x9b1m";
    const std::string binary = "bin\x1b[H";
    auto t = info("suite\n" + hostile, "name\n" + hostile);
    t.file = "file\n.cpp";
    Failure f;
    f.file = "f\r.cpp";
    f.line = 3;
    f.kind = "CHECK\x1b";
    f.expression = "a\n== b" + hostile;
    f.expanded = "1\n== 2" + hostile;
    f.subcase = "sub\ncase";
    f.message = "first " + hostile + "\nsecond\t(tab)";
    const std::vector<Failure> failures{f};
    const std::string out = "out " + hostile + "\nline two\n";
    const std::string err = std::string("nul \0 here\n", 11);
    const std::string detail = "detail " + hostile + "\nstderr tail";
    Capture c;
    HumanOptions o;
    o.show_binary = true;
    HumanReporter r(c.file(), o);
    r.test(tend::TestEvent{binary, t, TestStatus::failed, 1, 42, {}, failures, out, err, detail});
    r.notice(tend::Notice{binary, "notice " + hostile + "\nnext line", true});
    r.summary(summary_of(0, 1));
    const auto text = c.text();
    INFO(text);
    for (const char ch : text) {
        const auto b = static_cast<unsigned char>(ch);
        CHECK((ch == '\n' || ch == '\t' || (b >= 0x20 && b != 0x7F)));
    }
    CHECK(text.find("\xc2\x9b") == std::string::npos);
    // Single-line fields: one line, \n shown.
    CHECK(text.find("   FAIL [    0.000s] bin\\x1b[H: suite\\n" + escaped + "/name\\n" + escaped +
                    "\n") != std::string::npos);
    CHECK(text.find("         f\\r.cpp:3: CHECK\\x1b( a\\n== b" + escaped + " )\n") !=
          std::string::npos);
    CHECK(text.find("           with expansion: 1\\n== 2" + escaped + "\n") != std::string::npos);
    CHECK(text.find("           in subcase: sub\\ncase\n") != std::string::npos);
    // Text with lines: its line breaks (and tabs) stay.
    CHECK(text.find("           first " + escaped + "\n           second\t(tab)\n") !=
          std::string::npos);
    CHECK(text.find("         detail " + escaped + "\n         stderr tail\n") !=
          std::string::npos);
    CHECK(text.find("         out " + escaped + "\n         line two\n") != std::string::npos);
    CHECK(text.find("         nul \\x00 here\n") != std::string::npos);
    CHECK(text.find("  ERROR bin\\x1b[H: notice " + escaped + "\nnext line\n") !=
          std::string::npos);
    // The recap: one line each; the re-run command runs the exact name.
    CHECK(text.find("  ERROR bin\\x1b[H: notice " + escaped + "\n") != std::string::npos);
    CHECK(text.find("or: tend run \"$(printf -- 'bin\\033[H')\" --exact \"$(printf -- "
                    "'suite\\012\\033]0;title\\007\\033[2J\\015\\177\\302\\2331m/name\\012") !=
          std::string::npos);
}
