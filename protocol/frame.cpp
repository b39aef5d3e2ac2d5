// Length-prefixed framing: see frame.hpp.
#include "frame.hpp"

#include <algorithm>
#include <cstring>

namespace tend::protocol {

namespace {
/// Buffer capacity kept between frames; more is released once drained.
constexpr std::size_t kKeptCapacity = 256 * 1024;

std::uint32_t read_be32(const char* p) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) |
           std::uint32_t{u[3]};
}

std::uint16_t read_be16(const char* p) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return static_cast<std::uint16_t>((u[0] << 8) | u[1]);
}

/// The header's bytes as hex, for an error message.
std::string hex(const char* p, std::size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        const auto b = static_cast<unsigned char>(p[i]);
        if (i) out += ' ';
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
    return out;
}
}  // namespace

void put_frame_header(std::vector<char>& out, std::uint32_t payload_size) {
    out.resize(out.size() + kFrameHeaderBytes);
    patch_frame_header(out, out.size() - kFrameHeaderBytes, payload_size);
}

void patch_frame_header(std::vector<char>& out, std::size_t at, std::uint32_t payload_size) {
    const std::uint16_t check = frame_length_check(payload_size);
    out[at + 0] = static_cast<char>(kFrameMagic[0]);
    out[at + 1] = static_cast<char>(kFrameMagic[1]);
    out[at + 2] = static_cast<char>((payload_size >> 24) & 0xff);
    out[at + 3] = static_cast<char>((payload_size >> 16) & 0xff);
    out[at + 4] = static_cast<char>((payload_size >> 8) & 0xff);
    out[at + 5] = static_cast<char>(payload_size & 0xff);
    out[at + 6] = static_cast<char>((check >> 8) & 0xff);
    out[at + 7] = static_cast<char>(check & 0xff);
}

void FrameDecoder::feed(const char* data, std::size_t size) {
    if (failed_ || size == 0) return;
    // Compact before growing so the buffer holds at most one frame plus one read.
    if (read_pos_ > 0 && read_pos_ == buffer_.size()) {
        buffer_.clear();
        read_pos_ = 0;
        // A big frame (a test list) is over: give its memory back, so a
        // long-lived supervisor does not keep one frame's worth per worker.
        if (buffer_.capacity() > kKeptCapacity) std::vector<char>().swap(buffer_);
    } else if (read_pos_ > buffer_.size() / 2) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_pos_));
        read_pos_ = 0;
    }
    buffer_.insert(buffer_.end(), data, data + size);
}

FrameEvent FrameDecoder::next() {
    FrameEvent ev;
    if (failed_) {
        ev.kind = FrameEvent::Kind::error;
        ev.error = "stream already failed";
        return ev;
    }
    const std::size_t avail = buffer_.size() - read_pos_;
    const char* header = buffer_.data() + read_pos_;
    // A wrong marker shows as soon as its bytes are in: a stream that lost
    // its framing fails now, not after waiting for a length it made up.
    const std::size_t seen = std::min<std::size_t>(avail, 2);
    for (std::size_t i = 0; i < seen; ++i) {
        if (static_cast<unsigned char>(header[i]) != kFrameMagic[i]) {
            failed_ = true;
            ev.kind = FrameEvent::Kind::error;
            ev.error = "not a frame header: " + hex(header, std::min(avail, kFrameHeaderBytes)) +
                       " (a frame starts with 54 4e, \"TN\"); the stream lost its framing";
            return ev;
        }
    }
    if (avail < kFrameHeaderBytes) return ev;
    const std::uint32_t len = read_be32(header + 2);
    if (read_be16(header + 6) != frame_length_check(len)) {
        failed_ = true;
        ev.kind = FrameEvent::Kind::error;
        ev.error = "not a frame header: " + hex(header, kFrameHeaderBytes) +
                   " (its length check does not match); the stream lost its framing";
        return ev;
    }
    if (len == 0) {
        failed_ = true;
        ev.kind = FrameEvent::Kind::error;
        ev.error = "zero-length frame";
        return ev;
    }
    if (len > max_frame_bytes_) {
        failed_ = true;
        ev.kind = FrameEvent::Kind::error;
        ev.error = "frame of " + std::to_string(len) + " bytes exceeds the limit of " +
                   std::to_string(max_frame_bytes_) + " bytes";
        return ev;
    }
    if (avail - kFrameHeaderBytes < len) {
        // Room for the whole frame at once instead of doubling through it.
        buffer_.reserve(read_pos_ + kFrameHeaderBytes + len);
        return ev;
    }
    ev.kind = FrameEvent::Kind::frame;
    ev.payload = std::span<const char>(buffer_.data() + read_pos_ + kFrameHeaderBytes, len);
    read_pos_ += kFrameHeaderBytes + len;
    return ev;
}

std::optional<std::string> FrameDecoder::finish() const {
    const std::size_t avail = buffer_.size() - read_pos_;
    if (failed_ || avail == 0) return std::nullopt;
    if (avail < kFrameHeaderBytes) {
        return "stream ended inside a frame header (" + std::to_string(avail) + " of " +
               std::to_string(kFrameHeaderBytes) + " bytes)";
    }
    const std::uint32_t len = read_be32(buffer_.data() + read_pos_ + 2);
    return "stream ended inside a frame: got " + std::to_string(avail - kFrameHeaderBytes) +
           " of " + std::to_string(len) + " payload bytes";
}

}  // namespace tend::protocol
