#include "child.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace tend::batch {
namespace {

int pidfd_open(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

std::vector<char*> pointers(const std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

}  // namespace

Child::Child(const std::vector<std::string>& argv, const std::vector<std::string>& envp,
             bool report, int exe_fd) {
    int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
    const int streams = report ? 3 : 2;
    for (int i = 0; i < streams; ++i) {
        if (::pipe2(pipes[i], O_CLOEXEC) != 0) {
            error_ = std::string("cannot make a pipe: ") + std::strerror(errno);
            for (auto& p : pipes) {
                for (int fd : p) {
                    if (fd >= 0) ::close(fd);
                }
            }
            return;
        }
    }
    auto args = pointers(argv);
    auto env = pointers(envp);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        // The child: async-signal-safe calls only until exec.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(pipes[0][1], 1);
        ::dup2(pipes[1][1], 2);
        if (report) ::dup2(pipes[2][1], 3);
        // The binary, on the first descriptor after those, close-on-exec.
        const int exe = report ? 4 : 3;
        if (exe_fd >= 0 && ::dup3(exe_fd, exe, O_CLOEXEC) < 0) ::_exit(127);
        // tend's descriptors (commands, results, the status page) are not
        // the binary's: everything above stays closed.
        ::close_range(exe_fd >= 0 ? exe + 1 : exe, ~0U, 0);
        if (exe_fd >= 0) {
            ::fexecve(exe, args.data(), env.data());
        } else {
            ::execve(args[0], args.data(), env.data());
        }
        const char msg[] = "tend-batch: cannot run the test binary\n";
        (void)!::write(2, msg, sizeof msg - 1);
        ::_exit(127);
    }
    for (int i = 0; i < streams; ++i) ::close(pipes[i][1]);
    if (pid < 0) {
        error_ = std::string("cannot fork: ") + std::strerror(errno);
        for (int i = 0; i < streams; ++i) ::close(pipes[i][0]);
        return;
    }
    pid_ = pid;
    pidfd_ = pidfd_open(pid);
    for (int i = 0; i < streams; ++i) fds_[i] = pipes[i][0];
}

Child::~Child() {
    if (pid_ > 0 && !reaped_) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
    }
    for (int fd : fds_) {
        if (fd >= 0) ::close(fd);
    }
    if (pidfd_ >= 0) ::close(pidfd_);
}

void Child::kill() {
    if (pid_ > 0 && !reaped_) ::kill(pid_, SIGKILL);
}

int Child::pump(const std::function<void(Stream, std::string_view)>& chunk) {
    if (pid_ <= 0) return status_;
    static constexpr Stream kStreams[3] = {Stream::out, Stream::err, Stream::report};
    std::vector<char> buf(64 * 1024);
    bool exited = false;
    using Clock = std::chrono::steady_clock;
    Clock::time_point exited_at{};
    for (;;) {
        pollfd polls[4];
        int map[4];
        nfds_t n = 0;
        // The progress stream last: the report (doctest, Catch2) first, a
        // test's start being flushed to it before the test writes anything;
        // then stderr before stdout, gtest's progress, so that what a test
        // wrote to stderr before its end line is read while it is open. The
        // streams are three pipes: their relative order is lost, and this
        // is the likelier one (docs/user-guide.md).
        for (const int i : {2, 1, 0}) {
            if (fds_[i] < 0) continue;
            polls[n] = pollfd{fds_[i], POLLIN, 0};
            map[n++] = i;
        }
        if (n == 0) break;
        const bool watch_exit = pidfd_ >= 0 && !exited;
        if (watch_exit) {
            polls[n] = pollfd{pidfd_, POLLIN, 0};
            map[n++] = -1;
        }
        // Without a pidfd (Linux before 5.3), a tenth of a second at a time,
        // so a child whose pipes a grandchild holds is still seen to exit.
        const int timeout = exited ? 0 : pidfd_ >= 0 ? -1 : 100;
        const int ready = ::poll(polls, n, timeout);
        if (ready < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (!exited && pidfd_ < 0) {
            int status = 0;
            rusage usage{};
            if (::wait4(pid_, &status, WNOHANG, &usage) == pid_) {
                peak_rss_ = static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
                reaped_ = true;
                status_ = status;
                exited = true;
            }
        }
        bool progress = false;
        for (nfds_t k = 0; k < n; ++k) {
            if (map[k] < 0) {
                if (polls[k].revents != 0) exited = true;
                continue;
            }
            if (polls[k].revents == 0) continue;
            const int i = map[k];
            const ssize_t got = ::read(fds_[i], buf.data(), buf.size());
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                ::close(fds_[i]);
                fds_[i] = -1;
                continue;
            }
            progress = true;
            chunk(kStreams[i], std::string_view(buf.data(), static_cast<std::size_t>(got)));
        }
        // Gone, and nothing more came at once, or still coming after a
        // tenth of a second: whatever still holds the pipes (a process the
        // tests left behind) is not the binary.
        if (exited && exited_at == Clock::time_point{}) exited_at = Clock::now();
        if (exited && Clock::now() - exited_at > std::chrono::milliseconds(100)) break;
        if (exited && !progress && ready >= 0) {
            bool pending = false;
            for (nfds_t k = 0; k < n; ++k) {
                if (map[k] >= 0 && polls[k].revents != 0) pending = true;
            }
            if (!pending) break;
        }
    }
    if (!reaped_) {
        int status = 0;
        rusage usage{};
        while (::wait4(pid_, &status, 0, &usage) < 0 && errno == EINTR) {
        }
        reaped_ = true;
        status_ = status;
        peak_rss_ = static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // ru_maxrss is in KiB
    }
    return status_;
}

protocol::Health Child::health() const {
    protocol::Health h;
    if (pid_ <= 0 || reaped_) return h;
    const std::string dir = "/proc/" + std::to_string(pid_);
    if (const int fd = ::open((dir + "/statm").c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
        char text[128];
        const ssize_t n = ::read(fd, text, sizeof text - 1);
        ::close(fd);
        if (n > 0) {
            text[n] = '\0';
            unsigned long long size = 0, resident = 0;
            if (std::sscanf(text, "%llu %llu", &size, &resident) == 2 && resident > 0) {
                h.rss_bytes = resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
            }
        }
    }
    if (DIR* d = ::opendir((dir + "/fd").c_str())) {
        std::uint64_t count = 0;
        while (const dirent* e = ::readdir(d)) {
            if (e->d_name[0] != '.') ++count;
        }
        ::closedir(d);
        h.open_fds = count;
    }
    return h;
}

}  // namespace tend::batch
