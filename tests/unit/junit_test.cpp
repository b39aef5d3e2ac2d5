// xml_escape on every kind of byte sequence XML 1.0 cannot take as is, and
// JunitReporter fed events by hand: retries, notices, counts, write errors.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
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
