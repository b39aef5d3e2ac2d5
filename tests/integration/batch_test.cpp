// Unmodified binaries (not linked with tend's worker library) end to end:
// tend reads what they are and runs them in batches through tend-batch.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "run_tend.hpp"

using namespace tend_test;
using nlohmann::json;

namespace {

const char* const kAwkward[] = {"a:b",   "a-b",         "a?b",         "axb",        "star*",
                                "starx", "caf\xc3\xa9", "back\\slash", "comma,name", "br[ack]et"};
}  // namespace

TEST_SUITE("unmodified binaries") {
    TEST_CASE(
        "unmodified gtest: statuses, failures, output and health, each awkward name exactly") {
        auto o = run_tend({"run", fixture("plain_gtest"), "-j", "2", "--json"});
        CHECK(o.exit_code == 1);
        const auto tests = o.tests();
        CHECK(tests.size() == 20);
        CHECK(only(tests, "Plain/Passes")["status"] == "passed");
        CHECK(only(tests, "Plain/Passes")["stdout"] == "plain says hi\n");
        const json& fails = only(tests, "Plain/Fails");
        CHECK(fails["status"] == "failed");
        REQUIRE(fails["failures"].size() == 1);
        CHECK(fails["failures"][0]["line"] == fails["line"].get<int>() + 2);
        CHECK(fails["failures"][0]["message"].get<std::string>().find("one is not two") !=
              std::string::npos);
        CHECK(only(tests, "Plain/Skips")["status"] == "skipped");
        CHECK(only(tests, "Inst/Param/Even/0")["status"] == "passed");
        CHECK(only(tests, "Inst/Param/Even/1")["status"] == "failed");
        CHECK(only(tests, "Plain/DISABLED_Disabled")["status"] == "skipped");
        // Health is the batch's, read from /proc: a real process's RSS.
        // (absent for a batch that was over before tend-batch could read it).
        std::size_t measured = 0;
        for (const auto& [_, runs] : tests) {
            if (runs.front()["health"]["rss_bytes"].is_number()) ++measured;
        }
        CHECK(measured > 0);
        // Each awkward name ran, and only itself: its output names it.
        for (const char* name : kAwkward) {
            const json& t = only(tests, std::string("Awkward/") + name);
            CHECK(t["status"] == "passed");
            CHECK(t["stdout"] == std::string("ran ") + name + "\n");
        }
        // Said once per binary, with the way to warm workers.
        std::size_t notices = 0;
        for (const auto& e : o.of("error")) {
            if (e["message"].get<std::string>().find("run in batches") != std::string::npos) {
                ++notices;
                CHECK(e["fails_run"] == false);
                CHECK(e["message"].get<std::string>().find("tend::gtest_main") !=
                      std::string::npos);
            }
        }
        CHECK(notices == 1);
    }

    TEST_CASE("unmodified gtest: a crash is the running test's; the rest of its batch runs again") {
        auto o = run_tend({"run", fixture("plain_gtest"), "-j", "1", "--json"}, "PLAIN_CRASH=1");
        CHECK(o.exit_code == 1);
        const auto tests = o.tests();
        CHECK(tests.size() == 20);
        const json& crashed = only(tests, "Plain/Crashes");
        CHECK(crashed["status"] == "crashed");
        CHECK(only(tests, "Plain/Passes")["status"] == "passed");
        CHECK(only(tests, "Plain/AfterCrash")["status"] == "passed");
        CHECK(only(tests, "Plain/AfterHang")["status"] == "passed");
    }

    TEST_CASE(
        "unmodified gtest: --timeout kills the batch, the hanging test timed out, the rest run") {
        auto o = run_tend({"run", fixture("plain_gtest"), "-j", "1", "--timeout", "1", "--json"},
                          "PLAIN_HANG=1");
        CHECK(o.exit_code == 1);
        const auto tests = o.tests();
        CHECK(only(tests, "Plain/Hangs")["status"] == "timed_out");
        CHECK(only(tests, "Plain/AfterHang")["status"] == "passed");
        CHECK(only(tests, "Plain/Passes")["status"] == "passed");
    }

    TEST_CASE("unmodified gtest: selection, --run-ignored and --failed") {
        auto o = run_tend({"run", fixture("plain_gtest"), "--exact", "Awkward/a?b", "--json"});
        CHECK(o.exit_code == 0);
        auto tests = o.tests();
        REQUIRE(tests.size() == 1);
        CHECK(only(tests, "Awkward/a?b")["stdout"] == "ran a?b\n");

        o = run_tend({"run", fixture("plain_gtest"), "--run-ignored", "only", "--json"});
        CHECK(o.exit_code == 0);
        CHECK(only(o.tests(), "Plain/DISABLED_Disabled")["status"] == "passed");
    }

    TEST_CASE("unmodified gtest: framework = \"tend\" says it is a worker, and it is not") {
        auto o = run_tend({"run", fixture("plain_gtest"), "--framework", "tend"});
        CHECK(o.exit_code != 0);
        CHECK((o.out + o.err).find("before saying hello") != std::string::npos);
        // A worker is never taken for an unmodified binary.
        o = run_tend({"run", fixture("gtest_basic"), "--json"});
        CHECK((o.out + o.err).find("run in batches") == std::string::npos);
        for (const auto& e : o.of("error")) {
            CHECK(e["message"].get<std::string>().find("run in batches") == std::string::npos);
        }
    }
}

namespace {
/// An unmodified doctest or Catch2 fixture and its tests' names.
struct Plain {
    std::string fixture;
    std::string prefix;  ///< "suite/" of the plain tests
    std::string skipped;
    std::vector<std::string> awkward;  ///< each prints "ran NAME"
    std::string awkward_prefix;
    std::size_t total = 0;
};

std::vector<Plain> xml_fixtures() {
    std::vector<Plain> out;
    out.push_back({"plain_doctest",
                   "plain/",
                   "plain/skipped",
                   {"a, b", "star*", "starx", "q?", "back\\slash", "br[ack]et", "caf\xc3\xa9"},
                   "awkward/",
                   16});
#ifdef TEND_HAVE_CATCH2
    out.push_back(
        {"plain_catch2",
         "/",
         "/hidden",
         {"a, b [x]", "star*", "starx", "~tilde", "back\\slash", "quo\"te", "caf\xc3\xa9"},
         "/",
         15});
#endif
    return out;
}
}  // namespace

TEST_SUITE("unmodified binaries") {
    TEST_CASE(
        "unmodified doctest and Catch2: statuses, failures, output, each awkward name exactly") {
        for (const auto& p : xml_fixtures()) {
            INFO(p.fixture);
            auto o = run_tend({"run", fixture(p.fixture), "-j", "2", "--json"});
            CHECK(o.exit_code == 1);
            const auto tests = o.tests();
            CHECK(tests.size() == p.total);
            CHECK(only(tests, p.prefix + "passes")["status"] == "passed");
            const json& fails = only(tests, p.prefix + "fails");
            CHECK(fails["status"] == "failed");
            REQUIRE(fails["failures"].size() == 1);
            CHECK(fails["failures"][0]["subcase"] == "inner");
            CHECK(fails["failures"][0]["expanded"] == "2 == 3");
            CHECK(fails["failures"][0]["message"].get<std::string>().find("the context") !=
                  std::string::npos);
            CHECK(only(tests, p.skipped)["status"] == "skipped");
            std::size_t measured = 0;
            for (const auto& [_, runs] : tests) {
                if (runs.front()["health"]["rss_bytes"].is_number()) ++measured;
            }
            CHECK(measured > 0);
            // Each ran, and only once: the adapter checks that the test the
            // framework starts is the one due. (Which test's capture a line of
            // stdout lands in is not exact here: stdout, stderr and the report
            // are three pipes.)
            std::string all_stdout;
            for (const auto& [_, runs] : tests)
                all_stdout += runs.front()["stdout"].get<std::string>();
            for (const auto& name : p.awkward) {
                const json& t = only(tests, p.awkward_prefix + name);
                CHECK(t["status"] == "passed");
                const std::string line = "ran " + name + "\n";
                const auto at = all_stdout.find(line);
                CHECK(at != std::string::npos);
                CHECK(all_stdout.find(line, at + 1) == std::string::npos);
            }
            CHECK(o.out.find("run in batches") != std::string::npos);
        }
    }

    TEST_CASE("unmodified doctest and Catch2: crash, timeout, --run-ignored") {
        for (const auto& p : xml_fixtures()) {
            INFO(p.fixture);
            auto o = run_tend({"run", fixture(p.fixture), "-j", "1", "--json"}, "PLAIN_CRASH=1");
            auto tests = o.tests();
            CHECK(only(tests, p.prefix + "crashes")["status"] == "crashed");
            CHECK(only(tests, p.prefix + "after crash")["status"] == "passed");
            CHECK(only(tests, p.prefix + "passes")["status"] == "passed");

            o = run_tend({"run", fixture(p.fixture), "-j", "1", "--timeout", "1", "--json"},
                         "PLAIN_HANG=1");
            tests = o.tests();
            CHECK(only(tests, p.prefix + "hangs")["status"] == "timed_out");
            CHECK(only(tests, p.prefix + "after hang")["status"] == "passed");

            o = run_tend({"run", fixture(p.fixture), "--run-ignored", "only", "--json"});
            CHECK(o.exit_code == 0);
            tests = o.tests();
            CHECK(only(tests, p.skipped)["status"] == "passed");
        }
    }
}

TEST_SUITE("unmodified binaries") {
    TEST_CASE("unmodified gtest: retries, shards and the history work as for a worker") {
        auto o = run_tend({"run", fixture("plain_gtest"), "--retries", "1", "--json"});
        // The first attempt, then the retry in a new batch.
        CHECK(only(o.tests(), "Plain/Fails")["attempt"] == 2);
        std::size_t attempts = 0;
        for (const auto& e : o.of("attempt")) attempts += e["name"] == "Fails";
        CHECK(attempts == 1);

        // Two shards split the units, each once.
        std::map<std::string, int> seen;
        for (const char* shard : {"1/2", "2/2"}) {
            auto s = run_tend({"run", fixture("plain_gtest"), "--shard", shard, "--json"});
            for (const auto& [name, runs] : s.tests()) seen[name] += static_cast<int>(runs.size());
        }
        CHECK(seen.size() == 20);
        for (const auto& [name, count] : seen) {
            INFO(name);
            CHECK(count == 1);
        }

        // The history records a batch's tests as any.
        const std::string db = "/tmp/tend-batch-history-" + std::to_string(::getpid()) + ".db";
        std::remove(db.c_str());
        run_tend({"run", fixture("plain_gtest"), "--history", db});
        auto h = run_tend({"history", "--history", db, "--test", "Plain/Passes", "--json"});
        CHECK(h.exit_code == 0);
        CHECK(h.out.find("passed") != std::string::npos);
        std::remove(db.c_str());
        std::remove((db + "-wal").c_str());
        std::remove((db + "-shm").c_str());
    }
}

TEST_SUITE("unmodified binaries") {
    TEST_CASE("a wrong --framework: the listing's failure is said, with the binary's own words") {
#ifdef TEND_HAVE_CATCH2
        auto o = run_tend({"run", fixture("plain_catch2"), "--framework", "gtest"});
        CHECK(o.exit_code != 0);
        CHECK(o.out.find("cannot list its tests: --gtest_list_tests") != std::string::npos);
#endif
    }
}

TEST_SUITE("unmodified binaries") {
    TEST_CASE("unmodified gtest: --failed runs again only what failed, and JUnit reports it") {
        const std::string dir = "/tmp/tend-it-batch-state-" + std::to_string(::getpid());
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
        const std::string env = "TEND_STATE_DIR=" + shell_quote(dir);
        const std::string junit = dir + "/junit.xml";
        auto first = run_tend({"run", fixture("plain_gtest"), "--junit", junit}, env);
        CHECK(first.exit_code == 1);
        const std::string xml = slurp(junit);
        CHECK(xml.find("name=\"Fails\"") != std::string::npos);
        CHECK(xml.find("<failure") != std::string::npos);
        auto again = run_tend({"run", "--failed", fixture("plain_gtest"), "--json"}, env);
        CHECK(again.exit_code == 1);
        const auto tests = again.tests();
        CHECK(tests.size() == 2);  // Plain/Fails and Inst/Param/Even/1
        CHECK(only(tests, "Plain/Fails")["status"] == "failed");
        CHECK(only(tests, "Inst/Param/Even/1")["status"] == "failed");
        std::filesystem::remove_all(dir);
    }
}

TEST_SUITE("unmodified binaries") {
    TEST_CASE("tend list: an unmodified binary is listed by its framework; --framework is heard") {
        auto o = run_tend({"list", fixture("plain_gtest")});
        CHECK(o.exit_code == 0);
        CHECK(o.out.find("Awkward/caf\xc3\xa9\n") != std::string::npos);
        CHECK(o.out.find("Inst/Param/Even/1\n") != std::string::npos);
        o = run_tend({"list", fixture("plain_gtest"), "--framework", "tend"});
        CHECK(o.exit_code != 0);
        CHECK(o.err.find("before saying hello") != std::string::npos);
    }
}

TEST_SUITE("unmodified binaries") {
    TEST_CASE("framework in tend.toml decides what a binary is") {
        const std::string dir = "/tmp/tend-it-batch-toml-" + std::to_string(::getpid());
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
        {
            std::ofstream toml(dir + "/tend.toml");
            toml << "binaries = [\"" << fixture("plain_gtest") << "\"]\n"
                 << "[[binary]]\nmatch = \"plain_*\"\nframework = \"tend\"\n";
        }
        auto o = run_tend({"run", "--config", dir + "/tend.toml"});
        CHECK(o.exit_code != 0);
        CHECK(o.out.find("framework = \"tend\"") != std::string::npos);
        std::filesystem::remove_all(dir);
    }
}
