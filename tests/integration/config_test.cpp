// tend.toml end to end: found walking up from the working directory, its
// binaries and settings used, a flag winning over it, its errors exiting 2.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "run_tend.hpp"

using namespace tend_test;

namespace {
/// A project directory under /tmp holding a tend.toml and links to fixtures.
struct Project {
    std::filesystem::path root;
    Project() {
        std::string name = "/tmp/tend-it-config-XXXXXX";
        root = ::mkdtemp(name.data());
        std::filesystem::create_directories(root / "build/tests");
        std::filesystem::create_directories(root / "src/deep");
    }
    ~Project() { std::filesystem::remove_all(root); }
    void config(const std::string& text) const { std::ofstream(root / "tend.toml") << text; }
    /// Makes the fixture `name` appear as build/tests/`name`.
    void link(const std::string& name) const {
        std::filesystem::create_symlink(fixture(name), root / "build/tests" / name);
    }
};

/// `tend ARGS...` run from `dir`.
Outcome run_tend_in(const std::filesystem::path& dir, const std::vector<std::string>& args,
                    const std::string& env = "") {
    return run_tend(args, "cd " + shell_quote(dir.string()) + " && " + env);
}
}  // namespace

TEST_SUITE("tend.toml") {
    TEST_CASE("tend run with no binaries runs those of the tend.toml found walking up") {
        Project p;
        p.link("basic");
        p.link("scoped");
        p.config("binaries = [\"build/tests/*\"]\njobs = 2\n");
        auto o = run_tend_in(p.root / "src/deep", {"run", "--json"});
        CHECK(o.exit_code == 1);  // basic has failing tests
        CHECK(o.of("test").size() == 11 + 5);
        std::set<std::string> binaries;
        for (const auto& e : o.of("test")) binaries.insert(e["binary"].get<std::string>());
        // Paths from the config's globs, relative to where tend ran.
        CHECK(binaries ==
              std::set<std::string>{"../../build/tests/basic", "../../build/tests/scoped"});

        auto listed = run_tend_in(p.root / "src", {"list"});
        CHECK(listed.exit_code == 0);
        CHECK(listed.out.find("scope_a/a1\n") != std::string::npos);
    }

    TEST_CASE("[[binary]] args, cwd and env start its workers so, alone and through a daemon") {
        Project p;
        p.link("context_probe");
        p.link("basic");
        std::filesystem::create_directories(p.root / "data");
        p.config(
            "binaries = [\"build/tests/context_probe\"]\n"
            "env = { TEND_PROBE = \"from the top\" }\n"
            "[[binary]]\n"
            "match = \"context_probe\"\n"
            "args = [\"--probe\", \"two words\"]\n"
            "cwd = \"data\"\n"
            "env = { TEND_PROBE = \"from [[binary]]\" }\n");
        const std::string expected =
            "args: [--probe] [two words] cwd: " + (p.root / "data").string() +
            " probe: from [[binary]]";
        auto alone = run_tend_in(p.root / "src", {"run", "--json", "--no-daemon"});
        CHECK(alone.exit_code == 0);
        REQUIRE(alone.of("test").size() == 1);
        CHECK(alone.of("test")[0]["stdout"].get<std::string>().find(expected) != std::string::npos);
        // Through a daemon: the client sends the binary's settings along.
        const auto sock = p.root / "sock";
        std::filesystem::create_directories(sock);
        std::filesystem::permissions(sock, std::filesystem::perms::owner_all);
        const auto socket = (sock / "tend.sock").string();
        const pid_t daemon = start_tend({"serve", "--socket", socket}, (sock / "serve").string());
        for (int i = 0; i < 500 && !std::filesystem::exists(socket); ++i) ::usleep(10000);
        for (int round = 0; round < 2; ++round) {  // cold, then warm
            auto through =
                run_tend_in(p.root / "src", {"run", "--json", "--daemon", "--socket", socket});
            CHECK(through.exit_code == 0);
            REQUIRE(through.of("test").size() == 1);
            CHECK(through.of("test")[0]["stdout"].get<std::string>().find(expected) !=
                  std::string::npos);
        }
        ::kill(daemon, SIGTERM);
        wait_for(daemon, 20);
    }

    TEST_CASE("settings of the file apply; a flag wins over the file") {
        Project p;
        p.link("flaky");
        p.config("binaries = [\"build/tests/flaky\"]\nretries = 2\n");
        const std::string state = "/tmp/tend-it-config-flaky-" + std::to_string(::getpid());
        const std::string env = "TEND_FIXTURE_STATE=" + shell_quote(state);
        auto cleanup = [&] {
            std::remove((state + ".fails").c_str());
            std::remove((state + ".crashes").c_str());
        };

        auto from_file = run_tend_in(p.root, {"run", "-j", "1", "--json"}, env);
        cleanup();
        CHECK(from_file.tests()["flaky/always fails"][0]["attempt"] == 3);
        CHECK(from_file.tests()["flaky/fails once"][0]["status"] == "flaky");

        auto flag = run_tend_in(p.root, {"run", "-j", "1", "--retries", "0", "--json"}, env);
        cleanup();
        CHECK(flag.tests()["flaky/fails once"][0]["status"] == "failed");
        CHECK(flag.of("attempt").empty());
    }

    TEST_CASE("[[binary]] overrides apply to the binaries they match") {
        Project p;
        p.link("hanging");
        p.link("basic");
        // Only the hanging fixture gets a timeout; without one it would hang.
        p.config(R"(
binaries = ["build/tests/*"]
[[binary]]
match = "hang*"
timeout = 0.5
)");
        auto o = run_tend_in(p.root, {"run", "-j", "2", "--json"});
        CHECK(o.exit_code == 1);
        auto tests = o.tests();
        REQUIRE(tests.count("hangs/sleeps forever"));
        CHECK(tests["hangs/sleeps forever"][0]["status"] == "timed_out");
        CHECK(tests["hangs/sleeps forever"][0]["binary"] == "build/tests/hanging");
        REQUIRE(o.of("summary").size() == 1);
        CHECK(o.of("summary")[0]["timed_out"] == 2);
    }

    TEST_CASE("binaries on the command line replace the file's; --config and --no-config") {
        Project p;
        p.link("scoped");
        p.config("binaries = [\"build/tests/nothing-here-*\"]\n");
        // The file's stale glob does not matter when binaries are named.
        auto named = run_tend_in(p.root, {"run", fixture("scoped"), "--json"});
        CHECK(named.exit_code == 0);
        CHECK(named.of("test").size() == 5);

        auto stale = run_tend_in(p.root, {"run"});
        CHECK(stale.exit_code == 2);
        CHECK(stale.err.find("tend.toml: 'binaries': 'build/tests/nothing-here-*' matches no "
                             "executable file") != std::string::npos);

        std::ofstream(p.root / "other.toml") << "binaries = [\"build/tests/scoped\"]\n";
        auto other = run_tend_in(p.root / "src", {"run", "--config", "../other.toml", "--json"});
        CHECK(other.exit_code == 0);
        CHECK(other.of("test").size() == 5);

        auto none = run_tend_in(p.root, {"run", "--no-config"});
        CHECK(none.exit_code == 2);
        CHECK(none.err.find("no test binaries") != std::string::npos);

        auto missing = run_tend_in(p.root, {"run", "--config", "absent.toml"});
        CHECK(missing.exit_code == 2);
        CHECK(missing.err.find("absent.toml: No such file or directory") != std::string::npos);
    }

    TEST_CASE("a config error exits 2 naming the file and line") {
        Project p;
        p.link("scoped");
        p.config("binaries = [\"build/tests/scoped\"]\n\n[limits]\nmax-rss = \"12XB\"\n");
        auto o = run_tend_in(p.root / "src", {"run"});
        CHECK(o.exit_code == 2);
        CHECK(o.err.find("tend: ../tend.toml:4: 'max-rss': '12XB' has an unknown unit") == 0);
        CHECK(o.out.empty());

        p.config("jobs = \"four\"\n");
        auto typed = run_tend_in(p.root, {"run", fixture("scoped")});
        CHECK(typed.exit_code == 2);
        CHECK(typed.err.find("tend.toml:1: 'jobs' must be an integer, not a string") !=
              std::string::npos);

        // --no-config runs in spite of it.
        auto ignored = run_tend_in(p.root, {"run", fixture("scoped"), "--no-config"});
        CHECK(ignored.exit_code == 0);
    }
}
