#include "pool/spare.hpp"

namespace tend {

bool recycle_likely(const protocol::Health& health, Seconds age, const WorkerLimits& limits) {
    WorkerLimits near = limits;
    if (near.max_rss_bytes) *near.max_rss_bytes -= *near.max_rss_bytes / 10;
    if (near.max_open_fds) *near.max_open_fds -= *near.max_open_fds / 10;
    if (near.max_age) *near.max_age -= *near.max_age / 10;
    return evaluate_recycle(health, age, near).has_value();
}

bool wants_spare(const SpareSituation& s) {
    return s.units_waiting && !s.has_spare &&
           (s.recycle_due || (s.crashed > 0 && !s.last_death_left));
}

}  // namespace tend
