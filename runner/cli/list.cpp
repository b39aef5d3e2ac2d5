// `tend list`: discovers the tests of the binaries on workers (no limits,
// nothing run) and prints those the selection takes (and, with --shard, that
// shard's), a line or a JSON object each.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.hpp"
#include "history/store.hpp"
#include "pool/pool.hpp"
#include "report/terminal.hpp"

namespace tend::cli {

namespace {

/// With a shard: the ids of each binary's tests in it (as `tend run --shard`
/// would partition them), parallel to `listing`.
std::vector<std::set<std::uint32_t>> shard_ids(const std::vector<tend::BinaryTests>& listing,
                                               const tend::PoolOptions& opts,
                                               const tend::Selection& selection) {
    std::vector<std::vector<tend::Unit>> planned;
    for (std::size_t i = 0; i < listing.size(); ++i) {
        std::vector<std::uint32_t> chosen;
        for (const auto t : *listing[i].tests) {
            if (tend::selects(selection, t)) chosen.push_back(t.id);
        }
        planned.push_back(tend::plan_units(i, *listing[i].tests, &chosen));
    }
    tend::keep_shard(planned, opts.binaries, opts.unit_durations, *opts.shard);
    std::vector<std::set<std::uint32_t>> ids(listing.size());
    for (std::size_t i = 0; i < planned.size(); ++i) {
        for (const auto& u : planned[i]) ids[i].insert(u.tests.begin(), u.tests.end());
    }
    return ids;
}

/// With a shard, the durations the history knows, as `tend run --shard`
/// reads them: both must compute the same partition. Read only; a history
/// that cannot be read leaves the partition by test count, with a warning.
void shard_durations(const ListFlags& flags, const ProjectConfig& project,
                     tend::PoolOptions& opts) {
    const char* off = std::getenv("TEND_NO_HISTORY");
    if (flags.no_history || (off && *off && flags.history_file.empty())) return;
    const auto path = tend::history_path(flags.history_file, project.dir);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return;
    std::string warning, error;
    const auto store = tend::HistoryStore::open(path, false, warning, error);
    if (!store) {
        std::fprintf(stderr, "tend: warning: history %s; shards by test count\n", error.c_str());
        return;
    }
    const auto keys_dir = history_keys_dir(project);
    try {
        for (const auto& b : opts.binaries) {
            for (const auto& [unit, s] :
                 store->unit_estimates(tend::history_binary_key(b, keys_dir)))
                opts.unit_durations[b][unit] = s;
        }
    } catch (const tend::sqlite::Error& e) {
        std::fprintf(stderr, "tend: warning: history %s: %s; shards by test count\n", path.c_str(),
                     e.what());
        opts.unit_durations.clear();
    }
}

int run_list(tend::PoolOptions opts, const tend::Selection& selection, bool as_json) {
    const auto& binaries = opts.binaries;
    opts.list_only = true;
    opts.limits = tend::WorkerLimits::unlimited();
    // Each binary is listed as it runs (its args, cwd, env, framework), on
    // workers nothing recycles.
    for (auto& b : opts.per_binary) b.limits = tend::WorkerLimits::unlimited();
    tend::Pool pool(opts, nullptr);
    pool.run();
    // Interrupted: what was listed is printed, and the status says so.
    int status = pool.interrupted() ? 128 + pool.interrupted() : kExitOk;
    const auto listing = pool.listing();
    std::vector<std::set<std::uint32_t>> in_shard;
    if (opts.shard) in_shard = shard_ids(listing, opts, selection);
    for (std::size_t i = 0; i < listing.size(); ++i) {
        const auto& b = listing[i];
        if (!b.error.empty()) {
            std::fprintf(stderr, "tend: %s\n", tend::printable(b.error, tend::Lines::keep).c_str());
            if (!pool.interrupted()) status = kExitStartup;
            continue;
        }
        for (const auto t : *b.tests) {
            if (!tend::selects(selection, t)) continue;
            if (opts.shard && !in_shard[i].contains(t.id)) continue;
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
    flags.command = list;
    add_config_options(*list, flags.config);
    add_selection_options(*list, flags.selection);
    list->add_flag("--json", flags.as_json, "One JSON object per test");
    add_startup_timeout_option(*list, flags.limits);
    add_framework_option(*list, flags.limits);
    add_shard_option(*list, flags.shard);
    list->add_option("--history", flags.history_file,
                     "With --shard: the history whose durations balance the shards, as for "
                     "tend run (default: .tend/history.db beside tend.toml, or TEND_HISTORY)")
        ->type_name("FILE");
    list->add_flag("--no-history", flags.no_history,
                   "With --shard: balance the shards by test count, not recorded durations");
    return list;
}

int list_command(const ListFlags& flags, FdLimit fd_limit) {
    ProjectConfig project;
    std::string error;
    if (!load_tend_toml(flags.config, project, error)) return config_error(error);
    if (project.binaries.empty()) return no_binaries_error();
    tend::Settings settings;
    if (!parse_settings(flags.limits, settings, error)) return usage_error(error);
    auto opts = resolve_pool_options(project.binaries, settings, project, fd_limit);
    if (!resolve_shard(flags.shard, flags.command->count("--shard") > 0, opts.shard, error))
        return usage_error(error);
    if (opts.shard) shard_durations(flags, project, opts);
    return run_list(opts, flags.selection, flags.as_json);
}

}  // namespace tend::cli
