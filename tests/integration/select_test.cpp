// Selecting tests (--filter, --exclude, --suite, --exact, --only-tagged,
// --skip-tagged) for `tend run` and `tend list`, --failed, and --json-file.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "run_tend.hpp"

using namespace tend_test;

namespace {
/// The "suite/name" of every test `tend run ... --json` reported.
std::set<std::string> ran(const Outcome& o) {
    std::set<std::string> names;
    for (const auto& [name, _] : o.tests()) names.insert(name);
    return names;
}

/// The lines `tend list` printed.
std::set<std::string> listed(const Outcome& o) {
    std::set<std::string> names;
    std::istringstream in(o.out);
    for (std::string line; std::getline(in, line);) names.insert(line);
    return names;
}

/// Runs `tend run BINARY ARGS --json` and `tend list BINARY ARGS`, checks both
/// take the same tests, and returns them (the run's "suite/name" form).
std::set<std::string> selected(const std::string& binary, std::vector<std::string> args) {
    std::vector<std::string> run_args{"run", fixture(binary), "-j", "1", "--json"};
    run_args.insert(run_args.end(), args.begin(), args.end());
    const auto run = run_tend(run_args);
    std::vector<std::string> list_args{"list", fixture(binary)};
    list_args.insert(list_args.end(), args.begin(), args.end());
    const auto list = run_tend(list_args);
    CHECK(list.exit_code == 0);
    std::set<std::string> from_list;
    for (const auto& l : listed(list)) {
        // `tend list` writes suite-less tests without the leading slash.
        from_list.insert(l.find('/') == std::string::npos ? "/" + l : l);
    }
    // A skipped test is listed "name  (skipped)".
    std::set<std::string> trimmed;
    for (auto l : from_list) {
        const auto mark = l.find("  (skipped)");
        if (mark != std::string::npos) l.erase(mark);
        trimmed.insert(l);
    }
    const auto result = ran(run);
    CHECK(trimmed == result);
    return result;
}
}  // namespace

TEST_SUITE("selecting tests") {
    TEST_CASE("--filter matches a name or suite/name; --exclude takes out") {
        CHECK(selected("basic", {"-f", "math/*", "-e", "*context*"}) ==
              std::set<std::string>{"math/adds", "math/fails a check", "math/throws",
                                    "math/fails in a subcase"});
        CHECK(selected("basic", {"-f", "adds", "-f", "loose*"}) ==
              std::set<std::string>{"math/adds", "/loose test"});
        // Pattern characters in names: ? is one character, \ makes the next literal.
        CHECK(selected("basic", {"-f", "star \\* and question \\?"}) ==
              std::set<std::string>{"names/star * and question ?"});
        CHECK(selected("basic", {"-f", "*[tag]*"}) ==
              std::set<std::string>{"names/brackets [tag] and {braces}"});
        CHECK(selected("basic", {"-f", "?n?c?d? ✓"}) == std::set<std::string>{"names/ünïcödé ✓"});
    }

    TEST_CASE("--exact takes a name as it is; --suite takes whole suites") {
        CHECK(selected("basic", {"--exact", "names/name, with comma"}) ==
              std::set<std::string>{"names/name, with comma"});
        CHECK(selected("basic", {"--exact", "name, with comma"}) ==
              std::set<std::string>{"names/name, with comma"});
        CHECK(selected("basic", {"--exact", "names/name"}).empty());
        CHECK(selected("tagged", {"--exact", "a*b?/back\\slash"}) ==
              std::set<std::string>{"a*b?/back\\slash"});
        CHECK(selected("tagged", {"--suite", "a\\*b\\?"}) ==
              std::set<std::string>{"a*b?/plain", "a*b?/back\\slash"});
        CHECK(selected("tagged", {"--suite", "d?"}).size() == 3);
    }

    TEST_CASE("tags: doctest decorators and [words] of the description") {
        CHECK(selected("tagged", {"--only-tagged", "db"}) ==
              std::set<std::string>{"db/connects", "db/migrates"});
        CHECK(selected("tagged", {"--only-tagged", "may_fail", "--only-tagged", "net"}) ==
              std::set<std::string>{"db/connects", "db/may flake"});
        CHECK(selected("tagged", {"--suite", "db", "--skip-tagged", "slow"}) ==
              std::set<std::string>{"db/connects", "db/may flake"});
        CHECK(selected("basic", {"--only-tagged", "skip"}) == std::set<std::string>{"/skipped"});
        const auto list = run_tend({"list", fixture("tagged"), "--json", "--exact", "connects"});
        REQUIRE(list.events.size() == 1);
        CHECK(list.events[0]["tags"] == nlohmann::json::array({"db", "net"}));
    }

    TEST_CASE("the summary counts what the selection left out; nothing selected is no failure") {
        auto o = run_tend({"run", fixture("basic"), "-j", "1", "--json", "-f", "math/adds"});
        CHECK(o.exit_code == 0);
        REQUIRE(o.of("summary").size() == 1);
        CHECK(o.of("summary")[0]["total"] == 1);
        CHECK(o.of("summary")[0]["filtered"] == 10);
        auto none = run_tend({"run", fixture("basic"), "-j", "1", "--json", "-f", "no such"});
        CHECK(none.exit_code == 0);
        CHECK(none.of("summary")[0]["filtered"] == 11);
    }
}

TEST_SUITE("--run-ignored") {
    TEST_CASE("doctest's skip(): default reports it skipped, only runs it alone, all runs all") {
        // basic's "skipped" test is `* doctest::skip()` and fails a CHECK when it runs.
        for (const char* word : {"", "default"}) {
            INFO("--run-ignored " << word);
            std::vector<std::string> args{"run", fixture("basic"), "-j", "1", "--json"};
            if (*word) args.insert(args.end(), {"--run-ignored", word});
            auto o = run_tend(args);
            auto tests = o.tests();
            CHECK(tests.size() == 11);
            CHECK(tests["/skipped"][0]["status"] == "skipped");
            CHECK(tests["/skipped"][0]["failures"].empty());
            REQUIRE(o.of("summary").size() == 1);
            CHECK(o.of("summary")[0]["skipped"] == 1);
            CHECK(o.of("summary")[0]["filtered"] == 0);
        }

        // only: the ignored tests and nothing else; the rest is filtered
        // out, as a selection leaves tests out.
        CHECK(selected("basic", {"--run-ignored", "only"}) == std::set<std::string>{"/skipped"});
        auto only =
            run_tend({"run", fixture("basic"), "-j", "1", "--json", "--run-ignored", "only"});
        CHECK(only.exit_code == 1);
        auto ran_only = only.tests();
        REQUIRE(ran_only.size() == 1);
        const auto& t = ran_only["/skipped"][0];
        CHECK(t["status"] == "failed");
        REQUIRE(t["failures"].size() == 1);
        CHECK(t["failures"][0]["expression"] == "false");
        REQUIRE(only.of("summary").size() == 1);
        CHECK(only.of("summary")[0]["total"] == 1);
        CHECK(only.of("summary")[0]["failed"] == 1);
        CHECK(only.of("summary")[0]["skipped"] == 0);
        CHECK(only.of("summary")[0]["filtered"] == 10);

        // all: every test, the ignored one run with the rest (-j 2: units
        // on two workers, each asked to run it if it is theirs).
        auto all = run_tend({"run", fixture("basic"), "-j", "2", "--json", "--run-ignored", "all"});
        CHECK(all.exit_code == 1);
        auto ran_all = all.tests();
        CHECK(ran_all.size() == 11);
        CHECK(ran_all["/skipped"][0]["status"] == "failed");
        CHECK(ran_all["/loose test"][0]["status"] == "passed");
        CHECK(ran_all["math/adds"][0]["status"] == "passed");
        REQUIRE(all.of("summary").size() == 1);
        CHECK(all.of("summary")[0]["passed"] == 6);
        CHECK(all.of("summary")[0]["failed"] == 5);
        CHECK(all.of("summary")[0]["skipped"] == 0);
        CHECK(all.of("summary")[0]["filtered"] == 0);
    }

    TEST_CASE("it narrows with the other selection flags, and --failed keeps it") {
        CHECK(selected("basic", {"--run-ignored", "only", "-f", "loose*"}).empty());
        CHECK(selected("basic", {"--run-ignored", "all", "-f", "skip*"}) ==
              std::set<std::string>{"/skipped"});
        auto o = run_tend(
            {"run", fixture("basic"), "-j", "1", "--json", "--run-ignored", "all", "-f", "skip*"});
        CHECK(o.tests()["/skipped"][0]["status"] == "failed");

        // The ignored test failed: --failed with --run-ignored runs it again.
        const std::string dir = "/tmp/tend-it-ignored-state-" + std::to_string(::getpid());
        std::filesystem::remove_all(dir);
        const std::string env = "TEND_STATE_DIR=" + shell_quote(dir);
        run_tend({"run", fixture("basic"), "-j", "1", "--run-ignored", "only"}, env);
        // A run that reports it skipped without running it leaves its record.
        run_tend({"run", fixture("basic"), "-j", "1", "--exact", "skipped"}, env);
        auto again = run_tend(
            {"run", "--failed", fixture("basic"), "-j", "1", "--json", "--run-ignored", "only"},
            env);
        auto tests = again.tests();
        REQUIRE(tests.size() == 1);
        CHECK(tests["/skipped"][0]["status"] == "failed");
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("tend list shows what would run: the (skipped) mark and --json's skip") {
        const auto by_default = run_tend({"list", fixture("basic"), "--exact", "skipped"});
        CHECK(by_default.exit_code == 0);
        CHECK(by_default.out == "skipped  (skipped)\n");
        for (const char* word : {"only", "all"}) {
            INFO(word);
            const auto l = run_tend({"list", fixture("basic"), "--run-ignored", word});
            CHECK(l.exit_code == 0);
            CHECK(l.out.find("(skipped)") == std::string::npos);
            CHECK(listed(l).count("skipped") == 1);
            const auto j = run_tend(
                {"list", fixture("basic"), "--json", "--run-ignored", word, "--exact", "skipped"});
            REQUIRE(j.events.size() == 1);
            CHECK(j.events[0]["skip"] == false);
            // The framework's mark is still there: the test's tags.
            CHECK(j.events[0]["tags"] == nlohmann::json::array({"skip"}));
        }
        const auto j = run_tend({"list", fixture("basic"), "--json", "--exact", "skipped"});
        REQUIRE(j.events.size() == 1);
        CHECK(j.events[0]["skip"] == true);
    }

    TEST_CASE("a word that is not default, only or all is a usage error") {
        for (const char* sub : {"run", "list"}) {
            INFO(sub);
            const auto o = run_tend({sub, fixture("basic"), "--run-ignored", "yes"});
            CHECK(o.exit_code == 2);
            CHECK(o.err.find("--run-ignored") != std::string::npos);
            CHECK(o.out.empty());
        }
    }
}

TEST_SUITE("--failed") {
    TEST_CASE("runs exactly what failed last time, per binary, and keeps the rest's record") {
        const std::string dir = "/tmp/tend-it-state-" + std::to_string(::getpid());
        std::filesystem::remove_all(dir);
        const std::string env = "TEND_STATE_DIR=" + shell_quote(dir);

        auto none = run_tend({"run", "--failed", fixture("basic")}, env);
        CHECK(none.exit_code == 2);
        CHECK(none.err.find("--failed: no earlier run") != std::string::npos);

        auto first =
            run_tend({"run", fixture("basic"), fixture("scoped"), "-j", "1", "--json"}, env);
        CHECK(first.exit_code == 1);
        // No binary named: every binary with failures, only its failures.
        auto again = run_tend({"run", "--failed", "-j", "1", "--json"}, env);
        CHECK(again.exit_code == 1);
        CHECK(ran(again) == std::set<std::string>{"math/fails a check", "math/throws",
                                                  "math/fails in a subcase",
                                                  "math/fails with context"});
        // A filtered run of those touches only what it ran.
        auto part = run_tend({"run", "--failed", "-f", "math/throws", "-j", "1", "--json"}, env);
        CHECK(ran(part) == std::set<std::string>{"math/throws"});
        auto still = run_tend({"run", "--failed", "-j", "1", "--json"}, env);
        CHECK(ran(still).size() == 4);

        // A binary that had no failure: nothing to run, and that is fine.
        auto clean = run_tend({"run", "--failed", fixture("scoped")}, env);
        CHECK(clean.exit_code == 0);
        CHECK(clean.out.find("No failures recorded by the last run") != std::string::npos);
        std::filesystem::remove_all(dir);
    }
}

TEST_SUITE("--json-file") {
    TEST_CASE("the JSON event stream goes to a file, whatever is printed") {
        const std::string file = "/tmp/tend-it-events-" + std::to_string(::getpid()) + ".jsonl";
        auto o = run_tend({"run", fixture("basic"), "-j", "1", "--json-file", file});
        CHECK(o.exit_code == 1);
        CHECK(o.out.find("Summary") != std::string::npos);  // people's output on stdout
        std::vector<nlohmann::json> events;
        std::istringstream in(slurp(file));
        for (std::string line; std::getline(in, line);)
            events.push_back(nlohmann::json::parse(line));
        std::remove(file.c_str());
        REQUIRE(!events.empty());
        CHECK(events.back()["event"] == "summary");
        CHECK(events.back()["total"] == 11);
        std::size_t tests = 0;
        for (const auto& e : events) tests += e["event"] == "test";
        CHECK(tests == 11);

        auto bad = run_tend({"run", fixture("basic"), "--json-file", "/nonexistent/dir/x.jsonl"});
        CHECK(bad.exit_code == 2);
        CHECK(bad.err.find("--json-file /nonexistent/dir/x.jsonl: No such file") !=
              std::string::npos);
    }
}
