#pragma once

#include <cstddef>

namespace paramserv {

/// Nesterov momentum (Sutskever et al. 2013, in PyTorch's form):
///   v <- mu v + g,  w <- w - lr (g + mu v).  State: the velocity v.
struct nesterov {
  static constexpr size_t state_arrays = 1;

  float mu = 0.9f;
  float weight_decay = 0;

  void update(float* __restrict w, const float* __restrict g, float* const* s,
    size_t n, float lr, size_t) const {
    const float m = mu, wd = weight_decay;
    float* __restrict v = s[0];
    for (size_t i = 0; i < n; ++i) {
      float gi = g[i] + wd * w[i];
      v[i] = m * v[i] + gi;
      w[i] -= lr * (gi + m * v[i]);
    }
  }
};

} // namespace paramserv
