#pragma once

#include <cmath>
#include <cstddef>

namespace paramserv {

/// AdaGrad (Duchi et al. 2011): G <- G + g^2,  w <- w - lr g / (sqrt(G) +
/// eps). State: the sum of squares G.
struct adagrad {
  static constexpr size_t state_arrays = 1;

  float epsilon = 1e-8f;
  float weight_decay = 0;

  void update(float* __restrict w, const float* __restrict g, float* const* s,
    size_t n, float lr, size_t) const {
    const float eps = epsilon, wd = weight_decay;
    float* __restrict sum = s[0];
    for (size_t i = 0; i < n; ++i) {
      float gi = g[i] + wd * w[i];
      sum[i] += gi * gi;
      w[i] -= lr * gi / (std::sqrt(sum[i]) + eps);
    }
  }
};

} // namespace paramserv
