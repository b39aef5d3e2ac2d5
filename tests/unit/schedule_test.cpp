// The scheduling decisions: which unit a worker takes, which binary gets the
// next worker, and how many idle workers give up their place.
#include "pool/schedule.hpp"

#include <doctest/doctest.h>

using tend::BinaryQueue;
using tend::needs_worker;
using tend::next_worker;
using tend::takeable_unit;
using tend::Unit;
using tend::workers_to_free;

namespace {
Unit unit(int avoid_pid) {
    Unit u;
    u.tests = {0};
    u.avoid_pid = avoid_pid;
    return u;
}
BinaryQueue listed(std::size_t waiting, std::size_t ready) {
    return BinaryQueue{true, false, false, waiting, ready};
}
BinaryQueue unlisted() {
    return BinaryQueue{};
}
}  // namespace

TEST_SUITE("schedule") {
    TEST_CASE("a worker takes the first waiting unit") {
        const std::deque<Unit> pending{unit(0), unit(0)};
        CHECK(takeable_unit(pending, 42) == std::optional<std::size_t>(0));
    }
    TEST_CASE("a retry is not taken by the worker it failed on, any other may") {
        const std::deque<Unit> pending{unit(42), unit(0)};
        CHECK(takeable_unit(pending, 42) == std::optional<std::size_t>(1));
        CHECK(takeable_unit(pending, 7) == std::optional<std::size_t>(0));
        const std::deque<Unit> only_retry{unit(42)};
        CHECK_FALSE(takeable_unit(only_retry, 42));
        CHECK_FALSE(takeable_unit({}, 42));
    }
    TEST_CASE("a binary not listed wants its first worker unless it is listing") {
        CHECK(needs_worker(unlisted()));
        BinaryQueue discovering;
        discovering.discovering = true;
        CHECK_FALSE(needs_worker(discovering));
    }
    TEST_CASE("a listed binary wants a worker for units beyond its ready workers") {
        CHECK(needs_worker(listed(3, 2)));
        CHECK_FALSE(needs_worker(listed(2, 2)));
        CHECK_FALSE(needs_worker(listed(0, 0)));
    }
    TEST_CASE("a binary given up wants nothing") {
        auto b = listed(5, 0);
        b.given_up = true;
        CHECK_FALSE(needs_worker(b));
        auto u = unlisted();
        u.given_up = true;
        CHECK_FALSE(needs_worker(u));
    }
    TEST_CASE("undiscovered binaries get a worker first, to list them") {
        const std::vector<BinaryQueue> bs{listed(10, 0), unlisted(), unlisted()};
        const auto next = next_worker(bs);
        REQUIRE(next);
        CHECK(next->binary == 1);
        CHECK(next->discover);
    }
    TEST_CASE("a listing or given-up binary is not discovered again") {
        BinaryQueue listing;
        listing.discovering = true;
        BinaryQueue gone;
        gone.given_up = true;
        const auto next = next_worker({listing, gone, listed(1, 0)});
        REQUIRE(next);
        CHECK(next->binary == 2);
        CHECK_FALSE(next->discover);
    }
    TEST_CASE("then the binary with the most units waiting beyond its ready workers") {
        const auto next = next_worker({listed(3, 0), listed(5, 1), listed(9, 9)});
        REQUIRE(next);
        CHECK(next->binary == 1);
        CHECK_FALSE(next->discover);
    }
    TEST_CASE("of equals, the first") {
        const auto next = next_worker({listed(1, 1), listed(4, 0), listed(4, 0)});
        REQUIRE(next);
        CHECK(next->binary == 1);
    }
    TEST_CASE("nobody gets a worker when every unit has a ready one") {
        CHECK_FALSE(next_worker({listed(2, 2), listed(0, 0)}));
        CHECK_FALSE(next_worker({}));
        BinaryQueue listing;
        listing.discovering = true;
        CHECK_FALSE(next_worker({listing}));
    }
    TEST_CASE("idle workers free places only when someone waits") {
        CHECK(workers_to_free(false, 4, 4, false) == 0);
        CHECK(workers_to_free(false, 4, 4, true) == 0);
    }
    TEST_CASE("a full pool frees enough to get under its size") {
        CHECK(workers_to_free(true, 4, 4, false) == 1);
        CHECK(workers_to_free(true, 6, 4, false) == 3);
        CHECK(workers_to_free(true, 3, 4, false) == 0);
    }
    TEST_CASE("with a warm pool at least one goes back, for another run") {
        CHECK(workers_to_free(true, 2, 4, true) == 1);
        CHECK(workers_to_free(true, 5, 4, true) == 2);
    }
}

// Longest processing time first, from the history's estimates.
namespace {
Unit named(const std::string& name) {
    Unit u;
    u.name = name;
    u.tests = {0};
    return u;
}
std::vector<std::string> names(const std::vector<Unit>& units) {
    std::vector<std::string> out;
    for (const auto& u : units) out.push_back(u.name);
    return out;
}
BinaryQueue timed(BinaryQueue q, double longest_s) {
    q.longest_s = longest_s;
    return q;
}
}  // namespace

TEST_SUITE("schedule: longest first") {
    TEST_CASE("the median estimate: the lower middle, nothing for none") {
        CHECK_FALSE(tend::median_estimate(tend::UnitEstimates{}));
        CHECK(*tend::median_estimate(tend::UnitEstimates{{"a", 3}, {"b", 1}, {"c", 2}}) == 2);
        CHECK(*tend::median_estimate(tend::UnitEstimates{{"a", 4}, {"b", 1}}) == 1);
        const std::vector<tend::UnitEstimates> run{{{"a", 5}}, {}, {{"b", 1}, {"c", 9}}};
        CHECK(*tend::median_estimate(run) == 5);
        CHECK_FALSE(tend::median_estimate(std::vector<tend::UnitEstimates>{{}, {}}));
    }
    TEST_CASE("units start longest first by their recorded duration") {
        std::vector<Unit> units{named("short"), named("mid"), named("long")};
        tend::order_longest_first(units, {{"short", 0.1}, {"mid", 1}, {"long", 10}}, std::nullopt);
        CHECK(names(units) == std::vector<std::string>{"long", "mid", "short"});
        CHECK(units[0].estimate_s == 10);
    }
    TEST_CASE("a unit without history is estimated at its binary's median: before the short ones") {
        std::vector<Unit> units{named("a"), named("b"), named("new"), named("c")};
        tend::order_longest_first(units, {{"a", 0.1}, {"b", 5}, {"c", 1}}, 100.0);
        CHECK(names(units) == std::vector<std::string>{"b", "new", "c", "a"});
        CHECK(units[1].estimate_s == 1);  // the binary's median, not the run's fallback
    }
    TEST_CASE("equal estimates keep their order") {
        std::vector<Unit> units{named("x"), named("y"), named("z")};
        tend::order_longest_first(units, {{"x", 1}, {"y", 2}, {"z", 1}}, std::nullopt);
        CHECK(names(units) == std::vector<std::string>{"y", "x", "z"});
    }
    TEST_CASE("a binary the history does not know: the run's fallback, in list order") {
        std::vector<Unit> units{named("x"), named("y")};
        tend::order_longest_first(units, {}, 3.0);
        CHECK(names(units) == std::vector<std::string>{"x", "y"});
        CHECK(units[0].estimate_s == 3);
        CHECK(units[1].estimate_s == 3);
    }
    TEST_CASE("no history at all: nothing changes") {
        std::vector<Unit> units{named("x"), named("y")};
        tend::order_longest_first(units, {}, std::nullopt);
        CHECK(names(units) == std::vector<std::string>{"x", "y"});
        CHECK(units[0].estimate_s < 0);
    }
    TEST_CASE("with estimates, the binary with the longest waiting unit gets the worker") {
        // Without them the one with the most units waiting would.
        const auto next = next_worker({timed(listed(9, 0), 1), timed(listed(1, 0), 50)});
        REQUIRE(next);
        CHECK(next->binary == 1);
        CHECK_FALSE(next->discover);
    }
    TEST_CASE("with estimates, a binary to list competes by its longest recorded unit") {
        const auto late =
            next_worker({timed(unlisted(), 1), timed(listed(2, 0), 30), timed(unlisted(), 53)});
        REQUIRE(late);
        CHECK(late->binary == 2);
        CHECK(late->discover);
        // Of equals, listing first, then the most waiting, then the first.
        const auto tie = next_worker({timed(listed(1, 0), 5), timed(unlisted(), 5)});
        REQUIRE(tie);
        CHECK(tie->binary == 1);
        const auto waiting = next_worker({timed(listed(1, 0), 5), timed(listed(3, 0), 5)});
        REQUIRE(waiting);
        CHECK(waiting->binary == 1);
    }
    TEST_CASE("with estimates, binaries that want no worker still get none") {
        auto listing = timed(unlisted(), 99);
        listing.discovering = true;
        auto gone = timed(listed(5, 0), 99);
        gone.given_up = true;
        CHECK_FALSE(next_worker({listing, gone, timed(listed(2, 2), 99)}));
        const auto next =
            next_worker({listing, gone, timed(listed(2, 2), 99), timed(listed(1, 0), 0)});
        REQUIRE(next);
        CHECK(next->binary == 3);
    }
}
