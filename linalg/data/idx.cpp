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

#include "linalg/data/data_error.hpp"
#include "linalg/data/gzip_file.hpp"

namespace paramserv {

namespace {

constexpr uint32_t images_magic = 0x00000803; // ubyte, 3 dimensions
constexpr uint32_t labels_magic = 0x00000801; // ubyte, 1 dimension
constexpr size_t images_header = 16;
constexpr size_t labels_header = 8;

// Bounds that catch a corrupted header before we allocate for it.
constexpr uint64_t max_image_pixels = uint64_t{1} << 24;
constexpr uint64_t max_payload = uint64_t{1} << 34;

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

// Reads the header of `path` into `hdr` (`size` bytes) and checks its magic.
void read_header(detail::gzip_file& f, const std::string& path,
  unsigned char* hdr, size_t size, uint32_t magic, const char* kind) {
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
    detail::gzip_file f{images};
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
    detail::gzip_file f{labels};
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
