// WorkerProcess and ChildReaper: see worker_process.hpp.
#include "pool/worker_process.hpp"
#include "pool/binary_framework.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/start_dir.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

namespace tend {

namespace bp = boost::process;

std::string ExitStatus::describe() const {
    if (signaled) {
        const char* name = ::strsignal(code);
        return "killed by signal " + std::to_string(code) +
               (name ? std::string(" (") + name + ")" : "");
    }
    return "exited with status " + std::to_string(code);
}

ExitStatus ExitStatus::from_wait_status(int status) {
    if (WIFSIGNALED(status)) return {true, WTERMSIG(status)};
    return {false, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

namespace {

/// A pipe whose both ends are close-on-exec and numbered 10 or higher, so
/// the child's dup2 onto 1..4 never lands on one of its own sources.
struct Pipe {
    int read = -1;
    int write = -1;
    bool open(std::string& error) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            error = std::string("cannot create a pipe: ") + std::strerror(errno);
            return false;
        }
        read = ::fcntl(fds[0], F_DUPFD_CLOEXEC, 10);
        write = ::fcntl(fds[1], F_DUPFD_CLOEXEC, 10);
        ::close(fds[0]);
        ::close(fds[1]);
        if (read < 0 || write < 0) {
            error = std::string("cannot move a pipe: ") + std::strerror(errno);
            close();
            return false;
        }
        return true;
    }
    void close() {
        if (read >= 0) ::close(read);
        if (write >= 0) ::close(write);
        read = write = -1;
    }
};

std::string check_executable(const std::string& binary) {
    struct stat st {};
    if (::stat(binary.c_str(), &st) != 0) {
        return binary + ": " + std::strerror(errno);
    }
    if (!S_ISREG(st.st_mode)) return binary + ": not a regular file";
    if (::access(binary.c_str(), X_OK) != 0) return binary + ": not executable";
    return {};
}

}  // namespace

WorkerProcess::WorkerProcess(asio::io_context& io, std::string binary, Listener& listener)
    : io_(io),
      binary_(std::move(binary)),
      listener_(&listener),
      commands_(io),
      results_(io),
      stderr_(io),
      stop_timer_(io),
      linger_timer_(io) {}

WorkerProcess::~WorkerProcess() {
    // A worker dropped while alive (supervisor shutting down on an error)
    // must not outlive us.
    if (pid_ > 0 && !reaped_) ::kill(-pid_, SIGKILL);
    if (status_) ::munmap(status_, protocol::kStatusMapBytes);
    for (const int fd : {capture_out_, capture_err_}) {
        if (fd >= 0) ::close(fd);
    }
}

std::shared_ptr<WorkerProcess> WorkerProcess::spawn(asio::io_context& io, const std::string& binary,
                                                    Listener& listener, std::string& error,
                                                    const Context& context) {
    error = check_executable(binary);
    if (!error.empty()) return nullptr;
    Pipe cmd, res, err;
    if (!cmd.open(error) || !res.open(error) || !err.open(error)) {
        cmd.close();
        res.close();
        err.close();
        return nullptr;
    }
    // The status page: shared memory where the worker notes which test it is
    // running (protocol/status_page.hpp). Without one tend still works.
    const int status_fd = ::memfd_create("tend-status", MFD_CLOEXEC);
    void* status_map = MAP_FAILED;
    if (status_fd >= 0 && ::ftruncate(status_fd, protocol::kStatusMapBytes) == 0) {
        status_map = ::mmap(nullptr, protocol::kStatusMapBytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                            status_fd, 0);
    }
    const int status_src = status_map != MAP_FAILED ? ::fcntl(status_fd, F_DUPFD_CLOEXEC, 10) : -1;
    if (status_fd >= 0) ::close(status_fd);

    bp::environment env = boost::this_process::environment();
    if (context.env) {
        // A client's environment (through the daemon): the workers see what
        // they would see started by that client.
        env.clear();
        for (const auto& entry : *context.env) {
            const auto eq = entry.find('=');
            if (eq == std::string::npos || eq == 0) continue;
            env[entry.substr(0, eq)] = entry.substr(eq + 1);
        }
    }
    for (const auto& entry : context.extra_env) {
        const auto eq = entry.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        env[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    env["TEND_WORKER_FDS"] = "3,4";
    if (status_src >= 0) env[protocol::kStatusFdEnv] = "5";

    // The worker's stdin. Opened here, close-on-exec, rather than by
    // Boost.Process (`std_in < null`), whose descriptor is inheritable and
    // reached every worker as a second copy.
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    // Runs in the child between fork and exec: async-signal-safe calls only.
    const int cmd_r = cmd.read, res_w = res.write, err_w = err.write;
    const pid_t supervisor = ::getpid();
    auto setup = [cmd_r, res_w, err_w, status_src, supervisor, null_fd](auto&) {
        // A worker dies with its supervisor, whatever kills it (SIGKILL, the
        // OOM killer): the kernel sends SIGKILL when tend's thread is gone.
        // If tend died before the call, the parent is already someone else.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (::getppid() != supervisor) ::_exit(127);
        if (null_fd >= 0) ::dup2(null_fd, 0);
        ::dup2(cmd_r, 3);
        ::dup2(res_w, 4);
        if (status_src >= 0) ::dup2(status_src, 5);
        ::dup2(err_w, 1);
        ::dup2(err_w, 2);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);  // a mask tend inherited is not the tests'
        ::setpgid(0, 0);             // own group: one signal reaches what the tests started
        ::signal(SIGPIPE, SIG_DFL);  // the supervisor ignores it; tests get the default
    };
    // An unmodified binary: tend-batch is the worker, and runs the binary.
    std::string exe = binary;
    std::vector<std::string> args = context.args;
    if (!context.batches.empty()) {
        exe = batch_worker_path();
        args.clear();
        args.reserve(context.args.size() + 4);
        for (const char* a : {"--framework", context.batches.c_str(), "--", binary.c_str()}) {
            args.emplace_back(a);
        }
        args.insert(args.end(), context.args.begin(), context.args.end());
    }
    std::error_code ec;
    bp::child child = context.cwd.empty()
                          ? bp::child(bp::exe = exe, bp::args = args, env,
                                      bp::extend::on_exec_setup = setup, ec)
                          : bp::child(bp::exe = exe, bp::args = args, env,
                                      bp::start_dir = context.cwd,
                                      bp::extend::on_exec_setup = setup, ec);
    if (null_fd >= 0) ::close(null_fd);
    ::close(cmd.read);
    ::close(res.write);
    ::close(err.write);
    if (status_src >= 0) ::close(status_src);
    if (ec || !child.valid()) {
        ::close(cmd.write);
        ::close(res.read);
        ::close(err.read);
        if (status_map != MAP_FAILED) ::munmap(status_map, protocol::kStatusMapBytes);
        error = binary + ": cannot start: " +
                (exe == binary ? ec.message() : exe + ": " + ec.message());
        return nullptr;
    }
    std::shared_ptr<WorkerProcess> w(new WorkerProcess(io, binary, listener));
    w->pid_ = child.id();
    if (status_map != MAP_FAILED) w->status_ = static_cast<protocol::StatusPage*>(status_map);
    ::setpgid(w->pid_, w->pid_);  // both sides set it: whoever runs first wins the race
    child.detach();               // the reaper waits for it
    w->started_ = std::chrono::steady_clock::now();
    w->commands_.assign(cmd.write);
    w->results_.assign(res.read);
    w->stderr_.assign(err.read);
    w->read_results();
    w->read_stderr();
    return w;
}

void WorkerProcess::send(const protocol::Message& m) {
    if (stopping_ || failed_ || reaped_) return;
    std::vector<char> frame;
    protocol::encode_frame(m, frame);
    write_queue_.push_back(std::move(frame));
    if (!writing_) write_next();
}

void WorkerProcess::write_next() {
    if (write_queue_.empty()) {
        writing_ = false;
        if (stopping_ && commands_.is_open()) {
            boost::system::error_code ignored;
            commands_.close(ignored);  // end of commands: the worker exits
        }
        return;
    }
    writing_ = true;
    asio::async_write(commands_, asio::buffer(write_queue_.front()),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                          self->write_queue_.pop_front();
                          if (ec) {
                              // The worker is gone; its exit will be reported.
                              self->write_queue_.clear();
                              self->writing_ = false;
                              return;
                          }
                          self->write_next();
                      });
}

void WorkerProcess::stop(std::chrono::milliseconds grace) {
    if (stopping_ || reaped_) return;
    send(protocol::Shutdown{});
    stopping_ = true;
    if (!writing_) write_next();
    stop_timer_.expires_after(grace);
    stop_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec && !self->reaped_) self->kill();
    });
}

bool WorkerProcess::sent_signal(int sig) const {
    return (sig == SIGTERM && sent_term_) || (sig == SIGKILL && sent_kill_);
}

void WorkerProcess::kill() {
    if (pid_ > 0 && !reaped_) {
        sent_kill_ = true;
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);  // in case it left its group
    }
}

void WorkerProcess::terminate(std::chrono::milliseconds grace) {
    if (pid_ <= 0 || reaped_) return;
    sent_term_ = true;
    ::kill(-pid_, SIGTERM);
    ::kill(pid_, SIGTERM);
    stop_timer_.expires_after(grace);
    stop_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec && !self->reaped_) self->kill();
    });
}

void WorkerProcess::fail(const std::string& what) {
    if (failed_) return;
    failed_ = true;
    kill();
    listener_->on_protocol_error(*this, what);
}

void WorkerProcess::read_results() {
    results_.async_read_some(
        asio::buffer(read_buf_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
            if (n > 0 && !self->failed_) {
                self->decoder_.feed(self->read_buf_.data(), n);
                for (;;) {
                    auto ev = self->decoder_.next();
                    if (ev.kind == protocol::FrameEvent::Kind::none) break;
                    if (ev.kind == protocol::FrameEvent::Kind::error) {
                        self->fail(ev.error);
                        break;
                    }
                    auto decoded = protocol::decode_payload(ev.payload);
                    if (!decoded.message) {
                        self->fail(decoded.error);
                        break;
                    }
                    ++self->frames_;
                    self->listener_->on_message(*self, *decoded.message);
                    if (self->failed_) break;
                }
            }
            if (ec) {
                if (ec == asio::error::eof && !self->failed_) {
                    if (auto cut = self->decoder_.finish()) self->fail(*cut);
                }
                self->results_done_ = true;
                self->maybe_report_exit();
                return;
            }
            self->read_results();
        });
}

void WorkerProcess::read_stderr() {
    stderr_.async_read_some(
        asio::buffer(err_buf_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
            if (n > 0) {
                auto& tail = self->stderr_tail_;
                tail.append(self->err_buf_.data(), n);
                if (tail.size() > 2 * kStderrTailBytes)
                    tail.erase(0, tail.size() - kStderrTailBytes);
            }
            if (ec) {
                auto& tail = self->stderr_tail_;
                if (tail.size() > kStderrTailBytes) tail.erase(0, tail.size() - kStderrTailBytes);
                self->stderr_done_ = true;
                self->maybe_report_exit();
                return;
            }
            self->read_stderr();
        });
}

std::string_view WorkerProcess::unsent_batch() const {
    if (!status_ || status_->attached.load(std::memory_order_acquire) != 1) return {};
    const std::size_t n = status_->batch_bytes.load(std::memory_order_acquire);
    const char* area = reinterpret_cast<const char*>(status_) + protocol::kStatusPageBytes;
    return {area, std::min(n, protocol::kBatchAreaBytes)};
}

std::size_t WorkerProcess::unread_commands() const {
    int n = 0;
    if (!commands_.is_open() ||
        ::ioctl(const_cast<asio::posix::stream_descriptor&>(commands_).native_handle(), FIONREAD,
                &n) != 0)
        return 0;
    return static_cast<std::size_t>(std::max(n, 0));
}

std::optional<std::string> WorkerProcess::copy_unsent_batch() const {
    if (!status_ || status_->attached.load(std::memory_order_acquire) != 1) return std::nullopt;
    const auto before = status_->batch_seq.load(std::memory_order_acquire);
    const std::size_t n = std::min<std::size_t>(
        status_->batch_bytes.load(std::memory_order_acquire), protocol::kBatchAreaBytes);
    if (n == 0) return std::nullopt;
    const auto* area = reinterpret_cast<const volatile char*>(status_) + protocol::kStatusPageBytes;
    std::string copy(n, '\0');
    for (std::size_t i = 0; i < n; ++i) copy[i] = area[i];
    std::atomic_thread_fence(std::memory_order_acquire);
    if (status_->batch_seq.load(std::memory_order_relaxed) != before) return std::nullopt;
    return copy;
}

bool WorkerProcess::waiting_for_command() const {
    return status_ && status_->attached.load(std::memory_order_acquire) == 1 &&
           status_->waiting.load(std::memory_order_acquire) == 1 && !writing_ &&
           write_queue_.empty();
}

void WorkerProcess::open_captures() {
    // The C++ runtime points descriptors 1 and 2 at two files for as long as
    // it serves, and empties them after each test: what they hold when the
    // worker dies is what the running test printed. A pipe (a worker that
    // does not capture) is left alone: reading it would steal its output.
    int* const into[] = {&capture_out_, &capture_err_};
    for (int i = 0; i < 2; ++i) {
        const std::string path = "/proc/" + std::to_string(pid_) + "/fd/" + std::to_string(i + 1);
        // Opened first, then looked at: the descriptor may change in between.
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) continue;
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            continue;
        }
        *into[i] = fd;
    }
}

namespace {
/// The last `cap` bytes of a file, from its start to its size.
std::string tail_of(int fd, std::size_t cap) {
    std::string out;
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_size <= 0) return out;
    const auto size = static_cast<std::size_t>(st.st_size);
    const std::size_t keep = std::min(size, cap);
    if (keep < size) out = "[tend: " + std::to_string(size - keep) + " earlier bytes dropped]\n";
    const std::size_t prefix = out.size();
    out.resize(prefix + keep);
    std::size_t got = 0;
    while (got < keep) {
        const ssize_t n = ::pread(fd, out.data() + prefix + got, keep - got,
                                  static_cast<off_t>(size - keep + got));
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(prefix + got);
    return out;
}
}  // namespace

void WorkerProcess::captured(std::string& out, std::string& err, std::size_t cap) const {
    out = tail_of(capture_out_, cap);
    err = tail_of(capture_err_, cap);
}

std::set<pid_t>& ended_guards() {
    static std::set<pid_t> guards;
    return guards;
}

void WorkerProcess::reaped(int wait_status) {
    // Its group guard goes with the group, below: remembered as tend's own.
    if (const pid_t guard = guard_pid()) ended_guards().insert(guard);
    reaped_ = true;
    exit_status_ = ExitStatus::from_wait_status(wait_status);
    stop_timer_.cancel();
    // Whatever the tests started and left behind in the worker's group goes
    // with it: no orphans outlive their worker.
    ::kill(-pid_, SIGKILL);
    // Its results may still sit in the pipe: keep reading to end of file. A
    // forked grandchild can hold the pipe open, so do not wait forever.
    linger_timer_.expires_after(std::chrono::seconds(1));
    linger_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec) return;
        // Closing (not cancelling) also stops a read that a queued handler
        // would otherwise start again.
        boost::system::error_code ignored;
        self->results_.close(ignored);
        self->stderr_.close(ignored);
    });
    maybe_report_exit();
}

void WorkerProcess::maybe_report_exit() {
    if (exit_reported_ || !reaped_ || !results_done_ || !stderr_done_) return;
    exit_reported_ = true;
    linger_timer_.cancel();
    boost::system::error_code ignored;
    commands_.close(ignored);
    results_.close(ignored);
    stderr_.close(ignored);
    listener_->on_exit(*this, exit_status_);
}

ChildReaper::ChildReaper(asio::io_context& io) : signals_(io, SIGCHLD) {
    // A SIGCHLD blocked by whoever started tend would leave every worker
    // unreaped and the run waiting forever.
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_UNBLOCK, &chld, nullptr);
    wait_signal();
}

void ChildReaper::watch(const std::shared_ptr<WorkerProcess>& w) {
    children_[w->pid()] = w;
}

std::size_t ChildReaper::kill_strays() {
    std::vector<pid_t> pids;
    const std::string path = "/proc/self/task/" + std::to_string(::getpid()) + "/children";
    if (std::FILE* f = std::fopen(path.c_str(), "re")) {
        long pid = 0;
        while (std::fscanf(f, "%ld", &pid) == 1) pids.push_back(static_cast<pid_t>(pid));
        std::fclose(f);
    }
    // The group guards of live workers are tend's children too, on purpose.
    std::set<pid_t> guards;
    for (const auto& [_, weak] : children_) {
        if (const auto w = weak.lock()) {
            if (const pid_t g = w->guard_pid()) guards.insert(g);
        }
    }
    std::size_t killed = 0;
    for (const pid_t pid : pids) {
        const auto it = children_.find(pid);
        if (it != children_.end() && !it->second.expired()) continue;
        if (guards.count(pid)) continue;
        ::kill(pid, SIGKILL);  // reaped on its SIGCHLD
        ++killed;
    }
    return killed;
}

void ChildReaper::close() {
    closed_ = true;
    boost::system::error_code ignored;
    signals_.cancel(ignored);
    signals_.clear(ignored);
}

void ChildReaper::wait_signal() {
    signals_.async_wait([this](boost::system::error_code ec, int) {
        if (ec || closed_) return;
        reap_all();
        if (!closed_) wait_signal();  // reaping may have ended the run
    });
}

void ChildReaper::reap_all() {
    // Any child: a worker, or (tend being a subreaper) a process a test left
    // behind whose worker is gone. Those are only reaped here; reap_orphans()
    // ends the ones still running when the run is over.
    for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) break;
        auto it = children_.find(pid);
        if (it == children_.end()) {
            ended_guards().erase(pid);  // a guard reaped: no longer to remember
            continue;
        }
        auto w = it->second.lock();
        children_.erase(it);
        if (w) w->reaped(status);
    }
}

void become_subreaper() {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

std::size_t reap_orphans() {
    // /proc/self/task/*/children lists this process's children.
    std::vector<pid_t> pids;
    if (DIR* tasks = ::opendir("/proc/self/task")) {
        while (const dirent* t = ::readdir(tasks)) {
            if (t->d_name[0] == '.') continue;
            const std::string path = std::string("/proc/self/task/") + t->d_name + "/children";
            if (std::FILE* f = std::fopen(path.c_str(), "re")) {
                long pid = 0;
                while (std::fscanf(f, "%ld", &pid) == 1) pids.push_back(static_cast<pid_t>(pid));
                std::fclose(f);
            }
        }
        ::closedir(tasks);
    }
    std::size_t left = 0;
    for (const pid_t pid : pids) {
        ::kill(pid, SIGKILL);
        // A group guard is tend's own helper, killed with its worker's group:
        // not something the tests left behind.
        left += ended_guards().erase(pid) == 0;
    }
    for (const pid_t pid : pids) ::waitpid(pid, nullptr, 0);
    return left;
}

}  // namespace tend
