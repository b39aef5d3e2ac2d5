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
#include <vector>

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

TEST_SUITE("line connection memory") {
    TEST_CASE("lines split across reads, and many in one read, arrive whole") {
        boost::asio::io_context io;
        Pair pair;
        auto conn =
            std::make_shared<tend::LineConnection>(io, pair.ours, pair.ours, 1 << 20, 64 << 20);
        std::vector<std::string> got;
        conn->start({[&](std::string_view line) { got.emplace_back(line); }, {}, {}});
        auto put = [&](const std::string& bytes) {
            REQUIRE(::write(pair.theirs, bytes.data(), bytes.size()) ==
                    static_cast<ssize_t>(bytes.size()));
            for (int i = 0; i < 10; ++i) io.poll();
        };
        put("one\ntwo\r\nthr");
        put("ee and");
        put(" more\n\nfour\n");
        const std::string big(200 * 1024, 'b');  // over several reads
        put(big.substr(0, 100000));
        put(big.substr(100000) + "\n");
        CHECK(got == std::vector<std::string>{"one", "two", "three and more", "four", big});
        CHECK(conn->buffered() == 0);  // nothing half-read is kept
    }

    TEST_CASE("an idle connection holds no buffer; output room goes once drained unless kept") {
        boost::asio::io_context io;
        Pair pair;
        auto meter = std::make_shared<tend::LineConnection::Meter>();
        auto conn = std::make_shared<tend::LineConnection>(io, pair.ours, pair.ours, 1 << 20,
                                                           64 << 20, meter);
        conn->start({});
        CHECK(conn->buffered() == 0);
        const std::string line(10000, 'x');
        for (int i = 0; i < 10; ++i) conn->send(line);
        CHECK(conn->buffered() >= 10 * line.size());
        CHECK(meter->bytes == conn->buffered());
        for (int i = 0; i < 20; ++i) io.poll();
        CHECK(pair.drain().size() == 10 * (line.size() + 1));
        CHECK(conn->buffered() == 0);
        CHECK(meter->bytes == 0);
        // A run streams: the room is kept between writes, then given back.
        conn->keep_room(true);
        for (int i = 0; i < 10; ++i) conn->send(line);
        for (int i = 0; i < 20; ++i) io.poll();
        pair.drain();
        CHECK(conn->buffered() >= 10 * line.size());
        conn->keep_room(false);
        CHECK(conn->buffered() == 0);
        CHECK(meter->bytes == 0);
    }

    TEST_CASE("a meter counts every connection on it; set_meter moves one to another") {
        boost::asio::io_context io;
        Pair a, b;
        auto waiting = std::make_shared<tend::LineConnection::Meter>();
        auto running = std::make_shared<tend::LineConnection::Meter>();
        auto one =
            std::make_shared<tend::LineConnection>(io, a.ours, a.ours, 1 << 20, 64 << 20, waiting);
        auto two =
            std::make_shared<tend::LineConnection>(io, b.ours, b.ours, 1 << 20, 64 << 20, waiting);
        one->start({});
        two->start({});
        one->send(std::string(5000, 'a'));
        two->send(std::string(7000, 'b'));
        CHECK(waiting->bytes == one->buffered() + two->buffered());
        CHECK(waiting->bytes >= 12000);
        two->set_meter(running);
        CHECK(waiting->bytes == one->buffered());
        CHECK(running->bytes == two->buffered());
        // A half line waiting for its end counts too.
        REQUIRE(::write(a.theirs, std::string(3000, 'p').data(), 3000) == 3000);
        for (int i = 0; i < 10; ++i) io.poll();
        CHECK(waiting->bytes == one->buffered());
        one->close("done");
        two->close("done");
        io.run();  // the cancelled waits and the writes end
        one.reset();
        two.reset();
        CHECK(waiting->bytes == 0);
        CHECK(running->bytes == 0);
    }
}
