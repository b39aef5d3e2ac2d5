// JsonReporter: see json_reporter.hpp.
#include "json_reporter.hpp"

#include <csignal>
#include <nlohmann/json.hpp>

namespace tend {

namespace {
using json = nlohmann::ordered_json;

json health_json(const protocol::Health& h) {
    json j = json::object();
    j["rss_bytes"] = h.rss_bytes ? json(*h.rss_bytes) : json(nullptr);
    j["open_fds"] = h.open_fds ? json(*h.open_fds) : json(nullptr);
    return j;
}

// Test output is bytes, not text: invalid UTF-8 becomes U+FFFD instead of an
// exception.
std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}
}  // namespace

void JsonReporter::write(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fputc('\n', out_);
}

void JsonReporter::test(const TestEvent& e) {
    json j;
    j["event"] = e.final ? "test" : "attempt";  // an attempt is retried: a later event ends it
    j["name"] = e.test.name;
    j["suite"] = e.test.suite;
    j["binary"] = e.binary;
    j["file"] = e.test.file;
    j["line"] = e.test.line;
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
    write(dump(j));
}

void JsonReporter::slow(const SlowEvent& e) {
    json j;
    j["event"] = "slow";
    j["name"] = e.test.name;
    j["suite"] = e.test.suite;
    j["binary"] = e.binary;
    j["running_ms"] = static_cast<double>(e.running_ns) / 1e6;
    j["worker_pid"] = e.worker_pid;
    write(dump(j));
    std::fflush(out_);  // it is news now, not at the next result
}

void JsonReporter::recycle(const RecycleEvent& e) {
    json j;
    j["event"] = "recycle";
    j["worker_pid"] = e.worker_pid;
    j["binary"] = e.binary;
    j["reason"] = e.reason.name();
    j["detail"] = e.reason.sentence();
    j["measured"] = e.reason.measured;
    j["limit"] = e.reason.limit;
    write(dump(j));
}

void JsonReporter::notice(const Notice& n) {
    json j;
    j["event"] = "error";
    j["binary"] = n.binary;
    j["message"] = n.message;
    j["fails_run"] = n.fails_run;
    write(dump(j));
}

void JsonReporter::shutdown(const ShutdownReport& r) {
    json j;
    j["event"] = "shutdown";
    j["signal"] = r.signal == SIGINT ? "SIGINT" : "SIGTERM";
    j["units_finished"] = r.units_finished;
    j["units_cancelled"] = r.units_cancelled;
    j["workers_killed"] = r.workers_killed;
    j["duration_ms"] = r.duration_s * 1e3;
    write(dump(j));
}

void JsonReporter::summary(const Summary& s) {
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
    write(dump(j));
    std::fflush(out_);
}

}  // namespace tend
