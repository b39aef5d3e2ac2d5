// The warm pool of `tend serve`: see warm_pool.hpp.
#include "daemon/warm_pool.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <limits>

namespace tend {

std::string_view reuse_name(Reuse r) {
    return r == Reuse::daemon ? "daemon" : "run";
}

std::optional<Reuse> parse_reuse(std::string_view text) {
    if (text == "run") return Reuse::run;
    if (text == "daemon") return Reuse::daemon;
    return std::nullopt;
}

std::optional<BinaryIdentity> identify(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return BinaryIdentity{
        st.st_dev, st.st_ino, st.st_size,
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

std::uint64_t SpareLimits::default_memory() {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page = ::sysconf(_SC_PAGESIZE);
    const std::uint64_t ram =
        pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * page : 4ull << 30;
    return std::max<std::uint64_t>(ram / 16, 256ull << 20);
}

WarmPool::WarmPool(asio::io_context& io, std::size_t jobs, CacheLimits cache, SpareLimits spares)
    : io_(io),
      reaper_(io),
      jobs_(std::max<std::size_t>(1, jobs)),
      cache_limits_(cache),
      spare_limits_(spares),
      retire_timer_(io) {}

WarmPool::~WarmPool() {
    for (auto& [_, idle] : idle_) idle.proc->kill();
    for (auto& [_, s] : starting_) s.proc->kill();
    for (auto& [_, w] : leaving_) w->kill();
}

std::optional<BinaryIdentity> WarmPool::refresh(const std::string& path) {
    const auto now = identify(path);
    auto it = binaries_.find(path);
    if (it != binaries_.end() && (!now || !(it->second.identity == *now))) binaries_.erase(it);
    // Idle workers of another build (or of none): not for any run any more,
    // whether the binary's list is cached or not.
    evict_idle_of(path, now);
    if (auto w = wishes_.find(path);
        w != wishes_.end() && !(now && *now == w->second.wish.identity)) {
        if (!now) {
            wishes_.erase(w);
        } else {
            w->second.wish.identity = *now;  // spares of the new build
            w->second.failed = false;
            replenish();
        }
    }
    if (now) {
        auto& c = binaries_[path];
        c.identity = *now;
        c.last_used = ++use_clock_;
        bound_cache();
    }
    return now;
}

DetectedFramework WarmPool::framework_of(const std::string& path, std::string_view setting) {
    if (!setting.empty() && setting != "auto") return resolve_framework(setting, path);
    const auto it = binaries_.find(path);
    if (it == binaries_.end()) return detect_framework(path);
    if (!it->second.framework) it->second.framework = detect_framework(path);
    return *it->second.framework;
}

void WarmPool::evict_idle_of(const std::string& path, const std::optional<BinaryIdentity>& now) {
    for (auto w = idle_.begin(); w != idle_.end();) {
        if (w->second.proc->binary() == path && !(now && w->second.identity == *now))
            evict(w++);
        else
            ++w;
    }
    for (auto s = starting_.begin(); s != starting_.end();) {
        if (s->second.proc->binary() == path && !(now && s->second.identity == *now)) {
            auto proc = std::move(s->second.proc);
            s = starting_.erase(s);
            proc->stop();
            leaving_[proc.get()] = std::move(proc);
        } else {
            ++s;
        }
    }
}

std::size_t WarmPool::Cached::bytes() const {
    std::size_t n = sizeof(Cached) + 64;  // and its path and map node
    for (const auto& [context, list] : tests) n += context.size() + 64 + (list ? list->bytes() : 0);
    return n;
}

void WarmPool::bound_cache() {
    std::set<std::string_view> pinned;
    for (const auto& [_, paths] : pins_) pinned.insert(paths.begin(), paths.end());
    // Entries with a list are bounded by the limits; those without (a path
    // refreshed, not yet listed) cost next to nothing and are bounded apart.
    std::vector<CacheEntry> lists, bare;
    std::vector<std::map<std::string, Cached>::iterator> lists_at, bare_at;
    for (auto it = binaries_.begin(); it != binaries_.end(); ++it) {
        const CacheEntry e{it->second.last_used, it->second.bytes(), pinned.count(it->first) > 0};
        (it->second.tests.empty() ? bare : lists).push_back(e);
        (it->second.tests.empty() ? bare_at : lists_at).push_back(it);
    }
    for (const auto i : over_budget(lists, cache_limits_)) binaries_.erase(lists_at[i]);
    const CacheLimits bare_limits{kMaxBareEntries, std::numeric_limits<std::size_t>::max()};
    for (const auto i : over_budget(bare, bare_limits)) binaries_.erase(bare_at[i]);
}

std::vector<std::string> WarmPool::sweep() {
    std::vector<std::string> dropped;
    for (auto it = binaries_.begin(); it != binaries_.end();) {
        const auto now = identify(it->first);
        if (now && *now == it->second.identity) {
            ++it;
            continue;
        }
        dropped.push_back(it->first);
        it = binaries_.erase(it);
    }
    // Idle workers of binaries deleted or rebuilt since, cached or not; the
    // spares wished for a rebuilt binary are of its new build now.
    std::map<std::string, std::optional<BinaryIdentity>> now;
    for (const auto& [_, idle] : idle_) now.try_emplace(idle.proc->binary(), std::nullopt);
    for (const auto& [_, s] : starting_) now.try_emplace(s.proc->binary(), std::nullopt);
    for (const auto& [path, _] : wishes_) now.try_emplace(path, std::nullopt);
    for (auto& [path, identity] : now) {
        identity = identify(path);
        evict_idle_of(path, identity);
        const auto w = wishes_.find(path);
        if (w == wishes_.end()) continue;
        if (!identity) {
            wishes_.erase(w);
        } else if (!(*identity == w->second.wish.identity)) {
            w->second.wish.identity = *identity;
            w->second.failed = false;
        }
    }
    replenish();
    return dropped;
}

WarmPool::CacheInfo WarmPool::cache_info() const {
    CacheInfo info;
    info.binaries = binaries_.size();
    info.limits = cache_limits_;
    for (const auto& [_, c] : binaries_) {
        info.lists += c.tests.size();
        info.bytes += c.bytes();
    }
    return info;
}

WarmPool::TestList WarmPool::tests(const std::string& path, const BinaryIdentity& identity,
                                   const std::string& context) const {
    const auto it = binaries_.find(path);
    if (it == binaries_.end() || !(it->second.identity == identity)) return nullptr;
    const auto found = it->second.tests.find(context);
    return found == it->second.tests.end() ? nullptr : found->second;
}

void WarmPool::remember_tests(const std::string& path, const BinaryIdentity& identity,
                              const std::string& context, TestList tests) {
    auto& c = binaries_[path];
    if (!(c.identity == identity)) {
        // Listed from a build that is not the one at `path` now (rebuilt
        // while it was being listed): nothing to keep.
        if (const auto now = identify(path); !now || !(*now == identity)) return;
        c.tests.clear();
        c.identity = identity;
    }
    // Bounded: a client whose environment changes with every run must not
    // grow the cache without end.
    if (c.tests.size() >= 16 && !c.tests.count(context)) c.tests.erase(c.tests.begin());
    c.tests[context] = std::move(tests);
    c.last_used = ++use_clock_;
    bound_cache();
}

bool WarmPool::acquire(Client& client) {
    known_.insert(&client);
    // Runs take turns: while some wait, only the one whose turn it is
    // (woken with a grant) may have room, however much there is.
    const bool granted = granted_.erase(&client) > 0;
    if (!granted && (!waiting_.empty() || !granted_.empty())) {
        enqueue(client, false);
        return false;
    }
    if (live_ >= jobs_) {
        // Its turn, and still no room: first in line again.
        enqueue(client, granted);
        return false;
    }
    ++live_;
    ++holders_[&client];
    return true;
}

void WarmPool::enqueue(Client& client, bool front) {
    if (std::find(waiting_.begin(), waiting_.end(), &client) != waiting_.end()) return;
    if (front)
        waiting_.push_front(&client);
    else
        waiting_.push_back(&client);
    for (const auto& [holder, _] : holders_) {
        if (holder == &client) continue;
        asio::post(io_, [this, c = const_cast<Client*>(holder)] {
            if (known_.count(c)) c->wake();
        });
    }
}

void WarmPool::release(Client& client) {
    if (live_ > 0) --live_;
    auto it = holders_.find(&client);
    if (it != holders_.end() && --it->second == 0) holders_.erase(it);
    wake_next();
}

void WarmPool::wake_next() {
    if (waiting_.empty()) return;
    Client* next = waiting_.front();
    waiting_.pop_front();
    granted_.insert(next);
    // Not from inside the caller's handler: the woken run may start workers.
    asio::post(io_, [this, next] {
        // It may have finished meanwhile: only runs still known are woken.
        if (known_.count(next)) next->wake();
        // A turn it did not use passes on.
        if (granted_.erase(next)) wake_next();
    });
}

std::shared_ptr<WorkerProcess> WarmPool::take(const std::string& path,
                                              const BinaryIdentity& identity,
                                              const std::string& context,
                                              WorkerProcess::Listener& to, bool used_too) {
    auto found = idle_.end();
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
        if (it->second.proc->binary() != path || !(it->second.identity == identity) ||
            it->second.context != context || !(it->second.spare || used_too)) {
            continue;
        }
        // Reuse across runs asked for: a used one first (its caches are
        // warm; a spare stays for a run that wants one).
        if (found == idle_.end() || (!it->second.spare && found->second.spare)) found = it;
    }
    if (found == idle_.end()) return nullptr;
    auto w = std::move(found->second.proc);
    // A spare's age (--max-age) counts from its first test.
    if (found->second.spare) w->restart_age();
    idle_.erase(found);
    w->set_listener(to);
    return w;
}

std::shared_ptr<WorkerProcess> WarmPool::take_starting(const std::string& path,
                                                       const BinaryIdentity& identity,
                                                       const std::string& context,
                                                       WorkerProcess::Listener& to) {
    for (auto it = starting_.begin(); it != starting_.end(); ++it) {
        auto& s = it->second;
        if (s.listing || s.proc->binary() != path || !(s.identity == identity) ||
            s.context != context) {
            continue;
        }
        auto w = std::move(s.proc);
        starting_.erase(it);  // and its deadline: the run bounds its start-up now
        w->set_listener(to);
        return w;
    }
    return nullptr;
}

void WarmPool::give_back(std::shared_ptr<WorkerProcess> w, Returned how, Client& client) {
    if (how.release) {
        auto h = holders_.find(&client);
        if (h != holders_.end() && --h->second == 0) holders_.erase(h);
        if (live_ > 0) --live_;
    }
    w->set_listener(*this);
    const auto now = identify(w->binary());
    if (!now || !(*now == how.identity) || (how.used && how.reuse == Reuse::run)) {
        // A rebuilt binary's worker runs the old build; one that ran tests
        // for a run keeps what they left behind to that run.
        retire(std::move(w));
    } else {
        const auto* key = w.get();
        const auto rss = rss_of(w->pid());
        idle_[key] = Idle{std::move(w), how.identity, std::move(how.context), how.health, !how.used,
                          rss,          ++use_clock_};
        bound_spares();
    }
    wake_next();
}

void WarmPool::retire(std::shared_ptr<WorkerProcess> w) {
    retiring_.push_back(w);
    leaving_[w.get()] = std::move(w);
    if (retire_armed_) return;
    retire_armed_ = true;
    retire_timer_.expires_after(kRetireAfter);
    retire_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        retire_armed_ = false;
        stop_retiring();
    });
}

void WarmPool::stop_retiring() {
    for (auto& w : retiring_) {
        if (auto p = w.lock()) p->stop();
    }
    retiring_.clear();
}

void WarmPool::keep_spares(SpareWish wish) {
    if (spare_limits_.per_binary == 0 || wish.count == 0) {
        wishes_.erase(wish.path);
        return;
    }
    wish.count = std::min(wish.count, spare_limits_.per_binary);
    auto& w = wishes_[wish.path];
    if (!(w.wish.identity == wish.identity) || w.wish.context_key != wish.context_key)
        w.failed = false;
    w.wish = std::move(wish);
    w.last_used = ++use_clock_;
    // Spares of the same binary in another context are not what the last
    // run wants: they go (a binary has one context of spares at a time).
    for (auto it = idle_.begin(); it != idle_.end();) {
        if (it->second.spare && it->second.proc->binary() == w.wish.path &&
            it->second.context != w.wish.context_key) {
            evict(it++);
        } else {
            ++it;
        }
    }
    // Bounded like the test lists' entries without a list.
    while (wishes_.size() > kMaxBareEntries) {
        auto oldest = wishes_.begin();
        for (auto it = wishes_.begin(); it != wishes_.end(); ++it) {
            if (it->second.last_used < oldest->second.last_used) oldest = it;
        }
        wishes_.erase(oldest);
    }
}

std::uint64_t WarmPool::rss_of(pid_t pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid));
    std::FILE* f = std::fopen(path, "re");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    const int n = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    return n == 2 ? static_cast<std::uint64_t>(resident) * ::sysconf(_SC_PAGESIZE) : 0;
}

void WarmPool::replenish() {
    std::uint64_t rss = 0;
    for (const auto& [_, idle] : idle_) rss += idle.rss;
    // The binaries run most recently first.
    std::vector<Wish*> order;
    for (auto& [_, w] : wishes_) order.push_back(&w);
    std::sort(order.begin(), order.end(),
              [](const Wish* a, const Wish* b) { return a->last_used > b->last_used; });
    bool newest = true;
    for (auto* w : order) {
        const bool first = std::exchange(newest, false);
        if (w->failed) continue;
        const auto& wish = w->wish;
        std::size_t have = 0;
        for (const auto& [_, idle] : idle_) {
            have += idle.spare && idle.proc->binary() == wish.path &&
                    idle.identity == wish.identity && idle.context == wish.context_key;
        }
        for (const auto& [_, s] : starting_) {
            have += s.proc->binary() == wish.path && s.identity == wish.identity &&
                    s.context == wish.context_key;
        }
        const auto cost = spare_rss_.count(wish.path) ? spare_rss_[wish.path] : 0;
        while (have < wish.count && starting_.size() < jobs_) {
            // Within the memory budget, except the first spare of the binary
            // run last.
            if (rss + cost > spare_limits_.memory_bytes && !(first && have == 0)) break;
            std::string error;
            auto proc = WorkerProcess::spawn(io_, wish.path, *this, error, wish.context);
            if (!proc) {
                w->failed = true;
                break;
            }
            reaper_.watch(proc);
            auto& s = starting_[proc.get()];
            s.identity = wish.identity;
            s.context = wish.context_key;
            s.deadline = std::make_unique<asio::steady_timer>(io_);
            s.deadline->expires_after(
                std::chrono::duration_cast<std::chrono::milliseconds>(wish.startup_timeout));
            s.deadline->async_wait([this, key = proc.get()](boost::system::error_code ec) {
                if (ec) return;
                if (auto it = starting_.find(key); it != starting_.end()) it->second.proc->kill();
            });
            s.proc = std::move(proc);
            rss += cost;
            ++have;
        }
    }
}

void WarmPool::bound_spares() {
    // Per binary at most per_binary idle workers, spares first to stay.
    std::map<std::string, std::vector<std::map<const WorkerProcess*, Idle>::iterator>> by_binary;
    for (auto it = idle_.begin(); it != idle_.end(); ++it)
        by_binary[it->second.proc->binary()].push_back(it);
    for (auto& [_, list] : by_binary) {
        if (list.size() <= spare_limits_.per_binary) continue;
        std::sort(list.begin(), list.end(), [](auto a, auto b) {
            if (a->second.spare != b->second.spare) return a->second.spare;
            return a->second.last_used > b->second.last_used;
        });
        for (std::size_t i = spare_limits_.per_binary; i < list.size(); ++i) evict(list[i]);
    }
    // Memory: the binaries run longest ago give theirs up first. The binary
    // run last keeps one.
    auto recency = [&](const Idle& idle) {
        const auto w = wishes_.find(idle.proc->binary());
        return std::max(idle.last_used, w == wishes_.end() ? 0 : w->second.last_used);
    };
    std::uint64_t rss = 0;
    for (const auto& [_, idle] : idle_) rss += idle.rss;
    while (rss > spare_limits_.memory_bytes && idle_.size() > 1) {
        auto victim = idle_.end();
        for (auto it = idle_.begin(); it != idle_.end(); ++it) {
            if (victim == idle_.end() || recency(it->second) < recency(victim->second)) victim = it;
        }
        // Not wished for again: what the budget took stays taken.
        if (auto w = wishes_.find(victim->second.proc->binary());
            w != wishes_.end() && victim->second.spare && w->second.wish.count > 0) {
            --w->second.wish.count;
            if (w->second.wish.count == 0) wishes_.erase(w);
        }
        rss -= victim->second.rss;
        evict(victim);
    }
}

void WarmPool::spare_ready(Starting& s) {
    auto proc = std::move(s.proc);
    const auto identity = s.identity;
    auto context = std::move(s.context);
    starting_.erase(proc.get());
    const auto rss = rss_of(proc->pid());
    spare_rss_[proc->binary()] = rss;
    if (spare_rss_.size() > kMaxBareEntries) spare_rss_.erase(spare_rss_.begin());
    const auto* key = proc.get();
    idle_[key] = Idle{std::move(proc), identity, std::move(context), {}, true, rss, ++use_clock_};
    bound_spares();
    replenish();
}

void WarmPool::spare_failed(const WorkerProcess& w) {
    const auto it = starting_.find(&w);
    if (it == starting_.end()) return;
    if (auto wish = wishes_.find(w.binary());
        wish != wishes_.end() && wish->second.wish.identity == it->second.identity) {
        wish->second.failed = true;  // not again until the binary changes
    }
}

bool WarmPool::should_yield(const Client& client, std::size_t holds) const {
    if (waiting_.empty()) return false;
    if (std::find(waiting_.begin(), waiting_.end(), &client) != waiting_.end()) return false;
    std::set<const Client*> runs(waiting_.begin(), waiting_.end());
    for (const auto& [c, _] : holders_) runs.insert(c);
    const std::size_t share = std::max<std::size_t>(1, jobs_ / runs.size());
    return holds > share;
}

void WarmPool::forget(Client& client) {
    known_.erase(&client);
    pins_.erase(&client);
    waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), &client), waiting_.end());
    holders_.erase(&client);
    if (granted_.erase(&client)) wake_next();  // its turn passes on
}

void WarmPool::stop_idle() {
    wishes_.clear();  // nothing is started any more
    stop_retiring();
    while (!idle_.empty()) evict(idle_.begin());
    while (!starting_.empty()) {
        auto proc = std::move(starting_.begin()->second.proc);
        starting_.erase(starting_.begin());
        proc->stop();
        leaving_[proc.get()] = std::move(proc);
    }
}

void WarmPool::evict(std::map<const WorkerProcess*, Idle>::iterator it) {
    auto w = std::move(it->second.proc);
    idle_.erase(it);
    w->stop();  // it exits in the background
    leaving_[w.get()] = std::move(w);
}

std::vector<WarmPool::IdleWorker> WarmPool::idle_workers() const {
    std::vector<IdleWorker> out;
    for (const auto& [_, idle] : idle_) {
        out.push_back({idle.proc->pid(), idle.proc->binary(), idle.proc->started(), idle.health,
                       idle.spare, idle.rss});
    }
    return out;
}

WarmPool::SpareInfo WarmPool::spare_info() const {
    SpareInfo info;
    info.limits = spare_limits_;
    info.starting = starting_.size();
    for (const auto& [_, idle] : idle_) {
        (idle.spare ? info.spares : info.used) += 1;
        info.rss += idle.rss;
    }
    return info;
}

void WarmPool::on_message(WorkerProcess& w, protocol::Message& m) {
    const auto it = starting_.find(&w);
    if (it == starting_.end()) {
        // An idle worker has nothing to say.
        return w.fail(std::string("unexpected '") + std::string(protocol::type_name(m)) +
                      "' message from an idle worker");
    }
    auto& s = it->second;
    if (const auto* hello = std::get_if<protocol::Hello>(&m); hello && !s.listing) {
        if (hello->version != protocol::kProtocolVersion) {
            return w.fail(fmt::format("worker speaks protocol version {}, tend speaks {}",
                                      hello->version, protocol::kProtocolVersion));
        }
        w.open_captures();
        if (tests(w.binary(), s.identity, s.context)) return spare_ready(s);
        // A build not listed yet (rebuilt since the run): the spare lists it,
        // so the next run finds its tests known.
        s.listing = true;
        s.listed = std::make_shared<TestTable>();
        w.send(protocol::ListRequest{});
        return;
    }
    if (auto* list = std::get_if<protocol::TestList>(&m); list && s.listing) {
        const std::size_t first = s.listed->size();
        for (std::size_t i = 0; i < list->tests.size(); ++i) {
            if (list->tests[i].id != first + i)
                return w.fail("test list: ids must count up from 0");
        }
        for (const auto& t : list->tests) s.listed->push_back(t);
        if (list->more) return;
        s.listed->finish();
        remember_tests(w.binary(), s.identity, s.context, std::move(s.listed));
        return spare_ready(s);
    }
    w.fail(std::string("unexpected '") + std::string(protocol::type_name(m)) +
           "' message from a spare starting");
}

void WarmPool::on_protocol_error(WorkerProcess&, const std::string&) {}

void WarmPool::on_exit(WorkerProcess& w, const ExitStatus&) {
    if (leaving_.erase(&w)) return;  // stopped here
    if (auto it = starting_.find(&w); it != starting_.end()) {
        // A spare that died before it was ready: its build is not tried again.
        spare_failed(w);
        auto keep = std::move(it->second.proc);  // alive until this returns
        starting_.erase(it);
        replenish();
        return;
    }
    if (auto it = idle_.find(&w); it != idle_.end()) {
        // An idle worker died on its own (killed, say): a spare is replaced.
        auto keep = std::move(it->second.proc);  // alive until this returns
        idle_.erase(it);
        replenish();
    }
}

}  // namespace tend
