#pragma once

#include <cstddef>
#include <vector>

namespace paramserv {

/// Heavy-ball momentum (Polyak 1964, in PyTorch's form):
///   v <- mu v + g,  w <- w - lr v,  with g including the weight decay.
struct momentum {
  float mu = 0.9f;
  float weight_decay = 0;

  struct state {
    explicit state(size_t n) : velocity(n, 0.0f) {}
    std::vector<float> velocity;
  };

  template<class Access>
  void update(float* __restrict w, const float* __restrict g, size_t n,
    state& st, float lr, size_t) const {
    float* __restrict v = st.velocity.data();
    for (size_t i = 0; i < n; ++i) {
      float wi = Access::load(w + i);
      float vi = mu * Access::load(v + i) + g[i] + weight_decay * wi;
      Access::store(v + i, vi);
      Access::store(w + i, wi - lr * vi);
    }
  }
};

} // namespace paramserv
