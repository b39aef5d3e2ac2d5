// Hostile workers and tests: every wait tend does has a bound, and what a
// worker finished is never lost (issue 9). Each case drives the real tend on
// the `hostile` fixture or on a script that never speaks the protocol; every
// run is itself bounded by timeout(1), so a hang fails the case instead of
// hanging the suite.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "run_tend.hpp"

using namespace tend_test;

namespace {

/// A shell script at a fresh path, executable.
std::string script(const std::string& name, const std::string& body) {
    const std::string path = "/tmp/tend-hostile-" + std::to_string(::getpid()) + "-" + name + ".sh";
    if (std::FILE* f = std::fopen(path.c_str(), "w")) {
        std::fprintf(f, "#!/bin/sh\n%s\n", body.c_str());
        std::fclose(f);
    }
    ::chmod(path.c_str(), 0755);
    return path;
}

/// Runs tend bounded by `limit` seconds (then SIGKILL): a hang shows as 137.
Outcome bounded(std::vector<std::string> args, int limit = 60, const std::string& env = "") {
    return run_tend(args, env + " timeout -s KILL " + std::to_string(limit));
}

/// The final event of each test, by "suite/name".
std::map<std::string, nlohmann::json> finals(const Outcome& o) {
    std::map<std::string, nlohmann::json> out;
    for (const auto& [name, events] : o.tests()) {
        for (const auto& e : events) {
            if (e.value("final", true)) out[name] = e;
        }
    }
    return out;
}

std::size_t count_final(const Outcome& o, const std::string& name) {
    std::size_t n = 0;
    const auto all = o.tests();
    const auto it = all.find(name);
    if (it == all.end()) return 0;
    for (const auto& e : it->second) n += e.value("final", true) ? 1 : 0;
    return n;
}

std::string errors_of(const Outcome& o) {
    std::string all;
    for (const auto& e : o.of("error")) all += e.dump() + "\n";
    return all;
}

/// tend started in the background, its output in files, until it exits.
struct Background {
    pid_t pid = -1;
    std::string base;
    std::string marker;

    explicit Background(const std::vector<std::string>& args, const std::string& env_name = "",
                        const std::string& env_value = "") {
        static int counter = 0;
        base =
            "/tmp/tend-hostile-bg-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        marker = base + ".marker";
        std::remove(marker.c_str());
        std::vector<std::string> env{"TEND_FIXTURE_MARKER=" + marker};
        if (!env_name.empty()) env.push_back(env_name + "=" + env_value);
        pid = start_tend(args, base + ".out", env);
    }
    /// Waits (at most 20 s) until the fixture marked `what`.
    bool wait_marker(const std::string& what) const {
        for (int i = 0; i < 1000; ++i) {
            if (slurp(marker).find(what) != std::string::npos) return true;
            ::usleep(20000);
        }
        return false;
    }
    /// Waits (at most `limit` seconds) for tend to exit; its status as a
    /// shell gives it (128+signal when killed), or -1 on a hang (then killed).
    int wait(int limit = 30) { return wait_for(pid, limit); }
    /// tend's children now (its workers).
    std::vector<pid_t> children() const {
        std::vector<pid_t> out;
        const std::string text =
            slurp("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
        std::size_t at = 0;
        while (at < text.size()) {
            const auto end = text.find(' ', at);
            const std::string one = text.substr(at, end - at);
            if (!one.empty()) out.push_back(static_cast<pid_t>(std::stol(one)));
            if (end == std::string::npos) break;
            at = end + 1;
        }
        return out;
    }
    std::string out() const { return slurp(base + ".out"); }
    std::string err() const { return slurp(base + ".out.err"); }
    ~Background() {
        std::remove((base + ".out").c_str());
        std::remove((base + ".out.err").c_str());
        std::remove(marker.c_str());
    }
};

/// Whether `pid` is still a live process (a zombie counts as gone).
bool alive(pid_t pid) {
    const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    if (stat.empty()) return false;
    const auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

/// Waits up to 5 s for every process of `pids` to be gone.
bool all_gone(const std::vector<pid_t>& pids) {
    for (int i = 0; i < 250; ++i) {
        bool any = false;
        for (const pid_t p : pids) any |= alive(p);
        if (!any) return true;
        ::usleep(20000);
    }
    return false;
}

}  // namespace

TEST_SUITE("hostile: bounded waits") {
    TEST_CASE("a scope teardown that never returns is killed at --timeout; the next unit runs") {
        const auto o =
            bounded({"run", fixture("hostile"), "--suite", "teardown_hangs", "--suite",
                     "after_teardown", "-j", "1", "--timeout", "1", "--json", "--no-daemon"});
        CHECK(o.exit_code == 1);
        const auto f = finals(o);
        CHECK(f.at("teardown_hangs/registers a teardown that never returns")["status"] == "passed");
        CHECK(f.at("teardown_hangs/passes before the teardown")["status"] == "passed");
        CHECK(f.at("after_teardown/runs on a fresh worker")["status"] == "passed");
        const auto errors = errors_of(o);
        CHECK(errors.find("teardown still running after 1 s") != std::string::npos);
        CHECK(errors.find("\"fails_run\":true") != std::string::npos);
    }

    TEST_CASE("--teardown-timeout bounds a teardown without --timeout") {
        const auto o = bounded({"run", fixture("hostile"), "--suite", "teardown_hangs", "-j", "1",
                                "--teardown-timeout", "0.5", "--json", "--no-daemon"});
        CHECK(o.exit_code == 1);
        CHECK(errors_of(o).find("teardown still running after 0.5 s") != std::string::npos);
        CHECK(o.of("summary").at(0)["passed"] == 2);
    }

    TEST_CASE("a worker that never says hello is given up after --startup-timeout, exit 3") {
        const std::vector<std::pair<std::string, std::string>> never = {
            {"sleeps", "exec sleep 3600"},
            {"chatters", "while :; do echo garbage; done"},
            {"closes-results", "exec 4>&-\nexec sleep 3600"},
            {"half-header", "printf 'TN\\000' >&4\nexec sleep 3600"},
        };
        for (const auto& [name, body] : never) {
            INFO(name);
            const auto binary = script(name, body);
            const auto listed = bounded({"list", binary, "--startup-timeout", "0.5"});
            CHECK(listed.exit_code == 3);
            CHECK(listed.err.find(binary + ": no hello from worker") != std::string::npos);
            CHECK(listed.err.find("within 0.5 s (--startup-timeout)") != std::string::npos);
            const auto ran = bounded({"run", binary, fixture("basic"), "--startup-timeout", "0.5",
                                      "--json", "--no-daemon"});
            CHECK(ran.exit_code == 3);
            CHECK(errors_of(ran).find("no hello from worker") != std::string::npos);
            CHECK(ran.of("summary").at(0)["total"] > 0);  // the other binary ran
            std::remove(binary.c_str());
        }
    }

    TEST_CASE("a replacement worker that stalls before hello does not hang the run") {
        const std::string state =
            "/tmp/tend-hostile-" + std::to_string(::getpid()) + "-first-started";
        std::remove(state.c_str());
        // The first worker is the real crashing fixture; every later one hangs.
        const auto binary =
            script("stalls-later", "if [ -e " + state + " ]; then exec sleep 3600; fi\ntouch " +
                                       state + "\nexec " + fixture("crashing"));
        const auto o = bounded(
            {"run", binary, "-j", "1", "--startup-timeout", "0.5", "--json", "--no-daemon"});
        CHECK(o.exit_code == 3);
        CHECK(errors_of(o).find("no hello from worker") != std::string::npos);
        // Every test is reported once: what did not run says so.
        for (const auto& [name, events] : o.tests()) {
            INFO(name);
            CHECK(count_final(o, name) == 1);
        }
        CHECK(o.of("summary").at(0)["not_run"] > 0);
        std::remove(binary.c_str());
        std::remove(state.c_str());
    }

    TEST_CASE("a binary given up while its other worker runs: that unit's rest is reported") {
        // The second worker never says hello: the binary is given up at 1 s.
        // The first is running suite "a" then, whose first test crashes at
        // 2 s: the test after it can run nowhere and is reported not_run.
        // With --retries too: a crash in a binary given up is not retried.
        for (const std::string retries : {"0", "2"}) {
            CAPTURE(retries);
            const std::string starts =
                "/tmp/tend-hostile-" + std::to_string(::getpid()) + "-starts";
            std::remove(starts.c_str());
            const auto o = bounded({"run", fixture("given_up"), "-j", "2", "--startup-timeout", "1",
                                    "--retries", retries, "--json", "--no-daemon"},
                                   60, "TEND_FIXTURE_STARTS=" + starts);
            CHECK(o.exit_code == 3);
            const auto f = finals(o);
            REQUIRE(f.count("a/crashes late") == 1);
            CHECK(f.at("a/crashes late")["status"] == "crashed");
            REQUIRE(f.count("a/after the crash") == 1);
            CHECK(f.at("a/after the crash")["status"] == "not_run");
            REQUIRE(f.count("b/waits for the second worker") == 1);
            CHECK(f.at("b/waits for the second worker")["status"] == "not_run");
            REQUIRE(o.of("summary").size() == 1);
            CHECK(o.of("summary")[0]["total"] == 3);
            std::remove(starts.c_str());
        }
    }

    TEST_CASE("tend list interrupted while discovery hangs exits 130") {
        const auto binary = script("list-hangs",
                                   "echo started >> \"$TEND_FIXTURE_MARKER\"\n"
                                   "exec sleep 3600");
        Background tend({"list", binary});
        REQUIRE(tend.wait_marker("started"));
        ::kill(tend.pid, SIGINT);
        CHECK(tend.wait() == 130);
        std::remove(binary.c_str());
    }
}

TEST_SUITE("hostile: bounded waits") {
    TEST_CASE("a worker stuck between two tests is bounded by the unit's time limit") {
        const auto o = bounded({"run", fixture("hostile"), "--suite", "between", "-j", "1",
                                "--timeout", "1", "--json", "--no-daemon"},
                               60, "TEND_HANG_BETWEEN='waits behind a hung listener'");
        CHECK(o.exit_code == 1);
        const auto f = finals(o);
        CHECK(f.at("between/passes before the hang")["status"] == "passed");
        const auto stuck = f.at("between/waits behind a hung listener");
        CHECK(stuck["status"] == "timed_out");
        CHECK(stuck["detail"].get<std::string>().find("did not begin") != std::string::npos);
        CHECK(o.of("summary").at(0)["workers"]["started"] == 1);
    }

    TEST_CASE("tests ending right at --timeout: each reported once, tend never aborts") {
        for (int round = 0; round < 3; ++round) {
            const auto o =
                bounded({"run", fixture("hostile"), "--suite", "near_limit", "-j", "2", "--timeout",
                         "0.05", "--max-worker-deaths", "100", "--json", "--no-daemon"});
            INFO(o.err);
            CHECK((o.exit_code == 0 || o.exit_code == 1));
            REQUIRE(o.of("summary").size() == 1);
            CHECK(o.of("summary")[0]["total"] == 12);
            CHECK(o.tests().size() == 12);
            for (const auto& [name, events] : o.tests()) CHECK(events.size() == 1);
            // No teardown error made up from a timeout.
            for (const auto& e : o.of("error")) {
                CHECK(e["message"].get<std::string>().find("teardown") == std::string::npos);
            }
        }
    }
}

TEST_SUITE("hostile: a corrupted result stream") {
    TEST_CASE("bytes written on the result descriptor cost the test that wrote them") {
        for (const char* suite : {"bare_header", "junk_block"}) {
            INFO(suite);
            const auto o = bounded(
                {"run", fixture("hostile"), "--suite", suite, "-j", "1", "--json", "--no-daemon"});
            CHECK(o.exit_code == 1);
            const auto f = finals(o);
            const std::string s(suite);
            const std::string writer =
                s == "bare_header" ? "/writes a bare frame length" : "/writes 4 KiB of junk";
            CHECK(f.at(s + writer)["status"] == "error");
            CHECK(f.at(s + writer)["detail"].get<std::string>().find("not a frame header") !=
                  std::string::npos);
            CHECK(f.at(s + "/passes first")["status"] == "passed");
            CHECK(f.at(s + "/runs after the junk")["status"] == "passed");
            for (const auto& [name, events] : o.tests()) CHECK(count_final(o, name) == 1);
        }
    }

    TEST_CASE("a worker waiting for a command while tend waits for it is caught in seconds") {
        const auto started = std::chrono::steady_clock::now();
        const auto o = bounded({"run", fixture("hostile"), "--suite", "hijack", "--suite",
                                "after_teardown", "-j", "1", "--json", "--no-daemon"});
        const auto took = std::chrono::steady_clock::now() - started;
        CHECK(o.exit_code == 1);
        CHECK(errors_of(o).find("the worker waits for a command while tend waits for") !=
              std::string::npos);
        CHECK(finals(o).at("after_teardown/runs on a fresh worker")["status"] == "passed");
        // Not a timing assertion: a hang would take the whole timeout(1).
        CHECK(took < std::chrono::seconds(30));
    }

    TEST_CASE("a detached thread reading the command descriptor does not hang the run") {
        const auto o = bounded({"run", fixture("hostile"), "--suite", "thief", "--suite",
                                "after_teardown", "-j", "1", "--json", "--no-daemon"});
        CHECK(o.exit_code != 137);
        CHECK(finals(o).at("thief/starts a thread that reads commands")["status"] == "passed");
        CHECK(finals(o).at("after_teardown/runs on a fresh worker")["status"] == "passed");
    }

    TEST_CASE("a result forged by the test, then death, is an error, not a pass") {
        const auto o = bounded(
            {"run", fixture("hostile"), "--suite", "forger", "-j", "1", "--json", "--no-daemon"});
        CHECK(o.exit_code == 1);
        const auto f = finals(o);
        CHECK(f.at("forger/forges its own pass and exits")["status"] == "error");
        CHECK(f.at("forger/passes first")["status"] == "passed");
    }
}

TEST_SUITE("hostile: results the worker finished") {
    TEST_CASE("a stopped or SIGTERM-ignoring worker: the test that passed is reported passed") {
        for (const char* suite : {"stops_itself", "ignores_term"}) {
            INFO(suite);
            Background tend({"run", fixture("hostile"), "--suite", suite, "-j", "1", "--grace",
                             "0.2", "--json", "--no-daemon"});
            REQUIRE(
                tend.wait_marker(std::string(suite) == "stops_itself" ? "stopping" : "hanging"));
            ::kill(tend.pid, SIGINT);
            CHECK(tend.wait() == 130);
            Outcome o;
            o.events = json_lines(tend.out());
            const auto f = finals(o);
            CHECK(f.at(std::string(suite) + "/passes first")["status"] == "passed");
        }
    }

    TEST_CASE("a finished test is reported while the test after it still runs") {
        // Its result sits in the worker's batch until the next test ends;
        // tend takes it from the batch area instead of waiting for that.
        Background tend(
            {"run", fixture("hanging"), "--suite", "hangs", "-j", "1", "--json", "--no-daemon"});
        REQUIRE(tend.wait_marker("sleeping"));
        bool seen = false;
        for (int i = 0; i < 500 && !seen; ++i) {
            for (const auto& e : json_lines(tend.out())) {
                seen |=
                    e["event"] == "test" && e["name"] == "quick before" && e["status"] == "passed";
            }
            if (!seen) ::usleep(20000);
        }
        CHECK(seen);
        CHECK(::waitpid(tend.pid, nullptr, WNOHANG) == 0);  // still running
        const auto workers = tend.children();
        ::kill(tend.pid, SIGKILL);
        tend.wait();
        CHECK(all_gone(workers));
    }

    TEST_CASE("a test whose own SIGSEGV handler exits 0 keeps what it printed") {
        const auto o = bounded({"run", fixture("hostile"), "--suite", "own_handler", "-j", "1",
                                "--json", "--no-daemon"});
        CHECK(o.exit_code == 1);
        const auto t = finals(o).at("own_handler/prints, then dies in a handler of its own");
        CHECK(t["status"] == "crashed");
        CHECK(t["stdout"] == "printed before the crash\n");
        CHECK(t["stderr"] == "complained before the crash\n");
    }

    TEST_CASE("doctest timeouts out of range: clamped or ignored for that test alone") {
        const auto o = bounded(
            {"run", fixture("hostile"), "--suite", "timeouts", "-j", "1", "--json", "--no-daemon"});
        const auto f = finals(o);
        CHECK(f.at("timeouts/a huge timeout")["status"] == "passed");
        CHECK(f.at("timeouts/a NaN timeout")["status"] == "passed");
        CHECK(f.at("timeouts/no timeout")["status"] == "passed");
        // doctest itself fails a test with a negative timeout, alone too.
        CHECK(f.at("timeouts/a negative timeout")["status"] == "failed");
        std::string warnings;
        for (const auto& e : o.of("error")) warnings += e.dump();
        CHECK(warnings.find("'timeouts/a negative timeout' (-1)") != std::string::npos);
        CHECK(warnings.find("\"fails_run\":false") != std::string::npos);
        const auto listed = bounded({"list", fixture("hostile")});
        CHECK(listed.exit_code == 0);
        CHECK(listed.out.find("timeouts/a negative timeout") != std::string::npos);
    }

    TEST_CASE("each unit starts in the worker's directory, umask and signal mask") {
        char cwd[4096];
        REQUIRE(::getcwd(cwd, sizeof cwd));
        const auto o = bounded({"run", fixture("hostile"), "--suite", "changes_state", "--suite",
                                "sees_state", "-j", "1", "--json", "--no-daemon"},
                               60, "TEND_EXPECTED_CWD=" + shell_quote(cwd));
        CHECK(o.exit_code == 0);
        CHECK(finals(o).at("sees_state/starts where the worker started")["status"] == "passed");
    }
}

TEST_SUITE("hostile: workers die with tend") {
    TEST_CASE("SIGKILL of tend run: its workers die with it") {
        Background tend({"run", fixture("hanging"), "-j", "2", "--no-daemon"});
        REQUIRE(tend.wait_marker("sleeping"));
        const auto workers = tend.children();
        REQUIRE(!workers.empty());
        ::kill(tend.pid, SIGKILL);
        CHECK(tend.wait() == 128 + SIGKILL);
        CHECK(all_gone(workers));
        for (const pid_t p : workers) ::kill(p, SIGKILL);  // leave nothing either way
    }

    TEST_CASE("SIGKILL of tend run: what the tests started dies too") {
        Background tend(
            {"run", fixture("hostile"), "--suite", "leaves_a_child", "-j", "1", "--no-daemon"});
        REQUIRE(tend.wait_marker("child "));
        const auto text = slurp(tend.marker);
        const pid_t child = static_cast<pid_t>(std::stol(text.substr(text.find("child ") + 6)));
        REQUIRE(alive(child));
        ::kill(tend.pid, SIGKILL);
        CHECK(tend.wait() == 128 + SIGKILL);
        CHECK(all_gone({child}));
        ::kill(child, SIGKILL);
    }

    TEST_CASE("SIGHUP is handled like SIGTERM: results and summary, then 129") {
        Background tend(
            {"run", fixture("hanging"), "-j", "1", "--grace", "0.2", "--json", "--no-daemon"});
        REQUIRE(tend.wait_marker("sleeping"));
        const auto workers = tend.children();
        ::kill(tend.pid, SIGHUP);
        CHECK(tend.wait() == 128 + SIGHUP);
        const auto events = json_lines(tend.out());
        bool summary = false, shutdown = false;
        for (const auto& e : events) {
            summary |= e["event"] == "summary";
            if (e["event"] == "shutdown") {
                shutdown = true;
                CHECK(e["signal"] == "SIGHUP");
            }
        }
        CHECK(summary);
        CHECK(shutdown);
        CHECK(all_gone(workers));
    }
}
