#include "pool/spare.hpp"

#include <doctest/doctest.h>

using tend::Seconds;

TEST_CASE("recycle_likely: at a limit or within a tenth of it") {
    tend::WorkerLimits limits;
    limits.max_rss_bytes = 1000;
    limits.max_open_fds = 100;
    limits.max_age = Seconds(100);
    tend::protocol::Health h;
    h.rss_bytes = 899;
    h.open_fds = 89;
    CHECK_FALSE(tend::recycle_likely(h, Seconds(89), limits));
    h.rss_bytes = 900;
    CHECK(tend::recycle_likely(h, Seconds(0), limits));
    h.rss_bytes = 0;
    h.open_fds = 90;
    CHECK(tend::recycle_likely(h, Seconds(0), limits));
    h.open_fds = 0;
    CHECK(tend::recycle_likely(h, Seconds(90), limits));
    SUBCASE("--max-age 0: every unit") {
        limits.max_age = Seconds(0);
        CHECK(tend::recycle_likely({}, Seconds(0), limits));
    }
    SUBCASE("no limits, no readings: never") {
        CHECK_FALSE(tend::recycle_likely(h, Seconds(1e9), tend::WorkerLimits::unlimited()));
        CHECK_FALSE(tend::recycle_likely({}, Seconds(50), tend::WorkerLimits{}));
    }
}

TEST_CASE("wants_spare: units waiting, none yet, and a recycle foreseen or a crash seen") {
    tend::SpareSituation s;
    s.units_waiting = true;
    CHECK_FALSE(tend::wants_spare(s));  // nothing says one will be needed
    s.recycle_due = true;
    CHECK(tend::wants_spare(s));
    s.has_spare = true;
    CHECK_FALSE(tend::wants_spare(s));  // one per binary
    s.has_spare = false;
    s.recycle_due = false;
    s.crashed = 1;
    CHECK(tend::wants_spare(s));  // a crash already: the next is replaced at once
    s.last_death_left = true;
    CHECK_FALSE(tend::wants_spare(s));  // the next death gives the binary up
    s.last_death_left = false;
    s.units_waiting = false;
    CHECK_FALSE(tend::wants_spare(s));  // nothing left to replace a worker for
}
