#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "linalg/data/partition.hpp"

using namespace paramserv;

namespace {

using parts = std::vector<std::vector<uint32_t>>;

constexpr partition_scheme disjoint_schemes[] = {
  partition_scheme::disjoint_contiguous,
  partition_scheme::disjoint_round_robin,
  partition_scheme::disjoint_random,
};

std::vector<uint32_t> all_rows(size_t n) {
  std::vector<uint32_t> rows(n);
  std::iota(rows.begin(), rows.end(), uint32_t{0});
  return rows;
}

std::vector<uint32_t> sorted(std::vector<uint32_t> xs) {
  std::sort(xs.begin(), xs.end());
  return xs;
}

// Checks that `p` splits 0..n-1 among k workers, each row exactly once, with
// sizes that differ by at most one.
void check_disjoint_and_complete(const parts& p, size_t n, size_t k) {
  REQUIRE(p.size() == k);
  std::vector<uint32_t> merged;
  size_t smallest = n;
  size_t largest = 0;
  for (const auto& rows : p) {
    merged.insert(merged.end(), rows.begin(), rows.end());
    smallest = std::min(smallest, rows.size());
    largest = std::max(largest, rows.size());
  }
  CHECK(merged.size() == n);
  CHECK(sorted(merged) == all_rows(n));
  CHECK(largest - smallest <= 1);
  CHECK(smallest == n / k);
}

} // namespace

TEST_CASE("disjoint schemes give every row to exactly one worker") {
  for (size_t n : {10, 11, 13, 1000}) {
    for (size_t k : {1, 2, 3, 4, 7}) {
      for (auto s : disjoint_schemes) {
        CAPTURE(n);
        CAPTURE(k);
        CAPTURE(to_string(s));
        check_disjoint_and_complete(partition_rows(n, k, s, 42), n, k);
      }
    }
  }
}

TEST_CASE("disjoint schemes keep the last row when n mod k is 1") {
  // SystemDS' contiguous split computes ceil(n/k)-sized blocks and can drop
  // a row; n = 13, k = 3 (13 mod 3 == 1) must give 5, 4, 4.
  for (auto s : disjoint_schemes) {
    CAPTURE(to_string(s));
    auto p = partition_rows(13, 3, s, 7);
    REQUIRE(p.size() == 3);
    CHECK(p[0].size() == 5);
    CHECK(p[1].size() == 4);
    CHECK(p[2].size() == 4);
  }
  auto p = partition_rows(1000, 3, partition_scheme::disjoint_contiguous, 0);
  CHECK(p[2].back() == 999);
}

TEST_CASE("contiguous partitioning gives known blocks") {
  auto p = partition_rows(11, 3, partition_scheme::disjoint_contiguous, 0);
  CHECK(p == parts{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10}});
  p = partition_rows(10, 4, partition_scheme::disjoint_contiguous, 0);
  CHECK(p == parts{{0, 1, 2}, {3, 4, 5}, {6, 7}, {8, 9}});
  p = partition_rows(10, 1, partition_scheme::disjoint_contiguous, 0);
  CHECK(p == parts{all_rows(10)});
}

TEST_CASE("round robin partitioning deals rows like cards") {
  auto p = partition_rows(11, 3, partition_scheme::disjoint_round_robin, 0);
  CHECK(p == parts{{0, 3, 6, 9}, {1, 4, 7, 10}, {2, 5, 8}});
  p = partition_rows(13, 7, partition_scheme::disjoint_round_robin, 0);
  CHECK(p == parts{{0, 7}, {1, 8}, {2, 9}, {3, 10}, {4, 11}, {5, 12}, {6}});
}

TEST_CASE("more workers than rows leaves some workers empty") {
  for (auto s : disjoint_schemes) {
    CAPTURE(to_string(s));
    auto p = partition_rows(3, 7, s, 1);
    check_disjoint_and_complete(p, 3, 7);
    CHECK(std::count_if(p.begin(), p.end(), [](const auto& rows) {
      return rows.empty();
    }) == 4);
  }
  auto p = partition_rows(3, 5, partition_scheme::overlap_reshuffle, 1);
  for (const auto& rows : p)
    CHECK(sorted(rows) == all_rows(3));
}

TEST_CASE("random partitioning depends only on the seed") {
  for (size_t n : {10, 11, 13, 1000}) {
    for (size_t k : {1, 2, 3, 4, 7}) {
      CAPTURE(n);
      CAPTURE(k);
      auto a = partition_rows(n, k, partition_scheme::disjoint_random, 1);
      auto b = partition_rows(n, k, partition_scheme::disjoint_random, 1);
      auto c = partition_rows(n, k, partition_scheme::disjoint_random, 2);
      CHECK(a == b);
      CHECK(a != c);
    }
  }
  // It is a real shuffle, not the contiguous split.
  CHECK(partition_rows(1000, 4, partition_scheme::disjoint_random, 1)
        != partition_rows(1000, 4, partition_scheme::disjoint_contiguous, 1));
}

TEST_CASE("overlap reshuffle gives each worker all rows in its own order") {
  for (size_t n : {10, 11, 13, 1000}) {
    for (size_t k : {1, 2, 3, 4, 7}) {
      CAPTURE(n);
      CAPTURE(k);
      auto p = partition_rows(n, k, partition_scheme::overlap_reshuffle, 5);
      REQUIRE(p.size() == k);
      for (size_t i = 0; i < k; ++i) {
        CHECK(sorted(p[i]) == all_rows(n));
        CHECK(p[i] != all_rows(n));
        for (size_t j = 0; j < i; ++j)
          CHECK(p[i] != p[j]);
      }
      CHECK(p == partition_rows(n, k, partition_scheme::overlap_reshuffle, 5));
      CHECK(p != partition_rows(n, k, partition_scheme::overlap_reshuffle, 6));
    }
  }
}

TEST_CASE("shuffle_epoch permutes rows by seed, worker and epoch") {
  auto rows
    = partition_rows(1000, 3, partition_scheme::disjoint_contiguous, 0)[1];
  auto shuffle = [&](uint64_t seed, size_t worker, size_t epoch) {
    auto copy = rows;
    shuffle_epoch(copy, seed, worker, epoch);
    return copy;
  };
  auto a = shuffle(9, 1, 0);
  CHECK(sorted(a) == rows); // rows of a contiguous block are sorted
  CHECK(a != rows);
  CHECK(a == shuffle(9, 1, 0));
  CHECK(a != shuffle(9, 1, 1));
  CHECK(a != shuffle(9, 2, 0));
  CHECK(a != shuffle(10, 1, 0));
  // Epochs give different orders, each a permutation of the same rows.
  std::vector<std::vector<uint32_t>> epochs;
  for (size_t e = 0; e < 5; ++e) {
    epochs.push_back(shuffle(9, 1, e));
    CHECK(sorted(epochs.back()) == rows);
    for (size_t f = 0; f < e; ++f)
      CHECK(epochs[e] != epochs[f]);
  }
  std::vector<uint32_t> empty;
  shuffle_epoch(empty, 1, 0, 0);
  CHECK(empty.empty());
}

TEST_CASE("shuffle_epoch's order does not depend on the order before, so a "
          "resumed run visits rows as an uninterrupted one") {
  auto rows = partition_rows(1000, 3, partition_scheme::disjoint_random, 4)[2];
  // Epochs 0, 1, 2 in turn on one vector, as a worker does...
  auto carried = rows;
  for (size_t e = 0; e < 3; ++e)
    shuffle_epoch(carried, 9, 2, e);
  // ...and epoch 2 alone, as a worker resumed there does.
  auto fresh = rows;
  shuffle_epoch(fresh, 9, 2, 2);
  CHECK(carried == fresh);
}

TEST_CASE("partition_rows refuses zero workers") {
  CHECK_THROWS_AS(
    partition_rows(10, 0, partition_scheme::disjoint_contiguous, 0),
    std::invalid_argument);
}

TEST_CASE("rows_per_epoch is the summed size of the partitions") {
  for (auto scheme :
    {partition_scheme::disjoint_contiguous,
      partition_scheme::disjoint_round_robin, partition_scheme::disjoint_random,
      partition_scheme::overlap_reshuffle})
    for (size_t k : {1, 2, 3, 7}) {
      CAPTURE(to_string(scheme));
      CAPTURE(k);
      size_t total = 0;
      for (auto& rows : partition_rows(100, k, scheme, 5))
        total += rows.size();
      CHECK(rows_per_epoch(100, k, scheme) == total);
    }
}
