#include "linalg/optim/lr_schedule.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace paramserv {

float lr_schedule::at(size_t epoch) const {
  switch (kind) {
    case lr_schedule_kind::constant:
      return base;
    case lr_schedule_kind::step:
      return base
             * static_cast<float>(std::pow(
               double{gamma}, static_cast<double>(epoch / step_epochs)));
    case lr_schedule_kind::cosine: {
      double progress = std::min(1.0, static_cast<double>(epoch) / epochs);
      return static_cast<float>(
        base * 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
    }
  }
  return base;
}

void lr_schedule::validate() const {
  if (!(base > 0.0f) || !std::isfinite(base))
    throw std::invalid_argument("lr schedule: learning rate must be positive, "
                                "got "
                                + std::to_string(base));
  if (step_epochs == 0)
    throw std::invalid_argument("lr schedule: step epochs must be positive");
  if (!(gamma > 0.0f && gamma <= 1.0f))
    throw std::invalid_argument("lr schedule: gamma must be in (0, 1]");
  if (epochs == 0)
    throw std::invalid_argument("lr schedule: epochs must be positive");
}

} // namespace paramserv
