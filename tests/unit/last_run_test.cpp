// The last run's failures: a run updates only what it saw.
#include "config/last_run.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

using tend::LastRun;
using tend::RunRecord;

TEST_CASE("update_last_run: ran tests leave or join by their new result, others keep theirs") {
    LastRun last;
    last.failed["/b/one"] = {{"s", "a"}, {"s", "b"}};
    last.failed["/b/two"] = {{"", "x"}};
    std::map<std::string, RunRecord> run;
    run["/b/one"].ran = {{"s", "a"}, {"s", "c"}};
    run["/b/one"].failed = {{"s", "c"}};
    tend::update_last_run(last, run);
    CHECK(last.failed["/b/one"] == std::set<tend::TestKey>{{"s", "b"}, {"s", "c"}});
    CHECK(last.failed["/b/two"] == std::set<tend::TestKey>{{"", "x"}});

    // A binary whose failures all pass now drops out.
    std::map<std::string, RunRecord> fixed;
    fixed["/b/two"].ran = {{"", "x"}};
    tend::update_last_run(last, fixed);
    CHECK(last.failed.count("/b/two") == 0);
}

TEST_CASE("RunRecorder: a skipped test keeps its old entry, a passing one leaves") {
    // "ignored" failed under --run-ignored only; this run (default) reports
    // it skipped without running it.
    LastRun last;
    last.failed[tend::binary_key("/b/one")] = {{"", "ignored"}, {"", "fixed"}};
    tend::RunRecorder recorder(last);
    const std::string binary = "/b/one";
    const std::vector<tend::protocol::Failure> none;
    const auto event = [&](const char* name, tend::TestStatus status) {
        return tend::TestEvent{binary, tend::TestView(0, name, ""), status, 0, 0, {}, none, {}, {}, {}};
    };
    recorder.test(event("ignored", tend::TestStatus::skipped));
    recorder.test(event("fixed", tend::TestStatus::passed));
    tend::update_last_run(last, recorder.records());
    CHECK(last.failed[tend::binary_key("/b/one")] == std::set<tend::TestKey>{{"", "ignored"}});
}

TEST_CASE("last run files: written whole, read back, and a bad one is an error naming it") {
    const std::string dir = "/tmp/tend-unit-state-" + std::to_string(::getpid());
    const std::filesystem::path path = dir + "/sub/last-run.json";
    LastRun last;
    last.failed["/b/one"] = {{"suite \"q\"", "name\n<&>"}, {"", "ünï"}};
    std::string error;
    REQUIRE(tend::save_last_run(path, last, error));
    LastRun back;
    REQUIRE(tend::load_last_run(path, back, error));
    CHECK(back.failed == last.failed);

    std::ofstream(path) << "{\"failed\": [1, 2";
    CHECK_FALSE(tend::load_last_run(path, back, error));
    CHECK(error.find(path.string() + ": not a tend state file") == 0);
    CHECK_FALSE(tend::load_last_run(dir + "/missing.json", back, error));
    CHECK(error.find("No such file") != std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST_CASE("record_last_run: lays a run over the file as it is when the run ends") {
    const std::string dir = "/tmp/tend-unit-record-" + std::to_string(::getpid());
    const std::filesystem::path path = dir + "/last-run.json";
    std::string error;
    // Two runs that started from no file, one per binary, ending one after
    // the other (ctest -j running tend per binary): both failures are kept.
    std::map<std::string, tend::RunRecord> first, second;
    first["/b/one"].failed = {{"", "a"}};
    first["/b/one"].ran = {{"", "a"}};
    second["/b/two"].failed = {{"s", "b"}};
    second["/b/two"].ran = {{"s", "b"}};
    REQUIRE(tend::record_last_run(path, first, error));
    REQUIRE(tend::record_last_run(path, second, error));
    LastRun back;
    REQUIRE(tend::load_last_run(path, back, error));
    CHECK(back.failed.size() == 2);
    CHECK(back.failed["/b/one"].count({"", "a"}) == 1);
    CHECK(back.failed["/b/two"].count({"s", "b"}) == 1);
    // A later run of one binary where its test passed takes only its entry.
    std::map<std::string, tend::RunRecord> fixed;
    fixed["/b/one"].ran = {{"", "a"}};
    REQUIRE(tend::record_last_run(path, fixed, error));
    REQUIRE(tend::load_last_run(path, back, error));
    CHECK(back.failed.count("/b/one") == 0);
    CHECK(back.failed.count("/b/two") == 1);
    std::filesystem::remove_all(dir);
}
