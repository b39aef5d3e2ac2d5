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
                     "Clients connected at once; past N a new one gets a 'busy' error. Default: "
                     "what the descriptor limit allows, less a reserve for the workers")
        ->check(CLI::Range(1, 1 << 24))
        ->type_name("N");
    serve
        ->add_option("--max-runs", flags.max_runs,
                     "Runs under way at once, all clients; more wait their turn in a queue "
                     "(first come, first served). Default: twice -j, at least 8")
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
    serve
        ->add_option("--spares", flags.spares,
                     "Keep up to N spares per binary (started, listed, no test run yet) for the "
                     "next run, started in the background after a run; 0 keeps none. Default: "
                     "-j")
        ->check(CLI::Range(0, 1 << 16))
        ->type_name("N");
    serve
        ->add_option("--spare-memory", flags.spare_memory,
                     "Spares and idle workers hold SIZE of memory at most (their RSS), the "
                     "binaries run longest ago losing theirs first. Default: a sixteenth of "
                     "the machine's memory, at least 256MiB")
        ->type_name("SIZE");
    serve
        ->add_option("--max-queue-memory", flags.max_queue_memory,
                     "Memory that waiting clients and queued runs may hold in the daemon; past "
                     "it a new client or run gets a 'busy' error. Default 256MiB")
        ->type_name("SIZE");
    add_socket_option(*serve, flags.socket_path);
    return serve;
}

int serve_command(const ServeFlags& flags, FdLimit fd_limit) {
    tend::ServeOptions serve_options;
    serve_options.socket_path = flags.socket_path;
    serve_options.stdio = flags.stdio;
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
    serve_options.spares.per_binary =
        flags.command->count("--spares") ? flags.spares : serve_options.defaults.jobs;
    serve_options.spares.memory_bytes = tend::SpareLimits::default_memory();
    if (!flags.spare_memory.empty()) {
        std::string why;
        const auto bytes = tend::parse_size(flags.spare_memory, why);
        if (!bytes) return usage_error("--spare-memory: " + why);
        serve_options.spares.memory_bytes = *bytes;
    }
    // A client holds a descriptor; the workers must always find theirs.
    const auto reserve = tend::descriptor_reserve(serve_options.defaults.jobs);
    const std::uint64_t fit =
        !fd_limit ? std::uint64_t{1} << 20
                  : std::max<std::uint64_t>(16, *fd_limit - std::min(*fd_limit, reserve));
    serve_options.max_clients = static_cast<std::size_t>(fit);
    if (flags.command->count("--max-clients")) {
        if (flags.max_clients > fit) {
            std::fprintf(stderr,
                         "tend serve: warning: --max-clients %zu: only %llu fit in the "
                         "descriptor limit %llu less %llu kept for %zu workers; taking %llu\n",
                         flags.max_clients, static_cast<unsigned long long>(fit),
                         static_cast<unsigned long long>(fd_limit.value_or(0)),
                         static_cast<unsigned long long>(reserve), serve_options.defaults.jobs,
                         static_cast<unsigned long long>(fit));
        } else {
            serve_options.max_clients = flags.max_clients;
        }
    }
    if (flags.command->count("--max-runs")) serve_options.max_runs = flags.max_runs;
    if (!flags.max_queue_memory.empty()) {
        std::string why;
        const auto bytes = tend::parse_size(flags.max_queue_memory, why);
        if (!bytes) return usage_error("--max-queue-memory: " + why);
        if (*bytes == 0) return usage_error("--max-queue-memory: must be more than 0");
        serve_options.max_queue_memory = static_cast<std::size_t>(*bytes);
    }
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
