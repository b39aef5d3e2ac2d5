// What people see: the human output of real runs compared with checked-in
// snapshots (tests/integration/snapshots), colours, and the progress line.
//
// Runs use -j 1, so results come in a fixed order (units largest first);
// what still varies (durations, wall time, pids, paths, RSS) is masked.
// On a mismatch the test prints a diff and writes the output beside the
// snapshot as NAME.actual; TEND_UPDATE_SNAPSHOTS=1 rewrites the snapshots.
// Read a snapshot you rewrite: it is the product.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <regex>

#include "run_tend.hpp"

using namespace tend_test;

namespace {
void replace_all(std::string& text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
}

/// The output with what differs from run to run and machine to machine
/// replaced by placeholders.
std::string mask(std::string text) {
    replace_all(text, env_or_die("TEND_FIXTURES"), "<fixtures>");
    // Sources as the compiler saw them: relative to the build directory.
    text = std::regex_replace(text, std::regex(R"([^ \n]*tests/fixtures/(\w+\.cpp))"),
                              "<src>/tests/fixtures/$1");
    text = std::regex_replace(text, std::regex(R"(\[>? *\d+\.\d+s\])"), "[ DURATION ]");
    text = std::regex_replace(text, std::regex(R"(worker \d+)"), "worker <pid>");
    text = std::regex_replace(text, std::regex(R"(rss \d+\.\d [KMG]iB ≥)"), "rss <rss> ≥");
    return text;
}

std::string shell_output(const std::string& command) {
    std::string out;
    if (std::FILE* p = ::popen(command.c_str(), "r")) {
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        ::pclose(p);
    }
    return out;
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

/// Compares `actual` with the snapshot NAME; see the top of the file.
void check_snapshot(const std::string& name, const std::string& actual) {
    const std::string path = env_or_die("TEND_SNAPSHOTS") + "/" + name;
    const std::string actual_path = path + ".actual";
    const char* update = std::getenv("TEND_UPDATE_SNAPSHOTS");
    if (update && std::string(update) == "1") {
        write_file(path, actual);
        std::remove(actual_path.c_str());
        MESSAGE("rewrote " << path);
        return;
    }
    if (slurp(path) == actual) {
        std::remove(actual_path.c_str());
        return;
    }
    write_file(actual_path, actual);
    const auto diff =
        shell_output("diff -u " + shell_quote(path) + " " + shell_quote(actual_path) + " 2>&1");
    FAIL_CHECK("the output differs from the snapshot " << name << " (-expected +actual):\n"
                                                       << diff << "\nThe output is in "
                                                       << actual_path
                                                       << "; if it is right, rewrite the snapshots "
                                                          "with TEND_UPDATE_SNAPSHOTS=1 meson "
                                                          "test integration");
}

/// A fresh path for the flaky fixture's memory.
std::string state_prefix() {
    static int n = 0;
    return "/tmp/tend-human-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

/// The lines of `text`, without their newlines; a last line without one too.
std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t from = 0;
    for (auto nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', from)) {
        lines.push_back(text.substr(from, nl - from));
        from = nl + 1;
    }
    lines.push_back(text.substr(from));
    return lines;
}

std::size_t columns(const std::string& text) {
    std::size_t n = 0;
    for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

bool has_color(const std::string& text) {
    return text.find("\x1b[") != std::string::npos;
}
}  // namespace

TEST_SUITE("human output") {
    TEST_CASE("snapshot: a mixed suite") {
        const auto o = run_tend({"run", fixture("basic"), "-j", "1"});
        CHECK(o.exit_code == 1);
        CHECK(o.err.empty());
        check_snapshot("basic.txt", mask(o.out));
    }

    TEST_CASE("snapshot: crashes") {
        const auto o = run_tend({"run", fixture("crashing"), "-j", "1"});
        CHECK(o.exit_code == 1);
        check_snapshot("crashing.txt", mask(o.out));
    }

    TEST_CASE("snapshot: -q with two binaries") {
        const auto o = run_tend({"run", fixture("crashing"), fixture("basic"), "-j", "1", "-q"});
        CHECK(o.exit_code == 1);
        check_snapshot("quiet_two_binaries.txt", mask(o.out));
    }

    TEST_CASE("snapshot: -v with recycles") {
        const auto o =
            run_tend({"run", fixture("leaky_mem"), "-j", "1", "-v", "--max-rss", "20MiB"});
        CHECK(o.exit_code == 0);
        check_snapshot("verbose_recycle.txt", mask(o.out));
    }

    TEST_CASE("snapshot: a crash loop leaves tests not run") {
        const auto o =
            run_tend({"run", fixture("crash_loop"), "-j", "1", "--max-worker-deaths", "2"});
        CHECK(o.exit_code == 1);
        check_snapshot("crash_loop.txt", mask(o.out));
    }

    TEST_CASE("snapshot: retries, flaky tests are no failures") {
        const auto state = state_prefix();
        // Whether a spare starts after the crash depends on whether the retry
        // is queued yet: the worker count would change from run to run.
        const auto o =
            run_tend({"run", fixture("flaky"), "-j", "1", "--retries", "1", "--no-spares"},
                     "TEND_FIXTURE_STATE=" + shell_quote(state));
        for (const char* what : {".fails", ".crashes"}) std::remove((state + what).c_str());
        CHECK(o.exit_code == 1);
        check_snapshot("flaky_retries.txt", mask(o.out));
    }

    TEST_CASE("the re-run command is words a shell splits right") {
        const auto o = run_tend({"run", fixture("xml_hostile"), fixture("basic"), "-j", "1", "-q"});
        std::vector<std::string> commands;
        for (const auto& line : split_lines(o.out)) {
            const auto at = line.find("or: tend run ");
            if (at != std::string::npos) commands.push_back(line.substr(at + 13));
        }
        REQUIRE(commands.size() == 2);
        CHECK(shell_output("printf '%s\\n' " + commands[0]) ==
              fixture("xml_hostile") + "\n--exact\nxml <suite> & \"co\"/fails with <b>&</b>\n");
        CHECK(shell_output("printf '%s\\n' " + commands[1]) ==
              fixture("basic") +
                  "\n--exact\nmath/fails a check\n--exact\nmath/throws\n--exact\nmath/fails in a "
                  "subcase\n--exact\nmath/fails with context\n");
    }

    TEST_CASE("colours: --color always, never, and NO_COLOR") {
        const auto always = run_tend({"run", fixture("basic"), "-j", "1", "--color", "always"});
        CHECK(has_color(always.out));
        CHECK(always.out.find("\x1b[1;31m   FAIL\x1b[0m") != std::string::npos);
        CHECK(always.out.find("\x1b[32m   PASS\x1b[0m") != std::string::npos);
        CHECK(always.out.find("\x1b[33m   SKIP\x1b[0m") != std::string::npos);
        CHECK(always.out.find('\r') == std::string::npos);  // colours do not bring progress
        CHECK(mask(std::regex_replace(always.out, std::regex("\x1b\\[[0-9;]*m"), "")) ==
              mask(run_tend({"run", fixture("basic"), "-j", "1"}).out));

        CHECK_FALSE(
            has_color(run_tend({"run", fixture("basic"), "-j", "1", "--color", "never"}).out));
        CHECK_FALSE(has_color(
            run_tend({"run", fixture("basic"), "-j", "1", "--color", "auto"}, "NO_COLOR=1").out));
        CHECK_FALSE(has_color(run_tend({"run", fixture("basic"), "-j", "1"}).out));  // no TTY
        // A flag wins over the environment (no-color.org).
        CHECK(has_color(
            run_tend({"run", fixture("basic"), "-j", "1", "--color", "always"}, "NO_COLOR=1").out));

        const auto bad = run_tend({"run", fixture("basic"), "--color", "sometimes"});
        CHECK(bad.exit_code == 2);
        CHECK(bad.err.find("--color") != std::string::npos);
        CHECK(
            run_tend({"run", fixture("basic"), "--progress", "never", "--no-progress"}).exit_code ==
            2);
    }

    TEST_CASE("progress: drawn under the results, never inside one, gone before the summary") {
        const auto o =
            run_tend({"run", fixture("slow"), "-j", "1", "--slow", "0.3", "--progress", "always"});
        CHECK(o.exit_code == 1);
        INFO(o.out);
        const std::string erase = "\r\x1b[K";
        CHECK(o.out.find(erase) != std::string::npos);
        CHECK(o.out.ends_with("1 killed for timeouts\n"));

        // Each line is progress lines, each erased, then the line that stays.
        std::vector<std::string> visible, progress;
        for (const auto& line : split_lines(o.out)) {
            std::size_t from = 0;
            for (auto at = line.find(erase); at != std::string::npos; at = line.find(erase, from)) {
                progress.push_back(line.substr(from, at - from));
                from = at + erase.size();
            }
            visible.push_back(line.substr(from));
        }
        REQUIRE(!progress.empty());
        for (const auto& p : progress) {
            INFO(p);
            CHECK((p.empty() || p.starts_with("RUNNING [")));
            CHECK(p.find('\r') == std::string::npos);
            CHECK(columns(p) < 80);  // no terminal: 80 columns, the last one left free
        }
        const std::regex counts(R"(RUNNING \[ *\d+\.\ds\] \d/5 tests, \d passed, \d failed)");
        CHECK(std::any_of(progress.begin(), progress.end(),
                          [&](const auto& p) { return std::regex_search(p, counts); }));
        CHECK(std::any_of(progress.begin(), progress.end(), [](const auto& p) {
            return p.find(" | slow/takes 0.8 s (") != std::string::npos;
        }));

        // What stays on the screen is the plain output.
        REQUIRE(visible.size() >= 3);
        CHECK(visible.back().empty());  // nothing after the last newline
        CHECK(visible[visible.size() - 3].starts_with("Summary ["));
        CHECK(visible[visible.size() - 2].starts_with("Workers: "));
        for (const auto& line : visible) {
            INFO(line);
            CHECK(line.find("RUNNING") == std::string::npos);
            CHECK(line.find('\r') == std::string::npos);
            CHECK(line.find('\x1b') == std::string::npos);
        }
        const auto has = [&](const std::string& start) {
            return std::any_of(visible.begin(), visible.end(),
                               [&](const auto& l) { return l.starts_with(start); });
        };
        CHECK(has("   PASS [    0.8"));
        CHECK(has("   SLOW [>   0.3"));
        CHECK(has("TIMEOUT ["));

        const auto never = run_tend({"run", fixture("slow"), "-j", "1", "--no-progress"});
        CHECK(never.out.find('\r') == std::string::npos);
        CHECK(run_tend({"run", fixture("slow"), "-j", "1"}).out.find('\r') ==
              std::string::npos);  // no TTY
    }
}
