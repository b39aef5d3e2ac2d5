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

/// Reads events back (the `event` key says which) and hands each to a
/// reporter. Events borrow their data; a Replayer owns what they borrow for
/// as long as it lives.
class Replayer {
  public:
    explicit Replayer(Reporter& to) : to_(to) {}
    /// False with `error` for an object that is not an event tend writes.
    bool replay(const nlohmann::json& event, std::string& error);
    /// The summary, once one has been replayed.
    const Summary* summary() const { return have_summary_ ? &summary_ : nullptr; }
    int shutdown_signal() const { return shutdown_signal_; }

  private:
    Reporter& to_;
    Summary summary_;
    bool have_summary_ = false;
    int shutdown_signal_ = 0;
};

}  // namespace tend
