// A worker binary started by hand and spoken to synchronously over the
// protocol, with no supervisor: for tests of the worker runtime and for the
// benchmarks. Throws std::runtime_error on anything unexpected.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "frame.hpp"
#include "messages.hpp"

extern char** environ;

namespace tend_test {

class DirectWorker {
  public:
    explicit DirectWorker(const std::string& binary,
                          const std::vector<std::string>& extra_env = {}) {
        int cmd[2], res[2];
        if (::pipe2(cmd, O_CLOEXEC) != 0 || ::pipe2(res, O_CLOEXEC) != 0) {
            throw std::runtime_error("pipe2 failed");
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, cmd[0], 3);
        posix_spawn_file_actions_adddup2(&fa, res[1], 4);
        std::vector<std::string> env_storage;
        for (char** e = environ; *e; ++e) env_storage.emplace_back(*e);
        env_storage.emplace_back("TEND_WORKER_FDS=3,4");
        for (const auto& e : extra_env) env_storage.push_back(e);
        std::vector<char*> envp;
        for (auto& s : env_storage) envp.push_back(s.data());
        envp.push_back(nullptr);
        char* argv[] = {const_cast<char*>(binary.c_str()), nullptr};
        const int rc = ::posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv, envp.data());
        posix_spawn_file_actions_destroy(&fa);
        ::close(cmd[0]);
        ::close(res[1]);
        to_ = cmd[1];
        from_ = res[0];
        if (rc != 0) throw std::runtime_error("cannot start " + binary);
    }
    ~DirectWorker() {
        if (to_ >= 0) ::close(to_);
        ::close(from_);
        int status = 0;
        if (pid_ > 0) ::waitpid(pid_, &status, 0);
    }
    DirectWorker(const DirectWorker&) = delete;
    DirectWorker& operator=(const DirectWorker&) = delete;

    void send(const tend::protocol::Message& m) {
        buf_.clear();
        tend::protocol::encode_frame(m, buf_);
        send_raw(buf_);
    }
    /// Writes raw bytes on the command pipe.
    void send_raw(const std::vector<char>& bytes) {
        if (::write(to_, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
            throw std::runtime_error("short write to worker");
        }
    }
    tend::protocol::Message receive() {
        for (;;) {
            auto ev = decoder_.next();
            if (ev.kind == tend::protocol::FrameEvent::Kind::error)
                throw std::runtime_error(ev.error);
            if (ev.kind == tend::protocol::FrameEvent::Kind::frame) {
                auto d = tend::protocol::decode_payload(ev.payload);
                if (!d.message) throw std::runtime_error(d.error);
                return *d.message;
            }
            pollfd p{from_, POLLIN, 0};
            if (::poll(&p, 1, 10000) != 1) throw std::runtime_error("worker sent nothing for 10 s");
            char buf[65536];
            const ssize_t n = ::read(from_, buf, sizeof buf);
            if (n <= 0) throw std::runtime_error("worker closed its result pipe");
            decoder_.feed(buf, static_cast<std::size_t>(n));
        }
    }
    template <typename T>
    T receive_as() {
        auto m = receive();
        if (!std::holds_alternative<T>(m)) {
            throw std::runtime_error("unexpected '" + std::string(tend::protocol::type_name(m)) +
                                     "'");
        }
        return std::get<T>(m);
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
    pid_t pid() const { return pid_; }

  private:
    pid_t pid_ = -1;
    int to_ = -1;
    int from_ = -1;
    tend::protocol::FrameDecoder decoder_;
    std::vector<char> buf_;
};

}  // namespace tend_test
