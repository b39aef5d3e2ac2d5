// `tend status` and `tend stop`: one request to the daemon on the socket
// (daemon/daemon_client.hpp), its answer printed for people or as JSON.
#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>

#include "cli/commands.hpp"
#include "config/quantities.hpp"
#include "daemon/daemon_client.hpp"
#include "report/terminal.hpp"

namespace tend::cli {

namespace {

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
    // A daemon from before spares has none of this.
    if (result.contains("spares") && result["spares"].is_object()) {
        const auto& s = result["spares"];
        std::printf(
            "Spares: %llu ready, %llu starting, %llu used workers kept; %s of %s "
            "(--spare-memory), at most %llu per binary\n",
            s.value("ready", 0ULL), s.value("starting", 0ULL), s.value("used", 0ULL),
            tend::format_bytes(s.value("rss_bytes", 0.0)).c_str(),
            tend::format_bytes(s.value("max_bytes", 0.0)).c_str(), s.value("per_binary", 0ULL));
    }
    for (const auto& r : result["runs"]) {
        std::printf("Run %llu (client %llu): %llu of %llu tests done\n", r.value("run", 0ULL),
                    r.value("client", 0ULL), r.value("done", 0ULL), r.value("total", 0ULL));
    }
    // Only when runs wait (a daemon from before the queue has none of these).
    if (result.contains("queued") && result["queued"].is_array() && !result["queued"].empty() &&
        result.contains("queue")) {
        const auto& queue = result["queue"];
        std::printf("Queue: %zu runs waiting; %s held of %s (--max-queue-memory)\n",
                    result["queued"].size(), tend::format_bytes(queue.value("bytes", 0.0)).c_str(),
                    tend::format_bytes(queue.value("max_bytes", 0.0)).c_str());
        // The next few: a swarm may have thousands waiting.
        std::size_t shown = 0;
        for (const auto& r : result["queued"]) {
            if (++shown > 10) {
                std::printf("  and %zu more\n", result["queued"].size() - 10);
                break;
            }
            std::printf("Run %llu (client %llu): waiting, number %llu in line\n",
                        r.value("run", 0ULL), r.value("client", 0ULL), r.value("queued", 0ULL));
        }
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

CLI::App* add_status_command(CLI::App& app, StatusFlags& flags) {
    auto* status = app.add_subcommand(
        "status", "Show the daemon's workers (pid, state, age, health), runs and binaries.");
    status->add_flag("--json", flags.as_json, "The daemon's answer as it is, one JSON object");
    add_socket_option(*status, flags.socket_path);
    return status;
}

int status_command(const StatusFlags& flags) {
    return daemon_command(flags.socket_path, "status", flags.as_json);
}

CLI::App* add_stop_command(CLI::App& app, StopFlags& flags) {
    auto* stop = app.add_subcommand(
        "stop", "Shut the daemon down: running runs drain as on Ctrl-C, then it exits.");
    add_socket_option(*stop, flags.socket_path);
    return stop;
}

int stop_command(const StopFlags& flags) {
    return daemon_command(flags.socket_path, "shutdown", false);
}

}  // namespace tend::cli
