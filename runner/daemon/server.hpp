// `tend serve`: the daemon. One event loop serves JSON-RPC 2.0 clients, a
// message per line, on a Unix socket (the CLI, several at once) or on
// stdin/stdout (an editor that spawned it), and runs their runs on one warm
// pool (warm_pool.hpp). The protocol is in docs/editor-protocol.md.
//
// - The socket lives in a directory only the user can enter, with mode
//   0600, and every connection's peer uid is checked (SO_PEERCRED).
// - Each run's events go to the client that asked; a client that goes away
//   cancels its own runs and nothing else.
// - Clients and runs are bounded; past a bound a request gets a "busy"
//   error at once.
// - SIGINT/SIGTERM or a `shutdown` request drain like `tend run` does:
//   nothing new starts, running units get the grace period, and the last
//   worker is gone before the daemon exits.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "daemon/line_connection.hpp"
#include "daemon/run_request.hpp"
#include "daemon/warm_pool.hpp"
#include "pool/pool.hpp"

namespace tend {

struct ServeOptions {
    std::string socket_path;  ///< where to listen (not with stdio)
    bool stdio = false;       ///< serve one client on stdin/stdout instead
    /// Settings of runs that do not say (an editor's): tend's defaults.
    PoolOptions defaults;
    std::optional<Seconds> idle_exit;  ///< exit after this long without clients
    std::size_t max_clients = 64;
    std::size_t max_runs = 256;  ///< runs running or waiting for workers, all clients
    std::size_t max_line = 1 << 20;
    std::size_t max_queued = 64 << 20;  ///< output waiting for one client
    /// The test lists kept for later runs (--cache-binaries, --cache-size).
    CacheLimits cache;
    /// How often cached binaries are looked at for deletion or rebuilds.
    std::chrono::milliseconds sweep_every{10000};
};

/// The default socket: $XDG_RUNTIME_DIR/tend/tend.sock, else
/// /tmp/tend-UID/tend.sock.
std::string default_socket_path();

class Server {
  public:
    explicit Server(ServeOptions options);
    ~Server();
    /// Serves until shut down. Returns the exit status; `error` says why it
    /// could not start (exit 3).
    int run(std::string& error);

  private:
    struct Client;
    struct Run;
    class RunReporter;

    bool listen(std::string& error);
    void accept();
    void add_client(int in_fd, int out_fd);
    /// A new connection: a client, or told why not and closed. Throws
    /// boost::system::system_error when out of descriptors.
    void serve_connection(int fd, bool same_user, uid_t peer_uid);
    void on_line(std::uint64_t client, std::string_view line);
    void handle_line(std::uint64_t client, std::string_view line);
    void on_closed(std::uint64_t client, const std::string& why);
    void respond(std::uint64_t client, const nlohmann::json& id, nlohmann::json result);
    void respond_error(std::uint64_t client, const nlohmann::json& id, int code,
                       const std::string& message);
    void notify(std::uint64_t client, const char* method, nlohmann::ordered_json params);
    /// One message, already JSON, to a client still connected.
    void send_line(std::uint64_t client, std::string_view line);

    /// Whether a new run may start; if not, the client is told why.
    bool room_for_run(std::uint64_t client, const nlohmann::json& id);
    void start_run(std::uint64_t client, const nlohmann::json& id, PoolOptions opts, RunFeed feed,
                   bool discover);
    void do_run(std::uint64_t client, const nlohmann::json& id, const nlohmann::json& params);
    void do_discover(std::uint64_t client, const nlohmann::json& id, const nlohmann::json& params);
    void do_cancel(std::uint64_t client, const nlohmann::json& id, const nlohmann::json& params);
    void do_did_change(std::uint64_t client, const nlohmann::json& id,
                       const nlohmann::json& params);
    nlohmann::ordered_json status() const;
    void run_done(std::uint64_t run);

    void on_signal(int sig);
    void shut_down(int sig);
    void maybe_exit();
    void arm_idle_timer();
    /// While runs are under way, an `alive` notification to each run's client
    /// every kAliveEvery: a client that hears nothing for much longer knows
    /// the daemon is stopped or hung (docs/editor-protocol.md).
    void arm_alive_timer();
    /// Every sweep_every: drops what is kept for binaries deleted or rebuilt
    /// (test lists, idle workers, statistics) and, with no client, gives
    /// freed memory back to the system.
    void arm_sweep_timer();
    void sweep();
    /// With no client and no run left: gives the heap's free pages back.
    void trim_memory();

    ServeOptions options_;
    boost::asio::io_context io_;
    WarmPool warm_;
    boost::asio::signal_set signals_;
    std::optional<boost::asio::local::stream_protocol::acceptor> acceptor_;
    boost::asio::steady_timer idle_timer_;
    boost::asio::steady_timer alive_timer_;
    bool alive_armed_ = false;
    boost::asio::steady_timer exit_timer_;
    boost::asio::steady_timer accept_retry_;
    boost::asio::steady_timer sweep_timer_;
    std::map<std::uint64_t, std::unique_ptr<Client>> clients_;
    std::map<std::uint64_t, std::unique_ptr<Run>> runs_;
    std::uint64_t next_client_ = 1;
    std::uint64_t next_run_ = 1;
    int shutdown_signal_ = 0;  ///< set once draining (SIGTERM for a shutdown request)
    bool shutting_down_ = false;
    bool owns_socket_ = false;
    int exit_waits_ = 0;
    std::chrono::steady_clock::time_point shutdown_started_;
    std::size_t runs_drained_ = 0;             ///< runs under way when the shutdown began
    std::optional<std::size_t> warm_stopped_;  ///< idle warm workers stopped at the end
    std::chrono::steady_clock::time_point started_;
    /// Per binary, over the daemon's life: tests run and recycles by reason.
    /// Bounded like the test lists (kMaxStats, least recently used first),
    /// and dropped with a deleted binary.
    struct BinaryStats {
        std::uint64_t tests = 0;
        std::array<std::uint64_t, 3> recycled{};
        std::string last_recycle;
        std::uint64_t last_used = 0;
    };
    static constexpr std::size_t kMaxStats = 1024;
    BinaryStats& stats_of(const std::string& binary);
    std::map<std::string, BinaryStats> stats_;
    std::uint64_t stats_clock_ = 0;
};

}  // namespace tend
