#include "linalg/io/npy.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "linalg/io/posix_file.hpp"

// Format reference: numpy/lib/format.py and NEP 1 ("A simple file format for
// NumPy arrays"). A file is the magic "\x93NUMPY", a major and a minor
// version byte, the header length (uint16 little-endian in version 1.0,
// uint32 in 2.0 and 3.0), the header (a Python dict literal padded with
// spaces and ended by '\n'), then the raw array data.

namespace paramserv {

namespace {

constexpr std::string_view magic = "\x93NUMPY";

constexpr size_t preamble_v1 = magic.size() + 2 + 2;

constexpr size_t preamble_v2 = magic.size() + 2 + 4;

// numpy aligns the start of the data to 64 bytes.
constexpr size_t array_align = 64;

// numpy >= 1.24 leaves room in the header so that the first axis can grow to
// this many digits in place (GROWTH_AXIS_MAX_DIGITS in format.py). We do the
// same, so that our files are byte-identical to numpy's.
constexpr size_t growth_axis_max_digits = 21;

constexpr bool little_endian_host = std::endian::native == std::endian::little;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

std::string errno_text(int err) {
  return err != 0 ? std::strerror(err) : "unknown error";
}

// Multiplies the extents of `shape`; nullopt on overflow.
std::optional<size_t> element_count(const std::vector<size_t>& shape) {
  size_t n = 1;
  for (auto extent : shape) {
    if (extent != 0 && n > std::numeric_limits<size_t>::max() / extent)
      return std::nullopt;
    n *= extent;
  }
  return n;
}

// Python's repr of a tuple of ints: "()", "(10,)", "(2, 3)".
std::string shape_repr(const std::vector<size_t>& shape) {
  std::string result = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0)
      result += ", ";
    result += std::to_string(shape[i]);
  }
  if (shape.size() == 1)
    result += ',';
  result += ')';
  return result;
}

std::string make_header(const std::vector<size_t>& shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': "
                     + shape_repr(shape) + ", }";
  if (!shape.empty()) {
    auto digits = std::to_string(shape.front()).size();
    if (digits < growth_axis_max_digits)
      dict.append(growth_axis_max_digits - digits, ' ');
  }
  // Pad with spaces so that preamble + dict + '\n' is a multiple of 64.
  auto unpadded = preamble_v1 + dict.size() + 1;
  dict.append(array_align - unpadded % array_align, ' ');
  dict += '\n';
  if (dict.size() > std::numeric_limits<uint16_t>::max())
    throw std::invalid_argument("npy: header too long for format 1.0");
  std::string result{magic};
  result += '\x01';
  result += '\x00';
  result += static_cast<char>(dict.size() & 0xff);
  result += static_cast<char>(dict.size() >> 8);
  result += dict;
  return result;
}

// Converts float data between host order and little-endian, in place.
void to_or_from_little_endian(float* data, size_t count) {
  if constexpr (!little_endian_host) {
    for (size_t i = 0; i < count; ++i) {
      auto x = std::bit_cast<uint32_t>(data[i]);
      x = (x >> 24) | ((x >> 8) & 0xff00u) | ((x << 8) & 0xff0000u) | (x << 24);
      data[i] = std::bit_cast<float>(x);
    }
  }
}

// The header for `shape`, after checking that it holds `count` elements.
std::string checked_header(
  const std::string& path, size_t count, const std::vector<size_t>& shape) {
  auto n = element_count(shape);
  if (!n || *n != count)
    throw std::invalid_argument(path + ": write_npy: shape " + shape_repr(shape)
                                + " does not hold " + std::to_string(count)
                                + " elements");
  return make_header(shape);
}

// Passes the header and then the data, in little-endian order, to
// `out(const char* bytes, size_t size)`.
template <class Out>
void write_bytes(
  const std::string& header, const float* data, size_t count, Out out) {
  out(header.data(), header.size());
  if constexpr (little_endian_host) {
    if (count > 0)
      out(reinterpret_cast<const char*>(data), count * sizeof(float));
  } else {
    std::vector<float> chunk;
    for (size_t i = 0; i < count; i += 4096) {
      auto len = std::min<size_t>(4096, count - i);
      chunk.assign(data + i, data + i + len);
      to_or_from_little_endian(chunk.data(), len);
      out(reinterpret_cast<const char*>(chunk.data()), len * sizeof(float));
    }
  }
}

// The three entries of a header dict.
struct header_fields {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<size_t>> shape;
};

// Parses the subset of Python literal syntax that .npy headers use, e.g.
// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }". Keys may
// come in any order, with either quote style and any whitespace; tuples may
// have a trailing comma; Python 2's long suffix ("10L") is accepted.
class header_parser {
public:
  header_parser(const std::string& path, std::string_view text)
    : path_(path), text_(text) {}

  header_fields parse() {
    header_fields result;
    skip_space();
    expect('{');
    skip_space();
    while (!at('}')) {
      auto key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (!at('\'') && !at('"'))
          fail(path_, "unsupported dtype (structured or non-string descr); "
                      "expected '<f4'");
        set(result.descr, key, parse_string());
      } else if (key == "fortran_order") {
        set(result.fortran_order, key, parse_bool());
      } else if (key == "shape") {
        set(result.shape, key, parse_shape());
      } else {
        malformed("unexpected key '" + key + "'");
      }
      skip_space();
      if (at(',')) {
        ++pos_;
        skip_space();
      } else if (!at('}')) {
        malformed("expected ',' or '}'");
      }
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size())
      malformed("unexpected characters after the dict");
    if (!result.descr)
      malformed("missing key 'descr'");
    if (!result.fortran_order)
      malformed("missing key 'fortran_order'");
    if (!result.shape)
      malformed("missing key 'shape'");
    return result;
  }

private:
  [[noreturn]] void malformed(const std::string& what) const {
    fail(
      path_, "malformed header at byte " + std::to_string(pos_) + ": " + what);
  }

  template <class T>
  void set(std::optional<T>& field, const std::string& key, T value) {
    if (field)
      malformed("duplicate key '" + key + "'");
    field = std::move(value);
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
      malformed(std::string{"expected '"} + c + "'");
    ++pos_;
  }

  // A quoted string without escapes (dtype strings never need them).
  std::string parse_string() {
    if (!at('\'') && !at('"'))
      malformed("expected a quoted string");
    auto quote = text_[pos_++];
    auto end = text_.find(quote, pos_);
    if (end == std::string_view::npos)
      malformed("unterminated string");
    auto str = text_.substr(pos_, end - pos_);
    if (str.find_first_of("\\\n") != std::string_view::npos)
      malformed("unsupported string");
    pos_ = end + 1;
    return std::string{str};
  }

  bool parse_bool() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    malformed("expected True or False");
  }

  size_t parse_extent() {
    size_t value = 0;
    auto first = text_.data() + pos_;
    auto last = text_.data() + text_.size();
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec == std::errc::result_out_of_range)
      malformed("shape extent out of range");
    if (ec != std::errc{})
      malformed("expected a non-negative integer in shape");
    pos_ += static_cast<size_t>(ptr - first);
    if (at('L'))
      ++pos_;
    return value;
  }

  std::vector<size_t> parse_shape() {
    std::vector<size_t> shape;
    expect('(');
    skip_space();
    while (!at(')')) {
      shape.push_back(parse_extent());
      skip_space();
      if (at(',')) {
        ++pos_;
        skip_space();
      } else if (!at(')')) {
        malformed("expected ',' or ')' in shape");
      }
    }
    ++pos_;
    return shape;
  }

  const std::string& path_;
  std::string_view text_;
  size_t pos_ = 0;
};

} // namespace

void write_npy(const std::string& path, const float* data, size_t count,
  const std::vector<size_t>& shape) {
  auto header = checked_header(path, count, shape);
  auto tmp = path + ".tmp";
  auto write_failed = [&](const std::string& what, int err) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    fail(path, what + " " + tmp + ": " + errno_text(err));
  };
  {
    errno = 0;
    std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
    if (!out)
      write_failed("cannot open", errno);
    write_bytes(header, data, count, [&](const char* bytes, size_t size) {
      out.write(bytes, static_cast<std::streamsize>(size));
    });
    out.close();
    if (!out)
      write_failed("cannot write", errno);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    fail(path, "cannot rename " + tmp + " into place: " + ec.message());
  }
}

void write_npy_to(detail::posix_file& out, const float* data, size_t count,
  const std::vector<size_t>& shape) {
  auto header = checked_header(out.path(), count, shape);
  write_bytes(header, data, count, [&](const char* bytes, size_t size) {
    out.write(bytes, size);
  });
}

npy_array read_npy(const std::string& path) {
  errno = 0;
  std::ifstream in{path, std::ios::binary};
  if (!in)
    fail(path, "cannot open: " + errno_text(errno));
  in.seekg(0, std::ios::end);
  auto end = in.tellg();
  in.seekg(0, std::ios::beg);
  if (!in || end < 0)
    fail(path, "cannot determine the file size");
  auto file_size = static_cast<size_t>(end);
  auto read_bytes = [&](char* dst, size_t len) {
    if (!in.read(dst, static_cast<std::streamsize>(len)))
      fail(path, "read error");
  };
  // Magic and version.
  std::array<char, preamble_v2> pre{};
  read_bytes(pre.data(), std::min(file_size, preamble_v1));
  if (file_size < magic.size()
      || std::string_view{pre.data(), magic.size()} != magic)
    fail(path, "not a .npy file (bad magic)");
  if (file_size < preamble_v1)
    fail(path, "truncated header");
  auto major = static_cast<unsigned char>(pre[6]);
  auto minor = static_cast<unsigned char>(pre[7]);
  auto byte = [&](size_t i) {
    return static_cast<size_t>(static_cast<unsigned char>(pre[i]));
  };
  size_t header_len = 0;
  size_t preamble = 0;
  if (major == 1 && minor == 0) {
    preamble = preamble_v1;
    header_len = byte(8) | byte(9) << 8;
  } else if ((major == 2 || major == 3) && minor == 0) {
    preamble = preamble_v2;
    if (file_size < preamble)
      fail(path, "truncated header");
    read_bytes(pre.data() + preamble_v1, preamble_v2 - preamble_v1);
    header_len = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
  } else {
    fail(path, "unsupported .npy format version " + std::to_string(major) + "."
                 + std::to_string(minor));
  }
  if (header_len > file_size - preamble)
    fail(path, "truncated header: expected " + std::to_string(header_len)
                 + " bytes, got " + std::to_string(file_size - preamble));
  // Header dict.
  std::string header(header_len, '\0');
  read_bytes(header.data(), header_len);
  auto fields = header_parser{path, header}.parse();
  auto& descr = *fields.descr;
  if (descr != "<f4" && !(descr == "=f4" && little_endian_host))
    fail(path, "unsupported dtype '" + descr
                 + "'; expected '<f4' (little-endian float32)");
  if (*fields.fortran_order)
    fail(path, "Fortran-order arrays are not supported; save a C-order "
               "array (numpy.ascontiguousarray)");
  // Data.
  npy_array result;
  result.shape = std::move(*fields.shape);
  auto count = element_count(result.shape);
  if (!count || *count > std::numeric_limits<size_t>::max() / sizeof(float))
    fail(path, "shape " + shape_repr(result.shape) + " is too large");
  auto expected = *count * sizeof(float);
  auto got = file_size - preamble - header_len;
  if (got < expected)
    fail(path, "truncated data: expected " + std::to_string(expected)
                 + " bytes, got " + std::to_string(got));
  if (got > expected)
    fail(path, "unexpected trailing data: expected " + std::to_string(expected)
                 + " bytes, got " + std::to_string(got));
  result.data.resize(*count);
  if (expected > 0)
    read_bytes(reinterpret_cast<char*>(result.data.data()), expected);
  to_or_from_little_endian(result.data.data(), result.data.size());
  return result;
}

} // namespace paramserv
