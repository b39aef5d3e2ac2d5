#include "daemon/descriptor_records.hpp"

#include <doctest/doctest.h>
#include <malloc.h>
#include <sys/socket.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <vector>

namespace {

std::size_t heap_in_use() {
    return ::mallinfo2().uordblks;
}

// Watches `n` socket pairs' ends at once; returns how much the heap grew
// while they were opened (the vector's own room is reserved first).
std::size_t growth_watching(boost::asio::io_context& io, std::size_t n) {
    std::vector<boost::asio::posix::stream_descriptor> watched;
    watched.reserve(2 * n);
    const auto before = heap_in_use();
    for (std::size_t i = 0; i < n; ++i) {
        int pair[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
        watched.emplace_back(io, pair[0]);
        watched.emplace_back(io, pair[1]);
    }
    return heap_in_use() - before;
}

}  // namespace

TEST_CASE("descriptors watched after a reservation take the reserved records") {
    constexpr std::size_t kPairs = 200;
    constexpr std::size_t kRecord = 168;  // Boost.Asio 1.74's epoll_reactor::descriptor_state
    SUBCASE("without a reservation, each descriptor allocates its record") {
        boost::asio::io_context io;
        CHECK(growth_watching(io, kPairs) >= 2 * kPairs * kRecord);
    }
    SUBCASE("with one, none does") {
        boost::asio::io_context io;
        tend::reserve_descriptor_records(io, 2 * kPairs);
        CHECK(growth_watching(io, kPairs) < kPairs * kRecord / 4);
    }
    SUBCASE("a second reservation allocates only what is missing") {
        boost::asio::io_context io;
        tend::reserve_descriptor_records(io, kPairs);
        const auto before = heap_in_use();
        tend::reserve_descriptor_records(io, 2 * kPairs);
        const auto grown = heap_in_use() - before;
        CHECK(grown >= kPairs * kRecord);
        CHECK(grown < 2 * kPairs * kRecord);
    }
}
