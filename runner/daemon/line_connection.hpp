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
//
// Small while idle: a daemon may hold thousands of connections that wait
// (issue 11). Reading waits for the descriptor to be readable and then
// reads into one buffer all connections share, so a connection holds no
// input buffer but the part of a line that spans reads; a socket is one
// descriptor, read and written (no second descriptor per client); and the
// output buffers are given back once the output drains, unless the owner
// asks to keep their room (keep_room: a run streams through it). What the
// buffers hold is added up in a Meter the server reads for its queue budget.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tend {

class LineConnection : public std::enable_shared_from_this<LineConnection> {
  public:
    struct Handlers {
        /// A line, valid only during the call.
        std::function<void(std::string_view line)> line;
        /// A line over the limit; its bytes are dropped.
        std::function<void()> too_long;
        /// End of input, an error, or cut off: called once.
        std::function<void(const std::string& why)> closed;
    };
    /// The bytes the buffers of every connection sharing it hold.
    struct Meter {
        std::size_t bytes = 0;
    };

    /// Takes ownership of both descriptors (the same one twice is fine: a
    /// socket, read and written through one descriptor).
    LineConnection(boost::asio::io_context& io, int in_fd, int out_fd, std::size_t max_line,
                   std::size_t max_queued, std::shared_ptr<Meter> meter = nullptr);
    ~LineConnection();

    void start(Handlers handlers);
    /// Queues `line` and a newline.
    void send(std::string_view line);
    /// Stops reading and writing; pending output is dropped.
    void close(const std::string& why);
    /// Stops reading, sends what is queued, then closes.
    void finish();
    bool closed() const { return closed_; }
    /// Keep the output buffers' room between writes (up to 256 KiB each),
    /// or give it back as soon as the output drains (the default).
    void keep_room(bool keep);
    /// What the buffers hold now, in bytes (capacity, not only content).
    std::size_t buffered() const { return accounted_; }
    /// Counts the buffers in `meter` from now on, no longer in the last one.
    void set_meter(std::shared_ptr<Meter> meter);

  private:
    void wait_readable();
    void on_readable();
    void write_next();
    /// Gives back the output buffers' room when nothing is in them.
    void release_output();
    /// Brings the meter up to date with what the buffers hold.
    void account();
    boost::asio::posix::stream_descriptor& out() { return out_ ? *out_ : in_; }

    boost::asio::posix::stream_descriptor in_;
    /// Only when output has a descriptor of its own (stdio).
    std::optional<boost::asio::posix::stream_descriptor> out_;
    std::size_t max_line_;
    std::size_t max_queued_;
    std::shared_ptr<Meter> meter_;
    std::size_t accounted_ = 0;  ///< what the meter has of this connection
    Handlers handlers_;
    std::string partial_;    ///< the start of a line that spans reads
    bool skipping_ = false;  ///< inside a line that is too long
    std::string pending_;    ///< queued lines, not being written yet
    std::string written_;    ///< the lines being written
    bool writing_ = false;
    bool flush_posted_ = false;
    bool finishing_ = false;
    bool closed_ = false;
    bool keep_room_ = false;
};

}  // namespace tend
