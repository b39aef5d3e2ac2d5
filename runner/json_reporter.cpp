// JsonReporter: see json_reporter.hpp.
#include "json_reporter.hpp"

#include "event_json.hpp"

namespace tend {

void JsonReporter::write(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fputc('\n', out_);
}

void JsonReporter::test(const TestEvent& e) {
    write(dump_line(to_json(e)));
}

void JsonReporter::slow(const SlowEvent& e) {
    write(dump_line(to_json(e)));
    std::fflush(out_);  // it is news now, not at the next result
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
    std::fflush(out_);
}

}  // namespace tend
