// JUnit XML for CI systems (GitLab, Jenkins, GitHub test-report actions):
// one <testsuite> per test binary, one <testcase> per test, retries as the
// nested reruns Maven surefire writes. The reporter keeps every final result
// and attempt in memory and writes the whole file at summary(), through a
// temporary file and a rename, so a half-written file never appears.
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
    /// at once that `path` can be written: see error().
    JunitReporter(std::string path, const std::vector<std::string>& binaries);
    void test(const TestEvent& e) override;
    void recycle(const RecycleEvent&) override {}
    void notice(const Notice& n) override;
    void shutdown(const ShutdownReport&) override {}
    void summary(const Summary& s) override;

    /// Why the file cannot be (or could not be) written, as strerror()
    /// says it; empty while all is well.
    const std::string& error() const { return error_; }

  private:
    /// One run of a test, copied out of its event.
    struct Attempt {
        TestStatus status = TestStatus::passed;
        std::uint64_t duration_ns = 0;
        std::vector<protocol::Failure> failures;
        std::string out;
        std::string err;
        std::string detail;
    };
    struct Case {
        protocol::TestInfo test;
        Attempt last;
        std::vector<Attempt> earlier;  ///< attempts that were retried, oldest first
    };
    struct Suite {
        std::string binary;
        std::vector<Case> cases;
        std::map<std::uint32_t, Case> retried;  ///< by test id: attempts awaiting their final event
        std::vector<std::string> errors;        ///< notices that fail the run
        std::vector<std::string> warnings;      ///< notices that do not
    };

    Suite& suite_of(const std::string& binary);
    /// Writes the file; false, with error_ set, when it could not.
    bool write(const Summary& s);
    static void append_testcase(std::string& buf, const Case& c, const std::string& classname);

    std::string path_;
    std::string error_;
    std::vector<Suite> suites_;
    std::chrono::system_clock::time_point started_;
};

}  // namespace tend
