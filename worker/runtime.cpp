// The worker side of the protocol: a blocking loop on the two descriptors tend
// handed over. The worker is a test process, so plain blocking I/O is right
// here: it does one thing at a time and the supervisor does the multiplexing.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "frame.hpp"
#include "health_probe.hpp"
#include "health_source.hpp"
#include "messages.hpp"
#include "output_capture.hpp"
#include "status_page.hpp"
#include "tend/worker.hpp"

namespace tend::worker {

namespace {

HealthSource health_source = nullptr;

}  // namespace

/// Tells tend, reading the file, that a binary is a worker: tend runs a
/// binary without this (and without the library) in batches if it finds a
/// test framework in it (runner/pool/binary_framework.hpp).
[[gnu::used, gnu::retain, gnu::section(".tend.worker")]] extern const char kWorkerMarker[] =
    "tend worker protocol";

namespace {

constexpr const char* kFdsEnv = "TEND_WORKER_FDS";
/// A batch of results goes out when it holds this much, or when its oldest
/// result is this old, or when the unit's last test is done.
constexpr std::size_t kBatchBytes = 32 * 1024;
constexpr std::chrono::microseconds kBatchDelay{1000};

std::vector<std::function<void()>>& teardowns() {
    static std::vector<std::function<void()>> list;
    return list;
}

/// Set in a child that a test forked (by pthread_atfork, installed once):
/// a flag costs nothing per test, where getpid() would be a syscall.
bool in_forked_child = false;
void mark_forked_child() {
    in_forked_child = true;
}

std::vector<std::string>& unit_errors() {
    static std::vector<std::string> list;
    return list;
}

/// TEND_LIST_CHUNK_TESTS: tests per `tests` frame at most, so that tests
/// of the chunking need no huge lists; unset, only the byte bound applies.
std::size_t list_chunk_tests() {
    const char* v = std::getenv("TEND_LIST_CHUNK_TESTS");
    const long n = v ? std::atol(v) : 0;
    return n > 0 ? static_cast<std::size_t>(n) : static_cast<std::size_t>(-1);
}

/// Writes all of `data`; false when the supervisor is gone.
bool write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

void complain(int fd, const std::string& what) {
    const std::string line = "tend worker: " + what + "\n";
    if (fd >= 0) (void)write_all(fd, line.data(), line.size());
}

/// What the fatal-signal handler needs; plain data, read in the handler.
struct CrashContext {
    /// The worker itself: a process a test forked (or cloned) inherits the
    /// handler, and must neither speak for the worker nor survive its crash.
    pid_t worker_pid = 0;
    int real_stderr = -1;
    const char* test_name = nullptr;
    /// Results batched but not sent yet, unless `batch_busy` (being appended).
    int results_fd = -1;
    const char* batch = nullptr;
    std::size_t batch_size = 0;
    volatile bool batch_busy = false;
};
CrashContext& crash_context() {
    static CrashContext ctx;
    return ctx;
}

void write_str(int fd, const char* s) {
    if (s) (void)write_all(fd, s, std::strlen(s));
}

/// Runs on the alternate stack when a test dies of a signal: leaves the
/// test's name on the real stderr, whose tail the supervisor keeps for the
/// crash report, then dies of the same signal.
/// Only async-signal-safe calls.
void on_fatal_signal(int sig) {
    const auto& ctx = crash_context();
    if (::getpid() != ctx.worker_pid) {
        // A child a test started (a death test, a fork that crashes): it dies
        // of the signal as it would without tend, and says nothing on the
        // worker's descriptors. getpid() is a real system call (glibc caches
        // no pid since 2.25), so it sees children pthread_atfork never hears of.
        ::signal(sig, SIG_DFL);
        ::raise(sig);
        return;
    }
    if (ctx.real_stderr >= 0) {
        char num[16];
        int len = 0;
        for (int v = sig; v > 0 && len < 15; v /= 10) num[len++] = static_cast<char>('0' + v % 10);
        char digits[16];
        for (int i = 0; i < len; ++i) digits[i] = num[len - 1 - i];
        digits[len] = '\0';
        write_str(ctx.real_stderr, "tend worker: fatal signal ");
        write_str(ctx.real_stderr, digits);
        if (ctx.test_name) {
            write_str(ctx.real_stderr, " in test '");
            write_str(ctx.real_stderr, ctx.test_name);
            write_str(ctx.real_stderr, "'");
        }
        write_str(ctx.real_stderr, "\n");
        // What the test printed stays in the capture files, where the
        // supervisor reads it (it opened them at hello): nothing to copy.
    }
    // Results of finished tests still in the batch go out first, so they
    // need not run again.
    if (ctx.results_fd >= 0 && !ctx.batch_busy && ctx.batch_size > 0) {
        (void)write_all(ctx.results_fd, ctx.batch, ctx.batch_size);
    }
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

void install_fatal_handlers();

void install_crash_reporter(int real_stderr) {
    auto& ctx = crash_context();
    ctx.worker_pid = ::getpid();
    ctx.real_stderr = real_stderr;
    // An alternate stack, so a stack overflow can still be reported.
    static std::vector<char> alt_stack(64 * 1024);
    stack_t ss{};
    ss.ss_sp = alt_stack.data();
    ss.ss_size = alt_stack.size();
    ::sigaltstack(&ss, nullptr);
    install_fatal_handlers();
}

/// The handlers of install_crash_reporter(); installed again before every
/// unit, since a test may have replaced them.
void install_fatal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS, SIGTERM}) {
        ::sigaction(sig, &sa, nullptr);
    }
}

protocol::Failure to_wire(FailureDetail&& f) {
    return protocol::Failure{std::move(f.file),     f.line,
                             std::move(f.kind),     std::move(f.expression),
                             std::move(f.expanded), std::move(f.message),
                             std::move(f.subcase)};
}

class Server final : public TestSession {
  public:
    Server(Adapter& adapter, int in_fd, int out_fd, protocol::StatusPage* status, char* batch_area)
        : adapter_(adapter),
          in_fd_(in_fd),
          out_fd_(out_fd),
          status_(status),
          batch_area_(batch_area) {
        crash_context().results_fd = out_fd;
        if (status_) status_->attached.store(1, std::memory_order_release);
    }
    /// After serving, the process exits through atexit handlers and static
    /// destructors: a crash there reports on the restored stderr and sends
    /// nothing (the batch and the test names are gone with this object).
    ~Server() override {
        auto& ctx = crash_context();
        ctx.test_name = nullptr;
        ctx.batch = nullptr;
        ctx.batch_size = 0;
        ctx.results_fd = -1;
        ctx.real_stderr = STDERR_FILENO;  // once capture_ has put it back
    }

    int serve() {
        install_crash_reporter(capture_.real_stderr());
        save_process_state();
        ::pthread_atfork(nullptr, nullptr, mark_forked_child);
        // The list is built once, in its wire form; a list request sends it
        // as it is. The index by name is built only if a request needs it.
        auto described = adapter_.list();
        tests_.tests.reserve(described.size());
        for (std::uint32_t i = 0; i < described.size(); ++i) {
            auto& t = described[i];
            tests_.tests.push_back(protocol::TestInfo{i, std::move(t.name), std::move(t.suite),
                                                      std::move(t.file), t.line, t.skip,
                                                      t.timeout_s, std::move(t.tags)});
        }
        if (!send(protocol::Hello{protocol::kProtocolVersion, ::getpid(), adapter_.framework()})) {
            return 0;
        }
        protocol::FrameDecoder decoder;
        std::vector<char> buf(64 * 1024);
        for (;;) {
            if (status_) status_->waiting.store(1, std::memory_order_release);
            const ssize_t n = ::read(in_fd_, buf.data(), buf.size());
            if (status_) status_->waiting.store(0, std::memory_order_release);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                complain(capture_.real_stderr(),
                         std::string("reading commands: ") + std::strerror(errno));
                return 3;
            }
            if (n == 0) {
                // The supervisor went away: nothing left to do, unless it
                // left half a command behind, which is worth saying.
                if (auto cut = decoder.finish()) {
                    complain(capture_.real_stderr(), "commands ended mid-frame: " + *cut);
                    return 3;
                }
                return 0;
            }
            decoder.feed(buf.data(), static_cast<std::size_t>(n));
            for (;;) {
                auto ev = decoder.next();
                if (ev.kind == protocol::FrameEvent::Kind::none) break;
                if (ev.kind == protocol::FrameEvent::Kind::error) {
                    complain(capture_.real_stderr(), "bad command frame: " + ev.error);
                    return 3;
                }
                auto decoded = protocol::decode_payload(ev.payload);
                if (!decoded.message) {
                    complain(capture_.real_stderr(), decoded.error);
                    return 3;
                }
                const int status = handle(*decoded.message);
                if (status >= 0) return status;
            }
        }
    }

    /// A process a test forked is not the worker: if it comes back into the
    /// adapter (a failed REQUIRE unwinds into the framework, or the child
    /// just returns), it must end here instead of running the rest of the
    /// unit and speaking on the worker's pipes.
    void leave_if_forked(int status) const {
        if (in_forked_child) ::_exit(status);
    }

    void begin(std::uint32_t id) override {
        leave_if_forked(1);
        // Output written between two tests (there is none from the adapters)
        // lands in the next test's capture: cutting it off here would cost
        // two syscalls a test.
        current_ = id;
        started_ = std::chrono::steady_clock::now();
        if (status_) {
            status_->test_id.store(id, std::memory_order_relaxed);
            status_->started_ns.store(
                std::chrono::duration_cast<std::chrono::nanoseconds>(started_.time_since_epoch())
                    .count(),
                std::memory_order_relaxed);
            status_->started.store(++started_in_unit_, std::memory_order_release);
        }
        crash_context().test_name =
            id < tests_.tests.size() ? tests_.tests[id].name.c_str() : nullptr;
    }

    void end(Outcome outcome, std::vector<FailureDetail> failures) override {
        leave_if_forked(outcome == Outcome::failed ? 1 : 0);
        const auto ended = std::chrono::steady_clock::now();
        const auto elapsed = ended - started_;
        // Finished before its result exists: a result the supervisor gets for
        // a test not counted here was written by someone else (the test).
        if (status_) status_->finished.store(++finished_in_unit_, std::memory_order_release);
        result_.unit = unit_;
        result_.id = current_;
        result_.status = outcome == Outcome::passed    ? protocol::Status::passed
                         : outcome == Outcome::skipped ? protocol::Status::skipped
                                                       : protocol::Status::failed;
        result_.duration_ns = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
        result_.failures.clear();
        for (auto& f : failures) result_.failures.push_back(to_wire(std::move(f)));
        capture_.take(result_.out, result_.err);
        result_.health = health_source ? health_source() : probe_.read();
        // With a status page the supervisor knows which test was running even
        // when results travel in batches; without one, each goes at once.
        auto& ctx = crash_context();
        ctx.test_name = nullptr;
        ctx.batch_busy = true;
        if (batch_.empty()) batch_since_ = ended;
        const std::size_t before = batch_.size();
        protocol::encode_frame(result_, batch_);
        ctx.batch = batch_.data();
        ctx.batch_size = batch_.size();
        ctx.batch_busy = false;
        // The batch is mirrored after the status page, where the supervisor
        // finds it if this process never gets to send it (killed, stopped,
        // hung in the next test). One that does not fit goes out now.
        const bool mirrored = batch_area_ && batch_.size() <= protocol::kBatchAreaBytes;
        if (mirrored) {
            std::memcpy(batch_area_ + before, batch_.data() + before, batch_.size() - before);
            status_->batch_bytes.store(static_cast<std::uint32_t>(batch_.size()),
                                       std::memory_order_release);
        }
        if (!status_ || !mirrored || flush_each_ || batch_.size() >= kBatchBytes ||
            ended - batch_since_ >= kBatchDelay) {
            if (!flush()) std::_Exit(0);  // supervisor gone mid-unit: stop quietly
        }
    }

    /// Sends the batched results.
    bool flush() {
        if (batch_.empty()) return true;
        // Busy while it is written: a fatal signal now must not send the
        // batch a second time behind a part of the first.
        auto& ctx = crash_context();
        ctx.batch_busy = true;
        const bool ok = write_all(out_fd_, batch_.data(), batch_.size());
        // Still in the area until it is surely in the pipe.
        if (batch_area_ && ok) {
            status_->batch_bytes.store(0, std::memory_order_release);
            status_->batch_seq.fetch_add(1, std::memory_order_acq_rel);
            // The next frames written into the area come after the count.
            std::atomic_thread_fence(std::memory_order_release);
        }
        batch_.clear();
        ctx.batch_size = 0;
        ctx.batch_busy = false;
        return ok;
    }

    void skipped(std::uint32_t id) override {
        begin(id);
        end(Outcome::skipped, {});
    }

    bool run_skipped() const override { return run_skipped_; }

  private:
    /// Returns an exit status to stop serving, or -1 to go on.
    int handle(const protocol::Message& m) {
        if (std::holds_alternative<protocol::ListRequest>(m)) {
            // In chunks of about kChunkBytes (or list_chunk_tests_ tests), far
            // under the frame limit: a list of any length goes. The buffer is
            // released afterwards: the worker's RSS is the tests' to measure.
            if (!flush()) return 0;
            const auto& all = tests_.tests;
            std::size_t from = 0;
            do {
                std::size_t to = from, bytes = 0;
                while (to < all.size() && (to == from || (bytes < protocol::kChunkBytes &&
                                                          to - from < list_chunk_tests_))) {
                    bytes += protocol::estimated_wire_bytes(all[to++]);
                }
                out_buf_.clear();
                out_buf_.reserve(bytes + 64);
                protocol::encode_tests_frame(
                    std::span<const protocol::TestInfo>(all.data() + from, to - from),
                    to < all.size(), out_buf_);
                if (!write_all(out_fd_, out_buf_.data(), out_buf_.size())) return 0;
                from = to;
            } while (from < all.size());
            std::vector<char>().swap(out_buf_);
            return -1;
        }
        if (const auto* run = std::get_if<protocol::RunUnit>(&m)) {
            // A long unit comes in chunks: its tests are gathered until the
            // last chunk, then run in order.
            if (run_ids_.empty() || run->unit != run_unit_) run_ids_.clear();
            run_unit_ = run->unit;
            std::vector<std::uint32_t>& ids = run_ids_;
            ids.reserve(ids.size() + run->tests.size());
            for (const auto& ref : run->tests) {
                auto id = resolve(ref);
                if (!id) {
                    run_ids_.clear();  // no part of this unit runs
                    return send(protocol::WorkerError{"no test named '" + ref.name + "' (id " +
                                                      std::to_string(ref.id) + ")"})
                               ? -1
                               : 0;
                }
                ids.push_back(*id);
            }
            if (run->more) return -1;
            const std::vector<std::uint32_t> unit_ids = std::move(run_ids_);
            run_ids_.clear();
            unit_ = run->unit;
            flush_each_ = run->flush;
            run_skipped_ = run->run_skipped;
            started_in_unit_ = 0;
            finished_in_unit_ = 0;
            if (status_) {
                status_->started.store(0, std::memory_order_relaxed);
                status_->finished.store(0, std::memory_order_relaxed);
                status_->unit.store(unit_, std::memory_order_release);
            }
            restore_process_state();
            run_in_order(unit_ids);
            return flush() ? -1 : 0;
        }
        if (const auto* fin = std::get_if<protocol::Finalize>(&m)) {
            protocol::Finalized done;
            done.unit = fin->unit;
            std::string ignore_out, ignore_err;
            capture_.take(ignore_out, ignore_err);
            done.errors = run_unit_teardowns();
            capture_.take(done.out, done.err);
            done.health = health_source ? health_source() : probe_.read();
            return send(done) ? -1 : 0;
        }
        if (std::holds_alternative<protocol::Shutdown>(m)) return 0;
        complain(capture_.real_stderr(),
                 "unexpected message '" + std::string(protocol::type_name(m)) + "'");
        return 3;
    }

    /// Notes the working directory, umask and signal mask the worker started
    /// with, so every unit starts with them whatever an earlier one changed.
    void save_process_state() {
        initial_cwd_ = ::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        initial_umask_ = ::umask(022);
        ::umask(initial_umask_);
        ::pthread_sigmask(SIG_SETMASK, nullptr, &initial_mask_);
    }

    /// What is cheap to put back between units: the working directory, the
    /// umask, the signal mask and the fatal-signal handlers tend installed.
    /// The rest of a process's state (environment, globals, other signal
    /// handlers) stays as the tests left it (docs/user-guide.md, "Warm
    /// workers and state").
    void restore_process_state() {
        if (initial_cwd_ >= 0) (void)::fchdir(initial_cwd_);
        ::umask(initial_umask_);
        ::pthread_sigmask(SIG_SETMASK, &initial_mask_, nullptr);
        install_fatal_handlers();
    }

    std::optional<std::uint32_t> resolve(const protocol::TestRef& ref) {
        const auto& tests = tests_.tests;
        if (ref.id < tests.size() && tests[ref.id].name == ref.name) return ref.id;
        // The id means another test (a different build?): fall back to the
        // name when it is unambiguous.
        if (by_name_.empty()) {
            for (std::uint32_t i = 0; i < tests.size(); ++i) by_name_.emplace(tests[i].name, i);
        }
        if (by_name_.count(ref.name) == 1) return by_name_.find(ref.name)->second;
        return std::nullopt;
    }

    /// Adapters run ascending ids; a request in another order is cut into
    /// ascending runs so the tests still run in the order asked.
    void run_in_order(const std::vector<std::uint32_t>& ids) {
        std::size_t from = 0;
        for (std::size_t i = 1; i <= ids.size(); ++i) {
            if (i == ids.size() || ids[i] <= ids[i - 1]) {
                adapter_.run(ids.data() + from, i - from, *this);
                from = i;
            }
        }
    }

    bool send(const protocol::Message& m) {
        if (!flush()) return false;  // batched results go first, in order
        out_buf_.clear();
        protocol::encode_frame(m, out_buf_);
        return write_all(out_fd_, out_buf_.data(), out_buf_.size());
    }

    Adapter& adapter_;
    int in_fd_;
    int out_fd_;
    HealthProbe probe_;
    OutputCapture capture_;
    protocol::TestList tests_;
    std::unordered_multimap<std::string, std::uint32_t> by_name_;
    std::vector<char> out_buf_;
    protocol::TestResult result_;
    std::uint64_t unit_ = 0;
    std::uint32_t current_ = 0;
    std::chrono::steady_clock::time_point started_;
    protocol::StatusPage* status_ = nullptr;
    char* batch_area_ = nullptr;  ///< after the status page, when the mapping has one
    std::uint32_t started_in_unit_ = 0;
    std::uint32_t finished_in_unit_ = 0;
    bool flush_each_ = false;   ///< the unit asked for each result at once
    bool run_skipped_ = false;  ///< the unit asked to run what the framework skips
    /// The tests of a unit whose request comes in chunks, gathered so far.
    std::vector<std::uint32_t> run_ids_;
    std::uint64_t run_unit_ = 0;
    /// Tests per `tests` frame at most (TEND_LIST_CHUNK_TESTS, for tests of
    /// the chunking; the byte bound applies anyway).
    std::size_t list_chunk_tests_ = list_chunk_tests();
    /// What restore_process_state() puts back before each unit.
    int initial_cwd_ = -1;
    mode_t initial_umask_ = 022;
    sigset_t initial_mask_{};
    std::vector<char> batch_;
    std::chrono::steady_clock::time_point batch_since_;
};

}  // namespace

void on_unit_teardown(std::function<void()> teardown) {
    teardowns().push_back(std::move(teardown));
}

std::vector<std::string> run_unit_teardowns() {
    std::vector<std::string> errors;
    auto& list = teardowns();
    while (!list.empty()) {
        auto fn = std::move(list.back());
        list.pop_back();
        try {
            fn();
        } catch (const std::exception& e) {
            errors.push_back(std::string("teardown threw: ") + e.what());
        } catch (...) {
            // (A framework's own: a failed REQUIRE, whose failure is
            // reported above this line.)
            errors.push_back("teardown stopped by an exception that is not a std::exception");
        }
    }
    auto& reported = unit_errors();
    errors.insert(errors.begin(), reported.begin(), reported.end());
    reported.clear();
    return errors;
}

void report_unit_error(std::string message) {
    unit_errors().push_back(std::move(message));
}

namespace {
/// The group guard's view: its supervisor (tend) and the process between
/// them at birth, and whether tend is known to have adopted it.
pid_t guard_supervisor = 0;
pid_t guard_middle = 0;
volatile sig_atomic_t guard_armed = 0;

/// The guard's parent-death signal: its parent changed. While tend is its
/// parent, nothing to do; once it is not, tend is gone: the group goes.
void on_guard_signal(int) {
    const pid_t parent = ::getppid();
    if (parent == guard_supervisor) {
        guard_armed = 1;
    } else if (parent != guard_middle) {
        if (guard_armed) ::kill(0, SIGKILL);
        ::_exit(0);  // never adopted by tend: it cannot tell tend's death
    }
}

void start_group_guard(protocol::StatusPage* status) {
    // A worker killed with tend (PR_SET_PDEATHSIG) leaves what its tests
    // started running: the guard, a process of the worker's group that tend
    // adopts (it is the subreaper), kills the group when tend is gone. It is
    // not the worker's child, so a test that waits for all its children does
    // not wait for it. It holds no descriptor.
    const pid_t supervisor = ::getppid();
    // The middle process tells the worker the guard's pid, which the worker
    // puts on its page before hello: tend knows its guard from the start.
    int told[2];
    if (::pipe2(told, O_CLOEXEC) != 0) return;
    const pid_t middle = ::fork();
    if (middle < 0) {
        ::close(told[0]);
        ::close(told[1]);
        return;
    }
    if (middle == 0) {
        const pid_t self = ::getpid();  // the guard's parent until it exits
        const pid_t guard = ::fork();
        if (guard != 0) {
            (void)write_all(told[1], reinterpret_cast<const char*>(&guard), sizeof guard);
            ::_exit(0);
        }
        ::close_range(0, ~0U, 0);
        guard_supervisor = supervisor;
        guard_middle = self;
        struct sigaction sa {};
        sa.sa_handler = on_guard_signal;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGTERM, &sa, nullptr);
        sigset_t others;
        sigfillset(&others);
        sigdelset(&others, SIGTERM);
        ::sigprocmask(SIG_SETMASK, &others, nullptr);
        ::prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
        on_guard_signal(0);  // the middle may be gone already
        for (;;) ::pause();
    }
    ::close(told[1]);
    pid_t guard = 0;
    const bool got = ::read(told[0], &guard, sizeof guard) == static_cast<ssize_t>(sizeof guard);
    ::close(told[0]);
    while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (got && guard > 0 && status) status->guard_pid.store(static_cast<std::uint32_t>(guard));
}
}  // namespace

bool launched_by_tend() {
    static const bool launched = std::getenv(kFdsEnv) != nullptr;
    return launched;
}

void set_health_source(HealthSource source) { health_source = source; }

int serve(Adapter& adapter) {
    const char* spec = std::getenv(kFdsEnv);
    int in_fd = -1, out_fd = -1;
    if (!spec || std::sscanf(spec, "%d,%d", &in_fd, &out_fd) != 2 || in_fd < 0 || out_fd < 0 ||
        ::fcntl(in_fd, F_GETFD) < 0 || ::fcntl(out_fd, F_GETFD) < 0) {
        complain(2, std::string(kFdsEnv) + "='" + (spec ? spec : "") +
                        "' does not name two open descriptors \"IN,OUT\"");
        return 3;
    }
    // Tests may start processes (even this binary): they must neither see
    // the variable nor inherit the protocol descriptors.
    ::unsetenv(kFdsEnv);
    ::fcntl(in_fd, F_SETFD, FD_CLOEXEC);
    ::fcntl(out_fd, F_SETFD, FD_CLOEXEC);
    // The status page is optional: without it results are sent one by one.
    protocol::StatusPage* status = nullptr;
    char* batch_area = nullptr;
    if (const char* status_spec = std::getenv(protocol::kStatusFdEnv)) {
        const int fd = std::atoi(status_spec);
        // The page, and the batch area after it when the supervisor made room.
        struct stat st {};
        const bool with_area = ::fstat(fd, &st) == 0 &&
                               static_cast<std::size_t>(st.st_size) >= protocol::kStatusMapBytes;
        const std::size_t bytes =
            with_area ? protocol::kStatusMapBytes : protocol::kStatusPageBytes;
        void* page = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (page != MAP_FAILED) {
            status = static_cast<protocol::StatusPage*>(page);
            if (with_area) batch_area = static_cast<char*>(page) + protocol::kStatusPageBytes;
        }
        ::close(fd);  // the mapping stays; nothing else needs the descriptor
        ::unsetenv(protocol::kStatusFdEnv);
    }
    start_group_guard(status);
    Server server(adapter, in_fd, out_fd, status, batch_area);
    return server.serve();
}

}  // namespace tend::worker
