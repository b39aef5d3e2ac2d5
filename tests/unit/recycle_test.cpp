// evaluate_recycle: priority, each signal alone, missing readings and limits,
// the boundary, and the sentences people read.
#include "pool/recycle.hpp"

#include <doctest/doctest.h>

using tend::evaluate_recycle;
using tend::RecycleReason;
using tend::Seconds;
using tend::WorkerLimits;
using Kind = RecycleReason::Kind;

namespace {
constexpr std::uint64_t MiB = 1024 * 1024;
tend::protocol::Health health(std::optional<std::uint64_t> rss, std::optional<std::uint64_t> fds) {
    return {rss, fds};
}
WorkerLimits limits(std::optional<std::uint64_t> rss, std::optional<std::uint64_t> fds,
                    std::optional<double> age) {
    WorkerLimits l;
    l.max_rss_bytes = rss;
    l.max_open_fds = fds;
    if (age) l.max_age = Seconds(*age);
    return l;
}
}  // namespace

TEST_SUITE("recycle") {
    TEST_CASE("memory wins over fds and age when all are over") {
        auto r = evaluate_recycle(health(200 * MiB, 500), Seconds(100), limits(100 * MiB, 100, 10));
        REQUIRE(r);
        CHECK(r->kind == Kind::memory);
        CHECK(r->measured == doctest::Approx(200.0 * MiB));
        CHECK(r->limit == doctest::Approx(100.0 * MiB));
    }
    TEST_CASE("fds win over age") {
        auto r = evaluate_recycle(health(1 * MiB, 500), Seconds(100), limits(100 * MiB, 100, 10));
        REQUIRE(r);
        CHECK(r->kind == Kind::fds);
    }
    TEST_CASE("each signal alone") {
        SUBCASE("memory") {
            auto r = evaluate_recycle(health(101 * MiB, 1), Seconds(0), limits(100 * MiB, 100, 10));
            REQUIRE(r);
            CHECK(r->kind == Kind::memory);
        }
        SUBCASE("fds") {
            auto r = evaluate_recycle(health(1, 101), Seconds(0), limits(100 * MiB, 100, 10));
            REQUIRE(r);
            CHECK(r->kind == Kind::fds);
        }
        SUBCASE("age") {
            auto r = evaluate_recycle(health(1, 1), Seconds(11), limits(100 * MiB, 100, 10));
            REQUIRE(r);
            CHECK(r->kind == Kind::age);
            CHECK(r->measured == doctest::Approx(11));
        }
        SUBCASE("none over") {
            CHECK_FALSE(evaluate_recycle(health(1, 1), Seconds(1), limits(100 * MiB, 100, 10)));
        }
    }
    TEST_CASE("a missing reading skips its signal and falls through to the next") {
        auto r =
            evaluate_recycle(health(std::nullopt, 500), Seconds(0), limits(100 * MiB, 100, 10));
        REQUIRE(r);
        CHECK(r->kind == Kind::fds);
        CHECK_FALSE(
            evaluate_recycle(health(std::nullopt, std::nullopt), Seconds(0), limits(1, 1, 10)));
        auto aged =
            evaluate_recycle(health(std::nullopt, std::nullopt), Seconds(20), limits(1, 1, 10));
        REQUIRE(aged);
        CHECK(aged->kind == Kind::age);
    }
    TEST_CASE("a missing limit skips its signal") {
        auto r =
            evaluate_recycle(health(200 * MiB, 500), Seconds(100), limits(std::nullopt, 100, 10));
        REQUIRE(r);
        CHECK(r->kind == Kind::fds);
        auto a = evaluate_recycle(health(200 * MiB, 500), Seconds(100),
                                  limits(std::nullopt, std::nullopt, 10));
        REQUIRE(a);
        CHECK(a->kind == Kind::age);
        CHECK_FALSE(
            evaluate_recycle(health(200 * MiB, 500), Seconds(100), WorkerLimits::unlimited()));
    }
    TEST_CASE("exactly at a limit recycles; one below does not") {
        auto at = evaluate_recycle(health(100 * MiB, 1), Seconds(0), limits(100 * MiB, 100, 10));
        REQUIRE(at);
        CHECK(at->kind == Kind::memory);
        CHECK_FALSE(evaluate_recycle(health(100 * MiB - 1, 99), Seconds(9.999),
                                     limits(100 * MiB, 100, 10)));
        auto fds = evaluate_recycle(health(1, 100), Seconds(0), limits(100 * MiB, 100, 10));
        REQUIRE(fds);
        CHECK(fds->kind == Kind::fds);
        auto age = evaluate_recycle(health(1, 1), Seconds(10), limits(100 * MiB, 100, 10));
        REQUIRE(age);
        CHECK(age->kind == Kind::age);
    }
    TEST_CASE("a zero age limit recycles at every boundary") {
        CHECK(evaluate_recycle(health(1, 1), Seconds(0), limits(std::nullopt, std::nullopt, 0)));
    }
    TEST_CASE("reasons read as sentences") {
        RecycleReason mem{Kind::memory, 1.2 * 1024 * MiB, 1024.0 * MiB};
        CHECK(mem.sentence() == "rss 1.2 GiB ≥ limit 1.0 GiB");
        CHECK(mem.name() == "memory");
        RecycleReason fds{Kind::fds, 1021, 1000};
        CHECK(fds.sentence() == "open fds 1021 ≥ limit 1000");
        CHECK(fds.name() == "fds");
        RecycleReason age{Kind::age, 3.25, 0.5};
        CHECK(age.sentence() == "age 3.25 s ≥ limit 0.5 s");
        CHECK(age.name() == "age");
    }
    TEST_CASE("defaults") {
        auto d = WorkerLimits::defaults(20000);
        CHECK(d.max_rss_bytes == tend::kDefaultMaxRssBytes);
        CHECK(d.max_open_fds == 10000u);
        CHECK(d.max_age == tend::kDefaultMaxAge);
        CHECK_FALSE(WorkerLimits::defaults(std::nullopt).max_open_fds);
    }
}
