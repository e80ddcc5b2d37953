#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "linalg/data/dataset.hpp"

namespace paramserv::fuzz {

/// Aborts (a finding) unless `d` is what a loader promises: one label per
/// column, every label below the class count, every feature finite.
inline void check_dataset(const dataset& d) {
  bool ok = d.x.n_cols == d.y.size();
  for (size_t j = 0; ok && j < d.y.size(); ++j)
    ok = d.y[j] < d.classes;
  for (size_t i = 0; ok && i < d.x.n_elem; ++i)
    ok = std::isfinite(d.x[i]);
  if (!ok) {
    std::fprintf(stderr, "paramserv fuzz: a loader returned a data set that "
                         "breaks its contract\n");
    std::abort();
  }
}

} // namespace paramserv::fuzz
