// tend.toml: finding, parsing and layering it; see config.hpp and
// docs/config.md.
#include "config/config.hpp"

#include <fmt/format.h>
#include <fnmatch.h>
#include <glob.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include "config/quantities.hpp"
#include "pool/binary_framework.hpp"

namespace tend {

namespace {

/// Where a key may appear, for the messages about it.
enum class Scope { top, limits, binary, binary_limits };

constexpr std::string_view kTopKeys[] = {"binaries",
                                         "jobs",
                                         "timeout",
                                         "slow",
                                         "grace",
                                         "retries",
                                         "max-fail",
                                         "max-worker-deaths",
                                         "fail-fast",
                                         "limits",
                                         "binary",
                                         "startup-timeout",
                                         "teardown-timeout",
                                         "args",
                                         "cwd",
                                         "env",
                                         "reuse",
                                         "framework",
                                         "history-runs"};
constexpr std::string_view kBinaryKeys[] = {
    "match", "timeout", "slow", "retries", "startup-timeout", "teardown-timeout", "limits",
    "args",  "cwd",     "env",  "reuse", "framework"};
constexpr std::string_view kLimitKeys[] = {"max-rss", "max-fds", "max-age"};

std::string_view scope_name(Scope scope) {
    switch (scope) {
        case Scope::top:
            return "";
        case Scope::limits:
            return " in [limits]";
        case Scope::binary:
            return " in [[binary]]";
        case Scope::binary_limits:
            return " in [binary.limits]";
    }
    return "";
}

template <std::size_t N>
bool one_of(std::string_view key, const std::string_view (&keys)[N]) {
    return std::find(std::begin(keys), std::end(keys), key) != std::end(keys);
}

/// Edit distance, for suggesting the key someone meant.
std::size_t distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = up;
        }
    }
    return row[b.size()];
}

/// The type of a value as the messages name it.
std::string_view type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
        case toml::node_type::none:
            break;
    }
    return "nothing";
}

/// A table's entries in the order of the file (toml++ keeps them sorted by
/// key), so that the first error reported is the first in the file.
std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& t) {
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [k, v] : t) entries.emplace_back(&k, &v);
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        const auto& x = a.first->source().begin;
        const auto& y = b.first->source().begin;
        return x.line != y.line ? x.line < y.line : x.column < y.column;
    });
    return entries;
}

/// Reads the tables of one document; every error names the source and line.
class Parser {
  public:
    Parser(const std::string& source, std::string& error) : source_(source), error_(error) {}

    bool top(const toml::table& t, Config& out) {
        for (const auto& [key_node, node] : in_file_order(t)) {
            const toml::key& k = *key_node;
            const toml::node& v = *node;
            const std::string_view key = k.str();
            bool ok = true;
            if (key == "binaries") {
                ok = binaries(v, out);
            } else if (key == "binary") {
                ok = overrides(v, out.overrides);
            } else if (key == "jobs") {
                ok = count(key, v, 1, 4096, out.top.jobs);
            } else if (key == "grace") {
                std::optional<std::optional<Seconds>> grace;
                ok = seconds(key, v, false, false, grace);
                if (ok) out.top.grace = **grace;
            } else if (key == "max-fail") {
                ok = count(key, v, 1, 1 << 30, out.top.max_fail);
            } else if (key == "max-worker-deaths") {
                ok = count(key, v, 0, 1 << 20, out.top.max_worker_deaths);
            } else if (key == "fail-fast") {
                ok = boolean(key, v, out.top.fail_fast);
            } else if (key == "history-runs") {
                ok = count(key, v, 1, 10000, out.history_runs);
            } else if (const auto shared = common(key, v, Scope::limits, out.top); shared) {
                ok = *shared;
            } else {
                return unknown(k, Scope::top);
            }
            if (!ok) return false;
        }
        return true;
    }

  private:
    std::size_t line(const toml::node& n) const { return n.source().begin.line; }

    bool fail(std::size_t at, const std::string& message) {
        error_ = fmt::format("{}:{}: {}", source_, at, message);
        return false;
    }
    bool wrong_type(std::string_view key, const toml::node& v, std::string_view expected) {
        return fail(line(v), fmt::format("'{}' must be {}, not {}", key, expected, type_name(v)));
    }

    /// An unknown key, with the key meant when one is near, or where the
    /// key belongs when it is one of another table's.
    bool unknown(const toml::key& k, Scope scope) {
        const std::string_view key = k.str();
        std::string message = fmt::format("unknown key '{}'{}", key, scope_name(scope));
        const bool in_limits = scope == Scope::limits || scope == Scope::binary_limits;
        if (!in_limits && one_of(key, kLimitKeys)) {
            message += fmt::format(" (it belongs in {})",
                                   scope == Scope::top ? "[limits]" : "[binary.limits]");
        } else if (scope == Scope::binary && one_of(key, kTopKeys)) {
            message += " (it applies to the whole run: set it at the top level)";
        } else {
            std::string_view best;
            std::size_t best_distance = 3;  // a typo, not another word
            auto consider = [&](std::string_view candidate) {
                const auto d = distance(key, candidate);
                if (d < best_distance) best = candidate, best_distance = d;
            };
            if (in_limits) {
                for (auto c : kLimitKeys) consider(c);
            } else if (scope == Scope::binary) {
                for (auto c : kBinaryKeys) consider(c);
            } else {
                for (auto c : kTopKeys) consider(c);
            }
            if (!best.empty()) message += fmt::format(" (did you mean '{}'?)", best);
        }
        return fail(k.source().begin.line, message);
    }

    /// The keys the top level and [[binary]] share: timeout, slow, retries,
    /// limits. Nothing when `key` is none of them, else whether it parsed.
    std::optional<bool> common(std::string_view key, const toml::node& v, Scope limits_scope,
                               Settings& s) {
        if (key == "timeout") return seconds(key, v, true, true, s.timeout);
        if (key == "slow") return seconds(key, v, true, true, s.slow);
        if (key == "retries") return count(key, v, 0, 100, s.retries);
        if (key == "startup-timeout" || key == "teardown-timeout") {
            NoneOr<Seconds> value;
            if (!seconds(key, v, false, true, value)) return false;
            (key == "startup-timeout" ? s.startup_timeout : s.teardown_timeout) = **value;
            return true;
        }
        if (key == "limits") {
            const auto* t = v.as_table();
            if (!t) return wrong_type(key, v, "a table");
            return limits(*t, limits_scope, s.limits);
        }
        if (key == "args") {
            const auto* a = v.as_array();
            if (!a) return wrong_type(key, v, "an array of strings");
            std::vector<std::string> args;
            for (const auto& e : *a) {
                const auto text = e.value<std::string>();
                if (!text) return wrong_type("args", e, "a string");
                args.push_back(*text);
            }
            s.args = std::move(args);
            return true;
        }
        if (key == "framework") {
            const auto text = v.value<std::string>();
            if (!text) return wrong_type(key, v, "a string");
            if (!is_framework_word(*text))
                return fail(line(v), "'framework': '" + *text +
                                         "' is none of \"auto\", \"tend\", \"gtest\", "
                                         "\"doctest\", \"catch2\"");
            s.framework = *text;
            return true;
        }
        if (key == "reuse") {
            const auto text = v.value<std::string>();
            if (!text) return wrong_type(key, v, "\"run\" or \"daemon\"");
            s.reuse = parse_reuse(*text);
            if (!s.reuse)
                return fail(line(v), "'reuse': '" + *text + "' is neither \"run\" nor \"daemon\"");
            return true;
        }
        if (key == "cwd") {
            const auto text = v.value<std::string>();
            if (!text) return wrong_type(key, v, "a string (a directory)");
            if (text->empty()) return fail(line(v), "'cwd': empty; leave it out for the run's own");
            s.cwd = *text;
            return true;
        }
        if (key == "env") {
            const auto* t = v.as_table();
            if (!t) return wrong_type(key, v, "a table of NAME = \"value\"");
            std::vector<std::string> env;
            for (const auto& [name_node, value] : in_file_order(*t)) {
                const std::string name(name_node->str());
                const auto text = value->value<std::string>();
                if (!text) return wrong_type("env." + name, *value, "a string");
                if (name.empty() || name.find('=') != std::string::npos)
                    return fail(line(*value),
                                fmt::format("'env': '{}' is not a variable name", name));
                env.push_back(name + "=" + *text);
            }
            s.env = std::move(env);
            return true;
        }
        return std::nullopt;
    }

    bool limits(const toml::table& t, Scope scope, LimitSettings& out) {
        for (const auto& [key_node, node] : in_file_order(t)) {
            const toml::key& k = *key_node;
            const toml::node& v = *node;
            const std::string_view key = k.str();
            bool ok = true;
            if (key == "max-rss") {
                ok = size(key, v, out.max_rss_bytes);
            } else if (key == "max-fds") {
                if (is_none(v)) {
                    out.max_open_fds.emplace();
                } else {
                    std::optional<std::uint64_t> fds;
                    ok = v.is_integer() ? count(key, v, 0, INT64_MAX, fds)
                                        : wrong_type(key, v, "a descriptor count or \"none\"");
                    if (ok) out.max_open_fds = fds;
                }
            } else if (key == "max-age") {
                ok = seconds(key, v, true, false, out.max_age);
            } else {
                return unknown(k, scope);
            }
            if (!ok) return false;
        }
        return true;
    }

    bool binaries(const toml::node& v, Config& out) {
        const auto* array = v.as_array();
        if (!array) return wrong_type("binaries", v, "an array of glob patterns");
        std::vector<std::string> patterns;
        for (const auto& element : *array) {
            const auto* pattern = element.as_string();
            if (!pattern) return wrong_type("binaries", element, "an array of strings");
            if (pattern->get().empty()) return fail(line(element), "'binaries': empty pattern");
            patterns.push_back(pattern->get());
        }
        out.binaries = std::move(patterns);
        return true;
    }

    bool overrides(const toml::node& v, std::vector<BinaryOverride>& out) {
        const auto* array = v.as_array();
        if (!array || (!array->empty() && !array->is_array_of_tables())) {
            return wrong_type("binary", v, "an array of tables ([[binary]])");
        }
        for (const auto& element : *array) {
            const auto& t = *element.as_table();
            BinaryOverride o;
            o.line = line(element);
            for (const auto& [key_node, node] : in_file_order(t)) {
                const toml::key& k = *key_node;
                const toml::node& value = *node;
                const std::string_view key = k.str();
                bool ok = true;
                if (key == "match") {
                    const auto* match = value.as_string();
                    if (!match) return wrong_type(key, value, "a string (a glob)");
                    if (match->get().empty()) return fail(line(value), "'match' is empty");
                    o.match = match->get();
                } else if (const auto shared = common(key, value, Scope::binary_limits, o.settings);
                           shared) {
                    ok = *shared;
                } else {
                    return unknown(k, Scope::binary);
                }
                if (!ok) return false;
            }
            if (o.match.empty()) {
                return fail(o.line,
                            "[[binary]] needs 'match', a glob naming the binaries it is for");
            }
            out.push_back(std::move(o));
        }
        return true;
    }

    static bool is_none(const toml::node& v) {
        const auto* s = v.as_string();
        return s && s->get() == "none";
    }

    template <typename T>
    bool count(std::string_view key, const toml::node& v, std::int64_t min, std::int64_t max,
               std::optional<T>& out) {
        const auto* i = v.as_integer();
        if (!i) return wrong_type(key, v, "an integer");
        const std::int64_t n = i->get();
        if (n < min || n > max) {
            return fail(line(v), max == INT64_MAX
                                     ? fmt::format("'{}' must be at least {}, not {}", key, min, n)
                                     : fmt::format("'{}' must be between {} and {}, not {}", key,
                                                   min, max, n));
        }
        out = static_cast<T>(n);
        return true;
    }

    bool boolean(std::string_view key, const toml::node& v, std::optional<bool>& out) {
        const auto* b = v.as_boolean();
        if (!b) return wrong_type(key, v, "true or false");
        out = b->get();
        return true;
    }

    /// Seconds as a number (30, 0.5) or a string ("2.5s"); "none" where
    /// `none_ok`. A timeout of 0 would kill every test: `positive` says so.
    bool seconds(std::string_view key, const toml::node& v, bool none_ok, bool positive,
                 NoneOr<Seconds>& out) {
        if (none_ok && is_none(v)) {
            out.emplace();
            return true;
        }
        double value = 0;
        if (const auto* i = v.as_integer()) {
            value = static_cast<double>(i->get());
        } else if (const auto* f = v.as_floating_point()) {
            value = f->get();
        } else if (const auto* s = v.as_string()) {
            std::string why;
            const auto parsed = parse_seconds(s->get(), why);
            if (!parsed) return fail(line(v), fmt::format("'{}': {}", key, why));
            value = *parsed;
        } else {
            return wrong_type(key, v,
                              none_ok ? "a number of seconds or \"none\"" : "a number of seconds");
        }
        if (!std::isfinite(value) || value < 0 || (positive && value == 0)) {
            return fail(line(v), fmt::format("'{}' must be {} number of seconds, not {}", key,
                                             positive ? "a positive" : "a non-negative", value));
        }
        out = std::optional<Seconds>(Seconds(value));
        return true;
    }

    /// Bytes as an integer or a size string ("512MiB"), or "none".
    bool size(std::string_view key, const toml::node& v, NoneOr<std::uint64_t>& out) {
        if (is_none(v)) {
            out.emplace();
            return true;
        }
        if (v.is_integer()) {
            std::optional<std::uint64_t> bytes;
            if (!count(key, v, 0, INT64_MAX, bytes)) return false;
            out = bytes;
            return true;
        }
        const auto* s = v.as_string();
        if (!s) return wrong_type(key, v, "a size (\"512MiB\"), a byte count or \"none\"");
        std::string why;
        const auto bytes = parse_size(s->get(), why);
        if (!bytes) return fail(line(v), fmt::format("'{}': {}", key, why));
        out = std::optional<std::uint64_t>(*bytes);
        return true;
    }

    const std::string& source_;
    std::string& error_;
};

template <typename T>
void take(std::optional<T>& under, const std::optional<T>& over) {
    if (over) under = over;
}

/// `base` with the per-binary settings `s` sets.
BinarySettings apply(BinarySettings base, const Settings& s) {
    if (s.limits.max_rss_bytes) base.limits.max_rss_bytes = *s.limits.max_rss_bytes;
    if (s.limits.max_open_fds) base.limits.max_open_fds = *s.limits.max_open_fds;
    if (s.limits.max_age) base.limits.max_age = *s.limits.max_age;
    if (s.timeout) base.timeout = *s.timeout;
    if (s.slow) base.slow = *s.slow;
    if (s.retries) base.retries = *s.retries;
    if (s.startup_timeout) base.startup_timeout = *s.startup_timeout;
    if (s.teardown_timeout) base.teardown_timeout = *s.teardown_timeout;
    if (s.args) base.args = *s.args;
    if (s.env) base.env = *s.env;
    if (s.cwd) base.cwd = *s.cwd;
    if (s.reuse) base.reuse = *s.reuse;
    if (s.framework) base.framework = *s.framework;
    return base;
}

}  // namespace

std::optional<std::filesystem::path> find_config(std::filesystem::path start) {
    std::error_code ec;
    auto dir = std::filesystem::absolute(start, ec).lexically_normal();
    if (ec) return std::nullopt;
    if (dir.filename().empty() && dir.has_relative_path()) dir = dir.parent_path();  // "a/b/"
    for (;;) {
        auto candidate = dir / kConfigFileName;
        if (std::filesystem::exists(candidate, ec)) return candidate;
        if (std::filesystem::exists(dir / ".git", ec)) return std::nullopt;
        if (!dir.has_relative_path()) return std::nullopt;  // "/"
        dir = dir.parent_path();
    }
}

bool parse_config(std::string_view text, const std::string& source_name, Config& out,
                  std::string& error) {
    toml::table doc;
    try {
        doc = toml::parse(text, source_name);
    } catch (const toml::parse_error& e) {
        error = fmt::format("{}:{}:{}: {}", source_name, e.source().begin.line,
                            e.source().begin.column, e.description());
        return false;
    }
    Config parsed;
    if (!Parser(source_name, error).top(doc, parsed)) return false;
    out = std::move(parsed);
    return true;
}

bool load_config(const std::filesystem::path& path, Config& out, std::string& error,
                 const std::string& source_name) {
    const std::string name = source_name.empty() ? path.string() : source_name;
    std::FILE* f = std::fopen(path.c_str(), "rbe");
    if (!f) {
        error = fmt::format("{}: {}", name, std::strerror(errno));
        return false;
    }
    std::string text;
    char buffer[8192];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
    const int read_errno = std::ferror(f) ? errno : 0;
    std::fclose(f);
    if (read_errno) {
        error = fmt::format("{}: {}", name, std::strerror(read_errno));
        return false;
    }
    return parse_config(text, name, out, error);
}

bool expand_binaries(const std::vector<std::string>& patterns,
                     const std::filesystem::path& config_dir, const std::string& source_name,
                     std::vector<std::string>& out, std::string& error) {
    const bool here = config_dir.empty() || config_dir == ".";
    std::set<std::string> seen;
    std::vector<std::string> found;
    for (const auto& pattern : patterns) {
        const std::string full = here || pattern.empty() || pattern.front() == '/'
                                     ? pattern
                                     : (config_dir / pattern).lexically_normal().string();
        glob_t g{};
        const int rc = ::glob(full.c_str(), GLOB_MARK, nullptr, &g);
        if (rc != 0 && rc != GLOB_NOMATCH) {
            ::globfree(&g);
            error = fmt::format("{}: 'binaries': '{}' could not be expanded", source_name, pattern);
            return false;
        }
        bool matched = false;
        for (std::size_t i = 0; i < g.gl_pathc; ++i) {
            const std::string path = g.gl_pathv[i];
            if (path.back() == '/' || ::access(path.c_str(), X_OK) != 0) continue;  // GLOB_MARK
            matched = true;
            if (seen.insert(path).second) found.push_back(path);
        }
        ::globfree(&g);
        if (!matched) {
            error = fmt::format("{}: 'binaries': '{}' matches no executable file", source_name,
                                pattern);
            return false;
        }
    }
    out = std::move(found);
    return true;
}

bool binary_matches(std::string_view match, const std::string& binary,
                    const std::filesystem::path& config_dir) {
    std::string pattern(match);
    if (pattern.find('/') == std::string::npos) {
        const auto name = std::filesystem::path(binary).filename().string();
        return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
    }
    while (pattern.rfind("./", 0) == 0) pattern.erase(0, 2);
    std::error_code ec;
    const auto path = std::filesystem::absolute(binary, ec).lexically_normal();
    if (ec) return false;
    const auto base =
        std::filesystem::absolute(config_dir.empty() ? "." : config_dir, ec).lexically_normal();
    if (ec) return false;
    const auto relative = path.lexically_relative(base).string();
    return !relative.empty() && ::fnmatch(pattern.c_str(), relative.c_str(), FNM_PATHNAME) == 0;
}

void overlay(Settings& under, const Settings& over) {
    take(under.jobs, over.jobs);
    take(under.timeout, over.timeout);
    take(under.slow, over.slow);
    take(under.grace, over.grace);
    take(under.retries, over.retries);
    take(under.startup_timeout, over.startup_timeout);
    take(under.teardown_timeout, over.teardown_timeout);
    if (over.fail_fast || over.max_fail) {
        under.fail_fast = over.fail_fast;
        under.max_fail = over.max_fail;
    }
    take(under.max_worker_deaths, over.max_worker_deaths);
    take(under.limits.max_rss_bytes, over.limits.max_rss_bytes);
    take(under.limits.max_open_fds, over.limits.max_open_fds);
    take(under.limits.max_age, over.limits.max_age);
    take(under.args, over.args);
    take(under.cwd, over.cwd);
    take(under.env, over.env);
    take(under.reuse, over.reuse);
    take(under.framework, over.framework);
}

PoolOptions resolve_options(const std::vector<std::string>& binaries, const Settings& flags,
                            const Config& file, const std::filesystem::path& config_dir,
                            const PoolOptions& defaults) {
    PoolOptions opts = defaults;
    opts.binaries = binaries;
    Settings run = file.top;
    overlay(run, flags);
    if (run.jobs) opts.jobs = *run.jobs;
    if (run.grace) opts.shutdown_grace = *run.grace;
    if (run.max_worker_deaths) opts.max_worker_deaths = *run.max_worker_deaths;
    if (run.fail_fast || run.max_fail) {
        // The same rule as the flags: --max-fail N wins over --fail-fast.
        opts.max_fail.reset();
        if (run.fail_fast.value_or(false)) opts.max_fail = 1;
        if (run.max_fail) opts.max_fail = *run.max_fail;
    }
    const BinarySettings base = defaults.run_wide();
    const BinarySettings everywhere = apply(base, run);
    opts.limits = everywhere.limits;
    opts.timeout = everywhere.timeout;
    opts.slow = everywhere.slow;
    opts.retries = everywhere.retries;
    opts.startup_timeout = everywhere.startup_timeout;
    opts.teardown_timeout = everywhere.teardown_timeout;
    opts.per_binary.clear();
    for (const auto& binary : binaries) {
        Settings s = file.top;
        for (const auto& o : file.overrides) {
            if (binary_matches(o.match, binary, config_dir)) overlay(s, o.settings);
        }
        overlay(s, flags);
        // A working directory is the config's, made absolute: runs from
        // anywhere in the project start the worker in the same place.
        if (s.cwd)
            s.cwd = std::filesystem::absolute(config_dir / *s.cwd).lexically_normal().string();
        opts.per_binary.push_back(apply(base, s));
    }
    return opts;
}

}  // namespace tend
