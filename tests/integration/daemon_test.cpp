// The daemon end to end: real `tend serve` processes on real sockets (and on
// stdin/stdout), real clients, real workers.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "run_tend.hpp"

using namespace tend_test;
using nlohmann::json;

namespace {

std::string temp_dir(const std::string& what) {
    static int counter = 0;
    const std::string dir =
        "/tmp/tend-it-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    ::chmod(dir.c_str(), 0700);
    return dir;
}

bool alive(long pid) {
    // Gone, or a zombie on its way out.
    const auto stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    if (stat.empty()) return false;
    const auto paren = stat.rfind(')');
    return paren == std::string::npos || stat.size() < paren + 3 || stat[paren + 2] != 'Z';
}

/// A line-by-line JSON-RPC connection to a socket.
class Rpc {
  public:
    explicit Rpc(const std::string& path) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    Rpc(int in, int out) : fd_(in), out_(out) {}
    ~Rpc() {
        if (fd_ >= 0) ::close(fd_);
        if (out_ >= 0) ::close(out_);
    }
    bool ok() const { return fd_ >= 0; }
    /// End of input for the other side (stdio).
    void close_output() {
        if (out_ >= 0) ::close(out_);
        out_ = -1;
    }
    void send_raw(const std::string& text) {
        const int to = out_ >= 0 ? out_ : fd_;
        std::size_t sent = 0;
        while (sent < text.size()) {
            // A daemon that refused the connection has closed it: an error
            // here, not a SIGPIPE that ends the tests.
            auto n = ::send(to, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
            if (n < 0 && errno == ENOTSOCK) n = ::write(to, text.data() + sent, text.size() - sent);
            if (n <= 0) return;
            sent += static_cast<std::size_t>(n);
        }
    }
    void send(const json& j) { send_raw(j.dump() + "\n"); }
    /// The next message, or null after `seconds` or at end of input.
    json next(double seconds = 20) {
        const auto until =
            std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        for (;;) {
            if (const auto nl = buf_.find('\n'); nl != std::string::npos) {
                const auto line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return json::parse(line);
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left.count() <= 0) return nullptr;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return nullptr;
            char chunk[65536];
            const auto n = ::read(fd_, chunk, sizeof chunk);
            if (n <= 0) return nullptr;
            buf_.append(chunk, static_cast<std::size_t>(n));
        }
    }
    /// Sends a request and returns its response (notifications before it
    /// are kept in `notes`).
    json call(const std::string& method, const json& params = json::object()) {
        const auto id = next_id_++;
        send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
        for (;;) {
            auto m = next();
            if (m.is_null()) return m;
            if (m.contains("id") && m["id"] == id) return m;
            notes.push_back(std::move(m));
        }
    }
    std::vector<json> notes;

  private:
    int fd_ = -1;
    int out_ = -1;
    std::string buf_;
    int next_id_ = 1;
};

/// Whether a Unix socket at `path` listens: its line in /proc/net/unix has
/// the flag __SO_ACCEPTCON (00010000).
bool is_listening(const std::string& path) {
    std::ifstream in("/proc/net/unix");
    for (std::string line; std::getline(in, line);) {
        if (line.size() <= path.size() ||
            line.compare(line.size() - path.size(), path.size(), path) != 0)
            continue;
        std::istringstream fields(line);
        std::string num, refs, protocol, flags;
        fields >> num >> refs >> protocol >> flags;
        if (flags == "00010000") return true;
    }
    return false;
}

/// `tend serve` on a socket in a fresh directory, stopped at the end.
class Daemon {
  public:
    explicit Daemon(std::vector<std::string> extra = {}) : dir_(temp_dir("daemon")) {
        socket = dir_ + "/tend.sock";
        std::vector<std::string> args{"serve", "--socket", socket};
        args.insert(args.end(), extra.begin(), extra.end());
        pid_ = start_tend(args, dir_ + "/serve.out");
        // Listening, not only bound: the file exists a moment before the
        // daemon takes connections. Seen in /proc/net/unix (a connection to
        // find out would count as a client).
        bool listening = false;
        for (int i = 0; i < 500 && !listening; ++i) {
            listening = is_listening(socket);
            if (!listening) ::usleep(10000);
        }
        REQUIRE(listening);
    }
    ~Daemon() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            wait_for(pid_, 20);
        }
        std::filesystem::remove_all(dir_);
    }
    /// Asks it to stop and returns its exit status (-1: did not exit in 20 s).
    int stop() {
        const auto o = run_tend({"stop", "--socket", socket});
        CHECK(o.exit_code == 0);
        const int status = wait_for(pid_, 20);
        pid_ = -1;
        return status;
    }
    json status() {
        const auto o = run_tend({"status", "--socket", socket, "--json"});
        REQUIRE(o.exit_code == 0);
        return json::parse(o.out);
    }
    /// The status once no spare is starting and at least `ready` are (of
    /// `binary`, when given), within 20 s (the spares a run leaves start in
    /// the background).
    json settled(std::size_t ready, const std::string& binary = "") {
        json s;
        for (int i = 0; i < 2000; ++i) {
            s = status();
            const std::size_t have = binary.empty() ? s["spares"]["ready"].get<std::size_t>()
                                                    : spares_of(s, binary).size();
            if (s["spares"]["starting"] == 0 && have >= ready) return s;
            ::usleep(10000);
        }
        FAIL("spares did not settle: " << s["spares"].dump());
        return s;
    }
    /// The pids of its spares of `binary`.
    std::set<long> spares_of(const json& status, const std::string& binary) {
        std::set<long> out;
        for (const auto& w : status["workers"]) {
            if (w["state"] == "spare" && w["binary"] == binary) out.insert(w["pid"].get<long>());
        }
        return out;
    }
    std::string log() const { return slurp(dir_ + "/serve.out.err"); }
    /// It exited and was reaped already.
    void forget() { pid_ = -1; }
    std::string socket;
    pid_t pid() const { return pid_; }

  private:
    std::string dir_;
    pid_t pid_ = -1;
};

/// "suite/name" -> status, from JSON lines.
std::map<std::string, std::string> statuses(const std::vector<json>& events) {
    std::map<std::string, std::string> out;
    for (const auto& e : events) {
        if (e["event"] == "test")
            out[e["suite"].get<std::string>() + "/" + e["name"].get<std::string>()] = e["status"];
    }
    return out;
}

/// Human output with what differs between two runs masked: durations,
/// wall time, worker pids, worker counts.
std::string masked(const std::string& text) {
    static const std::regex duration(R"(\[ *[0-9.]+s\])");
    static const std::regex pid(R"(worker [0-9]+)");
    static const std::regex workers(R"(Workers: .*)");
    return std::regex_replace(
        std::regex_replace(std::regex_replace(text, duration, "[T]"), pid, "worker P"), workers,
        "Workers: W");
}

/// JSON lines with what differs between two runs taken out (durations,
/// worker pids and health, workers started) and in a fixed order.
std::vector<json> comparable(std::vector<json> events) {
    for (auto& e : events) {
        for (const char* key : {"duration_ms", "worker_pid", "health", "workers"}) e.erase(key);
        if (e.contains("detail")) e["detail"] = masked(e["detail"].get<std::string>());
    }
    std::stable_sort(events.begin(), events.end(), [](const json& a, const json& b) {
        return a.value("binary", "") + "\n" + a.value("suite", "") + "\n" + a.value("name", "") <
               b.value("binary", "") + "\n" + b.value("suite", "") + "\n" + b.value("name", "");
    });
    return events;
}

/// bench/noop_suite: TEND_BENCH_TESTS no-op tests, TEND_BENCH_PER_SUITE to a
/// suite, registered at run time.
std::string noop_suite() {
    return fixture("../bench/noop_suite");
}

/// Like run_tend, but through start_tend and killed after `seconds`: a
/// client or daemon that hangs fails the test instead of stopping it
/// (exit_code is -1 then).
Outcome run_bounded(const std::vector<std::string>& args, double seconds,
                    const std::vector<std::string>& env = {}) {
    static int counter = 0;
    const std::string base =
        "/tmp/tend-it-bounded-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    Outcome o;
    o.exit_code = wait_for(start_tend(args, base, env), seconds);
    o.out = slurp(base);
    o.err = slurp(base + ".err");
    std::remove(base.c_str());
    std::remove((base + ".err").c_str());
    o.events = json_lines(o.out);
    return o;
}

/// Not a tend daemon: a process listening on `path` that accepts every
/// connection and records every byte it receives, and never answers. With
/// `as_uid` it binds as us (the socket file is ours) and then listens as
/// that uid, so SO_PEERCRED names that uid. Killed when destroyed.
class FakeServer {
  public:
    explicit FakeServer(const std::string& path, std::optional<uid_t> as_uid = std::nullopt)
        : record_(path + ".received") {
        int ready[2];
        REQUIRE(::pipe(ready) == 0);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::close(ready[0]);
            ::alarm(300);  // never outlives a crashed test run for long
            const int record = ::open(record_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
            sockaddr_un addr{};
            addr.sun_family = AF_UNIX;
            std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
            if (record < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
                ::_exit(2);
            if (as_uid && (::setgid(*as_uid) != 0 || ::setuid(*as_uid) != 0)) ::_exit(3);
            if (::listen(s, 8) != 0) ::_exit(4);
            (void)!::write(ready[1], "r", 1);
            ::close(ready[1]);
            std::vector<pollfd> fds{{s, POLLIN, 0}};
            for (;;) {
                if (::poll(fds.data(), fds.size(), -1) <= 0) continue;
                if (fds[0].revents & POLLIN) {
                    const int c = ::accept(s, nullptr, nullptr);
                    if (c >= 0) fds.push_back({c, POLLIN, 0});
                }
                for (std::size_t i = 1; i < fds.size(); ++i) {
                    if (!fds[i].revents) continue;
                    char buf[65536];
                    const auto n = ::read(fds[i].fd, buf, sizeof buf);
                    if (n > 0) {
                        (void)!::write(record, buf, static_cast<std::size_t>(n));
                    } else {
                        ::close(fds[i].fd);
                        fds.erase(fds.begin() + static_cast<std::ptrdiff_t>(i--));
                    }
                }
            }
        }
        ::close(ready[1]);
        pollfd p{ready[0], POLLIN, 0};
        char c = 0;
        const bool up = ::poll(&p, 1, 10000) == 1 && ::read(ready[0], &c, 1) == 1;
        ::close(ready[0]);
        REQUIRE(up);
    }
    ~FakeServer() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        std::remove(record_.c_str());
    }
    /// Everything any client sent it so far.
    std::string received() const { return slurp(record_); }

  private:
    std::string record_;
    pid_t pid_ = -1;
};

/// A listening socket closed without unlinking it: what a daemon killed
/// with SIGKILL leaves.
void leave_stale_socket(const std::string& path) {
    const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(s, 1) == 0);
    ::close(s);
}

/// The daemon on `socket` answers `tend status` with its own pid, within
/// `seconds`.
bool serves(const std::string& socket, pid_t pid, double seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
        const auto o = run_bounded({"status", "--socket", socket, "--json"}, 5);
        if (o.exit_code == 0 && json::parse(o.out).value("pid", 0L) == pid) return true;
        ::usleep(20000);
    }
    return false;
}

}  // namespace

TEST_SUITE("daemon") {
    TEST_CASE("tend run prints through the daemon what it prints alone") {
        Daemon d({"-j", "2"});
        for (const char* fixture_name : {"basic", "crashing", "scoped"}) {
            INFO(fixture_name);
            const auto alone = run_tend({"run", fixture(fixture_name), "-j", "1", "--no-daemon"});
            const auto via = run_tend(
                {"run", fixture(fixture_name), "-j", "1", "--daemon", "--socket", d.socket});
            CHECK(via.exit_code == alone.exit_code);
            CHECK(masked(via.out) == masked(alone.out));
            const auto alone_json =
                run_tend({"run", fixture(fixture_name), "-j", "1", "--no-daemon", "--json"});
            const auto via_json = run_tend({"run", fixture(fixture_name), "-j", "1", "--daemon",
                                            "--socket", d.socket, "--json"});
            CHECK(statuses(via_json.events) == statuses(alone_json.events));
        }
        CHECK(d.stop() == 0);
    }

    TEST_CASE("--json through the daemon is --json alone, but for timings, pids and health") {
        Daemon d({"-j", "2"});
        // Output of every size (noisy prints megabytes), text that needs
        // escaping and bytes that are not UTF-8 (the hostile ones), crashes.
        for (const char* name :
             {"basic", "crashing", "scoped", "noisy", "terminal_hostile", "xml_hostile"}) {
            INFO(name);
            const auto alone = run_tend({"run", fixture(name), "-j", "1", "--no-daemon", "--json"});
            for (int warm = 0; warm < 2; ++warm) {
                const auto via = run_tend(
                    {"run", fixture(name), "-j", "1", "--daemon", "--socket", d.socket, "--json"});
                CHECK(via.exit_code == alone.exit_code);
                REQUIRE(!via.events.empty());
                CHECK(via.events.back()["event"] == "summary");
                CHECK(comparable(via.events) == comparable(alone.events));
            }
        }
        CHECK(d.stop() == 0);
    }

    TEST_CASE("10,000 results through the daemon: each once, in order, then the summary") {
        Daemon d({"-j", "2"});
        const std::string env = "TEND_BENCH_TESTS=10000 TEND_BENCH_PER_SUITE=100";
        // The first run starts workers and lists; the second is warm.
        for (int warm = 0; warm < 2; ++warm) {
            INFO("warm " << warm);
            const auto o = run_tend(
                {"run", noop_suite(), "-j", "2", "--daemon", "--socket", d.socket, "--json"}, env);
            CHECK(o.exit_code == 0);
            REQUIRE(o.events.size() == 10001);
            CHECK(o.events.back()["event"] == "summary");
            CHECK(o.events.back()["passed"] == 10000);
            // Each test once; within a suite (a unit, one worker) in order.
            std::vector<int> seen(10000, 0);
            std::map<std::string, int> last_in_suite;
            for (std::size_t i = 0; i + 1 < o.events.size(); ++i) {
                const auto& e = o.events[i];
                REQUIRE(e["event"] == "test");
                const int n = std::stoi(e["name"].get<std::string>().substr(5));
                REQUIRE((n >= 0 && n < 10000));
                ++seen[static_cast<std::size_t>(n)];
                auto [last, fresh] = last_in_suite.emplace(e["suite"].get<std::string>(), n);
                if (!fresh) {
                    CHECK(n == last->second + 1);
                    last->second = n;
                }
            }
            CHECK(std::count(seen.begin(), seen.end(), 1) == 10000);
            const auto quiet = run_tend(
                {"run", noop_suite(), "-j", "2", "--daemon", "--socket", d.socket, "-q"}, env);
            CHECK(quiet.exit_code == 0);
            CHECK(quiet.out.find("10000 passed") != std::string::npos);
        }
        CHECK(d.stop() == 0);
    }

    TEST_CASE("a result reaches the client while a later test of its unit hangs") {
        Daemon d({"-j", "1"});
        const std::string dir = temp_dir("prompt");
        const std::string out = dir + "/out";
        const pid_t client =
            start_tend({"run", fixture("hanging"), "--suite", "hangs", "-j", "1", "--daemon",
                        "--socket", d.socket, "--json", "--grace", "0.2"},
                       out);
        bool arrived = false;
        for (int i = 0; i < 1000 && !arrived; ++i) {
            arrived = slurp(out).find(R"("name":"quick before")") != std::string::npos;
            if (!arrived) ::usleep(10000);
        }
        CHECK(arrived);
        CHECK(::waitpid(client, nullptr, WNOHANG) == 0);  // the run goes on
        ::kill(client, SIGINT);
        CHECK(wait_for(client, 20) == 130);
        std::filesystem::remove_all(dir);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("test_started notifications come unless a run asks for none") {
        Daemon d;
        Rpc rpc(d.socket);
        REQUIRE(rpc.ok());
        for (const bool wanted : {true, false}) {
            INFO("test_started " << wanted);
            json params{{"binaries", {fixture("basic")}}, {"suite", "math"}};
            if (!wanted) params["test_started"] = false;
            const auto started = rpc.call("run", params);
            REQUIRE(started["result"]["run"].is_number());
            std::size_t begun = 0, finished = 0;
            for (auto m = rpc.next(); !m.is_null(); m = rpc.next()) {
                const auto method = m.value("method", "");
                begun += method == "test_started";
                finished += method == "test_finished";
                if (method == "run_finished") break;
            }
            CHECK(finished >= 2);
            CHECK(begun == (wanted ? finished : 0));
        }
        const auto bad =
            rpc.call("run", {{"binaries", {fixture("basic")}}, {"test_started", "no"}});
        CHECK(bad["error"]["code"] == -32602);
        CHECK(bad["error"]["message"] == "params.test_started: expected true or false");
        CHECK(d.stop() == 0);
    }

    TEST_CASE("a second run of the same tests pays for no worker start and no discovery") {
        Daemon d({"-j", "2"});
        const auto first = run_tend(
            {"run", fixture("basic"), "-j", "2", "--daemon", "--socket", d.socket, "--json"});
        REQUIRE(first.of("summary").size() == 1);
        CHECK(first.of("summary")[0]["workers"]["started"].get<int>() >= 1);
        // The spares the first run left, started in the background.
        const auto before = d.spares_of(d.settled(1), fixture("basic"));
        const auto second = run_tend(
            {"run", fixture("basic"), "-j", "2", "--daemon", "--socket", d.socket, "--json"});
        REQUIRE(second.of("summary").size() == 1);
        CHECK(second.of("summary")[0]["workers"]["started"] == 0);
        CHECK(statuses(second.events) == statuses(first.events));
        // It ran on those spares, and left fresh ones: none that ran tests.
        const auto status = d.settled(1);
        const auto after = d.spares_of(status, fixture("basic"));
        CHECK_FALSE(after.empty());
        for (const auto pid : after) CHECK(before.count(pid) == 0);
        for (const auto& w : status["workers"]) CHECK(w["state"] != "warm");
        CHECK(status["binaries"].size() == 1);
        CHECK(status["binaries"][0]["tests_run"] == 22);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("--run-ignored through the daemon: each run as alone, on warm workers") {
        Daemon d({"-j", "1"});
        // doctest's skip() (basic) and gtest's DISABLED_ (gtest_disabled,
        // when gtest was found): default, only, all and default again, each
        // as it runs alone, and none needs a worker of its own.
        for (const char* name : {"basic", "gtest_disabled"}) {
            INFO(name);
            if (!std::filesystem::exists(fixture(name))) {
                MESSAGE("skipped: no " << name << " (built only with GoogleTest)");
                continue;
            }
            bool first = true;
            for (const char* word : {"default", "only", "all", "default"}) {
                INFO("--run-ignored " << word);
                const auto alone = run_tend({"run", fixture(name), "-j", "1", "--no-daemon",
                                             "--json", "--run-ignored", word});
                const auto via = run_tend({"run", fixture(name), "-j", "1", "--daemon", "--socket",
                                           d.socket, "--json", "--run-ignored", word});
                CHECK(via.exit_code == alone.exit_code);
                CHECK(statuses(via.events) == statuses(alone.events));
                REQUIRE(via.of("summary").size() == 1);
                CHECK(via.of("summary")[0]["filtered"] == alone.of("summary")[0]["filtered"]);
                CHECK(via.of("summary")[0]["skipped"] == alone.of("summary")[0]["skipped"]);
                // The flag travels with each unit: no worker is started for it.
                if (!first) CHECK(via.of("summary")[0]["workers"]["started"] == 0);
                first = false;
            }
        }
        const auto only = run_tend({"run", fixture("basic"), "--daemon", "--socket", d.socket,
                                    "--json", "--run-ignored", "only"});
        CHECK(statuses(only.events) == std::map<std::string, std::string>{{"/skipped", "failed"}});
        CHECK(d.stop() == 0);
    }

    TEST_CASE("two clients at once each get their own results, complete and exact") {
        Daemon d({"-j", "2"});
        const std::string dir = temp_dir("two-clients");
        const auto alone_basic = statuses(
            run_tend({"run", fixture("basic"), "-j", "1", "--no-daemon", "--json"}).events);
        const auto alone_crashing = statuses(
            run_tend({"run", fixture("crashing"), "-j", "1", "--no-daemon", "--json"}).events);
        std::vector<pid_t> clients;
        for (int i = 0; i < 4; ++i) {
            const char* which = i % 2 ? "crashing" : "basic";
            clients.push_back(start_tend(
                {"run", fixture(which), "-j", "2", "--daemon", "--socket", d.socket, "--json"},
                dir + "/" + std::to_string(i)));
        }
        for (int i = 0; i < 4; ++i) {
            INFO("client " << i);
            CHECK(wait_for(clients[static_cast<std::size_t>(i)], 60) == 1);
            const auto events = json_lines(slurp(dir + "/" + std::to_string(i)));
            CHECK(statuses(events) == (i % 2 ? alone_crashing : alone_basic));
            REQUIRE(!events.empty());
            CHECK(events.back()["event"] == "summary");
        }
        std::filesystem::remove_all(dir);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("a run that keeps every worker busy does not starve a run that comes later") {
        Daemon d({"-j", "2"});
        const std::string dir = temp_dir("fair");
        // 12 units of 0.1 s on both workers: busy for some 0.6 s.
        const pid_t big = start_tend(
            {"run", fixture("sleepy"), "-j", "2", "--daemon", "--socket", d.socket, "--json"},
            dir + "/big");
        bool busy = false;
        for (int i = 0; i < 500 && !busy; ++i) {
            std::size_t running = 0;
            const auto st = d.status();  // kept: a loop over a temporary's member dangles
            for (const auto& w : st["workers"]) running += w["state"] == "running";
            busy = running == 2;
            if (!busy) ::usleep(5000);
        }
        REQUIRE(busy);
        // A small run now: it gets a worker when the big run's next unit
        // ends, not when the whole big run does.
        const auto small = run_tend(
            {"run", fixture("scoped"), "-j", "2", "--daemon", "--socket", d.socket, "--json"});
        CHECK(small.exit_code == 0);
        CHECK(statuses(small.events).size() == 5);
        int status = 0;
        CHECK(::waitpid(big, &status, WNOHANG) == 0);  // the big run is still going
        CHECK(wait_for(big, 60) == 0);
        CHECK(statuses(json_lines(slurp(dir + "/big"))).size() == 12);
        std::filesystem::remove_all(dir);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("--idle-exit: the daemon exits after that long without clients") {
        Daemon d({"--idle-exit", "0.3"});
        CHECK(run_tend({"run", fixture("scoped"), "--daemon", "--socket", d.socket}).exit_code ==
              0);
        int status = -1;
        for (int i = 0; i < 1000 && status < 0; ++i) {
            if (::waitpid(d.pid(), &status, WNOHANG) != d.pid()) {
                status = -1;
                ::usleep(10000);
            }
        }
        REQUIRE(status >= 0);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
        CHECK_FALSE(std::filesystem::exists(d.socket));
        d.forget();
    }

    TEST_CASE("a retry that must avoid the only worker of a -j 1 run gets a fresh one") {
        Daemon d({"-j", "4"});
        const std::string dir = temp_dir("retry-j1");
        const pid_t client = start_tend({"run", fixture("basic"), "-j", "1", "--retries", "1",
                                         "--daemon", "--socket", d.socket, "--json"},
                                        dir + "/out");
        CHECK(wait_for(client, 60) == 1);  // it ends (it used to wait forever)
        const auto events = json_lines(slurp(dir + "/out"));
        const auto done = statuses(events);
        CHECK(done.size() == 11);
        CHECK(done.at("math/throws") == "failed");
        std::filesystem::remove_all(dir);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("a client killed mid-run costs only its own run") {
        Daemon d({"-j", "2"});
        const std::string dir = temp_dir("killed-client");
        const std::string marker = dir + "/marker";
        const pid_t doomed = start_tend(
            {"run", fixture("hanging"), "-j", "1", "--daemon", "--socket", d.socket, "--json"},
            dir + "/doomed", {"TEND_FIXTURE_MARKER=" + marker});
        for (int i = 0; i < 1000 && slurp(marker).find("sleeping") == std::string::npos; ++i)
            ::usleep(10000);
        REQUIRE(slurp(marker).find("sleeping") != std::string::npos);
        long hung = 0;
        const auto st = d.status();
        INFO(st.dump());
        for (const auto& w : st["workers"]) {
            if (w["state"] == "running") hung = w["pid"].get<long>();
        }
        REQUIRE(hung > 0);
        ::kill(doomed, SIGKILL);
        ::waitpid(doomed, nullptr, 0);
        // The other client runs as if nothing happened.
        const auto other = run_tend(
            {"run", fixture("basic"), "-j", "1", "--daemon", "--socket", d.socket, "--json"});
        CHECK(statuses(other.events) ==
              statuses(
                  run_tend({"run", fixture("basic"), "-j", "1", "--no-daemon", "--json"}).events));
        // The abandoned run is gone, and its hung worker with it.
        bool gone = false;
        for (int i = 0; i < 500 && !gone; ++i) {
            gone = d.status()["runs"].empty() && !alive(hung);
            if (!gone) ::usleep(10000);
        }
        CHECK(gone);
        std::filesystem::remove_all(dir);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("a rebuilt binary is discovered again and its old workers are not reused") {
        Daemon d({"-j", "1"});
        const std::string dir = temp_dir("rebuilt");
        const std::string binary = dir + "/tests";
        std::filesystem::copy_file(fixture("basic"), binary);
        ::chmod(binary.c_str(), 0755);
        auto before = run_tend({"run", binary, "--daemon", "--socket", d.socket, "--json"});
        CHECK(statuses(before.events).size() == 11);
        // A new build: a new file renamed over the old one, as linkers do.
        std::filesystem::copy_file(fixture("scoped"), binary + ".new");
        ::chmod((binary + ".new").c_str(), 0755);
        std::filesystem::rename(binary + ".new", binary);
        auto after = run_tend({"run", binary, "--daemon", "--socket", d.socket, "--json"});
        CHECK(statuses(after.events) ==
              statuses(run_tend({"run", fixture("scoped"), "--no-daemon", "--json"}).events));
        REQUIRE(after.of("summary").size() == 1);
        CHECK(after.of("summary")[0]["workers"]["started"].get<int>() >= 1);
        std::filesystem::remove_all(dir);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("a deleted binary is forgotten: its test list, warm workers and statistics") {
        Daemon d({"-j", "2"});
        const std::string dir = temp_dir("deleted");
        const std::string gone = dir + "/gone";
        const std::string kept = dir + "/kept";
        for (const auto& b : {gone, kept}) {
            std::filesystem::copy_file(fixture("basic"), b);
            ::chmod(b.c_str(), 0755);
        }
        CHECK(run_tend({"run", gone, "--daemon", "--socket", d.socket, "-q"}).exit_code != 3);
        auto st = d.status();
        CHECK(st["cache"]["binaries"] == 1);
        REQUIRE(st["binaries"].size() == 1);
        CHECK(st["binaries"][0]["binary"] == gone);
        CHECK(!st["workers"].empty());  // warm, idle
        std::filesystem::remove(gone);
        // The next run, of another binary, sweeps the deleted one away.
        CHECK(run_tend({"run", kept, "--daemon", "--socket", d.socket, "-q"}).exit_code != 3);
        st = d.status();
        CHECK(st["cache"]["binaries"] == 1);
        REQUIRE(st["binaries"].size() == 1);
        CHECK(st["binaries"][0]["binary"] == kept);
        for (const auto& w : st["workers"]) CHECK(w["binary"] == kept);
        std::filesystem::remove_all(dir);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("the test-list cache holds --cache-binaries and --cache-size, newest first") {
        const std::string dir = temp_dir("lru");
        std::vector<std::string> paths;
        for (int i = 0; i < 4; ++i) {
            paths.push_back(dir + "/b" + std::to_string(i));
            std::filesystem::create_hard_link(fixture("../bench/noop_suite"), paths.back());
        }
        {
            Daemon d({"-j", "1", "--cache-binaries", "2"});
            for (const auto& p : paths) {
                CHECK(run_tend({"run", p, "--daemon", "--socket", d.socket, "-q"},
                               "TEND_BENCH_TESTS=5")
                          .exit_code == 0);
            }
            CHECK(d.status()["cache"]["binaries"] == 2);
            // The newest two are warm: running the newest again discovers
            // nothing and starts no worker.
            const auto again =
                run_tend({"run", paths[3], "--daemon", "--socket", d.socket, "--json"},
                         "TEND_BENCH_TESTS=5");
            REQUIRE(again.of("summary").size() == 1);
            CHECK(again.of("summary")[0]["workers"]["started"] == 0);
            CHECK(d.stop() == 0);
        }
        {
            // 1 KiB holds none of them: only the last one used stays.
            Daemon d({"-j", "1", "--cache-size", "1KiB"});
            for (const auto& p : paths) {
                CHECK(run_tend({"run", p, "--daemon", "--socket", d.socket, "-q"},
                               "TEND_BENCH_TESTS=50")
                          .exit_code == 0);
            }
            const auto cache = d.status()["cache"];
            CHECK(cache["binaries"] == 1);
            CHECK(cache["max_bytes"] == 1024);
            CHECK(d.stop() == 0);
        }
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("a run of more binaries than the cache holds keeps them all warm for the next") {
        const std::string dir = temp_dir("pinned");
        std::vector<std::string> args{"run"};
        for (int i = 0; i < 3; ++i) {
            args.push_back(dir + "/b" + std::to_string(i));
            std::filesystem::create_hard_link(fixture("../bench/noop_suite"), args.back());
        }
        Daemon d({"-j", "3", "--cache-binaries", "2"});
        args.insert(args.end(), {"--daemon", "--socket", d.socket, "--json", "-j", "3"});
        const auto first = run_tend(args, "TEND_BENCH_TESTS=5");
        REQUIRE(first.of("summary").size() == 1);
        CHECK(first.of("summary")[0]["passed"] == 15);
        // While a run lasts its binaries stay cached, and their workers warm:
        // the same run again lists nothing and starts nothing.
        const auto again = run_tend(args, "TEND_BENCH_TESTS=5");
        REQUIRE(again.of("summary").size() == 1);
        CHECK(again.of("summary")[0]["passed"] == 15);
        CHECK(again.of("summary")[0]["workers"]["started"] == 0);
        CHECK(d.stop() == 0);
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("a binary listed under another environment is listed again") {
        // The benchmark suite registers as many tests as TEND_BENCH_TESTS says.
        const std::string suite = fixture("../bench/noop_suite");
        Daemon d({"-j", "1"});
        const auto few = run_tend({"run", suite, "--daemon", "--socket", d.socket, "--json"},
                                  "TEND_BENCH_TESTS=3");
        CHECK(statuses(few.events).size() == 3);
        const auto more = run_tend({"run", suite, "--daemon", "--socket", d.socket, "--json"},
                                   "TEND_BENCH_TESTS=7");
        CHECK(more.exit_code == 0);
        CHECK(statuses(more.events).size() == 7);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("a socket directory others may enter is refused") {
        const std::string dir = temp_dir("open-dir");
        ::chmod(dir.c_str(), 0755);
        const auto o = run_tend({"serve", "--socket", dir + "/tend.sock"});
        CHECK(o.exit_code == 3);
        CHECK(o.err.find("must belong to you and be closed to others") != std::string::npos);
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("another user is refused, even with the socket opened up") {
        if (::geteuid() != 0) {
            MESSAGE("not root: cannot act as another user here");
            return;
        }
        Daemon d;
        // Open the way on purpose: only SO_PEERCRED stands between them.
        ::chmod(std::filesystem::path(d.socket).parent_path().c_str(), 0711);
        ::chmod(d.socket.c_str(), 0666);
        int report[2];
        REQUIRE(::pipe(report) == 0);
        const pid_t child = ::fork();
        if (child == 0) {
            ::close(report[0]);
            if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
            Rpc rpc(d.socket);
            std::string answer = rpc.ok() ? "connected" : "no connection";
            if (rpc.ok()) {
                auto m = rpc.next(10);
                if (!m.is_null()) answer = m.dump();
            }
            ::write(report[1], answer.data(), answer.size());
            ::_exit(0);
        }
        ::close(report[1]);
        std::string answer;
        char buf[4096];
        for (ssize_t n; (n = ::read(report[0], buf, sizeof buf)) > 0;) answer.append(buf, n);
        ::close(report[0]);
        ::waitpid(child, nullptr, 0);
        CHECK(answer.find("refused: uid 65534 is not the daemon's user") != std::string::npos);
        // It keeps serving its own user.
        Rpc rpc(d.socket);
        REQUIRE(rpc.ok());
        CHECK(rpc.call("initialize")["result"]["server"] == "tend");
        CHECK(d.stop() == 0);
    }

    TEST_CASE("malformed requests get JSON-RPC errors and the daemon keeps serving") {
        Daemon d;
        Rpc rpc(d.socket);
        REQUIRE(rpc.ok());
        rpc.send_raw("this is not json\n");
        auto m = rpc.next();
        CHECK(m["error"]["code"] == -32700);
        CHECK(m["id"].is_null());
        rpc.send_raw("[1, 2, 3]\n");
        CHECK(rpc.next()["error"]["code"] == -32600);
        CHECK(rpc.call("no_such_method")["error"]["code"] == -32601);
        auto bad = rpc.call("run", {{"binaries", {"relative/path"}}});
        CHECK(bad["error"]["code"] == -32602);
        CHECK(bad["error"]["message"].get<std::string>().find("params.binaries[0]") == 0);
        CHECK(rpc.call("run", {{"binaries", {fixture("basic")}},
                               {"jobs", "many"}})["error"]["code"] == -32602);
        CHECK(rpc.call("cancel", {{"run", 999}})["error"]["code"] == -32002);
        // Fields of the wrong type: errors, not the daemon's end.
        rpc.send_raw("{\"jsonrpc\": 2, \"id\": 5, \"method\": \"status\"}\n");
        CHECK(rpc.next()["error"]["code"] == -32600);
        auto typed = rpc.call("run", {{"binaries", {fixture("hanging")}}, {"suite", "hangs"}});
        REQUIRE(typed["result"]["run"].is_number());
        CHECK(rpc.call("cancel", {{"run", typed["result"]["run"]}, {"signal", 15}, {"graceful", 1}})
                  .contains("result"));
        for (auto m = rpc.next(); !m.is_null() && m.value("method", "") != "run_finished";
             m = rpc.next()) {
        }
        rpc.send_raw(std::string(3 << 20, 'x') + "\n");  // 3 MiB in one line
        m = rpc.next();
        CHECK(m["error"]["code"] == -32600);
        CHECK(m["error"]["message"].get<std::string>().find("longer than") != std::string::npos);
        // Still there, still answering.
        auto init = rpc.call("initialize");
        CHECK(init["result"]["server"] == "tend");
        CHECK(d.stop() == 0);
    }

    TEST_CASE("past --max-clients a client is told the daemon is busy") {
        Daemon d({"--max-clients", "1"});
        {
            Rpc first(d.socket);
            REQUIRE(first.ok());
            CHECK(first.call("initialize")["result"]["server"] == "tend");
            Rpc second(d.socket);
            REQUIRE(second.ok());
            const auto m = second.next();
            CHECK(m["error"]["code"] == -32000);
            CHECK(m["error"]["message"].get<std::string>().find("busy") == 0);
            // tend run: told so, and runs alone; with --daemon, told so and stops.
            const auto alone = run_tend({"run", fixture("scoped"), "--socket", d.socket, "--json"});
            CHECK(alone.exit_code == 0);
            CHECK(alone.err.find("busy: 1 clients connected (--max-clients); running without it") !=
                  std::string::npos);
            CHECK(statuses(alone.events).size() == 5);
            const auto refused =
                run_tend({"run", fixture("scoped"), "--socket", d.socket, "--daemon"});
            CHECK(refused.exit_code == 3);
            CHECK(refused.err.find("busy: 1 clients connected") != std::string::npos);
        }
        // Both gone: room again (the daemon notices the first one close).
        bool served = false;
        for (int i = 0; i < 100 && !served; ++i) {
            Rpc again(d.socket);
            const auto m = again.call("initialize");
            served = m.contains("result");
            if (!served) ::usleep(20000);
        }
        CHECK(served);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("more clients than the old bound of 64 are all served, none busy") {
        Daemon d;
        std::vector<std::unique_ptr<Rpc>> clients;
        for (int i = 0; i < 100; ++i) {
            clients.push_back(std::make_unique<Rpc>(d.socket));
            REQUIRE(clients.back()->ok());
        }
        // All connected at once, each answered.
        for (auto& c : clients) {
            const auto m = c->call("initialize");
            INFO(m.dump());
            CHECK(m["result"]["server"] == "tend");
        }
        const auto st = d.status();
        CHECK(st["clients"].get<int>() == 101);
        // Clients are bounded by what descriptors allow, less the workers'.
        rlimit limit{};
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
        if (limit.rlim_max != RLIM_INFINITY)
            CHECK(st["max_clients"].get<std::uint64_t>() + 64 <= limit.rlim_max);
        CHECK(st["queue"]["max_bytes"] == 256u << 20);
        clients.clear();
        CHECK(d.stop() == 0);
    }

    TEST_CASE("one run at a time, -j 1: 50 clients at once all complete, none busy") {
        Daemon d({"-j", "1", "--max-runs", "1"});
        const std::string dir = temp_dir("queue-50");
        std::vector<pid_t> clients;
        for (int i = 0; i < 50; ++i) {
            clients.push_back(
                start_tend({"run", fixture("scoped"), "--daemon", "--socket", d.socket, "--json"},
                           dir + "/" + std::to_string(i)));
        }
        for (int i = 0; i < 50; ++i) {
            INFO("client " << i << ": " << slurp(dir + "/" + std::to_string(i) + ".err"));
            CHECK(wait_for(clients[static_cast<std::size_t>(i)], 120) == 0);
            const auto events = json_lines(slurp(dir + "/" + std::to_string(i)));
            CHECK(statuses(events).size() == 5);
            REQUIRE(!events.empty());
            CHECK(events.back()["event"] == "summary");
            CHECK(events.back()["total"] == 5);
        }
        std::filesystem::remove_all(dir);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("a queued run is answered with its place, hears alive with it, and starts in turn") {
        Daemon d({"-j", "1", "--max-runs", "1"});
        Rpc busy(d.socket), waiting(d.socket), leaving(d.socket);
        REQUIRE((busy.ok() && waiting.ok() && leaving.ok()));
        const auto first =
            busy.call("run", {{"binaries", {fixture("hanging")}}, {"suite", "hangs"}});
        REQUIRE(first["result"]["run"].is_number());
        CHECK_FALSE(first["result"].contains("queued"));  // it started
        const auto second = waiting.call("run", {{"binaries", {fixture("scoped")}}});
        INFO(second.dump());
        const auto run = second["result"]["run"];
        REQUIRE(run.is_number());
        CHECK(second["result"]["queued"] == 1);
        const auto third = leaving.call("run", {{"binaries", {fixture("basic")}}});
        CHECK(third["result"]["queued"] == 2);
        const auto st = d.status();
        CHECK(st["runs"].size() == 1);
        REQUIRE(st["queued"].size() == 2);
        CHECK(st["queued"][0]["run"] == run);
        CHECK(st["queue"]["bytes"].get<std::size_t>() > 0);
        // Within the alive period: a sign of life that says where it stands.
        json alive;
        for (auto m = waiting.next(7); !m.is_null(); m = waiting.next(7)) {
            if (m.value("method", "") == "alive") {
                alive = m;
                break;
            }
        }
        INFO(alive.dump());
        CHECK(alive["params"]["run"] == run);
        CHECK(alive["params"]["queued"] == 1);
        // A queued run cancelled ends at once, having run nothing.
        const auto cancelled =
            leaving.call("cancel", {{"run", third["result"]["run"]}, {"graceful", true}});
        CHECK(cancelled.contains("result"));
        json end;
        for (auto m = leaving.next(); !m.is_null(); m = leaving.next()) {
            if (m.value("method", "") == "run_finished") {
                end = m;
                break;
            }
        }
        CHECK(end["params"]["summary"]["total"] == 0);
        CHECK(end["params"]["interrupted"] == 2);
        // The first run ends: the queued one starts and runs every test.
        CHECK(busy.call("cancel", {{"run", first["result"]["run"]}}).contains("result"));
        std::size_t tests = 0;
        end = nullptr;
        for (auto m = waiting.next(); !m.is_null(); m = waiting.next()) {
            tests += m.value("method", "") == "test_finished";
            if (m.value("method", "") == "run_finished") {
                end = m;
                break;
            }
        }
        CHECK(tests == 5);
        CHECK(end["params"]["summary"]["total"] == 5);
        CHECK(end["params"]["interrupted"] == 0);
        // Queued when the daemon stops: it ends unstarted, interrupted.
        const auto again =
            busy.call("run", {{"binaries", {fixture("hanging")}}, {"suite", "hangs"}});
        REQUIRE(again["result"]["run"].is_number());
        const auto last = waiting.call("run", {{"binaries", {fixture("scoped")}}});
        CHECK(last["result"]["queued"] == 1);
        CHECK(run_tend({"stop", "--socket", d.socket}).exit_code == 0);
        end = nullptr;
        for (auto m = waiting.next(); !m.is_null(); m = waiting.next()) {
            if (m.value("method", "") == "run_finished") {
                end = m;
                break;
            }
        }
        CHECK(end["params"]["run"] == last["result"]["run"]);
        CHECK(end["params"]["summary"]["total"] == 0);
        CHECK(end["params"]["interrupted"] == 15);
    }

    TEST_CASE("past --max-queue-memory a run is told the queue is full, naming the option") {
        Daemon d({"-j", "1", "--max-runs", "1", "--max-queue-memory", "64KiB"});
        Rpc busy(d.socket);
        REQUIRE(busy.ok());
        REQUIRE(busy.call("run",
                          {{"binaries", {fixture("hanging")}}, {"suite", "hangs"}})["result"]["run"]
                    .is_number());
        // Runs that wait, each with 8 KiB of environment: a few fit.
        Rpc rpc(d.socket);
        REQUIRE(rpc.ok());
        const json env = json::array({"BIG=" + std::string(8192, 'e')});
        int queued = 0;
        json refused;
        for (int i = 0; i < 20 && refused.is_null(); ++i) {
            const auto m = rpc.call("run", {{"binaries", {fixture("scoped")}}, {"env", env}});
            if (m.contains("result")) {
                CHECK(m["result"]["queued"] == ++queued);
            } else {
                refused = m;
            }
        }
        INFO(refused.dump());
        CHECK(queued >= 3);
        CHECK(queued < 8);
        CHECK(refused["error"]["code"] == -32000);
        const auto why = refused["error"]["message"].get<std::string>();
        CHECK(why.find("busy: the daemon's queue is full") == 0);
        CHECK(why.find("--max-queue-memory 64.0 KiB") != std::string::npos);
        // tend run --daemon is told the same, and stops.
        const auto o = run_bounded({"run", fixture("scoped"), "--daemon", "--socket", d.socket}, 60,
                                   {"BIG=" + std::string(65536, 'e')});
        CHECK(o.exit_code == 3);
        CHECK(o.err.find("busy: the daemon's queue is full") != std::string::npos);
        CHECK(o.err.find("--max-queue-memory") != std::string::npos);
        // A connection once the budget is spent by clients is refused too.
        std::vector<std::unique_ptr<Rpc>> many;
        json told;
        for (int i = 0; i < 200 && told.is_null(); ++i) {
            many.push_back(std::make_unique<Rpc>(d.socket));
            // A refused connection is told why (id null) and closed.
            const auto m = many.back()->call("initialize");
            if (m.is_null() && !many.back()->notes.empty()) told = many.back()->notes.front();
        }
        INFO(told.dump());
        CHECK(told["error"]["message"].get<std::string>().find("--max-queue-memory") !=
              std::string::npos);
    }

    TEST_CASE("tend stop leaves no worker behind") {
        Daemon d({"-j", "2"});
        const auto o = run_tend(
            {"run", fixture("basic"), fixture("scoped"), "--daemon", "--socket", d.socket});
        INFO(o.out);
        INFO(o.err);
        std::vector<long> pids;
        const auto st = d.settled(1);  // the spares the run left, started
        INFO(st.dump());
        for (const auto& w : st["workers"]) pids.push_back(w["pid"].get<long>());
        CHECK(!pids.empty());
        CHECK(d.stop() == 0);
        CHECK(d.log().find("tend serve: shut down (SIGTERM): 0 runs drained, " +
                           std::to_string(pids.size()) + " warm workers stopped, in ") !=
              std::string::npos);
        for (long pid : pids) {
            INFO("worker " << pid);
            CHECK_FALSE(alive(pid));
        }
    }

    TEST_CASE("--daemon without a daemon is an error; status and stop say there is none") {
        const std::string dir = temp_dir("none");
        const auto o =
            run_tend({"run", fixture("basic"), "--daemon", "--socket", dir + "/nothing.sock"});
        CHECK(o.exit_code == 3);
        CHECK(o.err.find("--daemon: no daemon on") != std::string::npos);
        CHECK(run_tend({"status", "--socket", dir + "/nothing.sock"}).exit_code == 3);
        std::filesystem::remove_all(dir);
    }
}

TEST_SUITE("daemon over stdio") {
    TEST_CASE("an editor's session: initialize, discover, run, errors, then stdin closes") {
        int to_server[2], from_server[2];
        REQUIRE(::pipe(to_server) == 0);
        REQUIRE(::pipe(from_server) == 0);
        const pid_t server = ::fork();
        if (server == 0) {
            ::dup2(to_server[0], 0);
            ::dup2(from_server[1], 1);
            ::close(to_server[1]);
            ::close(from_server[0]);
            std::string exe = tend_exe();
            ::execl(exe.c_str(), "tend", "serve", "--stdio", "-j", "2",
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::close(to_server[0]);
        ::close(from_server[1]);
        Rpc rpc(from_server[0], to_server[1]);

        // A notification (no id) is done and never answered: the next
        // message is the answer to the request after it.
        rpc.send_raw("{\"jsonrpc\": \"2.0\", \"method\": \"status\"}\n");
        CHECK(rpc.call("initialize")["result"]["protocol_version"] == 1);
        auto listing = rpc.call("discover", {{"binaries", {fixture("basic")}}});
        REQUIRE(listing["result"]["binaries"].size() == 1);
        const auto& tests = listing["result"]["binaries"][0]["tests"];
        CHECK(tests.size() == 11);
        for (const auto& t : tests) {
            CHECK(t["file"].get<std::string>().find("basic.cpp") != std::string::npos);
            CHECK(t["line"].get<int>() > 0);
        }

        rpc.send_raw("{not json\n");
        CHECK(rpc.next()["error"]["code"] == -32700);
        CHECK(rpc.call("frobnicate")["error"]["code"] == -32601);
        // did_change: the binary is looked at again (unchanged here: the
        // cached list stays, and says so by the same tests).
        auto changed = rpc.call("did_change", {{"binaries", {fixture("basic")}}});
        CHECK(changed["result"]["refreshed"][0] == fixture("basic"));
        CHECK(rpc.call("did_change", {{"binaries", 3}})["error"]["code"] == -32602);
        rpc.send_raw("{\"jsonrpc\": \"2.0\", \"id\": 77, \"method\": \"run\", \"params\": 5}\n");
        auto bad = rpc.next();
        CHECK(bad["id"] == 77);
        CHECK(bad["error"]["code"] == -32602);

        auto started = rpc.call("run", {{"binaries", {fixture("basic")}}, {"filter", "math/*"}});
        REQUIRE(started["result"]["run"].is_number());
        const auto run = started["result"]["run"];
        std::set<std::string> started_tests, finished;
        json summary;
        for (auto m = rpc.next(); !m.is_null(); m = rpc.next()) {
            CHECK(m["params"]["run"] == run);
            if (m["method"] == "test_started") {
                CHECK(m["params"]["line"].get<int>() > 0);
                started_tests.insert(m["params"]["name"].get<std::string>());
            }
            if (m["method"] == "test_finished") {
                CHECK(m["params"]["event"] == "test");
                const auto name = m["params"]["name"].get<std::string>();
                INFO(name);
                CHECK(started_tests.count(name) == 1);  // started, before it finished
                finished.insert(name);
            }
            if (m["method"] == "run_finished") {
                summary = m["params"]["summary"];
                break;
            }
        }
        CHECK(finished.size() == 5);
        CHECK(summary["total"] == 5);
        CHECK(summary["filtered"] == 6);
        // Cancelled at once: what did not run says so.
        auto hang = rpc.call("run", {{"binaries", {fixture("hanging")}}, {"suite", "hangs"}});
        const auto hang_run = hang["result"]["run"];
        std::map<std::string, json> hung_results;
        // The result of the test before the hang comes while it hangs (tend
        // takes it from the worker's batch), then the hanging one starts.
        for (auto m = rpc.next(); !m.is_null(); m = rpc.next()) {
            if (m["method"] == "test_finished")
                hung_results[m["params"]["name"].get<std::string>()] = m["params"];
            if (m["method"] == "test_started" && m["params"]["name"] == "sleeps forever") break;
        }
        CHECK(hung_results["quick before"]["status"] == "passed");
        CHECK(rpc.call("cancel", {{"run", hang_run}})["result"]["cancelled"] == hang_run);
        for (auto m = rpc.next(); !m.is_null(); m = rpc.next()) {
            if (m["method"] == "test_finished")
                hung_results[m["params"]["name"].get<std::string>()] = m["params"];
            if (m["method"] == "run_finished") break;
        }
        CHECK(hung_results["quick before"]["status"] == "passed");
        CHECK(hung_results["sleeps forever"]["status"] == "not_run");
        CHECK(hung_results["sleeps forever"]["detail"] ==
              "not run: cancelled by the client; its worker was killed at once");

        // Closing stdin ends the session: the server drains and exits.
        rpc.close_output();
        CHECK(wait_for(server, 20) == 0);
    }
}

// Issue 9: no descriptor of the daemon reaches a worker, a daemon that dies
// loses no client in a hang, and a client talks only to its own user's
// daemon.
TEST_SUITE("daemon trust") {
    TEST_CASE("a worker of the daemon holds none of the daemon's descriptors") {
        Daemon d({"-j", "2"});
        // Another client connected meanwhile: its connection must not leak either.
        Rpc other(d.socket);
        REQUIRE(other.ok());
        CHECK(other.call("initialize")["result"]["server"] == "tend");
        const auto o = run_bounded(
            {"run", fixture("fd_probe"), "-j", "2", "--daemon", "--socket", d.socket, "--json"},
            60);
        INFO(o.err);
        CHECK(o.exit_code == 0);
        bool listed = false;
        for (const auto& e : o.of("test")) {
            if (e["name"] != "a worker holds only its own descriptors") continue;
            listed = true;
            const auto listing = e["stdout"].get<std::string>();
            INFO(listing);
            CHECK(e["status"] == "passed");
            CHECK(listing.find("fd 3 -> pipe:") != std::string::npos);
            CHECK(listing.find("socket:") == std::string::npos);
        }
        CHECK(listed);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("a daemon stopped mid-run: the client gives up after 30 s of silence") {
        // A long quiet test is legitimate, a silent daemon is not: the daemon
        // sends `alive` every 5 s while a run is under way.
        Daemon d({"-j", "1"});
        const std::string dir = temp_dir("stopped-daemon");
        const std::string marker = dir + "/marker";
        const pid_t client = start_tend({"run", fixture("hanging"), "--suite", "hangs", "-j", "1",
                                         "--daemon", "--socket", d.socket, "--json"},
                                        dir + "/client", {"TEND_FIXTURE_MARKER=" + marker});
        for (int i = 0; i < 1000 && slurp(marker).find("sleeping") == std::string::npos; ++i)
            ::usleep(10000);
        REQUIRE(slurp(marker).find("sleeping") != std::string::npos);
        // Quiet but alive first: 8 s of a hanging test, the client waits.
        ::usleep(8'000'000);
        CHECK(::waitpid(client, nullptr, WNOHANG) == 0);
        ::kill(d.pid(), SIGSTOP);
        const int code = wait_for(client, 60);
        CHECK(code == 3);
        const auto err = slurp(dir + "/client.err");
        INFO(err);
        CHECK(err.find("lost mid-run: no answer within 30 s") != std::string::npos);
        ::kill(d.pid(), SIGCONT);
        CHECK(d.stop() == 0);
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("a daemon killed mid-run: the client says so and exits, a new daemon takes over") {
        Daemon d({"-j", "1"});
        const std::string dir = temp_dir("killed-daemon");
        const std::string marker = dir + "/marker";
        const pid_t client = start_tend({"run", fixture("hanging"), "--suite", "hangs", "-j", "1",
                                         "--daemon", "--socket", d.socket, "--json"},
                                        dir + "/client", {"TEND_FIXTURE_MARKER=" + marker});
        for (int i = 0; i < 1000 && slurp(marker).find("sleeping") == std::string::npos; ++i)
            ::usleep(10000);
        REQUIRE(slurp(marker).find("sleeping") != std::string::npos);
        std::vector<long> workers;
        const auto st = d.status();  // kept: a loop over a temporary's member dangles
        for (const auto& w : st["workers"]) workers.push_back(w["pid"].get<long>());
        REQUIRE(!workers.empty());
        ::kill(d.pid(), SIGKILL);
        ::waitpid(d.pid(), nullptr, 0);
        d.forget();
        const auto killed_at = std::chrono::steady_clock::now();
        const int code = wait_for(client, 10);
        const auto took =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at);
        MESSAGE("the client ended " << took.count() << " s after the daemon's SIGKILL");
        CHECK(code == 3);
        const auto err = slurp(dir + "/client.err");
        INFO(err);
        CHECK(err.find("tend: the daemon on " + d.socket + ": lost mid-run:") != std::string::npos);
        // The dead daemon's socket is stale: a new daemon replaces it.
        const pid_t next = start_tend({"serve", "--socket", d.socket}, dir + "/next");
        CHECK(serves(d.socket, next, 10));
        INFO(slurp(dir + "/next.err"));
        CHECK(run_bounded({"stop", "--socket", d.socket}, 10).exit_code == 0);
        CHECK(wait_for(next, 20) == 0);
        // Their death is the next test's; here they are cleaned up whatever
        // happened.
        for (long pid : workers) ::kill(-static_cast<pid_t>(pid), SIGKILL);
        std::filesystem::remove_all(dir);
    }

    // The workers of a SIGKILLed daemon die with it (PR_SET_PDEATHSIG).
    TEST_CASE("the workers of a daemon killed mid-run die with it") {
        Daemon d({"-j", "2"});
        const std::string dir = temp_dir("killed-daemon-workers");
        const std::string marker = dir + "/marker";
        const pid_t client = start_tend({"run", fixture("hanging"), "--suite", "hangs", "-j", "2",
                                         "--daemon", "--socket", d.socket, "--json"},
                                        dir + "/client", {"TEND_FIXTURE_MARKER=" + marker});
        for (int i = 0; i < 1000 && slurp(marker).find("sleeping") == std::string::npos; ++i)
            ::usleep(10000);
        REQUIRE(slurp(marker).find("sleeping") != std::string::npos);
        std::vector<long> workers;
        const auto st = d.status();  // kept: a loop over a temporary's member dangles
        for (const auto& w : st["workers"]) workers.push_back(w["pid"].get<long>());
        REQUIRE(!workers.empty());
        ::kill(d.pid(), SIGKILL);
        ::waitpid(d.pid(), nullptr, 0);
        d.forget();
        wait_for(client, 10);
        bool gone = false;
        for (int i = 0; i < 500 && !gone; ++i) {
            gone = true;
            for (long pid : workers) gone = gone && !alive(pid);
            if (!gone) ::usleep(10000);
        }
        CHECK(gone);
        for (long pid : workers) ::kill(-static_cast<pid_t>(pid), SIGKILL);
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("the client refuses a socket directory others may write to") {
        const std::string dir = temp_dir("open-client-dir");
        ::chmod(dir.c_str(), 0777);
        const std::string socket = dir + "/tend.sock";
        FakeServer fake(socket);
        const std::string secret = "TEND_TEST_SECRET=hunter2-open-dir";
        const auto o =
            run_bounded({"run", fixture("scoped"), "--socket", socket, "--json"}, 30, {secret});
        INFO(o.err);
        CHECK(o.exit_code == 0);  // run alone
        CHECK(statuses(o.events).size() == 5);
        CHECK(o.err.find("tend: warning: not using the daemon on " + socket + ": " + dir +
                         " is writable by others (mode 0777)") != std::string::npos);
        const auto demanded =
            run_bounded({"run", fixture("scoped"), "--socket", socket, "--daemon"}, 30, {secret});
        CHECK(demanded.exit_code == 3);
        CHECK(demanded.err.find("tend: --daemon: " + dir + " is writable by others") !=
              std::string::npos);
        const auto status = run_bounded({"status", "--socket", socket}, 30, {secret});
        CHECK(status.exit_code == 3);
        CHECK(status.err.find(dir + " is writable by others") != std::string::npos);
        CHECK(fake.received().empty());
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("the default socket is checked the same: a planted open directory is refused") {
        // $XDG_RUNTIME_DIR/tend/tend.sock, as /tmp/tend-UID/tend.sock without
        // it (that path is shared by every run on this machine: not touched).
        const std::string runtime = temp_dir("client-xdg");
        const std::string dir = runtime + "/tend";
        std::filesystem::create_directory(dir);
        ::chmod(dir.c_str(), 0777);
        FakeServer fake(dir + "/tend.sock");
        const auto o = run_bounded({"run", fixture("scoped")}, 30,
                                   {"XDG_RUNTIME_DIR=" + runtime, "TEND_TEST_SECRET=hunter2-xdg"});
        INFO(o.err);
        CHECK(o.exit_code == 0);
        CHECK(o.err.find("tend: warning: not using the daemon on " + dir + "/tend.sock: " + dir +
                         " is writable by others (mode 0777); running without it") !=
              std::string::npos);
        CHECK(fake.received().empty());
        std::filesystem::remove_all(runtime);
    }

    TEST_CASE("the client refuses a symlink as the socket directory") {
        const std::string dir = temp_dir("client-link-target");
        const std::string link = dir + "-link";
        std::filesystem::remove(link);
        std::filesystem::create_directory_symlink(dir, link);
        FakeServer fake(dir + "/tend.sock");
        const auto o = run_bounded({"run", fixture("scoped"), "--socket", link + "/tend.sock"}, 30,
                                   {"TEND_TEST_SECRET=hunter2-link"});
        INFO(o.err);
        CHECK(o.exit_code == 0);
        CHECK(o.err.find("tend: warning: not using the daemon on " + link + "/tend.sock: " + link +
                         " is a symbolic link") != std::string::npos);
        CHECK(fake.received().empty());
        std::filesystem::remove(link);
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("the client refuses a socket that belongs to another user") {
        if (::geteuid() != 0) {
            MESSAGE("skipped: not root, so no socket can be given to another uid here");
            return;
        }
        const std::string dir = temp_dir("client-foreign-socket");
        const std::string socket = dir + "/tend.sock";
        FakeServer fake(socket);
        REQUIRE(::chown(socket.c_str(), 65534, 65534) == 0);
        const auto o = run_bounded({"run", fixture("scoped"), "--socket", socket, "--json"}, 30,
                                   {"TEND_TEST_SECRET=hunter2-foreign-socket"});
        INFO(o.err);
        CHECK(o.exit_code == 0);
        CHECK(statuses(o.events).size() == 5);
        CHECK(o.err.find("tend: warning: not using the daemon on " + socket + ": " + socket +
                         " belongs to uid 65534, not to you") != std::string::npos);
        CHECK(fake.received().empty());
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("the client refuses a listening peer of another user") {
        if (::geteuid() != 0) {
            MESSAGE("skipped: not root, so nothing can listen as another uid here");
            return;
        }
        const std::string dir = temp_dir("client-foreign-peer");
        const std::string socket = dir + "/tend.sock";
        // Directory and socket file are ours; only the listener is not.
        FakeServer fake(socket, 65534);
        const auto o = run_bounded({"run", fixture("scoped"), "--socket", socket, "--json"}, 30,
                                   {"TEND_TEST_SECRET=hunter2-foreign-peer"});
        INFO(o.err);
        CHECK(o.exit_code == 0);
        CHECK(statuses(o.events).size() == 5);
        CHECK(o.err.find("tend: warning: not using the daemon on " + socket +
                         ": the process listening on " + socket +
                         " runs as uid 65534, not as you") != std::string::npos);
        const auto demanded =
            run_bounded({"run", fixture("scoped"), "--socket", socket, "--daemon"}, 30);
        CHECK(demanded.exit_code == 3);
        CHECK(demanded.err.find("runs as uid 65534") != std::string::npos);
        CHECK(fake.received().empty());
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("tend serve --socket on a regular file: an error, the file untouched") {
        const std::string dir = temp_dir("serve-on-file");
        const std::string path = dir + "/tend.sock";
        {
            std::ofstream f(path);
            f << "precious\n";
        }
        const auto o = run_bounded({"serve", "--socket", path}, 10);
        CHECK(o.exit_code == 3);
        CHECK(o.err.find("tend serve: " + path + " exists and is not a socket") !=
              std::string::npos);
        CHECK(slurp(path) == "precious\n");
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("tend serve --socket in a symlinked directory: an error") {
        const std::string dir = temp_dir("serve-link-target");
        const std::string link = dir + "-link";
        std::filesystem::remove(link);
        std::filesystem::create_directory_symlink(dir, link);
        const auto o = run_bounded({"serve", "--socket", link + "/tend.sock"}, 10);
        CHECK(o.exit_code == 3);
        CHECK(o.err.find("tend serve: " + link + " is a symbolic link") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(dir + "/tend.sock"));
        std::filesystem::remove(link);
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("tend serve --socket on a stale socket replaces it") {
        const std::string dir = temp_dir("serve-stale");
        const std::string path = dir + "/tend.sock";
        leave_stale_socket(path);
        const pid_t serve = start_tend({"serve", "--socket", path}, dir + "/serve");
        CHECK(serves(path, serve, 10));
        INFO(slurp(dir + "/serve.err"));
        CHECK(run_bounded({"stop", "--socket", path}, 10).exit_code == 0);
        CHECK(wait_for(serve, 20) == 0);
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("tend serve --socket on a stale socket of another user: an error") {
        if (::geteuid() != 0) {
            MESSAGE("skipped: not root, so no socket can be given to another uid here");
            return;
        }
        const std::string dir = temp_dir("serve-stale-foreign");
        const std::string path = dir + "/tend.sock";
        leave_stale_socket(path);
        REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
        const auto o = run_bounded({"serve", "--socket", path}, 10);
        CHECK(o.exit_code == 3);
        CHECK(o.err.find("tend serve: " + path + " belongs to uid 65534, not to you") !=
              std::string::npos);
        CHECK(std::filesystem::is_socket(path));
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("a run in a working directory that does not exist is -32602 naming it") {
        Daemon d;
        Rpc rpc(d.socket);
        REQUIRE(rpc.ok());
        const std::string missing = "/tmp/tend-it-no-such-dir-" + std::to_string(::getpid());
        auto m = rpc.call("run", {{"binaries", {fixture("basic")}}, {"cwd", missing}});
        CHECK(m["error"]["code"] == -32602);
        CHECK(m["error"]["message"].get<std::string>().find("params.cwd: '" + missing +
                                                            "' is not a directory") == 0);
        CHECK(d.status()["runs"].empty());
        CHECK(d.stop() == 0);
    }
}

TEST_SUITE("daemon spares") {
    TEST_CASE(
        "a test that leaves state in its process passes on every run, unless reuse is asked") {
        Daemon d({"-j", "1"});
        const auto run = [&](std::vector<std::string> extra) {
            std::vector<std::string> args{
                "run", fixture("static_state"), "--daemon", "--socket", d.socket, "-q"};
            args.insert(args.end(), extra.begin(), extra.end());
            return run_tend(args);
        };
        for (int i = 0; i < 3; ++i) {
            INFO("run " << i);
            const auto r = run({});
            CHECK(r.exit_code == 0);
            d.settled(1);
        }
        // With reuse across runs the worker of the first run comes back to
        // the second, and what its test left behind fails it.
        CHECK(run({"--reuse", "daemon"}).exit_code == 0);
        const auto reused = run({"--reuse", "daemon"});
        CHECK(reused.exit_code == 1);
        CHECK(reused.out.find("the first time in this process") != std::string::npos);
        // And the default again: never the used worker, whatever it holds.
        CHECK(run({}).exit_code == 0);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("reuse in tend.toml, per binary, and a word that is neither is an error") {
        Daemon d({"-j", "1"});
        const auto dir = temp_dir("reuse");
        const auto write_file = [](const std::string& path, const std::string& text) {
            std::ofstream(path) << text;
        };
        write_file(dir + "/tend.toml", "[[binary]]\nmatch = \"static*\"\nreuse = \"daemon\"\n");
        const std::vector<std::string> args{
            "run",      fixture("static_state"), "--daemon", "--socket", d.socket, "-q",
            "--config", dir + "/tend.toml"};
        CHECK(run_tend(args).exit_code == 0);
        CHECK(run_tend(args).exit_code == 1);  // the used worker came back
        write_file(dir + "/tend.toml", "reuse = \"always\"\n");
        const auto bad = run_tend(args);
        CHECK(bad.exit_code == 2);
        CHECK(bad.err.find("'reuse': 'always' is neither \"run\" nor \"daemon\"") !=
              std::string::npos);
        std::filesystem::remove_all(dir);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("each run's tests see its own working directory and environment") {
        Daemon d({"-j", "1"});
        const auto a = temp_dir("ctx-a"), b = temp_dir("ctx-b");
        const auto probe = [&](const std::string& cwd, const char* value) {
            const auto r = run_tend({"run", fixture("context_probe"), "--daemon", "--socket",
                                     d.socket, "--show-output", "--no-config"},
                                    "cd " + shell_quote(cwd) + " && TEND_PROBE=" + value);
            CHECK(r.exit_code == 0);
            return r.out;
        };
        for (int i = 0; i < 2; ++i) {
            CHECK(probe(a, "one").find("cwd: " + a + " probe: one") != std::string::npos);
            d.settled(1);
            CHECK(probe(b, "two").find("cwd: " + b + " probe: two") != std::string::npos);
            d.settled(1);
        }
        std::filesystem::remove_all(a);
        std::filesystem::remove_all(b);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("runs back to back: each takes the spare the last one left, ready or on its way") {
        // Workers that take 300 ms to say hello: each run comes while the
        // spare the last one left is still starting (a run that comes starts
        // those the daemon was about to start), and waits for it.
        Daemon d({"-j", "1"});
        const std::vector<std::string> args{
            "run", fixture("static_state"), "--daemon", "--socket", d.socket, "--json"};
        const std::string slow = "TEND_SLOW_START_MS=300";
        const auto first = run_tend(args, slow);
        REQUIRE(first.of("summary").size() == 1);
        CHECK(first.of("summary")[0]["workers"]["started"] == 1);
        const auto pids_of = [](const Outcome& r) {
            std::set<long> pids;
            for (const auto& t : r.of("test")) pids.insert(t["worker_pid"].get<long>());
            return pids;
        };
        std::set<long> used = pids_of(first);
        for (int i = 0; i < 3; ++i) {
            INFO("run " << i);
            const auto r = run_tend(args, slow);
            REQUIRE(r.of("summary").size() == 1);
            CHECK(r.exit_code == 0);
            CHECK(r.of("summary")[0]["workers"]["started"] == 0);
            // Never a worker an earlier run used.
            for (const auto pid : pids_of(r)) CHECK(used.insert(pid).second);
        }
        CHECK(d.stop() == 0);
    }

    TEST_CASE("a killed spare is replaced") {
        Daemon d({"-j", "1"});
        CHECK(run_tend({"run", fixture("scoped"), "--daemon", "--socket", d.socket, "-q"})
                  .exit_code == 0);
        const auto spares = d.spares_of(d.settled(1), fixture("scoped"));
        REQUIRE(spares.size() == 1);
        ::kill(static_cast<pid_t>(*spares.begin()), SIGKILL);
        std::set<long> now;
        for (int i = 0; i < 2000; ++i) {
            now = d.spares_of(d.status(), fixture("scoped"));
            if (now.size() == 1 && now != spares) break;
            ::usleep(10000);
        }
        CHECK(now.size() == 1);
        CHECK(now != spares);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("past the memory budget the spares of the binary run longest ago go") {
        // A budget of 1 byte: only the binary run last keeps its one spare.
        Daemon d({"-j", "1", "--spare-memory", "1", "--spares", "1"});
        CHECK(run_tend({"run", fixture("scoped"), "--daemon", "--socket", d.socket, "-q"})
                  .exit_code == 0);
        auto s = d.settled(1);
        CHECK(d.spares_of(s, fixture("scoped")).size() == 1);
        CHECK(s["spares"]["max_bytes"] == 1);
        CHECK(s["spares"]["per_binary"] == 1);
        CHECK(run_tend({"run", fixture("tagged"), "--daemon", "--socket", d.socket, "-q"})
                  .exit_code == 0);
        s = d.settled(1, fixture("tagged"));
        CHECK(d.spares_of(s, fixture("tagged")).size() == 1);
        CHECK(d.spares_of(s, fixture("scoped")).empty());
        // --spares 0 keeps none.
        Daemon none({"-j", "1", "--spares", "0"});
        CHECK(run_tend({"run", fixture("scoped"), "--daemon", "--socket", none.socket, "-q"})
                  .exit_code == 0);
        ::usleep(200000);
        const auto n = none.status();
        CHECK(n["spares"]["ready"] == 0);
        CHECK(n["spares"]["starting"] == 0);
        CHECK(d.stop() == 0);
        CHECK(none.stop() == 0);
    }

    TEST_CASE("a rebuilt binary's spares are replaced by spares of the new build") {
        Daemon d({"-j", "1"});
        const auto dir = temp_dir("rebuilt");
        const auto bin = dir + "/basic";
        std::filesystem::copy_file(fixture("scoped"), bin);
        CHECK(run_tend({"run", bin, "--daemon", "--socket", d.socket, "-q"}).exit_code == 0);
        const auto old = d.spares_of(d.settled(1), bin);
        REQUIRE(old.size() == 1);
        // "Rebuilt": the same bytes, a new file (a new identity).
        std::filesystem::remove(bin);
        std::filesystem::copy_file(fixture("tagged"), bin);
        // Any run looks for rebuilt binaries first.
        CHECK(run_tend({"run", fixture("sleepy"), "--daemon", "--socket", d.socket, "-q"})
                  .exit_code == 0);
        std::set<long> now;
        for (int i = 0; i < 2000; ++i) {
            const auto s = d.status();
            now = d.spares_of(s, bin);
            if (now.size() == 1 && now != old && s["spares"]["starting"] == 0) break;
            ::usleep(10000);
        }
        CHECK(now.size() == 1);
        CHECK(now != old);
        // The new build's tests, known already: its run starts no worker.
        const auto r = run_tend({"run", bin, "--daemon", "--socket", d.socket, "--json"});
        REQUIRE(r.of("summary").size() == 1);
        CHECK(r.of("summary")[0]["workers"]["started"] == 0);
        CHECK(r.of("summary")[0]["total"] == 5);  // tagged's, not scoped's
        std::filesystem::remove_all(dir);
        CHECK(d.stop() == 0);
    }

    TEST_CASE("tend run --shard through the daemon runs the shard it runs alone") {
        Daemon d({"-j", "2"});
        const std::vector<std::string> bins{fixture("basic"), fixture("scoped"), fixture("tagged")};
        std::map<std::string, std::string> seen;
        std::size_t count = 0;
        for (const char* shard : {"1/3", "2/3", "3/3"}) {
            CAPTURE(shard);
            std::vector<std::string> args{"run", "--json", "--shard", shard};
            args.insert(args.end(), bins.begin(), bins.end());
            auto alone = args;
            alone.push_back("--no-daemon");
            auto via = args;
            via.insert(via.end(), {"--daemon", "--socket", d.socket});
            const auto a = run_tend(alone);
            const auto v = run_tend(via);
            INFO(v.err);
            CHECK(v.exit_code == a.exit_code);
            CHECK(statuses(v.events) == statuses(a.events));
            REQUIRE(v.of("summary").size() == 1);
            CHECK(v.of("summary")[0]["shard"] == shard);
            count += statuses(v.events).size();
            for (const auto& [name, status] : statuses(v.events)) seen[name] = status;
        }
        // Every test once: the shards' tests add up to the whole run's.
        const auto whole = run_tend(
            {"run", "--json", "--daemon", "--socket", d.socket, bins[0], bins[1], bins[2]});
        CHECK(seen == statuses(whole.events));
        CHECK(count == statuses(whole.events).size());
        // A bad shard in the run params is refused, naming the key.
        const auto bad =
            run_tend({"run", "--daemon", "--socket", d.socket, "--shard", "4/3", bins[0]});
        CHECK(bad.exit_code == 2);
        CHECK(d.stop() == 0);
    }
}

TEST_SUITE("daemon") {
    TEST_CASE("unmodified binaries through the daemon: what they give alone; --framework is sent") {
        Daemon d({"-j", "2"});
        for (const char* fixture_name : {"plain_gtest", "plain_doctest"}) {
            INFO(fixture_name);
            const auto alone =
                run_tend({"run", fixture(fixture_name), "-j", "2", "--no-daemon", "--json"});
            for (int round = 0; round < 2; ++round) {  // a cold and a warm daemon
                const auto via = run_tend({"run", fixture(fixture_name), "-j", "2", "--daemon",
                                           "--socket", d.socket, "--json"});
                CHECK(via.exit_code == alone.exit_code);
                CHECK(statuses(via.events) == statuses(alone.events));
                CHECK(via.out.find("run in batches") != std::string::npos);
            }
        }
        // The run's own setting reaches the daemon: a worker it is not.
        const auto as_worker = run_tend({"run", fixture("plain_gtest"), "--daemon", "--socket",
                                         d.socket, "--framework", "tend"});
        CHECK(as_worker.exit_code != 0);
        CHECK(as_worker.out.find("before saying hello") != std::string::npos);
        CHECK(d.stop() == 0);
    }
}
