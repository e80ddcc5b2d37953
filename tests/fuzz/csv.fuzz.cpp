// The CSV loader (linalg/data/csv.cpp) on arbitrary bytes. The first byte
// picks the options: header detection (auto, none, present), the label
// column (0 or 1) and the class count (inferred or 3).

#include "linalg/data/load.hpp"
#include "tests/fuzz/dataset_check.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace paramserv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  load_options opts;
  switch (data[0] & 3) {
    case 1:
      opts.csv_header = false;
      break;
    case 2:
      opts.csv_header = true;
      break;
    default:
      break;
  }
  opts.label_column = (data[0] >> 2) & 1;
  opts.classes = (data[0] & 8) ? 3 : 0;
  auto path = fuzz::write_file("data.csv", data + 1, size - 1);
  fuzz::expect_clean([&] {
    fuzz::check_dataset(load_csv(path, opts));
  });
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {
    std::string{"\x00"} + "label,a,b\n0,1.5,2\n1,-3e2,0.25\n2,4,5\n",
    std::string{"\x01"} + "1,0.5,0.5\r\n0,1,+2\r\n",
    std::string{"\x04"} + "1.0,2,3\n-4,0,5\n",
    std::string{"\x08"} + "2,1e-40,3\n0,nan,1\n",
  };
}
