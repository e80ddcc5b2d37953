// A fuzz target without libFuzzer: runs its seeds, the files given, and
// seeded random mutations of both. The test suite's smoke run of every
// target (also in the sanitizer build); scripts/fuzz.sh runs the same
// targets under libFuzzer for long.
//
//   paramserv_fuzz_TARGET [--runs N] [--seed S] [FILE|DIR ...]
//   paramserv_fuzz_TARGET --runs N --seed S --dump OUT [FILE|DIR ...]
//
// --dump writes the N-th mutation to OUT instead of running anything: the
// input of a finding, to run again (as FILE) or to debug.
// Exit 0 when every input ran; a finding aborts (a crash, a sanitizer
// report, an exception other than the ones that report bad input).

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.hpp"

namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(
    reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

// One to four of libFuzzer's simpler mutations.
std::string mutate(std::string x, std::mt19937_64& gen) {
  auto pick = [&](size_t n) {
    return n == 0 ? size_t{0} : static_cast<size_t>(gen() % n);
  };
  static const uint64_t interesting[]
    = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0xffffffff,
      0x100000000, 0x7fffffffffffffff, 0xffffffffffffffff};
  for (size_t k = 1 + pick(4); k > 0; --k) {
    switch (pick(7)) {
      case 0: // flip a bit
        if (!x.empty())
          x[pick(x.size())] ^= static_cast<char>(1 << pick(8));
        break;
      case 1: // a random byte
        if (!x.empty())
          x[pick(x.size())] = static_cast<char>(gen());
        break;
      case 2: { // an interesting integer, 1, 2, 4 or 8 bytes, either order
        size_t width = size_t{1} << pick(4);
        if (x.size() < width)
          break;
        uint64_t v = interesting[pick(std::size(interesting))];
        size_t at = pick(x.size() - width + 1);
        bool big = gen() & 1;
        for (size_t i = 0; i < width; ++i)
          x[at + i] = static_cast<char>(v >> (8 * (big ? width - 1 - i : i)));
        break;
      }
      case 3: // insert random bytes
        x.insert(pick(x.size() + 1),
          std::string(1 + pick(8), static_cast<char>(gen())));
        break;
      case 4: // erase a range
        if (!x.empty()) {
          size_t at = pick(x.size());
          x.erase(at, 1 + pick(x.size() - at));
        }
        break;
      case 5: // truncate
        x.resize(pick(x.size() + 1));
        break;
      default: // duplicate a chunk
        if (!x.empty()) {
          size_t at = pick(x.size());
          auto chunk = x.substr(at, 1 + pick(16));
          x.insert(pick(x.size() + 1), chunk);
        }
        break;
    }
  }
  return x;
}

} // namespace

int main(int argc, char** argv) {
  size_t runs = 0;
  uint64_t seed = 1;
  std::vector<std::string> inputs = fuzz_seeds();
  size_t given = 0;
  std::string dump;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--runs" || arg == "--seed") && i + 1 < argc) {
      char* end = nullptr;
      auto v = std::strtoull(argv[++i], &end, 10);
      if (*end != '\0') {
        std::fprintf(
          stderr, "%s: %s: not a number: %s\n", argv[0], arg.c_str(), argv[i]);
        return 2;
      }
      (arg == "--runs" ? runs : seed) = v;
    } else if (arg == "--dump" && i + 1 < argc) {
      dump = argv[++i];
    } else if (std::filesystem::is_directory(arg)) {
      for (auto& entry : std::filesystem::directory_iterator(arg))
        if (entry.is_regular_file()) {
          inputs.push_back(read_all(entry.path()));
          ++given;
        }
    } else if (std::filesystem::is_regular_file(arg)) {
      inputs.push_back(read_all(arg));
      ++given;
    } else {
      std::fprintf(
        stderr, "%s: no such file or option: %s\n", argv[0], arg.c_str());
      return 2;
    }
  }
  std::mt19937_64 gen{seed};
  if (!dump.empty()) {
    std::string input;
    for (size_t r = 0; r < runs; ++r)
      input = mutate(inputs[gen() % inputs.size()], gen);
    std::ofstream out{dump, std::ios::binary};
    out << input;
    return out.good() ? 0 : 1;
  }
  for (auto& input : inputs)
    run(input);
  for (size_t r = 0; r < runs; ++r)
    run(mutate(inputs[gen() % inputs.size()], gen));
  std::printf("%s: %zu seeds, %zu files, %zu mutations (seed %llu): no "
              "finding\n",
    argv[0], inputs.size() - given, given, runs,
    static_cast<unsigned long long>(seed));
  return 0;
}
