#include "linalg/optim/optimizer.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "linalg/optim/update_rules.hpp"

namespace paramserv {

void optimizer_options::validate() const {
  auto in_unit = [](float x) {
    return x >= 0.0f && x < 1.0f;
  };
  if (!in_unit(momentum))
    throw std::invalid_argument(
      "optimizer: momentum must be in [0, 1), got " + std::to_string(momentum));
  if (!in_unit(beta1) || !in_unit(beta2))
    throw std::invalid_argument("optimizer: adam betas must be in [0, 1)");
  if (!(epsilon > 0.0f))
    throw std::invalid_argument("optimizer: epsilon must be positive");
  if (!(weight_decay >= 0.0f) || !std::isfinite(weight_decay))
    throw std::invalid_argument("optimizer: weight decay must be >= 0, got "
                                + std::to_string(weight_decay));
}

std::unique_ptr<optimizer> make_optimizer(
  const optimizer_options& opts, size_t n) {
  opts.validate();
  float wd = opts.weight_decay;
  switch (opts.kind) {
    case optimizer_kind::sgd:
      return std::make_unique<basic_optimizer<sgd>>(sgd{wd}, n);
    case optimizer_kind::momentum:
      return std::make_unique<basic_optimizer<momentum>>(
        momentum{opts.momentum, wd}, n);
    case optimizer_kind::nesterov:
      return std::make_unique<basic_optimizer<nesterov>>(
        nesterov{opts.momentum, wd}, n);
    case optimizer_kind::adagrad:
      return std::make_unique<basic_optimizer<adagrad>>(
        adagrad{opts.epsilon, wd}, n);
    case optimizer_kind::adam:
      return std::make_unique<basic_optimizer<adam>>(
        adam{opts.beta1, opts.beta2, opts.epsilon, wd}, n);
  }
  throw std::invalid_argument("optimizer: unknown kind");
}

} // namespace paramserv
