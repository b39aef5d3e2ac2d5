// JunitReporter: see junit_reporter.hpp and docs/junit.md.
#include "report/junit_reporter.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <memory>

namespace tend {

namespace {
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
/// The spool is written when this much XML has gathered, and read back
/// in pieces of at most this much.
constexpr std::size_t kSpoolBuffer = std::size_t{64} << 10;
constexpr std::size_t kCopyChunk = 1 << 20;

/// The length of the well-formed UTF-8 sequence that starts `s` (whose first
/// byte is not ASCII), or 0 with `skip` set to the length of its maximal
/// ill-formed subpart: the bytes one U+FFFD replaces, as Unicode recommends
/// and browsers, ICU and Python do. The ranges of the second byte rule out
/// overlong forms (C0, C1, E0 80-9F, F0 80-8F), surrogates (ED A0-BF) and
/// code points over U+10FFFF (F4 90-BF, F5-FF).
std::size_t utf8_sequence(std::string_view s, std::size_t& skip) {
    const auto b0 = static_cast<unsigned char>(s[0]);
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        skip = 1;
        return 0;
    }
    std::size_t i = 1;
    for (; i < need && i < s.size(); ++i) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
    }
    if (i == need) return need;
    skip = i;
    return 0;
}

void append_escaped(std::string& out, std::string_view s, XmlContext where) {
    const bool attribute = where == XmlContext::attribute;
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            std::size_t skip = 0;
            const auto n = utf8_sequence(s.substr(i), skip);
            if (n == 0) {
                out += kReplacement;
                i += skip;
                continue;
            }
            // U+FFFE and U+FFFF are well-formed UTF-8 but not XML characters.
            const bool non_char = n == 3 && c == 0xEF && s[i + 1] == '\xBF' &&
                                  (s[i + 2] == '\xBE' || s[i + 2] == '\xBF');
            out += non_char ? kReplacement : s.substr(i, n);
            i += n;
            continue;
        }
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            // A parser turns a raw CR (and CR LF) into LF, and in an attribute
            // tab and LF into spaces: character references survive both.
            case '\r':
                out += "&#13;";
                break;
            case '\t':
                out += attribute ? "&#9;" : "\t";
                break;
            case '\n':
                out += attribute ? "&#10;" : "\n";
                break;
            default:
                // XML 1.0 has no way at all to carry the other C0 controls,
                // not even as &#1;: show which byte it was.
                if (c < 0x20) {
                    out += fmt::format("\\x{:02x}", c);
                } else {
                    out += static_cast<char>(c);
                }
        }
        ++i;
    }
}

std::string attr(std::string_view s) {
    return xml_escape(s, XmlContext::attribute);
}

std::string basename(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// The first line of `text`, at most `max` bytes, not cutting a character
/// in two: for message attributes, which CI systems show as a headline.
std::string first_line(std::string_view text, std::size_t max = 500) {
    text = text.substr(0, text.find('\n'));
    if (text.size() > max) {
        std::size_t cut = max;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
        return std::string(text.substr(0, cut)) + "...";
    }
    return std::string(text);
}

std::string seconds(double s) {
    return fmt::format("{:.6f}", s);
}
std::string seconds(std::uint64_t ns) {
    return seconds(static_cast<double>(ns) / 1e9);
}

/// "file:line: KIND( expression )", where a failure happened; the test's
/// own `file` and `line` when the failure does not say.
std::string where_and_what(const protocol::Failure& f, std::string_view file, std::uint32_t line) {
    std::string s = fmt::format("{}:{}: {}", f.file.empty() ? file : std::string_view(f.file),
                                f.file.empty() ? line : f.line, f.kind);
    if (!f.expression.empty()) s += fmt::format("( {} )", f.expression);
    return s;
}

/// Every failed assertion, the way the human output shows it.
std::string describe(const std::vector<protocol::Failure>& failures, std::string_view file,
                     std::uint32_t line) {
    std::string s;
    for (const auto& f : failures) {
        s += where_and_what(f, file, line) + '\n';
        if (!f.expanded.empty()) s += "  with expansion: " + f.expanded + '\n';
        if (!f.subcase.empty()) s += "  in subcase: " + f.subcase + '\n';
        std::string_view message = f.message;
        while (!message.empty()) {
            const auto nl = message.find('\n');
            s += fmt::format("  {}\n", message.substr(0, nl));
            if (nl == std::string_view::npos) break;
            message.remove_prefix(nl + 1);
        }
    }
    return s;
}

/// What an attempt that did not pass says: the element's type and message
/// attributes and its body.
struct Problem {
    bool failure = false;  ///< a failed assertion, not a crash, timeout or error
    std::string type;
    std::string message;
    std::string body;
};

Problem problem(const TestStatus status, const std::vector<protocol::Failure>& failures,
                std::string_view detail, std::string_view file, std::uint32_t line) {
    Problem p;
    p.failure = status == TestStatus::failed;
    p.body = describe(failures, file, line);
    if (!detail.empty()) {
        if (!p.body.empty()) p.body += '\n';
        p.body += detail;
    }
    if (p.failure) {
        // The type is the assertion's kind, as surefire gives the exception's class.
        p.type = failures.empty() || failures[0].kind.empty() ? "failed" : failures[0].kind;
    } else {
        p.type = to_string(status);
    }
    // A crash or a timeout is said by the detail; a failed test by its
    // first failed assertion.
    if (!p.failure && !detail.empty()) {
        p.message = first_line(detail);
    } else if (!failures.empty()) {
        const auto& f = failures[0];
        p.message = where_and_what(f, file, line);
        if (!f.expanded.empty()) p.message += " with expansion: " + f.expanded;
        if (!f.message.empty()) p.message += ": " + f.message;
        p.message = first_line(p.message);
        if (failures.size() > 1) p.message += fmt::format(" (and {} more)", failures.size() - 1);
    } else if (!detail.empty()) {
        p.message = first_line(detail);
    } else {
        p.message = to_string(status);
    }
    return p;
}

/// `<name>text</name>`, or nothing for empty text.
std::string element(std::string_view name, std::string_view text, std::string_view indent) {
    if (text.empty()) return {};
    return fmt::format("{}<{}>{}</{}>\n", indent, name, xml_escape(text, XmlContext::text), name);
}

std::string local_timestamp(std::chrono::system_clock::time_point at) {
    // Local time without a zone, as Ant, surefire and JUnit 5 write it.
    const std::time_t t = std::chrono::system_clock::to_time_t(at);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return buf;
}

std::string hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

std::string absolute(const std::string& path) {
    std::error_code ec;
    auto p = std::filesystem::absolute(path, ec);
    return ec ? path : p.lexically_normal().string();
}

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

/// An unnamed temporary file, close-on-exec, for the spool: in `dir` (the
/// report's directory, whose file system the report needs room on anyway),
/// else in $TMPDIR or /tmp. -1 with errno set when there is none.
int open_spool(const std::string& dir) {
    const char* tmpdir = std::getenv("TMPDIR");
    const std::string dirs[] = {dir, tmpdir && *tmpdir ? tmpdir : "/tmp"};
    int first_errno = 0;
    for (const auto& d : dirs) {
        int fd = ::open(d.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0) return fd;
        // No O_TMPFILE on this file system: a named file, unlinked at once.
        std::string name = d + "/.tend-junit-spool-XXXXXX";
        fd = ::mkostemp(name.data(), O_CLOEXEC);
        if (fd >= 0) {
            ::unlink(name.c_str());
            return fd;
        }
        if (!first_errno) first_errno = errno;
    }
    errno = first_errno;
    return -1;
}

/// Which of a testsuite's counts a final status adds to.
enum class Tally : std::uint8_t { passed, failed, errored, skipped };
Tally tally(TestStatus status) {
    switch (status) {
        case TestStatus::failed:
            return Tally::failed;
        case TestStatus::crashed:
        case TestStatus::timed_out:
        case TestStatus::error:
            return Tally::errored;
        case TestStatus::skipped:
        case TestStatus::not_run:
            return Tally::skipped;
        case TestStatus::passed:
        case TestStatus::flaky:
            break;
    }
    return Tally::passed;
}
}  // namespace

std::string xml_escape(std::string_view bytes, XmlContext where) {
    std::string out;
    out.reserve(bytes.size());
    append_escaped(out, bytes, where);
    return out;
}

JunitReporter::JunitReporter(std::string path, const std::vector<std::string>& binaries)
    : path_(std::move(path)), started_(std::chrono::system_clock::now()) {
    for (const auto& b : binaries) suite_of(b);
    // Fail before any test runs, not after an hour of them. The file is
    // written beside `path` and renamed over it: try creating that one.
    struct stat st {};
    if (path_.empty()) {
        error_ = std::strerror(ENOENT);
    } else if (::stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        error_ = std::strerror(EISDIR);
    } else if (std::FILE* f = std::fopen((path_ + ".tmp").c_str(), "ae")) {
        std::fclose(f);
        std::remove((path_ + ".tmp").c_str());
        spool_fd_ = open_spool(directory_of(path_));
        if (spool_fd_ < 0) error_ = std::strerror(errno);
    } else {
        error_ = std::strerror(errno);
    }
}

JunitReporter::~JunitReporter() {
    if (spool_fd_ >= 0) ::close(spool_fd_);
}

JunitReporter::Suite& JunitReporter::suite_of(const std::string& binary) {
    for (auto& s : suites_) {
        if (s.binary == binary) return s;
    }
    suites_.push_back(Suite{});
    auto& s = suites_.back();
    s.binary = binary;
    s.classname = attr(basename(binary));
    return s;
}

void JunitReporter::test(const TestEvent& e) {
    if (!error_.empty()) return;  // no file will be written
    auto& s = suite_of(e.binary);
    auto it = s.retried.find(e.test.id);
    if (!e.final) {
        if (it == s.retried.end()) {
            Pending p{std::string(e.test.name),
                      std::string(e.test.suite),
                      std::string(e.test.file),
                      e.test.line,
                      {}};
            it = s.retried.emplace(e.test.id, std::move(p)).first;
        }
        it->second.earlier.push_back(Attempt{e.status, e.duration_ns, e.failures,
                                             std::string(e.out), std::string(e.err),
                                             std::string(e.detail)});
        return;
    }
    const AttemptView last{e.status, e.duration_ns, e.failures, e.out, e.err, e.detail};
    if (it == s.retried.end()) {
        spool(s, e.test.id, e.test.name, e.test.suite, e.test.file, e.test.line, last, {});
        return;
    }
    // Where the test is, as its first attempt said, as before streaming.
    const Pending p = std::move(it->second);
    s.retried.erase(it);
    spool(s, e.test.id, p.name, p.suite, p.file, p.line, last, p.earlier);
}

void JunitReporter::spool(Suite& s, std::uint32_t id, std::string_view name, std::string_view suite,
                          std::string_view file, std::uint32_t line, const AttemptView& last,
                          const std::vector<Attempt>& earlier) {
    if (!error_.empty()) return;
    std::string suite_attr;
    std::string_view classname = s.classname;
    if (!suite.empty()) {
        suite_attr = attr(suite);
        classname = suite_attr;
    }
    const auto before = spool_buf_.size();
    append_testcase(spool_buf_, name, classname, file, line, last, earlier);
    const auto length = spool_buf_.size() - before;
    if (length > std::numeric_limits<std::uint32_t>::max()) {
        fail(EFBIG);
        return;
    }
    s.cases.push_back(Entry{spool_end_, last.duration_ns, id, static_cast<std::uint32_t>(length)});
    spool_end_ += length;
    switch (tally(last.status)) {
        case Tally::failed:
            ++s.failed;
            break;
        case Tally::errored:
            ++s.errored;
            break;
        case Tally::skipped:
            ++s.skipped;
            break;
        case Tally::passed:
            break;
    }
    if (spool_buf_.size() >= kSpoolBuffer) flush_spool();
}

bool JunitReporter::flush_spool() {
    if (!error_.empty()) return false;
    // At its place, not at the descriptor's offset: binary_done() writes
    // with pwrite too.
    std::string_view rest = spool_buf_;
    auto at = spool_end_ - rest.size();
    while (!rest.empty()) {
        const auto n = ::pwrite(spool_fd_, rest.data(), rest.size(), static_cast<off_t>(at));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            fail(n < 0 ? errno : EIO);
            return false;
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
        at += static_cast<std::uint64_t>(n);
    }
    spool_buf_.clear();
    // One huge testcase does not keep its buffer for the rest of the run.
    if (spool_buf_.capacity() > 4 * kSpoolBuffer) std::string().swap(spool_buf_);
    return true;
}

void JunitReporter::fail(int err) {
    error_ = std::strerror(err);
    if (spool_fd_ >= 0) ::close(spool_fd_);
    spool_fd_ = -1;
    std::string().swap(spool_buf_);
}

std::size_t JunitReporter::held_bytes() const {
    std::size_t n = 0;
    for (const auto& s : suites_) {
        n += s.cases.capacity() * sizeof(Entry);
        for (const auto& [id, p] : s.retried) {
            n += sizeof(p) + p.name.size() + p.suite.size() + p.file.size();
            for (const auto& a : p.earlier) {
                n += sizeof(a) + a.out.size() + a.err.size() + a.detail.size();
                for (const auto& f : a.failures) {
                    n += sizeof(f) + f.file.size() + f.kind.size() + f.expression.size() +
                         f.expanded.size() + f.message.size() + f.subcase.size();
                }
            }
        }
    }
    return n;
}

void JunitReporter::notice(const Notice& n) {
    auto& s = suite_of(n.binary);
    (n.fails_run ? s.errors : s.warnings).emplace_back(n.message);
}

void JunitReporter::summary(const Summary& s) {
    if (error_.empty()) write(s);
}

void JunitReporter::append_testcase(std::string& buf, std::string_view name,
                                    std::string_view classname, std::string_view file,
                                    std::uint32_t line, const AttemptView& last,
                                    const std::vector<Attempt>& earlier) {
    buf += fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"", attr(name),
                       classname, seconds(last.duration_ns));
    if (!file.empty()) buf += fmt::format(" file=\"{}\"", attr(file));
    if (line) buf += fmt::format(" line=\"{}\"", line);
    const auto status = last.status;
    const bool passed = status == TestStatus::passed || status == TestStatus::flaky;
    if (passed && earlier.empty() && last.out.empty() && last.err.empty()) {
        buf += "/>\n";
        return;
    }
    buf += ">\n";
    if (status == TestStatus::skipped || status == TestStatus::not_run) {
        std::string message = first_line(last.detail);
        if (status == TestStatus::not_run && message.rfind("not run", 0) != 0) {
            message = message.empty() ? "not run" : "not run: " + message;
        }
        buf += "      <skipped";
        if (!message.empty()) buf += fmt::format(" message=\"{}\"", attr(message));
        buf += last.detail.empty()
                   ? "/>\n"
                   : fmt::format(">{}</skipped>\n", xml_escape(last.detail, XmlContext::text));
    } else if (!passed) {
        const auto p = problem(status, last.failures, last.detail, file, line);
        const char* element_name = p.failure ? "failure" : "error";
        buf += fmt::format("      <{} message=\"{}\" type=\"{}\">{}</{}>\n", element_name,
                           attr(p.message), attr(p.type), xml_escape(p.body, XmlContext::text),
                           element_name);
    }
    // Earlier attempts as surefire writes reruns: flaky* in a test that
    // passed in the end, rerun* in one that did not.
    for (const auto& a : earlier) {
        const auto p = problem(a.status, a.failures, a.detail, file, line);
        const std::string element_name =
            std::string(passed ? "flaky" : "rerun") + (p.failure ? "Failure" : "Error");
        buf += fmt::format("      <{} message=\"{}\" type=\"{}\">\n", element_name, attr(p.message),
                           attr(p.type));
        buf += fmt::format("        <stackTrace>{}</stackTrace>\n",
                           xml_escape(p.body, XmlContext::text));
        buf += element("system-out", a.out, "        ");
        buf += element("system-err", a.err, "        ");
        buf += fmt::format("      </{}>\n", element_name);
    }
    buf += element("system-out", last.out, "      ");
    buf += element("system-err", last.err, "      ");
    buf += "    </testcase>\n";
}

void JunitReporter::settle_retried(Suite& suite) {
    // An attempt whose final event never came (it cannot happen today)
    // still shows: its last attempt stands for the result. It goes to the
    // spool after every other, so it comes after them among equal ids.
    for (auto& [id, p] : suite.retried) {
        if (p.earlier.empty()) continue;
        const Attempt last = std::move(p.earlier.back());
        p.earlier.pop_back();
        spool(suite, id, p.name, p.suite, p.file, p.line, last.view(), p.earlier);
    }
    suite.retried.clear();
}

void JunitReporter::sort_cases(Suite& suite) {
    // Registration order, not completion order: the same run gives the
    // same file whatever -j did. Spool offsets grow in arrival order, so
    // they keep equal ids in that order, as a stable sort would.
    std::sort(suite.cases.begin(), suite.cases.end(), [](const Entry& a, const Entry& b) {
        return a.id != b.id ? a.id < b.id : a.offset < b.offset;
    });
}

void JunitReporter::binary_done(const std::string& binary) {
    if (!error_.empty()) return;
    auto& s = suite_of(binary);
    if (s.sealed) return;
    settle_retried(s);
    if (!flush_spool()) return;
    sort_cases(s);
    // Added up in this order, the sum is the same double as always.
    double time = 0;
    for (const auto& c : s.cases) time += static_cast<double>(c.duration_ns) / 1e9;
    // The testcases, in order, to the spool's end: runs of neighbours in one
    // piece, through a bounded buffer.
    const std::uint64_t from = spool_end_;
    std::unique_ptr<char[]> chunk;
    for (std::size_t c = 0; c < s.cases.size();) {
        std::uint64_t at = s.cases[c].offset;
        std::uint64_t to = at + s.cases[c].length;
        for (++c; c < s.cases.size() && s.cases[c].offset == to; ++c) to += s.cases[c].length;
        if (!chunk) chunk = std::make_unique<char[]>(kCopyChunk);
        while (at < to) {
            const auto want =
                static_cast<std::size_t>(std::min<std::uint64_t>(to - at, kCopyChunk));
            const auto n = ::pread(spool_fd_, chunk.get(), want, static_cast<off_t>(at));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return fail(n < 0 ? errno : EIO);
            std::string_view piece(chunk.get(), static_cast<std::size_t>(n));
            while (!piece.empty()) {
                const auto w =
                    ::pwrite(spool_fd_, piece.data(), piece.size(), static_cast<off_t>(spool_end_));
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) return fail(w < 0 ? errno : EIO);
                piece.remove_prefix(static_cast<std::size_t>(w));
                spool_end_ += static_cast<std::uint64_t>(w);
            }
            at += static_cast<std::uint64_t>(n);
        }
    }
    s.sealed = true;
    s.sealed_from = from;
    s.sealed_to = spool_end_;
    s.sealed_cases = s.cases.size();
    s.sealed_time = time;
    std::vector<Entry>().swap(s.cases);
}

bool JunitReporter::write(const Summary& summary) {
    for (auto& suite : suites_) settle_retried(suite);
    if (!flush_spool()) return false;

    const std::string tmp = path_ + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "we");
    if (!f) {
        error_ = std::strerror(errno);
        return false;
    }
    int write_errno = 0;
    std::string buf;
    auto flush = [&] {
        if (!write_errno && std::fwrite(buf.data(), 1, buf.size(), f) != buf.size()) {
            write_errno = errno ? errno : EIO;
        }
        buf.clear();
    };
    // Spool bytes [from, to) into the file, a bounded piece at a time.
    std::unique_ptr<char[]> chunk;
    auto copy = [&](std::uint64_t from, const std::uint64_t to) {
        if (!chunk) chunk = std::make_unique<char[]>(kCopyChunk);
        while (!write_errno && from < to) {
            const auto want =
                static_cast<std::size_t>(std::min<std::uint64_t>(to - from, kCopyChunk));
            const auto n = ::pread(spool_fd_, chunk.get(), want, static_cast<off_t>(from));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                write_errno = n < 0 ? errno : EIO;
                break;
            }
            const auto got = static_cast<std::size_t>(n);
            if (std::fwrite(chunk.get(), 1, got, f) != got) write_errno = errno ? errno : EIO;
            from += got;
        }
    };

    struct Counts {
        std::uint64_t tests = 0, failures = 0, errors = 0, skipped = 0;
        double time = 0;
    };
    Counts total;
    std::vector<Counts> counts;
    for (auto& suite : suites_) {
        sort_cases(suite);
        Counts n;
        n.tests = suite.sealed_cases + suite.cases.size() + suite.errors.size();
        n.failures = suite.failed;
        n.errors = suite.errored + suite.errors.size();
        n.skipped = suite.skipped;
        // Added up in this order, the sum is the same double as always.
        n.time = suite.sealed_time;
        for (const auto& c : suite.cases) n.time += static_cast<double>(c.duration_ns) / 1e9;
        total.tests += n.tests;
        total.failures += n.failures;
        total.errors += n.errors;
        total.skipped += n.skipped;
        counts.push_back(n);
    }

    const auto timestamp = local_timestamp(started_);
    const auto host = attr(hostname());
    buf += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    buf += fmt::format(
        "<testsuites name=\"tend\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" "
        "time=\"{}\" timestamp=\"{}\">\n",
        total.tests, total.failures, total.errors, total.skipped, seconds(summary.duration_s),
        timestamp);
    for (std::size_t i = 0; i < suites_.size(); ++i) {
        const auto& suite = suites_[i];
        const auto& n = counts[i];
        const auto& binary_name = suite.classname;
        buf += fmt::format(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" "
            "time=\"{}\" timestamp=\"{}\" hostname=\"{}\" id=\"{}\">\n",
            binary_name, n.tests, n.failures, n.errors, n.skipped, seconds(n.time), timestamp, host,
            i);
        // A shard's report names its shard, so that `tend merge` can check
        // that all of them are there.
        buf += fmt::format("    <properties>\n      <property name=\"binary\" value=\"{}\"/>\n{}",
                           attr(absolute(suite.binary)),
                           summary.shard.empty()
                               ? std::string()
                               : fmt::format("      <property name=\"tend.shard\" value=\"{}\"/>\n",
                                             attr(summary.shard)));
        buf += "    </properties>\n";
        flush();
        // The testcases: those of a binary that was done are in order in one
        // piece; the rest in runs of neighbours in the spool (in one read
        // when they ended in registration order). A result that came after
        // its binary was done (none should) follows those before.
        if (suite.sealed) copy(suite.sealed_from, suite.sealed_to);
        for (std::size_t c = 0; c < suite.cases.size();) {
            const auto from = suite.cases[c].offset;
            auto to = from + suite.cases[c].length;
            for (++c; c < suite.cases.size() && suite.cases[c].offset == to; ++c) {
                to += suite.cases[c].length;
            }
            copy(from, to);
        }
        // A notice that fails the run (a teardown that threw, a binary that
        // would not start) becomes an error testcase: GitLab's and GitHub's
        // test reports read only testcases and would show a testsuite's
        // system-err nowhere, so the run would look green there.
        for (const auto& message : suite.errors) {
            const auto headline = attr(first_line(message));
            buf += fmt::format(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\">\n"
                "      <error message=\"{}\" type=\"run_error\">{}</error>\n"
                "    </testcase>\n",
                headline, binary_name, seconds(0.0), headline,
                xml_escape(message, XmlContext::text));
        }
        // Warnings are worth a look, not a red test.
        std::string warnings;
        for (const auto& w : suite.warnings) warnings += w + '\n';
        buf += element("system-err", warnings, "    ");
        buf += "  </testsuite>\n";
        flush();
    }
    buf += "</testsuites>\n";
    flush();

    if (std::fflush(f) != 0 && !write_errno) write_errno = errno;
    if (std::fclose(f) != 0 && !write_errno) write_errno = errno;
    if (!write_errno && std::rename(tmp.c_str(), path_.c_str()) != 0) write_errno = errno;
    if (write_errno) {
        std::remove(tmp.c_str());
        error_ = std::strerror(write_errno);
        return false;
    }
    return true;
}

}  // namespace tend
