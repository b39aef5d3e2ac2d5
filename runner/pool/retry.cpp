// The retry decision: see retry.hpp.
#include "pool/retry.hpp"

namespace tend {

RetryDecision decide_retry(const Attempt& a) {
    RetryDecision d;
    d.attempt = a.failed_before + 1;
    d.status = a.status;
    d.retry = is_failure(a.status) && a.status != TestStatus::not_run && d.attempt <= a.retries &&
              !a.stopping;
    if (d.retry) {
        d.avoid_pid = a.pid;
    } else if (d.attempt > 1 && a.status == TestStatus::passed) {
        d.status = TestStatus::flaky;
    }
    return d;
}

Unit retry_unit(std::size_t binary, std::uint32_t id, std::string_view test_name,
                const RetryDecision& decision) {
    return Unit{binary, "retry of " + std::string(test_name), {id}, decision.avoid_pid};
}

}  // namespace tend
