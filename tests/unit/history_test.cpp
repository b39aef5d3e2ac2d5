// The history store on a real SQLite file: recording, pruning to the last N
// runs, estimates, flakiness, a corrupt file set aside, and binary keys.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "history/recorder.hpp"
#include "history/store.hpp"

namespace fs = std::filesystem;
using tend::HistoryBatch;
using tend::HistoryStore;

namespace {
/// A fresh directory under /tmp, removed at the end of the test.
struct TempDir {
    fs::path path;
    TempDir() {
        static int n = 0;
        path = fs::temp_directory_path() /
               ("tend-history-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::unique_ptr<HistoryStore> open_store(const fs::path& file) {
    std::string warning, error;
    auto store = HistoryStore::open(file, true, warning, error);
    REQUIRE_MESSAGE(store, error);
    CHECK(warning.empty());
    return store;
}

HistoryBatch one_test(double seconds, const char* outcome = "passed") {
    HistoryBatch b;
    b.tests.push_back({"bin", "suite", "t", seconds, outcome, 1, 1024});
    b.units.push_back({"bin", "suite", seconds, 1, 0});
    return b;
}
}  // namespace

TEST_SUITE("history") {
    TEST_CASE("a unit's estimate is the mean of its last three runs") {
        CHECK(tend::estimate_from({}) == 0);
        CHECK(tend::estimate_from({3}) == 3);
        CHECK(tend::estimate_from({3, 6, 9, 100}) == 6);
    }

    TEST_CASE("each run is recorded, and only the last N runs of a test are kept") {
        TempDir dir;
        const auto file = dir.path / "h.db";
        // A store per run, as each tend run opens its own.
        for (int run = 1; run <= 5; ++run) open_store(file)->record(one_test(run), 3);
        auto store = open_store(file);
        const auto past = store->test_history("suite/t", 100);
        REQUIRE(past.size() == 3);
        CHECK(past[0].duration_s == 5);  // newest first
        CHECK(past[2].duration_s == 3);
        CHECK(past[0].rss_bytes == std::optional<std::uint64_t>(1024));
        CHECK(past[0].run > past[1].run);
        // A name alone finds it too; the limit bounds it.
        CHECK(store->test_history("t", 2).size() == 2);
        // Units are pruned alike, and estimated from the last three.
        const auto units = store->slowest_units(10);
        REQUIRE(units.size() == 1);
        CHECK(units[0].runs == 3);
        CHECK(store->unit_estimates("bin").at("suite") == doctest::Approx(4));
        CHECK(store->unit_estimates("other").empty());
    }

    TEST_CASE("batches of one run share the run") {
        TempDir dir;
        auto store = open_store(dir.path / "h.db");
        store->record(one_test(1), 5);
        HistoryBatch more;
        more.tests.push_back({"bin", "suite", "u", 2, "failed", 1, std::nullopt});
        store->record(more, 5);
        CHECK(store->test_history("suite/t", 5)[0].run == store->test_history("suite/u", 5)[0].run);
        CHECK_FALSE(store->test_history("suite/u", 5)[0].rss_bytes);
    }

    TEST_CASE("the slowest tests by mean, the flakiest by flaky runs and flips") {
        TempDir dir;
        const auto file = dir.path / "h.db";
        const char* outcomes[] = {"passed", "failed", "passed", "flaky"};
        for (const char* o : outcomes) {
            HistoryBatch b;
            b.tests.push_back({"bin", "s", "wobbly", 0.1, o, 1, std::nullopt});
            b.tests.push_back({"bin", "s", "steady", 2.0, "passed", 1, std::nullopt});
            b.tests.push_back({"bin", "s", "broken", 0.5, "failed", 1, std::nullopt});
            open_store(file)->record(b, 10);
        }
        auto store = open_store(file);
        const auto slow = store->slowest_tests(2);
        REQUIRE(slow.size() == 2);
        CHECK(slow[0].name == "steady");
        CHECK(slow[1].name == "broken");
        const auto flaky = store->flakiest(10);
        REQUIRE(flaky.size() == 1);  // always failing is not flaky
        CHECK(flaky[0].name == "wobbly");
        CHECK(flaky[0].flaky == 1);
        CHECK(flaky[0].flips == 2);  // passed -> failed -> passed
        CHECK(flaky[0].runs == 4);
    }

    TEST_CASE("a file that is not a database is set aside and a new one made") {
        TempDir dir;
        const auto file = dir.path / "h.db";
        std::ofstream(file) << std::string(8192, 'x');
        std::string warning, error;
        auto store = HistoryStore::open(file, true, warning, error);
        REQUIRE_MESSAGE(store, error);
        CHECK(warning.find("set aside as") != std::string::npos);
        CHECK(fs::exists(dir.path / "h.db.corrupt"));
        store->record(one_test(1), 3);
        CHECK(store->test_history("suite/t", 3).size() == 1);
    }

    TEST_CASE("a missing file is not made unless asked") {
        TempDir dir;
        std::string warning, error;
        CHECK_FALSE(HistoryStore::open(dir.path / "none.db", false, warning, error));
        CHECK(error.find("no history") != std::string::npos);
        CHECK_FALSE(fs::exists(dir.path / "none.db"));
    }

    TEST_CASE("binaries are keyed by their path under tend.toml's directory, else their name") {
        TempDir dir;
        fs::create_directories(dir.path / "build" / "tests");
        const auto bin = (dir.path / "build" / "tests" / "unit").string();
        CHECK(tend::history_binary_key(bin, dir.path) == "build/tests/unit");
        CHECK(tend::history_binary_key(bin, {}) == "unit");
        CHECK(tend::history_binary_key("/elsewhere/bin/unit", dir.path) == "unit");
    }

    TEST_CASE("the recorder writes a unit's row once its binary is done, and none for a part") {
        TempDir dir;
        const auto file = dir.path / "h.db";
        std::vector<tend::protocol::Failure> none;
        {
            tend::HistoryRecorder rec(open_store(file), 5, {});
            const std::string binary = "/x/bin";
            auto event = [&](const char* suite, const char* name, tend::TestStatus s) {
                return tend::TestEvent{binary, tend::TestView(0, name, suite, "f.cpp"),
                                       s,      2'000'000'000,
                                       1,      {},
                                       none,   {},
                                       {},     {}};
            };
            rec.test(event("whole", "a", tend::TestStatus::passed));
            rec.test(event("whole", "b", tend::TestStatus::failed));
            rec.test(event("part", "a", tend::TestStatus::passed));
            rec.test(event("part", "b", tend::TestStatus::not_run));
            rec.binary_done(binary);
        }
        auto store = open_store(file);
        const auto estimates = store->unit_estimates("bin");
        CHECK(estimates.size() == 1);
        CHECK(estimates.at("whole") == doctest::Approx(4));
        CHECK(store->test_history("part/a", 5).size() == 1);
        CHECK(store->test_history("part/b", 5).empty());
    }
}
