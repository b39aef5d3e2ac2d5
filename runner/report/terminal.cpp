// Terminal facts and text measures: see terminal.hpp.
#include "report/terminal.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace tend {

namespace {
/// The character starting at `at`: its code point (-1 for a byte that does
/// not start a valid UTF-8 sequence: stray, truncated, overlong, an encoded
/// surrogate or past U+10FFFF) and its length in bytes.
std::pair<long, std::size_t> decode(std::string_view s, std::size_t at) {
    const auto b0 = static_cast<unsigned char>(s[at]);
    if (b0 < 0x80) return {b0, 1};
    std::size_t len = 0;
    long cp = 0;
    long min = 0;  // below it, an overlong form
    if ((b0 & 0xE0) == 0xC0) {
        len = 2;
        cp = b0 & 0x1F;
        min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3;
        cp = b0 & 0x0F;
        min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4;
        cp = b0 & 0x07;
        min = 0x10000;
    } else {
        return {-1, 1};
    }
    if (at + len > s.size()) return {-1, 1};
    for (std::size_t i = 1; i < len; ++i) {
        const auto b = static_cast<unsigned char>(s[at + i]);
        if ((b & 0xC0) != 0x80) return {-1, 1};
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {-1, 1};
    return {cp, len};
}

std::size_t char_width(long cp) {
    if (cp < 0) return 1;  // shown as U+FFFD
    if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) ||
        (cp >= 0xFE00 && cp <= 0xFE0F)) {
        return 0;
    }
    const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                      (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                      (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
                      (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD);
    return wide ? 2 : 1;
}
}  // namespace

When parse_when(std::string_view word) {
    if (word == "always") return When::always;
    if (word == "never") return When::never;
    return When::automatic;
}

bool use_color(When when, bool stdout_is_tty, const char* no_color, const char* term) {
    if (when != When::automatic) return when == When::always;
    if (no_color && *no_color) return false;
    if (term && std::strcmp(term, "dumb") == 0) return false;
    return stdout_is_tty;
}

bool use_progress(When when, bool stdout_is_tty, const char* term) {
    if (when != When::automatic) return when == When::always;
    if (term && std::strcmp(term, "dumb") == 0) return false;
    return stdout_is_tty;
}

std::size_t terminal_width(int fd) {
    winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) != 0) return 0;
    return ws.ws_col;
}

std::size_t display_width(std::string_view text) {
    std::size_t width = 0;
    for (std::size_t i = 0; i < text.size();) {
        const auto [cp, len] = decode(text, i);
        width += char_width(cp);
        i += len;
    }
    return width;
}

std::size_t shown_as_is(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto [cp, len] = decode(text, i);
        if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) break;  // cp -1: invalid
        i += len;
    }
    return i;
}

std::string printable(std::string_view text, Lines lines) {
    std::string out;
    out.reserve(text.size());
    while (!text.empty()) {
        const auto n = shown_as_is(text);
        out.append(text.substr(0, n));
        text.remove_prefix(n);
        if (text.empty()) break;
        // One byte at a time: what follows a stray byte is looked at afresh.
        const char c = text.front();
        text.remove_prefix(1);
        if (lines == Lines::keep && (c == '\n' || c == '\t')) {
            out += c;
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else {
            out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        }
    }
    return out;
}

std::string_view fit_width(std::string_view text, std::size_t columns) {
    std::size_t width = 0;
    for (std::size_t i = 0; i < text.size();) {
        const auto [cp, len] = decode(text, i);
        width += char_width(cp);
        if (width > columns) return text.substr(0, i);
        i += len;
    }
    return text;
}

}  // namespace tend
