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
