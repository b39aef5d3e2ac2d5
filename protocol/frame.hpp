// Length-prefixed framing for the worker protocol (docs/protocol.md).
//
// A frame is a 4-byte big-endian payload length followed by that many bytes of
// msgpack. The decoder is incremental: feed it whatever a read() returned and
// pull out complete payloads. Every way a byte stream can be wrong (too big, a
// zero length, cut off at end of file) becomes an error that says what it saw;
// nothing here throws, blocks or grows past the frame limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tend::protocol {

/// Bytes in the length prefix.
inline constexpr std::size_t kFrameHeaderBytes = 4;
/// Default largest payload accepted: room for a result carrying two capped
/// output streams (see kMaxCapturedBytes) plus failure text, with margin.
inline constexpr std::uint32_t kDefaultMaxFrameBytes = 16u * 1024 * 1024;

/// Appends a 4-byte big-endian length prefix for a payload of `payload_size`.
void put_frame_header(std::vector<char>& out, std::uint32_t payload_size);
/// Overwrites the prefix at `at` (reserved earlier) with `payload_size`.
void patch_frame_header(std::vector<char>& out, std::size_t at, std::uint32_t payload_size);

/// One step of FrameDecoder::next(): a payload, nothing yet, or an error.
struct FrameEvent {
    enum class Kind { none, frame, error } kind = Kind::none;
    std::span<const char> payload;  ///< valid until the next feed()/next()
    std::string error;              ///< set when kind == error
};

/// Incremental decoder. After an error it stays failed: a byte stream that
/// lost its framing cannot be trusted again.
class FrameDecoder {
  public:
    explicit FrameDecoder(std::uint32_t max_frame_bytes = kDefaultMaxFrameBytes)
        : max_frame_bytes_(max_frame_bytes) {}

    /// Appends bytes read from the stream.
    void feed(const char* data, std::size_t size);
    /// Returns the next complete payload, `none` when more bytes are needed,
    /// or an error (oversized or zero-length frame).
    FrameEvent next();
    /// Call at end of stream: an error when it ended inside a frame.
    std::optional<std::string> finish() const;

    bool failed() const { return failed_; }
    /// Bytes buffered and not yet returned as a frame.
    std::size_t buffered() const { return buffer_.size() - read_pos_; }

  private:
    std::uint32_t max_frame_bytes_;
    std::vector<char> buffer_;
    std::size_t read_pos_ = 0;
    bool failed_ = false;
};

}  // namespace tend::protocol
