// Reader for the IDX format of MNIST and Fashion-MNIST
// (http://yann.lecun.com/exdb/mnist/): a big-endian header of a magic number
// (two zero bytes, a type code, the number of dimensions) and one 32-bit size
// per dimension, then the elements in row-major order.

#include "linalg/data/load.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <system_error>
#include <vector>

#include <zlib.h>

#include "linalg/data/data_error.hpp"

namespace paramserv {

namespace {

constexpr uint32_t images_magic = 0x00000803; // ubyte, 3 dimensions
constexpr uint32_t labels_magic = 0x00000801; // ubyte, 1 dimension
constexpr size_t images_header = 16;
constexpr size_t labels_header = 8;

// Bounds that catch a corrupted header before we allocate for it.
constexpr uint64_t max_image_pixels = uint64_t{1} << 24;
constexpr uint64_t max_payload = uint64_t{1} << 34;

// Payloads are read in one gzread when they fit this size, else in chunks
// that double, so a lying header cannot make us allocate more than twice the
// data that actually exists.
constexpr size_t first_chunk = size_t{64} << 20;

template <class... Ts>
[[noreturn]] void fail(const Ts&... xs) {
  std::ostringstream out;
  (out << ... << xs);
  throw data_error{out.str()};
}

std::string hex(uint32_t x) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", x);
  return buf;
}

uint32_t big_endian(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8)
         | uint32_t{p[3]};
}

// A gzip-or-plain input file that throws data_error on every failure.
class gz_file {
public:
  explicit gz_file(const std::string& path) : path_(path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      fail(path, ": is a directory, expected a file");
    errno = 0;
    f_ = gzopen(path.c_str(), "rb");
    if (f_ == nullptr)
      fail(path,
        ": cannot open: ", errno != 0 ? std::strerror(errno) : "out of memory");
    gzbuffer(f_, 1u << 18);
  }

  ~gz_file() {
    gzclose(f_);
  }

  gz_file(const gz_file&) = delete;
  gz_file& operator=(const gz_file&) = delete;

  /// Reads up to `n` bytes; fewer means the data ended.
  size_t read(unsigned char* buf, size_t n) {
    size_t total = 0;
    while (total < n) {
      auto want = std::min<size_t>(n - total, size_t{1} << 30);
      auto got = gzread(f_, buf + total, static_cast<unsigned>(want));
      if (got <= 0) {
        check();
        break;
      }
      total += static_cast<size_t>(got);
    }
    return total;
  }

  /// Reads up to `n` bytes into a new buffer; its size says how many came.
  std::vector<unsigned char> read_payload(uint64_t n) {
    std::vector<unsigned char> buf;
    size_t used = 0;
    while (used < n) {
      auto next
        = std::min<uint64_t>(n, std::max<uint64_t>(2 * used, first_chunk));
      buf.resize(next);
      auto got = read(buf.data() + used, next - used);
      used += got;
      if (used < next)
        break;
    }
    buf.resize(used);
    return buf;
  }

  /// Throws unless the data ended exactly here. Reading past the end also
  /// makes zlib verify the gzip trailer's CRC.
  void expect_end(uint64_t offset, const char* what) {
    unsigned char extra;
    if (read(&extra, 1) != 0)
      fail(path_, ": byte ", offset, ": unexpected data after the ", what,
        " the header announces");
  }

private:
  void check() {
    int errnum = Z_OK;
    const char* msg = gzerror(f_, &errnum);
    if (errnum == Z_OK || errnum == Z_STREAM_END)
      return;
    std::string_view text = msg != nullptr ? msg : "unknown error";
    // zlib prefixes its messages with the path; we add our own.
    if (text.substr(0, path_.size()) == path_
        && text.substr(path_.size(), 2) == ": ")
      text.remove_prefix(path_.size() + 2);
    if (errnum == Z_BUF_ERROR)
      fail(path_, ": byte ", gztell(f_), ": truncated gzip stream: ", text);
    if (errnum == Z_ERRNO)
      fail(path_, ": read error: ", text);
    fail(path_, ": byte ", gztell(f_), ": corrupted gzip stream: ", text);
  }

  std::string path_;
  gzFile f_ = nullptr;
};

// Reads the header of `path` into `hdr` (`size` bytes) and checks its magic.
void read_header(gz_file& f, const std::string& path, unsigned char* hdr,
  size_t size, uint32_t magic, const char* kind) {
  auto got = f.read(hdr, size);
  if (got >= 4) {
    auto found = big_endian(hdr);
    if (found != magic) {
      const char* hint = "";
      if (found == images_magic)
        hint = "; this looks like an images file";
      else if (found == labels_magic)
        hint = "; this looks like a labels file";
      fail(path, ": byte 0: wrong magic ", hex(found), ", expected ",
        hex(magic), " (IDX ", kind, ")", hint);
    }
  }
  if (got < size)
    fail(
      path, ": byte 0: truncated header: expected ", size, " bytes, got ", got);
}

} // namespace

dataset load_idx(const std::string& images, const std::string& labels,
  const load_options& opts) {
  dataset ds;
  ds.classes = opts.classes != 0 ? opts.classes : 10;
  uint64_t count = 0;
  { // Images.
    gz_file f{images};
    unsigned char hdr[images_header];
    read_header(f, images, hdr, images_header, images_magic,
      "images: unsigned bytes, 3 dimensions");
    count = big_endian(hdr + 4);
    uint64_t rows = big_endian(hdr + 8);
    uint64_t cols = big_endian(hdr + 12);
    if (count == 0 || rows == 0 || cols == 0)
      fail(images, ": byte 4: zero dimension: ", count, " images of ", rows,
        "x", cols);
    auto pixels = rows * cols;
    if (pixels > max_image_pixels || count * pixels > max_payload)
      fail(images, ": byte 4: dimensions too large: ", count, " images of ",
        rows, "x", cols);
    if (opts.features != 0 && pixels != opts.features)
      fail(images, ": byte 8: images of ", rows, "x", cols, " have ", pixels,
        " features, expected ", opts.features);
    auto expected = count * pixels;
    auto buf = f.read_payload(expected);
    if (buf.size() < expected)
      fail(images, ": byte ", images_header,
        ": truncated image data: expected ", expected, " bytes (", count,
        " images of ", rows, "x", cols, "), got ", buf.size());
    f.expect_end(images_header + expected, "images");
    ds.x.set_size(pixels, count);
    auto* dst = ds.x.memptr();
    const auto* src = buf.data();
    for (size_t i = 0; i < expected; ++i)
      dst[i] = static_cast<float>(src[i]);
  }
  { // Labels.
    gz_file f{labels};
    unsigned char hdr[labels_header];
    read_header(f, labels, hdr, labels_header, labels_magic,
      "labels: unsigned bytes, 1 dimension");
    uint64_t n = big_endian(hdr + 4);
    if (n != count)
      fail(labels, ": byte 4: ", n, " labels, but ", images, " has ", count,
        " images");
    auto buf = f.read_payload(n);
    if (buf.size() < n)
      fail(labels, ": byte ", labels_header,
        ": truncated label data: expected ", n, " bytes, got ", buf.size());
    f.expect_end(labels_header + n, "labels");
    for (size_t i = 0; i < n; ++i)
      if (buf[i] >= ds.classes)
        fail(labels, ": byte ", labels_header + i, ": label ", int{buf[i]},
          " of sample ", i, " is out of range for ", ds.classes, " classes");
    ds.y.assign(buf.begin(), buf.end());
  }
  return ds;
}

} // namespace paramserv
