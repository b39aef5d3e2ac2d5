// Run events as JSON: see event_json.hpp.
#include "report/event_json.hpp"

#include <csignal>

namespace tend {

namespace {
using json = ordered_json;

json health_json(const protocol::Health& h) {
    json j = json::object();
    j["rss_bytes"] = h.rss_bytes ? json(*h.rss_bytes) : json(nullptr);
    j["open_fds"] = h.open_fds ? json(*h.open_fds) : json(nullptr);
    return j;
}

protocol::Health health_from(const nlohmann::json& j) {
    protocol::Health h;
    if (j.is_object()) {
        if (j.contains("rss_bytes") && j["rss_bytes"].is_number())
            h.rss_bytes = j["rss_bytes"].get<std::uint64_t>();
        if (j.contains("open_fds") && j["open_fds"].is_number())
            h.open_fds = j["open_fds"].get<std::uint64_t>();
    }
    return h;
}

std::uint64_t ns_from_ms(const nlohmann::json& ms) {
    return static_cast<std::uint64_t>(ms.get<double>() * 1e6 + 0.5);
}

std::optional<TestStatus> status_from(const std::string& s) {
    for (std::size_t i = 0; i < kTestStatusCount; ++i) {
        if (to_string(static_cast<TestStatus>(i)) == s) return static_cast<TestStatus>(i);
    }
    return std::nullopt;
}

/// What every event about one test starts with, in this order.
json test_head(const char* event, const std::string& binary, const TestView& test,
               bool with_location) {
    json j;
    j["event"] = event;
    j["name"] = test.name;
    j["suite"] = test.suite;
    j["binary"] = binary;
    j["id"] = test.id;
    if (with_location) {
        j["file"] = test.file;
        j["line"] = test.line;
    }
    return j;
}
}  // namespace

json to_json(const TestEvent& e) {
    // An attempt is retried: a later event ends it.
    json j = test_head(e.final ? "test" : "attempt", e.binary, e.test, true);
    j["status"] = to_string(e.status);
    j["duration_ms"] = static_cast<double>(e.duration_ns) / 1e6;
    j["worker_pid"] = e.worker_pid ? json(e.worker_pid) : json(nullptr);
    j["health"] = health_json(e.health);
    json failures = json::array();
    for (const auto& f : e.failures) {
        failures.push_back({{"file", f.file},
                            {"line", f.line},
                            {"kind", f.kind},
                            {"expression", f.expression},
                            {"expanded", f.expanded},
                            {"message", f.message},
                            {"subcase", f.subcase}});
    }
    j["failures"] = std::move(failures);
    j["stdout"] = e.out;
    j["stderr"] = e.err;
    if (!e.detail.empty()) j["detail"] = e.detail;
    j["attempt"] = e.attempt;
    return j;
}

json to_json(const SlowEvent& e) {
    json j = test_head("slow", e.binary, e.test, false);
    j["running_ms"] = static_cast<double>(e.running_ns) / 1e6;
    j["worker_pid"] = e.worker_pid;
    return j;
}

json to_json(const StartedEvent& e) {
    json j = test_head("started", e.binary, e.test, true);
    j["worker_pid"] = e.worker_pid;
    return j;
}

json to_json(const RecycleEvent& e) {
    json j;
    j["event"] = "recycle";
    j["worker_pid"] = e.worker_pid;
    j["binary"] = e.binary;
    j["reason"] = e.reason.name();
    j["detail"] = e.reason.sentence();
    j["measured"] = e.reason.measured;
    j["limit"] = e.reason.limit;
    return j;
}

json to_json(const Notice& n) {
    json j;
    j["event"] = "error";
    j["binary"] = n.binary;
    j["message"] = n.message;
    j["fails_run"] = n.fails_run;
    return j;
}

json to_json(const ShutdownReport& r) {
    json j;
    j["event"] = "shutdown";
    j["signal"] = signal_name(r.signal);
    j["units_finished"] = r.units_finished;
    j["units_cancelled"] = r.units_cancelled;
    j["workers_killed"] = r.workers_killed;
    j["duration_ms"] = r.duration_s * 1e3;
    return j;
}

json to_json(const Summary& s) {
    json j;
    j["event"] = "summary";
    j["total"] = s.total;
    for (std::size_t i = 0; i < kTestStatusCount; ++i) {
        j[std::string(to_string(static_cast<TestStatus>(i)))] = s.counts[i];
    }
    j["filtered"] = s.filtered;
    j["errors"] = s.errors;
    j["duration_ms"] = s.duration_s * 1e3;
    j["workers"] = {
        {"started", s.workers_started},
        {"crashed", s.workers_crashed},
        {"timed_out", s.workers_timed_out},
        {"recycled", {{"memory", s.recycled[0]}, {"fds", s.recycled[1]}, {"age", s.recycled[2]}}}};
    return j;
}

json to_json(const Progress& p) {
    json j;
    j["event"] = "progress";
    j["done"] = p.done;
    j["total"] = p.total;
    j["failed"] = p.failed;
    j["elapsed_ms"] = p.elapsed_s * 1e3;
    json running = json::array();
    for (const auto& r : p.running) {
        running.push_back({{"binary", *r.binary},
                           {"name", r.test.name},
                           {"suite", r.test.suite},
                           {"id", r.test.id},
                           {"running_ms", static_cast<double>(r.running_ns) / 1e6}});
    }
    j["running"] = std::move(running);
    return j;
}

std::string dump_line(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool Replayer::replay(const nlohmann::json& j, std::string& error) {
    try {
        const auto kind = j.at("event").get<std::string>();
        if (kind == "test" || kind == "attempt") {
            const std::string binary = j.at("binary").get<std::string>();
            protocol::TestInfo test;
            test.id = j.value("id", 0u);
            test.name = j.at("name").get<std::string>();
            test.suite = j.at("suite").get<std::string>();
            test.file = j.at("file").get<std::string>();
            test.line = j.at("line").get<std::uint32_t>();
            const auto status = status_from(j.at("status").get<std::string>());
            if (!status) {
                error = "unknown status '" + j.at("status").get<std::string>() + "'";
                return false;
            }
            std::vector<protocol::Failure> failures;
            for (const auto& f : j.at("failures")) {
                failures.push_back(
                    {f.at("file").get<std::string>(), f.at("line").get<std::uint32_t>(),
                     f.at("kind").get<std::string>(), f.at("expression").get<std::string>(),
                     f.at("expanded").get<std::string>(), f.at("message").get<std::string>(),
                     f.at("subcase").get<std::string>()});
            }
            const auto out = j.at("stdout").get<std::string>();
            const auto err = j.at("stderr").get<std::string>();
            const auto detail = j.value("detail", std::string());
            const auto& pid = j.at("worker_pid");
            to_.test(TestEvent{binary, test, *status, ns_from_ms(j.at("duration_ms")),
                               pid.is_number() ? pid.get<pid_t>() : 0, health_from(j.at("health")),
                               failures, out, err, detail, j.at("attempt").get<std::uint32_t>(),
                               kind == "test"});
        } else if (kind == "slow") {
            const std::string binary = j.at("binary").get<std::string>();
            protocol::TestInfo test;
            test.id = j.value("id", 0u);
            test.name = j.at("name").get<std::string>();
            test.suite = j.at("suite").get<std::string>();
            to_.slow(SlowEvent{binary, test, ns_from_ms(j.at("running_ms")),
                               j.at("worker_pid").get<pid_t>()});
        } else if (kind == "recycle") {
            const std::string binary = j.at("binary").get<std::string>();
            const auto reason = j.at("reason").get<std::string>();
            RecycleReason r{reason == "memory" ? RecycleReason::Kind::memory
                            : reason == "fds"  ? RecycleReason::Kind::fds
                                               : RecycleReason::Kind::age,
                            j.at("measured").get<double>(), j.at("limit").get<double>()};
            to_.recycle(RecycleEvent{binary, j.at("worker_pid").get<pid_t>(), r});
        } else if (kind == "error") {
            const std::string binary = j.at("binary").get<std::string>();
            const auto message = j.at("message").get<std::string>();
            to_.notice(Notice{binary, message, j.at("fails_run").get<bool>()});
        } else if (kind == "shutdown") {
            ShutdownReport r;
            r.signal = signal_from_name(j.at("signal").get<std::string>());
            r.units_finished = j.at("units_finished").get<std::uint64_t>();
            r.units_cancelled = j.at("units_cancelled").get<std::uint64_t>();
            r.workers_killed = j.at("workers_killed").get<std::uint64_t>();
            r.duration_s = j.at("duration_ms").get<double>() / 1e3;
            shutdown_signal_ = r.signal;
            to_.shutdown(r);
        } else if (kind == "summary") {
            Summary s;
            s.total = j.at("total").get<std::uint64_t>();
            for (std::size_t i = 0; i < kTestStatusCount; ++i) {
                s.counts[i] =
                    j.at(std::string(to_string(static_cast<TestStatus>(i)))).get<std::uint64_t>();
            }
            s.filtered = j.value("filtered", std::uint64_t{0});
            s.errors = j.at("errors").get<std::uint64_t>();
            s.duration_s = j.at("duration_ms").get<double>() / 1e3;
            const auto& w = j.at("workers");
            s.workers_started = w.at("started").get<std::uint64_t>();
            s.workers_crashed = w.at("crashed").get<std::uint64_t>();
            s.workers_timed_out = w.at("timed_out").get<std::uint64_t>();
            s.recycled = {w.at("recycled").at("memory").get<std::uint64_t>(),
                          w.at("recycled").at("fds").get<std::uint64_t>(),
                          w.at("recycled").at("age").get<std::uint64_t>()};
            summary_ = s;
            have_summary_ = true;
            to_.summary(s);
        } else if (kind == "progress") {
            Progress p;
            p.done = j.at("done").get<std::uint64_t>();
            p.total = j.at("total").get<std::uint64_t>();
            p.failed = j.at("failed").get<std::uint64_t>();
            p.elapsed_s = j.at("elapsed_ms").get<double>() / 1e3;
            // Progress::Running borrows: keep the strings alive for the call.
            std::deque<std::string> binaries;
            std::deque<protocol::TestInfo> tests;
            for (const auto& r : j.at("running")) {
                binaries.push_back(r.at("binary").get<std::string>());
                protocol::TestInfo t;
                t.id = r.value("id", 0u);
                t.name = r.at("name").get<std::string>();
                t.suite = r.at("suite").get<std::string>();
                tests.push_back(std::move(t));
                p.running.push_back(
                    {&binaries.back(), tests.back(), ns_from_ms(r.at("running_ms"))});
            }
            to_.progress(p);
        } else {
            error = "unknown event '" + kind + "'";
            return false;
        }
        return true;
    } catch (const nlohmann::json::exception& e) {
        error = std::string("malformed event: ") + e.what();
        return false;
    }
}

}  // namespace tend
