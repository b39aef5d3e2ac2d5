// The history store: see store.hpp.
#include "history/store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <system_error>

namespace tend {

namespace {

// Rows are keyed by (binary, suite, name, run): the last N of a test are an
// index range, and pruning one test never scans another's.
constexpr const char* kSchema = R"(
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, started REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tests (
  run INTEGER NOT NULL, binary TEXT NOT NULL, suite TEXT NOT NULL, name TEXT NOT NULL,
  duration REAL NOT NULL, outcome TEXT NOT NULL, attempts INTEGER NOT NULL, rss INTEGER);
CREATE INDEX IF NOT EXISTS tests_by_key ON tests (binary, suite, name, run);
CREATE TABLE IF NOT EXISTS units (
  run INTEGER NOT NULL, binary TEXT NOT NULL, unit TEXT NOT NULL,
  duration REAL NOT NULL, tests INTEGER NOT NULL, failed INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS units_by_key ON units (binary, unit, run);
PRAGMA user_version = 1;
COMMIT;
)";

/// Runs tables keep the last this many runs (their ids order the rows).
constexpr std::int64_t kKeptRunIds = 100000;

std::unique_ptr<sqlite::Database> open_database(const std::filesystem::path& path, bool create) {
    auto db =
        std::make_unique<sqlite::Database>(path.string(), true, create, kHistoryBusyTimeoutMs);
    // WAL: readers (a daemon's run, `tend history`) never wait for a writer.
    db->exec("PRAGMA journal_mode = WAL");
    db->exec("PRAGMA synchronous = NORMAL");
    // Made once: a store that has its tables takes no write lock to open.
    std::int64_t version = 0;
    {
        auto q = db->prepare("PRAGMA user_version");
        if (q.step()) version = q.integer(0);
    }
    if (version == 0) {
        try {
            db->exec(kSchema);
        } catch (const sqlite::Error&) {
            try {
                db->exec("ROLLBACK");
            } catch (const sqlite::Error&) {  // the BEGIN itself failed
            }
            throw;
        }
    }
    return db;
}

double now_unix() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::filesystem::path history_path(const std::string& explicit_path,
                                   const std::filesystem::path& config_dir) {
    if (!explicit_path.empty()) return explicit_path;
    if (const char* file = std::getenv("TEND_HISTORY"); file && *file) return file;
    if (const char* dir = std::getenv("TEND_STATE_DIR"); dir && *dir)
        return std::filesystem::path(dir) / "history.db";
    const auto base = config_dir.empty() ? std::filesystem::path(".") : config_dir;
    return base / ".tend" / "history.db";
}

std::string history_binary_key(const std::string& binary, const std::filesystem::path& config_dir) {
    namespace fs = std::filesystem;
    const fs::path path(binary);
    if (!config_dir.empty()) {
        std::error_code ec;
        const auto dir = fs::weakly_canonical(fs::absolute(config_dir, ec), ec);
        const auto bin = fs::weakly_canonical(fs::absolute(path, ec), ec);
        if (!ec) {
            const auto rel = bin.lexically_relative(dir);
            if (!rel.empty() && *rel.begin() != ".." && rel.is_relative()) return rel.string();
        }
    }
    return path.filename().string();
}

double estimate_from(const std::vector<double>& newest_first) {
    const std::size_t n = std::min<std::size_t>(newest_first.size(), 3);
    if (n == 0) return 0;
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += newest_first[i];
    return sum / static_cast<double>(n);
}

std::unique_ptr<HistoryStore> HistoryStore::open(const std::filesystem::path& path, bool create,
                                                 std::string& warning, std::string& error) {
    std::error_code ec;
    if (create && path.has_parent_path()) {
        std::filesystem::create_directories(path.parent_path(), ec);
        if (ec) {
            error = fmt::format("{}: {}", path.parent_path().string(), ec.message());
            return nullptr;
        }
    }
    if (!create && !std::filesystem::exists(path, ec)) {
        error = fmt::format("{}: no history recorded yet", path.string());
        return nullptr;
    }
    try {
        try {
            return std::unique_ptr<HistoryStore>(
                new HistoryStore(path, open_database(path, create)));
        } catch (const sqlite::Error& e) {
            if (!e.corrupt()) throw;
            // Set aside (for a person to look at) and started anew: a broken
            // history costs its durations, never the run.
            const auto aside = path.string() + ".corrupt";
            std::filesystem::rename(path, aside, ec);
            if (ec)
                throw sqlite::Error(
                    fmt::format("{} (and cannot set it aside: {})", e.what(), ec.message()),
                    e.code());
            std::filesystem::remove(path.string() + "-wal", ec);
            std::filesystem::remove(path.string() + "-shm", ec);
            warning = fmt::format("{}: {}; set aside as {}, a new history starts", path.string(),
                                  e.what(), aside);
            return std::unique_ptr<HistoryStore>(new HistoryStore(path, open_database(path, true)));
        }
    } catch (const sqlite::Error& e) {
        error = fmt::format("{}: {}", path.string(), e.what());
        return nullptr;
    }
}

void HistoryStore::record(const HistoryBatch& batch, std::size_t keep_runs) {
    if (batch.empty()) return;
    keep_runs = std::max<std::size_t>(keep_runs, 1);
    sqlite::Transaction tx(*db_);
    if (!run_) {
        db_->prepare("INSERT INTO runs (started) VALUES (?)").bind(1, now_unix()).step();
        run_ = db_->last_insert_rowid();
        db_->prepare("DELETE FROM runs WHERE id <= ?").bind(1, *run_ - kKeptRunIds).step();
    }
    const auto keep = static_cast<std::int64_t>(keep_runs);
    if (!batch.tests.empty()) {
        auto insert = db_->prepare(
            "INSERT INTO tests (run, binary, suite, name, duration, outcome, attempts, rss) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        // The row N+1 back and every older one of the same test go.
        auto prune = db_->prepare(
            "DELETE FROM tests WHERE binary = ?1 AND suite = ?2 AND name = ?3 AND run <= "
            "(SELECT run FROM tests WHERE binary = ?1 AND suite = ?2 AND name = ?3 "
            "ORDER BY run DESC LIMIT 1 OFFSET ?4)");
        for (const auto& t : batch.tests) {
            insert.bind(1, *run_).bind(2, t.binary).bind(3, t.suite).bind(4, t.name);
            insert.bind(5, t.duration_s).bind(6, t.outcome).bind(7, std::int64_t{t.attempts});
            if (t.rss_bytes)
                insert.bind(8, static_cast<std::int64_t>(*t.rss_bytes));
            else
                insert.bind_null(8);
            insert.step();
            insert.reset();
            prune.bind(1, t.binary).bind(2, t.suite).bind(3, t.name).bind(4, keep);
            prune.step();
            prune.reset();
        }
    }
    if (!batch.units.empty()) {
        auto insert = db_->prepare(
            "INSERT INTO units (run, binary, unit, duration, tests, failed) "
            "VALUES (?, ?, ?, ?, ?, ?)");
        auto prune = db_->prepare(
            "DELETE FROM units WHERE binary = ?1 AND unit = ?2 AND run <= "
            "(SELECT run FROM units WHERE binary = ?1 AND unit = ?2 "
            "ORDER BY run DESC LIMIT 1 OFFSET ?3)");
        for (const auto& u : batch.units) {
            insert.bind(1, *run_).bind(2, u.binary).bind(3, u.unit).bind(4, u.duration_s);
            insert.bind(5, std::int64_t{u.tests}).bind(6, std::int64_t{u.failed});
            insert.step();
            insert.reset();
            prune.bind(1, u.binary).bind(2, u.unit).bind(3, keep);
            prune.step();
            prune.reset();
        }
    }
    tx.commit();
}

DurationEstimates HistoryStore::unit_estimates(const std::string& binary) {
    DurationEstimates out;
    auto q =
        db_->prepare("SELECT unit, duration FROM units WHERE binary = ? ORDER BY unit, run DESC");
    q.bind(1, binary);
    std::string unit;
    std::vector<double> newest_first;
    auto flush = [&] {
        if (!newest_first.empty()) out[unit] = estimate_from(newest_first);
        newest_first.clear();
    };
    while (q.step()) {
        auto name = q.text(0);
        if (name != unit) {
            flush();
            unit = std::move(name);
        }
        newest_first.push_back(q.real(1));
    }
    flush();
    return out;
}

std::vector<HistoryStore::Slow> HistoryStore::slowest(const char* sql, std::size_t limit) {
    std::vector<Slow> out;
    auto q = db_->prepare(sql);
    q.bind(1, static_cast<std::int64_t>(limit));
    while (q.step()) {
        out.push_back(Slow{q.text(0), q.text(1), q.text(2), q.real(3), q.real(4), q.real(5),
                           static_cast<std::uint64_t>(q.integer(6))});
    }
    return out;
}

std::vector<HistoryStore::Slow> HistoryStore::slowest_tests(std::size_t limit) {
    return slowest(
        "SELECT binary, suite, name, avg(duration) AS mean, max(duration), "
        "(SELECT duration FROM tests AS l WHERE l.binary = t.binary AND l.suite = t.suite "
        "AND l.name = t.name ORDER BY run DESC LIMIT 1), count(*) "
        "FROM tests AS t WHERE outcome NOT IN ('skipped', 'not_run') "
        "GROUP BY binary, suite, name ORDER BY mean DESC, binary, suite, name LIMIT ?",
        limit);
}

std::vector<HistoryStore::Slow> HistoryStore::slowest_units(std::size_t limit) {
    return slowest(
        "SELECT binary, '', unit, avg(duration) AS mean, max(duration), "
        "(SELECT duration FROM units AS l WHERE l.binary = u.binary AND l.unit = u.unit "
        "ORDER BY run DESC LIMIT 1), count(*) "
        "FROM units AS u GROUP BY binary, unit ORDER BY mean DESC, binary, unit LIMIT ?",
        limit);
}

std::vector<HistoryStore::Flaky> HistoryStore::flakiest(std::size_t limit) {
    // Passing is passed or flaky; a flip is a run whose side differs from
    // the run before it.
    auto q = db_->prepare(
        "SELECT binary, suite, name, sum(flaky) AS f, sum(flip) AS x, count(*) FROM ("
        " SELECT binary, suite, name, outcome = 'flaky' AS flaky,"
        "  coalesce(lag(outcome IN ('passed', 'flaky')) OVER w != (outcome IN ('passed', "
        "'flaky')), 0) AS flip"
        " FROM tests WHERE outcome NOT IN ('skipped', 'not_run')"
        " WINDOW w AS (PARTITION BY binary, suite, name ORDER BY run))"
        " GROUP BY binary, suite, name HAVING f + x > 0"
        " ORDER BY f + x DESC, binary, suite, name LIMIT ?");
    q.bind(1, static_cast<std::int64_t>(limit));
    std::vector<Flaky> out;
    while (q.step()) {
        out.push_back(Flaky{
            q.text(0), q.text(1), q.text(2), static_cast<std::uint64_t>(q.integer(3)),
            static_cast<std::uint64_t>(q.integer(4)), static_cast<std::uint64_t>(q.integer(5))});
    }
    return out;
}

std::vector<HistoryStore::Past> HistoryStore::test_history(const std::string& key,
                                                           std::size_t limit) {
    auto q = db_->prepare(
        "SELECT t.binary, t.suite, t.name, t.run, coalesce(r.started, 0), t.duration, t.outcome,"
        " t.attempts, t.rss FROM tests AS t LEFT JOIN runs AS r ON r.id = t.run"
        " WHERE t.suite || '/' || t.name = ?1 OR t.name = ?1"
        " ORDER BY t.binary, t.suite, t.name, t.run DESC");
    q.bind(1, key);
    std::vector<Past> out;
    std::size_t of_this = 0;
    while (q.step()) {
        Past p{q.text(0),   q.text(1), q.text(2), q.integer(3),
               q.real(4),   q.real(5), q.text(6), static_cast<std::uint32_t>(q.integer(7)),
               std::nullopt};
        if (!q.null(8)) p.rss_bytes = static_cast<std::uint64_t>(q.integer(8));
        const bool same = !out.empty() && out.back().binary == p.binary &&
                          out.back().suite == p.suite && out.back().name == p.name;
        of_this = same ? of_this + 1 : 1;
        if (of_this <= limit) out.push_back(std::move(p));
    }
    return out;
}

}  // namespace tend
