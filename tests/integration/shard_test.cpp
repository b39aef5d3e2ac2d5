// `tend run --shard K/N` and `tend list --shard K/N` end to end: every test
// in exactly one shard, units whole, the shard from GitLab's and Bazel's
// environment, the flag over the environment, bad values.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "run_tend.hpp"

using namespace tend_test;

namespace {

const std::vector<std::string> kFixtures{"basic", "scoped", "tagged"};

std::vector<std::string> binaries() {
    std::vector<std::string> out;
    for (const auto& f : kFixtures) out.push_back(fixture(f));
    return out;
}

/// "binary:suite/name" of each test event.
std::multiset<std::string> tests_of(const Outcome& o) {
    std::multiset<std::string> out;
    for (const auto& e : o.events) {
        if (e["event"] != "test") continue;
        out.insert(std::filesystem::path(e["binary"].get<std::string>()).filename().string() + ":" +
                   e["suite"].get<std::string>() + "/" + e["name"].get<std::string>());
    }
    return out;
}

/// The units (binary:suite, or binary:file for suite-less tests) of a run.
std::set<std::string> units_of(const Outcome& o) {
    std::set<std::string> out;
    for (const auto& e : o.events) {
        if (e["event"] != "test") continue;
        const auto suite = e["suite"].get<std::string>();
        out.insert(std::filesystem::path(e["binary"].get<std::string>()).filename().string() + ":" +
                   (suite.empty() ? e["file"].get<std::string>() : suite));
    }
    return out;
}

Outcome run_shard(const std::string& shard, const std::string& env = "",
                  std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"run", "--no-daemon", "--json", "-j", "2"};
    if (!shard.empty()) {
        args.push_back("--shard");
        args.push_back(shard);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    for (const auto& b : binaries()) args.push_back(b);
    return run_tend(args, env);
}

std::string temp_path(const std::string& name) {
    return "/tmp/tend-it-shard-" + std::to_string(::getpid()) + "-" + name;
}

}  // namespace

TEST_SUITE("shard") {
    TEST_CASE("every test runs in exactly one of N shards, units whole") {
        const auto whole = run_shard("");
        const auto all = tests_of(whole);
        REQUIRE(all.size() > 10);
        for (std::size_t n : {2, 3, 5, 20}) {
            CAPTURE(n);
            std::multiset<std::string> seen;
            std::map<std::string, std::size_t> unit_shard;
            std::uint64_t filtered = 0;
            for (std::size_t k = 1; k <= n; ++k) {
                const auto shard = std::to_string(k) + "/" + std::to_string(n);
                const auto o = run_shard(shard);
                INFO(o.err);
                CHECK((o.exit_code == 0 || o.exit_code == 1));
                const auto mine = tests_of(o);
                seen.insert(mine.begin(), mine.end());
                for (const auto& u : units_of(o)) {
                    CHECK_MESSAGE(unit_shard.emplace(u, k).second, u << " split");
                }
                const auto summary = o.of("summary");
                REQUIRE(summary.size() == 1);
                CHECK(summary[0]["shard"] == shard);
                CHECK(summary[0]["total"] == mine.size());
                filtered += summary[0]["filtered"].get<std::uint64_t>();
            }
            CHECK(seen == all);  // the union is the whole, each test once
            // What a shard leaves out, the others run.
            CHECK(filtered == (n - 1) * all.size());
        }
        // Without --shard, the summary names none.
        CHECK_FALSE(whole.of("summary").at(0).contains("shard"));
    }

    TEST_CASE("a shard with no unit of a binary starts no worker to run it") {
        // More shards than units: the last shard has none at all, and only
        // the listing workers start (one per binary), each stopped unused.
        const auto o = run_shard("20/20", "", {"-j", "4"});
        CHECK(o.exit_code == 0);
        CHECK(tests_of(o).empty());
        CHECK(o.of("summary").at(0)["workers"]["started"] == kFixtures.size());
        // Shard 1 of 20 holds one unit (the largest): its binary's listing
        // worker runs it, no other worker starts.
        const auto first = run_shard("1/20", "", {"-j", "4"});
        CHECK(units_of(first).size() == 1);
        CHECK(first.of("summary").at(0)["workers"]["started"] == kFixtures.size());
    }

    TEST_CASE("tend list --shard lists what tend run --shard runs") {
        const auto whole = run_tend({"list", binaries()[0], binaries()[1], binaries()[2]});
        std::multiset<std::string> seen;
        for (std::size_t k = 1; k <= 3; ++k) {
            const auto shard = std::to_string(k) + "/3";
            const auto listed = run_tend(
                {"list", "--json", "--shard", shard, binaries()[0], binaries()[1], binaries()[2]});
            REQUIRE(listed.exit_code == 0);
            std::multiset<std::string> names;
            for (const auto& t : listed.events) {
                names.insert(
                    std::filesystem::path(t["binary"].get<std::string>()).filename().string() +
                    ":" + t["suite"].get<std::string>() + "/" + t["name"].get<std::string>());
            }
            CHECK(names == tests_of(run_shard(shard)));
            seen.insert(names.begin(), names.end());
        }
        CHECK(seen == tests_of(run_shard("")));
        // A selection first, then the shard of what it selected.
        const auto selected =
            run_tend({"list", "--shard", "1/2", "--suite", "scope_*", binaries()[1]});
        CHECK(selected.exit_code == 0);
        CHECK(selected.out.find("scope_") != std::string::npos);
        CHECK(selected.out.find("math") == std::string::npos);
    }

    TEST_CASE("with a history, shards balance its durations, in tend list and tend run alike") {
        // long_tail: six short units and a 300 ms one. By duration the long
        // unit is a shard of its own; by test count it would not be.
        const auto history = temp_path("history.db");
        std::filesystem::remove(history);
        const auto bin = fixture("long_tail");
        REQUIRE(run_tend({"run", bin, "-q", "--history", history}).exit_code == 0);
        std::multiset<std::string> seen;
        bool long_alone = false;
        for (const char* shard : {"1/2", "2/2"}) {
            INFO(shard);
            const auto listed =
                run_tend({"list", "--json", "--shard", shard, "--history", history, bin});
            REQUIRE(listed.exit_code == 0);
            const auto ran = run_tend(
                {"run", "--json", "--no-daemon", "--shard", shard, "--history", history, bin});
            std::multiset<std::string> names;
            std::set<std::string> suites;
            for (const auto& t : listed.events) {
                names.insert("long_tail:" + t["suite"].get<std::string>() + "/" +
                             t["name"].get<std::string>());
                suites.insert(t["suite"].get<std::string>());
            }
            CHECK(names == tests_of(ran));
            long_alone |= suites == std::set<std::string>{"long"};
            seen.insert(names.begin(), names.end());
        }
        CHECK(long_alone);
        CHECK(seen.size() == run_tend({"list", "--json", bin}).events.size());
        // Without the history the same binary shards by test count.
        bool alone_by_count = false;
        for (const char* shard : {"1/2", "2/2"}) {
            std::set<std::string> suites;
            for (const auto& t :
                 run_tend({"list", "--json", "--shard", shard, "--no-history", bin}).events)
                suites.insert(t["suite"].get<std::string>());
            alone_by_count |= suites == std::set<std::string>{"long"};
        }
        CHECK_FALSE(alone_by_count);
        std::filesystem::remove(history);
        std::filesystem::remove(history + "-wal");
        std::filesystem::remove(history + "-shm");
    }

    TEST_CASE("the shard comes from GitLab's CI_NODE_INDEX/CI_NODE_TOTAL (from 1)") {
        const auto gitlab = run_shard("", "CI_NODE_INDEX=2 CI_NODE_TOTAL=3");
        CHECK(gitlab.of("summary").at(0)["shard"] == "2/3");
        CHECK(tests_of(gitlab) == tests_of(run_shard("2/3")));
        // A job that is not parallel: CI_NODE_TOTAL=1 alone asks for nothing.
        const auto single = run_shard("", "CI_NODE_TOTAL=1");
        CHECK_FALSE(single.of("summary").at(0).contains("shard"));
    }

    TEST_CASE("Bazel's sharding: TEST_SHARD_INDEX from 0, the status file, XML_OUTPUT_FILE") {
        const auto status = temp_path("status");
        const auto xml = temp_path("test.xml");
        std::remove(status.c_str());
        std::remove(xml.c_str());
        const auto bazel =
            run_shard("", "TEST_SHARD_INDEX=0 TEST_TOTAL_SHARDS=3 TEST_SHARD_STATUS_FILE=" +
                              shell_quote(status) + " XML_OUTPUT_FILE=" + shell_quote(xml));
        INFO(bazel.err);
        CHECK(bazel.of("summary").at(0)["shard"] == "1/3");
        CHECK(tests_of(bazel) == tests_of(run_shard("1/3")));
        CHECK(std::filesystem::exists(status));
        const auto report = slurp(xml);
        CHECK(report.find("<testsuites") != std::string::npos);
        CHECK(report.find("<property name=\"tend.shard\" value=\"1/3\"/>") != std::string::npos);
        // --junit wins over XML_OUTPUT_FILE.
        std::remove(xml.c_str());
        const auto junit = temp_path("junit.xml");
        run_shard("", "TEST_SHARD_INDEX=1 TEST_TOTAL_SHARDS=3 XML_OUTPUT_FILE=" + shell_quote(xml),
                  {"--junit", junit});
        CHECK_FALSE(std::filesystem::exists(xml));
        CHECK(slurp(junit).find("value=\"2/3\"") != std::string::npos);
        std::remove(status.c_str());
        std::remove(junit.c_str());
    }

    TEST_CASE("--shard wins over the environment") {
        const auto o = run_shard("3/3",
                                 "CI_NODE_INDEX=1 CI_NODE_TOTAL=2 TEST_SHARD_INDEX=0 "
                                 "TEST_TOTAL_SHARDS=4");
        CHECK(o.of("summary").at(0)["shard"] == "3/3");
    }

    TEST_CASE("bad shards are usage errors naming what is wrong") {
        for (const char* bad : {"0/3", "4/3", "3", "x/3", "1/0"}) {
            CAPTURE(bad);
            const auto o = run_shard(bad);
            CHECK(o.exit_code == 2);
            CHECK(o.err.find(std::string("--shard '") + bad + "'") != std::string::npos);
        }
        for (const char* env :
             {"CI_NODE_INDEX=0 CI_NODE_TOTAL=3", "CI_NODE_INDEX=4 CI_NODE_TOTAL=3",
              "TEST_SHARD_INDEX=3 TEST_TOTAL_SHARDS=3", "TEST_TOTAL_SHARDS=3"}) {
            CAPTURE(env);
            const auto o = run_shard("", env);
            CHECK(o.exit_code == 2);
            const std::string var(env, std::string_view(env).find('='));
            CHECK(o.err.find(var) != std::string::npos);
            const auto listed = run_tend({"list", binaries()[0]}, env);
            CHECK(listed.exit_code == 2);
        }
    }
}

TEST_SUITE("merge") {
    /// Each shard's --json-file and --junit, in a directory of their own.
    struct Shards {
        std::string dir = temp_path("merge");
        std::vector<std::string> jsonl;
        explicit Shards(std::size_t n) {
            std::filesystem::create_directories(dir);
            for (std::size_t k = 1; k <= n; ++k) {
                const auto shard = std::to_string(k) + "/" + std::to_string(n);
                jsonl.push_back(dir + "/shard-" + std::to_string(k) + ".jsonl");
                const auto o = run_shard(shard, "",
                                         {"--json-file", jsonl.back(), "--junit",
                                          dir + "/shard-" + std::to_string(k) + ".xml"});
                CHECK((o.exit_code == 0 || o.exit_code == 1));
            }
        }
        ~Shards() { std::filesystem::remove_all(dir); }
        Outcome merge(std::vector<std::string> files, std::vector<std::string> extra = {}) {
            std::vector<std::string> args{"merge"};
            args.insert(args.end(), extra.begin(), extra.end());
            args.insert(args.end(), files.begin(), files.end());
            return run_tend(args);
        }
    };

    TEST_CASE("tend merge of N shards is the whole run: status, summary, JUnit valid") {
        Shards s(3);
        // Each shard's JUnit names its shard, and is valid.
        CHECK(slurp(s.dir + "/shard-2.xml").find("<property name=\"tend.shard\" value=\"2/3\"/>") !=
              std::string::npos);
        const auto whole = run_shard("");
        const auto xml = s.dir + "/merged.xml";
        // The files in any order.
        const auto merged =
            s.merge({s.jsonl[2], s.jsonl[0], s.jsonl[1]}, {"--json", "--junit", xml});
        INFO(merged.err);
        CHECK(merged.exit_code == whole.exit_code);
        CHECK(merged.exit_code == 1);  // basic's failures
        CHECK(tests_of(merged) == tests_of(whole));
        const auto summary = merged.of("summary").at(0);
        const auto expected = whole.of("summary").at(0);
        for (const char* k : {"total", "passed", "failed", "skipped", "filtered"})
            CHECK_MESSAGE(summary[k] == expected[k], k);
        CHECK_FALSE(summary.contains("shard"));
        const int valid =
            std::system(("xmllint --noout --schema " + shell_quote(env_or_die("TEND_JUNIT_XSD")) +
                         " " + shell_quote(xml) + " >/dev/null 2>&1")
                            .c_str());
        CHECK(valid == 0);
        const auto report = slurp(xml);
        std::size_t cases = 0;
        for (auto at = report.find("<testcase "); at != std::string::npos;
             at = report.find("<testcase ", at + 1))
            ++cases;
        CHECK(cases == tests_of(whole).size());
        CHECK(report.find("tend.shard") == std::string::npos);
        // The human summary, as tend run prints it.
        const auto human = s.merge(s.jsonl);
        CHECK(human.exit_code == 1);
        CHECK(human.out.find("Summary [") != std::string::npos);
        CHECK(human.out.find("4 failed") != std::string::npos);
    }

    TEST_CASE("tend merge --history records the whole run: every test and unit, as one run") {
        Shards s(3);
        const auto history = s.dir + "/history.db";
        const auto merged = s.merge(s.jsonl, {"--history", history, "--no-config"});
        INFO(merged.err);
        CHECK(merged.exit_code == 1);  // basic's failures, as before
        const auto h = run_tend({"history", "--history", history, "-n", "1000", "--json"});
        REQUIRE(h.exit_code == 0);
        const auto j = nlohmann::json::parse(h.out);
        CHECK(j["slowest_tests"].size() ==
              run_tend({"list", "--json", binaries()[0], binaries()[1], binaries()[2]})
                      .events.size() -
                  /* basic's skip()ped test is not run */ 1);
        std::set<std::string> units;
        for (const auto& u : j["slowest_units"])
            units.insert(u["binary"].get<std::string>() + ":" + u["unit"].get<std::string>());
        CHECK(units.size() == units_of(run_shard("")).size());
        for (const auto& t : j["slowest_tests"]) CHECK(t["runs"] == 1);
    }

    TEST_CASE("tend merge: passing shards exit 0") {
        const auto dir = temp_path("merge-ok");
        std::filesystem::create_directories(dir);
        std::vector<std::string> files;
        for (const char* shard : {"1/2", "2/2"}) {
            files.push_back(dir + "/" + std::string(1, shard[0]) + ".jsonl");
            run_tend({"run", "--no-daemon", "--shard", shard, "--json-file", files.back(),
                      fixture("scoped")});
        }
        const auto o = run_tend({"merge", files[0], files[1]});
        CHECK(o.exit_code == 0);
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("tend merge: a shard missing, twice, cut short or not there is an error naming it") {
        Shards s(3);
        auto o = s.merge({s.jsonl[0], s.jsonl[2]});
        CHECK(o.exit_code == 3);
        CHECK(o.err.find("shard 2/3 missing") != std::string::npos);
        o = s.merge({s.jsonl[0], s.jsonl[1], s.jsonl[1], s.jsonl[2]});
        CHECK(o.exit_code == 3);
        CHECK(o.err.find("both shard 2/3") != std::string::npos);
        // Cut in a line, and cut at a line's end (no summary).
        const auto text = slurp(s.jsonl[1]);
        const auto cut = s.dir + "/cut.jsonl";
        for (const auto size : {text.size() / 2, text.find('\n') + 1}) {
            {
                std::ofstream f(cut, std::ios::binary);
                f << text.substr(0, size);
            }
            o = s.merge({s.jsonl[0], cut, s.jsonl[2]});
            CHECK(o.exit_code == 3);
            CHECK(o.err.find(cut) != std::string::npos);
            CHECK(o.err.find("cut short") != std::string::npos);
        }
        const auto gone = s.dir + "/gone.jsonl";
        o = s.merge({s.jsonl[0], gone, s.jsonl[2]});
        CHECK(o.exit_code == 3);
        CHECK(o.err.find(gone) != std::string::npos);
        // Shards of two different splits.
        const auto other = s.dir + "/other.jsonl";
        run_shard("1/2", "", {"--json-file", other});
        o = s.merge({s.jsonl[0], s.jsonl[1], s.jsonl[2], other});
        CHECK(o.exit_code == 3);
        CHECK(o.err.find(other) != std::string::npos);
    }
}
