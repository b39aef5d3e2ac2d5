// Re-run commands: see rerun.hpp.
#include "report/rerun.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "report/terminal.hpp"

namespace tend {

namespace {
/// Characters that mean nothing to a shell anywhere in a word. Not `=`
/// (zsh expands a word starting with it) nor `~`.
bool plain(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '/' || c == ',' || c == ':' || c == '@' || c == '%' ||
           c == '+';
}

}  // namespace

std::string shell_quote(std::string_view text) {
    if (!text.empty() && std::all_of(text.begin(), text.end(), plain)) return std::string(text);
    std::string out;
    if (shown_as_is(text) != text.size()) {
        // printf's format turns \ooo back into the byte; `\` and `%` are
        // its own, so they are doubled. What a terminal would not show as
        // it is (printable()) goes in as \ooo, so the command prints as it
        // runs.
        out = "\"$(printf -- '";
        while (!text.empty()) {
            const auto n = shown_as_is(text);
            for (const char c : text.substr(0, n)) {
                if (c == '\'') {
                    out += "'\\''";
                } else if (c == '\\') {
                    out += "\\\\";
                } else if (c == '%') {
                    out += "%%";
                } else {
                    out += c;
                }
            }
            text.remove_prefix(n);
            if (text.empty()) break;
            out += fmt::format("\\{:03o}", static_cast<unsigned char>(text.front()));
            text.remove_prefix(1);
        }
        return out + "')\"";
    }
    out = "'";
    for (const char c : text) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

std::vector<std::string> rerun_commands(const std::vector<FailedTest>& failed,
                                        std::size_t max_tests,
                                        const std::vector<std::string>& flags) {
    std::vector<std::string> commands;
    if (failed.empty() || failed.size() > max_tests) return commands;
    std::vector<std::string> binaries;
    for (const auto& f : failed) {
        if (std::find(binaries.begin(), binaries.end(), f.binary) == binaries.end()) {
            binaries.push_back(f.binary);
        }
    }
    for (const auto& binary : binaries) {
        // A word starting with '-' would read as an option.
        std::string command =
            "tend run " + shell_quote(binary.starts_with('-') ? "./" + binary : binary);
        for (const auto& word : flags) command += " " + shell_quote(word);
        for (const auto& f : failed) {
            if (f.binary != binary) continue;
            command += f.name.starts_with('-') ? " --exact=" : " --exact ";
            command += shell_quote(f.name);
        }
        commands.push_back(std::move(command));
    }
    return commands;
}

}  // namespace tend
