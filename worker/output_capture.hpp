// Captures what tests write to stdout and stderr, one test at a time.
//
// Descriptors 1 and 2 point at two memfds for as long as the worker serves:
// whatever a test (or a library it calls, or a child it starts) writes lands
// there. take() cuts the captured bytes off at a test boundary, keeping at most
// a fixed tail with a marker saying how much was dropped, and empties the files.
// A quiet test costs two fflush and two lseek.
#pragma once

#include <cstddef>
#include <string>

namespace tend::worker {

/// Bytes of each stream kept per test: the tail, where failures usually are.
inline constexpr std::size_t kMaxCapturedBytes = 1024 * 1024;

class OutputCapture {
  public:
    /// Redirects stdout and stderr, keeping a descriptor to the original
    /// stderr for the runtime's own diagnostics.
    OutputCapture();
    ~OutputCapture();
    OutputCapture(const OutputCapture&) = delete;
    OutputCapture& operator=(const OutputCapture&) = delete;

    /// True when both streams are redirected.
    bool active() const { return out_fd_ >= 0 && err_fd_ >= 0; }
    /// Moves what was written since the last take() into `out` and `err`.
    void take(std::string& out, std::string& err, std::size_t cap = kMaxCapturedBytes);
    /// The original stderr (or -1).
    int real_stderr() const { return saved_err_; }
    /// The capture files (for the crash reporter).
    int out_fd() const { return out_fd_; }
    int err_fd() const { return err_fd_; }

  private:
    int out_fd_ = -1;
    int err_fd_ = -1;
    int saved_out_ = -1;
    int saved_err_ = -1;
};

/// Reads the bytes written to `fd` (a capture file) into `into`, keeping the
/// last `cap` bytes behind a truncation marker, then empties the file.
void drain_capture_file(int fd, std::string& into, std::size_t cap);

}  // namespace tend::worker
