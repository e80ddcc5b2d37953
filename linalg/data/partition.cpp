#include "linalg/data/partition.hpp"

#include <algorithm>

#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "linalg/core/random.hpp"

namespace paramserv {

namespace {

// Fixed stream ids, so every scheme draws from its own stream of the seed.
constexpr uint64_t disjoint_random_stream = 0x70617274; // "part"
constexpr uint64_t overlap_stream = 0x6f766572; // "over"
constexpr uint64_t epoch_salt = 0x65706f6368; // "epoch"

// Splits `rows` into k contiguous blocks; the first n mod k blocks get one
// extra row, so sizes differ by at most one and no row is dropped.
std::vector<std::vector<uint32_t>> blocks(
  const std::vector<uint32_t>& rows, size_t k) {
  std::vector<std::vector<uint32_t>> result(k);
  const auto n = rows.size();
  const auto base = n / k;
  const auto extra = n % k;
  auto begin = rows.begin();
  for (size_t i = 0; i < k; ++i) {
    auto len = static_cast<ptrdiff_t>(base + (i < extra ? 1 : 0));
    result[i].assign(begin, begin + len);
    begin += len;
  }
  return result;
}

std::vector<uint32_t> iota(size_t n) {
  std::vector<uint32_t> rows(n);
  std::iota(rows.begin(), rows.end(), uint32_t{0});
  return rows;
}

} // namespace

size_t rows_per_epoch(size_t n, size_t k, partition_scheme scheme) {
  return scheme == partition_scheme::overlap_reshuffle ? k * n : n;
}

std::vector<std::vector<uint32_t>> partition_rows(
  size_t n, size_t k, partition_scheme scheme, uint64_t seed) {
  if (k == 0)
    throw std::invalid_argument("partition_rows: k must be positive");
  if (n > std::numeric_limits<uint32_t>::max())
    throw std::invalid_argument("partition_rows: " + std::to_string(n)
                                + " rows do not fit 32-bit row indices");
  switch (scheme) {
    case partition_scheme::disjoint_contiguous:
      return blocks(iota(n), k);
    case partition_scheme::disjoint_round_robin: {
      std::vector<std::vector<uint32_t>> result(k);
      for (size_t i = 0; i < k; ++i)
        result[i].reserve(n / k + 1);
      for (size_t r = 0; r < n; ++r)
        result[r % k].push_back(static_cast<uint32_t>(r));
      return result;
    }
    case partition_scheme::disjoint_random: {
      auto perm = iota(n);
      rng::derive(seed, disjoint_random_stream).shuffle(perm);
      return blocks(perm, k);
    }
    case partition_scheme::overlap_reshuffle: {
      std::vector<std::vector<uint32_t>> result(k);
      for (size_t i = 0; i < k; ++i) {
        result[i] = iota(n);
        rng::derive(seed, overlap_stream, i).shuffle(result[i]);
      }
      return result;
    }
  }
  throw std::invalid_argument("partition_rows: unknown scheme");
}

void shuffle_epoch(
  std::vector<uint32_t>& rows, uint64_t seed, size_t worker, size_t epoch) {
  std::sort(rows.begin(), rows.end());
  rng::derive(seed ^ epoch_salt, worker, epoch).shuffle(rows);
}

} // namespace paramserv
