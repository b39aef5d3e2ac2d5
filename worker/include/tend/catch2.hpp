// The Catch2 adapter: makes a Catch2 test binary a tend worker, compiled in
// the user's translation unit against the user's own Catch2 header (C++11 on).
//
// Include it in exactly one source file of the binary, instead of defining
// CATCH_CONFIG_MAIN (or link worker/catch2_main.cpp, which does just that):
//
//   #include <tend/catch2.hpp>
//
// Which Catch2: the one the translation unit already included (it must have
// been included with CATCH_CONFIG_RUNNER defined, so that its implementation
// is here), else TEND_CATCH2_HEADER (default <catch2/catch.hpp>).
// Supported: Catch2 2.13.x, the single header, checked at compile time.
// Catch2 v3 (a compiled library, <catch2/catch_all.hpp>) is not supported yet.
//
// Define TEND_CATCH2_NO_MAIN first to write main() yourself and call
// tend::catch2_main(argc, argv) from it.
//
// Run by hand, the binary is a normal Catch2 binary (Catch::Session, every
// flag). Under tend, no Session runs: the adapter keeps one Catch::RunContext
// for the worker's lifetime, with its own reporter, and runs each requested
// test through RunContext::runTest(). A unit is a source file (Catch2 has no
// suites); tags are tend tags, spelt as Catch2 spells them without brackets
// (`slow`, `!mayfail`; a hidden test carries both `.` and `!hide`); hidden
// tests (`[.]`, `[!hide]`, `[.tag]`) are listed skipped and run with
// `tend run --run-ignored`; a failure's section path is its subcase;
// INFO/CAPTURE messages go with each failure.
#pragma once

// Catch2 installs and removes its fatal-signal handlers (6 sigactions and a
// sigaltstack) around every test: most of a warm test's cost. Under tend the
// worker runtime installs one crash reporter for the worker's lifetime
// instead; run by hand, a crash is reported by the shell without the test's
// name. Define TEND_CATCH2_POSIX_SIGNALS to keep Catch2's handlers (an
// implementation included before this header keeps what it was compiled
// with).
#if !defined(TEND_CATCH2_POSIX_SIGNALS) && !defined(CATCH_CONFIG_NO_POSIX_SIGNALS) && \
    !defined(TWOBLUECUBES_SINGLE_INCLUDE_CATCH_HPP_INCLUDED)
#define CATCH_CONFIG_NO_POSIX_SIGNALS
#endif

#if defined(TWOBLUECUBES_SINGLE_INCLUDE_CATCH_HPP_INCLUDED)
#if !defined(CATCH_IMPL)
#error \
    "tend/catch2.hpp needs Catch2's implementation in this file: define CATCH_CONFIG_RUNNER before including catch.hpp here (or include tend/catch2.hpp first)"
#endif
#elif defined(CATCH_VERSION_MAJOR)
#error "tend/catch2.hpp supports Catch2 2.13 (catch.hpp); Catch2 v3 is not supported yet"
#else
#define CATCH_CONFIG_RUNNER
#ifdef TEND_CATCH2_HEADER
#include TEND_CATCH2_HEADER
#else
#include <catch2/catch.hpp>
#endif
#endif

#if defined(CATCH_CONFIG_MAIN)
#error "tend/catch2.hpp brings main(): define CATCH_CONFIG_RUNNER, not CATCH_CONFIG_MAIN"
#endif

#if CATCH_VERSION_MAJOR == 2 && CATCH_VERSION_MINOR == 13
#define TEND_CATCH2_SUPPORTED 1
#else
#define TEND_CATCH2_SUPPORTED 0
#endif
static_assert(TEND_CATCH2_SUPPORTED,
              "tend/catch2.hpp supports Catch2 2.13.x (the catch.hpp this file included first)");
#if TEND_CATCH2_SUPPORTED

#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "tend/worker.hpp"

namespace tend {
namespace catch2_adapter {

namespace detail {
// The "access private member" idiom (as in <tend/gtest.hpp>): an explicit
// instantiation may name a private member, and the friend it defines hands
// the pointer out. RunContext::m_activeTestCase has this name and type
// throughout Catch2 2.x.
template <typename Tag, typename Tag::type Member>
struct Robber {
    friend typename Tag::type get(Tag) { return Member; }
};
struct ActiveTestCase {
    typedef Catch::TestCase const* Catch::RunContext::*type;
    friend type get(ActiveTestCase);
};
template struct Robber<ActiveTestCase, &Catch::RunContext::m_activeTestCase>;
}  // namespace detail

/// The test being run in worker mode, read by the reporter.
struct ActiveTest {
    tend::worker::TestSession* session;
    std::uint32_t id;
};

/// Turns Catch2's events for the test being run into one tend result.
class Reporter final : public Catch::IStreamingReporter {
  public:
    explicit Reporter(ActiveTest& active) : active_(active) {
        prefs_.shouldRedirectStdOut = false;  // the runtime captures output
        prefs_.shouldReportAllAssertions = false;
    }

    Catch::ReporterPreferences getPreferences() const override { return prefs_; }
    void noMatchingTestCases(std::string const&) override {}
    void testRunStarting(Catch::TestRunInfo const&) override {}
    void testGroupStarting(Catch::GroupInfo const&) override {}
    void testCaseStarting(Catch::TestCaseInfo const&) override {
        failures_.clear();
        sections_.clear();
        in_test_ = true;
    }
    void sectionStarting(Catch::SectionInfo const& s) override { sections_.push_back(s.name); }
    void assertionStarting(Catch::AssertionInfo const&) override {}
    bool assertionEnded(Catch::AssertionStats const& stats) override {
        const Catch::AssertionResult& r = stats.assertionResult;
        if (r.isOk()) return true;
        if (!in_test_) {
            // Outside any test: in a unit teardown (on_unit_teardown). It is
            // an error of the unit's finalize, as doctest's are.
            const Catch::SourceLineInfo where = r.getSourceInfo();
            std::string line = std::string(r.getTestMacroName()) + "( " +
                               (r.hasExpression() ? r.getExpression() : std::string()) +
                               " ) failed outside a test at " + (where.file ? where.file : "?") +
                               ":" + std::to_string(where.line);
            if (r.hasExpression() && r.getExpandedExpression() != r.getExpression())
                line += " with expansion: " + r.getExpandedExpression();
            if (r.hasMessage()) line += ": " + r.getMessage();
            tend::worker::report_unit_error(std::move(line));
            return true;
        }
        tend::worker::FailureDetail f;
        const Catch::SourceLineInfo where = r.getSourceInfo();
        f.file = where.file ? where.file : "";
        f.line = static_cast<std::uint32_t>(where.line);
        f.kind = std::string(r.getTestMacroName());
        if (r.getResultType() == Catch::ResultWas::ThrewException &&
            (f.kind.empty() || f.kind == "TEST_CASE" || f.kind == "SECTION"))
            f.kind = "exception";
        if (r.hasExpression()) {
            f.expression = r.getExpression();
            f.expanded = r.getExpandedExpression();
        }
        if (r.hasMessage()) f.message = r.getMessage();
        // INFO, CAPTURE, UNSCOPED_INFO in scope; Catch2 also appends the
        // result's own message here, which is in f.message already.
        for (std::size_t i = 0; i < stats.infoMessages.size(); ++i) {
            const Catch::MessageInfo& m = stats.infoMessages[i];
            if (m.type != Catch::ResultWas::Info) continue;
            if (!f.message.empty()) f.message += '\n';
            f.message += m.message;
        }
        f.subcase = subcase_path();
        failures_.push_back(std::move(f));
        return true;
    }
    void sectionEnded(Catch::SectionStats const&) override {
        if (!sections_.empty()) sections_.pop_back();
    }
    void testCaseEnded(Catch::TestCaseStats const& stats) override {
        in_test_ = false;
        if (crashed_ || !active_.session) return;
        const bool failed = stats.totals.testCases.failed > 0;
        if (!failed) failures_.clear();  // [!mayfail], [!shouldfail]: failures are fine
        if (failed && failures_.empty()) failures_.push_back(why_failed(stats.testInfo));
        active_.session->end(failed ? tend::worker::Outcome::failed : tend::worker::Outcome::passed,
                             std::move(failures_));
        failures_.clear();
    }
    void testGroupEnded(Catch::TestGroupStats const&) override {}
    void testRunEnded(Catch::TestRunStats const&) override {}
    void skipTest(Catch::TestCaseInfo const&) override {}
    void fatalErrorEncountered(Catch::StringRef) override {
        // From Catch2's fatal-signal handler (TEND_CATCH2_POSIX_SIGNALS),
        // which restores the runtime's crash reporter and raises the signal
        // again: the supervisor reports the crash from the worker's exit.
        crashed_ = true;
    }

  private:
    /// A failed test without a failed assertion.
    static tend::worker::FailureDetail why_failed(Catch::TestCaseInfo const& info) {
        tend::worker::FailureDetail f;
        f.file = info.lineInfo.file ? info.lineInfo.file : "";
        f.line = static_cast<std::uint32_t>(info.lineInfo.line);
        if (info.expectedToFail()) {
            f.kind = "shouldfail";
            f.message = "passed, but is tagged [!shouldfail]";
        } else {
            f.kind = "failed";
            f.message =
                "Catch2 marked the test failed (no assertion in it, with --warn NoAssertions?)";
        }
        return f;
    }

    /// Sections inside the test, outermost first: the first is the test's own.
    std::string subcase_path() const {
        std::string path;
        for (std::size_t i = 1; i < sections_.size(); ++i) {
            if (!path.empty()) path += " / ";
            path += sections_[i];
        }
        return path;
    }

    ActiveTest& active_;
    bool in_test_ = false;  ///< between testCaseStarting and testCaseEnded
    Catch::ReporterPreferences prefs_;
    std::vector<tend::worker::FailureDetail> failures_;
    std::vector<std::string> sections_;
    bool crashed_ = false;
};

/// A source file's name as Catch2 records it (__FILE__).
inline std::string file_of(const Catch::TestCaseInfo& info) {
    return info.lineInfo.file ? info.lineInfo.file : "";
}

/// Run by hand: runs the teardowns registered with
/// tend::worker::on_unit_teardown() once a source file's last test is done
/// (when the next test is in another file, or the run ends).
class ScopeListener final : public Catch::TestEventListenerBase {
  public:
    using Catch::TestEventListenerBase::TestEventListenerBase;
    void testCaseStarting(Catch::TestCaseInfo const& info) override {
        std::string file = file_of(info);
        if (file != unit_) finish_unit();
        unit_ = std::move(file);
    }
    void testRunEnded(Catch::TestRunStats const& stats) override {
        finish_unit();
        Catch::TestEventListenerBase::testRunEnded(stats);
    }

  private:
    void finish_unit() {
        if (tend::worker::launched_by_tend()) return;
        const std::vector<std::string> errors = tend::worker::run_unit_teardowns();
        for (std::size_t i = 0; i < errors.size(); ++i)
            std::fprintf(stderr, "tend: %s (unit %s)\n", errors[i].c_str(), unit_.c_str());
    }
    std::string unit_;
};

/// The Catch2 adapter: every registered test, and one run context to run
/// any of them in.
class Adapter final : public tend::worker::Adapter {
  public:
    /// `data`: Catch2's options from the worker's command line; test specs,
    /// listing and abort-after are the supervisor's business and dropped.
    explicit Adapter(Catch::ConfigData data) : active_{nullptr, 0} {
        data.testsOrTags.clear();
        data.sectionsToRun.clear();
        data.listTests = data.listTestNamesOnly = data.listTags = data.listReporters = false;
        data.abortAfter = -1;
        data.filenamesAsTags = false;
        data.runOrder = Catch::RunTests::InDeclarationOrder;
        config_ = std::make_shared<Catch::Config>(data);
        const std::vector<Catch::TestCase>& all = Catch::getAllTestCasesSorted(*config_);
        tests_.reserve(all.size());
        for (std::size_t i = 0; i < all.size(); ++i) tests_.push_back(&all[i]);
        context_.reset(
            new Catch::RunContext(config_, Catch::IStreamingReporterPtr(new Reporter(active_))));
        context_->testGroupStarting(config_->name(), 1, 1);
        between_tests();
    }

    std::string framework() const override { return "catch2"; }

    std::vector<tend::worker::TestDescription> list() override {
        std::vector<tend::worker::TestDescription> out;
        out.reserve(tests_.size());
        for (std::size_t i = 0; i < tests_.size(); ++i) {
            const Catch::TestCase& t = *tests_[i];
            tend::worker::TestDescription d;
            d.name = t.name;
            d.file = file_of(t);
            d.line = static_cast<std::uint32_t>(t.lineInfo.line);
            d.skip = t.isHidden();
            d.tags = t.tags;
            out.push_back(std::move(d));
        }
        return out;
    }

    void run(const std::uint32_t* ids, std::size_t count,
             tend::worker::TestSession& session) override {
        const bool run_hidden = session.run_skipped();
        for (std::size_t i = 0; i < count; ++i) {
            const Catch::TestCase& t = *tests_[ids[i]];
            if (t.isHidden() && !run_hidden) {
                session.skipped(ids[i]);
                continue;
            }
            active_.session = &session;
            active_.id = ids[i];
            session.begin(ids[i]);
            context_->runTest(t);  // the reporter ends the test
            active_.session = nullptr;
            between_tests();
        }
    }

  private:
    /// Catch2 takes an assertion for the running test's, and dereferences
    /// it: between tests (in a unit teardown) the running test is this
    /// stand-in, and the reporter makes the failure an error of the unit.
    void between_tests() { (*context_).*get(detail::ActiveTestCase()) = &between_; }

    ActiveTest active_;
    Catch::TestCase between_ = Catch::makeTestCase(
        nullptr, "", Catch::NameAndTags("unit teardown", ""), Catch::SourceLineInfo("tend", 0));
    std::shared_ptr<Catch::Config> config_;
    std::vector<const Catch::TestCase*> tests_;
    std::unique_ptr<Catch::RunContext> context_;
};

CATCH_REGISTER_LISTENER(ScopeListener)

}  // namespace catch2_adapter
}  // namespace tend

namespace tend {
/// main() of a Catch2 binary that can also serve as a tend worker.
inline int catch2_main(int argc, char** argv) {
    Catch::Session session;
    const int parsed = session.applyCommandLine(argc, argv);
    if (!tend::worker::launched_by_tend()) return parsed != 0 ? parsed : session.run();
    // Catch2 refuses a registry with two tests of one name by throwing when
    // it sorts them: say so where tend shows a worker that did not start.
    std::unique_ptr<catch2_adapter::Adapter> adapter;
#if !defined(CATCH_CONFIG_DISABLE_EXCEPTIONS)
    try {
        adapter.reset(new catch2_adapter::Adapter(session.configData()));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 255;
    }
#else
    adapter.reset(new catch2_adapter::Adapter(session.configData()));
#endif
    return tend::worker::serve(*adapter);
}
}  // namespace tend

#if !defined(TEND_CATCH2_NO_MAIN)
int main(int argc, char** argv) {
    return tend::catch2_main(argc, argv);
}
#endif

#endif  // TEND_CATCH2_SUPPORTED
