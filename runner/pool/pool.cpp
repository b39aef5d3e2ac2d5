// The pool: see pool.hpp.
#include "pool/pool.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "pool/retry.hpp"
#include "pool/shutdown.hpp"
#include "pool/spare.hpp"
#include "pool/worker_death.hpp"

namespace tend {

std::string_view to_string(TestStatus s) {
    switch (s) {
        case TestStatus::passed:
            return "passed";
        case TestStatus::failed:
            return "failed";
        case TestStatus::skipped:
            return "skipped";
        case TestStatus::flaky:
            return "flaky";
        case TestStatus::crashed:
            return "crashed";
        case TestStatus::timed_out:
            return "timed_out";
        case TestStatus::error:
            return "error";
        case TestStatus::not_run:
            return "not_run";
    }
    return "?";
}

bool is_failure(TestStatus s) {
    return s != TestStatus::passed && s != TestStatus::skipped && s != TestStatus::flaky;
}

std::size_t chunk_tests_from_env(const char* name) {
    const char* v = std::getenv(name);
    const long n = v ? std::atol(v) : 0;
    return n > 0 ? static_cast<std::size_t>(n) : static_cast<std::size_t>(-1);
}

namespace {
const std::vector<protocol::Failure> kNoFailures;

TestStatus to_test_status(protocol::Status s) {
    return s == protocol::Status::passed    ? TestStatus::passed
           : s == protocol::Status::skipped ? TestStatus::skipped
                                            : TestStatus::failed;
}
/// How often the stall watch looks, and how many looks in a row make a stall.
constexpr std::chrono::milliseconds kWatchEvery{250};
constexpr unsigned kStalledLooks = 8;
constexpr unsigned kStalledLooksUnread = 40;
/// Of what a crashed test printed, the tail kept in its report.
constexpr std::size_t kCrashOutputBytes = 64 * 1024;
}  // namespace

Pool::Pool(PoolOptions options, Reporter* reporter)
    : options_(std::move(options)),
      reporter_(reporter),
      own_io_(std::make_unique<boost::asio::io_context>()),
      io_(*own_io_),
      own_reaper_(std::make_unique<ChildReaper>(io_)),
      reaper_(*own_reaper_),
      retry_timer_(io_),
      grace_timer_(io_),
      monitor_timer_(io_),
      watchdog_timer_(io_) {
    signals_.emplace(io_, SIGINT, SIGTERM);
    signals_->add(SIGHUP);  // the terminal closed: the same drain as SIGTERM
    if (options_.jobs == 0) options_.jobs = 1;
    context_.env = options_.env;
    context_.cwd = options_.cwd;
    for (const auto& b : options_.binaries) {
        binaries_.emplace_back();
        binaries_.back().path = b;
    }
    // Without per-binary settings, every binary gets the run-wide ones.
    if (options_.per_binary.size() != options_.binaries.size()) {
        options_.per_binary.assign(options_.binaries.size(), options_.run_wide());
    }
    take_estimates();
    sharded_ = !options_.shard || options_.list_only;
    if (options_.shard) summary_.shard = to_string(*options_.shard);
}

Pool::Pool(PoolOptions options, Reporter* reporter, WarmPool& warm)
    : options_(std::move(options)),
      reporter_(reporter),
      warm_(&warm),
      io_(warm.io()),
      reaper_(warm.reaper()),
      retry_timer_(io_),
      grace_timer_(io_),
      monitor_timer_(io_),
      watchdog_timer_(io_) {
    if (options_.jobs == 0 || options_.jobs > warm.jobs()) options_.jobs = warm.jobs();
    context_.env = options_.env;
    context_.cwd = options_.cwd;
    context_key_ = options_.cwd;
    if (options_.env) {
        for (const auto& e : *options_.env) context_key_ += '\0' + e;
    }
    for (const auto& b : options_.binaries) {
        binaries_.emplace_back();
        binaries_.back().path = b;
    }
    if (options_.per_binary.size() != options_.binaries.size()) {
        options_.per_binary.assign(options_.binaries.size(), options_.run_wide());
    }
    take_estimates();
    sharded_ = !options_.shard || options_.list_only;
    if (options_.shard) summary_.shard = to_string(*options_.shard);
}

Pool::~Pool() {
    for (auto& [_, slot] : slots_) {
        slot.proc->kill();
        if (warm_) slot.proc->set_listener(*warm_);  // its exit is the warm pool's news now
    }
    if (warm_) {
        for (std::size_t i = 0; i < slots_.size(); ++i) warm_->release(*this);
        warm_->forget(*this);
    }
}

Summary Pool::run() {
    for (std::size_t i = 0; i < binaries_.size(); ++i) resolve_framework(i);
    become_subreaper();
    wait_for_signal();
    begin();
    io_.run();
    // No orphan outlives the run: what tests left behind, escaped from their
    // worker's process group, has come to tend; end it.
    if (const auto orphans = reap_orphans(); orphans > 0 && !binaries_.empty()) {
        notice(0,
               fmt::format("killed {} process{} the tests left behind", orphans,
                           orphans == 1 ? "" : "es"),
               false);
    }
    end();
    return summary_;
}

void Pool::start(std::function<void(const Summary&)> done) {
    done_ = std::move(done);
    // Binaries as they are now: a rebuilt one is discovered again, an
    // unchanged one takes its test list from the warm pool, which keeps
    // them all while this run lasts.
    for (const auto& b : binaries_) warm_->pin(*this, b.path);
    for (std::size_t i = 0; i < binaries_.size(); ++i) {
        auto& b = binaries_[i];
        const auto identity = warm_->refresh(b.path);
        if (!identity) {
            startup_failed_ = true;
            give_up(i, fmt::format("{}: cannot read the binary", b.path));
            continue;
        }
        b.identity = *identity;
        resolve_framework(i);
        if (auto tests = warm_->tests(b.path, b.identity, context_key(i))) {
            b.tests = std::move(tests);
            listed(i);
        }
    }
    begin();
}

void Pool::cancel(const std::string& why) {
    stop_scheduling(why);
    kill_busy_workers(true);
    pump();
}

void Pool::end() {
    const auto ended = std::chrono::steady_clock::now();
    summary_.duration_s = std::chrono::duration<double>(ended - started_).count();
    if (shutdown_.signal) {
        shutdown_.duration_s = std::chrono::duration<double>(ended - shutdown_started_).count();
        if (reporter_) reporter_->shutdown(shutdown_);
    }
    if (reporter_) reporter_->summary(summary_);
}

void Pool::begin() {
    started_ = std::chrono::steady_clock::now();
    {
        auto every = reporter_ ? reporter_->progress_interval() : std::chrono::milliseconds{};
        std::optional<Seconds> slow;
        for (const auto& b : options_.per_binary) {
            if (b.slow && (!slow || *b.slow < *slow)) slow = b.slow;
        }
        if (slow && reporter_) {
            // Often enough that a slow notice comes close to its time.
            const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(*slow / 4);
            const auto cap =
                std::clamp(period, std::chrono::milliseconds(20), std::chrono::milliseconds(250));
            every = every.count() ? std::min(every, cap) : cap;
        }
        if (every.count()) arm_monitor(every);
    }
    arm_watchdog();
    pump();
}

std::vector<BinaryTests> Pool::listing() const {
    std::vector<BinaryTests> out;
    for (const auto& b : binaries_) {
        out.push_back(
            BinaryTests{b.path, b.tests ? b.tests : std::make_shared<const TestTable>(), b.error});
    }
    return out;
}

std::size_t Pool::live_slots() const {
    std::size_t n = 0;
    for (const auto& [_, s] : slots_) n += s.state != State::stopping && !s.spare;
    return n;
}

std::size_t Pool::ready_slots(std::size_t binary) const {
    std::size_t n = 0;
    for (const auto& [_, s] : slots_) {
        if (s.binary != binary || s.spare) continue;
        // An idle worker counts only if some waiting unit may run on it.
        n += s.state == State::starting || (s.state == State::idle && takeable(s) != nullptr);
    }
    return n;
}

const Unit* Pool::takeable(const Slot& slot) const {
    const auto& pending = binaries_[slot.binary].pending;
    const auto i = takeable_unit(pending, slot.proc->pid());
    return i ? &pending[*i] : nullptr;
}

void Pool::take_estimates() {
    if (options_.estimates.size() != binaries_.size()) {
        options_.estimates.clear();
        return;
    }
    // A binary the history does not know is expected to be like the others.
    const auto run_median = median_estimate(options_.estimates);
    if (!run_median) return;
    for (std::size_t i = 0; i < binaries_.size(); ++i) {
        auto& b = binaries_[i];
        const auto& known = options_.estimates[i];
        if (known.empty()) {
            b.fallback = run_median;
            b.recorded_longest = *run_median;
            continue;
        }
        for (const auto& [_, s] : known) b.recorded_longest = std::max(b.recorded_longest, s);
    }
}

BinaryQueue Pool::queue(std::size_t i) const {
    const auto& b = binaries_[i];
    BinaryQueue q{b.listed, b.discovering, b.given_up, b.pending.size(), 0};
    if (b.recorded_longest >= 0) {
        // Waiting units are longest first, but for a retry or a unit's rest.
        q.longest_s = !b.listed           ? b.recorded_longest
                      : b.pending.empty() ? 0
                                          : std::max(b.pending.front().estimate_s, 0.0);
    }
    // Counting the ready workers looks at every slot: only where it matters.
    if (q.listed && !q.given_up) q.ready = ready_slots(i);
    return q;
}

bool Pool::all_done() const {
    // A shard's units are not known before every binary is.
    if (!sharded_ && stop_reason_.empty()) return false;
    for (const auto& b : binaries_) {
        if (b.given_up) continue;
        if (!b.listed || !b.pending.empty()) return false;
    }
    for (const auto& [_, s] : slots_) {
        if (s.state != State::idle && s.state != State::stopping) return false;
    }
    return true;
}

void Pool::pump() {
    if (finished_) return;
    if (!sharded_) apply_shard();
    // 1. Work for idle workers of the right binary (a retry avoids the
    //    worker it failed on).
    for (auto& [_, slot] : slots_) {
        if (slot.state == State::idle && !slot.spare && takeable(slot)) dispatch(slot);
    }
    // 2. An idle worker with nothing it may take gives its slot to work that
    //    needs one.
    bool someone_waits = false;
    for (std::size_t i = 0; i < binaries_.size(); ++i) someone_waits |= needs_worker(queue(i));
    // With a warm pool, other runs waiting count too.
    if (warm_ && warm_->has_waiters(*this)) someone_waits = true;
    if (const auto n =
            workers_to_free(someone_waits, live_slots(), options_.jobs, warm_ != nullptr);
        n > 0) {
        std::vector<Slot*> spare;
        for (auto& [_, slot] : slots_) {
            if (slot.state == State::idle && !slot.spare && !takeable(slot) &&
                binaries_[slot.binary].listed) {
                spare.push_back(&slot);
                if (spare.size() == n) break;
            }
        }
        // With a warm pool it stays warm there for whichever run wants it.
        for (auto* slot : spare) {
            let_go(*slot);
        }
    }
    // 3. Start workers while there are free slots and work for them:
    //    undiscovered binaries first, then the binary with the most waiting.
    while (live_slots() < options_.jobs) {
        std::vector<BinaryQueue> queues;
        queues.reserve(binaries_.size());
        for (std::size_t i = 0; i < binaries_.size(); ++i) queues.push_back(queue(i));
        const auto next = next_worker(queues);
        if (!next) break;
        const std::size_t pick = next->binary;
        const bool discover = next->discover;
        if (!discover && promote_spare(pick)) continue;
        if (warm_) {
            if (!warm_->acquire(*this)) break;  // woken when a worker goes
            if (!discover && adopt(pick)) continue;
        }
        if (!spawn(pick, discover)) {
            if (warm_) warm_->release(*this);
            // A failed start (EAGAIN, EMFILE) is retried after a pause, not
            // in a tight loop that would use up the binary's deaths at once.
            if (!binaries_[pick].given_up && !retry_pending_) {
                retry_pending_ = true;
                retry_timer_.expires_after(std::chrono::milliseconds(100));
                retry_timer_.async_wait([this](boost::system::error_code ec) {
                    retry_pending_ = false;
                    if (!ec) pump();
                });
            }
            break;
        }
    }
    // Spares of binaries with no unit waiting (or not starting any more)
    // have nothing to replace a worker for; the others may want one.
    for (auto& [_, slot] : slots_) {
        auto& b = binaries_[slot.binary];
        if (!slot.spare || slot.state == State::stopping) continue;
        if (b.pending.empty() || b.given_up || !stop_reason_.empty()) {
            slot.state = State::stopping;
            slot.proc->stop();
            b.has_spare = false;
            b.lost_at.clear();
        }
    }
    for (std::size_t i = 0; i < binaries_.size(); ++i) {
        if (!binaries_[i].pending.empty()) consider_spare(i);
    }
    release_done_binaries();
    // 4. Done: stop the idle workers (or give them back to the warm pool)
    //    and let the loop run out.
    if (all_done()) {
        // The next run of each binary finds as many spares as this one used
        // workers, started in the background once this one is over.
        if (warm_ && !wished_spares_ && !interrupted() && stop_reason_.empty()) {
            wished_spares_ = true;
            for (std::size_t i = 0; i < binaries_.size(); ++i) {
                const auto& b = binaries_[i];
                if (b.given_up || b.peak_workers == 0) continue;
                // Reuse across runs: the workers this run used wait instead.
                const auto count = settings(i).reuse == Reuse::run ? b.peak_workers : 0;
                warm_->keep_spares({b.path, b.identity, context_key(i), context(i),
                                    settings(i).startup_timeout, count});
            }
        }
        std::vector<Slot*> idle;
        for (auto& [_, slot] : slots_) {
            if (slot.state == State::idle) idle.push_back(&slot);
        }
        for (auto* slot : idle) {
            let_go(*slot);
        }
        if (slots_.empty()) {
            finished_ = true;
            if (own_reaper_) reaper_.close();
            boost::system::error_code ignored;
            if (signals_) signals_->cancel(ignored);
            grace_timer_.cancel();
            retry_timer_.cancel();
            monitor_timer_.cancel();
            watchdog_timer_.cancel();
            if (warm_) {
                warm_->forget(*this);
                // Not from inside a worker's handler: `done` may end this run.
                boost::asio::post(io_, [this] {
                    end();
                    if (done_) done_(summary_);
                });
            }
        }
    }
}

std::vector<Pool::WorkerInfo> Pool::worker_info() const {
    static constexpr std::string_view kStates[] = {"starting", "listing",    "idle",
                                                   "running",  "finalizing", "stopping"};
    std::vector<WorkerInfo> out;
    for (const auto& [_, s] : slots_) {
        out.push_back({s.proc->pid(), s.proc->binary(), s.proc->started(), s.health,
                       kStates[static_cast<int>(s.state)]});
    }
    return out;
}

bool Pool::adopt(std::size_t binary) {
    auto& b = binaries_[binary];
    auto proc = warm_->take(b.path, b.identity, context_key(binary), *this,
                            settings(binary).reuse == Reuse::daemon);
    if (!proc) {
        // A spare on its way is nearer than a worker started now: this run
        // waits for its hello as for one of its own.
        proc = warm_->take_starting(b.path, b.identity, context_key(binary), *this);
        if (!proc) return false;
        Slot slot;
        slot.proc = proc;
        slot.binary = binary;
        slot.serial = next_slot_serial_++;
        arm_phase(slots_.emplace(proc.get(), std::move(slot)).first->second,
                  settings(binary).startup_timeout);
        count_worker(binary);
        return true;
    }
    Slot slot;
    slot.proc = proc;
    slot.binary = binary;
    slot.serial = next_slot_serial_++;
    slot.state = State::idle;
    // A worker another run used (Reuse::daemon) counts as used here too.
    slot.used = settings(binary).reuse == Reuse::daemon;
    auto& s = slots_.emplace(proc.get(), std::move(slot)).first->second;
    if (!takeable(s)) {
        // The worker a retry must avoid: back it goes, a fresh one starts in
        // the room it had.
        give_back(s, false);
        return false;
    }
    count_worker(binary);
    dispatch(s);
    return true;
}

void Pool::consider_spare(std::size_t binary) {
    if (warm_ || !options_.spares || !stop_reason_.empty() || options_.list_only) return;
    auto& b = binaries_[binary];
    if (!b.listed || b.given_up || b.has_spare) return;
    SpareSituation s;
    s.units_waiting = !b.pending.empty();
    s.crashed = b.crashed;
    s.last_death_left = b.deaths + 1 >= options_.max_worker_deaths;
    const auto now = std::chrono::steady_clock::now();
    for (const auto& [_, slot] : slots_) {
        if (slot.binary != binary || slot.spare) continue;
        if ((slot.state == State::running || slot.state == State::finalizing) &&
            recycle_likely(slot.health, now - slot.proc->started(), settings(binary).limits)) {
            s.recycle_due = true;
            break;
        }
    }
    if (!wants_spare(s)) return;
    std::string error;
    auto proc = WorkerProcess::spawn(io_, b.path, *this, error, context(binary));
    if (!proc) return;  // no spare: a replacement starts when one is needed
    reaper_.watch(proc);
    ++summary_.workers_started;
    b.has_spare = true;
    Slot slot;
    slot.proc = proc;
    slot.binary = binary;
    slot.serial = next_slot_serial_++;
    slot.spare = true;
    arm_phase(slots_.emplace(proc.get(), std::move(slot)).first->second,
              settings(binary).startup_timeout);
}

bool Pool::promote_spare(std::size_t binary) {
    auto& b = binaries_[binary];
    if (!b.has_spare) return false;
    for (auto& [_, slot] : slots_) {
        if (!slot.spare || slot.binary != binary || slot.state == State::stopping) continue;
        slot.spare = false;
        b.has_spare = false;
        count_worker(binary);
        if (slot.state == State::idle) {
            // Ready: the place was empty no longer than this.
            if (!b.lost_at.empty()) {
                summary_.replacement_wait_s +=
                    Seconds(std::chrono::steady_clock::now() - b.lost_at.front()).count();
                b.lost_at.pop_front();
            }
            if (takeable(slot)) dispatch(slot);
        }
        return true;
    }
    b.has_spare = false;
    return false;
}

void Pool::lost_worker(std::size_t binary, bool crashed) {
    auto& b = binaries_[binary];
    if (b.pending.empty() || b.given_up || !stop_reason_.empty()) return;
    b.crashed += crashed;
    b.lost_at.push_back(std::chrono::steady_clock::now());
}

void Pool::let_go(Slot& slot) {
    if (warm_) return give_back(slot);
    slot.state = State::stopping;
    slot.proc->stop();
}

void Pool::count_worker(std::size_t binary) {
    std::size_t n = 0;
    for (const auto& [_, s] : slots_) n += s.binary == binary && s.state != State::stopping;
    auto& b = binaries_[binary];
    b.peak_workers = std::max(b.peak_workers, n);
}

void Pool::give_back(Slot& slot, bool release) {
    if (slot.killed_at_shutdown) {  // terminated: its exit is on the way
        slot.state = State::stopping;
        return;
    }
    auto proc = slot.proc;
    if (slot.deadline) slot.deadline->cancel();
    WarmPool::Returned how;
    how.identity = binaries_[slot.binary].identity;
    how.context = context_key(slot.binary);
    how.health = slot.health;
    how.used = slot.used;
    how.reuse = settings(slot.binary).reuse;
    how.release = release;
    slots_.erase(proc.get());
    warm_->give_back(std::move(proc), std::move(how), *this);
}

WorkerProcess::Context Pool::context(std::size_t binary) const {
    auto c = context_;
    const auto& s = settings(binary);
    c.args = s.args;
    c.extra_env = s.env;
    if (!s.cwd.empty()) c.cwd = s.cwd;
    c.batches = binaries_[binary].batches;
    return c;
}

void Pool::resolve_framework(std::size_t i) {
    auto& b = binaries_[i];
    const auto& setting = settings(i).framework;
    const auto found =
        warm_ ? warm_->framework_of(b.path, setting) : tend::resolve_framework(setting, b.path);
    b.batches = found.batches;
    b.framework_why = found.why;
    if (b.batches.empty()) return;
    const std::string_view target = b.batches == "gtest"     ? "tend::gtest_main"
                                    : b.batches == "doctest" ? "tend::doctest_main"
                                                             : "tend::catch2_main";
    notice(i,
           fmt::format("not linked with tend's worker library ({}): its {} tests run in batches "
                       "of fresh processes. For warm workers, link it with {} instead of the "
                       "framework's main (docs/user-guide.md, \"Unmodified binaries\")",
                       found.why, b.batches, target),
           false);
}

std::string Pool::context_key(std::size_t binary) const {
    const auto& s = settings(binary);
    const auto& batches = binaries_[binary].batches;
    if (s.args.empty() && s.env.empty() && s.cwd.empty() && batches.empty()) return context_key_;
    std::string key = context_key_;
    if (!batches.empty()) key += std::string("\0\0batches\0", 10) + batches;
    key += std::string("\0\0cwd\0", 6) + s.cwd;
    for (const auto& a : s.args) key += std::string("\0arg\0", 5) + a;
    for (const auto& e : s.env) key += std::string("\0env\0", 5) + e;
    return key;
}

bool Pool::spawn(std::size_t binary, bool discoverer) {
    auto& b = binaries_[binary];
    std::string error;
    auto proc = WorkerProcess::spawn(io_, b.path, *this, error, context(binary));
    if (!proc) {
        if (discoverer || !b.listed) {
            startup_failed_ = true;
            give_up(binary, error);
        } else {
            ++summary_.workers_crashed;
            if (++b.deaths >= options_.max_worker_deaths) give_up(binary, error);
        }
        return false;
    }
    reaper_.watch(proc);
    ++summary_.workers_started;
    Slot slot;
    slot.proc = proc;
    slot.binary = binary;
    slot.serial = next_slot_serial_++;
    slot.discoverer = discoverer;
    if (discoverer) b.discovering = true;
    arm_phase(slots_.emplace(proc.get(), std::move(slot)).first->second,
              settings(binary).startup_timeout);
    count_worker(binary);
    return true;
}

void Pool::dispatch(Slot& slot) {
    auto& b = binaries_[slot.binary];
    const Unit* unit = takeable(slot);
    const auto at = b.pending.begin() + (unit - &b.pending.front());
    slot.unit = std::move(*at);
    b.pending.erase(at);
    slot.unit_id = next_unit_id_++;
    slot.next = 0;
    slot.state = State::running;
    slot.used = true;
    slot.last_progress = std::chrono::steady_clock::now();
    slot.slow_index = 0;
    slot.slow_periods = 0;
    slot.dupes = slot.dupes_from = 0;
    slot.seen_batch = 0;
    slot.between_since.reset();
    slot.poll.reset();
    for (std::size_t i = 0; i < slot.unit.tests.size(); ++i) {
        if (const auto limit = time_limit(slot, i); limit && (!slot.poll || *limit < *slot.poll))
            slot.poll = limit;
    }
    if (slot.poll) arm_deadline(slot, slot.last_progress + *slot.poll);
    if (reporter_) {
        reporter_->started(
            StartedEvent{b.path, (*b.tests)[slot.unit.tests.front()], slot.proc->pid()});
    }
    // One request, in chunks far under the frame limit when the unit is
    // long (a suite of a hundred thousand tests).
    const auto& ids = slot.unit.tests;
    const Selection* selection = selection_of(slot.binary);
    const bool run_skipped = selection && selection->runs_ignored();
    std::size_t from = 0;
    do {
        protocol::RunUnit req;
        req.unit = slot.unit_id;
        req.flush = slot.unit.careful;
        req.run_skipped = run_skipped;
        std::size_t bytes = 0;
        std::size_t to = from;
        while (to < ids.size() &&
               (to == from || (bytes < protocol::kChunkBytes && to - from < run_chunk_tests_))) {
            bytes += 16 + b.tests->name(ids[to]).size();
            ++to;
        }
        req.tests.reserve(to - from);
        for (std::size_t i = from; i < to; ++i)
            req.tests.push_back({ids[i], std::string(b.tests->name(ids[i]))});
        req.more = to < ids.size();
        slot.proc->send(req);
        from = to;
    } while (from < ids.size());
}

void Pool::wait_for_signal() {
    signals_->async_wait([this](boost::system::error_code ec, int sig) {
        if (ec) return;
        on_signal(sig);
        if (!finished_) wait_for_signal();
    });
}

std::string Pool::interruption() const {
    return not_run_reason(stop_reason_);
}

void Pool::stop_scheduling(std::string reason) {
    if (!stop_reason_.empty()) return;
    stop_reason_ = std::move(reason);
    // Nothing new starts; what waits is reported, not lost.
    for (std::size_t i = 0; i < binaries_.size(); ++i) {
        auto& b = binaries_[i];
        while (!b.pending.empty()) {
            report_unrun(i, b.pending.front(), 0, interruption());
            b.pending.pop_front();
            ++shutdown_.units_cancelled;
        }
        if (!b.listed && !b.given_up) notice(i, not_started_notice(stop_reason_), false);
        b.given_up = true;
    }
    for (auto& [_, slot] : slots_) {
        if (stops_with_scheduling(slot.state)) {
            slot.state = State::stopping;
            slot.proc->stop(options_.kill_grace);
        }
    }
}

void Pool::on_signal(int sig) {
    if (respond_to_signal(shutdown_.signal != 0) == SignalResponse::kill_now) {
        kill_busy_workers(true);
        return;
    }
    shutdown_.signal = sig;
    shutdown_started_ = std::chrono::steady_clock::now();
    stop_reason_.clear();  // a signal overrides --max-fail's stop
    stop_scheduling(interrupted_reason(sig));
    grace_timer_.expires_after(
        std::chrono::duration_cast<std::chrono::nanoseconds>(options_.shutdown_grace));
    grace_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) kill_busy_workers(false);
    });
    pump();
}

void Pool::kill_busy_workers(bool now) {
    killed_at_once_ = now;
    for (auto& [_, slot] : slots_) {
        const auto kill = kill_busy(slot.state, now, options_.kill_grace);
        if (!kill.terminate) continue;
        if (kill.cut_short) slot.killed_at_shutdown = true;
        slot.proc->terminate(kill.grace);
    }
}

void Pool::arm_deadline(Slot& slot, std::chrono::steady_clock::time_point when) {
    if (!slot.deadline) slot.deadline = std::make_shared<boost::asio::steady_timer>(io_);
    slot.deadline->expires_at(when);
    // The timer may outlive the slot (it is erased when its worker exits):
    // the handler finds the slot again by worker and serial, or does nothing.
    slot.deadline->async_wait([this, key = slot.proc.get(), serial = slot.serial,
                               timer = slot.deadline](boost::system::error_code ec) {
        if (ec) return;
        auto it = slots_.find(key);
        if (it != slots_.end() && it->second.serial == serial) check_deadline(it->second);
    });
}

std::optional<std::chrono::nanoseconds> Pool::time_limit(const Slot& slot,
                                                         std::size_t index) const {
    const auto& test = (*binaries_[slot.binary].tests)[slot.unit.tests[index]];
    return test_time_limit(settings(slot.binary).timeout, test.timeout_s);
}

void Pool::arm_phase(Slot& slot, Seconds limit) {
    slot.phase_deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::nanoseconds>(limit);
    arm_deadline(slot, slot.phase_deadline);
}

void Pool::arm_watchdog() {
    watchdog_timer_.expires_after(kWatchEvery);
    watchdog_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || finished_) return;
        watch();
        arm_watchdog();
    });
}

void Pool::watch() {
    std::vector<Slot*> stalled;
    std::vector<Slot*> holding;
    for (auto& [_, slot] : slots_) {
        if (slot.state == State::running) holding.push_back(&slot);
        const bool awaits_frame = slot.state == State::starting || slot.state == State::listing ||
                                  slot.state == State::running || slot.state == State::finalizing;
        const auto frames = slot.proc->frames();
        if (!awaits_frame || !slot.proc->waiting_for_command() || frames != slot.watch_frames) {
            slot.watch_frames = frames;
            slot.watch_looks = 0;
            continue;
        }
        // Frames in the pipe are read long before this many looks: the
        // worker sent what it had and tend is still missing some. While a
        // command still sits unread, the worker may just not have been
        // scheduled: it gets longer (a replaced command descriptor ends
        // that way too).
        const unsigned looks =
            slot.proc->unread_commands() > 0 ? kStalledLooksUnread : kStalledLooks;
        if (++slot.watch_looks >= looks) stalled.push_back(&slot);
    }
    for (auto* slot : holding) take_batched(*slot);
    for (auto* slot : stalled) {
        const char* awaited = slot->state == State::running      ? "a test result"
                              : slot->state == State::finalizing ? "the end of the teardown"
                              : slot->state == State::listing    ? "the test list"
                                                                 : "its hello";
        slot->proc->fail(fmt::format(
            "the worker waits for a command while tend waits for {}: the protocol stream lost "
            "its framing (did a test read or write the protocol descriptors?)",
            awaited));
    }
}

void Pool::recover_unsent(Slot& slot, const WorkerProcess& w) {
    // After a protocol break the tests since the last result run again
    // (on_exit): none of them is taken from the batch.
    if (slot.state != State::running || !slot.failure.empty()) return;
    const auto* page = w.status();
    if (!page || page->unit.load(std::memory_order_acquire) != slot.unit_id) return;
    // Only tests the page counts finished: a frame for any other was not
    // put there by the runtime.
    std::size_t until = page->finished.load(std::memory_order_acquire);
    if (slot.timed_out) until = std::min(until, *slot.timed_out);
    take_results(slot, w.unsent_batch(), until, w.pid());
}

void Pool::take_batched(Slot& slot) {
    const auto* page = slot.proc->status();
    if (!page || slot.timed_out || !slot.failure.empty() ||
        page->unit.load(std::memory_order_acquire) != slot.unit_id)
        return;
    // A batch that stayed the same for a whole look: the worker is in a
    // longer test and would send it only when that ends.
    const std::uint64_t seen =
        (std::uint64_t{page->batch_seq.load(std::memory_order_acquire)} << 32) |
        page->batch_bytes.load(std::memory_order_acquire);
    const bool settled = (seen & 0xffffffffu) != 0 && seen == slot.seen_batch;
    slot.seen_batch = seen;
    if (!settled) return;
    const auto copy = slot.proc->copy_unsent_batch();
    if (!copy) return;
    const std::size_t from = slot.next;
    const std::size_t until = page->finished.load(std::memory_order_acquire);
    const std::size_t taken = take_results(slot, *copy, until, slot.proc->pid());
    if (taken == 0) return;
    // Their frames still come through the pipe, later: skipped then.
    if (slot.dupes == 0) slot.dupes_from = from;
    slot.dupes += taken;
}

std::size_t Pool::take_results(Slot& slot, std::string_view frames, std::size_t until, pid_t pid) {
    if (frames.empty()) return 0;
    protocol::FrameDecoder decoder;
    decoder.feed(frames.data(), frames.size());
    const auto& tests = slot.unit.tests;
    until = std::min(until, tests.size());
    std::size_t taken = 0;
    for (auto ev = decoder.next(); ev.kind == protocol::FrameEvent::Kind::frame;
         ev = decoder.next()) {
        if (slot.next >= until || slot.state != State::running) break;
        auto decoded = protocol::decode_payload(ev.payload);
        auto* r = decoded.message ? std::get_if<protocol::TestResult>(&*decoded.message) : nullptr;
        if (!r || r->unit != slot.unit_id) break;
        if (r->id != tests[slot.next]) continue;  // it came through the pipe already
        ++taken;
        if (slot.proc->exited()) {
            ++slot.next;
            slot.health = r->health;
            report(to_test_status(r->status), slot.binary, r->id, r->duration_ns, pid, r->health,
                   r->failures, r->out, r->err, {});
        } else {
            handle_result(slot, *r);  // as if it had come: the next test's start, finalize
        }
    }
    return taken;
}

void Pool::check_deadline(Slot& slot) {
    const auto now = std::chrono::steady_clock::now();
    DeadlineLook look;
    look.state = slot.state;
    look.phase_deadline = slot.phase_deadline;
    look.overdue = slot.overdue.has_value();
    look.killed = slot.timed_out || slot.stuck_between;
    look.poll = slot.poll;
    if (watches_tests(look)) {
        look.running = running_test(slot);
        if (look.running) {
            slot.between_since.reset();
            look.limit = time_limit(slot, look.running->index);
        } else {
            // Between two tests: where, as the page and the results say; a
            // new place starts the count again.
            const auto* page = slot.proc->status();
            const std::uint64_t at =
                page ? (std::uint64_t{page->started.load(std::memory_order_acquire)} << 32) |
                           slot.next
                     : slot.next;
            if (!slot.between_since || slot.between_at != at) {
                slot.between_at = at;
                slot.between_since = now;
            }
            look.between_since = *slot.between_since;
            // Not begun yet: the request may still be arriving in chunks,
            // the framework setting the unit up; bounded as a start is.
            if (begun(slot) == 0) {
                look.between_limit = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    settings(slot.binary).startup_timeout);
            }
        }
    }
    const auto verdict = tend::check_deadline(look, now);
    switch (verdict.kind) {
        case DeadlineVerdict::Kind::none:
            return;
        case DeadlineVerdict::Kind::look_again:
            return arm_deadline(slot, verdict.at);
        case DeadlineVerdict::Kind::phase_overdue:
            slot.overdue = slot.state;
            break;
        case DeadlineVerdict::Kind::stuck_between:
            slot.stuck_between = true;
            break;
        case DeadlineVerdict::Kind::test_timed_out:
            slot.timed_out = look.running->index;
            slot.timed_out_after_ns = verdict.running_ns;
            break;
    }
    slot.proc->terminate(options_.kill_grace);
}

void Pool::arm_monitor(std::chrono::milliseconds every) {
    monitor_timer_.expires_after(every);
    monitor_timer_.async_wait([this, every](boost::system::error_code ec) {
        if (ec || finished_) return;
        monitor();
        arm_monitor(every);
    });
}

void Pool::monitor() {
    const auto now = std::chrono::steady_clock::now();
    // The tick may come more often than the reporter asked (slow notices
    // need it): progress goes out at the reporter's own pace.
    const auto every = reporter_->progress_interval();
    const bool progress =
        every.count() > 0 && (last_progress_sent_ == std::chrono::steady_clock::time_point{} ||
                              now - last_progress_sent_ >= every - every / 10);
    if (progress) last_progress_sent_ = now;
    Progress p;
    for (auto& [_, slot] : slots_) {
        if (slot.state != State::running) continue;
        const auto running = running_test(slot);
        if (!running) continue;
        const auto& b = binaries_[slot.binary];
        const auto& test = (*b.tests)[slot.unit.tests[running->index]];
        const auto running_for =
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - running->since);
        const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(0, running_for.count()));
        if (const auto& slow = settings(slot.binary).slow) {
            if (slot.slow_index != running->index) {
                slot.slow_index = running->index;
                slot.slow_periods = 0;
            }
            const auto periods =
                static_cast<std::uint64_t>(std::chrono::duration<double>(running_for) / *slow);
            if (periods > slot.slow_periods) {
                slot.slow_periods = periods;
                reporter_->slow(SlowEvent{b.path, test, ns, slot.proc->pid()});
            }
        }
        if (progress) p.running.push_back(Progress::Running{&b.path, test, ns});
    }
    if (!progress) return;
    p.done = summary_.total;
    p.total = tests_known_;
    for (std::size_t i = 0; i < kTestStatusCount; ++i) {
        const auto status = static_cast<TestStatus>(i);
        if (is_failure(status) && status != TestStatus::not_run) p.failed += summary_.counts[i];
    }
    p.elapsed_s = std::chrono::duration<double>(now - started_).count();
    std::sort(p.running.begin(), p.running.end(),
              [](const auto& a, const auto& b) { return a.running_ns > b.running_ns; });
    reporter_->progress(p);
}

void Pool::on_message(WorkerProcess& w, protocol::Message& m) {
    auto it = slots_.find(&w);
    if (it == slots_.end()) return;
    Slot& slot = it->second;
    // Killed for missing its start-up or teardown deadline, or stopped
    // before it was listed (Ctrl-C): what it says now changes nothing.
    if (slot.overdue) return;
    if (slot.state == State::stopping && (std::holds_alternative<protocol::Hello>(m) ||
                                          std::holds_alternative<protocol::TestList>(m)))
        return;
    auto& b = binaries_[slot.binary];
    auto unexpected = [&] {
        w.fail(fmt::format("unexpected '{}' message", protocol::type_name(m)));
    };

    if (auto* hello = std::get_if<protocol::Hello>(&m)) {
        if (slot.state != State::starting) return unexpected();
        if (hello->version != protocol::kProtocolVersion) {
            return w.fail(fmt::format("worker speaks protocol version {}, tend speaks {}",
                                      hello->version, protocol::kProtocolVersion));
        }
        w.open_captures();
        if (slot.discoverer) {
            slot.state = State::listing;
            arm_phase(slot, settings(slot.binary).startup_timeout);
            w.send(protocol::ListRequest{});
        } else {
            if (slot.deadline) slot.deadline->cancel();
            slot.state = State::idle;
            if (!slot.spare && !b.lost_at.empty()) {
                summary_.replacement_wait_s +=
                    Seconds(std::chrono::steady_clock::now() - b.lost_at.front()).count();
                b.lost_at.pop_front();
            }
            pump();
        }
        return;
    }
    if (auto* list = std::get_if<protocol::TestList>(&m)) {
        if (slot.state != State::listing) return unexpected();
        // A long list comes in chunks, ids counting on across them.
        if (!slot.listing) slot.listing = std::make_shared<TestTable>();
        auto& listed_so_far = *slot.listing;
        const std::size_t first = listed_so_far.size();
        for (std::size_t i = 0; i < list->tests.size(); ++i) {
            if (list->tests[i].id != first + i) {
                return w.fail(fmt::format("test list: test {} has id {}; ids must count up from 0",
                                          first + i, list->tests[i].id));
            }
        }
        for (const auto& t : list->tests) listed_so_far.push_back(t);
        if (list->more) {
            // Each chunk of tests is progress: the start-up limit counts
            // from it (an empty one is not).
            if (!list->tests.empty()) arm_phase(slot, settings(slot.binary).startup_timeout);
            return;
        }
        listed_so_far.finish();
        warn_bad_timeouts(slot.binary, listed_so_far);
        b.tests = std::move(slot.listing);
        b.discovering = false;
        if (warm_) warm_->remember_tests(b.path, b.identity, context_key(slot.binary), b.tests);
        if (slot.deadline) slot.deadline->cancel();
        slot.state = State::idle;
        listed(slot.binary);
        pump();
        return;
    }
    if (auto* result = std::get_if<protocol::TestResult>(&m)) {
        if (slot.dupes > 0 && result->unit == slot.unit_id) {
            // Taken from the batch area already: this is its copy.
            if (slot.dupes_from >= slot.unit.tests.size() ||
                slot.unit.tests[slot.dupes_from] != result->id) {
                return w.fail(fmt::format(
                    "result for test id {} when the copy of test id {} "
                    "was due",
                    result->id,
                    slot.dupes_from < slot.unit.tests.size() ? slot.unit.tests[slot.dupes_from]
                                                             : 0));
            }
            ++slot.dupes_from;
            --slot.dupes;
            return;
        }
        if (slot.state != State::running || result->unit != slot.unit_id) return unexpected();
        return handle_result(slot, *result);
    }
    if (auto* fin = std::get_if<protocol::Finalized>(&m)) {
        if (slot.state != State::finalizing || fin->unit != slot.unit_id) return unexpected();
        return handle_finalized(slot, *fin);
    }
    if (auto* err = std::get_if<protocol::WorkerError>(&m)) {
        return w.fail("worker reported: " + err->message);
    }
    unexpected();
}

void Pool::warn_bad_timeouts(std::size_t binary, const TestTable& tests) {
    std::size_t bad = 0;
    std::string named;
    for (const auto& t : tests) {
        if (t.timeout_s >= 0) continue;  // NaN compares false too
        if (++bad <= 3) {
            named += fmt::format("{}'{}{}{}' ({})", named.empty() ? "" : ", ", t.suite,
                                 t.suite.empty() ? "" : "/", t.name, t.timeout_s);
        }
    }
    if (bad == 0) return;
    notice(binary,
           fmt::format("{} test{} declare{} a timeout that is not a number of seconds: {}{}; "
                       "ignored, {} run{} without one",
                       bad, bad == 1 ? "" : "s", bad == 1 ? "s" : "", named,
                       bad > 3 ? fmt::format(" and {} more", bad - 3) : "",
                       bad == 1 ? "it" : "they", bad == 1 ? "s" : ""),
           false);
}

const Selection* Pool::selection_of(std::size_t binary) const {
    if (options_.selection.size() > binary) return &options_.selection[binary];
    if (options_.selection.size() == 1) return &options_.selection[0];
    return nullptr;
}

void Pool::listed(std::size_t binary) {
    auto& b = binaries_[binary];
    b.listed = true;
    if (options_.list_only || !stop_reason_.empty()) return;
    const Selection* selection = selection_of(binary);
    std::vector<std::uint32_t> chosen;
    const bool all = !selection || selection->all();
    if (!all) {
        for (const auto& t : *b.tests) {
            if (selects(*selection, t)) chosen.push_back(t.id);
        }
        summary_.filtered += b.tests->size() - chosen.size();
    }
    auto units = plan_units(binary, *b.tests, all ? nullptr : &chosen);
    if (!sharded_) {
        b.planned = std::move(units);  // apply_shard() picks from them
        return;
    }
    if (!options_.estimates.empty())
        order_longest_first(units, options_.estimates[binary], b.fallback);
    for (auto& u : units) {
        tests_known_ += u.tests.size();
        b.pending.push_back(std::move(u));
    }
}

void Pool::apply_shard() {
    if (sharded_ || !stop_reason_.empty()) return;
    for (const auto& b : binaries_) {
        if (!b.listed && !b.given_up) return;
    }
    sharded_ = true;
    // The partition needs every binary's units: the same on every machine
    // that lists the same binaries with the same selection.
    std::vector<std::vector<Unit>> planned;
    for (auto& b : binaries_) planned.push_back(std::move(b.planned));
    summary_.filtered +=
        keep_shard(planned, options_.binaries, options_.unit_durations, *options_.shard);
    for (std::size_t i = 0; i < binaries_.size(); ++i) {
        auto& b = binaries_[i];
        // Longest first within the shard, as without one.
        if (!options_.estimates.empty())
            order_longest_first(planned[i], options_.estimates[i], b.fallback);
        for (auto& u : planned[i]) {
            tests_known_ += u.tests.size();
            if (b.given_up) {
                report_unrun(i, u, 0, b.error);
            } else {
                b.pending.push_back(std::move(u));
            }
        }
    }
    // The listing workers of binaries with nothing in this shard run
    // nothing: they go now, and no other starts for those binaries.
    std::vector<Slot*> idle;
    for (auto& [_, slot] : slots_) {
        if (slot.state == State::idle && !slot.spare && binaries_[slot.binary].pending.empty())
            idle.push_back(&slot);
    }
    for (auto* slot : idle) {
        let_go(*slot);
    }
}

void Pool::release_done_binaries() {
    if (options_.list_only || !sharded_) return;
    for (std::size_t i = 0; i < binaries_.size(); ++i) {
        auto& b = binaries_[i];
        if (!b.tests || !b.listed || !b.pending.empty()) continue;
        const bool busy = std::any_of(slots_.begin(), slots_.end(), [&](const auto& s) {
            return s.second.binary == i &&
                   (s.second.state == State::running || s.second.state == State::finalizing);
        });
        // Nothing of it runs or waits, and a retry would be waiting: its
        // results are all reported, and tend keeps nothing of them.
        if (busy) continue;
        b.tests.reset();
        if (reporter_) reporter_->binary_done(b.path);
    }
}

void Pool::handle_result(Slot& slot, protocol::TestResult& r) {
    const auto& tests = slot.unit.tests;
    // Killed for its time limit: results of the tests before it still count
    // (the worker sends its batch as it dies), the timed-out one's does not.
    if (slot.timed_out && slot.next >= *slot.timed_out) return;
    if (slot.next >= tests.size() || tests[slot.next] != r.id) {
        return slot.proc->fail(fmt::format("result for test id {} when test id {} was due", r.id,
                                           slot.next < tests.size() ? tests[slot.next] : 0));
    }
    // The runtime counts a test finished before it writes the result: one
    // that comes earlier was written by someone else on its descriptor.
    if (const auto* page = slot.proc->status();
        page && page->attached.load(std::memory_order_acquire) == 1 &&
        page->unit.load(std::memory_order_acquire) == slot.unit_id &&
        page->finished.load(std::memory_order_acquire) <= slot.next) {
        return slot.proc->fail(
            "a result came for a test the worker had not finished: something else wrote on the "
            "result descriptor (the test itself?)");
    }
    ++slot.next;
    slot.health = r.health;
    slot.last_progress = std::chrono::steady_clock::now();
    if (const auto& b = binaries_[slot.binary];
        !b.has_spare && !b.pending.empty() && options_.spares && !warm_ &&
        recycle_likely(r.health, slot.last_progress - slot.proc->started(),
                       settings(slot.binary).limits)) {
        consider_spare(slot.binary);  // started while this unit runs, not after
    }
    report(to_test_status(r.status), slot.binary, r.id, r.duration_ns, slot.proc->pid(), r.health,
           r.failures, r.out, r.err, {});
    if (slot.next < tests.size() && reporter_) {
        const auto& b = binaries_[slot.binary];
        reporter_->started(StartedEvent{b.path, (*b.tests)[tests[slot.next]], slot.proc->pid()});
    }
    if (slot.next == tests.size()) {
        slot.state = State::finalizing;
        arm_phase(slot, settings(slot.binary).teardown_limit());
        slot.proc->send(protocol::Finalize{slot.unit_id});
    }
}

void Pool::handle_finalized(Slot& slot, protocol::Finalized& f) {
    const auto& b = binaries_[slot.binary];
    if (slot.deadline) slot.deadline->cancel();
    if (shutdown_.signal) ++shutdown_.units_finished;
    // A failed teardown is reported with what it printed; the output of a
    // teardown that succeeded is not shown anywhere (yet).
    for (const auto& e : f.errors) {
        std::string message = fmt::format("unit '{}': {}", slot.unit.name, e);
        if (!f.out.empty()) message += "\nteardown stdout:\n" + f.out;
        if (!f.err.empty()) message += "\nteardown stderr:\n" + f.err;
        notice(slot.binary, message, true);
    }
    // The reading after teardown is the one that counts; a worker that can
    // not measure after teardown falls back to its last per-test reading.
    if (f.health.rss_bytes) slot.health.rss_bytes = f.health.rss_bytes;
    if (f.health.open_fds) slot.health.open_fds = f.health.open_fds;
    const Seconds age = std::chrono::steady_clock::now() - slot.proc->started();
    if (auto reason = evaluate_recycle(slot.health, age, settings(slot.binary).limits)) {
        ++summary_.recycled[static_cast<std::size_t>(reason->kind)];
        if (reporter_) reporter_->recycle(RecycleEvent{b.path, slot.proc->pid(), *reason});
        slot.state = State::stopping;
        slot.proc->stop();
        lost_worker(slot.binary, false);
    } else {
        slot.state = State::idle;
        // Another run waits and this one holds more than its share.
        if (warm_ && warm_->should_yield(*this, live_slots())) give_back(slot);
    }
    pump();
}

void Pool::on_protocol_error(WorkerProcess& w, const std::string& what) {
    auto it = slots_.find(&w);
    if (it == slots_.end()) return;
    if (it->second.failure.empty()) it->second.failure = what;
}

void Pool::on_exit(WorkerProcess& w, const ExitStatus& status) {
    auto it = slots_.find(&w);
    if (it == slots_.end()) return;
    if (warm_) warm_->release(*this);
    Slot slot = std::move(it->second);
    slots_.erase(it);
    if (slot.deadline) slot.deadline->cancel();
    auto& b = binaries_[slot.binary];
    // What it finished and never sent counts before anything is said of
    // what it did not finish.
    recover_unsent(slot, w);
    const std::string how =
        slot.failure.empty()
            ? fmt::format("worker {} {}", w.pid(), status.describe())
            : fmt::format("worker {} broke the protocol: {}", w.pid(), slot.failure);
    const bool clean = slot.failure.empty() && !status.signaled && status.code == 0;

    switch (slot.state) {
        case State::stopping: {
            // Its tests are all reported; an unclean exit is still worth
            // saying, and fails the run unless tend killed it (the grace
            // period of a stop, a signal at shutdown).
            StoppedWorker stopped;
            stopped.how = how;
            stopped.clean = clean;
            stopped.broke = !slot.failure.empty();
            stopped.killed_by_tend = status.signaled && w.sent_signal(status.code);
            const std::string tail = w.stderr_tail();
            stopped.stderr_tail = tail;
            if (auto note = stopped_worker_notice(stopped))
                notice(slot.binary, note->message, note->fails_run);
            break;
        }
        case State::starting:
        case State::listing:
            if (slot.discoverer) b.discovering = false;
            if (slot.overdue && stop_reason_.empty()) {
                // A worker that never starts is no crash to retry: the
                // binary is given up, whether it was the first or a
                // replacement.
                startup_failed_ = true;
                const auto limit = settings(slot.binary).startup_timeout.count();
                give_up(slot.binary,
                        with_tail(slot.state == State::starting
                                      ? fmt::format("{}: no hello from worker {} within {} s "
                                                    "(--startup-timeout); it was killed",
                                                    b.path, w.pid(), limit)
                                      : fmt::format("{}: worker {} did not list its tests within "
                                                    "{} s (--startup-timeout); it was killed",
                                                    b.path, w.pid(), limit),
                                  w.stderr_tail()));
            } else if (!b.listed && stop_reason_.empty()) {
                startup_failed_ = true;
                const char* when = !slot.failure.empty()           ? ""
                                   : slot.state == State::starting ? " before saying hello"
                                                                   : " while listing tests";
                // A binary that is no worker, taken for one: say why, and how
                // to say what it is.
                std::string hint;
                if (slot.failure.empty() && slot.state == State::starting && b.batches.empty()) {
                    hint = fmt::format(
                        " (tend took it for a worker: {}; a test binary not linked with tend's "
                        "worker library runs in batches with framework = \"gtest\", \"doctest\" "
                        "or \"catch2\" in tend.toml, or --framework)",
                        b.framework_why);
                }
                give_up(slot.binary,
                        with_tail(fmt::format("{}: cannot discover tests: {}{}{}", b.path, how,
                                              when, hint),
                                  w.stderr_tail()));
            } else {
                ++summary_.workers_crashed;
                if (++b.deaths >= options_.max_worker_deaths) {
                    give_up(slot.binary, with_tail(how + " while starting", w.stderr_tail()));
                }
            }
            break;
        case State::running: {
            DeadWorker dead;
            dead.unit_name = slot.unit.name;
            dead.tests = slot.unit.tests;
            dead.careful = slot.unit.careful;
            dead.next = slot.next;
            dead.pid = w.pid();
            dead.how = how;
            const std::string tail = w.stderr_tail();
            dead.stderr_tail = tail;
            dead.broke = !slot.failure.empty();
            dead.killed_at_shutdown = slot.killed_at_shutdown;
            dead.stop_reason = stop_reason_;
            dead.killed_at_once = killed_at_once_;
            dead.shutdown_grace = options_.shutdown_grace;
            dead.timed_out = slot.timed_out;
            if (slot.timed_out) dead.timed_out_limit = time_limit(slot, *slot.timed_out);
            dead.limit_from_option = settings(slot.binary).timeout.has_value();
            dead.stuck_between = slot.stuck_between;
            dead.poll = slot.poll;
            if (const auto found = running_test(slot)) dead.running = found->index;
            dead.begun = begun(slot);
            auto fate = dead_unit(dead);
            switch (fate.worker) {
                case DeadUnit::Worker::killed_at_shutdown:
                    ++shutdown_.workers_killed;
                    ++shutdown_.units_cancelled;
                    break;
                case DeadUnit::Worker::timed_out:
                    ++summary_.workers_timed_out;
                    break;
                case DeadUnit::Worker::crashed:
                    ++summary_.workers_crashed;
                    break;
            }
            Unit rest{slot.binary, slot.unit.name, std::move(fate.rest)};
            rest.careful = fate.careful;
            if (fate.cancelled) {
                report_unrun(slot.binary, rest, 0, *fate.cancelled);
                break;
            }
            if (fate.notice) notice(slot.binary, fate.notice->message, fate.notice->fails_run);
            if (fate.blamed) {
                // What the test printed before it died, from the worker's
                // capture files (a handler of its own may have cut tend's
                // crash report short).
                std::string out, err;
                w.captured(out, err, kCrashOutputBytes);
                report(fate.blamed->status, slot.binary, slot.unit.tests[fate.blamed->index],
                       slot.timed_out_after_ns, w.pid(), slot.health, kNoFailures, out, err,
                       fate.blamed->detail);
            }
            // After the blamed test's report: it may have stopped the run.
            const auto goes = rest_fate(stop_reason_, b.deaths, options_.max_worker_deaths, how);
            if (goes.counts_death) ++b.deaths;
            if (goes.kind != RestFate::Kind::requeue) {
                report_unrun(slot.binary, rest, 0, goes.why);
                if (goes.kind == RestFate::Kind::give_up) give_up(slot.binary, goes.give_up_why);
            } else if (b.given_up) {
                // Given up meanwhile (another of its workers would not
                // start): no worker will come for the rest.
                report_unrun(slot.binary, rest, 0, b.error);
            } else if (!rest.tests.empty()) {
                b.pending.push_front(std::move(rest));
            }
            lost_worker(slot.binary, true);
            break;
        }
        case State::finalizing:
            if (slot.overdue) {
                ++summary_.workers_timed_out;
                notice(
                    slot.binary,
                    with_tail(fmt::format("unit '{}': teardown still running after {} s "
                                          "(--teardown-timeout); its worker {} was killed",
                                          slot.unit.name,
                                          settings(slot.binary).teardown_limit().count(), w.pid()),
                              w.stderr_tail()),
                    true);
                break;
            }
            if (slot.killed_at_shutdown) {
                ++shutdown_.workers_killed;
                notice(slot.binary,
                       fmt::format("unit '{}': teardown cut short at shutdown", slot.unit.name),
                       false);
                break;
            }
            ++summary_.workers_crashed;
            notice(slot.binary,
                   with_tail(
                       fmt::format("unit '{}': teardown did not finish: {}", slot.unit.name, how),
                       w.stderr_tail()),
                   true);
            break;
        case State::idle:
            ++summary_.workers_crashed;
            notice(slot.binary, with_tail(how + " while idle", w.stderr_tail()), false);
            break;
    }
    pump();
}

std::size_t Pool::begun(const Slot& slot) {
    const auto* page = slot.proc->status();
    // Without the page, results come one at a time: the next one due had
    // begun if the worker was given the unit at all.
    if (!page || page->attached.load(std::memory_order_acquire) != 1) return slot.next + 1;
    if (page->unit.load(std::memory_order_acquire) != slot.unit_id) return 0;
    return page->started.load(std::memory_order_acquire);
}

std::optional<RunningTest> Pool::running_test(const Slot& slot) {
    const auto* page = slot.proc->status();
    if (!page || page->attached.load(std::memory_order_acquire) != 1) {
        // A worker without the page sends each result at once: the first
        // test without one is running, since the last result came.
        return RunningTest{slot.next, slot.last_progress};
    }
    if (page->unit.load(std::memory_order_acquire) != slot.unit_id) return std::nullopt;
    const std::size_t started = page->started.load(std::memory_order_acquire);
    // The started-th test of the unit is running, unless its result is
    // already in: then the worker is between tests. A count past the unit's
    // end is a page the worker scribbled on; trust the results.
    if (started > slot.unit.tests.size()) return RunningTest{slot.next, slot.last_progress};
    if (started <= slot.next) return std::nullopt;
    // Read after `started`: a test counted finished is not running, even if
    // its result is still in the worker's batch.
    if (page->finished.load(std::memory_order_acquire) >= started) return std::nullopt;
    const std::chrono::nanoseconds since(page->started_ns.load(std::memory_order_relaxed));
    return RunningTest{started - 1, std::chrono::steady_clock::time_point(since)};
}

void Pool::give_up(std::size_t binary, const std::string& why) {
    auto& b = binaries_[binary];
    if (b.given_up) return;
    b.given_up = true;
    if (b.error.empty()) b.error = why;
    notice(binary, why, true);
    while (!b.pending.empty()) {
        report_unrun(binary, b.pending.front(), 0, why);
        b.pending.pop_front();
    }
}

void Pool::report_unrun(std::size_t binary, const Unit& unit, std::size_t from,
                        const std::string& why) {
    for (std::size_t i = from; i < unit.tests.size(); ++i) {
        report(TestStatus::not_run, binary, unit.tests[i], 0, 0, {}, kNoFailures, {}, {}, why);
    }
}

void Pool::report(TestStatus status, std::size_t binary, std::uint32_t id,
                  std::uint64_t duration_ns, pid_t pid, const protocol::Health& health,
                  const std::vector<protocol::Failure>& failures, std::string_view out,
                  std::string_view err, std::string_view detail) {
    // A failed, crashed, timed-out or errored test is retried, as a unit of
    // its own (its scope set up again) on another worker, up to --retries
    // times; every attempt is reported, only the last one counts.
    const auto key = (static_cast<std::uint64_t>(binary) << 32) | id;
    const auto earlier = attempts_.find(key);
    // Nothing is retried once the run stops, nor in a binary given up: no
    // worker would come for it.
    const bool stopping = !stop_reason_.empty() || binaries_[binary].given_up;
    const auto decision = decide_retry({status, earlier == attempts_.end() ? 0 : earlier->second,
                                        settings(binary).retries, stopping, pid});
    const std::uint32_t attempt = decision.attempt;
    const bool retry = decision.retry;
    status = decision.status;
    if (retry) {
        attempts_[key] = attempt;
        auto& b = binaries_[binary];
        b.pending.push_back(retry_unit(binary, id, b.tests->name(id), decision));
    } else if (attempt > 1) {
        attempts_.erase(key);
    }
    if (reporter_) {
        const auto& b = binaries_[binary];
        reporter_->test(TestEvent{b.path, (*b.tests)[id], status, duration_ns, pid, health,
                                  failures, out, err, detail, attempt, !retry});
    }
    if (retry) return;
    ++summary_.counts[static_cast<std::size_t>(status)];
    ++summary_.total;
    if (is_failure(status) && status != TestStatus::not_run && options_.max_fail &&
        ++failures_seen_ == *options_.max_fail) {
        // Running units finish; nothing new starts.
        stop_scheduling(max_fail_reason(failures_seen_, *options_.max_fail));
    }
}

void Pool::notice(std::size_t binary, const std::string& message, bool fails_run) {
    if (fails_run) ++summary_.errors;
    if (reporter_) reporter_->notice(Notice{binaries_[binary].path, message, fails_run});
}

}  // namespace tend
