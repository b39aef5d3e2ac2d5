// `tend run --junit FILE` end to end: the real tend on the fixtures, every
// file checked against tests/junit/junit.xsd with xmllint and read back
// with XPath.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "run_tend.hpp"

using namespace tend_test;

namespace {
const std::string kFFFD = "\xEF\xBF\xBD";

/// A report path of its own for each test, removed when done.
struct JunitFile {
    std::string path;
    explicit JunitFile(const std::string& name)
        : path("/tmp/tend-it-junit-" + std::to_string(::getpid()) + "-" + name + ".xml") {
        std::remove(path.c_str());
    }
    ~JunitFile() { std::remove(path.c_str()); }
    std::string read() const { return slurp(path); }
};

/// Runs `command`, returning its exit status; its stdout goes to `out`.
int shell(const std::string& command, std::string& out) {
    const std::string capture = "/tmp/tend-it-junit-sh-" + std::to_string(::getpid());
    const int status = std::system((command + " >" + capture + " 2>&1").c_str());
    out = slurp(capture);
    std::remove(capture.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// xmllint's verdict: well-formed and valid against the schema.
void check_valid(const std::string& path) {
    std::string messages;
    const int status =
        shell("xmllint --noout --schema " + shell_quote(env_or_die("TEND_JUNIT_XSD")) + " " +
                  shell_quote(path),
              messages);
    INFO(messages);
    CHECK(status == 0);
}

/// The value of an XPath expression (a string, a number) over the file.
std::string xpath(const std::string& path, const std::string& expression) {
    std::string out;
    const int status =
        shell("xmllint --xpath " + shell_quote(expression) + " " + shell_quote(path), out);
    INFO(expression << ": " << out);
    CHECK(status == 0);
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}
long count(const std::string& path, const std::string& expression) {
    return std::stol(xpath(path, "count(" + expression + ")"));
}

/// The <testcase> of the test named `name`, as an XPath.
std::string testcase(const std::string& name) {
    return "//testcase[@name='" + name + "']";
}

/// The counts on <testsuites> agree with what the testsuites and their
/// testcases hold.
void check_counts(const std::string& path) {
    const auto cases = count(path, "//testcase");
    CHECK(xpath(path, "string(/testsuites/@tests)") == std::to_string(cases));
    CHECK(xpath(path, "sum(//testsuite/@tests)") == std::to_string(cases));
    CHECK(xpath(path, "string(/testsuites/@failures)") ==
          std::to_string(count(path, "//testcase[failure]")));
    CHECK(xpath(path, "string(/testsuites/@errors)") ==
          std::to_string(count(path, "//testcase[error]")));
    CHECK(xpath(path, "string(/testsuites/@skipped)") ==
          std::to_string(count(path, "//testcase[skipped]")));
}
}  // namespace

TEST_SUITE("tend run --junit") {
    TEST_CASE("a mixed suite: schema-valid, one testcase per test, each status in its place") {
        JunitFile f("basic");
        auto o = run_tend({"run", fixture("basic"), "-j", "2", "--json", "--junit", f.path});
        CHECK(o.exit_code == 1);
        REQUIRE(o.of("summary").size() == 1);  // --json still writes every event
        CHECK(o.of("test").size() == 11);
        check_valid(f.path);
        check_counts(f.path);
        CHECK(count(f.path, "/testsuites/testsuite") == 1);
        CHECK(xpath(f.path, "string(//testsuite/@name)") == "basic");
        CHECK(xpath(f.path, "string(//testsuite/properties/property[@name='binary']/@value)") ==
              fixture("basic"));
        CHECK(xpath(f.path, "string(/testsuites/@tests)") == "11");
        CHECK(xpath(f.path, "string(/testsuites/@failures)") == "4");
        CHECK(xpath(f.path, "string(/testsuites/@errors)") == "0");
        CHECK(xpath(f.path, "string(/testsuites/@skipped)") == "1");

        const auto check = testcase("fails a check");
        CHECK(xpath(f.path, "string(" + check + "/@classname)") == "math");
        CHECK(xpath(f.path, "string(" + check + "/@file)").find("basic.cpp") != std::string::npos);
        CHECK(std::stoi(xpath(f.path, "string(" + check + "/@line)")) > 0);
        CHECK(xpath(f.path, "string(" + check + "/failure/@type)") == "CHECK_EQ");
        const auto message = xpath(f.path, "string(" + check + "/failure/@message)");
        CHECK(message.find("CHECK_EQ( 1, expected ) with expansion: 1, 2") != std::string::npos);
        CHECK(message.find("basic.cpp:") != std::string::npos);
        CHECK(xpath(f.path, "string(" + testcase("fails in a subcase") + "/failure)")
                  .find("in subcase: outer / inner") != std::string::npos);
        const auto context =
            xpath(f.path, "string(" + testcase("fails with context") + "/failure)");
        CHECK(context.find("explicit failure\n  context value 42") != std::string::npos);
        CHECK(xpath(f.path, "string(" + testcase("throws") + "/failure/@message)")
                  .find("exception: boom") != std::string::npos);

        CHECK(count(f.path, testcase("adds") + "/*") == 0);
        CHECK(count(f.path, testcase("skipped") + "/skipped") == 1);
        CHECK(xpath(f.path, "string(" + testcase("loose test") + "/@classname)") == "basic");
        CHECK(count(f.path, testcase("ünïcödé ✓")) == 1);
        CHECK(count(f.path, testcase("name, with comma")) == 1);
        // Times in seconds, with microseconds.
        const auto time = xpath(f.path, "string(" + testcase("adds") + "/@time)");
        CHECK(time.size() == std::string("0.000000").size());
    }

    TEST_CASE("with the human output, several binaries: a testsuite each, in command-line order") {
        JunitFile f("several");
        auto o = run_tend(
            {"run", fixture("scoped"), fixture("noisy"), "-j", "2", "-q", "--junit", f.path});
        CHECK(o.exit_code == 0);
        CHECK(o.out.find("Summary [") != std::string::npos);
        check_valid(f.path);
        check_counts(f.path);
        CHECK(xpath(f.path, "string(/testsuites/testsuite[1]/@name)") == "scoped");
        CHECK(xpath(f.path, "string(/testsuites/testsuite[2]/@name)") == "noisy");
        CHECK(xpath(f.path, "string(/testsuites/testsuite[1]/@tests)") == "5");
        CHECK(xpath(f.path, "string(/testsuites/testsuite[2]/@tests)") == "4");
        CHECK(xpath(f.path, "string(/testsuites/@failures)") == "0");
        // Each test's own output.
        const auto little = testcase("prints a little");
        CHECK(xpath(f.path, "string(" + little + "/system-out)") ==
              "hello from the test\nno newline at the end");
        CHECK(xpath(f.path, "string(" + little + "/system-err)") == "to stderr\n");
        CHECK(count(f.path, testcase("quiet after the flood") + "/system-out") == 0);
        // Frame-like bytes: NUL and ENQ are not XML characters.
        CHECK(f.read().find("<system-out>\\x00\\x00\\x00\\x05hello</system-out>") !=
              std::string::npos);
        const auto flood =
            xpath(f.path, "string(" + testcase("floods stdout and stderr") + "/system-out)");
        CHECK(flood.size() >= (1u << 20));
    }

    TEST_CASE("crashes and timeouts are errors, with the detail as their text") {
        JunitFile crashes("crashing"), timeouts("hanging");
        auto c = run_tend({"run", fixture("crashing"), "-j", "1", "--junit", crashes.path});
        CHECK(c.exit_code == 1);
        check_valid(crashes.path);
        check_counts(crashes.path);
        CHECK(xpath(crashes.path, "string(/testsuites/@errors)") == "3");
        const auto seg = testcase("segfaults");
        CHECK(xpath(crashes.path, "string(" + seg + "/error/@type)") == "crashed");
        CHECK(
            xpath(crashes.path, "string(" + seg + "/error/@message)").find("killed by signal 11") !=
            std::string::npos);
        // What the crashed test printed is its output, as for any test.
        CHECK(xpath(crashes.path, "string(" + seg + "/system-out)").find("about to crash") !=
              std::string::npos);

        auto t = run_tend(
            {"run", fixture("hanging"), "-j", "2", "--timeout", "0.5", "--junit", timeouts.path});
        CHECK(t.exit_code == 1);
        check_valid(timeouts.path);
        check_counts(timeouts.path);
        CHECK(count(timeouts.path, "//testcase/error[@type='timed_out']") == 2);
        CHECK(xpath(timeouts.path, "string(" + testcase("sleeps forever") + "/error/@message)")
                  .find("still running after the 0.5 s timeout") == 0);
        CHECK(xpath(timeouts.path, "string(/testsuites/@tests)") == "5");
    }

    TEST_CASE("hostile names and output: escaped as documented, still well-formed and valid") {
        JunitFile f("hostile");
        auto o = run_tend({"run", fixture("xml_hostile"), "-j", "1", "--junit", f.path});
        CHECK(o.exit_code == 1);
        check_valid(f.path);
        check_counts(f.path);
        const auto xml = f.read();
        // No raw control byte but LF and a tab in text, none at all in attributes.
        for (char c : xml) {
            const auto u = static_cast<unsigned char>(c);
            if (u < 0x20 && c != '\n' && c != '\t') FAIL("raw control byte " << int(u));
        }
        const std::string name =
            "hostile &lt;name&gt; &amp; &quot;quotes&quot; &apos;apos&apos; "
            "bell\\x07 tab&#9; ff" +
            kFFFD + " overlong" + kFFFD + kFFFD + " smile\xf0\x9f\x98\x80";
        CHECK(xml.find("<testcase name=\"" + name +
                       "\" classname=\"xml &lt;suite&gt; &amp; "
                       "&quot;co&quot;\"") != std::string::npos);
        CHECK(xml.find("<system-out>&lt;tag attr=&quot;x&quot;&gt;&amp;amp; ]]&gt; "
                       "\\x1b[31mred\\x1b[0m cr&#13;\n"
                       "surrogate " +
                       kFFFD + kFFFD + kFFFD + " truncated " + kFFFD + " fffe " + kFFFD +
                       " end\n</system-out>") != std::string::npos);
        CHECK(xml.find("<system-err>nul \\x00 byte\n</system-err>") != std::string::npos);
        CHECK(xml.find("message with &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quotes&quot; \\x01 and " +
                       kFFFD) != std::string::npos);
        // Read back by a parser: the tab survived attribute normalisation.
        const auto parsed = xpath(f.path, "string(//testcase[contains(@name, 'hostile')]/@name)");
        CHECK(parsed == "hostile <name> & \"quotes\" 'apos' bell\\x07 tab\t ff" + kFFFD +
                            " overlong" + kFFFD + kFFFD + " smile\xf0\x9f\x98\x80");
        CHECK(xpath(f.path, "string(//testcase[contains(@name, 'fails')]/@name)") ==
              "fails with <b>&</b>");
        CHECK(xpath(f.path, "string(//testcase[contains(@name, 'fails')]/system-out)") ==
              "out of the failing test: <&>\n");
    }

    TEST_CASE(
        "--retries: flakyFailure/flakyError for a flaky test, rerunFailure for one that "
        "always fails") {
        JunitFile f("flaky");
        const std::string state = "/tmp/tend-it-junit-flaky-" + std::to_string(::getpid());
        auto o = run_tend({"run", fixture("flaky"), "-j", "1", "--retries", "2", "--junit", f.path},
                          "TEND_FIXTURE_STATE=" + shell_quote(state));
        std::remove((state + ".fails").c_str());
        std::remove((state + ".crashes").c_str());
        CHECK(o.exit_code == 1);
        check_valid(f.path);
        check_counts(f.path);
        CHECK(xpath(f.path, "string(/testsuites/@tests)") == "4");
        CHECK(xpath(f.path, "string(/testsuites/@failures)") == "1");
        CHECK(xpath(f.path, "string(/testsuites/@errors)") == "0");

        const auto once = testcase("fails once");
        CHECK(count(f.path, once + "/failure") == 0);
        CHECK(count(f.path, once + "/flakyFailure") == 1);
        CHECK(xpath(f.path, "string(" + once + "/flakyFailure/@type)") == "CHECK_FALSE");
        CHECK(xpath(f.path, "string(" + once + "/flakyFailure/stackTrace)")
                  .find("CHECK_FALSE( first_time(\"fails\") )") != std::string::npos);

        const auto crash = testcase("crashes once");
        CHECK(count(f.path, crash + "/flakyError[@type='crashed']") == 1);
        CHECK(xpath(f.path, "string(" + crash + "/flakyError/@message)")
                  .find("killed by signal 11") != std::string::npos);

        const auto always = testcase("always fails");
        CHECK(count(f.path, always + "/failure") == 1);
        CHECK(count(f.path, always + "/rerunFailure") == 2);
        CHECK(count(f.path, always + "/rerunFailure/stackTrace") == 2);
        CHECK(count(f.path, always + "/*[starts-with(name(), 'flaky')]") == 0);

        CHECK(count(f.path, testcase("passes") + "/*") == 0);
    }

    TEST_CASE("a binary that cannot start is an error testcase in its testsuite") {
        JunitFile f("startup");
        auto o = run_tend({"run", "/bin/true", "--junit", f.path});
        CHECK(o.exit_code == 3);
        check_valid(f.path);
        check_counts(f.path);
        CHECK(xpath(f.path, "string(//testsuite/@name)") == "true");
        CHECK(count(f.path, "//testcase/error[@type='run_error']") == 1);
        CHECK(xpath(f.path, "string(//testcase/error/@message)")
                  .find("/bin/true: cannot discover tests") == 0);
    }

    TEST_CASE("an unwritable --junit path fails with exit 2 before any test runs") {
        const std::string marker = "/tmp/tend-it-junit-marker-" + std::to_string(::getpid());
        std::remove(marker.c_str());
        const std::string missing = "/nonexistent-tend-dir/report.xml";
        auto o = run_tend({"run", fixture("scoped"), "--json", "--junit", missing},
                          "TEND_FIXTURE_MARKER=" + shell_quote(marker));
        CHECK(o.exit_code == 2);
        CHECK(o.err.find("tend: --junit " + missing + ": No such file or directory") !=
              std::string::npos);
        CHECK(o.events.empty());
        CHECK(slurp(marker).empty());  // no worker started, not even to list the tests
        std::remove(marker.c_str());

        auto dir = run_tend({"run", fixture("scoped"), "--junit", "/tmp"});
        CHECK(dir.exit_code == 2);
        CHECK(dir.err.find("tend: --junit /tmp: Is a directory") != std::string::npos);
        CHECK(dir.out.empty());
    }

    TEST_CASE("SIGINT: the report is still written, the tests that did not run skipped") {
        JunitFile f("sigint");
        const std::string marker = f.path + ".marker";
        std::remove(marker.c_str());
        const pid_t child = ::fork();
        if (child == 0) {
            ::setenv("TEND_FIXTURE_MARKER", marker.c_str(), 1);
            const int null = ::open("/dev/null", O_WRONLY);
            ::dup2(null, 1);
            ::execl(tend_exe().c_str(), "tend", "run", fixture("hanging").c_str(), "-j", "1",
                    "--grace", "0.2", "--junit", f.path.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        for (int i = 0; i < 1000 && slurp(marker).find("sleeping") == std::string::npos; ++i) {
            ::usleep(20000);
        }
        std::remove(marker.c_str());
        ::kill(child, SIGINT);
        int status = 0;
        bool ended = false;
        for (int i = 0; i < 1500 && !ended; ++i) {
            ended = ::waitpid(child, &status, WNOHANG) == child;
            if (!ended) ::usleep(20000);
        }
        if (!ended) {
            ::kill(child, SIGKILL);
            ::waitpid(child, nullptr, 0);
            FAIL("tend did not end within 30 s of SIGINT");
        }
        REQUIRE(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 130);
        check_valid(f.path);
        check_counts(f.path);
        CHECK(xpath(f.path, "string(/testsuites/@tests)") == "5");
        CHECK(xpath(f.path, "string(" + testcase("sleeps forever") + "/skipped/@message)")
                  .find("interrupted (SIGINT)") != std::string::npos);
        CHECK(count(f.path, testcase("quick before") + "/*") == 0);
    }
}
