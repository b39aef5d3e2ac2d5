// Units: suites, one unit per file for suite-less tests, largest first.
#include "pool/plan.hpp"

#include <doctest/doctest.h>

using tend::protocol::TestInfo;

TEST_CASE("plan_units groups by suite, then by file for suite-less tests") {
    std::vector<TestInfo> tests = {
        {0, "a1", "alpha", "x.cpp", 1, false, 0}, {1, "f1", "", "x.cpp", 2, false, 0},
        {2, "b1", "beta", "y.cpp", 3, false, 0},  {3, "a2", "alpha", "y.cpp", 4, false, 0},
        {4, "f2", "", "y.cpp", 5, false, 0},      {5, "a3", "alpha", "x.cpp", 6, false, 0},
        {6, "f3", "", "x.cpp", 7, false, 0},      {7, "s", "x.cpp", "z.cpp", 8, false, 0},
    };
    tend::TestTable table;
    for (const auto& t : tests) table.push_back(t);
    const auto units = tend::plan_units(3, table);
    REQUIRE(units.size() == 5);
    CHECK(units[0].name == "alpha");
    CHECK(units[0].tests == std::vector<std::uint32_t>{0, 3, 5});
    CHECK(units[1].name == "x.cpp");  // suite-less tests of x.cpp, not the suite named x.cpp
    CHECK(units[1].tests == std::vector<std::uint32_t>{1, 6});
    for (const auto& u : units) CHECK(u.binary == 3);
    // Ties keep listing order: beta, y.cpp's loose tests, the suite "x.cpp".
    CHECK(units[2].name == "beta");
    CHECK(units[3].name == "y.cpp");
    CHECK(units[4].name == "x.cpp");
    CHECK(units[4].tests == std::vector<std::uint32_t>{7});
}

TEST_CASE("plan_units of chosen tests plans only those") {
    tend::TestTable table;
    for (const auto& t : std::vector<TestInfo>{{0, "a1", "alpha", "x.cpp", 1, false, 0},
                                               {1, "b1", "beta", "x.cpp", 2, false, 0},
                                               {2, "a2", "alpha", "x.cpp", 3, false, 0},
                                               {3, "b2", "beta", "x.cpp", 4, false, 0},
                                               {4, "b3", "beta", "x.cpp", 5, false, 0}})
        table.push_back(t);
    const std::vector<std::uint32_t> chosen{0, 2, 4};
    const auto units = tend::plan_units(1, table, &chosen);
    REQUIRE(units.size() == 2);
    CHECK(units[0].name == "alpha");
    CHECK(units[0].tests == std::vector<std::uint32_t>{0, 2});
    CHECK(units[1].name == "beta");
    CHECK(units[1].tests == std::vector<std::uint32_t>{4});
}

TEST_CASE("plan_units of nothing is nothing") {
    CHECK(tend::plan_units(0, tend::TestTable{}).empty());
    const std::vector<std::uint32_t> none;
    tend::TestTable one;
    one.push_back({0, "a", "s", "f.cpp", 1, false, 0});
    CHECK(tend::plan_units(0, one, &none).empty());
}
