// LineConnection: see line_connection.hpp.
#include "daemon/line_connection.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstring>

namespace tend {

namespace {
/// Output room kept between writes while the owner asks to keep it; more is
/// given back once written.
constexpr std::size_t kKeptRoom = 256 * 1024;
/// How much one read takes, into the buffer every connection shares.
constexpr std::size_t kReadChunk = 64 * 1024;

/// Gives a string's heap room back. (`s = std::string()` does not: a move
/// from a string that holds nothing on the heap copies into `s`'s room.)
void release(std::string& s) {
    std::string().swap(s);
}

/// The heap bytes a string holds (none while it fits in the object).
std::size_t heap_of(const std::string& s) {
    return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}
}  // namespace

LineConnection::LineConnection(boost::asio::io_context& io, int in_fd, int out_fd,
                               std::size_t max_line, std::size_t max_queued,
                               std::shared_ptr<Meter> meter)
    : in_(io, in_fd), max_line_(max_line), max_queued_(max_queued), meter_(std::move(meter)) {
    if (out_fd != in_fd) out_.emplace(io, out_fd);
    // Reads are ours (read(2) once readable): they must never block.
    boost::system::error_code ignored;
    in_.non_blocking(true, ignored);
}

LineConnection::~LineConnection() {
    boost::system::error_code ignored;
    in_.close(ignored);
    if (out_) out_->close(ignored);
    if (meter_) meter_->bytes -= accounted_;
}

void LineConnection::start(Handlers handlers) {
    handlers_ = std::move(handlers);
    wait_readable();
}

void LineConnection::wait_readable() {
    in_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                   [self = shared_from_this()](boost::system::error_code ec) {
                       if (self->closed_ || self->finishing_) return;
                       if (ec) return self->close(ec.message());
                       self->on_readable();
                   });
}

void LineConnection::on_readable() {
    // One buffer for all connections (one event loop): a read is handled
    // whole, lines and all, before any other connection reads.
    static std::array<char, kReadChunk> chunk;
    const auto n = ::read(in_.native_handle(), chunk.data(), chunk.size());
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return wait_readable();
        return close(std::strerror(errno));
    }
    if (n == 0) return close("end of input");
    std::string_view data(chunk.data(), static_cast<std::size_t>(n));
    while (!data.empty() && !closed_) {
        const auto nl = data.find('\n');
        const auto piece = data.substr(0, nl);
        if (!skipping_ && partial_.size() + piece.size() > max_line_) {
            skipping_ = true;
            release(partial_);
            if (handlers_.too_long) handlers_.too_long();
        }
        if (nl == std::string_view::npos) {
            // The rest of the line comes with a later read.
            if (!skipping_) partial_.append(piece);
            break;
        }
        data.remove_prefix(nl + 1);
        if (skipping_) {
            skipping_ = false;
            continue;
        }
        // A line read whole is handed out where it lies, without a copy.
        std::string_view line = piece;
        if (!partial_.empty()) {
            partial_.append(piece);
            line = partial_;
        }
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty() && handlers_.line) handlers_.line(line);
        if (!partial_.empty()) release(partial_);
    }
    account();
    if (!closed_ && !finishing_) wait_readable();
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
    account();
    if (writing_ || flush_posted_) return;
    // Written once this turn of the loop is over, with what else it sends.
    flush_posted_ = true;
    boost::asio::post(in_.get_executor(), [self = shared_from_this()] {
        self->flush_posted_ = false;
        if (!self->writing_) self->write_next();
    });
}

void LineConnection::write_next() {
    if (closed_) return;
    written_.clear();
    // The room a burst took (a client that read slowly) is given back.
    if (written_.capacity() > kKeptRoom) release(written_);
    if (pending_.empty()) {
        writing_ = false;
        if (!keep_room_) release_output();
        account();
        if (finishing_) close("finished");
        return;
    }
    std::swap(written_, pending_);
    account();
    writing_ = true;
    boost::asio::async_write(
        out(), boost::asio::buffer(written_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
            if (self->closed_) return;
            if (ec) return self->close(ec.message());
            self->write_next();
        });
}

void LineConnection::release_output() {
    if (!writing_ && pending_.empty()) {
        release(pending_);
        release(written_);
    }
}

void LineConnection::keep_room(bool keep) {
    keep_room_ = keep;
    if (!keep) {
        release_output();
        account();
    }
}

void LineConnection::set_meter(std::shared_ptr<Meter> meter) {
    if (meter_) meter_->bytes -= accounted_;
    meter_ = std::move(meter);
    if (meter_) meter_->bytes += accounted_;
}

void LineConnection::account() {
    const auto now = heap_of(partial_) + heap_of(pending_) + heap_of(written_);
    if (meter_) meter_->bytes = meter_->bytes - accounted_ + now;
    accounted_ = now;
}

void LineConnection::finish() {
    finishing_ = true;
    // Reading stops: the wait for input is cancelled where input has a
    // descriptor of its own; on a socket, cancelling would stop the write
    // too, so the wait's handler just does not read (finishing_).
    if (out_) {
        boost::system::error_code ignored;
        in_.cancel(ignored);
    }
    if (!writing_) write_next();
}

void LineConnection::close(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    in_.cancel(ignored);
    if (out_) out_->cancel(ignored);
    // Not what is being written: the write may still hold it until its
    // handler runs.
    release(pending_);
    release(partial_);
    account();
    // The line handler may be the caller (a reply that overflowed): only
    // the closed handler is taken.
    if (handlers_.closed) {
        auto closed = std::move(handlers_.closed);
        handlers_.closed = nullptr;
        closed(why);
    }
}

}  // namespace tend
