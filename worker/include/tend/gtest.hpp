// The GoogleTest adapter: makes a gtest binary a tend worker, compiled in the
// user's translation unit against the user's own gtest headers (C++11 on).
//
// Link worker/gtest_main.cpp (tend's drop-in for gtest_main), or, with a main
// of your own, replace `return RUN_ALL_TESTS();` after InitGoogleTest by
//
//   return tend::gtest_run_all_tests();
//
// Run by hand, the binary is a normal gtest binary (every --gtest_* flag).
// Under tend, RUN_ALL_TESTS() runs once: when gtest has set up the global
// Environments, a listener takes over and serves the protocol; a unit (a
// gtest test suite: `Suite`, `Instantiation/Suite`, `Suite/0`) runs by
// putting just the requested tests in the TestSuite's list and calling its
// Run(). SetUpTestSuite runs once per unit, TearDownTestSuite when tend
// finalizes the unit, the Environments are torn down at the worker's
// shutdown. Nothing is filtered or re-run per unit.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tend/worker.hpp"

namespace tend {
namespace gtest_adapter {
namespace detail {

// The "access private member" idiom: an explicit instantiation may name a
// private member, and the friend it defines hands the pointer out. The
// members named here have the same names and types in googletest 1.12.1 and
// today's googletest.
template <typename Tag, typename Tag::type Member>
struct Robber {
    friend typename Tag::type get(Tag) { return Member; }
};

struct SuiteTests {
    typedef std::vector<testing::TestInfo*> testing::TestSuite::*type;
    friend type get(SuiteTests);
};
struct SuiteIndices {
    typedef std::vector<int> testing::TestSuite::*type;
    friend type get(SuiteIndices);
};
struct SuiteSetUp {
    typedef testing::internal::SetUpTestSuiteFunc testing::TestSuite::*type;
    friend type get(SuiteSetUp);
};
struct SuiteTearDown {
    typedef testing::internal::TearDownTestSuiteFunc testing::TestSuite::*type;
    friend type get(SuiteTearDown);
};
struct SuiteShouldRun {
    typedef bool testing::TestSuite::*type;
    friend type get(SuiteShouldRun);
};
struct SuiteRun {
    typedef void (testing::TestSuite::*type)();
    friend type get(SuiteRun);
};
struct SuiteClearResult {
    typedef void (testing::TestSuite::*type)();
    friend type get(SuiteClearResult);
};
struct InfoShouldRun {
    typedef bool testing::TestInfo::*type;
    friend type get(InfoShouldRun);
};
struct InfoDisabled {
    typedef bool testing::TestInfo::*type;
    friend type get(InfoDisabled);
};

template struct Robber<SuiteTests, &testing::TestSuite::test_info_list_>;
template struct Robber<SuiteIndices, &testing::TestSuite::test_indices_>;
template struct Robber<SuiteSetUp, &testing::TestSuite::set_up_tc_>;
template struct Robber<SuiteTearDown, &testing::TestSuite::tear_down_tc_>;
template struct Robber<SuiteShouldRun, &testing::TestSuite::should_run_>;
template struct Robber<SuiteRun, &testing::TestSuite::Run>;
template struct Robber<SuiteClearResult, &testing::TestSuite::ClearResult>;
template struct Robber<InfoShouldRun, &testing::TestInfo::should_run_>;
template struct Robber<InfoDisabled, &testing::TestInfo::is_disabled_>;

inline std::string where(const testing::TestPartResult& r) {
    std::string s = r.file_name() ? r.file_name() : "unknown file";
    if (r.line_number() >= 0) s += ":" + std::to_string(r.line_number());
    return s;
}

inline tend::worker::FailureDetail to_failure(const testing::TestPartResult& r) {
    tend::worker::FailureDetail f;
    f.file = r.file_name() ? r.file_name() : "";
    f.line = r.line_number() > 0 ? static_cast<std::uint32_t>(r.line_number()) : 0;
    f.kind = r.fatally_failed() ? "fatal" : r.skipped() ? "skip" : "non-fatal";
    f.message = r.message() ? r.message() : "";
    return f;
}

}  // namespace detail

/// One test as the adapter keeps it.
struct Entry {
    testing::TestSuite* suite;
    testing::TestInfo* info;
};

/// Runs the requested tests of one suite and reports them; also the
/// listener that takes over from RUN_ALL_TESTS() once the Environments are
/// set up.
class Adapter final : public tend::worker::Adapter, public testing::EmptyTestEventListener {
  public:
    Adapter() : status_(-1) {}

    /// Run DISABLED_ tests instead of reporting them skipped, in every unit
    /// (--gtest_also_run_disabled_tests given to the worker); otherwise a
    /// unit that asks for it runs them (tend run --run-ignored).
    void run_disabled(bool yes) { run_disabled_ = yes; }
    /// The exit status serve() returned, or -1 when it did not run.
    int status() const { return status_; }

    std::string framework() const override { return "gtest"; }

    std::vector<tend::worker::TestDescription> list() override {
        index();
        std::vector<tend::worker::TestDescription> out;
        out.reserve(all_.size());
        for (std::size_t i = 0; i < all_.size(); ++i) {
            const testing::TestInfo& t = *all_[i].info;
            tend::worker::TestDescription d;
            d.name = t.name();
            d.suite = t.test_suite_name();
            d.file = t.file() ? t.file() : "";
            d.line = t.line() > 0 ? static_cast<std::uint32_t>(t.line()) : 0;
            const bool disabled = t.*get(detail::InfoDisabled());
            d.skip = disabled && !run_disabled_;
            if (disabled) d.tags.push_back("disabled");
            out.push_back(std::move(d));
        }
        return out;
    }

    void run(const std::uint32_t* ids, std::size_t count,
             tend::worker::TestSession& session) override {
        index();
        // A fatal failure or a skip in an Environment's SetUp: gtest runs no
        // test; each is reported with what the Environment said.
        if (environment_fatal_ || environment_skipped_) {
            for (std::size_t i = 0; i < count; ++i) {
                session.begin(ids[i]);
                session.end(environment_fatal_ ? tend::worker::Outcome::failed
                                               : tend::worker::Outcome::skipped,
                            environment_);
            }
            return;
        }
        // Ids ascend, so each suite's tests are contiguous.
        std::size_t from = 0;
        while (from < count) {
            testing::TestSuite* suite = all_[ids[from]].suite;
            std::size_t to = from + 1;
            while (to < count && all_[ids[to]].suite == suite) ++to;
            run_suite(suite, ids + from, to - from, session);
            from = to;
        }
    }

    // testing::TestEventListener, under tend only.
    void OnEnvironmentsSetUpEnd(const testing::UnitTest&) override {
        if (status_ != -1) return;
        phase_ = Phase::idle;
        environment_failed_ = testing::Test::HasFailure();
        environment_fatal_ = testing::Test::HasFatalFailure();
        environment_skipped_ = !environment_failed_ && testing::Test::IsSkipped();
        status_ = tend::worker::serve(*this);
        // Nothing left for RUN_ALL_TESTS() to run: it tears down the
        // Environments and returns.
        index();
        for (std::size_t i = 0; i < all_.size(); ++i) {
            all_[i].suite->*get(detail::SuiteShouldRun()) = false;
            all_[i].info->*get(detail::InfoShouldRun()) = false;
        }
    }
    void OnTestStart(const testing::TestInfo& info) override {
        if (!session_ || next_ >= count_) return;
        failures_.clear();
        failed_ = false;
        in_test_ = true;
        session_->begin(ids_[next_++]);
        (void)info;
    }
    void OnTestDisabled(const testing::TestInfo&) override {
        if (!session_ || next_ >= count_) return;
        session_->skipped(ids_[next_++]);
    }
    void OnTestPartResult(const testing::TestPartResult& r) override {
        if (r.type() == testing::TestPartResult::kSuccess) return;
        if (in_test_) {
            if (r.failed()) failed_ = true;
            failures_.push_back(detail::to_failure(r));
        } else if (phase_ == Phase::environment) {
            environment_.push_back(detail::to_failure(r));
        } else if (phase_ == Phase::teardown) {
            tend::worker::report_unit_error(std::string(r.skipped() ? "skipped" : "failed") +
                                            " in TearDownTestSuite() at " + detail::where(r) +
                                            ": " + (r.message() ? r.message() : ""));
        } else if (phase_ == Phase::unit) {
            unit_.push_back(detail::to_failure(r));
        }
    }
    void OnTestEnd(const testing::TestInfo& info) override {
        if (!in_test_) return;
        in_test_ = false;
        std::vector<tend::worker::FailureDetail> failures;
        bool failed = failed_ || environment_failed_;
        bool skipped = info.result()->Skipped();
        // A failing Environment or SetUpTestSuite fails the test, attached.
        for (std::size_t i = 0; i < environment_.size(); ++i) {
            failures.push_back(environment_[i]);
            if (environment_[i].kind == "skip") skipped = true;
        }
        for (std::size_t i = 0; i < unit_.size(); ++i) {
            // GTEST_SKIP() in SetUpTestSuite: gtest 1.12 runs the tests
            // anyway, later versions skip them; the message goes with a skip.
            if (unit_[i].kind == "skip") {
                if (skipped) failures.push_back(unit_[i]);
                continue;
            }
            failures.push_back(unit_[i]);
            failed = true;
        }
        for (std::size_t i = 0; i < failures_.size(); ++i) {
            // gtest's Skip() of each test after a failed SetUpTestSuite adds
            // an empty skip: the attached failure says it all.
            if (failed && failures_[i].kind == "skip" && failures_[i].message.empty()) continue;
            failures.push_back(failures_[i]);
        }
        failures_.clear();
        session_->end(failed    ? tend::worker::Outcome::failed
                      : skipped ? tend::worker::Outcome::skipped
                                : tend::worker::Outcome::passed,
                      std::move(failures));
    }

  private:
    enum class Phase { environment, idle, unit, teardown };

    void index() {
        if (indexed_) return;
        indexed_ = true;
        testing::UnitTest& ut = *testing::UnitTest::GetInstance();
        for (int s = 0; s < ut.total_test_suite_count(); ++s) {
            testing::TestSuite* suite = const_cast<testing::TestSuite*>(ut.GetTestSuite(s));
            const std::vector<testing::TestInfo*>& tests = suite->*get(detail::SuiteTests());
            for (std::size_t t = 0; t < tests.size(); ++t) {
                Entry e = {suite, tests[t]};
                all_.push_back(e);
            }
        }
    }

    void run_suite(testing::TestSuite* suite, const std::uint32_t* ids, std::size_t count,
                   tend::worker::TestSession& session) {
        std::vector<testing::TestInfo*>& list = suite->*get(detail::SuiteTests());
        std::vector<int>& indices = suite->*get(detail::SuiteIndices());
        testing::internal::SetUpTestSuiteFunc& set_up = suite->*get(detail::SuiteSetUp());
        testing::internal::TearDownTestSuiteFunc& tear_down = suite->*get(detail::SuiteTearDown());

        // SetUpTestSuite once a unit; TearDownTestSuite when it is finalized.
        const bool first = suite != set_up_suite_;
        if (first) {
            unit_.clear();
            set_up_suite_ = suite;
            tend::worker::on_unit_teardown([this, suite]() { tear_down_suite(suite); });
        }
        const testing::internal::SetUpTestSuiteFunc saved_set_up = set_up;
        const testing::internal::TearDownTestSuiteFunc saved_tear_down = tear_down;
        if (!first) set_up = nullptr;
        tear_down = nullptr;

        // gtest decided should_run_ once, at RUN_ALL_TESTS() (every test
        // selected, DISABLED_ ones too): it is decided again here, per unit.
        // A test left out is reported skipped through OnTestDisabled.
        const bool run_disabled = run_disabled_ || session.run_skipped();
        picked_.clear();
        for (std::size_t i = 0; i < count; ++i) {
            testing::TestInfo* info = all_[ids[i]].info;
            info->*get(detail::InfoShouldRun()) =
                run_disabled || !(info->*get(detail::InfoDisabled()));
            picked_.push_back(info);
        }
        picked_indices_.resize(count);
        for (std::size_t i = 0; i < count; ++i) picked_indices_[i] = static_cast<int>(i);
        list.swap(picked_);
        indices.swap(picked_indices_);
        (suite->*get(detail::SuiteClearResult()))();
        suite->*get(detail::SuiteShouldRun()) = true;

        session_ = &session;
        ids_ = ids;
        count_ = count;
        next_ = 0;
        phase_ = Phase::unit;
        (suite->*get(detail::SuiteRun()))();
        phase_ = Phase::idle;
        session_ = nullptr;

        list.swap(picked_);
        indices.swap(picked_indices_);
        set_up = saved_set_up;
        tear_down = saved_tear_down;
    }

    /// The unit's teardown: runs TearDownTestSuite through TestSuite::Run()
    /// with no tests, so gtest catches and reports what it throws.
    void tear_down_suite(testing::TestSuite* suite) {
        if (set_up_suite_ == suite) set_up_suite_ = nullptr;
        std::vector<testing::TestInfo*>& list = suite->*get(detail::SuiteTests());
        std::vector<int>& indices = suite->*get(detail::SuiteIndices());
        testing::internal::SetUpTestSuiteFunc& set_up = suite->*get(detail::SuiteSetUp());
        const testing::internal::SetUpTestSuiteFunc saved_set_up = set_up;
        std::vector<testing::TestInfo*> no_tests;
        std::vector<int> no_indices;
        list.swap(no_tests);
        indices.swap(no_indices);
        set_up = nullptr;
        (suite->*get(detail::SuiteClearResult()))();
        suite->*get(detail::SuiteShouldRun()) = true;
        phase_ = Phase::teardown;
        (suite->*get(detail::SuiteRun()))();
        phase_ = Phase::idle;
        set_up = saved_set_up;
        list.swap(no_tests);
        indices.swap(no_indices);
        unit_.clear();
    }

    std::vector<Entry> all_;
    bool indexed_ = false;
    bool run_disabled_ = false;
    int status_;
    Phase phase_ = Phase::environment;
    tend::worker::TestSession* session_ = nullptr;
    const std::uint32_t* ids_ = nullptr;
    std::size_t count_ = 0;
    std::size_t next_ = 0;
    bool in_test_ = false;
    bool failed_ = false;
    bool environment_failed_ = false;
    bool environment_fatal_ = false;
    bool environment_skipped_ = false;
    std::vector<tend::worker::FailureDetail> failures_;
    std::vector<tend::worker::FailureDetail> environment_;  ///< from the Environments' SetUp
    std::vector<tend::worker::FailureDetail> unit_;         ///< from SetUpTestSuite
    testing::TestSuite* set_up_suite_ = nullptr;            ///< its SetUpTestSuite has run
    std::vector<testing::TestInfo*> picked_;
    std::vector<int> picked_indices_;
};

/// Run by hand: runs the teardowns registered with
/// tend::worker::on_unit_teardown() after the suite's last test, before its
/// TearDownTestSuite, in the order tend runs them at the unit's finalize.
class ScopeListener final : public testing::EmptyTestEventListener {
  public:
    void OnTestSuiteStart(const testing::TestSuite& suite) override {
        left_ = suite.test_to_run_count();
        name_ = suite.name();
    }
    void OnTestEnd(const testing::TestInfo&) override {
        if (left_ > 0 && --left_ == 0) {
            const std::vector<std::string> errors = tend::worker::run_unit_teardowns();
            for (std::size_t i = 0; i < errors.size(); ++i)
                std::fprintf(stderr, "tend: %s (unit %s)\n", errors[i].c_str(), name_.c_str());
        }
    }

  private:
    int left_ = 0;
    std::string name_;
};

}  // namespace gtest_adapter

/// Call instead of RUN_ALL_TESTS(), after testing::InitGoogleTest: run by
/// hand it is RUN_ALL_TESTS(); under tend it serves the worker protocol.
inline int gtest_run_all_tests() {
    if (!tend::worker::launched_by_tend()) {
        testing::UnitTest::GetInstance()->listeners().Append(new gtest_adapter::ScopeListener());
        return RUN_ALL_TESTS();
    }
#if GTEST_HAS_DEATH_TEST
    // The child of a "threadsafe" death test runs this binary again for one
    // statement: it is gtest's, never a worker.
    if (!std::string(GTEST_FLAG_GET(internal_run_death_test)).empty()) return RUN_ALL_TESTS();
#endif
    // The supervisor picks the tests: gtest must select all of them, run
    // once, in order, and must not print its own report into the tests'
    // captured output. A CI's shard variables are tend's to honour, not
    // gtest's (they would silently drop tests from the worker's list).
    // --gtest_also_run_disabled_tests (or GTEST_ALSO_RUN_DISABLED_TESTS=1)
    // in the worker's arguments or environment runs DISABLED_ tests.
    const bool run_disabled = GTEST_FLAG_GET(also_run_disabled_tests);
    GTEST_FLAG_SET(filter, "*");
    GTEST_FLAG_SET(also_run_disabled_tests, true);
    GTEST_FLAG_SET(shuffle, false);
    GTEST_FLAG_SET(repeat, 1);
    GTEST_FLAG_SET(list_tests, false);
    GTEST_FLAG_SET(fail_fast, false);
    ::unsetenv("GTEST_SHARD_INDEX");
    ::unsetenv("GTEST_TOTAL_SHARDS");
    testing::TestEventListeners& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    // Owned by gtest once appended; it outlives RUN_ALL_TESTS().
    gtest_adapter::Adapter* adapter = new gtest_adapter::Adapter();
    adapter->run_disabled(run_disabled);
    listeners.Append(adapter);
    const int gtest_status = RUN_ALL_TESTS();
    (void)gtest_status;
    // No test registered at all: gtest sets nothing up; serve the empty list.
    if (adapter->status() == -1) return tend::worker::serve(*adapter);
    return adapter->status();
}

/// main() of a gtest binary that can also serve as a tend worker.
inline int gtest_main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    return gtest_run_all_tests();
}

}  // namespace tend

/// One-call hook for a custom main: `return TEND_GTEST_RUN();`.
#define TEND_GTEST_RUN() ::tend::gtest_run_all_tests()
