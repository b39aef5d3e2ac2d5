// One binary's tests as tend keeps them: compact, because a binary may hold
// a million.
//
// The protocol's TestInfo spends about 150 bytes on each test before its
// strings (a std::string for the name, the suite and the file, a vector for
// the tags), and repeats the suite and the file in every test. The table
// keeps a row of 32 bytes per test (in blocks of rows, so a growing table
// never copies itself and never holds twice its size); names go into large
// blocks, and suites,
// files, tag sets and timeouts, which tests share, are interned and kept
// once. A test is read as a TestView: plain fields and views into the table,
// valid while the table lives (tables are shared, immutable once listed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "messages.hpp"

namespace tend {

/// A test, read off its TestTable (or off a protocol::TestInfo that
/// outlives the view). Events carry these.
struct TestView {
    std::uint32_t id = 0;
    std::string_view name;
    std::string_view suite;  ///< empty when the test belongs to no suite
    std::string_view file;
    std::uint32_t line = 0;
    bool skip = false;
    double timeout_s = 0;  ///< the framework's own per-test timeout; 0 = none
    std::span<const std::string> tags;

    TestView() = default;
    TestView(std::uint32_t id, std::string_view name, std::string_view suite,
             std::string_view file = {}, std::uint32_t line = 0)
        : id(id), name(name), suite(suite), file(file), line(line) {}
    /// A view of `t`, which must outlive it.
    TestView(
        const protocol::TestInfo& t)  // NOLINT(google-explicit-constructor): a TestInfo is a test
        : id(t.id),
          name(t.name),
          suite(t.suite),
          file(t.file),
          line(t.line),
          skip(t.skip),
          timeout_s(t.timeout_s),
          tags(t.tags) {}
};

class TestTable {
  public:
    TestTable() = default;
    TestTable(const TestTable&) = delete;
    TestTable& operator=(const TestTable&) = delete;
    /// Views point into the table: it stays where it is made (in a
    /// shared_ptr) and is never copied or moved.
    TestTable(TestTable&&) = delete;
    TestTable& operator=(TestTable&&) = delete;

    /// Adds `t` as the next test: its id must be size().
    void push_back(const protocol::TestInfo& t);
    /// The list is whole: the last blocks of rows and names shrink to what
    /// they hold, so a small table costs what it holds, not a block. Nothing
    /// is added after.
    void finish();

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    /// The test whose id is `id` (ids are the positions).
    TestView operator[](std::size_t id) const;
    std::string_view name(std::size_t id) const {
        const auto& r = row(id);
        return {r.name, r.name_size & ~kSkip};
    }
    /// Tests in one unit share this key: their suite's, or their file's when
    /// they belong to no suite (suites and files never share a key).
    std::uint32_t unit_key(std::size_t id) const {
        const auto& r = row(id);
        return r.suite ? r.suite : r.file | kFileKey;
    }
    /// The memory the table holds, roughly (for cache budgets); counted
    /// once when finished.
    std::size_t bytes() const { return finished_ ? bytes_ : count_bytes(); }

    class const_iterator {
      public:
        using value_type = TestView;
        using difference_type = std::ptrdiff_t;
        const_iterator() = default;
        const_iterator(const TestTable* t, std::size_t i) : t_(t), i_(i) {}
        TestView operator*() const { return (*t_)[i_]; }
        const_iterator& operator++() {
            ++i_;
            return *this;
        }
        const_iterator operator++(int) {
            auto old = *this;
            ++i_;
            return old;
        }
        bool operator==(const const_iterator& o) const { return i_ == o.i_; }

      private:
        const TestTable* t_ = nullptr;
        std::size_t i_ = 0;
    };
    const_iterator begin() const { return {this, 0}; }
    const_iterator end() const { return {this, size()}; }

  private:
    static constexpr std::uint32_t kFileKey = 0x80000000u;
    static constexpr std::uint32_t kSkip = 0x80000000u;  ///< in name_size
    struct Row {
        const char* name;
        std::uint32_t name_size;  ///< with kSkip
        std::uint32_t suite;      ///< interned; 0: none
        std::uint32_t file;       ///< interned
        std::uint32_t line;
        std::uint32_t tags;     ///< index in tag_sets_; 0: none
        std::uint32_t timeout;  ///< index in timeouts_; 0: none
    };
    static_assert(sizeof(Row) == 32);
    static constexpr std::size_t kRowsShift = 13;  ///< 8,192 rows (256 KiB) a block
    static constexpr std::size_t kRowsPerBlock = std::size_t{1} << kRowsShift;
    const Row& row(std::size_t id) const {
        return rows_[id >> kRowsShift][id & (kRowsPerBlock - 1)];
    }

    std::uint32_t intern(std::string_view s);
    std::size_t count_bytes() const;
    const char* keep_name(std::string_view name);

    std::vector<std::unique_ptr<Row[]>> rows_;
    std::size_t size_ = 0;
    /// Names, in blocks that never move.
    std::vector<std::unique_ptr<char[]>> blocks_;
    std::size_t block_left_ = 0;
    std::size_t block_size_ = 0;       ///< of the current block of names
    std::size_t block_first_row_ = 0;  ///< the first test named in it
    bool finished_ = false;
    std::size_t bytes_ = 0;  ///< count_bytes() when finished
    char* block_at_ = nullptr;
    std::size_t block_bytes_ = 0;
    /// Suites and files, each once; index 0 is the empty string.
    std::deque<std::string> strings_{std::string()};
    std::unordered_map<std::string_view, std::uint32_t> string_index_;
    /// Tag sets and timeouts, each once; index 0 is none.
    std::vector<std::vector<std::string>> tag_sets_{{}};
    std::vector<double> timeouts_{0.0};
    std::unordered_map<std::string, std::uint32_t> tag_set_index_;    ///< "length:tag" each
    std::unordered_map<std::uint64_t, std::uint32_t> timeout_index_;  ///< by bit pattern
};

}  // namespace tend
