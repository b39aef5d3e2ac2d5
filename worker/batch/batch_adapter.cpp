#include "batch_adapter.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "batch_size.hpp"
#include "child.hpp"

extern char** environ;

namespace tend::batch {
namespace {

using Clock = std::chrono::steady_clock;

/// The last health reading of a batch: what health() reports.
protocol::Health last_health;

void write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::string describe(int wait_status) {
    if (WIFSIGNALED(wait_status)) {
        const int sig = WTERMSIG(wait_status);
        // The binary dumped its core if it was to; tend-batch's is nobody's.
        const rlimit none{0, 0};
        ::setrlimit(RLIMIT_CORE, &none);
        const char* name = ::strsignal(sig);
        return "killed by signal " + std::to_string(sig) +
               (name ? std::string(" (") + name + ")" : "");
    }
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
}

bool same_test(const TestKey& want, const TestKey& got) {
    if (want.name != got.name) return false;
    if (!want.file.empty() && !got.file.empty() && want.file != got.file) return false;
    return want.line == 0 || got.line == 0 || want.line == got.line;
}

/// The last `bytes` of `text`, for a message.
std::string tail(const std::string& text, std::size_t bytes = 2000) {
    return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

}  // namespace

struct BatchAdapter::BatchResult {
    std::size_t done = 0;     ///< tests of the batch with a result, in order
    bool mismatch = false;    ///< the binary ran a test out of the batch's order
    std::string ran_instead;  ///< the name of that test
    std::string parse_error;  ///< the report could not be read
    int wait_status = 0;
    std::string err;  ///< stderr's tail, for a batch that ran nothing
};

BatchAdapter::BatchAdapter(std::unique_ptr<Driver> driver, std::string binary,
                           std::vector<std::string> args, int real_stderr)
    : real_stderr_(real_stderr),
      driver_(std::move(driver)),
      binary_(std::move(binary)),
      args_(std::move(args)),
      batch_size_(kFirstBatch),
      // The build that is listed is the build that runs (child.hpp).
      exe_fd_(::open(binary_.c_str(), O_PATH | O_CLOEXEC)) {
    // The binary gets the worker's environment but tend's own descriptors'
    // names: were it a worker after all, it must not serve on them.
    for (char** e = environ; e && *e; ++e) {
        const std::string_view entry(*e);
        if (entry.rfind("TEND_WORKER_FDS=", 0) == 0 || entry.rfind("TEND_STATUS_FD=", 0) == 0) {
            continue;
        }
        // What gtest would take from the environment over tend's flags:
        // sharding is tend's (--shard; run_env() picks one test with it),
        // the filter and disabled tests are the batch's, the console output
        // must stay what the driver reads.
        bool gtest_own = false;
        for (const char* name :
             {"GTEST_TOTAL_SHARDS=", "GTEST_SHARD_INDEX=", "GTEST_FILTER=",
              "GTEST_ALSO_RUN_DISABLED_TESTS=", "GTEST_FAIL_FAST=", "GTEST_BRIEF=",
              "GTEST_PRINT_TIME=", "GTEST_SHUFFLE=", "GTEST_REPEAT=", "GTEST_COLOR="}) {
            if (entry.rfind(name, 0) == 0) gtest_own = true;
        }
        if (gtest_own) continue;
        env_.emplace_back(entry);
    }
}

BatchAdapter::~BatchAdapter() {
    if (exe_fd_ >= 0) ::close(exe_fd_);
}

std::string BatchAdapter::framework() const {
    return driver_->framework() + "-batches";
}

std::vector<std::string> BatchAdapter::command(const std::vector<std::string>& extra) const {
    std::vector<std::string> argv;
    argv.reserve(1 + args_.size() + extra.size());
    argv.push_back(binary_);
    argv.insert(argv.end(), args_.begin(), args_.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

std::vector<TestDescription> BatchAdapter::list() {
    const RunBinary run = [this](const std::vector<std::string>& extra, bool report) {
        Captured got;
        Child child(command(extra), env_, report, exe_fd_);
        if (child.pid() < 0) {
            got.err = child.error();
            got.wait_status = 127 << 8;
            return got;
        }
        got.wait_status = child.pump([&](Child::Stream s, std::string_view bytes) {
            auto& to = s == Child::Stream::out   ? got.out
                       : s == Child::Stream::err ? got.err
                                                 : got.report;
            // stderr only for a message: its tail is enough.
            if (s == Child::Stream::err && to.size() > 64 * 1024)
                to.erase(0, to.size() - 32 * 1024);
            to.append(bytes);
        });
        return got;
    };
    std::string error;
    auto tests = driver_->list(run, error);
    if (!tests) {
        // Said on the worker's own stderr (not the capture the runtime has
        // put on descriptor 2 by now), whose tail tend shows with the
        // binary's failure to start.
        write_all(real_stderr_, "tend-batch: " + binary_ + " (" + driver_->framework() +
                                    "): cannot list its tests: " + error + "\n");
        std::_Exit(3);
    }
    skip_.reserve(tests->size());
    name_bytes_.reserve(tests->size());
    for (const auto& t : *tests) {
        skip_.push_back(t.skip);
        name_bytes_.push_back(t.suite.size() + t.name.size() + 2);
    }
    return std::move(*tests);
}

void BatchAdapter::run(const std::uint32_t* ids, std::size_t count, worker::TestSession& session) {
    const bool run_skipped = session.run_skipped();
    // After a batch that ran none of its tests, or stopped on a test out of
    // its order, the next test runs alone; after three such in a row, the
    // rest of the unit does.
    bool alone_next = false;
    std::size_t strikes = 0;
    std::size_t i = 0;
    while (i < count) {
        const std::size_t id = ids[i];
        if (skip_[id] && !run_skipped) {
            session.skipped(static_cast<std::uint32_t>(id));
            ++i;
            continue;
        }
        const Selectable sel = driver_->selectable(id);
        if (!sel.problem.empty()) {
            session.begin(static_cast<std::uint32_t>(id));
            FailureDetail f;
            f.kind = "tend";
            f.message = "cannot run this test of an unmodified binary: " + sel.problem +
                        "; link the binary with tend's worker library to run it";
            session.end(Outcome::failed, {std::move(f)});
            ++i;
            continue;
        }
        std::vector<std::size_t> batch{id};
        if (sel.in_batch && !alone_next && strikes < 3) {
            std::size_t bytes = name_bytes_[id];
            for (std::size_t j = i + 1; j < count && batch.size() < batch_size_; ++j) {
                const std::size_t next = ids[j];
                if (skip_[next] && !run_skipped) break;
                const Selectable s = driver_->selectable(next);
                if (!s.in_batch || !s.problem.empty()) break;
                bytes += name_bytes_[next];
                if (bytes > kMaxFilterBytes) break;
                batch.push_back(next);
            }
        }
        const BatchResult r = run_batch(batch, session, run_skipped);
        if (r.done == 0 && batch.size() == 1) {
            // Alone and still not run: the binary will not run it.
            session.begin(static_cast<std::uint32_t>(id));
            FailureDetail f;
            f.kind = "tend";
            if (!r.ran_instead.empty()) {
                f.message =
                    "asked for this test alone, the binary ran '" + r.ran_instead + "' first";
            } else if (!r.parse_error.empty()) {
                f.message = "tend could not read the binary's report: " + r.parse_error;
            } else {
                f.message = "the binary " + describe(r.wait_status) + " without running this test" +
                            (r.err.empty() ? std::string() : ":\n" + tail(r.err));
            }
            session.end(Outcome::failed, {std::move(f)});
            ++i;
            continue;
        }
        const bool stumbled = r.mismatch || r.done == 0;
        alone_next = stumbled;
        strikes = stumbled ? strikes + 1 : 0;
        i += r.done;
    }
}

BatchAdapter::BatchResult BatchAdapter::run_batch(const std::vector<std::size_t>& batch,
                                                  worker::TestSession& session, bool run_skipped) {
    BatchResult r;
    auto parser = driver_->parser();
    const auto spawned = Clock::now();
    auto extra_env = driver_->run_env(batch, run_skipped);
    std::vector<std::string> env;
    if (!extra_env.empty()) {
        env = env_;
        env.insert(env.end(), extra_env.begin(), extra_env.end());
    }
    Child child(command(driver_->run_args(batch, run_skipped)), extra_env.empty() ? env_ : env,
                driver_->uses_report_fd(), exe_fd_);
    if (child.pid() < 0) {
        r.wait_status = 127 << 8;
        r.err = child.error();
        return r;
    }

    struct Sink final : ProgressSink {
        BatchAdapter& self;
        const std::vector<std::size_t>& batch;
        worker::TestSession& session;
        Child& child;
        BatchResult& r;
        bool open = false;
        /// With the report on a pipe of its own, a test's end is passed on
        /// when the next test starts or the batch is over: output that
        /// comes after the end's report (its pipe read first) is still the
        /// test's, not lost between tests.
        const bool defer;
        struct Ended {
            Outcome outcome;
            std::vector<FailureDetail> failures;
        };
        std::optional<Ended> ended;
        bool read_live = false;  ///< the child was read while it ran
        Clock::time_point first_start{}, last_end{};
        Sink(BatchAdapter& s, const std::vector<std::size_t>& b, worker::TestSession& ts, Child& c,
             BatchResult& res)
            : self(s),
              batch(b),
              session(ts),
              child(c),
              r(res),
              defer(s.driver_->uses_report_fd()) {}

        void commit() {
            if (!ended) return;

            session.end(ended->outcome, std::move(ended->failures));
            ended.reset();
        }
        void started(const TestKey& key) override {
            commit();
            if (r.mismatch) return;
            if (open || r.done >= batch.size() ||
                !same_test(self.driver_->key(batch[r.done]), key)) {
                // Not the test due next: results must come in the request's
                // order, so the batch stops here and the next runs alone.
                if (open) {
                    // A start without the open test's end: it failed, as
                    // far as can be told, and is not run again.
                    FailureDetail f;
                    f.kind = "tend";
                    f.message = "the binary started '" + key.name + "' before this test ended";
                    if (const auto now = child.health(); now.rss_bytes) last_health = now;
                    session.end(Outcome::failed, {std::move(f)});
                    open = false;
                    ++r.done;
                }
                r.mismatch = true;
                r.ran_instead = key.name;
                child.kill();
                return;
            }
            if (r.done == 0) first_start = Clock::now();
            session.begin(static_cast<std::uint32_t>(batch[r.done]));
            open = true;
        }
        void output(std::string_view text) override {
            if (!r.mismatch) write_all(STDOUT_FILENO, text);
        }
        void finished(Outcome outcome, std::vector<FailureDetail> failures,
                      std::string out) override {
            if (!open || r.mismatch) return;
            if (!out.empty()) write_all(STDOUT_FILENO, out);
            // A child that has exited by now (tend-batch reads behind a
            // fast batch) reads as nothing: the last reading stands, which
            // after a batch is its peak RSS from wait4(); none before the
            // first, and the health is absent rather than a guess.
            const protocol::Health now = child.health();
            if (now.rss_bytes) {
                last_health = now;
                read_live = true;
            }
            if (defer) {
                ended = Ended{outcome, std::move(failures)};
            } else {
                session.end(outcome, std::move(failures));
            }
            open = false;
            ++r.done;
            last_end = Clock::now();
        }
    } sink(*this, batch, session, child, r);

    r.wait_status = child.pump([&](Child::Stream s, std::string_view bytes) {
        switch (s) {
            case Child::Stream::out:
                parser->feed_stdout(bytes, sink);
                break;
            case Child::Stream::report:
                parser->feed_report(bytes, sink);
                break;
            case Child::Stream::err:
                if (!r.mismatch) write_all(STDERR_FILENO, bytes);
                if (sink.open || r.done == 0) {
                    r.err.append(bytes);
                    if (r.err.size() > 8192) r.err.erase(0, r.err.size() - 4096);
                }
                break;
        }
    });
    parser->finish(sink);
    // A test whose end waited for the batch to end has its peak, if the
    // child could not be read while it ran; the next batch's first tests
    // too, until it is read.
    const protocol::Health peak{child.peak_rss_bytes(), {}};
    if (!sink.read_live && child.peak_rss_bytes() > 0) last_health = peak;
    sink.commit();
    if (child.peak_rss_bytes() > 0) last_health = peak;
    if (r.mismatch) return r;
    const int status = r.wait_status;
    r.parse_error = parser->error();
    if (sink.open && !r.parse_error.empty() && WIFEXITED(status)) {
        // The batch ended normally but its report broke off in this test:
        // not a crash; the test failed as far as tend can tell.
        FailureDetail f;
        f.kind = "tend";
        f.message = "tend could not read the binary's report: " + r.parse_error;
        session.end(Outcome::failed, {std::move(f)});
        ++r.done;
        return r;
    }
    if (sink.open) die_like(status);  // died in the test it had begun
    if (WIFSIGNALED(status) && r.done < batch.size()) {
        // Died between two tests, before the next began (a suite's set-up):
        // the next test is the one that did not get to run.
        session.begin(static_cast<std::uint32_t>(batch[r.done]));
        die_like(status);
    }
    if (r.done == batch.size() && r.done > 0) {
        const auto startup = sink.first_start - spawned;
        const auto tests = sink.last_end - sink.first_start;
        batch_size_ = next_batch_size(
            batch_size_,
            static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(startup).count()),
            static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(tests).count()),
            r.done);
    }
    return r;
}

void BatchAdapter::die_like(int wait_status) {
    // The output the test wrote is in the runtime's capture already; the
    // crash reporter says which test, then this process ends as the batch
    // did, which is what tend reports.
    if (WIFSIGNALED(wait_status)) {
        const int sig = WTERMSIG(wait_status);
        ::raise(sig);
        ::signal(sig, SIG_DFL);
        ::raise(sig);
    }
    std::_Exit(WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 1);
}

protocol::Health BatchAdapter::health() {
    // Read when each test ended (a child that has exited reads as nothing
    // by now), or the batch's peak from wait4().
    return last_health;
}

}  // namespace tend::batch
