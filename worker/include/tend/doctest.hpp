// Include this header in exactly one source file of a doctest test binary,
// instead of defining DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN. The binary then
// behaves as a normal doctest binary when a person runs it, and as a tend
// worker when tend starts it.
//
//   #include <tend/doctest.hpp>
//
// Which doctest: the one the translation unit already included, else
// TEND_DOCTEST_HEADER (default <doctest/doctest.h>). A project that vendors
// doctest includes its own first:
//
//   #define DOCTEST_CONFIG_IMPLEMENT  // its implementation, here (or in
//   #include "doctest.h"              //   another source file of the binary)
//   #include <tend/doctest.hpp>
//
// Only that doctest is compiled in: tend's library holds no doctest code.
// Supported: doctest 2.4.9 to 2.4.x, checked at compile time.
//
// Define TEND_DOCTEST_NO_MAIN first to write main() yourself and call
// tend::doctest_main(argc, argv) from it.
//
// Units: a unit is a TEST_SUITE; tests outside any suite form one unit per
// source file. tend::worker::on_unit_teardown() registers a teardown for the
// current unit.
#pragma once

// doctest installs and removes its fatal-signal handlers around every test:
// 14 syscalls a test, more than tend's whole per-test budget. Under tend the
// worker runtime installs one crash reporter for the worker's lifetime
// instead; run by hand, a crash is reported by the shell without the test's
// name. Define TEND_DOCTEST_POSIX_SIGNALS to keep doctest's handlers. (A
// doctest implementation compiled before this header keeps what it was
// compiled with: define DOCTEST_CONFIG_NO_POSIX_SIGNALS there.)
#if !defined(TEND_DOCTEST_POSIX_SIGNALS) && !defined(DOCTEST_CONFIG_NO_POSIX_SIGNALS)
#define DOCTEST_CONFIG_NO_POSIX_SIGNALS
#endif

#if defined(DOCTEST_LIBRARY_INCLUDED)
// The translation unit's own doctest, included before. Its implementation is
// here already (DOCTEST_CONFIG_IMPLEMENT was defined), or in another source
// file of the binary, or in TEND_DOCTEST_HEADER when that names the same file.
#if !defined(DOCTEST_LIBRARY_IMPLEMENTATION) && defined(TEND_DOCTEST_HEADER)
#define DOCTEST_CONFIG_IMPLEMENT
#include TEND_DOCTEST_HEADER
#endif
#else
#define DOCTEST_CONFIG_IMPLEMENT
#ifdef TEND_DOCTEST_HEADER
#include TEND_DOCTEST_HEADER
#else
#include <doctest/doctest.h>
#endif
#endif

#if defined(DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN)
#error \
    "tend/doctest.hpp brings main(): define DOCTEST_CONFIG_IMPLEMENT, not DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN, before including doctest"
#endif

#if DOCTEST_VERSION_MAJOR == 2 && DOCTEST_VERSION_MINOR == 4 && DOCTEST_VERSION_PATCH >= 9
#define TEND_DOCTEST_SUPPORTED 1
#else
#define TEND_DOCTEST_SUPPORTED 0
#endif
static_assert(TEND_DOCTEST_SUPPORTED,
              "tend/doctest.hpp supports doctest 2.4.9 to 2.4.x; this translation unit includes "
              "doctest " DOCTEST_VERSION_STR " (the doctest.h it included first)");
#if TEND_DOCTEST_SUPPORTED

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tend/worker.hpp"

// doctest defines this in its implementation part (included above) without
// declaring it in the interface.
namespace doctest {
namespace detail {
std::set<TestCase>& getRegisteredTests();
}  // namespace detail
}  // namespace doctest

namespace tend {
namespace doctest_adapter {

/// The run in progress in worker mode, read by the reporter.
struct ActiveRun {
    tend::worker::TestSession* session;
    const std::uint32_t* ids;
    std::size_t count;
    std::size_t next;
};
inline ActiveRun& active_run() {
    static ActiveRun run = {nullptr, nullptr, 0, 0};
    return run;
}

inline std::string unit_key(const doctest::TestCaseData& tc) {
    if (tc.m_test_suite && tc.m_test_suite[0] != '\0')
        return std::string("suite:") + tc.m_test_suite;
    return std::string("file:") + tc.m_file.c_str();
}

/// Reports doctest's events for the requested tests to tend's session.
class Reporter final : public doctest::IReporter {
  public:
    explicit Reporter(const doctest::ContextOptions&) {}

    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}

    void test_case_start(const doctest::TestCaseData& tc) override {
        auto& run = active_run();
        if (!run.session || run.next >= run.count) return;
        failures_.clear();
        subcases_.clear();
        current_ = &tc;
        run.session->begin(run.ids[run.next++]);
    }
    void test_case_reenter(const doctest::TestCaseData&) override { subcases_.clear(); }
    void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
        auto& run = active_run();
        if (!run.session) return;
        if (crashed_) return;  // doctest's signal handler: the process is about to die
        if (stats.testCaseSuccess) failures_.clear();
        if (!stats.testCaseSuccess && failures_.empty()) failures_.push_back(why_failed(stats));
        run.session->end(
            stats.testCaseSuccess ? tend::worker::Outcome::passed : tend::worker::Outcome::failed,
            std::move(failures_));
        failures_.clear();
    }
    void test_case_exception(const doctest::TestCaseException& e) override {
        if (e.is_crash) {
            // Called from doctest's fatal-signal handler (with
            // TEND_DOCTEST_POSIX_SIGNALS), which re-raises the signal next:
            // the runtime's own crash reporter then leaves the test's output
            // behind, and the supervisor reports the crash from the exit.
            crashed_ = true;
            return;
        }
        tend::worker::FailureDetail f;
        f.kind = e.is_crash ? "crash" : "exception";
        f.message = e.error_string.c_str();
        f.subcase = subcase_path();
        failures_.push_back(std::move(f));
    }
    void subcase_start(const doctest::SubcaseSignature& s) override {
        subcases_.emplace_back(s.m_name.c_str());
    }
    void subcase_end() override {
        if (!subcases_.empty()) subcases_.pop_back();
    }
    void log_assert(const doctest::AssertData& a) override {
        if (!a.m_failed) return;
        tend::worker::FailureDetail f;
        f.file = a.m_file ? a.m_file : "";
        f.line = a.m_line > 0 ? static_cast<std::uint32_t>(a.m_line) : 0;
        f.kind = doctest::assertString(a.m_at);
        f.expression = a.m_expr ? a.m_expr : "";
        if (a.m_threw) {
            f.expanded = std::string("threw exception: ") + a.m_exception.c_str();
        } else if (a.m_at & doctest::assertType::is_throws_as) {
            f.expanded = std::string("did not throw ") +
                         (a.m_exception_type ? a.m_exception_type : "the expected exception");
        } else if (a.m_at & doctest::assertType::is_throws) {
            f.expanded = "did not throw";
        } else {
            f.expanded = a.m_decomp.c_str();
        }
        f.message = contexts();
        f.subcase = subcase_path();
        failures_.push_back(std::move(f));
    }
    void log_message(const doctest::MessageData& m) override {
        if (m.m_severity & doctest::assertType::is_warn) return;  // MESSAGE/WARN: not failures
        tend::worker::FailureDetail f;
        f.file = m.m_file ? m.m_file : "";
        f.line = m.m_line > 0 ? static_cast<std::uint32_t>(m.m_line) : 0;
        // FAIL stops the test, FAIL_CHECK goes on (doctest's severities).
        f.kind = (m.m_severity & doctest::assertType::is_require) ? "FAIL" : "FAIL_CHECK";
        f.message = m.m_string.c_str();
        const std::string ctx = contexts();
        if (!ctx.empty()) f.message += "\n" + ctx;
        f.subcase = subcase_path();
        failures_.push_back(std::move(f));
    }
    void test_case_skipped(const doctest::TestCaseData&) override {
        auto& run = active_run();
        if (!run.session || run.next >= run.count) return;
        run.session->skipped(run.ids[run.next++]);
    }

  private:
    /// A failure with no failed assertion: one of doctest's decorators.
    tend::worker::FailureDetail why_failed(const doctest::CurrentTestCaseStats& stats) const {
        namespace R = doctest::TestCaseFailureReason;
        tend::worker::FailureDetail f;
        if (current_) {
            f.file = current_->m_file.c_str();
            f.line = current_->m_line;
        }
        const double timeout = current_ ? current_->m_timeout : 0;
        if (stats.failure_flags & R::Timeout) {
            f.kind = "timeout";
            f.message = "took " + std::to_string(stats.seconds) +
                        " s, longer than its timeout of " + std::to_string(timeout) + " s";
        } else if (stats.failure_flags & R::ShouldHaveFailedButDidnt) {
            f.kind = "should_fail";
            f.message = "passed, but is marked should_fail";
        } else if (stats.failure_flags & R::DidntFailExactlyNumTimes) {
            f.kind = "expected_failures";
            f.message = std::to_string(stats.numAssertsFailedCurrentTest) +
                        " assertions failed, not the expected " +
                        std::to_string(current_ ? current_->m_expected_failures : 0);
        } else {
            f.kind = "failed";
            f.message = "doctest marked the test failed (flags " +
                        std::to_string(stats.failure_flags) + ")";
        }
        return f;
    }

    std::string subcase_path() const {
        std::string path;
        for (const auto& s : subcases_) {
            if (!path.empty()) path += " / ";
            path += s;
        }
        return path;
    }
    static std::string contexts() {
        std::ostringstream os;
        const int n = get_num_active_contexts();
        const auto* ctx = get_active_contexts();
        for (int i = 0; i < n; ++i) {
            ctx[i]->stringify(&os);
            os << '\n';
        }
        std::string s = os.str();
        if (!s.empty()) s.pop_back();
        return s;
    }

    std::vector<tend::worker::FailureDetail> failures_;
    std::vector<std::string> subcases_;
    const doctest::TestCaseData* current_ = nullptr;
    bool crashed_ = false;
};

/// Asserts outside any test (in a unit teardown) land here instead of
/// crashing doctest: each becomes an error of the unit's finalize.
inline void assert_outside_test(const doctest::AssertData& a) {
    std::string line = std::string(doctest::assertString(a.m_at)) + "( " +
                       (a.m_expr ? a.m_expr : "") + " ) failed outside a test at " +
                       (a.m_file ? a.m_file : "?") + ":" + std::to_string(a.m_line);
    if (!a.m_threw && a.m_decomp.size() > 0)
        line += " with expansion: " + std::string(a.m_decomp.c_str());
    if (a.m_threw) line += ", threw: " + std::string(a.m_exception.c_str());
    tend::worker::report_unit_error(std::move(line));
}

/// In a binary run by hand, runs a unit's teardowns once its last test is
/// done: when the next test belongs to another unit, or the run ends.
class ScopeListener final : public doctest::IReporter {
  public:
    explicit ScopeListener(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override { finish_unit(); }
    void test_case_start(const doctest::TestCaseData& tc) override {
        if (tend::worker::launched_by_tend()) return;
        std::string key = unit_key(tc);
        if (key != unit_) finish_unit();
        unit_ = std::move(key);
    }
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}

  private:
    void finish_unit() {
        if (tend::worker::launched_by_tend()) return;
        for (const auto& e : tend::worker::run_unit_teardowns()) {
            std::fprintf(stderr, "tend: %s (unit %s)\n", e.c_str(), unit_.c_str());
        }
    }
    std::string unit_;
};

/// The doctest adapter: owns the registry and runs subsets of it.
///
/// Running a few tests must not cost a pass over all of them, so the adapter
/// moves doctest's registry out once, indexes it by id, and for each request
/// puts just the requested tests back before calling Context::run(). Ids are
/// positions in the registry's own order, so ascending ids run in the order
/// doctest iterates them (order-by=none).
class Adapter final : public tend::worker::Adapter {
  public:
    Adapter() {
        all_.swap(doctest::detail::getRegisteredTests());
        by_id_.reserve(all_.size());
        for (const auto& tc : all_) by_id_.push_back(&tc);
        context_.setOption("reporters", "tend");
        context_.setOption("order-by", "none");
        context_.setOption("no-exitcode", true);
        context_.setOption("no-intro", true);
        context_.setOption("no-version", true);
        context_.setAssertHandler(assert_outside_test);
        context_.setAsDefaultForAssertsOutOfTestCases();
    }
    ~Adapter() override { all_.swap(doctest::detail::getRegisteredTests()); }

    std::string framework() const override { return "doctest"; }

    std::vector<tend::worker::TestDescription> list() override {
        std::vector<tend::worker::TestDescription> out;
        out.reserve(by_id_.size());
        for (const auto* tc : by_id_) {
            tend::worker::TestDescription d;
            d.name = tc->m_name ? tc->m_name : "";
            d.suite = tc->m_test_suite ? tc->m_test_suite : "";
            d.file = tc->m_file.c_str();
            d.line = static_cast<std::uint32_t>(tc->m_line);
            d.skip = tc->m_skip;
            d.timeout_s = tc->m_timeout;
            d.tags = tags_of(*tc);
            out.push_back(std::move(d));
        }
        return out;
    }

    void run(const std::uint32_t* ids, std::size_t count,
             tend::worker::TestSession& session) override {
        auto& registry = doctest::detail::getRegisteredTests();
        registry.clear();
        for (std::size_t i = 0; i < count; ++i) registry.insert(registry.end(), *by_id_[ids[i]]);
        // skip()-decorated tests run when the unit asks (doctest's --no-skip).
        const bool no_skip = session.run_skipped();
        if (no_skip != no_skip_) {
            context_.setOption("no-skip", no_skip);
            no_skip_ = no_skip;
        }
        const ActiveRun started = {&session, ids, count, 0};
        active_run() = started;
        context_.run();
        const ActiveRun done = {nullptr, nullptr, 0, 0};
        active_run() = done;
        registry.clear();
    }

  private:
    /// doctest has no tags; a test's tags are the decorators it carries
    /// (skip, may_fail, should_fail, expected_failures, timeout) and the
    /// bracketed words of its description, Catch-style:
    /// `* doctest::description("[slow][db] talks to the database")`.
    static std::vector<std::string> tags_of(const doctest::detail::TestCase& tc) {
        std::vector<std::string> tags;
        if (tc.m_skip) tags.emplace_back("skip");
        if (tc.m_may_fail) tags.emplace_back("may_fail");
        if (tc.m_should_fail) tags.emplace_back("should_fail");
        if (tc.m_expected_failures > 0) tags.emplace_back("expected_failures");
        if (tc.m_timeout > 0) tags.emplace_back("timeout");
        for (const char* d = tc.m_description; d && *d; ++d) {
            if (*d != '[') continue;
            const char* end = d + 1;
            while (*end && *end != ']' && *end != '[') ++end;
            if (*end == ']' && end > d + 1) tags.emplace_back(d + 1, end);
            d = *end ? end - (*end == '[') : end - 1;
        }
        return tags;
    }

    std::set<doctest::detail::TestCase> all_;
    std::vector<const doctest::detail::TestCase*> by_id_;
    doctest::Context context_;
    bool no_skip_ = false;  ///< the context's no-skip option, as last set
};

REGISTER_REPORTER("tend", 0, Reporter);
REGISTER_LISTENER("tend-scope", 0, ScopeListener);

}  // namespace doctest_adapter
}  // namespace tend

namespace tend {
/// main() of a doctest binary that can also serve as a tend worker.
inline int doctest_main(int argc, char** argv) {
    if (tend::worker::launched_by_tend()) {
        doctest_adapter::Adapter adapter;
        return tend::worker::serve(adapter);
    }
    doctest::Context context(argc, argv);
    return context.run();
}
}  // namespace tend

#if !defined(TEND_DOCTEST_NO_MAIN) && !defined(DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN)
int main(int argc, char** argv) {
    return tend::doctest_main(argc, argv);
}
#endif

#endif  // TEND_DOCTEST_SUPPORTED
