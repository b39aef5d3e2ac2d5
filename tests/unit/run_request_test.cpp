// The daemon's run request: what `tend run` resolved travels to the daemon
// and back into the same pool options.
#include "daemon/run_request.hpp"

#include <doctest/doctest.h>

using namespace tend;

TEST_SUITE("run request") {
    TEST_CASE("per-binary bounds on start-up and teardown survive the trip") {
        PoolOptions sent;
        sent.binaries = {"/a", "/b"};
        BinarySettings a;
        a.startup_timeout = Seconds(3);
        a.teardown_timeout = Seconds(1.5);
        BinarySettings b;  // defaults: 60 s start-up, teardown from the timeout
        b.timeout = Seconds(9);
        sent.per_binary = {a, b};
        const auto params = nlohmann::json::parse(run_params(sent, {}).dump());

        PoolOptions got;
        std::chrono::milliseconds progress{};
        std::string error;
        REQUIRE_MESSAGE(parse_run_params(params, PoolOptions{}, got, progress, error), error);
        REQUIRE(got.per_binary.size() == 2);
        CHECK(got.per_binary[0].startup_timeout == Seconds(3));
        CHECK(got.per_binary[0].teardown_limit() == Seconds(1.5));
        CHECK(got.per_binary[1].startup_timeout == kDefaultStartupTimeout);
        CHECK_FALSE(got.per_binary[1].teardown_timeout);
        CHECK(got.per_binary[1].teardown_limit() == Seconds(9));
    }

    TEST_CASE("a start-up timeout of 0 is refused by name") {
        PoolOptions sent;
        sent.binaries = {"/a"};
        sent.per_binary = {BinarySettings{}};
        auto params = nlohmann::json::parse(run_params(sent, {}).dump());
        params["settings"][0]["startup_timeout"] = 0;
        PoolOptions got;
        std::chrono::milliseconds progress{};
        std::string error;
        CHECK_FALSE(parse_run_params(params, PoolOptions{}, got, progress, error));
        CHECK(error.find("settings[0].startup_timeout") != std::string::npos);
    }

    TEST_CASE("test_started: sent only when false, read back, refused when not a boolean") {
        PoolOptions sent;
        sent.binaries = {"/a"};
        sent.per_binary = {BinarySettings{}};
        CHECK_FALSE(run_params(sent, {}).contains("test_started"));
        const auto params = nlohmann::json::parse(
            run_params(sent, RunFeed{std::chrono::milliseconds(250), false}).dump());
        CHECK(params["test_started"] == false);
        PoolOptions got;
        RunFeed feed;
        std::string error;
        REQUIRE_MESSAGE(parse_run_params(params, PoolOptions{}, got, feed, error), error);
        CHECK_FALSE(feed.test_started);
        CHECK(feed.progress == std::chrono::milliseconds(250));
        auto bad = params;
        bad["test_started"] = 0;
        CHECK_FALSE(parse_run_params(bad, PoolOptions{}, got, feed, error));
        CHECK(error == "params.test_started: expected true or false");
        bad.erase("test_started");
        REQUIRE(parse_run_params(bad, PoolOptions{}, got, feed, error));
        CHECK(feed.test_started);
    }

    TEST_CASE("shard and unit_durations: sent only when set, read back, checked") {
        PoolOptions sent;
        sent.binaries = {"/a"};
        sent.per_binary = {BinarySettings{}};
        CHECK_FALSE(run_params(sent, {}).contains("shard"));
        CHECK_FALSE(run_params(sent, {}).contains("unit_durations"));
        sent.shard = Shard{2, 3};
        sent.unit_durations = {{"/a", {{"math", 1.5}, {"x.cpp", 0.25}}}};
        const auto params = nlohmann::json::parse(run_params(sent, {}).dump());
        CHECK(params["shard"] == "2/3");
        PoolOptions got;
        RunFeed feed;
        std::string error;
        REQUIRE_MESSAGE(parse_run_params(params, PoolOptions{}, got, feed, error), error);
        CHECK(got.shard == Shard{2, 3});
        CHECK(got.unit_durations == sent.unit_durations);
        auto bad = params;
        bad["shard"] = "4/3";
        CHECK_FALSE(parse_run_params(bad, PoolOptions{}, got, feed, error));
        CHECK(error.find("params.shard: '4/3'") == 0);
        bad["shard"] = 2;
        CHECK_FALSE(parse_run_params(bad, PoolOptions{}, got, feed, error));
        CHECK(error.find("params.shard") == 0);
        bad = params;
        bad["unit_durations"]["/a"]["math"] = -1;
        CHECK_FALSE(parse_run_params(bad, PoolOptions{}, got, feed, error));
        CHECK(error.find("params.unit_durations") == 0);
    }

    TEST_CASE("run_ignored: sent only when not default, per binary or for all, checked") {
        PoolOptions sent;
        sent.binaries = {"/a", "/b"};
        sent.per_binary.resize(2);
        sent.selection.resize(2);
        sent.selection[1].run_ignored = RunIgnored::only;
        const auto params = nlohmann::json::parse(run_params(sent, {}).dump());
        // A run that does not ask for it reaches an older daemon unchanged.
        CHECK_FALSE(params["selection"][0].contains("run_ignored"));
        CHECK(params["selection"][1]["run_ignored"] == "only");
        PoolOptions got;
        RunFeed feed;
        std::string error;
        REQUIRE_MESSAGE(parse_run_params(params, PoolOptions{}, got, feed, error), error);
        REQUIRE(got.selection.size() == 2);
        CHECK(got.selection[0].run_ignored == RunIgnored::by_default);
        CHECK(got.selection[1].run_ignored == RunIgnored::only);

        // An editor's run: a key of params, for every binary.
        const nlohmann::json editor{{"binaries", {"/a"}}, {"run_ignored", "all"}};
        REQUIRE_MESSAGE(parse_run_params(editor, PoolOptions{}, got, feed, error), error);
        REQUIRE(got.selection.size() == 1);
        CHECK(got.selection[0].run_ignored == RunIgnored::all);

        auto bad = editor;
        bad["run_ignored"] = "some";
        CHECK_FALSE(parse_run_params(bad, PoolOptions{}, got, feed, error));
        CHECK(error == "params.run_ignored: expected \"default\", \"only\" or \"all\"");
        bad["run_ignored"] = true;
        CHECK_FALSE(parse_run_params(bad, PoolOptions{}, got, feed, error));
    }

    TEST_CASE("held_bytes: what a queued run holds grows with its environment and selection") {
        PoolOptions small;
        small.binaries = {"/a"};
        const auto base = held_bytes(small);
        CHECK(base >= sizeof(PoolOptions));
        CHECK(base < sizeof(PoolOptions) + 1024);
        PoolOptions big = small;
        big.env.emplace();
        for (int i = 0; i < 100; ++i)
            big.env->push_back("VARIABLE_" + std::to_string(i) + "=" + std::string(90, 'v'));
        // 100 strings of 100 bytes: their text and their headers at least.
        CHECK(held_bytes(big) >= base + 100 * 100);
        CHECK(held_bytes(big) < base + 100 * 200);
        Selection picked;
        for (int i = 0; i < 50; ++i)
            picked.ids.emplace("some suite", "a test name that is long " + std::to_string(i));
        big.selection = {picked};
        CHECK(held_bytes(big) >= base + 100 * 100 + 50 * 40);
    }
}
