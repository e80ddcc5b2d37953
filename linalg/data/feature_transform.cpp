#include "linalg/data/feature_transform.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace paramserv {

// Features are rows of x, so the statistics walk the samples column by
// column (contiguous) and keep one accumulator per feature.
feature_transform feature_transform::fit(scaling s, const dataset& train) {
  const auto& x = train.x;
  const auto d = x.n_rows;
  const auto n = x.n_cols;
  feature_transform t;
  t.shift.zeros(d);
  t.scale.ones(d);
  switch (s) {
    case scaling::none:
      break;
    case scaling::pixels:
      t.scale.fill(1.0f / 255.0f);
      break;
    case scaling::minmax: {
      if (n == 0)
        break;
      std::vector<float> lo(x.colptr(0), x.colptr(0) + d);
      std::vector<float> hi = lo;
      for (arma::uword j = 1; j < n; ++j) {
        const auto* col = x.colptr(j);
        for (arma::uword i = 0; i < d; ++i) {
          lo[i] = std::min(lo[i], col[i]);
          hi[i] = std::max(hi[i], col[i]);
        }
      }
      for (arma::uword i = 0; i < d; ++i) {
        t.shift[i] = lo[i];
        if (hi[i] > lo[i])
          t.scale[i] = static_cast<float>(1.0 / (double{hi[i]} - lo[i]));
      }
      break;
    }
    case scaling::standardize: {
      if (n == 0)
        break;
      // Two passes in double: the mean, then the population variance.
      std::vector<double> mean(d, 0.0);
      for (arma::uword j = 0; j < n; ++j) {
        const auto* col = x.colptr(j);
        for (arma::uword i = 0; i < d; ++i)
          mean[i] += col[i];
      }
      for (auto& m : mean)
        m /= static_cast<double>(n);
      std::vector<double> var(d, 0.0);
      for (arma::uword j = 0; j < n; ++j) {
        const auto* col = x.colptr(j);
        for (arma::uword i = 0; i < d; ++i) {
          auto dev = col[i] - mean[i];
          var[i] += dev * dev;
        }
      }
      for (arma::uword i = 0; i < d; ++i) {
        t.shift[i] = static_cast<float>(mean[i]);
        auto sd = std::sqrt(var[i] / static_cast<double>(n));
        if (sd > 0.0)
          t.scale[i] = static_cast<float>(1.0 / sd);
      }
      break;
    }
  }
  return t;
}

void feature_transform::apply(arma::fmat& x) const {
  const auto d = x.n_rows;
  if (shift.n_elem != d || scale.n_elem != d)
    throw std::invalid_argument("feature_transform: fitted on "
                                + std::to_string(shift.n_elem)
                                + " features, applied to " + std::to_string(d));
  const auto* sh = shift.memptr();
  const auto* sc = scale.memptr();
  for (arma::uword j = 0; j < x.n_cols; ++j) {
    auto* col = x.colptr(j);
    for (arma::uword i = 0; i < d; ++i)
      col[i] = (col[i] - sh[i]) * sc[i];
  }
}

} // namespace paramserv
