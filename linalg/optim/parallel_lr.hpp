#pragma once

#include <cstddef>
#include <string_view>

#include "linalg/core/names.hpp"

// How the learning rate adapts to parallel training: scaled with the
// number of workers whose gradients a synchronous commit averages, and
// adjusted for the staleness of an asynchronous push.

namespace paramserv {

/// Learning-rate scaling of the synchronous modes (bsp, sbp), whose
/// commits average k workers' gradients: the linear scaling rule (Goyal et
/// al. 2017) multiplies the rate by k, sqrt by sqrt(k).
enum class lr_scaling : uint8_t {
  none,
  linear,
  sqrt,
};

template <>
struct enum_names<lr_scaling> {
  static constexpr std::string_view what = "lr scaling";
  static constexpr std::array table{
    std::pair{lr_scaling::none, "none"},
    std::pair{lr_scaling::linear, "linear"},
    std::pair{lr_scaling::sqrt, "sqrt"},
  };
};

/// The factor a synchronous commit of `k` workers' mean gradient multiplies
/// the learning rate by, `progress` epochs (fractional) into the run: the
/// full factor (k, sqrt(k) or 1), reached linearly from 1 over the first
/// `warmup` epochs (gradual warm-up, Goyal et al. 2017); 0: no warm-up.
double lr_factor(lr_scaling scaling, size_t k, double warmup, double progress);

/// What an asynchronous push's update does about its staleness s (the
/// updates its shard applied since the values it was computed from).
enum class staleness_remedy : uint8_t {
  /// Applied as it is.
  none,
  /// Its step divided by s (s >= 1; Zhang et al. 2016).
  divide,
  /// Delay compensation (DC-ASGD, Zheng et al. 2017): the gradient g
  /// computed at w_then becomes g + lambda * g * g * (w_now - w_then),
  /// element-wise, a first-order step towards the gradient at w_now.
  dc,
};

template <>
struct enum_names<staleness_remedy> {
  static constexpr std::string_view what = "staleness remedy";
  static constexpr std::array table{
    std::pair{staleness_remedy::none, "none"},
    std::pair{staleness_remedy::divide, "divide"},
    std::pair{staleness_remedy::dc, "dc"},
  };
};

/// The learning rate of a push of staleness `s` under `remedy` divide:
/// lr / max(1, s); other remedies leave it as it is.
float stale_lr(staleness_remedy remedy, float lr, uint64_t s);

/// DC-ASGD's compensated gradient, in place: g[i] += lambda * g[i]^2 *
/// (now[i] - then[i]).
void compensate_delay(
  float* g, const float* now, const float* then, size_t n, float lambda);

} // namespace paramserv
