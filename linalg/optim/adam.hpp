#pragma once

#include <cmath>
#include <cstddef>

namespace paramserv {

/// Adam (Kingma & Ba 2015, Algorithm 1, with bias correction):
///   m <- b1 m + (1-b1) g,  v <- b2 v + (1-b2) g^2,
///   w <- w - lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
/// State: the moments m and v.
struct adam {
  static constexpr size_t state_arrays = 2;

  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  float weight_decay = 0;

  void update(float* __restrict w, const float* __restrict g, float* const* s,
    size_t n, float lr, size_t t) const {
    // Locals, not members: stores through w, m, v could alias *this.
    const float b1 = beta1, b2 = beta2, eps = epsilon, wd = weight_decay;
    float* __restrict m = s[0];
    float* __restrict v = s[1];
    double td = static_cast<double>(t);
    float c1 = static_cast<float>(1.0 - std::pow(double{b1}, td));
    float c2 = static_cast<float>(1.0 - std::pow(double{b2}, td));
    float step = lr / c1;
    float inv_sqrt_c2 = 1.0f / std::sqrt(c2);
    for (size_t i = 0; i < n; ++i) {
      float gi = g[i] + wd * w[i];
      m[i] = b1 * m[i] + (1.0f - b1) * gi;
      v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
      w[i] -= step * m[i] / (std::sqrt(v[i]) * inv_sqrt_c2 + eps);
    }
  }
};

} // namespace paramserv
