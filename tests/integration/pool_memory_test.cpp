// What the supervisor keeps (issue 11): a binary's test list is let go once
// the binary is done, so a run of many binaries holds the lists of the few
// in flight, not of all of them. Drives a Pool on real workers, in a child
// process (a pool makes its process a subreaper, which other tests must not
// inherit), and looks at what it still holds.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "pool/pool.hpp"
#include "run_tend.hpp"

extern char** environ;

namespace {

/// Notes, at each test of the second binary, whether the first binary's
/// list was still held.
class Watcher final : public tend::Reporter {
  public:
    const tend::Pool* pool = nullptr;
    std::string second;
    std::size_t second_tests = 0;
    std::size_t first_still_held = 0;
    std::size_t second_held = 0;

    void test(const tend::TestEvent& e) override {
        if (e.binary != second) return;
        ++second_tests;
        const auto listing = pool->listing();
        first_still_held += !listing[0].tests->empty();
        second_held += !listing[1].tests->empty();
    }
    void recycle(const tend::RecycleEvent&) override {}
    void notice(const tend::Notice&) override {}
    void shutdown(const tend::ShutdownReport&) override {}
    void summary(const tend::Summary&) override {}
};

tend::PoolOptions options(bool list_only) {
    tend::PoolOptions o;
    o.binaries = {tend_test::fixture("basic"), tend_test::fixture("../bench/noop_suite")};
    o.jobs = 1;
    o.list_only = list_only;
    o.limits = tend::WorkerLimits::unlimited();
    o.per_binary.assign(2, o.run_wide());
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    env.emplace_back("TEND_BENCH_TESTS=300");
    o.env = env;
    return o;
}

/// What a pool held, seen from inside a child process.
struct Seen {
    std::size_t passed = 0;
    std::size_t second_tests = 0;
    std::size_t first_still_held = 0;
    std::size_t second_held = 0;
    std::size_t held_after[2] = {};  ///< tests in each binary's list after the run
};

Seen in_child(bool list_only) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        Seen seen;
        Watcher watcher;
        tend::Pool pool(options(list_only), &watcher);
        watcher.pool = &pool;
        watcher.second = tend_test::fixture("../bench/noop_suite");
        seen.passed = pool.run().count(tend::TestStatus::passed);
        seen.second_tests = watcher.second_tests;
        seen.first_still_held = watcher.first_still_held;
        seen.second_held = watcher.second_held;
        const auto listing = pool.listing();
        for (std::size_t i = 0; i < 2 && i < listing.size(); ++i)
            seen.held_after[i] = listing[i].tests->size();
        const bool sent = ::write(fds[1], &seen, sizeof seen) == sizeof seen;
        ::_exit(sent ? 0 : 1);
    }
    ::close(fds[1]);
    Seen seen;
    const bool got = ::read(fds[0], &seen, sizeof seen) == sizeof seen;
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(got);
    CHECK(WIFEXITED(status));
    return seen;
}

}  // namespace

TEST_SUITE("pool memory") {
    TEST_CASE("a run lets go of a binary's test list once the binary is done") {
        const auto seen = in_child(false);
        CHECK(seen.passed >= 300);
        CHECK(seen.second_tests == 300);
        // -j 1: the first binary is done before the second one starts, and
        // the second one's list is held while it runs.
        CHECK(seen.first_still_held == 0);
        CHECK(seen.second_held == 300);
        CHECK(seen.held_after[0] == 0);
        CHECK(seen.held_after[1] == 0);
    }

    TEST_CASE("tend list keeps every list: it prints them at the end") {
        const auto seen = in_child(true);
        CHECK(seen.held_after[0] > 0);
        CHECK(seen.held_after[1] == 300);
    }
}
