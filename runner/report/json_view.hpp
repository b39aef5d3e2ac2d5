// A read-only JSON reader for the lines tend reads back at the rate a run
// produces them: the daemon's notifications, one per test, that `tend run`
// replays into its reporters (event_json.hpp). One pass over a line builds a
// flat list of values that borrow from the line (a string with escapes is
// decoded into the reader's own storage), so a reader that is reused parses
// without allocating. nlohmann::json builds a tree of maps and strings
// instead, and took longer per event than running the test (issue 11).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tend {

struct JsonParser;

class JsonView {
  public:
    enum class Type : std::uint8_t { null, boolean, number, string, array, object };
    class Value;

    /// Parses `text`: one JSON value, with whitespace around it. The values
    /// read after borrow from `text` and from this reader: both must outlive
    /// them, and the next parse() ends them. False with `error` for text
    /// that is not JSON, or nests deeper than 64.
    bool parse(std::string_view text, std::string& error);
    /// The parsed value (invalid after a failed parse).
    Value root() const;

  private:
    friend class Value;
    friend struct JsonParser;
    struct Node {
        Type type = Type::null;
        bool truth = false;     ///< a boolean's value
        std::uint32_t end = 0;  ///< the index after this value and all it holds
        std::string_view key;   ///< a member of an object: its name
        std::string_view text;  ///< a string: decoded; a number: as written
    };
    static const Node kNone;  ///< what none reads as
    std::vector<Node> nodes_;
    /// Strings with escapes, decoded. Reserved to the text's size before
    /// parsing (decoding never lengthens), so views into it stay valid.
    std::string decoded_;
};

/// A value of a parsed document, or none (a member that is absent): every
/// accessor of none answers as for a value of the wrong type.
class JsonView::Value {
  public:
    Value() = default;
    explicit operator bool() const { return doc_ != nullptr; }
    Type type() const { return node().type; }
    bool is(Type t) const { return doc_ && node().type == t; }
    /// An object's member named `key`; none when absent or not an object.
    Value operator[](std::string_view key) const;
    /// A string's text; false (`out` unchanged) for anything else.
    bool get(std::string_view& out) const;
    /// A number as an unsigned or signed integer (a fraction is cut off, as
    /// nlohmann's get<> does), or as a double; false for anything else or a
    /// number out of range.
    bool get(std::uint64_t& out) const;
    bool get(std::int64_t& out) const;
    bool get(double& out) const;
    bool get(bool& out) const;
    /// The elements of an array or the members of an object, in order:
    /// `for (auto v = a.first(); v; v = v.next())`.
    Value first() const;
    Value next() const;
    /// A member's name (empty for an array element or the root).
    std::string_view key() const { return node().key; }

  private:
    friend class JsonView;
    Value(const JsonView* doc, std::uint32_t index, std::uint32_t limit)
        : doc_(doc), index_(index), limit_(limit) {}
    const Node& node() const { return doc_ ? doc_->nodes_[index_] : kNone; }

    const JsonView* doc_ = nullptr;
    std::uint32_t index_ = 0;
    std::uint32_t limit_ = 0;  ///< the end of the array or object holding it
};

}  // namespace tend
