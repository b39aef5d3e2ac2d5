// `tend run`: resolves the settings (flags over tend.toml over defaults),
// takes the tests --failed names, sets up the reporters (people or JSON on
// stdout, --json-file, --junit, the last-run record), and runs the tests
// through the daemon when one listens, else on a pool of its own.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "cli/commands.hpp"
#include "config/last_run.hpp"
#include "daemon/daemon_client.hpp"
#include "daemon/run_request.hpp"
#include "history/recorder.hpp"
#include "history/store.hpp"
#include "pool/pool.hpp"
#include "report/human_reporter.hpp"
#include "report/json_reporter.hpp"
#include "report/junit_reporter.hpp"
#include "report/tee_reporter.hpp"
#include "report/terminal.hpp"

namespace tend::cli {

namespace {

/// What goes to stdout: JSON lines, or the human output as the flags and
/// the terminal have it.
std::unique_ptr<tend::Reporter> stdout_reporter(const RunFlags& flags,
                                                const std::vector<std::string>& binaries) {
    if (flags.as_json) return std::make_unique<tend::JsonReporter>(stdout);
    const bool tty = ::isatty(STDOUT_FILENO) == 1;
    tend::HumanOptions human;
    human.verbose = flags.verbose;
    human.quiet = flags.quiet;
    human.show_binary = binaries.size() > 1;
    human.binary_paths = tend::file_names_collide(binaries);
    human.color = tend::use_color(tend::parse_when(flags.color_when), tty, std::getenv("NO_COLOR"),
                                  std::getenv("TERM"));
    human.progress = tend::use_progress(
        flags.no_progress ? tend::When::never : tend::parse_when(flags.progress_when), tty,
        std::getenv("TERM"));
    human.show_output = flags.show_output;
    // A failed test that the framework skips by default runs again only
    // with the flag that ran it.
    if (flags.selection.runs_ignored())
        human.rerun_flags = {"--run-ignored",
                             std::string(tend::to_string(flags.selection.run_ignored))};
    return std::make_unique<tend::HumanReporter>(stdout, human);
}

/// The history's recorder, with what it expects of each binary's units put
/// into `opts` (none when it knows none of them); null with a warning when
/// the history cannot be used: it never fails a run.
std::unique_ptr<tend::HistoryRecorder> open_history(const RunFlags& flags,
                                                    const ProjectConfig& project,
                                                    tend::PoolOptions& opts) {
    // TEND_NO_HISTORY: --no-history for every run of a harness (tend's own
    // tests want the order of the list); an explicit --history still wins.
    const char* off = std::getenv("TEND_NO_HISTORY");
    if (flags.no_history || (off && *off && flags.history_file.empty())) return nullptr;
    const auto path = tend::history_path(flags.history_file, project.dir);
    std::string warning, error;
    auto store = tend::HistoryStore::open(path, true, warning, error);
    if (!warning.empty()) std::fprintf(stderr, "tend: warning: history %s\n", warning.c_str());
    if (!store) {
        std::fprintf(stderr, "tend: warning: history %s; this run is not recorded\n",
                     error.c_str());
        return nullptr;
    }
    const auto keys_dir = history_keys_dir(project);
    try {
        std::vector<tend::UnitEstimates> estimates;
        bool any = false;
        for (const auto& b : opts.binaries) {
            estimates.push_back(store->unit_estimates(tend::history_binary_key(b, keys_dir)));
            any |= !estimates.back().empty();
        }
        if (any) {
            // A shard's partition balances by the same durations, which
            // `tend list --shard` reads too (shard_durations()).
            if (opts.shard && opts.unit_durations.empty()) {
                for (std::size_t i = 0; i < estimates.size(); ++i) {
                    for (const auto& [unit, s] : estimates[i])
                        opts.unit_durations[opts.binaries[i]][unit] = s;
                }
            }
            opts.estimates = std::move(estimates);
        }
    } catch (const tend::sqlite::Error& e) {
        std::fprintf(stderr, "tend: warning: history %s: %s; tests start in list order\n",
                     path.c_str(), e.what());
    }
    return std::make_unique<tend::HistoryRecorder>(
        std::move(store), project.config.history_runs.value_or(tend::kDefaultHistoryRuns),
        keys_dir);
}

}  // namespace

CLI::App* add_run_command(CLI::App& app, RunFlags& flags) {
    auto* run = app.add_subcommand("run", "Run every test of the test binaries on warm workers.");
    flags.command = run;
    add_config_options(*run, flags.config);
    add_selection_options(*run, flags.selection);
    run->add_option("-j,--jobs", flags.jobs, "Worker processes (default: number of CPUs)")
        ->check(CLI::Range(1, 4096))
        ->type_name("N");
    run->add_option("--max-rss", flags.limits.max_rss,
                    "Recycle a worker whose RSS reaches SIZE after a unit (512MiB, 1GiB; "
                    "'none'). Default 1GiB")
        ->type_name("SIZE|none");
    run->add_option("--max-fds", flags.limits.max_fds,
                    "Recycle a worker with N open descriptors after a unit ('none'). Default: "
                    "half the descriptor limit")
        ->type_name("N|none");
    run->add_option("--max-age", flags.limits.max_age,
                    "Recycle a worker older than SECONDS after a unit (fractional; 'none'). "
                    "Default 3600")
        ->type_name("SECONDS|none");
    run->add_option("--timeout", flags.limits.timeout,
                    "Kill a test still running after SECONDS (fractional; its worker's process "
                    "group gets SIGTERM, then SIGKILL 1 s later) and report it timed_out; the rest "
                    "of its unit runs on a fresh worker. Default: none, but a test with a doctest "
                    "timeout decorator is killed after its own timeout")
        ->type_name("SECONDS|none");
    run->add_option("--slow", flags.limits.slow,
                    "Report a test still running after SECONDS as slow (a SLOW line, a JSON "
                    "'slow' event), again after each further SECONDS; it goes on running. "
                    "Default 60")
        ->type_name("SECONDS|none");
    add_startup_timeout_option(*run, flags.limits);
    run->add_option("--teardown-timeout", flags.limits.teardown_timeout,
                    "Kill a worker whose scope teardown is still running after SECONDS (SIGTERM, "
                    "then SIGKILL); the teardown is an error, the next unit runs on a fresh "
                    "worker. Default: --timeout when given, else 60")
        ->type_name("SECONDS");
    run->add_option("--reuse", flags.limits.reuse,
                    "Through a daemon: may a worker that ran tests for an earlier run run this "
                    "run's? run: no, this run takes fresh spares (the default); daemon: yes, for "
                    "suites known to leave no state behind")
        ->type_name("run|daemon")
        ->check(CLI::IsMember({"run", "daemon"}));
    add_framework_option(*run, flags.limits);
    run->add_option("--grace", flags.limits.grace,
                    "After SIGINT/SIGTERM, let running units go on for SECONDS before killing "
                    "their workers; a second signal kills at once. Default 5")
        ->type_name("SECONDS");
    run->add_flag("--fail-fast", flags.fail_fast,
                  "Start no new unit after the first failure; running units finish, the rest is "
                  "reported not_run (a binary not listed yet is not started: a WARN names it)");
    run->add_option("--max-fail", flags.max_fail, "Like --fail-fast, after N failures")
        ->check(CLI::Range(1, 1 << 30))
        ->type_name("N");
    run->add_option("--retries", flags.retries,
                    "Run a failed, crashed, timed-out or errored test again, up to N times, on "
                    "another worker; one that passes on a retry is reported flaky")
        ->check(CLI::Range(0, 100))
        ->type_name("N");
    run->add_option("--max-worker-deaths", flags.max_worker_deaths,
                    "After N workers of one binary died (crash loop), start no more for it and "
                    "report its remaining tests not_run. Default 8")
        ->check(CLI::Range(0, 1 << 20))
        ->type_name("N");
    run->add_flag("--failed", flags.failed_only,
                  "Run only the tests that failed in the last run (kept in .tend/last-run.json "
                  "beside tend.toml, else in the working directory, or in $TEND_STATE_DIR); with "
                  "no binaries named, every binary that had failures");
    run->add_flag("--json", flags.as_json, "Write JSON lines (one per event) to stdout");
    run->add_option("--json-file", flags.json_file,
                    "Also write the JSON lines to FILE, whatever goes to stdout")
        ->type_name("FILE");
    run->add_option(
           "--junit", flags.junit_path,
           "Also write a JUnit XML report for CI (GitLab, Jenkins, GitHub) to FILE when the "
           "run ends, beside the usual output or --json: --junit report.xml")
        ->type_name("FILE");
    run->add_flag("-v,--verbose", flags.verbose, "Also log every recycle with its reason");
    run->add_flag("-q,--quiet", flags.quiet, "Print only failures, their recap and the summary");
    run->add_option("--color", flags.color_when,
                    "Colour the output: auto (on a terminal, unless NO_COLOR is set and not "
                    "empty or TERM is dumb), always, never. Default auto")
        ->check(CLI::IsMember({"auto", "always", "never"}))
        ->type_name("WHEN");
    auto* progress_flag =
        run->add_option("--progress", flags.progress_when,
                        "A live progress line under the results: auto (on a terminal), always, "
                        "never. Default auto")
            ->check(CLI::IsMember({"auto", "always", "never"}))
            ->type_name("WHEN");
    run->add_flag("--no-progress", flags.no_progress, "Same as --progress never")
        ->excludes(progress_flag);
    run->add_flag("--no-spares", flags.no_spares,
                  "Alone: start no spare worker ahead of a recycle or after a crash; a "
                  "replacement starts once the worker is gone");
    auto* history_flag =
        run->add_option("--history", flags.history_file,
                        "Record this run in the history FILE, and start the tests it knows "
                        "as long first (default: $TEND_HISTORY, else .tend/history.db beside "
                        "tend.toml, else in the working directory)")
            ->type_name("FILE");
    run->add_flag("--no-history", flags.no_history,
                  "Neither read nor record the history: units start in list order")
        ->excludes(history_flag);
    run->add_flag("--show-output", flags.show_output,
                  "Show the captured output of failed tests in full (not only its tail), and "
                  "that of passing tests too");
    auto* daemon_flag = run->add_flag(
        "--daemon", flags.require_daemon,
        "Run through the daemon (tend serve) and fail if none listens; by default tend uses "
        "one when it listens on the socket, and runs alone otherwise");
    run->add_flag("--no-daemon", flags.no_daemon, "Run alone even when a daemon listens")
        ->excludes(daemon_flag);
    add_shard_option(*run, flags.shard);
    add_socket_option(*run, flags.socket_path);
    return run;
}

int run_command(const RunFlags& flags, FdLimit fd_limit) {
    ProjectConfig project;
    std::string error;
    if (!load_tend_toml(flags.config, project, error)) return config_error(error);
    auto& binaries = project.binaries;
    // --failed: the binaries and tests the last run left failing.
    tend::LastRun last;
    const auto state_path = tend::last_run_path(project.dir);
    std::vector<tend::Selection> per_binary;
    if (flags.failed_only) {
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
            per_binary.push_back(flags.selection);
            per_binary.back().ids = found->second;
        }
        if (kept.empty()) {
            std::printf("No failures recorded by the last run (%s): nothing to run.\n",
                        state_path.c_str());
            return kExitOk;
        }
        binaries = std::move(kept);
    }
    if (binaries.empty()) return no_binaries_error();

    // The command line as a layer of settings: only the flags given.
    tend::Settings settings;
    if (!parse_settings(flags.limits, settings, error)) return usage_error(error);
    const auto given = [&](const char* flag) { return flags.command->count(flag) > 0; };
    if (given("--jobs")) settings.jobs = flags.jobs;
    if (given("--retries")) settings.retries = flags.retries;
    if (given("--max-worker-deaths")) settings.max_worker_deaths = flags.max_worker_deaths;
    if (given("--fail-fast")) settings.fail_fast = flags.fail_fast;
    if (given("--max-fail")) settings.max_fail = flags.max_fail;

    auto opts = resolve_pool_options(binaries, settings, project, fd_limit);
    opts.spares = !flags.no_spares;
    if (!resolve_shard(flags.shard, given("--shard"), opts.shard, error)) return usage_error(error);
    // Bazel's test sharding protocol: touching the status file says that
    // tend shards; its JUnit goes where Bazel looks, unless --junit says.
    if (const char* status = std::getenv("TEST_SHARD_STATUS_FILE"); status && *status) {
        if (std::FILE* f = std::fopen(status, "ae")) {
            std::fclose(f);
        } else {
            std::fprintf(stderr, "tend: warning: TEST_SHARD_STATUS_FILE %s: %s\n", status,
                         std::strerror(errno));
        }
    }
    std::string junit_path = flags.junit_path;
    if (const char* xml = std::getenv("XML_OUTPUT_FILE"); xml && *xml && !given("--junit")) {
        junit_path = xml;
    }
    if (flags.failed_only) {
        opts.selection = std::move(per_binary);
    } else if (!flags.selection.all() || flags.selection.runs_ignored()) {
        opts.selection = {flags.selection};
    }

    const auto reporter = stdout_reporter(flags, binaries);
    // Checked before any test runs: a report that cannot be written is
    // better known now than after the whole suite.
    std::unique_ptr<tend::JunitReporter> junit;
    std::unique_ptr<tend::TeeReporter> tee;
    std::vector<tend::Reporter*> reporters{reporter.get()};
    if (!flags.failed_only) {
        // No file yet, or one that does not parse: this run starts it anew.
        std::string ignored;
        tend::load_last_run(state_path, last, ignored);
    }
    tend::RunRecorder recorder(last);
    reporters.push_back(&recorder);
    // Recorded here, in the client, whether the tests run here or in a
    // daemon (which sends every event on).
    const auto history = open_history(flags, project, opts);
    if (history) {
        reporters.push_back(history.get());
        for (const auto& s : opts.selection) {
            if (!s.all()) history->tests_only();
        }
    }
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> json_out(nullptr, std::fclose);
    std::unique_ptr<tend::JsonReporter> json_file_reporter;
    if (given("--json-file")) {
        json_out.reset(std::fopen(flags.json_file.c_str(), "we"));
        if (!json_out) {
            std::fprintf(stderr, "tend: --json-file %s: %s\n", flags.json_file.c_str(),
                         std::strerror(errno));
            return kExitUsage;
        }
        json_file_reporter = std::make_unique<tend::JsonReporter>(json_out.get());
        reporters.push_back(json_file_reporter.get());
    }
    if (!junit_path.empty()) {
        junit = std::make_unique<tend::JunitReporter>(junit_path, binaries);
        if (!junit->error().empty()) {
            std::fprintf(stderr, "tend: %s %s: %s\n",
                         given("--junit") ? "--junit" : "XML_OUTPUT_FILE", junit_path.c_str(),
                         junit->error().c_str());
            return kExitUsage;
        }
        reporters.push_back(junit.get());
    }
    tee = std::make_unique<tend::TeeReporter>(reporters);
    // Through a daemon when one listens (--daemon: must; --no-daemon: never).
    const auto& socket_path = flags.socket_path;
    std::unique_ptr<tend::DaemonClient> daemon;
    if (!flags.no_daemon) {
        std::string why;
        auto refusal = tend::DaemonClient::Refusal::absent;
        daemon = tend::DaemonClient::connect(socket_path, why, &refusal);
        if (!daemon && flags.require_daemon) {
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
        // Durations are keyed by the binaries as named: the same, absolute.
        tend::UnitDurations durations;
        for (auto& [b, units] : opts.unit_durations)
            durations[tend::binary_key(b)] = std::move(units);
        opts.unit_durations = std::move(durations);
        opts.env.emplace();
        for (char** e = environ; *e; ++e) opts.env->emplace_back(*e);
        std::error_code ec;
        opts.cwd = std::filesystem::current_path(ec).string();
        tend::DaemonClient::RunOutcome outcome;
        // No test_started notifications: no reporter here uses them.
        tend::RunFeed feed{tee->progress_interval(), false};
        bool ran = daemon->run(tend::run_params(opts, feed), *tee, outcome, error);
        // A daemon from before test_started refuses the key: asked again
        // without it, it sends them, and they are skipped.
        if (!ran && outcome.refused && error.find("params.test_started") != std::string::npos) {
            feed.test_started = true;
            outcome = {};
            ran = daemon->run(tend::run_params(opts, feed), *tee, outcome, error);
        }
        // A daemon from before the history refuses its estimates: the run
        // goes ahead in list order.
        if (!ran && outcome.refused && error.find("params.estimates") != std::string::npos) {
            opts.estimates.clear();
            outcome = {};
            ran = daemon->run(tend::run_params(opts, feed), *tee, outcome, error);
        }
        if (ran) {
            summary = outcome.summary;
            interrupted = outcome.interrupted;
            startup_failed = outcome.startup_failed;
        } else if (outcome.refused && !flags.require_daemon) {
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
    // What this run saw updates what `--failed` will take next time, over
    // what other runs that ended meanwhile wrote.
    if (!tend::record_last_run(state_path, recorder.records(), error)) {
        std::fprintf(stderr, "tend: warning: cannot record this run's failures: %s\n",
                     error.c_str());
    }
    const bool junit_failed = junit && !junit->error().empty();
    if (junit_failed) {
        std::fprintf(stderr, "tend: %s %s: %s\n", given("--junit") ? "--junit" : "XML_OUTPUT_FILE",
                     junit_path.c_str(), junit->error().c_str());
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

}  // namespace tend::cli
