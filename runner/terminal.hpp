// What the human output needs to know about terminals: whether to use
// colours and a progress line (decided from plain facts, so it is testable
// without one), how wide a terminal is, how many columns text takes, and
// how to show text that carries control characters without letting them act.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tend {

/// --color / --progress: on a terminal only, always, never.
enum class When { automatic, always, never };

/// "always" and "never"; anything else is automatic (the flag checks its words).
When parse_when(std::string_view word);

/// Colours on? `no_color` is $NO_COLOR (https://no-color.org: set and not
/// empty turns them off), `term` is $TERM ("dumb" cannot show them); both
/// may be null. Only `automatic` looks at them: a flag wins over the
/// environment.
bool use_color(When when, bool stdout_is_tty, const char* no_color, const char* term);

/// The progress line on? It needs a terminal that understands \r and
/// "erase to the end of the line", so not TERM=dumb.
bool use_progress(When when, bool stdout_is_tty, const char* term);

/// Columns of the terminal on `fd`; 0 when it is not a terminal or will not say.
std::size_t terminal_width(int fd);

/// Columns `text` (UTF-8) takes on a terminal: East Asian wide characters
/// and emoji take two, combining marks none, anything else (an invalid byte
/// too) one. An approximation of wcwidth that needs no locale.
std::size_t display_width(std::string_view text);

/// `text` with control characters (C0 and DEL) written as escapes (\t, \n,
/// \r, \xNN), so that a test name cannot move the cursor or break a line.
std::string printable(std::string_view text);

/// The longest prefix of `text` that fits in `columns`, cut on a character
/// boundary.
std::string_view fit_width(std::string_view text, std::size_t columns);

}  // namespace tend
