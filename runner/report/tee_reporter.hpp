// Several reporters at once (the terminal or JSON output, and a JUnit file):
// every call goes to each of them, in order.
#pragma once

#include <vector>

#include "report/events.hpp"

namespace tend {

class TeeReporter final : public Reporter {
  public:
    /// Does not own the reporters; they outlive it.
    explicit TeeReporter(std::vector<Reporter*> to) : to_(std::move(to)) {}
    void test(const TestEvent& e) override {
        for (auto* r : to_) r->test(e);
    }
    void recycle(const RecycleEvent& e) override {
        for (auto* r : to_) r->recycle(e);
    }
    void notice(const Notice& n) override {
        for (auto* r : to_) r->notice(n);
    }
    void shutdown(const ShutdownReport& s) override {
        for (auto* r : to_) r->shutdown(s);
    }
    void summary(const Summary& s) override {
        for (auto* r : to_) r->summary(s);
    }
    void slow(const SlowEvent& e) override {
        for (auto* r : to_) r->slow(e);
    }
    void started(const StartedEvent& e) override {
        for (auto* r : to_) r->started(e);
    }
    void binary_done(const std::string& binary) override {
        for (auto* r : to_) r->binary_done(binary);
    }
    /// The most frequent of the reporters that want progress at all.
    std::chrono::milliseconds progress_interval() const override {
        std::chrono::milliseconds every{};
        for (auto* r : to_) {
            const auto own = r->progress_interval();
            if (own.count() && (!every.count() || own < every)) every = own;
        }
        return every;
    }
    void progress(const Progress& p) override {
        for (auto* r : to_) r->progress(p);
    }

  private:
    std::vector<Reporter*> to_;
};

}  // namespace tend
