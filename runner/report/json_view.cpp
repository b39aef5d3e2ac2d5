// JsonView: see json_view.hpp.
#include "report/json_view.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace tend {

namespace {
constexpr int kMaxDepth = 64;  ///< values inside values, the outermost counted

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}
}  // namespace

/// One parse: recursive descent over the text, appending nodes.
struct JsonParser {
    const char* p;
    const char* end;
    std::vector<JsonView::Node>& nodes;
    std::string& decoded;
    std::string& error;

    bool fail(const char* what) {
        error = what;
        return false;
    }
    void skip_space() {
        while (p != end && is_space(*p)) ++p;
    }
    bool literal(std::string_view word) {
        if (static_cast<std::size_t>(end - p) < word.size() ||
            std::string_view(p, word.size()) != word) {
            return fail("not a JSON value");
        }
        p += word.size();
        return true;
    }
    /// Four hex digits after "\u".
    bool hex4(std::uint32_t& out) {
        if (end - p < 4) return fail("a \\u escape needs four hex digits");
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const int v = hex_value(p[i]);
            if (v < 0) return fail("a \\u escape needs four hex digits");
            out = out << 4 | static_cast<std::uint32_t>(v);
        }
        p += 4;
        return true;
    }
    /// A string, `p` on its opening quote.
    bool string(std::string_view& out) {
        const char* start = ++p;
        while (p != end && *p != '"' && *p != '\\' && static_cast<unsigned char>(*p) >= 0x20) ++p;
        if (p == end) return fail("a string is not closed");
        if (*p == '"') {
            out = std::string_view(start, static_cast<std::size_t>(p - start));
            ++p;
            return true;
        }
        if (*p != '\\') return fail("a control character in a string");
        // Escapes: decoded into the reserved storage.
        const auto from = decoded.size();
        decoded.append(start, p);
        while (p != end && *p != '"') {
            const char c = *p;
            if (static_cast<unsigned char>(c) < 0x20)
                return fail("a control character in a string");
            if (c != '\\') {
                decoded += c;
                ++p;
                continue;
            }
            if (++p == end) break;
            const char e = *p++;
            switch (e) {
                case '"':
                    decoded += '"';
                    break;
                case '\\':
                    decoded += '\\';
                    break;
                case '/':
                    decoded += '/';
                    break;
                case 'b':
                    decoded += '\b';
                    break;
                case 'f':
                    decoded += '\f';
                    break;
                case 'n':
                    decoded += '\n';
                    break;
                case 'r':
                    decoded += '\r';
                    break;
                case 't':
                    decoded += '\t';
                    break;
                case 'u': {
                    std::uint32_t cp = 0;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' &&
                        p[1] == 'u') {
                        const char* back = p;
                        p += 2;
                        std::uint32_t low = 0;
                        if (!hex4(low)) return false;
                        if (low >= 0xDC00 && low <= 0xDFFF) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        } else {
                            p = back;  // not a pair: the high half alone
                        }
                    }
                    // A lone surrogate is no character: U+FFFD, as for bad bytes.
                    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
                    put_utf8(decoded, cp);
                    break;
                }
                default:
                    return fail("an unknown escape in a string");
            }
        }
        if (p == end) return fail("a string is not closed");
        ++p;
        out = std::string_view(decoded.data() + from, decoded.size() - from);
        return true;
    }
    /// A number, checked against JSON's grammar, kept as written.
    bool number(std::string_view& out) {
        const char* start = p;
        if (p != end && *p == '-') ++p;
        if (p == end || !is_digit(*p)) return fail("not a JSON value");
        if (*p == '0') {
            ++p;
        } else {
            while (p != end && is_digit(*p)) ++p;
        }
        if (p != end && *p == '.') {
            ++p;
            if (p == end || !is_digit(*p)) return fail("a number needs digits after '.'");
            while (p != end && is_digit(*p)) ++p;
        }
        if (p != end && (*p == 'e' || *p == 'E')) {
            ++p;
            if (p != end && (*p == '+' || *p == '-')) ++p;
            if (p == end || !is_digit(*p)) return fail("a number needs digits in its exponent");
            while (p != end && is_digit(*p)) ++p;
        }
        out = std::string_view(start, static_cast<std::size_t>(p - start));
        return true;
    }
    bool value(std::string_view key, int depth) {
        if (depth >= kMaxDepth) return fail("nested too deep");
        skip_space();
        if (p == end) return fail("the text ends before a value");
        const auto at = nodes.size();
        nodes.push_back({});
        nodes[at].key = key;
        switch (*p) {
            case '{': {
                nodes[at].type = JsonView::Type::object;
                ++p;
                skip_space();
                if (p != end && *p == '}') {
                    ++p;
                    break;
                }
                for (;;) {
                    skip_space();
                    if (p == end || *p != '"') return fail("expected a member name");
                    std::string_view name;
                    if (!string(name)) return false;
                    skip_space();
                    if (p == end || *p != ':') return fail("expected ':' after a member name");
                    ++p;
                    if (!value(name, depth + 1)) return false;
                    skip_space();
                    if (p != end && *p == ',') {
                        ++p;
                        continue;
                    }
                    if (p != end && *p == '}') {
                        ++p;
                        break;
                    }
                    return fail("expected ',' or '}' in an object");
                }
                break;
            }
            case '[': {
                nodes[at].type = JsonView::Type::array;
                ++p;
                skip_space();
                if (p != end && *p == ']') {
                    ++p;
                    break;
                }
                for (;;) {
                    if (!value({}, depth + 1)) return false;
                    skip_space();
                    if (p != end && *p == ',') {
                        ++p;
                        continue;
                    }
                    if (p != end && *p == ']') {
                        ++p;
                        break;
                    }
                    return fail("expected ',' or ']' in an array");
                }
                break;
            }
            case '"': {
                std::string_view text;
                if (!string(text)) return false;
                nodes[at].type = JsonView::Type::string;
                nodes[at].text = text;
                break;
            }
            case 't':
                if (!literal("true")) return false;
                nodes[at].type = JsonView::Type::boolean;
                nodes[at].truth = true;
                break;
            case 'f':
                if (!literal("false")) return false;
                nodes[at].type = JsonView::Type::boolean;
                break;
            case 'n':
                if (!literal("null")) return false;
                break;
            default: {
                std::string_view text;
                if (!number(text)) return false;
                nodes[at].type = JsonView::Type::number;
                nodes[at].text = text;
            }
        }
        nodes[at].end = static_cast<std::uint32_t>(nodes.size());
        return true;
    }
};

bool JsonView::parse(std::string_view text, std::string& error) {
    nodes_.clear();
    decoded_.clear();
    decoded_.reserve(text.size());
    if (text.size() >= std::numeric_limits<std::uint32_t>::max()) {
        error = "too long";
        return false;
    }
    JsonParser parser{text.data(), text.data() + text.size(), nodes_, decoded_, error};
    if (!parser.value({}, 0)) {
        nodes_.clear();
        return false;
    }
    parser.skip_space();
    if (parser.p != parser.end) {
        nodes_.clear();
        error = "text after the value";
        return false;
    }
    return true;
}

JsonView::Value JsonView::root() const {
    if (nodes_.empty()) return {};
    return Value(this, 0, static_cast<std::uint32_t>(nodes_.size()));
}

const JsonView::Node JsonView::kNone{};

JsonView::Value JsonView::Value::operator[](std::string_view key) const {
    if (!is(Type::object)) return {};
    const auto& nodes = doc_->nodes_;
    const auto end = nodes[index_].end;
    for (auto i = index_ + 1; i < end; i = nodes[i].end) {
        if (nodes[i].key == key) return Value(doc_, i, end);
    }
    return {};
}

JsonView::Value JsonView::Value::first() const {
    if (!is(Type::object) && !is(Type::array)) return {};
    const auto& n = node();
    if (index_ + 1 >= n.end) return {};
    return Value(doc_, index_ + 1, n.end);
}

JsonView::Value JsonView::Value::next() const {
    if (!doc_) return {};
    const auto after = node().end;
    if (after >= limit_) return {};
    return Value(doc_, after, limit_);
}

bool JsonView::Value::get(std::string_view& out) const {
    if (!is(Type::string)) return false;
    out = node().text;
    return true;
}

namespace {
/// A number as an integer type: whole, or else through double and cut off.
template <typename Int>
bool to_integer(std::string_view text, Int& out) {
    Int v{};
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec == std::errc() && r.ptr == text.data() + text.size()) {
        out = v;
        return true;
    }
    double d = 0;
    const auto rd = std::from_chars(text.data(), text.data() + text.size(), d);
    if (rd.ec != std::errc() || !std::isfinite(d)) return false;
    const double t = std::trunc(d);
    if (t < static_cast<double>(std::numeric_limits<Int>::min()) ||
        t >= static_cast<double>(std::numeric_limits<Int>::max())) {
        return false;
    }
    out = static_cast<Int>(t);
    return true;
}
}  // namespace

bool JsonView::Value::get(std::uint64_t& out) const {
    return is(Type::number) && to_integer(node().text, out);
}

bool JsonView::Value::get(std::int64_t& out) const {
    return is(Type::number) && to_integer(node().text, out);
}

bool JsonView::Value::get(double& out) const {
    if (!is(Type::number)) return false;
    const auto text = node().text;
    return std::from_chars(text.data(), text.data() + text.size(), out).ec == std::errc();
}

bool JsonView::Value::get(bool& out) const {
    if (!is(Type::boolean)) return false;
    out = node().truth;
    return true;
}

}  // namespace tend
