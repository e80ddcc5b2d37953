#pragma once

#include <set>
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include "linalg/core/names.hpp"

namespace paramserv::test {

/// Checks one enum's name table: every name round-trips through
/// from_string, parse_name and to_string; names are distinct and non-empty;
/// a name in another case and an unknown name are refused, the latter with
/// an error that names the kind of value and lists every valid name.
template <class Enum>
void check_name_table() {
  auto& table = enum_names<Enum>::table;
  REQUIRE(table.size() >= 2);
  std::set<std::string> names;
  for (auto& [value, name] : table) {
    CAPTURE(name);
    CHECK(std::string{name} != "");
    CHECK(names.insert(name).second);
    CHECK(std::string{to_string(value)} == name);
    CHECK(from_string<Enum>(name) == value);
    CHECK(parse_name<Enum>(name) == value);
    std::string upper = name;
    for (auto& c : upper)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK_FALSE(from_string<Enum>(upper).has_value());
  }
  CHECK_FALSE(from_string<Enum>("").has_value());
  try {
    parse_name<Enum>("no-such-name");
    FAIL("parse_name accepted an unknown name");
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    CAPTURE(what);
    CHECK(what.rfind("unknown " + std::string{enum_names<Enum>::what}
                       + " \"no-such-name\" (expected ",
            0)
          == 0);
    for (auto& name : names)
      CHECK(what.find(name) != std::string::npos);
    CHECK(what.find('\n') == std::string::npos);
  }
}

} // namespace paramserv::test
