#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "linalg/data/dataset.hpp"
#include "linalg/train/metrics.hpp"
#include "linalg/core/parameter_set.hpp"
#include "linalg/train/train_options.hpp"
#include "linalg/train/consistency.hpp"

namespace paramserv {

/// Options of a parameter-server run (local backend). Plain struct.
struct local_options {
  /// Worker actors. Default: 2.
  size_t workers = 2;
  /// Server-shard actors. Default: 1.
  size_t shards = 1;
  /// Consistency mode of every epoch. Default: bsp throughout.
  mode_schedule modes = {mode_switch{}};
  /// How often workers push. Default: every batch.
  update_frequency freq = update_frequency::batch;
  /// Batches per push with update_frequency::nbatches. Default: 1.
  size_t nbatches = 1;
  /// CAF scheduler threads; 0 means one per core. Default: 0.
  size_t threads = 0;
  /// Test hook: per-worker delay before each unit of work (missing entries
  /// mean none).
  std::vector<std::chrono::microseconds> delays;
};

/// Callbacks of a run; each is called from the thread that called
/// train_local, never concurrently. All may be empty.
struct local_hooks {
  std::function<void(const epoch_metrics&)> on_epoch;
  /// Rows trained so far (all workers) and the sum of their training
  /// losses, about ten times a second.
  std::function<void(uint64_t, double)> on_progress;
  /// Mode switches and other notices.
  std::function<void(const std::string&)> on_log;
};

/// What a run produced.
struct local_result {
  /// The run's identity on the wire: random, never derived from the seed.
  uint64_t job = 0;
  std::vector<epoch_metrics> history;
  parameter_set params;
  /// Late pushes dropped (sbp), buffered pushes of workers that died
  /// (lost), and malformed pushes and misaddressed messages refused.
  uint64_t dropped = 0;
  uint64_t lost = 0;
  uint64_t rejected = 0;
  std::vector<std::string> log;
};

/// Checks a run's options against each other before any data is read:
/// validate(opts), then workers, shards, modes and push frequency. Messages
/// name `paramserv train`'s flags, as validate(train_options) does.
/// @throws std::invalid_argument with a one-line reason.
void validate(const train_options& opts, const local_options& local);

/// validate(opts, local) and validate(opts, train), then the checks that
/// need the model: no more shards than the model has keys.
/// @throws std::invalid_argument with a one-line reason.
void validate(
  const train_options& opts, const local_options& local, const dataset& train);

/// Trains with k1 server shards, k2 workers and a scheduler in one actor
/// system (threads), then shuts it down. Blocks until done.
/// @throws std::invalid_argument for invalid options (see validate) and
///         std::runtime_error if the job fails.
local_result train_local(const train_options& opts, const local_options& local,
  std::shared_ptr<const dataset> train, std::shared_ptr<const dataset> test,
  const local_hooks& hooks = {});

} // namespace paramserv
