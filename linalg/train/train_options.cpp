#include "linalg/train/train_options.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace paramserv {

void validate(const train_options& opts) {
  if (opts.batch_size == 0)
    throw std::invalid_argument("--batch-size: must be positive");
  if (opts.epochs == 0)
    throw std::invalid_argument("--epochs: must be positive");
  auto lr = opts.schedule.base;
  if (!(lr > 0.0f) || !std::isfinite(lr))
    throw std::invalid_argument(
      "--lr: must be a positive number, got " + std::to_string(lr));
  auto& m = opts.model;
  if (!model_known(m.kind))
    throw std::invalid_argument("--model: unknown model \"" + m.kind
                                + "\" (expected " + known_models() + ")");
  if (m.kind == "softmax" && !m.hidden.empty())
    throw std::invalid_argument("--hidden: a softmax model has no hidden "
                                "layers");
  if (std::find(m.hidden.begin(), m.hidden.end(), size_t{0}) != m.hidden.end())
    throw std::invalid_argument("--hidden: a hidden layer has width 0");
  if (!update_rule_known(opts.optimizer.kind))
    throw std::invalid_argument("--optimizer: unknown update rule \""
                                + opts.optimizer.kind + "\" (expected "
                                + known_update_rules() + ")");
  opts.optimizer.validate();
  opts.schedule.validate();
  if (!(opts.warmup_epochs >= 0) || !std::isfinite(opts.warmup_epochs))
    throw std::invalid_argument("--warmup-epochs: must be >= 0, got "
                                + std::to_string(opts.warmup_epochs));
  if (!(opts.dc_lambda >= 0) || !std::isfinite(opts.dc_lambda))
    throw std::invalid_argument(
      "--dc-lambda: must be >= 0, got " + std::to_string(opts.dc_lambda));
  auto& v = opts.validation;
  if (!(v.fraction >= 0 && v.fraction < 1))
    throw std::invalid_argument("--validation-fraction: must be in [0, 1), got "
                                + std::to_string(v.fraction));
  if (!(v.target_accuracy >= 0 && v.target_accuracy <= 1))
    throw std::invalid_argument("--target-accuracy: must be in [0, 1], got "
                                + std::to_string(v.target_accuracy));
}

void validate(const train_options& opts, const dataset& train) {
  validate(opts);
  if (train.size() == 0)
    throw std::invalid_argument("the training set is empty");
  auto& v = opts.validation;
  if ((v.fraction > 0 || v.target_accuracy > 0 || v.patience > 0)
      && train.size() < 2)
    throw std::invalid_argument("--validation-fraction: the training set has "
                                + std::to_string(train.size())
                                + " row, none to hold out");
  if (opts.model.inputs != train.features())
    throw std::invalid_argument(
      "the model expects " + std::to_string(opts.model.inputs)
      + " features, the training set has " + std::to_string(train.features()));
  opts.model.validate();
}

} // namespace paramserv
