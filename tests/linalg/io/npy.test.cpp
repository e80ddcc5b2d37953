#include "linalg/io/npy.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/test_support.hpp"

using paramserv::read_npy;
using paramserv::write_npy;
using paramserv::test::have_numpy;
using paramserv::test::run_python;

namespace {

namespace fs = std::filesystem;

// Test files live in paramserv-npy-<pid>-<n>.
struct temp_dir : paramserv::test::temp_dir {
  temp_dir() : paramserv::test::temp_dir{"paramserv-npy"} {}
};

std::string bytes_of(const unsigned char* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out{path, std::ios::binary};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>{in}, {}};
}

// Builds a .npy file by hand: preamble for version `major`.0, the dict
// text verbatim plus '\n' (unaligned, which readers must accept), then the
// floats in little-endian order (this test assumes a little-endian host).
std::string make_npy(
  int major, const std::string& dict, const std::vector<float>& values) {
  std::string header = dict + '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  auto len = header.size();
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  if (major >= 2) {
    out += static_cast<char>((len >> 16) & 0xff);
    out += static_cast<char>((len >> 24) & 0xff);
  }
  out += header;
  out.append(reinterpret_cast<const char*>(values.data()),
    values.size() * sizeof(float));
  return out;
}

// The message of the std::runtime_error read_npy throws, or a marker.
std::string read_error(const std::string& path) {
  try {
    read_npy(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "<no exception>";
}

// Checks that read_npy fails on `path` with a one-line message that starts
// with the path and contains `expected`.
void check_read_error(const std::string& path, const std::string& expected) {
  auto msg = read_error(path);
  INFO("message: " << msg);
  CHECK(msg.rfind(path + ": ", 0) == 0);
  CHECK(msg.find(expected) != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
}

bool same_bits(float x, float y) {
  return std::memcmp(&x, &y, sizeof(float)) == 0;
}

// Written by numpy 1.24.2:
//   np.save(f, (np.arange(6, dtype=np.float32).reshape(2, 3) / 4)
//              .astype(np.float32))
// i.e. format 1.0, shape (2, 3), values 0, 0.25, ..., 1.25.
// clang-format off
const unsigned char numpy_v1_2x3[] = {
  0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27,
  0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x66, 0x34,
  0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f,
  0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73,
  0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27, 0x3a, 0x20,
  0x28, 0x32, 0x2c, 0x20, 0x33, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20,
  0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
  0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
  0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
  0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
  0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x40, 0x3f,
  0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0xa0, 0x3f,
};
// clang-format on

// Written by numpy 1.24.2:
//   np.lib.format.write_array(f, np.array([1.5, -2.0, 3.25, 1e-3],
//                             dtype=np.float32), version=(2, 0))
// clang-format off
const unsigned char numpy_v2_4[] = {
  0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x02, 0x00, 0x74, 0x00, 0x00, 0x00,
  0x7b, 0x27, 0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c,
  0x66, 0x34, 0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61,
  0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x46, 0x61,
  0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27,
  0x3a, 0x20, 0x28, 0x34, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20,
  0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
  0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
  0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
  0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
  0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a, 0x00, 0x00, 0xc0, 0x3f,
  0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x50, 0x40, 0x6f, 0x12, 0x83, 0x3a,
};
// clang-format on

const std::vector<float> quarter_steps
  = {0.0f, 0.25f, 0.5f, 0.75f, 1.0f, 1.25f};

} // namespace

TEST_CASE("write_npy and read_npy round-trip the shape and every bit") {
  temp_dir dir;
  auto path = dir / "x.npy";
  std::vector<size_t> shape;
  std::vector<float> values;
  SUBCASE("a matrix") {
    shape = {2, 3};
    values = quarter_steps;
  }
  SUBCASE("a vector of special values") {
    shape = {7};
    values = {-0.0f, std::numeric_limits<float>::infinity(),
      -std::numeric_limits<float>::infinity(),
      std::numeric_limits<float>::quiet_NaN(),
      std::numeric_limits<float>::denorm_min(),
      std::numeric_limits<float>::max(), -1.0e-3f};
  }
  SUBCASE("a scalar with the empty shape") {
    shape = {};
    values = {42.5f};
  }
  SUBCASE("an array with a zero extent") {
    shape = {0, 3};
  }
  SUBCASE("a three-dimensional array") {
    shape = {2, 3, 4};
    for (int i = 0; i < 24; ++i)
      values.push_back(static_cast<float>(i) * 0.5f - 3.0f);
  }
  write_npy(path, values.data(), values.size(), shape);
  auto arr = read_npy(path);
  CHECK(arr.shape == shape);
  REQUIRE(arr.data.size() == values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    INFO("element " << i);
    CHECK(same_bits(arr.data[i], values[i]));
  }
}

TEST_CASE("write_npy pads the header to 64 bytes and ends it with a newline") {
  temp_dir dir;
  auto path = dir / "x.npy";
  for (size_t n : {size_t{1}, size_t{10}, size_t{123456789}}) {
    std::vector<size_t> shape = {n, 0};
    write_npy(path, nullptr, 0, shape);
    auto bytes = read_file(path);
    INFO("first extent " << n);
    REQUIRE(bytes.size() >= 10);
    CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
    auto header_len = static_cast<unsigned char>(bytes[8])
                      | static_cast<unsigned char>(bytes[9]) << 8;
    CHECK((10 + header_len) % 64 == 0);
    CHECK(bytes.size() == size_t(10 + header_len));
    CHECK(bytes.back() == '\n');
  }
}

TEST_CASE("write_npy produces the same bytes as numpy.save") {
  temp_dir dir;
  auto path = dir / "ours.npy";
  write_npy(path, quarter_steps.data(), quarter_steps.size(), {2, 3});
  CHECK(read_file(path) == bytes_of(numpy_v1_2x3, sizeof(numpy_v1_2x3)));
}

TEST_CASE("write_npy lays out the header exactly as numpy.save does") {
  // Header lengths and dict texts from numpy 1.24.2's np.save of float32
  // zeros; the 16-dimensional case is long enough that numpy's 21-digit
  // growth reserve pushes the header into a third 64-byte block.
  struct expectation {
    std::vector<size_t> shape;
    size_t header_len;
    std::string dict;
  };
  const std::string prefix = "{'descr': '<f4', 'fortran_order': False, ";
  std::vector<expectation> table = {
    {{}, 118, prefix + "'shape': (), }"},
    {{10}, 118, prefix + "'shape': (10,), }"},
    {{2, 3}, 118, prefix + "'shape': (2, 3), }"},
    {{123456789, 0}, 118, prefix + "'shape': (123456789, 0), }"},
    {std::vector<size_t>(16, 1), 182,
      prefix + "'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), }"},
  };
  temp_dir dir;
  auto path = dir / "x.npy";
  for (auto& row : table) {
    INFO("dict " << row.dict);
    size_t count = 1;
    for (auto extent : row.shape)
      count *= extent;
    std::vector<float> zeros(count);
    write_npy(path, zeros.data(), zeros.size(), row.shape);
    auto header_len = row.header_len;
    auto& dict = row.dict;
    auto bytes = read_file(path);
    REQUIRE(bytes.size() == 10 + header_len + 4 * count);
    CHECK((static_cast<unsigned char>(bytes[8])
            | static_cast<unsigned char>(bytes[9]) << 8)
          == static_cast<int>(header_len));
    auto header = bytes.substr(10, header_len);
    CHECK(header.substr(0, dict.size()) == dict);
    CHECK(header.find_first_not_of(' ', dict.size()) == header_len - 1);
    CHECK(header.back() == '\n');
  }
}

TEST_CASE("read_npy reads files that numpy wrote in formats 1.0 and 2.0") {
  temp_dir dir;
  auto path = dir / "numpy.npy";
  SUBCASE("format 1.0") {
    write_file(path, bytes_of(numpy_v1_2x3, sizeof(numpy_v1_2x3)));
    auto arr = read_npy(path);
    CHECK(arr.shape == std::vector<size_t>{2, 3});
    CHECK(arr.data == quarter_steps);
  }
  SUBCASE("format 2.0") {
    write_file(path, bytes_of(numpy_v2_4, sizeof(numpy_v2_4)));
    auto arr = read_npy(path);
    CHECK(arr.shape == std::vector<size_t>{4});
    CHECK(arr.data == std::vector<float>{1.5f, -2.0f, 3.25f, 1e-3f});
  }
}

TEST_CASE("read_npy accepts any key order, spacing, quoting and version") {
  temp_dir dir;
  auto path = dir / "hand.npy";
  std::vector<float> values = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  std::vector<size_t> shape = {2, 3};
  std::string dict;
  int major = 1;
  SUBCASE("keys in reverse order without a trailing comma") {
    dict = "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}";
  }
  SUBCASE("double quotes and generous whitespace") {
    dict = "{ \"descr\" :\"<f4\" ,\t\"fortran_order\":False,"
           "\"shape\":( 2 ,3 , ) , }   ";
  }
  SUBCASE("native byte order on a little-endian host") {
    dict = "{'descr': '=f4', 'fortran_order': False, 'shape': (2, 3), }";
  }
  SUBCASE("a one-dimensional shape with a trailing comma") {
    dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }";
    shape = {6};
  }
  SUBCASE("a scalar with the empty shape") {
    dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }";
    shape = {};
    values = {7.0f};
  }
  SUBCASE("Python 2 long integers in the shape") {
    dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }";
  }
  SUBCASE("format 2.0") {
    major = 2;
    dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  }
  SUBCASE("format 3.0") {
    major = 3;
    dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  }
  write_file(path, make_npy(major, dict, values));
  auto arr = read_npy(path);
  CHECK(arr.shape == shape);
  CHECK(arr.data == values);
}

TEST_CASE("read_npy rejects malformed files with a one-line error naming the "
          "file") {
  temp_dir dir;
  auto path = dir / "bad.npy";
  const std::vector<float> six(6, 1.0f);
  const std::string good_dict
    = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  SUBCASE("a missing file") {
    check_read_error(dir / "missing.npy", "cannot open");
  }
  SUBCASE("an empty file") {
    write_file(path, "");
    check_read_error(path, "bad magic");
  }
  SUBCASE("bad magic") {
    write_file(path, "\x93NUMPZ" + make_npy(1, good_dict, six).substr(6));
    check_read_error(path, "bad magic");
  }
  SUBCASE("a text file") {
    write_file(path, "hello, world\n");
    check_read_error(path, "bad magic");
  }
  SUBCASE("an unsupported version") {
    write_file(path, make_npy(4, good_dict, six));
    check_read_error(path, "unsupported .npy format version 4.0");
  }
  SUBCASE("a header cut short") {
    write_file(path, make_npy(1, good_dict, six).substr(0, 30));
    check_read_error(path, "truncated header");
  }
  SUBCASE("data cut short") {
    write_npy(path, six.data(), six.size(), {2, 3});
    fs::resize_file(path, fs::file_size(path) - 5);
    check_read_error(path, "truncated data: expected 24 bytes, got 19");
  }
  SUBCASE("data longer than the shape says") {
    write_file(path, make_npy(1, good_dict, six) + "xxxx");
    check_read_error(path, "expected 24 bytes, got 28");
  }
  SUBCASE("big-endian floats") {
    write_file(path, make_npy(1,
                       "{'descr': '>f4', 'fortran_order': False, "
                       "'shape': (2, 3), }",
                       six));
    check_read_error(path, "unsupported dtype '>f4'");
  }
  SUBCASE("doubles") {
    write_file(path, make_npy(1,
                       "{'descr': '<f8', 'fortran_order': False, "
                       "'shape': (3,), }",
                       six));
    check_read_error(path, "unsupported dtype '<f8'");
  }
  SUBCASE("a structured dtype") {
    write_file(path, make_npy(1,
                       "{'descr': [('a', '<f4')], 'fortran_order': "
                       "False, 'shape': (6,), }",
                       six));
    check_read_error(path, "unsupported dtype");
  }
  SUBCASE("Fortran order") {
    write_file(path, make_npy(1,
                       "{'descr': '<f4', 'fortran_order': True, "
                       "'shape': (2, 3), }",
                       six));
    check_read_error(path, "Fortran-order arrays are not supported");
  }
  SUBCASE("a missing key") {
    write_file(
      path, make_npy(1, "{'descr': '<f4', 'fortran_order': False}", six));
    check_read_error(path, "missing key 'shape'");
  }
  SUBCASE("an unknown key") {
    write_file(path, make_npy(1,
                       "{'descr': '<f4', 'fortran_order': False, "
                       "'shape': (2, 3), 'extra': 1}",
                       six));
    check_read_error(path, "unexpected key 'extra'");
  }
  SUBCASE("a negative extent") {
    write_file(path, make_npy(1,
                       "{'descr': '<f4', 'fortran_order': False, "
                       "'shape': (-2, 3), }",
                       six));
    check_read_error(path, "malformed header");
  }
  SUBCASE("a shape whose size overflows") {
    write_file(path, make_npy(1,
                       "{'descr': '<f4', 'fortran_order': False, "
                       "'shape': (4294967296, 4294967296), }",
                       six));
    check_read_error(path, "too large");
  }
  SUBCASE("garbage after the dict") {
    write_file(path, make_npy(1, good_dict + " junk", six));
    check_read_error(path, "malformed header");
  }
}

TEST_CASE("write_npy replaces an existing file and leaves no temporary file") {
  temp_dir dir;
  auto path = dir / "x.npy";
  write_file(path, "old contents");
  float one = 1.0f;
  write_npy(path, &one, 1, {1});
  CHECK(read_npy(path).data == std::vector<float>{1.0f});
  CHECK_FALSE(fs::exists(path + ".tmp"));
}

TEST_CASE("write_npy reports a shape that does not match the count") {
  temp_dir dir;
  auto path = dir / "x.npy";
  CHECK_THROWS_AS(
    write_npy(path, quarter_steps.data(), 6, {4, 2}), std::invalid_argument);
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("write_npy names the file when it cannot write") {
  temp_dir dir;
  auto path = dir / "no/such/dir/x.npy";
  try {
    write_npy(path, quarter_steps.data(), 6, {6});
    FAIL("write_npy did not throw");
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(msg.rfind(path + ": ", 0) == 0);
    CHECK(msg.find("cannot open") != std::string::npos);
  }
}

TEST_CASE("numpy and paramserv read each other's files") {
  if (!have_numpy()) {
    MESSAGE("skipped: /usr/bin/python3 with numpy not found");
    return;
  }
  temp_dir dir;
  SUBCASE("numpy.load reads a file from write_npy") {
    auto path = dir / "ours.npy";
    std::vector<float> values;
    for (int i = 0; i < 60; ++i)
      values.push_back(static_cast<float>(i) * 0.5f - 7.0f);
    write_npy(path, values.data(), values.size(), {3, 4, 5});
    auto script = "import sys, numpy as np\n"
                  "a = np.load(sys.argv[1])\n"
                  "want = (np.arange(60, dtype=np.float32) * 0.5 - 7)"
                  ".astype(np.float32).reshape(3, 4, 5)\n"
                  "ok = a.dtype == np.float32 and a.shape == (3, 4, 5)"
                  " and (a == want).all()\n"
                  "sys.exit(0 if ok else 1)";
    CHECK(run_python(script, path) == 0);
  }
  SUBCASE("read_npy reads a file from numpy.save") {
    auto path = dir / "theirs.npy";
    auto script = "import sys, numpy as np\n"
                  "a = (np.arange(60, dtype=np.float32) * 0.5 - 7)"
                  ".astype(np.float32).reshape(3, 4, 5)\n"
                  "np.save(sys.argv[1], a)";
    REQUIRE(run_python(script, path) == 0);
    auto arr = read_npy(path);
    CHECK(arr.shape == std::vector<size_t>{3, 4, 5});
    REQUIRE(arr.data.size() == 60);
    for (size_t i = 0; i < 60; ++i)
      CHECK(arr.data[i] == static_cast<float>(i) * 0.5f - 7.0f);
  }
  SUBCASE("read_npy rejects numpy's Fortran-order and big-endian files") {
    auto fortran = dir / "fortran.npy";
    auto big = dir / "big.npy";
    auto script = "import sys, numpy as np\n"
                  "d = sys.argv[1]\n"
                  "a = np.arange(6, dtype=np.float32).reshape(2, 3)\n"
                  "np.save(d + '/fortran.npy', np.asfortranarray(a))\n"
                  "np.save(d + '/big.npy', a.astype('>f4'))";
    REQUIRE(run_python(script, fs::path{fortran}.parent_path().string()) == 0);
    check_read_error(fortran, "Fortran-order");
    check_read_error(big, "unsupported dtype '>f4'");
  }
}
