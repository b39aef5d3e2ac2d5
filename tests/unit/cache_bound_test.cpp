// The daemon's cache bound: least recently used first, by count and bytes.
#include "daemon/cache_bound.hpp"

#include <doctest/doctest.h>

using tend::CacheEntry;
using tend::CacheLimits;
using tend::over_budget;

TEST_CASE("within the limits nothing goes") {
    CHECK(over_budget({}, {}).empty());
    CHECK(over_budget({{1, 10}, {2, 10}}, CacheLimits{2, 20}).empty());
}

TEST_CASE("past the count the least recently used go first") {
    const std::vector<CacheEntry> entries{{5, 1}, {2, 1}, {9, 1}, {1, 1}};
    CHECK(over_budget(entries, CacheLimits{2, 1000}) == std::vector<std::size_t>{3, 1});
    CHECK(over_budget(entries, CacheLimits{3, 1000}) == std::vector<std::size_t>{3});
}

TEST_CASE("past the bytes the oldest go until the rest fits") {
    const std::vector<CacheEntry> entries{{1, 100}, {2, 10}, {3, 10}, {4, 50}};
    // 170 bytes, 60 allowed: 1 (100) goes, then 2 (10): 60 left.
    CHECK(over_budget(entries, CacheLimits{10, 60}) == std::vector<std::size_t>{0, 1});
}

TEST_CASE("the most recently used entry stays however big it is") {
    const std::vector<CacheEntry> entries{{1, 10}, {7, 1000}, {3, 10}};
    CHECK(over_budget(entries, CacheLimits{10, 100}) == std::vector<std::size_t>{0, 2});
    CHECK(over_budget({{1, 1000}}, CacheLimits{0, 0}).empty());
}

TEST_CASE("entries a run uses stay: the others go instead, even newer ones") {
    // A run of three binaries: while it starts, the later ones must not push
    // out the first.
    const std::vector<CacheEntry> entries{
        {1, 10, true}, {2, 10, false}, {3, 10, true}, {4, 10, true}};
    CHECK(over_budget(entries, CacheLimits{2, 1000}) == std::vector<std::size_t>{1});
    // Nothing but pinned entries: the cache stays over its bound until the
    // run is over.
    CHECK(over_budget({{1, 10, true}, {2, 10, true}}, CacheLimits{1, 1000}).empty());
}
