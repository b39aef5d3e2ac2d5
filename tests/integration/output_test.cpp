// What tend writes, under stress: names and output that try to drive the
// terminal, a run killed while results are coming in, and options given
// twice.
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "run_tend.hpp"

using namespace tend_test;

namespace {

/// The bytes a terminal would obey that human output must never hold.
void check_no_raw_controls(const std::string& text) {
    INFO(text);
    CHECK(text.find('\x1b') == std::string::npos);
    CHECK(text.find('\r') == std::string::npos);
    CHECK(text.find('\0') == std::string::npos);
    CHECK(text.find('\x07') == std::string::npos);
    CHECK(text.find('\x7f') == std::string::npos);
    CHECK(text.find("\xc2\x9b") == std::string::npos);
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

std::string shell_output(const std::string& command) {
    std::string out;
    if (std::FILE* p = ::popen(command.c_str(), "r")) {
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        ::pclose(p);
    }
    return out;
}

bool exists(const std::string& path) {
    return ::access(path.c_str(), F_OK) == 0;
}

/// The test events of a JSON lines file that passed, by "suite/name"; every
/// line must be whole JSON.
std::vector<std::string> passed_in(const std::string& jsonl) {
    std::vector<std::string> names;
    std::size_t from = 0;
    for (auto nl = jsonl.find('\n'); nl != std::string::npos; nl = jsonl.find('\n', from)) {
        const auto j = nlohmann::json::parse(jsonl.substr(from, nl - from));
        if (j["event"] == "test" && j["status"] == "passed") {
            names.push_back(j["suite"].get<std::string>() + "/" + j["name"].get<std::string>());
        }
        from = nl + 1;
    }
    return names;
}

/// Kills every process running `exe` with `marker` in its environment (the
/// workers of a tend that was SIGKILLed), their process groups too, and
/// waits (bounded) until they are gone.
void kill_workers(const std::string& exe, const std::string& marker) {
    const std::string wanted = "TEND_FIXTURE_MARKER=" + marker;
    for (int round = 0; round < 250; ++round) {
        bool any = false;
        if (DIR* proc = ::opendir("/proc")) {
            while (const dirent* d = ::readdir(proc)) {
                const std::string pid = d->d_name;
                if (pid.empty() || !std::all_of(pid.begin(), pid.end(), ::isdigit)) continue;
                char target[4096];
                const auto n =
                    ::readlink(("/proc/" + pid + "/exe").c_str(), target, sizeof target - 1);
                if (n <= 0 || std::string(target, static_cast<std::size_t>(n)) != exe) continue;
                const std::string env = slurp("/proc/" + pid + "/environ");
                if (env.find(wanted + '\0') == std::string::npos) continue;
                any = true;
                ::kill(-std::stoi(pid), SIGKILL);
                ::kill(std::stoi(pid), SIGKILL);
            }
            ::closedir(proc);
        }
        if (!any) return;
        ::usleep(20'000);
    }
    FAIL_CHECK("workers of " << exe << " still alive after SIGKILL");
}
}  // namespace

TEST_SUITE("output") {
    TEST_CASE("control characters never reach the terminal raw: run, recap, list") {
        const auto bin = fixture("terminal_hostile");
        const auto run = run_tend({"run", bin, "-j", "1", "--no-daemon"});
        CHECK(run.exit_code == 1);
        check_no_raw_controls(run.out);
        check_no_raw_controls(run.err);
        const std::string suite = "term \\x1b]0;pwned\\x07 suite";
        INFO(run.out);
        // Names on one line, \n shown; output keeps its line breaks.
        CHECK(run.out.find("   FAIL [") != std::string::npos);
        CHECK(run.out.find("s] " + suite + "/name with\\nnewline\n") != std::string::npos);
        CHECK(run.out.find("s] " + suite + "/cr\\rand esc\\x1b[2J\n") != std::string::npos);
        CHECK(run.out.find("\\x1b]0;window title\\x07\\x1b[2J\\x1b[Hcleared\\rover\n") !=
              std::string::npos);
        CHECK(run.out.find("nul \\x00 del \\x7f csi \\xc2\\x9b31m\n") != std::string::npos);
        CHECK(run.out.find("message \\x1b[31mred\\x1b[0m\\rcr\n") != std::string::npos);
        CHECK(run.out.find("second line\n") != std::string::npos);
        // The re-run command prints safely and still selects those very tests.
        std::string command;
        for (std::size_t from = 0, nl; (nl = run.out.find('\n', from)) != std::string::npos;
             from = nl + 1) {
            const auto line = run.out.substr(from, nl - from);
            if (const auto at = line.find("or: tend run "); at != std::string::npos) {
                command = line.substr(at + 13);
            }
        }
        REQUIRE(!command.empty());
        const std::string raw_suite = "term \x1b]0;pwned\x07 suite";
        CHECK(shell_output("printf '%s|' " + command) == bin + "|--exact|" + raw_suite +
                                                             "/name with\nnewline|--exact|" +
                                                             raw_suite + "/cr\rand esc\x1b[2J|");

        const auto list = run_tend({"list", bin});
        CHECK(list.exit_code == 0);
        check_no_raw_controls(list.out);
        CHECK(list.out == suite + "/name with\\nnewline\n" + suite + "/cr\\rand esc\\x1b[2J\n" +
                              suite + "/passes plainly\n");
        // JSON stays exact.
        const auto json = run_tend({"list", bin, "--json"});
        REQUIRE(json.events.size() == 3);
        CHECK(json.events[0]["suite"] == raw_suite);
        CHECK(json.events[0]["name"] == "name with\nnewline");
        CHECK(count_of(json.out, "\n") == 3);
    }

    TEST_CASE("a killed run leaves every result it had: --json-file, human output to a pipe") {
        const std::string base = "/tmp/tend-stream-" + std::to_string(::getpid());
        const std::string json_file = base + ".jsonl", junit = base + ".xml",
                          marker = base + ".marker";
        for (const auto& p : {json_file, junit, junit + ".tmp", marker}) std::remove(p.c_str());
        int out[2];
        REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
        const pid_t tend = ::fork();
        if (tend == 0) {
            ::dup2(out[1], STDOUT_FILENO);
            const int devnull = ::open("/dev/null", O_RDWR);
            ::dup2(devnull, STDIN_FILENO);
            ::dup2(devnull, STDERR_FILENO);
            ::setenv("TEND_FIXTURE_MARKER", marker.c_str(), 1);
            const std::string exe = tend_exe(), bin = fixture("streaming");
            ::execl(exe.c_str(), exe.c_str(), "run", bin.c_str(), "-j", "2", "--no-daemon",
                    "--json-file", json_file.c_str(), "--junit", junit.c_str(), nullptr);
            ::_exit(127);
        }
        ::close(out[1]);
        ::fcntl(out[0], F_SETFL, O_NONBLOCK);
        std::string human;
        auto read_pipe = [&](int timeout_ms) {
            pollfd p{out[0], POLLIN, 0};
            if (::poll(&p, 1, timeout_ms) <= 0) return false;
            char buf[4096];
            const auto n = ::read(out[0], buf, sizeof buf);
            if (n > 0) human.append(buf, static_cast<std::size_t>(n));
            return n != 0;  // 0: end of file
        };

        // While the never-ending test runs (bounded: 60 s), tend has
        // written each of the eight results that came before.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        bool streamed = false;
        while (std::chrono::steady_clock::now() < deadline) {
            read_pipe(50);
            if (exists(marker) && passed_in(slurp(json_file)).size() == 8 &&
                count_of(human, "   PASS [") == 8) {
                streamed = true;
                break;
            }
        }
        int status = 0;
        const bool still_running = ::waitpid(tend, &status, WNOHANG) == 0;
        ::kill(tend, SIGKILL);
        ::waitpid(tend, &status, 0);
        kill_workers(fixture("streaming"), marker);
        const auto seen = slurp(json_file);
        INFO("json file: " << seen);
        INFO("human output: " << human);
        CHECK(still_running);
        CHECK(streamed);

        // After SIGKILL: the file and the pipe still hold them, whole.
        while (read_pipe(5000)) {
        }
        ::close(out[0]);
        auto passed = passed_in(slurp(json_file));
        std::sort(passed.begin(), passed.end());
        CHECK(passed == std::vector<std::string>{"quick 1/passes", "quick 2/passes",
                                                 "quick 3/passes", "quick 4/passes",
                                                 "quick 5/passes", "quick 6/passes",
                                                 "quick 7/passes", "quick 8/passes"});
        CHECK(count_of(human, "   PASS [") == 8);
        CHECK(human.ends_with("\n"));
        // JUnit appears when the run ends, whole: a killed run leaves none.
        CHECK_FALSE(exists(junit));
        for (const auto& p : {json_file, junit, junit + ".tmp", marker}) std::remove(p.c_str());
    }

    TEST_CASE("a single-valued option given twice: the last one wins") {
        // -j: workers started is the last value.
        const auto two =
            run_tend({"run", fixture("sleepy"), "-j", "1", "-j", "2", "--no-daemon", "--json"});
        INFO(two.err);
        CHECK(two.exit_code == 0);
        REQUIRE(!two.of("summary").empty());
        CHECK(two.of("summary").back()["workers"]["started"] == 2);
        const auto one =
            run_tend({"run", fixture("sleepy"), "-j", "4", "--jobs=1", "--no-daemon", "--json"});
        CHECK(one.exit_code == 0);
        REQUIRE(!one.of("summary").empty());
        CHECK(one.of("summary").back()["workers"]["started"] == 1);

        // Files: only the last one is written.
        const std::string base = "/tmp/tend-twice-" + std::to_string(::getpid());
        const auto run = run_tend({"run", fixture("sleepy"), "--no-daemon", "--json-file",
                                   base + ".a.jsonl", "--json-file", base + ".b.jsonl", "--junit",
                                   base + ".a.xml", "--junit", base + ".b.xml", "--color", "always",
                                   "--color", "never", "--timeout", "0.01", "--timeout", "none"});
        INFO(run.err);
        CHECK(run.exit_code == 0);
        CHECK_FALSE(exists(base + ".a.jsonl"));
        CHECK(exists(base + ".b.jsonl"));
        CHECK_FALSE(exists(base + ".a.xml"));
        CHECK(exists(base + ".b.xml"));
        CHECK(run.out.find('\x1b') == std::string::npos);
        for (const char* p : {".a.jsonl", ".b.jsonl", ".a.xml", ".b.xml"}) {
            std::remove((base + p).c_str());
        }

        // Repeatable options still take every value.
        const auto list = run_tend({"list", fixture("basic"), "-f", "math/adds", "-f", "loose*"});
        CHECK(list.out == "math/adds\nloose test\n");

        // The other subcommands: the daemon's socket, serve's -j.
        const auto status = run_tend(
            {"status", "--socket", "/nonexistent/a.sock", "--socket", "/nonexistent/b.sock"});
        CHECK(status.exit_code == 3);
        CHECK(status.err.find("/nonexistent/b.sock") != std::string::npos);
        CHECK(status.err.find("/nonexistent/a.sock") == std::string::npos);
        const auto serve = run_tend({"serve", "--stdio", "-j", "2", "-j", "3"});
        INFO(serve.err);
        CHECK(serve.exit_code == 0);
    }
}
