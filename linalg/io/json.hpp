#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace paramserv {

/// A parsed JSON value; just enough JSON for paramserv's own manifest files
/// (objects, arrays, strings with escapes, numbers, true/false/null).
class json {
public:
  using array = std::vector<json>;
  using object = std::map<std::string, json>;

  json() = default; // null
  json(std::nullptr_t) {}
  json(bool x) : value_(x) {}
  json(double x) : value_(x) {}
  json(int x) : value_(static_cast<double>(x)) {}
  json(size_t x) : value_(static_cast<double>(x)) {}
  json(std::string x) : value_(std::move(x)) {}
  json(const char* x) : value_(std::string{x}) {}
  json(array x) : value_(std::move(x)) {}
  json(object x) : value_(std::move(x)) {}

  bool is_null() const;
  bool is_bool() const;
  bool is_number() const;
  bool is_string() const;
  bool is_array() const;
  bool is_object() const;

  /// Accessors; each throws std::runtime_error("json: expected ...") when the
  /// value has another type.
  bool as_bool() const;
  double as_number() const;
  const std::string& as_string() const;
  const array& as_array() const;
  const object& as_object() const;

  /// Object member; throws std::runtime_error("json: missing key \"k\"").
  const json& at(const std::string& key) const;

  /// Whether this is an object with member `key`.
  bool contains(const std::string& key) const;

  /// Serialises with two-space indentation; numbers that are integers print
  /// without a fraction, others with enough digits to round-trip a double.
  std::string dump() const;

  /// Parses a whole document.
  /// @throws std::runtime_error("json: line L, column C: ...").
  static json parse(std::string_view text);

private:
  std::variant<std::nullptr_t, bool, double, std::string, array, object> value_;
};

} // namespace paramserv
