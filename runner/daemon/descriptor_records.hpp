// Boost.Asio's epoll reactor allocates a record (168 bytes) for each
// descriptor it watches and, when the descriptor closes, keeps the record on
// a free list for the next descriptor: it never frees one. Allocated one
// connection at a time during a burst of clients, the records fill holes all
// over the heap, one or two a page, and hold those pages after the burst,
// where malloc_trim cannot return them: 3,000 clients at once left about
// 3 MiB behind in a daemon of 10 (bench/scale.sh, section 3). Reserved all
// at once at start, while the heap has no holes, they sit together in a few
// dozen pages and every burst takes them from the free list.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>

namespace tend {

/// At most this many records are reserved: about 700 KiB.
inline constexpr std::size_t kMaxReservedRecords = 4096;

/// Puts `n` records on the reactor's free list: watches `n` descriptors at
/// once (one /dev/null, which epoll refuses to poll, so no descriptor but one
/// is opened), then lets them all go. Growing a free list that already holds
/// records allocates only what is missing.
void reserve_descriptor_records(boost::asio::io_context& io, std::size_t n);

}  // namespace tend
