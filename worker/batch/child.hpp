// One run of the unmodified binary: a child process with its stdout, its
// stderr and (for drivers that ask) a report pipe on descriptor 3, read as
// the bytes come. The child dies with tend-batch (PR_SET_PDEATHSIG) and runs
// in tend-batch's process group, which tend kills on a timeout; its health
// is read from outside, in /proc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "messages.hpp"

namespace tend::batch {

class Child {
  public:
    /// Starts `argv` (argv[0] the binary's path) with `envp`; `report` opens
    /// a pipe on descriptor 3 (kReportFd). On failure pid() is -1 and
    /// error() says why.
    /// `exe_fd` (>= 0): the binary, opened once (O_PATH), run with
    /// fexecve(), so that every batch runs the build that was listed even
    /// if the path is rebuilt meanwhile.
    Child(const std::vector<std::string>& argv, const std::vector<std::string>& envp, bool report,
          int exe_fd = -1);
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }
    const std::string& error() const { return error_; }

    enum class Stream { out, err, report };
    /// Reads until the child is gone (it exited and its pipes are drained,
    /// or it exited and a process it left behind keeps them open: what is
    /// there is read, then they are let go). Calls `chunk` with what each
    /// stream gives, the report before stdout and stderr within one wake-up.
    /// `chunk` may call kill(). Returns the wait status.
    int pump(const std::function<void(Stream, std::string_view)>& chunk);
    /// Kills the child (SIGKILL); pump() then returns its status.
    void kill();

    /// The child's RSS and open descriptors, from /proc/PID; absent once it
    /// is gone.
    protocol::Health health() const;
    /// Its peak RSS, from wait4() once pump() has returned (0 before).
    std::uint64_t peak_rss_bytes() const { return peak_rss_; }

  private:
    pid_t pid_ = -1;
    int pidfd_ = -1;
    int fds_[3] = {-1, -1, -1};
    std::string error_;
    bool reaped_ = false;
    int status_ = 0;
    std::uint64_t peak_rss_ = 0;
};

}  // namespace tend::batch
