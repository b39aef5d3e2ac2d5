// JSON lines on a stream: one object per test, recycle, error and a final
// summary. The field list is in docs/user-guide.md ("JSON output").
#pragma once

#include <cstdio>
#include <string>

#include "report/events.hpp"

namespace tend {

class JsonReporter final : public Reporter {
  public:
    explicit JsonReporter(std::FILE* out) : out_(out) {}
    void test(const TestEvent& e) override;
    void recycle(const RecycleEvent& e) override;
    void notice(const Notice& n) override;
    void shutdown(const ShutdownReport& r) override;
    void summary(const Summary& s) override;
    void slow(const SlowEvent& e) override;

  private:
    void write(const std::string& line);
    std::FILE* out_;
    std::string line_;  ///< a test's line, its room kept for the next
};

}  // namespace tend
