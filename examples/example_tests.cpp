// An example doctest suite run by tend: `tend run build/examples/example_tests`.
// The same binary still runs on its own: `build/examples/example_tests`.
#include <map>
#include <string>
#include <tend/doctest.hpp>
#include <vector>

namespace {
std::vector<int> parse_csv(const std::string& text) {
    std::vector<int> out;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const auto comma = text.find(',', pos);
        const auto field =
            text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (!field.empty()) out.push_back(std::stoi(field));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

/// A "scope fixture": built by the first test of the unit that needs it and
/// torn down by tend when the unit is finalized.
std::map<std::string, int>* shared_table() {
    static std::map<std::string, int>* table = nullptr;
    if (!table) {
        table = new std::map<std::string, int>{{"one", 1}, {"two", 2}};
        tend::worker::on_unit_teardown([] {
            delete table;
            table = nullptr;
        });
    }
    return table;
}
}  // namespace

TEST_SUITE("csv") {
    TEST_CASE("parses numbers") {
        CHECK(parse_csv("1,2,3") == std::vector<int>{1, 2, 3});
    }
    TEST_CASE("skips empty fields") {
        CHECK(parse_csv("1,,3") == std::vector<int>{1, 3});
    }
    TEST_CASE("rejects words") {
        CHECK_THROWS_AS(parse_csv("1,x"), std::invalid_argument);
    }
    TEST_CASE("handles edge cases") {
        SUBCASE("empty") {
            CHECK(parse_csv("").empty());
        }
        SUBCASE("one value") {
            CHECK(parse_csv("42") == std::vector<int>{42});
        }
    }
}

TEST_SUITE("table") {
    TEST_CASE("looks up") {
        CHECK(shared_table()->at("one") == 1);
    }
    TEST_CASE("grows") {
        (*shared_table())["three"] = 3;
        CHECK(shared_table()->size() == 3);
    }
}

TEST_CASE("outside any suite" * doctest::description("one unit per source file")) {
    MESSAGE("tests may print freely; tend captures it per test");
    CHECK(1 + 1 == 2);
}

TEST_CASE("not ready yet" * doctest::skip()) {
    CHECK(false);
}
