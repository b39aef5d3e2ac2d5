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
// - `ids` ((suite, name) pairs; --failed): with any, the test must be one;
// - --run-ignored (nextest's names): `default` takes the tests the framework
//   skips by default (doctest's skip(), gtest's DISABLED_) as the others, and
//   they are reported skipped without running; `only` takes those tests
//   alone, `all` takes every test; with either, the tests it skips by
//   default run (runs_ignored()).
//
// Globs know `*` (any run of characters, `/` included), `?` (one character,
// a whole UTF-8 sequence) and `\` (the next character literally).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pool/test_table.hpp"

namespace tend {

/// What becomes of the tests a framework skips by default (--run-ignored).
enum class RunIgnored : std::uint8_t {
    by_default,  ///< `default`: selected like any test, reported skipped, not run
    only,        ///< run them, and nothing else
    all,         ///< run them with the rest
};
/// "default", "only", "all": the flag's own words.
std::string_view to_string(RunIgnored r);
/// The value a flag's word names, or nothing.
std::optional<RunIgnored> run_ignored_from_string(std::string_view s);

struct Selection {
    std::vector<std::string> filters;
    std::vector<std::string> exact;
    std::vector<std::string> suites;
    std::vector<std::string> excludes;
    std::vector<std::string> only_tags;
    std::vector<std::string> skip_tags;
    std::set<std::pair<std::string, std::string>> ids;  ///< (suite, name)
    RunIgnored run_ignored = RunIgnored::by_default;

    /// True when it selects every test.
    bool all() const {
        return filters.empty() && exact.empty() && suites.empty() && excludes.empty() &&
               only_tags.empty() && skip_tags.empty() && ids.empty() &&
               run_ignored != RunIgnored::only;
    }
    /// True when the tests the framework skips by default run: the workers
    /// are asked to run them (the run request's run_skipped).
    bool runs_ignored() const { return run_ignored != RunIgnored::by_default; }
};

/// Does `pattern` match all of `text`?
bool glob_match(std::string_view pattern, std::string_view text);

/// Is `test` one that `selection` takes?
bool selects(const Selection& selection, const TestView& test);

/// Is `test`, taken by `selection`, reported skipped without running (a test
/// the framework skips by default, under --run-ignored default)?
bool skipped_unrun(const Selection& selection, const TestView& test);

/// `suite/name`, or the name alone for a test outside any suite.
std::string full_name(const TestView& test);

}  // namespace tend
