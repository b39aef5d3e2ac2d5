// tend-batch --framework gtest|doctest|catch2 -- BINARY [ARGS...]
//
// Started by tend, as a worker, in place of a test binary that is not
// linked with tend's worker library: serves the worker protocol and runs
// the binary's tests in batches of fresh processes (batch_adapter.hpp).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <tend/worker.hpp>
#include <vector>

#include "batch_adapter.hpp"
#include "health_source.hpp"

int main(int argc, char** argv) {
    std::string framework;
    int i = 1;
    for (; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a == "--framework" && i + 1 < argc) {
            framework = argv[++i];
            continue;
        }
        std::fprintf(stderr, "tend-batch: unknown argument '%s'\n", argv[i]);
        return 2;
    }
    if (i >= argc || framework.empty()) {
        std::fprintf(stderr,
                     "usage: tend-batch --framework gtest|doctest|catch2 -- BINARY [ARGS...]\n");
        return 2;
    }
    if (!tend::worker::launched_by_tend()) {
        std::fprintf(stderr,
                     "tend-batch: tend starts this, as a worker; to run the tests of %s, use "
                     "`tend run %s`\n",
                     argv[i], argv[i]);
        return 2;
    }
    auto driver = tend::batch::make_driver(framework);
    if (!driver) {
        std::fprintf(stderr, "tend-batch: no driver for framework '%s' (gtest, doctest, catch2)\n",
                     framework.c_str());
        return 2;
    }
    std::vector<std::string> args(argv + i + 1, argv + argc);
    const int real_stderr = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10);
    tend::batch::BatchAdapter adapter(std::move(driver), argv[i], std::move(args),
                                      real_stderr >= 0 ? real_stderr : STDERR_FILENO);
    tend::worker::set_health_source(&tend::batch::BatchAdapter::health);
    return tend::worker::serve(adapter);
}
