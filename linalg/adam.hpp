#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace paramserv {

/// Adam (Kingma & Ba 2015, Algorithm 1, with bias correction):
///   m <- b1 m + (1-b1) g,  v <- b2 v + (1-b2) g^2,
///   w <- w - lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
struct adam {
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  float weight_decay = 0;

  struct state {
    explicit state(size_t n) : m(n, 0.0f), v(n, 0.0f) {}
    std::vector<float> m;
    std::vector<float> v;
  };

  template<class Access>
  void update(float* __restrict w, const float* __restrict g, size_t n,
    state& st, float lr, size_t t) const {
    // Locals, not members: stores through w, m, v could alias *this.
    const float b1 = beta1, b2 = beta2, eps = epsilon, wd = weight_decay;
    float* __restrict m = st.m.data();
    float* __restrict v = st.v.data();
    double td = static_cast<double>(t);
    float c1 = static_cast<float>(1.0 - std::pow(double{beta1}, td));
    float c2 = static_cast<float>(1.0 - std::pow(double{beta2}, td));
    float step = lr / c1;
    float inv_sqrt_c2 = 1.0f / std::sqrt(c2);
    for (size_t i = 0; i < n; ++i) {
      float wi = Access::load(w + i);
      float gi = g[i] + wd * wi;
      float mi = b1 * Access::load(m + i) + (1.0f - b1) * gi;
      float vi = b2 * Access::load(v + i) + (1.0f - b2) * gi * gi;
      Access::store(m + i, mi);
      Access::store(v + i, vi);
      Access::store(
        w + i, wi - step * mi / (std::sqrt(vi) * inv_sqrt_c2 + eps));
    }
  }
};

} // namespace paramserv
