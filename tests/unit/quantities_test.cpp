// Sizes and seconds as people type them.
#include "config/quantities.hpp"

#include <doctest/doctest.h>

TEST_CASE("parse_size") {
    std::string err;
    CHECK(tend::parse_size("4096", err) == 4096u);
    CHECK(tend::parse_size("512MiB", err) == 512ull << 20);
    CHECK(tend::parse_size("1GiB", err) == 1ull << 30);
    CHECK(tend::parse_size("1.5G", err) == 3ull << 29);
    CHECK(tend::parse_size("2 KB", err) == 2000u);
    CHECK(tend::parse_size("10mb", err) == 10000000u);
    CHECK(tend::parse_size("7B", err) == 7u);
    CHECK_FALSE(tend::parse_size("lots", err));
    CHECK(err.find("'lots' is not a size") != std::string::npos);
    CHECK_FALSE(tend::parse_size("12parsecs", err));
    CHECK(err.find("unknown unit 'parsecs'") != std::string::npos);
    CHECK_FALSE(tend::parse_size("-1MiB", err));
    CHECK_FALSE(tend::parse_size("99999999999TiB", err));
    CHECK(err.find("too large") != std::string::npos);
}

TEST_CASE("parse_seconds") {
    std::string err;
    CHECK(tend::parse_seconds("0.5", err) == doctest::Approx(0.5));
    CHECK(tend::parse_seconds("30", err) == doctest::Approx(30));
    CHECK(tend::parse_seconds("2.5s", err) == doctest::Approx(2.5));
    CHECK_FALSE(tend::parse_seconds("soon", err));
    CHECK(err.find("'soon'") != std::string::npos);
    CHECK_FALSE(tend::parse_seconds("-3", err));
    CHECK_FALSE(tend::parse_seconds("5min", err));
}
