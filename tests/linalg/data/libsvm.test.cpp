#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "linalg/data/load.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;
using test::contains;
using test::error_of;

namespace {

// Test files live in paramserv-libsvm-<pid>-<n>.
struct temp_dir : test::temp_dir {
  temp_dir() : test::temp_dir{"paramserv-libsvm"} {}
};

// Loads `text` as data.svm and returns the error message.
std::string svm_error(
  const temp_dir& dir, const std::string& text, const load_options& opts = {}) {
  return test::load_error(dir, "data.svm", text, [&](const std::string& file) {
    load_libsvm(file, opts);
  });
}

// A file's text and a part of the error message it must be refused with.
struct bad {
  const char* text;
  const char* message;
};

// Loads each text as data.svm and checks its error message.
void check_errors(std::initializer_list<bad> cases) {
  temp_dir dir;
  for (auto [text, message] : cases) {
    CAPTURE(text);
    CHECK(contains(svm_error(dir, text), message));
  }
}

} // namespace

TEST_CASE("libsvm loader builds a dense matrix with one sample per column") {
  temp_dir dir;
  auto file = dir.write("a.svm", "2 1:0.5 3:-2\n"
                                 "0 2:1e-2 # a comment\n"
                                 "# a whole-line comment\n"
                                 "1\t4:7\r\n"
                                 "\n");
  auto ds = load_libsvm(file, {});
  REQUIRE(ds.size() == 3);
  REQUIRE(ds.features() == 4);
  CHECK(ds.y == std::vector<uint32_t>{2, 0, 1});
  CHECK(ds.classes == 3);
  arma::fmat expected = {{0.5f, 0.0f, 0.0f}, {0.0f, 0.01f, 0.0f},
    {-2.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 7.0f}};
  CHECK(arma::approx_equal(ds.x, expected, "absdiff", 0.0f));
}

TEST_CASE("libsvm loader maps the label set -1/+1 to 0/1") {
  temp_dir dir;
  SUBCASE("+1 and -1") {
    auto ds = load_libsvm(dir.write("a.svm", "+1 1:1\n-1 2:1\n+1 1:2\n"), {});
    CHECK(ds.y == std::vector<uint32_t>{1, 0, 1});
    CHECK(ds.classes == 2);
  }
  SUBCASE("1 and -1") {
    auto ds = load_libsvm(dir.write("a.svm", "-1 1:1\n1 2:1\n"), {});
    CHECK(ds.y == std::vector<uint32_t>{0, 1});
    CHECK(ds.classes == 2);
  }
}

TEST_CASE("libsvm loader accepts any index order and the caller's counts") {
  temp_dir dir;
  auto file = dir.write("a.libsvm", "0 3:3 1:1\n1 2:2\n");
  load_options opts;
  opts.features = 5;
  opts.classes = 4;
  auto ds = load_dataset(file, std::nullopt, opts);
  REQUIRE(ds.features() == 5);
  CHECK(ds.classes == 4);
  CHECK(ds.x(0, 0) == 1.0f);
  CHECK(ds.x(2, 0) == 3.0f);
  CHECK(ds.x(1, 1) == 2.0f);
  CHECK(ds.x(4, 1) == 0.0f);
}

TEST_CASE("libsvm loader reports a bad token with line and token number") {
  check_errors({
    {"1 1:2\n0 1:1 foo 3:1\n",
      "data.svm:2: token 3: expected index:value, got \"foo\""},
  });
}

TEST_CASE("libsvm loader reports index 0 and non-integer indices") {
  check_errors({
    {"1 0:2\n", "data.svm:1: token 2: index 0 (indices are 1-based)"},
    {"1 1:2\n1 1:1\n0 qid:3 1:2\n",
      "data.svm:3: token 2: index is not an integer: \"qid:3\""},
    {"1 -2:1\n", "data.svm:1: token 2: index is not an integer"},
    {"1 1.5:1\n", "data.svm:1: token 2: index is not an integer"},
  });
}

TEST_CASE("libsvm loader reports a duplicate index") {
  check_errors({
    {"1 3:1 1:2 3:4\n", "data.svm:1: token 4: duplicate index 3"},
    {"1 1:1\n0 2:1 2:2\n", "data.svm:2: token 3: duplicate index 2"},
  });
}

TEST_CASE("libsvm loader reports a non-numeric value") {
  check_errors({
    {"1 1:1\n\n0 2:abc\n",
      "data.svm:3: token 2: value not a number: \"2:abc\""},
    {"1 1:\n", "data.svm:1: token 2: value not a number"},
  });
}

TEST_CASE("libsvm loader reports a label that is not an integer") {
  check_errors({
    {"1 1:1\n0.5 2:1\n",
      "data.svm:2: token 1: label is not a non-negative integer or -1: "
      "\"0.5\""},
    {"-2 1:1\n", "data.svm:1: token 1: label is not"},
    {"1:1 2:1\n", "data.svm:1: token 1: label is not"},
  });
}

TEST_CASE("libsvm loader reports -1 mixed with labels other than +1") {
  check_errors({
    {"-1 1:1\n1 1:1\n2 1:1\n",
      "data.svm:3: token 1: label 2 mixed with -1 labels (line 1)"},
    {"0 1:1\n-1 1:1\n", "data.svm:2: token 1: label -1 mixed"},
  });
}

TEST_CASE("libsvm loader reports an index beyond the training features") {
  temp_dir dir;
  load_options opts;
  opts.features = 3;
  auto what = svm_error(dir, "1 1:1 3:1\n0 4:1\n", opts);
  CHECK(contains(what, "data.svm:2: token 2: index 4 exceeds the feature "
                       "count 3"));
}

TEST_CASE("libsvm loader reports a label out of range for the given classes") {
  temp_dir dir;
  load_options opts;
  opts.classes = 2;
  auto what = svm_error(dir, "1 1:1\n2 1:1\n", opts);
  CHECK(contains(what, "data.svm:2: token 1: label 2 is out of range for 2 "
                       "classes"));
}

TEST_CASE("libsvm loader reports a file without data") {
  check_errors({
    {"# only a comment\n\n", "data.svm: no data rows"},
    {"1\n0\n", "data.svm: no features"},
  });
}

TEST_CASE("libsvm loader reports a missing file") {
  temp_dir dir;
  auto file = (dir.path / "nope.svm").string();
  auto what = error_of([&] {
    load_libsvm(file, {});
  });
  CHECK(what.rfind(file, 0) == 0);
  CHECK(contains(what, "cannot open: No such file"));
}
