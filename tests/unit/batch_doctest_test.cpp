// The doctest driver against output recorded from real doctest 2.4.9
// binaries (Debian's /usr/include/doctest/doctest.h, built with
// `g++ x.cpp -o x` and DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN): the listing, exact
// selection on the command line, and the XML stream of a batch, read whole or
// in any chunks. The args run_args() gives below were also run against those
// binaries by hand: each selected exactly the tests meant.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "driver.hpp"

using namespace tend::batch;

namespace {

// `m --list-test-cases --reporters=xml --no-skip=true --order-by=file
// --out=/dev/fd/3`, m built from two files. m1.cpp:
//   TEST_CASE("dup") "Dup" "a, b" "a\\,b" "back\\slash\\" "star*"
//     "star and more" "q?" "qx" "*" "same" "same" "" ("skipped" * skip())
//   TEST_SUITE("s1") { "dup" "solo" "sol?" }  TEST_SUITE("s*") { "dup" }
//   TEST_SUITE("sx") { "dup" }  TEST_SUITE("a,suite") { "dup" }
//   TEST_CASE_TEMPLATE("tmpl", T, int, char)
// m2.cpp: TEST_CASE("dup")  TEST_SUITE("s1") { "dup" }  TEST_CASE("only in m2")
const char* const kListXml = R"xml(<?xml version="1.0" encoding="UTF-8"?>
<doctest binary="./m" version="2.4.9">
  <Options order_by="file" rand_seed="0" first="0" last="4294967295" abort_after="0" subcase_filter_levels="2147483647" case_sensitive="false" no_throw="false" no_skip="true"/>
  <TestCase name="dup" filename="m1.cpp" line="4" skipped="false"/>
  <TestCase name="Dup" filename="m1.cpp" line="5" skipped="false"/>
  <TestCase name="a, b" filename="m1.cpp" line="6" skipped="false"/>
  <TestCase name="a\,b" filename="m1.cpp" line="7" skipped="false"/>
  <TestCase name="back\slash\" filename="m1.cpp" line="8" skipped="false"/>
  <TestCase name="star*" filename="m1.cpp" line="9" skipped="false"/>
  <TestCase name="star and more" filename="m1.cpp" line="10" skipped="false"/>
  <TestCase name="q?" filename="m1.cpp" line="11" skipped="false"/>
  <TestCase name="qx" filename="m1.cpp" line="12" skipped="false"/>
  <TestCase name="*" filename="m1.cpp" line="13" skipped="false"/>
  <TestCase name="same" filename="m1.cpp" line="14" skipped="false"/>
  <TestCase name="same" filename="m1.cpp" line="15" skipped="false"/>
  <TestCase filename="m1.cpp" line="16" skipped="false"/>
  <TestCase name="skipped" filename="m1.cpp" line="17" skipped="true"/>
  <TestCase name="dup" testsuite="s1" filename="m1.cpp" line="19" skipped="false"/>
  <TestCase name="solo" testsuite="s1" filename="m1.cpp" line="20" skipped="false"/>
  <TestCase name="sol?" testsuite="s1" filename="m1.cpp" line="21" skipped="false"/>
  <TestCase name="dup" testsuite="s*" filename="m1.cpp" line="24" skipped="false"/>
  <TestCase name="dup" testsuite="sx" filename="m1.cpp" line="27" skipped="false"/>
  <TestCase name="dup" testsuite="a,suite" filename="m1.cpp" line="30" skipped="false"/>
  <TestCase name="tmpl&lt;int>" filename="m1.cpp" line="32" skipped="false"/>
  <TestCase name="tmpl&lt;char>" filename="m1.cpp" line="32" skipped="false"/>
  <TestCase name="dup" filename="m2.cpp" line="2" skipped="false"/>
  <TestCase name="dup" testsuite="s1" filename="m2.cpp" line="4" skipped="false"/>
  <TestCase name="only in m2" filename="m2.cpp" line="6" skipped="false"/>
  <OverallResultsTestCases unskipped="25"/>
</doctest>
)xml";

// One batch of fx.cpp's tests, as run_args() asked for it (the report on
// descriptor 3; "passes" also printed "hello" on stdout):
//   TEST_CASE("passes") { std::puts("hello"); CHECK(1 == 1); }
//   TEST_SUITE("s1") {
//   TEST_CASE("fails") {
//       int x = 1;
//       INFO("x is ", x);
//       CHECK(x == 2);
//       SUBCASE("outer") { SUBCASE("inner") { CHECK_EQ(x, 3); } }
//       MESSAGE("a note");
//       FAIL_CHECK("soft");
//   }
//   TEST_CASE("throws") { SUBCASE("sub") { throw std::runtime_error("boom <&>"); } }
//   TEST_CASE("throw asserts") {
//       CHECK_THROWS(1 + 1);
//       CHECK_THROWS_AS(1 + 1, std::runtime_error);
//       CHECK_NOTHROW(throw std::runtime_error("inner"));
//   }
//   TEST_CASE("should fail" * doctest::should_fail()) { CHECK(true); }
//   TEST_CASE("may fail" * doctest::may_fail()) { CHECK(false); }
//   TEST_CASE("expected 2" * doctest::expected_failures(2)) { CHECK(false); }
//   TEST_CASE("hard fail") { FAIL("stop here"); }
//   }
const char* const kRunXml = R"xml(<?xml version="1.0" encoding="UTF-8"?>
<doctest binary="./fx" version="2.4.9">
  <Options order_by="file" rand_seed="0" first="0" last="4294967295" abort_after="0" subcase_filter_levels="2147483647" case_sensitive="true" no_throw="false" no_skip="false"/>
  <TestSuite>
    <TestCase name="passes" filename="fx.cpp" line="5">
      <OverallResultsAsserts successes="1" failures="0" test_case_success="true"/>
    </TestCase>
  </TestSuite>
  <TestSuite name="s1">
    <TestCase name="fails" filename="fx.cpp" line="7">
      <Expression success="false" type="CHECK" filename="fx.cpp" line="10">
        <Original>
          x == 2
        </Original>
        <Expanded>
          1 == 2
        </Expanded>
        <Info>
          x is 1
        </Info>
      </Expression>
      <SubCase name="outer" filename="fx.cpp" line="11">
        <SubCase name="inner" filename="fx.cpp" line="11">
          <Expression success="false" type="CHECK_EQ" filename="fx.cpp" line="11">
            <Original>
              x, 3
            </Original>
            <Expanded>
              1, 3
            </Expanded>
            <Info>
              x is 1
            </Info>
          </Expression>
        </SubCase>
      </SubCase>
      <Message type="WARNING" filename="fx.cpp" line="12">
        <Text>
          a note
        </Text>
        <Info>
          x is 1
        </Info>
      </Message>
      <Message type="ERROR" filename="fx.cpp" line="13">
        <Text>
          soft
        </Text>
        <Info>
          x is 1
        </Info>
      </Message>
      <OverallResultsAsserts successes="0" failures="3" test_case_success="false"/>
    </TestCase>
    <TestCase name="throws" filename="fx.cpp" line="15">
      <SubCase name="sub" filename="fx.cpp" line="15">
        <Exception crash="false">
          exception thrown in subcase - will translate later when the whole test case has been exited (cannot translate while there is an active exception)
        </Exception>
      </SubCase>
      <Exception crash="false">
        boom &lt;&amp;>
      </Exception>
      <OverallResultsAsserts successes="0" failures="0" test_case_success="false"/>
    </TestCase>
    <TestCase name="throw asserts" filename="fx.cpp" line="16">
      <Expression success="false" type="CHECK_THROWS" filename="fx.cpp" line="17">
        <Original>
          1 + 1
        </Original>
      </Expression>
      <Expression success="false" type="CHECK_THROWS_AS" filename="fx.cpp" line="18">
        <Original>
          1 + 1
        </Original>
        <ExpectedException>
          std::runtime_error
        </ExpectedException>
      </Expression>
      <Expression success="false" type="CHECK_NOTHROW" filename="fx.cpp" line="19">
        <Original>
          throw std::runtime_error("inner")
        </Original>
        <Exception>
          "inner"
        </Exception>
      </Expression>
      <OverallResultsAsserts successes="0" failures="3" test_case_success="false"/>
    </TestCase>
    <TestCase name="should fail" filename="fx.cpp" line="21" should_fail="true">
      <OverallResultsAsserts successes="1" failures="0" test_case_success="false"/>
    </TestCase>
    <TestCase name="may fail" filename="fx.cpp" line="22" may_fail="true">
      <Expression success="false" type="CHECK" filename="fx.cpp" line="22">
        <Original>
          false
        </Original>
        <Expanded>
          false
        </Expanded>
      </Expression>
      <OverallResultsAsserts successes="0" failures="1" test_case_success="true"/>
    </TestCase>
    <TestCase name="expected 2" filename="fx.cpp" line="23">
      <Expression success="false" type="CHECK" filename="fx.cpp" line="23">
        <Original>
          false
        </Original>
        <Expanded>
          false
        </Expanded>
      </Expression>
      <OverallResultsAsserts successes="0" failures="1" test_case_success="false" expected_failures="2"/>
    </TestCase>
    <TestCase name="hard fail" filename="fx.cpp" line="24">
      <Message type="FATAL ERROR" filename="fx.cpp" line="24">
        <Text>
          stop here
        </Text>
      </Message>
      <OverallResultsAsserts successes="0" failures="1" test_case_success="false"/>
    </TestCase>
  </TestSuite>
  <OverallResultsAsserts successes="2" failures="9"/>
  <OverallResultsTestCases successes="2" failures="6"/>
</doctest>
)xml";

// A batch of crash.cpp's tests whose second one crashes: doctest's own
// signal handler (on by default) ends the test in the stream, then the
// signal kills the process (wait status 11); "after" never started.
//   TEST_CASE("before") {}
//   TEST_CASE("crashes") {
//       std::puts("about to crash");
//       std::fflush(stdout);
//       SUBCASE("deep") { volatile int* p = nullptr; *p = 1; }
//   }
//   TEST_CASE("after") {}
const char* const kCrashXml = R"xml(<?xml version="1.0" encoding="UTF-8"?>
<doctest binary="./crash" version="2.4.9">
  <Options order_by="file" rand_seed="0" first="0" last="4294967295" abort_after="0" subcase_filter_levels="2147483647" case_sensitive="true" no_throw="false" no_skip="false"/>
  <TestSuite>
    <TestCase name="before" filename="crash.cpp" line="4">
      <OverallResultsAsserts successes="0" failures="0" test_case_success="true"/>
    </TestCase>
    <TestCase name="crashes" filename="crash.cpp" line="5">
      <SubCase name="deep" filename="crash.cpp" line="8">
        <Exception crash="true">
          SIGSEGV - Segmentation violation signal
        </Exception>
      </SubCase>
      <OverallResultsAsserts successes="0" failures="0" test_case_success="false"/>
    </TestCase>
  </TestSuite>
  <OverallResultsAsserts successes="0" failures="0"/>
  <OverallResultsTestCases successes="1" failures="1"/>
</doctest>
)xml";

const std::vector<std::string> kRunBase = {"--reporters=xml",           "--out=/dev/fd/3",
                                           "--case-sensitive=true",     "--order-by=file",
                                           "--no-skipped-summary=true", "--no-exitcode=true"};

std::vector<std::string> with_base(std::vector<std::string> filters) {
    std::vector<std::string> args = kRunBase;
    args.insert(args.end(), filters.begin(), filters.end());
    return args;
}

/// A driver that has listed `xml` (exit status 0).
std::unique_ptr<Driver> listed(const char* xml) {
    auto driver = make_driver("doctest");
    std::string error;
    const auto tests = driver->list(
        [xml](const std::vector<std::string>&, bool) {
            return Captured{"", xml, "", 0};
        },
        error);
    REQUIRE(tests);
    return driver;
}

/// What the parser reported, one line an event.
struct Recorder final : ProgressSink {
    std::vector<std::string> events;
    std::vector<std::vector<FailureDetail>> failures;  ///< one entry a finished test
    std::string out;
    void started(const TestKey& k) override {
        events.push_back("start " + k.name + " " + k.file + ":" + std::to_string(k.line));
    }
    void output(std::string_view text) override { out += text; }
    void finished(Outcome outcome, std::vector<FailureDetail> f, std::string) override {
        const char* name = outcome == Outcome::passed   ? "passed"
                           : outcome == Outcome::failed ? "failed"
                                                        : "skipped";
        events.push_back(std::string("end ") + name + " " + std::to_string(f.size()));
        failures.push_back(std::move(f));
    }
};

/// Feeds `xml` to a fresh parser in chunks of `chunk` bytes.
Recorder feed(std::string_view xml, std::size_t chunk, std::string* error = nullptr) {
    auto parser = make_driver("doctest")->parser();
    Recorder r;
    for (std::size_t at = 0; at < xml.size(); at += chunk)
        parser->feed_report(xml.substr(at, chunk), r);
    parser->finish(r);
    if (error) *error = parser->error();
    return r;
}

}  // namespace

TEST_SUITE("batch drivers") {
    TEST_CASE("doctest driver: lists the tests of --list-test-cases' XML, in its order") {
        auto driver = make_driver("doctest");
        REQUIRE(driver);
        CHECK(driver->framework() == "doctest");
        CHECK(driver->uses_report_fd());
        std::vector<std::string> asked;
        bool report = false;
        std::string error;
        const auto tests = driver->list(
            [&](const std::vector<std::string>& args, bool r) {
                asked = args;
                report = r;
                return Captured{"", kListXml, "", 0};
            },
            error);
        REQUIRE(tests);
        CHECK(asked == std::vector<std::string>{"--list-test-cases", "--reporters=xml",
                                                "--no-skip=true", "--order-by=file",
                                                "--out=/dev/fd/3"});
        CHECK(report);
        REQUIRE(tests->size() == 25);
        const auto& first = (*tests)[0];
        CHECK(first.name == "dup");
        CHECK(first.suite == "");
        CHECK(first.file == "m1.cpp");
        CHECK(first.line == 4);
        CHECK_FALSE(first.skip);
        CHECK(first.tags.empty());
        CHECK((*tests)[12].name == "");  // TEST_CASE(""): no name attribute
        CHECK((*tests)[13].name == "skipped");
        CHECK((*tests)[13].skip);
        CHECK((*tests)[13].tags == std::vector<std::string>{"skip"});
        CHECK((*tests)[14].suite == "s1");
        CHECK((*tests)[19].suite == "a,suite");
        CHECK((*tests)[20].name == "tmpl<int>");
        CHECK((*tests)[24].name == "only in m2");
        CHECK((*tests)[24].file == "m2.cpp");
        const TestKey key = driver->key(21);
        CHECK(key.name == "tmpl<char>");
        CHECK(key.file == "m1.cpp");
        CHECK(key.line == 32);
    }

    TEST_CASE("doctest driver: a listing that fails names the command and what was wrong") {
        const auto list_error = [](Captured got) {
            std::string error;
            const auto tests = make_driver("doctest")->list(
                [&got](const std::vector<std::string>&, bool) { return got; }, error);
            CHECK_FALSE(tests);
            CHECK(error.find("--list-test-cases --reporters=xml") != std::string::npos);
            return error;
        };
        std::string e = list_error({"", "", "first\nunknown option\n", 1 << 8});
        CHECK(e.find("exited with status 1: unknown option") != std::string::npos);
        e = list_error({"", "", "", 11});
        CHECK(e.find("killed by signal 11") != std::string::npos);
        e = list_error({"[doctest] doctest version is \"2.4.9\"\n", "", "", 0});
        CHECK(e.find("wrote no XML to descriptor 3") != std::string::npos);
        const std::string xml = kListXml;
        e = list_error({"", xml.substr(0, xml.size() / 2), "", 0});
        CHECK(e.find("malformed XML, line") != std::string::npos);
    }

    TEST_CASE("doctest driver: a name that selects only its test shares a batch") {
        const auto driver = listed(kListXml);
        for (std::size_t i : {1, 2, 3, 4, 6, 8, 13, 15, 20, 21, 24}) {
            CAPTURE(i);
            CHECK(driver->selectable(i).in_batch);
            CHECK(driver->selectable(i).problem.empty());
        }
        // One --test-case filter; `\,` is a comma, `\\` a backslash.
        CHECK(driver->run_args({1, 2, 3, 4, 20}, false) ==
              with_base({R"(--test-case=Dup,a\, b,a\\\,b,back\\slash\\,tmpl<int>)"}));
        // Case-sensitive: "Dup" is not "dup". Skipped tests run on request.
        CHECK(driver->run_args({13}, true) == with_base({"--no-skip=true", "--test-case=skipped"}));
    }

    TEST_CASE("doctest driver: the others run alone, their filters narrowed and excluding") {
        const auto driver = listed(kListXml);
        const auto alone = [&driver](std::size_t i) {
            CAPTURE(i);
            CHECK_FALSE(driver->selectable(i).in_batch);
            CHECK(driver->selectable(i).problem.empty());
            const auto args = driver->run_args({i}, false);
            return std::vector<std::string>(args.begin() + 6, args.end());
        };
        using V = std::vector<std::string>;
        // Same name in other suites and files: suite (none: every suite
        // excluded), then file.
        CHECK(alone(0) == V{"--test-case=dup", "--source-file=m1.cpp", "--test-suite-exclude=?*"});
        CHECK(alone(22) == V{"--test-case=dup", "--source-file=m2.cpp", "--test-suite-exclude=?*"});
        CHECK(alone(14) == V{"--test-case=dup", "--test-suite=s1", "--source-file=m1.cpp"});
        CHECK(alone(18) == V{"--test-case=dup", "--test-suite=sx"});
        CHECK(alone(19) == V{"--test-case=dup", R"(--test-suite=a\,suite)"});
        // A suite name that is a pattern: the suites it matches excluded.
        CHECK(alone(17) == V{"--test-case=dup", "--test-suite=s*", "--source-file=m1.cpp",
                             "--test-suite-exclude=s1,sx"});
        // A test name that is a pattern: the names it matches excluded.
        CHECK(alone(5) == V{"--test-case=star*", "--source-file=m1.cpp",
                            "--test-case-exclude=star and more", "--test-suite-exclude=?*"});
        CHECK(alone(7) == V{"--test-case=q?", "--source-file=m1.cpp", "--test-case-exclude=qx",
                            "--test-suite-exclude=?*"});
        CHECK(alone(16) == V{"--test-case=sol?", "--test-suite=s1", "--source-file=m1.cpp",
                             "--test-case-exclude=solo"});
        // No --test-case names "": every other name excluded instead.
        CHECK(alone(12) == V{"--test-case-exclude=?*"});
    }

    TEST_CASE("doctest driver: a test no filter tells apart from another says so") {
        const auto driver = listed(kListXml);
        // Two "same" in one file, outside any suite.
        CHECK_FALSE(driver->selectable(10).in_batch);
        CHECK(driver->selectable(10).problem ==
              "no doctest filter (--test-case, --test-suite, --source-file) tells it apart from "
              "\"same\" at m1.cpp:15");
        CHECK(driver->selectable(11).problem.find("\"same\" at m1.cpp:14") != std::string::npos);
        // "*" matches "", which no exclusion can name.
        CHECK(driver->selectable(9).problem.find("\"\" at m1.cpp:16") != std::string::npos);
    }

    TEST_CASE("doctest driver: reads a batch's XML stream, whole or a byte at a time") {
        const std::vector<std::string> expected = {"start passes fx.cpp:5",         "end passed 0",
                                                   "start fails fx.cpp:7",          "end failed 3",
                                                   "start throws fx.cpp:15",        "end failed 2",
                                                   "start throw asserts fx.cpp:16", "end failed 3",
                                                   "start should fail fx.cpp:21",   "end failed 1",
                                                   "start may fail fx.cpp:22",      "end passed 0",
                                                   "start expected 2 fx.cpp:23",    "end failed 1",
                                                   "start hard fail fx.cpp:24",     "end failed 1"};
        for (std::size_t chunk :
             {std::string_view(kRunXml).size(), std::size_t{1}, std::size_t{7}}) {
            CAPTURE(chunk);
            std::string error;
            const Recorder r = feed(kRunXml, chunk, &error);
            CHECK(error.empty());
            CHECK(r.events == expected);
        }
        const Recorder r = feed(kRunXml, 5);
        REQUIRE(r.failures.size() == 8);

        const auto& fails = r.failures[1];
        CHECK(fails[0].file == "fx.cpp");
        CHECK(fails[0].line == 10);
        CHECK(fails[0].kind == "CHECK");
        CHECK(fails[0].expression == "x == 2");
        CHECK(fails[0].expanded == "1 == 2");
        CHECK(fails[0].message == "x is 1");
        CHECK(fails[0].subcase == "");
        CHECK(fails[1].kind == "CHECK_EQ");
        CHECK(fails[1].expression == "x, 3");
        CHECK(fails[1].subcase == "outer / inner");
        // MESSAGE is no failure; FAIL_CHECK is, with its contexts.
        CHECK(fails[2].kind == "FAIL_CHECK");
        CHECK(fails[2].line == 13);
        CHECK(fails[2].message == "soft\nx is 1");
        CHECK(fails[2].subcase == "");

        // An exception in a subcase: doctest's note in the subcase, then
        // the exception, as the in-process adapter reports them.
        const auto& throws = r.failures[2];
        CHECK(throws[0].kind == "exception");
        CHECK(throws[0].subcase == "sub");
        CHECK(throws[1].kind == "exception");
        CHECK(throws[1].message == "boom <&>");
        CHECK(throws[1].subcase == "");

        const auto& asserts = r.failures[3];
        CHECK(asserts[0].kind == "CHECK_THROWS");
        CHECK(asserts[0].expanded == "did not throw");
        CHECK(asserts[1].kind == "CHECK_THROWS_AS");
        CHECK(asserts[1].expanded == "did not throw std::runtime_error");
        CHECK(asserts[2].kind == "CHECK_NOTHROW");
        CHECK(asserts[2].expression == "throw std::runtime_error(\"inner\")");
        CHECK(asserts[2].expanded == "threw exception: \"inner\"");

        CHECK(r.failures[4][0].kind == "should_fail");
        CHECK(r.failures[4][0].line == 21);
        CHECK(r.failures[5].empty());  // may_fail: passed, its failure forgiven
        CHECK(r.failures[6][0].kind == "CHECK");
        CHECK(r.failures[7][0].kind == "FAIL");
        CHECK(r.failures[7][0].message == "stop here");
    }

    TEST_CASE("doctest driver: a test starts when its start tag is fed; stdout passes through") {
        auto parser = make_driver("doctest")->parser();
        Recorder r;
        const std::string_view xml = kRunXml;
        const std::string_view tag = R"(<TestCase name="passes" filename="fx.cpp" line="5">)";
        const std::size_t end = xml.find(tag) + tag.size();
        parser->feed_report(xml.substr(0, end - 1), r);
        CHECK(r.events.empty());
        parser->feed_report(xml.substr(end - 1, 1), r);
        CHECK(r.events == std::vector<std::string>{"start passes fx.cpp:5"});
        parser->feed_stdout("hello\n", r);
        CHECK(r.out == "hello\n");
    }

    TEST_CASE("doctest driver: a stream cut short leaves its test open; broken XML is an error") {
        const std::string xml = kRunXml;
        std::string error;
        // The child died in "fails", after its first failed CHECK.
        const Recorder cut = feed(xml.substr(0, xml.find("<SubCase name=\"outer\"")), 64, &error);
        CHECK(error.empty());
        CHECK(cut.events == std::vector<std::string>{"start passes fx.cpp:5", "end passed 0",
                                                     "start fails fx.cpp:7"});

        std::string broken = xml;
        broken.replace(broken.find("</TestCase>"), 11, "</TestCas>");
        const Recorder r = feed(broken, 100, &error);
        CHECK(error.find("doctest's XML report, line 7") != std::string::npos);
        CHECK(error.find("mismatched tag") != std::string::npos);
        CHECK(r.events == std::vector<std::string>{"start passes fx.cpp:5", "end passed 0"});
    }

    TEST_CASE("doctest driver: a crash doctest's signal handler saw leaves its test open") {
        // The process dies of the signal next: tend reports the test crashed.
        std::string error;
        const Recorder r = feed(kCrashXml, 3, &error);
        CHECK(error.empty());
        CHECK(r.events == std::vector<std::string>{"start before crash.cpp:4", "end passed 0",
                                                   "start crashes crash.cpp:5"});
    }
}
