// DaemonClient: see daemon_client.hpp.
#include "daemon/daemon_client.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "report/event_json.hpp"

namespace tend {

namespace {
using json = nlohmann::json;

bool parse_message(std::string_view line, json& msg, std::string& error) {
    try {
        msg = json::parse(line);
        return true;
    } catch (const json::exception& e) {
        error = std::string("the daemon sent something that is not JSON: ") + e.what();
        return false;
    }
}

/// How much is read at once: a run's events come in bursts.
constexpr std::size_t kReadChunk = 128 * 1024;
/// How long a request's answer may take (status, run, shutdown).
constexpr int kAnswerTimeoutMs = 30'000;
/// A daemon sends something (at least `alive`, every 5 s) while a run is
/// under way or waits in its queue: silence this long means it is stopped
/// or hung.
constexpr int kRunSilenceMs = 30'000;
/// How long a full backlog is waited out: the daemon takes a burst of
/// thousands of clients in well under a second.
constexpr std::chrono::seconds kConnectPatience{10};

volatile sig_atomic_t g_signal = 0;
volatile sig_atomic_t g_signals = 0;
void on_signal(int sig) {
    g_signal = sig;
    g_signals = g_signals + 1;
}

/// SIGINT/SIGTERM/SIGHUP set a flag (and interrupt poll) while a run is followed.
struct SignalGuard {
    struct sigaction old_int {
    }, old_term{}, old_hup{};
    SignalGuard() {
        g_signal = 0;
        g_signals = 0;
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR
        ::sigaction(SIGINT, &sa, &old_int);
        ::sigaction(SIGTERM, &sa, &old_term);
        ::sigaction(SIGHUP, &sa, &old_hup);
    }
    ~SignalGuard() {
        ::sigaction(SIGINT, &old_int, nullptr);
        ::sigaction(SIGTERM, &old_term, nullptr);
        ::sigaction(SIGHUP, &old_hup, nullptr);
    }
};
}  // namespace

namespace {
/// What is wrong with `dir` as the directory of this user's daemon socket;
/// empty when nothing is. `absent` when it does not exist.
std::string check_socket_dir(const std::string& dir, bool& absent) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        absent = errno == ENOENT;
        return fmt::format("{}: {}", dir, std::strerror(errno));
    }
    if (S_ISLNK(st.st_mode)) return dir + " is a symbolic link, not a directory of yours";
    if (!S_ISDIR(st.st_mode)) return dir + " is not a directory";
    if (st.st_uid != ::geteuid())
        return fmt::format("{} belongs to uid {}, not to you", dir, st.st_uid);
    // Whoever may write there may put their own socket in place of ours.
    if ((st.st_mode & 022) != 0)
        return fmt::format("{} is writable by others (mode {:04o})", dir, st.st_mode & 07777);
    return {};
}

/// What is wrong with `path` as this user's daemon socket; empty when
/// nothing is. `absent` when there is nothing there.
std::string check_socket_file(const std::string& path, bool& absent) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        absent = errno == ENOENT;
        return fmt::format("no daemon on {}: {}", path, std::strerror(errno));
    }
    if (S_ISLNK(st.st_mode)) return path + " is a symbolic link, not a socket";
    if (!S_ISSOCK(st.st_mode)) return path + " is not a socket";
    if (st.st_uid != ::geteuid())
        return fmt::format("{} belongs to uid {}, not to you", path, st.st_uid);
    return {};
}
}  // namespace

std::unique_ptr<DaemonClient> DaemonClient::connect(const std::string& socket_path,
                                                    std::string& error, Refusal* refusal) {
    auto refuse = [&](std::string why, bool absent) {
        error = std::move(why);
        if (refusal) *refusal = absent ? Refusal::absent : Refusal::untrusted;
        return nullptr;
    };
    sockaddr_un addr{};
    if (socket_path.size() >= sizeof addr.sun_path)
        return refuse(socket_path + ": too long for a socket path", false);
    const auto slash = socket_path.rfind('/');
    const std::string dir = slash == std::string::npos ? "."
                            : slash == 0               ? "/"
                                                       : socket_path.substr(0, slash);
    bool absent = false;
    if (auto why = check_socket_dir(dir, absent); !why.empty()) {
        return refuse(absent ? fmt::format("no daemon on {}: {}", socket_path, why) : why, absent);
    }
    if (auto why = check_socket_file(socket_path, absent); !why.empty()) return refuse(why, absent);
    // Non-blocking while connecting: a daemon whose backlog is full is asked
    // again, a little later each time (a burst of clients is being taken),
    // but one whose backlog stays full (stopped, say) is no daemon, rather
    // than a wait without end.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return refuse(std::strerror(errno), true);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
    const auto give_up = std::chrono::steady_clock::now() + kConnectPatience;
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
        const int e = errno;
        if (e == EINTR) continue;
        if (e == EAGAIN && std::chrono::steady_clock::now() + pause < give_up) {
            ::poll(nullptr, 0, static_cast<int>(pause.count()));
            pause = std::min(pause * 2, std::chrono::milliseconds(100));
            continue;
        }
        ::close(fd);
        return refuse(e == EAGAIN
                          ? fmt::format("the daemon on {} accepts no connections (its "
                                        "backlog stayed full for {} s: is it stopped?)",
                                        socket_path, kConnectPatience.count())
                          : fmt::format("no daemon on {}: {}", socket_path, std::strerror(e)),
                      true);
    }
    ucred peer{};
    socklen_t len = sizeof peer;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) {
        const int e = errno;
        ::close(fd);
        return refuse(
            fmt::format("cannot tell who listens on {}: {}", socket_path, std::strerror(e)), false);
    }
    if (peer.uid != ::geteuid()) {
        ::close(fd);
        return refuse(fmt::format("the process listening on {} runs as uid {}, not as you",
                                  socket_path, peer.uid),
                      false);
    }
    // Non-blocking stays: every send and read waits in poll(), with a limit.
    return std::unique_ptr<DaemonClient>(new DaemonClient(fd));
}

DaemonClient::~DaemonClient() {
    ::close(fd_);
}

bool DaemonClient::send(const json& message, std::string& error) {
    const std::string line = message.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    std::size_t sent = 0;
    // A daemon that stopped reading (stopped, hung) fills the socket: the
    // whole message must go within the answer limit.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kAnswerTimeoutMs);
    while (sent < line.size()) {
        const auto n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd p{fd_, POLLOUT, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
                error = fmt::format("the daemon took no more of the request within {} s",
                                    kAnswerTimeoutMs / 1000);
                return false;
            }
            continue;
        }
        if (n <= 0) {
            error = fmt::format("the daemon went away: {}", std::strerror(errno));
            return false;
        }
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

bool DaemonClient::read_line(std::string_view& line, std::string& error, int timeout_ms) {
    for (;;) {
        if (const auto nl = buffer_.find('\n', scanned_); nl != std::string::npos) {
            line = std::string_view(buffer_).substr(head_, nl - head_);
            head_ = scanned_ = nl + 1;
            return true;
        }
        // The lines handed out are dropped once per read, not once per line.
        buffer_.erase(0, head_);
        head_ = 0;
        scanned_ = buffer_.size();
        // Read first, wait only when there is nothing: while a run streams,
        // a read(2) per burst and no poll(2).
        const auto have = buffer_.size();
        buffer_.resize(have + kReadChunk);
        const auto n = ::read(fd_, buffer_.data() + have, kReadChunk);
        const int read_errno = errno;
        buffer_.resize(have + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
        if (n > 0) continue;
        if (n == 0) {
            error = "the daemon closed the connection (did it die?)";
            return false;
        }
        if (read_errno == EINTR) {
            error = "interrupted";
            return false;
        }
        if (read_errno != EAGAIN && read_errno != EWOULDBLOCK) {
            error = std::strerror(read_errno);
            return false;
        }
        pollfd p{fd_, POLLIN, 0};
        const int ready = ::poll(&p, 1, timeout_ms);
        if (ready < 0 && errno == EINTR) {
            error = "interrupted";
            return false;
        }
        if (ready == 0) {
            error = fmt::format("no answer within {} s", timeout_ms / 1000);
            return false;
        }
    }
}

bool DaemonClient::call(const std::string& method, const json& params, json& result,
                        std::string& error) {
    const auto id = next_id_++;
    std::string send_error;
    // A daemon that refuses us (busy, another user) says why and closes:
    // the sending may fail, the reading still gets the reason.
    const bool sent = send(
        json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}, send_error);
    // A daemon answers a request at once (a run's results come later, as
    // notifications): one that does not is hung, and not waited for forever.
    for (std::string_view line; read_line(line, error, kAnswerTimeoutMs);) {
        json msg;
        if (!parse_message(line, msg, error)) return false;
        const bool ours = msg.contains("id") && (msg["id"] == id || msg["id"].is_null());
        if (!ours) continue;  // a notification
        if (msg.contains("error")) {
            error = msg["error"].value("message", std::string("error"));
            return false;
        }
        result = msg.value("result", json());
        return true;
    }
    if (!sent) error = send_error;
    return false;
}

bool DaemonClient::run(const nlohmann::ordered_json& params, Reporter& reporter,
                       RunOutcome& outcome, std::string& error) {
    json result;
    if (!call("run", json::parse(params.dump()), result, error)) {
        outcome.refused = true;
        return false;
    }
    const auto run_id = result.value("run", std::uint64_t{0});
    SignalGuard guard;
    Replayer replayer(reporter);
    JsonView msg;  // one per run: a line parses without allocating
    int signals_sent = 0;
    for (;;) {
        std::string_view line;
        // A signal that came while an event was being handled is not lost
        // waiting for the next one.
        const bool pending = g_signals > signals_sent;
        if (pending || !read_line(line, error, kRunSilenceMs)) {
            if (!pending && error != "interrupted") {
                error = "lost mid-run: " + error;
                return false;
            }
            // Ctrl-C: the daemon drains this run (grace period); a second
            // one kills what still runs.
            if (g_signals > signals_sent) {
                signals_sent = g_signals;
                const bool graceful = signals_sent == 1;
                json params{
                    {"run", run_id}, {"signal", signal_name(g_signal)}, {"graceful", graceful}};
                json cancel{{"jsonrpc", "2.0"}, {"id", next_id_++}, {"method", "cancel"}};
                cancel["params"] = std::move(params);
                if (!send(cancel, error)) {
                    return false;
                }
            }
            continue;
        }
        if (!msg.parse(line, error)) {
            error = "the daemon sent something that is not JSON: " + error;
            return false;
        }
        std::string_view method;
        if (!msg.root()["method"].get(method)) continue;  // the response to a cancel
        const auto event = msg.root()["params"];
        std::uint64_t run = 0;
        if (!event["run"].get(run) || run != run_id) continue;
        if (method == "run_finished") {
            if (!replayer.replay(event["summary"], error)) return false;
            outcome.summary = *replayer.summary();
            std::int64_t interrupted = 0;
            event["interrupted"].get(interrupted);
            outcome.interrupted = static_cast<int>(interrupted);
            event["startup_failed"].get(outcome.startup_failed);
            return true;
        }
        if (method == "test_started" || method == "alive") continue;
        if (!replayer.replay(event, error)) return false;
    }
}

}  // namespace tend
