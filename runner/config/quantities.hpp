// Sizes and durations as people type them (flags, tend.toml) and read them
// (reports): parsing and formatting in one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tend {

/// "512MiB", "1GiB", "1.5G", "4096": binary suffixes (K, M, G, T with or
/// without "iB") are powers of 1024, "KB", "MB", "GB", "TB" powers of 1000.
/// On failure `error` says what was wrong.
std::optional<std::uint64_t> parse_size(std::string_view text, std::string& error);

/// Non-negative seconds, fractional allowed: "0.5", "30", "2.5s".
std::optional<double> parse_seconds(std::string_view text, std::string& error);

/// "1.2 GiB", "512.0 MiB", "17 B".
std::string format_bytes(double bytes);

}  // namespace tend
