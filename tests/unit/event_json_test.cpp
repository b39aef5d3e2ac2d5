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

TEST_CASE("append_json writes the bytes dump_line(to_json()) writes") {
    const std::string binary = "/b/tests";
    const std::vector<std::string> texts{
        "",
        "plain",
        "quote \" backslash \\ slash /",
        "controls \b\f\n\r\t \x01\x1f \x7f",
        "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80",  // UTF-8
        "bad \xff\xfe bytes \xc3",                    // not UTF-8: U+FFFD
        std::string("nul \0 inside", 12),
    };
    const std::vector<double> ms{0, 0.001, 0.008681, 1.5, 123456.789, 1e-9, 3.6e15};
    tend::protocol::Health some;
    some.rss_bytes = 4096;
    some.open_fds = 12;
    std::size_t checked = 0;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const auto& text = texts[i];
        const auto& other = texts[(i + 3) % texts.size()];
        tend::protocol::TestInfo t;
        t.id = static_cast<std::uint32_t>(i);
        t.name = text;
        t.suite = other;
        t.file = "dir/" + text + ".cpp";
        t.line = 4'000'000'000u;
        std::vector<tend::protocol::Failure> failures;
        if (i % 2) failures.push_back({text, 7, "CHECK", other, text, other, text});
        if (i % 3) failures.push_back({"f.cpp", 8, "REQUIRE", "", "", "", ""});
        const std::string bin = binary + text;
        for (const auto status : {tend::TestStatus::passed, tend::TestStatus::crashed}) {
            const tend::TestEvent e{bin,
                                    t,
                                    status,
                                    static_cast<std::uint64_t>(ms[i % ms.size()] * 1e6),
                                    i % 2 ? 0 : 4242,
                                    i % 2 ? tend::protocol::Health{} : some,
                                    failures,
                                    text,
                                    other,
                                    i % 2 ? std::string_view() : std::string_view(other),
                                    static_cast<std::uint32_t>(i + 1),
                                    status == tend::TestStatus::passed};
            std::string line = "kept ";
            tend::append_json(line, e);
            CHECK(line == "kept " + tend::dump_line(tend::to_json(e)));
            ++checked;
        }
        const tend::StartedEvent started{binary, t, 77};
        std::string line;
        tend::append_json(line, started);
        CHECK(line == tend::dump_line(tend::to_json(started)));
    }
    CHECK(checked == 2 * texts.size());
}

TEST_CASE("a test event with every kind of text survives append_json and the replayer") {
    const std::string binary = "/b/caf\xc3\xa9";
    tend::protocol::TestInfo t;
    t.name = "tab\there \"quoted\" \xe2\x9c\x93";
    t.suite = "s\\uite";
    t.file = "f.cpp";
    t.line = 3;
    std::vector<tend::protocol::Failure> failures{{"f.cpp", 4, "CHECK", "a\nb", "1\n2", "", ""}};
    const tend::TestEvent e{
        binary, t, tend::TestStatus::failed, 1234567, 0, {}, failures, "out\x01", "", "", 1, true};
    std::string line;
    tend::append_json(line, e);
    Recorder r;
    tend::Replayer replayer(r);
    tend::JsonView view;
    std::string error;
    REQUIRE(view.parse(line, error));
    REQUIRE(replayer.replay(view.root(), error));
    REQUIRE(r.seen.size() == 1);
    CHECK(r.seen[0] == tend::to_json(e));
}
