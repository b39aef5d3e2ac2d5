// raise_fd_limit: see fd_limit.hpp.
#include "fd_limit.hpp"

#include <sys/resource.h>

namespace tend {

std::optional<std::uint64_t> raise_fd_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return std::nullopt;
    if (lim.rlim_cur != lim.rlim_max) {
        rlimit raised = lim;
        raised.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    if (lim.rlim_cur == RLIM_INFINITY) return std::nullopt;
    return static_cast<std::uint64_t>(lim.rlim_cur);
}

}  // namespace tend
