#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace paramserv {

/// A small, fast, fully specified pseudo-random generator (SplitMix64).
/// Every random choice in paramserv derives from one user seed through this
/// class, so results are identical across compilers and standard libraries
/// (std::shuffle and std::*_distribution are implementation-defined).
/// Not thread-safe; each thread or actor owns its own instance.
class rng {
public:
  explicit rng(uint64_t seed) : state_(seed) {}

  /// Derives an independent stream from a seed and up to two stream ids,
  /// e.g. `rng::derive(seed, worker, epoch)`.
  static rng derive(uint64_t seed, uint64_t a, uint64_t b = 0) {
    rng r{seed ^ 0x9e3779b97f4a7c15ULL};
    r.state_ ^= r.next() + a * 0xbf58476d1ce4e5b9ULL;
    r.state_ ^= r.next() + b * 0x94d049bb133111ebULL;
    r.next();
    return r;
  }

  /// Returns the next 64 random bits.
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  /// Returns a uniform integer in [0, n); n must be positive.
  uint64_t below(uint64_t n) {
    // Lemire's multiply-shift; the bias for n < 2^32 is below 2^-32.
    return static_cast<uint64_t>(
      (static_cast<unsigned __int128>(next()) * n) >> 64);
  }

  /// Returns a uniform double in [0, 1).
  double uniform() {
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
  }

  /// Returns a uniform double in [lo, hi).
  double uniform(double lo, double hi) {
    return lo + (hi - lo) * uniform();
  }

  /// Shuffles `xs` in place (Fisher-Yates).
  template <class T>
  void shuffle(std::vector<T>& xs) {
    for (size_t i = xs.size(); i > 1; --i)
      std::swap(xs[i - 1], xs[below(i)]);
  }

private:
  uint64_t state_;
};

} // namespace paramserv
