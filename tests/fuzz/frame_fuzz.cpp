// Fuzz target for the supervisor's reading of worker output: bytes go
// through FrameDecoder in uneven chunks and every frame through
// decode_payload, exactly as WorkerProcess does. Nothing may crash, hang,
// leak or allocate without bound. Built by tests/fuzz/run.sh with libFuzzer;
// replay_main.cpp replays the seeds in meson test.
#include <cstddef>
#include <cstdint>

#include "frame.hpp"
#include "messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace tend::protocol;
    // The first byte picks the chunk size, so the fuzzer also explores how
    // frames are split across reads.
    const std::size_t chunk = size > 0 ? (data[0] % 64) + 1 : 1;
    FrameDecoder decoder(1 << 20);
    const char* bytes = reinterpret_cast<const char*>(data);
    for (std::size_t at = 0; at < size; at += chunk) {
        const std::size_t n = at + chunk <= size ? chunk : size - at;
        decoder.feed(bytes + at, n);
        for (;;) {
            auto ev = decoder.next();
            if (ev.kind != FrameEvent::Kind::frame) break;
            auto decoded = decode_payload(ev.payload);
            if (decoded.message) {
                // Whatever decodes must encode again.
                std::vector<char> again;
                encode_frame(*decoded.message, again);
            }
        }
        if (decoder.failed()) break;
    }
    (void)decoder.finish();
    // And the whole input as one payload.
    (void)decode_payload(std::span<const char>(bytes, size));
    return 0;
}
