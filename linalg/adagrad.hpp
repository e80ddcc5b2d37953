#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace paramserv {

/// AdaGrad (Duchi et al. 2011): G <- G + g^2,  w <- w - lr g / (sqrt(G) +
/// eps).
struct adagrad {
  float epsilon = 1e-8f;
  float weight_decay = 0;

  struct state {
    explicit state(size_t n) : sum_squares(n, 0.0f) {}
    std::vector<float> sum_squares;
  };

  template<class Access>
  void update(float* __restrict w, const float* __restrict g, size_t n,
    state& st, float lr, size_t) const {
    float* __restrict s = st.sum_squares.data();
    for (size_t i = 0; i < n; ++i) {
      float wi = Access::load(w + i);
      float gi = g[i] + weight_decay * wi;
      float si = Access::load(s + i) + gi * gi;
      Access::store(s + i, si);
      Access::store(w + i, wi - lr * gi / (std::sqrt(si) + epsilon));
    }
  }
};

} // namespace paramserv
