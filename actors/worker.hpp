#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <caf/typed_event_based_actor.hpp>

#include "actors/shard_memory.hpp"
#include "linalg/data/dataset.hpp"
#include "linalg/models/model.hpp"
#include "linalg/core/parameter_set.hpp"
#include "linalg/core/shard_map.hpp"
#include "linalg/train/train_options.hpp"
#include "linalg/train/consistency.hpp"
#include "messages/scheduler_actor.hpp"
#include "messages/server_shard_actor.hpp"
#include "messages/worker_actor.hpp"

namespace paramserv {

/// Training progress of all workers of a process, for a live display.
struct progress_counters {
  std::atomic<uint64_t> rows{0};
  /// Sum of per-row training losses over those rows.
  std::atomic<double> loss_sum{0};
};

/// What a worker needs: its partition, the model, where the shards are.
struct worker_config {
  uint64_t job = 0;
  uint32_t id = 0;
  train_options opts;
  update_frequency freq = update_frequency::batch;
  /// Batches per push with update_frequency::nbatches.
  size_t nbatches = 1;
  /// The training set (shared, read-only) and this worker's rows of it.
  std::shared_ptr<const dataset> train;
  std::vector<uint32_t> rows;
  std::shared_ptr<const shard_map> map;
  std::vector<server_shard_actor> shards;
  scheduler_actor scheduler;
  /// Shard memories of this process, for Hogwild!; null elsewhere.
  std::shared_ptr<hogwild_board> board;
  /// Test hook: extra time this worker waits before each unit of work (a
  /// slow or overloaded machine). Default: none.
  std::chrono::microseconds delay{0};
  /// Shared progress counters (live display); may be null.
  std::shared_ptr<progress_counters> progress;
};

/// State of a worker actor. The model, the local parameter copy and all
/// scratch buffers are allocated once, so a batch allocates nothing but its
/// push messages.
struct worker_state {
  worker_config cfg;
  std::unique_ptr<model> net;
  parameter_set params;
  parameter_set grad;
  parameter_set acc;
  arma::fmat batch;
  std::vector<uint32_t> labels;
  std::vector<float> scratch;
  epoch_plan plan;
  /// Next row (index into cfg.rows) of this epoch.
  size_t next = 0;
  /// Pushes made so far (the worker's clock).
  uint64_t clock = 0;
  /// Shard versions seen at the last pull.
  std::vector<uint64_t> versions;
  /// Per shard, the last pull's highest applied clock of every worker.
  std::vector<std::vector<uint64_t>> applied;
  /// This worker's clock when the epoch began.
  uint64_t epoch_start_clock = 0;
  /// Shard versions the last computed update started from.
  std::vector<uint64_t> computed_from;
  /// Replies still awaited, and what to do once they all arrived.
  size_t outstanding = 0;
  std::function<void()> then;
  /// Pipelined asp: a unit's replies are out; what waits for them.
  bool in_flight = false;
  std::function<void()> after_flight;
  /// Key lengths per shard (sent with every push).
  std::vector<std::vector<uint32_t>> lengths;
  /// Internal messages refused because another actor sent them.
  uint64_t refused = 0;
  /// Whether the test-hook delay of the current unit was served.
  bool delayed = false;
  epoch_report report;

  static inline const char* name = "paramserv.worker";
};

using worker_pointer = worker_internal::stateful_pointer<worker_state>;

/// The worker behaviour: on `start` it joins the scheduler and trains epoch
/// after epoch as the scheduler's plans say, then quits.
worker_internal::behavior_type worker(worker_pointer self, worker_config cfg);

} // namespace paramserv
