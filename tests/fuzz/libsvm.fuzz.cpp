// The LIBSVM loader (linalg/data/libsvm.cpp) on arbitrary bytes. The first
// byte picks the options: the class count (inferred or 2) and the feature
// count (inferred or 4).

#include "linalg/data/load.hpp"
#include "tests/fuzz/dataset_check.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace paramserv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  load_options opts;
  opts.classes = (data[0] & 1) ? 2 : 0;
  opts.features = (data[0] & 2) ? 4 : 0;
  auto path = fuzz::write_file("data.svm", data + 1, size - 1);
  fuzz::expect_clean([&] {
    fuzz::check_dataset(load_libsvm(path, opts));
  });
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {
    std::string{"\x00"} + "+1 1:0.5 3:2\n-1 2:1 4:-1.5\n",
    std::string{"\x03"} + "1 1:1 2:2 # comment\n0 4:3\n",
    std::string{"\x00"} + "2 1:1\n0 1000:1\n1\n",
  };
}
