// LineConnection over a socket pair: what is sent arrives whole and in
// order, a peer that does not read is cut off at the bound instead of
// making the daemon's memory grow, and finish() sends what is queued first.
#include "daemon/line_connection.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <string>

namespace {
/// One end for a LineConnection (close-on-exec, non-blocking), one for the
/// test.
struct Pair {
    int ours = -1;
    int theirs = -1;
    Pair() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        ours = fds[0];
        theirs = fds[1];
    }
    ~Pair() {
        if (theirs >= 0) ::close(theirs);
    }
    /// Whatever has arrived, without waiting.
    std::string drain() const {
        std::string got;
        char buf[65536];
        for (;;) {
            const auto n = ::recv(theirs, buf, sizeof buf, MSG_DONTWAIT);
            if (n <= 0) return got;
            got.append(buf, static_cast<std::size_t>(n));
        }
    }
};
}  // namespace

TEST_SUITE("line connection") {
    TEST_CASE("lines sent over many turns arrive whole and in order") {
        boost::asio::io_context io;
        Pair pair;
        auto conn =
            std::make_shared<tend::LineConnection>(io, pair.ours, pair.ours, 1 << 20, 64 << 20);
        conn->start({});
        std::string expected, got;
        for (int turn = 0; turn < 50; ++turn) {
            for (int i = 0; i < 100; ++i) {
                const auto line = "turn " + std::to_string(turn) + " line " + std::to_string(i) +
                                  std::string(static_cast<std::size_t>(i * 7), 'x');
                conn->send(line);
                expected += line + "\n";
            }
            io.poll();
            got += pair.drain();
        }
        while (got.size() < expected.size() && io.run_one_for(std::chrono::seconds(5)) > 0)
            got += pair.drain();
        got += pair.drain();
        CHECK(got == expected);
        CHECK_FALSE(conn->closed());
    }

    TEST_CASE("a peer that does not read is cut off at the bound") {
        boost::asio::io_context io;
        Pair pair;
        const std::size_t bound = 1 << 20;
        auto conn =
            std::make_shared<tend::LineConnection>(io, pair.ours, pair.ours, 1 << 20, bound);
        std::string why;
        conn->start({{}, {}, [&](const std::string& w) { why = w; }});
        const std::string line(1000, 'r');
        std::size_t sent = 0;
        // What the socket takes, then the bound: far less than this.
        while (!conn->closed() && sent < (64u << 20)) {
            conn->send(line);
            sent += line.size() + 1;
            if (sent % (100 * 1001) == 0) io.poll();
        }
        CHECK(conn->closed());
        CHECK(why.find("did not read its output") != std::string::npos);
        CHECK(sent < 16 * bound);
    }

    TEST_CASE("finish() sends what is queued, then closes") {
        boost::asio::io_context io;
        Pair pair;
        auto conn =
            std::make_shared<tend::LineConnection>(io, pair.ours, pair.ours, 1 << 20, 64 << 20);
        bool closed = false;
        conn->start({{}, {}, [&](const std::string&) { closed = true; }});
        conn->send("one");
        conn->send("two");
        conn->finish();
        while (!closed && io.run_one_for(std::chrono::seconds(5)) > 0) {
        }
        CHECK(closed);
        CHECK(pair.drain() == "one\ntwo\n");
    }
}
