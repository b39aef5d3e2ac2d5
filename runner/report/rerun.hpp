// The command lines that run again exactly the tests that failed, printed
// at the end of a run for a person to copy: shell quoting and one
// `tend run BINARY --exact NAME...` per binary.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tend {

/// `text` as one word for a POSIX shell: as is when it holds only
/// characters no shell treats specially, else in single quotes with each
/// `'` written `'\''`. Text that a terminal would not show as it is (a
/// newline, a tab, an escape, a C1 control, invalid UTF-8: see printable())
/// becomes "$(printf -- '...')" with those bytes as octal escapes, so the
/// command stays one printable line that prints as it runs; a trailing
/// newline is lost that way (command substitution drops it).
std::string shell_quote(std::string_view text);

/// A test that failed: its binary as tend was given it, and its name as
/// --exact takes it (`suite/name`, or the name alone outside a suite).
struct FailedTest {
    std::string binary;
    std::string name;
};

/// Failed tests past which no re-run command is printed.
inline constexpr std::size_t kRerunMaxTests = 10;

/// One `tend run BINARY [FLAGS] --exact NAME...` per binary, in the order
/// the binaries first failed; none when more than `max_tests` tests failed
/// (such a command is no longer something to copy). `flags` are words of
/// the run that a re-run needs too (`--run-ignored only`: without it a test
/// the framework skips would be reported skipped, not run again).
std::vector<std::string> rerun_commands(const std::vector<FailedTest>& failed,
                                        std::size_t max_tests = kRerunMaxTests,
                                        const std::vector<std::string>& flags = {});

}  // namespace tend
