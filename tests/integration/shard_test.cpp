// `tend run --shard K/N` and `tend list --shard K/N` end to end: every test
// in exactly one shard, units whole, the shard from GitLab's and Bazel's
// environment, the flag over the environment, bad values.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
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
