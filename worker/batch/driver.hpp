// What tend-batch needs to know of one test framework to run an unmodified
// binary of it in batches: how to list its tests, how to select exactly a
// batch of them on its command line, and how to read its progress as the
// batch runs. One driver per framework (gtest_driver, doctest_driver,
// catch2_driver); the batch adapter (batch_adapter.hpp) does the rest the
// same way for all three.
//
// Drivers are pure: they build argument lists and parse bytes. The adapter
// runs the processes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tend/worker.hpp>
#include <vector>

namespace tend::batch {

using worker::FailureDetail;
using worker::Outcome;
using worker::TestDescription;

/// What one run of the binary left: its stdout, what it wrote to the report
/// descriptor (kReportFd, when the driver asked for one), its stderr's tail
/// and how it ended (a wait status).
struct Captured {
    std::string out;
    std::string report;
    std::string err;
    int wait_status = 0;
};

/// Runs the binary with these arguments (after the user's own), to list its
/// tests; `report` opens kReportFd for the driver's report.
using RunBinary = std::function<Captured(const std::vector<std::string>& args, bool report)>;

/// The descriptor a driver's report goes to, named on its command line as
/// /dev/fd/3 (doctest's --out, Catch2's -o): the framework's own stdout
/// stays the tests'.
inline constexpr int kReportFd = 3;

/// A test as the progress stream names it. Matched against the batch's
/// tests by name, and by file and line when the stream gives them (0 and
/// empty when it does not).
struct TestKey {
    std::string name;
    std::string file;
    std::uint32_t line = 0;
};

/// What a progress parser saw, as it saw it.
class ProgressSink {
  public:
    virtual ~ProgressSink() = default;
    /// A test began.
    virtual void started(const TestKey& key) = 0;
    /// Output of the running test (or of none, between tests) to pass on as
    /// the test's stdout.
    virtual void output(std::string_view text) = 0;
    /// The test begun last ended. `out` is output the framework captured
    /// itself (Catch2's <StdOut>), appended to the test's stdout.
    virtual void finished(Outcome outcome, std::vector<FailureDetail> failures,
                          std::string out) = 0;
};

/// Reads one batch's progress: the child's stdout and report bytes as they
/// come, in any chunks. A test's end is reported once everything before it
/// has been fed.
class ProgressParser {
  public:
    virtual ~ProgressParser() = default;
    virtual void feed_stdout(std::string_view bytes, ProgressSink& sink) = 0;
    virtual void feed_report(std::string_view bytes, ProgressSink& sink) = 0;
    /// The child is gone: pass on what is left (a last line without its
    /// newline). A test still open stays open: the caller knows it died in it.
    virtual void finish(ProgressSink& sink) = 0;
    /// Why the stream could not be read, if it could not (malformed XML).
    virtual std::string error() const { return {}; }
};

/// Whether a test can be selected exactly on the framework's command line.
struct Selectable {
    /// It may share a batch: its pattern matches it and no other test.
    bool in_batch = true;
    /// Empty when it can be selected at all (alone, with exclusions if
    /// needed); else why not, said to the user as the test's failure.
    std::string problem;
};

class Driver {
  public:
    virtual ~Driver() = default;
    /// "gtest", "doctest", "catch2".
    virtual std::string framework() const = 0;
    /// Lists the binary's tests through `run`, in the order the framework
    /// runs them. On failure returns nothing and sets `error`, naming the
    /// command and what was wrong.
    virtual std::optional<std::vector<TestDescription>> list(const RunBinary& run,
                                                             std::string& error) = 0;
    /// After list(): how test `index` can be selected (computed once, for
    /// every test, against all the others).
    virtual Selectable selectable(std::size_t index) const = 0;
    /// The arguments that run exactly the tests `indexes` (ascending, all
    /// selectable; more than one only if each is in_batch), with the
    /// framework's report on kReportFd if it has one. `run_skipped` runs the
    /// tests it skips by default.
    virtual std::vector<std::string> run_args(const std::vector<std::size_t>& indexes,
                                              bool run_skipped) const = 0;
    /// Environment entries ("NAME=value") the run of run_args() needs over
    /// the worker's (gtest's sharding variables select one test among tests
    /// its filter cannot tell apart).
    virtual std::vector<std::string> run_env(const std::vector<std::size_t>& indexes,
                                             bool run_skipped) const {
        (void)indexes;
        (void)run_skipped;
        return {};
    }
    /// The key the progress stream will give test `index`.
    virtual TestKey key(std::size_t index) const = 0;
    /// A parser for one batch's progress.
    virtual std::unique_ptr<ProgressParser> parser() const = 0;
    /// Whether run_args() sends a report to kReportFd.
    virtual bool uses_report_fd() const = 0;
};

/// The driver for `framework` ("gtest", "doctest", "catch2"); null for
/// another name.
std::unique_ptr<Driver> make_driver(std::string_view framework);
std::unique_ptr<Driver> make_gtest_driver();
std::unique_ptr<Driver> make_doctest_driver();
std::unique_ptr<Driver> make_catch2_driver();

/// Bytes one argument may have on Linux (MAX_ARG_STRLEN); a batch's filter
/// is cut well under it.
inline constexpr std::size_t kMaxFilterBytes = 100 * 1024;

/// A glob as gtest, doctest and Catch2 match names: `*` any run, `?` any one
/// character; `case_sensitive` false folds ASCII case (doctest's default).
bool glob_matches(std::string_view pattern, std::string_view text, bool case_sensitive = true);

}  // namespace tend::batch
