// Measures the worker's own health (RSS, open descriptors) after each test.
//
// Cheap by construction: /proc/self/statm and /proc/self/fd are opened once
// and re-read in place, so one reading costs two syscalls (pread, and fstat
// on Linux 6.2+ where /proc/self/fd's size is the descriptor count; lseek +
// getdents64 before that) and no allocation.
#pragma once

#include "messages.hpp"

namespace tend::worker {

class HealthProbe {
  public:
    HealthProbe();
    ~HealthProbe();
    HealthProbe(const HealthProbe&) = delete;
    HealthProbe& operator=(const HealthProbe&) = delete;

    /// Current readings; a reading this platform cannot take stays absent.
    /// open_fds leaves out the two descriptors the probe itself holds.
    protocol::Health read();
    /// The descriptor count by listing /proc/self/fd, whatever the kernel
    /// (read() uses it where fstat cannot tell); same exclusions as read().
    std::optional<std::uint64_t> count_fds_by_listing();

  private:
    int statm_fd_ = -1;
    int fd_dir_ = -1;
    long page_size_ = 4096;
};

}  // namespace tend::worker
