// Size and duration parsing: see quantities.hpp.
#include "config/quantities.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

namespace tend {

namespace {
std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

/// Splits "1.5GiB" into 1.5 and "GiB".
std::optional<double> leading_number(std::string_view s, std::string_view& rest) {
    std::size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return std::nullopt;
    double v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + i, v);
    if (ec != std::errc() || ptr != s.data() + i) return std::nullopt;
    rest = trim(s.substr(i));
    return v;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}
}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text, std::string& error) {
    const auto s = trim(text);
    std::string_view unit;
    const auto number = leading_number(s, unit);
    if (!number) {
        error = "'" + std::string(text) + "' is not a size (try 512MiB, 1GiB or a byte count)";
        return std::nullopt;
    }
    struct Suffix {
        std::string_view name;
        double factor;
    };
    static constexpr Suffix kSuffixes[] = {
        {"", 1},
        {"b", 1},
        {"k", 1024.0},
        {"kib", 1024.0},
        {"kb", 1e3},
        {"m", 1048576.0},
        {"mib", 1048576.0},
        {"mb", 1e6},
        {"g", 1073741824.0},
        {"gib", 1073741824.0},
        {"gb", 1e9},
        {"t", 1099511627776.0},
        {"tib", 1099511627776.0},
        {"tb", 1e12},
    };
    for (const auto& suffix : kSuffixes) {
        if (iequals(unit, suffix.name)) {
            const double bytes = *number * suffix.factor;
            if (!std::isfinite(bytes) || bytes >= 1.8e19) {
                error = "'" + std::string(text) + "' is too large";
                return std::nullopt;
            }
            return static_cast<std::uint64_t>(std::llround(bytes));
        }
    }
    error = "'" + std::string(text) + "' has an unknown unit '" + std::string(unit) +
            "' (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)";
    return std::nullopt;
}

std::optional<double> parse_seconds(std::string_view text, std::string& error) {
    const auto s = trim(text);
    std::string_view unit;
    const auto number = leading_number(s, unit);
    if (!number || !(unit.empty() || unit == "s") || !std::isfinite(*number)) {
        error = "'" + std::string(text) + "' is not a number of seconds (try 30 or 0.5)";
        return std::nullopt;
    }
    return *number;
}

std::string format_bytes(double bytes) {
    static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) return fmt::format("{:.0f} B", bytes);
    int unit = -1;
    while (bytes >= 1024 && unit < 3) {
        bytes /= 1024;
        ++unit;
    }
    return fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

}  // namespace tend
