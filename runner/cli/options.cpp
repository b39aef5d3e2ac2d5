// What tend's subcommands share (options.hpp): errors, the binaries,
// tend.toml and selection flags, the limit and timeout flags, pool options.
#include "cli/options.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "config/quantities.hpp"
#include "daemon/server.hpp"
#include "pool/binary_framework.hpp"
#include "report/terminal.hpp"

namespace tend::cli {

int usage_error(const std::string& message) {
    std::fprintf(stderr, "tend: %s\nRun 'tend --help' for usage.\n",
                 tend::printable(message, tend::Lines::keep).c_str());
    return kExitUsage;
}

int config_error(const std::string& message) {
    std::fprintf(stderr, "tend: %s\n", tend::printable(message, tend::Lines::keep).c_str());
    return kExitUsage;
}

int no_binaries_error() {
    return usage_error(
        "no test binaries: name them on the command line or in tend.toml ('binaries', "
        "docs/config.md)");
}

// Both tend list and tend run read tend.toml; a setting given as a flag wins.
void add_config_options(CLI::App& cmd, ConfigFlags& flags) {
    cmd.add_option("binaries", flags.binaries,
                   "Test binaries built with the tend worker library (default: "
                   "'binaries' of tend.toml)")
        ->check(CLI::ExistingFile);
    auto* file = cmd.add_option("--config", flags.config_file,
                                "Read settings from FILE instead of the tend.toml found "
                                "walking up from the working directory")
                     ->type_name("FILE");
    cmd.add_flag("--no-config", flags.no_config, "Read no tend.toml")->excludes(file);
}

void add_selection_options(CLI::App& cmd, tend::Selection& selection) {
    cmd.add_option("-f,--filter", selection.filters,
                   "Only tests whose name, suite/name or Suite.Name (gtest's form) matches "
                   "PATTERN (* any characters, ? one, \\ escapes; repeatable, any one will "
                   "do): -f 'parser/*'")
        ->type_name("PATTERN")
        ->allow_extra_args(false);
    cmd.add_option("-e,--exclude", selection.excludes,
                   "Leave out tests whose name or suite/name matches PATTERN (repeatable)")
        ->type_name("PATTERN")
        ->allow_extra_args(false);
    cmd.add_option("--suite", selection.suites,
                   "Only tests of a suite matching PATTERN (repeatable)")
        ->type_name("PATTERN")
        ->allow_extra_args(false);
    cmd.add_option(
           "--exact", selection.exact,
           "Only the test named NAME, SUITE/NAME or SUITE.NAME exactly, no pattern characters "
           "(repeatable): --exact 'math/divides by zero'")
        ->type_name("NAME")
        ->allow_extra_args(false);
    cmd.add_option("--only-tagged", selection.only_tags,
                   "Only tests carrying TAG: a doctest decorator (skip, may_fail, "
                   "should_fail, expected_failures, timeout) or a [word] of the test's "
                   "description, a Catch2 [tag] without its brackets (repeatable, any one "
                   "will do)")
        ->type_name("TAG")
        ->allow_extra_args(false);
    cmd.add_option("--skip-tagged", selection.skip_tags,
                   "Leave out tests carrying TAG (repeatable)")
        ->type_name("TAG")
        ->allow_extra_args(false);
    // nextest's flag and words; what is "ignored" is the framework's call.
    cmd.add_option_function<std::string>(
           "--run-ignored",
           [&selection](const std::string& word) {
               selection.run_ignored = *tend::run_ignored_from_string(word);
           },
           "Tests the framework skips by default (doctest's skip(), gtest's DISABLED_, "
           "Catch2's hidden [.] and [!hide]): "
           "'default' reports them skipped without running them, 'only' runs them and "
           "nothing else, 'all' runs them with the rest")
        ->type_name("WHICH")
        ->check(CLI::IsMember({"default", "only", "all"}));
}

// Paths in messages and the binaries found by its globs are relative to the
// working directory ("../tend.toml", "../build/tests/a").
bool load_tend_toml(const ConfigFlags& flags, ProjectConfig& out, std::string& error) {
    out.binaries = flags.binaries;
    if (!flags.no_config) {
        std::optional<std::filesystem::path> file;
        if (!flags.config_file.empty()) {
            file = flags.config_file;
        } else if (std::error_code ec;
                   (file = tend::find_config(std::filesystem::current_path(ec)))) {
            out.name = std::filesystem::proximate(*file, ec).string();
        }
        if (file) {
            if (out.name.empty()) out.name = file->string();
            if (!tend::load_config(*file, out.config, error, out.name)) return false;
            out.dir = std::filesystem::path(out.name).parent_path();
        }
    }
    if (!out.binaries.empty() || !out.config.binaries) return true;
    return tend::expand_binaries(*out.config.binaries, out.dir, out.name, out.binaries, error);
}

std::filesystem::path history_keys_dir(const ProjectConfig& project) {
    if (project.name.empty()) return {};
    return project.dir.empty() ? std::filesystem::path(".") : project.dir;
}

void add_startup_timeout_option(CLI::App& cmd, LimitFlags& flags) {
    cmd.add_option("--startup-timeout", flags.startup_timeout,
                   "Give up on a worker that has not said hello (or listed its tests) "
                   "after SECONDS: the binary is reported and tend exits 3. Default 60")
        ->type_name("SECONDS");
}

void add_framework_option(CLI::App& cmd, LimitFlags& flags) {
    cmd.add_option("--framework", flags.framework,
                   "What the binaries are: auto (read from each file, the default), tend (a "
                   "worker: linked with tend's worker library), or gtest, doctest, catch2: an "
                   "unmodified binary of that framework, run in batches of fresh processes")
        ->type_name("auto|tend|gtest|doctest|catch2")
        ->check(CLI::IsMember({"auto", "tend", "gtest", "doctest", "catch2"}));
}

bool parse_bound(const std::string& flag, const std::string& value,
                 std::optional<tend::Seconds>& out, std::string& error) {
    if (value.empty()) return true;
    const auto seconds = tend::parse_seconds(value, error);
    if (!seconds || *seconds <= 0) {
        error = flag + ": " + (seconds ? "'" + value + "' must be more than 0" : error);
        return false;
    }
    out = tend::Seconds(*seconds);
    return true;
}

bool parse_limit_flags(const LimitFlags& flags, tend::LimitSettings& limits, std::string& error) {
    if (!flags.max_rss.empty()) {
        if (flags.max_rss == "none") {
            limits.max_rss_bytes.emplace();
        } else if (auto v = tend::parse_size(flags.max_rss, error)) {
            limits.max_rss_bytes = v;
        } else {
            error = "--max-rss: " + error;
            return false;
        }
    }
    if (!flags.max_fds.empty()) {
        if (flags.max_fds == "none") {
            limits.max_open_fds.emplace();
        } else {
            try {
                std::size_t used = 0;
                const auto v = std::stoull(flags.max_fds, &used);
                if (used != flags.max_fds.size()) throw std::invalid_argument("trailing");
                limits.max_open_fds = std::optional<std::uint64_t>(v);
            } catch (const std::exception&) {
                error = "--max-fds: '" + flags.max_fds + "' is not a descriptor count or 'none'";
                return false;
            }
        }
    }
    if (!flags.max_age.empty()) {
        if (flags.max_age == "none") {
            limits.max_age.emplace();
        } else if (auto v = tend::parse_seconds(flags.max_age, error)) {
            limits.max_age = std::optional<tend::Seconds>(*v);
        } else {
            error = "--max-age: " + error;
            return false;
        }
    }
    return true;
}

bool parse_settings(const LimitFlags& flags, tend::Settings& settings, std::string& error) {
    if (!parse_limit_flags(flags, settings.limits, error)) return false;
    if (!parse_bound("--startup-timeout", flags.startup_timeout, settings.startup_timeout, error) ||
        !parse_bound("--teardown-timeout", flags.teardown_timeout, settings.teardown_timeout,
                     error)) {
        return false;
    }
    if (!flags.timeout.empty()) {
        if (flags.timeout == "none") {
            settings.timeout.emplace();
        } else {
            const auto seconds = tend::parse_seconds(flags.timeout, error);
            if (!seconds || *seconds <= 0) {
                error = "--timeout: " +
                        (seconds ? "'" + flags.timeout + "' must be more than 0" : error);
                return false;
            }
            settings.timeout = std::optional<tend::Seconds>(*seconds);
        }
    }
    if (!flags.slow.empty()) {
        if (flags.slow == "none") {
            settings.slow.emplace();
        } else {
            const auto seconds = tend::parse_seconds(flags.slow, error);
            if (!seconds || *seconds <= 0) {
                error = "--slow: " + (seconds ? "'" + flags.slow + "' must be more than 0" : error);
                return false;
            }
            settings.slow = std::optional<tend::Seconds>(*seconds);
        }
    }
    if (!flags.framework.empty()) {
        if (!tend::is_framework_word(flags.framework)) {
            error = "--framework: '" + flags.framework +
                    "' is none of auto, tend, gtest, doctest, catch2";
            return false;
        }
        settings.framework = flags.framework;
    }
    if (!flags.reuse.empty()) {
        settings.reuse = tend::parse_reuse(flags.reuse);
        if (!settings.reuse) {
            error = "--reuse: '" + flags.reuse + "' is neither run nor daemon";
            return false;
        }
    }
    if (!flags.grace.empty()) {
        const auto seconds = tend::parse_seconds(flags.grace, error);
        if (!seconds) {
            error = "--grace: " + error;
            return false;
        }
        settings.grace = tend::Seconds(*seconds);
    }
    return true;
}

tend::PoolOptions resolve_pool_options(const std::vector<std::string>& binaries,
                                       const tend::Settings& flags, const ProjectConfig& config,
                                       FdLimit fd_limit) {
    tend::PoolOptions defaults;
    defaults.jobs = std::max(1u, std::thread::hardware_concurrency());
    defaults.limits = tend::WorkerLimits::defaults(fd_limit);
    defaults.slow = tend::Seconds(60);
    return tend::resolve_options(binaries, flags, config.config, config.dir, defaults);
}

void add_socket_option(CLI::App& cmd, std::string& socket_path) {
    socket_path = tend::default_socket_path();
    cmd.add_option("--socket", socket_path,
                   "The daemon's socket (default $XDG_RUNTIME_DIR/tend/tend.sock, else "
                   "/tmp/tend-UID/tend.sock)")
        ->type_name("PATH");
}

void add_shard_option(CLI::App& cmd, std::string& shard) {
    cmd.add_option("--shard", shard,
                   "Only the K-th of N shards of the selected tests (K from 1; units are never "
                   "split; every machine computes the same partition). Default: "
                   "TEST_SHARD_INDEX/TEST_TOTAL_SHARDS (Bazel, from 0), else "
                   "CI_NODE_INDEX/CI_NODE_TOTAL (GitLab parallel:)")
        ->type_name("K/N");
}

bool resolve_shard(const std::string& flag, bool given, std::optional<tend::Shard>& out,
                   std::string& error) {
    out.reset();
    if (given) {
        out = tend::parse_shard(flag, error);
        if (!out) error = "--shard " + error;
        return out.has_value();
    }
    tend::EnvShard env;
    if (!tend::shard_from_env([](const char* name) { return std::getenv(name); }, env, error)) {
        return false;
    }
    out = env.shard;
    return true;
}

}  // namespace tend::cli
