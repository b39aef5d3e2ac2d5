// tend's command line: builds the app from the subcommands (commands.hpp, a
// file each), parses, and runs the one given.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "pool/fd_limit.hpp"

int main(int argc, char** argv) {
    using namespace tend::cli;
    // Worker pipes are written from the event loop; a worker that died must
    // be an error code there, not a signal that kills the supervisor.
    ::signal(SIGPIPE, SIG_IGN);
    // glibc's own malloc thresholds: test lists come in chunks of 256 KiB,
    // so no buffer is big enough any more for fixed thresholds to pay (they
    // made no measurable difference at 10,000 or 100,000 tests), and fixed
    // ones kept glibc from ever giving memory back. The daemon also trims
    // the heap itself when its last client leaves (daemon/server.cpp).
    const auto fd_limit = tend::raise_fd_limit();
    tend::close_inherited_on_exec();

    CLI::App app{
        "tend: runs test binaries on a pool of warm worker processes.\n"
        "\n"
        "Examples:\n"
        "  tend list ./build/tests/my_tests\n"
        "  tend run ./build/tests/my_tests -j 4\n"
        "  tend run ./a ./b --max-rss 512MiB --max-age none --json > events.jsonl\n"
        "  tend run ./build/tests/my_tests --junit report.xml\n"
        "  tend run ./build/tests/my_tests --shard 2/4 --json-file shard-2.jsonl\n"
        "  tend merge shard-*.jsonl --junit report.xml\n"
        "  tend run    (the binaries and settings of tend.toml, docs/config.md)\n",
        "tend"};
    app.require_subcommand(1);
    // A single-valued option given twice: the last one wins (-j 2 -j 4 is
    // -j 4), as in make, cargo, pytest. Subcommands copy these defaults when
    // they are made, so this comes before them; repeatable options (vectors)
    // still take every value.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.set_version_flag("--version", "tend 0.1.0");

    ListFlags list_flags;
    RunFlags run_flags;
    MergeFlags merge_flags;
    ServeFlags serve_flags;
    StatusFlags status_flags;
    StopFlags stop_flags;
    HistoryFlags history_flags;
    auto* list = add_list_command(app, list_flags);
    auto* run = add_run_command(app, run_flags);
    auto* merge = add_merge_command(app, merge_flags);
    auto* serve = add_serve_command(app, serve_flags);
    auto* status = add_status_command(app, status_flags);
    auto* stop = add_stop_command(app, stop_flags);
    auto* history = add_history_command(app, history_flags);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return kExitOk;
    } catch (const CLI::CallForAllHelp&) {
        std::cout << app.help("", CLI::AppFormatMode::All);
        return kExitOk;
    } catch (const CLI::CallForVersion& e) {
        std::cout << e.what() << '\n';
        return kExitOk;
    } catch (const CLI::ParseError& e) {
        if (app.get_subcommands().size() == 1 && e.get_exit_code() == 0) {
            std::cout << app.get_subcommands()[0]->help();
            return kExitOk;
        }
        return usage_error(e.what());
    }

    if (list->parsed()) return list_command(list_flags, fd_limit);
    if (run->parsed()) return run_command(run_flags, fd_limit);
    if (merge->parsed()) return merge_command(merge_flags);
    if (serve->parsed()) return serve_command(serve_flags, fd_limit);
    if (status->parsed()) return status_command(status_flags);
    if (stop->parsed()) return stop_command(stop_flags);
    if (history->parsed()) return history_command(history_flags);
    return kExitUsage;  // require_subcommand(1): not reached
}
