// xml_escape on every kind of byte sequence XML 1.0 cannot take as is, and
// JunitReporter fed events by hand: retries, notices, counts, write errors,
// the spool (memory held, order, the file byte for byte, spool failures).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

#include "report/junit_reporter.hpp"

using tend::xml_escape;
using tend::XmlContext;

namespace {
const std::string kFFFD = "\xEF\xBF\xBD";

std::string text(std::string_view s) {
    return xml_escape(s, XmlContext::text);
}
std::string attribute(std::string_view s) {
    return xml_escape(s, XmlContext::attribute);
}
std::string times(int n, const std::string& s) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}
}  // namespace

TEST_SUITE("xml_escape") {
    TEST_CASE("plain text and valid UTF-8 pass through") {
        CHECK(text("") == "");
        CHECK(text("plain ascii 123 ~\x7f") == "plain ascii 123 ~\x7f");  // DEL is allowed
        CHECK(text("\xc3\xa9") == "\xc3\xa9");                            // é, 2 bytes
        CHECK(text("\xe2\x9c\x93") == "\xe2\x9c\x93");                    // ✓, 3 bytes
        CHECK(text("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80");            // 😀, 4 bytes
        CHECK(text("\xf4\x8f\xbf\xbf") == "\xf4\x8f\xbf\xbf");            // U+10FFFF
        CHECK(text("\xed\x9f\xbf") == "\xed\x9f\xbf");  // U+D7FF, below surrogates
        CHECK(text("\xee\x80\x80") == "\xee\x80\x80");  // U+E000, above them
        CHECK(text("\xef\xbf\xbd") == "\xef\xbf\xbd");  // U+FFFD itself
        CHECK(text("\xc2\x85") == "\xc2\x85");          // C1 controls are XML 1.0 characters
    }

    TEST_CASE("markup characters become entities, in text and attributes") {
        const std::string in = "a<b>c&d\"e'f ]]>";
        const std::string out = "a&lt;b&gt;c&amp;d&quot;e&apos;f ]]&gt;";
        CHECK(text(in) == out);
        CHECK(attribute(in) == out);
        CHECK(text("&amp;") == "&amp;amp;");  // already escaped text is escaped again
    }

    TEST_CASE("tab, LF and CR survive end-of-line and attribute normalisation") {
        CHECK(text("a\tb\nc\rd\r\n") == "a\tb\nc&#13;d&#13;\n");
        CHECK(attribute("a\tb\nc\rd") == "a&#9;b&#10;c&#13;d");
    }

    TEST_CASE("other C0 controls become a visible \\xNN") {
        CHECK(text(std::string("nul \0 end", 9)) == "nul \\x00 end");
        CHECK(text("bell\x07") == "bell\\x07");
        CHECK(attribute("\x1b[31mred") == "\\x1b[31mred");
        CHECK(text("\x01\x0b\x0c\x1f") == "\\x01\\x0b\\x0c\\x1f");
        CHECK(text("back\\slash") == "back\\slash");  // kept: the form is for reading, not parsing
    }

    TEST_CASE("stray and invalid bytes become one U+FFFD each") {
        CHECK(text("\x80") == kFFFD);  // a continuation byte alone
        CHECK(text("a\xbf"
                   "b") == "a" + kFFFD + "b");
        CHECK(text("\xff\xfe") == times(2, kFFFD));
        CHECK(text("\xf5\x80\x80\x80") == times(4, kFFFD));  // no code point starts with F5
    }

    TEST_CASE("overlong encodings: each byte is replaced") {
        CHECK(text("\xc0\xaf") == times(2, kFFFD));  // '/' in 2 bytes
        CHECK(text("\xc1\xbf") == times(2, kFFFD));
        CHECK(text("\xe0\x80\xaf") == times(3, kFFFD));      // '/' in 3 bytes
        CHECK(text("\xf0\x80\x80\xaf") == times(4, kFFFD));  // '/' in 4 bytes
        CHECK(text("\xc0\x80") == times(2, kFFFD));          // "modified UTF-8" NUL
    }

    TEST_CASE("surrogates encoded in UTF-8 are replaced") {
        CHECK(text("\xed\xa0\x80") == times(3, kFFFD));  // U+D800
        CHECK(text("\xed\xbf\xbf") == times(3, kFFFD));  // U+DFFF
        // A CESU-8 pair for U+1F600.
        CHECK(text("\xed\xa0\xbd\xed\xb8\x80") == times(6, kFFFD));
    }

    TEST_CASE("a truncated sequence is one U+FFFD, and what follows is kept") {
        CHECK(text("\xe2\x82") == kFFFD);
        CHECK(text("\xe2\x82"
                   "A") == kFFFD + "A");
        CHECK(text("\xf0\x9f\x98") == kFFFD);
        CHECK(text("\xf0\x9f\x98<") == kFFFD + "&lt;");
        CHECK(text("\xc3") == kFFFD);
        CHECK(text("\xc3\xc3\xa9") == kFFFD + "\xc3\xa9");  // a new lead byte ends the subpart
        CHECK(text("\xf0\x9f\x98\xf0\x9f\x98\x80") == kFFFD + "\xf0\x9f\x98\x80");
    }

    TEST_CASE("code points above U+10FFFF and the non-characters U+FFFE/U+FFFF") {
        CHECK(text("\xf4\x90\x80\x80") == times(4, kFFFD));
        CHECK(text("\xef\xbf\xbe") == kFFFD);
        CHECK(text("\xef\xbf\xbf") == kFFFD);
        CHECK(text("\xef\xb7\x90") == "\xef\xb7\x90");  // U+FDD0 is an XML 1.0 character
    }

    TEST_CASE("every output byte is printable or an allowed whitespace") {
        // All one- and two-byte inputs: no raw markup, no control character.
        for (int a = 0; a < 256; ++a) {
            for (int b = 0; b < 256; ++b) {
                const char in[2] = {static_cast<char>(a), static_cast<char>(b)};
                for (auto where : {XmlContext::text, XmlContext::attribute}) {
                    const auto out = xml_escape(std::string_view(in, 2), where);
                    for (char c : out) {
                        const auto u = static_cast<unsigned char>(c);
                        const bool space = c == '\t' || c == '\n';
                        if (u < 0x20 && !(space && where == XmlContext::text)) {
                            FAIL("control byte " << int(u) << " from " << a << "," << b);
                        }
                        if (c == '<' || c == '>' || c == '"' || c == '\'') {
                            FAIL("markup from " << a << "," << b);
                        }
                    }
                }
            }
        }
    }
}

namespace {
/// A JunitReporter writing to a fresh temporary directory.
struct Report {
    std::filesystem::path dir;
    std::string path;
    std::string binary = "/some/dir/my_tests";

    Report() {
        char tmpl[] = "/tmp/tend-junit-unit-XXXXXX";
        dir = ::mkdtemp(tmpl);
        path = (dir / "report.xml").string();
    }
    ~Report() { std::filesystem::remove_all(dir); }

    std::string read() const {
        std::ifstream in(path, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
};

tend::protocol::TestInfo info(std::uint32_t id, std::string name, std::string suite = "s") {
    tend::protocol::TestInfo t;
    t.id = id;
    t.name = std::move(name);
    t.suite = std::move(suite);
    t.file = "t.cpp";
    t.line = 10 + id;
    return t;
}

void send(tend::Reporter& r, const std::string& binary, const tend::protocol::TestInfo& t,
          tend::TestStatus status, std::uint32_t attempt = 1, bool final = true,
          const std::vector<tend::protocol::Failure>& failures = {}, std::string_view out = "",
          std::string_view detail = "") {
    r.test(tend::TestEvent{
        binary, t, status, 1500000, 42, {}, failures, out, "", detail, attempt, final});
}

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}
}  // namespace

TEST_SUITE("JunitReporter") {
    TEST_CASE(
        "retries: flakyFailure/flakyError in a passing testcase, rerunFailure in a failing one") {
        Report rep;
        tend::JunitReporter r(rep.path, {rep.binary});
        REQUIRE(r.error().empty());
        const std::vector<tend::protocol::Failure> failed{
            {"t.cpp", 12, "CHECK", "x == 1", "2 == 1", "", ""}};
        const auto flaky = info(0, "flaky"), crashy = info(1, "crashy"), bad = info(2, "bad");
        send(r, rep.binary, flaky, tend::TestStatus::failed, 1, false, failed, "first out");
        send(r, rep.binary, crashy, tend::TestStatus::crashed, 1, false, {}, "",
             "killed by signal 11");
        send(r, rep.binary, bad, tend::TestStatus::failed, 1, false, failed);
        send(r, rep.binary, flaky, tend::TestStatus::flaky, 2);
        send(r, rep.binary, bad, tend::TestStatus::failed, 2, false, failed);
        send(r, rep.binary, crashy, tend::TestStatus::flaky, 2);
        send(r, rep.binary, bad, tend::TestStatus::failed, 3, true, failed);
        r.summary(tend::Summary{});
        REQUIRE(r.error().empty());
        const auto xml = rep.read();
        CHECK(has(xml,
                  "<testsuite name=\"my_tests\" tests=\"3\" failures=\"1\" errors=\"0\" "
                  "skipped=\"0\" time=\"0.004500\""));
        CHECK(has(xml,
                  "<testcase name=\"flaky\" classname=\"s\" time=\"0.001500\" file=\"t.cpp\" "
                  "line=\"10\">\n"
                  "      <flakyFailure message=\"t.cpp:12: CHECK( x == 1 ) with expansion: 2 "
                  "== 1\" type=\"CHECK\">\n"
                  "        <stackTrace>t.cpp:12: CHECK( x == 1 )\n"
                  "  with expansion: 2 == 1\n"
                  "</stackTrace>\n"
                  "        <system-out>first out</system-out>\n"
                  "      </flakyFailure>\n"
                  "    </testcase>"));
        CHECK(has(xml, "<flakyError message=\"killed by signal 11\" type=\"crashed\">"));
        // The final failure first, then the two earlier attempts.
        const auto at = xml.find("<testcase name=\"bad\"");
        REQUIRE(at != std::string::npos);
        const auto bad_xml = xml.substr(at, xml.find("</testcase>", at) - at);
        CHECK(bad_xml.find("<failure ") < bad_xml.find("<rerunFailure "));
        CHECK(bad_xml.find("<rerunFailure ") != bad_xml.rfind("<rerunFailure "));
        CHECK(!has(bad_xml, "flaky"));
    }

    TEST_CASE("testcases in registration order, whatever the order they ended in") {
        Report rep;
        tend::JunitReporter r(rep.path, {rep.binary});
        send(r, rep.binary, info(2, "c"), tend::TestStatus::passed);
        send(r, rep.binary, info(0, "a"), tend::TestStatus::passed);
        send(r, rep.binary, info(1, "b"), tend::TestStatus::passed);
        r.summary(tend::Summary{});
        const auto xml = rep.read();
        CHECK(xml.find("name=\"a\"") < xml.find("name=\"b\""));
        CHECK(xml.find("name=\"b\"") < xml.find("name=\"c\""));
    }

    TEST_CASE("statuses: skipped, not_run, crashed, timed_out, error; no suite names the binary") {
        Report rep;
        tend::JunitReporter r(rep.path, {rep.binary});
        send(r, rep.binary, info(0, "skip", ""), tend::TestStatus::skipped);
        send(r, rep.binary, info(1, "late"), tend::TestStatus::not_run, 1, true, {}, "",
             "interrupted (SIGINT)");
        send(r, rep.binary, info(2, "stopped"), tend::TestStatus::not_run, 1, true, {}, "",
             "not run: tend stopped after 1 failures (--max-fail 1)");
        send(r, rep.binary, info(3, "crash"), tend::TestStatus::crashed, 1, true, {}, "",
             "killed by signal 11\nstderr tail");
        send(r, rep.binary, info(4, "slow"), tend::TestStatus::timed_out, 1, true, {}, "",
             "still running after the 1 s timeout");
        send(r, rep.binary, info(5, "garbled"), tend::TestStatus::error, 1, true, {}, "",
             "broke the protocol");
        r.summary(tend::Summary{});
        const auto xml = rep.read();
        CHECK(has(xml, "tests=\"6\" failures=\"0\" errors=\"3\" skipped=\"3\""));
        CHECK(has(xml, "<testcase name=\"skip\" classname=\"my_tests\""));
        CHECK(has(xml, "<skipped/>"));
        CHECK(has(xml, "<skipped message=\"not run: interrupted (SIGINT)\">interrupted (SIGINT)"));
        CHECK(has(xml,
                  "<skipped message=\"not run: tend stopped after 1 failures (--max-fail "
                  "1)\">"));
        CHECK(has(xml,
                  "<error message=\"killed by signal 11\" type=\"crashed\">killed by signal "
                  "11\nstderr tail</error>"));
        CHECK(has(xml, "type=\"timed_out\""));
        CHECK(has(xml, "<error message=\"broke the protocol\" type=\"error\">"));
    }

    TEST_CASE("notices: those that fail the run are error testcases, the others system-err") {
        Report rep;
        tend::JunitReporter r(rep.path, {rep.binary, "/other/bin"});
        send(r, rep.binary, info(0, "ok"), tend::TestStatus::passed);
        r.notice(tend::Notice{rep.binary, "unit 's': teardown threw: lost\nmore", true});
        r.notice(tend::Notice{rep.binary, "killed 2 processes the tests left behind", false});
        r.notice(tend::Notice{"/other/bin", "/other/bin: cannot discover tests", true});
        r.summary(tend::Summary{});
        const auto xml = rep.read();
        CHECK(has(xml, "<testsuites name=\"tend\" tests=\"3\" failures=\"0\" errors=\"2\""));
        CHECK(has(xml,
                  "<testcase name=\"unit &apos;s&apos;: teardown threw: lost\" "
                  "classname=\"my_tests\" time=\"0.000000\">\n"
                  "      <error message=\"unit &apos;s&apos;: teardown threw: lost\" "
                  "type=\"run_error\">unit &apos;s&apos;: teardown threw: lost\nmore</error>"));
        CHECK(has(xml,
                  "<system-err>killed 2 processes the tests left behind\n</system-err>\n"
                  "  </testsuite>"));
        // The binary that never started still has its testsuite, second.
        CHECK(xml.find("name=\"my_tests\"") < xml.find("<testsuite name=\"bin\""));
        CHECK(has(xml, "<testsuite name=\"bin\" tests=\"1\" failures=\"0\" errors=\"1\""));
        CHECK(has(xml, "<property name=\"binary\" value=\"/other/bin\"/>"));
    }

    TEST_CASE("a path that cannot be written is known at once; nothing is left behind") {
        tend::JunitReporter missing("/nonexistent-dir-of-tend/report.xml", {});
        CHECK(missing.error() == std::strerror(ENOENT));
        tend::JunitReporter dir("/tmp", {});
        CHECK(dir.error() == std::strerror(EISDIR));
        tend::JunitReporter empty("", {});
        CHECK(!empty.error().empty());
        Report rep;
        tend::JunitReporter ok(rep.path, {});
        CHECK(ok.error().empty());
        CHECK(std::filesystem::is_empty(rep.dir));  // the probe file is gone
    }

    TEST_CASE("a write that fails at the end says why and leaves no file") {
        Report rep;
        tend::JunitReporter r(rep.path, {rep.binary});
        REQUIRE(r.error().empty());
        std::filesystem::remove_all(rep.dir);
        r.summary(tend::Summary{});
        CHECK(r.error() == std::strerror(ENOENT));
        CHECK(!std::filesystem::exists(rep.path));
    }

    TEST_CASE("the file appears whole, replacing an older one") {
        Report rep;
        { std::ofstream(rep.path) << "old"; }
        tend::JunitReporter r(rep.path, {rep.binary});
        send(r, rep.binary, info(0, "ok"), tend::TestStatus::passed);
        CHECK(rep.read() == "old");  // nothing written before the summary
        r.summary(tend::Summary{});
        const auto xml = rep.read();
        CHECK(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", 0) == 0);
        CHECK(xml.substr(xml.size() - 14) == "</testsuites>\n");
        CHECK(!std::filesystem::exists(rep.path + ".tmp"));
    }
}

namespace {
/// One event, owning what a TestEvent borrows.
struct Sent {
    std::string binary;
    tend::protocol::TestInfo test;
    tend::TestStatus status;
    std::uint64_t duration_ns;
    std::vector<tend::protocol::Failure> failures;
    std::string out, err, detail;
    std::uint32_t attempt;
    bool final;

    void to(tend::Reporter& r) const {
        r.test(tend::TestEvent{
            binary, test, status, duration_ns, 42, {}, failures, out, err, detail, attempt, final});
    }
};

/// The file without what changes from one run to the next.
std::string normalised(std::string xml) {
    xml = std::regex_replace(xml, std::regex(" timestamp=\"[^\"]*\""), " timestamp=\"T\"");
    return std::regex_replace(xml, std::regex(" hostname=\"[^\"]*\""), " hostname=\"H\"");
}

// golden-scenario-begin
/// Every kind of testcase, arriving out of order across two binaries: retries
/// that end flaky or failed, two whose final event never comes (one of them
/// after a final one), one id twice, every status, output,
/// failures with and without a file, bytes XML cannot take, notices of both
/// kinds and a binary that reported no test.
std::vector<Sent> mixed_events() {
    using S = tend::TestStatus;
    using F = tend::protocol::Failure;
    const std::string a = "/some/dir/my_tests", b = "/other/second bin";
    auto t = [](std::uint32_t id, std::string name, std::string suite, std::uint32_t line) {
        tend::protocol::TestInfo i;
        i.id = id;
        i.name = std::move(name);
        i.suite = std::move(suite);
        i.file = line ? "../tests/t.cpp" : "";
        i.line = line;
        return i;
    };
    const std::vector<F> two{
        {"../tests/t.cpp", 31, "CHECK_EQ", "a, b", "1, 2", "why\nand more", "outer / inner"},
        {"", 0, "REQUIRE", "ok()", "", "", ""}};
    const std::vector<F> one{{"", 0, "exception", "", "", "std::runtime_error: <bad>", ""}};
    return {
        {a, t(3, "three", "math", 30), S::failed, 1234567, two, "o3", "e3", "", 1, true},
        {b, t(1, "b one", "", 7), S::passed, 999, {}, "hello <world>", "", "", 1, true},
        {a,
         t(0, "zero", "math", 10),
         S::crashed,
         5,
         {},
         "",
         "boom",
         "killed by signal 11\ntail",
         1,
         false},
        {a, t(1, "one", "", 0), S::skipped, 0, {}, "", "", "", 1, true},
        {b, t(0, "b zero", "s2", 3), S::not_run, 0, {}, "", "", "interrupted (SIGINT)", 1, true},
        {a, t(0, "zero", "math", 10), S::failed, 77, one, "second out", "", "", 2, false},
        {a,
         t(2, "two\x01 & \xff", "math", 20),
         S::timed_out,
         1000000000,
         {},
         "",
         "",
         "still running after the 1 s timeout",
         1,
         true},
        {a, t(0, "zero", "math", 10), S::flaky, 3333, {}, "third", "", "", 3, true},
        {a, t(5, "five", "math", 50), S::passed, 1, {}, "first", "", "", 1, true},
        {a, t(4, "four", "math", 40), S::error, 2, {}, "", "", "broke the protocol", 1, true},
        {a, t(5, "five", "math", 50), S::passed, 1, {}, "second", "", "", 1, true},
        {b, t(2, "b two", "s2", 9), S::failed, 10, one, "", "", "", 1, false},
        {a, t(6, "six", "other", 60), S::failed, 20, one, "", "err 1", "", 1, false},
        {a, t(7, "seven", "other", 70), S::not_run, 0, {}, "", "", "", 1, true},
        {a, t(6, "six", "other", 60), S::failed, 30, one, "", "err 2", "", 2, true},
        {b, t(2, "b two", "s2", 9), S::crashed, 11, {}, "", "", "killed by signal 6", 2, false},
        {b, t(1, "b one", "", 7), S::failed, 12, one, "", "", "", 2, false},
    };
}

void feed_mixed(tend::Reporter& r) {
    for (const auto& e : mixed_events()) e.to(r);
    r.notice(tend::Notice{"/some/dir/my_tests", "unit 'math': teardown threw: lost\nmore", true});
    r.notice(tend::Notice{"/some/dir/my_tests", "killed 2 processes the tests left behind", false});
    r.notice(tend::Notice{"/empty/never", "/empty/never: cannot discover tests", true});
}
const std::vector<std::string> kMixedBinaries{"/some/dir/my_tests", "/other/second bin",
                                              "/empty/never"};
// golden-scenario-end

/// What the reporter wrote for mixed_events() before it streamed (the
/// timestamps and host name normalised): the file must not change.
const std::string kMixedGolden = R"golden(<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="tend" tests="15" failures="3" errors="5" skipped="3" time="2.500000" timestamp="T">
  <testsuite name="my_tests" tests="10" failures="2" errors="3" skipped="2" time="1.001238" timestamp="T" hostname="H" id="0">
    <properties>
      <property name="binary" value="/some/dir/my_tests"/>
    </properties>
    <testcase name="zero" classname="math" time="0.000003" file="../tests/t.cpp" line="10">
      <flakyError message="killed by signal 11" type="crashed">
        <stackTrace>killed by signal 11
tail</stackTrace>
        <system-err>boom</system-err>
      </flakyError>
      <flakyFailure message="../tests/t.cpp:10: exception: std::runtime_error: &lt;bad&gt;" type="exception">
        <stackTrace>../tests/t.cpp:10: exception
  std::runtime_error: &lt;bad&gt;
</stackTrace>
        <system-out>second out</system-out>
      </flakyFailure>
      <system-out>third</system-out>
    </testcase>
    <testcase name="one" classname="my_tests" time="0.000000">
      <skipped/>
    </testcase>
    <testcase name="two\x01 &amp; �" classname="math" time="1.000000" file="../tests/t.cpp" line="20">
      <error message="still running after the 1 s timeout" type="timed_out">still running after the 1 s timeout</error>
    </testcase>
    <testcase name="three" classname="math" time="0.001235" file="../tests/t.cpp" line="30">
      <failure message="../tests/t.cpp:31: CHECK_EQ( a, b ) with expansion: 1, 2: why (and 1 more)" type="CHECK_EQ">../tests/t.cpp:31: CHECK_EQ( a, b )
  with expansion: 1, 2
  in subcase: outer / inner
  why
  and more
../tests/t.cpp:30: REQUIRE( ok() )
</failure>
      <system-out>o3</system-out>
      <system-err>e3</system-err>
    </testcase>
    <testcase name="four" classname="math" time="0.000000" file="../tests/t.cpp" line="40">
      <error message="broke the protocol" type="error">broke the protocol</error>
    </testcase>
    <testcase name="five" classname="math" time="0.000000" file="../tests/t.cpp" line="50">
      <system-out>first</system-out>
    </testcase>
    <testcase name="five" classname="math" time="0.000000" file="../tests/t.cpp" line="50">
      <system-out>second</system-out>
    </testcase>
    <testcase name="six" classname="other" time="0.000000" file="../tests/t.cpp" line="60">
      <failure message="../tests/t.cpp:60: exception: std::runtime_error: &lt;bad&gt;" type="exception">../tests/t.cpp:60: exception
  std::runtime_error: &lt;bad&gt;
</failure>
      <rerunFailure message="../tests/t.cpp:60: exception: std::runtime_error: &lt;bad&gt;" type="exception">
        <stackTrace>../tests/t.cpp:60: exception
  std::runtime_error: &lt;bad&gt;
</stackTrace>
        <system-err>err 1</system-err>
      </rerunFailure>
      <system-err>err 2</system-err>
    </testcase>
    <testcase name="seven" classname="other" time="0.000000" file="../tests/t.cpp" line="70">
      <skipped message="not run"/>
    </testcase>
    <testcase name="unit &apos;math&apos;: teardown threw: lost" classname="my_tests" time="0.000000">
      <error message="unit &apos;math&apos;: teardown threw: lost" type="run_error">unit &apos;math&apos;: teardown threw: lost
more</error>
    </testcase>
    <system-err>killed 2 processes the tests left behind
</system-err>
  </testsuite>
  <testsuite name="second bin" tests="4" failures="1" errors="1" skipped="1" time="0.000001" timestamp="T" hostname="H" id="1">
    <properties>
      <property name="binary" value="/other/second bin"/>
    </properties>
    <testcase name="b zero" classname="s2" time="0.000000" file="../tests/t.cpp" line="3">
      <skipped message="not run: interrupted (SIGINT)">interrupted (SIGINT)</skipped>
    </testcase>
    <testcase name="b one" classname="second bin" time="0.000001" file="../tests/t.cpp" line="7">
      <system-out>hello &lt;world&gt;</system-out>
    </testcase>
    <testcase name="b one" classname="second bin" time="0.000000" file="../tests/t.cpp" line="7">
      <failure message="../tests/t.cpp:7: exception: std::runtime_error: &lt;bad&gt;" type="exception">../tests/t.cpp:7: exception
  std::runtime_error: &lt;bad&gt;
</failure>
    </testcase>
    <testcase name="b two" classname="s2" time="0.000000" file="../tests/t.cpp" line="9">
      <error message="killed by signal 6" type="crashed">killed by signal 6</error>
      <rerunFailure message="../tests/t.cpp:9: exception: std::runtime_error: &lt;bad&gt;" type="exception">
        <stackTrace>../tests/t.cpp:9: exception
  std::runtime_error: &lt;bad&gt;
</stackTrace>
      </rerunFailure>
    </testcase>
  </testsuite>
  <testsuite name="never" tests="1" failures="0" errors="1" skipped="0" time="0.000000" timestamp="T" hostname="H" id="2">
    <properties>
      <property name="binary" value="/empty/never"/>
    </properties>
    <testcase name="/empty/never: cannot discover tests" classname="never" time="0.000000">
      <error message="/empty/never: cannot discover tests" type="run_error">/empty/never: cannot discover tests</error>
    </testcase>
  </testsuite>
</testsuites>
)golden";

/// Descriptors of this process open on a file in `dir` (an O_TMPFILE file
/// shows as "dir/#inode (deleted)").
std::vector<int> fds_in(const std::filesystem::path& dir) {
    std::vector<int> fds;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        const auto target = std::filesystem::read_symlink(entry.path(), ec).string();
        if (!ec && target.rfind(dir.string() + "/", 0) == 0) {
            fds.push_back(std::stoi(entry.path().filename().string()));
        }
    }
    return fds;
}
}  // namespace

TEST_SUITE("JunitReporter spool") {
    TEST_CASE("the file is byte for byte what it was before streaming") {
        Report rep;
        tend::JunitReporter r(rep.path, kMixedBinaries);
        feed_mixed(r);
        tend::Summary s;
        s.duration_s = 2.5;
        r.summary(s);
        REQUIRE(r.error().empty());
        CHECK(normalised(rep.read()) == kMixedGolden);
    }

    TEST_CASE("out of order across binaries and units: the same file as in order") {
        // 3 binaries of 300 tests; some retried (flaky or failing to the end),
        // skipped, not run, with output. In order, then each test's attempts
        // interleaved at random with the others'.
        std::vector<std::vector<Sent>> tests;
        const std::vector<std::string> binaries{"/b/one", "/b/two", "/b/three"};
        for (const auto& bin : binaries) {
            for (std::uint32_t id = 0; id < 300; ++id) {
                const auto ti = info(id, "t" + std::to_string(id), id % 7 ? "s" : "");
                const std::vector<tend::protocol::Failure> f{{"", 0, "CHECK", "x", "", "", ""}};
                const std::string out = id % 3 ? "" : "out of " + std::to_string(id);
                const std::uint64_t ns = 1000 + id * 7919;
                std::vector<Sent> attempts;
                switch (id % 10) {
                    case 1:  // flaky
                        attempts.push_back(
                            {bin, ti, tend::TestStatus::failed, ns, f, out, "", "", 1, false});
                        attempts.push_back(
                            {bin, ti, tend::TestStatus::flaky, ns, {}, out, "", "", 2, true});
                        break;
                    case 2:  // failed every attempt
                        for (std::uint32_t a = 1; a <= 3; ++a) {
                            attempts.push_back({bin, ti, tend::TestStatus::failed, ns + a, f, out,
                                                "", "", a, a == 3});
                        }
                        break;
                    case 3:
                        attempts.push_back(
                            {bin, ti, tend::TestStatus::skipped, 0, {}, "", "", "", 1, true});
                        break;
                    case 4:
                        attempts.push_back({bin,
                                            ti,
                                            tend::TestStatus::not_run,
                                            0,
                                            {},
                                            "",
                                            "",
                                            "interrupted (SIGINT)",
                                            1,
                                            true});
                        break;
                    default:
                        attempts.push_back(
                            {bin, ti, tend::TestStatus::passed, ns, {}, out, "", "", 1, true});
                }
                tests.push_back(std::move(attempts));
            }
        }
        Report in_order, shuffled, sealed;
        tend::JunitReporter a(in_order.path, binaries), b(shuffled.path, binaries);
        // The third is told when each binary is done, as a run tells it: it
        // writes the binary's testcases out in order then and lets them go.
        tend::JunitReporter c(sealed.path, binaries);
        for (const auto& t : tests) {
            for (const auto& e : t) e.to(a);
        }
        std::mt19937 rng(11);
        std::vector<std::size_t> next(tests.size(), 0);
        std::vector<std::size_t> left(tests.size());
        std::vector<std::size_t> events_left(binaries.size(), 0);
        for (std::size_t i = 0; i < tests.size(); ++i) events_left[i / 300] += tests[i].size();
        for (std::size_t i = 0; i < left.size(); ++i) left[i] = i;
        while (!left.empty()) {
            const auto pick = std::uniform_int_distribution<std::size_t>(0, left.size() - 1)(rng);
            const auto t = left[pick];
            tests[t][next[t]].to(b);
            tests[t][next[t]++].to(c);
            if (--events_left[t / 300] == 0) {
                c.binary_done(binaries[t / 300]);
            }
            if (next[t] == tests[t].size()) {
                left[pick] = left.back();
                left.pop_back();
            }
        }
        CHECK(c.held_bytes() == 0);  // nothing of any result stays
        a.summary(tend::Summary{});
        b.summary(tend::Summary{});
        c.summary(tend::Summary{});
        REQUIRE(a.error().empty());
        REQUIRE(b.error().empty());
        REQUIRE(c.error().empty());
        const auto xml = normalised(in_order.read());
        CHECK(xml == normalised(shuffled.read()));
        CHECK(xml == normalised(sealed.read()));
        // Each binary's testcases in id order.
        std::size_t at = 0;
        for (const auto& bin : binaries) {
            at = xml.find("value=\"" + bin + "\"", at);
            REQUIRE(at != std::string::npos);
            for (int id = 0; id < 300; ++id) {
                const auto here = xml.find("<testcase name=\"t" + std::to_string(id) + "\"", at);
                REQUIRE(here != std::string::npos);
                at = here;
            }
        }
        CHECK(xml.find("<testsuite name=\"one\" tests=\"300\" failures=\"30\" errors=\"0\" "
                       "skipped=\"60\"") != std::string::npos);
    }

    TEST_CASE("20,000 results of 4 KiB output each: memory held is the index, output is spooled") {
        Report rep;
        const std::vector<std::string> binaries{"/b/first", "/b/second"};
        tend::JunitReporter r(rep.path, binaries);
        REQUIRE(r.error().empty());
        const std::string out(4096, 'x');
        constexpr std::uint32_t kTests = 20000;
        // Backwards, alternating binaries: the worst order for the file.
        for (std::uint32_t i = kTests; i-- > 0;) {
            const auto t = info(i / 2, "t" + std::to_string(i / 2));
            send(r, binaries[i % 2], t, tend::TestStatus::passed, 1, true, {}, out);
        }
        // The index: 24 bytes a testcase, up to twice that as its vectors grow
        // (it was over 4 KiB a testcase when the reporter kept the results).
        CHECK(r.held_bytes() <= std::size_t{kTests} * 48);
        CHECK(r.spool_bytes() > std::uint64_t{kTests} * out.size());
        // Nothing with a name appears beside the report until the summary.
        CHECK(std::filesystem::is_empty(rep.dir));
        r.summary(tend::Summary{});
        REQUIRE(r.error().empty());
        const auto xml = rep.read();
        CHECK(xml.size() > std::size_t{kTests} * out.size());
        std::size_t at = 0;
        for (const auto& bin : binaries) {
            at = xml.find("value=\"" + bin + "\"", at);
            REQUIRE(at != std::string::npos);
            for (std::uint32_t id = 0; id < kTests / 2; ++id) {
                const auto here = xml.find("<testcase name=\"t" + std::to_string(id) + "\"", at);
                REQUIRE(here != std::string::npos);
                at = here;
            }
        }
        CHECK(xml.find("<system-out>" + out + "</system-out>") != std::string::npos);
    }

    TEST_CASE("the spool is an unnamed file beside the report, close-on-exec") {
        Report rep;
        tend::JunitReporter r(rep.path, {rep.binary});
        REQUIRE(r.error().empty());
        send(r, rep.binary, info(0, "ok"), tend::TestStatus::passed);
        CHECK(std::filesystem::is_empty(rep.dir));
        const auto fds = fds_in(rep.dir);
        REQUIRE(fds.size() == 1);
        CHECK((::fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
        r.summary(tend::Summary{});
        CHECK(r.error().empty());
    }

    TEST_CASE("a spool that cannot be written says why; the run goes on, no file is written") {
        Report rep;
        tend::JunitReporter r(rep.path, {rep.binary});
        REQUIRE(r.error().empty());
        // A file size limit makes the spool's next write fail with EFBIG
        // (the signal it would raise ignored, as for a full disk).
        struct rlimit old {};
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
        const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
        struct rlimit small = old;
        small.rlim_cur = 256 * 1024;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
        const std::string out(8192, 'y');
        for (std::uint32_t id = 0; id < 100; ++id) {
            send(r, rep.binary, info(id, "t"), tend::TestStatus::passed, 1, true, {}, out);
        }
        ::setrlimit(RLIMIT_FSIZE, &old);
        std::signal(SIGXFSZ, old_handler);
        CHECK(r.error() == std::strerror(EFBIG));
        send(r, rep.binary, info(100, "later"), tend::TestStatus::passed);  // goes on
        r.summary(tend::Summary{});
        CHECK(r.error() == std::strerror(EFBIG));
        CHECK(std::filesystem::is_empty(rep.dir));  // no report, no .tmp
    }

    TEST_CASE("a directory removed after the start: results still spool, the write says why") {
        Report rep;
        tend::JunitReporter r(rep.path, {rep.binary});
        REQUIRE(r.error().empty());
        std::filesystem::remove_all(rep.dir);
        for (std::uint32_t id = 0; id < 100; ++id) {
            send(r, rep.binary, info(id, "t"), tend::TestStatus::passed, 1, true, {},
                 std::string(2048, 'z'));
        }
        CHECK(r.error().empty());
        r.summary(tend::Summary{});
        CHECK(r.error() == std::strerror(ENOENT));
    }
}
