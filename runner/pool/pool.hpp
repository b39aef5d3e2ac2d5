// The pool: N warm workers, the units waiting for them, and the rules that
// tie the two together.
//
// - A binary is discovered once, by its first worker (list), and its tests
//   are planned into units (plan.hpp).
// - A unit goes to one idle worker of its binary as one request; results
//   stream back one frame per test.
// - After the unit's last result the pool sends finalize and waits for the
//   teardown; only then does it call evaluate_recycle with the health the
//   worker reported after the teardown and the worker's age. A recycled
//   worker is stopped and, if work remains, replaced.
// - A worker that dies mid-unit costs the test it was running (reported
//   crashed, with its stderr tail); the rest of the unit goes back to the
//   front of the queue for a fresh worker.
//
// The pool holds the state and handles the events (messages, exits, timers,
// signals); its decisions are free functions over plain structs, each in a
// file of its own with its unit tests:
//   schedule.hpp      which unit a free worker takes, which binary gets the next worker
//   retry.hpp         whether and where a test that did not pass runs again
//   shutdown.hpp      what a signal, a cancel or --max-fail does to running and waiting units
//   deadline.hpp      when a worker has overrun its time (test, start-up, teardown, between tests)
//   worker_death.hpp  what a dead worker's unit becomes: the blamed test, the rest, notices
//   recycle.hpp       when a worker has grown too big and is replaced
//   spare.hpp         when a run alone starts a spare worker ahead of a replacement
//
// Everything runs on the pool's one io_context; nothing here blocks.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/selection.hpp"
#include "daemon/warm_pool.hpp"
#include "pool/deadline.hpp"
#include "pool/plan.hpp"
#include "pool/recycle.hpp"
#include "pool/schedule.hpp"
#include "pool/shard.hpp"
#include "pool/slot_state.hpp"
#include "pool/worker_process.hpp"
#include "report/events.hpp"

namespace tend {

/// Start-up and discovery are bounded: a worker that never says hello (or a
/// first worker that never lists its tests) is killed after this long.
inline constexpr Seconds kDefaultStartupTimeout{60.0};
/// A scope teardown is bounded like a test; without --timeout, by this.
inline constexpr Seconds kDefaultTeardownTimeout{60.0};

/// What may differ from one binary to the next ([[binary]] in tend.toml,
/// docs/config.md).
struct BinarySettings {
    WorkerLimits limits;
    std::optional<Seconds> timeout;
    /// Tests running longer are reported slow (--slow); unset = never.
    std::optional<Seconds> slow;
    std::uint32_t retries = 0;
    /// How long a worker may take to say hello, and the first one to list
    /// its tests (--startup-timeout).
    Seconds startup_timeout = kDefaultStartupTimeout;
    /// How long a unit's scope teardown may take (--teardown-timeout);
    /// unset: the test timeout, else kDefaultTeardownTimeout.
    std::optional<Seconds> teardown_timeout;
    /// The worker process: arguments after the binary, environment
    /// variables ("NAME=value") over the run's, and a working directory
    /// (absolute; empty: the run's).
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd;
    Reuse reuse = Reuse::run;
    /// "auto" (empty: the same), "tend", "gtest", "doctest" or "catch2"
    /// (binary_framework.hpp).
    std::string framework;
    /// The teardown's limit as it applies.
    Seconds teardown_limit() const {
        return teardown_timeout ? *teardown_timeout : timeout ? *timeout : kDefaultTeardownTimeout;
    }
};

struct PoolOptions {
    std::vector<std::string> binaries;
    std::size_t jobs = 1;
    WorkerLimits limits;
    /// Discover only: list every binary's tests and run none.
    bool list_only = false;
    /// Which tests run: none for all, one for every binary, or one per
    /// binary (in the order of `binaries`).
    std::vector<Selection> selection;
    /// Worker deaths per binary after which no more start for it and its
    /// remaining tests are reported not_run (--max-worker-deaths).
    std::size_t max_worker_deaths = 8;
    /// A test running longer is killed (its worker's process group: SIGTERM,
    /// then SIGKILL after `kill_grace`) and reported timed_out.
    /// Without it, a test whose framework declares a timeout (doctest's
    /// `timeout` decorator) is killed after that long.
    std::optional<Seconds> timeout;
    /// A test still running after this long is reported slow (a SlowEvent),
    /// and again after each further period; it goes on running.
    std::optional<Seconds> slow;
    /// Run-wide start-up and teardown limits (see BinarySettings).
    Seconds startup_timeout = kDefaultStartupTimeout;
    std::optional<Seconds> teardown_timeout;
    std::chrono::milliseconds kill_grace{1000};
    /// After SIGINT/SIGTERM, how long running units may go on before their
    /// workers are killed. A second signal kills at once.
    Seconds shutdown_grace{5.0};
    /// Stop starting units after this many failed, crashed, timed-out or
    /// errored tests (--max-fail N, --fail-fast = 1). Running units finish.
    std::optional<std::size_t> max_fail;
    /// Run a failed, crashed, timed-out or errored test again, up to this
    /// many times, on another worker; passing on a retry makes it flaky.
    std::uint32_t retries = 0;
    /// The workers' environment ("NAME=value") and working directory; by
    /// default tend's own. A client of the daemon sends its own.
    std::optional<std::vector<std::string>> env;
    std::string cwd;
    /// A run alone keeps a spare worker for a binary whose workers are
    /// being recycled or lost while units wait (spare.hpp); false: never.
    bool spares = true;
    /// Run only the units of this shard (--shard K/N, shard.hpp): every
    /// binary is listed, then the selected units of all of them are
    /// partitioned and only this shard's run; a binary with none in this
    /// shard runs no unit, and its listing worker is stopped.
    std::optional<Shard> shard;
    /// Estimated seconds per unit, for the shard partition; empty: none, the
    /// partition balances test counts.
    UnitDurations unit_durations;
    /// Limits, timeout and retries of each binary, parallel to `binaries`;
    /// empty: `limits`, `timeout` and `retries` above, for every binary.
    std::vector<BinarySettings> per_binary;
    /// What the history expects of each binary's units (seconds by unit
    /// name), parallel to `binaries`: units start longest first
    /// (schedule.hpp). Empty, or no estimate at all: in planning order.
    std::vector<UnitEstimates> estimates;
    /// The run-wide settings above, as one binary's.
    BinarySettings run_wide() const {
        BinarySettings b;
        b.limits = limits;
        b.timeout = timeout;
        b.slow = slow;
        b.retries = retries;
        b.startup_timeout = startup_timeout;
        b.teardown_timeout = teardown_timeout;
        return b;
    }
};

struct BinaryTests {
    std::string binary;
    /// Never null: empty when discovery failed, and in a run once the binary
    /// was done (its list let go).
    std::shared_ptr<const TestTable> tests;
    std::string error;  ///< why discovery failed, if it did
};

/// A positive count from the environment variable `name`, else no bound.
std::size_t chunk_tests_from_env(const char* name);

class Pool final : public WorkerProcess::Listener, public WarmPool::Client {
  public:
    /// A run of its own (`tend run`): its own event loop, signals and
    /// workers, all stopped at the end.
    Pool(PoolOptions options, Reporter* reporter);
    /// A run in `tend serve`: on the warm pool's loop, with its workers and
    /// test lists, giving workers back when done.
    Pool(PoolOptions options, Reporter* reporter, WarmPool& warm);
    ~Pool() override;

    /// Runs to completion. Returns the summary (also given to the reporter).
    Summary run();
    /// With a warm pool: starts the run; `done` is called (from the loop)
    /// once the summary has gone to the reporter.
    void start(std::function<void(const Summary&)> done);
    /// SIGINT/SIGTERM as `tend run` takes them (the daemon's drain).
    void interrupt(int sig) { on_signal(sig); }
    /// The client cancelled or went away: nothing new starts, running units
    /// are killed at once, and what did not run is reported not_run.
    void cancel(const std::string& why);
    bool finished() const { return finished_; }
    /// The workers this run holds, for `tend status`.
    struct WorkerInfo {
        pid_t pid;
        std::string binary;
        std::chrono::steady_clock::time_point started;
        protocol::Health health;
        std::string_view state;
    };
    std::vector<WorkerInfo> worker_info() const;
    std::uint64_t tests_done() const { return summary_.total; }
    const Summary& summary() const { return summary_; }
    std::uint64_t tests_known() const { return tests_known_; }
    std::size_t workers() const { return slots_.size(); }
    const PoolOptions& options() const { return options_; }
    /// After run() in list_only mode: every binary's tests, in listing order
    /// (shared, not copied). In a run, a binary's tests are let go once it
    /// is done.
    std::vector<BinaryTests> listing() const;
    /// True when some binary could not be started or discovered.
    bool startup_failed() const { return startup_failed_; }
    /// The signal that interrupted the run, or 0.
    int interrupted() const { return shutdown_.signal; }

    void on_message(WorkerProcess& w, protocol::Message& m) override;
    void on_protocol_error(WorkerProcess& w, const std::string& what) override;
    void on_exit(WorkerProcess& w, const ExitStatus& status) override;
    void wake() override { pump(); }

  private:
    /// The limits, timeout and retries that apply to a binary's workers.
    const BinarySettings& settings(std::size_t binary) const { return options_.per_binary[binary]; }
    struct Binary {
        std::string path;
        /// Shared with the warm pool's cache: a run of a warm binary copies
        /// nothing. Let go when the binary is done (not when only listing).
        std::shared_ptr<const TestTable> tests;
        bool listed = false;  ///< its tests are known (and planned)
        bool discovering = false;
        bool given_up = false;
        std::string error;
        std::deque<Unit> pending;
        /// With a shard: its units, planned, until every binary is listed.
        std::vector<Unit> planned;
        std::size_t deaths = 0;
        BinaryIdentity identity;       ///< with a warm pool: the build this run uses
        /// An unmodified binary of this framework, run by tend-batch; empty
        /// for a worker (binary_framework.hpp).
        std::string batches;
        std::string framework_why;  ///< what made it a worker or not, for a message
        std::size_t peak_workers = 0;  ///< most workers at once: the spares to keep
        std::size_t crashed = 0;       ///< workers lost mid-unit while units waited
        bool has_spare = false;        ///< a spare slot of it is starting or idle
        /// When each worker still to be replaced was lost (recycled or dead
        /// with units waiting): the replacement's wait counts from there.
        std::deque<std::chrono::steady_clock::time_point> lost_at;
        /// Its longest unit as the history expects it (until listed); its
        /// units' estimate when the history has none of them; negative: none.
        double recorded_longest = -1;
        std::optional<double> fallback;
    };
    using State = SlotState;
    struct Slot {
        std::shared_ptr<WorkerProcess> proc;
        std::size_t binary = 0;
        State state = State::starting;
        bool discoverer = false;
        bool used = false;   ///< it has run tests
        bool spare = false;  ///< started ahead, beyond -j: takes no unit until promoted
        Unit unit;
        std::uint64_t unit_id = 0;
        std::size_t next = 0;  ///< index in unit.tests of the next result due
        protocol::Health health;
        std::string failure;       ///< protocol error, when the worker broke it
        std::uint64_t serial = 0;  ///< tells a stale timer from this slot's own
        std::shared_ptr<boost::asio::steady_timer> deadline;
        std::chrono::steady_clock::time_point last_progress;  ///< dispatch or last result
        /// The shortest time limit of the unit's tests: how often to look.
        std::optional<std::chrono::nanoseconds> poll;
        std::optional<std::size_t> timed_out;  ///< index in unit.tests killed for its time limit
        std::uint64_t timed_out_after_ns = 0;  ///< how long it had been running then
        std::size_t slow_index = 0;            ///< the test the slow periods count for
        std::uint64_t slow_periods = 0;        ///< slow notices given for it
        bool killed_at_shutdown = false;
        /// When the phase that is not a test (start-up, listing, teardown)
        /// must be over, and the phase that overran it, once one did.
        std::chrono::steady_clock::time_point phase_deadline;
        std::optional<State> overdue;
        /// The stall watch: frames seen at the last look, and for how many
        /// looks in a row the worker has waited for a command meanwhile.
        std::uint64_t watch_frames = 0;
        unsigned watch_looks = 0;
        /// The chunks of the test list received so far (the first worker).
        std::shared_ptr<TestTable> listing;
        /// Since when tend has seen the worker between two tests at the same
        /// place (`between_at`), and whether it was killed for staying there.
        /// Results taken from the batch area while the worker ran: their
        /// copies still to come through the pipe are skipped (from index
        /// `dupes_from` of the unit, `dupes` of them). The area as seen at
        /// the last look, to take only a batch that stayed put a whole look.
        std::size_t dupes_from = 0;
        std::size_t dupes = 0;
        std::uint64_t seen_batch = 0;
        std::optional<std::chrono::steady_clock::time_point> between_since;
        std::uint64_t between_at = 0;
        bool stuck_between = false;
    };

    void begin();
    /// Each binary's recorded_longest and fallback, from options_.estimates.
    void take_estimates();
    /// The shutdown report and summary to the reporter.
    void end();
    void pump();
    bool spawn(std::size_t binary, bool discoverer);
    /// With a warm pool: an idle warm worker of `binary` joins this run.
    bool adopt(std::size_t binary);
    /// With a warm pool: an idle worker leaves this run for the warm pool
    /// (and the room it had in the budget with it, unless `release` is false).
    void give_back(Slot& slot, bool release = true);
    /// An idle worker this run no longer needs: back to the warm pool, or
    /// stopped in a run of its own.
    void let_go(Slot& slot);
    /// A slot of `binary` was added: counts it towards the binary's peak.
    void count_worker(std::size_t binary);
    /// Alone: starts a spare for `binary` when spare.hpp says so.
    void consider_spare(std::size_t binary);
    /// A spare of `binary` takes a place in -j (and a unit, when idle).
    bool promote_spare(std::size_t binary);
    /// A worker of `binary` is gone: recycled, or dead mid-unit (`crashed`).
    void lost_worker(std::size_t binary, bool crashed);
    /// A warning for tests whose declared timeout is negative or NaN.
    void warn_bad_timeouts(std::size_t binary, const TestTable& tests);
    /// The selection that applies to binary `binary`, or none (every test).
    const Selection* selection_of(std::size_t binary) const;
    /// A binary's tests are known: plan its units.
    void listed(std::size_t binary);
    /// With a shard: once every binary is listed (or given up), keeps this
    /// shard's units and stops the workers of binaries left with none.
    void apply_shard();
    /// Lets go of the tests of binaries with nothing left to run (pump).
    void release_done_binaries();
    void dispatch(Slot& slot);
    void arm_deadline(Slot& slot, std::chrono::steady_clock::time_point when);
    /// Bounds the phase the slot just entered (start-up, listing, teardown).
    void arm_phase(Slot& slot, Seconds limit);
    /// Every kWatchEvery while work is out: a worker that waits for a
    /// command while tend waits for its frame has lost the protocol.
    void arm_watchdog();
    void watch();
    /// Results a dead worker finished but had not sent, from its batch area.
    void recover_unsent(Slot& slot, const WorkerProcess& w);
    /// Results a running worker finished long enough ago and still holds:
    /// reported now, not when the test after them ends.
    void take_batched(Slot& slot);
    /// Reports the results in `frames` that are due, in order, up to index
    /// `until` of the unit. Returns how many.
    std::size_t take_results(Slot& slot, std::string_view frames, std::size_t until, pid_t pid);
    void wait_for_signal();
    void on_signal(int sig);
    /// Starts nothing new: waiting units are reported not_run with `reason`.
    void stop_scheduling(std::string reason);
    void kill_busy_workers(bool now);
    std::string interruption() const;
    void check_deadline(Slot& slot);
    /// How long the index-th test of the slot's unit may run, if limited.
    std::optional<std::chrono::nanoseconds> time_limit(const Slot& slot, std::size_t index) const;
    /// Every tick while tests run: slow notices and the reporter's progress.
    void arm_monitor(std::chrono::milliseconds every);
    void monitor();
    void handle_result(Slot& slot, protocol::TestResult& r);
    void handle_finalized(Slot& slot, protocol::Finalized& f);
    /// The test a worker is running (or was, when it died): its index in
    /// the unit and since when, read off the status page when the worker
    /// keeps one. Nothing when it is between two tests.
    static std::optional<RunningTest> running_test(const Slot& slot);
    /// How many tests of the slot's unit the worker has begun (its page).
    static std::size_t begun(const Slot& slot);
    void give_up(std::size_t binary, const std::string& why);
    void report_unrun(std::size_t binary, const Unit& unit, std::size_t from,
                      const std::string& why);
    void report(TestStatus status, std::size_t binary, std::uint32_t id, std::uint64_t duration_ns,
                pid_t pid, const protocol::Health& health,
                const std::vector<protocol::Failure>& failures, std::string_view out,
                std::string_view err, std::string_view detail);
    void notice(std::size_t binary, const std::string& message, bool fails_run);
    /// Decides whether binary `i` is a worker or runs in batches, and says
    /// so once when it runs in batches.
    void resolve_framework(std::size_t i);
    std::size_t live_slots() const;
    /// Workers of `binary` that will take a waiting unit: starting, or idle
    /// with one they may take.
    std::size_t ready_slots(std::size_t binary) const;
    /// The first waiting unit this idle worker may run, or null.
    const Unit* takeable(const Slot& slot) const;
    /// A binary as the scheduler sees it (schedule.hpp).
    BinaryQueue queue(std::size_t binary) const;
    bool all_done() const;

    PoolOptions options_;
    Reporter* reporter_;
    WarmPool* warm_ = nullptr;
    std::unique_ptr<boost::asio::io_context> own_io_;  ///< a run of its own only
    boost::asio::io_context& io_;
    std::unique_ptr<ChildReaper> own_reaper_;
    ChildReaper& reaper_;
    std::function<void(const Summary&)> done_;
    WorkerProcess::Context context_;  ///< env and cwd of this run's workers
    std::string context_key_;         ///< the same as one string: warm workers must match it
    /// A binary's workers' context: the run's, with the binary's arguments,
    /// environment and working directory (BinarySettings).
    WorkerProcess::Context context(std::size_t binary) const;
    /// The same as one string (warm workers and test lists must match it).
    std::string context_key(std::size_t binary) const;
    boost::asio::steady_timer retry_timer_;
    std::optional<boost::asio::signal_set> signals_;
    boost::asio::steady_timer grace_timer_;
    boost::asio::steady_timer monitor_timer_;
    boost::asio::steady_timer watchdog_timer_;
    /// Tests per `run` frame at most (TEND_RUN_CHUNK_TESTS, for tests of the
    /// chunking; the byte bound applies anyway).
    std::size_t run_chunk_tests_ = chunk_tests_from_env("TEND_RUN_CHUNK_TESTS");
    std::uint64_t tests_known_ = 0;  ///< planned so far, for progress
    std::chrono::steady_clock::time_point last_progress_sent_;
    ShutdownReport shutdown_;
    std::string stop_reason_;  ///< why nothing new starts; empty while running normally
    std::size_t failures_seen_ = 0;
    std::unordered_map<std::uint64_t, std::uint32_t>
        attempts_;  ///< (binary, id) -> failed attempts
    std::chrono::steady_clock::time_point shutdown_started_;
    bool retry_pending_ = false;
    bool killed_at_once_ = false;  ///< the last kill of busy workers did not wait
    std::vector<Binary> binaries_;
    std::map<const WorkerProcess*, Slot> slots_;
    Summary summary_;
    std::uint64_t next_unit_id_ = 1;
    std::uint64_t next_slot_serial_ = 1;
    bool startup_failed_ = false;
    bool finished_ = false;
    bool sharded_ = false;        ///< the shard's units are known (always, without a shard)
    bool wished_spares_ = false;  ///< the spares for the next run were asked for
    std::chrono::steady_clock::time_point started_;
};

}  // namespace tend
