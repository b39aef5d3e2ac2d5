// The daemon: see server.hpp.
#include "daemon/server.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "config/quantities.hpp"
#include "daemon/run_request.hpp"
#include "report/event_json.hpp"

namespace tend {

/// How often a client with a run under way hears from the daemon, at least.
constexpr std::chrono::seconds kAliveEvery{5};

namespace {
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// JSON-RPC 2.0 error codes; the -320xx are tend's own.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kBusy = -32000;
constexpr int kShuttingDown = -32001;
constexpr int kNoSuchRun = -32002;

std::string dump(const ojson& j) {
    return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

/// Connections taken from the backlog in one turn of the loop: a burst is
/// taken quickly, and the runs under way still get their turns.
constexpr int kAcceptBatch = 64;
/// Descriptors the daemon holds per worker process (its pipes: commands,
/// results, stdout, stderr; one more while it starts), and for itself (the
/// socket, the event loop, signals, timers, files it reads).
constexpr std::uint64_t kFdsPerWorker = 6;
constexpr std::uint64_t kFdsOwn = 64;
}  // namespace

std::size_t default_max_runs(std::size_t jobs) {
    return std::max<std::size_t>(8, 2 * jobs);
}

std::uint64_t descriptor_reserve(std::size_t jobs) {
    // Twice the budget: workers stopped and not yet reaped still hold theirs.
    return kFdsOwn + 2 * kFdsPerWorker * jobs;
}

std::string default_socket_path() {
    if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime)
        return std::string(runtime) + "/tend/tend.sock";
    return fmt::format("/tmp/tend-{}/tend.sock", ::getuid());
}

struct Server::Client {
    std::uint64_t id;
    std::shared_ptr<LineConnection> conn;
    std::set<std::uint64_t> runs;  ///< under way and queued
    std::size_t started = 0;       ///< of them under way
};

/// A run's events, as notifications to the client that asked for it. Each
/// is written as text straight away (no JSON value is built for a test's
/// events): they are as many as the tests.
class Server::RunReporter final : public Reporter {
  public:
    RunReporter(Server& server, std::uint64_t client, std::uint64_t run,
                std::chrono::milliseconds progress, bool test_started)
        : server_(server),
          client_(client),
          run_(run),
          progress_(progress),
          test_started_(test_started) {}
    void test(const TestEvent& e) override {
        auto& stats = server_.stats_of(e.binary);
        if (e.final) ++stats.tests;
        begin(e.final ? "test_finished" : "test_attempt");
        append_json(line_, e);
        send();
    }
    void recycle(const RecycleEvent& e) override {
        auto& stats = server_.stats_of(e.binary);
        ++stats.recycled[static_cast<std::size_t>(e.reason.kind)];
        stats.last_recycle = e.reason.sentence();
        send("recycle", to_json(e));
    }
    void notice(const Notice& n) override { send("error", to_json(n)); }
    void shutdown(const ShutdownReport& r) override { send("shutdown", to_json(r)); }
    // The summary goes out as run_finished, when the run is over.
    void summary(const Summary&) override {}
    void slow(const SlowEvent& e) override { send("slow", to_json(e)); }
    void binary_done(const std::string& binary) override {
        send("binary_finished", ojson{{"event", "binary_done"}, {"binary", binary}});
    }
    void started(const StartedEvent& e) override {
        if (!test_started_) return;
        begin("test_started");
        append_json(line_, e);
        send();
    }
    std::chrono::milliseconds progress_interval() const override { return progress_; }
    void progress(const Progress& p) override { send("progress", to_json(p)); }

  private:
    /// The notification's start, up to its params: the event comes next.
    void begin(const char* method) {
        line_.clear();
        line_ += R"({"jsonrpc":"2.0","method":")";
        line_ += method;
        line_ += R"(","params":)";
    }
    /// Ends the event object with the run's number, and the notification:
    /// the bytes notify() writes for the same params.
    void send() {
        line_.pop_back();
        line_ += ",\"run\":";
        line_ += std::to_string(run_);
        line_ += "}}";
        server_.send_line(client_, line_);
    }
    void send(const char* method, const ojson& event) {
        begin(method);
        line_ += dump(event);
        send();
    }
    Server& server_;
    std::uint64_t client_;
    std::uint64_t run_;
    std::chrono::milliseconds progress_;
    bool test_started_;
    std::string line_;  ///< the notification being written; its room kept for the next
};

struct Server::Run {
    std::uint64_t id;
    std::uint64_t client;
    bool discover = false;  ///< a `discover` request: respond with the listing
    json request_id;
    std::unique_ptr<RunReporter> reporter;
    std::unique_ptr<Pool> pool;
};

Server::Server(ServeOptions options)
    : options_(std::move(options)),
      warm_(io_, options_.defaults.jobs, options_.cache, options_.spares),
      signals_(io_, SIGINT, SIGTERM, SIGHUP),
      idle_timer_(io_),
      alive_timer_(io_),
      exit_timer_(io_),
      accept_retry_(io_),
      sweep_timer_(io_),
      replenish_timer_(io_),
      max_runs_(options_.max_runs ? options_.max_runs : default_max_runs(options_.defaults.jobs)),
      waiting_buffers_(std::make_shared<LineConnection::Meter>()),
      running_buffers_(std::make_shared<LineConnection::Meter>()) {}

Server::~Server() {
    runs_.clear();
    queued_.clear();
    clients_.clear();
    if (owns_socket_) ::unlink(options_.socket_path.c_str());
}

int Server::run(std::string& error) {
    started_ = std::chrono::steady_clock::now();
    become_subreaper();
    // Before anything else is allocated: records for as many connections as
    // may be served at once, and the workers of their runs.
    reserve_descriptor_records(
        io_, std::min(kMaxReservedRecords, options_.max_clients + 4 * options_.defaults.jobs));
    if (options_.stdio) {
        // Copies close-on-exec: no worker may hold the editor's pipes.
        add_client(::fcntl(0, F_DUPFD_CLOEXEC, 3), ::fcntl(1, F_DUPFD_CLOEXEC, 3));
        // Nothing but protocol on stdout: a stray print would corrupt it.
        const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull >= 0) {
            ::dup2(devnull, 1);
            ::close(devnull);
        }
    } else if (!listen(error)) {
        return 3;
    }
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
        if (!ec) on_signal(sig);
    });
    arm_idle_timer();
    arm_sweep_timer();
    io_.run();
    // What the shutdown did, as `tend run` reports its own.
    if (shutting_down_) {
        std::fprintf(
            stderr,
            "tend serve: shut down (%s): %zu runs drained, %zu warm workers stopped, in "
            "%.3f s\n",
            std::string(signal_name(shutdown_signal_)).c_str(), runs_drained_,
            warm_stopped_.value_or(0),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - shutdown_started_)
                .count());
    }
    return 0;
}

bool Server::listen(std::string& error) {
    namespace fs = std::filesystem;
    const fs::path path(options_.socket_path);
    const auto dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    // A directory only this user can enter: made so when tend creates it,
    // refused when someone else owns it, others may enter it, or it is a
    // symbolic link (planted: it may lead anywhere).
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        error = fmt::format("cannot create {}: {}", dir.string(), std::strerror(errno));
        return false;
    }
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        error = fmt::format("{}: {}", dir.string(), std::strerror(errno));
        return false;
    }
    if (S_ISLNK(st.st_mode)) {
        error = fmt::format("{} is a symbolic link; the socket directory must be a real directory",
                            dir.string());
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        error = fmt::format("{} is not a directory", dir.string());
        return false;
    }
    if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
        error = fmt::format(
            "{} must belong to you and be closed to others (mode 0700), not mode {:04o} of "
            "uid {}",
            dir.string(), st.st_mode & 07777, st.st_uid);
        return false;
    }
    if (options_.socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
        error = fmt::format("{}: a socket path must be shorter than {} bytes", options_.socket_path,
                            sizeof(sockaddr_un::sun_path));
        return false;
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, options_.socket_path.c_str(), options_.socket_path.size());
    // Only a socket of ours left by a daemon that died (it refuses
    // connections) is replaced; a live one, or anything that is not our
    // socket, is left alone and named.
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            error =
                fmt::format("{} exists and is not a socket ({}); not replacing it", path.string(),
                            S_ISLNK(st.st_mode)   ? "a symbolic link"
                            : S_ISDIR(st.st_mode) ? "a directory"
                            : S_ISREG(st.st_mode) ? "a regular file"
                                                  : "a special file");
            return false;
        }
        if (st.st_uid != ::geteuid()) {
            error = fmt::format("{} belongs to uid {}, not to you; not replacing it", path.string(),
                                st.st_uid);
            return false;
        }
        // Non-blocking: a live daemon with a full backlog is not waited for.
        const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (probe < 0) {
            error = fmt::format("cannot make a socket: {}", std::strerror(errno));
            return false;
        }
        const int alive = ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        const int why = errno;
        ::close(probe);
        if (alive == 0 || why == EAGAIN) {
            error = fmt::format("a tend daemon already listens on {}", path.string());
            return false;
        }
        if (why != ECONNREFUSED) {
            error = fmt::format("{}: {}; not replacing it", path.string(), std::strerror(why));
            return false;
        }
        ::unlink(path.c_str());
    } else if (errno != ENOENT) {
        error = fmt::format("{}: {}", path.string(), std::strerror(errno));
        return false;
    }
    // Close-on-exec from creation: a worker forked meanwhile must not get
    // the listening socket (it could accept other clients' connections).
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        error = fmt::format("cannot make a socket: {}", std::strerror(errno));
        return false;
    }
    // The socket is made 0600 before anyone can connect: umask first.
    const mode_t old = ::umask(0177);
    const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    const int bind_errno = errno;
    ::umask(old);
    // The longest backlog the system allows: a burst of clients waits there
    // for its turn to be accepted rather than being refused by the system.
    if (bound != 0 || ::listen(fd, SOMAXCONN) != 0) {
        error = fmt::format("cannot listen on {}: {}", path.string(),
                            std::strerror(bound != 0 ? bind_errno : errno));
        ::close(fd);
        return false;
    }
    owns_socket_ = true;
    boost::system::error_code ec;
    acceptor_.emplace(io_);
    acceptor_->assign(boost::asio::local::stream_protocol(), fd, ec);
    if (ec) {
        ::close(fd);
        error = fmt::format("cannot listen on {}: {}", path.string(), ec.message());
        return false;
    }
    accept();
    return true;
}

void Server::accept() {
    // Boost.Asio 1.74 accepts with plain accept(): the connection would be
    // inheritable until set otherwise. accept4 makes it close-on-exec at once.
    acceptor_->async_wait(
        boost::asio::socket_base::wait_read, [this](boost::system::error_code ec) {
            if (ec == boost::asio::error::operation_aborted || !acceptor_ || !acceptor_->is_open())
                return;
            for (int taken = 0; !ec && taken < kAcceptBatch && !shutting_down_; ++taken) {
                const int fd = ::accept4(acceptor_->native_handle(), nullptr, nullptr,
                                         SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0) {
                    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                        errno == ECONNABORTED) {
                        break;  // none left (or gone before we took it): wait for more
                    }
                    ec = boost::system::error_code(errno, boost::system::system_category());
                    break;
                }
                ucred peer{};
                socklen_t len = sizeof peer;
                const bool same_user =
                    ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 &&
                    peer.uid == ::geteuid();
                try {
                    serve_connection(fd, same_user, peer.uid);
                } catch (const boost::system::system_error&) {
                    ::close(fd);  // out of descriptors: this one is not served
                }
            }
            if (shutting_down_) return;
            if (ec) {
                // Out of descriptors, say: look again in a moment, not in a
                // loop that eats a CPU.
                accept_retry_.expires_after(std::chrono::milliseconds(100));
                accept_retry_.async_wait([this](boost::system::error_code e) {
                    if (!e && acceptor_ && acceptor_->is_open()) accept();
                });
                return;
            }
            accept();
        });
}

void Server::serve_connection(int fd, bool same_user, uid_t peer_uid) {
    std::string message;
    int code = kBusy;
    if (!same_user) {
        message = fmt::format("refused: uid {} is not the daemon's user", peer_uid);
        code = kInvalidRequest;
    } else if (shutting_down_) {
        message = "the daemon is shutting down";
        code = kShuttingDown;
    } else if (clients_.size() >= options_.max_clients) {
        message = fmt::format("busy: {} clients connected (--max-clients)", clients_.size());
    } else if (queue_memory() + kClientBytes > options_.max_queue_memory) {
        message = queue_full(kClientBytes);
    }
    if (message.empty()) return add_client(fd, fd);
    // Told why, then closed; it never becomes a client.
    auto conn =
        std::make_shared<LineConnection>(io_, fd, fd, options_.max_line, options_.max_queued);
    conn->start({});
    conn->send(dump(ojson{
        {"jsonrpc", "2.0"}, {"id", nullptr}, {"error", {{"code", code}, {"message", message}}}}));
    conn->finish();
}

void Server::add_client(int in_fd, int out_fd) {
    const auto id = next_client_++;
    auto client = std::make_unique<Client>();
    client->id = id;
    client->conn = std::make_shared<LineConnection>(io_, in_fd, out_fd, options_.max_line,
                                                    options_.max_queued, waiting_buffers_);
    auto conn = client->conn;
    clients_[id] = std::move(client);
    idle_timer_.cancel();
    conn->start({[this, id](std::string_view line) { on_line(id, line); },
                 [this, id] {
                     respond_error(id, nullptr, kInvalidRequest,
                                   fmt::format("message longer than {} bytes", options_.max_line));
                 },
                 [this, id](const std::string& why) {
                     // Not from inside the connection's own handler.
                     boost::asio::post(io_, [this, id, why] { on_closed(id, why); });
                 }});
}

void Server::notify(std::uint64_t client, const char* method, ojson params) {
    send_line(client,
              dump(ojson{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}}));
}

void Server::send_line(std::uint64_t client, std::string_view line) {
    const auto it = clients_.find(client);
    if (it == clients_.end()) return;
    it->second->conn->send(line);
}

void Server::respond(std::uint64_t client, const json& id, json result) {
    if (id.is_discarded()) return;  // a notification
    const auto it = clients_.find(client);
    if (it == clients_.end()) return;
    it->second->conn->send(json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}}.dump(
        -1, ' ', false, json::error_handler_t::replace));
}

void Server::respond_error(std::uint64_t client, const json& id, int code,
                           const std::string& message) {
    if (id.is_discarded()) return;  // a notification
    const auto it = clients_.find(client);
    if (it == clients_.end()) return;
    it->second->conn->send(
        json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}}
            .dump(-1, ' ', false, json::error_handler_t::replace));
}

void Server::on_line(std::uint64_t client, std::string_view line) {
    // Whatever a request holds, a wrong type in it is the request's error,
    // never the daemon's end.
    try {
        handle_line(client, line);
    } catch (const json::exception& e) {
        respond_error(client, nullptr, kInvalidRequest,
                      std::string("a field of the request has the wrong type: ") + e.what());
    }
}

void Server::handle_line(std::uint64_t client, std::string_view line) {
    json msg;
    try {
        msg = json::parse(line);
    } catch (const json::parse_error& e) {
        return respond_error(client, nullptr, kParseError, std::string("parse error: ") + e.what());
    }
    if (!msg.is_object() || !msg.contains("jsonrpc") || msg["jsonrpc"] != "2.0" ||
        !msg.contains("method") || !msg["method"].is_string()) {
        return respond_error(client, msg.is_object() && msg.contains("id") ? msg["id"] : json(),
                             kInvalidRequest,
                             "not a JSON-RPC 2.0 request: needs \"jsonrpc\": \"2.0\" and a "
                             "string \"method\"");
    }
    // A request without an id is a notification: done, never answered.
    const json id = msg.contains("id") ? msg["id"] : json(json::value_t::discarded);
    if (!id.is_discarded() && !id.is_null() && !id.is_string() && !id.is_number_integer()) {
        return respond_error(client, nullptr, kInvalidRequest, "id must be a string or an integer");
    }
    const auto method = msg["method"].get<std::string>();
    const json params = msg.contains("params") ? msg["params"] : json::object();
    if (method == "initialize") {
        return respond(
            client, id,
            {{"server", "tend"},
             {"version", "0.1.0"},
             {"protocol_version", 1},
             {"methods",
              {"initialize", "discover", "run", "cancel", "did_change", "status", "shutdown"}}});
    }
    if (method == "status") return respond(client, id, json::parse(dump(status())));
    if (method == "run") return do_run(client, id, params);
    if (method == "discover") return do_discover(client, id, params);
    if (method == "cancel") return do_cancel(client, id, params);
    if (method == "did_change") return do_did_change(client, id, params);
    if (method == "shutdown") {
        respond(client, id, {{"shutting_down", true}});
        return shut_down(SIGTERM);
    }
    respond_error(client, id, kMethodNotFound, "unknown method '" + method + "'");
}

std::size_t Server::queue_memory() const {
    return clients_.size() * kClientBytes + waiting_buffers_->bytes + queued_bytes_;
}

std::string Server::queue_full(std::size_t more) const {
    return fmt::format(
        "busy: the daemon's queue is full: {} clients and {} queued runs hold {} of "
        "--max-queue-memory {}, {} more do not fit (tend serve --max-queue-memory SIZE raises it)",
        clients_.size(), queued_.size(), format_bytes(static_cast<double>(queue_memory())),
        format_bytes(static_cast<double>(options_.max_queue_memory)),
        format_bytes(static_cast<double>(more)));
}

void Server::admit_run(std::uint64_t client, const json& id, PoolOptions opts, RunFeed feed,
                       bool discover) {
    if (queued_.empty() && runs_.size() < max_runs_)
        return start_run(next_run_++, client, id, std::move(opts), feed, discover);
    Queued q{client, discover, id, std::move(opts), feed, 0};
    q.bytes = sizeof(Queued) + 64 + held_bytes(q.opts);  // 64: the map's node
    if (queue_memory() + q.bytes > options_.max_queue_memory)
        return respond_error(client, id, kBusy, queue_full(q.bytes));
    const auto run_id = next_run_++;
    queued_bytes_ += q.bytes;
    queued_.emplace(run_id, std::move(q));
    clients_[client]->runs.insert(run_id);
    // Its number now, and its place: 1 is next.
    if (!discover) respond(client, id, {{"run", run_id}, {"queued", queued_.size()}});
    arm_alive_timer();
}

void Server::start_run(std::uint64_t run_id, std::uint64_t client, const json& id, PoolOptions opts,
                       RunFeed feed, bool discover) {
    const auto owner = clients_.find(client);
    if (owner == clients_.end()) return;  // gone meanwhile: its runs were dropped
    // Binaries deleted since are forgotten before the new run adds its own:
    // a stat per cached binary.
    for (const auto& path : warm_.sweep()) stats_.erase(path);
    const bool was_queued = owner->second->runs.count(run_id) > 0;
    auto run = std::make_unique<Run>();
    run->id = run_id;
    run->client = client;
    run->discover = discover;
    run->request_id = id;
    if (!discover) {
        run->reporter =
            std::make_unique<RunReporter>(*this, client, run_id, feed.progress, feed.test_started);
    }
    run->pool = std::make_unique<Pool>(std::move(opts), run->reporter.get(), warm_);
    auto* pool = run->pool.get();
    runs_[run_id] = std::move(run);
    auto& c = *owner->second;
    c.runs.insert(run_id);
    // Its events stream now: the output buffers keep their room, and are
    // no longer the queue's.
    if (c.started++ == 0) {
        c.conn->keep_room(true);
        c.conn->set_meter(running_buffers_);
    }
    if (!discover && !was_queued) respond(client, id, {{"run", run_id}});
    arm_alive_timer();
    pool->start([this, run_id](const Summary&) { run_done(run_id); });
}

void Server::start_queued() {
    while (!shutting_down_ && !queued_.empty() && runs_.size() < max_runs_) {
        auto node = queued_.extract(queued_.begin());
        auto& q = node.mapped();
        queued_bytes_ -= q.bytes;
        start_run(node.key(), q.client, q.request_id, std::move(q.opts), q.feed, q.discover);
    }
}

void Server::end_queued(std::uint64_t run_id, int signal, const std::string& why) {
    const auto it = queued_.find(run_id);
    if (it == queued_.end()) return;
    auto q = std::move(it->second);
    queued_.erase(it);
    queued_bytes_ -= q.bytes;
    const auto client = clients_.find(q.client);
    if (client == clients_.end()) return;
    client->second->runs.erase(run_id);
    if (q.discover) {
        return respond_error(q.client, q.request_id,
                             shutting_down_ ? kShuttingDown : kInvalidRequest, why);
    }
    // As a run that ran nothing: an empty summary, interrupted when a
    // signal (a graceful cancel, a shutdown) ended it.
    notify(q.client, "run_finished",
           ojson{{"run", run_id},
                 {"summary", to_json(Summary{})},
                 {"interrupted", signal},
                 {"startup_failed", false}});
}

void Server::arm_alive_timer() {
    if (alive_armed_) return;
    alive_armed_ = true;
    alive_timer_.expires_after(kAliveEvery);
    alive_timer_.async_wait([this](boost::system::error_code ec) {
        alive_armed_ = false;
        if (ec || (runs_.empty() && queued_.empty())) return;
        for (const auto& [id, run] : runs_) {
            if (!run->discover) notify(run->client, "alive", {{"run", id}});
        }
        // A queued run hears its place too (1: next to start).
        std::size_t place = 0;
        for (const auto& [id, q] : queued_) {
            ++place;
            if (!q.discover) notify(q.client, "alive", {{"run", id}, {"queued", place}});
        }
        arm_alive_timer();
    });
}

void Server::do_run(std::uint64_t client, const json& id, const json& params) {
    if (shutting_down_) return respond_error(client, id, kShuttingDown, "shutting down");
    PoolOptions opts;
    RunFeed feed;
    std::string error;
    if (!parse_run_params(params, options_.defaults, opts, feed, error))
        return respond_error(client, id, kInvalidParams, error);
    admit_run(client, id, std::move(opts), feed, false);
}

void Server::do_discover(std::uint64_t client, const json& id, const json& params) {
    if (shutting_down_) return respond_error(client, id, kShuttingDown, "shutting down");
    PoolOptions opts;
    std::chrono::milliseconds progress{};
    std::string error;
    json only_binaries = json::object();
    if (params.is_object() && params.contains("binaries"))
        only_binaries["binaries"] = params["binaries"];
    if (!params.is_object() || params.size() != only_binaries.size() ||
        !parse_run_params(only_binaries, options_.defaults, opts, progress, error)) {
        return respond_error(client, id, kInvalidParams,
                             error.empty() ? "params: expected {\"binaries\": [paths]}" : error);
    }
    opts.list_only = true;
    admit_run(client, id, std::move(opts), RunFeed{}, true);
}

void Server::do_cancel(std::uint64_t client, const json& id, const json& params) {
    if (!params.is_object() || !params.contains("run") || !params["run"].is_number_unsigned())
        return respond_error(client, id, kInvalidParams, "params.run: expected a run number");
    const auto run_id = params["run"].get<std::uint64_t>();
    const bool graceful = params.contains("graceful") && params["graceful"] == true;
    const int sig = params.contains("signal") && params["signal"].is_string()
                        ? signal_from_name(params["signal"].get<std::string>())
                        : SIGINT;
    if (const auto q = queued_.find(run_id); q != queued_.end() && q->second.client == client) {
        respond(client, id, {{"cancelled", run_id}});
        return end_queued(run_id, graceful ? sig : 0,
                          "cancelled by the client before it started (it was queued)");
    }
    const auto it = runs_.find(run_id);
    if (it == runs_.end() || it->second->client != client)
        return respond_error(client, id, kNoSuchRun, fmt::format("no run {} of yours", run_id));
    respond(client, id, {{"cancelled", run_id}});
    // graceful: as `tend run` takes Ctrl-C (the grace period, then kill);
    // a second graceful cancel, like a second Ctrl-C, kills at once.
    auto& pool = *it->second->pool;
    if (graceful || pool.interrupted()) {
        pool.interrupt(sig);
    } else {
        pool.cancel("cancelled by the client");
    }
}

void Server::do_did_change(std::uint64_t client, const json& id, const json& params) {
    std::vector<std::string> binaries;
    if (params.is_object() && params.contains("binaries") && params["binaries"].is_array()) {
        for (const auto& b : params["binaries"]) {
            if (!b.is_string()) {
                binaries.clear();
                break;
            }
            binaries.push_back(b.get<std::string>());
        }
    }
    if (binaries.empty())
        return respond_error(client, id, kInvalidParams, "params.binaries: expected paths");
    for (const auto& b : binaries) warm_.refresh(b);
    respond(client, id, {{"refreshed", binaries}});
}

void Server::run_done(std::uint64_t run_id) {
    const auto it = runs_.find(run_id);
    if (it == runs_.end()) return;
    auto run = std::move(it->second);
    runs_.erase(it);
    const auto client = clients_.find(run->client);
    if (client != clients_.end()) {
        client->second->runs.erase(run_id);
        // Nothing streams to it any more: its buffers go back to the queue's
        // count, and their room is given back once the output drains.
        if (--client->second->started == 0) {
            client->second->conn->keep_room(false);
            client->second->conn->set_meter(waiting_buffers_);
        }
        if (run->discover) {
            json binaries = json::array();
            for (const auto& b : run->pool->listing()) {
                json tests = json::array();
                for (const auto t : *b.tests) {
                    tests.push_back(
                        {{"id", t.id},
                         {"name", t.name},
                         {"suite", t.suite},
                         {"file", t.file},
                         {"line", t.line},
                         {"skip", t.skip},
                         {"timeout", t.timeout_s},
                         {"tags", std::vector<std::string>(t.tags.begin(), t.tags.end())}});
                }
                json entry{{"binary", b.binary}, {"tests", std::move(tests)}};
                if (!b.error.empty()) entry["error"] = b.error;
                binaries.push_back(std::move(entry));
            }
            respond(run->client, run->request_id, {{"binaries", std::move(binaries)}});
        } else {
            notify(run->client, "run_finished",
                   ojson{{"run", run_id},
                         {"summary", to_json(run->pool->summary())},
                         {"interrupted", run->pool->interrupted()},
                         {"startup_failed", run->pool->startup_failed()}});
        }
    }
    // What tests left behind, once no run is under way: a stray may be a
    // helper of a test still running in another run.
    if (runs_.empty()) warm_.reaper().kill_strays();
    // The pool is destroyed here, outside its own handlers (run_done runs
    // from a posted handler).
    run.reset();
    start_queued();
    // The spares of the next runs start a moment later, once this run's
    // client has its results and is gone: a start-up (and the used
    // workers' exits) competing with it for the CPUs would be in its wait.
    if (!replenish_armed_) {
        replenish_armed_ = true;
        replenish_timer_.expires_after(kReplenishAfter);
        replenish_timer_.async_wait([this](boost::system::error_code ec) {
            replenish_armed_ = false;
            if (!ec && !shutting_down_) warm_.replenish();
        });
    }
    trim_memory();
    maybe_exit();
}

void Server::on_closed(std::uint64_t client_id, const std::string&) {
    const auto it = clients_.find(client_id);
    if (it == clients_.end()) return;
    // Its runs end; nobody is told (nobody is there).
    for (const auto run_id : it->second->runs) {
        const auto run = runs_.find(run_id);
        if (run != runs_.end()) run->second->pool->cancel("its client went away");
        if (const auto q = queued_.find(run_id); q != queued_.end()) {
            queued_bytes_ -= q->second.bytes;
            queued_.erase(q);
        }
    }
    clients_.erase(it);
    if (options_.stdio) return shut_down(SIGTERM);  // the editor closed stdin
    trim_memory();
    arm_idle_timer();
    maybe_exit();
}

ojson Server::status() const {
    const auto now = std::chrono::steady_clock::now();
    auto age = [&](std::chrono::steady_clock::time_point t) {
        return std::chrono::duration<double>(now - t).count();
    };
    auto health = [](const protocol::Health& h) {
        return ojson{{"rss_bytes", h.rss_bytes ? ojson(*h.rss_bytes) : ojson(nullptr)},
                     {"open_fds", h.open_fds ? ojson(*h.open_fds) : ojson(nullptr)}};
    };
    ojson workers = ojson::array();
    ojson runs = ojson::array();
    for (const auto& [id, run] : runs_) {
        for (const auto& w : run->pool->worker_info()) {
            workers.push_back({{"pid", w.pid},
                               {"binary", w.binary},
                               {"state", w.state},
                               {"run", id},
                               {"age_s", age(w.started)},
                               {"health", health(w.health)}});
        }
        runs.push_back({{"run", id},
                        {"client", run->client},
                        {"binaries", run->pool->options().binaries},
                        {"done", run->pool->tests_done()},
                        {"total", run->pool->tests_known()}});
    }
    ojson queued = ojson::array();
    std::size_t place = 0;
    for (const auto& [id, q] : queued_) {
        queued.push_back({{"run", id},
                          {"client", q.client},
                          {"binaries", q.opts.binaries},
                          {"queued", ++place}});
    }
    for (const auto& w : warm_.idle_workers()) {
        auto h = w.health;
        if (!h.rss_bytes && w.rss) h.rss_bytes = w.rss;
        workers.push_back({{"pid", w.pid},
                           {"binary", w.binary},
                           {"state", w.spare ? "spare" : "warm"},
                           {"run", nullptr},
                           {"age_s", age(w.started)},
                           {"health", health(h)}});
    }
    const auto spares = warm_.spare_info();
    ojson binaries = ojson::array();
    for (const auto& [path, s] : stats_) {
        binaries.push_back(
            {{"binary", path},
             {"tests_run", s.tests},
             {"recycled",
              {{"memory", s.recycled[0]}, {"fds", s.recycled[1]}, {"age", s.recycled[2]}}},
             {"last_recycle", s.last_recycle}});
    }
    const auto cache = warm_.cache_info();
    return {{"pid", ::getpid()},
            {"socket", options_.stdio ? ojson(nullptr) : ojson(options_.socket_path)},
            {"uptime_s", age(started_)},
            {"jobs", warm_.jobs()},
            {"clients", clients_.size()},
            {"max_clients", options_.max_clients},
            {"max_runs", max_runs_},
            {"queue",
             {{"bytes", queue_memory()},
              {"max_bytes", options_.max_queue_memory},
              {"streaming_bytes", running_buffers_->bytes}}},
            {"shutting_down", shutting_down_},
            {"workers", workers},
            {"runs", runs},
            {"queued", queued},
            {"binaries", binaries},
            {"spares",
             {{"ready", spares.spares},
              {"starting", spares.starting},
              {"used", spares.used},
              {"rss_bytes", spares.rss},
              {"max_bytes", spares.limits.memory_bytes},
              {"per_binary", spares.limits.per_binary}}},
            {"cache",
             {{"binaries", cache.binaries},
              {"lists", cache.lists},
              {"bytes", cache.bytes},
              {"max_binaries", cache.limits.max_entries},
              {"max_bytes", cache.limits.max_bytes}}}};
}

Server::BinaryStats& Server::stats_of(const std::string& binary) {
    auto it = stats_.find(binary);
    if (it == stats_.end()) {
        if (stats_.size() >= kMaxStats) {
            const auto oldest =
                std::min_element(stats_.begin(), stats_.end(), [](const auto& a, const auto& b) {
                    return a.second.last_used < b.second.last_used;
                });
            stats_.erase(oldest);
        }
        it = stats_.emplace(binary, BinaryStats{}).first;
    }
    it->second.last_used = ++stats_clock_;
    return it->second;
}

void Server::arm_sweep_timer() {
    sweep_timer_.expires_after(std::max(options_.sweep_every, std::chrono::milliseconds(100)));
    sweep_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || shutting_down_) return;
        sweep();
        arm_sweep_timer();
    });
}

void Server::sweep() {
    for (const auto& path : warm_.sweep()) stats_.erase(path);
    for (auto it = stats_.begin(); it != stats_.end();) {
        if (!identify(it->first))
            it = stats_.erase(it);
        else
            ++it;
    }
    trim_memory();
}

void Server::trim_memory() {
    // After the last of a burst (clients and their runs gone), what they
    // held goes back to the system: glibc keeps freed heap otherwise.
    if (!clients_.empty() || !runs_.empty() || !queued_.empty()) return;
#ifdef __GLIBC__
    ::malloc_trim(0);
#endif
}

void Server::on_signal(int sig) {
    if (shutting_down_) {
        // A second signal: no more waiting for anyone.
        for (auto& [_, run] : runs_) run->pool->interrupt(sig);
    } else {
        shut_down(sig);
    }
    signals_.async_wait([this](boost::system::error_code ec, int s) {
        if (!ec) on_signal(s);
    });
}

void Server::shut_down(int sig) {
    if (shutting_down_) return;
    shutting_down_ = true;
    shutdown_signal_ = sig;
    idle_timer_.cancel();
    sweep_timer_.cancel();
    replenish_timer_.cancel();
    if (acceptor_) {
        boost::system::error_code ignored;
        acceptor_->close(ignored);
    }
    if (owns_socket_) {
        ::unlink(options_.socket_path.c_str());
        owns_socket_ = false;
    }
    // The same drain as `tend run` on a signal, for every run.
    shutdown_started_ = std::chrono::steady_clock::now();
    runs_drained_ = runs_.size() + queued_.size();
    // Queued runs end unstarted, then every run under way drains.
    while (!queued_.empty())
        end_queued(queued_.begin()->first, sig, "not run: the daemon shut down before its turn");
    for (auto& [_, run] : runs_) run->pool->interrupt(sig);
    maybe_exit();
}

void Server::maybe_exit() {
    if (!shutting_down_ || !runs_.empty()) return;
    if (!warm_stopped_) warm_stopped_ = warm_.idle_workers().size() + warm_.spare_info().starting;
    warm_.stop_idle();
    warm_.reaper().kill_strays();
    // Clients hear the rest of what is queued for them, then the loop ends
    // once the last worker is reaped (or after 5 s, whatever is left).
    for (auto& [_, c] : clients_) c->conn->finish();
    exit_timer_.expires_after(std::chrono::milliseconds(50));
    exit_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        if (warm_.live_processes() == 0 || ++exit_waits_ > 100) {
            io_.stop();
            return;
        }
        maybe_exit();
    });
}

void Server::arm_idle_timer() {
    if (!options_.idle_exit || !clients_.empty() || shutting_down_) return;
    idle_timer_.expires_after(
        std::chrono::duration_cast<std::chrono::nanoseconds>(*options_.idle_exit));
    idle_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec && clients_.empty()) shut_down(SIGTERM);
    });
}

}  // namespace tend
