// HealthProbe: see health_probe.hpp.
#include "health_probe.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace tend::worker {

namespace {
// Layout of one entry returned by getdents64(2); glibc 2.36 has no wrapper.
struct LinuxDirent64 {
    std::uint64_t d_ino;
    std::int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[1];
};
}  // namespace

HealthProbe::HealthProbe() {
    statm_fd_ = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    fd_dir_ = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const long ps = ::sysconf(_SC_PAGESIZE);
    if (ps > 0) page_size_ = ps;
}

HealthProbe::~HealthProbe() {
    if (statm_fd_ >= 0) ::close(statm_fd_);
    if (fd_dir_ >= 0) ::close(fd_dir_);
}

protocol::Health HealthProbe::read() {
    protocol::Health h;
    if (statm_fd_ >= 0) {
        char buf[128];
        const ssize_t n = ::pread(statm_fd_, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            // "size resident shared text lib data dt", in pages.
            char* p = buf;
            char* end = nullptr;
            (void)std::strtoull(p, &end, 10);
            if (end != p) {
                p = end;
                const unsigned long long resident = std::strtoull(p, &end, 10);
                if (end != p) h.rss_bytes = resident * static_cast<std::uint64_t>(page_size_);
            }
        }
    }
    // Linux 6.2 and later report the number of open descriptors as the size
    // of /proc/self/fd: one cheap fstat. Older kernels say 0 there; then the
    // directory is listed.
    struct stat st {};
    if (fd_dir_ >= 0 && ::fstat(fd_dir_, &st) == 0 && st.st_size > 0) {
        const std::uint64_t own = (statm_fd_ >= 0 ? 1 : 0) + 1;
        const auto count = static_cast<std::uint64_t>(st.st_size);
        if (count >= own) h.open_fds = count - own;
        return h;
    }
    h.open_fds = count_fds_by_listing();
    return h;
}

std::optional<std::uint64_t> HealthProbe::count_fds_by_listing() {
    if (fd_dir_ >= 0 && ::lseek(fd_dir_, 0, SEEK_SET) == 0) {
        // Room for about a thousand entries: one getdents64 call for any
        // sane process. A call that left more than the largest possible
        // entry unused has returned everything, so no second call is needed
        // to see end of directory.
        alignas(8) static char buf[32 * 1024];
        constexpr long kLargestEntry = sizeof(LinuxDirent64) + 256;
        std::uint64_t count = 0;
        bool ok = true;
        for (;;) {
            const long n = ::syscall(SYS_getdents64, fd_dir_, buf, sizeof buf);
            if (n < 0) {
                ok = false;
                break;
            }
            if (n == 0) break;
            for (long off = 0; off < n;) {
                const auto* d = reinterpret_cast<const LinuxDirent64*>(buf + off);
                if (d->d_name[0] != '.') ++count;
                off += d->d_reclen;
            }
            if (n + kLargestEntry <= static_cast<long>(sizeof buf)) break;
        }
        const std::uint64_t own = (statm_fd_ >= 0 ? 1 : 0) + 1;
        if (ok && count >= own) return count - own;
    }
    return std::nullopt;
}

}  // namespace tend::worker
