#include "linalg/optim/parallel_lr.hpp"

#include <algorithm>
#include <cmath>

namespace paramserv {

double lr_factor(lr_scaling scaling, size_t k, double warmup, double progress) {
  double full = 1.0;
  switch (scaling) {
    case lr_scaling::none:
      return 1.0;
    case lr_scaling::linear:
      full = static_cast<double>(std::max<size_t>(k, 1));
      break;
    case lr_scaling::sqrt:
      full = std::sqrt(static_cast<double>(std::max<size_t>(k, 1)));
      break;
  }
  if (warmup <= 0 || progress >= warmup)
    return full;
  return 1.0 + (full - 1.0) * std::max(0.0, progress) / warmup;
}

float stale_lr(staleness_remedy remedy, float lr, uint64_t s) {
  if (remedy != staleness_remedy::divide || s <= 1)
    return lr;
  return lr / static_cast<float>(s);
}

void compensate_delay(
  float* g, const float* now, const float* then, size_t n, float lambda) {
  for (size_t i = 0; i < n; ++i)
    g[i] += lambda * g[i] * g[i] * (now[i] - then[i]);
}

} // namespace paramserv
