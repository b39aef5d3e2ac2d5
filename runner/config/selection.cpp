// Selecting tests: see selection.hpp.
#include "config/selection.hpp"

#include <algorithm>

namespace tend {

namespace {
/// Length of the UTF-8 sequence starting with byte `c` (1 for a stray byte).
std::size_t sequence_length(unsigned char c) {
    if (c >= 0xF0 && c < 0xF8) return 4;
    if (c >= 0xE0) return c < 0xF0 ? 3 : 1;
    if (c >= 0xC0) return 2;
    return 1;
}

bool matches_test(std::string_view pattern, const TestView& test, bool as_glob) {
    if (!as_glob) {
        // "suite/name" (or gtest's "Suite.Name") compared in place:
        // selecting one test of 10,000 allocates nothing per test.
        if (pattern == test.name) return true;
        return pattern.size() == test.suite.size() + 1 + test.name.size() &&
               pattern.substr(0, test.suite.size()) == test.suite &&
               (pattern[test.suite.size()] == '/' || pattern[test.suite.size()] == '.') &&
               pattern.substr(test.suite.size() + 1) == test.name;
    }
    if (glob_match(pattern, test.name)) return true;
    std::string qualified;
    qualified.reserve(test.suite.size() + 1 + test.name.size());
    ((qualified += test.suite) += '/') += test.name;
    if (glob_match(pattern, qualified)) return true;
    qualified[test.suite.size()] = '.';  // gtest's form: Suite.Name
    return glob_match(pattern, qualified);
}

bool any_matches(const std::vector<std::string>& patterns, const TestView& test, bool as_glob) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const std::string& p) { return matches_test(p, test, as_glob); });
}

bool has_any_tag(const std::vector<std::string>& tags, const TestView& test) {
    return std::any_of(tags.begin(), tags.end(), [&](const std::string& t) {
        return std::find(test.tags.begin(), test.tags.end(), t) != test.tags.end();
    });
}
}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
    // Iterative matching with one backtrack point, the last `*`: linear in
    // practice and never exponential, whatever the pattern.
    std::size_t p = 0, t = 0;
    std::size_t star_p = std::string_view::npos, star_t = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star_p = ++p;
            star_t = t;
            continue;
        }
        if (p < pattern.size()) {
            if (pattern[p] == '?') {
                ++p;
                t +=
                    std::min(sequence_length(static_cast<unsigned char>(text[t])), text.size() - t);
                continue;
            }
            std::size_t lit = p;
            if (pattern[p] == '\\' && p + 1 < pattern.size()) lit = p + 1;
            if (pattern[lit] == text[t]) {
                p = lit + 1;
                ++t;
                continue;
            }
        }
        if (star_p == std::string_view::npos) return false;
        p = star_p;
        t = ++star_t;
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

std::string_view to_string(RunIgnored r) {
    switch (r) {
        case RunIgnored::by_default:
            return "default";
        case RunIgnored::only:
            return "only";
        case RunIgnored::all:
            return "all";
    }
    return "default";
}

std::optional<RunIgnored> run_ignored_from_string(std::string_view s) {
    if (s == "default") return RunIgnored::by_default;
    if (s == "only") return RunIgnored::only;
    if (s == "all") return RunIgnored::all;
    return std::nullopt;
}

bool selects(const Selection& s, const TestView& test) {
    if (s.run_ignored == RunIgnored::only && !test.skip) return false;
    if ((!s.filters.empty() || !s.exact.empty()) && !any_matches(s.filters, test, true) &&
        !any_matches(s.exact, test, false)) {
        return false;
    }
    if (!s.suites.empty() &&
        std::none_of(s.suites.begin(), s.suites.end(),
                     [&](const std::string& p) { return glob_match(p, test.suite); })) {
        return false;
    }
    if (any_matches(s.excludes, test, true)) return false;
    if (!s.only_tags.empty() && !has_any_tag(s.only_tags, test)) return false;
    if (has_any_tag(s.skip_tags, test)) return false;
    if (!s.ids.empty() && !s.ids.count({std::string(test.suite), std::string(test.name)}))
        return false;
    return true;
}

bool skipped_unrun(const Selection& s, const TestView& test) {
    return test.skip && !s.runs_ignored();
}

std::string full_name(const TestView& test) {
    std::string s;
    s.reserve(test.suite.size() + 1 + test.name.size());
    if (!test.suite.empty()) (s += test.suite) += '/';
    return s += test.name;
}

}  // namespace tend
