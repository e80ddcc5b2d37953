#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/typed_event_based_actor.hpp>

#include "actors/faults/fault_plan.hpp"
#include "actors/local_node.hpp"
#include "linalg/core/parameter_set.hpp"
#include "linalg/core/shard_map.hpp"
#include "linalg/data/dataset.hpp"
#include "linalg/models/model.hpp"
#include "messages/job_messages.hpp"
#include "messages/scheduler_actor.hpp"
#include "messages/server_shard_actor.hpp"
#include "messages/worker_actor.hpp"

namespace paramserv {

/// What a worker is spawned with: whom to register with, and where it runs.
/// Everything else (its id, rows, the model, the shards) comes in its
/// worker_slice.
struct worker_config {
  scheduler_actor scheduler;
  /// This process's shared data and shard memory; may be null (the worker
  /// then reads the job's data source itself and never runs in place).
  std::shared_ptr<local_node> node;
  /// Test hook: extra time this worker waits before each unit of work (a
  /// slow or overloaded machine). Default: none.
  std::chrono::microseconds delay{0};
  /// Test hook: faults injected on purpose (null: none).
  std::shared_ptr<const fault_plan> faults;
};

/// The training data a worker of job `src` uses: its node's copy if the
/// node has one, else the data source read from disk and transformed.
/// @throws std::runtime_error (or data_error) naming the file or the
///         mismatch.
std::shared_ptr<const dataset> open_training_data(
  const data_source& src, const local_node* node);

/// State of a worker actor. The model, the local parameter copy and all
/// scratch buffers are allocated once, so a batch allocates nothing but its
/// push messages.
struct worker_state {
  worker_config cfg;
  /// The slice: the job, this worker's id and rows, the shards.
  job_spec spec;
  uint32_t id = 0;
  bool has_slice = false;
  std::vector<uint32_t> rows;
  std::vector<server_shard_actor> shards;
  /// Per shard, the address of its node's listener (empty: none).
  std::vector<std::string> endpoints;
  /// Connections to shards' nodes still being made; a plan that comes
  /// meanwhile waits in held_plan.
  size_t connecting = 0;
  std::optional<epoch_plan> held_plan;
  /// The answer to the slice, given once the shards are reached: the
  /// scheduler starts the clock when every worker is ready.
  std::optional<caf::response_promise> slice_reply;
  shard_map map;
  std::shared_ptr<const dataset> train;
  std::unique_ptr<model> net;
  parameter_set params;
  parameter_set grad;
  parameter_set acc;
  arma::fmat batch;
  std::vector<uint32_t> labels;
  std::vector<float> scratch;
  epoch_plan plan;
  mode_rules rules;
  /// Next row (index into rows) of this epoch.
  size_t next = 0;
  /// Pushes made so far (the worker's clock), and the clock of the last
  /// push that left (a unit skipped for a NaN sends none).
  uint64_t clock = 0;
  uint64_t pushed = 0;
  /// Pipelined asp: the computed unit waiting for the previous one's
  /// replies, its rows and loss (not yet part of a checkpoint cut).
  size_t unpushed_rows = 0;
  double unpushed_loss = 0;
  /// Shard versions seen at the last pull.
  std::vector<uint64_t> versions;
  /// Per shard, the last pull's highest applied clock of every worker.
  std::vector<std::vector<uint64_t>> applied;
  /// This worker's clock when the epoch began.
  uint64_t epoch_start_clock = 0;
  /// Shard versions the last computed update started from.
  std::vector<uint64_t> computed_from;
  /// Replies (and grants) still awaited, and what to do once they all
  /// arrived.
  size_t outstanding = 0;
  std::function<void()> then;
  /// A clock request is out; its grant counts as one awaited reply.
  bool awaiting_grant = false;
  /// Pipelined asp: a unit's replies are out; what waits for them.
  bool in_flight = false;
  std::function<void()> after_flight;
  /// Progress not yet reported, and when it last was.
  progress_report progress;
  std::chrono::steady_clock::time_point progress_sent;
  /// Hogwild!: rows trained since the last report that --eval-every made
  /// due (timed reports leave it alone, so those come every eval-every
  /// batches of all workers together).
  size_t eval_rows = 0;
  /// Hogwild!: waiting for the evaluation its last report made due.
  bool awaiting_eval = false;
  /// Messages refused because another actor sent them.
  uint64_t refused = 0;
  /// Whether the test-hook delay of the current unit was served.
  bool delayed = false;
  epoch_report report;
  /// The fault plan's dice for this worker (test hook).
  fault_dice dice;
  /// Requests put off (delayed, or dropped and waiting for their timeout),
  /// by the token of their `later` message.
  std::map<uint64_t, std::function<void()>> deferred;
  uint64_t next_token = 0;
  /// Rows of lost workers taken over, trained from the next epoch on.
  std::vector<uint32_t> adopted;
  /// Halts so far (a shard was lost): replies, grants and steps of an
  /// older generation are stale and dropped.
  uint64_t generation = 0;
  /// `step` messages on their way to this worker, and how many of them
  /// were sent before the last halt.
  uint64_t steps_out = 0;
  uint64_t stale_steps = 0;

  static inline const char* name = "paramserv.worker";
};

using worker_pointer = worker_internal::stateful_pointer<worker_state>;

/// The worker behaviour: registers with its scheduler at once, takes the
/// slice it gets back, and trains epoch after epoch as the scheduler's
/// plans say, then quits. It stops when the scheduler does.
worker_internal::behavior_type worker(worker_pointer self, worker_config cfg);

} // namespace paramserv
