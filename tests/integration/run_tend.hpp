// Helpers for the integration tests: run the real tend binary on fixture
// binaries and read what it printed.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace tend_test {

inline std::string env_or_die(const char* name) {
    const char* v = std::getenv(name);
    if (!v) {
        std::fprintf(stderr, "integration tests need %s (run them with meson test)\n", name);
        std::exit(2);
    }
    return v;
}

inline std::string tend_exe() {
    return env_or_die("TEND_EXE");
}
inline std::string fixture(const std::string& name) {
    return env_or_die("TEND_FIXTURES") + "/" + name;
}

inline std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

struct Outcome {
    int exit_code = -1;
    std::string out;
    std::string err;
    std::vector<nlohmann::json> events;

    /// Test events by "suite/name".
    std::map<std::string, std::vector<nlohmann::json>> tests() const {
        std::map<std::string, std::vector<nlohmann::json>> by_name;
        for (const auto& e : events) {
            if (e["event"] == "test") {
                by_name[e["suite"].get<std::string>() + "/" + e["name"].get<std::string>()]
                    .push_back(e);
            }
        }
        return by_name;
    }
    std::vector<nlohmann::json> of(const std::string& kind) const {
        std::vector<nlohmann::json> out;
        for (const auto& e : events) {
            if (e["event"] == kind) out.push_back(e);
        }
        return out;
    }
};

inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Runs `tend ARGS...` with `env_prefix` (VAR=value ...) and parses JSON lines
/// from stdout when they look like JSON.
inline Outcome run_tend(const std::vector<std::string>& args, const std::string& env_prefix = "") {
    static int counter = 0;
    const std::string base =
        "/tmp/tend-it-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    std::string cmd = env_prefix + " " + shell_quote(tend_exe());
    for (const auto& a : args) cmd += " " + shell_quote(a);
    cmd += " >" + base + ".out 2>" + base + ".err </dev/null";
    const int status = std::system(cmd.c_str());
    Outcome o;
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    o.out = slurp(base + ".out");
    o.err = slurp(base + ".err");
    std::remove((base + ".out").c_str());
    std::remove((base + ".err").c_str());
    std::istringstream lines(o.out);
    for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && line[0] == '{') o.events.push_back(nlohmann::json::parse(line));
    }
    return o;
}

}  // namespace tend_test
