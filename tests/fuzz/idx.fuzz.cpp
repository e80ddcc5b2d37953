// The IDX loader (linalg/data/idx.cpp, plain and gzip) on arbitrary bytes.
// The first two bytes (little-endian) say how many of the remaining bytes
// are the images file; the rest is the labels file.

#include <zlib.h>

#include <algorithm>

#include "linalg/data/load.hpp"
#include "tests/fuzz/dataset_check.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace paramserv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2)
    return 0;
  size_t split = std::min<size_t>(data[0] | (size_t{data[1]} << 8), size - 2);
  auto images = fuzz::write_file("images-idx3-ubyte", data + 2, split);
  auto labels
    = fuzz::write_file("labels-idx1-ubyte", data + 2 + split, size - 2 - split);
  fuzz::expect_clean([&] {
    fuzz::check_dataset(load_idx(images, labels, load_options{}));
  });
  return 0;
}

namespace {

std::string be32(uint32_t x) {
  return {static_cast<char>(x >> 24), static_cast<char>(x >> 16),
    static_cast<char>(x >> 8), static_cast<char>(x)};
}

std::string gzip(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string input(const std::string& images, const std::string& labels) {
  std::string head{static_cast<char>(images.size() & 0xff),
    static_cast<char>(images.size() >> 8)};
  return head + images + labels;
}

} // namespace

std::vector<std::string> fuzz_seeds() {
  // Three 2x2 images and their labels.
  auto images
    = be32(0x803) + be32(3) + be32(2) + be32(2)
      + std::string("\x00\x10\x20\xff\x01\x02\x03\x04\x05\x06\x07\x08", 12);
  auto labels = be32(0x801) + be32(3) + std::string("\x01\x09\x00", 3);
  return {input(images, labels), input(gzip(images), labels),
    input(images, gzip(labels))};
}
