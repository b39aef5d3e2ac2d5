// Run events as JSON: see event_json.hpp.
#include "report/event_json.hpp"

#include <fmt/format.h>

#include <charconv>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdint>

namespace tend {

namespace {
using json = ordered_json;

json health_json(const protocol::Health& h) {
    json j = json::object();
    j["rss_bytes"] = h.rss_bytes ? json(*h.rss_bytes) : json(nullptr);
    j["open_fds"] = h.open_fds ? json(*h.open_fds) : json(nullptr);
    return j;
}

std::optional<TestStatus> status_from(std::string_view s) {
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
    if (!s.shard.empty()) j["shard"] = s.shard;
    j["errors"] = s.errors;
    j["duration_ms"] = s.duration_s * 1e3;
    j["workers"] = {
        {"started", s.workers_started},
        {"crashed", s.workers_crashed},
        {"timed_out", s.workers_timed_out},
        {"recycled", {{"memory", s.recycled[0]}, {"fds", s.recycled[1]}, {"age", s.recycled[2]}}},
        {"replacement_wait_ms", s.replacement_wait_s * 1e3}};
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

namespace {
// The pieces of append_json(), each writing what nlohmann's dump() writes
// for the same value (tests/unit/event_json_test.cpp compares them).

void put_string(std::string& out, std::string_view s) {
    const auto start = out.size();
    out += '"';
    std::size_t plain = 0;  // start of the bytes not copied yet
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            // UTF-8, maybe invalid: nlohmann's own escaping and U+FFFD.
            out.resize(start);
            out += dump_line(json(std::string(s)));
            return;
        }
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + plain, i - plain);
        plain = i + 1;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\r':
                out += "\\r";
                break;
            default: {
                static constexpr char kHex[] = "0123456789abcdef";
                out += "\\u00";
                out += kHex[c >> 4];
                out += kHex[c & 0xf];
            }
        }
    }
    out.append(s.data() + plain, s.size() - plain);
    out += '"';
}

template <typename Int>
void put_int(std::string& out, Int v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void put_double(std::string& out, double v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    // The serializer's own routine (Grisu2, "0.0" for zero): the same digits.
    char buf[64];
    out.append(buf, nlohmann::detail::to_chars(buf, buf + sizeof buf, v));
}

template <typename T>
void put_optional(std::string& out, const std::optional<T>& v) {
    if (v) {
        put_int(out, *v);
    } else {
        out += "null";
    }
}

/// The start of test_head(), without the closing brace.
template <typename Test>
void put_head(std::string& out, const char* event, std::string_view binary, const Test& test) {
    out += "{\"event\":\"";
    out += event;
    out += "\",\"name\":";
    put_string(out, test.name);
    out += ",\"suite\":";
    put_string(out, test.suite);
    out += ",\"binary\":";
    put_string(out, binary);
    out += ",\"id\":";
    put_int(out, test.id);
    out += ",\"file\":";
    put_string(out, test.file);
    out += ",\"line\":";
    put_int(out, test.line);
}
}  // namespace

void append_json(std::string& out, const TestEvent& e) {
    put_head(out, e.final ? "test" : "attempt", e.binary, e.test);
    out += ",\"status\":\"";
    out += to_string(e.status);
    out += "\",\"duration_ms\":";
    put_double(out, static_cast<double>(e.duration_ns) / 1e6);
    out += ",\"worker_pid\":";
    if (e.worker_pid) {
        put_int(out, e.worker_pid);
    } else {
        out += "null";
    }
    out += ",\"health\":{\"rss_bytes\":";
    put_optional(out, e.health.rss_bytes);
    out += ",\"open_fds\":";
    put_optional(out, e.health.open_fds);
    out += "},\"failures\":[";
    bool first = true;
    for (const auto& f : e.failures) {
        out += first ? "{" : ",{";
        first = false;
        out += "\"file\":";
        put_string(out, f.file);
        out += ",\"line\":";
        put_int(out, f.line);
        out += ",\"kind\":";
        put_string(out, f.kind);
        out += ",\"expression\":";
        put_string(out, f.expression);
        out += ",\"expanded\":";
        put_string(out, f.expanded);
        out += ",\"message\":";
        put_string(out, f.message);
        out += ",\"subcase\":";
        put_string(out, f.subcase);
        out += '}';
    }
    out += "],\"stdout\":";
    put_string(out, e.out);
    out += ",\"stderr\":";
    put_string(out, e.err);
    if (!e.detail.empty()) {
        out += ",\"detail\":";
        put_string(out, e.detail);
    }
    out += ",\"attempt\":";
    put_int(out, e.attempt);
    out += '}';
}

void append_json(std::string& out, const StartedEvent& e) {
    put_head(out, "started", e.binary, e.test);
    out += ",\"worker_pid\":";
    put_int(out, e.worker_pid);
    out += '}';
}

namespace {
/// Reads an event's members, keeping the first that is missing or of the
/// wrong type: the event is then refused, naming it.
class Fields {
  public:
    explicit Fields(JsonView::Value object) : object_(object), next_(object.first()) {}
    /// The member `key`, or none. Members are asked for in the order tend
    /// writes them: the search starts after the last one found.
    JsonView::Value find(std::string_view key) {
        for (auto v = next_; v; v = v.next()) {
            if (v.key() == key) return found(v);
        }
        const auto v = object_[key];
        return v ? found(v) : v;
    }
    JsonView::Value at(std::string_view key) {
        const auto v = find(key);
        if (!v) missing(key);
        return v;
    }
    std::string_view text(std::string_view key) { return text(find(key), key); }
    /// Absent: empty; present, a string.
    std::string_view text_or_empty(std::string_view key) {
        const auto v = find(key);
        return v ? text(v, key) : std::string_view();
    }
    std::uint64_t count(std::string_view key) { return count(find(key), key); }
    std::uint32_t count32(std::string_view key) {
        const auto v = count(key);
        if (v > UINT32_MAX) missing(key);
        return static_cast<std::uint32_t>(v);
    }
    /// Absent: 0; present, a count.
    std::uint64_t count_or_zero(std::string_view key) {
        const auto v = find(key);
        return v ? count(v, key) : 0;
    }
    pid_t pid(std::string_view key) { return pid(find(key), key); }
    /// A pid, or null for none (0).
    pid_t pid_or_null(std::string_view key) {
        const auto v = find(key);
        return v.is(JsonView::Type::null) ? 0 : pid(v, key);
    }
    double real(std::string_view key) {
        double v = 0;
        if (!find(key).get(v)) missing(key);
        return v;
    }
    std::uint64_t ns_from_ms(std::string_view key) {
        return static_cast<std::uint64_t>(real(key) * 1e6 + 0.5);
    }
    bool flag(std::string_view key) {
        bool v = false;
        if (!find(key).get(v)) missing(key);
        return v;
    }
    void missing(std::string_view key) {
        if (bad_.empty()) bad_ = key;
    }
    /// The first member missing or of the wrong type; empty when none is.
    std::string_view bad() const { return bad_; }

  private:
    std::string_view text(JsonView::Value v, std::string_view key) {
        std::string_view out;
        if (!v.get(out)) missing(key);
        return out;
    }
    std::uint64_t count(JsonView::Value v, std::string_view key) {
        std::uint64_t out = 0;
        if (!v.get(out)) missing(key);
        return out;
    }
    pid_t pid(JsonView::Value v, std::string_view key) {
        std::int64_t out = 0;
        if (!v.get(out) || out < INT32_MIN || out > INT32_MAX) missing(key);
        return static_cast<pid_t>(out);
    }
    JsonView::Value found(JsonView::Value v) {
        next_ = v.next();
        return v;
    }
    JsonView::Value object_;
    JsonView::Value next_;  ///< where the next search starts
    std::string_view bad_;
};

protocol::Health health_from(JsonView::Value j) {
    protocol::Health h;
    std::uint64_t v = 0;
    if (j["rss_bytes"].get(v)) h.rss_bytes = v;
    if (j["open_fds"].get(v)) h.open_fds = v;
    return h;
}

/// Reads what test_head() wrote: a test's name, suite, binary and id, and
/// `with_location`, its file and line (in that order: the order written).
void read_head(Fields& f, std::string& binary, protocol::TestInfo& test, bool with_location) {
    test.name = f.text("name");
    test.suite = f.text("suite");
    binary = f.text("binary");
    std::uint64_t id = 0;
    f.find("id").get(id);
    test.id = static_cast<std::uint32_t>(id);
    if (with_location) {
        test.file = f.text("file");
        test.line = f.count32("line");
    }
}
}  // namespace

bool Replayer::replay(const nlohmann::json& event, std::string& error) {
    // Through text: one reader for both (this one is not per test).
    const auto text = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    JsonView view;
    if (!view.parse(text, error)) return false;
    return replay(view.root(), error);
}

bool Replayer::replay(JsonView::Value j, std::string& error) {
    Fields f(j);
    const auto kind = f.text("event");
    auto malformed = [&] {
        error = fmt::format("malformed event: '{}' is missing or not what it should be", f.bad());
        return false;
    };
    if (!f.bad().empty()) return malformed();
    if (kind == "test" || kind == "attempt") {
        read_head(f, binary_, test_, true);
        const auto status_text = f.text("status");
        const auto duration_ns = f.ns_from_ms("duration_ms");
        const auto pid = f.pid_or_null("worker_pid");
        const auto health = health_from(f.at("health"));
        const auto failures = f.at("failures");
        if (!failures.is(JsonView::Type::array)) f.missing("failures");
        std::size_t n = 0;
        for (auto v = failures.first(); v; v = v.next(), ++n) {
            if (failures_.size() <= n) failures_.emplace_back();
            auto& out = failures_[n];
            Fields ff(v);
            out.file = ff.text("file");
            out.line = ff.count32("line");
            out.kind = ff.text("kind");
            out.expression = ff.text("expression");
            out.expanded = ff.text("expanded");
            out.message = ff.text("message");
            out.subcase = ff.text("subcase");
            if (!ff.bad().empty()) f.missing("failures");
        }
        failures_.resize(n);
        const auto out = f.text("stdout");
        const auto err = f.text("stderr");
        const auto detail = f.text_or_empty("detail");
        const auto attempt = f.count32("attempt");
        if (!f.bad().empty()) return malformed();
        const auto status = status_from(status_text);
        if (!status) {
            error = "unknown status '" + std::string(status_text) + "'";
            return false;
        }
        to_.test(TestEvent{binary_, test_, *status, duration_ns, pid, health, failures_, out, err,
                           detail, attempt, kind == "test"});
    } else if (kind == "slow") {
        read_head(f, binary_, test_, false);
        const auto running_ns = f.ns_from_ms("running_ms");
        const auto pid = f.pid("worker_pid");
        if (!f.bad().empty()) return malformed();
        to_.slow(SlowEvent{binary_, test_, running_ns, pid});
    } else if (kind == "binary_done") {
        binary_ = f.text("binary");
        if (!f.bad().empty()) return malformed();
        to_.binary_done(binary_);
    } else if (kind == "recycle") {
        binary_ = f.text("binary");
        const auto reason = f.text("reason");
        const RecycleReason r{reason == "memory" ? RecycleReason::Kind::memory
                              : reason == "fds"  ? RecycleReason::Kind::fds
                                                 : RecycleReason::Kind::age,
                              f.real("measured"), f.real("limit")};
        const auto pid = f.pid("worker_pid");
        if (!f.bad().empty()) return malformed();
        to_.recycle(RecycleEvent{binary_, pid, r});
    } else if (kind == "error") {
        binary_ = f.text("binary");
        const auto message = f.text("message");
        const auto fails_run = f.flag("fails_run");
        if (!f.bad().empty()) return malformed();
        to_.notice(Notice{binary_, message, fails_run});
    } else if (kind == "shutdown") {
        ShutdownReport r;
        r.signal = signal_from_name(f.text("signal"));
        r.units_finished = f.count("units_finished");
        r.units_cancelled = f.count("units_cancelled");
        r.workers_killed = f.count("workers_killed");
        r.duration_s = f.real("duration_ms") / 1e3;
        if (!f.bad().empty()) return malformed();
        shutdown_signal_ = r.signal;
        to_.shutdown(r);
    } else if (kind == "summary") {
        Summary s;
        s.total = f.count("total");
        for (std::size_t i = 0; i < kTestStatusCount; ++i)
            s.counts[i] = f.count(to_string(static_cast<TestStatus>(i)));
        s.filtered = f.count_or_zero("filtered");
        s.shard = f.text_or_empty("shard");
        s.errors = f.count("errors");
        s.duration_s = f.real("duration_ms") / 1e3;
        Fields w(f.at("workers"));
        s.workers_started = w.count("started");
        s.workers_crashed = w.count("crashed");
        s.workers_timed_out = w.count("timed_out");
        Fields recycled(w.at("recycled"));
        s.recycled = {recycled.count("memory"), recycled.count("fds"), recycled.count("age")};
        // A daemon from before it sends none.
        if (double ms = 0; w.find("replacement_wait_ms").get(ms)) s.replacement_wait_s = ms / 1e3;
        if (!w.bad().empty() || !recycled.bad().empty()) f.missing("workers");
        if (!f.bad().empty()) return malformed();
        summary_ = s;
        have_summary_ = true;
        to_.summary(s);
    } else if (kind == "progress") {
        Progress p;
        p.done = f.count("done");
        p.total = f.count("total");
        p.failed = f.count("failed");
        p.elapsed_s = f.real("elapsed_ms") / 1e3;
        // Progress::Running borrows: keep the strings alive for the call.
        std::deque<std::string> binaries;
        std::deque<protocol::TestInfo> tests;
        const auto running = f.at("running");
        if (!running.is(JsonView::Type::array)) f.missing("running");
        for (auto r = running.first(); r; r = r.next()) {
            Fields rf(r);
            binaries.emplace_back();
            tests.emplace_back();
            read_head(rf, binaries.back(), tests.back(), false);
            p.running.push_back({&binaries.back(), tests.back(), rf.ns_from_ms("running_ms")});
            if (!rf.bad().empty()) f.missing("running");
        }
        if (!f.bad().empty()) return malformed();
        to_.progress(p);
    } else {
        error = "unknown event '" + std::string(kind) + "'";
        return false;
    }
    return true;
}

}  // namespace tend
