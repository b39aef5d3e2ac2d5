// The history store end to end: what `tend run` records (read back through
// `tend history --json` or SQLite itself), where the file lives (--history,
// TEND_HISTORY, beside tend.toml, --no-history), a history that cannot be
// used (corrupt, locked, unwritable) costing only a warning, pruning to
// `history-runs`, binaries keyed the same from any build path, and units
// starting longest first once their durations are known.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "run_tend.hpp"

using namespace tend_test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// A fresh directory, removed at the end; tend runs record history meanwhile.
struct Dir {
    std::string path;
    std::optional<std::string> no_history;  ///< TEND_NO_HISTORY as it was
    Dir() {
        // The other tests run without a history (tests/meson.build, and
        // restored at the end): these are about it.
        if (const char* v = std::getenv("TEND_NO_HISTORY")) no_history = v;
        ::unsetenv("TEND_NO_HISTORY");
        static int n = 0;
        path = "/tmp/tend-it-history-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~Dir() {
        if (no_history) ::setenv("TEND_NO_HISTORY", no_history->c_str(), 1);
        std::error_code ec;
        fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

/// `tend history --json` on `file`.
json history(const std::string& file, const std::vector<std::string>& more = {}) {
    std::vector<std::string> args{"history", "--json", "--history", file, "-n", "100"};
    args.insert(args.end(), more.begin(), more.end());
    const auto o = run_tend(args);
    REQUIRE_MESSAGE(o.exit_code == 0, o.err);
    return json::parse(o.out);
}

/// "binary: suite/name" of each slowest test the history has.
std::set<std::string> recorded(const std::string& file) {
    std::set<std::string> out;
    const auto h = history(file);
    for (const auto& t : h["slowest_tests"]) {
        out.insert(t["binary"].get<std::string>() + ": " + t["suite"].get<std::string>() + "/" +
                   t["name"].get<std::string>());
    }
    return out;
}

/// The suites of the test events, in the order they came.
std::vector<std::string> suites_in_order(const Outcome& o) {
    std::vector<std::string> out;
    for (const auto& e : o.of("test")) out.push_back(e["suite"].get<std::string>());
    return out;
}

std::string env(const std::string& name, const std::string& value) {
    return name + "=" + shell_quote(value);
}

}  // namespace

TEST_SUITE("history") {
    TEST_CASE("a run records each test, its unit, outcome and the worker's RSS") {
        Dir dir;
        const auto file = dir / "h.db";
        const auto o =
            run_tend({"run", fixture("basic"), "-j", "1", "--json"}, env("TEND_HISTORY", file));
        REQUIRE(o.exit_code == 1);  // basic has failures: recorded as well
        REQUIRE(fs::exists(file));
        const auto got = recorded(file);
        CHECK(got.count("basic: math/adds") == 1);
        const auto h = history(file);
        CHECK(h["history"] == file);
        bool math_unit = false;
        for (const auto& u : h["slowest_units"]) math_unit |= u["unit"] == "math";
        CHECK(math_unit);
        const auto past = history(file, {"--test", "math/adds"})["runs"];
        REQUIRE(past.size() == 1);
        CHECK(past[0]["outcome"] == "passed");
        CHECK(past[0]["attempts"] == 1);
        CHECK(past[0]["rss_bytes"].get<std::uint64_t>() > 0);
        // The people's output names them too.
        const auto people = run_tend({"history", "--history", file});
        CHECK(people.exit_code == 0);
        CHECK(people.out.find("Slowest tests") != std::string::npos);
        CHECK(people.out.find("basic: math/adds") != std::string::npos);
        CHECK(people.out.find("Flakiest tests") != std::string::npos);
    }

    TEST_CASE("a run that selects tests records them, not their units (they ran in part)") {
        Dir dir;
        const auto file = dir / "h.db";
        run_tend({"run", fixture("basic"), "-j", "1", "--exact", "math/adds"},
                 env("TEND_HISTORY", file));
        CHECK(recorded(file).count("basic: math/adds") == 1);
        const auto partial = history(file);
        for (const auto& u : partial["slowest_units"]) CHECK(u["unit"] != "math");
        // A whole run records the unit.
        run_tend({"run", fixture("basic"), "-j", "1"}, env("TEND_HISTORY", file));
        const auto whole = history(file);
        bool math_unit = false;
        for (const auto& u : whole["slowest_units"]) math_unit |= u["unit"] == "math";
        CHECK(math_unit);
    }

    TEST_CASE("a flaky test shows in the flakiest") {
        Dir dir;
        const auto file = dir / "h.db";
        const auto o =
            run_tend({"run", fixture("flaky"), "-j", "1", "--retries", "3", "--json"},
                     env("TEND_HISTORY", file) + " " + env("TEND_FIXTURE_STATE", dir / "state"));
        bool any_flaky = false;
        for (const auto& e : o.of("test")) any_flaky |= e["status"] == "flaky";
        REQUIRE(any_flaky);
        CHECK_FALSE(history(file)["flakiest"].empty());
    }

    TEST_CASE("the history is beside tend.toml, or where --history or TEND_HISTORY say") {
        Dir dir;
        fs::create_directories(dir / "project/sub");
        std::ofstream(dir / "project/tend.toml") << "binaries = [\"" << fixture("basic") << "\"]\n";
        const auto in = "cd " + shell_quote(dir / "project/sub") + " && ";
        auto o = run_tend({"run", "-j", "1", "--json"}, in);
        CHECK(o.exit_code == 1);
        CHECK(fs::exists(dir / "project/.tend/history.db"));
        CHECK_FALSE(fs::exists(dir / "project/sub/.tend/history.db"));

        o = run_tend({"run", "-j", "1", "--json"}, in + env("TEND_HISTORY", dir / "env.db"));
        CHECK(fs::exists(dir / "env.db"));
        // --history wins over TEND_HISTORY.
        o = run_tend({"run", "-j", "1", "--json", "--history", dir / "flag.db"},
                     in + env("TEND_HISTORY", dir / "env2.db"));
        CHECK(fs::exists(dir / "flag.db"));
        CHECK_FALSE(fs::exists(dir / "env2.db"));
        CHECK(recorded(dir / "flag.db").count("basic: math/adds") == 1);
        // tend history finds it beside tend.toml too.
        const auto h = run_tend({"history", "--json"}, in);
        REQUIRE(h.exit_code == 0);
        CHECK(json::parse(h.out)["history"] == "../.tend/history.db");
    }

    TEST_CASE("--no-history neither reads nor writes one") {
        Dir dir;
        const auto o = run_tend({"run", fixture("basic"), "-j", "1", "--json", "--no-history"},
                                env("TEND_HISTORY", dir / "h.db"));
        CHECK(o.exit_code == 1);
        CHECK_FALSE(fs::exists(dir / "h.db"));
        // TEND_NO_HISTORY alike, unless --history names a file.
        run_tend({"run", fixture("basic"), "-j", "1"},
                 env("TEND_HISTORY", dir / "h.db") + " TEND_NO_HISTORY=1");
        CHECK_FALSE(fs::exists(dir / "h.db"));
        run_tend({"run", fixture("basic"), "-j", "1", "--history", dir / "h.db"},
                 "TEND_NO_HISTORY=1");
        CHECK(fs::exists(dir / "h.db"));
        const auto both =
            run_tend({"run", fixture("basic"), "--no-history", "--history", dir / "h.db"});
        CHECK(both.exit_code == 2);
    }

    TEST_CASE("a corrupt history is set aside with a warning, and the run goes on") {
        Dir dir;
        const auto file = dir / "h.db";
        std::ofstream(file) << std::string(10000, 'z');
        const auto o = run_tend({"run", fixture("basic"), "-j", "1", "--json", "-f", "math/adds"},
                                env("TEND_HISTORY", file));
        CHECK(o.exit_code == 0);
        CHECK(o.err.find("warning: history") != std::string::npos);
        CHECK(o.err.find("set aside as " + file + ".corrupt") != std::string::npos);
        CHECK(fs::file_size(file + ".corrupt") == 10000);
        CHECK(recorded(file).count("basic: math/adds") == 1);
    }

    TEST_CASE("a history that cannot be written is a warning, never a failed run") {
        Dir dir;
        // Under a regular file: no directory can be made there, root or not.
        std::ofstream(dir / "plain") << "x";
        auto o = run_tend({"run", fixture("basic"), "-j", "1", "--json", "-f", "math/adds",
                           "--history", dir / "plain/h.db"});
        CHECK(o.exit_code == 0);
        CHECK(o.err.find("warning: history") != std::string::npos);
        CHECK(o.of("summary").size() == 1);
        if (::geteuid() != 0) {
            fs::create_directories(dir / "ro");
            ::chmod((dir / "ro").c_str(), 0555);
            o = run_tend({"run", fixture("basic"), "-j", "1", "-f", "math/adds", "--history",
                          dir / "ro/h.db"});
            CHECK(o.exit_code == 0);
            CHECK(o.err.find("warning: history") != std::string::npos);
        }
    }

    TEST_CASE("a history locked past the busy timeout is a warning, and the run goes on") {
        Dir dir;
        const auto file = dir / "h.db";
        run_tend({"run", fixture("basic"), "-j", "1", "-f", "math/adds", "--history", file});
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
        const auto o = run_tend(
            {"run", fixture("basic"), "-j", "1", "--json", "-f", "math/adds", "--history", file});
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close(db);
        CHECK(o.exit_code == 0);
        CHECK(o.err.find("warning: history") != std::string::npos);
        CHECK(o.err.find("locked") != std::string::npos);
        CHECK(history(file, {"--test", "math/adds"})["runs"].size() == 1);
    }

    TEST_CASE("only the last history-runs runs of a test are kept") {
        Dir dir;
        std::ofstream(dir / "tend.toml") << "binaries = [\"" << fixture("basic") << "\"]\n"
                                         << "history-runs = 2\n";
        const auto in = "cd " + shell_quote(dir.path) + " && ";
        for (int i = 0; i < 3; ++i) run_tend({"run", "-j", "1", "-f", "math/adds"}, in);
        const auto runs = history(dir / ".tend/history.db", {"--test", "math/adds"})["runs"];
        REQUIRE(runs.size() == 2);
        CHECK(runs[0]["run"].get<int>() == 3);
        CHECK(runs[1]["run"].get<int>() == 2);
        // And the store holds no more rows than that.
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((dir / ".tend/history.db").c_str(), &db) == SQLITE_OK);
        sqlite3_stmt* q = nullptr;
        sqlite3_prepare_v2(db, "SELECT count(*) FROM tests WHERE name = 'adds'", -1, &q, nullptr);
        REQUIRE(sqlite3_step(q) == SQLITE_ROW);
        CHECK(sqlite3_column_int(q, 0) == 2);
        sqlite3_finalize(q);
        sqlite3_close(db);
    }

    TEST_CASE("a binary has the same key from any build path") {
        Dir dir;
        const auto file = dir / "shared.db";
        for (const char* checkout : {"a", "b"}) {
            const auto root = dir / checkout;
            fs::create_directories(root + "/build");
            fs::copy_file(fixture("basic"), root + "/build/basic");
            std::ofstream(root + "/tend.toml") << "binaries = [\"build/basic\"]\n";
            run_tend({"run", "-j", "1", "-f", "math/adds"},
                     "cd " + shell_quote(root) + " && " + env("TEND_HISTORY", file));
        }
        // And without tend.toml, by its file name.
        run_tend({"run", "-j", "1", "-f", "math/adds", "--no-config", dir / "a/build/basic"},
                 env("TEND_HISTORY", file));
        const auto runs = history(file, {"--test", "math/adds"})["runs"];
        REQUIRE(runs.size() == 3);
        CHECK(runs[0]["binary"] == "basic");
        CHECK(runs[1]["binary"] == "build/basic");
        CHECK(runs[2]["binary"] == "build/basic");
    }

    TEST_CASE("with history, the longest unit starts first") {
        Dir dir;
        const auto file = dir / "h.db";
        const std::vector<std::string> args{"run", fixture("long_tail"), "-j", "1", "--json"};
        const auto first = run_tend(args, env("TEND_HISTORY", file));
        REQUIRE(first.exit_code == 0);
        const auto listed = suites_in_order(first);
        REQUIRE(listed.size() == 7);
        CHECK(listed.front() == "short 1");  // list order: the long one is last
        CHECK(listed.back() == "long");
        const auto second = run_tend(args, env("TEND_HISTORY", file));
        REQUIRE(second.exit_code == 0);
        CHECK(suites_in_order(second).front() == "long");
        // Without history, list order again.
        const auto off =
            run_tend({"run", fixture("long_tail"), "-j", "1", "--json", "--no-history"});
        CHECK(suites_in_order(off).front() == "short 1");
    }

    TEST_CASE("through the daemon, the client records and schedules alike") {
        Dir dir;
        ::chmod(dir.path.c_str(), 0700);  // the daemon's socket directory must be its own
        const auto socket = dir / "tend.sock";
        const pid_t serve = start_tend({"serve", "--socket", socket}, dir / "serve.out");
        for (int i = 0; i < 500 && !fs::exists(socket); ++i) ::usleep(10000);
        REQUIRE(fs::exists(socket));
        const auto file = dir / "h.db";
        const std::vector<std::string> args{"run",    fixture("long_tail"), "-j",       "1",
                                            "--json", "--daemon",           "--socket", socket};
        const auto first = run_tend(args, env("TEND_HISTORY", file));
        CHECK(first.exit_code == 0);
        CHECK(suites_in_order(first).front() == "short 1");
        const auto second = run_tend(args, env("TEND_HISTORY", file));
        CHECK(second.exit_code == 0);
        CHECK(suites_in_order(second).front() == "long");
        CHECK(history(file, {"--test", "long/slow"})["runs"].size() == 2);
        ::kill(serve, SIGTERM);
        CHECK(wait_for(serve, 20) == 0);
    }
}
