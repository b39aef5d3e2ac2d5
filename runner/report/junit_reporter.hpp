// JUnit XML for CI systems (GitLab, Jenkins, GitHub test-report actions):
// one <testsuite> per test binary, one <testcase> per test, retries as the
// nested reruns Maven surefire writes. Each final result is rendered at
// once into an unnamed temporary file (the spool); in memory stay only
// per-binary counts and 24 bytes a testcase saying where its XML lies, plus
// the attempts of tests whose retries are still pending. When a binary is
// done (binary_done()) its testcases are copied in registration order to the
// spool's end and its index goes, so what stays is per binary in flight.
// summary() writes the file from the spool, through a temporary file and a
// rename, so a half-written file never appears.
// docs/junit.md has the layout, the status mapping and the escaping rules.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "report/events.hpp"

namespace tend {

enum class XmlContext : std::uint8_t { text, attribute };

/// Turns arbitrary bytes into valid XML 1.0 content for `where`: `& < > " '`
/// become entities; each maximal ill-formed UTF-8 subpart (overlong forms,
/// encoded surrogates, truncated sequences, stray bytes) and U+FFFE/U+FFFF
/// become U+FFFD; C0 controls other than tab, LF and CR become the visible
/// text `\xNN` (lowercase hex; a backslash itself is kept as is). CR becomes
/// `&#13;` everywhere, and in attributes tab and LF become `&#9;`/`&#10;`, so
/// that XML's end-of-line and attribute normalisation give them back.
std::string xml_escape(std::string_view bytes, XmlContext where);

class JunitReporter final : public Reporter {
  public:
    /// `binaries` in command-line order: their testsuites come in that order,
    /// and one that reported nothing still gets its (empty) testsuite. Checks
    /// at once that `path` can be written and creates the spool: see error().
    JunitReporter(std::string path, const std::vector<std::string>& binaries);
    ~JunitReporter() override;
    JunitReporter(const JunitReporter&) = delete;
    JunitReporter& operator=(const JunitReporter&) = delete;

    void test(const TestEvent& e) override;
    void recycle(const RecycleEvent&) override {}
    void notice(const Notice& n) override;
    void shutdown(const ShutdownReport&) override {}
    void summary(const Summary& s) override;
    /// The binary's testcases are copied, in id order, to the end of the
    /// spool, and its index is let go: what stays is per binary, not per
    /// result.
    void binary_done(const std::string& binary) override;

    /// Why the file cannot be (or could not be) written, as strerror()
    /// says it; empty while all is well. Once set, results are no longer
    /// kept and no file is written; the run goes on.
    const std::string& error() const { return error_; }

    /// The memory the reporter holds for its testcases: the index (24 bytes
    /// a testcase) and the attempts of tests awaiting a retry, not counting
    /// the spool's bounded write buffer. Output lives in the spool.
    std::size_t held_bytes() const;
    /// Bytes of testcase XML in the spool so far.
    std::uint64_t spool_bytes() const { return spool_end_; }

  private:
    /// One run of a test, borrowed from an event or from an Attempt.
    struct AttemptView {
        TestStatus status;
        std::uint64_t duration_ns;
        const std::vector<protocol::Failure>& failures;
        std::string_view out;
        std::string_view err;
        std::string_view detail;
    };
    /// An attempt that will be retried, copied out of its event.
    struct Attempt {
        TestStatus status = TestStatus::passed;
        std::uint64_t duration_ns = 0;
        std::vector<protocol::Failure> failures;
        std::string out;
        std::string err;
        std::string detail;
        AttemptView view() const { return {status, duration_ns, failures, out, err, detail}; }
    };
    /// A test with retries pending: where it is, as its first attempt said,
    /// and its attempts so far, oldest first.
    struct Pending {
        std::string name;
        std::string suite;
        std::string file;
        std::uint32_t line = 0;
        std::vector<Attempt> earlier;
    };
    /// Where a final testcase's XML lies in the spool.
    struct Entry {
        std::uint64_t offset;
        std::uint64_t duration_ns;  ///< summed in id order at the end, as before streaming
        std::uint32_t id;
        std::uint32_t length;
    };
    struct Suite {
        std::string binary;
        std::string classname;     ///< for tests in no suite: the binary's name
        std::vector<Entry> cases;  ///< in the order they ended
        /// By test id: attempts awaiting their final event.
        std::map<std::uint32_t, Pending> retried;
        /// Of `cases`, those with a failure, an error, a skipped element.
        std::uint64_t failed = 0, errored = 0, skipped = 0;
        std::vector<std::string> errors;    ///< notices that fail the run
        std::vector<std::string> warnings;  ///< notices that do not
        /// Once the binary is done: its testcases in order, as spool bytes
        /// [sealed_from, sealed_to), and what the index said of them.
        bool sealed = false;
        std::uint64_t sealed_from = 0, sealed_to = 0;
        std::uint64_t sealed_cases = 0;
        double sealed_time = 0;
    };
    /// The attempts of tests whose final event never came, as results.
    void settle_retried(Suite& s);
    /// Sorts the suite's index into registration order.
    static void sort_cases(Suite& s);

    Suite& suite_of(const std::string& binary);
    /// Renders a final testcase into the spool and indexes it.
    void spool(Suite& s, std::uint32_t id, std::string_view name, std::string_view suite,
               std::string_view file, std::uint32_t line, const AttemptView& last,
               const std::vector<Attempt>& earlier);
    /// Writes the spool's buffer out; false, with error_ set, when it could not.
    bool flush_spool();
    /// Sets error_ from `err` and lets the spool go: no file will be written.
    void fail(int err);
    /// Writes the file; false, with error_ set, when it could not.
    bool write(const Summary& s);
    static void append_testcase(std::string& buf, std::string_view name, std::string_view classname,
                                std::string_view file, std::uint32_t line, const AttemptView& last,
                                const std::vector<Attempt>& earlier);

    std::string path_;
    std::string error_;
    std::vector<Suite> suites_;
    std::chrono::system_clock::time_point started_;
    int spool_fd_ = -1;
    std::string spool_buf_;        ///< rendered, not yet written; flushed at 64 KiB
    std::uint64_t spool_end_ = 0;  ///< the spool's size, with spool_buf_
};

}  // namespace tend
