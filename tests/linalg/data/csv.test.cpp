#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <zlib.h>

#include "linalg/data/load.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;
using test::contains;
using test::error_of;

namespace {

// Test files live in paramserv-csv-<pid>-<n>.
struct temp_dir : test::temp_dir {
  temp_dir() : test::temp_dir{"paramserv-csv"} {}
};

// Loads `text` as data.csv and returns the error message.
std::string csv_error(
  const temp_dir& dir, const std::string& text, const load_options& opts = {}) {
  return test::load_error(dir, "data.csv", text, [&](const std::string& file) {
    load_csv(file, opts);
  });
}

void check_two_by_three(const dataset& ds) {
  REQUIRE(ds.size() == 3);
  REQUIRE(ds.features() == 2);
  CHECK(ds.y == std::vector<uint32_t>{1, 0, 2});
  CHECK(ds.classes == 3);
  CHECK(ds.x(0, 0) == 0.5f);
  CHECK(ds.x(1, 0) == 2.0f);
  CHECK(ds.x(0, 1) == -1.0f);
  CHECK(ds.x(1, 1) == 1e-3f);
  CHECK(ds.x(0, 2) == 3.0f);
  CHECK(ds.x(1, 2) == 4.25f);
}

} // namespace

TEST_CASE("csv loader reads samples into columns with and without header") {
  temp_dir dir;
  const std::string body = "1,0.5,2\n0,-1,1e-3\n2,3,4.25\n";
  SUBCASE("no header, detected") {
    check_two_by_three(load_csv(dir.write("a.csv", body), {}));
  }
  SUBCASE("header, detected") {
    check_two_by_three(
      load_csv(dir.write("a.csv", "label,f1,f2\n" + body), {}));
  }
  SUBCASE("header, given") {
    load_options opts;
    opts.csv_header = true;
    check_two_by_three(load_csv(dir.write("a.csv", "9,9,9\n" + body), opts));
  }
  SUBCASE("CRLF, spaces around fields, blank lines at the end") {
    check_two_by_three(load_csv(
      dir.write("a.csv", "label , f1, f2\r\n1, 0.5 ,2\r\n0,-1, 1e-3\r\n"
                         " 2 ,+3,4.25\r\n\r\n\n  \n"),
      {}));
  }
  SUBCASE("no trailing newline") {
    check_two_by_three(load_csv(dir.write("a.csv", "1,0.5,2\n0,-1,1e-3\n"
                                                   "2,3,4.25"),
      {}));
  }
  SUBCASE("label in another column") {
    load_options opts;
    opts.label_column = 2;
    check_two_by_three(load_csv(
      dir.write("a.csv", "f1,f2,y\n0.5,2,1\n-1,1e-3,0\n3,4.25,2.0\n"), opts));
  }
  SUBCASE("gzip-compressed, found by load_dataset") {
    auto file = (dir.path / "a.csv.gz").string();
    gzFile f = gzopen(file.c_str(), "wb");
    REQUIRE(f != nullptr);
    gzputs(f, body.c_str());
    REQUIRE(gzclose(f) == Z_OK);
    check_two_by_three(load_dataset(file, std::nullopt, {}));
  }
}

TEST_CASE("csv loader takes classes and features from the caller") {
  temp_dir dir;
  auto file = dir.write("test.csv", "1,5,6\n0,7,8\n");
  load_options opts;
  opts.classes = 10;
  opts.features = 2;
  auto ds = load_csv(file, opts);
  CHECK(ds.classes == 10);
  CHECK(ds.features() == 2);
  CHECK(ds.size() == 2);
}

TEST_CASE("csv loader treats a first line of numbers as data unless told") {
  temp_dir dir;
  auto file = dir.write("a.csv", "1,2,3\n0,4,5\n");
  CHECK(load_csv(file, {}).size() == 2);
  load_options opts;
  opts.csv_header = true;
  auto ds = load_csv(file, opts);
  REQUIRE(ds.size() == 1);
  CHECK(ds.x(0, 0) == 4.0f);
}

TEST_CASE("csv loader reports a non-numeric field with its position") {
  temp_dir dir;
  auto what = csv_error(dir, "y,a,b\n1,2,3\n0,abc,5\n");
  CHECK(contains(what, "data.csv:3: field 2: not a number: \"abc\""));
  SUBCASE("empty field") {
    what = csv_error(dir, "1,2,3\n0,,5\n");
    CHECK(contains(what, "data.csv:2: field 2: not a number: \"\""));
  }
  SUBCASE("quoted field, quotes escaped in the message") {
    what = csv_error(dir, "1,2,3\n0,\"4\",5\n");
    CHECK(contains(what, "data.csv:2: field 2: not a number: \"\\\"4\\\"\""));
  }
  SUBCASE("not finite") {
    what = csv_error(dir, "1,2,3\n0,4,nan\n");
    CHECK(contains(what, "data.csv:2: field 3: not a finite number"));
  }
  SUBCASE("header given as absent") {
    load_options opts;
    opts.csv_header = false;
    what = csv_error(dir, "1,a,b\n1,2,3\n", opts);
    CHECK(contains(what, "data.csv:1: field 2: not a number: \"a\""));
  }
}

TEST_CASE("csv loader reports a ragged row with its line number") {
  temp_dir dir;
  auto what = csv_error(dir, "y,a,b\n1,2,3\n\n0,4\n");
  CHECK(contains(what, "data.csv:4: expected 3 fields, got 2"));
  what = csv_error(dir, "1,2,3\r\n0,4,5,6\r\n");
  CHECK(contains(what, "data.csv:2: expected 3 fields, got 4"));
}

TEST_CASE("csv loader reports a label that is not a non-negative integer") {
  temp_dir dir;
  for (auto bad : {"-1", "1.5", "x", "1e99"}) {
    CAPTURE(bad);
    auto what = csv_error(dir, std::string{"1,2,3\n"} + bad + ",4,5\n");
    CHECK(contains(what, "data.csv:2: field 1: label is not a non-negative "
                         "integer: \""
                           + std::string{bad} + "\""));
  }
}

TEST_CASE("csv loader reports a label out of range for the given classes") {
  temp_dir dir;
  load_options opts;
  opts.classes = 3;
  auto what = csv_error(dir, "0,1,2\n2,1,2\n3,1,2\n", opts);
  CHECK(contains(what, "data.csv:3: field 1: label 3 is out of range for 3 "
                       "classes"));
}

TEST_CASE("csv loader reports an empty file and a header without data") {
  temp_dir dir;
  CHECK(contains(csv_error(dir, ""), "data.csv: empty file"));
  CHECK(contains(csv_error(dir, "\n \r\n"), "data.csv: empty file"));
  CHECK(contains(csv_error(dir, "y,a,b\n"), "data.csv: no data rows"));
}

TEST_CASE("csv loader reports a feature count that differs from training") {
  temp_dir dir;
  load_options opts;
  opts.features = 2;
  auto what = csv_error(dir, "y,a,b,c\n1,2,3,4\n", opts);
  CHECK(contains(what, "data.csv:1: 3 features, expected 2"));
  opts.features = 4;
  what = csv_error(dir, "1,2,3,4\n", opts);
  CHECK(contains(what, "data.csv:1: 3 features, expected 4"));
}

TEST_CASE("csv loader reports a label column that does not exist") {
  temp_dir dir;
  load_options opts;
  opts.label_column = 3;
  auto what = csv_error(dir, "1,2,3\n", opts);
  CHECK(contains(what, "data.csv:1: label column 3"));
  CHECK(contains(what, "the line has 3 fields"));
}

TEST_CASE("csv loader reports a missing file") {
  temp_dir dir;
  auto file = (dir.path / "nope.csv").string();
  auto what = error_of([&] {
    load_csv(file, {});
  });
  CHECK(what.rfind(file, 0) == 0);
  CHECK(contains(what, "cannot open: No such file"));
  what = error_of([&] {
    load_dataset(file, std::nullopt, {});
  });
  CHECK(what.rfind(file, 0) == 0);
  CHECK(contains(what, "no such file"));
}

TEST_CASE("load_dataset picks the format from the name") {
  temp_dir dir;
  auto unknown = dir.write("data.parquet", "1,2\n");
  auto what = error_of([&] {
    load_dataset(unknown, std::nullopt, {});
  });
  CHECK(what.rfind(unknown, 0) == 0);
  CHECK(contains(what, "cannot tell the data format"));
  // The same bytes load once the format is given.
  CHECK(load_dataset(unknown, data_format::csv, {}).size() == 1);
}
