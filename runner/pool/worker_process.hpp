// One worker process as the supervisor sees it: spawn, the three pipes, the
// framing, and exit. Passive: it reports what happens to a Listener and does
// what it is told; the pool decides. Every descriptor is driven by the run's
// one io_context.
//
// Descriptors handed to the worker (docs/protocol.md):
//   0  /dev/null
//   1, 2  one pipe, drained continuously into a bounded tail buffer
//   3  commands (supervisor -> worker), 4  results (worker -> supervisor)
//   5  the status page and batch area (a memfd), named by TEND_STATUS_FD
// Everything else is close-on-exec, so no worker holds a sibling's pipes.
#pragma once

#include <sys/types.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "frame.hpp"
#include "messages.hpp"
#include "status_page.hpp"

namespace tend {

namespace asio = boost::asio;

/// How a process ended, from waitpid().
struct ExitStatus {
    bool signaled = false;
    int code = 0;  ///< exit code, or the signal number when signaled
    /// "exited with status 3", "killed by signal 11 (Segmentation fault)".
    std::string describe() const;
    static ExitStatus from_wait_status(int status);
};

/// Bytes of a worker's stderr kept: the tail, for crash reports.
inline constexpr std::size_t kStderrTailBytes = 64 * 1024;

class WorkerProcess : public std::enable_shared_from_this<WorkerProcess> {
  public:
    class Listener {
      public:
        virtual ~Listener() = default;
        virtual void on_message(WorkerProcess& w, protocol::Message& m) = 0;
        /// The worker broke the protocol; it has been killed already.
        virtual void on_protocol_error(WorkerProcess& w, const std::string& what) = 0;
        /// The process is gone and every result it sent has been delivered.
        virtual void on_exit(WorkerProcess& w, const ExitStatus& status) = 0;
    };

    /// Where and with what environment a worker starts; by default tend's own.
    struct Context {
        std::optional<std::vector<std::string>> env;  ///< "NAME=value" entries
        std::string cwd;
        std::vector<std::string> args;       ///< after the binary's path
        std::vector<std::string> extra_env;  ///< "NAME=value" over `env`
        /// Not empty: the binary is an unmodified binary of this framework,
        /// run by tend-batch (batch_worker_path()) in batches.
        std::string batches;
    };
    /// Starts `binary` as a worker. On failure returns null and sets `error`.
    static std::shared_ptr<WorkerProcess> spawn(asio::io_context& io, const std::string& binary,
                                                Listener& listener, std::string& error,
                                                const Context& context = {});
    ~WorkerProcess();

    /// Queues one message for the worker.
    void send(const protocol::Message& m);
    /// Asks the worker to exit (shutdown message, then end of commands);
    /// kills its process group if it is still there after `grace`.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
    /// SIGKILLs the worker's whole process group.
    void kill();
    /// SIGTERMs the worker's process group, then SIGKILLs it after `grace`.
    void terminate(std::chrono::milliseconds grace);
    /// Kills the worker for breaking the protocol; no further messages are
    /// delivered and the listener hears on_protocol_error(what).
    void fail(const std::string& what);
    /// Hands the worker to another listener (a warm worker changing runs).
    void set_listener(Listener& listener) { listener_ = &listener; }
    /// Called by the reaper with the wait status.
    void reaped(int wait_status);

    pid_t pid() const { return pid_; }
    const std::string& binary() const { return binary_; }
    std::chrono::steady_clock::time_point started() const { return started_; }
    /// Its age counts from now (a spare that waited idle has not aged).
    void restart_age() { started_ = std::chrono::steady_clock::now(); }
    /// The last kStderrTailBytes the worker wrote to stdout/stderr outside tests.
    const std::string& stderr_tail() const { return stderr_tail_; }
    bool exited() const { return exit_reported_; }
    /// Whether tend sent the worker `sig` (SIGTERM or SIGKILL, by terminate(),
    /// kill() or the grace period of stop()): a death by it is tend's doing.
    bool sent_signal(int sig) const;
    /// The worker's status page, when it could be set up (null otherwise);
    /// meaningful only if `attached` is set, which the worker does.
    const protocol::StatusPage* status() const { return status_; }
    /// Result frames the worker finished but had not sent, from the batch
    /// area after its status page (empty without one). Read it once the
    /// worker is gone: while it runs, the area changes under the reader.
    std::string_view unsent_batch() const;
    /// A consistent copy of the unsent batch taken while the worker runs
    /// (the page's `batch_seq` unchanged across the copy), or nothing.
    std::optional<std::string> copy_unsent_batch() const;
    /// The worker is blocked reading a command and tend has none to write:
    /// if tend still waits for a frame, the two sides lost each other.
    bool waiting_for_command() const;
    /// Bytes of commands written and not read by the worker yet.
    std::size_t unread_commands() const;
    /// The worker's group guard (docs/protocol.md, "Status page"), or 0.
    pid_t guard_pid() const {
        return status_ && !reaped_ ? static_cast<pid_t>(status_->guard_pid.load()) : 0;
    }
    /// Frames delivered to the listener so far.
    std::uint64_t frames() const { return frames_; }
    /// Opens the worker's capture files (its descriptors 1 and 2, when they
    /// are files), so what a test printed can be read after the worker died.
    /// Call it when the worker says hello.
    void open_captures();
    /// What the worker's capture files hold: the running test's output.
    void captured(std::string& out, std::string& err, std::size_t cap) const;

  private:
    WorkerProcess(asio::io_context& io, std::string binary, Listener& listener);
    void read_results();
    void read_stderr();
    void write_next();
    void maybe_report_exit();

    asio::io_context& io_;
    std::string binary_;
    Listener* listener_;
    pid_t pid_ = -1;
    protocol::StatusPage* status_ = nullptr;
    std::chrono::steady_clock::time_point started_;
    asio::posix::stream_descriptor commands_;
    asio::posix::stream_descriptor results_;
    asio::posix::stream_descriptor stderr_;
    asio::steady_timer stop_timer_;
    asio::steady_timer linger_timer_;
    protocol::FrameDecoder decoder_;
    std::array<char, 64 * 1024> read_buf_{};
    std::array<char, 16 * 1024> err_buf_{};
    std::deque<std::vector<char>> write_queue_;
    bool writing_ = false;
    bool stopping_ = false;
    bool failed_ = false;
    bool results_done_ = false;
    bool stderr_done_ = false;
    bool reaped_ = false;
    bool exit_reported_ = false;
    bool sent_term_ = false;
    bool sent_kill_ = false;
    std::uint64_t frames_ = 0;
    int capture_out_ = -1;
    int capture_err_ = -1;
    ExitStatus exit_status_;
    std::string stderr_tail_;
};

/// Makes tend the reaper of every process its workers leave behind
/// (PR_SET_CHILD_SUBREAPER): orphans come to tend instead of init.
void become_subreaper();
/// The group guards of workers that are gone (killed with their group, maybe
/// not reaped yet): reap_orphans() does not count them as left behind.
std::set<pid_t>& ended_guards();
/// SIGKILLs and reaps every child tend still has (orphans a test left behind
/// after its worker was gone). Returns how many there were.
std::size_t reap_orphans();

/// Reaps children on SIGCHLD and hands each wait status to its WorkerProcess.
/// Create it before the first spawn so no exit goes unnoticed.
class ChildReaper {
  public:
    explicit ChildReaper(asio::io_context& io);
    void watch(const std::shared_ptr<WorkerProcess>& w);
    /// SIGKILLs the children that are not workers (what tests left behind,
    /// come to tend as their subreaper). Returns how many there were.
    std::size_t kill_strays();
    /// Stops listening for SIGCHLD (lets the io_context run out of work).
    void close();

  private:
    void wait_signal();
    void reap_all();
    asio::signal_set signals_;
    bool closed_ = false;
    std::map<pid_t, std::weak_ptr<WorkerProcess>> children_;
};

}  // namespace tend
