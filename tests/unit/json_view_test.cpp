// JsonView reads what nlohmann::json reads, and refuses what it refuses.
#include "report/json_view.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

namespace {
/// Whether the view's value is nlohmann's (numbers compared as doubles).
bool same(tend::JsonView::Value v, const nlohmann::json& j) {
    using Type = tend::JsonView::Type;
    switch (v.type()) {
        case Type::null:
            return j.is_null();
        case Type::boolean: {
            bool b = false;
            return v.get(b) && j.is_boolean() && j.get<bool>() == b;
        }
        case Type::number: {
            double d = 0;
            return v.get(d) && j.is_number() && j.get<double>() == d;
        }
        case Type::string: {
            std::string_view s;
            return v.get(s) && j.is_string() && j.get<std::string>() == s;
        }
        case Type::array: {
            if (!j.is_array()) return false;
            std::size_t n = 0;
            for (auto e = v.first(); e; e = e.next(), ++n) {
                if (n >= j.size() || !same(e, j[n])) return false;
            }
            return n == j.size();
        }
        case Type::object: {
            if (!j.is_object()) return false;
            std::size_t n = 0;
            for (auto m = v.first(); m; m = m.next(), ++n) {
                const auto found = j.find(std::string(m.key()));
                if (found == j.end() || !same(m, *found)) return false;
            }
            return n == j.size();
        }
    }
    return false;
}
}  // namespace

TEST_CASE("JsonView reads what nlohmann reads") {
    const char* texts[] = {
        R"({"event":"test","name":"a \"b\" \\ c","n":-12,"x":1.5e3,"ok":true,"no":false,"z":null})",
        R"( [1, [2, [3, []]], {}, {"a":{"b":{"c":[]}}}, "", 0, -0.25, 1E-2 ] )",
        R"({"esc":"\b\f\n\r\t\/\u0041\u00e9\u20ac\ud83d\ude00","raw":"caf\u00e9 ✓"})",
        R"({"dup":1,"dup":2})",
        R"("just a string")",
        R"(12345678901234567890)",
    };
    tend::JsonView view;
    std::string error;
    for (const auto* text : texts) {
        CAPTURE(text);
        REQUIRE(view.parse(text, error));
        auto expected = nlohmann::json::parse(text);
        if (std::string_view(text).find("dup") != std::string_view::npos) {
            // nlohmann keeps the last; a lookup in a view finds the first.
            std::uint64_t v = 0;
            CHECK(view.root()["dup"].get(v));
            CHECK(v == 1);
            continue;
        }
        CHECK(same(view.root(), expected));
    }
}

TEST_CASE("JsonView refuses what is not JSON, and reuses itself after") {
    const char* bad[] = {
        "",          "{",     "[1,]",     R"({"a" 1})", R"({"a":1,})", "tru",           "nul",
        "01",        "1.",    "-",        "1e",         R"("open)",    "\"tab\there\"", R"("\x")",
        R"("\u12")", "[1] 2", "{\"a\":}", R"({1:2})",   "[[[[[[[[[[",
    };
    tend::JsonView view;
    std::string error;
    for (const auto* text : bad) {
        CAPTURE(text);
        CHECK_FALSE(view.parse(text, error));
        CHECK_FALSE(error.empty());
        CHECK_FALSE(view.root());
        CHECK_FALSE(nlohmann::json::accept(text));
    }
    std::string deep(65, '[');
    deep += std::string(65, ']');
    CHECK_FALSE(view.parse(deep, error));
    CHECK(error == "nested too deep");
    REQUIRE(view.parse(R"({"a":[1,2]})", error));
    std::uint64_t n = 0;
    CHECK(view.root()["a"].first().next().get(n));
    CHECK(n == 2);
}

TEST_CASE("JsonView answers a missing member or a wrong type as none") {
    tend::JsonView view;
    std::string error;
    REQUIRE(view.parse(R"({"s":"x","n":3.75,"neg":-2,"big":1e300,"arr":[]})", error));
    const auto root = view.root();
    std::string_view s;
    std::uint64_t u = 0;
    std::int64_t i = 0;
    double d = 0;
    bool b = false;
    CHECK_FALSE(root["missing"]);
    CHECK_FALSE(root["missing"].get(s));
    CHECK_FALSE(root["missing"]["deeper"]);
    CHECK_FALSE(root["s"].get(u));
    CHECK_FALSE(root["n"].get(s));
    CHECK_FALSE(root["s"].get(b));
    CHECK(root["n"].get(u));
    CHECK(u == 3);  // cut off, as nlohmann's get<> does
    CHECK(root["n"].get(d));
    CHECK(d == 3.75);
    CHECK_FALSE(root["neg"].get(u));
    CHECK(root["neg"].get(i));
    CHECK(i == -2);
    CHECK_FALSE(root["big"].get(u));
    CHECK_FALSE(root["arr"].first());
    CHECK_FALSE(root["s"]["x"]);
}
