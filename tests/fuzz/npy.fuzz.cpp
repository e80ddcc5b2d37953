// The .npy reader (linalg/io/npy.cpp) on arbitrary bytes.

#include <cstdio>
#include <cstdlib>

#include "linalg/io/npy.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace paramserv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto path = fuzz::write_file("array.npy", data, size);
  fuzz::expect_clean([&] {
    auto a = read_npy(path);
    size_t n = 1;
    for (auto d : a.shape)
      n *= d;
    if (n != a.data.size()) {
      std::fprintf(stderr,
        "paramserv fuzz: read_npy returned %zu elements "
        "for a shape of %zu\n",
        a.data.size(), n);
      std::abort();
    }
  });
  return 0;
}

namespace {

// A version-1.0 header for `dict`, padded as numpy pads it.
std::string npy(
  const std::string& dict, const std::string& payload, char major = 1) {
  std::string header = dict;
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  std::string out = std::string("\x93NUMPY", 6) + major + '\0';
  auto len = header.size();
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  if (major != 1) {
    out += static_cast<char>((len >> 16) & 0xff);
    out += static_cast<char>((len >> 24) & 0xff);
  }
  return out + header + payload;
}

} // namespace

std::vector<std::string> fuzz_seeds() {
  std::string six(24, '\0');
  six[3] = 0x3f; // 1.0f at element 0 (little-endian 0x3f800000)
  six[2] = static_cast<char>(0x80);
  return {
    npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", six),
    npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", six, 2),
    npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
      six.substr(0, 4), 3),
  };
}
