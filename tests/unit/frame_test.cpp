// Framing and message decoding: round trips, and every malformed input
// becoming an error that names what was wrong.
#include "frame.hpp"

#include <doctest/doctest.h>

#include <msgpack.hpp>
#include <random>

#include "messages.hpp"

using namespace tend::protocol;

namespace {
std::vector<char> frame_of(const Message& m) {
    std::vector<char> out;
    encode_frame(m, out);
    return out;
}

/// Feeds `bytes` to a decoder in chunks of `chunk` and decodes every frame.
std::vector<Message> decode_all(const std::vector<char>& bytes, std::size_t chunk) {
    FrameDecoder dec;
    std::vector<Message> out;
    for (std::size_t i = 0; i < bytes.size(); i += chunk) {
        dec.feed(bytes.data() + i, std::min(chunk, bytes.size() - i));
        for (;;) {
            auto ev = dec.next();
            if (ev.kind == FrameEvent::Kind::none) break;
            REQUIRE(ev.kind == FrameEvent::Kind::frame);
            auto d = decode_payload(ev.payload);
            REQUIRE_MESSAGE(d.message, d.error);
            out.push_back(*d.message);
        }
    }
    CHECK_FALSE(dec.finish());
    return out;
}

std::vector<char> payload_of(const std::function<void(msgpack::packer<msgpack::sbuffer>&)>& fill) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    fill(pk);
    return {buf.data(), buf.data() + buf.size()};
}
}  // namespace

TEST_SUITE("protocol") {
    TEST_CASE("every message survives a round trip, whole or byte by byte") {
        TestResult result;
        result.unit = 7;
        result.id = 3;
        result.status = Status::failed;
        result.duration_ns = 12345;
        result.failures.push_back(
            {"a.cpp", 10, "CHECK_EQ", "x == y", "1 == 2", "ctx", "outer / inner"});
        result.out = std::string("bytes \xff\xfe not utf-8\n", 20);
        result.err = "err";
        result.health = {4096, std::nullopt};
        const std::vector<Message> messages = {
            Hello{kProtocolVersion, 1234, "doctest"},
            ListRequest{},
            TestList{{{0, "name, with comma", "suite", "f.cpp", 3, true, 2.5},
                      {1, "ünïcödé * ? [x]", "", "g.cpp", 9, false, 0}}},
            RunUnit{9, {{0, "a"}, {5, "b"}}},
            result,
            Finalize{9},
            Finalized{9, {1, 2}, "o", "e", {"teardown threw: x"}},
            Shutdown{},
            WorkerError{"no test named 'q'"},
        };
        std::vector<char> stream;
        for (const auto& m : messages) encode_frame(m, stream);
        CHECK(decode_all(stream, stream.size()) == messages);
        CHECK(decode_all(stream, 1) == messages);
        CHECK(decode_all(stream, 7) == messages);
    }

    TEST_CASE("run_skipped travels only when set: a default request is the bytes it always was") {
        RunUnit plain{4, {{2, "x"}}};
        const auto bytes = frame_of(plain);
        const std::string_view text(bytes.data(), bytes.size());
        CHECK(text.find("run_skipped") == std::string_view::npos);
        auto d = decode_payload(std::span<const char>(bytes).subspan(kFrameHeaderBytes));
        REQUIRE_MESSAGE(d.message, d.error);
        CHECK_FALSE(std::get<RunUnit>(*d.message).run_skipped);

        RunUnit ignored = plain;
        ignored.run_skipped = true;
        const auto set = frame_of(ignored);
        CHECK(std::string_view(set.data(), set.size()).find("run_skipped") !=
              std::string_view::npos);
        CHECK(decode_all(set, 3) == std::vector<Message>{ignored});

        // Any value but a bool is an error naming the key.
        auto p = payload_of([](auto& pk) {
            pk.pack_map(4);
            pk.pack(std::string("type"));
            pk.pack(std::string("run"));
            pk.pack(std::string("unit"));
            pk.pack(1);
            pk.pack(std::string("tests"));
            pk.pack_array(0);
            pk.pack(std::string("run_skipped"));
            pk.pack(1);
        });
        auto bad = decode_payload(p);
        CHECK_FALSE(bad.message);
        CHECK(bad.error.find("run.run_skipped") != std::string::npos);
    }

    TEST_CASE("teardown errors may travel as bin, like every other string") {
        auto p = payload_of([](auto& pk) {
            pk.pack_map(7);
            pk.pack(std::string("type"));
            pk.pack(std::string("finalized"));
            pk.pack(std::string("unit"));
            pk.pack(3);
            pk.pack(std::string("health"));
            pk.pack_map(0);
            pk.pack(std::string("stdout"));
            pk.pack(std::string(""));
            pk.pack(std::string("stderr"));
            pk.pack(std::string(""));
            pk.pack(std::string("errors"));
            pk.pack_array(1);
            pk.pack_bin(4);
            pk.pack_bin_body("oops", 4);
            pk.pack(std::string("future_key"));  // unknown keys are ignored
            pk.pack(1.5);
        });
        auto d = decode_payload(p);
        REQUIRE_MESSAGE(d.message, d.error);
        CHECK(std::get<Finalized>(*d.message).errors == std::vector<std::string>{"oops"});
    }

    TEST_CASE("absent health readings stay absent") {
        TestResult r;
        auto f = frame_of(r);
        auto d = decode_payload(std::span<const char>(f).subspan(kFrameHeaderBytes));
        REQUIRE(d.message);
        const auto& back = std::get<TestResult>(*d.message);
        CHECK_FALSE(back.health.rss_bytes);
        CHECK_FALSE(back.health.open_fds);
    }

    TEST_CASE("an oversized frame is an error naming both sizes") {
        FrameDecoder dec(1024);
        std::vector<char> header;
        put_frame_header(header, 5000);
        dec.feed(header.data(), header.size());
        auto ev = dec.next();
        REQUIRE(ev.kind == FrameEvent::Kind::error);
        CHECK(ev.error == "frame of 5000 bytes exceeds the limit of 1024 bytes");
        CHECK(dec.failed());
        CHECK(dec.next().kind == FrameEvent::Kind::error);  // stays failed
    }

    TEST_CASE("a zero-length frame is an error") {
        FrameDecoder dec;
        std::vector<char> header;
        put_frame_header(header, 0);
        dec.feed(header.data(), header.size());
        auto ev = dec.next();
        REQUIRE(ev.kind == FrameEvent::Kind::error);
        CHECK(ev.error == "zero-length frame");
    }

    TEST_CASE("a stream cut inside a frame says how much was missing") {
        auto f = frame_of(Hello{1, 2, "x"});
        FrameDecoder dec;
        dec.feed(f.data(), f.size() - 3);
        CHECK(dec.next().kind == FrameEvent::Kind::none);
        auto cut = dec.finish();
        REQUIRE(cut);
        CHECK(cut->find("stream ended inside a frame: got") == 0);
        FrameDecoder header_only;
        header_only.feed(f.data(), 2);
        CHECK(*header_only.finish() == "stream ended inside a frame header (2 of 8 bytes)");
    }

    TEST_CASE("a header is marker, length and check") {
        std::vector<char> header;
        put_frame_header(header, 0x01020304);
        const std::vector<char> expected = {'T', 'N', 1, 2, 3, 4, '\x58', '\xa3'};
        CHECK(header == expected);  // 0x0102 ^ 0x0304 ^ 0x5aa5 = 0x58a3
    }

    TEST_CASE("bytes that are not a frame header fail at once, not after a made-up length") {
        SUBCASE("a bare length, as a test writing on the descriptor would") {
            FrameDecoder dec;
            const char bare[4] = {1, 0, 0, 0};
            dec.feed(bare, 1);  // one byte is enough to know
            auto ev = dec.next();
            REQUIRE(ev.kind == FrameEvent::Kind::error);
            CHECK(ev.error ==
                  "not a frame header: 01 (a frame starts with 54 4e, \"TN\"); the stream lost its "
                  "framing");
        }
        SUBCASE("the marker with a length whose check does not match") {
            FrameDecoder dec;
            const char forged[8] = {'T', 'N', 0, 0, 0, 5, 0, 0};
            dec.feed(forged, 8);
            auto ev = dec.next();
            REQUIRE(ev.kind == FrameEvent::Kind::error);
            CHECK(ev.error ==
                  "not a frame header: 54 4e 00 00 00 05 00 00 (its length check does not match); "
                  "the stream lost its framing");
        }
        SUBCASE("junk after good frames: the good frames are delivered first") {
            auto stream = frame_of(Hello{1, 2, "x"});
            const auto second = frame_of(Shutdown{});
            stream.insert(stream.end(), second.begin(), second.end());
            std::vector<char> junk(4096, '\0');
            junk[0] = 0;  // the first bytes form a plausible length
            junk[3] = 16;
            stream.insert(stream.end(), junk.begin(), junk.end());
            FrameDecoder dec;
            dec.feed(stream.data(), stream.size());
            CHECK(dec.next().kind == FrameEvent::Kind::frame);
            CHECK(dec.next().kind == FrameEvent::Kind::frame);
            CHECK(dec.next().kind == FrameEvent::Kind::error);
        }
    }

    TEST_CASE("malformed payloads are errors that say what was wrong") {
        auto decode = [](const std::vector<char>& p) { return decode_payload(p); };
        SUBCASE("not msgpack") {
            auto d = decode({'\xc1'});  // 0xc1 is never used in msgpack
            CHECK_FALSE(d.message);
            CHECK(d.error.find("malformed frame") == 0);
        }
        SUBCASE("cut short") {
            auto d = decode({'\x82', '\xa4', 't'});
            CHECK_FALSE(d.message);
            CHECK(d.error == "malformed frame: msgpack value cut short");
        }
        SUBCASE("trailing bytes") {
            auto p = payload_of([](auto& pk) {
                pk.pack_map(1);
                pk.pack(std::string("type"));
                pk.pack(std::string("list"));
            });
            p.push_back('\x01');
            auto d = decode(p);
            CHECK(d.error == "malformed frame: 1 trailing bytes after the message");
        }
        SUBCASE("not a map") {
            auto d = decode(payload_of([](auto& pk) { pk.pack(42); }));
            CHECK(d.error == "malformed frame: message: expected a map, got unsigned integer");
        }
        SUBCASE("no type") {
            auto d = decode(payload_of([](auto& pk) { pk.pack_map(0); }));
            CHECK(d.error == "malformed frame: message: missing key 'type'");
        }
        SUBCASE("unknown type") {
            auto d = decode(payload_of([](auto& pk) {
                pk.pack_map(1);
                pk.pack(std::string("type"));
                pk.pack(std::string("teleport"));
            }));
            CHECK(d.error == "malformed frame: unknown message type 'teleport'");
        }
        SUBCASE("wrong key type") {
            auto d = decode(payload_of([](auto& pk) {
                pk.pack_map(2);
                pk.pack(std::string("type"));
                pk.pack(std::string("finalize"));
                pk.pack(std::string("unit"));
                pk.pack(std::string("seven"));
            }));
            CHECK(d.error ==
                  "malformed frame: finalize.unit: expected unsigned integer, got string");
        }
        SUBCASE("missing key") {
            auto d = decode(payload_of([](auto& pk) {
                pk.pack_map(1);
                pk.pack(std::string("type"));
                pk.pack(std::string("hello"));
            }));
            CHECK(d.error == "malformed frame: hello: missing key 'version'");
        }
        SUBCASE("a bad element of an array is named by its index") {
            auto d = decode(payload_of([](auto& pk) {
                pk.pack_map(2);
                pk.pack(std::string("type"));
                pk.pack(std::string("run"));
                pk.pack(std::string("unit"));
                pk.pack(1);
            }));
            CHECK(d.error == "malformed frame: run: missing key 'tests'");
            auto e = decode(payload_of([](auto& pk) {
                pk.pack_map(3);
                pk.pack(std::string("type"));
                pk.pack(std::string("run"));
                pk.pack(std::string("unit"));
                pk.pack(1);
                pk.pack(std::string("tests"));
                pk.pack_array(2);
                pk.pack_map(2);
                pk.pack(std::string("id"));
                pk.pack(0);
                pk.pack(std::string("name"));
                pk.pack(std::string("a"));
                pk.pack_map(1);
                pk.pack(std::string("name"));
                pk.pack(std::string("b"));
            }));
            CHECK(e.error == "malformed frame: run.tests[1]: missing key 'id'");
        }
        SUBCASE("unknown status") {
            TestResult r;
            auto f = frame_of(r);
            std::string s(f.begin() + kFrameHeaderBytes, f.end());
            const auto at = s.find("passed");
            REQUIRE(at != std::string::npos);
            s.replace(at, 6, "peachy");
            auto d = decode(std::vector<char>(s.begin(), s.end()));
            CHECK(d.error == "malformed frame: result.status: unknown status 'peachy'");
        }
        SUBCASE("a tiny frame claiming a huge array") {
            // array32 header claiming 2^32-1 elements, then nothing.
            auto d = decode({'\xdd', '\xff', '\xff', '\xff', '\xff'});
            CHECK_FALSE(d.message);
            CHECK(d.error.find("malformed frame") == 0);
        }
    }

    TEST_CASE("random bytes never crash the decoder") {
        std::mt19937 rng(12345);
        for (int round = 0; round < 2000; ++round) {
            std::vector<char> bytes(rng() % 64);
            for (auto& b : bytes) b = static_cast<char>(rng());
            FrameDecoder dec(256);
            dec.feed(bytes.data(), bytes.size());
            for (int i = 0; i < 8; ++i) {
                auto ev = dec.next();
                if (ev.kind != FrameEvent::Kind::frame) break;
                (void)decode_payload(ev.payload);
            }
            (void)decode_payload(bytes);
            (void)dec.finish();
        }
    }
}
