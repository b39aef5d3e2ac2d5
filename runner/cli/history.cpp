// `tend history`: what the history store (history/store.hpp) knows, for
// people or as JSON: the slowest tests and units, the flakiest tests, or one
// test's recent runs (--test).
#include <fmt/format.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "cli/commands.hpp"
#include "config/quantities.hpp"
#include "history/store.hpp"
#include "report/terminal.hpp"

namespace tend::cli {

namespace {

using Store = tend::HistoryStore;

std::string seconds(double s) {
    return fmt::format("{:.3f}s", s);
}

/// "binary: suite/name" (a unit: "binary: unit").
std::string test_name(const std::string& binary, const std::string& suite,
                      const std::string& name) {
    return tend::printable(binary + ": " + (suite.empty() ? name : suite + "/" + name));
}

nlohmann::ordered_json slow_json(const std::vector<Store::Slow>& rows, bool units) {
    auto out = nlohmann::ordered_json::array();
    for (const auto& r : rows) {
        nlohmann::ordered_json j{{"binary", r.binary}};
        if (units) {
            j["unit"] = r.name;
        } else {
            j["suite"] = r.suite;
            j["name"] = r.name;
        }
        j["mean_s"] = r.mean_s;
        j["max_s"] = r.max_s;
        j["last_s"] = r.last_s;
        j["runs"] = r.runs;
        out.push_back(std::move(j));
    }
    return out;
}

void print_slow(const char* title, const std::vector<Store::Slow>& rows) {
    std::printf("%s\n", title);
    if (rows.empty()) {
        std::printf("  none recorded\n");
        return;
    }
    std::printf("  %9s %9s %9s %5s  %s\n", "MEAN", "MAX", "LAST", "RUNS", "NAME");
    for (const auto& r : rows) {
        std::printf("  %9s %9s %9s %5llu  %s\n", seconds(r.mean_s).c_str(),
                    seconds(r.max_s).c_str(), seconds(r.last_s).c_str(),
                    static_cast<unsigned long long>(r.runs),
                    test_name(r.binary, r.suite, r.name).c_str());
    }
}

int overview(Store& store, const HistoryFlags& flags) {
    const auto tests = store.slowest_tests(flags.limit);
    const auto units = store.slowest_units(flags.limit);
    const auto flaky = store.flakiest(flags.limit);
    if (flags.as_json) {
        auto flakiest = nlohmann::ordered_json::array();
        for (const auto& f : flaky) {
            flakiest.push_back({{"binary", f.binary},
                                {"suite", f.suite},
                                {"name", f.name},
                                {"flaky", f.flaky},
                                {"flips", f.flips},
                                {"runs", f.runs}});
        }
        const nlohmann::ordered_json doc{{"history", store.path().string()},
                                         {"slowest_tests", slow_json(tests, false)},
                                         {"slowest_units", slow_json(units, true)},
                                         {"flakiest", flakiest}};
        std::puts(
            doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
        return kExitOk;
    }
    std::printf("History: %s\n\n", store.path().c_str());
    print_slow("Slowest tests (mean of their recorded runs):", tests);
    std::printf("\n");
    print_slow("Slowest units (the sum of their tests, mean of their recorded runs):", units);
    std::printf(
        "\nFlakiest tests (flaky: failed, then passed on a retry; flips: passed after "
        "failing or failed after passing):\n");
    if (flaky.empty()) {
        std::printf("  none recorded\n");
        return kExitOk;
    }
    std::printf("  %5s %5s %5s  %s\n", "FLAKY", "FLIPS", "RUNS", "NAME");
    for (const auto& f : flaky) {
        std::printf("  %5llu %5llu %5llu  %s\n", static_cast<unsigned long long>(f.flaky),
                    static_cast<unsigned long long>(f.flips),
                    static_cast<unsigned long long>(f.runs),
                    test_name(f.binary, f.suite, f.name).c_str());
    }
    return kExitOk;
}

int one_test(Store& store, const HistoryFlags& flags) {
    const auto rows = store.test_history(flags.test, flags.limit);
    if (flags.as_json) {
        auto runs = nlohmann::ordered_json::array();
        for (const auto& p : rows) {
            runs.push_back({{"binary", p.binary},
                            {"suite", p.suite},
                            {"name", p.name},
                            {"run", p.run},
                            {"started", p.started},
                            {"duration_s", p.duration_s},
                            {"outcome", p.outcome},
                            {"attempts", p.attempts},
                            {"rss_bytes", p.rss_bytes ? nlohmann::ordered_json(*p.rss_bytes)
                                                      : nlohmann::ordered_json(nullptr)}});
        }
        const nlohmann::ordered_json doc{
            {"history", store.path().string()}, {"test", flags.test}, {"runs", runs}};
        std::puts(
            doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
        return kExitOk;
    }
    if (rows.empty()) {
        std::printf("No runs of '%s' in %s.\n", tend::printable(flags.test).c_str(),
                    store.path().c_str());
        return kExitOk;
    }
    const Store::Past* head = nullptr;
    for (const auto& p : rows) {
        if (!head || head->binary != p.binary || head->suite != p.suite || head->name != p.name) {
            head = &p;
            std::printf("%s, newest first:\n", test_name(p.binary, p.suite, p.name).c_str());
            std::printf("  %-6s %-19s %9s %-9s %8s %s\n", "RUN", "STARTED", "DURATION", "OUTCOME",
                        "ATTEMPTS", "RSS");
        }
        char when[32] = "-";
        const auto t = static_cast<std::time_t>(p.started);
        std::tm tm{};
        if (p.started > 0 && ::localtime_r(&t, &tm)) std::strftime(when, sizeof when, "%F %T", &tm);
        std::printf(
            "  %-6lld %-19s %9s %-9s %8u %s\n", static_cast<long long>(p.run), when,
            seconds(p.duration_s).c_str(), p.outcome.c_str(), p.attempts,
            p.rss_bytes ? tend::format_bytes(static_cast<double>(*p.rss_bytes)).c_str() : "-");
    }
    return kExitOk;
}

}  // namespace

CLI::App* add_history_command(CLI::App& app, HistoryFlags& flags) {
    auto* cmd = app.add_subcommand(
        "history",
        "Show what earlier runs recorded: the slowest tests and units and the flakiest tests, "
        "or one test's recent runs (--test).");
    cmd->add_option("--history", flags.history_file,
                    "The history to read (default: $TEND_HISTORY, else .tend/history.db beside "
                    "tend.toml, else in the working directory)")
        ->type_name("FILE");
    cmd->add_option("--config", flags.config_file,
                    "The tend.toml whose directory holds the history (default: the nearest one "
                    "from the working directory up)")
        ->type_name("FILE");
    cmd->add_option("--test", flags.test,
                    "One test's recent runs, newest first: 'suite/name', or a name alone")
        ->type_name("NAME");
    cmd->add_option("-n,--limit", flags.limit,
                    "Show N of each (tests, units; runs with --test). "
                    "Default 10")
        ->check(CLI::Range(1, 1 << 20))
        ->type_name("N");
    cmd->add_flag("--json", flags.as_json, "Write one JSON object to stdout");
    return cmd;
}

int history_command(const HistoryFlags& flags) {
    ConfigFlags config;
    config.config_file = flags.config_file;
    // Only tend.toml's directory matters: its binaries are not expanded (a
    // stale pattern is no reason not to show the history).
    config.binaries = {"-"};
    ProjectConfig project;
    std::string error;
    if (!load_tend_toml(config, project, error)) return config_error(error);
    const auto path = tend::history_path(flags.history_file, project.dir);
    if (std::error_code ec; !std::filesystem::exists(path, ec)) {
        if (flags.as_json) {
            std::printf("{\"history\":%s,\"recorded\":false}\n",
                        nlohmann::ordered_json(path.string()).dump().c_str());
        } else {
            std::printf("No history at %s yet: tend run records one.\n", path.c_str());
        }
        return kExitOk;
    }
    std::string warning;
    auto store = tend::HistoryStore::open(path, false, warning, error);
    if (!warning.empty()) std::fprintf(stderr, "tend: warning: history %s\n", warning.c_str());
    if (!store) {
        std::fprintf(stderr, "tend: history %s\n", error.c_str());
        return kExitStartup;
    }
    try {
        return flags.test.empty() ? overview(*store, flags) : one_test(*store, flags);
    } catch (const tend::sqlite::Error& e) {
        std::fprintf(stderr, "tend: history %s: %s\n", path.c_str(), e.what());
        return kExitStartup;
    }
}

}  // namespace tend::cli
