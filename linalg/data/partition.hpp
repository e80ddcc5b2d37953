#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "linalg/core/names.hpp"

namespace paramserv {

/// How the training rows are split among k workers (SystemDS' schemes,
/// without its off-by-one that drops a row when n mod k == 1).
enum class partition_scheme {
  /// Worker i gets one contiguous block; block sizes differ by at most one.
  disjoint_contiguous,
  /// Row r goes to worker r mod k.
  disjoint_round_robin,
  /// A seeded random permutation, then contiguous blocks of it.
  disjoint_random,
  /// Every worker gets all rows, each in its own seeded order.
  overlap_reshuffle,
};

template <>
struct enum_names<partition_scheme> {
  static constexpr std::string_view what = "scheme";
  static constexpr std::array table{
    std::pair{partition_scheme::disjoint_contiguous, "disjoint_contiguous"},
    std::pair{partition_scheme::disjoint_round_robin, "disjoint_round_robin"},
    std::pair{partition_scheme::disjoint_random, "disjoint_random"},
    std::pair{partition_scheme::overlap_reshuffle, "overlap_reshuffle"},
  };
};

/// Returns, for each of `k` workers, the row indices (into [0, n)) it owns.
/// Disjoint schemes: every row belongs to exactly one worker and sizes differ
/// by at most one. Deterministic in (n, k, scheme, seed).
/// @pre k > 0
std::vector<std::vector<uint32_t>> partition_rows(
  size_t n, size_t k, partition_scheme scheme, uint64_t seed);

/// Rows that `k` workers train together in one epoch: n for the disjoint
/// schemes, k * n for overlap_reshuffle (every worker visits every row).
/// Equals the summed sizes of partition_rows(n, k, scheme, seed).
size_t rows_per_epoch(size_t n, size_t k, partition_scheme scheme);

/// Puts a worker's rows into this epoch's order: a permutation of them that
/// depends only on the set of rows, the seed, the worker and the epoch, not
/// on their order before (so that a run resumed at any epoch visits the
/// rows as an uninterrupted one). Each worker calls it once per epoch on
/// its own partition.
void shuffle_epoch(
  std::vector<uint32_t>& rows, uint64_t seed, size_t worker, size_t epoch);

} // namespace paramserv
