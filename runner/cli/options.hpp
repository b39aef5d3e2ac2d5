// What tend's subcommands share: exit statuses, how a usage or tend.toml
// error is told, the flags naming binaries and tend.toml (--config,
// --no-config), the selection flags, parsing the limit and timeout flags into
// a layer of settings, and the pool options they resolve to.
//
// Each subcommand registers its own flags and runs itself (commands.hpp);
// what two of them take alike is registered and parsed here, so it reads and
// behaves the same in each.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/selection.hpp"
#include "pool/shard.hpp"

namespace tend::cli {

/// The descriptor limit in force (raise_fd_limit()); nullopt: unlimited.
using FdLimit = std::optional<std::uint64_t>;

/// Exit statuses (docs/user-guide.md, "Exit status").
constexpr int kExitOk = 0;
constexpr int kExitTestsFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitStartup = 3;

/// A command line that cannot be used: the message, a pointer to --help,
/// and kExitUsage.
int usage_error(const std::string& message);

/// A tend.toml that cannot be used: no help text, the message says it all.
int config_error(const std::string& message);

/// No binaries named anywhere (a usage_error).
int no_binaries_error();

/// The binaries and the tend.toml to read (tend list, tend run).
struct ConfigFlags {
    std::vector<std::string> binaries;
    std::string config_file;
    bool no_config = false;
};

/// The binaries positional, --config and --no-config.
void add_config_options(CLI::App& cmd, ConfigFlags& flags);

/// --filter, --exclude, --suite, --exact, --only-tagged, --skip-tagged,
/// --run-ignored.
void add_selection_options(CLI::App& cmd, tend::Selection& selection);

/// tend.toml as a command reads it, and the binaries it runs.
struct ProjectConfig {
    tend::Config config;
    std::string name;                   ///< as messages name it
    std::filesystem::path dir;          ///< relative to the working directory
    std::vector<std::string> binaries;  ///< the command line's, else tend.toml's
};

/// tend.toml: the one named by --config, else the one found walking up
/// (none with --no-config), and the binaries its globs name when the command
/// line names none. False with `error` set (a config_error) when it cannot
/// be used.
bool load_tend_toml(const ConfigFlags& flags, ProjectConfig& out, std::string& error);

/// The directory the history keys binaries against (history_binary_key):
/// tend.toml's, or none without one.
std::filesystem::path history_keys_dir(const ProjectConfig& project);

/// Limit and timeout flags as given; an empty string is a flag not given.
struct LimitFlags {
    std::string max_rss;
    std::string max_fds;
    std::string max_age;
    std::string timeout;
    std::string grace;
    std::string slow;
    std::string startup_timeout;
    std::string teardown_timeout;
    std::string reuse;
    std::string framework;
};

/// --startup-timeout (tend list, tend run).
void add_startup_timeout_option(CLI::App& cmd, LimitFlags& flags);
/// --framework (tend list, tend run).
void add_framework_option(CLI::App& cmd, LimitFlags& flags);

/// --startup-timeout/--teardown-timeout: positive seconds, no "none" (every
/// wait is bounded). False with `error` set when the value is wrong.
bool parse_bound(const std::string& flag, const std::string& value,
                 std::optional<tend::Seconds>& out, std::string& error);

/// --max-rss/--max-fds/--max-age as a layer of settings; "none" lifts a
/// limit, an empty string is a flag not given.
bool parse_limit_flags(const LimitFlags& flags, tend::LimitSettings& limits, std::string& error);

/// Every flag of `flags` given as a layer of settings: the limits, the
/// startup and teardown bounds, --timeout, --slow, --grace. False with
/// `error` set (a usage_error) at the first wrong value.
bool parse_settings(const LimitFlags& flags, tend::Settings& settings, std::string& error);

/// The pool's options: the flags given, over tend.toml, over tend's defaults.
tend::PoolOptions resolve_pool_options(const std::vector<std::string>& binaries,
                                       const tend::Settings& flags, const ProjectConfig& config,
                                       FdLimit fd_limit);

/// --shard K/N (tend list, tend run).
void add_shard_option(CLI::App& cmd, std::string& shard);

/// The shard to run: --shard when `given`, else the one the environment
/// asks for (Bazel's, else GitLab's), else none. False with `error` (a
/// usage_error) naming the flag or variables when a value is wrong.
bool resolve_shard(const std::string& flag, bool given, std::optional<tend::Shard>& out,
                   std::string& error);

/// --socket, defaulting `socket_path` to the daemon's usual socket.
void add_socket_option(CLI::App& cmd, std::string& socket_path);

}  // namespace tend::cli
