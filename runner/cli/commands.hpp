// tend's subcommands, one file each: list.cpp, run.cpp, merge.cpp,
// serve.cpp, history.cpp, and status.cpp (tend status and tend stop). Each has a struct of its
// flags' values, an add_*_command() that registers the subcommand and its flags on the app
// (returning it, to ask parsed() after parsing), and a *_command() that runs it and returns tend's
// exit status. main.cpp wires them.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

#include "cli/options.hpp"
#include "config/selection.hpp"
#include "daemon/cache_bound.hpp"

namespace tend::cli {

/// `tend list`.
struct ListFlags {
    ConfigFlags config;
    tend::Selection selection;
    LimitFlags limits;  ///< only --startup-timeout
    bool as_json = false;
    std::string shard;
    std::string history_file;  ///< --history (with --shard)
    bool no_history = false;
    /// The subcommand, to ask which flags were given.
    const CLI::App* command = nullptr;
};
CLI::App* add_list_command(CLI::App& app, ListFlags& flags);
int list_command(const ListFlags& flags, FdLimit fd_limit);

/// `tend run`.
struct RunFlags {
    ConfigFlags config;
    tend::Selection selection;
    LimitFlags limits;
    std::size_t jobs = 0;  // read only when -j is given
    bool fail_fast = false;
    std::size_t max_fail = 0;
    std::uint32_t retries = 0;
    std::size_t max_worker_deaths = 8;
    bool failed_only = false;
    bool as_json = false;
    std::string json_file;
    std::string junit_path;
    std::string shard;
    bool verbose = false, quiet = false;
    // What people see: decided here (is stdout a terminal?), done by HumanReporter.
    std::string color_when = "auto", progress_when = "auto";
    bool no_progress = false, show_output = false;
    bool no_spares = false;
    std::string history_file;  ///< --history; empty: where history_path() finds it
    bool no_history = false;
    std::string socket_path;
    bool no_daemon = false, require_daemon = false;
    /// The subcommand, to ask which flags were given.
    const CLI::App* command = nullptr;
};
CLI::App* add_run_command(CLI::App& app, RunFlags& flags);
int run_command(const RunFlags& flags, FdLimit fd_limit);

/// `tend merge`.
struct MergeFlags {
    std::vector<std::string> files;
    std::string junit_path;
    bool as_json = false;
    /// --history: record the merged run there (the CI job that saves it).
    std::string history_file;
    ConfigFlags config;  ///< whose directory keys the binaries in the history
};
CLI::App* add_merge_command(CLI::App& app, MergeFlags& flags);
int merge_command(const MergeFlags& flags);

/// `tend serve`.
struct ServeFlags {
    std::size_t jobs = 0;  // read only when -j is given
    bool stdio = false;
    std::string idle_exit;
    std::size_t max_clients = 0, max_runs = 0;  // read only when given
    std::string max_queue_memory;
    std::size_t cache_binaries = tend::CacheLimits{}.max_entries;
    std::string cache_size = "32MiB";
    std::size_t spares = 0;  // read only when given
    std::string spare_memory;
    std::string socket_path;
    /// The subcommand, to ask which flags were given.
    const CLI::App* command = nullptr;
};
CLI::App* add_serve_command(CLI::App& app, ServeFlags& flags);
int serve_command(const ServeFlags& flags, FdLimit fd_limit);

/// `tend history`.
struct HistoryFlags {
    std::string history_file;
    std::string config_file;
    std::string test;  ///< --test: one test's recent runs
    std::size_t limit = 10;
    bool as_json = false;
};
CLI::App* add_history_command(CLI::App& app, HistoryFlags& flags);
int history_command(const HistoryFlags& flags);

/// `tend status`.
struct StatusFlags {
    bool as_json = false;
    std::string socket_path;
};
CLI::App* add_status_command(CLI::App& app, StatusFlags& flags);
int status_command(const StatusFlags& flags);

/// `tend stop`.
struct StopFlags {
    std::string socket_path;
};
CLI::App* add_stop_command(CLI::App& app, StopFlags& flags);
int stop_command(const StopFlags& flags);

}  // namespace tend::cli
