// tend-batch's Adapter: serves the worker protocol for an unmodified binary
// by running the requested tests in batches of fresh processes of it.
//
// A unit's tests go in batches (batch_size.hpp), each selected exactly on
// the binary's command line by the framework's driver. The batch's progress
// drives the runtime as an in-process adapter would: a test begins when the
// framework says it started, ends when it says it ended, and what the
// binary prints meanwhile is the test's output. So tend's status page knows
// the running test: a timeout kills this process's group (the batch with
// it) and blames that test; a batch that dies in a test makes tend-batch
// die the same way, and tend reports that test crashed and runs the rest
// of the unit on a new worker, as for any worker.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "driver.hpp"
#include "messages.hpp"

namespace tend::batch {

class Child;

class BatchAdapter final : public worker::Adapter {
  public:
    /// `real_stderr`: tend-batch's own stderr, kept before the runtime
    /// captures descriptor 2, for what must reach tend's stderr tail.
    BatchAdapter(std::unique_ptr<Driver> driver, std::string binary, std::vector<std::string> args,
                 int real_stderr);
    ~BatchAdapter() override;

    std::string framework() const override;
    std::vector<TestDescription> list() override;
    void run(const std::uint32_t* ids, std::size_t count, worker::TestSession& session) override;

    /// The health of the batch running now, or of the last one before it
    /// ended: the runtime's health source (health_source.hpp).
    static protocol::Health health();

  private:
    struct BatchResult;
    BatchResult run_batch(const std::vector<std::size_t>& batch, worker::TestSession& session,
                          bool run_skipped);
    [[noreturn]] void die_like(int wait_status);
    std::vector<std::string> command(const std::vector<std::string>& extra) const;

    int real_stderr_;
    std::unique_ptr<Driver> driver_;
    std::string binary_;
    std::vector<std::string> args_;
    std::vector<std::string> env_;
    std::vector<bool> skip_;
    std::vector<std::size_t> name_bytes_;
    std::size_t batch_size_;
    int exe_fd_;
};

}  // namespace tend::batch
