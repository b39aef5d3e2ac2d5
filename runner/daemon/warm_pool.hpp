// What the runs of `tend serve` share: the event loop, the reaper, the
// worker budget (-j), warm idle workers and discovered test lists.
//
// - Binaries are known by path and identity (device, inode, size, mtime).
//   A test list is cached per identity: an unchanged binary is discovered
//   once, a rebuilt one again, and its old idle workers are stopped.
// - The worker budget (-j) counts the workers runs hold. A run that needs
//   one and finds the budget spent queues; queued runs are woken in turn
//   (first come, first served) as workers go.
// - Spares: a spare is a worker that has said hello, whose test list is
//   known, and that has run no test. A run takes spares (or, with
//   Reuse::daemon, idle workers other runs used); a worker that ran tests
//   for a run with Reuse::run is stopped when the run gives it back, and
//   once the run is over the pool starts as many spares as the run used of
//   each binary (at most SpareLimits::per_binary), in the background, so
//   the next run starts none. A spare that dies is replaced; a rebuilt
//   binary's spares are replaced by spares of the new build.
// - Idle workers and spares are bounded apart from -j: by count per binary
//   and by memory (their RSS, read from /proc), the binaries run longest
//   ago losing theirs first; the binary run last keeps one whatever it
//   costs.
// - A run gives a worker back after a unit when another run waits and it
//   holds more than its share (the budget over the runs), so no run starves
//   another.
// - The cache of test lists is bounded by binaries and bytes (CacheLimits,
//   least recently used first), and sweep() drops the entries and idle
//   workers of binaries deleted or rebuilt since: a daemon that sees a new
//   build directory every commit does not grow with them.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/cache_bound.hpp"
#include "pool/binary_framework.hpp"
#include "pool/recycle.hpp"
#include "pool/test_table.hpp"
#include "pool/worker_process.hpp"

namespace tend {

struct BinaryIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const BinaryIdentity&) const = default;
};

/// The identity of the file at `path` now; nothing when it cannot be read.
std::optional<BinaryIdentity> identify(const std::string& path);

/// Whether a daemon's worker that ran tests for one run may run tests for
/// another: `run` (the default) keeps a worker to the run that used it, so
/// state a test leaves in its process (a static, the working directory, the
/// environment, the umask) never reaches another run; `daemon` lets idle
/// workers serve any later run, for suites known to be clean.
enum class Reuse { run, daemon };
std::string_view reuse_name(Reuse r);
std::optional<Reuse> parse_reuse(std::string_view text);

/// Spares and idle workers kept between runs (--spares, --spare-memory).
struct SpareLimits {
    std::size_t per_binary = 2;
    std::uint64_t memory_bytes = 1ull << 30;
    /// A sixteenth of the machine's memory (at least 256 MiB).
    static std::uint64_t default_memory();
};

class WarmPool final : public WorkerProcess::Listener {
  public:
    /// A run as the warm pool sees it.
    class Client {
      public:
        virtual ~Client() = default;
        /// The budget has room again (or a warm worker is there): try now.
        virtual void wake() = 0;
    };

    WarmPool(asio::io_context& io, std::size_t jobs, CacheLimits cache = {},
             SpareLimits spares = {});
    ~WarmPool() override;

    asio::io_context& io() { return io_; }
    ChildReaper& reaper() { return reaper_; }
    std::size_t jobs() const { return jobs_; }

    /// Makes sure what is cached for `path` is of the binary there now:
    /// a rebuilt binary loses its test list and its idle workers. Returns
    /// the identity now (nothing if the file cannot be read).
    std::optional<BinaryIdentity> refresh(const std::string& path);
    /// `client` runs `path`: its cache entry stays while the run lasts (until
    /// forget()), whatever else is cached meanwhile.
    void pin(const Client& client, const std::string& path) { pins_[&client].insert(path); }
    /// The cached test list of the binary at `path` as `identity`, listed
    /// in `context` (environment and working directory: a binary may
    /// register tests by what it finds there).
    using TestList = std::shared_ptr<const TestTable>;
    /// What the binary at `path` is, as `setting` ("auto", "tend", "gtest",
    /// ...) says or its file shows: detected once per build of a binary
    /// the cache holds (refresh() first), else each time.
    DetectedFramework framework_of(const std::string& path, std::string_view setting);
    TestList tests(const std::string& path, const BinaryIdentity& identity,
                   const std::string& context) const;
    void remember_tests(const std::string& path, const BinaryIdentity& identity,
                        const std::string& context, TestList tests);

    /// Room for one more worker process for `client`: true and counted, or
    /// false and `client` is woken later.
    bool acquire(Client& client);
    /// A worker `client` started is gone.
    void release(Client& client);
    /// A spare of `path` as `identity` (or, with `used_too`, an idle worker
    /// an earlier run used), now listening to `to`; null when there is none.
    /// `context` is the environment and working directory the worker must
    /// have been started with. Call it with room acquired: the worker takes
    /// that room.
    std::shared_ptr<WorkerProcess> take(const std::string& path, const BinaryIdentity& identity,
                                        const std::string& context, WorkerProcess::Listener& to,
                                        bool used_too);
    /// A spare of `path` as `identity` in `context` that has been started and
    /// has not said hello yet, now `to`'s: its hello goes to `to`, which
    /// takes it as a worker it started. Null when none is on its way. Call
    /// it with room acquired, as take().
    std::shared_ptr<WorkerProcess> take_starting(const std::string& path,
                                                 const BinaryIdentity& identity,
                                                 const std::string& context,
                                                 WorkerProcess::Listener& to);
    /// How a worker comes back from a run.
    struct Returned {
        BinaryIdentity identity;  ///< the build it runs
        std::string context;
        protocol::Health health;
        bool used = false;         ///< it ran tests
        Reuse reuse = Reuse::run;  ///< whether another run may have it then
        bool release = true;       ///< give up its room (else: the caller keeps it)
    };
    /// `client` is done with an idle worker: a spare, or one it used with
    /// Reuse::daemon, waits here for the next run; one it used with
    /// Reuse::run is stopped, as is one whose binary changed.
    void give_back(std::shared_ptr<WorkerProcess> w, Returned how, Client& client);
    /// What a run asks to be kept ready for the next run of a binary: spares
    /// started in `context` as a worker of that run would be.
    struct SpareWish {
        std::string path;
        BinaryIdentity identity;
        std::string context_key;
        WorkerProcess::Context context;
        Seconds startup_timeout{60.0};
        std::size_t count = 1;
    };
    /// Keeps `wish.count` spares of the binary (at most the per-binary
    /// limit; none: no more); replenish() starts what is missing.
    void keep_spares(SpareWish wish);
    /// Starts the spares wished for that are missing, as the budget allows.
    /// After a run, the server calls it once the run's last words are on
    /// their way to its client: a start-up is not in the client's wait.
    void replenish();
    /// Whether `client`, holding `holds` workers, should give one back: some
    /// other run waits and `client` has more than its share.
    bool should_yield(const Client& client, std::size_t holds) const;
    /// Whether a run other than `client` waits for room.
    bool has_waiters(const Client& client) const {
        for (const auto* c : waiting_) {
            if (c != &client) return true;
        }
        return false;
    }
    /// `client` is finished: it waits for nothing any more.
    void forget(Client& client);
    /// Stops every idle worker (shutdown).
    void stop_idle();
    /// Drops what is cached for binaries deleted or rebuilt since they were
    /// last used: their test lists and idle workers. Returns the paths
    /// dropped.
    std::vector<std::string> sweep();
    /// The test-list cache, for `tend status`.
    struct CacheInfo {
        std::size_t binaries = 0;
        std::size_t lists = 0;
        std::size_t bytes = 0;
        CacheLimits limits;
    };
    CacheInfo cache_info() const;

    /// For `tend status`.
    struct IdleWorker {
        pid_t pid;
        std::string binary;
        std::chrono::steady_clock::time_point started;
        protocol::Health health;
        bool spare = false;     ///< has run no test
        std::uint64_t rss = 0;  ///< bytes, read when it came here
    };
    std::vector<IdleWorker> idle_workers() const;
    /// Spares as a whole, for `tend status`.
    struct SpareInfo {
        std::size_t spares = 0;    ///< ready
        std::size_t starting = 0;  ///< started, not ready yet
        std::size_t used = 0;      ///< idle workers runs used (Reuse::daemon)
        std::uint64_t rss = 0;     ///< of the idle workers, spares or not
        SpareLimits limits;
    };
    SpareInfo spare_info() const;
    std::size_t live() const { return live_; }
    /// Worker processes here not yet exited (idle, starting as spares, or
    /// stopped and leaving).
    std::size_t live_processes() const { return idle_.size() + starting_.size() + leaving_.size(); }

    void on_message(WorkerProcess& w, protocol::Message& m) override;
    void on_protocol_error(WorkerProcess& w, const std::string& what) override;
    void on_exit(WorkerProcess& w, const ExitStatus& status) override;

  private:
    struct Idle {
        std::shared_ptr<WorkerProcess> proc;
        BinaryIdentity identity;
        std::string context;
        protocol::Health health;
        bool spare = true;
        std::uint64_t rss = 0;
        std::uint64_t last_used = 0;  ///< use_clock_ when it came here
    };
    /// A spare on its way: started, not ready (hello, and its list when the
    /// cache has none for its build).
    struct Starting {
        std::shared_ptr<WorkerProcess> proc;
        BinaryIdentity identity;
        std::string context;
        bool listing = false;
        std::shared_ptr<TestTable> listed;  ///< the chunks so far
        std::unique_ptr<asio::steady_timer> deadline;
    };
    /// Spares wanted, by binary path (the last run's context).
    struct Wish {
        SpareWish wish;
        std::uint64_t last_used = 0;
        bool failed = false;  ///< a spare of this build would not start: no more tries
    };
    /// Past the spare limits: the idle workers of the binaries run longest
    /// ago go first.
    void bound_spares();
    void spare_ready(Starting& s);
    void spare_failed(const WorkerProcess& w);
    /// Stops a worker a run is done with a moment later, once the run's
    /// client has its results: its exit (a big process takes milliseconds
    /// to tear down) competing with the client for the CPUs would be in the
    /// client's wait.
    void retire(std::shared_ptr<WorkerProcess> w);
    void stop_retiring();
    static constexpr std::chrono::milliseconds kRetireAfter{30};
    /// Resident bytes of `pid` now, from /proc (0 if it cannot be read).
    static std::uint64_t rss_of(pid_t pid);
    struct Cached {
        BinaryIdentity identity;
        std::map<std::string, TestList> tests;  ///< by context
        std::uint64_t last_used = 0;            ///< use_clock_ when last used
        std::optional<DetectedFramework> framework;  ///< detected, for this identity
        std::size_t bytes() const;
    };
    /// Past the cache limits: the least recently used entries go.
    void bound_cache();
    /// Stops the idle workers of `path` that are not of the build `now`.
    void evict_idle_of(const std::string& path, const std::optional<BinaryIdentity>& now);
    /// Entries without a list kept at most (see bound_cache()).
    static constexpr std::size_t kMaxBareEntries = 1024;
    void evict(std::map<const WorkerProcess*, Idle>::iterator it);
    /// `client` starts waiting: the runs holding workers look again
    /// whether they hold an idle one they can give.
    void enqueue(Client& client, bool front);
    void wake_next();

    asio::io_context& io_;
    ChildReaper reaper_;
    std::size_t jobs_;
    std::size_t live_ = 0;  ///< worker processes alive: used by runs or idle here
    std::map<std::string, Cached> binaries_;
    CacheLimits cache_limits_;
    std::uint64_t use_clock_ = 0;
    std::map<const WorkerProcess*, Idle> idle_;
    /// Workers stopped here that have not exited yet (no longer counted).
    std::map<const WorkerProcess*, std::shared_ptr<WorkerProcess>> leaving_;
    std::deque<Client*> waiting_;
    std::map<const Client*, std::size_t> holders_;  ///< runs holding workers
    std::set<const Client*> known_;                 ///< runs not forgotten yet
    std::set<const Client*> granted_;               ///< woken for their turn, not yet taken it
    std::map<const Client*, std::set<std::string>> pins_;  ///< binaries of runs under way
    SpareLimits spare_limits_;
    std::map<std::string, Wish> wishes_;
    std::map<const WorkerProcess*, Starting> starting_;
    /// A binary's last spare's RSS: what the next one will cost, roughly.
    std::map<std::string, std::uint64_t> spare_rss_;
    std::vector<std::weak_ptr<WorkerProcess>> retiring_;  ///< in leaving_, to stop
    asio::steady_timer retire_timer_;
    bool retire_armed_ = false;
};

}  // namespace tend
