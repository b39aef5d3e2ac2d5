// Output for people: one line per test, the details of each failure right
// under it, recycles with -v, then a recap of the failures with the
// commands that re-run them, and a summary.
//
// On a terminal it adds colours and a live progress line at the bottom.
// The progress line goes to the same stream as everything else: it is
// erased before any other line is printed and drawn again after, so a
// result line never has progress text in it. Whether there is a terminal is
// main's business (HumanOptions holds the decisions), so all of this can be
// tested writing to a pipe.
#pragma once

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "report/events.hpp"
#include "report/rerun.hpp"

namespace tend {

struct HumanOptions {
    bool verbose = false;       ///< also every recycle with its reason
    bool quiet = false;         ///< only failures, the recap and the summary
    bool show_binary = false;   ///< prefix test names with their binary (several binaries)
    bool binary_paths = false;  ///< name binaries by path, not file name (two share one)
    bool color = false;         ///< ANSI colours on status labels and counts
    bool progress = false;      ///< a live progress line (\r and erase-line sequences)
    bool show_output = false;   ///< captured output in full, and passing tests' too
    /// Words of the run's command line that the re-run commands of the
    /// recap need too: `--run-ignored only`.
    std::vector<std::string> rerun_flags;
    std::size_t width = 0;  ///< columns for the progress line; 0: ask the terminal (80 if unknown)
};

/// True when two binaries have one file name (a/tests, b/tests): the output
/// then names binaries by their paths.
bool file_names_collide(const std::vector<std::string>& binaries);

class HumanReporter final : public Reporter {
  public:
    static constexpr std::chrono::milliseconds kProgressInterval{100};
    /// Failures listed one per line in the recap; the rest are counted.
    static constexpr std::size_t kRecapLines = 50;

    HumanReporter(std::FILE* out, HumanOptions options) : out_(out), options_(options) {}
    void test(const TestEvent& e) override;
    void recycle(const RecycleEvent& e) override;
    void notice(const Notice& n) override;
    void shutdown(const ShutdownReport& r) override;
    void summary(const Summary& s) override;
    void slow(const SlowEvent& e) override;
    std::chrono::milliseconds progress_interval() const override;
    void progress(const Progress& p) override;

  private:
    /// The last Progress, copied (a Progress borrows), to redraw from.
    struct Snapshot {
        struct Running {
            std::string binary;
            std::string name;  ///< full_name()
            std::uint64_t running_ns;
        };
        std::uint64_t total = 0;
        double elapsed_s = 0;
        std::vector<Running> running;
        std::chrono::steady_clock::time_point at;
    };
    struct RecapLine {
        std::string label;
        std::string text;  ///< name and reason, printable
    };

    /// Writes `text` (whole lines) with the progress line erased before and
    /// drawn again after.
    void emit(const std::string& text);
    std::string progress_line() const;
    std::string paint(std::string_view style, std::string_view text) const;
    std::string shown_binary(const std::string& binary) const;
    std::string shown_name(const std::string& binary, const TestView& test) const;
    std::string output_block(std::string_view title, std::string_view text) const;
    void remember(const TestEvent& e);
    std::string recap() const;

    std::FILE* out_;
    HumanOptions options_;

    // The progress line.
    std::optional<Snapshot> last_;
    bool drawn_ = false;     ///< a progress line is on the screen
    bool finished_ = false;  ///< the summary is out: draw no more
    std::uint64_t done_ = 0, passed_ = 0, failed_ = 0;

    // The recap.
    std::vector<RecapLine> recap_;  ///< the first kRecapLines
    std::size_t recap_total_ = 0;
    std::vector<FailedTest> rerun_;  ///< every test that failed
    std::uint64_t not_run_ = 0;
    std::string not_run_reason_;
    bool not_run_reasons_differ_ = false;
    std::string last_not_run_detail_;  ///< said under the previous NOTRUN line
};

}  // namespace tend
