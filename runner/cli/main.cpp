// tend's command line: `tend list` and `tend run`.
#include <fmt/format.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "config/config.hpp"
#include "config/last_run.hpp"
#include "config/quantities.hpp"
#include "daemon/daemon_client.hpp"
#include "daemon/run_request.hpp"
#include "daemon/server.hpp"
#include "pool/fd_limit.hpp"
#include "pool/pool.hpp"
#include "report/human_reporter.hpp"
#include "report/json_reporter.hpp"
#include "report/junit_reporter.hpp"
#include "report/tee_reporter.hpp"
#include "report/terminal.hpp"

namespace {

/// Exit statuses (docs/user-guide.md, "Exit status").
constexpr int kExitOk = 0;
constexpr int kExitTestsFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitStartup = 3;

struct LimitFlags {
    std::string max_rss;
    std::string max_fds;
    std::string max_age;
    std::string timeout;
    std::string grace;
    std::string slow;
    std::string startup_timeout;
    std::string teardown_timeout;
};

/// --startup-timeout/--teardown-timeout: positive seconds, no "none" (every
/// wait is bounded). False with `error` set when the value is wrong.
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

/// --max-rss/--max-fds/--max-age as a layer of settings; "none" lifts a
/// limit, an empty string is a flag not given.
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

int usage_error(const std::string& message) {
    std::fprintf(stderr, "tend: %s\nRun 'tend --help' for usage.\n",
                 tend::printable(message, tend::Lines::keep).c_str());
    return kExitUsage;
}

/// A tend.toml that cannot be used: no help text, the message says it all.
int config_error(const std::string& message) {
    std::fprintf(stderr, "tend: %s\n", tend::printable(message, tend::Lines::keep).c_str());
    return kExitUsage;
}

int run_list(tend::PoolOptions opts, const tend::Selection& selection, bool as_json) {
    const auto& binaries = opts.binaries;
    opts.list_only = true;
    opts.limits = tend::WorkerLimits::unlimited();
    opts.per_binary.clear();
    tend::Pool pool(opts, nullptr);
    pool.run();
    // Interrupted: what was listed is printed, and the status says so.
    int status = pool.interrupted() ? 128 + pool.interrupted() : kExitOk;
    for (const auto& b : pool.listing()) {
        if (!b.error.empty()) {
            std::fprintf(stderr, "tend: %s\n", tend::printable(b.error, tend::Lines::keep).c_str());
            if (!pool.interrupted()) status = kExitStartup;
            continue;
        }
        for (const auto& t : b.tests) {
            if (!tend::selects(selection, t)) continue;
            if (as_json) {
                nlohmann::json j{{"binary", b.binary}, {"id", t.id},
                                 {"name", t.name},     {"suite", t.suite},
                                 {"file", t.file},     {"line", t.line},
                                 {"skip", t.skip},     {"timeout", t.timeout_s},
                                 {"tags", t.tags}};
                std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
            } else {
                // One line per test, whatever its name holds (printable()).
                std::string line = binaries.size() > 1 ? b.binary + ": " : std::string();
                if (!t.suite.empty()) line += t.suite + "/";
                line += t.name;
                std::printf("%s%s\n", tend::printable(line).c_str(), t.skip ? "  (skipped)" : "");
            }
        }
    }
    return status;
}

/// `tend status` and `tend stop`.
int daemon_command(const std::string& socket_path, const char* method, bool as_json) {
    std::string error;
    auto client = tend::DaemonClient::connect(socket_path, error);
    if (!client) {
        std::fprintf(stderr, "tend: %s\n", error.c_str());
        return kExitStartup;
    }
    nlohmann::json result;
    if (!client->call(method, nlohmann::json::object(), result, error)) {
        std::fprintf(stderr, "tend: the daemon on %s: %s\n", socket_path.c_str(), error.c_str());
        return kExitStartup;
    }
    if (std::string_view(method) == "shutdown") {
        std::printf("The daemon on %s is shutting down.\n", socket_path.c_str());
        return kExitOk;
    }
    if (as_json) {
        std::puts(result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        return kExitOk;
    }
    auto seconds = [](double s) {
        const auto whole = static_cast<long>(s);
        return whole >= 60 ? fmt::format("{}m{:02}s", whole / 60, whole % 60)
                           : fmt::format("{:.1f}s", s);
    };
    auto health = [](const nlohmann::json& h, const char* key) -> std::string {
        if (!h.contains(key) || h[key].is_null()) return "-";
        const auto v = h[key].get<std::uint64_t>();
        return std::string_view(key) == "rss_bytes" ? tend::format_bytes(static_cast<double>(v))
                                                    : std::to_string(v);
    };
    std::printf("tend daemon pid %lld on %s, up %s, %llu jobs, %llu clients\n",
                result.value("pid", 0LL), socket_path.c_str(),
                seconds(result.value("uptime_s", 0.0)).c_str(), result.value("jobs", 0ULL),
                result.value("clients", 0ULL));
    const auto& workers = result["workers"];
    std::printf("Workers: %zu\n", workers.size());
    if (!workers.empty()) {
        std::printf("  %-8s %-10s %-8s %-11s %-5s %s\n", "PID", "STATE", "AGE", "RSS", "FDS",
                    "BINARY");
        for (const auto& w : workers) {
            std::printf("  %-8lld %-10s %-8s %-11s %-5s %s\n", w.value("pid", 0LL),
                        w.value("state", "").c_str(), seconds(w.value("age_s", 0.0)).c_str(),
                        health(w["health"], "rss_bytes").c_str(),
                        health(w["health"], "open_fds").c_str(),
                        tend::printable(w.value("binary", "")).c_str());
        }
    }
    for (const auto& r : result["runs"]) {
        std::printf("Run %llu (client %llu): %llu of %llu tests done\n", r.value("run", 0ULL),
                    r.value("client", 0ULL), r.value("done", 0ULL), r.value("total", 0ULL));
    }
    for (const auto& b : result["binaries"]) {
        const auto& rec = b["recycled"];
        std::printf(
            "%s: %llu tests run, recycled %llu for memory, %llu for fds, %llu for age%s%s\n",
            tend::printable(b.value("binary", "")).c_str(), b.value("tests_run", 0ULL),
            rec.value("memory", 0ULL), rec.value("fds", 0ULL), rec.value("age", 0ULL),
            b.value("last_recycle", "").empty() ? "" : "; last: ",
            tend::printable(b.value("last_recycle", "")).c_str());
    }
    return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    // Worker pipes are written from the event loop; a worker that died must
    // be an error code there, not a signal that kills the supervisor.
    ::signal(SIGPIPE, SIG_IGN);
    // Big, short-lived buffers (a 10,000-test list is a megabyte) come and go
    // at every discovery: keep them in the heap instead of mapping and
    // unmapping them, which costs a page fault per page each time.
    ::mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    ::mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
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
        "  tend run    (the binaries and settings of tend.toml, docs/config.md)\n",
        "tend"};
    app.require_subcommand(1);
    // A single-valued option given twice: the last one wins (-j 2 -j 4 is
    // -j 4), as in make, cargo, pytest. Subcommands copy these defaults when
    // they are made; repeatable options (vectors) still take every value.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.set_version_flag("--version", "tend 0.1.0");

    std::vector<std::string> binaries;
    std::size_t jobs = 0;  // read only when -j is given
    bool as_json = false;
    std::string junit_path;
    LimitFlags limit_flags;
    bool verbose = false, quiet = false, fail_fast = false;
    std::size_t max_fail = 0;
    std::uint32_t retries = 0;
    std::size_t max_worker_deaths = 8;
    std::string config_file;
    bool no_config = false;
    tend::Selection selection;
    bool failed_only = false;
    std::string json_file;
    // Both subcommands read tend.toml; a setting given as a flag wins.
    auto add_config_options = [&](CLI::App* sub) {
        sub->add_option("binaries", binaries,
                        "Test binaries built with the tend worker library (default: "
                        "'binaries' of tend.toml)")
            ->check(CLI::ExistingFile);
        auto* file = sub->add_option("--config", config_file,
                                     "Read settings from FILE instead of the tend.toml found "
                                     "walking up from the working directory")
                         ->type_name("FILE");
        sub->add_flag("--no-config", no_config, "Read no tend.toml")->excludes(file);
        sub->add_option("-f,--filter", selection.filters,
                        "Only tests whose name or suite/name matches PATTERN (* any characters, ? "
                        "one, \\ escapes; repeatable, any one will do): -f 'parser/*'")
            ->type_name("PATTERN")
            ->allow_extra_args(false);
        sub->add_option("-e,--exclude", selection.excludes,
                        "Leave out tests whose name or suite/name matches PATTERN (repeatable)")
            ->type_name("PATTERN")
            ->allow_extra_args(false);
        sub->add_option("--suite", selection.suites,
                        "Only tests of a suite matching PATTERN (repeatable)")
            ->type_name("PATTERN")
            ->allow_extra_args(false);
        sub->add_option("--exact", selection.exact,
                        "Only the test named NAME or SUITE/NAME exactly, no pattern characters "
                        "(repeatable): --exact 'math/divides by zero'")
            ->type_name("NAME")
            ->allow_extra_args(false);
        sub->add_option("--only-tagged", selection.only_tags,
                        "Only tests carrying TAG: a doctest decorator (skip, may_fail, "
                        "should_fail, expected_failures, timeout) or a [word] of the test's "
                        "description (repeatable, any one will do)")
            ->type_name("TAG")
            ->allow_extra_args(false);
        sub->add_option("--skip-tagged", selection.skip_tags,
                        "Leave out tests carrying TAG (repeatable)")
            ->type_name("TAG")
            ->allow_extra_args(false);
    };

    auto* list = app.add_subcommand("list", "Print the tests in test binaries.");
    add_config_options(list);
    list->add_flag("--json", as_json, "One JSON object per test");
    const auto add_startup_timeout = [&](CLI::App* cmd) {
        cmd->add_option("--startup-timeout", limit_flags.startup_timeout,
                        "Give up on a worker that has not said hello (or listed its tests) "
                        "after SECONDS: the binary is reported and tend exits 3. Default 60")
            ->type_name("SECONDS");
    };
    add_startup_timeout(list);

    auto* run = app.add_subcommand("run", "Run every test of the test binaries on warm workers.");
    add_config_options(run);
    auto* jobs_flag =
        run->add_option("-j,--jobs", jobs, "Worker processes (default: number of CPUs)")
            ->check(CLI::Range(1, 4096))
            ->type_name("N");
    run->add_option("--max-rss", limit_flags.max_rss,
                    "Recycle a worker whose RSS reaches SIZE after a unit (512MiB, 1GiB; "
                    "'none'). Default 1GiB")
        ->type_name("SIZE|none");
    run->add_option("--max-fds", limit_flags.max_fds,
                    "Recycle a worker with N open descriptors after a unit ('none'). Default: "
                    "half the descriptor limit")
        ->type_name("N|none");
    run->add_option("--max-age", limit_flags.max_age,
                    "Recycle a worker older than SECONDS after a unit (fractional; 'none'). "
                    "Default 3600")
        ->type_name("SECONDS|none");
    run->add_option("--timeout", limit_flags.timeout,
                    "Kill a test still running after SECONDS (fractional; its worker's process "
                    "group gets SIGTERM, then SIGKILL 1 s later) and report it timed_out; the rest "
                    "of its unit runs on a fresh worker. Default: none, but a test with a doctest "
                    "timeout decorator is killed after its own timeout")
        ->type_name("SECONDS|none");
    run->add_option("--slow", limit_flags.slow,
                    "Report a test still running after SECONDS as slow (a SLOW line, a JSON "
                    "'slow' event), again after each further SECONDS; it goes on running. "
                    "Default 60")
        ->type_name("SECONDS|none");
    add_startup_timeout(run);
    run->add_option("--teardown-timeout", limit_flags.teardown_timeout,
                    "Kill a worker whose scope teardown is still running after SECONDS (SIGTERM, "
                    "then SIGKILL); the teardown is an error, the next unit runs on a fresh "
                    "worker. Default: --timeout when given, else 60")
        ->type_name("SECONDS");
    run->add_option("--grace", limit_flags.grace,
                    "After SIGINT/SIGTERM, let running units go on for SECONDS before killing "
                    "their workers; a second signal kills at once. Default 5")
        ->type_name("SECONDS");
    auto* fail_fast_flag = run->add_flag(
        "--fail-fast", fail_fast,
        "Start no new unit after the first failure; running units finish, the rest is "
        "reported not_run (a binary not listed yet is not started: a WARN names it)");
    auto* max_fail_flag =
        run->add_option("--max-fail", max_fail, "Like --fail-fast, after N failures")
            ->check(CLI::Range(1, 1 << 30))
            ->type_name("N");
    auto* retries_flag =
        run->add_option("--retries", retries,
                        "Run a failed, crashed, timed-out or errored test again, up to N times, on "
                        "another worker; one that passes on a retry is reported flaky")
            ->check(CLI::Range(0, 100))
            ->type_name("N");
    auto* deaths_flag =
        run->add_option("--max-worker-deaths", max_worker_deaths,
                        "After N workers of one binary died (crash loop), start no more for it and "
                        "report its remaining tests not_run. Default 8")
            ->check(CLI::Range(0, 1 << 20))
            ->type_name("N");
    run->add_flag("--failed", failed_only,
                  "Run only the tests that failed in the last run (kept in .tend/last-run.json "
                  "beside tend.toml, else in the working directory, or in $TEND_STATE_DIR); with "
                  "no binaries named, every binary that had failures");
    run->add_flag("--json", as_json, "Write JSON lines (one per event) to stdout");
    run->add_option("--json-file", json_file,
                    "Also write the JSON lines to FILE, whatever goes to stdout")
        ->type_name("FILE");
    run->add_option(
           "--junit", junit_path,
           "Also write a JUnit XML report for CI (GitLab, Jenkins, GitHub) to FILE when the "
           "run ends, beside the usual output or --json: --junit report.xml")
        ->type_name("FILE");
    run->add_flag("-v,--verbose", verbose, "Also log every recycle with its reason");
    run->add_flag("-q,--quiet", quiet, "Print only failures, their recap and the summary");
    // What people see: decided here (is stdout a terminal?), done by HumanReporter.
    std::string color_when = "auto", progress_when = "auto";
    bool no_progress = false, show_output = false;
    run->add_option("--color", color_when,
                    "Colour the output: auto (on a terminal, unless NO_COLOR is set and not "
                    "empty or TERM is dumb), always, never. Default auto")
        ->check(CLI::IsMember({"auto", "always", "never"}))
        ->type_name("WHEN");
    auto* progress_flag =
        run->add_option("--progress", progress_when,
                        "A live progress line under the results: auto (on a terminal), always, "
                        "never. Default auto")
            ->check(CLI::IsMember({"auto", "always", "never"}))
            ->type_name("WHEN");
    run->add_flag("--no-progress", no_progress, "Same as --progress never")
        ->excludes(progress_flag);
    run->add_flag("--show-output", show_output,
                  "Show the captured output of failed tests in full (not only its tail), and "
                  "that of passing tests too");
    std::string socket_path = tend::default_socket_path();
    bool no_daemon = false, require_daemon = false;
    auto* daemon_flag = run->add_flag(
        "--daemon", require_daemon,
        "Run through the daemon (tend serve) and fail if none listens; by default tend uses "
        "one when it listens on the socket, and runs alone otherwise");
    run->add_flag("--no-daemon", no_daemon, "Run alone even when a daemon listens")
        ->excludes(daemon_flag);

    auto* serve = app.add_subcommand(
        "serve",
        "Keep warm workers and test lists for later runs: `tend run` uses the daemon when it "
        "listens, editors talk JSON-RPC to it (--stdio).");
    bool serve_stdio = false;
    std::string idle_exit;
    std::size_t max_clients = 64, max_runs = 256;
    serve
        ->add_option("-j,--jobs", jobs,
                     "Worker processes at most, across all runs (default: number of CPUs)")
        ->check(CLI::Range(1, 4096))
        ->type_name("N");
    serve->add_flag("--stdio", serve_stdio,
                    "Serve one client on stdin/stdout (JSON-RPC, a message per line) instead of "
                    "a socket; end when stdin closes");
    serve->add_option("--idle-exit", idle_exit, "Exit after SECONDS without clients")
        ->type_name("SECONDS");
    serve
        ->add_option("--max-clients", max_clients,
                     "Refuse clients past N at once with a 'busy' error. Default 64")
        ->check(CLI::Range(1, 1 << 16))
        ->type_name("N");
    serve
        ->add_option("--max-runs", max_runs,
                     "Refuse runs past N under way, all clients, with a 'busy' error. Default 256")
        ->check(CLI::Range(1, 1 << 16))
        ->type_name("N");
    auto* status = app.add_subcommand(
        "status", "Show the daemon's workers (pid, state, age, health), runs and binaries.");
    bool status_json = false;
    status->add_flag("--json", status_json, "The daemon's answer as it is, one JSON object");
    auto* stop = app.add_subcommand(
        "stop", "Shut the daemon down: running runs drain as on Ctrl-C, then it exits.");
    for (auto* sub : {run, serve, status, stop}) {
        sub->add_option("--socket", socket_path,
                        "The daemon's socket (default $XDG_RUNTIME_DIR/tend/tend.sock, else "
                        "/tmp/tend-UID/tend.sock)")
            ->type_name("PATH");
    }

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

    if (serve->parsed()) {
        tend::ServeOptions serve_options;
        serve_options.socket_path = socket_path;
        serve_options.stdio = serve_stdio;
        serve_options.max_clients = max_clients;
        serve_options.max_runs = max_runs;
        serve_options.defaults.jobs =
            serve->count("--jobs") ? jobs : std::max(1u, std::thread::hardware_concurrency());
        serve_options.defaults.limits = tend::WorkerLimits::defaults(fd_limit);
        serve_options.defaults.slow = tend::Seconds(60);
        if (!idle_exit.empty()) {
            std::string why;
            const auto seconds = tend::parse_seconds(idle_exit, why);
            if (!seconds) return usage_error("--idle-exit: " + why);
            serve_options.idle_exit = tend::Seconds(*seconds);
        }
        tend::Server server(serve_options);
        std::string why;
        const int code = server.run(why);
        if (code != 0) std::fprintf(stderr, "tend serve: %s\n", why.c_str());
        return code;
    }
    if (status->parsed() || stop->parsed()) {
        return daemon_command(socket_path, stop->parsed() ? "shutdown" : "status", status_json);
    }

    // tend.toml: the one named by --config, else the one found walking up.
    // Paths in messages and the binaries found by its globs are relative
    // to the working directory ("../tend.toml", "../build/tests/a").
    tend::Config config;
    std::string config_name;  // as messages name it
    std::filesystem::path config_dir;
    std::string error;
    if (!no_config) {
        std::optional<std::filesystem::path> file;
        if (!config_file.empty()) {
            file = config_file;
        } else if (std::error_code ec;
                   (file = tend::find_config(std::filesystem::current_path(ec)))) {
            config_name = std::filesystem::proximate(*file, ec).string();
        }
        if (file) {
            if (config_name.empty()) config_name = file->string();
            if (!tend::load_config(*file, config, error, config_name)) return config_error(error);
            config_dir = std::filesystem::path(config_name).parent_path();
        }
    }
    if (binaries.empty() && config.binaries &&
        !tend::expand_binaries(*config.binaries, config_dir, config_name, binaries, error)) {
        return config_error(error);
    }
    // --failed: the binaries and tests the last run left failing.
    tend::LastRun last;
    const auto state_path = tend::last_run_path(config_dir);
    std::vector<tend::Selection> per_binary;
    if (failed_only) {
        if (!tend::load_last_run(state_path, last, error)) {
            return usage_error("--failed: no earlier run to take failures from: " + error);
        }
        if (binaries.empty()) {
            for (const auto& [binary, _] : last.failed) binaries.push_back(binary);
        }
        std::vector<std::string> kept;
        for (const auto& b : binaries) {
            const auto found = last.failed.find(tend::binary_key(b));
            if (found == last.failed.end()) continue;
            kept.push_back(b);
            per_binary.push_back(selection);
            per_binary.back().ids = found->second;
        }
        if (kept.empty()) {
            std::printf("No failures recorded by the last run (%s): nothing to run.\n",
                        state_path.c_str());
            return kExitOk;
        }
        binaries = std::move(kept);
    }
    if (binaries.empty()) {
        return usage_error(
            "no test binaries: name them on the command line or in tend.toml ('binaries', "
            "docs/config.md)");
    }

    // The command line as a layer of settings: only the flags given.
    tend::Settings flags;
    if (!parse_limit_flags(limit_flags, flags.limits, error)) return usage_error(error);
    if (jobs_flag->count()) flags.jobs = jobs;
    if (!parse_bound("--startup-timeout", limit_flags.startup_timeout, flags.startup_timeout,
                     error) ||
        !parse_bound("--teardown-timeout", limit_flags.teardown_timeout, flags.teardown_timeout,
                     error)) {
        return usage_error(error);
    }
    if (!limit_flags.timeout.empty()) {
        if (limit_flags.timeout == "none") {
            flags.timeout.emplace();
        } else {
            const auto seconds = tend::parse_seconds(limit_flags.timeout, error);
            if (!seconds || *seconds <= 0) {
                return usage_error(
                    "--timeout: " +
                    (seconds ? "'" + limit_flags.timeout + "' must be more than 0" : error));
            }
            flags.timeout = std::optional<tend::Seconds>(*seconds);
        }
    }
    if (!limit_flags.slow.empty()) {
        if (limit_flags.slow == "none") {
            flags.slow.emplace();
        } else {
            const auto seconds = tend::parse_seconds(limit_flags.slow, error);
            if (!seconds || *seconds <= 0) {
                return usage_error(
                    "--slow: " +
                    (seconds ? "'" + limit_flags.slow + "' must be more than 0" : error));
            }
            flags.slow = std::optional<tend::Seconds>(*seconds);
        }
    }
    if (!limit_flags.grace.empty()) {
        const auto seconds = tend::parse_seconds(limit_flags.grace, error);
        if (!seconds) return usage_error("--grace: " + error);
        flags.grace = tend::Seconds(*seconds);
    }
    if (retries_flag->count()) flags.retries = retries;
    if (deaths_flag->count()) flags.max_worker_deaths = max_worker_deaths;
    if (fail_fast_flag->count()) flags.fail_fast = fail_fast;
    if (max_fail_flag->count()) flags.max_fail = max_fail;

    tend::PoolOptions defaults;
    defaults.jobs = std::max(1u, std::thread::hardware_concurrency());
    defaults.limits = tend::WorkerLimits::defaults(fd_limit);
    defaults.slow = tend::Seconds(60);
    auto opts = tend::resolve_options(binaries, flags, config, config_dir, defaults);
    if (list->parsed()) return run_list(opts, selection, as_json);
    if (failed_only) {
        opts.selection = std::move(per_binary);
    } else if (!selection.all()) {
        opts.selection = {selection};
    }

    std::unique_ptr<tend::Reporter> reporter;
    if (as_json) {
        reporter = std::make_unique<tend::JsonReporter>(stdout);
    } else {
        const bool tty = ::isatty(STDOUT_FILENO) == 1;
        tend::HumanOptions human;
        human.verbose = verbose;
        human.quiet = quiet;
        human.show_binary = binaries.size() > 1;
        human.binary_paths = tend::file_names_collide(binaries);
        human.color = tend::use_color(tend::parse_when(color_when), tty, std::getenv("NO_COLOR"),
                                      std::getenv("TERM"));
        human.progress =
            tend::use_progress(no_progress ? tend::When::never : tend::parse_when(progress_when),
                               tty, std::getenv("TERM"));
        human.show_output = show_output;
        reporter = std::make_unique<tend::HumanReporter>(stdout, human);
    }
    // Checked before any test runs: a report that cannot be written is
    // better known now than after the whole suite.
    std::unique_ptr<tend::JunitReporter> junit;
    std::unique_ptr<tend::TeeReporter> tee;
    std::vector<tend::Reporter*> reporters{reporter.get()};
    if (!failed_only) {
        // No file yet, or one that does not parse: this run starts it anew.
        std::string ignored;
        tend::load_last_run(state_path, last, ignored);
    }
    tend::RunRecorder recorder(last);
    reporters.push_back(&recorder);
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> json_out(nullptr, std::fclose);
    std::unique_ptr<tend::JsonReporter> json_file_reporter;
    if (run->count("--json-file")) {
        json_out.reset(std::fopen(json_file.c_str(), "we"));
        if (!json_out) {
            std::fprintf(stderr, "tend: --json-file %s: %s\n", json_file.c_str(),
                         std::strerror(errno));
            return kExitUsage;
        }
        json_file_reporter = std::make_unique<tend::JsonReporter>(json_out.get());
        reporters.push_back(json_file_reporter.get());
    }
    if (run->count("--junit")) {
        junit = std::make_unique<tend::JunitReporter>(junit_path, binaries);
        if (!junit->error().empty()) {
            std::fprintf(stderr, "tend: --junit %s: %s\n", junit_path.c_str(),
                         junit->error().c_str());
            return kExitUsage;
        }
        reporters.push_back(junit.get());
    }
    tee = std::make_unique<tend::TeeReporter>(reporters);
    // Through a daemon when one listens (--daemon: must; --no-daemon: never).
    std::unique_ptr<tend::DaemonClient> daemon;
    if (!no_daemon) {
        std::string why;
        auto refusal = tend::DaemonClient::Refusal::absent;
        daemon = tend::DaemonClient::connect(socket_path, why, &refusal);
        if (!daemon && require_daemon) {
            std::fprintf(stderr, "tend: --daemon: %s\n", why.c_str());
            return kExitStartup;
        }
        // Something there that is not our own daemon: it gets nothing of
        // ours (environment, working directory), and the user is told.
        if (!daemon && refusal == tend::DaemonClient::Refusal::untrusted) {
            std::fprintf(stderr,
                         "tend: warning: not using the daemon on %s: %s; running without it\n",
                         socket_path.c_str(), why.c_str());
        }
    }
    tend::Summary summary;
    int interrupted = 0;
    bool startup_failed = false;
    if (daemon) {
        // The daemon's working directory and environment are not ours:
        // absolute paths, and the workers get what they would get here.
        for (auto& b : opts.binaries) b = tend::binary_key(b);
        opts.env.emplace();
        for (char** e = environ; *e; ++e) opts.env->emplace_back(*e);
        std::error_code ec;
        opts.cwd = std::filesystem::current_path(ec).string();
        tend::DaemonClient::RunOutcome outcome;
        if (daemon->run(tend::run_params(opts, tee->progress_interval()), *tee, outcome, error)) {
            summary = outcome.summary;
            interrupted = outcome.interrupted;
            startup_failed = outcome.startup_failed;
        } else if (outcome.refused && !require_daemon) {
            // Busy or shutting down: nothing was reported yet, so the run
            // goes ahead alone rather than not at all.
            std::fprintf(stderr, "tend: the daemon on %s: %s; running without it\n",
                         socket_path.c_str(), error.c_str());
            daemon.reset();
        } else {
            std::fprintf(stderr, "tend: the daemon on %s: %s\n", socket_path.c_str(),
                         error.c_str());
            return kExitStartup;
        }
    }
    if (!daemon) {
        tend::Pool pool(opts, tee.get());
        summary = pool.run();
        interrupted = pool.interrupted();
        startup_failed = pool.startup_failed();
    }
    // What this run saw updates what `--failed` will take next time.
    tend::update_last_run(last, recorder.records());
    if (!tend::save_last_run(state_path, last, error)) {
        std::fprintf(stderr, "tend: warning: cannot record this run's failures: %s\n",
                     error.c_str());
    }
    const bool junit_failed = junit && !junit->error().empty();
    if (junit_failed) {
        std::fprintf(stderr, "tend: --junit %s: %s\n", junit_path.c_str(), junit->error().c_str());
    }
    if (interrupted) return 128 + interrupted;  // 130 for SIGINT, 143 for SIGTERM
    if (junit_failed) return kExitUsage;
    if (startup_failed) return kExitStartup;
    bool failed = summary.errors > 0;
    for (std::size_t i = 0; i < tend::kTestStatusCount; ++i) {
        if (summary.counts[i] && tend::is_failure(static_cast<tend::TestStatus>(i))) failed = true;
    }
    return failed ? kExitTestsFailed : kExitOk;
}
