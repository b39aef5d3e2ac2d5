// The deadline decision: see deadline.hpp.
#include "pool/deadline.hpp"

#include <algorithm>

namespace tend {

std::optional<std::chrono::nanoseconds> test_time_limit(const std::optional<Seconds>& timeout,
                                                        double declared_s) {
    if (timeout) return std::chrono::duration_cast<std::chrono::nanoseconds>(*timeout);
    // Negative and NaN were warned about at listing; a huge one is capped
    // where the clock cannot overflow.
    if (!(declared_s > 0)) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
        Seconds(std::min(declared_s, kMaxTestTimeout.count())));
}

bool watches_tests(const DeadlineLook& look) {
    return look.state == SlotState::running && !look.killed && look.poll;
}

DeadlineVerdict check_deadline(const DeadlineLook& look, Clock::time_point now) {
    using Kind = DeadlineVerdict::Kind;
    if (look.state == SlotState::starting || look.state == SlotState::listing ||
        look.state == SlotState::finalizing) {
        if (look.overdue) return {};
        if (now < look.phase_deadline) return {Kind::look_again, look.phase_deadline};
        return {Kind::phase_overdue, {}};
    }
    if (!watches_tests(look)) return {};
    if (!look.running) {
        const auto limit = look.between_limit.value_or(*look.poll);
        if (now - look.between_since < limit) return {Kind::look_again, look.between_since + limit};
        return {Kind::stuck_between, {}};
    }
    if (!look.limit) return {Kind::look_again, now + *look.poll};
    const auto since = look.running->since;
    if (now - since < *look.limit) return {Kind::look_again, since + *look.limit};
    return {Kind::test_timed_out,
            {},
            static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(now - since).count())};
}

}  // namespace tend
