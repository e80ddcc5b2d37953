#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "linalg/data/dataset.hpp"
#include "linalg/train/metrics.hpp"
#include "linalg/models/model.hpp"
#include "linalg/optim/optimizer.hpp"
#include "linalg/core/parameter_set.hpp"
#include "linalg/train/train_options.hpp"
#include "linalg/train/validation.hpp"

namespace paramserv {

/// Mini-batch SGD in one thread, without actors: the reference the
/// parameter server must equal in BSP with one worker (same partitioning,
/// same per-epoch shuffle, same model and update-rule code), and the
/// compute-only baseline that benchmarks compare it with.
///
/// Each epoch visits the rows in the order shuffle_epoch(rows, seed, 0,
/// epoch) gives, in batches of `batch_size` (the last one may be smaller),
/// and applies one optimizer step per batch with the batch's mean gradient.
/// Not thread-safe.
class sequential_trainer {
public:
  /// Called after every batch with (zero-based epoch, batches done in this
  /// epoch, batches per epoch, the batch's loss).
  using batch_hook = std::function<void(size_t, size_t, size_t, double)>;

  /// Called after every epoch with its metrics.
  using epoch_hook = std::function<void(const epoch_metrics&)>;

  /// Prepares a run on `train` (which must outlive the trainer): builds and
  /// initialises the model.
  /// @throws std::invalid_argument for invalid options.
  sequential_trainer(const train_options& opts, const dataset& train);

  /// Called after every evaluation on the validation set.
  using eval_hook = std::function<void(const evaluation_record&)>;

  /// Trains opts.epochs epochs, evaluating on `test` (if not null) after
  /// each one, and on the validation set (opts.validation) every
  /// opts.validation.every batches and after each epoch; stops early when
  /// a stopping rule says so (the last epoch's metrics then cover the
  /// batches trained). Returns the metrics of every epoch.
  std::vector<epoch_metrics> run(const dataset* test,
    const epoch_hook& on_epoch = {}, const batch_hook& on_batch = {},
    const eval_hook& on_eval = {});

  /// Trains one epoch (zero-based `epoch`); returns the mean loss over its
  /// rows, the rows trained and the updates applied.
  struct epoch_result {
    double loss = 0;
    size_t rows = 0;
    size_t updates = 0;
  };
  epoch_result train_epoch(size_t epoch, const batch_hook& on_batch = {});

  const parameter_set& params() const {
    return params_;
  }

  /// The validation set held out of the training set (empty: none).
  const dataset& validation() const {
    return validation_;
  }

  /// After run: its evaluations, why it stopped (go_on: its epochs ran
  /// out) and when a --target-accuracy was reached (seconds since the
  /// first batch, evaluations included; negative: never).
  const std::vector<evaluation_record>& evaluations() const {
    return evaluations_;
  }
  stop_verdict stopped() const {
    return stopped_;
  }
  double target_s() const {
    return target_s_;
  }

  model& net() {
    return *model_;
  }

private:
  train_options opts_;
  const dataset& train_;
  std::unique_ptr<model> model_;
  std::unique_ptr<optimizer> optimizer_;
  parameter_set params_;
  parameter_set grad_;
  std::vector<uint32_t> rows_;
  arma::fmat batch_;
  std::vector<uint32_t> labels_;
  dataset validation_;
  /// Batches trained in this run; a batch hook sets stop_ to end the epoch
  /// early.
  uint64_t batches_ = 0;
  bool stop_ = false;
  std::vector<evaluation_record> evaluations_;
  stop_verdict stopped_ = stop_verdict::go_on;
  double target_s_ = -1;
};

} // namespace paramserv
