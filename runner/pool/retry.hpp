// Whether and where a test that did not pass runs again (--retries).
//
// A failed, crashed, timed-out or errored test runs again, as a unit of its
// own (its scope set up again) on another worker than the one it failed on,
// up to the binary's retries; not once the run stops scheduling (a signal,
// --max-fail). Every attempt is reported, only the last one counts; a test
// that passes on a retry is flaky.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pool/plan.hpp"
#include "report/events.hpp"

namespace tend {

/// One attempt's outcome, and what the run knows of the test.
struct Attempt {
    TestStatus status = TestStatus::passed;
    /// Earlier attempts of this test that failed and were retried.
    std::uint32_t failed_before = 0;
    std::uint32_t retries = 0;  ///< the binary's --retries
    bool stopping = false;      ///< the run starts nothing new
    int pid = 0;                ///< the worker it ran on
};

struct RetryDecision {
    std::uint32_t attempt = 1;  ///< this attempt's number, from 1
    bool retry = false;         ///< the test runs again: this attempt does not count
    int avoid_pid = 0;          ///< a retry: not on this worker
    /// As reported: a pass after a failed attempt is flaky.
    TestStatus status = TestStatus::passed;
};

/// Decides whether an attempt is retried; see the top of this file.
RetryDecision decide_retry(const Attempt& attempt);

/// The unit a retry runs as: the test alone, away from the worker it failed on.
Unit retry_unit(std::size_t binary, std::uint32_t id, std::string_view test_name,
                const RetryDecision& decision);

}  // namespace tend
