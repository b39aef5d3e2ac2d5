// One client of `tend serve`: newline-delimited messages over a pair of
// descriptors (a Unix socket, or stdin/stdout with --stdio), on the server's
// event loop.
//
// Bounded both ways: a line longer than `max_line` is refused (the rest of
// it skipped) without buffering it, and a client that does not read its
// output is cut off once `max_queued` bytes wait for it, instead of letting
// the daemon's memory grow.
//
// Lines sent in one turn of the event loop (the results of one read from a
// worker, say) go out in one write, at the end of that turn: a run's events
// cost a system call per batch, not per test, and none waits for a later
// one.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace tend {

class LineConnection : public std::enable_shared_from_this<LineConnection> {
  public:
    struct Handlers {
        std::function<void(std::string_view line)> line;
        /// A line over the limit; its bytes are dropped.
        std::function<void()> too_long;
        /// End of input, an error, or cut off: called once.
        std::function<void(const std::string& why)> closed;
    };

    /// Takes ownership of both descriptors (the same one twice is fine).
    LineConnection(boost::asio::io_context& io, int in_fd, int out_fd, std::size_t max_line,
                   std::size_t max_queued);
    ~LineConnection();

    void start(Handlers handlers);
    /// Queues `line` and a newline.
    void send(std::string_view line);
    /// Stops reading and writing; pending output is dropped.
    void close(const std::string& why);
    /// Stops reading, sends what is queued, then closes.
    void finish();
    bool closed() const { return closed_; }

  private:
    void read();
    void write_next();

    boost::asio::posix::stream_descriptor in_;
    boost::asio::posix::stream_descriptor out_;
    std::size_t max_line_;
    std::size_t max_queued_;
    Handlers handlers_;
    std::array<char, 64 * 1024> chunk_{};
    std::string partial_;
    bool skipping_ = false;  ///< inside a line that is too long
    std::string pending_;    ///< queued lines, not being written yet
    std::string written_;    ///< the lines being written
    bool writing_ = false;
    bool flush_posted_ = false;
    bool finishing_ = false;
    bool closed_ = false;
};

}  // namespace tend
