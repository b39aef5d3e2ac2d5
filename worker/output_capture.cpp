// OutputCapture: see output_capture.hpp.
#include "output_capture.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace tend::worker {

namespace {
int make_capture_file(const char* name) {
    int fd = ::memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) {
        // Kernels without memfd: an unlinked temporary file does the same job.
        char path[] = "/tmp/tend-capture-XXXXXX";
        fd = ::mkostemp(path, O_CLOEXEC);
        if (fd >= 0) ::unlink(path);
    }
    return fd;
}

void flush_streams() {
    std::cout.flush();
    std::cerr.flush();
    std::fflush(stdout);
    std::fflush(stderr);
}
}  // namespace

OutputCapture::OutputCapture() {
    out_fd_ = make_capture_file("tend-stdout");
    err_fd_ = make_capture_file("tend-stderr");
    if (!active()) return;
    flush_streams();
    saved_out_ = ::fcntl(1, F_DUPFD_CLOEXEC, 10);
    saved_err_ = ::fcntl(2, F_DUPFD_CLOEXEC, 10);
    ::dup2(out_fd_, 1);
    ::dup2(err_fd_, 2);
    // Line-buffered, as on a terminal: a test that crashes still leaves the
    // lines it printed in the capture, where the crash reporter finds them.
    std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
}

OutputCapture::~OutputCapture() {
    if (!active()) return;
    flush_streams();
    if (saved_out_ >= 0) ::dup2(saved_out_, 1);
    if (saved_err_ >= 0) ::dup2(saved_err_, 2);
    for (int fd : {out_fd_, err_fd_, saved_out_, saved_err_}) {
        if (fd >= 0) ::close(fd);
    }
}

void OutputCapture::take(std::string& out, std::string& err, std::size_t cap) {
    out.clear();
    err.clear();
    if (!active()) return;
    flush_streams();
    drain_capture_file(out_fd_, out, cap);
    drain_capture_file(err_fd_, err, cap);
}

void drain_capture_file(int fd, std::string& into, std::size_t cap) {
    // Descriptor 1 (or 2) shares this file's offset, so the offset is the
    // number of bytes written since the last drain.
    const off_t end = ::lseek(fd, 0, SEEK_CUR);
    if (end <= 0) return;
    const auto size = static_cast<std::size_t>(end);
    std::size_t keep = size;
    off_t from = 0;
    if (size > cap) {
        keep = cap;
        from = static_cast<off_t>(size - cap);
        into = "[tend: " + std::to_string(size - cap) +
               " earlier bytes of this output dropped; last " + std::to_string(cap) + " kept]\n";
    }
    const std::size_t prefix = into.size();
    into.resize(prefix + keep);
    std::size_t got = 0;
    while (got < keep) {
        const ssize_t n =
            ::pread(fd, into.data() + prefix + got, keep - got, from + static_cast<off_t>(got));
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    into.resize(prefix + got);
    (void)::ftruncate(fd, 0);
    ::lseek(fd, 0, SEEK_SET);
}

}  // namespace tend::worker
