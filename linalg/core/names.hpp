#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace paramserv {

/// The spelling of an enum's values, one table per enum, from which every
/// enum gets `to_string`, `from_string`, `parse_name` and `name_list`.
/// Specialise it next to the enum:
///
///     template <>
///     struct enum_names<partition_scheme> {
///       static constexpr std::string_view what = "scheme";
///       static constexpr std::array table{
///         std::pair{partition_scheme::disjoint_contiguous,
///                   "disjoint_contiguous"}, ...};
///     };
///
/// `what` names the kind of value in error messages ("unknown scheme ...").
template <class Enum>
struct enum_names;

/// An enum with an `enum_names` table.
template <class Enum>
concept named_enum = std::is_enum_v<Enum> && requires {
  { enum_names<Enum>::what } -> std::convertible_to<std::string_view>;
  enum_names<Enum>::table.size();
};

/// The name of `x`, or "?" for a value the table does not list.
template <named_enum Enum>
constexpr const char* to_string(Enum x) {
  for (auto& [value, name] : enum_names<Enum>::table)
    if (value == x)
      return name;
  return "?";
}

/// The value spelled exactly `str`, or nullopt.
template <named_enum Enum>
constexpr std::optional<Enum> from_string(std::string_view str) {
  for (auto& [value, name] : enum_names<Enum>::table)
    if (str == name)
      return value;
  return std::nullopt;
}

/// Every valid name in table order, for messages: "a, b or c".
template <named_enum Enum>
std::string name_list() {
  auto& table = enum_names<Enum>::table;
  std::string result;
  for (size_t i = 0; i < table.size(); ++i) {
    if (i > 0)
      result += i + 1 == table.size() ? " or " : ", ";
    result += table[i].second;
  }
  return result;
}

/// The value spelled exactly `str`.
/// @throws std::invalid_argument `unknown WHAT "str" (expected a, b or c)`.
template <named_enum Enum>
Enum parse_name(std::string_view str) {
  if (auto x = from_string<Enum>(str))
    return *x;
  throw std::invalid_argument("unknown " + std::string{enum_names<Enum>::what}
                              + " \"" + std::string{str} + "\" (expected "
                              + name_list<Enum>() + ")");
}

} // namespace paramserv
