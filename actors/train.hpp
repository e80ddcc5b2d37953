#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include <armadillo>

#include "actors/local_backend.hpp"
#include "linalg/core/parameter_set.hpp"
#include "linalg/data/dataset.hpp"
#include "linalg/models/model.hpp"
#include "linalg/optim/optimizer.hpp"
#include "linalg/train/train_options.hpp"

namespace paramserv {

/// The gradient of a batch: writes d loss / d w into `grad` (laid out as
/// `w`) and returns the batch's mean loss. `x` holds one sample per column,
/// `labels[j]` is the class of column j. Several workers call it at once,
/// each with its own `grad`: it must be safe to call concurrently.
using gradient_function = std::function<float(const parameter_set& w,
  const arma::fmat& x, std::span<const uint32_t> labels, parameter_set& grad)>;

/// What paramserv::train does besides the model and the data: SystemDS
/// paramserv's arguments, in C++. Plain struct, defaults in-class. Unlike
/// a job_spec it never travels: it may hold the caller's code.
struct train_call_options {
  /// Epochs, batch size, seed, partition scheme, learning rate and its
  /// schedule, and the hyper-parameters of the update rule (`optimizer`,
  /// whose kind names a built-in or registered rule unless `aggregate` is
  /// set). Its `model` is ignored: the model comes from train's argument.
  train_options train;
  /// Workers, shards, consistency mode (per epoch, switchable), update
  /// frequency, CAF threads and timeouts (its `data` is ignored).
  local_options run;
  /// SystemDS's `upd`: a worker's gradient of a batch. Empty: the model's
  /// own gradient().
  gradient_function update;
  /// SystemDS's `agg`: the shards' update rule, applied to the gradient a
  /// shard aggregated (one push; under bsp and sbp the workers' mean). Made
  /// once per shard for its parameters. Empty: `train.optimizer.kind`.
  update_rule_factory aggregate;
  /// Evaluated after each epoch when set.
  std::shared_ptr<const dataset> test;
  /// Progress, per-epoch metrics and log lines, on the calling thread.
  local_hooks hooks;
};

/// Trains `net` on `data` with a parameter server inside this process: a
/// private actor system with `options.run.shards` server shards,
/// `options.run.workers` workers and a scheduler, shut down before it
/// returns. Returns the trained parameters (laid out as net.shapes()) and
/// the metrics of each epoch. Blocks until done.
///
/// `net` is a prototype: each worker trains a clone() (called from several
/// threads, so clone() must be safe to call concurrently), and the scheduler
/// evaluates one. Its spec() gives the inputs (which must equal the data's
/// features) and classes. Its initialize() gives the initial parameters.
///
/// Leaves nothing behind: no actor, no thread, no registered model or rule
/// (the caller's code is registered under names private to the call for its
/// duration). Calls are independent, in sequence or at once from several
/// threads: the same arguments give the same result (bit for bit under
/// bsp). It does not change OpenBLAS's thread count; a caller training
/// with several workers on few cores may call set_blas_threads(1) first.
/// A worker whose gradient throws is dropped like a lost worker (the
/// result's log says so) and the others go on; an exception from a hook
/// stops the job and comes out of the call as it is.
/// @throws std::invalid_argument for invalid options or data (the message
///         names the option by its `paramserv train` flag, e.g. "--epochs")
///         and std::runtime_error if the job fails.
local_result train(const model& net, std::shared_ptr<const dataset> data,
  const train_call_options& options = {});

} // namespace paramserv
