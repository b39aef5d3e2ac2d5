// Selecting tests: globs, exact names, suites, excludes, tags, ids.
#include "config/selection.hpp"

#include <doctest/doctest.h>

using tend::glob_match;
using tend::Selection;
using tend::protocol::TestInfo;

namespace {
TestInfo test(std::string suite, std::string name, std::vector<std::string> tags = {}) {
    TestInfo t;
    t.suite = std::move(suite);
    t.name = std::move(name);
    t.tags = std::move(tags);
    return t;
}
}  // namespace

TEST_CASE("glob_match: * and ? and escapes") {
    CHECK(glob_match("", ""));
    CHECK_FALSE(glob_match("", "a"));
    CHECK(glob_match("*", ""));
    CHECK(glob_match("*", "anything/at all"));
    CHECK(glob_match("a*c", "abbbc"));
    CHECK(glob_match("a*c", "ac"));
    CHECK_FALSE(glob_match("a*c", "acb"));
    CHECK(glob_match("a?c", "abc"));
    CHECK_FALSE(glob_match("a?c", "ac"));
    CHECK(glob_match("*b*b*", "abxbx"));
    CHECK_FALSE(glob_match("*b*b*", "abx"));
    CHECK(glob_match("math/*", "math/adds"));
    CHECK(glob_match("*/adds", "math/adds"));
    // `?` is one character, not one byte.
    CHECK(glob_match("caf?", "café"));
    CHECK(glob_match("?", "日"));
    CHECK_FALSE(glob_match("??", "日"));
    // Backslash makes the next character literal.
    CHECK(glob_match("a\\*", "a*"));
    CHECK_FALSE(glob_match("a\\*", "ab"));
    CHECK(glob_match("\\?", "?"));
    CHECK_FALSE(glob_match("\\?", "x"));
    // Brackets are literal (names like "parses [1, 2]").
    CHECK(glob_match("parses [1, 2]", "parses [1, 2]"));
    CHECK(glob_match("parses [*]", "parses [1, 2]"));
}

TEST_CASE("glob_match stays fast on patterns that blow up naive matchers") {
    const std::string text(5000, 'a');
    CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", text));
    CHECK(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*", text));
}

TEST_CASE("selects: every test when nothing is asked") {
    CHECK(Selection{}.all());
    CHECK(tend::selects(Selection{}, test("s", "n")));
}

TEST_CASE("selects: --filter matches the name or suite/name") {
    Selection s;
    s.filters = {"add*"};
    CHECK(tend::selects(s, test("math", "adds")));
    CHECK_FALSE(tend::selects(s, test("math", "divides")));
    s.filters = {"math/*"};
    CHECK(tend::selects(s, test("math", "divides")));
    CHECK_FALSE(tend::selects(s, test("mathematics", "divides")));
    // Several patterns: any one will do.
    s.filters = {"nope", "*div*"};
    CHECK(tend::selects(s, test("math", "divides")));
    // A test outside a suite matches by name, and by "/name".
    s.filters = {"/loose*"};
    CHECK(tend::selects(s, test("", "loose test")));
}

TEST_CASE("selects: --exact takes names as they are") {
    Selection s;
    s.exact = {"names/name, with comma"};
    CHECK(tend::selects(s, test("names", "name, with comma")));
    s.exact = {"star * name"};
    CHECK(tend::selects(s, test("x", "star * name")));
    CHECK_FALSE(tend::selects(s, test("x", "star and name")));
    // gtest's Suite.Name form, for TEST_P and typed suites too.
    s.exact = {"Small/Param.Positive/0"};
    CHECK(tend::selects(s, test("Small/Param", "Positive/0")));
    CHECK_FALSE(tend::selects(s, test("Small/Param", "Positive/1")));
    s.exact = {};
    s.filters = {"Typed/*.Zero*"};
    CHECK(tend::selects(s, test("Typed/0", "ZeroIsFalse")));
    s.filters = {};
    // --exact and --filter together: either one selects.
    s.filters = {"other*"};
    CHECK(tend::selects(s, test("x", "other one")));
}

TEST_CASE("selects: --suite, --exclude, tags and ids narrow down") {
    Selection s;
    s.suites = {"db*"};
    CHECK(tend::selects(s, test("db.pool", "x")));
    CHECK_FALSE(tend::selects(s, test("net", "x")));
    CHECK_FALSE(tend::selects(s, test("", "x")));

    Selection e;
    e.excludes = {"*slow*"};
    CHECK_FALSE(tend::selects(e, test("a", "is slow")));
    CHECK(tend::selects(e, test("a", "is quick")));
    e.filters = {"a/*"};  // exclude wins over include
    CHECK_FALSE(tend::selects(e, test("a", "is slow")));

    Selection only;
    only.only_tags = {"db", "net"};
    CHECK(tend::selects(only, test("a", "x", {"net"})));
    CHECK_FALSE(tend::selects(only, test("a", "x", {"slow"})));
    CHECK_FALSE(tend::selects(only, test("a", "x")));
    Selection skip;
    skip.skip_tags = {"slow"};
    CHECK_FALSE(tend::selects(skip, test("a", "x", {"db", "slow"})));
    CHECK(tend::selects(skip, test("a", "x", {"db"})));

    Selection ids;
    ids.ids = {{"math", "adds"}, {"", "loose"}};
    CHECK(tend::selects(ids, test("math", "adds")));
    CHECK(tend::selects(ids, test("", "loose")));
    CHECK_FALSE(tend::selects(ids, test("math", "loose")));
}

TEST_CASE("--run-ignored: which tests each word takes, and whether they run") {
    auto ignored = test("", "slow one");
    ignored.skip = true;  // doctest's skip(), gtest's DISABLED_
    const auto plain = test("", "quick one");

    Selection by_default;
    CHECK(by_default.all());
    CHECK_FALSE(by_default.runs_ignored());
    CHECK(tend::selects(by_default, ignored));  // taken, and reported skipped
    CHECK(tend::skipped_unrun(by_default, ignored));
    CHECK(tend::selects(by_default, plain));
    CHECK_FALSE(tend::skipped_unrun(by_default, plain));

    Selection only;
    only.run_ignored = tend::RunIgnored::only;
    CHECK_FALSE(only.all());
    CHECK(only.runs_ignored());
    CHECK(tend::selects(only, ignored));
    CHECK_FALSE(tend::skipped_unrun(only, ignored));
    CHECK_FALSE(tend::selects(only, plain));  // left out, as a filter leaves out

    Selection all;
    all.run_ignored = tend::RunIgnored::all;
    CHECK(all.all());
    CHECK(all.runs_ignored());
    CHECK(tend::selects(all, ignored));
    CHECK_FALSE(tend::skipped_unrun(all, ignored));
    CHECK(tend::selects(all, plain));

    // It narrows down with the other flags, never widens.
    only.filters = {"slow*"};
    CHECK(tend::selects(only, ignored));
    only.filters = {"quick*"};
    CHECK_FALSE(tend::selects(only, ignored));
    CHECK_FALSE(tend::selects(only, plain));
}

TEST_CASE("--run-ignored: the flag's words, and nothing else") {
    using tend::RunIgnored;
    for (auto r : {RunIgnored::by_default, RunIgnored::only, RunIgnored::all})
        CHECK(tend::run_ignored_from_string(tend::to_string(r)) == r);
    CHECK(tend::to_string(RunIgnored::by_default) == "default");
    CHECK_FALSE(tend::run_ignored_from_string("Only"));
    CHECK_FALSE(tend::run_ignored_from_string(""));
    CHECK_FALSE(tend::run_ignored_from_string("ignored"));
}
