// Helpers for the integration tests: run the real tend binary on fixture
// binaries and read what it printed.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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

/// The one result of the test `name` ("suite/name") in `tests` (Outcome::tests()):
/// fails the test case unless there is exactly one.
inline const nlohmann::json& only(const std::map<std::string, std::vector<nlohmann::json>>& tests,
                                  const std::string& name) {
    INFO(name);
    auto it = tests.find(name);
    REQUIRE(it != tests.end());
    REQUIRE(it->second.size() == 1);
    return it->second.front();
}

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

/// JSON objects of `text`, one a line (lines not starting with '{' skipped).
inline std::vector<nlohmann::json> json_lines(const std::string& text) {
    std::vector<nlohmann::json> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && line[0] == '{') out.push_back(nlohmann::json::parse(line));
    }
    return out;
}

/// In a forked child: becomes `tend ARGS...` (exit 127 if it cannot).
[[noreturn]] inline void exec_tend(const std::vector<std::string>& args) {
    std::vector<std::string> copy = args;
    std::string exe = tend_exe();
    std::vector<char*> argv{exe.data()};
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
}

/// Starts tend with `args` in the background, stdout to `out` and stderr to
/// `out`.err, with `env` ("NAME=value") added; returns its pid.
inline pid_t start_tend(const std::vector<std::string>& args, const std::string& out,
                        const std::vector<std::string>& env = {}) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
        const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int e = ::open((out + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int in = ::open("/dev/null", O_RDONLY);
        ::dup2(in, 0);
        ::dup2(o, 1);
        ::dup2(e, 2);
        exec_tend(args);
    }
    return pid;
}

/// Waits for `pid` at most `seconds`: its exit status as a shell gives it
/// (128+signal when killed), or -1 when it had to be killed for hanging.
inline int wait_for(pid_t pid, double seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    int status = 0;
    while (std::chrono::steady_clock::now() < until) {
        if (::waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ::usleep(10000);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return -1;
}

}  // namespace tend_test
