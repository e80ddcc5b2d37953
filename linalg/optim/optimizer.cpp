#include "linalg/optim/optimizer.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "linalg/core/registry.hpp"
#include "linalg/optim/update_rules.hpp"

namespace paramserv {

namespace {

named_registry<update_rule_factory>& rules() {
  static named_registry<update_rule_factory> instance{
    "update rule", {"sgd", "momentum", "nesterov", "adagrad", "adam"}};
  return instance;
}

} // namespace

void register_update_rule(const std::string& kind, update_rule_factory make) {
  rules().add(kind, std::move(make));
}

bool unregister_update_rule(const std::string& kind) {
  return rules().remove(kind);
}

bool update_rule_known(const std::string& kind) {
  return rules().known(kind);
}

std::string known_update_rules() {
  return rules().names();
}

optimizer_state optimizer::state() const {
  throw std::invalid_argument(
    "optimizer: this update rule keeps state a checkpoint cannot hold");
}

void optimizer::restore(const optimizer_state&) {
  throw std::invalid_argument(
    "optimizer: this update rule keeps state a checkpoint cannot hold");
}

void optimizer_options::validate() const {
  if (!update_rule_known(kind))
    throw std::invalid_argument("optimizer: unknown update rule \"" + kind
                                + "\" (this process knows "
                                + known_update_rules() + ")");
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
  auto& k = opts.kind;
  if (k == "sgd")
    return std::make_unique<basic_optimizer<sgd>>(sgd{wd}, n);
  if (k == "momentum")
    return std::make_unique<basic_optimizer<momentum>>(
      momentum{opts.momentum, wd}, n);
  if (k == "nesterov")
    return std::make_unique<basic_optimizer<nesterov>>(
      nesterov{opts.momentum, wd}, n);
  if (k == "adagrad")
    return std::make_unique<basic_optimizer<adagrad>>(
      adagrad{opts.epsilon, wd}, n);
  if (k == "adam")
    return std::make_unique<basic_optimizer<adam>>(
      adam{opts.beta1, opts.beta2, opts.epsilon, wd}, n);
  if (auto make = rules().find(k)) {
    auto made = make(opts, n);
    if (!made || made->size() != n)
      throw std::invalid_argument("optimizer: the factory of \"" + k
                                  + "\" made no rule for " + std::to_string(n)
                                  + " parameters");
    return made;
  }
  throw std::invalid_argument("optimizer: unknown update rule \"" + k + "\"");
}

} // namespace paramserv
