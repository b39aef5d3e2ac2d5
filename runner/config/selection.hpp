// Selecting tests: which of a binary's tests a run (or a listing) takes.
//
// A pure decision over plain data, the same for `tend run` and `tend list`:
//
// - include patterns (--filter, glob) and exact names (--exact): with any,
//   a test must match one of them; a pattern or name matches a test when it
//   matches its name or its `suite/name`;
// - --suite globs: with any, the test's suite must match one;
// - --exclude globs: a test matching one (name or `suite/name`) is out;
// - --only-tagged: with any, the test must carry one of those tags;
//   --skip-tagged: a test carrying one is out;
// - `ids` ((suite, name) pairs; --failed): with any, the test must be one.
//
// Globs know `*` (any run of characters, `/` included), `?` (one character,
// a whole UTF-8 sequence) and `\` (the next character literally).
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pool/test_table.hpp"

namespace tend {

struct Selection {
    std::vector<std::string> filters;
    std::vector<std::string> exact;
    std::vector<std::string> suites;
    std::vector<std::string> excludes;
    std::vector<std::string> only_tags;
    std::vector<std::string> skip_tags;
    std::set<std::pair<std::string, std::string>> ids;  ///< (suite, name)

    /// True when it selects every test.
    bool all() const {
        return filters.empty() && exact.empty() && suites.empty() && excludes.empty() &&
               only_tags.empty() && skip_tags.empty() && ids.empty();
    }
};

/// Does `pattern` match all of `text`?
bool glob_match(std::string_view pattern, std::string_view text);

/// Is `test` one that `selection` takes?
bool selects(const Selection& selection, const TestView& test);

/// `suite/name`, or the name alone for a test outside any suite.
std::string full_name(const TestView& test);

}  // namespace tend
