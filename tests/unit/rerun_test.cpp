// Shell quoting and the commands that re-run failed tests.
#include "report/rerun.hpp"

#include <doctest/doctest.h>

#include "report/terminal.hpp"

using tend::FailedTest;
using tend::rerun_commands;
using tend::shell_quote;

TEST_CASE("shell_quote: plain words stay as they are") {
    CHECK(shell_quote("math/adds") == "math/adds");
    CHECK(shell_quote("build/tests/a_b-c.d") == "build/tests/a_b-c.d");
    CHECK(shell_quote("x,y:z@1%2+3") == "x,y:z@1%2+3");
}

TEST_CASE("shell_quote: anything else goes in single quotes") {
    CHECK(shell_quote("") == "''");
    CHECK(shell_quote("fails a check") == "'fails a check'");
    CHECK(shell_quote("$HOME") == "'$HOME'");
    CHECK(shell_quote("a\\b") == "'a\\b'");
    CHECK(shell_quote("`cmd` $(cmd) !x *?[a]") == "'`cmd` $(cmd) !x *?[a]'");
    CHECK(shell_quote("~user") == "'~user'");
    CHECK(shell_quote("=cmd") == "'=cmd'");  // zsh expands a leading '='
    CHECK(shell_quote("a\"b") == "'a\"b'");
    CHECK(shell_quote("ünïcödé ✓") == "'ünïcödé ✓'");
    CHECK(shell_quote("smile\xf0\x9f\x98\x80") == "'smile\xf0\x9f\x98\x80'");
}

TEST_CASE("shell_quote: a single quote closes, is escaped, and opens again") {
    CHECK(shell_quote("it's") == "'it'\\''s'");
    CHECK(shell_quote("'") == "''\\'''");
    CHECK(shell_quote("a''b") == "'a'\\'''\\''b'");
}

TEST_CASE("shell_quote: control characters become printf octal escapes") {
    CHECK(shell_quote("bell\x07") == "\"$(printf -- 'bell\\007')\"");
    CHECK(shell_quote("a\tb\nc") == "\"$(printf -- 'a\\011b\\012c')\"");
    CHECK(shell_quote("\x1b[31mred") == "\"$(printf -- '\\033[31mred')\"");
    // printf's own: backslash and percent; and the quote as ever.
    CHECK(shell_quote("it's 100%\\\x7f") == "\"$(printf -- 'it'\\''s 100%%\\\\\\177')\"");
}

TEST_CASE("shell_quote: C1 controls and invalid UTF-8 become octal escapes too") {
    CHECK(shell_quote("csi \xc2\x9b"
                      "2J") == "\"$(printf -- 'csi \\302\\2332J')\"");
    CHECK(shell_quote("ff\xff ü") == "\"$(printf -- 'ff\\377 ü')\"");
    CHECK(shell_quote("overlong\xc0\xaf") == "\"$(printf -- 'overlong\\300\\257')\"");
}

TEST_CASE("shell_quote: what it gives prints as it is") {
    for (const std::string_view name : {"a\nb", "\x1b]0;title\x07", "bad \xff\xfe utf-8",
                                        "\xc2\x85nel", "it's \r 100%", "ünïcödé ✓"}) {
        const auto quoted = shell_quote(name);
        INFO(quoted);
        CHECK(tend::printable(quoted) == quoted);
    }
}

TEST_CASE("rerun_commands: one command per binary, in the order they failed") {
    const std::vector<FailedTest> failed{
        {"build/b", "math/fails a check"}, {"build/a", "loose"}, {"build/b", "it's"}};
    const auto commands = rerun_commands(failed);
    REQUIRE(commands.size() == 2);
    CHECK(commands[0] == "tend run build/b --exact 'math/fails a check' --exact 'it'\\''s'");
    CHECK(commands[1] == "tend run build/a --exact loose");
}

TEST_CASE("rerun_commands: words that would read as options") {
    const auto commands = rerun_commands({{"-weird bin", "-n"}});
    REQUIRE(commands.size() == 1);
    CHECK(commands[0] == "tend run './-weird bin' --exact=-n");
}

TEST_CASE("rerun_commands: none past the limit, none for nothing") {
    std::vector<FailedTest> failed;
    for (int i = 0; i < 10; ++i) failed.push_back({"t", "n" + std::to_string(i)});
    CHECK(rerun_commands(failed).size() == 1);
    failed.push_back({"t", "one too many"});
    CHECK(rerun_commands(failed).empty());
    CHECK(rerun_commands(failed, 11).size() == 1);
    CHECK(rerun_commands({}).empty());
}

TEST_CASE("rerun_commands: the run's flags a re-run needs come after the binary") {
    const auto commands = rerun_commands({{"build/a", "skipped"}, {"build/b", "x"}},
                                         tend::kRerunMaxTests, {"--run-ignored", "only"});
    REQUIRE(commands.size() == 2);
    CHECK(commands[0] == "tend run build/a --run-ignored only --exact skipped");
    CHECK(commands[1] == "tend run build/b --run-ignored only --exact x");
}
