// The Catch2 2.13 driver against output recorded from real Catch2 2.13.10
// binaries (g++, the Debian catch2 package's single header):
// c.cpp: plain, hidden ([.], [.slow], [!hide]), failing, [!mayfail] and
//   [!shouldfail] tests and awkward names; d.cpp: names Catch2's test specs
//   cannot tell apart, or only with exclusions; k.cpp: a crash, an
//   exception in an expression, a multi-line expansion.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include "driver.hpp"

using namespace tend::batch;

namespace {

// What the binaries printed, byte for byte (`--use-colour no`, `--order
// decl`, `-v high`, spec "*"; the runs with -r xml -o /dev/fd/3).
const char* const kNamesC =
    "plain passes\t@c.cpp:6\n"
    "hidden one\t@c.cpp:7\n"
    "fails with sections\t@c.cpp:8\n"
    "\"#hash name\"\t@c.cpp:22\n"
    "hidden tagged\t@c.cpp:23\n"
    "comma, and [brackets] and \"quotes\" and \\back ~tilde\t@c.cpp:24\n"
    "~tilde first\t@c.cpp:25\n"
    "*star first\t@c.cpp:26\n"
    "exclude:me\t@c.cpp:27\n"
    "Case\t@c.cpp:28\n"
    "  spaced  \t@c.cpp:29\n"
    "throws\t@c.cpp:30\n"
    "fail macro\t@c.cpp:31\n"
    "mayfail\t@c.cpp:32\n"
    "shouldfail passes\t@c.cpp:33\n"
    "shouldfail fails\t@c.cpp:34\n"
    "./dot slash\t@c.cpp:35\n"
    "hide tag\t@c.cpp:36\n"
    "a very long test case name that will certainly wrap around the eighty column limit of "
    "catch\t@c.cpp:37\n"
    "require stops\t@c.cpp:38\n"
    "star*mid\t@c.cpp:39\n"
    "tab\there\t@c.cpp:40\n";

const char* const kTagsC =
    "Matching test cases:\n"
    "  plain passes\n"
    "    c.cpp:6\n"
    "    (NO DESCRIPTION)\n"
    "      [Fast][unit]\n"
    "  hidden one\n"
    "    c.cpp:7\n"
    "    (NO DESCRIPTION)\n"
    "      [!hide][.]\n"
    "  fails with sections\n"
    "    c.cpp:8\n"
    "    (NO DESCRIPTION)\n"
    "      [b]\n"
    "  #hash name\n"
    "    c.cpp:22\n"
    "    (NO DESCRIPTION)\n"
    "  hidden tagged\n"
    "    c.cpp:23\n"
    "    (NO DESCRIPTION)\n"
    "      [!hide][.][slow][x]\n"
    "  comma, and [brackets] and \"quotes\" and \\back ~tilde\n"
    "    c.cpp:24\n"
    "    (NO DESCRIPTION)\n"
    "  ~tilde first\n"
    "    c.cpp:25\n"
    "    (NO DESCRIPTION)\n"
    "  *star first\n"
    "    c.cpp:26\n"
    "    (NO DESCRIPTION)\n"
    "  exclude:me\n"
    "    c.cpp:27\n"
    "    (NO DESCRIPTION)\n"
    "  Case\n"
    "    c.cpp:28\n"
    "    (NO DESCRIPTION)\n"
    "    spaced  \n"
    "    c.cpp:29\n"
    "    (NO DESCRIPTION)\n"
    "  throws\n"
    "    c.cpp:30\n"
    "    (NO DESCRIPTION)\n"
    "  fail macro\n"
    "    c.cpp:31\n"
    "    (NO DESCRIPTION)\n"
    "  mayfail\n"
    "    c.cpp:32\n"
    "    (NO DESCRIPTION)\n"
    "      [!mayfail]\n"
    "  shouldfail passes\n"
    "    c.cpp:33\n"
    "    (NO DESCRIPTION)\n"
    "      [!shouldfail]\n"
    "  shouldfail fails\n"
    "    c.cpp:34\n"
    "    (NO DESCRIPTION)\n"
    "      [!shouldfail]\n"
    "  ./dot slash\n"
    "    c.cpp:35\n"
    "    (NO DESCRIPTION)\n"
    "  hide tag\n"
    "    c.cpp:36\n"
    "    (NO DESCRIPTION)\n"
    "      [!hide][.]\n"
    "  a very long test case name that will certainly wrap around the eighty column\n"
    "    limit of catch\n"
    "    c.cpp:37\n"
    "    (NO DESCRIPTION)\n"
    "      [aaaaaaaaaaaaaaaa][bbbbbbbbbbbbbbbbbbbbbbb][cccccccccccccccccccccc]\n"
    "      [dddddddddddddddddddddd][eeeeeeeeeeeee][with space]\n"
    "  require stops\n"
    "    c.cpp:38\n"
    "    (NO DESCRIPTION)\n"
    "  star*mid\n"
    "    c.cpp:39\n"
    "    (NO DESCRIPTION)\n"
    "  tab\there\n"
    "    c.cpp:40\n"
    "    (NO DESCRIPTION)\n"
    "22 matching test cases\n"
    "\n";

const char* const kNamesD =
    "Dup\t@d.cpp:3\n"
    "dup\t@d.cpp:4\n"
    "*end\t@d.cpp:5\n"
    "the end\t@d.cpp:6\n"
    "begin*\t@d.cpp:7\n"
    "exclude:x\t@d.cpp:8\n"
    "xclude:x\t@d.cpp:9\n"
    "line\n"
    "break\t@d.cpp:10\n"
    "ctl\x01"
    "char\t@d.cpp:11\n"
    "crlf\r\n"
    "name\t@d.cpp:12\n"
    "    [x] four spaces\t@d.cpp:13\n";

const char* const kTagsD =
    "Matching test cases:\n"
    "  Dup\n"
    "    d.cpp:3\n"
    "    (NO DESCRIPTION)\n"
    "  dup\n"
    "    d.cpp:4\n"
    "    (NO DESCRIPTION)\n"
    "  *end\n"
    "    d.cpp:5\n"
    "    (NO DESCRIPTION)\n"
    "  the end\n"
    "    d.cpp:6\n"
    "    (NO DESCRIPTION)\n"
    "  begin*\n"
    "    d.cpp:7\n"
    "    (NO DESCRIPTION)\n"
    "  exclude:x\n"
    "    d.cpp:8\n"
    "    (NO DESCRIPTION)\n"
    "  xclude:x\n"
    "    d.cpp:9\n"
    "    (NO DESCRIPTION)\n"
    "  line\n"
    "    break\n"
    "    d.cpp:10\n"
    "    (NO DESCRIPTION)\n"
    "  ctl\x01"
    "char\n"
    "    d.cpp:11\n"
    "    (NO DESCRIPTION)\n"
    "  crlf\r\n"
    "    name\n"
    "    d.cpp:12\n"
    "    (NO DESCRIPTION)\n"
    "      [x] four spaces\n"
    "    d.cpp:13\n"
    "    (NO DESCRIPTION)\n"
    "      [a]\n"
    "11 matching test cases\n"
    "\n";

const char* const kRunC =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Catch name=\"c\" filters=\"&quot;fails with sections&quot;, &quot;throws&quot;, &quot;fail "
    "macro&quot;, &quot;mayfail&quot;, &quot;shouldfail passes&quot;, &quot;shouldfail "
    "fails&quot;, &quot;hidden one&quot;\">\n"
    "  <Group name=\"c\">\n"
    "    <TestCase name=\"hidden one\" tags=\"[!hide][.]\" filename=\"c.cpp\" line=\"7\">\n"
    "      <OverallResult success=\"true\"/>\n"
    "    </TestCase>\n"
    "    <TestCase name=\"fails with sections\" tags=\"[b]\" filename=\"c.cpp\" line=\"8\">\n"
    "      <Section name=\"outer\" filename=\"c.cpp\" line=\"11\">\n"
    "        <Section name=\"inner\" filename=\"c.cpp\" line=\"12\">\n"
    "          <Info>\n"
    "            the info 2\n"
    "          </Info>\n"
    "          <Info>\n"
    "            x := 2\n"
    "          </Info>\n"
    "          <Expression success=\"false\" type=\"CHECK\" filename=\"c.cpp\" line=\"14\">\n"
    "            <Original>\n"
    "              x == 3\n"
    "            </Original>\n"
    "            <Expanded>\n"
    "              2 == 3\n"
    "            </Expanded>\n"
    "          </Expression>\n"
    "          <OverallResults successes=\"0\" failures=\"1\" expectedFailures=\"0\"/>\n"
    "        </Section>\n"
    "        <OverallResults successes=\"0\" failures=\"1\" expectedFailures=\"0\"/>\n"
    "      </Section>\n"
    "      <OverallResult success=\"false\">\n"
    "        <StdOut>\n"
    "to cout\n"
    "        </StdOut>\n"
    "        <StdErr>\n"
    "to cerr\n"
    "        </StdErr>\n"
    "      </OverallResult>\n"
    "    </TestCase>\n"
    "    <TestCase name=\"throws\" filename=\"c.cpp\" line=\"30\">\n"
    "      <Exception filename=\"c.cpp\" line=\"30\">\n"
    "        boom &lt;&amp;>\n"
    "      </Exception>\n"
    "      <OverallResult success=\"false\"/>\n"
    "    </TestCase>\n"
    "    <TestCase name=\"fail macro\" filename=\"c.cpp\" line=\"31\">\n"
    "      <Warning>\n"
    "        warned\n"
    "      </Warning>\n"
    "      <Failure filename=\"c.cpp\" line=\"31\">\n"
    "        failed here\n"
    "      </Failure>\n"
    "      <OverallResult success=\"false\"/>\n"
    "    </TestCase>\n"
    "    <TestCase name=\"mayfail\" tags=\"[!mayfail]\" filename=\"c.cpp\" line=\"32\">\n"
    "      <Expression success=\"false\" type=\"CHECK\" filename=\"c.cpp\" line=\"32\">\n"
    "        <Original>\n"
    "          1 == 2\n"
    "        </Original>\n"
    "        <Expanded>\n"
    "          1 == 2\n"
    "        </Expanded>\n"
    "      </Expression>\n"
    "      <OverallResult success=\"true\"/>\n"
    "    </TestCase>\n"
    "    <TestCase name=\"shouldfail passes\" tags=\"[!shouldfail]\" filename=\"c.cpp\" "
    "line=\"33\">\n"
    "      <OverallResult success=\"false\"/>\n"
    "    </TestCase>\n"
    "    <TestCase name=\"shouldfail fails\" tags=\"[!shouldfail]\" filename=\"c.cpp\" "
    "line=\"34\">\n"
    "      <Expression success=\"false\" type=\"CHECK\" filename=\"c.cpp\" line=\"34\">\n"
    "        <Original>\n"
    "          1 == 2\n"
    "        </Original>\n"
    "        <Expanded>\n"
    "          1 == 2\n"
    "        </Expanded>\n"
    "      </Expression>\n"
    "      <OverallResult success=\"true\"/>\n"
    "    </TestCase>\n"
    "    <OverallResults successes=\"2\" failures=\"4\" expectedFailures=\"2\"/>\n"
    "    <OverallResultsCases successes=\"1\" failures=\"4\" expectedFailures=\"2\"/>\n"
    "  </Group>\n"
    "  <OverallResults successes=\"2\" failures=\"3\" expectedFailures=\"2\"/>\n"
    "  <OverallResultsCases successes=\"1\" failures=\"4\" expectedFailures=\"2\"/>\n"
    "</Catch>\n";

const char* const kCrashK =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Catch name=\"k\" filters=\"&quot;before&quot;, &quot;crashes&quot;, &quot;after&quot;\">\n"
    "  <Group name=\"k\">\n"
    "    <TestCase name=\"before\" filename=\"k.cpp\" line=\"6\">\n"
    "      <OverallResult success=\"true\"/>\n"
    "    </TestCase>\n"
    "    <TestCase name=\"crashes\" filename=\"k.cpp\" line=\"7\">\n"
    "      <Section name=\"sec\" filename=\"k.cpp\" line=\"8\">\n"
    "        <Info>\n"
    "          context\n"
    "        </Info>\n"
    "        <FatalErrorCondition filename=\"k.cpp\" line=\"8\">\n"
    "          SIGSEGV - Segmentation violation signal\n"
    "        </FatalErrorCondition>\n"
    "        <OverallResults successes=\"0\" failures=\"1\" expectedFailures=\"0\"/>\n"
    "      </Section>\n"
    "      <OverallResult success=\"false\"/>\n"
    "    </TestCase>\n"
    "    <OverallResults successes=\"1\" failures=\"1\" expectedFailures=\"0\"/>\n"
    "    <OverallResultsCases successes=\"1\" failures=\"1\" expectedFailures=\"0\"/>\n"
    "  </Group>\n"
    "  <OverallResults successes=\"1\" failures=\"1\" expectedFailures=\"0\"/>\n"
    "  <OverallResultsCases successes=\"1\" failures=\"1\" expectedFailures=\"0\"/>\n"
    "</Catch>";

const char* const kExprK =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Catch name=\"k\" filters=\"&quot;throws in expr&quot;, &quot;multi line&quot;\">\n"
    "  <Group name=\"k\">\n"
    "    <TestCase name=\"throws in expr\" filename=\"k.cpp\" line=\"18\">\n"
    "      <Expression success=\"false\" type=\"CHECK\" filename=\"k.cpp\" line=\"18\">\n"
    "        <Original>\n"
    "          ([]() -> int { throw std::logic_error(\"inner\"); })() == 1\n"
    "        </Original>\n"
    "        <Expanded>\n"
    "          ([]() -> int { throw std::logic_error(\"inner\"); })() == 1\n"
    "        </Expanded>\n"
    "        <Exception filename=\"k.cpp\" line=\"18\">\n"
    "          inner\n"
    "        </Exception>\n"
    "      </Expression>\n"
    "      <OverallResult success=\"false\"/>\n"
    "    </TestCase>\n"
    "    <TestCase name=\"multi line\" tags=\"[CamelTag]\" filename=\"k.cpp\" line=\"19\">\n"
    "      <Expression success=\"false\" type=\"CHECK_THAT\" filename=\"k.cpp\" line=\"19\">\n"
    "        <Original>\n"
    "          std::string(\"a\\nb\"), Catch::Matchers::Equals(\"a\\nc\")\n"
    "        </Original>\n"
    "        <Expanded>\n"
    "          \"a\n"
    "b\" equals: \"a\n"
    "c\"\n"
    "        </Expanded>\n"
    "      </Expression>\n"
    "      <OverallResult success=\"false\"/>\n"
    "    </TestCase>\n"
    "    <OverallResults successes=\"0\" failures=\"2\" expectedFailures=\"0\"/>\n"
    "    <OverallResultsCases successes=\"0\" failures=\"2\" expectedFailures=\"0\"/>\n"
    "  </Group>\n"
    "  <OverallResults successes=\"0\" failures=\"2\" expectedFailures=\"0\"/>\n"
    "  <OverallResultsCases successes=\"0\" failures=\"2\" expectedFailures=\"0\"/>\n"
    "</Catch>\n";

/// Answers the driver's two listings with recorded output.
struct Recorded {
    const char* names;
    const char* tags;
    int names_status = 22 << 8;
    int tags_status = 22 << 8;
    std::vector<std::vector<std::string>> calls = {};

    RunBinary runner() {
        return [this](const std::vector<std::string>& args, bool report) {
            calls.push_back(args);
            CHECK_FALSE(report);
            Captured c;
            const bool names_only = args.at(0) == "--list-test-names-only";
            c.out = names_only ? names : tags;
            c.wait_status = names_only ? names_status : tags_status;
            return c;
        };
    }
};

std::unique_ptr<Driver> listed(Recorded& recorded, std::vector<TestDescription>& tests) {
    auto driver = make_driver("catch2");
    REQUIRE(driver);
    std::string error;
    auto got = driver->list(recorded.runner(), error);
    REQUIRE_MESSAGE(got, error);
    tests = *got;
    return driver;
}

/// What a parser reported, one line per event.
struct Log final : ProgressSink {
    std::vector<TestKey> keys;
    std::vector<std::string> events;
    std::vector<std::vector<FailureDetail>> failures;
    std::vector<std::string> outs;
    void started(const TestKey& key) override {
        keys.push_back(key);
        events.push_back("started " + key.name);
    }
    void output(std::string_view text) override { events.push_back("output " + std::string(text)); }
    void finished(Outcome outcome, std::vector<FailureDetail> f, std::string out) override {
        events.push_back(outcome == Outcome::passed ? "passed" : "failed");
        failures.push_back(std::move(f));
        outs.push_back(std::move(out));
    }
};

/// Feeds `report` to a fresh parser `chunk` bytes at a time.
Log parse(const Driver& driver, std::string_view report, std::size_t chunk,
          std::string* error = nullptr) {
    Log log;
    auto parser = driver.parser();
    for (std::size_t at = 0; at < report.size(); at += chunk)
        parser->feed_report(report.substr(at, chunk), log);
    parser->finish(log);
    if (error)
        *error = parser->error();
    else
        CHECK(parser->error() == "");
    return log;
}

}  // namespace

TEST_SUITE("batch drivers") {
    TEST_CASE("catch2: lists every test, hidden ones too, in declaration order with its tags") {
        Recorded recorded{kNamesC, kTagsC};
        std::vector<TestDescription> tests;
        auto driver = listed(recorded, tests);
        CHECK(driver->framework() == "catch2");
        CHECK(driver->uses_report_fd());
        REQUIRE(recorded.calls.size() == 2);
        CHECK(recorded.calls[0] == std::vector<std::string>{"--list-test-names-only", "-v", "high",
                                                            "--order", "decl", "--use-colour", "no",
                                                            "*"});
        CHECK(recorded.calls[1].at(0) == "--list-tests");
        CHECK(recorded.calls[1].back() == "*");

        REQUIRE(tests.size() == 22);
        CHECK(tests[0].name == "plain passes");
        CHECK(tests[0].file == "c.cpp");
        CHECK(tests[0].line == 6);
        CHECK(tests[0].suite == "");
        CHECK_FALSE(tests[0].skip);
        CHECK(tests[0].tags == std::vector<std::string>{"Fast", "unit"});
        CHECK(tests[1].name == "hidden one");
        CHECK(tests[1].skip);
        CHECK(tests[1].tags == std::vector<std::string>{"!hide", "."});
        // Printed in quotes, as it begins with '#'.
        CHECK(tests[3].name == "#hash name");
        CHECK(tests[3].tags.empty());
        CHECK(tests[4].name == "hidden tagged");
        CHECK(tests[4].skip);
        CHECK(tests[4].tags == std::vector<std::string>{"!hide", ".", "slow", "x"});
        CHECK(tests[10].name == "  spaced  ");
        CHECK(tests[13].tags == std::vector<std::string>{"!mayfail"});
        // "./" no longer hides a test in 2.13.
        CHECK(tests[16].name == "./dot slash");
        CHECK_FALSE(tests[16].skip);
        CHECK(tests[17].name == "hide tag");
        CHECK(tests[17].skip);
        // Name and tags wrapped over two lines each.
        CHECK(tests[18].name ==
              "a very long test case name that will certainly wrap around the eighty column limit "
              "of catch");
        CHECK(tests[18].tags ==
              std::vector<std::string>{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbb",
                                       "cccccccccccccccccccccc", "dddddddddddddddddddddd",
                                       "eeeeeeeeeeeee", "with space"});
        CHECK(tests[21].name == "tab\there");
        CHECK(tests[21].line == 40);
    }

    TEST_CASE("catch2: names with newlines and control characters, and a name like tags") {
        Recorded recorded{kNamesD, kTagsD, 11 << 8, 11 << 8};
        std::vector<TestDescription> tests;
        auto driver = listed(recorded, tests);
        REQUIRE(tests.size() == 11);
        CHECK(tests[7].name == "line\nbreak");
        CHECK(tests[8].name ==
              "ctl\x01"
              "char");
        CHECK(tests[9].name == "crlf\r\nname");
        CHECK(tests[10].name == "    [x] four spaces");
        CHECK(tests[10].tags == std::vector<std::string>{"a"});
        for (std::size_t i = 0; i < 10; ++i) CHECK(tests[i].tags.empty());
        // As the XML stream gives them back.
        CHECK(driver->key(7).name == "line break");
        CHECK(driver->key(8).name == "ctl\\x01char");
        CHECK(driver->key(9).name == "crlf name");
        CHECK(driver->key(10).name == "[x] four spaces");
    }

    TEST_CASE("catch2: a listing that failed or does not read is an error naming the command") {
        std::string error;
        SUBCASE("names listing killed") {
            Recorded recorded{"", kTagsC, SIGSEGV, 0};
            CHECK_FALSE(make_driver("catch2")->list(recorded.runner(), error));
            CHECK(error.find("--list-test-names-only") != std::string::npos);
            CHECK(error.find("signal 11") != std::string::npos);
        }
        SUBCASE("nothing listed, and a failure status (Catch2 refused its arguments)") {
            Recorded recorded{"", kTagsC, 255 << 8, 0};
            CHECK_FALSE(make_driver("catch2")->list(recorded.runner(), error));
            CHECK(error.find("exit status 255") != std::string::npos);
        }
        SUBCASE("the tags listing does not follow the names") {
            Recorded recorded{kNamesC, kTagsD};
            CHECK_FALSE(make_driver("catch2")->list(recorded.runner(), error));
            CHECK(error.find("--list-tests") != std::string::npos);
            CHECK(error.find("expected test \"plain passes\"") != std::string::npos);
        }
        SUBCASE("no test at all is fine") {
            Recorded recorded{"", "Matching test cases:\n0 matching test cases\n\n", 0, 0};
            auto got = make_driver("catch2")->list(recorded.runner(), error);
            REQUIRE(got);
            CHECK(got->empty());
        }
    }

    TEST_CASE("catch2: each test is a quoted, escaped spec; a batch's specs are alternatives") {
        Recorded recorded{kNamesC, kTagsC};
        std::vector<TestDescription> tests;
        auto driver = listed(recorded, tests);
        for (std::size_t i = 0; i < tests.size(); ++i) {
            CHECK(driver->selectable(i).in_batch);
            CHECK(driver->selectable(i).problem == "");
        }
        CHECK(driver->run_args({0, 5, 6, 7, 21}, false) ==
              std::vector<std::string>{
                  "-r", "xml", "-o", "/dev/fd/3", "--order", "decl", "\"plain passes\",",
                  "\"comma\\, and [brackets] and \\\"quotes\\\" and \\\\back ~tilde\",",
                  "\"~tilde first\",", "\"*star first\",", "\"tab\there\""});
        // Hidden tests run when named: nothing more with run_skipped.
        CHECK(driver->run_args({1}, true) == driver->run_args({1}, false));
        CHECK(driver->key(10).name == "spaced");
        CHECK(driver->key(10).file == "c.cpp");
        CHECK(driver->key(10).line == 29);
    }

    TEST_CASE("catch2: names Catch2 matches ignoring case, or as wildcards, or as exclusions") {
        Recorded recorded{kNamesD, kTagsD, 11 << 8, 11 << 8};
        std::vector<TestDescription> tests;
        auto driver = listed(recorded, tests);
        // "Dup" and "dup": no spec tells them apart.
        CHECK_FALSE(driver->selectable(0).in_batch);
        CHECK(driver->selectable(0).problem.find("\"dup\"") != std::string::npos);
        CHECK(driver->selectable(1).problem.find("\"Dup\"") != std::string::npos);
        // "*end" also matches "the end", which is then excluded.
        CHECK_FALSE(driver->selectable(2).in_batch);
        CHECK(driver->selectable(2).problem == "");
        CHECK(driver->run_args({2}, false).back() == "\"*end\"~\"the end\"");
        CHECK(driver->selectable(3).in_batch);
        // A trailing '*' matches only what begins with "begin".
        CHECK(driver->selectable(4).in_batch);
        // "exclude:" would exclude, escaped or not: "*xclude:x", without "xclude:x".
        CHECK_FALSE(driver->selectable(5).in_batch);
        CHECK(driver->run_args({5}, false).back() == "\"*xclude:x\"~\"xclude:x\"");
        CHECK(driver->selectable(6).in_batch);
    }

    TEST_CASE("catch2: reads a run's XML in any chunks") {
        Recorded recorded{kNamesC, kTagsC};
        std::vector<TestDescription> tests;
        auto driver = listed(recorded, tests);
        for (const std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{100000}}) {
            CAPTURE(chunk);
            const Log log = parse(*driver, kRunC, chunk);
            CHECK(log.events == std::vector<std::string>{
                                    "started hidden one", "passed", "started fails with sections",
                                    "failed", "started throws", "failed", "started fail macro",
                                    "failed", "started mayfail", "passed",
                                    "started shouldfail passes", "failed",
                                    "started shouldfail fails", "passed"});
            // The keys the stream gives are the driver's.
            const std::vector<std::size_t> ran = {1, 2, 11, 12, 13, 14, 15};
            REQUIRE(log.keys.size() == ran.size());
            for (std::size_t n = 0; n < ran.size(); ++n) {
                CHECK(log.keys[n].name == driver->key(ran[n]).name);
                CHECK(log.keys[n].file == driver->key(ran[n]).file);
                CHECK(log.keys[n].line == driver->key(ran[n]).line);
            }
            REQUIRE(log.failures.size() == 7);
            CHECK(log.failures[0].empty());
            // CHECK in two sections, with an INFO and a CAPTURE in scope;
            // std::cout and std::cerr captured by Catch2.
            REQUIRE(log.failures[1].size() == 1);
            const FailureDetail& f = log.failures[1][0];
            CHECK(f.file == "c.cpp");
            CHECK(f.line == 14);
            CHECK(f.kind == "CHECK");
            CHECK(f.expression == "x == 3");
            CHECK(f.expanded == "2 == 3");
            CHECK(f.message == "the info 2\nx := 2");
            CHECK(f.subcase == "outer / inner");
            CHECK(log.outs[1] == "to cout\nto cerr\n");
            // An exception out of the test.
            REQUIRE(log.failures[2].size() == 1);
            CHECK(log.failures[2][0].kind == "exception");
            CHECK(log.failures[2][0].message == "boom <&>");
            CHECK(log.failures[2][0].line == 30);
            CHECK(log.failures[2][0].subcase == "");
            // FAIL after a WARN (not a failure).
            REQUIRE(log.failures[3].size() == 1);
            CHECK(log.failures[3][0].kind == "FAIL");
            CHECK(log.failures[3][0].message == "failed here");
            // [!mayfail] failing: passed without failures.
            CHECK(log.failures[4].empty());
            // [!shouldfail] passing: failed, though no assertion failed.
            REQUIRE(log.failures[5].size() == 1);
            CHECK(log.failures[5][0].kind == "shouldfail");
            CHECK(log.failures[5][0].line == 33);
            CHECK(log.failures[6].empty());
        }
    }

    TEST_CASE("catch2: the tests' own stdout goes straight through") {
        auto driver = make_driver("catch2");
        Log log;
        auto parser = driver->parser();
        parser->feed_stdout("printf out\n", log);
        parser->feed_stdout("no newline", log);
        parser->finish(log);
        CHECK(log.events == std::vector<std::string>{"output printf out\n", "output no newline"});
    }

    TEST_CASE("catch2: a crash Catch2 caught, an exception in an expression, multi-line text") {
        auto driver = make_driver("catch2");
        SUBCASE("SIGSEGV: Catch2 closes the test before dying; it stays open, a crash") {
            const Log log = parse(*driver, kCrashK, 3);
            CHECK(log.events ==
                  std::vector<std::string>{"started before", "passed", "started crashes"});
        }
        SUBCASE("a cut stream leaves the test open, without an error") {
            const std::string_view all = kCrashK;
            const std::size_t cut = all.find("<Section");
            const Log log = parse(*driver, all.substr(0, cut), 5);
            CHECK(log.events ==
                  std::vector<std::string>{"started before", "passed", "started crashes"});
        }
        SUBCASE("exception thrown by a CHECK's expression; a matcher's multi-line expansion") {
            const Log log = parse(*driver, kExprK, 11);
            REQUIRE(log.failures.size() == 2);
            REQUIRE(log.failures[0].size() == 1);
            CHECK(log.failures[0][0].kind == "CHECK");
            CHECK(log.failures[0][0].message == "inner");
            CHECK(log.failures[0][0].expression ==
                  "([]() -> int { throw std::logic_error(\"inner\"); })() == 1");
            REQUIRE(log.failures[1].size() == 1);
            CHECK(log.failures[1][0].kind == "CHECK_THAT");
            CHECK(log.failures[1][0].expanded == "\"a\nb\" equals: \"a\nc\"");
        }
        SUBCASE("broken XML") {
            std::string error;
            parse(*driver, "<?xml version=\"1.0\"?>\n<Catch><Group></Catch>", 4, &error);
            CHECK(error.find("mismatched tag") != std::string::npos);
        }
    }
}
