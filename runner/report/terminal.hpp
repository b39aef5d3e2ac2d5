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

/// How many bytes at the start of `text` a terminal shows as they are:
/// characters of valid UTF-8 that are not control characters. It stops at
/// the first C0 control (tab and newline too), DEL, C1 control (U+0080 to
/// U+009F, which some terminals obey as ESC sequences even in UTF-8) and
/// the first byte of anything that is not valid UTF-8 (a stray byte, a
/// truncated or overlong sequence, an encoded surrogate).
std::size_t shown_as_is(std::string_view text);

/// What printable() does with line breaks and tabs.
enum class Lines {
    one,  ///< a single-line field (a name, a file): \n and \t are escaped too
    keep  ///< text with lines (output, a message): \n and \t stay, the rest is escaped
};

/// `text` made safe for a terminal: every byte shown_as_is() stops at is
/// written as an escape, `\n`, `\t`, `\r` for those, `\xNN` (lowercase
/// hex) for any other, NUL, ESC, DEL, each byte of a C1 control and each
/// byte of invalid UTF-8 included. So a test cannot set the window title,
/// clear the screen, move the cursor or break a name over two lines. A
/// backslash stays as it is: `\x1b` in the text and an escaped ESC look
/// alike (as with `cat -v`); JSON output has the exact bytes.
std::string printable(std::string_view text, Lines lines = Lines::one);

/// The longest prefix of `text` that fits in `columns`, cut on a character
/// boundary.
std::string_view fit_width(std::string_view text, std::size_t columns);

}  // namespace tend
