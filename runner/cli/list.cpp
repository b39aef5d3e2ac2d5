// `tend list`: discovers the tests of the binaries on workers (no limits,
// nothing run) and prints those the selection takes, a line or a JSON object
// each.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "pool/pool.hpp"
#include "report/terminal.hpp"

namespace tend::cli {

namespace {

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
        for (const auto t : *b.tests) {
            if (!tend::selects(selection, t)) continue;
            if (as_json) {
                nlohmann::json j{{"binary", b.binary},
                                 {"id", t.id},
                                 {"name", t.name},
                                 {"suite", t.suite},
                                 {"file", t.file},
                                 {"line", t.line},
                                 {"skip", tend::skipped_unrun(selection, t)},
                                 {"timeout", t.timeout_s},
                                 {"tags", std::vector<std::string>(t.tags.begin(), t.tags.end())}};
                std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
            } else {
                // One line per test, whatever its name holds (printable()).
                std::string line = binaries.size() > 1 ? b.binary + ": " : std::string();
                line += tend::full_name(t);
                std::printf("%s%s\n", tend::printable(line).c_str(),
                            tend::skipped_unrun(selection, t) ? "  (skipped)" : "");
            }
        }
    }
    return status;
}

}  // namespace

CLI::App* add_list_command(CLI::App& app, ListFlags& flags) {
    auto* list = app.add_subcommand("list", "Print the tests in test binaries.");
    add_config_options(*list, flags.config);
    add_selection_options(*list, flags.selection);
    list->add_flag("--json", flags.as_json, "One JSON object per test");
    add_startup_timeout_option(*list, flags.limits);
    return list;
}

int list_command(const ListFlags& flags, FdLimit fd_limit) {
    ProjectConfig project;
    std::string error;
    if (!load_tend_toml(flags.config, project, error)) return config_error(error);
    if (project.binaries.empty()) return no_binaries_error();
    tend::Settings settings;
    if (!parse_settings(flags.limits, settings, error)) return usage_error(error);
    const auto opts = resolve_pool_options(project.binaries, settings, project, fd_limit);
    return run_list(opts, flags.selection, flags.as_json);
}

}  // namespace tend::cli
