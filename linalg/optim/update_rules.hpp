#pragma once

#include <cmath>
#include <cstddef>

// The server-side update rules, as policies for basic_optimizer
// (optimizer.hpp). Every rule has the same shape:
// - its hyper-parameters are members, with the defaults of
//   optimizer_options;
// - `state_arrays` is the number of per-parameter state arrays it needs
//   (zero-initialised and owned by basic_optimizer), passed in as `s`;
// - `update(w, g, s, n, lr, t)` applies step t (1-based) with learning
//   rate lr to the n parameters w given their gradient g, in place.
// Rules touch nothing but the arrays they are given, so the same code
// serves whole models, shards, and blocks staged for Hogwild! (see
// basic_optimizer::update_relaxed). Hyper-parameters are copied to locals
// before the loop: stores through w and s could otherwise alias *this and
// keep the loop from vectorising. A custom rule of this shape plugs in as
// basic_optimizer<my_rule>.

namespace paramserv {

/// Plain stochastic gradient descent: w <- w - lr * (g + lambda w).
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

/// Heavy-ball momentum (Polyak 1964, in PyTorch's form):
///   v <- mu v + g,  w <- w - lr v,  with g including the weight decay.
/// State: the velocity v.
struct momentum {
  static constexpr size_t state_arrays = 1;

  float mu = 0.9f;
  float weight_decay = 0;

  void update(float* __restrict w, const float* __restrict g, float* const* s,
    size_t n, float lr, size_t) const {
    const float m = mu, wd = weight_decay;
    float* __restrict v = s[0];
    for (size_t i = 0; i < n; ++i) {
      v[i] = m * v[i] + g[i] + wd * w[i];
      w[i] -= lr * v[i];
    }
  }
};

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
