// A doctest suite that knows nothing of tend: it includes doctest only, and
// its main() comes from the build (tend's doctest main). C++11.
#include <doctest/doctest.h>

#include <string>
#include <vector>

static_assert(__cplusplus == 201103L, "the recipe builds this suite as C++11");

static std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> fields(1);
    for (char c : text) {
        if (c == sep)
            fields.emplace_back();
        else
            fields.back() += c;
    }
    return fields;
}

TEST_SUITE("split") {
    TEST_CASE("words") {
        CHECK(split("a,b", ',') == std::vector<std::string>{"a", "b"});
    }
    TEST_CASE("empty fields") {
        CHECK(split(",", ',').size() == 2);
    }
}

TEST_CASE("outside any suite") {
    CHECK(split("", ',').size() == 1);
}
