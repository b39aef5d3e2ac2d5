// tend.toml: every key, every error naming file and line, the walk up to the
// file, its globs, and the order in which layers win.
#include "config/config.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

using tend::Config;
using tend::Seconds;

namespace {
Config parse_ok(std::string_view text) {
    Config c;
    std::string error;
    INFO(text);
    CHECK_MESSAGE(tend::parse_config(text, "tend.toml", c, error), error);
    return c;
}

/// The error a text gives (fails the test when it parses).
std::string parse_error(std::string_view text) {
    Config c;
    std::string error;
    INFO(text);
    CHECK_FALSE(tend::parse_config(text, "tend.toml", c, error));
    return error;
}

/// A fresh directory under /tmp, removed with everything in it at the end.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string name = "/tmp/tend-config-test-XXXXXX";
        path = ::mkdtemp(name.data());
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    void write(const std::filesystem::path& relative, const std::string& text, bool exec = false) {
        std::filesystem::create_directories((path / relative).parent_path());
        std::ofstream(path / relative) << text;
        if (exec) ::chmod((path / relative).c_str(), 0755);
    }
};
}  // namespace

TEST_SUITE("tend.toml") {
    TEST_CASE("an empty file sets nothing") {
        const auto c = parse_ok("");
        CHECK_FALSE(c.binaries);
        CHECK_FALSE(c.top.jobs);
        CHECK_FALSE(c.top.timeout);
        CHECK_FALSE(c.top.limits.max_rss_bytes);
        CHECK(c.overrides.empty());
    }

    TEST_CASE("every key") {
        const auto c = parse_ok(R"(
binaries = ["build/tests/*_test", "build/tests/extra"]
jobs = 6
timeout = 30
slow = 2.5
grace = "10s"
retries = 2
max-fail = 5
max-worker-deaths = 3
fail-fast = true

[limits]
max-rss = "512MiB"
max-fds = 200
max-age = 60.5

[[binary]]
match = "slow_*"
timeout = "none"
slow = 20
retries = 0
limits = { max-rss = 1073741824, max-age = "none" }

[[binary]]
match = "build/tests/leaky"
[binary.limits]
max-fds = "none"
max-rss = "none"
)");
        REQUIRE(c.binaries);
        CHECK(*c.binaries == std::vector<std::string>{"build/tests/*_test", "build/tests/extra"});
        CHECK(c.top.jobs == 6u);
        CHECK(c.top.timeout == std::optional<Seconds>(Seconds(30)));
        CHECK(c.top.slow == std::optional<Seconds>(Seconds(2.5)));
        CHECK(c.top.grace == Seconds(10));
        CHECK(c.top.retries == 2u);
        CHECK(c.top.max_fail == 5u);
        CHECK(c.top.max_worker_deaths == 3u);
        CHECK(c.top.fail_fast == true);
        CHECK(c.top.limits.max_rss_bytes == std::optional<std::uint64_t>(512ull << 20));
        CHECK(c.top.limits.max_open_fds == std::optional<std::uint64_t>(200));
        CHECK(c.top.limits.max_age == std::optional<Seconds>(Seconds(60.5)));

        REQUIRE(c.overrides.size() == 2);
        const auto& slow = c.overrides[0];
        CHECK(slow.match == "slow_*");
        CHECK(slow.line == 17);
        REQUIRE(slow.settings.timeout);
        CHECK_FALSE(*slow.settings.timeout);  // "none"
        CHECK(slow.settings.slow == std::optional<Seconds>(Seconds(20)));
        CHECK(slow.settings.retries == 0u);
        CHECK(slow.settings.limits.max_rss_bytes == std::optional<std::uint64_t>(1ull << 30));
        REQUIRE(slow.settings.limits.max_age);
        CHECK_FALSE(*slow.settings.limits.max_age);
        CHECK_FALSE(slow.settings.limits.max_open_fds);  // not in the file

        const auto& leaky = c.overrides[1];
        CHECK(leaky.match == "build/tests/leaky");
        REQUIRE(leaky.settings.limits.max_open_fds);
        CHECK_FALSE(*leaky.settings.limits.max_open_fds);
        REQUIRE(leaky.settings.limits.max_rss_bytes);
        CHECK_FALSE(*leaky.settings.limits.max_rss_bytes);
        CHECK_FALSE(leaky.settings.timeout);
    }

    TEST_CASE("startup-timeout and teardown-timeout, at the top and per binary") {
        const auto c = parse_ok(R"(
startup-timeout = 5
teardown-timeout = "2.5s"

[[binary]]
match = "slow_*"
startup-timeout = 120
)");
        CHECK(c.top.startup_timeout == std::optional<Seconds>(Seconds(5)));
        CHECK(c.top.teardown_timeout == std::optional<Seconds>(Seconds(2.5)));
        REQUIRE(c.overrides.size() == 1);
        CHECK(c.overrides[0].settings.startup_timeout == std::optional<Seconds>(Seconds(120)));
        CHECK_FALSE(c.overrides[0].settings.teardown_timeout);
        // Every wait is bounded: no "none", no 0.
        CHECK(parse_error("startup-timeout = \"none\"").find("'startup-timeout'") !=
              std::string::npos);
        CHECK(parse_error("teardown-timeout = 0") ==
              "tend.toml:1: 'teardown-timeout' must be a positive number of seconds, not 0");

        tend::PoolOptions defaults;
        const auto o = resolve_options({"slow_db", "fast"}, {}, c, "/p", defaults);
        REQUIRE(o.per_binary.size() == 2);
        CHECK(o.per_binary[0].startup_timeout == Seconds(120));
        CHECK(o.per_binary[1].startup_timeout == Seconds(5));
        CHECK(o.per_binary[1].teardown_limit() == Seconds(2.5));
        // Without a teardown timeout: the test timeout, else the default.
        tend::BinarySettings plain;
        CHECK(plain.teardown_limit() == tend::kDefaultTeardownTimeout);
        plain.timeout = Seconds(7);
        CHECK(plain.teardown_limit() == Seconds(7));
    }

    TEST_CASE("unknown keys are errors naming the file, the line and the table") {
        CHECK(parse_error("jobs = 2\njbos = 3\n") ==
              "tend.toml:2: unknown key 'jbos' (did you mean 'jobs'?)");
        CHECK(parse_error("[limits]\nmax-rss = 1\n\nmax_fds = 3\n") ==
              "tend.toml:4: unknown key 'max_fds' in [limits] (did you mean 'max-fds'?)");
        CHECK(parse_error("[[binary]]\nmatch = \"a\"\ncolour = \"red\"\n") ==
              "tend.toml:3: unknown key 'colour' in [[binary]]");
        CHECK(parse_error("[[binary]]\nmatch = \"a\"\n[binary.limits]\nmax-ages = 3\n") ==
              "tend.toml:4: unknown key 'max-ages' in [binary.limits] (did you mean 'max-age'?)");
        // A key of another table says where it belongs.
        CHECK(parse_error("max-rss = \"1GiB\"\n") ==
              "tend.toml:1: unknown key 'max-rss' (it belongs in [limits])");
        CHECK(parse_error("[[binary]]\nmatch = \"a\"\njobs = 2\n") ==
              "tend.toml:3: unknown key 'jobs' in [[binary]] (it applies to the whole run: set it "
              "at the top level)");
        // The first error in the file is the one reported, whatever the key order.
        CHECK(parse_error("zzz = 1\naaa = 2\n").find("tend.toml:1: unknown key 'zzz'") == 0);
    }

    TEST_CASE("args, cwd and env, at the top and per binary") {
        const auto c = parse_ok(
            "args = [\"--top\"]\n"
            "env = { A = \"1\", B = \"two = 2\" }\n"
            "[[binary]]\n"
            "match = \"x\"\n"
            "args = [\"--x\", \"a b\"]\n"
            "cwd = \"data/x\"\n");
        CHECK(c.top.args == std::vector<std::string>{"--top"});
        CHECK(c.top.env == std::vector<std::string>{"A=1", "B=two = 2"});
        CHECK(!c.top.cwd);
        REQUIRE(c.overrides.size() == 1);
        CHECK(c.overrides[0].settings.args == std::vector<std::string>{"--x", "a b"});
        CHECK(c.overrides[0].settings.cwd == std::string("data/x"));
        CHECK(!c.overrides[0].settings.env);
        CHECK(parse_error("args = \"--x\"") ==
              "tend.toml:1: 'args' must be an array of strings, not a string");
        CHECK(parse_error("args = [1]") == "tend.toml:1: 'args' must be a string, not an integer");
        CHECK(parse_error("cwd = \"\"") ==
              "tend.toml:1: 'cwd': empty; leave it out for the run's own");
        CHECK(parse_error("env = { A = 1 }") ==
              "tend.toml:1: 'env.A' must be a string, not an integer");
        CHECK(parse_error("env = [\"A=1\"]") ==
              "tend.toml:1: 'env' must be a table of NAME = \"value\", not an array");
    }

    TEST_CASE("framework, at the top and per binary; another word is an error") {
        const auto c = parse_ok(
            "framework = \"tend\"\n"
            "[[binary]]\n"
            "match = \"plain_*\"\n"
            "framework = \"gtest\"\n");
        CHECK(c.top.framework == std::string("tend"));
        REQUIRE(c.overrides.size() == 1);
        CHECK(c.overrides[0].settings.framework == std::string("gtest"));
        CHECK(parse_error("framework = \"boost\"")
                  .find("'framework': 'boost' is none of \"auto\", \"tend\", \"gtest\"") !=
              std::string::npos);
        CHECK(parse_error("framework = 1") ==
              "tend.toml:1: 'framework' must be a string, not an integer");
    }

    TEST_CASE("wrong types name the key, what it must be and what it is") {
        CHECK(parse_error("\n\njobs = \"four\"\n") ==
              "tend.toml:3: 'jobs' must be an integer, not a string");
        CHECK(parse_error("jobs = 2.5") == "tend.toml:1: 'jobs' must be an integer, not a float");
        CHECK(parse_error("retries = true") ==
              "tend.toml:1: 'retries' must be an integer, not a boolean");
        CHECK(parse_error("fail-fast = 1") ==
              "tend.toml:1: 'fail-fast' must be true or false, not an integer");
        CHECK(parse_error("timeout = [1]") ==
              "tend.toml:1: 'timeout' must be a number of seconds or \"none\", not an array");
        CHECK(parse_error("grace = 1979-05-27") ==
              "tend.toml:1: 'grace' must be a number of seconds, not a date");
        CHECK(parse_error("binaries = \"a\"") ==
              "tend.toml:1: 'binaries' must be an array of glob patterns, not a string");
        CHECK(parse_error("binaries = [\n  \"a\",\n  3,\n]") ==
              "tend.toml:3: 'binaries' must be an array of strings, not an integer");
        CHECK(parse_error("limits = 5") == "tend.toml:1: 'limits' must be a table, not an integer");
        CHECK(parse_error("[binary]\nmatch = \"a\"") ==
              "tend.toml:1: 'binary' must be an array of tables ([[binary]]), not a table");
        CHECK(parse_error("[limits]\nmax-fds = \"64\"") ==
              "tend.toml:2: 'max-fds' must be a descriptor count or \"none\", not a string");
        CHECK(parse_error("[limits]\nmax-rss = true") ==
              "tend.toml:2: 'max-rss' must be a size (\"512MiB\"), a byte count or \"none\", not "
              "a boolean");
        CHECK(parse_error("[[binary]]\nmatch = 3") ==
              "tend.toml:2: 'match' must be a string (a glob), not an integer");
    }

    TEST_CASE("values out of range") {
        CHECK(parse_error("jobs = 0") == "tend.toml:1: 'jobs' must be between 1 and 4096, not 0");
        CHECK(parse_error("jobs = -3") == "tend.toml:1: 'jobs' must be between 1 and 4096, not -3");
        CHECK(parse_error("retries = 101") ==
              "tend.toml:1: 'retries' must be between 0 and 100, not 101");
        CHECK(parse_error("max-fail = 0").find("'max-fail' must be between 1 and") !=
              std::string::npos);
        CHECK(parse_error("timeout = 0") ==
              "tend.toml:1: 'timeout' must be a positive number of seconds, not 0");
        CHECK(parse_error("slow = -1.5") ==
              "tend.toml:1: 'slow' must be a positive number of seconds, not -1.5");
        CHECK(parse_error("[limits]\nmax-age = -1") ==
              "tend.toml:2: 'max-age' must be a non-negative number of seconds, not -1");
        CHECK(parse_error("[limits]\nmax-fds = -1") ==
              "tend.toml:2: 'max-fds' must be at least 0, not -1");
        CHECK(parse_error("grace = \"soon\"") ==
              "tend.toml:1: 'grace': 'soon' is not a number of seconds (try 30 or 0.5)");
        CHECK(parse_error("grace = \"none\"").find("'grace': 'none' is not a number") !=
              std::string::npos);
        CHECK(parse_ok("grace = 0").top.grace == Seconds(0));
    }

    TEST_CASE("bad sizes say what is wrong with them") {
        CHECK(parse_error("[limits]\nmax-rss = \"12XB\"") ==
              "tend.toml:2: 'max-rss': '12XB' has an unknown unit 'XB' (use B, KiB, MiB, GiB, TiB, "
              "or KB, MB, GB, TB)");
        CHECK(parse_error("[limits]\nmax-rss = \"lots\"") ==
              "tend.toml:2: 'max-rss': 'lots' is not a size (try 512MiB, 1GiB or a byte count)");
        CHECK(parse_error("[limits]\nmax-rss = -1") ==
              "tend.toml:2: 'max-rss' must be at least 0, not -1");
    }

    TEST_CASE("[[binary]] needs a match") {
        CHECK(parse_error("jobs = 1\n\n[[binary]]\nretries = 1\n") ==
              "tend.toml:3: [[binary]] needs 'match', a glob naming the binaries it is for");
        CHECK(parse_error("[[binary]]\nmatch = \"\"") == "tend.toml:2: 'match' is empty");
    }

    TEST_CASE("TOML syntax errors come from toml++ with line and column") {
        const auto error = parse_error("jobs = 2\nretries = = 3\n");
        CHECK(error.find("tend.toml:2:") == 0);
        CHECK(error.find("tend.toml:2:11: ") == 0);
        const auto duplicate = parse_error("jobs = 2\njobs = 3\n");
        CHECK(duplicate.find("tend.toml:2:") == 0);
        CHECK(duplicate.find("jobs") != std::string::npos);
    }

    TEST_CASE("load_config names an unreadable file and its reason") {
        Config c;
        std::string error;
        CHECK_FALSE(tend::load_config("/nonexistent/tend.toml", c, error));
        CHECK(error == "/nonexistent/tend.toml: No such file or directory");
        TempDir dir;
        dir.write("tend.toml", "jobs = 3\n\n[limits]\nmax-fds = 1.5\n");
        CHECK_FALSE(tend::load_config(dir.path / "tend.toml", c, error, "here/tend.toml"));
        CHECK(error ==
              "here/tend.toml:4: 'max-fds' must be a descriptor count or \"none\", not a "
              "float");
        dir.write("tend.toml", "jobs = 3\n");
        CHECK(tend::load_config(dir.path / "tend.toml", c, error));
        CHECK(c.top.jobs == 3u);
    }
}

TEST_SUITE("finding tend.toml") {
    TEST_CASE("walks up to the first tend.toml") {
        TempDir dir;
        dir.write("tend.toml", "");
        std::filesystem::create_directories(dir.path / "a/b/c");
        CHECK(tend::find_config(dir.path / "a/b/c") == dir.path / "tend.toml");
        dir.write("a/tend.toml", "");
        CHECK(tend::find_config(dir.path / "a/b/c") == dir.path / "a/tend.toml");
        CHECK(tend::find_config(dir.path / "a/b/c/") == dir.path / "a/tend.toml");
        CHECK(tend::find_config(dir.path) == dir.path / "tend.toml");
    }

    TEST_CASE("stops at a repository root") {
        TempDir dir;
        dir.write("tend.toml", "");
        std::filesystem::create_directories(dir.path / "repo/.git");
        std::filesystem::create_directories(dir.path / "repo/src");
        CHECK_FALSE(tend::find_config(dir.path / "repo/src"));
        dir.write("repo/tend.toml", "");
        CHECK(tend::find_config(dir.path / "repo/src") == dir.path / "repo/tend.toml");
        // A worktree or submodule has a .git file, not a directory.
        dir.write("worktree/.git", "gitdir: elsewhere\n");
        std::filesystem::create_directories(dir.path / "worktree/sub");
        CHECK_FALSE(tend::find_config(dir.path / "worktree/sub"));
    }
}

TEST_SUITE("binaries globs") {
    TEST_CASE("relative to the config's directory, sorted, executables only, each once") {
        TempDir dir;
        dir.write("build/b_test", "", true);
        dir.write("build/a_test", "", true);
        dir.write("build/c_test", "", false);  // not executable
        std::filesystem::create_directories(dir.path / "build/d_test");
        dir.write("other/tool", "", true);
        std::vector<std::string> out;
        std::string error;
        REQUIRE(tend::expand_binaries({"build/*_test", "other/tool", "build/a_test"}, dir.path,
                                      "tend.toml", out, error));
        const auto p = dir.path.string();
        CHECK(out == std::vector<std::string>{p + "/build/a_test", p + "/build/b_test",
                                              p + "/other/tool"});
    }

    TEST_CASE("a pattern matching no executable file is an error") {
        TempDir dir;
        dir.write("build/c_test", "", false);
        std::vector<std::string> out;
        std::string error;
        CHECK_FALSE(tend::expand_binaries({"build/*_test"}, dir.path, "../tend.toml", out, error));
        CHECK(error == "../tend.toml: 'binaries': 'build/*_test' matches no executable file");
        CHECK_FALSE(tend::expand_binaries({"nothing/here"}, dir.path, "tend.toml", out, error));
        CHECK(error.find("'nothing/here'") != std::string::npos);
    }

    TEST_CASE(
        "[[binary]] match: a bare name matches the file name, a path the path from the "
        "config's directory") {
        const std::filesystem::path root = "/repo";
        CHECK(tend::binary_matches("slow_*", "/repo/build/tests/slow_io", root));
        CHECK(tend::binary_matches("slow_io", "/elsewhere/slow_io", root));
        CHECK_FALSE(tend::binary_matches("slow_*", "/repo/slow_dir/fast", root));
        CHECK(tend::binary_matches("build/tests/*", "/repo/build/tests/slow_io", root));
        CHECK(tend::binary_matches("./build/tests/*", "/repo/build/tests/slow_io", root));
        CHECK(tend::binary_matches("build/*/slow_io", "/repo/build/x/../tests/slow_io", root));
        // '*' does not cross a '/', as in `binaries`.
        CHECK_FALSE(tend::binary_matches("build/*", "/repo/build/tests/slow_io", root));
        CHECK(tend::binary_matches("../other/*", "/other/t", root));
        CHECK_FALSE(tend::binary_matches("build/tests/*", "/elsewhere/build/tests/t", root));
        // A relative binary is relative to the working directory.
        const auto cwd = std::filesystem::current_path();
        CHECK(tend::binary_matches("sub/t", "sub/t", cwd));
        CHECK(tend::binary_matches("t", "../sub/t", cwd / "x"));
    }
}

TEST_SUITE("layers") {
    TEST_CASE("flag > [[binary]] > top level > default, per setting and per binary") {
        const auto file = parse_ok(R"(
jobs = 3
timeout = 10
retries = 1
[limits]
max-rss = "100MiB"
max-age = 60

[[binary]]
match = "special"
timeout = 20
retries = 4
limits.max-rss = "200MiB"

[[binary]]
match = "spec*"
retries = 5
)");
        tend::PoolOptions defaults;
        defaults.jobs = 8;
        defaults.limits.max_rss_bytes = 1ull << 30;
        defaults.limits.max_open_fds = 512;
        defaults.limits.max_age = Seconds(3600);
        defaults.retries = 0;
        defaults.max_worker_deaths = 8;
        const std::vector<std::string> binaries{"/repo/plain", "/repo/special"};

        SUBCASE("no flags") {
            const auto o = tend::resolve_options(binaries, {}, file, "/repo", defaults);
            CHECK(o.binaries == binaries);
            CHECK(o.jobs == 3);               // top level over default
            CHECK(o.max_worker_deaths == 8);  // default
            REQUIRE(o.per_binary.size() == 2);
            const auto& plain = o.per_binary[0];
            CHECK(plain.timeout == Seconds(10));
            CHECK(plain.retries == 1);
            CHECK(plain.limits.max_rss_bytes == 100ull << 20);
            CHECK(plain.limits.max_open_fds == 512u);  // default
            CHECK(plain.limits.max_age == Seconds(60));
            const auto& special = o.per_binary[1];
            CHECK(special.timeout == Seconds(20));  // [[binary]] over top level
            CHECK(special.retries == 5);            // the later matching table wins
            CHECK(special.limits.max_rss_bytes == 200ull << 20);
            CHECK(special.limits.max_age == Seconds(60));  // top level, not overridden
            // The run-wide values (what a binary no table matches gets).
            CHECK(o.timeout == Seconds(10));
            CHECK(o.retries == 1);
            CHECK(o.limits.max_rss_bytes == 100ull << 20);
        }
        SUBCASE("flags win over both") {
            tend::Settings flags;
            flags.jobs = 2;
            flags.retries = 0;
            flags.limits.max_rss_bytes.emplace();  // --max-rss none
            flags.timeout = std::optional<Seconds>(Seconds(1));
            const auto o = tend::resolve_options(binaries, flags, file, "/repo", defaults);
            CHECK(o.jobs == 2);
            for (const auto& b : o.per_binary) {
                CHECK(b.retries == 0);
                CHECK(b.timeout == Seconds(1));
                CHECK_FALSE(b.limits.max_rss_bytes);
                CHECK(b.limits.max_age == Seconds(60));  // no flag: the file's
            }
        }
        SUBCASE("no file: the defaults") {
            const auto o = tend::resolve_options(binaries, {}, {}, "", defaults);
            CHECK(o.jobs == 8);
            CHECK(o.per_binary[1].limits.max_rss_bytes == 1ull << 30);
            CHECK_FALSE(o.per_binary[1].timeout);
            CHECK_FALSE(o.max_fail);
        }
    }

    TEST_CASE("fail-fast and max-fail are one setting") {
        tend::PoolOptions defaults;
        const std::vector<std::string> binaries{"/repo/t"};
        auto resolve = [&](std::string_view text, const tend::Settings& flags) {
            return tend::resolve_options(binaries, flags, parse_ok(text), "/repo", defaults)
                .max_fail;
        };
        CHECK(resolve("fail-fast = true", {}) == 1u);
        CHECK(resolve("max-fail = 4", {}) == 4u);
        CHECK(resolve("fail-fast = true\nmax-fail = 4", {}) == 4u);  // as with the flags
        CHECK_FALSE(resolve("fail-fast = false", {}));
        tend::Settings max_fail_flag;
        max_fail_flag.max_fail = 7;
        CHECK(resolve("fail-fast = true", max_fail_flag) == 7u);
        tend::Settings fail_fast_flag;
        fail_fast_flag.fail_fast = true;
        CHECK(resolve("max-fail = 4", fail_fast_flag) == 1u);  // the file's max-fail is replaced
    }
}
