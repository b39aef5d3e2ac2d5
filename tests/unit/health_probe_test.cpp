// HealthProbe: readings present on Linux, the fast descriptor count agrees
// with a listing, and both follow opens and closes exactly.
#include "health_probe.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

TEST_CASE("health probe") {
    tend::worker::HealthProbe probe;
    const auto before = probe.read();
    REQUIRE(before.rss_bytes);
    REQUIRE(before.open_fds);
    CHECK(*before.rss_bytes > 0);
    CHECK(probe.count_fds_by_listing() == before.open_fds);

    std::vector<int> fds;
    for (int i = 0; i < 7; ++i) fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    const auto opened = probe.read();
    CHECK(*opened.open_fds == *before.open_fds + 7);
    CHECK(probe.count_fds_by_listing() == opened.open_fds);
    for (int fd : fds) ::close(fd);
    CHECK(*probe.read().open_fds == *before.open_fds);

    // 64 MiB touched shows up in RSS.
    const std::size_t size = 64u << 20;
    char* p = static_cast<char*>(std::malloc(size));
    std::memset(p, 1, size);
    const auto grown = probe.read();
    CHECK(*grown.rss_bytes >= *before.rss_bytes + size / 2);
    std::free(p);
}
