#include "linalg/io/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <system_error>

namespace paramserv {

namespace {

// Deeper documents are rejected, so that malicious input cannot overflow
// the stack of the recursive-descent parser.
constexpr size_t max_depth = 200;

// Doubles with no fraction and a magnitude below 2^53 are exact integers.
constexpr double max_exact_integer = 9007199254740992.0;

const char* type_name(size_t index) {
  static constexpr const char* names[]
    = {"null", "bool", "number", "string", "array", "object"};
  return names[index];
}

// Appends `cp` (at most 0x10FFFF) as UTF-8.
void append_utf8(std::string& out, uint32_t cp) {
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

// For a valid JSON number that is not zero, the power of ten of its leading
// digit: 2 for "123", -3 for "0.00123e0", 398 for "1e400". Saturates at the
// int range.
long long decimal_exponent(std::string_view num) {
  long long lead = 0;
  bool found = false;
  size_t i = num.front() == '-' ? 1 : 0;
  auto int_end = num.find_first_of(".eE", i);
  if (int_end == std::string_view::npos)
    int_end = num.size();
  for (; i < num.size() && num[i] != 'e' && num[i] != 'E'; ++i) {
    if (num[i] == '.' || num[i] == '0' || found)
      continue;
    found = true;
    lead = i < int_end ? static_cast<long long>(int_end - i - 1)
                       : -static_cast<long long>(i - int_end);
  }
  long long exp = 0;
  bool negative = false;
  if (i < num.size()) {
    ++i; // 'e' or 'E'
    if (num[i] == '+' || num[i] == '-')
      negative = num[i++] == '-';
    for (; i < num.size(); ++i)
      exp = std::min(exp * 10 + (num[i] - '0'), 1'000'000'000LL);
  }
  return lead + (negative ? -exp : exp);
}

// Recursive descent over RFC 8259 JSON. Errors carry the 1-based line and
// column (in bytes) of the offending character.
class parser {
public:
  explicit parser(std::string_view text) : text_(text) {}

  json parse_document() {
    auto result = parse_value(0);
    skip_space();
    if (pos_ < text_.size())
      error("unexpected characters after the document");
    return result;
  }

private:
  [[noreturn]] void error(const std::string& what) const {
    error_at(pos_, what);
  }

  [[noreturn]] void error_at(size_t pos, const std::string& what) const {
    size_t line = 1;
    size_t column = 1;
    for (size_t i = 0; i < pos && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw std::runtime_error("json: line " + std::to_string(line) + ", column "
                             + std::to_string(column) + ": " + what);
  }

  // Describes the character at pos_ for error messages.
  std::string describe_current() const {
    if (pos_ >= text_.size())
      return "end of input";
    auto c = static_cast<unsigned char>(text_[pos_]);
    if (c < 0x20 || c >= 0x7F)
      return "byte " + std::to_string(c);
    return std::string{"'"} + static_cast<char>(c) + "'";
  }

  [[noreturn]] void unexpected(const std::string& wanted) const {
    error("expected " + wanted + ", got " + describe_current());
  }

  bool at(char c) const {
    return pos_ < text_.size() && text_[pos_] == c;
  }

  void skip_space() {
    while (pos_ < text_.size()
           && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n'
               || text_[pos_] == '\r'))
      ++pos_;
  }

  void expect(char c) {
    if (!at(c))
      unexpected(std::string{"'"} + c + "'");
    ++pos_;
  }

  json parse_value(size_t depth) {
    skip_space();
    if (pos_ >= text_.size())
      unexpected("a value");
    switch (text_[pos_]) {
      case '{':
        return parse_object(depth + 1);
      case '[':
        return parse_array(depth + 1);
      case '"':
        return parse_string();
      case 't':
        parse_literal("true");
        return true;
      case 'f':
        parse_literal("false");
        return false;
      case 'n':
        parse_literal("null");
        return nullptr;
      default:
        if (text_[pos_] == '-' || (text_[pos_] >= '0' && text_[pos_] <= '9'))
          return parse_number();
        unexpected("a value");
    }
  }

  void check_depth(size_t depth) const {
    if (depth > max_depth)
      error("nesting deeper than " + std::to_string(max_depth) + " levels");
  }

  json parse_object(size_t depth) {
    check_depth(depth);
    ++pos_; // '{'
    json::object result;
    skip_space();
    if (at('}')) {
      ++pos_;
      return result;
    }
    for (;;) {
      skip_space();
      auto key_pos = pos_;
      if (!at('"'))
        unexpected("a string key");
      auto key = parse_string_raw();
      skip_space();
      expect(':');
      auto value = parse_value(depth);
      if (!result.emplace(std::move(key), std::move(value)).second)
        error_at(key_pos, "duplicate key");
      skip_space();
      if (at(',')) {
        ++pos_;
        continue;
      }
      if (at('}')) {
        ++pos_;
        return result;
      }
      unexpected("',' or '}'");
    }
  }

  json parse_array(size_t depth) {
    check_depth(depth);
    ++pos_; // '['
    json::array result;
    skip_space();
    if (at(']')) {
      ++pos_;
      return result;
    }
    for (;;) {
      result.push_back(parse_value(depth));
      skip_space();
      if (at(',')) {
        ++pos_;
        continue;
      }
      if (at(']')) {
        ++pos_;
        return result;
      }
      unexpected("',' or ']'");
    }
  }

  void parse_literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word)
      error("invalid literal, expected '" + std::string{word} + "'");
    pos_ += word.size();
  }

  json parse_string() {
    return parse_string_raw();
  }

  // Four hex digits after "\u".
  uint32_t parse_hex4() {
    uint32_t result = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      if (pos_ >= text_.size())
        error("unterminated \\u escape");
      auto c = text_[pos_];
      result <<= 4;
      if (c >= '0' && c <= '9')
        result |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        result |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        result |= static_cast<uint32_t>(c - 'A' + 10);
      else
        error("invalid hex digit in \\u escape");
    }
    return result;
  }

  // Decodes "\uXXXX", joining a UTF-16 surrogate pair into one code point;
  // pos_ is just past the 'u'.
  uint32_t parse_unicode_escape() {
    auto start = pos_ - 2;
    auto cp = parse_hex4();
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      error_at(start, "unpaired low surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (text_.substr(pos_, 2) != "\\u")
        error_at(start, "unpaired high surrogate in \\u escape");
      pos_ += 2;
      auto low = parse_hex4();
      if (low < 0xDC00 || low > 0xDFFF)
        error_at(start, "unpaired high surrogate in \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    return cp;
  }

  // A string token starting at the opening quote. Bytes >= 0x80 are copied
  // as they are (the input is assumed to be UTF-8).
  std::string parse_string_raw() {
    ++pos_; // '"'
    std::string result;
    for (;;) {
      if (pos_ >= text_.size())
        error("unterminated string");
      auto c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return result;
      }
      if (static_cast<unsigned char>(c) < 0x20)
        error("control character in string (must be escaped)");
      if (c != '\\') {
        result += c;
        ++pos_;
        continue;
      }
      if (++pos_ >= text_.size())
        error("unterminated string");
      switch (text_[pos_++]) {
        case '"':
          result += '"';
          break;
        case '\\':
          result += '\\';
          break;
        case '/':
          result += '/';
          break;
        case 'b':
          result += '\b';
          break;
        case 'f':
          result += '\f';
          break;
        case 'n':
          result += '\n';
          break;
        case 'r':
          result += '\r';
          break;
        case 't':
          result += '\t';
          break;
        case 'u':
          append_utf8(result, parse_unicode_escape());
          break;
        default:
          error_at(pos_ - 2, "invalid escape sequence");
      }
    }
  }

  // Checks the JSON number grammar, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?
  // [0-9]+)?, then converts with std::from_chars.
  json parse_number() {
    auto start = pos_;
    auto digits = [&] {
      auto first = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9')
        ++pos_;
      return pos_ - first;
    };
    if (at('-'))
      ++pos_;
    if (at('0'))
      ++pos_;
    else if (digits() == 0)
      unexpected("a digit");
    if (at('.')) {
      ++pos_;
      if (digits() == 0)
        unexpected("a digit after '.'");
    }
    if (at('e') || at('E')) {
      ++pos_;
      if (at('+') || at('-'))
        ++pos_;
      if (digits() == 0)
        unexpected("a digit in the exponent");
    }
    double value = 0;
    auto first = text_.data() + start;
    auto last = text_.data() + pos_;
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec == std::errc::result_out_of_range) {
      // from_chars reports underflow too; like strtod, round that to zero.
      if (decimal_exponent(std::string_view{first, last}) < 0)
        return *first == '-' ? -0.0 : 0.0;
      error_at(start, "number out of range");
    }
    if (ec != std::errc{} || ptr != last)
      error_at(start, "invalid number");
    return value;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

void dump_string(std::string& out, const std::string& str) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (char c : str) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += hex[(c >> 4) & 0xF];
          out += hex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// JSON has no NaN or infinity; like JavaScript's JSON.stringify we write
// null for them rather than failing a whole manifest over one metric.
void dump_number(std::string& out, double x) {
  char buf[32];
  std::to_chars_result res;
  if (!std::isfinite(x)) {
    out += "null";
    return;
  }
  if (x == std::trunc(x) && std::fabs(x) < max_exact_integer)
    res = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(x));
  else
    res = std::to_chars(buf, buf + sizeof(buf), x);
  out.append(buf, res.ptr);
}

void indent(std::string& out, size_t level) {
  out.append(2 * level, ' ');
}

} // namespace

bool json::is_null() const {
  return std::holds_alternative<std::nullptr_t>(value_);
}

bool json::is_bool() const {
  return std::holds_alternative<bool>(value_);
}

bool json::is_number() const {
  return std::holds_alternative<double>(value_);
}

bool json::is_string() const {
  return std::holds_alternative<std::string>(value_);
}

bool json::is_array() const {
  return std::holds_alternative<array>(value_);
}

bool json::is_object() const {
  return std::holds_alternative<object>(value_);
}

namespace {

template <class T, class Variant>
const T& get_or_throw(const Variant& value, const char* wanted) {
  if (auto ptr = std::get_if<T>(&value))
    return *ptr;
  throw std::runtime_error(std::string{"json: expected "} + wanted + ", got "
                           + type_name(value.index()));
}

} // namespace

bool json::as_bool() const {
  return get_or_throw<bool>(value_, "bool");
}

double json::as_number() const {
  return get_or_throw<double>(value_, "number");
}

const std::string& json::as_string() const {
  return get_or_throw<std::string>(value_, "string");
}

const json::array& json::as_array() const {
  return get_or_throw<array>(value_, "array");
}

const json::object& json::as_object() const {
  return get_or_throw<object>(value_, "object");
}

const json& json::at(const std::string& key) const {
  auto& obj = as_object();
  auto i = obj.find(key);
  if (i == obj.end())
    throw std::runtime_error("json: missing key \"" + key + "\"");
  return i->second;
}

bool json::contains(const std::string& key) const {
  auto obj = std::get_if<object>(&value_);
  return obj != nullptr && obj->count(key) > 0;
}

std::string json::dump() const {
  // An explicit stack would avoid recursion, but parse() already bounds the
  // depth of anything read from outside, and values built in code are
  // shallow.
  struct dumper {
    std::string out;

    void operator()(const json& x, size_t level) {
      std::visit(
        [&](const auto& v) {
          dump_value(v, level);
        },
        x.value_);
    }

    void dump_value(std::nullptr_t, size_t) {
      out += "null";
    }

    void dump_value(bool x, size_t) {
      out += x ? "true" : "false";
    }

    void dump_value(double x, size_t) {
      dump_number(out, x);
    }

    void dump_value(const std::string& x, size_t) {
      dump_string(out, x);
    }

    void dump_value(const array& xs, size_t level) {
      if (xs.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      for (size_t i = 0; i < xs.size(); ++i) {
        indent(out, level + 1);
        (*this)(xs[i], level + 1);
        out += i + 1 < xs.size() ? ",\n" : "\n";
      }
      indent(out, level);
      out += ']';
    }

    void dump_value(const object& xs, size_t level) {
      if (xs.empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      size_t i = 0;
      for (auto& [key, value] : xs) {
        indent(out, level + 1);
        dump_string(out, key);
        out += ": ";
        (*this)(value, level + 1);
        out += ++i < xs.size() ? ",\n" : "\n";
      }
      indent(out, level);
      out += '}';
    }
  };
  dumper d;
  d(*this, 0);
  return std::move(d.out);
}

json json::parse(std::string_view text) {
  return parser{text}.parse_document();
}

} // namespace paramserv
