// The compact test table: what goes in comes out, shared strings are kept
// once, and a test costs a row and its name.
#include "pool/test_table.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

using tend::protocol::TestInfo;

TEST_CASE("a test table gives back every field of every test") {
    tend::TestTable table;
    const std::string long_name(100000, 'n');
    const std::vector<TestInfo> tests = {
        {0, "first", "suite a", "a.cpp", 10, false, 0, {}},
        {1, "skipped", "suite a", "a.cpp", 20, true, 2.5, {"slow", "net"}},
        {2, "", "", "b.cpp", 0, false, 0, {"slow", "net"}},
        {3, long_name, "suite b", "", 7, true, std::numeric_limits<double>::quiet_NaN(), {"x"}},
        {4, "after the long one", "suite a", "b.cpp", 30, false, -1, {}},
    };
    for (const auto& t : tests) table.push_back(t);
    table.finish();
    REQUIRE(table.size() == tests.size());
    std::size_t i = 0;
    for (const auto v : table) {
        const auto& t = tests[i++];
        CAPTURE(t.id);
        CHECK(v.id == t.id);
        CHECK(v.name == t.name);
        CHECK(v.suite == t.suite);
        CHECK(v.file == t.file);
        CHECK(v.line == t.line);
        CHECK(v.skip == t.skip);
        if (std::isnan(t.timeout_s)) {
            CHECK(std::isnan(v.timeout_s));
        } else {
            CHECK(v.timeout_s == t.timeout_s);
        }
        CHECK(std::vector<std::string>(v.tags.begin(), v.tags.end()) == t.tags);
        CHECK(table.name(t.id) == t.name);
    }
    CHECK(i == tests.size());
}

TEST_CASE("tests of one suite share a unit key; suites and files never do") {
    tend::TestTable table;
    table.push_back({0, "a", "x.cpp", "y.cpp", 1, false, 0});  // a suite named like a file
    table.push_back({1, "b", "", "x.cpp", 2, false, 0});
    table.push_back({2, "c", "x.cpp", "z.cpp", 3, false, 0});
    table.push_back({3, "d", "", "x.cpp", 4, false, 0});
    CHECK(table.unit_key(0) == table.unit_key(2));
    CHECK(table.unit_key(1) == table.unit_key(3));
    CHECK(table.unit_key(0) != table.unit_key(1));
}

TEST_CASE("a test costs its row and its name: suites, files and tags are kept once") {
    tend::TestTable table;
    const std::string file(70, 'f');
    constexpr std::size_t n = 20000;
    for (std::size_t i = 0; i < n; ++i) {
        // 40-character names, 100 tests to a suite, one long file path.
        std::string name = "a realistic test name of forty chars " + std::to_string(100 + i % 900);
        table.push_back({static_cast<std::uint32_t>(i),
                         name,
                         "suite number " + std::to_string(i / 100),
                         file,
                         static_cast<std::uint32_t>(i),
                         false,
                         0,
                         {"tagged"}});
    }
    // protocol::TestInfo alone is about 150 bytes before its strings.
    const double per_test = static_cast<double>(table.bytes()) / n;
    CHECK(per_test < 100);
    CHECK(per_test < static_cast<double>(sizeof(TestInfo)));
    table.finish();
    CHECK(table[n - 1].suite == "suite number 199");
    CHECK(table[n - 1].file == file);
}

TEST_CASE("a small table costs what it holds once finished, and reads the same") {
    tend::TestTable table;
    std::vector<std::string> names;
    for (std::uint32_t i = 0; i < 100; ++i) {
        names.push_back("test number " + std::to_string(i));
        table.push_back({i, names.back(), "suite", "file.cpp", i, false, 0});
    }
    const auto growing = table.bytes();
    table.finish();
    // A block of rows and one of names while growing; after, about 100 rows
    // and their names.
    CHECK(growing > 256 * 1024);
    CHECK(table.bytes() < 100 * (32 + 16) + 1024);
    for (std::uint32_t i = 0; i < 100; ++i) CHECK(table.name(i) == names[i]);
    CHECK_THROWS_AS(table.push_back({100, "late", "", "", 0, false, 0}), std::logic_error);
}

TEST_CASE("finishing a table of many blocks keeps every name") {
    tend::TestTable table;
    std::vector<std::string> names;
    const std::string long_name(70000, 'x');
    for (std::uint32_t i = 0; i < 30000; ++i) {
        names.push_back(i % 5000 == 7 ? long_name + std::to_string(i)
                                      : "a name of some length " + std::to_string(i));
        table.push_back({i, i % 977 == 0 ? std::string() : names.back(), "", "f", i, false, 0});
        if (i % 977 == 0) names.back().clear();
    }
    table.finish();
    REQUIRE(table.size() == 30000);
    for (std::uint32_t i = 0; i < 30000; ++i) {
        CAPTURE(i);
        CHECK(table.name(i) == names[i]);
    }
}

TEST_CASE("tag sets are told apart whatever bytes their tags hold") {
    tend::TestTable table;
    table.push_back({0, "a", "", "f", 1, false, 0, {std::string("x\0y", 3)}});
    table.push_back({1, "b", "", "f", 2, false, 0, {"x", "y"}});
    table.push_back({2, "c", "", "f", 3, false, 0, {"1:x"}});
    table.push_back({3, "d", "", "f", 4, false, 0, {"x"}});
    table.finish();
    CHECK(std::vector<std::string>(table[0].tags.begin(), table[0].tags.end()) ==
          std::vector<std::string>{std::string("x\0y", 3)});
    CHECK(std::vector<std::string>(table[1].tags.begin(), table[1].tags.end()) ==
          std::vector<std::string>{"x", "y"});
    CHECK(std::vector<std::string>(table[2].tags.begin(), table[2].tags.end()) ==
          std::vector<std::string>{"1:x"});
    CHECK(std::vector<std::string>(table[3].tags.begin(), table[3].tags.end()) ==
          std::vector<std::string>{"x"});
}
