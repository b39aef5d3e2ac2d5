// The tend worker runtime: what a test binary links to become a worker.
//
// A binary becomes a worker when tend starts it with TEND_WORKER_FDS set: it
// then serves the protocol of docs/protocol.md on the two descriptors named
// there (never on stdout/stderr, which tests own), runs the tests it is asked
// for in-process, captures each test's output and reports its own health
// after every test. Framework adapters (doctest: <tend/doctest.hpp>) sit on
// the small Adapter interface below.
//
// C++11: this header and the adapters are compiled in the user's translation
// unit, at the user's standard (C++11 to C++20); the library is C++20. Only
// types with the same layout in every standard cross between them
// (std::string, std::vector, std::function; no std::span, no std::optional).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tend {
namespace worker {

/// Registers `teardown` to run when the current unit (for doctest: the
/// TEST_SUITE, or the source file for tests outside any suite) is finalized.
/// Teardowns run last-registered first. In a binary run by hand they run when
/// the unit's last test has finished.
void on_unit_teardown(std::function<void()> teardown);

/// Runs and forgets the registered teardowns, last first. Returns one line
/// per teardown that threw, and the errors reported with report_unit_error
/// since the last call. Adapters call this; tests need not.
std::vector<std::string> run_unit_teardowns();

/// Records an error of the current unit outside any test (an adapter's
/// assertion failed in a teardown); it fails the unit's finalize.
void report_unit_error(std::string message);

/// True when tend started this process as a worker.
bool launched_by_tend();

/// A test as an adapter describes it. Its id is its index in list().
/// (Fill it field by field: with default member initialisers it is no
/// aggregate in C++11.)
struct TestDescription {
    std::string name;
    std::string suite;
    std::string file;
    std::uint32_t line = 0;
    bool skip = false;
    double timeout_s = 0;
    std::vector<std::string> tags = {};
};

/// A failed assertion, a failing message or an escaped exception.
struct FailureDetail {
    std::string file;
    std::uint32_t line = 0;
    std::string kind;
    std::string expression;
    std::string expanded;
    std::string message;
    std::string subcase;
};

enum class Outcome { passed, failed, skipped };

/// What the runtime offers an adapter while a unit runs.
class TestSession {
  public:
    virtual ~TestSession() = default;
    /// Call right before test `id` starts: starts output capture and the clock.
    virtual void begin(std::uint32_t id) = 0;
    /// Call when the test begun last has finished; sends its result.
    virtual void end(Outcome outcome, std::vector<FailureDetail> failures) = 0;
    /// Call for a test that is not run at all (a skip decorator).
    virtual void skipped(std::uint32_t id) = 0;
    /// True when the unit asks to run the tests the framework skips by
    /// default (doctest's skip(), gtest's DISABLED_) as doctest's --no-skip
    /// and --gtest_also_run_disabled_tests do: `tend run --run-ignored`.
    /// (Last in the class: an adapter compiled before it never calls it.)
    virtual bool run_skipped() const = 0;
    // A test that dies of a signal needs no call: the runtime's crash
    // reporter leaves its name and output where the supervisor finds them.
};

class Adapter {
  public:
    virtual ~Adapter() = default;
    /// "doctest", "gtest", ...: sent in hello.
    virtual std::string framework() const = 0;
    /// Every registered test; a test's id is its index here.
    virtual std::vector<TestDescription> list() = 0;
    /// Runs the `count` tests `ids` (valid indexes into list(), ascending)
    /// in that order, reporting each through `session`.
    virtual void run(const std::uint32_t* ids, std::size_t count, TestSession& session) = 0;
};

/// Serves the protocol until shutdown or until the supervisor goes away.
/// Returns the process exit status. Call only when launched_by_tend().
int serve(Adapter& adapter);

}  // namespace worker
}  // namespace tend
