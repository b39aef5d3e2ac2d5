// The worker runtime and doctest adapter driven directly over the protocol,
// without the supervisor: exact-name selection, single tests, unknown names.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.hpp"
#include "messages.hpp"
#include "run_tend.hpp"

extern char** environ;

using namespace tend::protocol;

namespace {

/// A fixture binary started as a worker, spoken to synchronously.
class DirectWorker {
public:
    explicit DirectWorker(const std::string& binary) {
        int cmd[2], res[2];
        REQUIRE(::pipe2(cmd, O_CLOEXEC) == 0);
        REQUIRE(::pipe2(res, O_CLOEXEC) == 0);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, cmd[0], 3);
        posix_spawn_file_actions_adddup2(&fa, res[1], 4);
        std::vector<std::string> env_storage;
        for (char** e = environ; *e; ++e) env_storage.emplace_back(*e);
        env_storage.emplace_back("TEND_WORKER_FDS=3,4");
        std::vector<char*> envp;
        for (auto& s : env_storage) envp.push_back(s.data());
        envp.push_back(nullptr);
        char* argv[] = {const_cast<char*>(binary.c_str()), nullptr};
        REQUIRE(::posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv, envp.data()) == 0);
        posix_spawn_file_actions_destroy(&fa);
        ::close(cmd[0]);
        ::close(res[1]);
        to_ = cmd[1];
        from_ = res[0];
    }
    ~DirectWorker() {
        if (to_ >= 0) ::close(to_);
        ::close(from_);
        int status = 0;
        if (pid_ > 0) ::waitpid(pid_, &status, 0);
    }
    void send(const Message& m) {
        std::vector<char> f;
        encode_frame(m, f);
        REQUIRE(::write(to_, f.data(), f.size()) == static_cast<ssize_t>(f.size()));
    }
    Message receive() {
        for (;;) {
            auto ev = decoder_.next();
            REQUIRE(ev.kind != FrameEvent::Kind::error);
            if (ev.kind == FrameEvent::Kind::frame) {
                auto d = decode_payload(ev.payload);
                REQUIRE_MESSAGE(d.message, d.error);
                return *d.message;
            }
            pollfd p{from_, POLLIN, 0};
            REQUIRE_MESSAGE(::poll(&p, 1, 10000) == 1, "worker sent nothing for 10 s");
            char buf[65536];
            const ssize_t n = ::read(from_, buf, sizeof buf);
            REQUIRE(n > 0);
            decoder_.feed(buf, static_cast<std::size_t>(n));
        }
    }
    template <typename T>
    T receive_as() {
        auto m = receive();
        REQUIRE_MESSAGE(std::holds_alternative<T>(m), "got '" << type_name(m) << "'");
        return std::get<T>(m);
    }
    pid_t pid() const { return pid_; }
    /// Writes raw bytes on the command pipe.
    void send_raw(const std::vector<char>& bytes) {
        REQUIRE(::write(to_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
    /// Closes the command pipe and returns the worker's exit status.
    int close_and_wait() {
        ::close(to_);
        to_ = -1;
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

private:
    pid_t pid_ = -1;
    int to_ = -1;
    int from_ = -1;
    FrameDecoder decoder_;
};

std::uint32_t id_of(const TestList& list, const std::string& name) {
    for (const auto& t : list.tests) {
        if (t.name == name) return t.id;
    }
    FAIL("no test " << name);
    return 0;
}

}  // namespace

TEST_SUITE("worker protocol") {
    TEST_CASE("hello, list, one test by exact name, finalize, shutdown") {
        DirectWorker w(tend_test::fixture("basic"));
        auto hello = w.receive_as<Hello>();
        CHECK(hello.version == kProtocolVersion);
        CHECK(hello.pid == w.pid());
        CHECK(hello.framework == "doctest");

        w.send(ListRequest{});
        auto list = w.receive_as<TestList>();
        REQUIRE(list.tests.size() == 11);
        for (std::uint32_t i = 0; i < list.tests.size(); ++i) CHECK(list.tests[i].id == i);

        // One test from the middle, named with a comma: exactly that test runs.
        const auto comma = id_of(list, "name, with comma");
        w.send(RunUnit{1, {{comma, "name, with comma"}}});
        auto r = w.receive_as<TestResult>();
        CHECK(r.unit == 1);
        CHECK(r.id == comma);
        CHECK(r.status == Status::passed);
        CHECK(r.health.rss_bytes);
        CHECK(r.health.open_fds);

        // Glob characters are not patterns: "star * and question ?" runs alone.
        const auto star = id_of(list, "star * and question ?");
        const auto unicode = id_of(list, "ünïcödé ✓");
        w.send(RunUnit{2, {{star, "star * and question ?"}, {unicode, "ünïcödé ✓"}}});
        CHECK(w.receive_as<TestResult>().id == star);
        CHECK(w.receive_as<TestResult>().id == unicode);

        w.send(Finalize{2});
        auto fin = w.receive_as<Finalized>();
        CHECK(fin.unit == 2);
        CHECK(fin.errors.empty());
        CHECK(fin.health.rss_bytes);
        w.send(Shutdown{});
    }

    TEST_CASE("a stale id is resolved by the exact name") {
        DirectWorker w(tend_test::fixture("basic"));
        (void)w.receive_as<Hello>();
        w.send(ListRequest{});
        auto list = w.receive_as<TestList>();
        const auto brackets = id_of(list, "brackets [tag] and {braces}");
        w.send(RunUnit{5, {{9999, "brackets [tag] and {braces}"}}});
        auto r = w.receive_as<TestResult>();
        CHECK(r.id == brackets);
        CHECK(r.status == Status::passed);
    }

    TEST_CASE("tests requested out of registry order run in the order asked") {
        DirectWorker w(tend_test::fixture("basic"));
        (void)w.receive_as<Hello>();
        w.send(ListRequest{});
        auto list = w.receive_as<TestList>();
        const auto a = id_of(list, "adds");
        const auto b = id_of(list, "loose test");
        const auto first = std::max(a, b), second = std::min(a, b);
        w.send(RunUnit{3, {{first, list.tests[first].name}, {second, list.tests[second].name}}});
        CHECK(w.receive_as<TestResult>().id == first);
        CHECK(w.receive_as<TestResult>().id == second);
    }

    TEST_CASE("an unknown test name is an error message, not a crash") {
        DirectWorker w(tend_test::fixture("basic"));
        (void)w.receive_as<Hello>();
        w.send(RunUnit{1, {{0, "no such test"}}});
        auto err = w.receive_as<WorkerError>();
        CHECK(err.message == "no test named 'no such test' (id 0)");
        w.send(Shutdown{});
    }
    TEST_CASE("commands that end mid-frame make the worker exit 3, not 0") {
        DirectWorker w(tend_test::fixture("basic"));
        (void)w.receive_as<Hello>();
        std::vector<char> frame;
        encode_frame(Finalize{1}, frame);
        frame.resize(frame.size() - 2);
        w.send_raw(frame);
        CHECK(w.close_and_wait() == 3);
    }
    TEST_CASE("end of commands between frames is a clean exit") {
        DirectWorker w(tend_test::fixture("basic"));
        (void)w.receive_as<Hello>();
        CHECK(w.close_and_wait() == 0);
    }
}
