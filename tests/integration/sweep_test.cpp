// After any run -- passing, failing, crashing, timed out, interrupted --
// nothing tend or its tests started is left: no orphan still running, no
// zombie nobody reaps.
//
// Each run happens under a harness process that is a child subreaper
// (prctl PR_SET_CHILD_SUBREAPER): whatever tend leaves behind when it exits,
// alive or a zombie, becomes the harness's child, where it can be counted.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "run_tend.hpp"

using namespace tend_test;

namespace {

struct Sweep {
    int tend_exit = -1;     ///< tend's exit status, 128+signal when killed
    std::string leftovers;  ///< "pid cmdline" of each process left behind
};

/// Lists the harness's children, then kills and reaps them. Runs in the harness.
std::string collect_children() {
    std::string found;
    // Let processes tend killed on its way out finish dying (they are then
    // zombies of ours, which is not a leftover of tend's); at most 2 s.
    for (int i = 0; i < 100; ++i) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == ECHILD) return found;  // none at all: clean
        if (pid > 0) {
            // A zombie tend never reaped, or a process that died just now.
            // Either way tend left it behind.
            found += std::to_string(pid) + " (ended, not reaped by tend)\n";
            continue;
        }
        ::usleep(20000);
    }
    const std::string children =
        slurp("/proc/self/task/" + std::to_string(::getpid()) + "/children");
    for (std::size_t at = 0; at < children.size();) {
        const auto end = children.find(' ', at);
        const std::string pid = children.substr(at, end - at);
        if (!pid.empty()) {
            std::string cmd = slurp("/proc/" + pid + "/cmdline");
            for (char& c : cmd) c = c == '\0' ? ' ' : c;
            found += pid + " " + cmd + "\n";
            ::kill(std::stoi(pid), SIGKILL);
        }
        if (end == std::string::npos) break;
        at = end + 1;
    }
    while (::waitpid(-1, nullptr, 0) > 0) {
    }
    return found;
}

/// Runs tend with `args` under a subreaper harness. With `ready`, waits for
/// the fixture to write it to its marker file, then sends SIGINT.
Sweep sweep(const std::vector<std::string>& args, const std::string& ready = "") {
    const std::string base = "/tmp/tend-sweep-" + std::to_string(::getpid());
    const std::string report = base + ".report", marker = base + ".marker";
    std::remove(report.c_str());
    std::remove(marker.c_str());
    const pid_t harness = ::fork();
    if (harness == 0) {
        ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        ::setenv("TEND_FIXTURE_MARKER", marker.c_str(), 1);
        const pid_t tend = ::fork();
        if (tend == 0) {
            const int devnull = ::open("/dev/null", O_RDWR);
            ::dup2(devnull, 0);
            ::dup2(devnull, 1);
            ::dup2(devnull, 2);
            exec_tend(args);
        }
        if (!ready.empty()) {
            for (int i = 0; i < 1000 && slurp(marker).find(ready) == std::string::npos; ++i)
                ::usleep(20000);
            ::kill(tend, SIGINT);
        }
        int status = 0;
        ::waitpid(tend, &status, 0);
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        const std::string left = collect_children();
        if (std::FILE* f = std::fopen(report.c_str(), "w")) {
            std::fprintf(f, "%d\n%s", code, left.c_str());
            std::fclose(f);
        }
        ::_exit(0);
    }
    ::waitpid(harness, nullptr, 0);
    Sweep s;
    const std::string text = slurp(report);
    std::remove(report.c_str());
    std::remove(marker.c_str());
    const auto nl = text.find('\n');
    if (nl != std::string::npos) {
        s.tend_exit = std::stoi(text.substr(0, nl));
        s.leftovers = text.substr(nl + 1);
    }
    return s;
}

}  // namespace

TEST_SUITE("nothing left behind") {
    TEST_CASE("after every kind of run, no orphan and no zombie remains") {
        struct Kind {
            const char* what;
            std::vector<std::string> args;
            int exit;
            std::string ready = {};
        };
        const std::vector<Kind> kinds = {
            {"passing", {"run", fixture("scoped"), "-j", "2"}, 0},
            {"failing", {"run", fixture("basic"), "-j", "2"}, 1},
            {"crashing", {"run", fixture("crashing"), "-j", "2"}, 1},
            {"timed out", {"run", fixture("hanging"), "-j", "2", "--timeout", "0.3"}, 1},
            {"doctest timeout", {"run", fixture("slow"), "-j", "2"}, 1},
            {"garbage on the protocol", {"run", fixture("garbage"), "-j", "2"}, 1},
            {"forks, zombies, escapees", {"run", fixture("misbehaving"), "-j", "2"}, 1},
            {"retried", {"run", fixture("crashing"), "-j", "2", "--retries", "1"}, 1},
            {"fail-fast", {"run", fixture("basic"), "-j", "1", "--fail-fast"}, 1},
            {"interrupted",
             {"run", fixture("hanging"), "-j", "2", "--grace", "0.2"},
             130,
             "sleeping"},
            {"teardown that never returns",
             {"run", fixture("hostile"), "--suite", "teardown_hangs", "--teardown-timeout", "0.3"},
             1},
            {"junk on the result descriptor",
             {"run", fixture("hostile"), "--suite", "junk_block"},
             1},
            {"command descriptor replaced", {"run", fixture("hostile"), "--suite", "hijack"}, 1},
            {"forged result", {"run", fixture("hostile"), "--suite", "forger"}, 1},
            {"a worker that stopped itself, interrupted",
             {"run", fixture("hostile"), "--suite", "stops_itself", "--grace", "0.2"},
             130,
             "stopping"},
            {"a worker ignoring SIGTERM, interrupted",
             {"run", fixture("hostile"), "--suite", "ignores_term", "--grace", "0.2"},
             130,
             "hanging"},
        };
        for (const auto& k : kinds) {
            INFO(std::string(k.what));
            const auto s = sweep(k.args, k.ready);
            CHECK(s.tend_exit == k.exit);
            CHECK(s.leftovers == "");
        }
    }
}
