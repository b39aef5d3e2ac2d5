// TestTable: see test_table.hpp.
#include "pool/test_table.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace tend {

namespace {
/// Names go into blocks of this size; a longer name gets a block of its own.
constexpr std::size_t kBlockBytes = 256 * 1024;
}  // namespace

const char* TestTable::keep_name(std::string_view name) {
    if (name.empty()) return "";
    if (name.size() > kBlockBytes / 4) {
        // A long name gets a block of its own; the current one goes on.
        blocks_.push_back(std::make_unique<char[]>(name.size()));
        block_bytes_ += name.size();
        std::memcpy(blocks_.back().get(), name.data(), name.size());
        return blocks_.back().get();
    }
    if (name.size() > block_left_) {
        blocks_.push_back(std::make_unique<char[]>(kBlockBytes));
        block_bytes_ += kBlockBytes;
        block_at_ = blocks_.back().get();
        block_left_ = block_size_ = kBlockBytes;
        block_first_row_ = size_;
    }
    std::memcpy(block_at_, name.data(), name.size());
    const char* kept = block_at_;
    block_at_ += name.size();
    block_left_ -= name.size();
    return kept;
}

std::uint32_t TestTable::intern(std::string_view s) {
    if (s.empty()) return 0;
    if (const auto it = string_index_.find(s); it != string_index_.end()) return it->second;
    const auto index = static_cast<std::uint32_t>(strings_.size());
    if (index >= kFileKey) throw std::length_error("test list: too many distinct suites and files");
    strings_.emplace_back(s);
    string_index_.emplace(strings_.back(), index);
    return index;
}

void TestTable::push_back(const protocol::TestInfo& t) {
    if (finished_) throw std::logic_error("test list: a test added after the list was finished");
    if (t.name.size() >= kSkip) throw std::length_error("test list: a test name of 2 GiB or more");
    Row r{};
    r.name = keep_name(t.name);
    r.name_size = static_cast<std::uint32_t>(t.name.size()) | (t.skip ? kSkip : 0);
    r.suite = intern(t.suite);
    r.file = intern(t.file);
    r.line = t.line;
    if (!t.tags.empty()) {
        std::string key;
        // Each tag with its length first: no two sets share a key.
        for (const auto& tag : t.tags) (key += std::to_string(tag.size()) + ':') += tag;
        const auto [it, added] = tag_set_index_.try_emplace(
            std::move(key), static_cast<std::uint32_t>(tag_sets_.size()));
        if (added) tag_sets_.push_back(t.tags);
        r.tags = it->second;
    }
    if (t.timeout_s != 0) {
        // Keyed bit by bit: a NaN is a timeout too (the pool warns of it).
        std::uint64_t bits = 0;
        std::memcpy(&bits, &t.timeout_s, sizeof bits);
        const auto [it, added] =
            timeout_index_.try_emplace(bits, static_cast<std::uint32_t>(timeouts_.size()));
        if (added) timeouts_.push_back(t.timeout_s);
        r.timeout = it->second;
    }
    if ((size_ & (kRowsPerBlock - 1)) == 0) rows_.push_back(std::make_unique<Row[]>(kRowsPerBlock));
    rows_.back()[size_ & (kRowsPerBlock - 1)] = r;
    ++size_;
}

void TestTable::finish() {
    if (const auto used = size_ & (kRowsPerBlock - 1); used != 0) {
        auto rows = std::make_unique<Row[]>(used);
        std::copy_n(rows_.back().get(), used, rows.get());
        rows_.back() = std::move(rows);
    }
    rows_.shrink_to_fit();
    if (block_at_ && block_left_ > 0) {
        // The names in the current block move to one of their size; the
        // rows that point at them follow.
        const std::size_t used = block_size_ - block_left_;
        char* old = block_at_ - used;
        auto names = std::make_unique<char[]>(std::max<std::size_t>(used, 1));
        std::memcpy(names.get(), old, used);
        for (std::size_t id = block_first_row_; id < size_; ++id) {
            auto& r = rows_[id >> kRowsShift][id & (kRowsPerBlock - 1)];
            const auto at = reinterpret_cast<std::uintptr_t>(r.name);
            const auto from = reinterpret_cast<std::uintptr_t>(old);
            if (at >= from && at < from + used) r.name = names.get() + (at - from);
        }
        for (auto& b : blocks_) {
            if (b.get() == old) {
                b = std::move(names);
                break;
            }
        }
        block_bytes_ -= block_size_ - used;
        block_at_ = nullptr;
        block_left_ = block_size_ = 0;
    }
    blocks_.shrink_to_fit();
    finished_ = true;
    bytes_ = count_bytes();
}

TestView TestTable::operator[](std::size_t id) const {
    const auto& r = row(id);
    TestView v;
    v.id = static_cast<std::uint32_t>(id);
    v.name = {r.name, r.name_size & ~kSkip};
    v.skip = (r.name_size & kSkip) != 0;
    v.suite = strings_[r.suite];
    v.file = strings_[r.file];
    v.line = r.line;
    v.timeout_s = timeouts_[r.timeout];
    v.tags = tag_sets_[r.tags];
    return v;
}

std::size_t TestTable::count_bytes() const {
    std::size_t n = sizeof *this + rows_.capacity() * sizeof(void*) + block_bytes_;
    // Every block of rows is whole but the last, which finish() shrinks.
    const std::size_t last = size_ & (kRowsPerBlock - 1);
    n += (rows_.size() - (last && finished_ ? 1 : 0)) * kRowsPerBlock * sizeof(Row);
    if (last && finished_) n += last * sizeof(Row);
    for (const auto& s : strings_) n += sizeof s + s.capacity() + 32;  // and its index entry
    for (const auto& set : tag_sets_) {
        n += 2 * sizeof set + 32;  // and its key in the index
        for (const auto& tag : set) n += sizeof tag + 2 * tag.capacity();
    }
    return n + timeouts_.capacity() * (sizeof(double) + 32);
}

}  // namespace tend
