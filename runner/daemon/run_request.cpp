// Run params: see run_request.hpp.
#include "daemon/run_request.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "pool/binary_framework.hpp"

namespace tend {

namespace {
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

template <typename T>
ojson maybe(const std::optional<T>& v) {
    return v ? ojson(*v) : ojson(nullptr);
}
ojson maybe_seconds(const std::optional<Seconds>& v) {
    return v ? ojson(v->count()) : ojson(nullptr);
}

ojson selection_json(const Selection& s) {
    ojson ids = ojson::array();
    for (const auto& [suite, name] : s.ids) ids.push_back({suite, name});
    ojson j{{"filter", s.filters},
            {"exact", s.exact},
            {"suite", s.suites},
            {"exclude", s.excludes},
            {"only_tagged", s.only_tags},
            {"skip_tagged", s.skip_tags},
            {"ids", ids}};
    // Only when set: a daemon from before it refuses the key, and a run
    // that does not need it goes through that daemon as it always did.
    if (s.run_ignored != RunIgnored::by_default) j["run_ignored"] = to_string(s.run_ignored);
    return j;
}

/// Reads params from JSON, remembering where it is for errors.
struct Reader {
    std::string& error;

    bool fail(const std::string& where, const std::string& what) {
        error = where + ": " + what;
        return false;
    }
    /// A string or an array of strings.
    bool strings(const json& j, const std::string& where, std::vector<std::string>& out) {
        if (j.is_string()) {
            out.push_back(j.get<std::string>());
            return true;
        }
        if (!j.is_array()) return fail(where, "expected a string or an array of strings");
        for (const auto& s : j) {
            if (!s.is_string()) return fail(where, "expected a string or an array of strings");
            out.push_back(s.get<std::string>());
        }
        return true;
    }
    bool count(const json& j, const std::string& where, std::uint64_t& out) {
        if (!j.is_number_unsigned()) return fail(where, "expected a whole number of 0 or more");
        out = j.get<std::uint64_t>();
        return true;
    }
    /// A number of seconds, or null for none.
    bool seconds(const json& j, const std::string& where, std::optional<Seconds>& out) {
        if (j.is_null()) {
            out.reset();
            return true;
        }
        // A year at most: longer durations would overflow the clocks.
        if (!j.is_number() || j.get<double>() < 0 || j.get<double>() > 365 * 24 * 3600.0)
            return fail(where, "expected seconds (a number from 0 to 31536000) or null");
        out = Seconds(j.get<double>());
        return true;
    }
    bool maybe_count(const json& j, const std::string& where, std::optional<std::uint64_t>& out) {
        if (j.is_null()) {
            out.reset();
            return true;
        }
        std::uint64_t v = 0;
        if (!count(j, where, v)) return false;
        out = v;
        return true;
    }
    bool selection(const json& j, const std::string& where, Selection& s) {
        if (!j.is_object()) return fail(where, "expected an object");
        for (const auto& [key, value] : j.items()) {
            const auto at = where + "." + key;
            if (key == "filter") {
                if (!strings(value, at, s.filters)) return false;
            } else if (key == "exact") {
                if (!strings(value, at, s.exact)) return false;
            } else if (key == "suite") {
                if (!strings(value, at, s.suites)) return false;
            } else if (key == "exclude") {
                if (!strings(value, at, s.excludes)) return false;
            } else if (key == "only_tagged") {
                if (!strings(value, at, s.only_tags)) return false;
            } else if (key == "skip_tagged") {
                if (!strings(value, at, s.skip_tags)) return false;
            } else if (key == "run_ignored") {
                const auto word = value.is_string()
                                      ? run_ignored_from_string(value.get<std::string>())
                                      : std::nullopt;
                if (!word) return fail(at, "expected \"default\", \"only\" or \"all\"");
                s.run_ignored = *word;
            } else if (key == "ids") {
                if (!value.is_array()) return fail(at, "expected an array of [suite, name]");
                for (const auto& id : value) {
                    if (!id.is_array() || id.size() != 2 || !id[0].is_string() ||
                        !id[1].is_string()) {
                        return fail(at, "expected an array of [suite, name]");
                    }
                    s.ids.emplace(id[0].get<std::string>(), id[1].get<std::string>());
                }
            } else {
                return fail(at, "unknown key");
            }
        }
        return true;
    }
    bool settings(const json& j, const std::string& where, BinarySettings& b) {
        if (!j.is_object()) return fail(where, "expected an object");
        for (const auto& [key, value] : j.items()) {
            const auto at = where + "." + key;
            if (key == "timeout" || key == "slow") {
                auto& v = key == "timeout" ? b.timeout : b.slow;
                if (!seconds(value, at, v)) return false;
                if (v && v->count() <= 0) return fail(at, "must be more than 0, or null");
            } else if (key == "retries") {
                std::uint64_t n = 0;
                if (!count(value, at, n)) return false;
                if (n > 100) return fail(at, "at most 100");
                b.retries = static_cast<std::uint32_t>(n);
            } else if (key == "startup_timeout" || key == "teardown_timeout") {
                std::optional<Seconds> v;
                if (!seconds(value, at, v)) return false;
                if (v && v->count() <= 0) return fail(at, "must be more than 0, or null");
                if (key == "teardown_timeout") {
                    b.teardown_timeout = v;
                } else {
                    b.startup_timeout = v.value_or(kDefaultStartupTimeout);
                }
            } else if (key == "max_rss_bytes") {
                if (!maybe_count(value, at, b.limits.max_rss_bytes)) return false;
            } else if (key == "max_open_fds") {
                if (!maybe_count(value, at, b.limits.max_open_fds)) return false;
            } else if (key == "max_age") {
                if (!seconds(value, at, b.limits.max_age)) return false;
            } else if (key == "args" || key == "env") {
                if (!value.is_array()) return fail(at, "expected an array of strings");
                auto& out = key == "args" ? b.args : b.env;
                out.clear();
                for (const auto& e : value) {
                    if (!e.is_string()) return fail(at, "expected an array of strings");
                    const auto text = e.get<std::string>();
                    if (key == "env" && (text.find('=') == std::string::npos || text[0] == '='))
                        return fail(at, "'" + text + "' is not NAME=value");
                    out.push_back(text);
                }
            } else if (key == "framework") {
                if (!value.is_string() || !is_framework_word(value.get<std::string>()))
                    return fail(at, "expected \"auto\", \"tend\", \"gtest\", \"doctest\" or \"catch2\"");
                b.framework = value.get<std::string>();
            } else if (key == "reuse") {
                const auto r =
                    value.is_string() ? parse_reuse(value.get<std::string>()) : std::nullopt;
                if (!r) return fail(at, "expected \"run\" or \"daemon\"");
                b.reuse = *r;
            } else if (key == "cwd") {
                if (!value.is_string()) return fail(at, "expected an absolute path, or \"\"");
                b.cwd = value.get<std::string>();
                if (!b.cwd.empty() && b.cwd[0] != '/') return fail(at, "expected an absolute path");
            } else {
                return fail(at, "unknown key");
            }
        }
        return true;
    }
};
}  // namespace

nlohmann::ordered_json run_params(const PoolOptions& o, const RunFeed& feed) {
    ojson per_binary = ojson::array();
    for (const auto& b : o.per_binary) {
        per_binary.push_back({{"timeout", maybe_seconds(b.timeout)},
                              {"slow", maybe_seconds(b.slow)},
                              {"retries", b.retries},
                              {"startup_timeout", b.startup_timeout.count()},
                              {"teardown_timeout", maybe_seconds(b.teardown_timeout)},
                              {"max_rss_bytes", maybe(b.limits.max_rss_bytes)},
                              {"max_open_fds", maybe(b.limits.max_open_fds)},
                              {"max_age", maybe_seconds(b.limits.max_age)}});
        // The worker process's own, only when set (editors rarely do).
        if (!b.args.empty()) per_binary.back()["args"] = b.args;
        if (!b.env.empty()) per_binary.back()["env"] = b.env;
        if (!b.cwd.empty()) per_binary.back()["cwd"] = b.cwd;
        if (b.reuse != Reuse::run) per_binary.back()["reuse"] = reuse_name(b.reuse);
        if (!b.framework.empty() && b.framework != "auto") per_binary.back()["framework"] = b.framework;
    }
    ojson selection = ojson::array();
    for (const auto& s : o.selection) selection.push_back(selection_json(s));
    ojson params{{"binaries", o.binaries},
                 {"jobs", o.jobs},
                 {"max_fail", maybe(o.max_fail)},
                 {"max_worker_deaths", o.max_worker_deaths},
                 {"grace", o.shutdown_grace.count()},
                 {"settings", per_binary},
                 {"selection", selection},
                 {"progress_ms", feed.progress.count()},
                 {"env", o.env ? ojson(*o.env) : ojson(nullptr)},
                 {"cwd", o.cwd}};
    if (!feed.test_started) params["test_started"] = false;
    // The client's history, for longest-first scheduling: only when it has one.
    if (!o.estimates.empty()) {
        ojson estimates = ojson::array();
        for (const auto& e : o.estimates) {
            ojson units = ojson::object();
            for (const auto& [unit, s] : e) units[unit] = s;
            estimates.push_back(std::move(units));
        }
        params["estimates"] = std::move(estimates);
    }
    // Only when set: a daemon from before shards refuses the key, rather
    // than run every test.
    if (o.shard) params["shard"] = to_string(*o.shard);
    if (!o.unit_durations.empty()) params["unit_durations"] = o.unit_durations;
    return params;
}

bool parse_run_params(const nlohmann::json& params, const PoolOptions& defaults, PoolOptions& out,
                      std::chrono::milliseconds& progress, std::string& error) {
    RunFeed feed;
    if (!parse_run_params(params, defaults, out, feed, error)) return false;
    progress = feed.progress;
    return true;
}

bool parse_run_params(const nlohmann::json& params, const PoolOptions& defaults, PoolOptions& out,
                      RunFeed& feed, std::string& error) {
    Reader r{error};
    PoolOptions o = defaults;
    o.binaries.clear();
    o.per_binary.clear();
    o.selection.clear();
    o.estimates.clear();
    feed = {};
    if (!params.is_object()) return r.fail("params", "expected an object");
    if (!params.contains("binaries")) return r.fail("params.binaries", "missing");
    if (!r.strings(params["binaries"], "params.binaries", o.binaries)) return false;
    if (o.binaries.empty()) return r.fail("params.binaries", "no binaries");
    for (std::size_t i = 0; i < o.binaries.size(); ++i) {
        if (o.binaries[i].empty() || o.binaries[i][0] != '/') {
            return r.fail(fmt::format("params.binaries[{}]", i),
                          "'" + o.binaries[i] + "' is not an absolute path");
        }
    }
    Selection top;  // an editor's filter: for every binary
    bool have_top = false;
    for (const auto& [key, value] : params.items()) {
        const auto at = "params." + key;
        if (key == "binaries") continue;
        if (key == "jobs") {
            std::uint64_t n = 0;
            if (!r.count(value, at, n)) return false;
            if (n == 0 || n > 4096) return r.fail(at, "from 1 to 4096");
            o.jobs = n;
        } else if (key == "max_fail") {
            std::optional<std::uint64_t> n;
            if (!r.maybe_count(value, at, n)) return false;
            if (n && *n == 0) return r.fail(at, "at least 1, or null");
            o.max_fail = n;
        } else if (key == "max_worker_deaths") {
            std::uint64_t n = 0;
            if (!r.count(value, at, n)) return false;
            o.max_worker_deaths = n;
        } else if (key == "grace") {
            std::optional<Seconds> s;
            if (!r.seconds(value, at, s)) return false;
            if (s) o.shutdown_grace = *s;
        } else if (key == "env") {
            if (value.is_null()) continue;
            std::vector<std::string> env;
            if (!value.is_array() || !r.strings(value, at, env))
                return r.fail(at, "expected an array of \"NAME=value\" strings, or null");
            o.env = std::move(env);
        } else if (key == "cwd") {
            if (!value.is_string()) return r.fail(at, "expected a string");
            o.cwd = value.get<std::string>();
            if (!o.cwd.empty() && o.cwd[0] != '/')
                return r.fail(at, "'" + o.cwd + "' is not an absolute path");
            // Said now, not by workers that cannot start (or start elsewhere).
            struct stat st {};
            if (!o.cwd.empty() && ::stat(o.cwd.c_str(), &st) != 0)
                return r.fail(at, "'" + o.cwd + "' is not a directory: " + std::strerror(errno));
            if (!o.cwd.empty() && !S_ISDIR(st.st_mode))
                return r.fail(at, "'" + o.cwd + "' is not a directory");
        } else if (key == "progress_ms") {
            std::uint64_t n = 0;
            if (!r.count(value, at, n)) return false;
            if (n > 3'600'000) return r.fail(at, "at most 3600000 (an hour)");
            feed.progress = std::chrono::milliseconds(std::max<std::uint64_t>(n, n ? 20 : 0));
        } else if (key == "shard") {
            std::string why;
            const auto shard =
                value.is_string() ? parse_shard(value.get<std::string>(), why) : std::nullopt;
            if (!shard) return r.fail(at, why.empty() ? "expected \"K/N\"" : why);
            o.shard = shard;
        } else if (key == "unit_durations") {
            // {binary: {unit: seconds}}, binaries as in params.binaries.
            bool ok = value.is_object();
            UnitDurations durations;
            for (auto b = value.begin(); ok && b != value.end(); ++b) {
                ok = b.value().is_object();
                for (auto u = b.value().begin(); ok && u != b.value().end(); ++u) {
                    ok = u.value().is_number() && u.value().get<double>() >= 0;
                    if (ok) durations[b.key()][u.key()] = u.value().get<double>();
                }
            }
            if (!ok) return r.fail(at, "expected {binary: {unit: seconds}}, seconds >= 0");
            o.unit_durations = std::move(durations);
        } else if (key == "test_started") {
            if (!value.is_boolean()) return r.fail(at, "expected true or false");
            feed.test_started = value.get<bool>();
        } else if (key == "estimates") {
            if (!value.is_array() || value.size() != o.binaries.size())
                return r.fail(at, "expected an array with one object per binary");
            for (std::size_t i = 0; i < value.size(); ++i) {
                const auto here = fmt::format("{}[{}]", at, i);
                if (!value[i].is_object())
                    return r.fail(here, "expected an object of unit names and seconds");
                auto& units = o.estimates.emplace_back();
                for (const auto& [unit, s] : value[i].items()) {
                    if (!s.is_number() || !(s.get<double>() >= 0))
                        return r.fail(here + "." + unit, "expected seconds (a number, at least 0)");
                    units[unit] = s.get<double>();
                }
            }
        } else if (key == "settings") {
            if (!value.is_array() || value.size() != o.binaries.size())
                return r.fail(at, "expected an array with one object per binary");
            for (std::size_t i = 0; i < value.size(); ++i) {
                BinarySettings b = o.run_wide();
                if (!r.settings(value[i], fmt::format("{}[{}]", at, i), b)) return false;
                o.per_binary.push_back(b);
            }
        } else if (key == "selection") {
            if (!value.is_array() || (value.size() > 1 && value.size() != o.binaries.size()))
                return r.fail(at, "expected an array with one object, or one per binary");
            for (std::size_t i = 0; i < value.size(); ++i) {
                Selection s;
                if (!r.selection(value[i], fmt::format("{}[{}]", at, i), s)) return false;
                o.selection.push_back(std::move(s));
            }
        } else if (key == "filter" || key == "exact" || key == "suite" || key == "exclude" ||
                   key == "only_tagged" || key == "skip_tagged" || key == "run_ignored") {
            if (!r.selection(json{{key, value}}, "params", top)) return false;
            have_top = true;
        } else {
            return r.fail(at, "unknown key");
        }
    }
    if (have_top) {
        if (!o.selection.empty()) return r.fail("params", "both 'selection' and a filter key");
        o.selection.push_back(std::move(top));
    }
    out = std::move(o);
    return true;
}

namespace {
/// A heap block's allocator header, and a std::string's own room.
constexpr std::size_t kBlockHeader = 16;
std::size_t heap_of(const std::string& s) {
    return s.capacity() > std::string().capacity() ? s.capacity() + 1 + kBlockHeader : 0;
}
std::size_t heap_of(const std::vector<std::string>& v) {
    std::size_t n = v.capacity() ? v.capacity() * sizeof(std::string) + kBlockHeader : 0;
    for (const auto& s : v) n += heap_of(s);
    return n;
}
}  // namespace

std::size_t held_bytes(const PoolOptions& o) {
    std::size_t n = sizeof(PoolOptions) + heap_of(o.binaries) + heap_of(o.cwd);
    if (o.env) n += heap_of(*o.env);
    n += o.selection.capacity() * sizeof(Selection) + kBlockHeader;
    for (const auto& s : o.selection) {
        for (const auto* v :
             {&s.filters, &s.exact, &s.suites, &s.excludes, &s.only_tags, &s.skip_tags}) {
            n += heap_of(*v);
        }
        // A tree node each: links, the pair, the header.
        for (const auto& [suite, name] : s.ids)
            n += 32 + 2 * sizeof(std::string) + kBlockHeader + heap_of(suite) + heap_of(name);
    }
    n += o.per_binary.capacity() * sizeof(BinarySettings) + kBlockHeader;
    // A hash node each: the link, the pair, the cached hash, the header.
    for (const auto& e : o.estimates) {
        n += sizeof(UnitEstimates) + e.bucket_count() * sizeof(void*) + kBlockHeader;
        for (const auto& [unit, _] : e)
            n += 16 + sizeof(std::string) + sizeof(double) + kBlockHeader + heap_of(unit);
    }
    return n;
}

}  // namespace tend
