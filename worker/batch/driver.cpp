#include "driver.hpp"

#include <cctype>

namespace tend::batch {

std::unique_ptr<Driver> make_driver(std::string_view framework) {
    if (framework == "gtest") return make_gtest_driver();
    if (framework == "doctest") return make_doctest_driver();
    if (framework == "catch2") return make_catch2_driver();
    return nullptr;
}

bool glob_matches(std::string_view pattern, std::string_view text, bool case_sensitive) {
    // Iterative, with one backtrack point for the last `*`: linear for the
    // patterns tend writes, never exponential.
    const auto same = [case_sensitive](char a, char b) {
        if (case_sensitive) return a == b;
        return std::tolower(static_cast<unsigned char>(a)) ==
               std::tolower(static_cast<unsigned char>(b));
    };
    std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = t;
        } else if (p < pattern.size() && (pattern[p] == '?' || same(pattern[p], text[t]))) {
            ++p;
            ++t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

}  // namespace tend::batch
