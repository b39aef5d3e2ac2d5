// `tend serve`: the daemon (daemon/server.hpp) with the pool settings and
// bounds the command line gives it.
#include <algorithm>
#include <cstdio>
#include <thread>

#include "cli/commands.hpp"
#include "config/quantities.hpp"
#include "daemon/server.hpp"

namespace tend::cli {

CLI::App* add_serve_command(CLI::App& app, ServeFlags& flags) {
    auto* serve = app.add_subcommand(
        "serve",
        "Keep warm workers and test lists for later runs: `tend run` uses the daemon when it "
        "listens, editors talk JSON-RPC to it (--stdio).");
    flags.command = serve;
    serve
        ->add_option("-j,--jobs", flags.jobs,
                     "Worker processes at most, across all runs (default: number of CPUs)")
        ->check(CLI::Range(1, 4096))
        ->type_name("N");
    serve->add_flag("--stdio", flags.stdio,
                    "Serve one client on stdin/stdout (JSON-RPC, a message per line) instead of "
                    "a socket; end when stdin closes");
    serve->add_option("--idle-exit", flags.idle_exit, "Exit after SECONDS without clients")
        ->type_name("SECONDS");
    serve
        ->add_option("--max-clients", flags.max_clients,
                     "Refuse clients past N at once with a 'busy' error. Default 64")
        ->check(CLI::Range(1, 1 << 16))
        ->type_name("N");
    serve
        ->add_option("--max-runs", flags.max_runs,
                     "Refuse runs past N under way, all clients, with a 'busy' error. Default 256")
        ->check(CLI::Range(1, 1 << 16))
        ->type_name("N");
    serve
        ->add_option("--cache-binaries", flags.cache_binaries,
                     "Keep the test lists of N binaries at most for later runs, the least "
                     "recently used going first. Default 64")
        ->check(CLI::Range(1, 1 << 20))
        ->type_name("N");
    serve
        ->add_option("--cache-size", flags.cache_size,
                     "Keep SIZE of test lists at most (the last binary used stays whatever its "
                     "size). Default 32MiB")
        ->type_name("SIZE");
    add_socket_option(*serve, flags.socket_path);
    return serve;
}

int serve_command(const ServeFlags& flags, FdLimit fd_limit) {
    tend::ServeOptions serve_options;
    serve_options.socket_path = flags.socket_path;
    serve_options.stdio = flags.stdio;
    serve_options.max_clients = flags.max_clients;
    serve_options.max_runs = flags.max_runs;
    serve_options.cache.max_entries = flags.cache_binaries;
    {
        std::string why;
        const auto bytes = tend::parse_size(flags.cache_size, why);
        if (!bytes) return usage_error("--cache-size: " + why);
        serve_options.cache.max_bytes = *bytes;
    }
    serve_options.defaults.jobs = flags.command->count("--jobs")
                                      ? flags.jobs
                                      : std::max(1u, std::thread::hardware_concurrency());
    serve_options.defaults.limits = tend::WorkerLimits::defaults(fd_limit);
    serve_options.defaults.slow = tend::Seconds(60);
    if (!flags.idle_exit.empty()) {
        std::string why;
        const auto seconds = tend::parse_seconds(flags.idle_exit, why);
        if (!seconds) return usage_error("--idle-exit: " + why);
        serve_options.idle_exit = tend::Seconds(*seconds);
    }
    tend::Server server(serve_options);
    std::string why;
    const int code = server.run(why);
    if (code != 0) std::fprintf(stderr, "tend serve: %s\n", why.c_str());
    return code;
}

}  // namespace tend::cli
