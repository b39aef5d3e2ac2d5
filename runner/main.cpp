// tend's command line: `tend list` and `tend run`.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "config.hpp"
#include "fd_limit.hpp"
#include "human_reporter.hpp"
#include "json_reporter.hpp"
#include "junit_reporter.hpp"
#include "pool.hpp"
#include "tee_reporter.hpp"
#include "terminal.hpp"
#include "units.hpp"

namespace {

/// Exit statuses (README.md, "Exit status").
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
};

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
    std::fprintf(stderr, "tend: %s\nRun 'tend --help' for usage.\n", message.c_str());
    return kExitUsage;
}

/// A tend.toml that cannot be used: no help text, the message says it all.
int config_error(const std::string& message) {
    std::fprintf(stderr, "tend: %s\n", message.c_str());
    return kExitUsage;
}

int run_list(tend::PoolOptions opts, bool as_json) {
    const auto& binaries = opts.binaries;
    opts.list_only = true;
    opts.limits = tend::WorkerLimits::unlimited();
    opts.per_binary.clear();
    tend::Pool pool(opts, nullptr);
    pool.run();
    int status = kExitOk;
    for (const auto& b : pool.listing()) {
        if (!b.error.empty()) {
            std::fprintf(stderr, "tend: %s\n", b.error.c_str());
            status = kExitStartup;
            continue;
        }
        for (const auto& t : b.tests) {
            if (as_json) {
                nlohmann::json j{{"binary", b.binary}, {"id", t.id},
                                 {"name", t.name},     {"suite", t.suite},
                                 {"file", t.file},     {"line", t.line},
                                 {"skip", t.skip},     {"timeout", t.timeout_s}};
                std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
            } else {
                std::printf("%s%s%s%s\n", binaries.size() > 1 ? (b.binary + ": ").c_str() : "",
                            t.suite.empty() ? "" : (t.suite + "/").c_str(), t.name.c_str(),
                            t.skip ? "  (skipped)" : "");
            }
        }
    }
    return status;
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
    };

    auto* list = app.add_subcommand("list", "Print the tests in test binaries.");
    add_config_options(list);
    list->add_flag("--json", as_json, "One JSON object per test");

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
    run->add_option("--grace", limit_flags.grace,
                    "After SIGINT/SIGTERM, let running units go on for SECONDS before killing "
                    "their workers; a second signal kills at once. Default 5")
        ->type_name("SECONDS");
    auto* fail_fast_flag = run->add_flag(
        "--fail-fast", fail_fast,
        "Start no new unit after the first failure; running units finish, the rest is "
        "reported not_run");
    auto* max_fail_flag =
        run->add_option("--max-fail", max_fail, "Like --fail-fast, after N failures")
            ->check(CLI::Range(1, 1 << 30))
            ->type_name("N");
    auto* retries_flag =
        run->add_option("--retries", retries,
                        "Run a failed, crashed or timed-out test again, up to N times, on another "
                        "worker; one that passes on a retry is reported flaky")
            ->check(CLI::Range(0, 100))
            ->type_name("N");
    auto* deaths_flag =
        run->add_option("--max-worker-deaths", max_worker_deaths,
                        "After N workers of one binary died (crash loop), start no more for it and "
                        "report its remaining tests not_run. Default 8")
            ->check(CLI::Range(0, 1 << 20))
            ->type_name("N");
    run->add_flag("--json", as_json, "Write JSON lines (one per event) to stdout");
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
                    "Colour the output: auto (on a terminal, unless NO_COLOR is set), always, "
                    "never. Default auto")
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
    if (binaries.empty()) {
        return usage_error(
            "no test binaries: name them on the command line or in tend.toml ('binaries', "
            "docs/config.md)");
    }

    // The command line as a layer of settings: only the flags given.
    tend::Settings flags;
    if (!parse_limit_flags(limit_flags, flags.limits, error)) return usage_error(error);
    if (jobs_flag->count()) flags.jobs = jobs;
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
    const auto opts = tend::resolve_options(binaries, flags, config, config_dir, defaults);
    if (list->parsed()) return run_list(opts, as_json);

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
    tend::Reporter* to = reporter.get();
    if (run->count("--junit")) {
        junit = std::make_unique<tend::JunitReporter>(junit_path, binaries);
        if (!junit->error().empty()) {
            std::fprintf(stderr, "tend: --junit %s: %s\n", junit_path.c_str(),
                         junit->error().c_str());
            return kExitUsage;
        }
        tee = std::make_unique<tend::TeeReporter>(
            std::vector<tend::Reporter*>{reporter.get(), junit.get()});
        to = tee.get();
    }
    tend::Pool pool(opts, to);
    const auto summary = pool.run();
    const bool junit_failed = junit && !junit->error().empty();
    if (junit_failed) {
        std::fprintf(stderr, "tend: --junit %s: %s\n", junit_path.c_str(), junit->error().c_str());
    }
    if (pool.interrupted()) return 128 + pool.interrupted();  // 130 for SIGINT, 143 for SIGTERM
    if (junit_failed) return kExitUsage;
    if (pool.startup_failed()) return kExitStartup;
    bool failed = summary.errors > 0;
    for (std::size_t i = 0; i < tend::kTestStatusCount; ++i) {
        if (summary.counts[i] && tend::is_failure(static_cast<tend::TestStatus>(i))) failed = true;
    }
    return failed ? kExitTestsFailed : kExitOk;
}
