#include "linalg/io/json.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

using paramserv::json;

namespace {

// The message of the std::runtime_error json::parse throws, or a marker.
std::string parse_error(std::string_view text) {
  try {
    json::parse(text);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "<no exception>";
}

} // namespace

TEST_CASE("json parses a nested document and reads it back through the "
          "accessors") {
  auto doc = json::parse(R"({
    "name": "mlp",
    "layers": [784, 200, 10],
    "lr": 0.1,
    "momentum": null,
    "shuffle": true,
    "nested": {"a": {"b": [[], {}, -1.5e3]}}
  })");
  CHECK(doc.is_object());
  CHECK(doc.at("name").as_string() == "mlp");
  REQUIRE(doc.at("layers").as_array().size() == 3);
  CHECK(doc.at("layers").as_array()[1].as_number() == 200);
  CHECK(doc.at("lr").as_number() == 0.1);
  CHECK(doc.at("momentum").is_null());
  CHECK(doc.at("shuffle").as_bool());
  auto& inner = doc.at("nested").at("a").at("b").as_array();
  REQUIRE(inner.size() == 3);
  CHECK(inner[0].as_array().empty());
  CHECK(inner[1].as_object().empty());
  CHECK(inner[2].as_number() == -1500.0);
  CHECK(doc.contains("lr"));
  CHECK_FALSE(doc.contains("missing"));
  CHECK_FALSE(doc.at("lr").contains("lr"));
}

TEST_CASE("json accessors name the expected type and missing keys") {
  json doc = json::object{{"x", 1}};
  CHECK_THROWS_WITH_AS(
    doc.at("y"), "json: missing key \"y\"", std::runtime_error);
  CHECK_THROWS_WITH_AS(doc.at("x").as_string(),
    "json: expected string, got number", std::runtime_error);
  CHECK_THROWS_WITH_AS(
    doc.as_array(), "json: expected array, got object", std::runtime_error);
  CHECK_THROWS_WITH_AS(
    json{}.as_bool(), "json: expected bool, got null", std::runtime_error);
}

TEST_CASE("json dump indents by two spaces and sorts object keys") {
  json doc = json::object{
    {"zeta", json::array{1, 2.5, "x"}},
    {"alpha", json::object{{"empty", json::array{}}, {"none", nullptr}}},
    {"flag", false},
    {"obj", json::object{}},
  };
  CHECK(doc.dump()
        == "{\n"
           "  \"alpha\": {\n"
           "    \"empty\": [],\n"
           "    \"none\": null\n"
           "  },\n"
           "  \"flag\": false,\n"
           "  \"obj\": {},\n"
           "  \"zeta\": [\n"
           "    1,\n"
           "    2.5,\n"
           "    \"x\"\n"
           "  ]\n"
           "}");
  CHECK(json{"top"}.dump() == "\"top\"");
  CHECK(json{true}.dump() == "true");
}

TEST_CASE("json dump prints integers without a fraction and other numbers "
          "with the shortest round-trip form") {
  CHECK(json{0}.dump() == "0");
  CHECK(json{-42}.dump() == "-42");
  CHECK(json{size_t{60000}}.dump() == "60000");
  CHECK(json{1e15}.dump() == "1000000000000000");
  CHECK(json{9007199254740991.0}.dump() == "9007199254740991");
  CHECK(json{0.1}.dump() == "0.1");
  CHECK(json{-2.5e-7}.dump() == "-2.5e-07");
  CHECK(json{1e300}.dump() == "1e+300");
  CHECK(json{std::nan("")}.dump() == "null");
  for (double x : {0.1, 1.0 / 3.0, 2.0 / 3.0 * 1e-200, 123456.789e10,
         9007199254740993.0, -5e-324}) {
    INFO("x = " << x);
    CHECK(json::parse(json{x}.dump()).as_number() == x);
  }
}

TEST_CASE("json round-trips a document through dump and parse") {
  json doc = json::object{
    {"epochs", 3},
    {"history",
      json::array{json::object{{"loss", 0.6931471805599453}, {"acc", 0.5}},
        json::object{{"loss", 0.25}, {"acc", 0.9123}}}},
    {"path", "C:\\data\\\"train\".npy"},
    {"notes", "tab\there\nnewline \x01 bell\x07 \xc3\xa9"},
  };
  auto text = doc.dump();
  auto back = json::parse(text);
  CHECK(back.dump() == text);
  CHECK(back.at("path").as_string() == "C:\\data\\\"train\".npy");
  CHECK(back.at("notes").as_string()
        == "tab\there\nnewline \x01 bell\x07 \xc3\xa9");
  CHECK(back.at("history").as_array()[0].at("loss").as_number()
        == 0.6931471805599453);
}

TEST_CASE("json escapes quotes, backslashes and control characters") {
  CHECK(json{"a\"b\\c/d"}.dump() == R"("a\"b\\c/d")");
  CHECK(json{"\b\f\n\r\t"}.dump() == R"("\b\f\n\r\t")");
  CHECK(
    json{std::string("\x00\x01\x1f", 3)}.dump() == R"("\u0000\u0001\u001f")");
  CHECK(json{"caf\xc3\xa9"}.dump() == "\"caf\xc3\xa9\"");
}

TEST_CASE("json decodes escapes including \\u and surrogate pairs to UTF-8") {
  CHECK(json::parse(R"("\"\\\/\b\f\n\r\t")").as_string() == "\"\\/\b\f\n\r\t");
  CHECK(json::parse(R"("\u0041\u00e9\u20AC")").as_string()
        == "A\xc3\xa9\xe2\x82\xac");
  // U+1F600 GRINNING FACE is the surrogate pair D83D DE00.
  CHECK(json::parse(R"("\ud83d\ude00")").as_string() == "\xf0\x9f\x98\x80");
  CHECK(json::parse(R"("\u0000")").as_string() == std::string(1, '\0'));
  // Raw UTF-8 passes through unchanged.
  CHECK(json::parse("\"\xe2\x82\xac\"").as_string() == "\xe2\x82\xac");
}

TEST_CASE("json parses numbers by the JSON grammar") {
  CHECK(json::parse("0").as_number() == 0.0);
  CHECK(json::parse("-0.5").as_number() == -0.5);
  CHECK(json::parse("1E2").as_number() == 100.0);
  CHECK(json::parse("2.5e-3").as_number() == 0.0025);
  CHECK(json::parse("1e+2").as_number() == 100.0);
  CHECK(json::parse("1e-400").as_number() == 0.0);
  CHECK(json::parse("  7  \n").as_number() == 7.0);
}

TEST_CASE("json reports errors with line and column") {
  SUBCASE("an unknown token") {
    CHECK(parse_error("{\n  \"a\": 1,\n  \"b\": x\n}")
          == "json: line 3, column 8: expected a value, got 'x'");
  }
  SUBCASE("a missing comma") {
    CHECK(parse_error("[1 2]")
          == "json: line 1, column 4: expected ',' or ']', got '2'");
  }
  SUBCASE("a trailing comma") {
    CHECK(parse_error("{\"a\": 1,}")
          == "json: line 1, column 9: expected a string key, got '}'");
  }
  SUBCASE("an unterminated string") {
    CHECK(
      parse_error("\"abc") == "json: line 1, column 5: unterminated string");
  }
  SUBCASE("a raw newline in a string") {
    CHECK(parse_error("[\"a\nb\"]")
          == "json: line 1, column 4: control character in string (must "
             "be escaped)");
  }
  SUBCASE("an invalid escape") {
    CHECK(parse_error(R"(["\x"])")
          == "json: line 1, column 3: invalid escape sequence");
  }
  SUBCASE("a lone surrogate") {
    CHECK(parse_error(R"("\ud83d")")
          == "json: line 1, column 2: unpaired high surrogate in \\u escape");
    CHECK(parse_error(R"("\ude00")")
          == "json: line 1, column 2: unpaired low surrogate in \\u escape");
  }
  SUBCASE("a bad hex digit") {
    CHECK(parse_error(R"("\u12g4")")
          == "json: line 1, column 6: invalid hex digit in \\u escape");
  }
  SUBCASE("numbers outside the grammar") {
    CHECK(parse_error("01")
          == "json: line 1, column 2: unexpected characters after the "
             "document");
    CHECK(parse_error("1.")
          == "json: line 1, column 3: expected a digit "
             "after '.', got end of input");
    CHECK(parse_error("-")
          == "json: line 1, column 2: expected a digit, got "
             "end of input");
    CHECK(
      parse_error("+1") == "json: line 1, column 1: expected a value, got '+'");
    CHECK(
      parse_error("1e400") == "json: line 1, column 1: number out of range");
  }
  SUBCASE("a misspelt literal") {
    CHECK(parse_error("[tru]")
          == "json: line 1, column 2: invalid literal, expected 'true'");
  }
  SUBCASE("a duplicate key") {
    CHECK(parse_error("{\"a\": 1,\n \"a\": 2}")
          == "json: line 2, column 2: duplicate key");
  }
  SUBCASE("empty input") {
    CHECK(parse_error("  ")
          == "json: line 1, column 3: expected a value, got end of input");
  }
}

TEST_CASE("json rejects trailing garbage after the document") {
  CHECK(parse_error("{} {}")
        == "json: line 1, column 4: unexpected characters after the "
           "document");
  CHECK(parse_error("[1]\n]")
        == "json: line 2, column 1: unexpected characters after the "
           "document");
  CHECK(parse_error("null x")
        == "json: line 1, column 6: unexpected characters after the "
           "document");
}

TEST_CASE("json rejects nesting deeper than 200 levels but accepts 200") {
  auto nested = [](size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
  };
  CHECK_NOTHROW(json::parse(nested(200)));
  CHECK(parse_error(nested(201))
        == "json: line 1, column 201: nesting deeper than 200 levels");
  // Far deeper input must fail cleanly instead of overflowing the stack.
  // Each "{\"a\": [" is 7 bytes and 2 levels; level 201 opens at byte 701.
  std::string deep;
  for (int i = 0; i < 100'000; ++i)
    deep += "{\"a\": [";
  CHECK(parse_error(deep)
        == "json: line 1, column 701: nesting deeper than 200 levels");
}
