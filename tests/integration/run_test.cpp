// `tend run` end to end: real tend, real worker processes built from the
// fixtures in tests/fixtures.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "run_tend.hpp"

using namespace tend_test;
using nlohmann::json;

namespace {
/// Runs the misbehaving fixture, whose tests write the pid of a process they
/// start to the file named by `env`; sets `pid` from it (0 if none).
Outcome run_misbehaving_for_pid(const std::string& env, long& pid) {
    const std::string marker = "/tmp/tend-it-" + env + "-" + std::to_string(::getpid());
    std::remove(marker.c_str());
    auto o = run_tend({"run", fixture("misbehaving"), "-j", "1", "--json"},
                      env + "=" + shell_quote(marker));
    const auto text = slurp(marker);
    std::remove(marker.c_str());
    pid = text.empty() ? 0 : std::stol(text);
    return o;
}

/// Every test has exactly one final event.
void check_each_reported_once(const std::map<std::string, std::vector<nlohmann::json>>& tests) {
    for (const auto& [name, events] : tests) {
        INFO(name);
        CHECK(events.size() == 1);
    }
}

/// Every test event carries both health readings (this is Linux).
void check_health(const Outcome& o) {
    for (const auto& e : o.of("test")) {
        if (e["status"] == "not_run" || e["status"] == "crashed") continue;
        INFO(e.dump());
        CHECK(e["health"]["rss_bytes"].is_number_unsigned());
        CHECK(e["health"]["rss_bytes"].get<std::uint64_t>() > 0);
        CHECK(e["health"]["open_fds"].is_number_unsigned());
        CHECK(e["health"]["open_fds"].get<std::uint64_t>() >= 3);
    }
}

/// No recycle in the middle of a unit: all tests of a suite ran on one
/// worker, and that worker's recycle comes after the suite's last result.
void check_recycles_at_unit_boundaries(const Outcome& o) {
    std::map<std::string, std::set<long>> pids_by_suite;
    std::map<long, std::size_t> last_test_index;
    std::map<long, std::size_t> recycle_index;
    for (std::size_t i = 0; i < o.events.size(); ++i) {
        const auto& e = o.events[i];
        if (e["event"] == "test") {
            const long pid = e["worker_pid"].get<long>();
            pids_by_suite[e["suite"].get<std::string>()].insert(pid);
            last_test_index[pid] = i;
        } else if (e["event"] == "recycle") {
            const long pid = e["worker_pid"].get<long>();
            CHECK_MESSAGE(recycle_index.count(pid) == 0, "worker recycled twice");
            recycle_index[pid] = i;
        }
    }
    for (const auto& [suite, pids] : pids_by_suite) {
        INFO("suite " << suite);
        CHECK(pids.size() == 1);
    }
    for (const auto& [pid, at] : recycle_index) {
        REQUIRE(last_test_index.count(pid));
        CHECK(last_test_index[pid] < at);
    }
}
}  // namespace

TEST_SUITE("tend run") {
    TEST_CASE("reports every outcome of a mixed suite, once each, with details") {
        auto o = run_tend({"run", fixture("basic"), "-j", "2", "--json"});
        CHECK(o.exit_code == 1);
        auto tests = o.tests();
        CHECK(tests.size() == 11);
        check_each_reported_once(tests);
        CHECK(tests["math/adds"][0]["status"] == "passed");
        CHECK(tests["/loose test"][0]["status"] == "passed");
        CHECK(tests["/skipped"][0]["status"] == "skipped");

        const auto& check = tests["math/fails a check"][0];
        CHECK(check["status"] == "failed");
        REQUIRE(check["failures"].size() == 1);
        CHECK(check["failures"][0]["kind"] == "CHECK_EQ");
        CHECK(check["failures"][0]["expression"] == "1, expected");
        CHECK(check["failures"][0]["expanded"] == "1, 2");
        CHECK(check["failures"][0]["line"].get<int>() > 0);
        CHECK(check["failures"][0]["file"].get<std::string>().find("basic.cpp") !=
              std::string::npos);

        const auto& thrown = tests["math/throws"][0];
        CHECK(thrown["status"] == "failed");
        REQUIRE(thrown["failures"].size() == 1);
        CHECK(thrown["failures"][0]["kind"] == "exception");
        CHECK(thrown["failures"][0]["message"] == "boom");

        const auto& sub = tests["math/fails in a subcase"][0];
        REQUIRE(sub["failures"].size() == 1);
        CHECK(sub["failures"][0]["subcase"] == "outer / inner");

        const auto& ctx = tests["math/fails with context"][0];
        REQUIRE(ctx["failures"].size() == 1);
        CHECK(ctx["failures"][0]["kind"] == "FAIL_CHECK");
        CHECK(ctx["failures"][0]["message"] == "explicit failure\ncontext value 42");

        for (const char* name : {"names/name, with comma", "names/star * and question ?",
                                 "names/brackets [tag] and {braces}", "names/ünïcödé ✓"}) {
            INFO(name);
            REQUIRE(tests.count(name));
            CHECK(tests[name][0]["status"] == "passed");
        }
        auto summary = o.of("summary");
        REQUIRE(summary.size() == 1);
        CHECK(o.events.back()["event"] == "summary");
        CHECK(summary[0]["total"] == 11);
        CHECK(summary[0]["passed"] == 6);
        CHECK(summary[0]["failed"] == 4);
        CHECK(summary[0]["skipped"] == 1);
        check_health(o);
    }

    TEST_CASE("a worker that leaks memory is recycled for memory, only between units") {
        auto o = run_tend({"run", fixture("leaky_mem"), "-j", "1", "--max-rss", "20MiB",
                           "--max-fds", "none", "--max-age", "none", "--json"});
        CHECK(o.exit_code == 0);
        CHECK(o.tests().size() == 9);
        auto recycles = o.of("recycle");
        CHECK(recycles.size() == 3);  // every unit leaks 24 MiB
        for (const auto& r : recycles) {
            CHECK(r["reason"] == "memory");
            CHECK(r["detail"].get<std::string>().find("≥ limit 20.0 MiB") != std::string::npos);
        }
        check_recycles_at_unit_boundaries(o);
        check_health(o);
        // The second test of a unit was already over the limit, and still
        // ran on the same worker.
        auto tests = o.tests();
        CHECK(tests["leak_a/a3"][0]["health"]["rss_bytes"].get<std::uint64_t>() >= (20u << 20));
        REQUIRE(o.of("summary").size() == 1);
        auto summary = o.of("summary")[0];
        CHECK(summary["workers"]["recycled"]["memory"] == 3);
        CHECK(summary["workers"]["started"] == 3);
    }

    TEST_CASE("a worker that leaks descriptors is recycled for fds") {
        auto o = run_tend({"run", fixture("leaky_fds"), "-j", "1", "--max-fds", "40", "--max-rss",
                           "none", "--max-age", "none", "--json"});
        CHECK(o.exit_code == 0);
        auto recycles = o.of("recycle");
        CHECK(recycles.size() == 2);
        for (const auto& r : recycles) {
            CHECK(r["reason"] == "fds");
            CHECK(r["detail"].get<std::string>().find("open fds") == 0);
        }
        check_recycles_at_unit_boundaries(o);
        // Descriptor counts grow by 20 a test within a unit.
        auto tests = o.tests();
        const auto a1 = tests["fds_a/a1"][0]["health"]["open_fds"].get<long>();
        const auto a3 = tests["fds_a/a3"][0]["health"]["open_fds"].get<long>();
        CHECK(a3 - a1 == 40);
    }

    TEST_CASE("memory is checked before descriptors when both are over") {
        auto o = run_tend({"run", fixture("leaky_mem"), "-j", "1", "--max-rss", "1MiB", "--max-fds",
                           "1", "--max-age", "0", "--json"});
        auto recycles = o.of("recycle");
        CHECK(recycles.size() == 3);
        for (const auto& r : recycles) CHECK(r["reason"] == "memory");
    }

    TEST_CASE("a tiny max-age recycles at every unit boundary") {
        auto o = run_tend({"run", fixture("scoped"), "-j", "1", "--max-age", "0.000001", "--json"});
        CHECK(o.exit_code == 0);
        auto recycles = o.of("recycle");
        CHECK(recycles.size() == 3);
        for (const auto& r : recycles) CHECK(r["reason"] == "age");
        check_recycles_at_unit_boundaries(o);
    }

    TEST_CASE("no limits, no recycles: units share warm workers") {
        auto o = run_tend({"run", fixture("leaky_mem"), "-j", "1", "--max-rss", "none", "--max-fds",
                           "none", "--max-age", "none", "--json"});
        CHECK(o.exit_code == 0);
        CHECK(o.of("recycle").empty());
        std::set<long> pids;
        for (const auto& e : o.of("test")) pids.insert(e["worker_pid"].get<long>());
        CHECK(pids.size() == 1);
    }

    TEST_CASE("scope teardown runs once per unit, before a recycled worker exits") {
        const std::string marker = "/tmp/tend-it-marker-" + std::to_string(::getpid());
        for (const char* max_age : {"0", "none"}) {
            std::remove(marker.c_str());
            INFO("--max-age " << max_age);
            auto o = run_tend({"run", fixture("scoped"), "-j", "1", "--max-age", max_age, "--json"},
                              "TEND_FIXTURE_MARKER=" + shell_quote(marker));
            CHECK(o.exit_code == 0);
            CHECK(o.tests().size() == 5);
            std::istringstream lines(slurp(marker));
            std::vector<std::pair<std::string, std::string>> notes;  // (what, pid)
            for (std::string line; std::getline(lines, line);) {
                const auto sp = line.rfind(' ');
                notes.emplace_back(line.substr(0, sp), line.substr(sp + 1));
            }
            std::map<std::string, int> teardowns;
            for (std::size_t i = 0; i < notes.size(); ++i) {
                const auto& [what, pid] = notes[i];
                if (what.rfind("teardown ", 0) != 0) continue;
                ++teardowns[what];
                // This worker exits later, never before its teardown.
                bool exit_after = false;
                for (std::size_t j = i + 1; j < notes.size(); ++j) {
                    if (notes[j].second == pid && notes[j].first == "exit") exit_after = true;
                }
                CHECK_MESSAGE(exit_after,
                              what << " in worker " << pid << " not followed by its exit");
            }
            CHECK(teardowns == std::map<std::string, int>{{"teardown scope_a", 1},
                                                          {"teardown scope_b", 1},
                                                          {"teardown scope_c", 1}});
            for (const auto& r : o.of("recycle")) {
                const auto pid = std::to_string(r["worker_pid"].get<long>());
                CHECK(std::count(notes.begin(), notes.end(),
                                 std::make_pair(std::string("exit"), pid)) == 1);
            }
        }
        std::remove(marker.c_str());
    }

    TEST_CASE("a test printing megabytes does not disturb the protocol") {
        auto o = run_tend({"run", fixture("noisy"), "-j", "1", "--json"});
        CHECK(o.exit_code == 0);
        auto tests = o.tests();
        REQUIRE(tests.size() == 4);
        for (const auto& [name, events] : tests) {
            INFO(name);
            REQUIRE(events.size() == 1);
            CHECK(events[0]["status"] == "passed");
        }
        const auto flood_out =
            tests["noise/floods stdout and stderr"][0]["stdout"].get<std::string>();
        const auto flood_err =
            tests["noise/floods stdout and stderr"][0]["stderr"].get<std::string>();
        CHECK(flood_out.rfind("[tend: ", 0) == 0);
        CHECK(flood_out.find("earlier bytes of this output dropped") != std::string::npos);
        CHECK(flood_out.size() <= (1u << 20) + 200);
        CHECK(flood_out.size() >= (1u << 20));
        CHECK(flood_out.substr(flood_out.size() - 20) == "last line of stdout\n");
        CHECK(flood_err.rfind("[tend: ", 0) == 0);
        CHECK(flood_err.size() <= (1u << 20) + 200);
        const auto& little = tests["noise/prints a little"][0];
        CHECK(little["stdout"] == "hello from the test\nno newline at the end");
        CHECK(little["stderr"] == "to stderr\n");
        CHECK(tests["noise/quiet after the flood"][0]["stdout"] == "");
        const std::string fake("\0\0\0\5hello", 9);
        CHECK(tests["noise/writes frame-like bytes to stdout"][0]["stdout"] == fake);
    }

    TEST_CASE("a crash costs only the test that was running") {
        auto o = run_tend({"run", fixture("crashing"), "-j", "1", "--json"});
        CHECK(o.exit_code == 1);
        auto tests = o.tests();
        CHECK(tests.size() == 11);
        check_each_reported_once(tests);
        const auto& seg = tests["crashy/segfaults"][0];
        CHECK(seg["status"] == "crashed");
        const auto detail = seg["detail"].get<std::string>();
        CHECK(detail.find("killed by signal 11") != std::string::npos);
        CHECK(seg["stdout"].get<std::string>().find("about to crash") !=
              std::string::npos);  // its captured stdout
        CHECK(tests["crashy/before the crash"][0]["status"] == "passed");
        CHECK(tests["crashy/after the crash"][0]["status"] == "passed");
        CHECK(tests["crashy/last of the unit"][0]["status"] == "passed");
        // The rest of the unit ran on a fresh worker.
        CHECK(tests["crashy/after the crash"][0]["worker_pid"] != seg["worker_pid"]);
        CHECK(tests["exits/calls exit"][0]["status"] == "crashed");
        CHECK(tests["exits/calls exit"][0]["detail"].get<std::string>().find(
                  "exited with status 0") != std::string::npos);
        CHECK(tests["exits/after exit"][0]["status"] == "passed");
        // SIGKILL: no handler runs, batched results of the fast tests before
        // it are lost; the status page still names the test that was running.
        const auto& killed = tests["killed/kills itself"][0];
        CHECK(killed["status"] == "crashed");
        CHECK(killed["detail"].get<std::string>().find("killed by signal 9") != std::string::npos);
        CHECK(tests["killed/fast 1"][0]["status"] == "passed");
        CHECK(tests["killed/fast 2"][0]["status"] == "passed");
        CHECK(tests["killed/after the kill"][0]["status"] == "passed");
        REQUIRE(o.of("summary").size() == 1);
        auto summary = o.of("summary")[0];
        CHECK(summary["crashed"] == 3);
        CHECK(summary["passed"] == 8);
    }

    TEST_CASE("several binaries in one run") {
        auto o = run_tend(
            {"run", fixture("basic"), fixture("noisy"), fixture("scoped"), "-j", "2", "--json"});
        CHECK(o.exit_code == 1);
        CHECK(o.of("test").size() == 11 + 4 + 5);
        std::set<std::string> binaries;
        for (const auto& e : o.of("test")) binaries.insert(e["binary"].get<std::string>());
        CHECK(binaries.size() == 3);
    }

    TEST_CASE("human output: one line per test and a summary") {
        auto o = run_tend({"run", fixture("scoped"), "-j", "1", "--max-age", "0", "-v"});
        CHECK(o.exit_code == 0);
        CHECK(o.out.find("  PASS [") != std::string::npos);
        CHECK(o.out.find("scope_a/a1\n") != std::string::npos);
        CHECK(o.out.find("RECYCLE worker") != std::string::npos);
        CHECK(o.out.find("age ") != std::string::npos);
        CHECK(o.out.find("Summary [") != std::string::npos);
        CHECK(o.out.find("5 tests: 5 passed, 0 failed") != std::string::npos);
        CHECK(o.out.find("Workers: 3 started, 3 recycled (0 memory, 0 fds, 3 age), 0 crashed") !=
              std::string::npos);
    }
}

TEST_SUITE("spare workers") {
    TEST_CASE("a recycled worker's replacement starts while its unit runs: its place never waits") {
        // Workers take 300 ms to say hello; each unit takes 700 ms and ends
        // in a recycle (--max-age 0). Three units, two replacements.
        const std::string env = "TEND_SLOW_START_MS=300 TEND_UNIT_MS=700";
        const auto run = [&](bool spares) {
            std::vector<std::string> args{
                "run", fixture("slow_start"), "-j", "1", "--max-age", "0", "--json"};
            if (!spares) args.push_back("--no-spares");
            const auto o = run_tend(args, env);
            CHECK(o.exit_code == 0);
            REQUIRE(o.of("summary").size() == 1);
            const auto s = o.of("summary")[0];
            CHECK(s["passed"] == 3);
            CHECK(s["workers"]["recycled"]["age"] == 3);
            CHECK(s["workers"]["started"] == 3);  // a spare is the replacement, not one more
            return s["workers"]["replacement_wait_ms"].get<double>();
        };
        // Without spares each replacement's start-up is a wait: at least its
        // 300 ms, twice. With them the spare said hello during the 700 ms
        // unit before.
        CHECK(run(false) >= 600.0);
        CHECK(run(true) < 300.0);
    }

    TEST_CASE("a suite that is never recycled and never crashes starts no spare") {
        for (const char* jobs : {"1", "2"}) {
            INFO("-j " << jobs);
            const auto with = run_tend({"run", fixture("scoped"), "-j", jobs, "--json"});
            const auto without =
                run_tend({"run", fixture("scoped"), "-j", jobs, "--json", "--no-spares"});
            REQUIRE(with.of("summary").size() == 1);
            REQUIRE(without.of("summary").size() == 1);
            CHECK(with.of("summary")[0]["workers"]["started"] ==
                  without.of("summary")[0]["workers"]["started"]);
            CHECK(with.of("summary")[0]["workers"]["replacement_wait_ms"] == 0.0);
        }
    }
}

TEST_SUITE("worker environment") {
    TEST_CASE("descriptors tend inherited do not reach workers; the protocol stays private") {
        // Descriptor 150, open without close-on-exec here, is inherited by
        // the shell and by tend; tend must not pass it on.
        const int fd = ::open("/dev/null", O_RDONLY);
        REQUIRE(fd >= 0);
        REQUIRE(::dup2(fd, 150) == 150);
        ::close(fd);
        auto o = run_tend({"run", fixture("fd_probe"), "--json"});
        ::close(150);
        CHECK(o.exit_code == 0);
        REQUIRE(o.of("summary").size() == 1);
        CHECK(o.of("summary")[0]["passed"] == 4);
    }
}

TEST_SUITE("tend list") {
    TEST_CASE("lists every test, names intact") {
        auto o = run_tend({"list", fixture("basic"), "--json"});
        CHECK(o.exit_code == 0);
        REQUIRE(o.events.size() == 11);
        std::set<std::string> names;
        for (const auto& e : o.events) names.insert(e["name"].get<std::string>());
        CHECK(names.count("name, with comma"));
        CHECK(names.count("ünïcödé ✓"));
        CHECK(names.count("brackets [tag] and {braces}"));
        for (const auto& e : o.events) {
            CHECK(e["file"].get<std::string>().find("basic.cpp") != std::string::npos);
            CHECK(e["line"].get<int>() > 0);
        }
        auto plain = run_tend({"list", fixture("basic")});
        CHECK(plain.out.find("math/fails a check\n") != std::string::npos);
        CHECK(plain.out.find("skipped  (skipped)\n") != std::string::npos);
    }
}

TEST_SUITE("usage and startup errors") {
    TEST_CASE("usage errors exit 2 and name what was wrong") {
        auto none = run_tend({"run"});
        CHECK(none.exit_code == 2);
        auto bad_size = run_tend({"run", fixture("basic"), "--max-rss", "lots"});
        CHECK(bad_size.exit_code == 2);
        CHECK(bad_size.err.find("--max-rss: 'lots' is not a size") != std::string::npos);
        auto bad_age = run_tend({"run", fixture("basic"), "--max-age", "soon"});
        CHECK(bad_age.exit_code == 2);
        CHECK(bad_age.err.find("--max-age") != std::string::npos);
        auto bad_fds = run_tend({"run", fixture("basic"), "--max-fds", "12x"});
        CHECK(bad_fds.exit_code == 2);
        auto missing = run_tend({"run", "/nonexistent/binary"});
        CHECK(missing.exit_code == 2);
        CHECK(missing.err.find("/nonexistent/binary") != std::string::npos);
        auto bad_jobs = run_tend({"run", fixture("basic"), "-j", "0"});
        CHECK(bad_jobs.exit_code == 2);
    }
    TEST_CASE("a binary that is not a tend worker is a startup error naming it") {
        auto o = run_tend({"run", "/bin/true", "--json"});
        CHECK(o.exit_code == 3);
        auto errors = o.of("error");
        REQUIRE(errors.size() == 1);
        CHECK(errors[0]["binary"] == "/bin/true");
        CHECK(errors[0]["message"].get<std::string>().find("before saying hello") !=
              std::string::npos);
        CHECK(errors[0]["message"].get<std::string>().find(
                  "/bin/true: cannot discover tests: worker") == 0);
        const std::string plain = "/tmp/tend-it-notexec-" + std::to_string(::getpid());
        if (std::FILE* f = std::fopen(plain.c_str(), "w")) std::fclose(f);
        auto notexec = run_tend({"run", plain});
        std::remove(plain.c_str());
        CHECK(notexec.exit_code == 3);
        CHECK(notexec.out.find(": not executable") != std::string::npos);
        auto listed = run_tend({"list", "/bin/true"});
        CHECK(listed.exit_code == 3);
        CHECK(listed.err.find("/bin/true") != std::string::npos);
    }
    TEST_CASE("a worker speaking another protocol version is refused by name") {
        auto o = run_tend({"run", fixture("rogue_worker"), "--json"}, "TEND_ROGUE_MODE=version");
        CHECK(o.exit_code == 3);
        auto errors = o.of("error");
        REQUIRE(errors.size() == 1);
        const auto message = errors[0]["message"].get<std::string>();
        CHECK(message.find("worker speaks protocol version 99, tend speaks 3") !=
              std::string::npos);
        CHECK(message.find("before saying hello") == std::string::npos);
    }
    TEST_CASE("a worker that exits badly after shutdown fails the run, its results kept") {
        auto o = run_tend({"run", fixture("rogue_worker"), "--json"}, "TEND_ROGUE_MODE=dirty_exit");
        CHECK(o.exit_code == 1);
        CHECK(o.of("test").size() == 1);
        auto errors = o.of("error");
        REQUIRE(errors.size() == 1);
        const auto message = errors[0]["message"].get<std::string>();
        CHECK(message.find("exited with status 7 after shutdown") != std::string::npos);
        CHECK(errors[0]["fails_run"] == true);
        CHECK(message.find("rogue: exiting badly") != std::string::npos);
    }
}

TEST_SUITE("the project's own doctest") {
    // fixtures/vendored/doctest.h says 2.4.11; the system's says 2.4.9.
    TEST_CASE("the adapter uses the doctest included before it, and compiles no other") {
        for (const char* name : {"vendored", "vendored_split"}) {
            const std::string binary = fixture(name);
            INFO(binary);
            const std::string version = "/tmp/tend-it-version-" + std::to_string(::getpid());
            const int status =
                std::system((shell_quote(binary) + " --version >" + version + " 2>&1").c_str());
            CHECK(WEXITSTATUS(status) == 0);
            CHECK(slurp(version).find("doctest version is \"2.4.11\"") != std::string::npos);
            std::remove(version.c_str());

            auto o = run_tend({"run", binary, "-j", "1", "--json", "--no-daemon"});
            CHECK(o.exit_code == 1);
            auto tests = o.tests();
            REQUIRE(tests.size() == 2);
            CHECK(tests["vendored/sees the vendored doctest"][0]["status"] == "passed");
            const auto& failed = tests["vendored/fails a check"][0];
            CHECK(failed["status"] == "failed");
            REQUIRE(failed["failures"].size() == 1);
            CHECK(failed["failures"][0]["kind"] == "CHECK_EQ");
        }
    }
}

TEST_SUITE("exit-time checks") {
    // What a leak checker or gmock's verifier does once the tests are done:
    // the binary alone exits non-zero, so the run fails, with what it said.
    TEST_CASE("a static destructor that exits 1 fails the run, with the worker's stderr") {
        auto o = run_tend({"run", fixture("exit_check"), "-j", "1", "--json", "--no-daemon"},
                          "TEND_EXIT_CHECK=status");
        CHECK(o.exit_code == 1);
        CHECK(o.of("test").size() == 2);
        for (const auto& t : o.of("test")) CHECK(t["status"] == "passed");
        const auto errors = o.of("error");
        REQUIRE(errors.size() == 1);
        const auto message = errors[0]["message"].get<std::string>();
        CHECK(message.find("exited with status 1 after shutdown") != std::string::npos);
        CHECK(message.find("leak checker: 1 object leaked") != std::string::npos);
        CHECK(errors[0]["fails_run"] == true);
        REQUIRE(o.of("summary").size() == 1);
        CHECK(o.of("summary")[0]["errors"] == 1);
    }
    TEST_CASE("an atexit handler that aborts fails the run") {
        auto o = run_tend({"run", fixture("exit_check"), "-j", "1", "--json", "--no-daemon"},
                          "TEND_EXIT_CHECK=signal");
        CHECK(o.exit_code == 1);
        const auto errors = o.of("error");
        REQUIRE(errors.size() == 1);
        const auto message = errors[0]["message"].get<std::string>();
        CHECK(message.find("killed by signal 6") != std::string::npos);
        CHECK(message.find("leak checker: aborting") != std::string::npos);
        CHECK(errors[0]["fails_run"] == true);
    }
    TEST_CASE("a clean exit says nothing") {
        auto o = run_tend({"run", fixture("exit_check"), "-j", "1", "--json", "--no-daemon"});
        CHECK(o.exit_code == 0);
        CHECK(o.of("error").empty());
    }
    TEST_CASE("a worker tend kills after the grace period of its stop is only a warning") {
        auto o = run_tend({"run", fixture("exit_check"), "-j", "1", "--json", "--no-daemon"},
                          "TEND_EXIT_CHECK=hang");
        CHECK(o.exit_code == 0);
        const auto errors = o.of("error");
        REQUIRE(errors.size() == 1);
        CHECK(errors[0]["message"].get<std::string>().find("killed by signal 9") !=
              std::string::npos);
        CHECK(errors[0]["fails_run"] == false);
    }
}

TEST_SUITE("tests that misbehave") {
    TEST_CASE("a forked child that fails a REQUIRE ends in the child, not as a second worker") {
        auto o = run_tend({"run", fixture("misbehaving"), "-j", "1", "--json"});
        auto tests = o.tests();
        REQUIRE(tests.count("fork/child fails a REQUIRE"));
        CHECK(tests["fork/child fails a REQUIRE"].size() == 1);
        CHECK(tests["fork/child fails a REQUIRE"][0]["status"] == "passed");
        REQUIRE(tests["fork/second"].size() == 1);
        const auto& second = tests["fork/second"][0];
        CHECK(second["status"] == "passed");
        CHECK(second["stdout"] ==
              "second ran in " + std::to_string(second["worker_pid"].get<long>()) + "\n");
        for (const auto& e : o.of("error")) {
            CHECK(e["message"].get<std::string>().find("unexpected") == std::string::npos);
        }
    }

    TEST_CASE("a forked child that dies leaves the worker's pipe and crash reporter alone") {
        // Each unit: a result waiting in the worker's batch, then a test whose
        // child dies (the child inherits the worker's crash reporter and the
        // protocol descriptors), then one more test.
        for (const char* suite :
             {"child_segfaults", "child_killed", "child_aborts", "child_exits"}) {
            INFO(std::string(suite));
            auto o = run_tend(
                {"run", fixture("forking"), "--suite", suite, "-j", "1", "--json", "--no-daemon"});
            CHECK(o.exit_code == 0);
            std::string errors;
            for (const auto& e : o.of("error")) errors += e.dump() + "\n";
            CHECK_MESSAGE(errors.empty(), errors);
            const auto tests = o.tests();
            CHECK(tests.size() == 3);
            for (const auto& [name, events] : tests) {
                INFO(name);
                REQUIRE(events.size() == 1);
                CHECK(events[0]["status"] == "passed");
                CHECK(events[0]["attempt"] == 1);
            }
            REQUIRE(o.of("summary").size() == 1);
            CHECK(o.of("summary")[0]["workers"]["started"] == 1);
            CHECK(o.of("summary")[0]["workers"]["crashed"] == 0);
        }
    }

    TEST_CASE("a failed CHECK in a teardown is an error of the unit, not a crash") {
        auto o = run_tend({"run", fixture("misbehaving"), "-j", "1", "--json"});
        CHECK(o.exit_code == 1);
        bool found = false;
        for (const auto& e : o.of("error")) {
            const auto m = e["message"].get<std::string>();
            if (m.find("unit 'teardown_assert': CHECK( 1 == 2 ) failed outside a test at") == 0)
                found = true;
            CHECK(m.find("signal") == std::string::npos);
        }
        CHECK(found);
        REQUIRE(o.of("summary").size() == 1);
        CHECK(o.of("summary")[0]["workers"]["crashed"] == 0);
    }

    TEST_CASE("doctest's decorators explain a failure without a failed assertion") {
        // With --timeout, tend does not kill at the decorator's timeout;
        // doctest's own check fails the test once it is over.
        auto o = run_tend({"run", fixture("misbehaving"), "-j", "1", "--timeout", "60", "--json"});
        auto tests = o.tests();
        const auto& slow = tests["decorated/too slow"][0];
        CHECK(slow["status"] == "failed");
        REQUIRE(slow["failures"].size() == 1);
        CHECK(slow["failures"][0]["kind"] == "timeout");
        CHECK(slow["failures"][0]["message"].get<std::string>().find("longer than its timeout") !=
              std::string::npos);
        const auto& should = tests["decorated/should fail but passes"][0];
        CHECK(should["status"] == "failed");
        REQUIRE(should["failures"].size() == 1);
        CHECK(should["failures"][0]["kind"] == "should_fail");
    }

    TEST_CASE("a process a test leaves behind does not outlive its worker") {
        long pid = 0;
        auto o = run_misbehaving_for_pid("TEND_FIXTURE_MARKER", pid);
        REQUIRE(pid > 0);
        // tend sent it SIGKILL when its worker exited; dying takes the kernel
        // a moment, so look for up to 5 s: gone, or a zombie for init to reap.
        char state = '?';
        for (int i = 0; i < 250; ++i) {
            const auto stat = slurp("/proc/" + std::to_string(pid) + "/stat");
            const auto close_paren = stat.rfind(')');
            state =
                (stat.empty() || close_paren == std::string::npos) ? 'X' : stat[close_paren + 2];
            if (state == 'X' || state == 'Z') break;
            ::usleep(20000);
        }
        CHECK_MESSAGE((state == 'X' || state == 'Z'),
                      "leftover process " << pid << " is in state " << state);
    }
}

TEST_SUITE("the supervisor's own environment") {
    TEST_CASE("tend started with SIGCHLD blocked still reaps its workers") {
        sigset_t chld, old;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        REQUIRE(::sigprocmask(SIG_BLOCK, &chld, &old) == 0);
        // tend inherits the blocked mask through fork and exec; the parent
        // here waits at most 60 s for it (coreutils' timeout would unblock
        // SIGCHLD itself and hide the bug).
        const pid_t child = ::fork();
        if (child == 0) {
            ::execl(tend_exe().c_str(), "tend", "run", fixture("scoped").c_str(), "-j", "1", "-q",
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::sigprocmask(SIG_SETMASK, &old, nullptr);
        int status = -1;
        for (int waited_ms = 0; waited_ms < 60000; waited_ms += 20) {
            if (::waitpid(child, &status, WNOHANG) == child) break;
            ::usleep(20000);
        }
        if (!WIFEXITED(status)) {
            ::kill(child, SIGKILL);
            ::waitpid(child, nullptr, 0);
            FAIL("tend did not finish within 60 s");
        }
        CHECK(WEXITSTATUS(status) == 0);
    }
}

TEST_SUITE("timeouts") {
    TEST_CASE("a test still running after --timeout is killed and reported timed_out") {
        auto o = run_tend({"run", fixture("hanging"), "-j", "2", "--timeout", "0.5", "--json"});
        CHECK(o.exit_code == 1);
        auto tests = o.tests();
        REQUIRE(tests.size() == 5);
        check_each_reported_once(tests);
        const auto& hung = tests["hangs/sleeps forever"][0];
        CHECK(hung["status"] == "timed_out");
        CHECK(hung["detail"].get<std::string>().find("still running after the 0.5 s timeout") == 0);
        CHECK(tests["hangs/quick before"][0]["status"] == "passed");
        CHECK(tests["hangs/quick after"][0]["status"] == "passed");
        const auto& stubborn = tests["stubborn/ignores SIGTERM"][0];
        CHECK(stubborn["status"] == "timed_out");
        CHECK(stubborn["detail"].get<std::string>().find("killed by signal 9") !=
              std::string::npos);
        CHECK(tests["stubborn/runs after the kill"][0]["status"] == "passed");
        REQUIRE(o.of("summary").size() == 1);
        CHECK(o.of("summary")[0]["timed_out"] == 2);
        CHECK(o.of("summary")[0]["workers"]["timed_out"] == 2);
        CHECK(o.of("summary")[0]["workers"]["crashed"] == 0);
    }
    TEST_CASE("without --timeout, a doctest timeout decorator is the test's time limit") {
        auto o = run_tend({"run", fixture("slow"), "-j", "1", "--json"});
        CHECK(o.exit_code == 1);
        auto tests = o.tests();
        REQUIRE(tests.size() == 5);
        check_each_reported_once(tests);
        const auto& hung = tests["decorated/hangs past its timeout"][0];
        CHECK(hung["status"] == "timed_out");
        CHECK(hung["detail"].get<std::string>().find(
                  "still running after its doctest 0.3 s timeout") == 0);
        CHECK(tests["decorated/keeps its timeout"][0]["status"] == "passed");
        CHECK(tests["decorated/runs after the kill"][0]["status"] == "passed");
        CHECK(tests["slow/takes 0.8 s"][0]["status"] == "passed");
    }
    TEST_CASE("--timeout wins over a doctest timeout decorator") {
        auto o = run_tend({"run", fixture("slow"), "-j", "1", "--timeout", "0.5", "--json"});
        auto tests = o.tests();
        REQUIRE(tests.size() == 5);
        const auto& hung = tests["decorated/hangs past its timeout"][0];
        CHECK(hung["status"] == "timed_out");
        CHECK(hung["detail"].get<std::string>().find("still running after the 0.5 s timeout") == 0);
        CHECK(tests["slow/takes 0.8 s"][0]["status"] == "timed_out");
        CHECK(tests["decorated/keeps its timeout"][0]["status"] == "passed");
    }
    TEST_CASE("--slow: a test running past the period is reported, again each period") {
        auto o = run_tend({"run", fixture("slow"), "-j", "1", "--slow", "0.3", "--json"});
        std::map<std::string, std::vector<nlohmann::json>> slow;
        for (const auto& e : o.of("slow")) {
            slow[e["suite"].get<std::string>() + "/" + e["name"].get<std::string>()].push_back(e);
        }
        const auto& long_one = slow["slow/takes 0.8 s"];
        // At 0.3 s and 0.6 s; a loaded machine may miss the second.
        REQUIRE(!long_one.empty());
        CHECK(long_one.size() <= 2);
        CHECK(long_one[0]["running_ms"].get<double>() >= 300);
        CHECK(long_one[0]["worker_pid"].is_number());
        CHECK(slow.count("slow/quick") == 0);
        CHECK(slow.count("decorated/keeps its timeout") == 0);
        // Slow is news, not a verdict: the test still passes.
        CHECK(o.tests()["slow/takes 0.8 s"][0]["status"] == "passed");

        auto human = run_tend({"run", fixture("slow"), "-j", "1", "--slow", "0.3"});
        CHECK(human.out.find("   SLOW [>   0.3") != std::string::npos);
        auto quiet = run_tend({"run", fixture("slow"), "-j", "1", "--slow", "none", "--json"});
        CHECK(quiet.of("slow").empty());
    }
    TEST_CASE("--timeout must be a positive number of seconds") {
        auto o = run_tend({"run", fixture("hanging"), "--timeout", "0"});
        CHECK(o.exit_code == 2);
        CHECK(o.err.find("--timeout: '0' must be more than 0") != std::string::npos);
    }
}

namespace {
/// Starts tend with stdout to `out_path`, waits until the fixture leaves
/// `ready` in its marker file (at most 20 s), sends `signals` (one after the
/// other), and returns tend's exit status (-1 when it did not end within 30 s).
int interrupt_tend(const std::vector<std::string>& args, const std::string& out_path,
                   const std::string& ready, const std::vector<int>& signals) {
    const std::string marker = out_path + ".marker";
    std::remove(marker.c_str());
    const pid_t child = ::fork();
    if (child == 0) {
        ::setenv("TEND_FIXTURE_MARKER", marker.c_str(), 1);
        const int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(fd, 1);
        std::vector<char*> argv;
        std::string exe = tend_exe();
        argv.push_back(exe.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(exe.c_str(), argv.data());
        ::_exit(127);
    }
    for (int waited = 0; waited < 1000 && slurp(marker).find(ready) == std::string::npos;
         ++waited) {
        ::usleep(20000);
    }
    std::remove(marker.c_str());
    for (int sig : signals) {
        ::kill(child, sig);
        ::usleep(100000);
    }
    int status = 0;
    for (int waited = 0; waited < 1500; ++waited) {
        if (::waitpid(child, &status, WNOHANG) == child) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        ::usleep(20000);
    }
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    return -1;
}

}  // namespace

TEST_SUITE("interrupting a run") {
    TEST_CASE("SIGINT: nothing new starts, the grace period runs out, every test is reported") {
        const std::string out = "/tmp/tend-it-sigint-" + std::to_string(::getpid());
        const int status =
            interrupt_tend({"run", fixture("hanging"), "-j", "1", "--grace", "0.5", "--json"}, out,
                           "sleeping", {SIGINT});
        const auto events = json_lines(slurp(out));
        std::remove(out.c_str());
        CHECK(status == 130);
        std::map<std::string, std::vector<nlohmann::json>> tests;
        const nlohmann::json* shutdown = nullptr;
        std::set<long> pids;
        for (const auto& e : events) {
            if (e["event"] == "test") {
                tests[e["suite"].get<std::string>() + "/" + e["name"].get<std::string>()].push_back(
                    e);
                if (e["worker_pid"].is_number()) pids.insert(e["worker_pid"].get<long>());
            }
            if (e["event"] == "shutdown") shutdown = &e;
        }
        CHECK(tests.size() == 5);
        check_each_reported_once(tests);
        CHECK(tests["hangs/quick before"][0]["status"] == "passed");
        CHECK(tests["hangs/sleeps forever"][0]["status"] == "not_run");
        CHECK(tests["hangs/sleeps forever"][0]["detail"].get<std::string>().find(
                  "interrupted (SIGINT)") != std::string::npos);
        CHECK(tests["stubborn/runs after the kill"][0]["status"] == "not_run");
        REQUIRE(shutdown != nullptr);
        CHECK((*shutdown)["signal"] == "SIGINT");
        CHECK((*shutdown)["workers_killed"] == 1);
        CHECK((*shutdown)["units_cancelled"] == 2);
        REQUIRE(!events.empty());
        CHECK(events.back()["event"] == "summary");
        for (long pid : pids) {
            INFO("worker " << pid);
            CHECK(::kill(static_cast<pid_t>(pid), 0) == -1);  // reaped, gone
        }
    }

    TEST_CASE("a second signal does not wait for the grace period") {
        const std::string out = "/tmp/tend-it-sigint2-" + std::to_string(::getpid());
        const int status =
            interrupt_tend({"run", fixture("hanging"), "-j", "1", "--grace", "3600", "--json"}, out,
                           "sleeping", {SIGTERM, SIGTERM});
        const auto events = json_lines(slurp(out));
        std::remove(out.c_str());
        CHECK(status == 143);
        REQUIRE(!events.empty());
        CHECK(events.back()["event"] == "summary");
        CHECK(events.back()["not_run"] == 4);
    }
}

TEST_SUITE("stopping early") {
    TEST_CASE("--fail-fast: the running unit finishes, nothing new starts, the rest is not_run") {
        auto o = run_tend({"run", fixture("basic"), "-j", "1", "--fail-fast", "--json"});
        CHECK(o.exit_code == 1);
        auto tests = o.tests();
        CHECK(tests.size() == 11);
        // "math" (the largest unit, so the first) ran whole.
        CHECK(tests["math/adds"][0]["status"] == "passed");
        CHECK(tests["math/fails with context"][0]["status"] == "failed");
        for (const char* name : {"names/name, with comma", "/loose test", "/skipped"}) {
            INFO(name);
            REQUIRE(tests[name].size() == 1);
            CHECK(tests[name][0]["status"] == "not_run");
            CHECK(tests[name][0]["detail"] ==
                  "not run: tend stopped after 1 failures (--max-fail 1)");
        }
        REQUIRE(o.of("summary").size() == 1);
        CHECK(o.of("summary")[0]["not_run"] == 6);
    }
    TEST_CASE("--max-fail N counts failures across binaries") {
        auto o = run_tend(
            {"run", fixture("basic"), fixture("scoped"), "-j", "1", "--max-fail", "100", "--json"});
        REQUIRE(o.of("summary").size() == 1);
        CHECK(o.of("summary")[0]["not_run"] == 0);  // never reached: everything ran
        CHECK(o.of("summary")[0]["failed"] == 4);
    }
}

TEST_SUITE("retries") {
    TEST_CASE("--retries: a test that passes on a retry is flaky, every attempt is visible") {
        const std::string state = "/tmp/tend-it-flaky-" + std::to_string(::getpid());
        auto o = run_tend({"run", fixture("flaky"), "-j", "1", "--retries", "2", "--json"},
                          "TEND_FIXTURE_STATE=" + shell_quote(state));
        std::remove((state + ".fails").c_str());
        std::remove((state + ".crashes").c_str());
        CHECK(o.exit_code == 1);  // "always fails" still fails
        auto finals = o.tests();
        REQUIRE(finals.size() == 4);
        check_each_reported_once(finals);
        std::map<std::string, std::vector<nlohmann::json>> attempts;
        for (const auto& e : o.of("attempt")) {
            attempts[e["suite"].get<std::string>() + "/" + e["name"].get<std::string>()].push_back(
                e);
        }
        const auto& fails_once = finals["flaky/fails once"][0];
        CHECK(fails_once["status"] == "flaky");
        CHECK(fails_once["attempt"] == 2);
        REQUIRE(attempts["flaky/fails once"].size() == 1);
        CHECK(attempts["flaky/fails once"][0]["status"] == "failed");
        CHECK(attempts["flaky/fails once"][0]["attempt"] == 1);
        CHECK(attempts["flaky/fails once"][0]["worker_pid"] != fails_once["worker_pid"]);

        CHECK(finals["flaky/crashes once"][0]["status"] == "flaky");
        REQUIRE(attempts["flaky/crashes once"].size() == 1);
        CHECK(attempts["flaky/crashes once"][0]["status"] == "crashed");

        CHECK(finals["flaky/always fails"][0]["status"] == "failed");
        CHECK(finals["flaky/always fails"][0]["attempt"] == 3);
        CHECK(attempts["flaky/always fails"].size() == 2);

        CHECK(finals["flaky/passes"][0]["status"] == "passed");
        CHECK(finals["flaky/passes"][0]["attempt"] == 1);
        CHECK(attempts.count("flaky/passes") == 0);

        REQUIRE(o.of("summary").size() == 1);
        const auto summary = o.of("summary")[0];
        CHECK(summary["total"] == 4);
        CHECK(summary["flaky"] == 2);
        CHECK(summary["failed"] == 1);
        CHECK(summary["passed"] == 1);
        CHECK(summary["crashed"] == 0);
    }
    TEST_CASE("without --retries a flaky test is just failed") {
        const std::string state = "/tmp/tend-it-noretry-" + std::to_string(::getpid());
        auto o = run_tend({"run", fixture("flaky"), "-j", "2", "--json"},
                          "TEND_FIXTURE_STATE=" + shell_quote(state));
        std::remove((state + ".fails").c_str());
        std::remove((state + ".crashes").c_str());
        auto finals = o.tests();
        CHECK(finals["flaky/fails once"][0]["status"] == "failed");
        CHECK(finals["flaky/crashes once"][0]["status"] == "crashed");
        CHECK(o.of("attempt").empty());
    }
}

TEST_SUITE("crash loops") {
    TEST_CASE("after --max-worker-deaths deaths no more workers start; the rest is not_run") {
        auto o = run_tend(
            {"run", fixture("crash_loop"), "-j", "1", "--max-worker-deaths", "2", "--json"});
        CHECK(o.exit_code == 1);
        auto tests = o.tests();
        REQUIRE(tests.size() == 5);
        CHECK(tests["loop/c1"][0]["status"] == "crashed");
        CHECK(tests["loop/c2"][0]["status"] == "crashed");
        for (const char* name : {"loop/c3", "loop/c4", "loop/c5"}) {
            INFO(name);
            CHECK(tests[name][0]["status"] == "not_run");
            CHECK(tests[name][0]["detail"].get<std::string>().find(
                      "2 workers of this binary died") == 0);
        }
        REQUIRE(o.of("summary").size() == 1);
        CHECK(o.of("summary")[0]["workers"]["started"] == 2);
    }
}

TEST_SUITE("garbage from a worker") {
    TEST_CASE("garbage on the result descriptor costs only the test that wrote it") {
        auto o = run_tend({"run", fixture("garbage"), "-j", "1", "--json"});
        CHECK(o.exit_code == 1);
        auto tests = o.tests();
        REQUIRE(tests.size() == 4);
        check_each_reported_once(tests);
        const auto& undecodable = tests["garbage/writes an undecodable frame"][0];
        CHECK(undecodable["status"] == "error");
        CHECK(undecodable["detail"].get<std::string>().find(
                  "broke the protocol: malformed frame") != std::string::npos);
        const auto& oversized = tests["garbage/writes an oversized frame header"][0];
        CHECK(oversized["status"] == "error");
        CHECK(oversized["detail"].get<std::string>().find("exceeds the limit of 16777216 bytes") !=
              std::string::npos);
        CHECK(tests["garbage/before"][0]["status"] == "passed");
        CHECK(tests["garbage/after"][0]["status"] == "passed");
    }
}

TEST_SUITE("orphans") {
    TEST_CASE("a process that escaped its worker's process group does not outlive the run") {
        long pid = 0;
        auto o = run_misbehaving_for_pid("TEND_FIXTURE_ESCAPEE", pid);
        REQUIRE(pid > 0);
        // tend is the subreaper: it killed and reaped it before exiting.
        CHECK(::kill(static_cast<pid_t>(pid), 0) == -1);
        bool noticed = false;
        for (const auto& e : o.of("error")) {
            if (e["message"].get<std::string>().find("the tests left behind") !=
                std::string::npos) {
                noticed = true;
                CHECK(e["fails_run"] == false);
            }
        }
        CHECK(noticed);
    }
}

TEST_SUITE("memory exhaustion") {
    TEST_CASE("a test that runs out of address space under ulimit -v costs only itself") {
        auto o = run_tend({"run", fixture("oom"), "-j", "1", "--json"}, "ulimit -v 600000;");
        CHECK(o.exit_code == 1);
        auto tests = o.tests();
        REQUIRE(tests.size() == 3);
        check_each_reported_once(tests);
        const auto& oom = tests["oom/allocates until it cannot"][0];
        // Either the allocation throws (a failure) or the worker dies of it.
        CHECK((oom["status"] == "failed" || oom["status"] == "crashed"));
        if (oom["status"] == "failed") {
            REQUIRE(oom["failures"].size() == 1);
            CHECK(oom["failures"][0]["message"].get<std::string>().find("bad_alloc") !=
                  std::string::npos);
        }
        CHECK(tests["oom/before"][0]["status"] == "passed");
        CHECK(tests["oom/after"][0]["status"] == "passed");
    }
}
