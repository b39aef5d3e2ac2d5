// Length-prefixed framing for the worker protocol (docs/protocol.md).
//
// A frame is an 8-byte header followed by the payload (one msgpack value):
//   'T' 'N'                 a magic marker
//   4 bytes                 the payload length, big-endian
//   2 bytes                 a check of the length: (hi16 ^ lo16 ^ 0x5AA5), big-endian
// The marker and the check make a frame boundary verifiable: bytes a test
// wrote on a protocol descriptor are caught at the next header instead of
// being taken for a length (docs/protocol.md, "Framing").
//
// The decoder is incremental: feed it whatever a read() returned and pull out
// complete payloads. Every way a byte stream can be wrong (a bad header, too
// big, a zero length, cut off at end of file) becomes an error that says what
// it saw; nothing here throws, blocks or grows past the frame limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tend::protocol {

/// Bytes in a frame header: marker, length, check.
inline constexpr std::size_t kFrameHeaderBytes = 8;
/// The marker every frame header starts with.
inline constexpr unsigned char kFrameMagic[2] = {'T', 'N'};
/// The check of a payload length, as the header's last two bytes carry it.
constexpr std::uint16_t frame_length_check(std::uint32_t length) {
    return static_cast<std::uint16_t>((length >> 16) ^ (length & 0xffff) ^ 0x5aa5);
}
/// Default largest payload accepted: room for a result carrying two capped
/// output streams (see kMaxCapturedBytes) plus failure text, with margin.
inline constexpr std::uint32_t kDefaultMaxFrameBytes = 16u * 1024 * 1024;

/// Appends a frame header for a payload of `payload_size`.
void put_frame_header(std::vector<char>& out, std::uint32_t payload_size);
/// Overwrites the header at `at` (reserved earlier) for `payload_size`.
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
    /// or an error (a header that is not one, an oversized or zero-length
    /// frame).
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
