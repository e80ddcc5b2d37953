// For libFuzzer builds: with PARAMSERV_FUZZ_SEEDS=DIR set, writes the
// target's seeds into DIR (seed-N files) before fuzzing starts, so that
// scripts/fuzz.sh's corpus begins with valid inputs.

#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("PARAMSERV_FUZZ_SEEDS");
  if (!dir || !*dir)
    return 0;
  auto seeds = fuzz_seeds();
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::ofstream out{
      std::string{dir} + "/seed-" + std::to_string(i), std::ios::binary};
    out << seeds[i];
  }
  return 0;
}
