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
