#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

// The shape of every fuzz target in this folder. Each target file defines
// LLVMFuzzerTestOneInput (libFuzzer's entry point: one input, returns 0)
// and fuzz_seeds (valid inputs built in code, the seed corpus). A target
// treats the errors paramserv reports for bad input (std::runtime_error,
// std::invalid_argument: one line naming the problem) as success; anything
// else that escapes, a crash or a sanitizer report is a finding.
//
// The same file builds two ways (tests/fuzz/CMakeLists.txt):
// - with libFuzzer (clang, scripts/fuzz.sh), for long coverage-guided runs;
// - with replay_main.cpp (any compiler), which runs the seeds, given files,
//   and seeded random mutations of the seeds: the smoke run of the test
//   suite, also under the sanitizer build.

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

/// Valid inputs of the target, to mutate from.
std::vector<std::string> fuzz_seeds();

namespace paramserv::fuzz {

/// The scratch folder private to this process (created on first use,
/// removed at exit).
const std::string& scratch_folder();

/// Writes `size` bytes to the file `name` in a scratch folder private to
/// this process (created on first use, removed at exit); returns its path.
/// Each call replaces the file.
std::string write_file(
  const std::string& name, const uint8_t* data, size_t size);

/// The same for a string.
inline std::string write_file(
  const std::string& name, const std::string& text) {
  return write_file(
    name, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

/// Runs `f`, swallowing the errors that report bad input.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const std::runtime_error&) {
  } catch (const std::invalid_argument&) {
  }
}

} // namespace paramserv::fuzz
