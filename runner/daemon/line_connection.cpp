// LineConnection: see line_connection.hpp.
#include "daemon/line_connection.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>

namespace tend {

namespace {
/// Output room kept between writes; more is given back once written.
constexpr std::size_t kKeptRoom = 256 * 1024;

/// The socket's second descriptor (reading and writing are driven apart),
/// close-on-exec like the first: plain dup() would let every worker started
/// later inherit the client's connection.
int dup_or_throw(int fd) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) throw boost::system::system_error(errno, boost::system::system_category(), "dup");
    return copy;
}
}  // namespace

LineConnection::LineConnection(boost::asio::io_context& io, int in_fd, int out_fd,
                               std::size_t max_line, std::size_t max_queued)
    : in_(io, in_fd),
      out_(io, in_fd == out_fd ? dup_or_throw(out_fd) : out_fd),
      max_line_(max_line),
      max_queued_(max_queued) {}

LineConnection::~LineConnection() {
    boost::system::error_code ignored;
    in_.close(ignored);
    out_.close(ignored);
}

void LineConnection::start(Handlers handlers) {
    handlers_ = std::move(handlers);
    read();
}

void LineConnection::read() {
    in_.async_read_some(
        boost::asio::buffer(chunk_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
            if (self->closed_) return;
            if (ec) {
                if (self->finishing_) return;
                return self->close(ec == boost::asio::error::eof ? "end of input" : ec.message());
            }
            std::string_view data(self->chunk_.data(), n);
            while (!data.empty() && !self->closed_) {
                const auto nl = data.find('\n');
                const auto piece = data.substr(0, nl);
                if (!self->skipping_) {
                    if (self->partial_.size() + piece.size() > self->max_line_) {
                        self->skipping_ = true;
                        self->partial_.clear();
                        self->partial_.shrink_to_fit();
                        if (self->handlers_.too_long) self->handlers_.too_long();
                    } else {
                        self->partial_.append(piece);
                    }
                }
                if (nl == std::string_view::npos) break;
                data.remove_prefix(nl + 1);
                if (self->skipping_) {
                    self->skipping_ = false;
                    continue;
                }
                std::string line = std::move(self->partial_);
                self->partial_.clear();
                if (!line.empty() && line.back() == '\r') line.pop_back();
                if (!line.empty() && self->handlers_.line) self->handlers_.line(line);
            }
            if (!self->closed_ && !self->finishing_) self->read();
        });
}

void LineConnection::send(std::string_view line) {
    if (closed_) return;
    const auto waiting = written_.size() + pending_.size() + line.size() + 1;
    if (waiting > max_queued_) {
        return close("it did not read its output (" + std::to_string(waiting >> 20) +
                     " MiB waiting)");
    }
    pending_.append(line);
    pending_ += '\n';
    if (writing_ || flush_posted_) return;
    // Written once this turn of the loop is over, with what else it sends.
    flush_posted_ = true;
    boost::asio::post(out_.get_executor(), [self = shared_from_this()] {
        self->flush_posted_ = false;
        if (!self->writing_) self->write_next();
    });
}

void LineConnection::write_next() {
    if (closed_) return;
    written_.clear();
    // The room a burst took (a client that read slowly) is given back.
    if (written_.capacity() > kKeptRoom) written_ = std::string();
    if (pending_.empty()) {
        writing_ = false;
        if (finishing_) close("finished");
        return;
    }
    std::swap(written_, pending_);
    writing_ = true;
    boost::asio::async_write(
        out_, boost::asio::buffer(written_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
            if (self->closed_) return;
            if (ec) return self->close(ec.message());
            self->write_next();
        });
}

void LineConnection::finish() {
    finishing_ = true;
    boost::system::error_code ignored;
    in_.cancel(ignored);
    if (!writing_) write_next();
}

void LineConnection::close(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    in_.cancel(ignored);
    out_.cancel(ignored);
    // Not what is being written: the write may still hold it until its
    // handler runs.
    pending_ = std::string();
    if (handlers_.closed) {
        auto closed = std::move(handlers_.closed);
        handlers_ = {};
        closed(why);
    }
}

}  // namespace tend
