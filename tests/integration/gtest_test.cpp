// The GoogleTest adapter end to end: tests/fixtures/gtest_basic.cpp, linked
// with tend's gtest main, under tend and run by hand.
#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <string>

#include "run_tend.hpp"

using namespace tend_test;
using nlohmann::json;

namespace {
std::string run_by_hand(const std::string& args) {
    std::string out;
    FILE* p = ::popen((shell_quote(fixture("gtest_basic")) + " " + args + " 2>&1").c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    ::pclose(p);
    return out;
}

}  // namespace

TEST_CASE("gtest: every kind of test, its status, failures and names") {
    for (const char* jobs : {"1", "2"}) {
        INFO("-j " << jobs);
        auto o = run_tend({"run", fixture("gtest_basic"), "-j", jobs, "--json"});
        CHECK(o.exit_code == 1);
        const auto tests = o.tests();
        CHECK(tests.size() == 26);
        // The Environment is set up once per worker (the tests check it).
        CHECK(only(tests, "Plain/Passes")["status"] == "passed");
        CHECK(only(tests, "Scoped/Second")["status"] == "passed");

        const json& failing = only(tests, "Plain/FailsWithMessage");
        CHECK(failing["status"] == "failed");
        REQUIRE(failing["failures"].size() == 2);
        CHECK(failing["failures"][0]["kind"] == "non-fatal");
        // TEST at line L, SCOPED_TRACE at L + 1, EXPECT_EQ at L + 2, ASSERT at L + 3.
        const int line = failing["line"];
        CHECK(failing["failures"][0]["line"] == line + 2);
        CHECK(failing["failures"][0]["file"].get<std::string>().find("gtest_basic.cpp") !=
              std::string::npos);
        const std::string first = failing["failures"][0]["message"];
        CHECK(first.find("streamed text 42") != std::string::npos);
        CHECK(first.find("in the scoped trace") != std::string::npos);
        CHECK(failing["failures"][1]["kind"] == "fatal");
        CHECK(failing["failures"][1]["line"] == line + 3);
        CHECK(failing["failures"][1]["message"].get<std::string>().find("fatal here") !=
              std::string::npos);

        const json& skipped = only(tests, "Plain/Skips");
        CHECK(skipped["status"] == "skipped");
        REQUIRE(skipped["failures"].size() == 1);
        CHECK(skipped["failures"][0]["message"] == "not today");

        const json& thrown = only(tests, "Plain/Throws");
        CHECK(thrown["status"] == "failed");
        CHECK(thrown["failures"][0]["message"].get<std::string>().find("escaped exception") !=
              std::string::npos);

        const json& disabled = only(tests, "Plain/DISABLED_Ignored");
        CHECK(disabled["status"] == "skipped");
        CHECK(disabled["stdout"] == "");

        // TEST_P: "Instantiation/Suite" and "Test/N"; typed: "Suite/N".
        CHECK(only(tests, "Small/Param/Positive/0")["status"] == "passed");
        CHECK(only(tests, "Small/Param/Positive/1")["status"] == "passed");
        CHECK(only(tests, "Large/Param/Positive/0")["status"] == "passed");
        CHECK(only(tests, "Large/Param/Positive/1")["status"] == "failed");
        CHECK(only(tests, "Typed/0/ZeroIsFalse")["status"] == "passed");
        CHECK(only(tests, "Typed/1/ZeroIsFalse")["status"] == "passed");
        // Death tests: "fast" forks, "threadsafe" runs the binary again,
        // which must then be gtest's child, not a second worker.
        CHECK(only(tests, "DeathTest/Fast")["status"] == "passed");
        CHECK(only(tests, "DeathTest/Threadsafe")["status"] == "passed");
        // TYPED_TEST_P: "Instantiation/Suite/N".
        CHECK(only(tests, "Numbers/TypedP/0/DefaultIsZero")["status"] == "passed");
        CHECK(only(tests, "Numbers/TypedP/1/DefaultIsZero")["status"] == "passed");
        // testing::RegisterTest.
        CHECK(only(tests, "Registered/Value7")["status"] == "passed");
        CHECK(only(tests, "Registered/Value8")["status"] == "failed");

        // SetUpTestSuite once per unit, its output before the first test's.
        CHECK(only(tests, "Scoped/First")["stdout"] == "SetUpTestSuite 1\n");
        CHECK(only(tests, "Scoped/Second")["stdout"] == "");
        // A failing SetUpTestSuite fails each test of the unit, attached.
        for (const char* name : {"SetUpFails/One", "SetUpFails/Two"}) {
            const json& t = only(tests, name);
            CHECK(t["status"] == "failed");
            REQUIRE(t["failures"].size() == 1);
            CHECK(t["failures"][0]["kind"] == "fatal");
            CHECK(t["failures"][0]["message"].get<std::string>().find("suite set-up broke") !=
                  std::string::npos);
        }
        // GTEST_SKIP() in SetUpTestSuite: as gtest itself reports it (1.12
        // runs the tests, later versions skip them, with the message).
        const json& suite_skipped = only(tests, "SkippedSuite/Skipped");
        const bool gtest_skips =
            run_by_hand("--gtest_filter=SkippedSuite.*").find("[  SKIPPED ]") != std::string::npos;
        if (gtest_skips) {
            CHECK(suite_skipped["status"] == "skipped");
            CHECK(suite_skipped["stdout"] == "");
            REQUIRE(suite_skipped["failures"].size() >= 1);
            CHECK(suite_skipped["failures"][0]["message"] == "whole suite skipped");
        } else {
            CHECK(suite_skipped["status"] == "passed");
            CHECK(suite_skipped["failures"].empty());
        }
        // TearDownTestSuite at finalize: a failure fails the run, with its output.
        CHECK(only(tests, "TearDownFails/Runs")["status"] == "passed");
        const auto errors = o.of("error");
        REQUIRE(errors.size() == 1);
        const std::string message = errors[0]["message"];
        CHECK(message.find("unit 'TearDownFails'") != std::string::npos);
        CHECK(message.find("suite tear-down broke") != std::string::npos);
        CHECK(message.find("tearing down TearDownFails") != std::string::npos);
        CHECK(o.of("summary")[0]["passed"] == (gtest_skips ? 17 : 18));
        CHECK(o.of("summary")[0]["failed"] == 6);
        CHECK(o.of("summary")[0]["skipped"] == (gtest_skips ? 3 : 2));
    }
}

TEST_CASE("gtest: Environments are set up once per worker, torn down at its shutdown") {
    const std::string marker = "/tmp/tend-it-gtest-env-" + std::to_string(::getpid());
    for (int jobs : {1, 2}) {
        std::remove(marker.c_str());
        // (Without the threadsafe death test, whose child sets the
        // Environments up again, as it does run by hand.)
        auto o = run_tend({"run", fixture("gtest_basic"), "-j", std::to_string(jobs), "--json",
                           "-e", "DeathTest/*"},
                          "GTEST_BASIC_MARKER=" + shell_quote(marker));
        const int workers = o.of("summary")[0]["workers"]["started"];
        CHECK(workers >= 1);
        CHECK(workers <= jobs);
        const std::string text = slurp(marker);
        int set_ups = 0, tear_downs = 0;
        for (std::size_t at = 0; (at = text.find("set up", at)) != std::string::npos; ++at)
            ++set_ups;
        for (std::size_t at = 0; (at = text.find("torn down", at)) != std::string::npos; ++at)
            ++tear_downs;
        CHECK(set_ups == workers);
        CHECK(tear_downs == workers);
    }
    std::remove(marker.c_str());
}

TEST_CASE("gtest: a failing Environment fails every test, the failure attached") {
    auto o = run_tend({"run", fixture("gtest_basic"), "-j", "1", "--json", "--exact",
                       "Scoped.First", "--exact", "Plain.Skips"},
                      "GTEST_BASIC_FAIL_ENVIRONMENT=1");
    CHECK(o.exit_code == 1);
    const auto tests = o.tests();
    REQUIRE(tests.size() == 2);
    for (const auto& t : tests) {
        INFO(t.first);
        const json& e = t.second.front();
        CHECK(e["status"] == "failed");
        REQUIRE(e["failures"].size() >= 1);
        CHECK(e["failures"][0]["message"].get<std::string>().find("environment broke") !=
              std::string::npos);
    }
}

TEST_CASE("gtest: GTEST_ALSO_RUN_DISABLED_TESTS runs DISABLED_ tests under tend") {
    auto o =
        run_tend({"run", fixture("gtest_basic"), "--json", "--exact", "Plain.DISABLED_Ignored"},
                 "GTEST_ALSO_RUN_DISABLED_TESTS=1");
    const auto tests = o.tests();
    REQUIRE(tests.size() == 1);
    const json& t = tests.begin()->second.front();
    CHECK(t["status"] == "passed");
    CHECK(t["stdout"] == "disabled test ran\n");
}

TEST_CASE("gtest: --run-ignored runs DISABLED_ tests as --gtest_also_run_disabled_tests does") {
    const std::string binary = fixture("gtest_disabled");
    const std::set<std::string> disabled{"Mixed/DISABLED_Waits", "Fixture/DISABLED_Slow",
                                         "DISABLED_Whole/One", "DISABLED_Whole/Two"};
    const std::set<std::string> enabled{"Mixed/Runs", "Fixture/Enabled"};
    const auto names = [](const std::map<std::string, std::vector<json>>& tests) {
        std::set<std::string> out;
        for (const auto& [name, _] : tests) out.insert(name);
        return out;
    };
    for (const char* jobs : {"1", "2"}) {
        INFO("-j " << jobs);
        // default: listed, reported skipped, not run.
        auto by_default = run_tend({"run", binary, "-j", jobs, "--json"});
        CHECK(by_default.exit_code == 0);
        auto tests = by_default.tests();
        CHECK(tests.size() == 6);
        for (const auto& name : disabled) {
            INFO(name);
            CHECK(only(tests, name)["status"] == "skipped");
            CHECK(only(tests, name)["stdout"] == "");
        }
        CHECK(only(tests, "Mixed/Runs")["status"] == "passed");

        // only: the DISABLED_ tests run, and nothing else.
        auto ignored = run_tend({"run", binary, "-j", jobs, "--json", "--run-ignored", "only"});
        CHECK(ignored.exit_code == 1);  // Fixture.DISABLED_Slow fails when it runs
        tests = ignored.tests();
        CHECK(names(tests) == disabled);
        CHECK(only(tests, "Mixed/DISABLED_Waits")["status"] == "passed");
        CHECK(only(tests, "Mixed/DISABLED_Waits")["stdout"] == "Mixed.DISABLED_Waits ran\n");
        CHECK(only(tests, "DISABLED_Whole/One")["stdout"] == "DISABLED_Whole.One ran\n");
        CHECK(only(tests, "DISABLED_Whole/Two")["status"] == "passed");
        // Alone in its unit, the disabled test of a fixture gets its
        // SetUpTestSuite, and its failures are gtest's.
        const json& slow = only(tests, "Fixture/DISABLED_Slow");
        CHECK(slow["status"] == "failed");
        CHECK(slow["stdout"] == "Fixture set up\nFixture.DISABLED_Slow ran\n");
        REQUIRE(slow["failures"].size() == 1);
        CHECK(slow["failures"][0]["message"].get<std::string>().find(
                  "a disabled test that fails when it runs") != std::string::npos);
        REQUIRE(ignored.of("summary").size() == 1);
        CHECK(ignored.of("summary")[0]["filtered"] == 2);
        CHECK(ignored.of("summary")[0]["skipped"] == 0);

        // all: everything runs, in one unit per suite.
        auto all = run_tend({"run", binary, "-j", jobs, "--json", "--run-ignored", "all"});
        CHECK(all.exit_code == 1);
        tests = all.tests();
        CHECK(tests.size() == 6);
        CHECK(only(tests, "Mixed/Runs")["stdout"] == "Mixed.Runs ran\n");
        CHECK(only(tests, "Mixed/DISABLED_Waits")["stdout"] == "Mixed.DISABLED_Waits ran\n");
        CHECK(only(tests, "Fixture/Enabled")["stdout"] == "Fixture set up\nFixture.Enabled ran\n");
        CHECK(only(tests, "Fixture/DISABLED_Slow")["stdout"] == "Fixture.DISABLED_Slow ran\n");
        CHECK(all.of("summary")[0]["passed"] == 5);
        CHECK(all.of("summary")[0]["failed"] == 1);
        CHECK(all.of("summary")[0]["skipped"] == 0);
    }
    // tend list shows what a run would do; gtest's mark stays in the tags.
    auto list = run_tend({"list", binary, "--run-ignored", "only"});
    CHECK(list.out ==
          "Mixed/DISABLED_Waits\nFixture/DISABLED_Slow\nDISABLED_Whole/One\nDISABLED_Whole/Two\n");
    auto by_default = run_tend({"list", binary, "--suite", "Mixed"});
    CHECK(by_default.out == "Mixed/Runs\nMixed/DISABLED_Waits  (skipped)\n");
    auto as_json = run_tend(
        {"list", binary, "--json", "--run-ignored", "all", "--exact", "Mixed.DISABLED_Waits"});
    REQUIRE(as_json.events.size() == 1);
    CHECK(as_json.events[0]["skip"] == false);
    CHECK(as_json.events[0]["tags"] == json::array({"disabled"}));
}

TEST_CASE("gtest: a crash costs one test; the unit's rest runs on a fresh worker") {
    auto o = run_tend({"run", fixture("gtest_basic"), "-j", "1", "--json", "--suite", "Crash"},
                      "GTEST_BASIC_CRASH=1");
    CHECK(o.exit_code == 1);
    const auto tests = o.tests();
    REQUIRE(tests.size() == 3);
    const json& before = only(tests, "Crash/Before");
    const json& crashed = only(tests, "Crash/MaybeAborts");
    const json& after = only(tests, "Crash/After");
    CHECK(before["status"] == "passed");
    CHECK(crashed["status"] == "crashed");
    CHECK(after["status"] == "passed");
    CHECK(after["worker_pid"] != before["worker_pid"]);
    // Each worker set the unit up once, before its first test.
    CHECK(before["stdout"] == "Crash set up\n");
    CHECK(after["stdout"] == "Crash set up\n");
}

TEST_CASE("gtest: a fatal failure or a skip in an Environment runs no test") {
    for (const char* how : {"FATAL", "SKIP"}) {
        INFO(how);
        const bool fatal = std::string(how) == "FATAL";
        auto o = run_tend({"run", fixture("gtest_basic"), "-j", "1", "--json", "--suite", "Scoped"},
                          std::string("GTEST_BASIC_") + how + "_ENVIRONMENT=1");
        CHECK(o.exit_code == (fatal ? 1 : 0));
        const auto tests = o.tests();
        REQUIRE(tests.size() == 2);
        for (const auto& t : tests) {
            const json& e = t.second.front();
            CHECK(e["status"] == (fatal ? "failed" : "skipped"));
            CHECK(e["stdout"] == "");  // not even SetUpTestSuite ran
            REQUIRE(e["failures"].size() == 1);
            CHECK(e["failures"][0]["message"].get<std::string>().find(
                      fatal ? "environment died" : "no environment here") != std::string::npos);
        }
    }
}

TEST_CASE("gtest: --exact and -f take gtest's Suite.Name") {
    auto o = run_tend({"run", fixture("gtest_basic"), "--json", "--exact", "Scoped.Second",
                       "--exact", "Large/Param.Positive/1", "-f", "Typed/*.Zero*"});
    const auto tests = o.tests();
    CHECK(tests.size() == 4);
    CHECK(tests.count("Scoped/Second") == 1);
    CHECK(tests.count("Large/Param/Positive/1") == 1);
    CHECK(tests.count("Typed/0/ZeroIsFalse") == 1);
    CHECK(tests.count("Typed/1/ZeroIsFalse") == 1);
    // Run alone, Scoped/Second sees its unit's SetUpTestSuite once.
    CHECK(only(tests, "Scoped/Second")["status"] == "passed");
}

TEST_CASE("gtest: GTEST_SHARD_* do not make a worker drop tests") {
    auto o = run_tend({"run", fixture("gtest_basic"), "--json"},
                      "GTEST_SHARD_INDEX=1 GTEST_TOTAL_SHARDS=3");
    CHECK(o.tests().size() == 26);
}

TEST_CASE("gtest: run by hand it is a normal gtest binary") {
    const std::string list = run_by_hand("--gtest_list_tests");
    CHECK(list.find("Plain.\n  Passes\n") != std::string::npos);
    CHECK(list.find("Small/Param.\n  Positive/0") != std::string::npos);
    CHECK(list.find("Typed/0.  # TypeParam = int") != std::string::npos);

    const std::string scoped = run_by_hand("--gtest_filter=Scoped.*");
    CHECK(scoped.find("environment set up 1") != std::string::npos);
    CHECK(scoped.find("SetUpTestSuite 1") != std::string::npos);
    CHECK(scoped.find("TearDownTestSuite 1") != std::string::npos);
    // on_unit_teardown() by hand: after the suite's last test, before
    // TearDownTestSuite, as under tend.
    const auto unit_teardown = scoped.find("unit teardown of Scoped");
    CHECK(unit_teardown != std::string::npos);
    CHECK(unit_teardown < scoped.find("TearDownTestSuite 1"));
    CHECK(scoped.find("[  PASSED  ] 2 tests.") != std::string::npos);

    const std::string disabled =
        run_by_hand("--gtest_filter=Plain.DISABLED_* --gtest_also_run_disabled_tests");
    CHECK(disabled.find("disabled test ran") != std::string::npos);

    const int status = std::system(
        (shell_quote(fixture("gtest_basic")) + " --gtest_filter=Plain.Fails* >/dev/null 2>&1")
            .c_str());
    CHECK(WEXITSTATUS(status) == 1);
}

TEST_CASE("gtest: a custom main adopts tend with one call after InitGoogleTest") {
    auto o = run_tend({"run", fixture("gtest_custom_main"), "--json"}, "GTEST_CUSTOM_MAIN_FLAG=1");
    CHECK(o.exit_code == 0);
    const auto tests = o.tests();
    REQUIRE(tests.size() == 1);
    CHECK(only(tests, "Custom/SeesItsFlag")["status"] == "passed");
    // By hand, its own flag and gtest's.
    const int status = std::system(
        (shell_quote(fixture("gtest_custom_main")) + " --custom --gtest_brief=1 >/dev/null 2>&1")
            .c_str());
    CHECK(WEXITSTATUS(status) == 0);
}
