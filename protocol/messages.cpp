// msgpack encoding of the protocol messages: see messages.hpp and docs/protocol.md.
#include "messages.hpp"

#include <msgpack.hpp>
#include <stdexcept>

#include "frame.hpp"

namespace tend::protocol {

std::string_view to_string(Status s) {
    switch (s) {
        case Status::passed:
            return "passed";
        case Status::failed:
            return "failed";
        case Status::skipped:
            return "skipped";
    }
    return "?";
}

std::optional<Status> status_from_string(std::string_view s) {
    if (s == "passed") return Status::passed;
    if (s == "failed") return Status::failed;
    if (s == "skipped") return Status::skipped;
    return std::nullopt;
}

namespace {

struct TypeNameOf {
    std::string_view operator()(const Hello&) const { return "hello"; }
    std::string_view operator()(const ListRequest&) const { return "list"; }
    std::string_view operator()(const TestList&) const { return "tests"; }
    std::string_view operator()(const RunUnit&) const { return "run"; }
    std::string_view operator()(const TestResult&) const { return "result"; }
    std::string_view operator()(const Finalize&) const { return "finalize"; }
    std::string_view operator()(const Finalized&) const { return "finalized"; }
    std::string_view operator()(const Shutdown&) const { return "shutdown"; }
    std::string_view operator()(const WorkerError&) const { return "error"; }
};

// ---- encoding --------------------------------------------------------------

/// msgpack output buffer appending to the caller's vector.
struct VectorSink {
    std::vector<char>& out;
    void write(const char* p, std::size_t n) { out.insert(out.end(), p, p + n); }
};
using Packer = msgpack::packer<VectorSink>;

void str(Packer& pk, std::string_view s) {
    pk.pack_str(static_cast<std::uint32_t>(s.size()));
    pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}
// Captured output is raw bytes (tests may print invalid UTF-8): msgpack bin.
void bin(Packer& pk, std::string_view s) {
    pk.pack_bin(static_cast<std::uint32_t>(s.size()));
    pk.pack_bin_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

void pack_health(Packer& pk, const Health& h) {
    pk.pack_map((h.rss_bytes ? 1 : 0) + (h.open_fds ? 1 : 0));
    if (h.rss_bytes) {
        str(pk, "rss_bytes");
        pk.pack_uint64(*h.rss_bytes);
    }
    if (h.open_fds) {
        str(pk, "open_fds");
        pk.pack_uint64(*h.open_fds);
    }
}

/// Packs the messages; each key-value helper writes one map entry.
struct Encoder {
    Packer& pk;

    void text(std::string_view key, std::string_view value) {
        str(pk, key);
        str(pk, value);
    }
    void bytes(std::string_view key, std::string_view value) {
        str(pk, key);
        bin(pk, value);
    }
    void uint(std::string_view key, std::uint64_t value) {
        str(pk, key);
        pk.pack_uint64(value);
    }
    void array(std::string_view key, std::size_t size) {
        str(pk, key);
        pk.pack_array(static_cast<std::uint32_t>(size));
    }
    void head(std::uint32_t fields, std::string_view type) {
        pk.pack_map(fields + 1);
        text("type", type);
    }

    void operator()(const Hello& m) {
        head(3, "hello");
        uint("version", m.version);
        str(pk, "pid");
        pk.pack_int64(m.pid);
        text("framework", m.framework);
    }
    void operator()(const ListRequest&) { head(0, "list"); }
    void operator()(const TestList& m) { tests(m.tests, m.more); }
    void tests(std::span<const TestInfo> list, bool more) {
        head(more ? 2 : 1, "tests");
        if (more) {
            str(pk, "more");
            pk.pack_true();
        }
        array("tests", list.size());
        for (const auto& t : list) {
            pk.pack_map(t.tags.empty() ? 7 : 8);
            uint("id", t.id);
            text("name", t.name);
            text("suite", t.suite);
            text("file", t.file);
            uint("line", t.line);
            str(pk, "skip");
            t.skip ? pk.pack_true() : pk.pack_false();
            str(pk, "timeout");
            pk.pack_double(t.timeout_s);
            if (!t.tags.empty()) {
                array("tags", t.tags.size());
                for (const auto& tag : t.tags) str(pk, tag);
            }
        }
    }
    void operator()(const RunUnit& m) {
        head(2 + (m.flush ? 1 : 0) + (m.more ? 1 : 0) + (m.run_skipped ? 1 : 0), "run");
        uint("unit", m.unit);
        if (m.flush) {
            str(pk, "flush");
            pk.pack_true();
        }
        if (m.run_skipped) {
            str(pk, "run_skipped");
            pk.pack_true();
        }
        if (m.more) {
            str(pk, "more");
            pk.pack_true();
        }
        array("tests", m.tests.size());
        for (const auto& t : m.tests) {
            pk.pack_map(2);
            uint("id", t.id);
            text("name", t.name);
        }
    }
    void operator()(const TestResult& m) {
        head(8, "result");
        uint("unit", m.unit);
        uint("id", m.id);
        text("status", to_string(m.status));
        uint("duration_ns", m.duration_ns);
        str(pk, "health");
        pack_health(pk, m.health);
        array("failures", m.failures.size());
        for (const auto& f : m.failures) {
            pk.pack_map(7);
            text("file", f.file);
            uint("line", f.line);
            text("kind", f.kind);
            text("expression", f.expression);
            text("expanded", f.expanded);
            text("message", f.message);
            text("subcase", f.subcase);
        }
        bytes("stdout", m.out);
        bytes("stderr", m.err);
    }
    void operator()(const Finalize& m) {
        head(1, "finalize");
        uint("unit", m.unit);
    }
    void operator()(const Finalized& m) {
        head(5, "finalized");
        uint("unit", m.unit);
        str(pk, "health");
        pack_health(pk, m.health);
        bytes("stdout", m.out);
        bytes("stderr", m.err);
        array("errors", m.errors.size());
        for (const auto& e : m.errors) str(pk, e);
    }
    void operator()(const Shutdown&) { head(0, "shutdown"); }
    void operator()(const WorkerError& m) {
        head(1, "error");
        text("message", m.message);
    }
};

// ---- decoding --------------------------------------------------------------

struct DecodeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string_view kind_name(const msgpack::object& o) {
    switch (o.type) {
        case msgpack::type::NIL:
            return "nil";
        case msgpack::type::BOOLEAN:
            return "boolean";
        case msgpack::type::POSITIVE_INTEGER:
            return "unsigned integer";
        case msgpack::type::NEGATIVE_INTEGER:
            return "negative integer";
        case msgpack::type::FLOAT32:
        case msgpack::type::FLOAT64:
            return "float";
        case msgpack::type::STR:
            return "string";
        case msgpack::type::BIN:
            return "binary";
        case msgpack::type::ARRAY:
            return "array";
        case msgpack::type::MAP:
            return "map";
        case msgpack::type::EXT:
            return "extension";
    }
    return "unknown";
}

/// A msgpack map read by key, with errors that name where they happened.
class Fields {
  public:
    /// `name` names the map in errors ("result.health", or "tests.tests"
    /// with `index` 3 for "tests.tests[3]"); it is only spelled out when an
    /// error needs it, so decoding allocates nothing for it.
    Fields(const msgpack::object& o, std::string_view name, std::optional<std::size_t> index = {})
        : where_(name), index_(index) {
        if (o.type != msgpack::type::MAP) {
            throw DecodeError(where() + ": expected a map, got " + std::string(kind_name(o)));
        }
        map_ = &o.via.map;
    }

    const msgpack::object* find(std::string_view key) const {
        for (std::uint32_t i = 0; i < map_->size; ++i) {
            const auto& k = map_->ptr[i].key;
            if (k.type == msgpack::type::STR &&
                std::string_view(k.via.str.ptr, k.via.str.size) == key) {
                return &map_->ptr[i].val;
            }
        }
        return nullptr;
    }
    const msgpack::object& need(std::string_view key) const {
        const auto* o = find(key);
        if (!o) throw DecodeError(where() + ": missing key '" + std::string(key) + "'");
        return *o;
    }
    [[noreturn]] void wrong(std::string_view key, const msgpack::object& o,
                            std::string_view expected) const {
        throw DecodeError(where() + "." + std::string(key) + ": expected " + std::string(expected) +
                          ", got " + std::string(kind_name(o)));
    }

    std::uint64_t u64(std::string_view key) const {
        const auto& o = need(key);
        if (o.type != msgpack::type::POSITIVE_INTEGER) wrong(key, o, "unsigned integer");
        return o.via.u64;
    }
    std::uint32_t u32(std::string_view key) const {
        const auto v = u64(key);
        if (v > 0xffffffffu) {
            throw DecodeError(where() + "." + std::string(key) + ": " + std::to_string(v) +
                              " does not fit in 32 bits");
        }
        return static_cast<std::uint32_t>(v);
    }
    std::int64_t i64(std::string_view key) const {
        const auto& o = need(key);
        if (o.type == msgpack::type::NEGATIVE_INTEGER) return o.via.i64;
        if (o.type == msgpack::type::POSITIVE_INTEGER && o.via.u64 <= INT64_MAX) {
            return static_cast<std::int64_t>(o.via.u64);
        }
        wrong(key, o, "integer");
    }
    double f64(std::string_view key) const {
        const auto& o = need(key);
        if (o.type == msgpack::type::FLOAT64 || o.type == msgpack::type::FLOAT32) return o.via.f64;
        if (o.type == msgpack::type::POSITIVE_INTEGER) return static_cast<double>(o.via.u64);
        // msgpack-c packs a double with no fraction as an integer.
        if (o.type == msgpack::type::NEGATIVE_INTEGER) return static_cast<double>(o.via.i64);
        wrong(key, o, "number");
    }
    bool boolean(std::string_view key) const {
        const auto& o = need(key);
        if (o.type != msgpack::type::BOOLEAN) wrong(key, o, "boolean");
        return o.via.boolean;
    }
    /// Accepts str and bin: captured output travels as bin, text as str.
    std::string text(std::string_view key) const {
        const auto& o = need(key);
        if (o.type == msgpack::type::STR) return {o.via.str.ptr, o.via.str.size};
        if (o.type == msgpack::type::BIN) return {o.via.bin.ptr, o.via.bin.size};
        wrong(key, o, "string");
    }
    const msgpack::object_array& array(std::string_view key) const {
        const auto& o = need(key);
        if (o.type != msgpack::type::ARRAY) wrong(key, o, "array");
        return o.via.array;
    }
    std::string where() const {
        std::string w(where_);
        if (index_) w += "[" + std::to_string(*index_) + "]";
        return w;
    }

  private:
    const msgpack::object_map* map_ = nullptr;
    std::string_view where_;
    std::optional<std::size_t> index_;
};

Health read_health(const msgpack::object& o, std::string_view where) {
    Fields f(o, where);
    Health h;
    if (f.find("rss_bytes")) h.rss_bytes = f.u64("rss_bytes");
    if (f.find("open_fds")) h.open_fds = f.u64("open_fds");
    return h;
}

std::string at(std::string_view where, std::size_t i) {
    return std::string(where) + "[" + std::to_string(i) + "]";
}

Message decode_fields(const Fields& f, std::string_view type, std::size_t payload_size) {
    if (type == "hello") {
        return Hello{f.u32("version"), f.i64("pid"), f.text("framework")};
    }
    if (type == "list") return ListRequest{};
    if (type == "tests") {
        TestList m;
        const auto& arr = f.array("tests");
        // Each listed test takes over 40 bytes on the wire: reserving no more
        // than that allows keeps a lying array header from costing memory.
        m.tests.reserve(std::min<std::size_t>(arr.size, payload_size / 40));
        for (std::uint32_t i = 0; i < arr.size; ++i) {
            Fields t(arr.ptr[i], "tests.tests", i);
            m.tests.push_back(TestInfo{t.u32("id"), t.text("name"), t.text("suite"), t.text("file"),
                                       t.u32("line"), t.boolean("skip"), t.f64("timeout")});
            if (t.find("tags")) {
                const auto& tags = t.array("tags");
                for (std::uint32_t k = 0; k < tags.size; ++k) {
                    const auto& tag = tags.ptr[k];
                    if (tag.type != msgpack::type::STR) {
                        throw DecodeError(t.where() + ".tags[" + std::to_string(k) +
                                          "]: expected string, got " + std::string(kind_name(tag)));
                    }
                    m.tests.back().tags.emplace_back(tag.via.str.ptr, tag.via.str.size);
                }
            }
        }
        m.more = f.find("more") && f.boolean("more");
        return m;
    }
    if (type == "run") {
        RunUnit m;
        m.unit = f.u64("unit");
        const auto& arr = f.array("tests");
        for (std::uint32_t i = 0; i < arr.size; ++i) {
            Fields t(arr.ptr[i], "run.tests", i);
            m.tests.push_back(TestRef{t.u32("id"), t.text("name")});
        }
        m.flush = f.find("flush") && f.boolean("flush");
        m.more = f.find("more") && f.boolean("more");
        m.run_skipped = f.find("run_skipped") && f.boolean("run_skipped");
        return m;
    }
    if (type == "result") {
        TestResult m;
        m.unit = f.u64("unit");
        m.id = f.u32("id");
        const auto status = f.text("status");
        const auto s = status_from_string(status);
        if (!s) throw DecodeError("result.status: unknown status '" + status + "'");
        m.status = *s;
        m.duration_ns = f.u64("duration_ns");
        m.health = read_health(f.need("health"), "result.health");
        const auto& arr = f.array("failures");
        for (std::uint32_t i = 0; i < arr.size; ++i) {
            Fields x(arr.ptr[i], "result.failures", i);
            m.failures.push_back(Failure{x.text("file"), x.u32("line"), x.text("kind"),
                                         x.text("expression"), x.text("expanded"),
                                         x.text("message"), x.text("subcase")});
        }
        m.out = f.text("stdout");
        m.err = f.text("stderr");
        return m;
    }
    if (type == "finalize") return Finalize{f.u64("unit")};
    if (type == "finalized") {
        Finalized m;
        m.unit = f.u64("unit");
        m.health = read_health(f.need("health"), "finalized.health");
        m.out = f.text("stdout");
        m.err = f.text("stderr");
        const auto& arr = f.array("errors");
        for (std::uint32_t i = 0; i < arr.size; ++i) {
            const auto& e = arr.ptr[i];
            if (e.type == msgpack::type::STR) {
                m.errors.emplace_back(e.via.str.ptr, e.via.str.size);
            } else if (e.type == msgpack::type::BIN) {
                m.errors.emplace_back(e.via.bin.ptr, e.via.bin.size);
            } else {
                throw DecodeError(at("finalized.errors", i) + ": expected string, got " +
                                  std::string(kind_name(e)));
            }
        }
        return m;
    }
    if (type == "shutdown") return Shutdown{};
    if (type == "error") return WorkerError{f.text("message")};
    throw DecodeError("unknown message type '" + std::string(type) + "'");
}

bool reference_payload(msgpack::type::object_type, std::size_t, void*) {
    return true;
}

}  // namespace

std::string_view type_name(const Message& m) {
    return std::visit(TypeNameOf{}, m);
}

void encode_frame(const Message& m, std::vector<char>& out) {
    const std::size_t header_at = out.size();
    put_frame_header(out, 0);
    VectorSink sink{out};
    Packer pk(sink);
    std::visit(Encoder{pk}, m);
    const std::size_t payload = out.size() - header_at - kFrameHeaderBytes;
    patch_frame_header(out, header_at, static_cast<std::uint32_t>(payload));
}

void encode_tests_frame(std::span<const TestInfo> tests, bool more, std::vector<char>& out) {
    const std::size_t header_at = out.size();
    put_frame_header(out, 0);
    VectorSink sink{out};
    Packer pk(sink);
    Encoder{pk}.tests(tests, more);
    const std::size_t payload = out.size() - header_at - kFrameHeaderBytes;
    patch_frame_header(out, header_at, static_cast<std::uint32_t>(payload));
}

std::size_t estimated_wire_bytes(const TestInfo& t) {
    std::size_t bytes = 80 + t.name.size() + t.suite.size() + t.file.size();
    for (const auto& tag : t.tags) bytes += 5 + tag.size();
    return bytes;
}

Decoded decode_payload(std::span<const char> payload) {
    Decoded d;
    try {
        // No container can hold more elements than the payload has bytes,
        // and no element of ours is smaller than two: saying so up front stops
        // a tiny frame from claiming a huge array. (msgpack-c allocates an
        // object per element before reading it.)
        const std::size_t n = payload.size();
        const msgpack::unpack_limit limit(n / 2 + 1, n / 2 + 1, n, n, n, 32);
        std::size_t off = 0;
        bool referenced = false;
        msgpack::object_handle oh = msgpack::unpack(payload.data(), payload.size(), off, referenced,
                                                    reference_payload, nullptr, limit);
        if (off != payload.size()) {
            d.error = "malformed frame: " + std::to_string(payload.size() - off) +
                      " trailing bytes after the message";
            return d;
        }
        const msgpack::object& obj = oh.get();
        Fields f(obj, "message");
        const auto& t = f.need("type");
        if (t.type != msgpack::type::STR) f.wrong("type", t, "string");
        const std::string_view type(t.via.str.ptr, t.via.str.size);
        Fields typed(obj, type);
        d.message = decode_fields(typed, type, payload.size());
    } catch (const DecodeError& e) {
        d.error = std::string("malformed frame: ") + e.what();
    } catch (const msgpack::insufficient_bytes&) {
        d.error = "malformed frame: msgpack value cut short";
    } catch (const std::exception& e) {
        d.error = std::string("malformed frame: not valid msgpack (") + e.what() + ")";
    }
    return d;
}

}  // namespace tend::protocol
