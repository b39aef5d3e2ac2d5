// Events to JSON and back: what a client of the daemon replays is what the
// daemon's run reported.
#include "report/event_json.hpp"

#include <doctest/doctest.h>

#include <csignal>

using tend::ordered_json;

namespace {
/// Writes every event it gets back to JSON.
struct Recorder final : tend::Reporter {
    std::vector<ordered_json> seen;
    void test(const tend::TestEvent& e) override { seen.push_back(tend::to_json(e)); }
    void recycle(const tend::RecycleEvent& e) override { seen.push_back(tend::to_json(e)); }
    void notice(const tend::Notice& n) override { seen.push_back(tend::to_json(n)); }
    void shutdown(const tend::ShutdownReport& r) override { seen.push_back(tend::to_json(r)); }
    void summary(const tend::Summary& s) override { seen.push_back(tend::to_json(s)); }
    void slow(const tend::SlowEvent& e) override { seen.push_back(tend::to_json(e)); }
    void progress(const tend::Progress& p) override { seen.push_back(tend::to_json(p)); }
};

void round_trip(const ordered_json& j) {
    Recorder r;
    tend::Replayer replayer(r);
    std::string error;
    // Through text, as over a socket.
    REQUIRE(replayer.replay(nlohmann::json::parse(tend::dump_line(j)), error));
    REQUIRE(r.seen.size() == 1);
    CHECK(r.seen[0] == j);
}
}  // namespace

TEST_CASE("every kind of event survives JSON and back") {
    const std::string binary = "/b/tests";
    tend::protocol::TestInfo t;
    t.id = 7;
    t.name = "divides \"by\" zero";
    t.suite = "math";
    t.file = "math.cpp";
    t.line = 12;
    std::vector<tend::protocol::Failure> failures{
        {"math.cpp", 14, "CHECK_EQ", "a, b", "1, 2", "context 42", "outer / inner"}};
    tend::protocol::Health health;
    health.rss_bytes = 4096;
    for (bool final : {true, false}) {
        round_trip(tend::to_json(tend::TestEvent{binary, t, tend::TestStatus::crashed, 1500000, 42,
                                                 health, failures, "out\n", "err\n",
                                                 "killed by signal 11", 2, final}));
    }
    round_trip(tend::to_json(tend::SlowEvent{binary, t, 60000000000, 43}));
    round_trip(
        tend::to_json(tend::RecycleEvent{binary, 44, {tend::RecycleReason::Kind::fds, 600, 512}}));
    round_trip(tend::to_json(tend::Notice{binary, "unit 'db': teardown threw", true}));
    round_trip(tend::to_json(tend::ShutdownReport{SIGINT, 1, 4, 1, 5.25}));
    tend::Summary s;
    s.counts = {5, 1, 2, 1, 1, 1, 1, 3};
    s.total = 15;
    s.filtered = 9;
    s.duration_s = 1.5;
    s.workers_started = 3;
    s.workers_crashed = 1;
    s.workers_timed_out = 1;
    s.recycled = {1, 2, 3};
    s.errors = 2;
    round_trip(tend::to_json(s));
    tend::Progress p;
    p.done = 3;
    p.total = 10;
    p.failed = 1;
    p.elapsed_s = 2.5;
    p.running.push_back({&binary, t, 1250000});
    round_trip(tend::to_json(p));
}

TEST_CASE("a replayer refuses what is not an event, naming why") {
    Recorder r;
    tend::Replayer replayer(r);
    std::string error;
    CHECK_FALSE(replayer.replay(nlohmann::json{{"event", "nonsense"}}, error));
    CHECK(error == "unknown event 'nonsense'");
    CHECK_FALSE(replayer.replay(nlohmann::json{{"event", "test"}, {"name", 3}}, error));
    CHECK(error.find("malformed event") == 0);
    CHECK_FALSE(replayer.replay(nlohmann::json::array(), error));
    CHECK(r.seen.empty());
}
