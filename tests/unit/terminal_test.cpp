// Terminal decisions and text measures.
#include "report/terminal.hpp"

#include <doctest/doctest.h>

using tend::When;

TEST_CASE("parse_when") {
    CHECK(tend::parse_when("always") == When::always);
    CHECK(tend::parse_when("never") == When::never);
    CHECK(tend::parse_when("auto") == When::automatic);
}

TEST_CASE("use_color: flags win; auto wants a terminal, no NO_COLOR, not TERM=dumb") {
    CHECK(tend::use_color(When::always, false, "1", "dumb"));
    CHECK_FALSE(tend::use_color(When::never, true, nullptr, "xterm"));
    CHECK(tend::use_color(When::automatic, true, nullptr, "xterm"));
    CHECK(tend::use_color(When::automatic, true, nullptr, nullptr));
    CHECK(tend::use_color(When::automatic, true, "", "xterm"));  // set but empty: no effect
    CHECK_FALSE(tend::use_color(When::automatic, true, "1", "xterm"));
    CHECK_FALSE(tend::use_color(When::automatic, true, "0", "xterm"));  // any value
    CHECK_FALSE(tend::use_color(When::automatic, false, nullptr, "xterm"));
    CHECK_FALSE(tend::use_color(When::automatic, true, nullptr, "dumb"));
}

TEST_CASE("use_progress: flags win; auto wants a terminal that is not dumb") {
    CHECK(tend::use_progress(When::always, false, "dumb"));
    CHECK_FALSE(tend::use_progress(When::never, true, "xterm"));
    CHECK(tend::use_progress(When::automatic, true, "xterm-256color"));
    CHECK_FALSE(tend::use_progress(When::automatic, false, "xterm"));
    CHECK_FALSE(tend::use_progress(When::automatic, true, "dumb"));
}

TEST_CASE("display_width: wide, combining and invalid") {
    CHECK(tend::display_width("") == 0);
    CHECK(tend::display_width("abc") == 3);
    CHECK(tend::display_width("ünïcödé ✓") == 9);
    CHECK(tend::display_width("e\xcc\x81") == 1);         // e + combining acute
    CHECK(tend::display_width("日本") == 4);              // wide
    CHECK(tend::display_width("\xf0\x9f\x98\x80") == 2);  // U+1F600
    CHECK(tend::display_width("\xff\xc0") == 2);          // invalid bytes: one each
    CHECK(tend::display_width("\xe2\x82") == 2);          // truncated sequence
}

TEST_CASE("fit_width: cuts on a character boundary") {
    CHECK(tend::fit_width("abcdef", 3) == "abc");
    CHECK(tend::fit_width("abc", 10) == "abc");
    CHECK(tend::fit_width("abc", 0).empty());
    CHECK(tend::fit_width("ü✓x", 2) == "ü✓");
    CHECK(tend::fit_width("a日本", 2) == "a");  // half a wide character does not fit
    CHECK(tend::fit_width("a日本", 3) == "a日");
    CHECK(tend::fit_width("e\xcc\x81x", 1) == "e\xcc\x81");  // the mark stays with its letter
}

TEST_CASE("printable: control characters are written as escapes") {
    CHECK(tend::printable("plain ü ✓ 日本 \xf0\x9f\x98\x80") == "plain ü ✓ 日本 \xf0\x9f\x98\x80");
    CHECK(tend::printable("a\tb\nc\rd") == "a\\tb\\nc\\rd");
    CHECK(tend::printable("bell\x07 esc\x1b[31m del\x7f") == "bell\\x07 esc\\x1b[31m del\\x7f");
    CHECK(tend::printable(std::string_view("nul\0end", 7)) == "nul\\x00end");
    // Window title (OSC ... BEL), screen clear, cursor home.
    CHECK(tend::printable("\x1b]0;pwned\x07\x1b[2J\x1b[H") == "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[H");
    CHECK(tend::printable("back\\slash \\x1b") == "back\\slash \\x1b");  // kept as is
}

TEST_CASE("printable: C1 controls and invalid UTF-8 are escaped byte by byte") {
    CHECK(tend::printable("csi \xc2\x9b"
                          "2J nel \xc2\x85") == "csi \\xc2\\x9b2J nel \\xc2\\x85");
    CHECK(tend::printable("\xc2\xa0nbsp") == "\xc2\xa0nbsp");  // U+00A0 is no control
    CHECK(tend::printable("stray \x9b"
                          "2J") == "stray \\x9b2J");
    CHECK(tend::printable("ff\xff") == "ff\\xff");
    CHECK(tend::printable("overlong \xc0\xaf esc \xc0\x9b") ==
          "overlong \\xc0\\xaf esc \\xc0\\x9b");
    CHECK(tend::printable("surrogate \xed\xa0\x80!") == "surrogate \\xed\\xa0\\x80!");
    CHECK(tend::printable("truncated \xe2\x82") == "truncated \\xe2\\x82");
    CHECK(tend::printable("past U+10FFFF \xf4\x90\x80\x80") ==
          "past U+10FFFF \\xf4\\x90\\x80\\x80");
    // A stray byte does not swallow the valid character after it.
    CHECK(tend::printable("\xe2\xe2\x9c\x93") == "\\xe2\xe2\x9c\x93");
}

TEST_CASE("printable: text with lines keeps its line breaks and tabs, nothing else") {
    using tend::Lines;
    CHECK(tend::printable("one\ntwo\n", Lines::keep) == "one\ntwo\n");
    CHECK(tend::printable("a\tb", Lines::keep) == "a\tb");
    CHECK(tend::printable("dos\r\n", Lines::keep) == "dos\\r\n");
    CHECK(tend::printable("progress 10%\rprogress 20%\n", Lines::keep) ==
          "progress 10%\\rprogress 20%\n");
    CHECK(tend::printable("\x1b[31mred\x1b[0m\n", Lines::keep) == "\\x1b[31mred\\x1b[0m\n");
    CHECK(tend::printable(std::string_view("\0\x7f\x0b\x0c", 4), Lines::keep) ==
          "\\x00\\x7f\\x0b\\x0c");
}

TEST_CASE("shown_as_is: the bytes before the first one that needs an escape") {
    CHECK(tend::shown_as_is("") == 0);
    CHECK(tend::shown_as_is("abc") == 3);
    CHECK(tend::shown_as_is("ab\ncd") == 2);
    CHECK(tend::shown_as_is("ü\x1b") == 2);
    CHECK(tend::shown_as_is("ü\xc2\x9b") == 2);
    CHECK(tend::shown_as_is("ok\xff") == 2);
}
