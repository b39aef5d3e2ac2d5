// The warm pool of `tend serve`: see warm_pool.hpp.
#include "daemon/warm_pool.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <limits>

namespace tend {

std::optional<BinaryIdentity> identify(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return BinaryIdentity{
        st.st_dev, st.st_ino, st.st_size,
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

WarmPool::WarmPool(asio::io_context& io, std::size_t jobs, CacheLimits cache)
    : io_(io), reaper_(io), jobs_(std::max<std::size_t>(1, jobs)), cache_limits_(cache) {}

WarmPool::~WarmPool() {
    for (auto& [_, idle] : idle_) idle.proc->kill();
    for (auto& [_, w] : leaving_) w->kill();
}

std::optional<BinaryIdentity> WarmPool::refresh(const std::string& path) {
    const auto now = identify(path);
    auto it = binaries_.find(path);
    if (it != binaries_.end() && (!now || !(it->second.identity == *now))) binaries_.erase(it);
    // Idle workers of another build (or of none): not for any run any more,
    // whether the binary's list is cached or not.
    evict_idle_of(path, now);
    if (now) {
        auto& c = binaries_[path];
        c.identity = *now;
        c.last_used = ++use_clock_;
        bound_cache();
    }
    return now;
}

void WarmPool::evict_idle_of(const std::string& path, const std::optional<BinaryIdentity>& now) {
    for (auto w = idle_.begin(); w != idle_.end();) {
        if (w->second.proc->binary() == path && !(now && w->second.identity == *now))
            evict(w++);
        else
            ++w;
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
    // Idle workers of binaries deleted or rebuilt since, cached or not.
    std::map<std::string, std::optional<BinaryIdentity>> now;
    for (const auto& [_, idle] : idle_) now.try_emplace(idle.proc->binary(), std::nullopt);
    for (auto& [path, identity] : now) {
        identity = identify(path);
        evict_idle_of(path, identity);
    }
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
    if (live_ >= jobs_ && !idle_.empty()) {
        // An idle worker makes room: the oldest one goes.
        auto oldest = idle_.begin();
        for (auto it = idle_.begin(); it != idle_.end(); ++it) {
            if (it->second.proc->started() < oldest->second.proc->started()) oldest = it;
        }
        evict(oldest);
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
                                              WorkerProcess::Listener& to, Client& client) {
    known_.insert(&client);
    // While runs wait their turn, idle workers are theirs.
    const bool granted = granted_.count(&client) > 0;
    if (!granted && (!waiting_.empty() || !granted_.empty())) return nullptr;
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
        if (it->second.proc->binary() != path || !(it->second.identity == identity) ||
            it->second.context != context) {
            continue;
        }
        auto w = std::move(it->second.proc);
        idle_.erase(it);
        w->set_listener(to);
        ++holders_[&client];
        granted_.erase(&client);
        return w;
    }
    return nullptr;
}

void WarmPool::give_back(std::shared_ptr<WorkerProcess> w, const BinaryIdentity& identity,
                         const std::string& context, const protocol::Health& health,
                         Client& client) {
    auto h = holders_.find(&client);
    if (h != holders_.end() && --h->second == 0) holders_.erase(h);
    w->set_listener(*this);
    const auto now = identify(w->binary());
    const auto* key = w.get();
    idle_[key] = Idle{std::move(w), identity, context, health};
    if (!now || !(*now == identity)) {
        evict(idle_.find(key));  // a rebuilt binary: this worker runs the old build
    }
    wake_next();
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
    while (!idle_.empty()) evict(idle_.begin());
}

void WarmPool::evict(std::map<const WorkerProcess*, Idle>::iterator it) {
    auto w = std::move(it->second.proc);
    idle_.erase(it);
    if (live_ > 0) --live_;  // counted out now; it exits in the background
    w->stop();
    leaving_[w.get()] = std::move(w);
}

std::vector<WarmPool::IdleWorker> WarmPool::idle_workers() const {
    std::vector<IdleWorker> out;
    for (const auto& [_, idle] : idle_) {
        out.push_back({idle.proc->pid(), idle.proc->binary(), idle.proc->started(), idle.health});
    }
    return out;
}

void WarmPool::on_message(WorkerProcess& w, protocol::Message& m) {
    // An idle worker has nothing to say.
    w.fail(std::string("unexpected '") + std::string(protocol::type_name(m)) +
           "' message from an idle worker");
}

void WarmPool::on_protocol_error(WorkerProcess&, const std::string&) {}

void WarmPool::on_exit(WorkerProcess& w, const ExitStatus&) {
    if (leaving_.erase(&w)) return;  // stopped here, already counted out
    if (auto it = idle_.find(&w); it != idle_.end()) {
        // An idle worker died on its own: its room goes to whoever waits.
        auto keep = std::move(it->second.proc);  // alive until this returns
        idle_.erase(it);
        if (live_ > 0) --live_;
        wake_next();
    }
}

}  // namespace tend
