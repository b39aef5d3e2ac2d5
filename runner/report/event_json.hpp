// Run events as JSON objects, both ways. `tend run --json` writes them
// (json_reporter.hpp); the daemon sends them to its clients, and a client
// reads them back into events for its own reporters, so `tend run` prints
// the same through the daemon as without it.
#pragma once

#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "report/events.hpp"
#include "report/json_view.hpp"

namespace tend {

using ordered_json = nlohmann::ordered_json;

ordered_json to_json(const TestEvent& e);
ordered_json to_json(const SlowEvent& e);
ordered_json to_json(const StartedEvent& e);
ordered_json to_json(const RecycleEvent& e);
ordered_json to_json(const Notice& n);
ordered_json to_json(const ShutdownReport& r);
ordered_json to_json(const Summary& s);
ordered_json to_json(const Progress& p);

/// One line of JSON. Test output is bytes, not text: invalid UTF-8 becomes
/// U+FFFD instead of an exception.
std::string dump_line(const ordered_json& j);

/// Appends the event as one line of JSON, without the newline: the same
/// bytes as dump_line(to_json(e)), written straight into `out` instead of
/// through a JSON value. The daemon and `--json` write one per test, and
/// building the value cost more than the test (issue 11).
void append_json(std::string& out, const TestEvent& e);
void append_json(std::string& out, const StartedEvent& e);

/// Reads events back (the `event` key says which) and hands each to a
/// reporter. Events borrow their data, from the Replayer and from what it
/// read, for the reporter's call.
class Replayer {
  public:
    explicit Replayer(Reporter& to) : to_(to) {}
    /// False with `error` for an object that is not an event tend writes.
    /// Unknown members are ignored (the daemon adds `run`).
    bool replay(JsonView::Value event, std::string& error);
    bool replay(const nlohmann::json& event, std::string& error);
    /// The summary, once one has been replayed.
    const Summary* summary() const { return have_summary_ ? &summary_ : nullptr; }
    int shutdown_signal() const { return shutdown_signal_; }

  private:
    Reporter& to_;
    // Kept from one event to the next, so that a test's event allocates
    // nothing once they have grown.
    std::string binary_;
    protocol::TestInfo test_;
    std::vector<protocol::Failure> failures_;
    Summary summary_;
    bool have_summary_ = false;
    int shutdown_signal_ = 0;
};

}  // namespace tend
