// Measures the worker's own health (RSS, open descriptors) after each test.
//
// Cheap by construction: /proc/self/statm and /proc/self/fd are opened once
// and re-read in place (pread, lseek + getdents64), so one reading costs two
// or three syscalls and no allocation.
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

private:
    int statm_fd_ = -1;
    int fd_dir_ = -1;
    long page_size_ = 4096;
};

}  // namespace tend::worker
