#include <doctest/doctest.h>

#include "driver.hpp"

using tend::batch::glob_matches;

TEST_SUITE("batch drivers") {
    TEST_CASE("glob_matches: * and ? as gtest, doctest and Catch2 match names") {
        CHECK(glob_matches("Suite.name", "Suite.name"));
        CHECK_FALSE(glob_matches("Suite.name", "Suite.names"));
        CHECK(glob_matches("Suite.*", "Suite.name"));
        CHECK(glob_matches("*", ""));
        CHECK(glob_matches("a?c", "abc"));
        CHECK_FALSE(glob_matches("a?c", "ac"));
        CHECK(glob_matches("*a*b*", "xxaxxbxx"));
        CHECK_FALSE(glob_matches("*a*b", "xxaxxbxxc"));
        CHECK(glob_matches("A?B", "a-b", false));
        CHECK_FALSE(glob_matches("A?B", "a-b", true));
        // Many stars over a long text stay linear.
        CHECK_FALSE(glob_matches("*a*a*a*a*a*a*a*b", std::string(10000, 'a')));
    }
}
