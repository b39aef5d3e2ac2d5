// The CLI's side of the daemon: `tend run` through a running `tend serve`,
// `tend status` and `tend stop`. Plain blocking I/O on the Unix socket; the
// same JSON-RPC as editors speak (docs/editor-protocol.md).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "report/events.hpp"

namespace tend {

class DaemonClient {
  public:
    /// Why connect() gave no client.
    enum class Refusal {
        absent,     ///< no daemon there (no socket, or none listens on it)
        untrusted,  ///< something there that is not this user's own daemon
    };
    /// Connects to the daemon at `socket_path`, but only to the user's own:
    /// before connecting, the socket's directory must be a real directory
    /// (not a symbolic link) of the user's, writable by nobody else, and the
    /// socket a socket of the user's; after connecting, the peer must run as
    /// the user (SO_PEERCRED). Nothing is sent before all that holds. Null
    /// with `error` (naming the path and what was wrong) and `refusal`
    /// otherwise.
    static std::unique_ptr<DaemonClient> connect(const std::string& socket_path, std::string& error,
                                                 Refusal* refusal = nullptr);
    ~DaemonClient();

    /// One request, its response. False with `error` for an error response
    /// or a broken connection.
    bool call(const std::string& method, const nlohmann::json& params, nlohmann::json& result,
              std::string& error);

    struct RunOutcome {
        Summary summary;
        int interrupted = 0;  ///< the signal that interrupted the run, or 0
        bool startup_failed = false;
        /// The daemon would not take the run (busy, shutting down): nothing
        /// was reported, the run may go ahead without it.
        bool refused = false;
    };
    /// Starts a run and feeds its events to `reporter` until it ends. The
    /// first SIGINT/SIGTERM asks the daemon to drain the run (its grace
    /// period), a second to kill it now, as `tend run` does alone.
    bool run(const nlohmann::ordered_json& params, Reporter& reporter, RunOutcome& outcome,
             std::string& error);

  private:
    explicit DaemonClient(int fd) : fd_(fd) {}
    bool send(const nlohmann::json& message, std::string& error);
    /// The next line, valid until the next call; false at end of input, on
    /// an error, or after `timeout_ms` without one (-1: no limit).
    bool read_line(std::string_view& line, std::string& error, int timeout_ms = -1);

    int fd_;
    std::string buffer_;
    std::size_t head_ = 0;     ///< where the lines not handed out yet start
    std::size_t scanned_ = 0;  ///< up to where buffer_ has no newline
    std::uint64_t next_id_ = 1;
};

}  // namespace tend
