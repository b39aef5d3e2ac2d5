// Terminal decisions and text measures.
#include "terminal.hpp"

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
    CHECK(tend::printable("plain ü ✓") == "plain ü ✓");
    CHECK(tend::printable("a\tb\nc\rd") == "a\\tb\\nc\\rd");
    CHECK(tend::printable("bell\x07 esc\x1b[31m del\x7f") == "bell\\x07 esc\\x1b[31m del\\x7f");
}
