#include "daemon/descriptor_records.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <vector>

namespace tend {

void reserve_descriptor_records(boost::asio::io_context& io, std::size_t n) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;  // nothing reserved: only the heap's shape suffers
    {
        std::vector<boost::asio::posix::stream_descriptor> held;
        held.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            boost::system::error_code ec;
            held.emplace_back(io).assign(fd, ec);
            if (ec) break;
        }
        // Released, not closed: they all share the one descriptor.
        for (auto& d : held) (void)d.release();
    }
    ::close(fd);
}

}  // namespace tend
