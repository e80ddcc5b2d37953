// The checkpoint reader (linalg/io/checkpoint_store.cpp) on arbitrary
// bytes. With the first byte even, the rest is a checked file to read;
// odd, the rest is the payload of a checkpoint's MANIFEST (written as a
// valid checked file, so that the manifest's parser is reached), next to
// one valid part.

#include <filesystem>
#include <fstream>

#include "linalg/io/checkpoint_store.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace paramserv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view rest{reinterpret_cast<const char*>(data) + 1, size - 1};
  if ((data[0] & 1) == 0) {
    auto path = fuzz::write_file("file.ckpt", data + 1, size - 1);
    fuzz::expect_clean([&] {
      read_checked_file(path);
    });
    return 0;
  }
  static const std::string dir = [] {
    auto d = fuzz::scratch_folder() + "/store";
    std::filesystem::create_directories(d + "/ckpt-00000000000000000007");
    write_checked_file(d + "/ckpt-00000000000000000007/job.part", "state");
    return d;
  }();
  write_checked_file(dir + "/ckpt-00000000000000000007/MANIFEST", rest);
  fuzz::expect_clean([&] {
    checkpoint_store{dir}.load_latest();
  });
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  auto path = fuzz::scratch_folder() + "/seed.ckpt";
  write_checked_file(path, "a payload");
  std::ifstream in{path, std::ios::binary};
  std::string file{std::istreambuf_iterator<char>{in}, {}};
  return {std::string(1, '\0') + file,
    std::string(1, '\1') + "paramserv-checkpoint 1\nsequence 7\npart job\n"};
}
