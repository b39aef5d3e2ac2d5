// The last run's failures: see last_run.hpp.
#include "config/last_run.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

namespace tend {

void update_last_run(LastRun& last, const std::map<std::string, RunRecord>& run) {
    for (const auto& [binary, record] : run) {
        auto& failed = last.failed[binary];
        for (const auto& key : record.ran) failed.erase(key);
        failed.insert(record.failed.begin(), record.failed.end());
        if (failed.empty()) last.failed.erase(binary);
    }
}

std::filesystem::path last_run_path(const std::filesystem::path& config_dir) {
    if (const char* dir = std::getenv("TEND_STATE_DIR"); dir && *dir)
        return std::filesystem::path(dir) / "last-run.json";
    const auto base = config_dir.empty() ? std::filesystem::path(".") : config_dir;
    return base / ".tend" / "last-run.json";
}

bool load_last_run(const std::filesystem::path& path, LastRun& out, std::string& error) {
    // stdio, not a stream: "e" makes the descriptor close-on-exec.
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(path.c_str(), "rbe"),
                                                       std::fclose);
    if (!in) {
        error = fmt::format("{}: {}", path.string(), std::strerror(errno));
        return false;
    }
    std::string text;
    char chunk[64 * 1024];
    for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, in.get())) > 0;)
        text.append(chunk, n);
    try {
        const auto doc = nlohmann::json::parse(text);
        LastRun parsed;
        for (const auto& [binary, tests] : doc.at("failed").items()) {
            auto& keys = parsed.failed[binary];
            for (const auto& t : tests) {
                keys.emplace(t.at("suite").get<std::string>(), t.at("name").get<std::string>());
            }
        }
        out = std::move(parsed);
        return true;
    } catch (const nlohmann::json::exception& e) {
        error = fmt::format("{}: not a tend state file: {}", path.string(), e.what());
        return false;
    }
}

bool save_last_run(const std::filesystem::path& path, const LastRun& last, std::string& error) {
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
        error = fmt::format("{}: {}", path.parent_path().string(), ec.message());
        return false;
    }
    nlohmann::json failed = nlohmann::json::object();
    for (const auto& [binary, keys] : last.failed) {
        auto& list = failed[binary] = nlohmann::json::array();
        for (const auto& [suite, name] : keys) list.push_back({{"suite", suite}, {"name", name}});
    }
    const nlohmann::json doc{{"version", 1}, {"failed", failed}};
    // Its own temporary file: two runs saving at once never write into one.
    const auto tmp = fmt::format("{}.{}.tmp", path.string(), ::getpid());
    {
        std::FILE* out = std::fopen(tmp.c_str(), "wbe");
        const std::string text =
            doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        const bool written = out && std::fwrite(text.data(), 1, text.size(), out) == text.size();
        const int saved = errno;
        if (!out || std::fclose(out) != 0 || !written) {
            error = fmt::format("{}: {}", tmp, std::strerror(written ? errno : saved));
            return false;
        }
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        error = fmt::format("{}: {}", path.string(), ec.message());
        std::filesystem::remove(tmp, ec);
        return false;
    }
    return true;
}

bool record_last_run(const std::filesystem::path& path, const std::map<std::string, RunRecord>& run,
                     std::string& error) {
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    const std::string lock_path = path.string() + ".lock";
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    // flock has no timeout and a lock's release no event to wait on: a few
    // tries, for a holder that only reads and writes a small file.
    bool locked = false;
    for (int tries = 0; fd >= 0 && tries < 200; ++tries) {
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
            locked = true;
            break;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!locked && fd >= 0) {
        std::fprintf(stderr, "tend: warning: %s: still locked after 2 s, writing without it\n",
                     lock_path.c_str());
    }
    // No file yet, or one that does not parse: this run starts it anew.
    LastRun last;
    std::string ignored;
    load_last_run(path, last, ignored);
    update_last_run(last, run);
    const bool saved = save_last_run(path, last, error);
    if (fd >= 0) ::close(fd);  // and the lock with it
    return saved;
}

std::string binary_key(const std::string& binary) {
    std::error_code ec;
    auto p = std::filesystem::absolute(binary, ec);
    return ec ? binary : p.lexically_normal().string();
}

void RunRecorder::test(const TestEvent& e) {
    // Skipped is no verdict either: a test the framework skips by default
    // is reported skipped without running (--run-ignored default), and if
    // it failed when --run-ignored ran it, --failed must still know it.
    if (!e.final || e.status == TestStatus::not_run || e.status == TestStatus::skipped) return;
    auto known = keys_.find(e.binary);
    if (known == keys_.end()) known = keys_.emplace(e.binary, binary_key(e.binary)).first;
    const bool failed = is_failure(e.status);
    const auto before = previous_.failed.find(known->second);
    if (!failed && before == previous_.failed.end()) return;
    TestKey key{e.test.suite, e.test.name};
    auto& record = records_[known->second];
    if (before != previous_.failed.end() && before->second.count(key)) record.ran.insert(key);
    if (failed) record.failed.insert(std::move(key));
}

}  // namespace tend
