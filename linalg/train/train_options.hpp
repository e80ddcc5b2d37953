#pragma once

#include <cstddef>
#include <cstdint>

#include "linalg/optim/lr_schedule.hpp"
#include "linalg/optim/parallel_lr.hpp"
#include "linalg/data/dataset.hpp"
#include "linalg/models/model.hpp"
#include "linalg/optim/optimizer.hpp"
#include "linalg/data/partition.hpp"

namespace paramserv {

/// A validation set and the rules that stop a run on it (see
/// linalg/train/validation.hpp). Plain struct.
struct validation_options {
  /// Fraction of the training rows held out for validation, seeded. 0:
  /// none, unless a stopping rule below needs one (then
  /// default_validation_rows). Default: 0.
  double fraction = 0;
  /// Stop once the validation accuracy reaches this; 0: never. Default: 0.
  double target_accuracy = 0;
  /// Stop after this many evaluations in a row without a better validation
  /// accuracy; 0: never. Default: 0.
  size_t patience = 0;
  /// Also evaluate every this many batches, counted over all workers
  /// together; 0: at each epoch's end only. Default: 0.
  size_t every = 0;

  friend bool operator==(const validation_options&, const validation_options&)
    = default;
};

/// What to train and how: the options every backend shares. Plain struct,
/// defaults in-class (cf. leveldb::Options).
struct train_options {
  /// The model; `inputs` and `classes` come from the training data.
  model_spec model;
  /// The server-side update rule.
  optimizer_options optimizer;
  /// Learning rate and its schedule. Default: constant 0.01.
  lr_schedule schedule;
  /// Rows per mini-batch (per worker). Default: 64.
  size_t batch_size = 64;
  /// Passes over the training data. Default: 10.
  size_t epochs = 10;
  /// Seeds initialisation, partitioning and shuffling. Default: 1.
  uint64_t seed = 1;
  /// How rows are split among workers. Default: disjoint_contiguous.
  partition_scheme scheme = partition_scheme::disjoint_contiguous;
  /// Validation set and stopping rules. Default: none.
  validation_options validation;
  /// Learning-rate scaling of the synchronous modes with the workers a
  /// commit averages, and its warm-up in epochs (see parallel_lr.hpp).
  /// Default: sqrt, no warm-up (measured: README, "Learning rates of
  /// parallel training").
  lr_scaling scaling = lr_scaling::sqrt;
  double warmup_epochs = 0;
  /// What the shards do about an asynchronous push's staleness, and
  /// DC-ASGD's lambda. Default: none.
  staleness_remedy remedy = staleness_remedy::none;
  float dc_lambda = 0.04f;
  /// asp: a worker computes its next unit while the shards apply its last
  /// one (more samples per second, one more push of staleness). Default:
  /// off (measured: with Adam it needs about twice the samples to reach an
  /// accuracy; see README, "Time to accuracy").
  bool asp_pipelining = false;

  friend bool operator==(const train_options&, const train_options&) = default;
};

/// Checks the options that need no data: batch size, epochs, learning rate
/// and schedule, update rule, model kind and hidden widths. Messages name
/// the option by its `paramserv train` flag (which is also its INI key),
/// e.g. "--batch-size: must be positive"; every backend and every embedding
/// application shares these checks.
/// @throws std::invalid_argument with a one-line reason.
void validate(const train_options& opts);

/// validate(opts), then checks the options against the training set: rows
/// present, the model's inputs equal its features, a valid model spec.
/// @throws std::invalid_argument with a one-line reason.
void validate(const train_options& opts, const dataset& train);

} // namespace paramserv
