// The worker runtime and doctest adapter driven directly over the protocol,
// without the supervisor: exact-name selection, single tests, unknown names.
#include <dirent.h>
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "direct_worker.hpp"
#include "run_tend.hpp"

using namespace tend::protocol;
using tend_test::DirectWorker;

namespace {

/// Takes the worker's hello and asks for its tests.
TestList listed(DirectWorker& w) {
    (void)w.receive_as<Hello>();
    w.send(ListRequest{});
    return w.receive_as<TestList>();
}

std::uint32_t id_of(const TestList& list, const std::string& name) {
    for (const auto& t : list.tests) {
        if (t.name == name) return t.id;
    }
    FAIL("no test " << name);
    return 0;
}

}  // namespace

TEST_SUITE("worker protocol") {
    TEST_CASE("hello, list, one test by exact name, finalize, shutdown") {
        DirectWorker w(tend_test::fixture("basic"));
        auto hello = w.receive_as<Hello>();
        CHECK(hello.version == kProtocolVersion);
        CHECK(hello.pid == w.pid());
        CHECK(hello.framework == "doctest");

        w.send(ListRequest{});
        auto list = w.receive_as<TestList>();
        REQUIRE(list.tests.size() == 11);
        for (std::uint32_t i = 0; i < list.tests.size(); ++i) CHECK(list.tests[i].id == i);

        // One test from the middle, named with a comma: exactly that test runs.
        const auto comma = id_of(list, "name, with comma");
        w.send(RunUnit{1, {{comma, "name, with comma"}}});
        auto r = w.receive_as<TestResult>();
        CHECK(r.unit == 1);
        CHECK(r.id == comma);
        CHECK(r.status == Status::passed);
        CHECK(r.health.rss_bytes);
        CHECK(r.health.open_fds);

        // Glob characters are not patterns: "star * and question ?" runs alone.
        const auto star = id_of(list, "star * and question ?");
        const auto unicode = id_of(list, "ünïcödé ✓");
        w.send(RunUnit{2, {{star, "star * and question ?"}, {unicode, "ünïcödé ✓"}}});
        CHECK(w.receive_as<TestResult>().id == star);
        CHECK(w.receive_as<TestResult>().id == unicode);

        w.send(Finalize{2});
        auto fin = w.receive_as<Finalized>();
        CHECK(fin.unit == 2);
        CHECK(fin.errors.empty());
        CHECK(fin.health.rss_bytes);
        w.send(Shutdown{});
    }

    TEST_CASE("a stale id is resolved by the exact name") {
        DirectWorker w(tend_test::fixture("basic"));
        const auto list = listed(w);
        const auto brackets = id_of(list, "brackets [tag] and {braces}");
        w.send(RunUnit{5, {{9999, "brackets [tag] and {braces}"}}});
        auto r = w.receive_as<TestResult>();
        CHECK(r.id == brackets);
        CHECK(r.status == Status::passed);
    }

    TEST_CASE("tests requested out of registry order run in the order asked") {
        DirectWorker w(tend_test::fixture("basic"));
        const auto list = listed(w);
        const auto a = id_of(list, "adds");
        const auto b = id_of(list, "loose test");
        const auto first = std::max(a, b), second = std::min(a, b);
        w.send(RunUnit{3, {{first, list.tests[first].name}, {second, list.tests[second].name}}});
        CHECK(w.receive_as<TestResult>().id == first);
        CHECK(w.receive_as<TestResult>().id == second);
    }

    TEST_CASE("run_skipped runs a unit's skipped tests; the next unit without it skips them") {
        // doctest's skip() (basic), gtest's DISABLED_ (gtest_disabled, when
        // gtest was found): each unit of one worker decides for itself.
        struct Case {
            const char* binary;
            const char* plain;
            const char* ignored;
            Status when_run;
        };
        for (const Case& c : {Case{"basic", "loose test", "skipped", Status::failed},
                              Case{"gtest_disabled", "Runs", "DISABLED_Waits", Status::passed}}) {
            INFO(c.binary);
            if (!std::filesystem::exists(tend_test::fixture(c.binary))) {
                MESSAGE("skipped: no " << c.binary << " (built only with GoogleTest)");
                continue;
            }
            DirectWorker w(tend_test::fixture(c.binary));
            const auto list = listed(w);
            const auto plain = id_of(list, c.plain), ignored = id_of(list, c.ignored);
            CHECK_FALSE(list.tests[plain].skip);
            CHECK(list.tests[ignored].skip);
            std::uint64_t unit = 0;
            for (const bool run_skipped : {true, false, true}) {
                INFO("run_skipped " << run_skipped);
                RunUnit req{++unit, {{plain, c.plain}, {ignored, c.ignored}}};
                req.run_skipped = run_skipped;
                w.send(req);
                CHECK(w.receive_as<TestResult>().status == Status::passed);
                const auto r = w.receive_as<TestResult>();
                CHECK(r.id == ignored);
                CHECK(r.status == (run_skipped ? c.when_run : Status::skipped));
                w.send(Finalize{unit});
                CHECK(w.receive_as<Finalized>().errors.empty());
            }
            w.send(Shutdown{});
        }
    }

    TEST_CASE("an unknown test name is an error message, not a crash") {
        DirectWorker w(tend_test::fixture("basic"));
        (void)w.receive_as<Hello>();
        w.send(RunUnit{1, {{0, "no such test"}}});
        auto err = w.receive_as<WorkerError>();
        CHECK(err.message == "no test named 'no such test' (id 0)");
        w.send(Shutdown{});
    }
    TEST_CASE("commands that end mid-frame make the worker exit 3, not 0") {
        DirectWorker w(tend_test::fixture("basic"));
        (void)w.receive_as<Hello>();
        std::vector<char> frame;
        encode_frame(Finalize{1}, frame);
        frame.resize(frame.size() - 2);
        w.send_raw(frame);
        CHECK(w.close_and_wait() == 3);
    }
    TEST_CASE("started by a supervisor that is not a subreaper, the worker leaves nothing behind") {
        // The worker's group guard is adopted by tend as its subreaper; under
        // any other supervisor it must see that and go, not linger forever.
        const std::string binary = tend_test::fixture("basic");
        const auto copies = [&] {
            std::set<pid_t> pids;
            if (DIR* proc = ::opendir("/proc")) {
                while (const dirent* e = ::readdir(proc)) {
                    const pid_t pid = static_cast<pid_t>(std::atol(e->d_name));
                    if (pid <= 0) continue;
                    char target[4096];
                    const std::string link = "/proc/" + std::string(e->d_name) + "/exe";
                    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
                    if (n > 0 && std::string(target, static_cast<std::size_t>(n)) == binary)
                        pids.insert(pid);
                }
                ::closedir(proc);
            }
            return pids;
        };
        const auto before = copies();
        for (int round = 0; round < 10; ++round) {  // the race it had was one in three
            DirectWorker w(binary);
            CHECK(std::holds_alternative<Hello>(w.receive()));
            CHECK(w.close_and_wait() == 0);
        }
        std::set<pid_t> left;
        for (int i = 0; i < 250; ++i) {
            left.clear();
            for (const pid_t p : copies()) {
                if (!before.count(p)) left.insert(p);
            }
            if (left.empty()) break;
            ::usleep(20000);
        }
        CHECK(left.empty());
        for (const pid_t p : left) ::kill(p, SIGKILL);
    }

    TEST_CASE("end of commands between frames is a clean exit") {
        DirectWorker w(tend_test::fixture("basic"));
        (void)w.receive_as<Hello>();
        CHECK(w.close_and_wait() == 0);
    }
}
