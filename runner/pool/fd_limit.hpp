// The descriptor limit workers inherit.
#pragma once

#include <cstdint>
#include <optional>

namespace tend {

/// Raises this process's RLIMIT_NOFILE soft limit to the hard limit (workers
/// inherit it) and returns the soft limit now in force; nullopt when it is
/// unlimited.
std::optional<std::uint64_t> raise_fd_limit();

/// Marks every descriptor above stderr close-on-exec: whatever tend itself
/// inherited (from a shell, an IDE, a CI agent) must not reach the workers,
/// where it would keep pipes open and count in open_fds.
void close_inherited_on_exec();

}  // namespace tend
