// JsonReporter: see json_reporter.hpp.
#include "report/json_reporter.hpp"

#include "report/event_json.hpp"

namespace tend {

// Each line goes out as it happens: a run killed by SIGKILL, SIGHUP or the
// OOM killer leaves every event it had reported (one write(2) per event,
// see docs/development.md for its cost).
void JsonReporter::write(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fputc('\n', out_);
    std::fflush(out_);
}

void JsonReporter::test(const TestEvent& e) {
    line_.clear();
    append_json(line_, e);
    write(line_);
}

void JsonReporter::slow(const SlowEvent& e) {
    write(dump_line(to_json(e)));
}

void JsonReporter::recycle(const RecycleEvent& e) {
    write(dump_line(to_json(e)));
}

void JsonReporter::notice(const Notice& n) {
    write(dump_line(to_json(n)));
}

void JsonReporter::shutdown(const ShutdownReport& r) {
    write(dump_line(to_json(r)));
}

void JsonReporter::summary(const Summary& s) {
    write(dump_line(to_json(s)));
}

}  // namespace tend
