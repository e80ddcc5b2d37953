#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <armadillo>

namespace paramserv {

/// A labelled data set in memory: one sample per column of `x` (features x
/// samples, column-major, so a sample's features are contiguous), and one
/// class label per sample in [0, classes).
struct dataset {
  arma::fmat x;
  std::vector<uint32_t> y;
  uint32_t classes = 0;

  size_t size() const {
    return x.n_cols;
  }

  size_t features() const {
    return x.n_rows;
  }
};

} // namespace paramserv

namespace paramserv {

/// Copies the samples `rows` of `src` into the columns of `dst` (resized
/// only when the batch size changes) and their labels into `labels`. The
/// one copy a mini-batch costs; nothing is allocated in steady state.
inline void gather_batch(const dataset& src, const uint32_t* rows, size_t n,
  arma::fmat& dst, std::vector<uint32_t>& labels) {
  if (dst.n_rows != src.x.n_rows || dst.n_cols != n)
    dst.set_size(src.x.n_rows, n);
  labels.resize(n);
  size_t f = src.x.n_rows;
  for (size_t j = 0; j < n; ++j) {
    const float* from = src.x.colptr(rows[j]);
    std::copy(from, from + f, dst.colptr(j));
    labels[j] = src.y[rows[j]];
  }
}

} // namespace paramserv
