// `tend serve`: the daemon. One event loop serves JSON-RPC 2.0 clients, a
// message per line, on a Unix socket (the CLI, several at once) or on
// stdin/stdout (an editor that spawned it), and runs their runs on one warm
// pool (warm_pool.hpp). The protocol is in docs/editor-protocol.md.
//
// - The socket lives in a directory only the user can enter, with mode
//   0600, and every connection's peer uid is checked (SO_PEERCRED).
// - Each run's events go to the client that asked; a client that goes away
//   cancels its own runs and nothing else.
// - Runs start in turn: at most `max_runs` are under way (holding workers
//   or waiting for the worker budget in the warm pool), the rest wait in a
//   queue, first come first served, and start as runs end (issue 11: a
//   swarm of agents, thousands of clients at once). A queued run is
//   answered at once with its place and hears `alive` every 5 s with it.
// - What waits is bounded by memory, not by a count: connected clients,
//   their buffers and the queued runs' requests together stay within
//   `max_queue_memory`; past it a new client or run gets a "busy" error
//   naming the option. Clients are also capped by `max_clients`, which
//   `tend serve` derives from the descriptor limit less a reserve for
//   workers, so that the daemon never runs out of descriptors for them.
// - SIGINT/SIGTERM or a `shutdown` request drain like `tend run` does:
//   nothing new starts, queued runs end unstarted, running units get the
//   grace period, and the last worker is gone before the daemon exits.
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

#include "daemon/descriptor_records.hpp"
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
    /// Clients connected at once; past it a connection gets "busy".
    std::size_t max_clients = 4096;
    /// Runs under way at once, all clients (`discover` requests too); more
    /// wait in the queue. Zero: twice the worker budget, at least 8.
    std::size_t max_runs = 0;
    /// What waiting may hold, in bytes: every client's fixed cost, the
    /// buffers of clients without a run under way, and the requests of
    /// queued runs. Past it a new client or run gets "busy".
    std::size_t max_queue_memory = std::size_t{256} << 20;
    std::size_t max_line = 1 << 20;
    std::size_t max_queued = 64 << 20;  ///< output waiting for one client
    /// The test lists kept for later runs (--cache-binaries, --cache-size).
    CacheLimits cache;
    /// Spares and idle workers kept for later runs (--spares, --spare-memory).
    SpareLimits spares;
    /// How often cached binaries are looked at for deletion or rebuilds.
    std::chrono::milliseconds sweep_every{10000};
};

/// What the daemon counts for one connected client besides its buffers:
/// the client's record, its connection object, the event loop's state for
/// its descriptor and the wait on it (measured: docs/user-guide.md).
constexpr std::size_t kClientBytes = 1024;

/// The runs under way at once by default for a worker budget of `jobs`.
std::size_t default_max_runs(std::size_t jobs);

/// Descriptors the daemon keeps for itself and its workers, out of its
/// limit, with a worker budget of `jobs`: the rest may be clients.
std::uint64_t descriptor_reserve(std::size_t jobs);

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

    /// A run waiting for its turn: what start_run needs, nothing more.
    struct Queued {
        std::uint64_t client;
        bool discover = false;
        nlohmann::json request_id;
        PoolOptions opts;
        RunFeed feed;
        std::size_t bytes = 0;  ///< counted in the queue's memory
    };
    /// A new run (or discover): started now when there is room and nobody
    /// waits, else queued while the queue's memory allows, else "busy".
    void admit_run(std::uint64_t client, const nlohmann::json& id, PoolOptions opts, RunFeed feed,
                   bool discover);
    void start_run(std::uint64_t run_id, std::uint64_t client, const nlohmann::json& id,
                   PoolOptions opts, RunFeed feed, bool discover);
    /// Starts queued runs, oldest first, while there is room.
    void start_queued();
    /// A queued run ends without having started (cancelled, shut down):
    /// its client is told as if it had run nothing.
    void end_queued(std::uint64_t run_id, int signal, const std::string& why);
    /// What the queue holds now, in bytes (see ServeOptions::max_queue_memory).
    std::size_t queue_memory() const;
    std::string queue_full(std::size_t more) const;
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
    /// Spares are replenished this long after a run ends.
    static constexpr std::chrono::milliseconds kReplenishAfter{30};
    boost::asio::steady_timer replenish_timer_;
    bool replenish_armed_ = false;
    std::map<std::uint64_t, std::unique_ptr<Client>> clients_;
    std::map<std::uint64_t, std::unique_ptr<Run>> runs_;
    /// Runs waiting for their turn, by number: the oldest first.
    std::map<std::uint64_t, Queued> queued_;
    std::size_t queued_bytes_ = 0;  ///< what the queued runs' requests hold
    std::size_t max_runs_;
    /// The buffers of clients with no run under way (counted in the queue's
    /// memory), and of those with one (bounded per client by max_queued).
    std::shared_ptr<LineConnection::Meter> waiting_buffers_;
    std::shared_ptr<LineConnection::Meter> running_buffers_;
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
