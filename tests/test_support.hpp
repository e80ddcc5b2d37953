#pragma once

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <vector>
#include <system_error>

#include <unistd.h>

#include <doctest/doctest.h>

#include "linalg/core/random.hpp"
#include "linalg/data/data_error.hpp"
#include "linalg/data/dataset.hpp"
#include "linalg/train/train_options.hpp"

// Helpers shared by the test files; nothing here is part of paramserv.
namespace paramserv::test {

/// A fresh directory `<prefix>-<pid>-<n>` under the system's temp dir,
/// removed with its contents when the object goes. Not copyable: one owner
/// removes it.
struct temp_dir {
  std::filesystem::path path;

  explicit temp_dir(const std::string& prefix) {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path()
           / (prefix + "-" + std::to_string(::getpid()) + "-"
              + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// Returns the path of the file `name` in this directory.
  std::string operator/(const std::string& name) const {
    return (path / name).string();
  }

  /// Writes `text` to the file `name` and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    auto file = *this / name;
    std::ofstream out{file, std::ios::binary};
    out << text;
    REQUIRE(out.good());
    return file;
  }
};

/// Returns what() of the data_error that `f` throws and checks that it is a
/// single line; fails the test when `f` throws nothing.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const data_error& e) {
    std::string what = e.what();
    CHECK(what.find('\n') == std::string::npos);
    return what;
  }
  FAIL("expected a data_error");
  return {};
}

/// SGD at twice the learning rate, as a custom update rule: the built-in
/// sgd's arithmetic given 2 lr (2 lr is exact in floats, and g + 0 w is g),
/// so a run with it at lr equals one with sgd at 2 lr, bit for bit.
struct doubled_sgd {
  static constexpr size_t state_arrays = 0;

  void update(
    float* w, const float* g, float* const*, size_t n, float lr, size_t) const {
    for (size_t i = 0; i < n; ++i)
      w[i] -= (2.0f * lr) * g[i];
  }
};

/// Bitwise equality: -0.0f and NaN payloads count, unlike with ==.
inline bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size()
         && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Whether /usr/bin/python3 can import numpy, for the optional
/// interoperability checks.
inline bool have_numpy() {
  static const bool result
    = std::filesystem::exists("/usr/bin/python3")
      && std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
  return result;
}

/// Runs `script` with /usr/bin/python3 -c and `arg` as sys.argv[1]; returns
/// what std::system returns (0 on success). The script goes into double
/// quotes for the shell, so it must not contain '"', '$', '`' or '\\'; `arg`
/// must not contain "'".
inline int run_python(const std::string& script, const std::string& arg) {
  auto cmd = "/usr/bin/python3 -c \"" + script + "\" '" + arg + "'";
  return std::system(cmd.c_str());
}

/// Three blobs in 4-D, `n` rows, each uniform around a center `center` away
/// from the origin on its own axis. With the default 3 they are linearly
/// separable, so any sound trainer gets close to 100% on them; closer
/// centers overlap.
inline dataset blobs(size_t n, uint64_t seed, double center = 3.0) {
  rng gen{seed};
  dataset d;
  d.classes = 3;
  d.x.set_size(4, n);
  d.y.resize(n);
  for (size_t j = 0; j < n; ++j) {
    auto c = static_cast<uint32_t>(gen.below(3));
    d.y[j] = c;
    for (size_t i = 0; i < 4; ++i)
      d.x(i, j)
        = static_cast<float>((i == c ? center : 0.0) + gen.uniform(-1.0, 1.0));
  }
  return d;
}

/// Options for a small model of blobs() data: softmax 4-3 or an MLP 4-8-3
/// (`kind`), 16 rows per batch, the given update rule, learning rate,
/// epochs and seed.
inline train_options small_options(const std::string& kind,
  const std::string& rule, float lr, size_t epochs, uint64_t seed) {
  train_options opts;
  opts.model.kind = kind;
  opts.model.inputs = 4;
  opts.model.classes = 3;
  if (kind == "mlp")
    opts.model.hidden = {8};
  opts.optimizer.kind = rule;
  opts.schedule.base = lr;
  opts.batch_size = 16;
  opts.epochs = epochs;
  opts.seed = seed;
  return opts;
}

/// `n` floats drawn uniformly from [lo, hi), seeded.
inline std::vector<float> random_floats(
  size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  rng gen{seed};
  std::vector<float> xs(n);
  for (auto& x : xs)
    x = static_cast<float>(gen.uniform(lo, hi));
  return xs;
}

/// Writes `text` to the file `name` in `dir`, loads it with `load`, and
/// returns the data_error it must throw, checking that it names the file.
template <class Dir, class Load>
std::string load_error(
  const Dir& dir, const std::string& name, const std::string& text, Load load) {
  auto file = dir.write(name, text);
  auto what = error_of([&] {
    load(file);
  });
  CHECK(what.rfind(file, 0) == 0);
  return what;
}

/// blobs(rows, seed) written to the file `name` in `dir` as CSV (label
/// first); returns its path.
template <class Dir>
std::string blobs_csv(
  const Dir& dir, const std::string& name, size_t rows, uint64_t seed) {
  auto d = blobs(rows, seed);
  std::ostringstream csv;
  for (size_t j = 0; j < d.size(); ++j) {
    csv << d.y[j];
    for (size_t i = 0; i < d.features(); ++i)
      csv << ',' << d.x(i, j);
    csv << '\n';
  }
  return dir.write(name, csv.str());
}

/// The tensors of a saved model folder by name (the .npy file names carry a
/// random suffix after the first dot), as bytes.
inline std::map<std::string, std::string> tensors(const std::string& dir) {
  std::map<std::string, std::string> result;
  for (auto& entry : std::filesystem::directory_iterator(dir)) {
    auto name = entry.path().filename().string();
    if (entry.path().extension() != ".npy")
      continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    result[name.substr(0, name.find('.'))] = bytes.str();
  }
  return result;
}

} // namespace paramserv::test
