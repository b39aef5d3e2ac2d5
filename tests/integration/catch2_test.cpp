// The Catch2 adapter end to end: tests/fixtures/catch2_basic.cpp, linked
// with tend's Catch2 main, under tend and run by hand.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "run_tend.hpp"

using namespace tend_test;
using nlohmann::json;

namespace {
std::string run_by_hand(const std::string& args, int* status = nullptr) {
    std::string out;
    FILE* p = ::popen((shell_quote(fixture("catch2_basic")) + " " + args + " 2>&1").c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    const int s = ::pclose(p);
    if (status) *status = WIFEXITED(s) ? WEXITSTATUS(s) : 128 + WTERMSIG(s);
    return out;
}

/// Catch2 tests have no suite: tend keys them "/name".
/// Catch2 tests have no suite: "/name".
const json& one(const std::map<std::string, std::vector<json>>& tests, const std::string& name) {
    return only(tests, "/" + name);
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
}  // namespace

TEST_CASE("catch2: every kind of test, its status and failures") {
    for (const char* jobs : {"1", "2"}) {
        INFO("-j " << jobs);
        auto o = run_tend({"run", fixture("catch2_basic"), "-j", jobs, "--json"});
        CHECK(o.exit_code == 1);
        const auto tests = o.tests();
        CHECK(tests.size() == 14);

        const json& passes = one(tests, "passes");
        CHECK(passes["status"] == "passed");
        CHECK(passes["stdout"] == "passes prints\n");

        // TEST_CASE at line L; the failing CHECK at L + 2, the REQUIRE at L + 2.
        const json& check = one(tests, "check fails");
        CHECK(check["status"] == "failed");
        REQUIRE(check["failures"].size() == 1);
        const json& f = check["failures"][0];
        CHECK(ends_with(f["file"], "catch2_basic.cpp"));
        CHECK(f["line"] == check["line"].get<int>() + 2);
        CHECK(f["kind"] == "CHECK");
        CHECK(f["expression"] == "answer == 42");
        CHECK(f["expanded"] == "41 == 42");

        // REQUIRE stops the test: FAIL after it is not reached.
        const json& require = one(tests, "require fails");
        CHECK(require["status"] == "failed");
        REQUIRE(require["failures"].size() == 1);
        CHECK(require["failures"][0]["kind"] == "REQUIRE");
        CHECK(require["failures"][0]["expanded"] == "4 == 5");
        CHECK(require["failures"][0]["line"] == require["line"].get<int>() + 2);

        const json& sections = one(tests, "sections");
        CHECK(sections["status"] == "failed");
        REQUIRE(sections["failures"].size() == 1);
        CHECK(sections["failures"][0]["subcase"] == "outer / inner fails");
        CHECK(sections["failures"][0]["expanded"] == "2 == 3");

        const json& context = one(tests, "context");
        REQUIRE(context["failures"].size() == 1);
        CHECK(context["failures"][0]["message"] == "the width is checked\nwidth := 7");

        // Generators run as Catch2 runs them: every value, in one test.
        const json& generated = one(tests, "generated");
        CHECK(generated["status"] == "failed");
        CHECK(generated["stdout"] == "generated 1\ngenerated 2\ngenerated 3\n");
        REQUIRE(generated["failures"].size() == 1);
        CHECK(generated["failures"][0]["message"] == "i := 2");

        const json& thrown = one(tests, "throws");
        CHECK(thrown["status"] == "failed");
        REQUIRE(thrown["failures"].size() == 1);
        CHECK(thrown["failures"][0]["kind"] == "exception");
        CHECK(thrown["failures"][0]["message"] == "boom");

        // [!mayfail] and [!shouldfail] keep Catch2's meaning.
        CHECK(one(tests, "may fail")["status"] == "passed");
        CHECK(one(tests, "should fail and does")["status"] == "passed");
        const json& should = one(tests, "should fail but passes");
        CHECK(should["status"] == "failed");
        REQUIRE(should["failures"].size() == 1);
        CHECK(should["failures"][0]["kind"] == "shouldfail");

        // Hidden tests are listed, reported skipped, not run.
        CHECK(one(tests, "hidden")["status"] == "skipped");
        CHECK(one(tests, "hidden by !hide")["status"] == "skipped");
    }
}

TEST_CASE("catch2: --run-ignored runs hidden tests") {
    auto o = run_tend({"run", fixture("catch2_basic"), "--json", "--run-ignored", "only"});
    CHECK(o.exit_code == 0);
    const auto tests = o.tests();
    CHECK(tests.size() == 2);
    CHECK(one(tests, "hidden")["status"] == "passed");
    CHECK(one(tests, "hidden by !hide")["status"] == "passed");
}

TEST_CASE("catch2: tags are tend tags") {
    auto o = run_tend({"run", fixture("catch2_basic"), "--json", "--only-tagged", "fast"});
    CHECK(o.exit_code == 1);
    const auto tests = o.tests();
    CHECK(tests.size() == 2);
    CHECK(one(tests, "passes")["status"] == "passed");
    CHECK(one(tests, "check fails")["status"] == "failed");

    auto list = run_tend({"list", fixture("catch2_basic"), "--json", "--exact", "hidden"});
    REQUIRE(list.events.size() == 1);
    CHECK(list.events[0]["skip"] == true);
    CHECK(list.events[0]["suite"] == "");
    // Catch2 gives a hidden test both of its marks, whichever it was given.
    CHECK(list.events[0]["tags"] == json::array({"!hide", ".", "slow"}));
    CHECK(ends_with(list.events[0]["file"], "catch2_basic.cpp"));
}

TEST_CASE("catch2: tend list shows every test in declaration order") {
    auto o = run_tend({"list", fixture("catch2_basic")});
    CHECK(o.exit_code == 0);
    CHECK(o.out ==
          "passes\ncheck fails\nrequire fails\nsections\ncontext\nhidden  (skipped)\n"
          "hidden by !hide  (skipped)\nmay fail\nshould fail and does\nshould fail but passes\n"
          "generated\nthrows\ncrashes when asked\nafter the crash\n");
}

TEST_CASE("catch2: a crash costs one test; the unit's rest runs on a fresh worker") {
    auto o =
        run_tend({"run", fixture("catch2_basic"), "-j", "1", "--json", "--only-tagged", "crash"},
                 "CATCH2_BASIC_CRASH=1");
    CHECK(o.exit_code == 1);
    const auto tests = o.tests();
    CHECK(one(tests, "crashes when asked")["status"] == "crashed");
    CHECK(one(tests, "after the crash")["status"] == "passed");
}

TEST_CASE("catch2: run by hand it is a normal Catch2 binary") {
    int status = -1;
    const std::string list = run_by_hand("--list-test-names-only", &status);
    CHECK(list.find("passes\ncheck fails\n") != std::string::npos);
    CHECK(list.find("hidden\n") == std::string::npos);

    const std::string passing = run_by_hand("'[fast]' '~[broken]'", &status);
    CHECK(status == 0);
    CHECK(passing.find("passes prints") != std::string::npos);
    CHECK(passing.find("All tests passed") != std::string::npos);
    // on_unit_teardown() by hand: after the file's last test.
    CHECK(passing.find("unit teardown of catch2_basic.cpp") != std::string::npos);

    const std::string all = run_by_hand("", &status);
    CHECK(status == 7);  // Catch2's exit status: the failed assertions
    CHECK(all.find("3 passed | 7 failed | 2 failed as expected") != std::string::npos);
    CHECK(all.find("with messages:\n  the width is checked\n  width := 7") != std::string::npos);

    const std::string section = run_by_hand("sections -c outer -c 'inner ok'", &status);
    CHECK(status == 0);
}

TEST_CASE("catch2: a failed CHECK in a unit teardown is an error of the unit") {
    auto o =
        run_tend({"run", fixture("catch2_basic"), "-j", "1", "--json"}, "CATCH2_TEARDOWN_CHECK=1");
    CHECK(o.exit_code == 1);
    bool found = false;
    for (const auto& e : o.of("error")) {
        const auto m = e["message"].get<std::string>();
        if (m.find("CHECK( two == 3 ) failed outside a test at") != std::string::npos &&
            m.find("with expansion: 2 == 3") != std::string::npos)
            found = true;
        CHECK(m.find("signal") == std::string::npos);
    }
    CHECK(found);
    // Without it, the same run has no error outside tests.
    o = run_tend({"run", fixture("catch2_basic"), "-j", "1", "--json"});
    for (const auto& e : o.of("error"))
        CHECK(e["message"].get<std::string>().find("outside a test") == std::string::npos);
}
