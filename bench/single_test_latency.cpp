// Benchmark: the worker's own cost per test, measured over the protocol with
// no supervisor in between.
//
//   single_test_latency BINARY [ITERATIONS]
//
// Prints, for the worker BINARY (run with the environment it was given):
//   one-test round trip: run 1 test + finalize, mean over ITERATIONS, in µs
//   pipelined per test:  one run request for every test, time to the last
//                        result divided by the number of tests, in µs
//   pipe round trip:     one byte there and back between two processes, the
//                        floor under any one-test round trip, in µs
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "direct_worker.hpp"

using namespace tend::protocol;
using Clock = std::chrono::steady_clock;

namespace {
double pipe_round_trip_us(int iterations) {
    int there[2], back[2];
    if (::pipe(there) != 0 || ::pipe(back) != 0) return -1;
    const pid_t child = ::fork();
    char c = 'x';
    if (child == 0) {
        for (int i = 0; i < iterations; ++i) {
            if (::read(there[0], &c, 1) != 1 || ::write(back[1], &c, 1) != 1) break;
        }
        ::_exit(0);
    }
    const auto t0 = Clock::now();
    for (int i = 0; i < iterations; ++i) {
        if (::write(there[1], &c, 1) != 1 || ::read(back[0], &c, 1) != 1) break;
    }
    const double us =
        std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / iterations;
    ::waitpid(child, nullptr, 0);
    for (int fd : {there[0], there[1], back[0], back[1]}) ::close(fd);
    return us;
}
}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s BINARY [ITERATIONS]\n", argv[0]);
        return 2;
    }
    const int iterations = argc > 2 ? std::atoi(argv[2]) : 2000;
    try {
        tend_test::DirectWorker w(argv[1]);
        (void)w.receive_as<Hello>();
        w.send(ListRequest{});
        // A long list comes in chunks.
        auto list = w.receive_as<TestList>();
        for (auto more = list.more; more;) {
            auto chunk = w.receive_as<TestList>();
            more = chunk.more;
            list.tests.insert(list.tests.end(), chunk.tests.begin(), chunk.tests.end());
        }
        const auto n = static_cast<std::uint32_t>(list.tests.size());
        if (n == 0) throw std::runtime_error("no tests");

        std::uint64_t unit = 0;
        // Warm up, then time single-test units spread over the registry.
        for (int i = 0; i < 100; ++i) {
            const auto id = static_cast<std::uint32_t>((i * 7919u) % n);
            w.send(RunUnit{++unit, {{id, list.tests[id].name}}});
            (void)w.receive_as<TestResult>();
            w.send(Finalize{unit});
            (void)w.receive_as<Finalized>();
        }
        const auto t0 = Clock::now();
        for (int i = 0; i < iterations; ++i) {
            const auto id = static_cast<std::uint32_t>((i * 7919u) % n);
            w.send(RunUnit{++unit, {{id, list.tests[id].name}}});
            (void)w.receive_as<TestResult>();
            w.send(Finalize{unit});
            (void)w.receive_as<Finalized>();
        }
        const double single_us =
            std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / iterations;

        RunUnit all{++unit, {}};
        for (const auto& t : list.tests) all.tests.push_back({t.id, t.name});
        const auto t1 = Clock::now();
        w.send(all);
        for (std::uint32_t i = 0; i < n; ++i) (void)w.receive_as<TestResult>();
        const double pipelined_us =
            std::chrono::duration<double, std::micro>(Clock::now() - t1).count() / n;
        w.send(Finalize{unit});
        (void)w.receive_as<Finalized>();
        w.send(Shutdown{});

        std::printf(
            "tests=%u one_test_round_trip_us=%.2f pipelined_per_test_us=%.3f "
            "pipe_round_trip_us=%.2f\n",
            n, single_us, pipelined_us, pipe_round_trip_us(iterations));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "single_test_latency: %s\n", e.what());
        return 1;
    }
    return 0;
}
