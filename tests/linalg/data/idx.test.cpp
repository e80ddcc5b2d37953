#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include <zlib.h>

#include "linalg/data/load.hpp"
#include "tests/test_support.hpp"

#ifndef PARAMSERV_FASHION_MNIST
#  define PARAMSERV_FASHION_MNIST "/usr/share/datasets/fashion-mnist"
#endif

using namespace paramserv;
using test::contains;
using test::error_of;

namespace {

// Test files live in paramserv-idx-<pid>-<n>.
struct temp_dir : test::temp_dir {
  temp_dir() : test::temp_dir{"paramserv-idx"} {}
};

using bytes = std::vector<unsigned char>;

void put_u32(bytes& out, uint32_t x) {
  out.push_back(static_cast<unsigned char>(x >> 24));
  out.push_back(static_cast<unsigned char>(x >> 16));
  out.push_back(static_cast<unsigned char>(x >> 8));
  out.push_back(static_cast<unsigned char>(x));
}

bytes images_file(uint32_t count, uint32_t rows, uint32_t cols,
  const bytes& pixels, uint32_t magic = 0x00000803) {
  bytes out;
  put_u32(out, magic);
  put_u32(out, count);
  put_u32(out, rows);
  put_u32(out, cols);
  out.insert(out.end(), pixels.begin(), pixels.end());
  return out;
}

bytes labels_file(
  uint32_t count, const bytes& labels, uint32_t magic = 0x00000801) {
  bytes out;
  put_u32(out, magic);
  put_u32(out, count);
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

void write_plain(const std::string& path, const bytes& data) {
  std::ofstream out{path, std::ios::binary};
  out.write(reinterpret_cast<const char*>(data.data()),
    static_cast<std::streamsize>(data.size()));
  REQUIRE(out.good());
}

void write_gzip(const std::string& path, const bytes& data) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  auto n = gzwrite(f, data.data(), static_cast<unsigned>(data.size()));
  REQUIRE(gzclose(f) == Z_OK);
  REQUIRE(n == static_cast<int>(data.size()));
}

bytes read_plain(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return bytes{std::istreambuf_iterator<char>{in}, {}};
}

// 3 images of 2x3 pixels: image i has pixel values 10*i + (r*3 + c).
bytes sample_pixels() {
  bytes px;
  for (int i = 0; i < 3; ++i)
    for (int p = 0; p < 6; ++p)
      px.push_back(static_cast<unsigned char>(10 * i + p));
  return px;
}

const bytes sample_labels = {7, 0, 9};

// Loads the pair and returns the error message.
std::string idx_error(const std::string& images, const std::string& labels,
  const load_options& opts = {}) {
  return error_of([&] {
    load_idx(images, labels, opts);
  });
}

void check_sample(const dataset& ds) {
  REQUIRE(ds.size() == 3);
  REQUIRE(ds.features() == 6);
  CHECK(ds.classes == 10);
  CHECK(ds.y == std::vector<uint32_t>{7, 0, 9});
  for (arma::uword i = 0; i < 3; ++i)
    for (arma::uword p = 0; p < 6; ++p)
      CHECK(ds.x(p, i) == static_cast<float>(10 * i + p));
}

} // namespace

TEST_CASE("idx loader reads plain files with one image per column") {
  temp_dir dir;
  write_plain(
    dir / "a-images-idx3-ubyte", images_file(3, 2, 3, sample_pixels()));
  write_plain(dir / "a-labels-idx1-ubyte", labels_file(3, sample_labels));
  check_sample(
    load_idx(dir / "a-images-idx3-ubyte", dir / "a-labels-idx1-ubyte", {}));
}

TEST_CASE("idx loader reads gzip files transparently") {
  temp_dir dir;
  write_gzip(
    dir / "a-images-idx3-ubyte.gz", images_file(3, 2, 3, sample_pixels()));
  write_gzip(dir / "a-labels-idx1-ubyte.gz", labels_file(3, sample_labels));
  check_sample(load_idx(
    dir / "a-images-idx3-ubyte.gz", dir / "a-labels-idx1-ubyte.gz", {}));
}

TEST_CASE("load_dataset finds idx files in a directory and by image name") {
  temp_dir dir;
  write_gzip(
    dir / "train-images-idx3-ubyte.gz", images_file(3, 2, 3, sample_pixels()));
  write_gzip(dir / "train-labels-idx1-ubyte.gz", labels_file(3, sample_labels));
  write_plain(
    dir / "t10k-images-idx3-ubyte", images_file(1, 2, 3, bytes(6, 255)));
  write_plain(dir / "t10k-labels-idx1-ubyte", labels_file(1, {4}));
  SUBCASE("directory, training split") {
    check_sample(load_dataset(dir.path.string(), std::nullopt, {}, false));
  }
  SUBCASE("directory, test split") {
    auto ds = load_dataset(dir.path.string(), std::nullopt, {}, true);
    REQUIRE(ds.size() == 1);
    CHECK(ds.y[0] == 4);
    CHECK(ds.x(5, 0) == 255.0f);
  }
  SUBCASE("images file path, labels derived from the name") {
    check_sample(load_dataset(
      dir / "train-images-idx3-ubyte.gz", std::nullopt, {}, false));
  }
  SUBCASE("explicit format") {
    check_sample(load_dataset(dir.path.string(), data_format::idx, {}));
  }
}

TEST_CASE("load_dataset names a directory without idx files") {
  temp_dir dir;
  auto what = error_of([&] {
    load_dataset(dir.path.string(), std::nullopt, {}, true);
  });
  CHECK(contains(what, dir.path.string()));
  CHECK(contains(what, "no t10k-images-idx3-ubyte"));
}

TEST_CASE("idx loader reports a wrong magic number in hex") {
  temp_dir dir;
  auto images = dir / "x-images-idx3-ubyte";
  auto labels = dir / "x-labels-idx1-ubyte";
  write_plain(labels, labels_file(3, sample_labels));
  SUBCASE("labels file given as images") {
    auto what = idx_error(labels, labels);
    CHECK(what.rfind(labels, 0) == 0);
    CHECK(contains(what, "wrong magic 0x00000801, expected 0x00000803"));
    CHECK(contains(what, "looks like a labels file"));
  }
  SUBCASE("arbitrary magic") {
    write_plain(images, images_file(3, 2, 3, sample_pixels(), 0xdeadbeef));
    auto what = idx_error(images, labels);
    CHECK(what.rfind(images, 0) == 0);
    CHECK(contains(what, "wrong magic 0xdeadbeef"));
  }
}

TEST_CASE("idx loader reports truncated data with expected and actual size") {
  temp_dir dir;
  auto images = dir / "x-images-idx3-ubyte";
  auto labels = dir / "x-labels-idx1-ubyte";
  write_plain(labels, labels_file(3, sample_labels));
  auto px = sample_pixels();
  px.resize(px.size() - 5);
  SUBCASE("plain") {
    write_plain(images, images_file(3, 2, 3, px));
  }
  SUBCASE("gzip") {
    images += ".gz";
    write_gzip(images, images_file(3, 2, 3, px));
  }
  auto what = idx_error(images, labels);
  CHECK(what.rfind(images, 0) == 0);
  CHECK(contains(what, "byte 16: truncated image data"));
  CHECK(contains(what, "expected 18 bytes"));
  CHECK(contains(what, "got 13"));
}

TEST_CASE("idx loader reports a truncated header") {
  temp_dir dir;
  auto images = dir / "x-images-idx3-ubyte";
  auto hdr = images_file(3, 2, 3, {});
  hdr.resize(10);
  write_plain(images, hdr);
  auto what = idx_error(images, images);
  CHECK(what.rfind(images, 0) == 0);
  CHECK(contains(what, "truncated header: expected 16 bytes, got 10"));
}

TEST_CASE("idx loader reports truncated labels") {
  temp_dir dir;
  auto images = dir / "x-images-idx3-ubyte";
  auto labels = dir / "x-labels-idx1-ubyte";
  write_plain(images, images_file(3, 2, 3, sample_pixels()));
  write_plain(labels, labels_file(3, {1, 2}));
  auto what = idx_error(images, labels);
  CHECK(what.rfind(labels, 0) == 0);
  CHECK(contains(what, "byte 8: truncated label data: expected 3 bytes, "
                       "got 2"));
}

TEST_CASE("idx loader rejects zero dimensions and trailing data") {
  temp_dir dir;
  auto images = dir / "x-images-idx3-ubyte";
  auto labels = dir / "x-labels-idx1-ubyte";
  write_plain(labels, labels_file(3, sample_labels));
  std::string expected;
  SUBCASE("zero columns") {
    write_plain(images, images_file(3, 2, 0, {}));
    expected = "zero dimension";
  }
  SUBCASE("huge dimensions") {
    write_plain(images, images_file(0xffffffff, 0xffff, 0xffff, {}));
    expected = "dimensions too large";
  }
  SUBCASE("bytes after the announced images") {
    auto px = sample_pixels();
    px.push_back(1);
    write_plain(images, images_file(3, 2, 3, px));
    expected = "byte 34: unexpected data after the images";
  }
  auto what = idx_error(images, labels);
  CHECK(what.rfind(images, 0) == 0);
  CHECK(contains(what, expected));
}

TEST_CASE("idx loader reports an image and label count mismatch") {
  temp_dir dir;
  auto images = dir / "x-images-idx3-ubyte";
  auto labels = dir / "x-labels-idx1-ubyte";
  write_plain(images, images_file(3, 2, 3, sample_pixels()));
  write_plain(labels, labels_file(2, {1, 2}));
  auto what = idx_error(images, labels);
  CHECK(what.rfind(labels, 0) == 0);
  CHECK(contains(what, "2 labels, but " + images + " has 3 images"));
}

TEST_CASE("idx loader reports a label out of range with its byte offset") {
  temp_dir dir;
  auto images = dir / "x-images-idx3-ubyte";
  auto labels = dir / "x-labels-idx1-ubyte";
  write_plain(images, images_file(3, 2, 3, sample_pixels()));
  SUBCASE("default 10 classes") {
    write_plain(labels, labels_file(3, {1, 10, 2}));
    auto what = idx_error(images, labels);
    CHECK(what.rfind(labels, 0) == 0);
    CHECK(contains(what, "byte 9: label 10 of sample 1 is out of range "
                         "for 10 classes"));
  }
  SUBCASE("classes given by the caller") {
    write_plain(labels, labels_file(3, sample_labels));
    load_options opts;
    opts.classes = 8;
    auto what = idx_error(images, labels, opts);
    CHECK(contains(what, "byte 10: label 9 of sample 2 is out of range "
                         "for 8 classes"));
  }
}

TEST_CASE("idx loader reports a feature count that differs from training") {
  temp_dir dir;
  auto images = dir / "x-images-idx3-ubyte";
  auto labels = dir / "x-labels-idx1-ubyte";
  write_plain(images, images_file(3, 2, 3, sample_pixels()));
  write_plain(labels, labels_file(3, sample_labels));
  load_options opts;
  opts.features = 784;
  auto what = idx_error(images, labels, opts);
  CHECK(what.rfind(images, 0) == 0);
  CHECK(contains(what, "2x3 have 6 features, expected 784"));
}

TEST_CASE("idx loader reports a missing file") {
  temp_dir dir;
  auto images = dir / "missing-images-idx3-ubyte";
  auto what = idx_error(images, images);
  CHECK(what.rfind(images, 0) == 0);
  CHECK(contains(what, "cannot open: No such file"));
}

TEST_CASE("idx loader reports a corrupted gzip stream") {
  temp_dir dir;
  auto images = dir / "x-images-idx3-ubyte.gz";
  auto labels = dir / "x-labels-idx1-ubyte";
  write_plain(labels, labels_file(3, sample_labels));
  // 3 images of 32x32 zeros compress to a few dozen bytes of deflate data
  // after the 10-byte gzip header; overwrite them.
  write_gzip(images, images_file(3, 32, 32, bytes(3 * 32 * 32, 0)));
  auto gz = read_plain(images);
  REQUIRE(gz.size() > 20);
  std::string expected;
  SUBCASE("garbled deflate data") {
    std::fill(gz.begin() + 10, gz.end() - 8, 0xff);
    expected = "corrupted gzip stream";
  }
  SUBCASE("wrong checksum") {
    gz[gz.size() - 8] ^= 0x5a; // first byte of the CRC-32 trailer
    expected = "corrupted gzip stream: incorrect data check";
  }
  SUBCASE("cut off") {
    gz.resize(gz.size() / 2);
    expected = "truncated gzip stream";
  }
  write_plain(images, gz);
  auto what = idx_error(images, labels);
  CHECK(what.rfind(images, 0) == 0);
  CHECK(contains(what, expected));
}

TEST_CASE("load_dataset reads the real Fashion-MNIST") {
  const std::string dir = PARAMSERV_FASHION_MNIST;
  // Reference values computed with Python's gzip module from the same files:
  // first labels, the pixel sum of the first image, 6000 / 1000 samples of
  // every class.
  SUBCASE("training split") {
    auto ds = load_dataset(dir, std::nullopt, {}, false);
    REQUIRE(ds.size() == 60000);
    REQUIRE(ds.features() == 784);
    CHECK(ds.classes == 10);
    CHECK(ds.y.size() == 60000);
    CHECK(std::vector<uint32_t>(ds.y.begin(), ds.y.begin() + 5)
          == std::vector<uint32_t>{9, 0, 0, 3, 0});
    CHECK(arma::accu(ds.x.col(0)) == doctest::Approx(76247.0));
    CHECK(ds.x.max() == 255.0f);
    CHECK(ds.x.min() == 0.0f);
    std::vector<size_t> per_class(10, 0);
    for (auto label : ds.y) {
      REQUIRE(label < 10);
      ++per_class[label];
    }
    CHECK(per_class == std::vector<size_t>(10, 6000));
  }
  SUBCASE("test split") {
    auto ds = load_dataset(dir, std::nullopt, {}, true);
    REQUIRE(ds.size() == 10000);
    REQUIRE(ds.features() == 784);
    CHECK(ds.classes == 10);
    CHECK(std::vector<uint32_t>(ds.y.begin(), ds.y.begin() + 5)
          == std::vector<uint32_t>{9, 2, 1, 1, 6});
    CHECK(arma::accu(ds.x.col(0)) == doctest::Approx(33456.0));
    std::vector<size_t> per_class(10, 0);
    for (auto label : ds.y) {
      REQUIRE(label < 10);
      ++per_class[label];
    }
    CHECK(per_class == std::vector<size_t>(10, 1000));
  }
}
