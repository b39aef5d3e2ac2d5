// Plain line-per-result output for people: one line per test, the details of
// each failure right under it, recycles with -v, and a summary.
#pragma once

#include <cstdio>

#include "events.hpp"

namespace tend {

struct HumanOptions {
    bool verbose = false;      ///< show passing tests' lines and every recycle
    bool quiet = false;        ///< only failures and the summary
    bool show_binary = false;  ///< prefix test names with their binary (several binaries)
};

class HumanReporter final : public Reporter {
  public:
    HumanReporter(std::FILE* out, HumanOptions options) : out_(out), options_(options) {}
    void test(const TestEvent& e) override;
    void recycle(const RecycleEvent& e) override;
    void notice(const Notice& n) override;
    void shutdown(const ShutdownReport& r) override;
    void summary(const Summary& s) override;
    void slow(const SlowEvent& e) override;

  private:
    std::FILE* out_;
    HumanOptions options_;
};

}  // namespace tend
