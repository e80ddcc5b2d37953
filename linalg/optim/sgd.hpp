#pragma once

#include <cstddef>

namespace paramserv {

/// Plain stochastic gradient descent: w <- w - lr * (g + lambda w).
///
/// The shape of every update-rule policy: hyper-parameters are members;
/// `state_arrays` per-parameter state arrays (zero-initialised, owned by
/// basic_optimizer) are passed in as `s`; `update` applies step `t`
/// (1-based) to n parameters in place. Rules touch nothing but the arrays
/// they are given, so the same code serves whole models, shards, and blocks
/// staged for Hogwild! (see basic_optimizer::update_relaxed).
struct sgd {
  static constexpr size_t state_arrays = 0;

  float weight_decay = 0;

  void update(float* __restrict w, const float* __restrict g, float* const*,
    size_t n, float lr, size_t) const {
    const float wd = weight_decay;
    for (size_t i = 0; i < n; ++i)
      w[i] -= lr * (g[i] + wd * w[i]);
  }
};

} // namespace paramserv
