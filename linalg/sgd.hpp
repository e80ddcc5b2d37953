#pragma once

#include <cstddef>

namespace paramserv {

/// Plain stochastic gradient descent: w <- w - lr * (g + lambda w).
///
/// The shape of every update-rule policy: hyper-parameters are members, the
/// per-parameter state is the nested `state` (constructed from the number of
/// parameters), and `update<Access>` applies step `t` (1-based) in place,
/// touching parameters and state only through `Access` (see access.hpp).
struct sgd {
  float weight_decay = 0;

  struct state {
    explicit state(size_t) {}
  };

  template<class Access>
  void update(float* __restrict w, const float* __restrict g, size_t n, state&,
    float lr, size_t) const {
    for (size_t i = 0; i < n; ++i) {
      float wi = Access::load(w + i);
      Access::store(w + i, wi - lr * (g[i] + weight_decay * wi));
    }
  }
};

} // namespace paramserv
