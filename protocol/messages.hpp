// The messages of the worker protocol and their msgpack encoding.
//
// The life of one unit, message by message (docs/protocol.md has the rest):
//
//   worker     -> supervisor   hello      {version, pid, framework}
//   supervisor -> worker       list
//   worker     -> supervisor   tests      {tests: [{id, name, suite, file, line, skip, timeout,
//                                                    tags?}]}
//   supervisor -> worker       run        {unit, tests: [{id, name}], flush?, more?,
//                                          run_skipped?}
//   worker     -> supervisor   result     {unit, id, status, duration_ns, health, ...}
//                                          (one per test)
//   supervisor -> worker       finalize   {unit}  (scope teardown of the unit)
//   worker     -> supervisor   finalized  {unit, health, stdout, stderr, errors}
//   supervisor -> worker       shutdown   (the worker exits 0)
//
// Every payload is one msgpack map with a string "type". Unknown keys are
// ignored so either side can grow; a missing or mistyped key is an error
// that names the message and the key.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tend::protocol {

/// Bumped on any incompatible change; hello carries it and the supervisor
/// refuses a worker that speaks another version.
inline constexpr std::uint32_t kProtocolVersion = 3;

/// The worker's own health after a test or a teardown. Each reading is absent
/// when this platform cannot measure it: never a guess.
struct Health {
    std::optional<std::uint64_t> rss_bytes;
    std::optional<std::uint64_t> open_fds;
    bool operator==(const Health&) const = default;
};

struct Hello {
    std::uint32_t version = kProtocolVersion;
    std::int64_t pid = 0;
    std::string framework;
    bool operator==(const Hello&) const = default;
};

struct ListRequest {
    bool operator==(const ListRequest&) const = default;
};

/// One discovered test. `id` is its index in the worker's registry; it is
/// stable for one build of a binary and only valid with that build.
struct TestInfo {
    std::uint32_t id = 0;
    std::string name;
    std::string suite;  ///< empty when the test belongs to no suite
    std::string file;
    std::uint32_t line = 0;
    bool skip = false;
    double timeout_s = 0;  ///< framework's own per-test timeout; 0 = none
    /// Labels for selecting tests (--only-tagged/--skip-tagged); optional
    /// on the wire.
    std::vector<std::string> tags = {};
    bool operator==(const TestInfo&) const = default;
};

struct TestList {
    std::vector<TestInfo> tests;
    /// More `tests` frames follow: a long list comes in chunks, each well
    /// under the frame limit, ids counting on from one chunk to the next.
    /// Absent on the wire when false.
    bool more = false;
    bool operator==(const TestList&) const = default;
};

/// A test named in a run request: the id, with the name as a check that
/// the id still means the same test.
struct TestRef {
    std::uint32_t id = 0;
    std::string name;
    bool operator==(const TestRef&) const = default;
};

/// Run these tests, in this order, as unit `unit`.
struct RunUnit {
    std::uint64_t unit = 0;
    std::vector<TestRef> tests;
    /// Send each result as soon as its test ends, no batching: tend asks
    /// for it after a worker broke the protocol, so that the next break is
    /// pinned on the test that caused it. Absent on the wire when false.
    bool flush = false;
    /// More `run` frames of the same unit follow with the rest of its tests:
    /// a long unit's request comes in chunks too. Absent when false.
    bool more = false;
    /// Run the tests the framework skips by default (doctest's skip(),
    /// gtest's DISABLED_) instead of reporting them skipped: tend run
    /// --run-ignored only|all. Absent on the wire when false.
    bool run_skipped = false;
    bool operator==(const RunUnit&) const = default;
};

enum class Status : std::uint8_t { passed, failed, skipped };
std::string_view to_string(Status s);
std::optional<Status> status_from_string(std::string_view s);

/// One failed assertion, failing message or escaped exception.
struct Failure {
    std::string file;
    std::uint32_t line = 0;
    std::string kind;        ///< "CHECK_EQ", "REQUIRE", "FAIL", "exception", ...
    std::string expression;  ///< as written in the source; empty for messages
    std::string expanded;    ///< with values substituted, e.g. "1 == 2"
    std::string message;     ///< user message, exception text, INFO context
    std::string subcase;     ///< subcase path "outer / inner"; empty at top level
    bool operator==(const Failure&) const = default;
};

struct TestResult {
    std::uint64_t unit = 0;
    std::uint32_t id = 0;
    Status status = Status::passed;
    std::uint64_t duration_ns = 0;
    std::vector<Failure> failures;
    std::string out;  ///< the test's captured stdout (capped, see docs)
    std::string err;  ///< the test's captured stderr (capped)
    Health health;
    bool operator==(const TestResult&) const = default;
};

struct Finalize {
    std::uint64_t unit = 0;
    bool operator==(const Finalize&) const = default;
};

/// The unit's teardowns have run. `errors` holds one line per teardown that threw.
struct Finalized {
    std::uint64_t unit = 0;
    Health health;
    std::string out;
    std::string err;
    std::vector<std::string> errors;
    bool operator==(const Finalized&) const = default;
};

struct Shutdown {
    bool operator==(const Shutdown&) const = default;
};

/// The worker could not do what was asked (unknown test id, bad request).
struct WorkerError {
    std::string message;
    bool operator==(const WorkerError&) const = default;
};

using Message = std::variant<Hello, ListRequest, TestList, RunUnit, TestResult, Finalize, Finalized,
                             Shutdown, WorkerError>;

/// The "type" string of a message.
std::string_view type_name(const Message& m);

/// Appends `m` to `out` as one complete frame (length prefix + payload).
void encode_frame(const Message& m, std::vector<char>& out);

/// Appends one `tests` frame listing `tests` (a slice of a longer list,
/// copied from nothing), with `more` when further chunks follow.
void encode_tests_frame(std::span<const TestInfo> tests, bool more, std::vector<char>& out);
/// A chunk's size, estimated before encoding it: a test's strings plus the
/// keys and numbers around them. Chunks are cut on this.
std::size_t estimated_wire_bytes(const TestInfo& t);
/// The bytes a list or run chunk is cut at: far under the frame limit, and
/// small enough that decoding one (msgpack's object tree, then the
/// messages) costs tend about a megabyte at a time, not a frame's worth.
inline constexpr std::size_t kChunkBytes = 256u * 1024;

/// Decodes one frame payload. On failure `error` says what was wrong.
struct Decoded {
    std::optional<Message> message;
    std::string error;
};
Decoded decode_payload(std::span<const char> payload);

}  // namespace tend::protocol
